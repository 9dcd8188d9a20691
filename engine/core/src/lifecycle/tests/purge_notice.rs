//! The pre-purge notice and its snooze: the sweeper starts a dry run `before` the next
//! purge, the dry run's end tells the holder without moving the account, a snooze puts
//! the purge off once (the window leaves the account alone, the lease waits, the
//! sweeper purges it when the snooze ends).

use std::time::Duration;

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

/// Wednesdays at 18:00: t0 is Saturday 2025-03-01 08:00, so the next window is
/// t0 + 106h (2025-03-05T18:00:00Z).
fn notice_policy() -> Policy {
    Policy {
        purge_notice: Some(NoticePolicy {
            before: DAY,
            snooze: 3 * DAY,
        }),
        maintenance_window: Some(Schedule::parse("cron(0 18 ? * WED *)").unwrap()),
        ..policy()
    }
}

fn window() -> DateTime<Utc> {
    t0() + hours(106)
}

fn assigned_to_jane() -> AccountView {
    AccountView {
        holder: Some(jane()),
        assigned_since: Some(t0()),
        ..managed(State::Assigned)
    }
}

fn when(offset: i64, kind: TriggerKind) -> Trigger {
    Trigger::new(t0() + hours(offset), kind)
}

fn snooze(by: Option<Duration>, asker: Option<Holder>) -> TriggerKind {
    TriggerKind::Snooze { by, asker }
}

#[test]
fn the_next_purge_is_the_earlier_of_the_window_and_the_lease_end() {
    let view = assigned_to_jane();
    let policy = notice_policy();
    assert_eq!(view.next_purge(t0(), &policy), Some(window()));
    let short = Policy {
        lease: Some(Duration::from_secs(48 * 3600)),
        ..notice_policy()
    };
    assert_eq!(view.next_purge(t0(), &short), Some(t0() + hours(48)));
    // a rate() window has no known phase: only the lease counts
    let rate = Policy {
        maintenance_window: Some(Schedule::parse("rate(7 days)").unwrap()),
        ..short.clone()
    };
    assert_eq!(view.next_purge(t0(), &rate), Some(t0() + hours(48)));
    // snoozed: the end of the snooze
    let snoozed = AccountView {
        snoozed_until: Some(t0() + hours(200)),
        ..view.clone()
    };
    assert_eq!(snoozed.next_purge(t0(), &short), Some(t0() + hours(200)));
    // only an assigned account has a purge ahead
    assert_eq!(managed(State::Prepared).next_purge(t0(), &policy), None);
}

#[test]
fn the_sweeper_starts_the_dry_run_before_the_purge_once() {
    let view = assigned_to_jane();
    let policy = notice_policy();
    assert_eq!(
        view.notice_due(t0(), &policy),
        Some((window() - hours(24), window()))
    );
    let early = decide(&view, &when(81, TriggerKind::Sweep), &policy).unwrap();
    assert!(early.is_empty(), "{:?}", early.commands);
    let due = decide(&view, &when(82, TriggerKind::Sweep), &policy).unwrap();
    assert_eq!(due.to, Some(State::Assigned));
    assert!(!due.changed());
    assert_eq!(
        due.commands,
        vec![Command::StartPreview { purge: window() }]
    );
    // the tag that records it: the purge and the dry run
    let codec = TagCodec::default();
    let changes = codec.notice_started(window(), Some(&build_id("spa-purge:p-1")));
    assert_eq!(
        changes.set.get("account-purge-notice").map(String::as_str),
        Some("2025-03-05T18:00:00Z/spa-purge:p-1")
    );
    let mut tags = codec.encode(&[]).set;
    tags.insert("account-state".into(), "assigned".into());
    tags.insert("account-since".into(), "2025-03-01T08:00:00Z".into());
    tags.insert("account-holder".into(), "jane.doe@example.com".into());
    changes.apply(&mut tags);
    let noticed = codec.decode(&tags).unwrap();
    assert_eq!(
        noticed.notice,
        Some(PurgeNoticeTag {
            purge: window(),
            preview: Some(build_id("spa-purge:p-1")),
        })
    );
    // announced once: the next sweeps leave it
    let again = decide(&noticed, &when(90, TriggerKind::Sweep), &policy).unwrap();
    assert!(again.is_empty(), "{:?}", again.commands);
    assert_eq!(noticed.notice_due(t0() + hours(90), &policy), None);
    // no settings, no notice
    let none = decide(
        &view,
        &when(100, TriggerKind::Sweep),
        &policy_without_notice(),
    )
    .unwrap();
    assert!(none.is_empty());
}

