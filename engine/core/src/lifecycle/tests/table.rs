//! Every (state x trigger) pair against an explicit table of expected outcomes.
//!
//! The expectations are written out by hand from ARCHITECTURE.md §2 and the module docs;
//! they are not derived from the implementation.

use super::*;

/// The expected outcome of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum O {
    /// Accepted; the state becomes this one (`None`: unmanaged).
    To(Option<State>),
    /// Accepted; the state stays, some commands run (retry, holder change).
    Same,
    /// Accepted; nothing to do (sweep with nothing due).
    Nothing,
    Dup,
    Stale,
    Illegal,
    Invalid,
}

use O::*;
const U: O = To(None);
const V: O = To(Some(State::Vended));
const P: O = To(Some(State::Prepared));
const A: O = To(Some(State::Assigned));
const E: O = To(Some(State::Expired));
const G: O = To(Some(State::Purged));
const Q: O = To(Some(State::Quarantined));
const F: O = To(Some(State::Frozen));

/// The triggers of the columns, in order. `b-1` is the awaited build; `b-0` an older one.
fn columns() -> Vec<(&'static str, Trigger)> {
    let late = t0() + hours(10);
    vec![
        ("enter", at(TriggerKind::EnteredManagedOu)),
        ("tag vended", at(TriggerKind::TaggedVended)),
        ("reset", at(TriggerKind::OperatorReset)),
        ("b-1 ok", at(finished("b-1", BuildStatus::Succeeded))),
        ("b-1 failed", at(finished("b-1", BuildStatus::Failed))),
        ("b-0 ok", at(finished("b-0", BuildStatus::Succeeded))),
        ("holder tag jane", at(TriggerKind::HolderTagged(jane()))),
        ("assign john", at(TriggerKind::OperatorAssign(john()))),
        ("window", at(TriggerKind::MaintenanceWindow)),
        ("expire", at(TriggerKind::OperatorExpire)),
        ("lease end", at(TriggerKind::LeaseEnded)),
        ("release", at(TriggerKind::OperatorRelease)),
        ("sweep", at(TriggerKind::Sweep)),
        ("sweep late", Trigger::new(late, TriggerKind::Sweep)),
        ("moved out", at(TriggerKind::Left(Departure::MovedOut))),
        ("closed", at(TriggerKind::Left(Departure::Closed))),
        ("removed", at(TriggerKind::Left(Departure::Removed))),
        ("close", at(TriggerKind::OperatorClose)),
        (
            "freeze",
            at(TriggerKind::Freeze {
                reason: "4 p4d.24xlarge: 131.09 USD an hour".into(),
            }),
        ),
        ("unfreeze", at(TriggerKind::OperatorUnfreeze)),
        // the table's policy gives no lease: a lease end is refused everywhere (the
        // focused tests give one)
        (
            "lease end +1d",
            at(TriggerKind::LeaseEnd {
                until: t0() + hours(24),
            }),
        ),
        (
            "snooze",
            at(TriggerKind::Snooze {
                by: None,
                asker: None,
            }),
        ),
    ]
}

