//! The Organizations adapter, the assumed roles and the API call counter, against
//! the emulator (moto server).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_organizations::types::OrganizationFeatureSet;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::organizations::AwsOrganization;
use spa_aws::sts::{RoleOptions, Roles};
use spa_core::events::AccountId;
use spa_core::lifecycle::TagChanges;
use spa_usecases::ports::{AccountStatus, Organization, OrganizationTree, PortError};

async fn config(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new())
}

/// An organization with its root id.
async fn organization(config: &AwsConfig) -> String {
    let client = config.organizations();
    client
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let roots = client.list_roots().send().await.expect("roots");
    roots.roots()[0].id().expect("root id").to_owned()
}

async fn unit(config: &AwsConfig, parent: &str, name: &str) -> String {
    let output = config
        .organizations()
        .create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .expect("unit");
    output
        .organizational_unit()
        .and_then(|u| u.id())
        .expect("unit id")
        .to_owned()
}

async fn account(config: &AwsConfig, name: &str) -> AccountId {
    let output = config
        .organizations()
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .expect("account");
    let id = output
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("account id");
    AccountId::parse(id).expect("12 digits")
}

#[tokio::test]
async fn accounts_are_listed_across_pages_and_described() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let root = organization(&config).await;
    let sandbox = unit(&config, &root, "Sandbox").await;
    let mut created = Vec::new();
    for n in 0..23 {
        let id = account(&config, &format!("sandbox{n:02}")).await;
        config
            .organizations()
            .move_account()
            .account_id(id.as_str())
            .source_parent_id(&root)
            .destination_parent_id(&sandbox)
            .send()
            .await
            .expect("move");
        created.push(id);
    }
    let organization = AwsOrganization::new(config.organizations()).with_page_size(5);
    config.calls().reset();

    let all = organization.list_accounts().await.expect("all accounts");
    // the management account and the 23 sandboxes
    assert_eq!(all.len(), 24);
    assert!(created.iter().all(|id| all.iter().any(|a| &a.id == id)));
    assert_eq!(
        config.calls().count("Organizations:ListAccounts"),
        5,
        "24 accounts in pages of 5"
    );

    let inside = organization
        .accounts_in(&sandbox)
        .await
        .expect("in sandbox");
    assert_eq!(inside.len(), 23);
    assert!(
        organization
            .accounts_in(&root)
            .await
            .expect("in root")
            .len()
            == 1
    );

    let one = organization
        .describe_account(&created[3])
        .await
        .expect("described");
    assert_eq!(one.name, "sandbox03");
    assert_eq!(one.email.expose(), "sandbox03@example.com");
    assert_eq!(one.status, AccountStatus::Active);
    assert!(!format!("{one:?}").contains("sandbox03@example.com"));
}

#[tokio::test]
async fn closing_an_account_suspends_it_and_closing_it_again_is_done() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    organization(&config).await;
    let organization = AwsOrganization::new(config.organizations());
    let id = account(&config, "leaving").await;
    organization.close_account(&id).await.expect("closed");
    // a retried close (the event came again) finds it closed: done
    organization.close_account(&id).await.expect("closed again");
    let record = organization.describe_account(&id).await.expect("described");
    assert_eq!(record.status, AccountStatus::Suspended);
}

#[tokio::test]
async fn units_roots_and_ancestors_follow_the_nesting() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let root = organization(&config).await;
    let organization = AwsOrganization::new(config.organizations()).with_page_size(2);
    let roots = organization.roots().await.expect("roots");
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].id, root);

    let outer = unit(&config, &root, "Sandbox").await;
    let inner = unit(&config, &outer, "Team").await;
    for n in 0..3 {
        unit(&config, &outer, &format!("Other{n}")).await;
    }
    let id = account(&config, "deep").await;
    organization
        .move_account(&id, &root, &inner)
        .await
        .expect("moved");
    // moving again to where it is already succeeds (a retried move)
    organization
        .move_account(&id, &root, &inner)
        .await
        .expect("moved again");

    let units = organization.units_in(&outer).await.expect("units");
    assert_eq!(units.len(), 4, "4 units in pages of 2");
    assert!(units.iter().any(|u| u.id == inner && u.name == "Team"));

    let ancestors = organization
        .ancestors(id.as_str())
        .await
        .expect("ancestors");
    assert_eq!(ancestors, vec![inner.clone(), outer.clone(), root.clone()]);
    assert_eq!(
        organization.ancestors(&inner).await.expect("of a unit"),
        vec![outer, root]
    );
}

