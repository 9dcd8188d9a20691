//! Focused cases: exact commands of the main paths, retries, quarantine, disabled
//! preparation or purge, holder known or not, lease end, deadlines.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn vended_preparing(attempts: u32) -> AccountView {
    AccountView {
        attempts,
        build: awaited(BuildKind::Preparation, "b-1"),
        transaction: transaction(TransactionKind::Onboarding),
        ..managed(State::Vended)
    }
}

#[test]
fn a_new_account_is_vended_with_the_policy_tags_and_a_preparation_build() {
    let policy = Policy {
        account_tags: BTreeMap::from([("team".to_owned(), "sandbox".to_owned())]),
        unset_tags: vec!["legacy".to_owned()],
        ..policy()
    };
    let trigger = at(TriggerKind::EnteredManagedOu);
    let decision = decide(&AccountView::default(), &trigger, &policy).unwrap();
    let deadline = trigger.at + hours(2);
    assert_eq!(
        decision.commands,
        vec![
            Command::RemoveTags(["legacy".to_owned()].into()),
            Command::SetTags(policy.account_tags.clone()),
            Command::SetState {
                state: State::Vended,
                since: trigger.at
            },
            Command::EmitEvent(Label::AccountVended),
            Command::RecordActivity(Label::AccountVended),
            Command::OpenTransaction(Transaction {
                kind: TransactionKind::Onboarding,
                opened: trigger.at,
                deadline
            }),
            Command::StartBuild {
                kind: BuildKind::Preparation,
                attempt: 1
            },
            Command::EmitEvent(Label::BuildStarted),
            Command::RecordActivity(Label::BuildStarted),
        ]
    );
    let changes = TagCodec::default().encode(&decision.commands);
    assert_eq!(changes.set.get("team").map(String::as_str), Some("sandbox"));
    assert_eq!(
        changes.set.get("account-state").map(String::as_str),
        Some("vended")
    );
    assert_eq!(
        changes.set.get("account-attempts").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        changes.set.get("account-transaction").map(String::as_str),
        Some("onboarding/2025-03-01T09:00:00Z/2025-03-01T11:00:00Z")
    );
    assert!(changes.remove.contains("legacy"));
    assert!(changes.remove.contains("account-build"));
}

#[test]
fn without_preparation_a_new_account_is_prepared_at_once_and_its_onboarding_completes() {
    let policy = Policy {
        preparation: false,
        ..policy()
    };
    let decision = decide(
        &AccountView::default(),
        &at(TriggerKind::EnteredManagedOu),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Prepared));
    assert_eq!(decision.build_to_start(), None);
    assert_eq!(
        events(&decision),
        vec![
            Label::AccountVended,
            Label::AccountPrepared,
            Label::OnboardingCompleted
        ]
    );
}

#[test]
fn without_preparation_a_known_holder_gets_the_account_at_once() {
    let policy = Policy {
        preparation: false,
        budget: true,
        ..policy()
    };
    let view = AccountView {
        holder: Some(jane()),
        ..AccountView::default()
    };
    let decision = decide(&view, &at(TriggerKind::EnteredManagedOu), &policy).unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(decision.commands.contains(&Command::EnsureBudget));
    assert!(decision.commands.contains(&Command::NotifyHolder {
        holder: jane(),
        label: Label::AccountAssigned
    }));
    assert_eq!(
        events(&decision),
        vec![
            Label::AccountVended,
            Label::AccountPrepared,
            Label::AccountAssigned,
            Label::OnboardingCompleted
        ]
    );
}

#[test]
fn a_prepared_account_without_holder_waits_in_the_pool_and_its_onboarding_completes() {
    let policy = Policy {
        budget: true,
        ..policy()
    };
    let decision = decide(
        &vended_preparing(1),
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Prepared));
    assert_eq!(
        decision.commands,
        vec![
            Command::SetState {
                state: State::Prepared,
                since: t0() + hours(1)
            },
            Command::ClearBuild,
            Command::EnsureBudget,
            Command::EmitEvent(Label::AccountPrepared),
            Command::RecordActivity(Label::AccountPrepared),
            Command::CloseTransaction(transaction(TransactionKind::Onboarding).unwrap()),
            Command::EmitEvent(Label::OnboardingCompleted),
            Command::RecordActivity(Label::OnboardingCompleted),
        ]
    );
}

