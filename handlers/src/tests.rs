//! One invocation on the in-memory platform: what Lambda gets back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use serde_json::json;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};

use super::*;

const SETTINGS: &str = "\
environment_identifier: SpaLambda
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
organizational_units:
  - identifier: ou-ab12-sandbox1
";

fn world() -> (MemoryPlatform, Settings) {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account("444444444444", "jane", "ou-ab12-sandbox1");
    let platform = MemoryPlatform::new(
        organization,
        Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
    );
    let settings = spa_core::settings::load("s.yaml", SETTINGS, &MemorySources::new())
        .unwrap()
        .settings;
    (platform, settings)
}

fn command(message: &str, account: &str) -> Value {
    json!({"messageId": message, "receiptHandle": "r", "body": json!({
        "id": format!("run/{account}"), "environment": "SpaLambda", "account": account,
        "action": "reset", "at": "2026-11-21T09:00:00Z", "origin": "operator"}).to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:SpaLambda-commands", "awsRegion": "eu-west-1"})
}

#[tokio::test]
async fn a_batch_answers_with_the_records_to_retry_only() {
    let (platform, settings) = world();
    let event = json!({"Records": [
        command("m-1", "444444444444"),
        {"messageId": "m-2", "body": "not json", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:SpaLambda-commands"},
    ]});
    let response = invoke(
        &platform,
        &settings,
        &Buildspecs::new(),
        Some(Function::Commands),
        &event,
    )
    .await
    .expect("a batch never fails whole");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
    );
    let tags = platform.organization.tags_of("444444444444");
    // preparation is disabled by default: the reset account is ready at once
    assert_eq!(
        tags.get("account-state").map(String::as_str),
        Some("prepared"),
        "the good record was handled"
    );
}

#[tokio::test]
async fn a_budget_alerts_batch_answers_with_the_records_to_retry_only() {
    // the reference alert, and a record SQS handed without its body: Lambda must be
    // told to keep the second (retried, then dead-lettered), not handed a summary that
    // makes it delete both
    let (platform, settings) = world();
    let mut event: Value =
        serde_json::from_str(include_str!("../../fixtures/events/sqs-budget-alert.json")).unwrap();
    let mut bad = event["Records"][0].clone();
    bad["messageId"] = json!("m-undecodable");
    bad.as_object_mut().unwrap().remove("body");
    event["Records"].as_array_mut().unwrap().push(bad);
    let response = invoke(
        &platform,
        &settings,
        &Buildspecs::new(),
        Some(Function::BudgetAlerts),
        &event,
    )
    .await
    .expect("a batch never fails whole");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-undecodable"}]})
    );
}

/// An SQS record of the budget alerts queue whose SNS envelope carries `message`
/// from the topic of `topic_account`.
fn alert_record(id: &str, topic_account: &str, body_account: &str) -> Value {
    let event: Value =
        serde_json::from_str(include_str!("../../fixtures/events/sqs-budget-alert.json")).unwrap();
    let mut record = event["Records"][0].clone();
    let mut body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
    body["TopicArn"] = json!(format!(
        "arn:aws:sns:eu-west-1:{topic_account}:SpaLambda-BudgetAlerts"
    ));
    body["MessageId"] = json!(format!("sns-{id}"));
    body["Message"] = json!(
        body["Message"]
            .as_str()
            .unwrap()
            .replace("222222222222", body_account)
    );
    record["messageId"] = json!(id);
    record["body"] = json!(body.to_string());
    record
}

#[tokio::test]
async fn a_budget_alert_about_another_account_than_its_topics_is_refused_not_retried() {
    // the holder of 555555555555 publishes on their own topic an alert naming jane's
    // account, and garbage: both refused, neither retried nor dead-lettered, nothing raised
    let (platform, settings) = world();
    let mut garbage = alert_record("m-garbage", "555555555555", "555555555555");
    let mut body: Value = serde_json::from_str(garbage["body"].as_str().unwrap()).unwrap();
    body["Message"] = json!("AWS Budget Notification\nnothing else");
    garbage["body"] = json!(body.to_string());
    let event = json!({"Records": [
        alert_record("m-forged", "555555555555", "444444444444"),
        garbage,
    ]});
    let response = invoke(
        &platform,
        &settings,
        &Buildspecs::new(),
        Some(Function::BudgetAlerts),
        &event,
    )
    .await
    .expect("a batch never fails whole");
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert!(platform.bus.published().is_empty(), "nothing raised");
    assert!(platform.store.recorded_for("444444444444").is_empty());

    // the same alert from jane's own topic is taken
    let event = json!({"Records": [alert_record("m-own", "444444444444", "444444444444")]});
    let handled = spa_usecases::handle(
        &Engine::new(&platform, &settings).unwrap(),
        Some(Function::BudgetAlerts),
        &event,
    )
    .await
    .unwrap();
    // taken, not refused (jane's account has no state yet in this world)
    assert_eq!(handled.summary(), "444444444444 not managed by spa");
}

#[tokio::test]
async fn spa_events_from_a_member_account_are_refused() {
    // a holder puts on spa's bus an event that says spa quarantined jane's account
    let (platform, settings) = world();
    let forged = |sender: &str| {
        json!({
            "version": "0", "id": format!("forged-by-{sender}"), "detail-type": "AccountQuarantined",
            "source": "spa", "account": sender, "time": "2026-11-21T09:00:00Z",
            "region": "eu-west-1", "resources": [],
            "detail": {"label": "AccountQuarantined", "environment": "SpaLambda",
                       "account": "444444444444", "at": "2026-11-21T09:00:00Z",
                       "to_state": "quarantined", "reason": "compromised"}
        })
    };
    let engine = Engine::new(&platform, &settings).unwrap();
    let handled =
        spa_usecases::handle(&engine, Some(Function::Exceptions), &forged("555555555555"))
            .await
            .expect("refused, not failed: Lambda must not retry it");
    assert_eq!(
        handled.summary(),
        "444444444444 refused: account 555555555555 may not say `AccountQuarantined` about account \
         444444444444: only the automation account 123456789012 speaks as spa"
    );
    assert!(platform.incidents.started().is_empty(), "no incident");
    assert!(platform.webhooks.posted().is_empty(), "no chat");

    // spa's own event is noticed
    let handled =
        spa_usecases::handle(&engine, Some(Function::Exceptions), &forged("123456789012"))
            .await
            .unwrap();
    assert!(
        !handled.summary().contains("refused"),
        "{}",
        handled.summary()
    );
}

/// A fixture sent from `sender`: what a member account forwarding it would deliver.
fn forwarded(fixture: &str, sender: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/events")
        .join(fixture);
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["account"] = json!(sender);
    event
}

#[tokio::test]
async fn a_build_or_sign_in_of_another_account_is_refused_not_retried() {
    let (platform, settings) = world();
    let answer = |function, event: Value| {
        let (platform, settings) = (&platform, &settings);
        async move {
            invoke(
                platform,
                settings,
                &Buildspecs::new(),
                Some(function),
                &event,
            )
            .await
            .expect("refused, not failed")
        }
    };
    let build = forwarded("codebuild-build-state-change.json", "555555555555");
    let response = answer(Function::BuildEvents, build).await;
    let summary = response["outcomes"][0].as_str().unwrap();
    assert!(
        summary.starts_with(
            "refused: account 555555555555 may not say the end of a build of account "
        ),
        "{response}"
    );
    let login = forwarded("signin-console-login-root.json", "555555555555");
    assert_eq!(
        answer(Function::SignIns, login).await,
        json!({"outcomes": ["refused: account 555555555555 may not say a sign-in to account 222222222222"]})
    );
    assert!(platform.bus.published().is_empty());
}

#[test]
fn every_queue_fed_function_answers_a_partial_batch_response() {
    // the functions whose trigger is a queue are the ones Lambda reads
    // `batchItemFailures` from: each has a test above on its real response
    let queue_fed: Vec<Function> = Function::ALL
        .into_iter()
        .filter(|f| f.trigger().answers_batch_item_failures())
        .collect();
    assert_eq!(
        queue_fed,
        [
            Function::Commands,
            Function::BudgetAlerts,
            Function::DeadLetters,
            Function::Relay
        ]
    );
}

#[tokio::test]
async fn the_relay_puts_the_outbox_on_the_bus_and_answers_where_to_read_again() {
    let (platform, settings) = world();
    assert_eq!(
        function_from_env(None, Some("SpaLambda-relay".into())),
        Some(Function::Relay)
    );
    let events: Vec<spa_core::events::DomainEvent> = (0..12)
        .map(|n| {
            spa_core::events::DomainEvent::new(
                spa_core::events::Label::AccountPurged,
                "SpaLambda",
                spa_core::events::AccountId::parse("444444444444").expect("id"),
                Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, n).unwrap(),
            )
            .keyed(&format!("build-{n}"))
        })
        .collect();
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, e)| {
            spa_core::events::stream_record(
                e,
                &format!("{:03}", n + 1),
                "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/SpaLambda-Transactions/stream/1",
            )
        })
        .collect();
    let event = json!({ "Records": records });
    // the first call of ten goes through, the second is refused
    platform.bus.faults.fail_after(
        "publish",
        1,
        spa_usecases::ports::PortError::Unavailable {
            service: "events".into(),
            message: "throttled".into(),
        },
        10,
    );
    let response = invoke(&platform, &settings, &Buildspecs::new(), None, &event)
        .await
        .expect("a stream batch never fails whole");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "011"}]})
    );
    assert_eq!(platform.bus.published(), events[..10].to_vec());
    // the outage over, Lambda reads again from record 11: the two left go on the bus
    platform.bus.faults.clear();
    let again = json!({ "Records": records[10..].to_vec() });
    let response = invoke(&platform, &settings, &Buildspecs::new(), None, &again)
        .await
        .expect("answered");
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(platform.bus.published(), events);
}

