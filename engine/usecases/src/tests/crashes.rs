//! *Any step may be the last*: every reaction of an account's whole cycle is killed
//! before each of its steps, then delivered again, on 30 accounts (1,000 in `make
//! resilience`).
//!
//! Two worlds receive the same events in the same order: the reference runs each
//! delivery through; the other dies before the n-th step of it (n = the account's
//! index modulo the steps the reference took, so that every step of every delivery
//! is a crash point for some account), then gets it again once the claim's lease ran
//! out. After each delivery the account's tags must be the reference's; at the end,
//! the same builds (one per build-starting transition, one idempotency token each),
//! the same activities, deadlines and events (a resumed delivery may publish an
//! event again, under the same key), and the same notices: every event handed to
//! the `exceptions` function, which notifies once per key.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;

use super::*;
use crate::ports::memory::crash::{self, Crash};
use spa_core::events::{DomainEvent, Label, SpaEvent};
use spa_core::lifecycle::BuildStatus;

fn account(n: usize) -> String {
    format!("4{n:011}")
}

/// The world of the exceptions tests (budgets, Incident Manager, Slack, Teams and
/// e-mail routed), with `accounts` accounts in the sandbox unit.
fn world(accounts: usize) -> World {
    let world = super::exceptions::world();
    for n in 0..accounts {
        world
            .org()
            .add_account(&account(n), &format!("sandbox-{n}"), "ou-ab12-sandbox1");
    }
    world
}

/// Runs the dispatch of `incoming` on this thread, dying before step `at`; the
/// steps taken, or the crash.
fn deliver(
    world: &World,
    incoming: &Incoming,
    at: Option<usize>,
) -> Result<(Dispatched, usize), Crash> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    crash::arm(at);
    let engine = world.engine();
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(dispatch(&engine, incoming))
    }));
    let steps = crash::disarm();
    match run {
        Ok(Ok(dispatched)) => Ok((dispatched, steps)),
        Ok(Err(error)) => panic!("the delivery failed: {error}"),
        Err(payload) => match payload.downcast::<Crash>() {
            Ok(crash) => Err(*crash),
            Err(other) => std::panic::resume_unwind(other),
        },
    }
}

/// The event of `phase` for `account`, made alike in either world.
fn event_of(world: &World, phase: usize, account: &str) -> Incoming {
    match phase {
        0 => world.created(account),
        2 => world.tagged(account, &[("account-holder", JANE)]),
        3 => batch(vec![world.command(account, Action::MaintenanceWindow)]),
        // an exception: an incident, chat, e-mail, and the holder told
        6 => super::exceptions::budget_alert(world, account, &world.fresh()),
        // the spend guard's freeze (policy attached, exception raised), then back
        7 => batch(vec![world.command(
            account,
            Action::Freeze {
                reason: "4 p4d.24xlarge: 131.09 USD an hour".into(),
            },
        )]),
        8 => batch(vec![world.command(account, Action::Unfreeze)]),
        _ => world.finished(account, BuildStatus::Succeeded),
    }
}

/// What the outside sees of a world, besides the tags.
fn builds(world: &World) -> Vec<(String, String, String)> {
    world
        .platform
        .builds
        .started()
        .into_iter()
        .map(|(request, id)| {
            (
                request.account.to_string(),
                request.idempotency_token,
                id.to_string(),
            )
        })
        .collect()
}

fn keys(events: &[DomainEvent]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e.key.clone().unwrap_or_else(|| format!("unkeyed {e:?}")))
        .collect()
}

fn activities(world: &World) -> BTreeSet<(String, Label, Option<String>)> {
    world
        .platform
        .store
        .recorded()
        .into_iter()
        .map(|a| (a.account.to_string(), a.label, a.cause))
        .collect()
}

/// What reached people: chat posts, e-mails, incidents.
fn reached(world: &World) -> (usize, usize, usize) {
    (
        world.platform.webhooks.posted().len(),
        world.platform.mail.sent().len(),
        world.platform.incidents.started().len(),
    )
}

