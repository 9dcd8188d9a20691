//! The `spa` binary, run as an operator or CI would run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spa"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("spa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spa-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("settings.yaml");
    std::fs::write(&path, content).unwrap();
    path
}

/// `file:line:col: error: ...`
fn is_positioned_error(line: &str) -> bool {
    let mut parts = line.splitn(4, ':');
    let (_file, l, c, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
    l.is_some_and(|l| l.parse::<u32>().is_ok())
        && c.is_some_and(|c| c.parse::<u32>().is_ok())
        && rest.is_some_and(|r| r.starts_with(" error: "))
}

#[test]
fn shipped_settings_validate() {
    let out = spa(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("settings.yaml: valid; environment SpaDemo"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(
        text(&out.stderr),
        "",
        "the shipped settings have no warning"
    );
}

#[test]
fn guardrails_too_big_for_organizations_are_one_error_naming_the_setting() {
    let actions: Vec<String> = (0..400)
        .map(|n| format!("service{n}:DoSomething"))
        .collect();
    let path = scratch(
        "guardrails",
        &format!(
            "environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
  member_role_name: SpaMember
defaults:
  preparation:
    feature: disabled
  purge:
    feature: disabled
organizational_units:
  - identifier: ou-ab12-big
    guardrails:
      feature: enabled
      denied_actions: [{}]
",
            actions.join(", ")
        ),
    );
    let out = spa(&["validate", "--settings", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].ends_with("settings.yaml: error: the guardrails of `ou-ab12-big`: `guardrails.denied_actions` alone makes a statement of 10219 characters, and a service control policy holds at most 5120; list fewer entries, or cover several with a `*`"),
        "{stderr}"
    );
    assert_eq!(lines[1], "1 error(s), 0 warning(s)");
}

#[test]
fn three_mistakes_give_three_positioned_errors() {
    let path = scratch(
        "three",
        "environment_identifier: SpaTest\n\
         automation:\n  account_id: '1234'\n  region: eu-west-1\n  maintenance_window: cron(0 18 * * SAT *)\n  \
         management_role_arn: arn:aws:iam::222222222222:role/Spa\n\
         defaults:\n  budjet:\n    amount: 10\n",
    );
    let out = spa(&["validate", "--settings", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| is_positioned_error(l)).collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    assert!(
        errors[0]
            .contains(":3:15: error: automation.account_id: expected a 12-digit AWS account id"),
        "{stderr}"
    );
    assert!(
        errors[1].contains(":5:23: error: automation.maintenance_window:"),
        "{stderr}"
    );
    assert!(
        errors[2].contains(":8:3: error: defaults: unknown key `budjet`; did you mean `budget`?"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn schema_is_json_and_the_committed_copy_is_up_to_date() {
    let out = spa(&["settings", "schema"]);
    assert_eq!(out.status.code(), Some(0));
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the schema is JSON");
    assert_eq!(printed["title"], "spa settings");
    let committed = std::fs::read_to_string(repo().join("settings.schema.json"))
        .expect("settings.schema.json is committed");
    assert!(
        committed == text(&out.stdout),
        "settings.schema.json is out of date: run `cargo run -p spa -- settings schema > settings.schema.json`"
    );
}

#[test]
fn plan_json_resolves_units_and_accounts() {
    let out = spa(&["plan", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
    assert_eq!(plan["environment"], "SpaDemo");
    let accounts = plan["accounts"].as_array().unwrap();
    assert!(
        accounts.iter().any(|a| a["identifier"] == "444444444444"),
        "CSV rows are in the plan"
    );
    let alice = accounts
        .iter()
        .find(|a| a["identifier"] == "111111111111")
        .unwrap();
    assert_eq!(alice["holder"], "alice@example.com");
    assert_eq!(
        alice["chain"],
        serde_json::json!(["defaults", "111111111111"])
    );
    assert_eq!(alice["onboarding_deadline"], "2h");
    let text_plan = spa(&["plan"]);
    assert_eq!(text_plan.status.code(), Some(0));
    assert!(text(&text_plan.stdout).contains("account 111111111111"));
}

#[test]
fn missing_file_is_one_clear_error() {
    let out = spa(&["validate", "--settings", "no/such/settings.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("no/such/settings.yaml: error: cannot read the settings file:"),
        "{stderr}"
    );
}

#[test]
fn missing_buildspec_is_one_clear_error() {
    let path = scratch(
        "buildspec",
        "environment_identifier: Spa\nautomation:\n  account_id: '123456789012'\n  region: eu-west-1\n  maintenance_window: rate(7 days)\n  management_role_arn: arn:aws:iam::123456789012:role/Spa\ndefaults:\n  preparation:\n    feature: enabled\n    buildspec: specs/prepare.yaml\n  purge:\n    feature: enabled\n    buildspec: ../purge.yaml\n",
    );
    let out = spa(&["validate", "--settings", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let shown = path.display().to_string();
    assert!(
        stderr.contains(&format!("{shown}: error: buildspec `specs/prepare.yaml` named at defaults.preparation.buildspec: not found")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{shown}: error: buildspec `../purge.yaml` named at defaults.purge.buildspec: the path leaves the folder of the settings file")),
        "{stderr}"
    );
    assert!(stderr.ends_with("2 error(s), 0 warning(s)\n"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn legacy_spa_settings_validate_with_warnings() {
    let fixture = repo().join("engine/core/src/settings/fixtures/spa-settings.yaml");
    let out = spa(&["validate", "--settings", fixture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning: `worker.preparation_buildspec_template_file` is the SPA spelling; write `defaults.preparation.buildspec`"), "{stderr}");
    assert!(
        text(&out.stdout).contains("22 warning(s)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_arguments_are_clap_errors() {
    assert_eq!(spa(&["validate", "--nope"]).status.code(), Some(2));
    assert_eq!(spa(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(spa(&["--help"]).status.code(), Some(0));
}

#[test]
fn plan_with_a_tree_resolves_through_nested_units() {
    let out = spa(&["plan", "--json", "--tree", "examples/organization.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
    let accounts = plan["accounts"].as_array().unwrap();
    let carol = accounts
        .iter()
        .find(|a| a["identifier"] == "444444444444")
        .unwrap();
    assert_eq!(
        carol["chain"],
        serde_json::json!([
            "defaults",
            "ou-ab12-sandbox1",
            "ou-ab12-datateam",
            "444444444444"
        ])
    );
    // Tags merge key by key: the outer unit's, the nested unit's, the account's own.
    assert_eq!(carol["account_tags"]["environment"], "sandbox");
    assert_eq!(carol["account_tags"]["team"], "data");
    assert_eq!(carol["account_tags"]["owner"], "carol");
    let units = plan["organizational_units"].as_array().unwrap();
    let data = units
        .iter()
        .find(|u| u["identifier"] == "ou-ab12-datateam")
        .unwrap();
    assert_eq!(data["max_attempts"], 5);
    assert_eq!(data["lease"], "90d", "the nested unit inherits the lease");
}

#[test]
fn a_bad_tree_file_names_its_rows_and_fails() {
    let dir = scratch("tree", "");
    let tree = dir.with_file_name("tree.csv");
    std::fs::write(&tree, "child,parent\nou-a,r-1\nou-b,\n").unwrap();
    let out = spa(&["plan", "--tree", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("tree.csv:3: expected"), "{err}");
    let missing = spa(&["plan", "--tree", "nowhere.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("nowhere.csv: error: cannot read"));
}

#[test]
fn find_refuses_a_query_that_is_not_one_before_reading_anything() {
    let out = spa(&["find", "web-server", "--settings", "no-such-settings.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`web-server` is not a query") && stderr.contains("instance ARN"),
        "{stderr}"
    );
}

#[test]
fn status_without_credentials_says_how_to_give_some_in_one_line() {
    let home = std::env::temp_dir().join(format!("spa-cli-{}-no-home", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_spa"));
    command.arg("status").current_dir(repo());
    // nothing the SDK's credentials chain could find: no keys, no profile (an empty
    // home), no container or instance role
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(&name);
        }
    }
    let out = command
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("spa runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: no AWS credentials were found: choose a profile (`AWS_PROFILE=<name>`, \
after `aws sso login` for an SSO one), or pass `--endpoint-url http://127.0.0.1:<port>` \
to run against the local emulator"
    );
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
}

#[test]
fn a_freeze_needs_an_account_id_and_a_reason() {
    for (args, expected) in [
        (
            vec!["freeze", "1234", "--reason", "GPU instances"],
            "`1234` is not an account id",
        ),
        (
            vec!["freeze", "111111111111", "--reason", "   "],
            "--reason: expected why the account is frozen",
        ),
    ] {
        let out = spa(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear error: {stderr}");
    }
    let out = spa(&["freeze", "111111111111"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--reason"),
        "{}",
        text(&out.stderr)
    );
}