#[tokio::test]
async fn tags_round_trip_with_one_call_per_kind_of_change() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    organization(&config).await;
    let id = account(&config, "tagged").await;
    let organization = AwsOrganization::new(config.organizations());

    let mut changes = TagChanges::default();
    changes.set("account-state".into(), "vended".into());
    changes.set("cost-center".into(), "cc-1".into());
    changes.set("old".into(), "x".into());
    organization.change_tags(&id, &changes).await.expect("set");

    let mut changes = TagChanges::default();
    changes.set("account-state".into(), "prepared".into());
    changes.remove("old".into());
    config.calls().reset();
    organization
        .change_tags(&id, &changes)
        .await
        .expect("changed");
    let calls = config.calls().snapshot();
    assert_eq!(calls.get("Organizations:TagResource"), Some(&1));
    assert_eq!(calls.get("Organizations:UntagResource"), Some(&1));

    let tags = organization.tags(&id).await.expect("tags");
    assert_eq!(
        tags.get("account-state").map(String::as_str),
        Some("prepared")
    );
    assert_eq!(tags.get("cost-center").map(String::as_str), Some("cc-1"));
    assert!(!tags.contains_key("old"));

    config.calls().reset();
    organization
        .change_tags(&id, &TagChanges::default())
        .await
        .expect("nothing");
    assert_eq!(config.calls().total(), 0, "no change, no call");
}

#[tokio::test]
async fn unknown_accounts_are_not_found() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    organization(&config).await;
    let organization = AwsOrganization::new(config.organizations());
    let unknown = AccountId::parse("999999999999").expect("id");
    let found = organization.describe_account(&unknown).await;
    assert!(
        matches!(&found, Err(PortError::NotFound { id, .. }) if id == "999999999999"),
        "{found:?}"
    );
    let found = organization.ancestors("999999999999").await;
    assert!(
        matches!(found, Err(PortError::NotFound { .. })),
        "{found:?}"
    );
}

#[tokio::test]
async fn api_calls_are_counted_by_operation() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    organization(&config).await;
    let id = account(&config, "counted").await;
    let organization = AwsOrganization::new(config.organizations());
    config.calls().reset();
    organization.list_accounts().await.expect("first");
    organization.list_accounts().await.expect("second");
    let mut changes = TagChanges::default();
    changes.set("k".into(), "v".into());
    organization
        .change_tags(&id, &changes)
        .await
        .expect("tagged");
    let calls = config.calls().snapshot();
    assert_eq!(
        calls.into_iter().collect::<Vec<_>>(),
        vec![
            ("Organizations:ListAccounts".to_owned(), 2),
            ("Organizations:TagResource".to_owned(), 1)
        ]
    );
    assert_eq!(config.calls().total(), 3);
    assert_eq!(config.calls().attempts(), 3);
}

/// A clock the test moves.
fn test_clock() -> (Arc<AtomicU64>, RoleOptions) {
    let offset = Arc::new(AtomicU64::new(0));
    let mut options = RoleOptions::new("spa-test");
    let seen = offset.clone();
    options.now =
        Arc::new(move || SystemTime::now() + Duration::from_secs(seen.load(Ordering::SeqCst)));
    (offset, options)
}