/// Hands every published event to the `exceptions` function: how many were notified,
/// how many taken for a notice already sent.
fn notices(world: &World) -> (usize, usize) {
    let (mut notified, mut seen) = (0, 0);
    for event in world.platform.bus.published() {
        let incoming = Incoming::Spa(SpaEvent {
            event_id: EventId::eventbridge(&world.fresh()),
            sender: id("123456789012"),
            event,
        });
        let (dispatched, _) = deliver(world, &incoming, None).expect("no crash armed");
        for outcome in dispatched.outcomes {
            match outcome.verdict {
                Verdict::Notified(_) => notified += 1,
                Verdict::Seen => seen += 1,
                _ => {}
            }
        }
    }
    (notified, seen)
}

#[test]
fn a_reaction_killed_before_any_step_and_delivered_again_ends_as_if_never_killed() {
    killed_and_delivered_again(30);
}

/// `make resilience`: the same on 1,000 accounts.
#[test]
#[ignore = "1,000 accounts: `make resilience`"]
fn a_thousand_accounts_killed_and_delivered_again_end_as_if_never_killed() {
    killed_and_delivered_again(1000);
}

/// Delivers the event of `phase` to every account of both worlds, the crashed one
/// killed before one step of each delivery then delivered again: its tags must be the
/// reference's. Every step of the phase's deliveries is a crash point for some account.
fn phase_killed_and_delivered_again(
    (reference, crashed): (&World, &World),
    accounts: usize,
    phase: usize,
    event_of: fn(&World, usize, &str) -> Incoming,
    crashes: &mut BTreeMap<&'static str, usize>,
    judged_when_run: bool,
) {
    // a sweep judges at the time it runs: one killed before it wrote anything, and
    // delivered again later, writes the later instants; the rest is the reference's
    // (and so does the maintenance a sweep opens: its opening and deadline)
    let instants = [
        "account-since",
        "account-assigned-since",
        "account-transaction",
    ];
    let seen = |world: &World, account: &str| {
        let mut tags = world.org().tags_of(account);
        if judged_when_run {
            tags.retain(|key, _| !instants.contains(&key.as_str()));
        }
        tags
    };
    // past the lease of a claim (the lifecycle functions' budget)
    let after_lease = TimeDelta::seconds(60);
    {
        let mut covered = BTreeSet::new();
        let mut most = 0;
        for n in 0..accounts {
            let account = account(n);
            let event = event_of(reference, phase, &account);
            assert_eq!(event, event_of(crashed, phase, &account), "the same event");
            let (_, steps) = deliver(reference, &event, None).expect("no crash armed");
            assert!(steps > 0, "phase {phase}: no step for {account}");
            most = most.max(steps);
            let at = n % steps;
            match deliver(crashed, &event, Some(at)) {
                Err(crash) => {
                    covered.insert(crash.step);
                    *crashes.entry(crash.before).or_default() += 1;
                }
                Ok(_) => panic!("phase {phase}: {account} took fewer steps than the reference"),
            }
            reference.advance(after_lease);
            crashed.advance(after_lease);
            let (again, _) = deliver(crashed, &event, None).expect("no crash armed");
            assert!(
                again.batch_item_failures.is_empty(),
                "phase {phase}: {account} failed again: {again:#?}"
            );
            assert_eq!(
                seen(crashed, &account),
                seen(reference, &account),
                "phase {phase}: {account} killed before step {at}"
            );
            assert_eq!(
                crashed.org().policies_of(&account),
                reference.org().policies_of(&account),
                "phase {phase}: {account} killed before step {at}: the freeze policy"
            );
        }
        // every step of the deliveries of this phase was a crash point
        assert_eq!(
            covered,
            (0..most.min(accounts)).collect::<BTreeSet<_>>(),
            "phase {phase}"
        );
    }
}