/// The views of the rows: every state in the shape `decide` leaves it, plus a few
/// shapes operators and late events produce.
fn rows() -> Vec<(&'static str, AccountView, [O; 22])> {
    use BuildKind::{Preparation, Purge};
    use TransactionKind::{Maintenance, Onboarding};
    vec![
        (
            "unmanaged",
            AccountView::default(),
            //   enter tagV reset ok   fail old  htag assign win exp lease rel sweep late out cls rem close frz unfrz lend snooze
            [
                V, V, V, Illegal, Illegal, Illegal, Illegal, Illegal, Illegal, Illegal, Illegal,
                Illegal, Nothing, Nothing, Dup, Dup, Dup, Illegal, Illegal, Illegal, Illegal,
                Illegal,
            ],
        ),
        (
            "vended, preparing b-1",
            AccountView {
                attempts: 1,
                build: awaited(Preparation, "b-1"),
                transaction: transaction(Onboarding),
                ..managed(State::Vended)
            },
            [
                Dup, Dup, Dup, P, Same, Stale, Same, Same, Illegal, Illegal, Dup, Dup, Nothing, Q,
                U, U, U, Illegal, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "vended, idle (state tagged by hand)",
            managed(State::Vended),
            // re-vended in place: the state stays vended, preparation starts
            [
                Dup, Same, Same, Stale, Stale, Stale, Same, Same, Illegal, Illegal, Dup, Dup,
                Nothing, Nothing, U, U, U, E, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "prepared, in the pool",
            managed(State::Prepared),
            [
                Dup, Illegal, Illegal, Dup, Dup, Dup, A, A, Illegal, Illegal, Dup, Dup, Nothing,
                Nothing, U, U, U, E, F, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "assigned to jane",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                ..managed(State::Assigned)
            },
            [
                Dup, Illegal, Illegal, Dup, Dup, Dup, Dup, Illegal, E, E, E, E, Nothing, Nothing,
                U, U, U, E, F, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "assigned to jane before spa wrote assigned-since",
            AccountView {
                holder: Some(jane()),
                ..managed(State::Assigned)
            },
            [
                Dup, Illegal, Illegal, Dup, Dup, Dup, Dup, Illegal, E, E, E, E, Nothing, Nothing,
                U, U, U, E, F, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "expired, purging b-1",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                attempts: 1,
                build: awaited(Purge, "b-1"),
                transaction: transaction(Maintenance),
                ..managed(State::Expired)
            },
            [
                Dup, Illegal, Illegal, G, Same, Stale, Dup, Illegal, Dup, Dup, Same, Same, Nothing,
                Q, U, U, U, Same, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "purged, preparing b-1",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                attempts: 1,
                build: awaited(Preparation, "b-1"),
                transaction: transaction(Maintenance),
                ..managed(State::Purged)
            },
            [
                Dup, Illegal, Illegal, A, Same, Stale, Dup, Illegal, Dup, Dup, Same, Same, Nothing,
                Q, U, U, U, U, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "quarantined during on-boarding",
            AccountView {
                transaction: transaction(Onboarding),
                ..managed(State::Quarantined)
            },
            [
                Dup, V, V, Dup, Dup, Dup, Same, Same, Illegal, Illegal, Dup, Dup, Nothing, Nothing,
                U, U, U, E, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "quarantined during maintenance, jane's",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                transaction: transaction(Maintenance),
                ..managed(State::Quarantined)
            },
            [
                Dup, E, E, Dup, Dup, Dup, Dup, Illegal, Illegal, Illegal, Same, Same, Nothing,
                Nothing, U, U, U, E, Illegal, Illegal, Illegal, Illegal,
            ],
        ),
        (
            "assigned without holder (hand-edited)",
            managed(State::Assigned),
            [
                Invalid, Invalid, V, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid,
                Invalid, Invalid, Q, Q, U, U, U, Invalid, Invalid, Invalid, Invalid, Invalid,
            ],
        ),
        (
            "prepared, with an assignment start (hand-edited)",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                ..managed(State::Prepared)
            },
            [
                Invalid, Invalid, V, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid,
                Invalid, Invalid, Q, Q, U, U, U, Invalid, Invalid, Invalid, Invalid, Invalid,
            ],
        ),
        (
            "frozen from assigned, jane's",
            AccountView {
                holder: Some(jane()),
                assigned_since: Some(t0()),
                frozen_from: Some(State::Assigned),
                ..managed(State::Frozen)
            },
            // it keeps what it holds, its holder too, until an operator unfreezes it
            [
                Dup, Illegal, Illegal, Dup, Dup, Dup, Illegal, Illegal, Illegal, Illegal, Illegal,
                Illegal, Nothing, Nothing, U, U, U, Illegal, Dup, A, Illegal, Illegal,
            ],
        ),
        (
            "frozen from the pool",
            AccountView {
                frozen_from: Some(State::Prepared),
                ..managed(State::Frozen)
            },
            [
                Dup, Illegal, Illegal, Dup, Dup, Dup, Illegal, Illegal, Illegal, Illegal, Illegal,
                Illegal, Nothing, Nothing, U, U, U, Illegal, Dup, P, Illegal, Illegal,
            ],
        ),
        (
            "frozen without frozen-from (hand-edited)",
            managed(State::Frozen),
            [
                Invalid, Invalid, V, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid,
                Invalid, Invalid, Q, Q, U, U, U, Invalid, Invalid, Invalid, Invalid, Invalid,
            ],
        ),
    ]
}

fn outcome(result: &Result<Decision, Rejection>, from: Option<State>) -> O {
    match result {
        Ok(decision) if decision.to != from => To(decision.to),
        Ok(decision) if decision.is_empty() => Nothing,
        Ok(_) => Same,
        Err(Rejection::Duplicate { .. }) => Dup,
        Err(Rejection::Stale { .. }) => Stale,
        Err(
            Rejection::Illegal { .. }
            | Rejection::Cooldown { .. }
            | Rejection::BeyondLease { .. }
            | Rejection::Snoozed { .. }
            | Rejection::Snooze(_),
        ) => Illegal,
        Err(Rejection::Invalid(_)) => Invalid,
    }
}

/// The label of the event that enters a state.
fn entering(state: Option<State>) -> Label {
    match state {
        None => Label::AccountUnmanaged,
        Some(State::Vended) => Label::AccountVended,
        Some(State::Prepared) => Label::AccountPrepared,
        Some(State::Assigned) => Label::AccountAssigned,
        Some(State::Expired) => Label::AccountExpired,
        Some(State::Purged) => Label::AccountPurged,
        Some(State::Quarantined) => Label::AccountQuarantined,
        Some(State::Frozen) => Label::AccountFrozen,
    }
}

#[test]
fn every_state_meets_every_trigger() {
    let columns = columns();
    let rows = rows();
    // every state, and unmanaged, has a row; every trigger kind has a column
    for state in State::ALL {
        assert!(
            rows.iter().any(|(_, view, _)| view.state == Some(state)),
            "no row for {state}"
        );
    }
    let mut failures = Vec::new();
    for (row, view, expected) in &rows {
        for ((column, trigger), expected) in columns.iter().zip(expected) {
            let result = decide(view, trigger, &policy());
            let got = outcome(&result, view.state);
            if got != *expected {
                failures.push(format!(
                    "{row} + {column}: expected {expected:?}, got {got:?} ({result:?})"
                ));
            }
            if let Ok(decision) = &result {
                // every transition emits the event of the state it enters (back from a
                // freeze: `AccountUnfrozen`), and an activity
                if decision.changed() {
                    let thawed = view.state == Some(State::Frozen)
                        && events(decision).contains(&Label::AccountUnfrozen);
                    assert!(
                        thawed || events(decision).contains(&entering(decision.to)),
                        "{row} + {column}: no {} event",
                        entering(decision.to)
                    );
                }
                for label in decision.events() {
                    assert!(
                        decision.commands.contains(&Command::RecordActivity(label)),
                        "{row} + {column}: {label} emitted without an activity record"
                    );
                }
                assert!(
                    decision
                        .commands
                        .iter()
                        .filter(|c| matches!(c, Command::StartBuild { .. }))
                        .count()
                        <= 1
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} pairs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_every_trigger_kind() {
    // adding a trigger kind breaks this match: add a column for it
    for (_, trigger) in columns() {
        match trigger.kind {
            TriggerKind::EnteredManagedOu
            | TriggerKind::TaggedVended
            | TriggerKind::OperatorReset
            | TriggerKind::BuildFinished { .. }
            | TriggerKind::HolderTagged(_)
            | TriggerKind::OperatorAssign(_)
            | TriggerKind::MaintenanceWindow
            | TriggerKind::OperatorExpire
            | TriggerKind::LeaseEnded
            | TriggerKind::OperatorRelease
            | TriggerKind::Sweep
            | TriggerKind::OperatorClose
            | TriggerKind::Left(_)
            | TriggerKind::Freeze { .. }
            | TriggerKind::OperatorUnfreeze
            | TriggerKind::LeaseEnd { .. }
            | TriggerKind::Snooze { .. } => {}
        }
    }
    let names: std::collections::BTreeSet<_> =
        columns().iter().map(|(_, t)| t.kind.name()).collect();
    assert_eq!(
        names.len(),
        19,
        "one column per trigger kind and departure: {names:?}"
    );
}
