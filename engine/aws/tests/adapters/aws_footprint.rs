//! The member footprint and CodeBuild adapters against the emulator (moto server):
//! roles and rules are ensured idempotently, builds start and report back.
//!
//! Moto 5.2 requires a source `location` even for `NO_SOURCE` (AWS does not): the
//! emulator launcher (`scripts/moto_server.py`) relaxes that one check. Moto has no
//! `UpdateProject`: updating a project is covered by the unit tests of
//! `aws::footprint` (request construction, change detection).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_config::Region;
use spa_aws::AwsConfig;
use spa_aws::codebuild::{build_status, start_build};
use spa_aws::footprint::{
    ADMINISTRATOR_ACCESS, Changes, PUT_EVENTS_POLICY, TARGET_ID, ensure, ensure_roles, ensure_rules,
};
use spa_aws::metrics::ApiCalls;
use spa_core::events::AccountId;
use spa_core::footprint::{BuildInput, Buildspecs, Footprint, build_variables};
use spa_core::lifecycle::{BuildId, BuildKind, BuildStatus};
use spa_core::settings::{MemorySources, Settings};
use spa_usecases::ports::{BuildRequest, PortError};

const BUS: &str = "arn:aws:events:eu-west-1:123456789012:event-bus/spa";
const MEMBER: &str = "333333333333";

fn settings() -> Settings {
    let text = "environment_identifier: SpaDemo
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
defaults:
  preparation:
    feature: enabled
    variables:
      BUDGET_NAME: SpaBudget
  purge:
    feature: enabled
    variables:
      PURGE_MODE: --dry-run
accounts:
  - identifier: '333333333333'
";
    spa_core::settings::load("settings.yaml", text, &MemorySources::new())
        .unwrap()
        .settings
}

fn member_account() -> spa_core::events::AccountId {
    spa_core::events::AccountId::parse(MEMBER).unwrap()
}

fn footprint(settings: &Settings) -> Footprint {
    let resolved = settings.resolve_account(MEMBER, &[]).unwrap();
    Footprint::for_account(settings, &resolved, &Buildspecs::new(), BUS).unwrap()
}

async fn member(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    let sdk = scenario
        .sdk_config()
        .await
        .to_builder()
        .region(Region::new("eu-west-1"))
        .build();
    AwsConfig::from_sdk(&sdk, ApiCalls::new())
}

async fn roles_and_rules(config: &AwsConfig, footprint: &Footprint) -> Changes {
    let mut changes = Changes::default();
    let roles = ensure_roles(config, &member_account(), footprint, &mut changes)
        .await
        .expect("roles");
    ensure_rules(config, footprint, &roles, &mut changes)
        .await
        .expect("rules");
    changes
}