fn policy_without_notice() -> Policy {
    Policy {
        maintenance_window: notice_policy().maintenance_window,
        ..policy()
    }
}

fn noticed() -> AccountView {
    AccountView {
        notice: Some(PurgeNoticeTag {
            purge: window(),
            preview: Some(build_id("p-1")),
        }),
        ..assigned_to_jane()
    }
}

#[test]
fn the_dry_run_tells_the_holder_and_moves_nothing() {
    for status in [
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::TimedOut,
    ] {
        let decision = decide(
            &noticed(),
            &when(83, finished("p-1", status)),
            &notice_policy(),
        )
        .unwrap();
        assert!(!decision.changed());
        assert_eq!(
            decision.commands,
            vec![
                Command::TellPurgeNotice {
                    holder: jane(),
                    purge: window(),
                    preview: Some((build_id("p-1"), status)),
                },
                Command::RecordActivity(Label::PurgeNotice),
            ]
        );
    }
    // another build's end is not the dry run's
    let other = decide(
        &noticed(),
        &when(83, finished("p-0", BuildStatus::Succeeded)),
        &notice_policy(),
    );
    assert!(
        matches!(other, Err(Rejection::Duplicate { .. })),
        "{other:?}"
    );
    // still running: nothing
    let running = decide(
        &noticed(),
        &when(83, finished("p-1", BuildStatus::InProgress)),
        &notice_policy(),
    );
    assert!(
        matches!(running, Err(Rejection::Illegal { .. })),
        "{running:?}"
    );
    // the awaited purge is never taken for a dry run
    let purging = AccountView {
        notice: noticed().notice,
        ..expired_purging(1)
    };
    let decision = decide(
        &purging,
        &at(finished("b-1", BuildStatus::Succeeded)),
        &notice_policy(),
    )
    .unwrap();
    assert_eq!(decision.to, Some(State::Purged));
}

#[test]
fn a_snooze_puts_the_purge_off_once_by_at_most_the_settings() {
    let policy = notice_policy();
    let decision = decide(&noticed(), &when(90, snooze(None, Some(jane()))), &policy).unwrap();
    let until = window() + hours(72);
    assert!(!decision.changed());
    assert_eq!(
        decision.commands,
        vec![
            Command::Snooze {
                purge: window(),
                until,
            },
            Command::EmitEvent(Label::PurgeSnoozed),
            Command::RecordActivity(Label::PurgeSnoozed),
        ]
    );
    assert_eq!(
        TagCodec::default()
            .encode(&decision.commands)
            .set
            .get("account-snoozed-until")
            .map(String::as_str),
        Some("2025-03-08T18:00:00Z")
    );
    let snoozed = AccountView {
        snoozed_until: Some(until),
        ..noticed()
    };
    // once per purge
    let again = decide(&snoozed, &when(91, snooze(Some(DAY), None)), &policy).unwrap_err();
    assert_eq!(again, Rejection::Snooze(SnoozeRefusal::Again { until }));
    assert!(
        again.to_string().contains("2025-03-08T18:00:00Z"),
        "{again}"
    );
    // by at most the settings
    let long = decide(&noticed(), &when(90, snooze(Some(4 * DAY), None)), &policy).unwrap_err();
    assert_eq!(
        long.to_string(),
        "a snooze is more than 0 and at most 3d; asked 4d"
    );
    let zero = decide(
        &noticed(),
        &when(90, snooze(Some(Duration::ZERO), None)),
        &policy,
    );
    assert!(matches!(
        zero,
        Err(Rejection::Snooze(SnoozeRefusal::TooLong { .. }))
    ));
    // shorter is fine
    let short = decide(&noticed(), &when(90, snooze(Some(DAY), None)), &policy).unwrap();
    assert!(short.commands.contains(&Command::Snooze {
        purge: window(),
        until: window() + hours(24),
    }));
    // only the holder, or an operator
    let john_asks = decide(&noticed(), &when(90, snooze(None, Some(john()))), &policy).unwrap_err();
    assert_eq!(john_asks, Rejection::Snooze(SnoozeRefusal::NotHolder));
    // not without the settings, not on a pool account
    let not_offered = decide(
        &noticed(),
        &when(90, snooze(None, None)),
        &policy_without_notice(),
    );
    assert_eq!(
        not_offered.unwrap_err(),
        Rejection::Snooze(SnoozeRefusal::NotOffered)
    );
    let pool = decide(
        &managed(State::Prepared),
        &when(90, snooze(None, None)),
        &policy,
    );
    assert!(matches!(pool, Err(Rejection::Illegal { .. })));
}

