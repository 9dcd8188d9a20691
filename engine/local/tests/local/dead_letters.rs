//! The `dead-letters` function on the in-memory platform: every give-up archived for
//! replay and raised once as a `DeadLetter` exception naming its account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use spa_core::events::{AccountCommand, AccountId, Action, Label};
use spa_core::lifecycle::State;
use spa_core::rules::Function;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::PortError;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::{Engine, Retry, Verdict, handle};

const SETTINGS: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
reporting:
  bucket: spa-test-reports
organizational_units:
  - identifier: ou-ab12-sandbox1
";

const JANES: &str = "111111111111";
const AUTOMATION: &str = "123456789012";
const COMMANDS_DLQ: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaTest-commands-dlq";
const DELIVERY_DLQ: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaTest-delivery-dlq";
const BUDGET_DLQ: &str = "arn:aws:sqs:eu-west-1:123456789012:SpaTest-BudgetAlerts-dlq";
/// 2026-11-21T11:00:00Z
const SENT_MS: &str = "1795258800000";
const SENT_DAY: &str = "2026/11/21";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap()
}

fn settings() -> Settings {
    load("settings.yaml", SETTINGS, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn platform() -> MemoryPlatform {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(JANES, "jane-sandbox", "ou-ab12-sandbox1")
        .with_tags(
            JANES,
            &[
                ("account-state", "assigned"),
                ("account-since", "2026-11-01T08:00:00Z"),
                ("account-holder", "jane.doe@example.com"),
            ],
        );
    MemoryPlatform::new(organization, now())
}

fn engine<'a>(platform: &'a MemoryPlatform, settings: &'a Settings) -> Engine<'a, MemoryPlatform> {
    Engine::new(platform, settings)
        .unwrap()
        .with_retry(Retry::immediate(2))
}

fn expire_janes() -> AccountCommand {
    AccountCommand::new(
        "operator-1",
        "SpaTest",
        AccountId::parse(JANES).unwrap(),
        Action::Expire,
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap(),
        "operator",
    )
}

fn record(id: &str, queue_arn: &str, body: &str, attributes: Value) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": SENT_MS},
        "messageAttributes": attributes,
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "eu-west-1",
    })
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn dead_letters_of(platform: &MemoryPlatform, account: &str) -> Vec<spa_usecases::ports::Activity> {
    platform
        .store
        .recorded_for(account)
        .into_iter()
        .filter(|a| a.label == Label::DeadLetter)
        .collect()
}