#[tokio::test]
async fn roles_and_rules_are_made_once_then_left_alone() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let footprint = footprint(&settings());

    let first = roles_and_rules(&config, &footprint).await;
    assert_eq!(
        first.actions,
        [
            "created role SpaDemo-CodeBuildRole",
            "attached arn:aws:iam::aws:policy/AdministratorAccess to role SpaDemo-CodeBuildRole",
            "created role SpaDemo-EventsToEngine",
            "put policy SpaPutEventsOnEngineBus on role SpaDemo-EventsToEngine",
            "created rule SpaDemo-ForwardBuilds in eu-west-1",
            "set the target of rule SpaDemo-ForwardBuilds in eu-west-1",
            "created rule SpaDemo-ForwardSignIns in eu-west-1",
            "set the target of rule SpaDemo-ForwardSignIns in eu-west-1",
            "created rule SpaDemo-ForwardSignIns in us-east-1",
            "set the target of rule SpaDemo-ForwardSignIns in us-east-1",
        ]
    );
    let second = roles_and_rules(&config, &footprint).await;
    assert!(second.is_empty(), "{second:?}");

    // What is there, once.
    let iam = aws_sdk_iam::Client::new(config.sdk());
    let roles = iam.list_roles().send().await.unwrap();
    let mut names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["SpaDemo-CodeBuildRole", "SpaDemo-EventsToEngine"]);
    let attached = iam
        .list_attached_role_policies()
        .role_name("SpaDemo-CodeBuildRole")
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [ADMINISTRATOR_ACCESS]);
    let policy = iam
        .get_role_policy()
        .role_name("SpaDemo-EventsToEngine")
        .policy_name(PUT_EVENTS_POLICY)
        .send()
        .await
        .unwrap();
    assert!(policy.policy_document().contains("PutEvents"), "{policy:?}");

    for (region, expected) in [
        (
            "eu-west-1",
            vec!["SpaDemo-ForwardBuilds", "SpaDemo-ForwardSignIns"],
        ),
        ("us-east-1", vec!["SpaDemo-ForwardSignIns"]),
    ] {
        let events = aws_sdk_eventbridge::Client::new(
            &config
                .sdk()
                .to_builder()
                .region(Region::new(region))
                .build(),
        );
        let rules = events.list_rules().send().await.unwrap();
        let mut names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
        names.sort_unstable();
        assert_eq!(names, expected, "{region}");
        for rule in expected {
            let targets = events
                .list_targets_by_rule()
                .rule(rule)
                .send()
                .await
                .unwrap();
            assert_eq!(targets.targets().len(), 1, "{rule} in {region}");
            let target = &targets.targets()[0];
            assert_eq!(target.id(), TARGET_ID);
            assert_eq!(target.arn(), BUS);
            assert!(
                target
                    .role_arn()
                    .is_some_and(|r| r.ends_with(":role/SpaDemo-EventsToEngine")),
                "{target:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_changed_pattern_or_bus_is_put_again() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let mut footprint = footprint(&settings());
    roles_and_rules(&config, &footprint).await;

    let other_bus = "arn:aws:events:eu-west-1:123456789012:event-bus/spa-2";
    footprint.rules[0].pattern = r#"{"source":["aws.codebuild"]}"#.into();
    footprint.rules[1].target_bus_arn = other_bus.into();
    let changes = roles_and_rules(&config, &footprint).await;
    assert_eq!(
        changes.actions,
        [
            "put policy SpaPutEventsOnEngineBus on role SpaDemo-EventsToEngine",
            "updated rule SpaDemo-ForwardBuilds in eu-west-1",
            "set the target of rule SpaDemo-ForwardSignIns in eu-west-1",
            "set the target of rule SpaDemo-ForwardSignIns in us-east-1",
        ]
    );
    assert!(roles_and_rules(&config, &footprint).await.is_empty());
}

#[tokio::test]
async fn the_whole_footprint_is_made_once_then_left_alone() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let footprint = footprint(&settings());
    let first = ensure(&config, &member_account(), &footprint)
        .await
        .expect("made");
    assert!(
        !first.is_empty(),
        "the first run creates roles, projects and rules"
    );
    // the services act for this account only
    for role in ["SpaDemo-CodeBuildRole", "SpaDemo-EventsToEngine"] {
        let got = config
            .iam()
            .get_role()
            .role_name(role)
            .send()
            .await
            .unwrap();
        let trust = spa_aws::footprint::decode_policy(
            got.role().unwrap().assume_role_policy_document().unwrap(),
        )
        .unwrap();
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], MEMBER,
            "{role}"
        );
    }
    let before = config.calls().snapshot();
    let second = ensure(&config, &member_account(), &footprint)
        .await
        .expect("checked");
    assert!(second.is_empty(), "nothing to change: {second:?}");
    let after = config.calls().snapshot();
    let writes: Vec<&String> = after
        .keys()
        .filter(|k| {
            !k.contains(":Get")
                && !k.contains(":List")
                && !k.contains(":BatchGet")
                && !k.contains(":Describe")
        })
        .filter(|k| after.get(*k) != before.get(*k))
        .collect();
    assert!(writes.is_empty(), "a second run only reads: {writes:?}");
}

/// A project moto accepts (S3 source), named as the footprint's purge project.
async fn purge_project_in_moto(config: &AwsConfig, footprint: &Footprint) {
    use aws_sdk_codebuild::types::{
        ArtifactsType, ComputeType, EnvironmentType, ProjectArtifacts, ProjectEnvironment,
        ProjectSource, SourceType,
    };
    aws_sdk_codebuild::Client::new(config.sdk())
        .create_project()
        .name(&footprint.purge.name)
        .source(
            ProjectSource::builder()
                .r#type(SourceType::S3)
                .location("bucket/source.zip")
                .build()
                .unwrap(),
        )
        .artifacts(
            ProjectArtifacts::builder()
                .r#type(ArtifactsType::NoArtifacts)
                .build()
                .unwrap(),
        )
        .environment(
            ProjectEnvironment::builder()
                .r#type(EnvironmentType::LinuxContainer)
                .image("aws/codebuild/standard:7.0")
                .compute_type(ComputeType::BuildGeneral1Small)
                .build()
                .unwrap(),
        )
        .service_role("arn:aws:iam::123456789012:role/SpaDemo-CodeBuildRole")
        .send()
        .await
        .expect("create project");
}