#[test]
fn a_prepared_account_with_a_known_holder_is_assigned_at_once() {
    let view = AccountView {
        holder: Some(jane()),
        ..vended_preparing(2)
    };
    let decision = decide(
        &view,
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy(),
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(
        !decision.commands.contains(&Command::EnsureBudget),
        "budget is off by default"
    );
    assert_eq!(
        events(&decision),
        vec![
            Label::AccountPrepared,
            Label::AccountAssigned,
            Label::OnboardingCompleted
        ]
    );
}

#[test]
fn assigning_a_pool_account_starts_the_assignment_and_notifies_the_holder() {
    let trigger = at(TriggerKind::OperatorAssign(jane()));
    let decision = decide(&managed(State::Prepared), &trigger, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert_eq!(
        decision.commands,
        vec![
            Command::SetState {
                state: State::Assigned,
                since: trigger.at
            },
            Command::SetHolder(jane()),
            Command::StartAssignment(trigger.at),
            Command::EmitEvent(Label::AccountAssigned),
            Command::RecordActivity(Label::AccountAssigned),
            Command::NotifyHolder {
                holder: jane(),
                label: Label::AccountAssigned
            },
        ]
    );
    let changes = TagCodec::default().encode(&decision.commands);
    assert_eq!(
        changes
            .set
            .get("account-assigned-since")
            .map(String::as_str),
        Some("2025-03-01T09:00:00Z")
    );
}

#[test]
fn a_holder_tagged_on_a_pool_account_is_not_written_again() {
    // the tag event comes after the tag is set: the view already shows the holder
    let view = AccountView {
        holder: Some(jane()),
        ..managed(State::Prepared)
    };
    let trigger = at(TriggerKind::HolderTagged(jane()));
    let decision = decide(&view, &trigger, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert!(
        !decision
            .commands
            .iter()
            .any(|c| matches!(c, Command::SetHolder(_)))
    );
    assert!(
        decision
            .commands
            .contains(&Command::StartAssignment(trigger.at))
    );
}

#[test]
fn a_failed_build_is_retried_until_max_attempts_then_quarantined() {
    for status in BuildStatus::ALL.into_iter().filter(|s| s.is_failure()) {
        let first = decide(
            &vended_preparing(1),
            &at(finished("b-1", status)),
            &policy(),
        )
        .unwrap();
        assert_eq!(first.to, Some(State::Vended));
        assert_eq!(
            first.build_to_start(),
            Some((BuildKind::Preparation, 2)),
            "{status}"
        );
        assert!(
            !first
                .commands
                .iter()
                .any(|c| matches!(c, Command::SetState { .. }))
        );

        let second = decide(
            &vended_preparing(2),
            &at(finished("b-1", status)),
            &policy(),
        )
        .unwrap();
        assert_eq!(second.build_to_start(), Some((BuildKind::Preparation, 3)));

        let last = decide(
            &vended_preparing(3),
            &at(finished("b-1", status)),
            &policy(),
        )
        .unwrap();
        assert_eq!(last.to, Some(State::Quarantined));
        assert_eq!(last.build_to_start(), None);
        assert!(last.commands.contains(&Command::ClearBuild));
        assert!(last.commands.contains(&Command::RaiseException {
            label: Label::BuildFailed,
            reason: format!("preparation build `b-1` ended {status} at attempt 3 of 3"),
        }));
        assert_eq!(events(&last), vec![Label::AccountQuarantined]);
        // the transaction stays open so that a reset resumes it
        assert!(
            !last
                .commands
                .iter()
                .any(|c| matches!(c, Command::CloseTransaction(_)))
        );
    }
}

#[test]
fn one_attempt_means_quarantine_at_the_first_failure() {
    let policy = Policy {
        max_attempts: 1,
        ..policy()
    };
    let decision = decide(
        &vended_preparing(1),
        &at(finished("b-1", BuildStatus::Failed)),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Quarantined));
}

#[test]
fn a_failed_purge_is_retried_as_a_purge() {
    let view = expired_purging(1);
    let decision = decide(
        &view,
        &at(finished("b-1", BuildStatus::TimedOut)),
        &policy(),
    )
    .unwrap();
    assert_eq!(decision.build_to_start(), Some((BuildKind::Purge, 2)));
}

#[test]
fn the_maintenance_window_expires_an_assigned_account_and_starts_its_purge() {
    let trigger = at(TriggerKind::MaintenanceWindow);
    let decision = decide(&assigned_to_jane(), &trigger, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Expired));
    assert_eq!(decision.build_to_start(), Some((BuildKind::Purge, 1)));
    assert!(
        decision
            .commands
            .contains(&Command::OpenTransaction(Transaction {
                kind: TransactionKind::Maintenance,
                opened: trigger.at,
                deadline: trigger.at + hours(4),
            }))
    );
    assert!(
        !decision.commands.contains(&Command::RemoveHolder),
        "the holder keeps the account"
    );
}

#[test]
fn after_the_purge_the_account_is_prepared_again_then_given_back() {
    let expired = expired_purging(2);
    let purged = decide(
        &expired,
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy(),
    )
    .unwrap();
    assert_eq!(purged.to, Some(State::Purged));
    assert_eq!(
        purged.build_to_start(),
        Some((BuildKind::Preparation, 1)),
        "attempts restart"
    );
    assert_eq!(
        events(&purged),
        vec![Label::AccountPurged, Label::BuildStarted]
    );

    let view = AccountView {
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        state: Some(State::Purged),
        ..expired
    };
    let back = decide(
        &view,
        &at(finished("b-2", BuildStatus::Succeeded)),
        &policy(),
    )
    .unwrap();
    assert_eq!(back.to, Some(State::Assigned));
    assert_eq!(
        events(&back),
        vec![
            Label::AccountPrepared,
            Label::AccountAssigned,
            Label::MaintenanceCompleted
        ]
    );
}

#[test]
fn a_dry_run_purge_quarantines_the_account_instead_of_handing_it_on() {
    let expired = expired_purging(2);
    let policy = Policy {
        purge_dry_run: true,
        ..policy()
    };
    let decision = decide(
        &expired,
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Quarantined), "not purged");
    assert_eq!(
        decision.build_to_start(),
        None,
        "no preparation: nothing to prepare again"
    );
    assert!(!events(&decision).contains(&Label::AccountPurged));
    let raised: Vec<(Label, String)> = decision
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::RaiseException { label, reason } => Some((*label, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].0, Label::PurgeDryRun);
    assert!(
        raised[0].1.contains("`b-1`") && raised[0].1.contains("deleted nothing"),
        "{}",
        raised[0].1
    );
    // a failed dry run is a failed build as any other
    let failed = decide(&expired, &at(finished("b-1", BuildStatus::Failed)), &policy).unwrap();
    assert_eq!(failed.build_to_start(), Some((BuildKind::Purge, 3)));
}

