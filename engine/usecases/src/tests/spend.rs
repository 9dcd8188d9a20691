//! The spend guard as a holder and SRE see it: four `p4d.24xlarge` started in an
//! assigned account freeze it within that one handling, raise `SpendProjected` with
//! the burn report and tell the holder; delivered again, nothing twice.

use std::collections::BTreeSet;

use super::*;
use crate::ports::SpendLedgers;
use spa_core::events::{Label, decode_str};

pub(super) const RUN: &str = include_str!("../../../../fixtures/events/ec2-run-instances.json");
const TERMINATE: &str = include_str!("../../../../fixtures/events/ec2-terminate-instances.json");

/// The test settings with the spend guard on the sandbox unit: `thresholds` as YAML.
pub(super) fn world(thresholds: &str) -> World {
    let mut world = World::new();
    let text = SETTINGS.replace(
        "    lease: 30d\n",
        &format!("    lease: 30d\n    spend_guard:\n      feature: enabled\n      thresholds: {thresholds}\n"),
    );
    world.settings = load("settings.yaml", &text, &MemorySources::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .settings;
    world
}

/// A forwarded call of the fixtures, made in `account`.
pub(super) fn call(text: &str, account: &str) -> Incoming {
    decode_str(&text.replace("222222222222", account)).unwrap()
}

pub(super) async fn assigned(world: &World) {
    world.onboard(NESTED).await;
    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JANE)]))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
}

#[tokio::test]
async fn four_p4d_freeze_an_assigned_account_within_the_one_handling() {
    let world = world("[{when: hourly_burn, over: 100, actions: [tell_holder, raise, freeze]}]");
    assigned(&world).await;
    let run = call(RUN, NESTED);
    let outcome = world.outcome(&run).await;
    assert_eq!(outcome.verdict, Verdict::Applied, "{outcome:?}");
    assert_eq!(
        (outcome.from, outcome.to),
        (state("assigned"), state("frozen"))
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("frozen"));
    assert_eq!(
        world.platform.organization.policies_of(NESTED),
        ["SpaTest-Freeze"]
    );
    let published = world.platform.bus.published();
    let raised = published
        .iter()
        .find(|e| e.label == Label::SpendProjected)
        .expect("SpendProjected");
    let reason = raised.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("hourly burn 131.0904 USD is over 100 USD."),
        "{reason}"
    );
    assert!(
        reason.contains("p4d.24xlarge `i-0p4d000000000001`"),
        "{reason}"
    );
    assert!(
        raised.facts.contains_key("notify_holder"),
        "the holder is told: {raised:?}"
    );
    // the ledger holds what runs
    let ledger = world.platform.store.ledger(&id(NESTED)).await.unwrap();
    assert_eq!(ledger.len(), 4);

    // delivered again: nothing twice
    let again = world.outcome(&run).await;
    assert!(
        matches!(again.verdict, Verdict::Seen | Verdict::Rejected(_)),
        "{again:?}"
    );
    let raised_twice = world
        .platform
        .bus
        .published()
        .iter()
        .filter(|e| e.label == Label::SpendProjected)
        .count();
    assert_eq!(raised_twice, 1);

    // terminated meanwhile: the ledger follows; an operator gives the account back
    let terminate = world.outcome(&call(TERMINATE, NESTED)).await;
    assert!(
        matches!(terminate.verdict, Verdict::Ignored(_)),
        "{terminate:?}"
    );
    let unfreeze = world.command(NESTED, Action::Unfreeze);
    let back = on_command(&world.engine(), &unfreeze).await.unwrap();
    assert_eq!(back.to, state("assigned"));
    assert!(world.platform.organization.policies_of(NESTED).is_empty());
}

