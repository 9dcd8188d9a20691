//! The cooldown between holders: after a purge no new holder is given the account
//! until `{prefix}cooldown-until`; an operator's assign is refused with that instant,
//! a holder tagged by hand waits and the sweeper assigns them when it ends.

use std::time::Duration;

use super::*;

const COOLDOWN: Duration = Duration::from_secs(72 * 3600);

fn cooling_policy() -> Policy {
    Policy {
        cooldown: Some(COOLDOWN),
        ..policy()
    }
}

/// Purged at t0 + 1h (72 h cooldown until t0 + 73h), prepared again at t0 + 2h.
fn pool_in_cooldown() -> AccountView {
    AccountView {
        since: Some(t0() + hours(2)),
        cooldown_until: Some(t0() + hours(73)),
        ..managed(State::Prepared)
    }
}

fn when(offset: i64, kind: TriggerKind) -> Trigger {
    Trigger::new(t0() + hours(offset), kind)
}

fn assigned(decision: &Decision) -> bool {
    decision
        .events()
        .any(|label| label == Label::AccountAssigned)
}

#[test]
fn the_purge_starts_the_cooldown() {
    let view = AccountView {
        holder: None,
        ..expired_purging(1)
    };
    let trigger = at(finished("b-1", BuildStatus::Succeeded));
    let decision = decide(&view, &trigger, &cooling_policy()).unwrap();
    assert_eq!(decision.to, Some(State::Purged));
    assert!(
        decision
            .commands
            .contains(&Command::StartCooldown(trigger.at + hours(72))),
        "{:?}",
        decision.commands
    );
    let changes = TagCodec::default().encode(&decision.commands);
    assert_eq!(
        changes
            .set
            .get("account-cooldown-until")
            .map(String::as_str),
        Some("2025-03-04T09:00:00Z")
    );
    // without a cooldown in the settings, no tag
    let decision = decide(&view, &trigger, &policy()).unwrap();
    assert!(
        !decision
            .commands
            .iter()
            .any(|c| matches!(c, Command::StartCooldown(_)))
    );
}

#[test]
fn an_operator_assign_during_the_cooldown_is_refused_with_its_end() {
    let trigger = when(10, TriggerKind::OperatorAssign(jane()));
    let refused = decide(&pool_in_cooldown(), &trigger, &cooling_policy()).unwrap_err();
    assert_eq!(
        refused,
        Rejection::Cooldown {
            until: t0() + hours(73)
        }
    );
    assert_eq!(
        refused.to_string(),
        "the account cools down after its last purge until 2025-03-04T09:00:00Z: it can be assigned from then"
    );
    // right after the purge, while it is prepared again, too
    let purged = AccountView {
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        transaction: transaction(TransactionKind::Maintenance),
        ..pool_in_cooldown()
    };
    let purged = AccountView {
        state: Some(State::Purged),
        ..purged
    };
    assert!(matches!(
        decide(&purged, &trigger, &cooling_policy()),
        Err(Rejection::Cooldown { .. })
    ));
    // once it is over, the account is assigned
    let later = when(73, TriggerKind::OperatorAssign(jane()));
    let decision = decide(&pool_in_cooldown(), &later, &cooling_policy()).unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(
        decision
            .commands
            .contains(&Command::StartAssignment(later.at))
    );
}