#[test]
fn a_purge_is_a_dry_run_unless_its_mode_says_no_dry_run() {
    use crate::settings::BuildPlan;
    let plan = |mode: Option<&str>| BuildPlan {
        enabled: true,
        variables: mode
            .map(|m| BTreeMap::from([("PURGE_MODE".to_owned(), m.to_owned())]))
            .unwrap_or_default(),
        buildspec: None,
    };
    assert!(plan(None).dry_run());
    assert!(plan(Some("--dry-run")).dry_run());
    assert!(
        plan(Some("--no-dry-run-please")).dry_run(),
        "the purge refuses it: nothing is deleted"
    );
    assert!(!plan(Some(" --no-dry-run ")).dry_run());
}

#[test]
fn without_purge_the_window_goes_straight_to_purged_and_prepares_again() {
    let policy = Policy {
        purge: false,
        ..policy()
    };
    let decision = decide(
        &assigned_to_jane(),
        &at(TriggerKind::MaintenanceWindow),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Purged));
    assert_eq!(decision.build_to_start(), Some((BuildKind::Preparation, 1)));
    assert_eq!(
        events(&decision),
        vec![
            Label::AccountExpired,
            Label::AccountPurged,
            Label::BuildStarted
        ]
    );
}

#[test]
fn without_purge_nor_preparation_the_window_gives_the_account_back_at_once() {
    let policy = Policy {
        purge: false,
        preparation: false,
        ..policy()
    };
    let decision = decide(
        &assigned_to_jane(),
        &at(TriggerKind::MaintenanceWindow),
        &policy,
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Assigned));
    assert_eq!(
        events(&decision),
        vec![
            Label::AccountExpired,
            Label::AccountPurged,
            Label::AccountPrepared,
            Label::AccountAssigned,
            Label::MaintenanceCompleted
        ]
    );
    let changes = TagCodec::default().encode(&decision.commands);
    assert!(!changes.set.contains_key("account-transaction"));
}

#[test]
fn the_lease_end_removes_the_holder_so_the_account_returns_to_the_pool() {
    let policy = Policy {
        lease: Some(Duration::from_secs(7 * 24 * 3600)),
        ..policy()
    };
    let view = assigned_to_jane(); // since t0
    let early = Trigger::new(
        t0() + chrono::TimeDelta::days(7) - chrono::TimeDelta::seconds(1),
        TriggerKind::Sweep,
    );
    assert!(decide(&view, &early, &policy).unwrap().is_empty());

    let due = Trigger::new(t0() + chrono::TimeDelta::days(7), TriggerKind::Sweep);
    let decision = decide(&view, &due, &policy).unwrap();
    assert_eq!(decision.to, Some(State::Expired));
    assert_eq!(decision.commands[1], Command::RemoveHolder);
    let changes = TagCodec::default().encode(&decision.commands);
    assert!(changes.remove.contains("account-holder"));
    assert!(changes.remove.contains("account-assigned-since"));
    assert!(decision.commands.contains(&Command::NotifyHolder {
        holder: jane(),
        label: Label::AccountExpired
    }));

    // ... and after purge and preparation, it waits in the pool
    let purged = AccountView {
        attempts: 1,
        build: awaited(BuildKind::Preparation, "b-2"),
        transaction: transaction(TransactionKind::Maintenance),
        ..managed(State::Purged)
    };
    let ready = decide(
        &purged,
        &at(finished("b-2", BuildStatus::Succeeded)),
        &policy,
    )
    .unwrap();
    assert_eq!(ready.to, Some(State::Prepared));
    assert_eq!(
        events(&ready),
        vec![Label::AccountPrepared, Label::MaintenanceCompleted]
    );
}

#[test]
fn a_release_during_maintenance_removes_the_holder_only() {
    let view = expired_purging(1);
    let decision = decide(&view, &at(TriggerKind::OperatorRelease), &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Expired));
    assert_eq!(decision.commands, vec![Command::RemoveHolder]);
}