#[tokio::test]
async fn member_roles_are_assumed_once_and_refreshed_before_expiry() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let (offset, options) = test_clock();
    let roles = Roles::new(config.clone(), "aws", "AWSControlTowerExecution", options);
    let member = AccountId::parse("222222222222").expect("id");
    assert_eq!(
        roles.member_role_arn(&member),
        "arn:aws:iam::222222222222:role/AWSControlTowerExecution"
    );

    config.calls().reset();
    let first = roles.member(&member).await.expect("assumed");
    let second = roles.member_config(&member).await.expect("reused");
    assert_eq!(
        config.calls().count("STS:AssumeRole"),
        1,
        "one AssumeRole for two uses"
    );
    // the member configuration works, with the member's credentials
    let identity = first
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    assert_eq!(identity.account(), Some("222222222222"));
    assert!(second.credentials_provider().is_some());

    let other = AccountId::parse("333333333333").expect("id");
    roles.member(&other).await.expect("other member");
    assert_eq!(config.calls().count("STS:AssumeRole"), 2, "one per account");

    // 58 minutes later, the one-hour credentials are within 5 minutes of expiry
    offset.store(58 * 60, Ordering::SeqCst);
    roles.member(&member).await.expect("refreshed");
    assert_eq!(config.calls().count("STS:AssumeRole"), 3, "refreshed once");
    roles.member(&member).await.expect("fresh again");
    assert_eq!(config.calls().count("STS:AssumeRole"), 3);
}

#[tokio::test]
async fn the_management_role_is_assumed_and_chains_to_members() {
    let scenario = spa_testkit::scenario();
    let base = config(&scenario).await;
    let management = Roles::assume(
        &base,
        "arn:aws:iam::111111111111:role/SpaManagement",
        RoleOptions::new("spa-test"),
    )
    .await
    .expect("management role");
    let identity = management
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    assert_eq!(identity.account(), Some("111111111111"));
    let roles = Roles::new(
        management,
        "aws",
        "OrganizationAccountAccessRole",
        RoleOptions::new("spa"),
    );
    let member = roles
        .member(&AccountId::parse("444444444444").expect("id"))
        .await
        .expect("member");
    let identity = member
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    assert_eq!(identity.account(), Some("444444444444"));
    assert_eq!(
        base.calls().count("STS:AssumeRole"),
        2,
        "management, then member"
    );
}

/// A server that refuses every call as STS does when the role cannot be assumed.
async fn refusing_sts() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let _ = stream.read(&mut buffer).await;
                let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>1</RequestId></ErrorResponse>";
                let response = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_member_role_that_cannot_be_assumed_is_denied() {
    let endpoint = refusing_sts().await;
    let config = AwsConfig::from_sdk(&spa_testkit::sdk_config(&endpoint).await, ApiCalls::new());
    let roles = Roles::new(config.clone(), "aws", "Missing", RoleOptions::new("spa"));
    let member = AccountId::parse("555555555555").expect("id");
    let result = roles.member(&member).await;
    assert!(
        matches!(&result, Err(PortError::Denied { service, action, .. }) if service == "sts" && action == "AssumeRole"),
        "{result:?}"
    );
    assert!(!result.expect_err("denied").is_transient());
    // not retried by the SDK: a denial is final
    assert_eq!(config.calls().attempts(), 1);
}

mod platform {
    use super::*;
    use spa_aws::{AwsPlatform, ConnectOptions};
    use spa_core::footprint::Footprint;
    use spa_core::lifecycle::{BuildId, BuildStatus};
    use spa_usecases::ports::{BuildRequest, Builds, Platform};

    const SETTINGS: &str = r#"
environment_identifier: SpaTest
automation:
  account_id: "123456789012"
  region: us-east-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
  member_role_name: SpaMember
"#;

    /// Builds that are never started: the platform only needs a type here.
    struct NoBuilds;

    fn refused() -> PortError {
        PortError::Rejected {
            service: "codebuild".into(),
            action: "StartBuild".into(),
            message: "no builds in this test".into(),
        }
    }

    impl Builds for NoBuilds {
        async fn ensure_footprint(&self, _: &AccountId, _: &Footprint) -> Result<(), PortError> {
            Err(refused())
        }
        async fn start_build(&self, _: &Footprint, _: &BuildRequest) -> Result<BuildId, PortError> {
            Err(refused())
        }
        async fn build_status(&self, _: &AccountId, _: &BuildId) -> Result<BuildStatus, PortError> {
            Err(refused())
        }
    }

    /// The settings, and the options of a run on the emulator that reaches the
    /// organization through the management role (as on AWS).
    fn management_role_on(
        scenario: &spa_testkit::Scenario<'_>,
    ) -> (spa_core::settings::Settings, ConnectOptions) {
        let settings = spa_core::settings::load(
            "settings.yaml",
            SETTINGS,
            &spa_core::settings::MemorySources::new(),
        )
        .expect("settings")
        .settings;
        let mut options = ConnectOptions::emulator(scenario.endpoint(), "spa-bus", "http://queue");
        options.assume_management_role = true;
        (settings, options)
    }

