#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value as Json, json};

use super::*;
use crate::settings::{MemorySources, Settings};

const BUS: &str = "arn:aws:events:eu-west-1:123456789012:event-bus/spa";

fn settings_text(environment: &str, purge_variables: &str) -> String {
    format!(
        "environment_identifier: {environment}
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
  member_role_name: AWSControlTowerExecution
metering:
  onboarding_deadline: 2h
  maintenance_deadline: 4h
defaults:
  preparation:
    feature: enabled
    buildspec: specs/prepare.yaml
    variables:
      BUDGET_NAME: SpaBudget
  purge:
    feature: enabled
    variables:
{purge_variables}
  max_attempts: 3
accounts:
  - identifier: '333333333333'
    preparation:
      variables:
        BUDGET_NAME: Own
"
    )
}

fn settings(environment: &str, purge_variables: &str) -> Settings {
    crate::settings::load(
        "settings.yaml",
        &settings_text(environment, purge_variables),
        &MemorySources::new(),
    )
    .unwrap()
    .settings
}

const PURGE: &str = "      MAXIMUM_AGE: 9M\n      PURGE_MODE: --dry-run";

fn specs() -> Buildspecs {
    Buildspecs::new().with("specs/prepare.yaml", "version: 0.2\n# custom\n")
}

fn footprint_of(settings: &Settings) -> (Resolved, Footprint) {
    let resolved = settings.resolve_account("333333333333", &[]).unwrap();
    let footprint = Footprint::for_account(settings, &resolved, &specs(), BUS).unwrap();
    (resolved, footprint)
}

#[test]
fn names_are_scoped_by_the_environment() {
    let (_, footprint) = footprint_of(&settings("SpaDemo", PURGE));
    assert_eq!(footprint.environment, "SpaDemo");
    assert_eq!(footprint.prepare.name, "SpaDemo-Prepare");
    assert_eq!(footprint.purge.name, "SpaDemo-Purge");
    assert_eq!(footprint.service_role, "SpaDemo-CodeBuildRole");
    let rules: Vec<&str> = footprint.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rules, ["SpaDemo-ForwardBuilds", "SpaDemo-ForwardSignIns"]);
    assert_eq!(footprint.events_roles(), ["SpaDemo-EventsToEngine"]);
    assert!(footprint.rules.iter().all(|r| r.target_bus_arn == BUS));
    assert_eq!(footprint.rules[0].regions, ["eu-west-1"]);
    assert_eq!(footprint.rules[1].regions, ["eu-west-1", "us-east-1"]);

    let (_, other) = footprint_of(&settings("SpaTest", PURGE));
    assert_ne!(other.prepare.name, footprint.prepare.name);
    assert_ne!(other.service_role, footprint.service_role);
}

#[test]
fn the_digest_follows_everything_the_footprint_ensures() {
    let (_, footprint) = footprint_of(&settings("SpaDemo", PURGE));
    let (_, again) = footprint_of(&settings("SpaDemo", PURGE));
    assert_eq!(footprint.digest(), again.digest());
    assert_eq!(
        footprint.digest().len(),
        43,
        "SHA-256, base64 without padding"
    );
    let (_, other_variables) = footprint_of(&settings("SpaDemo", "      PURGE_MODE: --no-dry-run"));
    assert_ne!(other_variables.digest(), footprint.digest());
    let mut other_buildspec = footprint.clone();
    other_buildspec.prepare.buildspec.push_str("# changed\n");
    assert_ne!(other_buildspec.digest(), footprint.digest());
    let mut other_rule = footprint.clone();
    other_rule.rules[1].regions.pop();
    assert_ne!(other_rule.digest(), footprint.digest());
}