#[tokio::test]
async fn a_dead_letter_batch_is_archived_raised_and_answered_with_partial_failures() {
    let (platform, settings) = world();
    assert_eq!(
        function_from_env(None, Some("SpaLambda-dead-letters".into())),
        Some(Function::DeadLetters)
    );
    let mut record = command("m-1", "444444444444");
    record["eventSourceARN"] = json!("arn:aws:sqs:eu-west-1:123456789012:SpaLambda-commands-dlq");
    platform.objects.faults.fail(
        "put",
        spa_usecases::ports::PortError::Unavailable {
            service: "s3".into(),
            message: "down".into(),
        },
        10,
    );
    let event = json!({"Records": [record]});
    let response = invoke(
        &platform,
        &settings,
        &Buildspecs::new(),
        Some(Function::DeadLetters),
        &event,
    )
    .await
    .expect("a batch never fails whole");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}),
        "not archived: kept in its queue"
    );
    assert!(platform.bus.published().is_empty());
}

#[tokio::test]
async fn an_event_that_does_not_decode_fails_the_invocation_with_its_path() {
    let (platform, settings) = world();
    let event = json!({"version": "0", "id": "e-1", "source": "aws.codebuild",
        "detail-type": "CodeBuild Build State Change", "account": "444444444444",
        "time": "2026-11-21T09:00:00Z", "region": "eu-west-1", "resources": [], "detail": {}});
    let error = invoke(&platform, &settings, &Buildspecs::new(), None, &event)
        .await
        .expect_err("Lambda retries it, then the DLQ keeps it");
    assert!(error.to_string().contains("detail.build-status"), "{error}");
    assert!(
        platform.organization.tags_of("444444444444").is_empty(),
        "nothing changed"
    );
}