#[tokio::test]
async fn a_started_build_reads_back() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let settings = settings();
    let footprint = footprint(&settings);
    purge_project_in_moto(&config, &footprint).await;

    let account = AccountId::parse(MEMBER).unwrap();
    let resolved = settings.resolve_account(MEMBER, &[]).unwrap();
    let variables = build_variables(
        &settings,
        &resolved,
        &footprint,
        &BuildInput {
            account: &account,
            kind: BuildKind::Purge,
            attempt: 1,
        },
    )
    .unwrap();
    assert!(variables.contains_key("SPA_NUKE_CONFIG"));
    assert!(variables.contains_key("SPA_NUKE_PRINCIPALS_CONFIG"));
    let request = BuildRequest {
        account,
        kind: BuildKind::Purge,
        attempt: 1,
        variables,
        idempotency_token: "purge-333333333333-1".into(),
    };
    let id = start_build(&config, &footprint, &request)
        .await
        .expect("start build");
    assert!(id.as_str().starts_with("SpaDemo-Purge:"), "{id}");
    let status = build_status(&config, &id).await.expect("status");
    assert!(
        matches!(status, BuildStatus::Succeeded | BuildStatus::InProgress),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_build_of_a_missing_project_is_not_found() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let settings = settings();
    let footprint = footprint(&settings);
    let request = BuildRequest {
        account: AccountId::parse(MEMBER).unwrap(),
        kind: BuildKind::Preparation,
        attempt: 1,
        variables: Default::default(),
        idempotency_token: "t".into(),
    };
    let error = start_build(&config, &footprint, &request)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "CodeBuild project `SpaDemo-Prepare` does not exist"
    );
}

#[tokio::test]
async fn an_unknown_build_is_not_found() {
    let scenario = spa_testkit::scenario();
    let config = member(&scenario).await;
    let id = BuildId::new("SpaDemo-Purge:00000000-0000-4000-8000-000000000000").unwrap();
    assert_eq!(
        build_status(&config, &id).await,
        Err(PortError::not_found("CodeBuild build", id.as_str()))
    );
}

#[tokio::test]
async fn every_build_is_started_with_spas_buildspec_whatever_the_project_says() {
    // the holder administers the account and may edit the project (another
    // buildspec that skips the purge, a source of their own, another image): the
    // request itself carries what spa's footprint says
    use aws_sdk_codebuild::operation::start_build::StartBuildOutput;
    use aws_sdk_codebuild::types::{Build, ComputeType, EnvironmentType, SourceType};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let settings = settings();
    let footprint = footprint(&settings);
    let purge = footprint.project(BuildKind::Purge).clone();
    let expected = purge.clone();
    let rule = mock!(aws_sdk_codebuild::Client::start_build)
        .match_requests(move |r| {
            r.project_name() == Some(expected.name.as_str())
                && r.buildspec_override() == Some(expected.buildspec.as_str())
                && r.source_type_override() == Some(&SourceType::NoSource)
                && r.image_override() == Some(spa_aws::footprint::IMAGE)
                && r.environment_type_override() == Some(&EnvironmentType::LinuxContainer)
                && r.compute_type_override() == Some(&ComputeType::BuildGeneral1Small)
                && r.timeout_in_minutes_override() == i32::try_from(expected.timeout_minutes).ok()
                && r.idempotency_token() == Some("purge-333333333333-1")
        })
        .then_output(|| {
            StartBuildOutput::builder()
                .build_value(Build::builder().id("SpaDemo-Purge:0001").build())
                .build()
        });
    let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&rule]);
    let request = BuildRequest {
        account: AccountId::parse("333333333333").unwrap(),
        kind: BuildKind::Purge,
        attempt: 1,
        variables: Default::default(),
        idempotency_token: "purge-333333333333-1".into(),
    };
    let id = spa_aws::codebuild::start_build_with(&client, &footprint, &request)
        .await
        .expect("the request carries the overrides");
    assert_eq!(id.as_str(), "SpaDemo-Purge:0001");
    assert_eq!(rule.num_calls(), 1);
    assert!(
        purge.buildspec.contains("aws-nuke"),
        "spa's purge buildspec"
    );
}