#[test]
fn projects_carry_the_resolved_builds() {
    let (_, footprint) = footprint_of(&settings("SpaDemo", PURGE));
    assert_eq!(footprint.prepare.buildspec, "version: 0.2\n# custom\n");
    assert_eq!(footprint.purge.buildspec, DEFAULT_PURGE);
    assert_eq!(footprint.prepare.variables["BUDGET_NAME"], "Own");
    assert_eq!(footprint.prepare.variables[ENVIRONMENT], "SpaDemo");
    assert_eq!(footprint.purge.variables[BUILD_KIND], "purge");
    // 2h of on-boarding for 3 attempts; 4h of maintenance for 3 attempts.
    assert_eq!(footprint.prepare.timeout_minutes, 40);
    assert_eq!(footprint.purge.timeout_minutes, 80);
    assert_eq!(footprint.project(BuildKind::Purge).name, "SpaDemo-Purge");
}

#[test]
fn a_buildspec_not_loaded_is_an_error() {
    let settings = settings("SpaDemo", PURGE);
    let resolved = settings.resolve_account("333333333333", &[]).unwrap();
    let error = Footprint::for_account(&settings, &resolved, &Buildspecs::new(), BUS).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the preparation buildspec `specs/prepare.yaml` was not loaded with the settings"
    );
}