#[tokio::test]
async fn under_the_line_or_without_the_guard_nothing_happens() {
    // a line above the burn: recorded in the ledger, nothing raised
    let world = world("[{when: hourly_burn, over: 1000, actions: [freeze]}]");
    assigned(&world).await;
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("under every threshold")),
        "{outcome:?}"
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));

    // an account spa does not manage
    let outside = world.outcome(&call(RUN, OUTSIDE)).await;
    assert_eq!(outside.verdict, Verdict::Unmanaged);

    // the guard off (the default): ignored, nothing stored
    let off = World::new();
    off.onboard(NESTED).await;
    let ignored = off.outcome(&call(RUN, NESTED)).await;
    assert!(
        matches!(ignored.verdict, Verdict::Ignored(_)),
        "{ignored:?}"
    );
    assert!(
        off.platform
            .store
            .ledger(&id(NESTED))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_pool_account_under_preparation_is_raised_not_frozen_and_tell_holder_alone_skips_the_incident()
 {
    let world = world(
        "[{when: hourly_burn, over: 100, actions: [freeze]}, {when: projected_month, over: 50, actions: [tell_holder]}]",
    );
    // vended, its preparation under way: a freeze would stop the build
    world.dispatch(&world.created(NESTED)).await;
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(outcome.events, [Label::SpendProjected], "{outcome:?}");
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    let raised = world
        .platform
        .bus
        .published()
        .into_iter()
        .find(|e| e.label == Label::SpendProjected)
        .unwrap();
    // freeze could not, so it is raised (incident and channels); tell_holder too
    assert!(raised.facts.contains_key("notify_holder"));
    assert!(!raised.facts.contains_key(crate::on_spending::HOLDER_ONLY));
}

#[tokio::test]
async fn a_forged_call_about_another_account_is_refused() {
    let forged = RUN.replace(
        "\"recipientAccountId\": \"222222222222\"",
        "\"recipientAccountId\": \"111111111111\"",
    );
    let error = decode_str(&forged).unwrap_err();
    assert!(error.is_refused(), "{error}");
}

#[tokio::test]
async fn a_known_account_costs_no_organizations_call() {
    let world = world("[{when: hourly_burn, over: 1000, actions: [freeze]}]");
    assigned(&world).await;
    let organization = &world.platform.organization;
    let before = organization.calls.of("ancestors");
    world.outcome(&call(RUN, NESTED)).await;
    world.outcome(&call(TERMINATE, NESTED)).await;
    assert_eq!(
        organization.calls.of("ancestors"),
        before,
        "the place comes from the writer's cache"
    );
}

#[tokio::test]
async fn the_month_so_far_comes_from_cost_explorer_once_a_day_and_is_never_taken_for_zero() {
    let world = world("[{when: actual_month, over: 500, actions: [raise]}]");
    assigned(&world).await;
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let costs = &world.platform.cost_source;
    costs.add_daily(day(2), NESTED, "Amazon EC2", 300.0);
    costs.add_daily(day(3), NESTED, "Amazon EC2", 300.0);
    // another account's month, and today's incomplete day, are not counted
    costs.add_daily(day(3), OUTSIDE, "Amazon EC2", 9000.0);
    costs.add_daily(day(21), NESTED, "Amazon EC2", 9000.0);
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(outcome.events, [Label::SpendProjected], "{outcome:?}");
    let raised = world
        .platform
        .bus
        .published()
        .into_iter()
        .find(|e| e.label == Label::SpendProjected)
        .unwrap();
    let reason = raised.reason.unwrap_or_default();
    assert!(
        reason.starts_with("actual month 600.00 USD is over 500 USD.")
            && reason.contains("Cost Explorer: 600.00 USD this month before 2026-11-21."),
        "{reason}"
    );
    // the same day: Cost Explorer is not asked again
    world.outcome(&call(TERMINATE, NESTED)).await;
    assert_eq!(costs.calls.of("period_costs"), 1);

    // Cost Explorer down and nothing kept: the line is not judged, never taken for 0
    let down = self::world("[{when: actual_month, over: 0.01, actions: [raise]}]");
    assigned(&down).await;
    down.platform.cost_source.faults.fail(
        "period_costs",
        crate::ports::PortError::Unavailable {
            service: "ce".into(),
            message: "throttled".into(),
        },
        10,
    );
    let outcome = down.outcome(&call(RUN, NESTED)).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("under every threshold")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_refused_freeze_whose_raise_died_is_raised_by_the_next_delivery_once() {
    let world = world("[{when: hourly_burn, over: 100, actions: [freeze]}]");
    // vended, its preparation under way: the freeze is refused, the line raised
    world.dispatch(&world.created(NESTED)).await;
    let Incoming::Spending(run) = call(RUN, NESTED) else {
        panic!("a spending call")
    };
    // the bus is down for the whole first delivery: the raise does not get out
    world.platform.bus.faults.fail(
        "publish",
        crate::ports::PortError::Unavailable {
            service: "events".into(),
            message: "down".into(),
        },
        3,
    );
    let first = crate::on_spending::on_spending(&world.engine(), &run).await;
    assert!(first.is_err_and(|e| e.is_transient()));
    let raised = || {
        world
            .platform
            .bus
            .published()
            .iter()
            .filter(|e| e.label == Label::SpendProjected)
            .count()
    };
    assert_eq!(raised(), 0);
    // delivered again: the freeze is a claim seen before, refused; the raise goes out
    let again = crate::on_spending::on_spending(&world.engine(), &run)
        .await
        .unwrap();
    assert_eq!(again.events, [Label::SpendProjected], "{again:?}");
    assert_eq!(raised(), 1);
    // and once only
    let third = crate::on_spending::on_spending(&world.engine(), &run)
        .await
        .unwrap();
    assert_eq!(third.verdict, Verdict::Seen);
    assert_eq!(raised(), 1);
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
}

#[tokio::test]
async fn a_burn_over_the_lease_left_purges_early_once_and_the_holder_keeps_the_account() {
    // 131 USD an hour over a 30-day lease is far over 500; the pool account has no lease
    let pool = world("[{when: projected_lease, over: 1, actions: [purge_early]}]");
    let world = world("[{when: projected_lease, over: 500, actions: [purge_early]}]");
    // assigned an hour before the call (the fixture's instant): 30 days left
    let before = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
    world.platform.clock.set(before);
    assigned(&world).await;
    let run = call(RUN, NESTED);
    let outcome = world.outcome(&run).await;
    assert_eq!(
        world.state(NESTED).as_deref(),
        Some("expired"),
        "{outcome:?}"
    );
    assert_eq!(
        world.tag(NESTED, "account-holder").as_deref(),
        Some(JANE),
        "the holder keeps it"
    );
    let raised: Vec<_> = world
        .platform
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::SpendProjected)
        .collect();
    assert_eq!(raised.len(), 1, "purging early raises");
    let reason = raised[0].reason.clone().unwrap_or_default();
    assert!(reason.starts_with("projected lease "), "{reason}");
    // delivered again: one purge, one raise
    world.outcome(&run).await;
    let purges = world
        .platform
        .builds
        .started_in(NESTED)
        .into_iter()
        .filter(|(request, _)| request.kind == spa_core::lifecycle::BuildKind::Purge)
        .count();
    assert_eq!(purges, 1);
    let raised_twice = world
        .platform
        .bus
        .published()
        .iter()
        .filter(|e| e.label == Label::SpendProjected)
        .count();
    assert_eq!(raised_twice, 1);

    // an account in the pool has no holder, so no lease: the line is not judged
    pool.platform.clock.set(before);
    pool.onboard(NESTED).await;
    let ignored = pool.outcome(&call(RUN, NESTED)).await;
    assert!(
        matches!(ignored.verdict, Verdict::Ignored(_)),
        "{ignored:?}"
    );
    assert_eq!(pool.state(NESTED).as_deref(), Some("prepared"));
}

/// The four instances of the fixture's `RunInstances`, running in `account`.
const P4D: [&str; 4] = [
    "i-0p4d000000000001",
    "i-0p4d000000000002",
    "i-0p4d000000000003",
    "i-0p4d000000000004",
];

fn running(world: &World, account: &str, id: &str) {
    world.platform.scans.add_instance(
        account,
        "us-east-1",
        crate::ports::Instance {
            instance_id: id.to_owned(),
            private_ip: None,
            state: "running".to_owned(),
            name: None,
            instance_type: Some("p4d.24xlarge".to_owned()),
        },
    );
}

/// The fixture's four p4d.24xlarge, running in the nested account.
fn four_p4d_running(world: &World) {
    for id in P4D {
        running(world, NESTED, id);
    }
}

/// The four are stopping (`when`: after what, for the failure).
fn assert_stopping(world: &World, when: &str) {
    for id in P4D {
        assert_eq!(
            instance_state(world, NESTED, id).as_deref(),
            Some("stopping"),
            "{when} {id}"
        );
    }
}

fn instance_state(world: &World, account: &str, id: &str) -> Option<String> {
    world
        .platform
        .scans
        .instance_state(account, "us-east-1", id)
}

fn spend_projected(world: &World) -> Vec<spa_core::events::DomainEvent> {
    world
        .platform
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::SpendProjected)
        .collect()
}

