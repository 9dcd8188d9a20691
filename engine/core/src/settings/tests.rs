#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

const MINIMAL: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
";

fn ok(text: &str) -> Loaded {
    match load("settings.yaml", text, &MemorySources::new()) {
        Ok(loaded) => loaded,
        Err(error) => panic!("expected the settings to load:\n{error}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    errors_with(text, &MemorySources::new())
}

fn errors_with(text: &str, sources: &MemorySources) -> Vec<String> {
    match load("settings.yaml", text, sources) {
        Ok(_) => panic!("expected errors"),
        Err(error) => error.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn minimal_settings_load_with_defaults() {
    let loaded = ok(MINIMAL);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].contains("defaults.preparation.feature: not set, so preparation is disabled"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("defaults.purge.feature: not set, so purge is disabled"),
        "{}",
        warnings[1]
    );
    let stated = format!(
        "{MINIMAL}defaults:\n  preparation:\n    feature: enabled\n  purge:\n    feature: disabled\n"
    );
    assert!(ok(&stated).warnings.is_empty());
    let s = loaded.settings;
    assert_eq!(s.environment_identifier, "SpaTest");
    assert_eq!(s.automation.tag_prefix, "account-");
    assert_eq!(s.automation.cost_center_tag, "cost-center");
    assert_eq!(
        s.automation.member_role_name.as_str(),
        "AWSControlTowerExecution"
    );
    assert_eq!(s.automation.log_level, LogLevel::Info);
    assert_eq!(s.metering.onboarding_deadline, Duration::from_secs(7200));
    assert_eq!(
        s.metering.maintenance_deadline,
        Duration::from_secs(4 * 3600)
    );
    assert!(s.accounts.is_empty());
}

#[test]
fn unquoted_account_id_keeps_its_digits() {
    let text = MINIMAL.replace("'123456789012'", "012345678901");
    assert_eq!(
        ok(&text).settings.automation.account_id.as_str(),
        "012345678901"
    );
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let text = format!("{MINIMAL}defaults:\n  budjet:\n    amount: 10\n");
    assert_eq!(
        errors(&text),
        vec!["settings.yaml:8:3: error: defaults: unknown key `budjet`; did you mean `budget`?"]
    );
    let text = format!("{MINIMAL}colour: blue\n");
    let shown = errors(&text);
    assert!(shown[0].starts_with("settings.yaml:7:1: error: unknown key `colour`; expected one of `environment_identifier`, `automation`"), "{shown:?}");
}

#[test]
fn wrong_type_says_what_was_expected() {
    let text = format!("{MINIMAL}defaults:\n  max_attempts: three\n  account_tags: [a, b]\n");
    assert_eq!(
        errors(&text),
        vec![
            "settings.yaml:8:17: error: defaults.max_attempts: expected a whole number from 1 to 100, found \"three\"",
            "settings.yaml:9:17: error: defaults.account_tags: expected a mapping (key: value), found a list",
        ]
    );
}

#[test]
fn three_errors_are_all_reported() {
    let text = "\
environment_identifier: SpaTest
automation:
  account_id: '12345'
  region: eu-west-1
  maintenance_window: cron(0 18 * * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
organizational_units:
  - identifier: ou-abcd-12345678
    budget:
      amount: -5
";
    let shown = errors(text);
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(
        shown[0].starts_with(
            "settings.yaml:3:15: error: automation.account_id: expected a 12-digit AWS account id"
        ),
        "{shown:#?}"
    );
    assert!(shown[1].starts_with("settings.yaml:5:23: error: automation.maintenance_window: expected a cron expression with `?`"), "{shown:#?}");
    assert_eq!(
        shown[2],
        "settings.yaml:10:15: error: organizational_units[0].budget.amount: expected a number greater than 0, found `-5`"
    );
}

#[test]
fn missing_required_keys() {
    let shown = errors("environment_identifier: SpaTest\nautomation:\n  region: eu-west-1\n");
    assert!(shown.iter().any(|e| e.contains("automation: missing key `account_id` in `automation`: expected a 12-digit AWS account id")), "{shown:#?}");
    assert_eq!(shown.len(), 3, "{shown:#?}");
    let shown = errors("# nothing\n");
    assert!(shown[0].contains("the file is empty"), "{shown:?}");
}

#[test]
fn bad_duration() {
    let text =
        format!("{MINIMAL}metering:\n  onboarding_deadline: 2 hours\ndefaults:\n  lease: 7days\n");
    let shown = errors(&text);
    assert_eq!(shown.len(), 2);
    assert_eq!(
        shown[0],
        "settings.yaml:8:24: error: metering.onboarding_deadline: expected a duration such as `30s`, `90m`, `2h`, `7d` or `2w`, found \"2 hours\""
    );
    assert!(
        shown[1].starts_with("settings.yaml:10:10: error: defaults.lease: expected a duration")
    );
}

#[test]
fn purge_notice_is_checked_with_positions_and_resolved_like_lease() {
    let text = format!(
        "{MINIMAL}defaults:\n  purge_notice: {{before: 0d, snooze: 30d}}\norganizational_units:\n  - identifier: ou-ab12-sandbox1\n    purge_notice: {{before: 1d, snooz: 3d}}\n"
    );
    let shown = errors(&text);
    assert_eq!(
        shown,
        [
            "settings.yaml:8:26: error: defaults.purge_notice.before: expected a duration above zero, e.g. `1d`, found \"0d\"",
            "settings.yaml:8:38: error: defaults.purge_notice.snooze: expected a snooze of at most 14d, e.g. `3d`, found \"30d\"",
            "settings.yaml:11:19: error: organizational_units[0].purge_notice: missing key `snooze` in `organizational_units[0].purge_notice`: expected a duration such as `30s`, `90m`, `2h`, `7d` or `2w`",
            "settings.yaml:11:32: error: organizational_units[0].purge_notice: unknown key `snooz`; did you mean `snooze`?",
        ]
    );
    let text = format!(
        "{MINIMAL}defaults:\n  purge_notice: {{before: 2d, snooze: 0d}}\norganizational_units:\n  - identifier: ou-ab12-sandbox1\n    purge_notice: {{before: 1d, snooze: 3d}}\n"
    );
    let settings = ok(&text).settings;
    let unit = settings
        .resolve_account("111111111111", &["ou-ab12-sandbox1".to_owned()])
        .unwrap();
    let policy = unit.policy();
    assert_eq!(
        policy.purge_notice,
        Some(crate::lifecycle::NoticePolicy {
            before: Duration::from_secs(86_400),
            snooze: Duration::from_secs(3 * 86_400),
        })
    );
    // the window, evaluated for the notice
    assert!(policy.maintenance_window.is_some());
    let other = settings.resolve_account("222222222222", &[]);
    assert!(other.is_none() || other.unwrap().purge_notice.is_none());
}

#[test]
fn durations_are_typed() {
    let text = format!(
        "{MINIMAL}metering:\n  onboarding_deadline: 90m\n  maintenance_deadline: 30s\ndefaults:\n  lease: 7d\n"
    );
    let s = ok(&text).settings;
    assert_eq!(s.metering.onboarding_deadline, Duration::from_secs(5400));
    assert_eq!(s.metering.maintenance_deadline, Duration::from_secs(30));
    assert_eq!(s.defaults.lease, Some(Duration::from_secs(7 * 86_400)));
}

#[test]
fn bad_cron() {
    let text = MINIMAL.replace("cron(0 18 ? * SAT *)", "cron(0 25 ? * SAT *)");
    assert_eq!(
        errors(&text),
        vec![
            "settings.yaml:5:23: error: automation.maintenance_window: expected a valid cron hours field: `25` is not 0-23, found \"cron(0 25 ? * SAT *)\""
        ]
    );
    let text = MINIMAL.replace("cron(0 18 ? * SAT *)", "0 18 * * 6");
    assert!(errors(&text)[0].contains(
        "expected an EventBridge schedule such as `cron(0 18 ? * SAT *)` or `rate(1 day)`"
    ));
}

#[test]
fn literal_secret_is_refused() {
    let text = format!(
        "{MINIMAL}notifications:\n  slack_webhook: https://hooks.slack.com/services/T000/B000/XXXX\ndefaults:\n  preparation:\n    variables:\n      TOKEN: xoxb-1234-5678\n"
    );
    let shown = errors(&text);
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(shown[0].starts_with("settings.yaml:8:18: error: notifications.slack_webhook: this looks like a Slack webhook URL: secrets never go in the settings file; store it in SSM Parameter Store"));
    assert!(shown[1].starts_with("settings.yaml:12:14: error: defaults.preparation.variables.TOKEN: this looks like a Slack token"));
    let text = format!("{MINIMAL}notifications:\n  slack_webhook: my-webhook\n");
    assert!(
        errors(&text)[0].contains(
            "expected a secret reference `ssm:/path/to/parameter` or `secretsmanager:name`"
        )
    );
    let text = format!(
        "{MINIMAL}notifications:\n  slack_webhook: ssm:/spa/slack\n  teams_webhook: secretsmanager:spa/teams\n"
    );
    assert_eq!(
        ok(&text)
            .settings
            .notifications
            .slack_webhook
            .unwrap()
            .as_str(),
        "ssm:/spa/slack"
    );
}

#[test]
fn bad_email() {
    let text = format!("{MINIMAL}accounts:\n  - identifier: '123456789012'\n    holder: bob\n");
    assert_eq!(
        errors(&text),
        vec![
            "settings.yaml:9:13: error: accounts[0].holder: expected an e-mail address, found \"bob\""
        ]
    );
}

#[test]
fn bad_account_and_ou_ids() {
    let text = format!(
        "{MINIMAL}accounts:\n  - identifier: 1234\norganizational_units:\n  - identifier: 'ou_1234'\n"
    );
    let shown = errors(&text);
    assert!(shown[0].starts_with("settings.yaml:8:17: error: accounts[0].identifier: expected a 12-digit AWS account id such as `123456789012`, found `1234`"), "{shown:#?}");
    assert!(shown[1].starts_with("settings.yaml:10:17: error: organizational_units[0].identifier: expected an organizational unit id"), "{shown:#?}");
}

#[test]
fn duplicate_identifiers() {
    let text = format!(
        "{MINIMAL}accounts:\n  - identifier: '123456789012'\n  - identifier: '123456789012'\norganizational_units:\n  - identifier: ou-ab12-11111111\n  - identifier: ou-ab12-11111111\n"
    );
    assert_eq!(
        errors(&text),
        vec![
            "settings.yaml:9:17: error: accounts[1].identifier: duplicate identifier `123456789012` (first listed on line 8); list each one once",
            "settings.yaml:12:17: error: organizational_units[1].identifier: duplicate identifier `ou-ab12-11111111` (first listed on line 11); list each one once",
        ]
    );
}

#[test]
fn bad_enum_values_and_thresholds() {
    let text = format!(
        "{MINIMAL}defaults:\n  purge:\n    feature: enable\n  budget:\n    amount: 100\n    thresholds: [50, 1200]\n"
    );
    assert_eq!(
        errors(&text),
        vec![
            "settings.yaml:9:14: error: defaults.purge.feature: expected one of `enabled`, `disabled`, found \"enable\"; did you mean `enabled`?",
            "settings.yaml:12:22: error: defaults.budget.thresholds[1]: expected a number from 0 to 1000, found `1200`",
        ]
    );
}

#[test]
fn channels_need_their_secrets() {
    let text = format!(
        "{MINIMAL}notifications:\n  routes:\n    default:\n      channels: [slack]\n    BudgetAlerts:\n      channels: [email]\n"
    );
    let shown = errors(&text);
    assert_eq!(
        shown,
        vec![
            "settings.yaml:10:18: error: notifications.routes.default.channels[0]: this channel needs `notifications.slack_webhook`, which is not set",
            "settings.yaml:11:5: error: notifications.routes: unknown key `BudgetAlerts`; did you mean `BudgetAlert`?",
            "settings.yaml:12:18: error: notifications.routes.BudgetAlerts.channels[0]: this channel needs `notifications.email_sender`, which is not set",
        ]
    );
}

#[test]
fn hostile_yaml_is_refused_with_a_clear_error() {
    let text = super::node::billion_laughs("environment_identifier");
    let shown = errors(&text);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].starts_with("settings.yaml:"), "{shown:?}");
    assert!(
        shown[0].contains("error: invalid YAML: alias replay limit exceeded"),
        "{shown:?}"
    );
    let deep = format!(
        "{MINIMAL}defaults:\n  note: {}{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(errors(&deep)[0].contains("limit"), "{:?}", errors(&deep));
}

#[test]
fn oversized_file_is_refused() {
    let text = format!("{MINIMAL}# {}\n", "x".repeat(MAX_FILE_BYTES));
    let shown = errors(&text);
    assert_eq!(
        shown,
        vec![format!(
            "settings.yaml:1:1: error: the file has {} bytes; the limit is 4194304 bytes (4 MiB)",
            text.len()
        )]
    );
}

#[test]
fn csv_overlays_apply_and_report_row_and_column() {
    let text = format!(
        "{MINIMAL}accounts_csv: [accounts.csv]\naccounts:\n  - identifier: '123456789012'\n    note: yaml\n"
    );
    let good = MemorySources::new().with("conf/accounts.csv", "Account,Holder,Tag: owner\n123456789012,alice@example.com,alice\n210987654321,bob@example.com,bob\n");
    let loaded = load("conf/settings.yaml", &text, &good).unwrap();
    assert_eq!(loaded.settings.accounts.len(), 2);
    assert_eq!(
        loaded.settings.accounts[0].item.note.as_deref(),
        Some("yaml")
    );
    assert_eq!(
        loaded.settings.accounts[0]
            .holder
            .as_ref()
            .unwrap()
            .as_str(),
        "alice@example.com"
    );

    let bad = MemorySources::new().with(
        "accounts.csv",
        "Account,Holder,Hodler\n123456789012,alice@example.com,x\n210987654321,bob,\n",
    );
    assert_eq!(
        errors_with(&text, &bad),
        vec![
            "accounts.csv:1:Hodler: error: unknown column `Hodler`; did you mean `Holder`?",
            "accounts.csv:3:Holder: error: expected an e-mail address, found \"bob\"",
        ]
    );
    assert_eq!(
        errors_with(&text, &MemorySources::new()),
        vec![
            "settings.yaml:7:16: error: accounts_csv[0]: cannot read the CSV overlay `accounts.csv`: no such file: accounts.csv"
        ]
    );
}

#[test]
fn legacy_spa_settings_load_with_one_warning_per_renamed_key() {
    let loaded = load(
        "settings.yaml",
        include_str!("fixtures/spa-settings.yaml"),
        &MemorySources::new(),
    )
    .unwrap();
    let shown: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    let expected = [
        "settings.yaml:17:3: warning: `automation.cockpit_markdown_text` is an SPA setting that spa ignores: spa has no CloudWatch cockpit; remove it",
        "settings.yaml:22:3: warning: `automation.maintenance_window_expression` is the SPA spelling; write `automation.maintenance_window`",
        "settings.yaml:25:3: warning: `automation.role_arn_to_manage_accounts` is the SPA spelling; write `automation.management_role_arn`",
        "settings.yaml:28:3: warning: `automation.role_name_to_manage_codebuild` is the SPA spelling; write `automation.member_role_name`",
        "settings.yaml:36:3: warning: `automation.verbosity` is the SPA spelling; write `automation.log_level`",
        "settings.yaml:40:3: warning: `metering.activities_datastore` is the SPA spelling; write `metering.activities_table`",
        "settings.yaml:41:3: warning: `metering.activities_ttl_in_seconds` is the SPA spelling; write `metering.activities_ttl`",
        "settings.yaml:42:3: warning: `metering.shadows_datastore` is an SPA setting that spa ignores: spa keeps no shadows: the state lives in account tags; remove it",
        "settings.yaml:43:3: warning: `metering.shadows_ttl_in_seconds` is an SPA setting that spa ignores: spa keeps no shadows: the state lives in account tags; remove it",
        "settings.yaml:44:3: warning: `metering.transactions_datastore` is the SPA spelling; write `metering.transactions_table`",
        "settings.yaml:45:3: warning: `metering.transactions_ttl_in_seconds` is the SPA spelling; write `metering.transactions_ttl`",
        "settings.yaml:49:3: warning: `worker.preparation_buildspec_template_file` is the SPA spelling; write `defaults.preparation.buildspec`",
        "settings.yaml:50:3: warning: `worker.purge_buildspec_template_file` is the SPA spelling; write `defaults.purge.buildspec`",
    ];
    assert_eq!(&shown[..expected.len()], &expected[..], "{shown:#?}");
    for needle in [
        "`features.with_arm_architecture` is the SPA spelling; write `features.arm_architecture`",
        "`features.with_cost_email_recipients` is the SPA spelling; write `reporting.recipients`",
        "`features.with_cost_management_tag` is the SPA spelling; write `automation.cost_center_tag`",
        "`features.with_csv_files` is the SPA spelling; write `accounts_csv` (empty here, so ignored)",
        "`features.with_email_subscriptions_on_alerts` is the SPA spelling; write `notifications.email_recipients`",
        "`features.with_microsoft_webhook_on_alerts` is the SPA spelling and holds a webhook URL",
        "`features.with_origin_email_recipient` is the SPA spelling; write `notifications.email_sender`",
        "`features.with_tag_prefix` is the SPA spelling; write `automation.tag_prefix`",
        "`reporting.costs_markdown_template` is the SPA spelling; write `reporting.email_template`",
    ] {
        assert!(
            shown.iter().any(|w| w.contains(needle)),
            "missing {needle}: {shown:#?}"
        );
    }
    assert_eq!(shown.len(), expected.len() + 9, "{shown:#?}");

    let s = loaded.settings;
    assert_eq!(
        s.automation.maintenance_window.as_str(),
        "cron(0 18 ? * SAT *)"
    );
    assert_eq!(s.automation.log_level, LogLevel::Error);
    assert_eq!(s.metering.activities_ttl, Duration::from_secs(31_622_400));
    assert_eq!(s.metering.transactions_ttl, Duration::from_secs(900));
    assert_eq!(
        s.defaults
            .preparation
            .as_ref()
            .unwrap()
            .buildspec
            .as_deref(),
        Some("fixtures/buildspec/preparation_account_template.yaml")
    );
    assert_eq!(
        s.defaults.preparation.as_ref().unwrap().variables["BUDGET_AMOUNT"],
        "500.0"
    );
    assert_eq!(s.reporting.recipients.len(), 2);
    assert_eq!(
        s.notifications.teams_webhook, None,
        "the literal URL is never carried over"
    );
    let alice = s
        .resolve_account("123456789012", &["ou-1234".to_owned()])
        .unwrap();
    assert!(alice.preparation.enabled);
    assert!(
        !alice.purge.enabled,
        "the account says disabled, over its OU"
    );
    assert_eq!(alice.account_tags["cost-center"], "Alice");
    assert_eq!(alice.account_tags["managed-by"], "SPA");
}

#[test]
fn legacy_and_new_spelling_together_is_an_error() {
    let text = format!("{MINIMAL}features:\n  with_tag_prefix: spa-\n")
        .replace("automation:\n", "automation:\n  tag_prefix: acct-\n");
    let shown = errors(&text);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].contains("`features.with_tag_prefix` is the SPA spelling of `automation.tag_prefix`, which is also set (line 3)"), "{shown:?}");
}

#[test]
fn the_committed_schema_is_what_the_types_generate() {
    let generated = Settings::json_schema_text().unwrap();
    assert!(
        SCHEMA_FILE == generated,
        "settings.schema.json is out of date: run `cargo run -p spa -- settings schema > settings.schema.json`"
    );
}

#[test]
fn json_schema_names_every_section_and_closes_objects() {
    let schema = Settings::json_schema();
    for key in [
        "environment_identifier",
        "automation",
        "metering",
        "reporting",
        "notifications",
        "features",
        "defaults",
        "organizational_units",
        "accounts",
        "accounts_csv",
    ] {
        assert!(schema["properties"].get(key).is_some(), "{key}");
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
    assert_eq!(
        schema["$defs"]["Account"]["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

mod resolution {
    use super::*;

    fn settings() -> Settings {
        let text = format!(
            "{MINIMAL}\
defaults:
  account_tags: {{managed-by: spa, team: none}}
  unset_tags: [old]
  preparation: {{feature: enabled, variables: {{A: defaults, B: defaults}}}}
  purge: {{feature: enabled}}
  budget: {{amount: 100, thresholds: [50]}}
organizational_units:
  - identifier: r-root
    account_tags: {{level: root}}
  - identifier: ou-ab12-parent000
    account_tags: {{team: parent, level: parent}}
    preparation: {{variables: {{B: parent}}}}
    max_attempts: 5
    cooldown: 72h
  - identifier: ou-ab12-child0000
    account_tags: {{level: child}}
    unset_tags: []
    purge: {{feature: disabled}}
    lease: 30d
accounts:
  - identifier: '111111111111'
    holder: alice@example.com
    account_tags: {{owner: alice}}
    budget: {{amount: 250}}
    cost_center: FIN-7
  - identifier: '222222222222'
    note: listed alone
"
        );
        ok(&text).settings
    }

    fn path(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_only() {
        let r = settings().resolve_account("222222222222", &[]).unwrap();
        assert_eq!(r.chain, vec!["defaults", "222222222222"]);
        assert_eq!(r.note.as_deref(), Some("listed alone"));
        assert_eq!(r.unset_tags, vec!["old"]);
        assert_eq!(r.max_attempts, 3);
        let p = r.policy();
        assert!(p.preparation && p.purge && p.budget);
        assert_eq!(p.max_attempts, 3);
        assert_eq!(p.onboarding_deadline, Duration::from_secs(7200));
        assert_eq!(p.maintenance_deadline, Duration::from_secs(4 * 3600));
        assert_eq!(p.lease, None);
        assert_eq!(p.cooldown, None);
    }

    #[test]
    fn organizational_unit() {
        let r = settings()
            .resolve_account("999999999999", &path(&["ou-ab12-parent000", "r-root"]))
            .unwrap();
        assert_eq!(r.chain, vec!["defaults", "r-root", "ou-ab12-parent000"]);
        assert_eq!(r.account_tags["team"], "parent");
        assert_eq!(r.max_attempts, 5);
        assert_eq!(r.policy().cooldown, Some(Duration::from_secs(72 * 3600)));
        assert_eq!(r.preparation.variables["A"], "defaults");
        assert_eq!(r.preparation.variables["B"], "parent");
    }

    #[test]
    fn nested_units_nearest_wins() {
        let r = settings()
            .resolve_account(
                "999999999999",
                &path(&[
                    "ou-ab12-child0000",
                    "ou-zzzz-unlisted",
                    "ou-ab12-parent000",
                    "r-root",
                ]),
            )
            .unwrap();
        assert_eq!(
            r.chain,
            vec![
                "defaults",
                "r-root",
                "ou-ab12-parent000",
                "ou-ab12-child0000"
            ]
        );
        assert_eq!(r.account_tags["level"], "child");
        assert_eq!(r.account_tags["team"], "parent");
        assert_eq!(r.account_tags["managed-by"], "spa");
        assert!(
            r.unset_tags.is_empty(),
            "lists are replaced, even by an empty one"
        );
        assert!(!r.purge.enabled);
        assert!(r.preparation.enabled);
        assert_eq!(r.lease, Some(Duration::from_secs(30 * 86_400)));
        // inherited from the parent unit
        assert_eq!(r.cooldown, Some(Duration::from_secs(72 * 3600)));
        let unit = settings()
            .resolve_ou("ou-ab12-child0000", &path(&["ou-ab12-parent000", "r-root"]))
            .unwrap();
        assert_eq!(unit.chain, r.chain);
        assert_eq!(unit.kind, Kind::OrganizationalUnit);
    }

    #[test]
    fn account_over_unit_and_maps_merge_key_by_key() {
        let r = settings()
            .resolve_account("111111111111", &path(&["ou-ab12-parent000", "r-root"]))
            .unwrap();
        assert_eq!(
            r.chain,
            vec!["defaults", "r-root", "ou-ab12-parent000", "111111111111"]
        );
        assert_eq!(r.holder.as_ref().unwrap().as_str(), "alice@example.com");
        assert_eq!(
            r.account_tags.get("owner").map(String::as_str),
            Some("alice")
        );
        assert_eq!(r.account_tags["team"], "parent");
        assert_eq!(r.account_tags["level"], "parent");
        let budget = r.budget.clone().unwrap();
        assert_eq!(budget.amount, 250.0);
        assert_eq!(
            budget.thresholds,
            vec![50.0],
            "budget merges key by key: thresholds from defaults"
        );
        assert_eq!(budget.currency.as_str(), "USD");
        let p = r.policy();
        assert_eq!(p.account_tags["cost-center"], "FIN-7");
    }

    #[test]
    fn unmanaged_is_none() {
        let s = settings();
        assert_eq!(s.resolve_account("999999999999", &[]), None);
        assert_eq!(
            s.resolve_account("999999999999", &path(&["ou-zzzz-unlisted"])),
            None
        );
        assert_eq!(s.resolve_ou("ou-zzzz-unlisted", &[]), None);
        assert!(!s.is_managed("999999999999", &path(&["ou-zzzz-unlisted"])));
        assert!(s.is_managed("111111111111", &[]));
    }
}

#[test]
fn routes_fall_back_on_default() {
    let text = format!(
        "{MINIMAL}notifications:\n  slack_webhook: ssm:/spa/slack\n  routes:\n    default: {{channels: [slack]}}\n    BudgetAlert: {{channels: [slack], notify_holder: true}}\n"
    );
    let routes = ok(&text).settings.notifications.routes;
    assert!(routes.route("BudgetAlert").unwrap().notify_holder);
    assert!(!routes.route("Drift").unwrap().notify_holder);
    assert_eq!(
        routes.route("Drift").unwrap().channels,
        vec![Channel::Slack]
    );
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn on_any_text(text in "\\PC{0,300}") {
            crate::fuzz::settings(text.as_bytes());
        }

        #[test]
        fn on_yaml_like_text(text in "[a-z_:\\- \\n\\[\\]{}&*!|>'\"#,0-9]{0,300}") {
            crate::fuzz::settings(text.as_bytes());
        }

        #[test]
        fn on_any_value_of_any_key(key in "[a-z_]{1,12}", value in "[ -~]{0,40}") {
            let text = format!("{MINIMAL}defaults:\n  {key}: {value}\naccounts:\n  - identifier: {value}\n    {key}: [{value}]\n");
            crate::fuzz::settings(text.as_bytes());
        }

        #[test]
        fn on_any_csv(csv in "[A-Za-z0-9:, \\n\"@.-]{0,300}") {
            crate::fuzz::csv_overlay(csv.as_bytes());
        }
    }
}

#[test]
fn lifecycle_tags_cannot_be_set_or_removed_by_items() {
    let text = format!(
        "{MINIMAL}defaults:\n  account_tags:\n    account-state: prepared\n    team: sandbox\norganizational_units:\n  - identifier: ou-ab12-cd34ef56\n    unset_tags: [legacy, account-holder]\n"
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("settings.yaml:9:5: error: defaults.account_tags.account-state:"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("lifecycle tag"), "{}", errors[0]);
    assert!(
        errors[1].contains("organizational_units[0].unset_tags[1]"),
        "{}",
        errors[1]
    );
}

#[test]
fn lifecycle_tags_follow_the_configured_prefix() {
    let with_prefix = MINIMAL.replace(
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  tag_prefix: spa-\n",
    );
    let free = format!("{with_prefix}defaults:\n  account_tags:\n    account-state: kept\n");
    ok(&free);
    let taken = format!("{with_prefix}defaults:\n  account_tags:\n    spa-build: x\n");
    let errors = errors(&taken);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("`spa-build` is a lifecycle tag"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_tag_prefix_that_cannot_name_tags_is_refused_where_it_is_written() {
    let text = MINIMAL.replace(
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  tag_prefix: 'aws:'\n",
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("settings.yaml:5:15: error: automation.tag_prefix:"),
        "{}",
        errors[0]
    );
}

#[test]
fn cost_source_is_cost_explorer_unless_athena_is_configured() {
    let s = ok(MINIMAL).settings;
    assert_eq!(s.reporting.cost_source, CostSourceSettings::CostExplorer);
    assert_eq!(s.features.residual_cost.threshold, 1.0);
    assert_eq!(s.features.residual_cost.days, 3);
    let text = format!(
        "{MINIMAL}reporting:\n  cost_source:\n    athena:\n      database: cur_db\n      table: cur-2\n      data_location: s3://cur-exports/cur2/\n      output_location: s3://athena-results/spa/\nfeatures:\n  residual_cost:\n    threshold: 2.5\n    days: 5\n"
    );
    let s = ok(&text).settings;
    let CostSourceSettings::Athena(athena) = s.reporting.cost_source else {
        panic!("athena expected");
    };
    assert_eq!(athena.workgroup.as_str(), "primary");
    assert_eq!(athena.region, None);
    assert_eq!(athena.database.as_str(), "cur_db");
    assert_eq!(athena.table.as_str(), "cur-2");
    assert_eq!(athena.data_location.as_str(), "s3://cur-exports/cur2/");
    assert_eq!(athena.output_location.as_str(), "s3://athena-results/spa/");
    assert_eq!(athena.query_timeout, Duration::from_secs(300));
    assert_eq!(s.features.residual_cost.threshold, 2.5);
    assert_eq!(s.features.residual_cost.days, 5);
    let explicit = format!("{MINIMAL}reporting:\n  cost_source: cost_explorer\n");
    assert_eq!(
        ok(&explicit).settings.reporting.cost_source,
        CostSourceSettings::CostExplorer
    );
}

#[test]
fn a_bad_cost_source_says_where_and_what_was_expected() {
    let text = format!(
        "{MINIMAL}reporting:\n  cost_source:\n    athena:\n      workgroup: primary\n      database: cur db\n      table: \"cur; DROP TABLE x\"\n      data_location: s3://cur-exports/\n      output_location: athena-results/spa\n      query_timeout: 5 minutes\n"
    );
    let shown = errors(&text);
    assert_eq!(
        shown,
        [
            "settings.yaml:11:17: error: reporting.cost_source.athena.database: expected an Athena name (1 to 128 of `A-Za-z0-9_-`), found \"cur db\"",
            "settings.yaml:12:14: error: reporting.cost_source.athena.table: expected an Athena name (1 to 128 of `A-Za-z0-9_-`), found \"cur; DROP TABLE x\"",
            "settings.yaml:14:24: error: reporting.cost_source.athena.output_location: expected an S3 location `s3://bucket/prefix/`, found \"athena-results/spa\"",
            "settings.yaml:15:22: error: reporting.cost_source.athena.query_timeout: expected a duration such as `30s`, `90m`, `2h`, `7d` or `2w`, found \"5 minutes\"",
        ],
        "{shown:#?}"
    );
    let missing =
        format!("{MINIMAL}reporting:\n  cost_source:\n    athena:\n      database: cur\n");
    let shown = errors(&missing);
    assert!(
        shown
            .iter()
            .any(|e| e.contains("reporting.cost_source.athena: missing key `table`")),
        "{shown:#?}"
    );
    let word = format!("{MINIMAL}reporting:\n  cost_source: athena\n");
    let shown = errors(&word);
    assert!(
        shown[0].starts_with(
            "settings.yaml:8:16: error: reporting.cost_source: expected one of `cost_explorer`"
        ),
        "{shown:#?}"
    );
    let residual =
        format!("{MINIMAL}features:\n  residual_cost:\n    threshold: -1\n    days: 0\n");
    let shown = errors(&residual);
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(
        shown[0].contains("features.residual_cost.threshold: expected a number"),
        "{shown:#?}"
    );
    assert!(
        shown[1].contains("features.residual_cost.days: expected a whole number from 1 to 31"),
        "{shown:#?}"
    );
}

#[test]
fn athena_names_and_s3_locations_are_checked() {
    for good in ["primary", "cur_db", "CUR-2", "a"] {
        assert!(values::check_athena_name(good).is_ok(), "{good}");
    }
    for bad in ["", "a.b", "a b", "x\"y", "t;--", &"a".repeat(129)] {
        assert!(values::check_athena_name(bad).is_err(), "{bad}");
    }
    for good in [
        "s3://results",
        "s3://results/",
        "s3://my.results/spa/athena/",
    ] {
        assert!(values::check_s3_url(good).is_ok(), "{good}");
    }
    for bad in [
        "results/spa",
        "s3://",
        "s3://UPPER/",
        "https://b/x",
        "s3://b/a b",
        "s3://bucket//x",
    ] {
        assert!(values::check_s3_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_slash_command_needs_its_workspace_and_names_admins_by_id() {
    let text = format!(
        "{MINIMAL}notifications:\n  slack_signing_secret: ssm:/spa/signing\nfeatures:\n  slack_commands: true\n  slack_admins: [U0123ADMIN, boss@example.com]\n"
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.starts_with("settings.yaml:10:")
            && e.contains(
                "features.slack_commands: the Slack slash command needs `features.slack_team_id`"
            )),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(
            |e| e.contains("features.slack_admins[1]") && e.contains("never an e-mail address")
        ),
        "{errors:#?}"
    );
    let fixed = text
        .replace(
            "slack_commands: true",
            "slack_commands: true\n  slack_team_id: T0123ABCD",
        )
        .replace(", boss@example.com", "");
    ok(&fixed);
}

#[test]
fn a_spend_guard_without_a_region_allow_list_warns_where_it_is_turned_on() {
    let loaded = ok(&format!(
        "{MINIMAL}organizational_units:
  - identifier: ou-ab12-watched
    spend_guard:
      feature: enabled
      thresholds: [{{when: hourly_burn, over: 100, actions: [freeze]}}]
    guardrails: {{allowed_regions: [eu-west-1]}}
  - identifier: ou-ab12-blind1
    spend_guard:
      feature: enabled
      thresholds: [{{when: projected_month, over: 3000, actions: [raise, tell_holder]}}]
"
    ));
    let shown: Vec<String> = loaded
        .warnings
        .iter()
        .map(ToString::to_string)
        .filter(|w| w.contains("spend guard"))
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("settings.yaml:")
            && shown[0].contains("organizational_units[1].spend_guard.feature")
            && shown[0].contains("watches the calls of the automation region only"),
        "{}",
        shown[0]
    );
    let unit = &loaded.settings.organizational_units[1].item;
    let guard = unit.spend_guard.as_ref().expect("the guard");
    assert_eq!(guard.thresholds.as_ref().map(Vec::len), Some(1));

    // a line that says neither what nor how much is one clear error
    let error = load(
        "settings.yaml",
        &format!(
            "{MINIMAL}defaults:\n  spend_guard:\n    feature: enabled\n    thresholds: [{{when: hourly, over: 0, actions: [freeze]}}]\n"
        ),
        &MemorySources::new(),
    )
    .expect_err("refused")
    .to_string();
    assert!(
        error.contains("defaults.spend_guard.thresholds[0].when"),
        "{error}"
    );
    assert!(error.contains("hourly_burn"), "{error}");
    assert!(
        error.contains("defaults.spend_guard.thresholds[0].over"),
        "{error}"
    );
}

#[test]
fn a_spend_line_may_stop_what_runs_and_a_misspelt_action_is_placed() {
    let loaded = ok(&format!(
        "{MINIMAL}organizational_units:
  - identifier: ou-ab12-watched
    guardrails: {{allowed_regions: [eu-west-1]}}
    spend_guard:
      feature: enabled
      thresholds: [{{when: hourly_burn, over: 100, actions: [stop, freeze]}}]
"
    ));
    let guard = loaded.settings.organizational_units[0]
        .item
        .spend_guard
        .as_ref()
        .and_then(|g| g.thresholds.clone())
        .expect("the lines");
    assert_eq!(guard[0].actions, [SpendAction::Stop, SpendAction::Freeze]);

    // one word everywhere: `stop`, not `stop_resources` or `stopp`
    let errors = errors(&format!(
        "{MINIMAL}defaults:\n  spend_guard:\n    feature: enabled\n    thresholds:\n      - {{when: hourly_burn, over: 100, actions: [raise, stopp]}}\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("settings.yaml:")
            && errors[0].contains("defaults.spend_guard.thresholds[0].actions[1]")
            && errors[0].contains("stop"),
        "{errors:#?}"
    );
}

#[test]
fn requests_name_their_approvers_by_slack_id_and_need_the_slash_command() {
    let text = format!(
        "{MINIMAL}organizational_units:\n  - identifier: ou-ab12-sandbox1\n    lease_extension: 14d\n    requests:\n      feature: enabled\n      approvers: [U0123LEAD, lead@example.com]\n"
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("settings.yaml:")
            && errors[0].contains("organizational_units[0].requests.approvers[1]")
            && errors[0].contains("never an e-mail address"),
        "{errors:#?}"
    );
    // by id: it loads, resolves, and warns that nobody can ask without the command
    let loaded = ok(&text.replace(", lead@example.com", ""));
    assert!(
        loaded.warnings.iter().any(|w| {
            let w = w.to_string();
            w.contains("organizational_units[0].requests.feature")
                && w.contains("`features.slack_commands` is not true")
        }),
        "{:#?}",
        loaded.warnings
    );
    let unit = loaded
        .settings
        .resolve_ou("ou-ab12-sandbox1", &[])
        .expect("listed");
    assert!(unit.requests.enabled);
    assert_eq!(unit.requests.approvers, ["U0123LEAD"]);
    assert_eq!(unit.requests.expiry, std::time::Duration::from_secs(86_400));
    assert_eq!(unit.requests.per_holder, 1);
    assert_eq!(
        unit.lease_extension,
        Some(std::time::Duration::from_secs(14 * 86_400))
    );
}