#[test]
fn names_over_the_aws_limits_are_refused() {
    let long = format!("S{}", "a".repeat(50));
    let error = Names::new(&long).unwrap_err();
    assert!(
        matches!(
            error,
            FootprintError::Name {
                what: "IAM role",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("choose a shorter `environment_identifier`")
    );
    assert!(Names::new(&"S".repeat(40)).is_ok());
    assert!(Names::new("Spa Demo").is_err());
    assert!(Names::new("-Spa").is_err());
}

#[test]
fn the_bus_must_be_an_event_bus_arn() {
    let settings = settings("SpaDemo", PURGE);
    let resolved = settings.resolve_account("333333333333", &[]).unwrap();
    for bad in [
        "spa",
        "arn:aws:sqs:eu-west-1:123456789012:queue",
        "arn:aws:events:eu-west-1:12:event-bus/x",
        "arn:aws:events:eu-west-1:123456789012:event-bus/",
    ] {
        assert!(
            matches!(
                Footprint::for_account(&settings, &resolved, &specs(), bad),
                Err(FootprintError::BusArn(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn settings_may_not_set_spa_variables() {
    let settings = settings("SpaDemo", "      SPA_ACCOUNT_ID: '1'");
    let resolved = settings.resolve_account("333333333333", &[]).unwrap();
    let error = Footprint::for_account(&settings, &resolved, &specs(), BUS).unwrap_err();
    assert_eq!(
        error,
        FootprintError::ReservedVariable {
            kind: BuildKind::Purge,
            name: "SPA_ACCOUNT_ID".into()
        }
    );
}

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Json>(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/events/",
            $name
        )))
        .unwrap()
    };
}

#[test]
fn patterns_match_the_real_event_shapes() {
    let mut build = fixture!("codebuild-build-state-change.json");
    let sign_ins = [
        fixture!("signin-console-login-root.json"),
        fixture!("signin-console-login-iam-user.json"),
        fixture!("signin-console-login-assumed-role.json"),
    ];
    let builds = build_state_change_pattern(&["SpaDemo-Prepare", "SpaDemo-Purge"]);
    let sign_in = console_sign_in_pattern();
    // The fixture's project is `spa-prepare`: not one of ours.
    assert!(!pattern_matches(&builds, &build));
    build["detail"]["project-name"] = json!("SpaDemo-Prepare");
    assert!(pattern_matches(&builds, &build));
    build["detail"]["build-status"] = json!("IN_PROGRESS");
    assert!(!pattern_matches(&builds, &build));
    for event in &sign_ins {
        assert!(pattern_matches(&sign_in, event));
        assert!(!pattern_matches(&builds, event));
    }
    assert!(!pattern_matches(&sign_in, &build));
    assert!(!pattern_matches("not json", &build));

    let parsed: Json = serde_json::from_str(&builds).unwrap();
    assert_eq!(parsed["source"], json!(["aws.codebuild"]));
    assert_eq!(
        parsed["detail"]["build-status"],
        json!(["SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"])
    );
}

#[test]
fn arrays_in_events_match_one_of_their_values() {
    let pattern = r#"{"resources": ["a"], "detail": {"n": [1]}}"#;
    assert!(pattern_matches(
        pattern,
        &json!({"resources": ["b", "a"], "detail": {"n": 1}})
    ));
    assert!(!pattern_matches(
        pattern,
        &json!({"resources": ["b"], "detail": {"n": 1}})
    ));
    assert!(!pattern_matches(pattern, &json!({"resources": ["a"]})));
}

fn input(kind: BuildKind, account: &AccountId) -> BuildInput<'_> {
    BuildInput {
        account,
        kind,
        attempt: 2,
    }
}

#[test]
fn every_build_receives_the_contract() {
    let settings = settings("SpaDemo", PURGE);
    let (resolved, footprint) = footprint_of(&settings);
    let account = AccountId::parse("333333333333").unwrap();
    let prepare = build_variables(
        &settings,
        &resolved,
        &footprint,
        &input(BuildKind::Preparation, &account),
    )
    .unwrap();
    let expected: BTreeMap<String, String> = [
        ("BUDGET_NAME", "Own"),
        ("SPA_ACCOUNT_ID", "333333333333"),
        ("SPA_ATTEMPT", "2"),
        ("SPA_BUILD_KIND", "preparation"),
        ("SPA_ENVIRONMENT", "SpaDemo"),
        ("SPA_REGION", "eu-west-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(prepare, expected);

    let purge = build_variables(
        &settings,
        &resolved,
        &footprint,
        &input(BuildKind::Purge, &account),
    )
    .unwrap();
    assert_eq!(purge["SPA_BUILD_KIND"], "purge");
    assert_eq!(purge["MAXIMUM_AGE"], "9M");
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(&purge[NUKE_CONFIG])
        .unwrap();
    let config: Json = serde_saphyr::from_str(std::str::from_utf8(&yaml).unwrap()).unwrap();
    assert!(config["accounts"]["333333333333"].is_object());
}

fn nuke_of(
    purge_variables: &str,
    account: &str,
) -> Result<(nuke::NukeConfig, Json), nuke::NukeError> {
    let settings = settings("SpaDemo", purge_variables);
    let (resolved, footprint) = footprint_of(&settings);
    let account = AccountId::parse(account).unwrap();
    let config = nuke::config(&settings, &resolved, &footprint, &account)?;
    let parsed: Json = serde_saphyr::from_str(&config.yaml).unwrap();
    Ok((config, parsed))
}

/// The principals' configuration of a purge, parsed.
fn principals_of(config: &nuke::NukeConfig) -> Json {
    serde_saphyr::from_str(&config.principals_yaml).unwrap()
}

fn values(filters: &Json) -> Vec<String> {
    filters
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_nuke_config_keeps_spa_and_the_organization() {
    let (config, parsed) = nuke_of(PURGE, "333333333333").unwrap();
    assert!(config.dry_run);
    assert!(
        config
            .yaml
            .starts_with("# aws-nuke configuration generated by spa")
    );
    assert_eq!(parsed["regions"], json!(["eu-west-1", "global"]));
    assert_eq!(parsed["blocklist"], json!(["123456789012", "222222222222"]));
    let filters = &parsed["accounts"]["333333333333"]["filters"];
    let principals = principals_of(&config);
    assert_eq!(principals["regions"], parsed["regions"]);
    assert_eq!(principals["blocklist"], parsed["blocklist"]);
    let kept = &principals["accounts"]["333333333333"]["filters"];
    let roles = values(&kept["IAMRole"]);
    for role in [
        "SpaDemo-CodeBuildRole",
        "SpaDemo-EventsToEngine",
        "AWSControlTowerExecution",
        "AWSReservedSSO_*",
    ] {
        assert!(roles.iter().any(|r| r == role), "{role} in {roles:?}");
    }
    assert_eq!(kept["IAMRolePolicyAttachment"][0]["property"], "RoleName");
    assert_eq!(
        values(&kept["IAMRolePolicyAttachment"]),
        values(&kept["IAMRole"])
    );
    assert_eq!(
        values(&filters["CodeBuildProject"]),
        ["SpaDemo-Prepare", "SpaDemo-Purge"]
    );
    assert_eq!(
        values(&filters["CloudWatchLogsLogGroup"]),
        [
            "/aws/codebuild/SpaDemo-Prepare",
            "/aws/codebuild/SpaDemo-Purge",
            "*aws-controltower*"
        ]
    );
    assert_eq!(
        values(&filters["EventBridgeRule"]),
        [
            "SpaDemo-ForwardBuilds",
            "SpaDemo-ForwardSignIns",
            "aws-controltower-*"
        ]
    );
    // Identity Center's SAML provider and Control Tower's baseline are never purged
    assert_eq!(
        kept["IAMSAMLProvider"],
        json!([{"property": "ARN", "type": "glob", "value": "arn:*:iam::*:saml-provider/AWSSSO_*"}])
    );
    assert_eq!(
        values(&filters["CloudFormationStack"]),
        ["StackSet-AWSControlTower*"]
    );
    assert_eq!(
        values(&filters["SNSTopic"]),
        [
            "arn:*:sns:*:*:SpaDemo-BudgetAlerts",
            "arn:*:sns:*:*:aws-controltower-*"
        ]
    );
    let global = filters["__global__"].as_array().unwrap();
    assert_eq!(
        global[0],
        json!({"property": "tag:spa:keep", "value": "true"})
    );
    // 9 months of 30 days.
    assert!(global.len() > 2);
    assert!(
        global[1..]
            .iter()
            .all(|f| f["type"] == "dateOlderThan" && f["value"] == "6480h")
    );
    let mut excluded = vec!["S3Object"];
    excluded.extend(nuke::PRINCIPAL_TYPES);
    assert_eq!(parsed["resource-types"]["excludes"], json!(excluded));
}

#[test]
fn neither_the_keep_tag_nor_the_age_keeps_an_iam_principal() {
    let (config, parsed) = nuke_of(PURGE, "333333333333").unwrap();
    let principals = principals_of(&config);
    // the principals are purged by their own run, which keeps spa and the organization only
    assert_eq!(
        principals["resource-types"],
        json!({"includes": nuke::PRINCIPAL_TYPES})
    );
    let kept = principals["accounts"]["333333333333"]["filters"]
        .as_object()
        .unwrap();
    assert!(
        !kept.contains_key("__global__"),
        "no keep tag, no age: {kept:?}"
    );
    assert!(
        kept.keys()
            .all(|k| nuke::PRINCIPAL_TYPES.contains(&k.as_str())),
        "{kept:?}"
    );
    for filter in kept.values().flat_map(|f| f.as_array().unwrap()) {
        let property = filter["property"].as_str().unwrap_or_default();
        assert!(!property.starts_with("tag:"), "{filter}");
        assert_ne!(filter["type"], "dateOlderThan");
    }
    // and the run that honours the keep tag never sees a principal
    let everything_else = &parsed["accounts"]["333333333333"]["filters"];
    for kind in nuke::PRINCIPAL_TYPES {
        assert!(everything_else.get(kind).is_none(), "{kind}");
    }
    assert!(everything_else["__global__"].is_array());
    // both travel with the build
    let settings = settings("SpaDemo", PURGE);
    let (resolved, footprint) = footprint_of(&settings);
    let account = AccountId::parse("333333333333").unwrap();
    let purge = build_variables(
        &settings,
        &resolved,
        &footprint,
        &input(BuildKind::Purge, &account),
    )
    .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&purge[NUKE_PRINCIPALS_CONFIG])
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&decoded).unwrap(),
        config.principals_yaml
    );
}

#[test]
fn purge_variables_shape_the_config() {
    let (config, parsed) = nuke_of(
        "      PURGE_REGIONS: 'eu-west-1, us-east-1 global eu-west-1'\n      PURGE_KEEP_TAG: keep-me\n      PURGE_MODE: --no-dry-run",
        "333333333333",
    )
    .unwrap();
    assert!(!config.dry_run);
    assert_eq!(
        parsed["regions"],
        json!(["eu-west-1", "us-east-1", "global"])
    );
    let global = parsed["accounts"]["333333333333"]["filters"]["__global__"]
        .as_array()
        .unwrap();
    assert_eq!(
        global,
        &[json!({"property": "tag:keep-me", "value": "true"})]
    );

    let (_, parsed) = nuke_of("      PURGE_KEEP_TAG: owner = team-a", "333333333333").unwrap();
    assert_eq!(
        parsed["accounts"]["333333333333"]["filters"]["__global__"][0],
        json!({"property": "tag:owner", "value": "team-a"})
    );
}

#[test]
fn bad_purge_variables_are_refused() {
    for (variables, name) in [
        ("      PURGE_MODE: --yes", "PURGE_MODE"),
        ("      MAXIMUM_AGE: 9 months", "MAXIMUM_AGE"),
        ("      MAXIMUM_AGE: 0d", "MAXIMUM_AGE"),
        ("      PURGE_REGIONS: Europe", "PURGE_REGIONS"),
        ("      PURGE_KEEP_TAG: =x", "PURGE_KEEP_TAG"),
    ] {
        let error = nuke_of(variables, "333333333333").unwrap_err();
        assert!(
            matches!(&error, nuke::NukeError::Variable { name: n, .. } if *n == name),
            "{variables}: {error}"
        );
    }
}

#[test]
fn the_automation_and_management_accounts_are_never_purged() {
    for account in ["123456789012", "222222222222"] {
        assert_eq!(
            nuke_of(PURGE, account).unwrap_err(),
            nuke::NukeError::Blocklisted(account.into())
        );
    }
}

#[test]
fn ages_are_hours() {
    assert_eq!(nuke::age_hours("12h"), Ok(12));
    assert_eq!(nuke::age_hours("30d"), Ok(720));
    assert_eq!(nuke::age_hours("2w"), Ok(336));
    assert_eq!(nuke::age_hours("9M"), Ok(6480));
    assert_eq!(nuke::age_hours("1y"), Ok(8760));
    assert!(nuke::age_hours("").is_err());
    assert!(nuke::age_hours("9m").is_err());
    assert!(nuke::age_hours("é").is_err());
    assert!(nuke::age_hours("99999999999999999y").is_err());
}

#[test]
fn timeouts_fit_the_deadline() {
    use std::time::Duration;
    assert_eq!(timeout_minutes(Duration::from_secs(7200), 3), 40);
    assert_eq!(timeout_minutes(Duration::from_secs(60), 3), 5);
    assert_eq!(timeout_minutes(Duration::from_secs(86_400 * 7), 1), 480);
    assert_eq!(timeout_minutes(Duration::from_secs(7200), 0), 120);
}

#[test]
fn buildspecs_load_through_sources_with_clear_errors() {
    let settings = settings("SpaDemo", PURGE);
    let sources = MemorySources::new().with("conf/specs/prepare.yaml", "version: 0.2\n");
    let loaded = Buildspecs::load("conf/settings.yaml", &settings, &sources).unwrap();
    assert_eq!(loaded.paths().collect::<Vec<_>>(), ["specs/prepare.yaml"]);

    let error =
        Buildspecs::load("conf/settings.yaml", &settings, &MemorySources::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "conf/settings.yaml: error: buildspec `specs/prepare.yaml` named at defaults.preparation.buildspec: not found (looked for `conf/specs/prepare.yaml`)"
    );
}

#[test]
fn buildspecs_outside_the_settings_folder_are_refused() {
    let text = settings_text("SpaDemo", PURGE).replace("specs/prepare.yaml", "../prepare.yaml")
        + "  - identifier: '444444444444'\n    purge:\n      buildspec: /etc/purge.yaml\n";
    let settings = crate::settings::load("settings.yaml", &text, &MemorySources::new())
        .unwrap()
        .settings;
    let sources = MemorySources::new()
        .with("../prepare.yaml", "x")
        .with("/etc/purge.yaml", "x");
    let error = Buildspecs::load("settings.yaml", &settings, &sources).unwrap_err();
    let lines: Vec<String> = error.errors.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("named at defaults.preparation.buildspec: the path leaves the folder of the settings file"), "{}", lines[0]);
    assert!(
        lines[1].contains("named at accounts[1].purge.buildspec: an absolute path is refused"),
        "{}",
        lines[1]
    );
}

#[test]
fn each_member_has_its_budget_alerts_topic() {
    let member = AccountId::parse("333333333333").unwrap();
    assert_eq!(
        member_budget_topic_arn("aws", "eu-west-1", &member, "SpaDemo"),
        "arn:aws:sns:eu-west-1:333333333333:SpaDemo-BudgetAlerts"
    );
    assert_eq!(
        member_budget_topic_arn("aws-cn", "cn-north-1", &member, "SpaDemo"),
        "arn:aws-cn:sns:cn-north-1:333333333333:SpaDemo-BudgetAlerts"
    );
    assert_eq!(
        Names::new("SpaDemo").unwrap().budget_alerts_topic,
        budget_alerts_topic_name("SpaDemo")
    );
}

#[test]
fn the_spend_guard_forwards_the_spending_calls_from_every_allowed_region() {
    let text = settings_text("SpaDemo", PURGE).replace(
        "accounts:\n  - identifier: '333333333333'\n",
        "accounts:\n  - identifier: '333333333333'\n    spend_guard: {feature: enabled}\n    guardrails: {allowed_regions: [eu-west-1, us-east-1, ap-south-1]}\n",
    );
    let settings = crate::settings::load("settings.yaml", &text, &MemorySources::new())
        .unwrap()
        .settings;
    let (_, footprint) = footprint_of(&settings);
    let rule = footprint
        .rules
        .iter()
        .find(|r| r.name == "SpaDemo-ForwardSpending")
        .expect("the spending rule");
    assert_eq!(rule.regions, ["eu-west-1", "us-east-1", "ap-south-1"]);
    assert_eq!(rule.target_bus_arn, BUS);
    let run: Json = serde_json::from_str(include_str!(
        "../../../../fixtures/events/ec2-run-instances.json"
    ))
    .unwrap();
    assert!(pattern_matches(&rule.pattern, &run), "{}", rule.pattern);
    let mut describe = run.clone();
    describe["detail"]["eventName"] = json!("DescribeInstances");
    assert!(!pattern_matches(&rule.pattern, &describe));

    // without an allow-list: the automation region; without the guard: no rule
    let text = settings_text("SpaDemo", PURGE).replace(
        "accounts:\n  - identifier: '333333333333'\n",
        "accounts:\n  - identifier: '333333333333'\n    spend_guard: {feature: enabled}\n",
    );
    let settings = crate::settings::load("settings.yaml", &text, &MemorySources::new())
        .unwrap()
        .settings;
    let (_, footprint) = footprint_of(&settings);
    assert_eq!(footprint.rules[2].regions, ["eu-west-1"]);
    let (_, unguarded) = footprint_of(&self::settings("SpaDemo", PURGE));
    assert_eq!(unguarded.rules.len(), 2);
}