/// An entry of the ledger: `kind` `id` alive since 09:00, or ended at 09:30.
fn entry(
    kind: spa_core::spend::Kind,
    id: &str,
    type_name: &str,
    ended: bool,
) -> spa_core::spend::Entry {
    let since = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap();
    spa_core::spend::Entry {
        resource: spa_core::spend::Resource {
            kind,
            id: id.to_owned(),
            type_name: type_name.to_owned(),
            region: "us-east-1".to_owned(),
            count: 1,
            since,
            until: None,
        },
        ended: ended.then(|| since + chrono::TimeDelta::minutes(30)),
        changed: since,
    }
}

#[tokio::test]
async fn a_stop_line_stops_the_running_instances_of_the_ledger_and_names_the_rest_once() {
    let world = world("[{when: hourly_burn, over: 100, actions: [stop]}]");
    assigned(&world).await;
    four_p4d_running(&world);
    // an instance the ledger says ended (its StopInstances came back), and a database
    running(&world, NESTED, "i-0ended00000000001");
    use spa_core::spend::Kind;
    world
        .platform
        .store
        .write_ledger(
            &id(NESTED),
            &[
                entry(
                    Kind::Ec2Instance,
                    "i-0ended00000000001",
                    "p4d.24xlarge",
                    true,
                ),
                entry(Kind::DbInstance, "orders", "db.r6g.large", false),
            ],
        )
        .await
        .unwrap();
    let run = call(RUN, NESTED);
    let outcome = world.outcome(&run).await;
    assert_eq!(outcome.events, [Label::SpendProjected], "{outcome:?}");
    assert_stopping(&world, "");
    assert_eq!(
        instance_state(&world, NESTED, "i-0ended00000000001").as_deref(),
        Some("running"),
        "an ended entry is not stopped again"
    );
    assert_eq!(world.platform.scans.calls.of("stop_instance"), 4);
    assert_eq!(
        world.state(NESTED).as_deref(),
        Some("assigned"),
        "stop alone does not freeze"
    );
    let raised = spend_projected(&world);
    assert_eq!(raised.len(), 1, "stop raises");
    let reason = raised[0].reason.clone().unwrap_or_default();
    assert!(reason.starts_with("hourly burn "), "{reason}");
    assert!(
        reason
            .contains("Stopped 4 EC2 instances: `i-0p4d000000000001` in us-east-1 (was running);"),
        "{reason}"
    );
    assert!(
        reason.contains("Not stopped (1): RDS DB instance `orders` in us-east-1: spa does not stop RDS DB instances: a freeze or purge_early does."),
        "{reason}"
    );

    // delivered again: nothing stopped twice, nothing told twice
    let again = world.outcome(&run).await;
    assert_eq!(again.verdict, Verdict::Seen, "{again:?}");
    assert_eq!(world.platform.scans.calls.of("stop_instance"), 4);
    assert_eq!(spend_projected(&world).len(), 1);
}