#[test]
fn an_overdue_transaction_is_quarantined_by_the_sweeper() {
    let view = vended_preparing(1); // on-boarding due at t0 + 2 h
    let before = Trigger::new(
        t0() + hours(2) - chrono::TimeDelta::seconds(1),
        TriggerKind::Sweep,
    );
    assert!(decide(&view, &before, &policy()).unwrap().is_empty());

    let due = Trigger::new(t0() + hours(2), TriggerKind::Sweep);
    let decision = decide(&view, &due, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Quarantined));
    assert!(
        decision.commands.contains(&Command::ClearBuild),
        "the late build result is ignored"
    );
    assert!(decision.commands.contains(&Command::RaiseException {
        label: Label::OnboardingTimedOut,
        reason: "onboarding opened at 2025-03-01T08:00:00Z was due at 2025-03-01T10:00:00Z; the account is still vended at 2025-03-01T10:00:00Z".to_owned(),
    }));

    let maintenance = AccountView {
        holder: Some(jane()),
        transaction: transaction(TransactionKind::Maintenance),
        ..vended_preparing(1)
    };
    let maintenance = AccountView {
        state: Some(State::Purged),
        ..maintenance
    };
    let late = Trigger::new(t0() + hours(5), TriggerKind::Sweep);
    let decision = decide(&maintenance, &late, &policy()).unwrap();
    assert!(decision.commands.iter().any(|c| matches!(
        c,
        Command::RaiseException {
            label: Label::MaintenanceTimedOut,
            ..
        }
    )));
}

#[test]
fn a_reset_keeps_the_opening_of_the_transaction_and_sets_a_new_deadline() {
    let view = AccountView {
        transaction: transaction(TransactionKind::Onboarding),
        ..managed(State::Quarantined)
    };
    let trigger = Trigger::new(t0() + hours(30), TriggerKind::OperatorReset);
    let decision = decide(&view, &trigger, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Vended));
    assert!(
        decision
            .commands
            .contains(&Command::OpenTransaction(Transaction {
                kind: TransactionKind::Onboarding,
                opened: t0(),
                deadline: trigger.at + hours(2),
            }))
    );
    assert_eq!(decision.build_to_start(), Some((BuildKind::Preparation, 1)));
}

#[test]
fn a_reset_during_maintenance_purges_again_before_anything_else() {
    let view = AccountView {
        transaction: transaction(TransactionKind::Maintenance),
        ..managed(State::Quarantined)
    };
    let decision = decide(&view, &at(TriggerKind::OperatorReset), &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Expired));
    assert_eq!(decision.build_to_start(), Some((BuildKind::Purge, 1)));
}

#[test]
fn leaving_management_clears_the_lifecycle_tags_but_keeps_the_holder() {
    let decision = decide(
        &assigned_to_jane(),
        &at(TriggerKind::Left(Departure::MovedOut)),
        &policy(),
    )
    .unwrap();
    assert_eq!(decision.to, None);
    assert_eq!(
        decision.commands,
        vec![
            Command::ClearState,
            Command::EmitEvent(Label::AccountUnmanaged),
            Command::RecordActivity(Label::AccountUnmanaged)
        ]
    );
    let changes = TagCodec::default().encode(&decision.commands);
    assert!(changes.remove.contains("account-state"));
    assert!(
        changes.remove.contains("account-assigned-since"),
        "leaving management ends the assignment"
    );
    assert!(!changes.remove.contains("account-holder"));
    assert!(decision.build_to_start().is_none(), "no purge");

    let removed = decide(
        &assigned_to_jane(),
        &at(TriggerKind::Left(Departure::Removed)),
        &policy(),
    )
    .unwrap();
    assert!(
        !removed.commands.contains(&Command::ClearState),
        "a removed account cannot be tagged"
    );
}

#[test]
fn duplicates_and_late_events_change_nothing() {
    let view = vended_preparing(1);
    let entered = decide(&view, &at(TriggerKind::EnteredManagedOu), &policy());
    assert!(matches!(entered, Err(Rejection::Duplicate { .. })));
    let stale = decide(
        &view,
        &at(finished("b-0", BuildStatus::Succeeded)),
        &policy(),
    );
    assert_eq!(
        stale,
        Err(Rejection::Stale {
            finished: build_id("b-0"),
            awaited: Some(build_id("b-1"))
        })
    );
    // the same result again, once the account is prepared
    let again = decide(
        &managed(State::Prepared),
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy(),
    );
    assert!(matches!(again, Err(Rejection::Duplicate { .. })));
    let expired = expired_purging(1);
    let window = decide(&expired, &at(TriggerKind::MaintenanceWindow), &policy());
    assert!(matches!(window, Err(Rejection::Duplicate { .. })));
}

#[test]
fn rejections_explain_themselves_without_an_email_address() {
    let illegal = decide(
        &assigned_to_jane(),
        &at(TriggerKind::OperatorAssign(john())),
        &policy(),
    )
    .unwrap_err();
    let text = illegal.to_string();
    assert_eq!(
        text,
        "`operator assign` does not apply to an account that is assigned: it is held by another person: release it first"
    );
    assert!(!text.contains("john.roe"));
    let stale = Rejection::Stale {
        finished: build_id("b-0"),
        awaited: None,
    };
    assert_eq!(
        stale.to_string(),
        "stale build `b-0`: the account waits for a build whose id is not tagged yet"
    );
}