fn killed_and_delivered_again(accounts: usize) {
    let reference = world(accounts);
    let crashed = world(accounts);
    let mut crashes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for phase in 0..9 {
        phase_killed_and_delivered_again(
            (&reference, &crashed),
            accounts,
            phase,
            event_of,
            &mut crashes,
            false,
        );
    }
    for n in 0..accounts {
        assert_eq!(crashed.state(&account(n)), reference.state(&account(n)));
    }
    assert_eq!(reference.state(&account(0)).as_deref(), Some("assigned"));

    // one build per build-starting transition, one token each, the same ids
    let started = builds(&crashed);
    assert_eq!(started, builds(&reference));
    let tokens: BTreeSet<_> = started.iter().map(|(_, token, _)| token).collect();
    assert_eq!(tokens.len(), started.len(), "no token used twice");
    assert_eq!(
        started.len(),
        accounts * 3,
        "preparation, purge, preparation"
    );

    // the same history, deadlines and events
    assert_eq!(activities(&crashed), activities(&reference));
    assert_eq!(
        crashed.platform.store.deadlines(),
        reference.platform.store.deadlines()
    );
    let published = crashed.platform.bus.published();
    assert_eq!(keys(&published), keys(&reference.platform.bus.published()));
    let duplicates = published.len() - keys(&published).len();
    let noticed: Vec<DomainEvent> = published
        .iter()
        .filter(|e| e.label.is_noticed())
        .cloned()
        .collect();
    let noticed_again = noticed.len() - keys(&noticed).len();
    assert!(noticed_again > 0, "some notice was published twice");

    // no notice lost, none doubled: each key is notified once
    let (notified, seen) = notices(&reference);
    assert_eq!(seen, 0);
    assert!(notified > 0);
    assert_eq!(notices(&crashed), (notified, noticed_again));
    let people = reached(&reference);
    assert!(people.0 > 0 && people.1 > 0 && people.2 > 0, "{people:?}");
    assert_eq!(reached(&crashed), people, "chat posts, e-mails, incidents");

    // the steps the issue names were each a crash point
    for step in [
        "claim",
        "take_writer",
        "note",
        "free_writer",
        "change_tags",
        "ensure_footprint",
        "start_build",
        "ensure_budget",
        "record",
        "publish",
        "complete",
    ] {
        assert!(
            crashes.contains_key(step),
            "never killed before `{step}`: {crashes:?}"
        );
    }
    eprintln!(
        "crashes by the step they came before: {crashes:?}; events published again on resume: {duplicates} ({noticed_again} of them noticed); notices: {notified}; chat posts, e-mails, incidents: {people:?}"
    );
}

/// The events of a cooldown between holders: jane's account released, purged and
/// prepared again; john tagged during the cooldown; the sweep after it gives him the
/// account.
fn cooldown_event_of(world: &World, phase: usize, account: &str) -> Incoming {
    match phase {
        0 => world.created(account),
        2 => world.tagged(account, &[("account-holder", JANE)]),
        3 => batch(vec![world.command(account, Action::Release)]),
        6 => world.tagged(account, &[("account-holder", JOHN)]),
        7 => batch(vec![world.command(account, Action::Sweep)]),
        _ => world.finished(account, BuildStatus::Succeeded),
    }
}