#[tokio::test]
async fn one_instance_that_cannot_be_stopped_keeps_none_of_the_others_running_and_another_account_is_never_touched()
 {
    let world = world("[{when: hourly_burn, over: 100, actions: [stop]}]");
    assigned(&world).await;
    // 1 runs; 2 is a one-time Spot Instance; 3 is not there (gone); 4 is another
    // account's instance, whose id the holder's ledger names
    running(&world, NESTED, P4D[0]);
    running(&world, NESTED, P4D[1]);
    world.platform.scans.refuse_stop(
        P4D[1],
        crate::ports::PortError::Rejected {
            service: "ec2".into(),
            action: "StopInstances".into(),
            message: format!("UnsupportedOperation: You can't stop the Spot Instance '{}' because it is associated with a one-time Spot Instance request.", P4D[1]),
        },
    );
    running(&world, OUTSIDE, P4D[3]);
    // EC2 throttles the first stop: tried again
    world.platform.scans.faults.fail(
        "stop_instance",
        crate::ports::PortError::Unavailable {
            service: "ec2".into(),
            message: "RequestLimitExceeded".into(),
        },
        1,
    );
    let outcome = world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(outcome.events, [Label::SpendProjected], "{outcome:?}");
    assert_eq!(
        instance_state(&world, NESTED, P4D[0]).as_deref(),
        Some("stopping")
    );
    assert_eq!(
        instance_state(&world, NESTED, P4D[1]).as_deref(),
        Some("running")
    );
    assert_eq!(
        instance_state(&world, OUTSIDE, P4D[3]).as_deref(),
        Some("running"),
        "another account's instance is never stopped"
    );
    let reason = spend_projected(&world)[0]
        .reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("Stopped 1 EC2 instance: `i-0p4d000000000001`"),
        "{reason}"
    );
    assert!(reason.contains("Not stopped (3):"), "{reason}");
    assert!(
        reason.contains("`i-0p4d000000000002` in us-east-1: EC2 refused: UnsupportedOperation: You can't stop the Spot Instance"),
        "{reason}"
    );
    for gone in [P4D[2], P4D[3]] {
        assert!(
            reason.contains(&format!(
                "`{gone}` in us-east-1: no such instance in this account and region"
            )),
            "{gone}: {reason}"
        );
    }
}