#[test]
fn inconsistent_tags_are_rejected_as_drift_and_quarantined_by_the_sweeper() {
    let view = AccountView {
        build: awaited(BuildKind::Purge, "b-1"),
        attempts: 1,
        ..managed(State::Vended)
    };
    let rejection = decide(
        &view,
        &at(finished("b-1", BuildStatus::Succeeded)),
        &policy(),
    )
    .unwrap_err();
    assert_eq!(rejection.exception(), Some(Label::Drift));
    assert_eq!(
        rejection.to_string(),
        "inconsistent tags: the account is vended but waits for a purge build"
    );
    let reset = decide(&view, &at(TriggerKind::OperatorReset), &policy());
    assert!(
        matches!(reset, Err(Rejection::Illegal { .. })),
        "no second build while one is awaited"
    );
    let swept = decide(&view, &at(TriggerKind::Sweep), &policy()).unwrap();
    assert_eq!(swept.to, Some(State::Quarantined));
    assert!(swept.commands.iter().any(|c| matches!(
        c,
        Command::RaiseException {
            label: Label::Drift,
            ..
        }
    )));
}

#[test]
fn a_policy_that_cannot_be_followed_is_rejected_not_guessed() {
    let zero = Policy {
        max_attempts: 0,
        ..policy()
    };
    let rejection = decide(
        &AccountView::default(),
        &at(TriggerKind::EnteredManagedOu),
        &zero,
    );
    assert_eq!(
        rejection,
        Err(Rejection::Invalid(Invalid::Policy(
            "max_attempts must be at least 1"
        )))
    );
    let forever = Policy {
        onboarding_deadline: Duration::MAX,
        ..policy()
    };
    let rejection = decide(
        &AccountView::default(),
        &at(TriggerKind::EnteredManagedOu),
        &forever,
    );
    assert_eq!(
        rejection,
        Err(Rejection::Invalid(Invalid::OutOfRange(
            "on-boarding deadline"
        )))
    );
}

#[test]
fn a_whole_life_through_the_codec() {
    // unmanaged -> vended -> prepared (pool) -> assigned -> expired -> purged -> assigned
    let codec = TagCodec::default();
    let policy = policy();
    let mut tags = BTreeMap::new();
    let mut clock = t0();
    let mut step = |tags: &mut BTreeMap<String, String>, kind: TriggerKind, build: Option<&str>| {
        clock += hours(1);
        let view = codec.decode(tags).unwrap();
        let decision = decide(&view, &Trigger::new(clock, kind), &policy).unwrap();
        codec.encode(&decision.commands).apply(tags);
        if let (Some((kind, _)), Some(id)) = (decision.build_to_start(), build) {
            codec.build_started(kind, &build_id(id)).apply(tags);
        }
        decision.to
    };
    assert_eq!(
        step(&mut tags, TriggerKind::EnteredManagedOu, Some("p:1")),
        Some(State::Vended)
    );
    assert_eq!(
        step(&mut tags, finished("p:1", BuildStatus::Succeeded), None),
        Some(State::Prepared)
    );
    assert_eq!(
        step(&mut tags, TriggerKind::OperatorAssign(jane()), None),
        Some(State::Assigned)
    );
    assert_eq!(
        step(&mut tags, TriggerKind::MaintenanceWindow, Some("x:1")),
        Some(State::Expired)
    );
    assert_eq!(
        tags.get("account-build").map(String::as_str),
        Some("purge/x:1")
    );
    assert_eq!(
        step(
            &mut tags,
            finished("x:1", BuildStatus::Succeeded),
            Some("p:2")
        ),
        Some(State::Purged)
    );
    assert_eq!(
        step(&mut tags, finished("p:2", BuildStatus::Succeeded), None),
        Some(State::Assigned)
    );
    assert_eq!(
        tags,
        BTreeMap::from([
            (
                "account-holder".to_owned(),
                "jane.doe@example.com".to_owned()
            ),
            // assigned at 11:00; maintenance did not move it
            (
                "account-assigned-since".to_owned(),
                "2025-03-01T11:00:00Z".to_owned()
            ),
            (
                "account-since".to_owned(),
                "2025-03-01T14:00:00Z".to_owned()
            ),
            ("account-state".to_owned(), "assigned".to_owned()),
        ])
    );
}

/// An account known by its tags, meeting triggers the way the use cases do.
struct Life {
    codec: TagCodec,
    policy: Policy,
    tags: BTreeMap<String, String>,
    builds: u32,
}

impl Life {
    fn new(policy: Policy) -> Self {
        Self {
            codec: TagCodec::default(),
            policy,
            tags: BTreeMap::new(),
            builds: 0,
        }
    }

    /// Decides, writes the tags, and tags the id of a started build.
    fn meet(&mut self, at: DateTime<Utc>, kind: TriggerKind) -> Decision {
        let view = self.codec.decode(&self.tags).unwrap();
        let decision = decide(&view, &Trigger::new(at, kind), &self.policy).unwrap();
        self.codec.encode(&decision.commands).apply(&mut self.tags);
        if let Some((kind, _)) = decision.build_to_start() {
            self.builds += 1;
            let id = build_id(&format!("b-{}", self.builds));
            self.codec.build_started(kind, &id).apply(&mut self.tags);
        }
        assert_eq!(self.view().check(), Ok(()), "{:?}", self.tags);
        decision
    }

    /// The awaited build succeeds at `at`.
    fn build_succeeds(&mut self, at: DateTime<Utc>) -> Decision {
        let id = self.view().build.unwrap().id;
        self.meet(at, finished(id.as_str(), BuildStatus::Succeeded))
    }

