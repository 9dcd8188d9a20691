//! The local runtime on the in-memory platform: the lifecycle runs end to end by
//! itself once events come in, as it does on AWS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::LocalHandler;
use spa_core::events::BuildStatus;
use spa_core::lifecycle::State;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::Retry;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};

const SETTINGS: &str = "\
environment_identifier: SpaLocal
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
defaults:
  preparation: {feature: enabled}
  purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
  max_attempts: 2
organizational_units:
  - identifier: ou-ab12-sandbox1
";

const JANE: &str = "444444444444";
const POOL: &str = "555555555555";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()
}

fn settings() -> Settings {
    load("settings.yaml", SETTINGS, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn runtime() -> Runtime<MemoryPlatform> {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(JANE, "jane", "ou-ab12-sandbox1")
        .with_account(POOL, "pool", "ou-ab12-sandbox1")
        .with_tags(JANE, &[("account-holder", "jane@example.com")]);
    let site = Site {
        account: AccountId::parse("123456789012").unwrap(),
        region: "eu-west-1".into(),
        environment: "SpaLocal".into(),
        queue_arn: "arn:aws:sqs:eu-west-1:123456789012:SpaLocal-commands".into(),
    };
    Runtime::new(MemoryPlatform::new(organization, t0()).streamed(), site)
}

fn state(runtime: &Runtime<MemoryPlatform>, account: &str) -> Option<String> {
    runtime
        .inner()
        .organization
        .tags_of(account)
        .get("account-state")
        .cloned()
}

fn created(runtime: &Runtime<MemoryPlatform>, account: &str) {
    let management = AccountId::parse("123456789012").unwrap();
    let event = synth::create_account_result(
        &format!("created-{account}"),
        &management,
        &AccountId::parse(account).unwrap(),
        t0(),
    );
    assert_eq!(runtime.inject(event, format!("created {account}")), 1);
}

async fn run(runtime: &Runtime<MemoryPlatform>, settings: &Settings) -> (RunSummary, Vec<Step>) {
    let handler = LocalHandler::new(settings).with_retry(Retry::immediate(1));
    let mut steps = Vec::new();
    let limits = Limits {
        poll_interval: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let summary = runtime
        .run_until_idle(&handler, limits, |step| steps.push(step.clone()))
        .await
        .expect("the run ends");
    (summary, steps)
}

#[tokio::test]
async fn accounts_are_onboarded_then_maintained_by_the_events_they_cause() {
    let runtime = runtime();
    let settings = settings();
    runtime
        .inner()
        .builds
        .set_default_status(BuildStatus::Succeeded);
    created(&runtime, JANE);
    created(&runtime, POOL);
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(
        state(&runtime, JANE).as_deref(),
        Some("assigned"),
        "{steps:#?}"
    );
    assert_eq!(
        state(&runtime, POOL).as_deref(),
        Some("prepared"),
        "waits in the pool"
    );
    assert_eq!(summary.builds_started, 2, "one preparation each");
    assert_eq!(summary.failed, 0, "{steps:#?}");
    let functions: Vec<Function> = steps.iter().map(|s| s.function).collect();
    assert_eq!(
        functions,
        // the events of each pair of turns leave through the outbox, in one stream
        // batch: the relay puts them on the bus, and the assignment reaches the
        // exceptions function from there
        vec![
            Function::AccountEvents,
            Function::AccountEvents,
            Function::Relay,
            Function::BuildEvents,
            Function::BuildEvents,
            Function::Relay,
            Function::Exceptions,
        ],
        "the builds' ends come back through the rules, the assignment goes to the exceptions function"
    );

    runtime.fire(spa_core::events::Job::MaintenanceWindow, t0());
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(
        state(&runtime, JANE).as_deref(),
        Some("assigned"),
        "{steps:#?}"
    );
    assert_eq!(
        summary.builds_started, 2,
        "then a purge and a preparation for jane"
    );
    let jane = runtime.inner().store.labels_for(JANE);
    for label in ["AccountExpired", "AccountPurged", "MaintenanceCompleted"] {
        assert!(
            jane.iter().any(|l| l.as_str() == label),
            "{label} in {jane:?}"
        );
    }
    assert!(
        steps.iter().any(|s| s.function == Function::Commands),
        "the window fans out through the command queue"
    );
    assert_eq!(
        state(&runtime, POOL).as_deref(),
        Some("prepared"),
        "the pool is left alone"
    );
    assert!(runtime.pending().is_idle());
}

#[tokio::test]
async fn failing_builds_are_retried_then_the_account_is_quarantined() {
    let runtime = runtime();
    let settings = settings();
    runtime
        .inner()
        .builds
        .set_default_status(BuildStatus::Failed);
    created(&runtime, POOL);
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(
        state(&runtime, POOL),
        Some(State::Quarantined.as_str().to_owned()),
        "{steps:#?}"
    );
    assert_eq!(summary.builds_started, 2, "max_attempts is 2");
    assert!(
        runtime
            .inner()
            .store
            .labels_for(POOL)
            .iter()
            .any(|l| l.as_str() == "BuildFailed")
    );
}

#[tokio::test]
async fn a_build_that_never_ends_stops_the_run_with_a_reason() {
    let runtime = runtime();
    let settings = settings();
    created(&runtime, POOL);
    let handler = LocalHandler::new(&settings);
    let limits = Limits {
        polls: 3,
        poll_interval: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let error = runtime
        .run_until_idle(&handler, limits, |_| {})
        .await
        .expect_err("stuck");
    assert_eq!(error, RunError::BuildsStillRunning(1, 3));
}

#[tokio::test]
async fn a_throttled_build_status_is_polled_again_not_the_end_of_the_run() {
    let runtime = runtime();
    let settings = settings();
    runtime
        .inner()
        .builds
        .set_default_status(BuildStatus::Succeeded);
    runtime.inner().builds.fail_status(
        spa_usecases::ports::PortError::Unavailable {
            service: "codebuild".into(),
            message: "BatchGetBuilds: ThrottlingException: Rate exceeded".into(),
        },
        2,
    );
    created(&runtime, POOL);
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(
        state(&runtime, POOL).as_deref(),
        Some("prepared"),
        "{steps:#?}"
    );
    assert_eq!(summary.failed, 0);
    assert!(runtime.pending().is_idle());
}

#[tokio::test]
async fn a_build_status_denied_still_stops_the_run() {
    let runtime = runtime();
    let settings = settings();
    runtime.inner().builds.fail_status(
        spa_usecases::ports::PortError::Denied {
            service: "codebuild".into(),
            action: "BatchGetBuilds".into(),
            message: "AccessDenied".into(),
        },
        1,
    );
    created(&runtime, POOL);
    let handler = LocalHandler::new(&settings).with_retry(Retry::immediate(1));
    let error = runtime
        .run_until_idle(&handler, Limits::default(), |_| {})
        .await
        .expect_err("denied");
    assert!(matches!(error, RunError::Watch { .. }), "{error:?}");
}

#[tokio::test]
async fn pending_deliveries_are_handled_without_waiting_for_builds() {
    let runtime = runtime();
    let settings = settings();
    runtime
        .inner()
        .builds
        .set_default_status(BuildStatus::Succeeded);
    created(&runtime, POOL);
    let handler = LocalHandler::new(&settings).with_retry(Retry::immediate(1));
    let limits = Limits {
        poll_interval: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let mut steps = Vec::new();
    let summary = runtime
        .run_pending(&handler, limits, |step| steps.push(step.clone()))
        .await
        .expect("handled");
    // the event, then the relay of what its turn wrote in the outbox
    assert_eq!(summary.handled, 2, "{steps:#?}");
    assert_eq!(steps[1].function, Function::Relay);
    assert_eq!(
        steps[1].result.as_deref(),
        Ok("555555555555 AccountVended, BuildStarted put on the bus"),
        "{steps:#?}"
    );
    assert_eq!(summary.events_published, 2);
    assert_eq!(summary.builds_started, 1);
    assert_eq!(state(&runtime, POOL).as_deref(), Some("vended"));
    assert!(
        !runtime.pending().is_idle(),
        "the build stays watched: its end is not polled"
    );
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(
        summary.handled, 2,
        "then its end is delivered, and its turn's events relayed: {steps:#?}"
    );
    assert_eq!(steps[1].function, Function::Relay);
    assert_eq!(state(&runtime, POOL).as_deref(), Some("prepared"));
    assert!(runtime.pending().is_idle());
}

#[tokio::test]
async fn a_dead_letter_is_archived_raised_and_handed_on_to_the_exceptions_function() {
    let runtime = runtime();
    let settings = settings();
    let command = spa_core::events::AccountCommand::new(
        "operator-1",
        "SpaLocal",
        AccountId::parse(JANE).unwrap(),
        spa_core::events::Action::Expire,
        t0(),
        "operator",
    );
    let event = serde_json::json!({"Records": [{
        "messageId": "m-1",
        "body": command.to_json(),
        "attributes": {"SentTimestamp": t0().timestamp_millis().to_string()},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:SpaLocal-commands-dlq",
    }]});
    runtime.deliver(Function::DeadLetters, event, "dead letter m-1");
    let (summary, steps) = run(&runtime, &settings).await;
    assert_eq!(summary.failed, 0, "{steps:#?}");
    let functions: Vec<Function> = steps.iter().map(|s| s.function).collect();
    assert_eq!(
        functions,
        vec![Function::DeadLetters, Function::Exceptions],
        "the DeadLetter goes through the bus's rule to the exceptions function"
    );
    assert_eq!(
        runtime.inner().objects.keys(),
        ["dead-letters/2026/11/21/SpaLocal-commands-dlq/m-1.json"]
    );
    assert!(
        runtime
            .inner()
            .store
            .labels_for(JANE)
            .contains(&spa_core::events::Label::DeadLetter)
    );
}

#[test]
fn two_runtimes_never_make_the_same_id() {
    // a second `spa handle --follow` on the same emulator: its ids must be new to the
    // store the first one filled, or its events and build results read as duplicates
    let (first, second) = (Pending::default(), Pending::default());
    let ids =
        |pending: &Pending| -> Vec<String> { (0..3).map(|_| pending.next_id("build")).collect() };
    let (a, b) = (ids(&first), ids(&second));
    assert!(a.iter().all(|id| !b.contains(id)), "{a:?} {b:?}");
    assert!(
        a[0].starts_with("local-build-") && a[0].ends_with("-00000001"),
        "{a:?}"
    );
    assert_ne!(a[0], a[1]);
}

/// The runtime plays the table's stream: each new outbox item is one record, a
/// hundred to a relay delivery at most; an item a resumed turn writes again makes
/// none (DynamoDB streams nothing for a write that changes nothing).
#[tokio::test]
async fn the_outbox_reaches_the_relay_once_a_hundred_records_a_batch() {
    use spa_usecases::ports::{AccountCache, Ended, TurnEnd, TurnWrites, WriterLeases};
    let runtime = runtime();
    let account = AccountId::parse(JANE).unwrap();
    let event = |n: u32| {
        DomainEvent::new(
            spa_core::events::Label::LeaseChanged,
            "SpaLocal",
            account.clone(),
            t0(),
        )
        .keyed(&format!("cause-{n}"))
    };
    let end = TurnEnd::Done;
    let cache = AccountCache::default();
    let store = runtime.platform().store();
    for events in [
        (0..150).map(event).collect::<Vec<_>>(),
        // a resumed turn writes three of them again, and one new
        vec![event(0), event(1), event(2), event(150)],
    ] {
        let writes = TurnWrites {
            events,
            ..TurnWrites::default()
        };
        store
            .free_writer(
                &account,
                &cache,
                Ended {
                    cause: "c",
                    claims: false,
                    end: &end,
                    expired: &[],
                    at: t0(),
                    writes: &writes,
                },
            )
            .await
            .expect("freed");
    }
    let mut sizes = Vec::new();
    let mut sequences = Vec::new();
    while let Some(delivery) = runtime.pending().pop() {
        assert_eq!(delivery.function, Function::Relay);
        let records = delivery.event["Records"].as_array().unwrap().clone();
        assert_eq!(
            delivery.summary,
            format!("{} event(s) of the outbox", records.len())
        );
        sizes.push(records.len());
        sequences.extend(
            records
                .iter()
                .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(sizes, [100, 51]);
    let mut sorted = sequences.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, sequences, "one record each, in stream order");
}