#[tokio::test]
async fn a_command_that_kept_failing_is_raised_for_its_account_and_archived_for_replay() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let body = expire_janes().to_json();
    let event = batch(vec![record("m-1", COMMANDS_DLQ, &body, json!({}))]);

    let handled = handle(&engine, None, &event).await.unwrap();
    assert_eq!(handled.function, Function::DeadLetters);
    assert!(failures(&handled.response()).is_empty());

    // archived byte for byte under the day it was sent
    let key = format!("dead-letters/{SENT_DAY}/SpaTest-commands-dlq/m-1.json");
    assert_eq!(platform.objects.keys(), std::slice::from_ref(&key));
    assert_eq!(platform.objects.object(&key).unwrap(), body.as_bytes());

    // one DeadLetter for Jane's account, naming what was lost and the archive
    let recorded = dead_letters_of(&platform, JANES);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let detail = &recorded[0].detail;
    assert!(detail.contains("command `expire`"), "{detail}");
    assert!(detail.contains("SpaTest-commands-dlq"), "{detail}");
    assert!(
        detail.contains(&format!("s3://spa-test-reports/{key}")),
        "{detail}"
    );
    assert_eq!(recorded[0].cause.as_deref(), Some("dead-letter:m-1"));
    let published = platform.bus.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].label, Label::DeadLetter);
    assert_eq!(published[0].account.as_str(), JANES);
    assert_eq!(
        published[0].facts.get("archive").map(String::as_str),
        Some(format!("s3://spa-test-reports/{key}").as_str())
    );
    assert!(platform.store.is_claimed("dead-letter:m-1"));

    // `spa handle <file>` replays the archived message as is: the command runs
    let archived: Value = serde_json::from_slice(&platform.objects.object(&key).unwrap()).unwrap();
    let replayed = handle(&engine, None, &archived).await.unwrap();
    assert_eq!(replayed.function, Function::Commands);
    let outcome = &replayed.dispatched.outcomes[0];
    assert_eq!(outcome.account.as_ref().map(AccountId::as_str), Some(JANES));
    assert_eq!(outcome.from, Some(State::Assigned), "{outcome:?}");
    assert!(
        outcome.events.contains(&Label::AccountExpired),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_event_eventbridge_gave_up_on_carries_its_error() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let body = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "account": JANES,
        "time": "2026-11-21T10:59:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "build-status": "FAILED",
            "project-name": "SpaTest-Purge",
            "build-id": "arn:aws:codebuild:eu-west-1:111111111111:build/SpaTest-Purge:b1",
            "current-phase": "COMPLETED",
            "additional-information": {"initiator": "spa"}
        }
    })
    .to_string();
    let attributes = json!({
        "ERROR_CODE": {"stringValue": "SDK_CLIENT_ERROR", "dataType": "String"},
        "ERROR_MESSAGE": {"stringValue": "Unable to invoke Lambda function for jane.doe@example.com", "dataType": "String"},
        "RULE_ARN": {"stringValue": "arn:aws:events:eu-west-1:123456789012:rule/SpaTest/SpaTest-BuildEvents", "dataType": "String"},
        "TARGET_ARN": {"stringValue": "arn:aws:lambda:eu-west-1:123456789012:function:SpaTest-build-events", "dataType": "String"},
    });
    let event = batch(vec![record("m-2", DELIVERY_DLQ, &body, attributes)]);
    let handled = handle(&engine, Some(Function::DeadLetters), &event)
        .await
        .unwrap();
    assert!(failures(&handled.response()).is_empty());

    let recorded = dead_letters_of(&platform, JANES);
    assert_eq!(recorded.len(), 1);
    let detail = &recorded[0].detail;
    assert!(
        detail.contains("CodeBuild Build State Change (FAILED)"),
        "{detail}"
    );
    assert!(
        detail.contains("SDK_CLIENT_ERROR: Unable to invoke Lambda function"),
        "{detail}"
    );
    assert!(detail.contains("SpaTest-BuildEvents"), "{detail}");
    assert!(
        !detail.contains("jane.doe@"),
        "an address in clear: {detail}"
    );
    let event = &platform.bus.published()[0];
    assert!(!event.to_entry().detail.contains("jane.doe@"));
}

#[tokio::test]
async fn a_budget_alert_is_raised_for_the_budgets_account() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let message = "AWS Budget Notification November 21, 2026\nAWS Account 111111111111\n\nDear AWS Customer,\n\nYou requested that we alert you when the ACTUAL Cost associated with your spa-budget budget is greater than $75.00 for the current month. The ACTUAL Cost associated with this budget is $80.12.\n\nBudget Name: spa-budget\nBudget Type: Cost\nBudgeted Amount: $100.00\nAlert Type: ACTUAL\nAlert Threshold: > $75.00\nACTUAL Amount: $80.12\n";
    let body = json!({
        "Type": "Notification",
        "MessageId": "9a1b2c3d-0000-4000-8000-000000000010",
        "TopicArn": "arn:aws:sns:eu-west-1:111111111111:SpaTest-BudgetAlerts",
        "Subject": "AWS Budgets: spa-budget has exceeded your alert threshold",
        "Message": message,
        "Timestamp": "2026-11-21T11:00:00.000Z",
    })
    .to_string();
    let event = batch(vec![record("m-3", BUDGET_DLQ, &body, json!({}))]);
    handle(&engine, None, &event).await.unwrap();
    let recorded = dead_letters_of(&platform, JANES);
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].detail.contains("budget alert"),
        "{}",
        recorded[0].detail
    );
    assert!(
        recorded[0].detail.contains("no error given"),
        "{}",
        recorded[0].detail
    );
    assert_eq!(
        platform.objects.keys(),
        [format!(
            "dead-letters/{SENT_DAY}/SpaTest-BudgetAlerts-dlq/m-3.json"
        )]
    );
}