    async fn roots_of<P: Platform>(platform: &P) -> usize {
        platform.organization().roots().await.expect("roots").len()
    }

    #[tokio::test]
    async fn the_platform_connects_every_adapter_with_the_management_role() {
        let scenario = spa_testkit::scenario();
        let (settings, options) = management_role_on(&scenario);
        let platform = AwsPlatform::connect(&settings, &options)
            .await
            .expect("connected")
            .with_builds(NoBuilds);
        assert_eq!(
            platform.calls().count("STS:AssumeRole"),
            1,
            "management role"
        );
        platform
            .organization()
            .client()
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("organization");
        assert_eq!(roots_of(&platform).await, 1);
        let member = AccountId::parse("666666666666").expect("id");
        let config = platform.member_config(&member).await.expect("member");
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("identity");
        assert_eq!(identity.account(), Some("666666666666"));
        assert!(
            identity.arn().is_some_and(|arn| arn.contains("SpaMember")),
            "{:?}",
            identity.arn()
        );
        assert_eq!(platform.store().tables().activities, "SpaTest-Activities");
        assert!(platform.reports_bucket().is_none());
    }

    /// A Lambda function assumes the management role at its first call that needs
    /// it: the `relay` and `dead-letters` functions, whose roles may not assume it,
    /// never do.
    #[tokio::test]
    async fn a_function_assumes_the_management_role_only_when_it_calls_it() {
        let scenario = spa_testkit::scenario();
        let (settings, options) = management_role_on(&scenario);
        let options = options.for_function(&settings, Some(spa_core::rules::Function::Relay));
        let platform = AwsPlatform::connect(&settings, &options)
            .await
            .expect("connected")
            .with_builds(NoBuilds);
        assert_eq!(
            platform.calls().count("STS:AssumeRole"),
            0,
            "nothing assumed at connect"
        );
        platform
            .organization()
            .client()
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("organization");
        assert_eq!(roots_of(&platform).await, 1);
        assert_eq!(
            platform.calls().count("STS:AssumeRole"),
            1,
            "assumed at the first call to the management account, once"
        );
    }

    /// What `bootstrap` does: the base configuration from the environment alone
    /// (not aws-config's loader), then the management role and a member role from it.
    #[tokio::test]
    async fn the_platform_connects_from_the_configuration_of_the_environment() {
        let scenario = spa_testkit::scenario();
        let (settings, options) = management_role_on(&scenario);
        let region = AwsPlatform::region(&settings, &options);
        assert_eq!(region, "us-east-1");
        let calls = ApiCalls::new();
        let base = AwsConfig::from_environment(
            &region,
            options.endpoint.as_deref(),
            options.credentials,
            calls.clone(),
        );
        assert_eq!(base.region(), Some("us-east-1"));
        assert!(base.is_emulated());
        let platform = AwsPlatform::connect_from(base, &settings, &options)
            .await
            .expect("connected")
            .with_builds(NoBuilds);
        assert_eq!(calls.count("STS:AssumeRole"), 1, "the base's counter");
        platform
            .organization()
            .client()
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("organization");
        assert_eq!(roots_of(&platform).await, 1);
        let member = AccountId::parse("666666666666").expect("id");
        let config = platform.member_config(&member).await.expect("member");
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("identity");
        assert_eq!(identity.account(), Some("666666666666"));
    }

