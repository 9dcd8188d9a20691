//! The EventBridge bus and the SQS command queue, against the emulator (moto server).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use spa_aws::config::AwsConfig;
use spa_aws::eventbridge::EventBridgeBus;
use spa_aws::metrics::ApiCalls;
use spa_aws::sqs::{SqsCommands, ensure_queue};
use spa_core::events::{AccountCommand, AccountId, Action, DomainEvent, Label};
use spa_core::lifecycle::State;
use spa_usecases::ports::{Bus, Commands};

async fn config(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new())
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("instant")
}

fn account(n: usize) -> AccountId {
    AccountId::parse(&format!("{:012}", 200_000_000_000u64 + n as u64)).expect("id")
}

/// Every message of a queue, deleted as read.
async fn drain(config: &AwsConfig, url: &str, expected: usize) -> Vec<String> {
    let sqs = config.sqs();
    let mut bodies = Vec::new();
    for _ in 0..20 {
        if bodies.len() >= expected {
            break;
        }
        let output = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("received");
        for message in output.messages() {
            bodies.push(message.body().expect("body").to_owned());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().expect("handle"))
                .send()
                .await
                .expect("deleted");
        }
    }
    bodies
}

#[tokio::test]
async fn events_reach_the_bus_in_batches_of_ten() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let events = config.eventbridge();
    let bus_arn = events
        .create_event_bus()
        .name("spa-bus")
        .send()
        .await
        .expect("bus")
        .event_bus_arn()
        .expect("arn")
        .to_owned();
    let url = config
        .sqs()
        .create_queue()
        .queue_name("spa-events")
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    // moto's default account
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:spa-events";
    events
        .put_rule()
        .name("spa-to-queue")
        .event_bus_name("spa-bus")
        .event_pattern(r#"{"source":["spa"]}"#)
        .send()
        .await
        .expect("rule");
    events
        .put_targets()
        .rule("spa-to-queue")
        .event_bus_name("spa-bus")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let published: Vec<DomainEvent> = (0..23)
        .map(|n| {
            DomainEvent::new(Label::AccountPrepared, "SpaDemo", account(n), at())
                .with_transition(Some(State::Vended), Some(State::Prepared))
                .with_holder("jane.doe@example.com")
        })
        .collect();
    // by ARN, as a member account's forwarding rule names it
    let bus = EventBridgeBus::new(config.eventbridge(), bus_arn);
    config.calls().reset();
    bus.publish(&published).await.expect("published");
    assert_eq!(
        config.calls().count("EventBridge:PutEvents"),
        3,
        "23 events in 3 calls"
    );

    let bodies = drain(&config, &url, 23).await;
    assert_eq!(bodies.len(), 23);
    let mut accounts = BTreeSet::new();
    for body in &bodies {
        let event: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(event["source"], "spa");
        assert_eq!(event["detail-type"], "AccountPrepared");
        assert_eq!(event["detail"]["environment"], "SpaDemo");
        assert_eq!(event["detail"]["to_state"], "prepared");
        assert!(
            !body.contains("jane.doe@example.com"),
            "holder masked: {body}"
        );
        accounts.insert(
            event["detail"]["account"]
                .as_str()
                .expect("account")
                .to_owned(),
        );
    }
    assert_eq!(accounts.len(), 23, "every event once");
}

#[tokio::test]
async fn commands_travel_through_the_queue() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let url = ensure_queue(&config, "spa-commands").await.expect("queue");
    // idempotent
    assert_eq!(
        ensure_queue(&config, "spa-commands").await.expect("again"),
        url
    );
    let attributes = config
        .sqs()
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("attributes");
    let redrive = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy))
        .expect("redrive policy");
    assert!(redrive.contains("spa-commands-dlq"), "{redrive}");

    let sent: Vec<AccountCommand> = (0..25)
        .map(|n| {
            AccountCommand::new(
                "window-2026-11-21",
                "SpaDemo",
                account(n),
                Action::MaintenanceWindow,
                at(),
                "maintenance-window",
            )
        })
        .collect();
    let commands = SqsCommands::new(config.sqs(), &url);
    config.calls().reset();
    commands.send(&sent).await.expect("sent");
    assert_eq!(
        config.calls().count("SQS:SendMessageBatch"),
        3,
        "25 in 3 calls"
    );

    let bodies = drain(&config, &url, 25).await;
    let mut received: Vec<AccountCommand> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).expect("a command"))
        .collect();
    received.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(received, sent);
}

#[tokio::test]
async fn the_forwarding_dead_letter_queue_is_taken_from_and_deleted_from() {
    use spa_aws::sqs::ForwardDeadLetters;
    use spa_usecases::ports::{Forwarding, PortError};
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let name = spa_core::rules::forward_dead_letter_queue("SpaTest");
    let sqs = config.sqs_in(spa_core::rules::ORGANIZATIONS_REGION);
    let forwarding = ForwardDeadLetters::new(sqs.clone(), name.clone());
    // no queue (the management stack not deployed): said as such
    let missing = forwarding.take_dead_letters(10).await;
    assert!(
        matches!(&missing, Err(PortError::NotFound { what, .. }) if what == "SQS queue"),
        "{missing:?}"
    );
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    // what EventBridge puts in a target's dead-letter queue: the event, and why
    let body = include_str!("../../../../fixtures/events/organizations-create-account-result.json");
    let attribute = |value: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .expect("attribute")
    };
    sqs.send_message()
        .queue_url(&url)
        .message_body(body)
        .message_attributes("ERROR_CODE", attribute("NO_PERMISSIONS"))
        .message_attributes("ERROR_MESSAGE", attribute("not authorized to PutEvents"))
        .send()
        .await
        .expect("sent");
    let taken = forwarding.take_dead_letters(10).await.expect("taken");
    assert_eq!(taken.len(), 1);
    let letter = &taken[0];
    assert_eq!(letter.record.body, body, "byte for byte");
    assert!(letter.record.sent_at.is_some());
    assert_eq!(letter.record.dead_letter.queue, name);
    let error = letter.record.dead_letter.error.clone().unwrap_or_default();
    assert!(error.contains("NO_PERMISSIONS"), "{error}");
    forwarding
        .delete_dead_letter(&letter.receipt)
        .await
        .expect("deleted");
    assert!(
        forwarding
            .take_dead_letters(10)
            .await
            .expect("none")
            .is_empty()
    );
}