#[tokio::test]
async fn an_event_for_another_function_is_refused() {
    let (platform, settings) = world();
    let event = json!({"job": "maintenance-window", "scheduled_time": "2026-11-21T18:00:00Z"});
    let error = invoke(
        &platform,
        &settings,
        &Buildspecs::new(),
        Some(Function::Commands),
        &event,
    )
    .await
    .expect_err("wrong function");
    assert!(
        error.to_string().contains("does not take a scheduled job"),
        "{error}"
    );
}

#[test]
fn the_function_comes_from_the_environment() {
    assert_eq!(
        function_from_env(None, Some("SpaDemo-build-events".into())),
        Some(Function::BuildEvents)
    );
    assert_eq!(
        function_from_env(Some("commands".into()), Some("x".into())),
        Some(Function::Commands)
    );
    assert_eq!(function_from_env(None, None), None);
    assert!(matches!(
        SettingsSource::from_env(None, None),
        Err(StartError::NoSettings)
    ));
    assert_eq!(
        SettingsSource::from_env(Some("ssm:/spa/settings".into()), Some("/var/task".into()))
            .unwrap(),
        SettingsSource::Parameter {
            name: "/spa/settings".into(),
            dir: "/var/task".into()
        }
    );
}

#[test]
fn exceptions_are_counted_per_label_on_lines_of_their_own() {
    use spa_core::events::Label;
    use spa_usecases::Outcome;
    let mut first = Outcome::new("e1", None, Verdict::Seen);
    first.events = vec![Label::BuildFailed, Label::AccountAssigned];
    let mut second = Outcome::new("e2", None, Verdict::Seen);
    second.events = vec![Label::BuildFailed, Label::ConsoleLoginWithRoot];
    let lines: Vec<Value> = exception_metrics("SpaDemo", &[first, second])
        .iter()
        .map(|m| serde_json::from_str(&m.to_line(chrono::Utc::now())).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "one line per exception label, none for AccountAssigned"
    );
    let by_label: std::collections::BTreeMap<&str, f64> = lines
        .iter()
        .map(|l| {
            (
                l["Label"].as_str().unwrap(),
                l["Exceptions"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_label.get("BuildFailed"), Some(&2.0));
    assert_eq!(by_label.get("ConsoleLoginWithRoot"), Some(&1.0));
    for line in &lines {
        assert_eq!(line["Environment"], "SpaDemo");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], spa_core::emf::NAMESPACE);
        assert_eq!(
            directive["Dimensions"][0],
            serde_json::json!(["Environment", "Label"])
        );
        assert_eq!(directive["Metrics"][0]["Name"], "Exceptions");
    }
}

#[tokio::test]
async fn the_slack_function_answers_an_http_response_and_refuses_what_is_not_signed() {
    let (platform, mut settings) = world();
    settings.features.slack_commands = true;
    settings.features.slack_team_id = Some("T1".into());
    let function = function_from_env(None, Some("SpaLambda-slack-commands".to_owned()));
    assert_eq!(function, Some(Function::SlackCommands));
    let options = spa_usecases::slack::SlackOptions {
        signing_secret: Some(spa_usecases::ports::Secret::new("secret")),
        local_response_base: None,
    };
    let users = spa_usecases::ports::MemorySlackUsers::new();
    let body = "command=%2Fspa&text=help&user_id=U1&team_id=T1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1";
    let timestamp = platform.clock.now_at().timestamp().to_string();
    let event = |signature: &str| {
        json!({"version": "2.0", "headers": {
            "x-slack-request-timestamp": timestamp, "x-slack-signature": signature},
            "body": body, "isBase64Encoded": false})
    };
    let good = spa_core::chatops::sign(b"secret", &timestamp, body.as_bytes());
    let response = invoke_slack(&platform, &settings, &users, &options, &event(&good)).await;
    assert_eq!(response["statusCode"], 200);
    assert!(response["body"].as_str().unwrap().contains("ephemeral"));
    let bad = spa_core::chatops::sign(b"other", &timestamp, body.as_bytes());
    let response = invoke_slack(&platform, &settings, &users, &options, &event(&bad)).await;
    assert_eq!(response["statusCode"], 401);
    assert_eq!(response["body"], "{\"error\":\"unauthorized\"}");
}

#[tokio::test]
async fn an_invocation_past_its_budget_stops_and_says_the_event_comes_back() {
    // slack-commands: 10 s, budget 8 s, a call 4 s: no call may start after 4 s
    let stuck = std::future::pending::<Result<Handled, HandleError>>();
    let error = within_budget(Some(Function::SlackCommands), stuck)
        .await
        .unwrap_err();
    assert!(
        matches!(error, HandleError::OutOfTime { seconds: 4, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the `slack-commands` function stopped after 4s, past which no call could end within its budget: the event comes back and the work is resumed"
    );
}