#[test]
fn a_holder_waiting_for_the_cooldown_is_assigned_once_whatever_the_crash() {
    let accounts = 12;
    let cooling = |world: World| {
        let mut world = world;
        for unit in &mut world.settings.organizational_units {
            unit.item.cooldown = Some(std::time::Duration::from_secs(72 * 3600));
        }
        world
    };
    let reference = cooling(world(accounts));
    let crashed = cooling(world(accounts));
    let mut crashes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for phase in 0..8 {
        if phase == 7 {
            // the cooldown is over for every account
            reference.advance(TimeDelta::hours(73));
            crashed.advance(TimeDelta::hours(73));
        }
        phase_killed_and_delivered_again(
            (&reference, &crashed),
            accounts,
            phase,
            cooldown_event_of,
            &mut crashes,
            phase == 7,
        );
        if phase == 6 {
            // john waits in the pool, the sweeper knows when to give him the account
            for n in 0..accounts {
                assert_eq!(crashed.state(&account(n)).as_deref(), Some("prepared"));
                assert!(
                    crashed
                        .platform
                        .store
                        .deadline(&account(n), crate::ports::DeadlineKind::Cooldown)
                        .is_some()
                );
            }
        }
    }
    for n in 0..accounts {
        assert_eq!(crashed.state(&account(n)).as_deref(), Some("assigned"));
        assert_eq!(
            crashed.tag(&account(n), "account-holder").as_deref(),
            Some(JOHN)
        );
    }
    assert_eq!(builds(&crashed), builds(&reference));
    assert_eq!(activities(&crashed), activities(&reference));
    // the same deadlines (john's lease counts from the sweep that gave him the account)
    let deadlines = |world: &World| {
        world
            .platform
            .store
            .deadlines()
            .into_iter()
            .map(|d| (d.account, d.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(deadlines(&crashed), deadlines(&reference));
    assert_eq!(
        keys(&crashed.platform.bus.published()),
        keys(&reference.platform.bus.published())
    );
    assert!(crashes.contains_key("change_tags"), "{crashes:?}");
}

/// The events of `spa close`: jane's account, closed by an operator, purged one last
/// time, then closed in Organizations.
fn close_event_of(world: &World, phase: usize, account: &str) -> Incoming {
    match phase {
        0 => world.created(account),
        2 => world.tagged(account, &[("account-holder", JANE)]),
        3 => batch(vec![world.command(account, Action::Close)]),
        _ => world.finished(account, BuildStatus::Succeeded),
    }
}

#[test]
fn a_close_killed_at_any_step_closes_the_account_once_and_keeps_its_history() {
    // more accounts than steps in a delivery: every step is a crash point
    let accounts = 30;
    let reference = world(accounts);
    let crashed = world(accounts);
    let mut crashes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for phase in 0..5 {
        phase_killed_and_delivered_again(
            (&reference, &crashed),
            accounts,
            phase,
            close_event_of,
            &mut crashes,
            false,
        );
    }
    for n in 0..accounts {
        assert_eq!(crashed.state(&account(n)), None);
        assert_eq!(
            crashed.platform.organization.status_of(&account(n)),
            Some(crate::ports::AccountStatus::Suspended),
            "{} closed",
            account(n)
        );
    }
    assert_eq!(builds(&crashed), builds(&reference));
    assert_eq!(
        builds(&crashed).len(),
        accounts * 2,
        "preparation, last purge"
    );
    assert_eq!(activities(&crashed), activities(&reference));
    assert!(crashed.platform.store.deadlines().is_empty());
    assert_eq!(
        keys(&crashed.platform.bus.published()),
        keys(&reference.platform.bus.published())
    );
    for step in ["change_tags", "put", "close_account", "free_writer"] {
        assert!(
            crashes.contains_key(step),
            "never killed before `{step}`: {crashes:?}"
        );
    }
}

/// The events of a pre-purge notice and its snooze: jane's account assigned, the
/// sweeper starts the dry run of its next purge, the dry run ends (the notice), jane
/// snoozes, the window leaves the account alone, the sweep at the end of the snooze
/// purges it, then it is prepared and hers again.
fn notice_event_of(world: &World, phase: usize, account: &str) -> Incoming {
    match phase {
        0 => world.created(account),
        2 => world.tagged(account, &[("account-holder", JANE)]),
        3 | 7 => batch(vec![world.command(account, Action::Sweep)]),
        5 => batch(vec![world.command(
            account,
            Action::Snooze {
                by: None,
                holder: Some(JANE.into()),
            },
        )]),
        6 => batch(vec![world.command(account, Action::MaintenanceWindow)]),
        _ => world.finished(account, BuildStatus::Succeeded),
    }
}

#[test]
fn a_notice_and_a_snooze_killed_at_any_step_tell_once_and_purge_once() {
    // 12 accounts: the phases before the window end before its 18:00 (each build end
    // takes 10 minutes)
    let accounts = 12;
    let noticing = |world: World| {
        let mut world = world;
        for unit in &mut world.settings.organizational_units {
            unit.item.purge_notice = Some(spa_core::settings::PurgeNotice {
                before: std::time::Duration::from_secs(86_400),
                snooze: std::time::Duration::from_secs(3 * 86_400),
            });
        }
        world
    };
    let reference = noticing(world(accounts));
    let crashed = noticing(world(accounts));
    let mut crashes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for phase in 0..10 {
        if phase == 7 {
            // past the end of every snooze (the window after t0 + 3 days)
            reference.advance(TimeDelta::days(4));
            crashed.advance(TimeDelta::days(4));
        }
        phase_killed_and_delivered_again(
            (&reference, &crashed),
            accounts,
            phase,
            notice_event_of,
            &mut crashes,
            // the maintenance the sweep opened keeps its instants until it closes
            (7..=8).contains(&phase),
        );
        match phase {
            4 => {
                // told, not moved
                for n in 0..accounts {
                    assert_eq!(crashed.state(&account(n)).as_deref(), Some("assigned"));
                }
            }
            6 => {
                // snoozed: the window left every account alone
                for n in 0..accounts {
                    assert_eq!(crashed.state(&account(n)).as_deref(), Some("assigned"));
                    assert!(crashed.tag(&account(n), "account-snoozed-until").is_some());
                }
            }
            _ => {}
        }
    }
    for n in 0..accounts {
        assert_eq!(crashed.state(&account(n)).as_deref(), Some("assigned"));
        assert_eq!(
            crashed.tag(&account(n), "account-snoozed-until"),
            None,
            "{:?} / {:?}",
            crashed.org().tags_of(&account(n)),
            crashed
                .platform
                .store
                .recorded_for(&account(n))
                .iter()
                .map(|a| (a.at, a.label, a.detail.clone()))
                .collect::<Vec<_>>()
        );
    }
    // one dry run and one purge each, no token used twice, the same ids (a sweep
    // killed before it noted anything is judged again later: its token names that
    // later instant, and it is still one build)
    let started = builds(&crashed);
    let ids = |started: &[(String, String, String)]| {
        started
            .iter()
            .map(|(account, _, id)| (account.clone(), id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&started), ids(&builds(&reference)));
    let tokens: BTreeSet<_> = started.iter().map(|(_, token, _)| token).collect();
    assert_eq!(tokens.len(), started.len(), "no token used twice");
    assert_eq!(
        started.len(),
        accounts * 4,
        "preparation, dry run, purge, preparation"
    );
    assert_eq!(activities(&crashed), activities(&reference));
    let published = crashed.platform.bus.published();
    assert_eq!(keys(&published), keys(&reference.platform.bus.published()));
    let told: BTreeSet<_> = published
        .iter()
        .filter(|e| e.label == Label::PurgeNotice)
        .map(|e| (e.account.clone(), e.key.clone()))
        .collect();
    assert_eq!(told.len(), accounts, "one notice per account and purge");
    // the holder told once each, whatever was published again
    let (notified, _) = notices(&reference);
    let (notified_crashed, _) = notices(&crashed);
    assert_eq!(notified_crashed, notified);
    assert_eq!(reached(&crashed), reached(&reference));
    let mails = crashed.platform.mail.sent();
    let notices_sent = mails
        .iter()
        .filter(|m| m.subject.contains("will be purged at"))
        .count();
    assert_eq!(notices_sent, accounts);
    for step in [
        "take_writer",
        "note",
        "start_build",
        "change_tags",
        "free_writer",
    ] {
        assert!(
            crashes.contains_key(step),
            "never killed before `{step}`: {crashes:?}"
        );
    }
}
