//! At-least-once, out-of-order delivery and failing ports.

use super::*;
use crate::ports::{DeadlineKind, PortError};
use spa_core::events::Label;
use spa_core::lifecycle::Rejection;

fn unavailable() -> PortError {
    PortError::Unavailable {
        service: "codebuild".into(),
        message: "throttled".into(),
    }
}

#[tokio::test]
async fn the_same_event_twice_is_seen_and_an_old_build_result_is_stale() {
    let world = World::new();
    let created = world.created(NESTED);
    world.dispatch(&created).await;
    let again = world.outcome(&created).await;
    assert_eq!(again.verdict, Verdict::Seen);
    assert_eq!(world.builds_in(NESTED), 1);

    let first = world.platform.builds.last_in(NESTED).unwrap();
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Failed))
        .await;
    assert_eq!(world.builds_in(NESTED), 2);
    // the first attempt's result, delivered once more (another event id)
    let late = world.finished_build(NESTED, &first, BuildStatus::Failed);
    let outcome = world.outcome(&late).await;
    assert!(
        matches!(outcome.verdict, Verdict::Rejected(Rejection::Stale { .. })),
        "{outcome:?}"
    );
    // a second "entered" event with another id: a duplicate
    let outcome = world.outcome(&world.created(NESTED)).await;
    assert!(
        matches!(
            outcome.verdict,
            Verdict::Rejected(Rejection::Duplicate { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(world.builds_in(NESTED), 2);
}

#[tokio::test]
async fn a_build_that_cannot_start_is_retried_then_the_event_comes_back() {
    let world = World::new();
    world.platform.builds.fail_starts(unavailable(), 3);
    let created = world.created(NESTED);
    let error = dispatch(&world.engine(), &created).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(world.platform.builds.calls.of("start_build"), 3);
    assert_eq!(world.builds_in(NESTED), 0);
    let Incoming::Organizations(event) = &created else {
        unreachable!()
    };
    assert!(
        !world
            .platform
            .store
            .is_claimed(event.record.event_id.as_str())
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    // the events of the transition went out anyway
    assert_eq!(
        world.platform.bus.labels_for(NESTED),
        [Label::AccountVended]
    );

    // Lambda delivers the event again: the build decided then starts now, once
    let outcome = world.outcome(&created).await;
    assert_eq!(outcome.verdict, Verdict::Resumed);
    assert_eq!(world.builds_in(NESTED), 1);
    assert!(world.tag(NESTED, "account-build").is_some());
    assert_eq!(
        world.platform.bus.labels_for(NESTED),
        [Label::AccountVended, Label::BuildStarted]
    );
    let outcome = world.outcome(&created).await;
    assert_eq!(outcome.verdict, Verdict::Seen);
    assert_eq!(world.builds_in(NESTED), 1);
}

#[tokio::test]
async fn a_transient_failure_is_retried_within_the_invocation() {
    let world = World::new();
    world.platform.builds.fail_starts(unavailable(), 2);
    world
        .platform
        .organization
        .faults
        .fail("change_tags", unavailable(), 1);
    let outcome = world.outcome(&world.created(NESTED)).await;
    assert_eq!(outcome.verdict, Verdict::Applied);
    assert_eq!(world.builds_in(NESTED), 1);
}

#[tokio::test]
async fn a_build_refused_for_good_raises_build_failed() {
    let world = World::new();
    world.platform.builds.fail_starts(
        PortError::Denied {
            service: "sts".into(),
            action: "AssumeRole".into(),
            message: "no member role".into(),
        },
        1,
    );
    let error = dispatch(&world.engine(), &world.created(NESTED))
        .await
        .unwrap_err();
    assert!(!error.is_transient());
    assert_eq!(
        world.platform.builds.calls.of("start_build"),
        1,
        "no retry of a refusal"
    );
    assert!(
        world
            .platform
            .store
            .labels_for(NESTED)
            .contains(&Label::BuildFailed)
    );
}

#[tokio::test]
async fn a_batch_reports_only_its_failed_records() {
    let world = World::new();
    world.onboard(NESTED).await;
    world.onboard(NO_BUILDS).await;
    let good = world.command(
        NESTED,
        Action::Assign {
            holder: JANE.into(),
        },
    );
    let flaky = world.command(
        NO_BUILDS,
        Action::Assign {
            holder: JANE.into(),
        },
    );
    let other = AccountCommand {
        environment: "Elsewhere".into(),
        ..world.command(NESTED, Action::Reset)
    };
    let mut incoming = batch(vec![good, flaky, other]);
    let Incoming::Commands(commands) = &mut incoming else {
        unreachable!()
    };
    commands.records.push(CommandRecord {
        message_id: Some("m-bad".into()),
        command: Err(spa_core::events::DecodeError::Missing {
            path: "Records[3].body".into(),
            expected: "an account command".into(),
        }),
    });
    let engine = world.engine();
    let dispatched = {
        // the first record passes; then the second's tags cannot be read, even after
        // 3 tries; the third is of another environment (failed for good: handed back,
        // so that it ends in the dead-letter queue); the fourth did not decode
        let first = commands.records[0].command.clone().unwrap();
        on_command(&engine, &first).await.unwrap();
        world
            .platform
            .organization
            .faults
            .fail("tags", unavailable(), 3);
        let rest = Incoming::Commands(CommandBatch {
            records: commands.records[1..].to_vec(),
        });
        dispatch(&engine, &rest).await.unwrap()
    };
    assert_eq!(dispatched.batch_item_failures, ["m-1", "m-2", "m-bad"]);
    assert_eq!(engine.troubles().get("PermanentFailures"), Some(&1));
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(world.state(NO_BUILDS).as_deref(), Some("prepared"));
}

#[tokio::test]
async fn a_command_of_another_environment_is_refused() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    let command = AccountCommand {
        environment: "Production".into(),
        ..world.command(NESTED, Action::Expire)
    };
    let error = on_command(&world.engine(), &command).await.unwrap_err();
    assert!(!error.is_transient());
    assert!(
        error.to_string().contains("environment `Production`"),
        "{error}"
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    // in a batch: handed back, so that it rests in the dead-letter queue (archived,
    // raised as DeadLetter) rather than vanish
    let dispatched = world.dispatch(&batch(vec![command])).await;
    assert_eq!(dispatched.batch_item_failures, ["m-0"]);
}

#[tokio::test]
async fn own_events_and_other_jobs_are_not_errors() {
    let world = World::new();
    let outcome = world.outcome(&world.job(Job::AccessKeyScan)).await;
    assert!(
        matches!(outcome.verdict, Verdict::Ignored(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_turn_whose_end_cannot_be_written_is_resumed_once_its_lease_runs_out() {
    let world = World::new();
    let down = PortError::Unavailable {
        service: "dynamodb".into(),
        message: "throttled".into(),
    };
    // the records, the deadline and the end of the turn go in one write, which fails
    world.platform.store.faults.fail("free_writer", down, 3);
    let created = world.created(NESTED);
    let error = dispatch(&world.engine(), &created).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(world.platform.store.recorded_for(NESTED).is_empty());
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Onboarding),
        None
    );
    assert_eq!(world.builds_in(NESTED), 1);
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    // the lease is left to run out: a delivery before is told to come back
    let busy = dispatch(&world.engine(), &created).await.unwrap_err();
    assert!(busy.is_transient(), "{busy}");
    world.advance(TimeDelta::minutes(16));
    // the next one resumes: the records and the deadline written once, no build twice
    world.dispatch(&created).await;
    assert_eq!(
        world.platform.store.labels_for(NESTED),
        [Label::AccountVended, Label::BuildStarted]
    );
    assert!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Onboarding)
            .is_some()
    );
    assert_eq!(world.builds_in(NESTED), 1);
    assert_eq!(world.outcome(&created).await.verdict, Verdict::Seen);
}