#[tokio::test]
async fn an_unreadable_message_is_archived_and_raised_on_the_automation_account() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let body = "\u{1}not json at all: ask bob@example.com";
    let event = batch(vec![record("m-4", COMMANDS_DLQ, body, json!({}))]);
    let handled = handle(&engine, None, &event).await.unwrap();
    assert!(failures(&handled.response()).is_empty());
    let key = format!("dead-letters/{SENT_DAY}/SpaTest-commands-dlq/m-4.json");
    assert_eq!(platform.objects.object(&key).unwrap(), body.as_bytes());
    let recorded = dead_letters_of(&platform, AUTOMATION);
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].detail.contains("unreadable message"),
        "{}",
        recorded[0].detail
    );
    assert!(dead_letters_of(&platform, JANES).is_empty());
    assert!(!recorded[0].detail.contains("bob@"));
}

#[tokio::test]
async fn a_redelivered_record_raises_once_and_archives_once() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let event = batch(vec![record(
        "m-5",
        COMMANDS_DLQ,
        &expire_janes().to_json(),
        json!({}),
    )]);
    handle(&engine, None, &event).await.unwrap();
    platform.clock.advance(chrono::TimeDelta::days(2));
    let again = handle(&engine, None, &event).await.unwrap();
    assert_eq!(again.dispatched.outcomes[0].verdict, Verdict::Seen);
    assert!(failures(&again.response()).is_empty());
    assert_eq!(dead_letters_of(&platform, JANES).len(), 1);
    assert_eq!(platform.bus.published().len(), 1);
    assert_eq!(
        platform.objects.keys().len(),
        1,
        "{:?}",
        platform.objects.keys()
    );
}

#[tokio::test]
async fn the_archive_failing_keeps_the_record_in_its_queue_unclaimed_and_unraised() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let unavailable = PortError::Unavailable {
        service: "s3".into(),
        message: "down".into(),
    };
    platform.objects.faults.fail("put", unavailable, 2);
    let event = batch(vec![
        record("m-6", COMMANDS_DLQ, &expire_janes().to_json(), json!({})),
        record("m-7", COMMANDS_DLQ, "garbage", json!({})),
    ]);
    let handled = handle(&engine, None, &event).await.unwrap();
    // the first record's two tries failed; the second went through
    assert_eq!(failures(&handled.response()), ["m-6"]);
    assert!(!platform.store.is_claimed("dead-letter:m-6"));
    assert!(dead_letters_of(&platform, JANES).is_empty());
    assert!(platform.store.is_claimed("dead-letter:m-7"));
    assert_eq!(platform.bus.published().len(), 1);

    // next visibility timeout: S3 is back, the record is archived and raised
    let again = handle(
        &engine,
        None,
        &batch(vec![record(
            "m-6",
            COMMANDS_DLQ,
            &expire_janes().to_json(),
            json!({}),
        )]),
    )
    .await
    .unwrap();
    assert!(failures(&again.response()).is_empty());
    assert_eq!(dead_letters_of(&platform, JANES).len(), 1);
}

#[tokio::test]
async fn the_bus_failing_releases_the_claim_and_keeps_the_record() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let unavailable = PortError::Unavailable {
        service: "events".into(),
        message: "throttled".into(),
    };
    platform.bus.faults.fail("publish", unavailable, 2);
    let event = batch(vec![record(
        "m-8",
        COMMANDS_DLQ,
        &expire_janes().to_json(),
        json!({}),
    )]);
    let handled = handle(&engine, None, &event).await.unwrap();
    assert_eq!(failures(&handled.response()), ["m-8"]);
    assert!(!platform.store.is_claimed("dead-letter:m-8"));
    assert!(platform.bus.published().is_empty());
    // archived before anything else: the record is safe whatever happens next
    assert_eq!(platform.objects.keys().len(), 1);

    let again = handle(&engine, None, &event).await.unwrap();
    assert!(failures(&again.response()).is_empty());
    assert_eq!(platform.bus.published().len(), 1);
}

