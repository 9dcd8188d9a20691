//! The live commands of `spa`, against the emulator, as an operator runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spa(args: &[&str], endpoint: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spa"));
    command
        .args(args)
        .current_dir(repo())
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null());
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    command.output().expect("spa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str, file: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spa-live-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn the_demo_runs_the_lifecycle_end_to_end() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    let out = spa(&["demo", "--json", "--accounts", "4"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    // the shipped settings list 4 accounts (2 with a holder, 1 in the pool, 1 in the
    // nested data unit with a holder) and 4 are generated, every other one with a holder
    assert_eq!(summary["accounts"], 8, "{summary}");
    // one assigned account of the sandbox unit (its spend guard on) is frozen by the
    // four p4d.24xlarge its holder starts; one pool account of the sandbox unit is
    // given to the engineer who asked for it in Slack, once its approver approved
    assert_eq!(summary["accounts_per_state"]["assigned"], 5, "{summary}");
    assert_eq!(summary["accounts_per_state"]["frozen"], 1, "{summary}");
    assert!(summary["frozen"].is_string(), "{summary}");
    assert!(summary["requested"].is_string(), "{summary}");
    assert_eq!(summary["accounts_per_state"]["prepared"], 2, "{summary}");
    assert_eq!(summary["events_failed"], 0, "{summary}");
    // 8 preparations, then 5 assigned accounts maintained; the data unit skips its
    // purge; then the dry run of one purge for its holder's notice
    assert_eq!(summary["builds_started"], 8 + 4 * 2 + 1 + 1, "{summary}");
    // one holder told of their next purge, who snoozed it by the 3 days the sandbox
    // unit allows
    let notice = &summary["notice"];
    let purge = notice["purge"].as_str().expect("a purge announced");
    let until = notice["snoozed_until"].as_str().expect("snoozed");
    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap();
    assert_eq!(
        at(until) - at(purge),
        chrono::TimeDelta::days(3),
        "{summary}"
    );
    // a root sign-in (routed to slack, teams), a budget alert (slack) and the freeze's
    // SpendProjected (slack, teams) reached the demo's local webhook server
    assert_eq!(summary["chat"]["slack"], 3, "{summary}");
    assert_eq!(summary["chat"]["teams"], 2, "{summary}");
    // last month's cost reports (the summary and each cost center, XLSX and CSV) and
    // this week's inventory are in the bucket; the summary went to FinOps
    // (cost centers IT-001, FIN-042, DATA-007 and NoCostCenter for the generated accounts)
    assert_eq!(summary["reports"]["files"], 2 + 4 * 2 + 1, "{summary}");
    assert_eq!(summary["reports"]["mailed"], 1, "{summary}");

    // what the demo did is in the activity log, newest first
    let out = spa(
        &["events", "list", "--json", "--limit", "5"],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let activities: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(activities.as_array().map(Vec::len), Some(5), "{activities}");
    assert!(
        !text(&out.stdout).contains("@example.com\""),
        "no address in clear"
    );
    // the exceptions stage is recorded (its sign-in carries a time to the second, so
    // it may tie with the maintenance's last activities: no order is asserted)
    let out = spa(
        &["events", "list", "--json", "--limit", "60"],
        Some(&endpoint),
    );
    let recent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<&str> = recent
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["label"].as_str())
        .collect();
    for label in [
        "BudgetAlert",
        "ConsoleLoginWithRoot",
        "AccountFrozen",
        "SpendProjected",
        "PurgeNotice",
        "PurgeSnoozed",
    ] {
        assert!(labels.contains(&label), "{label} not recorded: {recent}");
    }
    // bad input: exit 2, before anything is connected
    let noticed = notice["account"].as_str().unwrap();
    let out = spa(&["snooze", noticed, "--by", "soon"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--by"), "{}", text(&out.stderr));
    let out = spa(&["snooze", "12345", "--by", "1d"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // the frozen account's own history says why
    let frozen = summary["frozen"].as_str().expect("a frozen account");
    let out = spa(
        &[
            "events",
            "list",
            "--account",
            frozen,
            "--json",
            "--limit",
            "20",
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let history = text(&out.stdout);
    for label in ["AccountFrozen", "SpendProjected"] {
        assert!(history.contains(label), "{label}: {history}");
    }
    assert!(
        history.contains("p4d.24xlarge"),
        "the burn report: {history}"
    );
    // the request stage: the account given is the engineer's, through `decide`
    let requested = summary["requested"].as_str().expect("an account requested");
    assert_ne!(requested, frozen);
    let out = spa(
        &[
            "events",
            "list",
            "--account",
            requested,
            "--json",
            "--limit",
            "20",
        ],
        Some(&endpoint),
    );
    let history = text(&out.stdout);
    assert!(history.contains("AccountAssigned"), "{history}");
    assert!(
        history.contains("request/r-"),
        "assigned for the request: {history}"
    );
}

#[test]
fn local_init_is_idempotent() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    for _ in 0..2 {
        let out = spa(&["local", "init"], Some(&endpoint));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("SpaDemo-Activities"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn handle_says_what_it_did_with_an_event_for_an_unmanaged_account() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    assert_eq!(
        spa(&["local", "init"], Some(&endpoint)).status.code(),
        Some(0)
    );
    let fixture = std::fs::read_to_string(
        repo().join("fixtures/events/organizations-create-account-result.json"),
    )
    .unwrap();
    // sent by the management account of the shipped settings, as Organizations does
    let mut event: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    event["account"] = "222222222222".into();
    let path = scratch("unmanaged", "event.json", &event.to_string());
    let out = spa(
        &["handle", path.to_str().unwrap(), "--json"],
        Some(&endpoint),
    );
    // the fixture's account is not in the emulator's organization
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.code() == Some(1) && stderr.contains("222222222222"),
        "one clear error naming the account: {stdout} {stderr}"
    );
}

#[test]
fn the_demo_says_what_the_emulator_lacks_and_how_to_start_spa_s() {
    // moto as installed, without spa's additions (scripts/moto_server.py)
    let plain = spa_testkit::Emulator::start_with_env(
        &spa_testkit::venv_python(),
        &[("SPA_MOTO_PLAIN", "1")],
    )
    .expect("moto as installed");
    let out = spa(&["demo", "--accounts", "1"], Some(&plain.endpoint()));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: the emulator at {} lacks what spa needs: ",
            plain.endpoint()
        )),
        "{stderr}"
    );
    for words in [
        "AdministratorAccess",
        "AWS Budgets",
        "scripts/moto_server.py",
        "--endpoint-url",
    ] {
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !text(&out.stdout).contains("Seeding"),
        "nothing is seeded in an emulator that cannot run the demo"
    );

    // nothing listening
    let out = spa(&["demo"], Some("http://127.0.0.1:9"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: nothing answers at http://127.0.0.1:9: start spa's emulator with `.venv/bin/python scripts/moto_server.py`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bad_input_gets_one_clear_error() {
    let bad = scratch("bad-json", "event.json", "{\n  \"source\": ");
    let out = spa(
        &[
            "handle",
            bad.to_str().unwrap(),
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("event.json:2:") && stderr.contains("expected one event as JSON"),
        "{stderr}"
    );

    // JSON, but not an event spa takes: said before anything is connected (the
    // endpoint is a closed port, and no credentials are needed)
    let foreign = scratch(
        "foreign-event",
        "event.json",
        r#"{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}"#,
    );
    for follow in [false, true] {
        let mut args = vec![
            "handle",
            foreign.to_str().unwrap(),
            "--endpoint-url",
            "http://127.0.0.1:9",
        ];
        if follow {
            args.push("--follow");
        }
        let out = spa(&args, None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("the event does not decode"), "{stderr}");
        assert!(
            !stderr.contains("127.0.0.1")
                && !stderr.to_lowercase().contains("connect")
                && stderr.lines().count() <= 2,
            "nothing but the event's problem: {stderr}"
        );
    }
    let command = scratch(
        "command-for-signins",
        "event.json",
        &std::fs::read_to_string(repo().join("fixtures/events/codebuild-build-state-change.json"))
            .unwrap(),
    );
    let out = spa(
        &[
            "handle",
            command.to_str().unwrap(),
            "--function",
            "sign-ins",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        None,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`sign-ins` function does not take a CodeBuild event"),
        "{stderr}"
    );

    let out = spa(
        &["handle", bad.to_str().unwrap(), "--function", "reports"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("account-events, build-events"),
        "{}",
        text(&out.stderr)
    );

    let out = spa(&["assign", "12345", "--holder", "jane@example.com"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("12-digit"),
        "{}",
        text(&out.stderr)
    );

    let out = spa(&["assign", "123456789012", "--holder", "jane"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--holder"),
        "{}",
        text(&out.stderr)
    );

    let out = spa(&["demo"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--endpoint-url or AWS_ENDPOINT_URL"),
        "{}",
        text(&out.stderr)
    );

    let out = spa(&["expire"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bulk action names its accounts"
    );
}

#[test]
fn bulk_actions_ask_before_changing_many_accounts() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    assert_eq!(
        spa(&["demo", "--json", "--accounts", "0"], Some(&endpoint))
            .status
            .code(),
        Some(0)
    );
    let out = spa(&["expire", "--all"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("confirm with --yes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn spa_report_writes_the_inventory_to_a_folder_or_the_bucket_and_refuses_a_bad_period() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    assert_eq!(
        spa(&["local", "init"], Some(&endpoint)).status.code(),
        Some(0)
    );
    let dir = std::env::temp_dir().join(format!("spa-live-{}-report", std::process::id()));
    let out = spa(
        &[
            "report",
            "inventory",
            "--week",
            "2026-W47",
            "--out",
            dir.to_str().unwrap(),
            "--json",
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key = "reports/inventories/organization/2026/2026-W47-organization-inventory.csv";
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["files"][0]["key"], key, "{summary}");
    let csv = std::fs::read_to_string(dir.join(key)).expect("the file under --out");
    assert!(
        csv.starts_with("cost center,cost owner,OU path,account,"),
        "{csv}"
    );
    std::fs::remove_dir_all(&dir).ok();

    // without --out: the reports bucket, at the same key
    let out = spa(
        &["report", "inventory", "--week", "2026-W47"],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(key), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("to the reports bucket"),
        "{}",
        text(&out.stdout)
    );

    // a period that does not fit the report, or is not one: one clear error, exit 2
    let out = spa(
        &["report", "inventory", "--month", "2026-10"],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--week"),
        "{}",
        text(&out.stderr)
    );
    let out = spa(&["report", "costs", "--month", "2026-13"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("expected YYYY-MM"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn costs_show_the_digest_of_an_account_from_cost_explorer() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    // moto answers Cost Explorer's requests in order: yesterday by service, by account
    let answer = |key: &str| {
        serde_json::json!({
            "ResultsByTime": [{
                "TimePeriod": { "Start": "2026-11-20", "End": "2026-11-21" },
                "Total": {},
                "Groups": [{ "Keys": [key], "Metrics": { "UnblendedCost": { "Amount": "12.5", "Unit": "USD" } } }],
                "Estimated": false
            }],
            "DimensionValueAttributes": []
        })
    };
    let body = serde_json::json!({
        "account_id": "123456789012",
        "results": [answer("Amazon EC2"), answer("111111111111")],
    });
    let status = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(body.to_string())
        .arg(format!(
            "{endpoint}/moto-api/static/ce/cost-and-usage-results"
        ))
        .status()
        .expect("curl runs");
    assert!(status.success(), "the costs could not be registered");
    let out = spa(&["costs", "--account", "111111111111"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.starts_with("Cloud costs of 111111111111 on "),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Yesterday") && l.contains("12.50 USD") && l.ends_with("new")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Last 7 days") && l.contains("0.00 USD")),
        "a request without a registered answer costs nothing: {table}"
    );

    let out = spa(&["costs", "--account", "12"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2));
    let error = text(&out.stderr);
    assert!(
        error.contains("invalid value '12' for '--account <ACCOUNT>'")
            && error.contains("expected a 12-digit AWS account id"),
        "{error}"
    );
}

#[test]
fn handle_replays_an_archived_dead_letter_as_is() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    assert_eq!(
        spa(&["local", "init"], Some(&endpoint)).status.code(),
        Some(0)
    );
    // the body of a command-queue message, as the dead-letters function archives it
    let command = r#"{"id":"operator-1/222222222222","environment":"SpaDemo","account":"222222222222","action":"expire","at":"2026-11-21T10:00:00Z","origin":"operator"}"#;
    let path = scratch("dead-letter", "m-1.json", command);
    let out = spa(
        &["handle", path.to_str().unwrap(), "--json"],
        Some(&endpoint),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("does not decode"), "{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON answer ({e}): {stdout} {stderr}"));
    assert_eq!(answer["function"], "commands", "{answer}");
    // the account is not in the emulator's organization: the command fails for good,
    // and is handed back as its queue would (it rests in the dead-letter queue again)
    assert_eq!(
        answer["response"]["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "replay"}]),
        "{answer}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");

    // and through the local runtime: the bare message goes to the function it is for
    // (it used to be refused as an event that does not decode)
    let out = spa(
        &["handle", path.to_str().unwrap(), "--follow"],
        Some(&endpoint),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(" commands ") && l.contains("=>")),
        "one step of the commands function: {stdout} {stderr}"
    );
}

/// Runs `body` with `o`, a boto3 Organizations client of the emulator with the
/// management account's credentials (boto3 from moto's virtualenv): what it prints.
fn organizations_in_emulator(endpoint: &str, body: &str) -> String {
    let script = format!(
        "import boto3\n\
         o = boto3.client('organizations', region_name='us-east-1', endpoint_url='{endpoint}', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n{body}"
    );
    let out = Command::new(spa_testkit::venv_python())
        .args(["-c", &script])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// An account created in the emulator's organization and tagged as a person would:
/// its id.
fn account_in_emulator(endpoint: &str, tags: &[(&str, &str)]) -> String {
    let tags: Vec<String> = tags
        .iter()
        .map(|(key, value)| format!("{{'Key': '{key}', 'Value': '{value}'}}"))
        .collect();
    organizations_in_emulator(
        endpoint,
        &format!(
            "try:\n    o.create_organization(FeatureSet='ALL')\n\
             except o.exceptions.AlreadyInOrganizationException:\n    pass\n\
             a = o.create_account(Email='pool@example.com', AccountName='pool')['CreateAccountStatus']['AccountId']\n\
             o.tag_resource(ResourceId=a, Tags=[{}])\n\
             print(a)\n",
            tags.join(", ")
        ),
    )
}

/// Settings of environment `Spa<name>` that manage `account` (listed) with `items`
/// (YAML of the top level), and the engine's resources for them in the emulator.
fn settings_for(endpoint: &str, name: &str, items: &str, account: &str) -> PathBuf {
    let settings = scratch(
        &name.to_lowercase(),
        "settings.yaml",
        &format!(
            "environment_identifier: Spa{name}
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
{items}accounts:
  - identifier: '{account}'
"
        ),
    );
    let out = spa(
        &["local", "init", "--settings", settings.to_str().unwrap()],
        Some(endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    settings
}

#[test]
fn assign_during_the_cooldown_is_refused_with_its_end_and_status_shows_it() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    // a pool account whose purge ended, in its cooldown
    let pool = account_in_emulator(
        &endpoint,
        &[
            ("account-state", "prepared"),
            ("account-since", "2026-01-01T00:00:00Z"),
            ("account-cooldown-until", "2099-01-01T00:00:00Z"),
        ],
    );
    let settings = settings_for(&endpoint, "Cooldown", "defaults:\n  cooldown: 72h\n", &pool);
    let settings = settings.to_str().unwrap();

    let assign = |extra: &[&str]| {
        let mut args = vec![
            "assign",
            pool.as_str(),
            "--holder",
            "john@example.com",
            "--settings",
            settings,
        ];
        args.extend_from_slice(extra);
        spa(&args, Some(&endpoint))
    };
    let out = assign(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "{pool} rejected: the account cools down after its last purge until 2099-01-01T00:00:00Z: it can be assigned from then"
        )),
        "{}",
        text(&out.stdout)
    );
    let out = assign(&["--dry-run"]);
    assert!(
        text(&out.stdout).contains("nothing to do: the account cools down"),
        "{}",
        text(&out.stdout)
    );

    let out = spa(&["status", "--settings", settings], Some(&endpoint));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("COOLDOWN UNTIL"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(pool.as_str()) && l.contains("2099-01-01 00:00")),
        "{table}"
    );
    let out = spa(
        &["status", "--json", "--settings", settings],
        Some(&endpoint),
    );
    let lines: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = lines
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["account"] == pool.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(line["state"], "prepared", "{line}");
    assert_eq!(line["cooldown_until"], "2099-01-01T00:00:00Z", "{line}");
    assert!(line["holder"].is_null(), "{line}");
}

/// The status of an account in the emulator's organization.
fn status_in_emulator(endpoint: &str, account: &str) -> String {
    organizations_in_emulator(
        endpoint,
        &format!("print(o.describe_account(AccountId='{account}')['Account']['Status'])\n"),
    )
}

#[test]
fn close_asks_first_then_closes_the_account_and_its_history_stays_readable() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    let leaving = account_in_emulator(
        &endpoint,
        &[
            ("account-state", "prepared"),
            ("account-since", "2026-01-01T00:00:00Z"),
        ],
    );
    // no purge configured for it: closed at once
    let settings = settings_for(&endpoint, "Close", "", &leaving);
    let settings = settings.to_str().unwrap();

    // an account or a holder, one clear error otherwise
    let out = spa(&["close", "--settings", settings], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = spa(
        &["close", "--holder", "jane", "--yes", "--settings", settings],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("error: --holder:"),
        "{}",
        text(&out.stderr)
    );
    // nobody holds anything here yet
    let out = spa(
        &[
            "close",
            "--holder",
            "jane@example.com",
            "--dry-run",
            "--settings",
            settings,
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no managed account selected"),
        "{}",
        text(&out.stdout)
    );

    // without a terminal to ask on, --yes is required
    let out = spa(
        &["close", &leaving, "--settings", settings],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "closing {leaving} cannot be undone: confirm with --yes"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = spa(
        &["close", &leaving, "--dry-run", "--settings", settings],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("{leaving}: would go prepared -> unmanaged")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(status_in_emulator(&endpoint, &leaving), "ACTIVE");

    let out = spa(
        &[
            "close",
            &leaving,
            "--yes",
            "--direct",
            "--settings",
            settings,
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("{leaving} prepared -> unmanaged")),
        "{}",
        text(&out.stdout)
    );
    assert_ne!(status_in_emulator(&endpoint, &leaving), "ACTIVE");

    // its history is kept, and read by account
    let out = spa(
        &[
            "events",
            "list",
            "--account",
            &leaving,
            "--json",
            "--settings",
            settings,
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let activities: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        activities
            .as_array()
            .is_some_and(|list| list.iter().any(|a| a["label"] == "AccountUnmanaged")),
        "{activities}"
    );
}

#[test]
fn prices_refresh_refuses_the_emulator_at_once_and_a_bad_region() {
    // moto has no Price List API (the adapter is tested on the exact requests in
    // spa-aws, the refresh on the memory platform): said before any request
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    let out = spa(
        &["prices", "refresh", "--region", "eu-west-1"],
        Some(&endpoint),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "has no AWS Price List API: the spend guard prices with the shipped sample there"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let out = spa(
        &["prices", "refresh", "--region", "Europe"],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(2));
    let error = text(&out.stderr);
    assert!(
        error.contains("`Europe` is not an AWS region such as `eu-west-1`"),
        "{error}"
    );
}