#[test]
fn a_holder_tagged_during_the_cooldown_waits_for_the_sweeper_to_assign_them() {
    // the person's tag is in the view already: nothing to write, nothing assigned
    let tagged = AccountView {
        holder: Some(jane()),
        ..pool_in_cooldown()
    };
    let decision = decide(
        &tagged,
        &when(10, TriggerKind::HolderTagged(jane())),
        &cooling_policy(),
    )
    .unwrap();
    assert!(decision.is_empty(), "{:?}", decision.commands);
    assert!(tagged.holder_waits());
    // a sweep before the end leaves it waiting
    let early = decide(&tagged, &when(72, TriggerKind::Sweep), &cooling_policy()).unwrap();
    assert!(early.is_empty(), "{:?}", early.commands);
    // the first sweep after the end gives it to them
    let sweep = when(73, TriggerKind::Sweep);
    let decision = decide(&tagged, &sweep, &cooling_policy()).unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(
        decision
            .commands
            .contains(&Command::StartAssignment(sweep.at))
    );
    assert!(decision.commands.contains(&Command::NotifyHolder {
        holder: jane(),
        label: Label::AccountAssigned
    }));
    // another person is still refused while jane waits
    assert!(matches!(
        decide(
            &tagged,
            &when(10, TriggerKind::OperatorAssign(john())),
            &cooling_policy()
        ),
        Err(Rejection::Illegal { .. })
    ));
    // and jane's wait ends with a release like any holder's
    let released = decide(
        &tagged,
        &when(10, TriggerKind::OperatorRelease),
        &cooling_policy(),
    )
    .unwrap();
    assert_eq!(released.commands, vec![Command::RemoveHolder]);
}

#[test]
fn a_holder_named_during_maintenance_waits_for_the_cooldown_after_the_purge() {
    // jane was named while the account was purged; its preparation ends at t0 + 3h
    let preparing = AccountView {
        state: Some(State::Purged),
        holder: Some(jane()),
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        transaction: transaction(TransactionKind::Maintenance),
        ..pool_in_cooldown()
    };
    let decision = decide(
        &preparing,
        &when(3, finished("b-2", BuildStatus::Succeeded)),
        &cooling_policy(),
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Prepared));
    assert!(!assigned(&decision), "{:?}", decision.commands);
    assert!(
        decision
            .events()
            .any(|label| label == Label::MaintenanceCompleted)
    );
    // with the purge disabled, the window's purge is a cooldown too
    let policy = Policy {
        purge: false,
        preparation: false,
        ..cooling_policy()
    };
    let window = when(1, TriggerKind::OperatorRelease);
    let decision = decide(&assigned_to_jane(), &window, &policy).unwrap();
    assert_eq!(decision.to, Some(State::Prepared));
    assert!(
        decision
            .commands
            .contains(&Command::StartCooldown(window.at + hours(72)))
    );
}

#[test]
fn the_same_holder_keeps_the_account_through_maintenance_whatever_the_cooldown() {
    let preparing = AccountView {
        state: Some(State::Purged),
        holder: Some(jane()),
        assigned_since: Some(t0() - hours(100)),
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        transaction: transaction(TransactionKind::Maintenance),
        cooldown_until: Some(t0() + hours(72)),
        ..managed(State::Purged)
    };
    assert_eq!(preparing.cooling(t0() + hours(3)), None);
    let decision = decide(
        &preparing,
        &when(3, finished("b-2", BuildStatus::Succeeded)),
        &cooling_policy(),
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(
        !decision
            .commands
            .iter()
            .any(|c| matches!(c, Command::StartAssignment(_)))
    );
}

#[test]
fn leaving_management_removes_the_cooldown() {
    let decision = decide(
        &pool_in_cooldown(),
        &when(3, TriggerKind::Left(Departure::MovedOut)),
        &cooling_policy(),
    )
    .unwrap();
    let changes = TagCodec::default().encode(&decision.commands);
    assert!(changes.remove.contains("account-cooldown-until"));
}

#[test]
fn a_malformed_cooldown_tag_is_drift_naming_its_key() {
    let tags = [
        ("account-state".to_owned(), "prepared".to_owned()),
        ("account-cooldown-until".to_owned(), "soon".to_owned()),
    ]
    .into_iter()
    .collect();
    let error = TagCodec::default().decode(&tags).unwrap_err();
    assert_eq!(error.label(), Label::Drift);
    assert!(
        error.to_string().contains("account-cooldown-until"),
        "{error}"
    );
}