#[test]
fn the_window_leaves_a_snoozed_account_and_the_sweeper_purges_it_when_the_snooze_ends() {
    let policy = notice_policy();
    let until = window() + hours(72);
    let snoozed = AccountView {
        snoozed_until: Some(until),
        ..noticed()
    };
    let skipped = decide(
        &snoozed,
        &Trigger::new(window(), TriggerKind::MaintenanceWindow),
        &policy,
    )
    .unwrap_err();
    assert_eq!(skipped, Rejection::Snoozed { until });
    assert!(
        skipped.to_string().contains("2025-03-08T18:00:00Z"),
        "{skipped}"
    );
    // before its end the sweeper does nothing (and no second notice)
    let waiting = decide(
        &snoozed,
        &Trigger::new(until - hours(1), TriggerKind::Sweep),
        &policy,
    )
    .unwrap();
    assert!(waiting.is_empty(), "{:?}", waiting.commands);
    // at its end: purged, the holder kept (no lease), the snooze gone
    let purged = decide(&snoozed, &Trigger::new(until, TriggerKind::Sweep), &policy).unwrap();
    assert_eq!(purged.to, Some(State::Expired));
    assert!(purged.commands.contains(&Command::EndSnooze));
    assert!(!purged.commands.contains(&Command::RemoveHolder));
    assert!(
        TagCodec::default()
            .encode(&purged.commands)
            .remove
            .contains("account-snoozed-until")
    );
    // an operator's expire purges at once, and clears the snooze
    let expired = decide(&snoozed, &when(100, TriggerKind::OperatorExpire), &policy).unwrap();
    assert_eq!(expired.to, Some(State::Expired));
    assert!(expired.commands.contains(&Command::EndSnooze));
}

#[test]
fn a_snooze_postpones_the_lease_end_too() {
    // lease of 100h from t0: it ends before the window
    let policy = Policy {
        lease: Some(Duration::from_secs(100 * 3600)),
        ..notice_policy()
    };
    let view = assigned_to_jane();
    assert_eq!(view.next_purge(t0(), &policy), Some(t0() + hours(100)));
    let granted = decide(&view, &when(80, snooze(None, Some(jane()))), &policy).unwrap();
    let until = t0() + hours(172);
    assert!(granted.commands.contains(&Command::Snooze {
        purge: t0() + hours(100),
        until,
    }));
    let snoozed = AccountView {
        snoozed_until: Some(until),
        ..view
    };
    // the lease ended, but the snooze holds
    let held = decide(&snoozed, &when(120, TriggerKind::Sweep), &policy).unwrap();
    assert!(held.is_empty(), "{:?}", held.commands);
    // then released and purged
    let released = decide(&snoozed, &Trigger::new(until, TriggerKind::Sweep), &policy).unwrap();
    assert_eq!(released.to, Some(State::Expired));
    assert!(released.commands.contains(&Command::RemoveHolder));
    assert!(released.commands.contains(&Command::EndSnooze));
}

#[test]
fn once_told_the_tag_keeps_the_purge_and_a_lost_dry_run_end_is_asked_for() {
    let policy = notice_policy();
    let told = decide(
        &noticed(),
        &when(83, finished("p-1", BuildStatus::Succeeded)),
        &policy,
    )
    .unwrap();
    let changes = TagCodec::default().encode(&told.commands);
    assert_eq!(
        changes.set.get("account-purge-notice").map(String::as_str),
        Some("2025-03-05T18:00:00Z")
    );
    // while the dry run is awaited: asked about 4 h (the maintenance deadline) after
    // the notice was due, or after now when it started late; at the latest the purge
    let due = window() - hours(24);
    assert_eq!(
        noticed().preview_pending(t0(), &policy),
        Some((&build_id("p-1"), due + hours(4)))
    );
    let late = window() - hours(2);
    assert_eq!(
        noticed().preview_pending(late, &policy),
        Some((&build_id("p-1"), window()))
    );
    // told: nothing pending
    let after = AccountView {
        notice: Some(PurgeNoticeTag {
            purge: window(),
            preview: None,
        }),
        ..assigned_to_jane()
    };
    assert_eq!(after.preview_pending(t0(), &policy), None);
    assert_eq!(after.notice_due(t0(), &policy), None);
}