#[tokio::test]
async fn a_denied_bus_also_releases_the_claim() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    platform.bus.faults.fail(
        "publish",
        PortError::Denied {
            service: "events".into(),
            action: "PutEvents".into(),
            message: "no".into(),
        },
        1,
    );
    let event = batch(vec![record(
        "m-9",
        COMMANDS_DLQ,
        &expire_janes().to_json(),
        json!({}),
    )]);
    let handled = handle(&engine, None, &event).await.unwrap();
    assert_eq!(failures(&handled.response()), ["m-9"]);
    assert!(!platform.store.is_claimed("dead-letter:m-9"));
}

#[tokio::test]
async fn the_commands_function_refuses_a_dead_letter_batch() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let event = batch(vec![record(
        "m-10",
        COMMANDS_DLQ,
        &expire_janes().to_json(),
        json!({}),
    )]);
    let error = handle(&engine, Some(Function::Commands), &event)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("dead-letter queue"), "{error}");
    assert!(platform.objects.keys().is_empty());
}

/// On the emulator: a command that fails every receive moves to the command queue's
/// real dead-letter queue (redrive policy), is received as the Lambda event its event
/// source mapping would hand over, and ends archived in S3 and raised in DynamoDB.
#[tokio::test]
async fn on_the_emulator_a_command_redriven_to_its_dead_letter_queue_is_archived_and_raised() {
    use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
    use spa_aws::sqs::{MAX_RECEIVES, receive_as_lambda_event};
    use spa_local::LocalHandler;
    use spa_usecases::ports::{ActivityQuery, Journal, Objects, Platform};

    let scenario = spa_testkit::scenario();
    let settings = settings();
    let (runtime, resources) = spa_local::connect::runtime(&settings, &scenario.endpoint())
        .await
        .expect("runtime");
    // in the settings' region, where the runtime made the queues
    let sdk = scenario
        .sdk_config()
        .await
        .into_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let config = spa_aws::config::AwsConfig::from_sdk(&sdk, spa_aws::metrics::ApiCalls::new());
    let sqs = config.sqs();
    let dlq_name = format!("{}-dlq", spa_core::rules::queue_name(&settings));
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(&dlq_name)
        .send()
        .await
        .expect("dlq")
        .queue_url()
        .unwrap()
        .to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq arn")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .unwrap();

    // the command fails every receive: never deleted, visible again at once
    let body = expire_janes().to_json();
    sqs.send_message()
        .queue_url(&resources.queue_url)
        .message_body(&body)
        .send()
        .await
        .expect("sent");
    for _ in 0..=MAX_RECEIVES + 1 {
        sqs.receive_message()
            .queue_url(&resources.queue_url)
            .visibility_timeout(0)
            .send()
            .await
            .expect("received");
    }
    // and a delivery EventBridge gave up on, with its error attributes
    let text = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .unwrap()
    };
    sqs.send_message()
        .queue_url(&dlq_url)
        .message_body(r#"{"job": "sweeper", "scheduled_time": "2026-11-21T18:00:00Z"}"#)
        .message_attributes("ERROR_CODE", text("SDK_CLIENT_ERROR"))
        .message_attributes("ERROR_MESSAGE", text("Lambda was throttled"))
        .send()
        .await
        .expect("sent");

    let mut records = Vec::new();
    for _ in 0..5 {
        if records.len() >= 2 {
            break;
        }
        if let Some(event) = receive_as_lambda_event(&config, &dlq_url, &dlq_arn)
            .await
            .expect("received")
        {
            records.extend(event["Records"].as_array().unwrap().iter().cloned());
        }
    }
    assert_eq!(records.len(), 2, "the command was redriven: {records:#?}");
    let event = json!({ "Records": records });

    let handler = LocalHandler::new(&settings).with_engine_bus_arn(resources.bus_arn.clone());
    let engine = handler.engine(runtime.platform()).unwrap();
    let handled = handle(&engine, Some(Function::DeadLetters), &event)
        .await
        .expect("handled");
    assert!(
        failures(&handled.response()).is_empty(),
        "{}",
        handled.summary()
    );

    let platform = runtime.platform();
    let command_id = records
        .iter()
        .find(|r| r["body"] == body.as_str())
        .and_then(|r| r["messageId"].as_str())
        .unwrap()
        .to_owned();
    let command_record = records.iter().find(|r| r["body"] == body.as_str()).unwrap();
    let sent_ms: i64 = command_record["attributes"]["SentTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let key = spa_usecases::archive_key(
        &dlq_name,
        &command_id,
        DateTime::from_timestamp_millis(sent_ms).unwrap(),
    );
    let archived = platform.objects().get(&key).await.expect("archived in S3");
    assert_eq!(archived, body.as_bytes());

    let janes = platform
        .store()
        .activities(&ActivityQuery {
            account: AccountId::parse(JANES),
            ..ActivityQuery::default()
        })
        .await
        .expect("history");
    let raised: Vec<_> = janes
        .iter()
        .filter(|a| a.label == Label::DeadLetter)
        .collect();
    assert_eq!(raised.len(), 1, "{janes:#?}");
    assert!(
        raised[0]
            .detail
            .contains(&format!("s3://spa-test-reports/{key}")),
        "{}",
        raised[0].detail
    );
    assert!(
        raised[0].detail.contains("command `expire`"),
        "{}",
        raised[0].detail
    );

    let automation = platform
        .store()
        .activities(&ActivityQuery {
            account: AccountId::parse(AUTOMATION),
            ..ActivityQuery::default()
        })
        .await
        .expect("history");
    let sweeper: Vec<_> = automation
        .iter()
        .filter(|a| a.label == Label::DeadLetter)
        .collect();
    assert_eq!(sweeper.len(), 1, "{automation:#?}");
    assert!(
        sweeper[0].detail.contains("scheduled job `sweeper`"),
        "{}",
        sweeper[0].detail
    );
    assert!(
        sweeper[0]
            .detail
            .contains("SDK_CLIENT_ERROR: Lambda was throttled"),
        "{}",
        sweeper[0].detail
    );
    // the dead-letter queue is empty: every record was archived and acknowledged
    assert!(
        receive_as_lambda_event(&config, &dlq_url, &dlq_arn)
            .await
            .expect("received")
            .is_none()
    );
}

#[tokio::test]
async fn a_lost_dead_letter_exception_is_archived_and_recorded_but_not_raised_again() {
    let (platform, settings) = (platform(), settings());
    let engine = engine(&platform, &settings);
    let janes = AccountId::parse(JANES).unwrap();
    let body =
        spa_core::events::DomainEvent::new(Label::DeadLetter, "SpaTest", janes.clone(), now())
            .with_reason("gave up on command `expire`")
            .to_entry()
            .delivered("e-1", &janes, "eu-west-1")
            .unwrap()
            .to_string();
    let queue = "arn:aws:sqs:eu-west-1:123456789012:SpaTest-exceptions-dlq";
    let event = batch(vec![record(
        "m-11",
        queue,
        &body,
        json!({"ErrorCode": {"stringValue": "200"}}),
    )]);
    let handled = handle(&engine, None, &event).await.unwrap();
    assert!(failures(&handled.response()).is_empty());
    assert_eq!(platform.objects.keys().len(), 1);
    assert_eq!(dead_letters_of(&platform, JANES).len(), 1);
    assert!(
        platform.bus.published().is_empty(),
        "no loop through the exceptions function: {body} {:?} {:?}",
        spa_core::events::decode_str(&body),
        platform.bus.published()
    );
}