#[tokio::test]
async fn stop_and_freeze_stops_what_runs_then_freezes_and_the_freeze_tells_what_was_stopped() {
    let world = world("[{when: hourly_burn, over: 100, actions: [stop, freeze]}]");
    assigned(&world).await;
    four_p4d_running(&world);
    let run = call(RUN, NESTED);
    let outcome = world.outcome(&run).await;
    assert_eq!(outcome.to, state("frozen"), "{outcome:?}");
    assert_stopping(&world, "");
    let raised = spend_projected(&world);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let reason = raised[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("Stopped 4 EC2 instances:"), "{reason}");
    let again = world.outcome(&run).await;
    assert_eq!(again.verdict, Verdict::Seen, "{again:?}");
    assert_eq!(world.platform.scans.calls.of("stop_instance"), 4);
    assert_eq!(spend_projected(&world).len(), 1);
}

#[tokio::test]
async fn stop_and_purge_early_stops_now_and_purges() {
    let world = world("[{when: hourly_burn, over: 100, actions: [purge_early, stop]}]");
    assigned(&world).await;
    four_p4d_running(&world);
    world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));
    assert_stopping(&world, "");
    let raised = spend_projected(&world);
    assert_eq!(raised.len(), 1);
    assert!(
        raised[0]
            .reason
            .clone()
            .unwrap_or_default()
            .contains("Stopped 4 EC2 instances:")
    );
}

#[test]
fn a_stop_killed_at_any_step_stops_each_instance_and_tells_it_once() {
    use crate::ports::memory::crash::{self, Crash};
    use std::panic::AssertUnwindSafe;

    let deliver = |world: &World, at: Option<usize>| -> Result<usize, Crash> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let incoming = call(RUN, NESTED);
        crash::arm(at);
        let engine = world.engine();
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(dispatch(&engine, &incoming))
        }));
        let steps = crash::disarm();
        match run {
            Ok(Ok(dispatched)) => {
                assert!(dispatched.batch_item_failures.is_empty(), "{dispatched:#?}");
                Ok(steps)
            }
            Ok(Err(error)) => panic!("the delivery failed: {error}"),
            Err(payload) => match payload.downcast::<Crash>() {
                Ok(crash) => Err(*crash),
                Err(other) => std::panic::resume_unwind(other),
            },
        }
    };
    let ready = || {
        let world = world("[{when: hourly_burn, over: 100, actions: [stop, raise]}]");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(assigned(&world));
        four_p4d_running(&world);
        world
    };
    let reference = ready();
    let steps = deliver(&reference, None).expect("no crash armed");
    // the step of the note of what was stopped: the first `note` after the stops
    let noted_at = (0..steps)
        .find(|&at| {
            let world = ready();
            let crash = deliver(&world, Some(at)).expect_err("killed");
            crash.before == "note" && world.platform.scans.calls.of("stop_instance") == 4
        })
        .expect("the stop is noted");
    let told = spend_projected(&reference);
    assert_eq!(told.len(), 1);
    let mut killed_before = BTreeSet::new();
    for at in 0..steps {
        let world = ready();
        let crash = deliver(&world, Some(at)).expect_err("killed");
        killed_before.insert(crash.before);
        world.advance(chrono::TimeDelta::seconds(60));
        deliver(&world, None).expect("delivered again");
        assert_stopping(&world, &format!("killed before step {at}:"));
        // told once: a resumed delivery may publish again, under the same key, and the
        // exceptions function notifies once per key
        let raised = spend_projected(&world);
        let keys: BTreeSet<_> = raised.iter().map(|e| e.key.clone()).collect();
        assert_eq!(
            keys.len(),
            1,
            "killed before step {at} ({}): told once",
            crash.before
        );
        for event in &raised {
            let reason = event.reason.clone().unwrap_or_default();
            assert!(
                reason.contains("Stopped 4 EC2 instances:"),
                "killed before step {at}: {reason}"
            );
        }
        // stopped again only by a delivery that resumed what was not noted (EC2's stop
        // is idempotent): at most once more each, never after the note
        let stops = world.platform.scans.calls.of("stop_instance");
        assert!(stops <= 4 + 4, "killed before step {at}: {stops} stops");
        if crash.step > noted_at {
            assert_eq!(
                stops, 4,
                "killed before step {at}, after the note: {stops} stops"
            );
        }
        // a third delivery: nothing more
        let told = raised.len();
        deliver(&world, None).expect("delivered a third time");
        assert_eq!(spend_projected(&world).len(), told);
    }
    assert!(killed_before.contains("stop_instance"), "{killed_before:?}");
    assert!(killed_before.contains("note"), "{killed_before:?}");
}