    /// One maintenance cycle from `at`: window, purge, preparation (an hour each).
    fn maintenance(&mut self, at: DateTime<Utc>) {
        assert_eq!(
            self.meet(at, TriggerKind::MaintenanceWindow).to,
            Some(State::Expired)
        );
        assert_eq!(self.build_succeeds(at + hours(1)).to, Some(State::Purged));
        let back = self.build_succeeds(at + hours(2));
        assert_eq!(back.to, Some(State::Assigned));
        assert!(
            !back
                .commands
                .iter()
                .any(|c| matches!(c, Command::StartAssignment(_))),
            "maintenance starts no assignment"
        );
    }

    fn view(&self) -> AccountView {
        self.codec.decode(&self.tags).unwrap()
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

fn days(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::days(n)
}

fn lease_of_30_days() -> Policy {
    Policy {
        lease: Some(Duration::from_secs(30 * 24 * 3600)),
        ..policy()
    }
}

/// A pool account, prepared at t0 + 2 h.
fn pool_account(policy: Policy) -> Life {
    let mut life = Life::new(policy);
    life.meet(t0(), TriggerKind::EnteredManagedOu);
    assert_eq!(
        life.build_succeeds(t0() + hours(2)).to,
        Some(State::Prepared)
    );
    life
}

#[test]
fn a_lease_runs_through_weekly_maintenance_and_ends_on_time() {
    let mut life = pool_account(lease_of_30_days());
    let given = t0() + hours(3);
    life.meet(given, TriggerKind::OperatorAssign(jane()));
    assert_eq!(
        life.tag("account-assigned-since"),
        Some("2025-03-01T11:00:00Z")
    );
    // four weekly windows: each one moves `since`, none moves the assignment
    for week in 1..=4 {
        life.maintenance(given + days(7 * week));
        assert_eq!(life.view().since, Some(given + days(7 * week) + hours(2)));
        assert_eq!(life.view().assigned_since, Some(given), "week {week}");
        let sweep = life.meet(given + days(7 * week) + hours(3), TriggerKind::Sweep);
        assert!(sweep.is_empty(), "week {week}: {sweep:?}");
    }
    let early = life.meet(
        given + days(30) - chrono::TimeDelta::seconds(1),
        TriggerKind::Sweep,
    );
    assert!(early.is_empty(), "{early:?}");
    let end = life.meet(given + days(30), TriggerKind::Sweep);
    assert_eq!(end.to, Some(State::Expired));
    assert!(end.commands.contains(&Command::NotifyHolder {
        holder: jane(),
        label: Label::AccountExpired
    }));
    assert_eq!(life.tag("account-holder"), None);
    assert_eq!(life.tag("account-assigned-since"), None);
}

#[test]
fn after_a_lease_ends_the_next_holder_starts_a_lease_of_their_own() {
    let mut life = pool_account(lease_of_30_days());
    life.meet(t0() + hours(3), TriggerKind::OperatorAssign(jane()));
    let end = t0() + hours(3) + days(30);
    assert_eq!(life.meet(end, TriggerKind::Sweep).to, Some(State::Expired));
    life.build_succeeds(end + hours(1));
    assert_eq!(
        life.build_succeeds(end + hours(2)).to,
        Some(State::Prepared)
    );
    assert_eq!(life.tag("account-assigned-since"), None, "a pool account");

    let given = end + days(1);
    let assigned = life.meet(given, TriggerKind::HolderTagged(john()));
    assert_eq!(assigned.to, Some(State::Assigned));
    assert_eq!(life.view().assigned_since, Some(given));
    life.maintenance(given + days(3));
    assert!(
        life.meet(
            given + days(30) - chrono::TimeDelta::seconds(1),
            TriggerKind::Sweep
        )
        .is_empty(),
        "john's lease is not jane's"
    );
    let over = life.meet(given + days(30), TriggerKind::Sweep);
    assert!(over.commands.contains(&Command::NotifyHolder {
        holder: john(),
        label: Label::AccountExpired
    }));
}

#[test]
fn a_holder_named_before_the_account_is_ready_is_assigned_when_it_is_ready() {
    let mut life = Life::new(lease_of_30_days());
    life.meet(t0(), TriggerKind::EnteredManagedOu);
    let named = life.meet(t0() + hours(1), TriggerKind::OperatorAssign(jane()));
    assert_eq!(named.to, Some(State::Vended));
    assert_eq!(life.tag("account-assigned-since"), None, "not assigned yet");
    let ready = life.build_succeeds(t0() + hours(2));
    assert_eq!(ready.to, Some(State::Assigned));
    assert!(
        ready
            .commands
            .contains(&Command::StartAssignment(t0() + hours(2)))
    );
    assert_eq!(life.view().assigned_since, Some(t0() + hours(2)));
}

#[test]
fn a_release_during_maintenance_ends_the_assignment_and_the_next_holder_starts_anew() {
    let mut life = pool_account(lease_of_30_days());
    life.meet(t0() + hours(3), TriggerKind::OperatorAssign(jane()));
    life.meet(t0() + days(7), TriggerKind::MaintenanceWindow);
    let released = life.meet(t0() + days(7) + hours(1), TriggerKind::OperatorRelease);
    assert_eq!(released.commands, vec![Command::RemoveHolder]);
    assert_eq!(life.tag("account-assigned-since"), None);
    life.meet(
        t0() + days(7) + hours(2),
        TriggerKind::OperatorAssign(john()),
    );
    assert_eq!(life.tag("account-assigned-since"), None, "not ready yet");
    life.build_succeeds(t0() + days(7) + hours(3));
    assert_eq!(
        life.build_succeeds(t0() + days(7) + hours(4)).to,
        Some(State::Assigned)
    );
    assert_eq!(life.view().assigned_since, Some(t0() + days(7) + hours(4)));
}

#[test]
fn an_account_assigned_before_the_assignment_tag_counts_its_lease_from_since() {
    // tagged by an earlier spa: no `assigned-since`, `since` at t0
    let mut life = Life::new(lease_of_30_days());
    life.tags = BTreeMap::from([
        ("account-state".to_owned(), "assigned".to_owned()),
        (
            "account-since".to_owned(),
            "2025-03-01T08:00:00Z".to_owned(),
        ),
        (
            "account-holder".to_owned(),
            "jane.doe@example.com".to_owned(),
        ),
    ]);
    let fallback = life.view();
    let due = decide(
        &fallback,
        &Trigger::new(t0() + days(30), TriggerKind::Sweep),
        &life.policy,
    )
    .unwrap();
    assert_eq!(due.to, Some(State::Expired));

    // its next window writes the start down before maintenance moves `since`
    let window = life.meet(t0() + days(7), TriggerKind::MaintenanceWindow);
    assert!(window.commands.contains(&Command::StartAssignment(t0())));
    life.build_succeeds(t0() + days(7) + hours(1));
    life.build_succeeds(t0() + days(7) + hours(2));
    assert_eq!(life.view().assigned_since, Some(t0()));
    assert!(
        life.meet(
            t0() + days(30) - chrono::TimeDelta::seconds(1),
            TriggerKind::Sweep
        )
        .is_empty()
    );
    assert_eq!(
        life.meet(t0() + days(30), TriggerKind::Sweep).to,
        Some(State::Expired)
    );
}

#[test]
fn an_account_assigned_before_the_assignment_tag_keeps_its_lease_when_maintenance_is_instant() {
    let policy = Policy {
        purge: false,
        preparation: false,
        ..lease_of_30_days()
    };
    let legacy = AccountView {
        holder: Some(jane()),
        ..managed(State::Assigned)
    };
    let window = decide(
        &legacy,
        &Trigger::new(t0() + days(7), TriggerKind::MaintenanceWindow),
        &policy,
    )
    .unwrap();
    assert_eq!(window.to, Some(State::Assigned));
    let changes = TagCodec::default().encode(&window.commands);
    assert_eq!(
        changes
            .set
            .get("account-assigned-since")
            .map(String::as_str),
        Some("2025-03-01T08:00:00Z"),
        "{:?}",
        window.commands
    );
}

#[test]
fn an_assignment_start_without_holder_is_drift_and_quarantine_drops_it() {
    let view = AccountView {
        assigned_since: Some(t0()),
        ..managed(State::Prepared)
    };
    assert_eq!(view.check(), Err(Inconsistency::AssignmentWithoutHolder));
    let rejection = decide(&view, &at(TriggerKind::OperatorAssign(jane())), &policy()).unwrap_err();
    assert_eq!(rejection.exception(), Some(Label::Drift));
    assert_eq!(
        rejection.to_string(),
        "inconsistent tags: the account records the start of an assignment but has no holder"
    );
    let swept = decide(&view, &at(TriggerKind::Sweep), &policy()).unwrap();
    assert_eq!(swept.to, Some(State::Quarantined));
    assert!(swept.commands.contains(&Command::EndAssignment));
    let mut tags = BTreeMap::from([
        ("account-state".to_owned(), "prepared".to_owned()),
        (
            "account-assigned-since".to_owned(),
            "2025-03-01T08:00:00Z".to_owned(),
        ),
    ]);
    TagCodec::default().encode(&swept.commands).apply(&mut tags);
    let after = TagCodec::default().decode(&tags).unwrap();
    assert_eq!(
        after.check(),
        Ok(()),
        "quarantined once, not at every sweep"
    );

    let pool = AccountView {
        holder: Some(jane()),
        ..view
    };
    assert_eq!(
        pool.check(),
        Err(Inconsistency::AssignmentOutOfPlace {
            state: Some(State::Prepared)
        })
    );
    let reset = decide(&pool, &at(TriggerKind::OperatorReset), &policy()).unwrap();
    assert_eq!(reset.to, Some(State::Vended));
    assert!(reset.commands.contains(&Command::EndAssignment));
}

#[test]
fn a_freeze_holds_the_account_raises_the_burn_report_and_tells_the_holder() {
    let trigger = at(TriggerKind::Freeze {
        reason: "4 p4d.24xlarge since 10:00: 131.09 USD an hour".into(),
    });
    let decision = decide(&assigned_to_jane(), &trigger, &policy()).unwrap();
    assert_eq!(decision.to, Some(State::Frozen));
    assert_eq!(
        decision.commands,
        vec![
            Command::SetState {
                state: State::Frozen,
                since: trigger.at
            },
            Command::Freeze {
                from: State::Assigned
            },
            Command::EmitEvent(Label::AccountFrozen),
            Command::RecordActivity(Label::AccountFrozen),
            Command::RaiseException {
                label: Label::SpendProjected,
                reason: "4 p4d.24xlarge since 10:00: 131.09 USD an hour".into(),
            },
            Command::NotifyHolder {
                holder: jane(),
                label: Label::SpendProjected,
            },
        ]
    );
    // the tags say what it was frozen from; the holder and the assignment stay
    let codec = TagCodec::default();
    let changes = codec.encode(&decision.commands);
    assert_eq!(
        changes.set.get("account-frozen-from").map(String::as_str),
        Some("assigned")
    );
    assert!(changes.remove.is_empty());
}

#[test]
fn an_unfrozen_account_goes_back_and_one_whose_holder_tag_went_is_purged() {
    let frozen = AccountView {
        frozen_from: Some(State::Assigned),
        ..assigned_to_jane()
    };
    let frozen = AccountView {
        state: Some(State::Frozen),
        ..frozen
    };
    let back = decide(&frozen, &at(TriggerKind::OperatorUnfreeze), &policy()).unwrap();
    assert_eq!(back.to, Some(State::Assigned));
    assert!(back.commands.contains(&Command::Thaw));
    assert!(back.build_to_start().is_none());
    assert_eq!(
        TagCodec::default()
            .encode(&back.commands)
            .remove
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["account-frozen-from".to_owned()]
    );

    // the holder tag was removed by hand while frozen: the account is purged, as at
    // the end of a lease, rather than handed to the pool with what it holds
    let orphan = AccountView {
        holder: None,
        assigned_since: None,
        ..frozen
    };
    let purge = decide(&orphan, &at(TriggerKind::OperatorUnfreeze), &policy()).unwrap();
    assert_eq!(purge.to, Some(State::Expired));
    assert_eq!(purge.build_to_start(), Some((BuildKind::Purge, 1)));
    assert!(purge.events().any(|l| l == Label::AccountUnfrozen));
}

#[test]
fn a_lease_end_moves_within_the_lease_and_its_extension() {
    let days = |n: u64| std::time::Duration::from_secs(n * 86_400);
    let leased = Policy {
        lease: Some(days(30)),
        lease_extension: Some(days(14)),
        ..policy()
    };
    let jane = assigned_to_jane();
    assert_eq!(jane.lease_end(leased.lease), Some(t0() + hours(30 * 24)));
    assert_eq!(
        jane.lease_limit(leased.lease, leased.lease_extension),
        Some(t0() + hours(44 * 24))
    );
    let to = |until| at(TriggerKind::LeaseEnd { until });

    // extended to the limit: the tag, the activity
    let limit = t0() + hours(44 * 24);
    let extended = decide(&jane, &to(limit), &leased).unwrap();
    assert_eq!(extended.to, Some(State::Assigned));
    assert!(extended.commands.contains(&Command::SetLeaseEnd(limit)));
    assert_eq!(events(&extended), vec![Label::LeaseChanged]);
    let codec = TagCodec::default();
    let changes = codec.encode(&extended.commands);
    assert_eq!(
        changes.set.get("account-lease-until"),
        Some(&limit.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    );
    let written: BTreeMap<String, String> = changes.set.clone().into_iter().collect();
    let view = codec
        .decode(
            &[
                ("account-state".to_owned(), "assigned".to_owned()),
                ("account-holder".to_owned(), "jane@example.com".to_owned()),
            ]
            .into_iter()
            .chain(written)
            .collect(),
        )
        .unwrap();
    assert_eq!(view.lease_until, Some(limit));

    // shorter, as a request may ask
    let short = decide(&jane, &to(t0() + hours(7 * 24)), &leased).unwrap();
    assert!(
        short
            .commands
            .contains(&Command::SetLeaseEnd(t0() + hours(7 * 24)))
    );

    // past the limit: refused with the limit
    let beyond = decide(&jane, &to(limit + hours(1)), &leased).unwrap_err();
    assert_eq!(beyond, Rejection::BeyondLease { limit });
    assert!(beyond.to_string().contains("at the latest"));
    // in the past, the same end again, no holder, no lease, frozen: refused
    assert!(matches!(
        decide(&jane, &to(t0()), &leased),
        Err(Rejection::Illegal { .. })
    ));
    let moved = AccountView {
        lease_until: Some(limit),
        ..jane.clone()
    };
    assert!(matches!(
        decide(&moved, &to(limit), &leased),
        Err(Rejection::Duplicate { .. })
    ));
    assert!(matches!(
        decide(&managed(State::Prepared), &to(limit), &leased),
        Err(Rejection::Illegal { .. })
    ));
    assert!(matches!(
        decide(&jane, &to(limit), &policy()),
        Err(Rejection::Illegal { .. })
    ));
    let frozen = AccountView {
        state: Some(State::Frozen),
        frozen_from: Some(State::Assigned),
        ..jane.clone()
    };
    assert!(matches!(
        decide(&frozen, &to(limit), &leased),
        Err(Rejection::Illegal { .. })
    ));
    // the end of the assignment takes the lease end with it
    let released = decide(&moved, &at(TriggerKind::OperatorRelease), &leased).unwrap();
    assert!(
        codec
            .encode(&released.commands)
            .remove
            .contains("account-lease-until")
    );
}
