//! `spa close`: a last purge, then the account is closed (or parked in the suspended
//! unit) and leaves management; nobody is given it meanwhile.

use super::*;

fn close(view: &AccountView, policy: &Policy) -> Result<Decision, Rejection> {
    decide(view, &at(TriggerKind::OperatorClose), policy)
}

/// Closing, its last purge `b-1` under way (jane's assignment ended with the close).
fn closing_purge() -> AccountView {
    AccountView {
        holder: None,
        closing: Some(t0()),
        ..expired_purging(1)
    }
}

/// The last purge succeeds under `policy`.
fn last_purge_succeeds(policy: &Policy) -> Decision {
    decide(
        &closing_purge(),
        &at(finished("b-1", BuildStatus::Succeeded)),
        policy,
    )
    .unwrap()
}

#[test]
fn closing_an_assigned_account_ends_the_assignment_and_starts_its_last_purge() {
    let decision = close(&assigned_to_jane(), &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Expired));
    let trigger = at(TriggerKind::OperatorClose);
    for command in [
        Command::StartClosing(trigger.at),
        Command::RemoveHolder,
        Command::NotifyHolder {
            holder: jane(),
            label: Label::AccountExpired,
        },
        Command::StartBuild {
            kind: BuildKind::Purge,
            attempt: 1,
        },
    ] {
        assert!(
            decision.commands.contains(&command),
            "{command:?} in {:?}",
            decision.commands
        );
    }
    let changes = TagCodec::default().encode(&decision.commands);
    assert_eq!(
        changes.set.get("account-closing").map(String::as_str),
        Some("2025-03-01T09:00:00Z")
    );
    // asked again: nothing more
    assert!(matches!(
        close(&closing_purge(), &policy()),
        Err(Rejection::Duplicate { .. })
    ));
}

#[test]
fn after_its_last_purge_the_account_is_closed_and_leaves_management() {
    let policy = Policy {
        cooldown: Some(std::time::Duration::from_secs(3600)),
        ..policy()
    };
    let decision = last_purge_succeeds(&policy);
    assert_eq!(decision.to, None);
    assert_eq!(
        decision.events().collect::<Vec<_>>(),
        vec![Label::AccountPurged, Label::AccountUnmanaged]
    );
    assert!(decision.commands.contains(&Command::ClearState));
    assert!(
        decision
            .commands
            .contains(&Command::Decommission(Decommission::Close))
    );
    assert!(decision.build_to_start().is_none(), "no preparation");
    assert!(
        !decision
            .commands
            .iter()
            .any(|c| matches!(c, Command::StartCooldown(_))),
        "no cooldown for an account that goes"
    );
    let mut tags = std::collections::BTreeMap::from([
        ("account-state".to_owned(), "expired".to_owned()),
        (
            "account-closing".to_owned(),
            "2025-03-01T08:00:00Z".to_owned(),
        ),
        ("account-attempts".to_owned(), "1".to_owned()),
    ]);
    TagCodec::default()
        .encode(&decision.commands)
        .apply(&mut tags);
    assert!(tags.is_empty(), "{tags:?}");
}

#[test]
fn with_a_suspended_unit_the_account_is_parked_there() {
    let policy = Policy {
        suspended_unit: Some("ou-ab12-suspended".to_owned()),
        ..policy()
    };
    let decision = last_purge_succeeds(&policy);
    assert!(
        decision
            .commands
            .contains(&Command::Decommission(Decommission::MoveTo(
                "ou-ab12-suspended".to_owned()
            )))
    );
}

#[test]
fn without_a_purge_an_account_is_closed_at_once() {
    let policy = Policy {
        purge: false,
        ..policy()
    };
    let decision = close(&assigned_to_jane(), &policy).unwrap();
    assert_eq!(decision.to, None);
    assert!(
        decision
            .commands
            .contains(&Command::Decommission(Decommission::Close))
    );
    // purged already (its preparation under way): closed at once, the holder goes
    let purged = AccountView {
        holder: Some(jane()),
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        transaction: transaction(TransactionKind::Maintenance),
        ..managed(State::Purged)
    };
    let decision = close(&purged, &super::policy()).unwrap();
    assert_eq!(decision.to, None);
    assert!(decision.commands.contains(&Command::RemoveHolder));
}

#[test]
fn a_closing_account_is_given_to_nobody_and_a_failed_purge_is_retried_as_ever() {
    for trigger in [
        TriggerKind::OperatorAssign(john()),
        TriggerKind::HolderTagged(john()),
    ] {
        assert!(
            matches!(
                decide(&closing_purge(), &at(trigger), &policy()),
                Err(Rejection::Illegal { .. })
            ),
            "a closing account is not assigned"
        );
    }
    let retry = decide(
        &closing_purge(),
        &at(finished("b-1", BuildStatus::Failed)),
        &policy(),
    )
    .unwrap();
    assert_eq!(retry.build_to_start(), Some((BuildKind::Purge, 2)));
}

#[test]
fn what_cannot_be_closed_says_why() {
    assert!(matches!(
        close(&AccountView::default(), &policy()),
        Err(Rejection::Illegal { .. })
    ));
    let preparing = AccountView {
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-1"),
        transaction: transaction(TransactionKind::Onboarding),
        ..managed(State::Vended)
    };
    let refused = close(&preparing, &policy()).unwrap_err();
    assert!(
        refused.to_string().contains("its preparation is under way"),
        "{refused}"
    );
}