    /// In Lambda, the keys come from the environment: the provider is the SDK's
    /// environment provider, which says so when they are missing.
    #[tokio::test]
    async fn ambient_credentials_from_the_environment_are_the_variables_lambda_sets() {
        use aws_credential_types::provider::ProvideCredentials;
        use aws_credential_types::provider::error::CredentialsError;
        let base = AwsConfig::from_environment(
            "eu-west-1",
            Some("http://127.0.0.1:9"),
            spa_aws::BaseCredentials::Ambient,
            ApiCalls::new(),
        );
        let provider = base.sdk().credentials_provider().expect("a provider");
        let answer = provider.provide_credentials().await;
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(_)) => {
                assert_eq!(answer.expect("credentials").access_key_id(), key.trim());
            }
            _ => {
                let error = answer.expect_err("no keys in this environment");
                assert!(
                    matches!(error, CredentialsError::CredentialsNotLoaded(_)),
                    "{error:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_request_takes_a_slot_of_the_shared_rate() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use spa_aws::pace::Pace;
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let root = organization(&config).await;
    let team = unit(&config, &root, "Team").await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(account(&config, &format!("paced{n}")).await);
    }
    let mut table = config.dynamodb().create_table().table_name("Pace");
    for (name, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        table = table
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .expect("key"),
            );
    }
    table
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("table");
    let pace = Pace::new(
        config.dynamodb(),
        "Pace",
        "organizations",
        100,
        Duration::from_secs(5),
    );
    let organization = AwsOrganization::new(config.organizations())
        .with_page_size(3)
        .with_pace(Arc::new(pace));
    config.calls().reset();
    // 8 accounts in pages of 3, one parent, the tags, a set and a removal, a unit
    assert_eq!(organization.list_accounts().await.expect("listed").len(), 8);
    organization
        .ancestors(ids[0].as_str())
        .await
        .expect("placed");
    organization.tags(&ids[0]).await.expect("read");
    let mut changes = TagChanges::default();
    changes.set("k".into(), "v".into());
    changes.remove("gone".into());
    organization
        .change_tags(&ids[0], &changes)
        .await
        .expect("tagged");
    organization.describe_unit(&team).await.expect("described");
    let calls = config.calls().snapshot();
    let requests: u64 = calls
        .iter()
        .filter(|(operation, _)| operation.starts_with("Organizations:"))
        .map(|(_, count)| *count)
        .sum();
    assert_eq!(requests, 3 + 1 + 1 + 2 + 1, "{calls:?}");
    assert_eq!(
        config.calls().count("DynamoDB:UpdateItem"),
        requests,
        "one slot a request: {calls:?}"
    );
}

/// The names of the service control policies attached to `target`, as Organizations
/// lists them.
async fn attached(config: &AwsConfig, target: &AccountId) -> Vec<String> {
    let output = config
        .organizations()
        .list_policies_for_target()
        .target_id(target.as_str())
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .expect("policies for target");
    output
        .policies()
        .iter()
        .filter_map(|p| p.name().map(str::to_owned))
        .filter(|name| name != "FullAWSAccess")
        .collect()
}

#[tokio::test]
async fn a_frozen_account_gets_the_freeze_policy_once_and_loses_it_when_thawed() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    organization(&config).await;
    let id = account(&config, "frozen").await;
    let other = account(&config, "other").await;
    let organization = AwsOrganization::new(config.organizations()).with_page_size(1);
    let policy = spa_core::guardrails::Policy {
        name: "SpaTest-Freeze".into(),
        description: "spa SpaTest: frozen".into(),
        targets: Vec::new(),
        content: r#"{"Version":"2012-10-17","Statement":[{"Sid":"Frozen","Effect":"Deny","NotAction":["*:Get*"],"Resource":"*"}]}"#.into(),
    };
    // thawing an account of an organization without the policy: nothing to do
    organization
        .thaw(&id, &policy.name)
        .await
        .expect("nothing to thaw");

    // the first freeze creates the policy; a retried one and another account reuse it
    organization.freeze(&id, &policy).await.expect("frozen");
    organization
        .freeze(&id, &policy)
        .await
        .expect("frozen again");
    organization
        .freeze(&other, &policy)
        .await
        .expect("other frozen");
    assert_eq!(attached(&config, &id).await, ["SpaTest-Freeze"]);
    let listed = config
        .organizations()
        .list_policies()
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .expect("policies");
    let freezes: Vec<_> = listed
        .policies()
        .iter()
        .filter(|p| p.name() == Some("SpaTest-Freeze"))
        .collect();
    assert_eq!(freezes.len(), 1, "one policy, created once");

    organization.thaw(&id, &policy.name).await.expect("thawed");
    organization
        .thaw(&id, &policy.name)
        .await
        .expect("thawed again");
    assert!(attached(&config, &id).await.is_empty());
    assert_eq!(attached(&config, &other).await, ["SpaTest-Freeze"]);
}
