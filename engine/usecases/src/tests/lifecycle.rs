//! The lifecycle as a holder and an operator see it.

use super::*;
use crate::ports::DeadlineKind;
use spa_core::events::Label;
use spa_core::lifecycle::Rejection;

#[tokio::test]
async fn an_account_created_in_a_nested_managed_ou_is_vended_then_prepared() {
    let world = World::new();
    let outcome = world.outcome(&world.created(NESTED)).await;
    assert_eq!(outcome.verdict, Verdict::Applied);
    assert_eq!((outcome.from, outcome.to), (None, state("vended")));
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    assert_eq!(world.tag(NESTED, "managed-by").as_deref(), Some("spa"));
    assert_eq!(world.builds_in(NESTED), 1);
    let (request, build) = &world.platform.builds.started_in(NESTED)[0];
    assert_eq!(build.as_str(), "SpaTest-Prepare:1");
    assert_eq!(
        request.variables.get("STAGE").map(String::as_str),
        Some("prepare")
    );
    assert_eq!(
        request.variables.get("SPA_ACCOUNT_ID").map(String::as_str),
        Some(NESTED)
    );
    assert_eq!(
        world.tag(NESTED, "account-build").as_deref(),
        Some("preparation/SpaTest-Prepare:1")
    );
    assert!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Onboarding)
            .is_some()
    );

    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Onboarding),
        None
    );
    assert_eq!(
        world.platform.bus.labels_for(NESTED),
        [
            Label::AccountVended,
            Label::BuildStarted,
            Label::AccountPrepared,
            Label::OnboardingCompleted
        ]
    );
    assert_eq!(world.builds_in(NESTED), 1);
}

#[tokio::test]
async fn an_account_moved_into_a_managed_ou_is_vended() {
    let world = World::new();
    let outcome = world
        .outcome(&world.moved(OUTSIDE, "ou-ab12-sandbox1"))
        .await;
    assert_eq!(outcome.to, state("vended"));
    assert_eq!(world.builds_in(OUTSIDE), 1);
}

#[tokio::test]
async fn an_account_tagged_vended_by_hand_is_vended_and_spa_own_tags_are_ignored() {
    let world = World::new();
    let own = world.tagged_by(NESTED, &[("account-state", "vended")], spa_itself());
    let outcome = world.outcome(&own).await;
    assert!(
        matches!(outcome.verdict, Verdict::Ignored(_)),
        "{outcome:?}"
    );
    assert_eq!(world.org().calls.of("tags"), 0);
    assert_eq!(world.builds_in(NESTED), 0);

    let outcome = world
        .outcome(&world.tagged(NESTED, &[("account-state", "vended")]))
        .await;
    assert_eq!(outcome.verdict, Verdict::Applied);
    assert_eq!(world.builds_in(NESTED), 1);
}

#[tokio::test]
async fn a_full_maintenance_cycle_starts_exactly_one_build_per_step() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    let assigned_since = world.tag(NESTED, "account-assigned-since");
    assert!(assigned_since.is_some());

    world.advance(TimeDelta::days(3));
    let window = world.outcome(&world.job(Job::MaintenanceWindow)).await;
    // every managed account gets a command, whatever its state (no tag is read)
    assert_eq!(window.verdict, Verdict::Dispatched(2));
    let drained = world.drain().await;
    let expired = drained
        .outcomes
        .iter()
        .find(|o| o.account == Some(id(NESTED)))
        .unwrap();
    assert_eq!(expired.to, state("expired"));
    assert_eq!(world.builds_in(NESTED), 2);
    let (purge, _) = world.platform.builds.started_in(NESTED).pop().unwrap();
    assert_eq!(purge.kind, spa_core::lifecycle::BuildKind::Purge);
    assert!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Maintenance)
            .is_some()
    );

    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("purged"));
    assert_eq!(world.builds_in(NESTED), 3);

    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JANE));
    assert_eq!(world.tag(NESTED, "account-assigned-since"), assigned_since);
    assert_eq!(world.builds_in(NESTED), 3);
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Maintenance),
        None
    );
    assert!(
        world
            .platform
            .store
            .labels_for(NESTED)
            .contains(&Label::MaintenanceCompleted)
    );
    // no full address in any activity
    assert!(
        world
            .platform
            .store
            .recorded()
            .iter()
            .all(|a| !a.detail.contains(JANE))
    );
}

#[tokio::test]
async fn with_preparation_and_purge_disabled_no_build_runs() {
    let world = World::new();
    world.assign(NO_BUILDS, JANE).await;
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    let drained = world.drain().await;
    let outcome = drained
        .outcomes
        .iter()
        .find(|o| o.account == Some(id(NO_BUILDS)))
        .unwrap();
    assert_eq!(
        (outcome.from, outcome.to),
        (state("assigned"), state("assigned"))
    );
    assert!(
        outcome.events.contains(&Label::AccountPurged),
        "{:?}",
        outcome.events
    );
    assert_eq!(world.platform.builds.started().len(), 0);
}

#[tokio::test]
async fn a_failing_build_is_retried_then_quarantined_and_an_operator_resets_it() {
    let world = World::new();
    world.dispatch(&world.created(NESTED)).await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Failed))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("vended"));
    assert_eq!(world.tag(NESTED, "account-attempts").as_deref(), Some("2"));
    assert_eq!(world.builds_in(NESTED), 2);

    let outcome = world
        .outcome(&world.finished(NESTED, BuildStatus::TimedOut))
        .await;
    assert_eq!(outcome.to, state("quarantined"));
    assert_eq!(world.builds_in(NESTED), 2);
    assert!(
        world
            .platform
            .bus
            .labels_for(NESTED)
            .contains(&Label::BuildFailed)
    );
    assert!(
        world.platform.store.deadlines().is_empty(),
        "no sweep loop on a quarantined account"
    );

    let reset = world.command(NESTED, Action::Reset);
    let outcome = world.outcome(&batch(vec![reset])).await;
    assert_eq!(
        (outcome.from, outcome.to),
        (state("quarantined"), state("vended"))
    );
    assert_eq!(world.builds_in(NESTED), 3);
    assert_eq!(world.tag(NESTED, "account-attempts").as_deref(), Some("1"));
}

#[tokio::test]
async fn an_account_moved_out_is_unmanaged_without_purge() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    let outcome = world
        .outcome(&world.moved(NESTED, "ou-ab12-outside0"))
        .await;
    assert_eq!((outcome.from, outcome.to), (state("assigned"), None));
    assert_eq!(world.state(NESTED), None);
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JANE));
    assert_eq!(world.builds_in(NESTED), 1);
    assert!(world.platform.store.deadlines().is_empty());
    assert_eq!(
        world.platform.bus.labels_for(NESTED).last(),
        Some(&Label::AccountUnmanaged)
    );
}

#[tokio::test]
async fn a_pool_account_waits_and_its_lease_ends_with_the_sweeper() {
    let world = World::new();
    world.onboard(NESTED).await;
    // a window leaves a pool account alone: spa knows it is prepared, no command
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    assert!(
        !world
            .platform
            .commands
            .sent()
            .iter()
            .any(|c| c.account == id(NESTED))
    );
    world.drain().await;
    assert_eq!(world.builds_in(NESTED), 1);
    // its command, had it been sent (its tags in doubt), is refused: nothing started
    let outcome = world
        .outcome(&batch(vec![
            world.command(NESTED, Action::MaintenanceWindow),
        ]))
        .await;
    assert!(
        matches!(
            outcome.verdict,
            Verdict::Rejected(Rejection::Illegal { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(world.builds_in(NESTED), 1);

    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JANE)]))
        .await;
    let lease = world
        .platform
        .store
        .deadline(NESTED, DeadlineKind::Lease)
        .unwrap();
    assert_eq!(lease, world.now() + TimeDelta::days(30));
    world.advance(TimeDelta::days(31));
    let outcomes = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].to, state("expired"));
    assert_eq!(world.tag(NESTED, "account-holder"), None);
    assert_eq!(world.builds_in(NESTED), 2);
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Lease),
        None
    );
}

#[tokio::test]
async fn an_overdue_onboarding_is_quarantined_by_the_sweeper() {
    let world = World::new();
    world.dispatch(&world.created(NESTED)).await;
    world.advance(TimeDelta::hours(3));
    let outcomes = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert_eq!(outcomes[0].to, state("quarantined"));
    assert!(
        world
            .platform
            .bus
            .labels_for(NESTED)
            .contains(&Label::OnboardingTimedOut)
    );
    // the next sweep finds nothing due
    world.advance(TimeDelta::minutes(10));
    assert!(
        world
            .dispatch(&world.job(Job::Sweeper))
            .await
            .outcomes
            .is_empty()
    );
}

#[tokio::test]
async fn a_build_whose_end_never_arrived_is_read_by_the_sweeper_not_quarantined() {
    let world = World::new();
    world.dispatch(&world.created(NESTED)).await;
    // the build succeeded, but its event was lost on the way from the member account
    let build = world.platform.builds.last_in(NESTED).unwrap();
    world
        .platform
        .builds
        .set_status(&build, BuildStatus::Succeeded);
    world.advance(TimeDelta::hours(3));
    let engine = world.engine();
    let outcomes = dispatch(&engine, &world.job(Job::Sweeper))
        .await
        .unwrap()
        .outcomes;
    assert_eq!(outcomes[0].to, state("prepared"), "{outcomes:#?}");
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    assert_eq!(engine.troubles().get("LostBuildEnds"), Some(&1));
    assert!(
        !world
            .platform
            .bus
            .labels_for(NESTED)
            .contains(&Label::OnboardingTimedOut)
    );
    // and its late event, should it come, changes nothing
    let late = world.finished_build(NESTED, &build, BuildStatus::Succeeded);
    let outcome = world.outcome(&late).await;
    assert!(!outcome.changed(), "{outcome:?}");
}

#[tokio::test]
async fn a_holder_retagged_by_hand_is_not_handed_the_previous_holders_account() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    let outcome = world
        .outcome(&world.tagged(NESTED, &[("account-holder", JOHN)]))
        .await;
    assert_eq!(
        (outcome.from, outcome.to),
        (state("assigned"), state("expired"))
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JOHN));
    assert_eq!(world.tag(NESTED, "account-assigned-since"), None);
    assert_eq!(
        world.builds_in(NESTED),
        2,
        "a purge runs before John gets it"
    );

    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JOHN));
    assert!(world.tag(NESTED, "account-assigned-since").is_some());

    // the same holder tagged again is a duplicate
    let outcome = world
        .outcome(&world.tagged(NESTED, &[("account-holder", JOHN)]))
        .await;
    assert!(
        matches!(
            outcome.verdict,
            Verdict::Rejected(Rejection::Duplicate { .. })
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_unknown_state_tag_raises_drift_and_changes_nothing() {
    let world = World::new();
    world.org().set_tags(NESTED, &[("account-state", "banana")]);
    let before = world.org().tags_of(NESTED);
    let reset = world.command(NESTED, Action::Reset);
    let outcome = world.outcome(&batch(vec![reset])).await;
    assert!(matches!(outcome.verdict, Verdict::Drift(_)), "{outcome:?}");
    assert_eq!(world.org().tags_of(NESTED), before);
    assert_eq!(world.org().calls.of("change_tags"), 0);
    assert_eq!(world.platform.store.labels_for(NESTED), [Label::Drift]);
    assert_eq!(world.platform.bus.labels_for(NESTED), [Label::Drift]);
}

#[tokio::test]
async fn an_event_about_an_unmanaged_account_is_recorded_and_changes_nothing() {
    let world = World::new();
    let outcome = world.outcome(&world.created(OUTSIDE)).await;
    assert_eq!(outcome.verdict, Verdict::Unmanaged);
    assert!(world.org().tags_of(OUTSIDE).is_empty());
    assert_eq!(
        world.platform.store.labels_for(OUTSIDE),
        [Label::AccountUnmanaged]
    );
    assert!(world.platform.bus.published().is_empty());
}

#[tokio::test]
async fn an_operator_assigns_and_a_holder_that_is_not_an_email_is_refused() {
    let world = World::new();
    world.onboard(NESTED).await;
    let bad = world.command(
        NESTED,
        Action::Assign {
            holder: "jane".into(),
        },
    );
    let error = on_command(&world.engine(), &bad).await.unwrap_err();
    assert!(!error.is_transient());
    assert!(error.to_string().contains("e-mail address"), "{error}");
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));

    let good = world.command(
        NESTED,
        Action::Assign {
            holder: JANE.into(),
        },
    );
    let outcome = on_command(&world.engine(), &good).await.unwrap();
    assert_eq!(outcome.to, state("assigned"));
}

/// `NESTED`'s unit with a 72 h cooldown after each purge.
fn cooling_world() -> World {
    let mut world = World::new();
    world.settings.organizational_units[0].item.cooldown =
        Some(std::time::Duration::from_secs(72 * 3600));
    world
}

/// Assigned to jane, whose lease ends: released, purged, prepared again in the pool.
async fn purged_back_to_the_pool(world: &World) -> DateTime<Utc> {
    world.assign(NESTED, JANE).await;
    world.advance(TimeDelta::days(31));
    world.dispatch(&world.job(Job::Sweeper)).await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("purged"));
    let purged_at = world
        .tag(NESTED, "account-since")
        .and_then(|since| DateTime::parse_from_rfc3339(&since).ok())
        .expect("the instant of the purge")
        .with_timezone(&Utc);
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    purged_at
}

#[tokio::test]
async fn after_a_purge_an_operator_assign_is_refused_until_the_cooldown_ends() {
    let world = cooling_world();
    let purged_at = purged_back_to_the_pool(&world).await;
    let until = purged_at + TimeDelta::hours(72);
    assert_eq!(
        world.tag(NESTED, "account-cooldown-until"),
        Some(until.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    );
    let assign = Action::Assign {
        holder: JOHN.to_owned(),
    };
    let outcome = world
        .outcome(&batch(vec![world.command(NESTED, assign.clone())]))
        .await;
    assert_eq!(
        outcome.verdict,
        Verdict::Rejected(Rejection::Cooldown { until }),
        "{outcome:?}"
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    assert_eq!(world.tag(NESTED, "account-holder"), None);
    // no holder waits: the sweeper has nothing to do for it
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Cooldown),
        None
    );
    world.advance(TimeDelta::hours(72));
    let outcome = world
        .outcome(&batch(vec![world.command(NESTED, assign)]))
        .await;
    assert_eq!(outcome.to, state("assigned"), "{outcome:?}");
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JOHN));
}

#[tokio::test]
async fn a_holder_tagged_during_the_cooldown_is_assigned_by_the_sweeper_when_it_ends() {
    let world = cooling_world();
    let purged_at = purged_back_to_the_pool(&world).await;
    let until = purged_at + TimeDelta::hours(72);
    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JOHN)]))
        .await;
    // john waits in the pool, and the sweeper knows when to give him the account
    assert_eq!(world.state(NESTED).as_deref(), Some("prepared"));
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Cooldown),
        Some(until)
    );
    world.advance(TimeDelta::hours(24));
    let early = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert!(early.is_empty(), "{early:?}");
    world.advance(TimeDelta::hours(48));
    let outcomes = world.dispatch(&world.job(Job::Sweeper)).await.outcomes;
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].to, state("assigned"));
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(
        world.tag(NESTED, "account-assigned-since"),
        Some(world.now().format("%Y-%m-%dT%H:%M:%SZ").to_string())
    );
    assert_eq!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Cooldown),
        None
    );
    assert!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Lease)
            .is_some()
    );
}

#[tokio::test]
async fn the_maintenance_window_keeps_the_holder_whatever_the_cooldown() {
    let world = cooling_world();
    world.assign(NESTED, JANE).await;
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JANE));
}

#[tokio::test]
async fn spa_close_purges_the_account_one_last_time_closes_it_and_keeps_its_history() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    let outcome = world
        .outcome(&batch(vec![world.command(NESTED, Action::Close)]))
        .await;
    assert_eq!(outcome.to, state("expired"), "{outcome:?}");
    assert_eq!(world.tag(NESTED, "account-holder"), None);
    assert!(world.tag(NESTED, "account-closing").is_some());
    // nobody gets it meanwhile
    let refused = world
        .outcome(&batch(vec![world.command(
            NESTED,
            Action::Assign {
                holder: JOHN.to_owned(),
            },
        )]))
        .await;
    assert!(
        matches!(
            refused.verdict,
            Verdict::Rejected(Rejection::Illegal { .. })
        ),
        "{refused:?}"
    );
    assert_eq!(
        world.builds_in(NESTED),
        2,
        "preparation, then the last purge"
    );
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED), None);
    assert_eq!(
        world.platform.organization.status_of(NESTED),
        Some(crate::ports::AccountStatus::Suspended)
    );
    assert_eq!(
        world.builds_in(NESTED),
        2,
        "no preparation after the last purge"
    );
    // the final cost report, written before the account closed
    let key = format!(
        "{}/{NESTED}/{}-{NESTED}-final-costs.xlsx",
        world
            .settings
            .reporting
            .exceptions_prefix
            .trim_end_matches('/'),
        world.now().format("%Y/%Y-%m")
    );
    assert!(
        world.platform.objects.object(&key).is_some(),
        "no final cost report at {key}"
    );
    assert!(world.platform.store.deadlines().is_empty());
    // its history stays, to the end
    let labels = world.platform.store.labels_for(NESTED);
    assert_eq!(
        labels[labels.len() - 2..],
        [Label::AccountPurged, Label::AccountUnmanaged],
        "{labels:?}"
    );
    assert!(labels.contains(&Label::AccountAssigned));
    // Organizations reports the close later: nothing more to do
    let late = world
        .outcome(&world.organizations(
            OrganizationsCall::CloseAccount {
                account: id(NESTED),
            },
            super::person(),
        ))
        .await;
    assert_ne!(late.verdict, Verdict::Applied, "{late:?}");
}

#[tokio::test]
async fn with_a_suspended_unit_spa_close_parks_the_account_there() {
    let mut world = World::new();
    world.org().place("ou-ab12-parking0", "r-root");
    world.settings.organizational_units[0].item.suspended_unit =
        Some(spa_core::settings::OuId("ou-ab12-parking0".to_owned()));
    world.onboard(NESTED).await;
    world
        .dispatch(&batch(vec![world.command(NESTED, Action::Close)]))
        .await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    assert_eq!(world.state(NESTED), None);
    assert_eq!(
        world.org().parent_of(NESTED).as_deref(),
        Some("ou-ab12-parking0")
    );
    assert_eq!(
        world.platform.organization.status_of(NESTED),
        Some(crate::ports::AccountStatus::Active)
    );
}

#[tokio::test]
async fn a_holder_who_leaves_has_every_account_closed_and_nobody_elses() {
    use crate::operator::{Mode, Selection, bulk, select};
    let world = World::new();
    world.assign(NESTED, JANE).await;
    world.assign(NO_BUILDS, JANE).await;
    let engine = world.engine();
    let held = select(&engine, &Selection::HeldBy(JANE.to_owned()))
        .await
        .unwrap();
    assert_eq!(held, vec![id(NESTED), id(NO_BUILDS)]);
    assert!(
        select(&engine, &Selection::HeldBy(JOHN.to_owned()))
            .await
            .unwrap()
            .is_empty()
    );
    let report = bulk(
        &engine,
        &Selection::HeldBy(JANE.to_owned()),
        &Action::Close,
        Mode::Direct,
        "operator-close",
    )
    .await
    .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    // the one without purge is closed at once; the other one purges first
    assert_eq!(world.state(NO_BUILDS), None);
    assert_eq!(
        world.platform.organization.status_of(NO_BUILDS),
        Some(crate::ports::AccountStatus::Suspended)
    );
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));
    assert!(world.tag(NESTED, "account-closing").is_some());
}

#[tokio::test]
async fn a_frozen_account_is_held_by_the_freeze_policy_until_an_operator_unfreezes_it() {
    let world = World::new();
    world.onboard(NESTED).await;
    world
        .dispatch(&world.tagged(NESTED, &[("account-holder", JANE)]))
        .await;
    assert_eq!(world.state(NESTED).as_deref(), Some("assigned"));
    let organization = &world.platform.organization;
    let freeze = world.command(
        NESTED,
        Action::Freeze {
            reason: "4 p4d.24xlarge since 09:00, 131.09 USD an hour (jane@example.com)".into(),
        },
    );
    let outcome = on_command(&world.engine(), &freeze).await.unwrap();
    assert_eq!(
        (outcome.from, outcome.to),
        (state("assigned"), state("frozen"))
    );
    assert_eq!(
        world.tag(NESTED, "account-frozen-from").as_deref(),
        Some("assigned")
    );
    assert_eq!(world.tag(NESTED, "account-holder").as_deref(), Some(JANE));
    assert_eq!(organization.policies_of(NESTED), ["SpaTest-Freeze"]);
    // the incident carries the burn report, without the address
    let published = world.platform.bus.published();
    let raised = published
        .iter()
        .find(|e| e.label == Label::SpendProjected)
        .expect("SpendProjected raised");
    let reason = raised.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("p4d.24xlarge"), "{reason}");
    assert!(!reason.contains("jane@example.com"), "{reason}");
    // no lease runs while frozen: the sweeper leaves it alone
    assert_eq!(
        world.platform.store.deadline(NESTED, DeadlineKind::Lease),
        None
    );
    // delivered twice: nothing twice
    let again = on_command(&world.engine(), &freeze).await.unwrap();
    assert_eq!(again.verdict, Verdict::Seen);
    // the window, a release and the holder leave it as it is
    for action in [Action::Expire, Action::Release] {
        let outcome = on_command(&world.engine(), &world.command(NESTED, action))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome.verdict,
                Verdict::Rejected(Rejection::Illegal { .. })
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(world.state(NESTED).as_deref(), Some("frozen"));

    let unfreeze = world.command(NESTED, Action::Unfreeze);
    let outcome = on_command(&world.engine(), &unfreeze).await.unwrap();
    assert_eq!(
        (outcome.from, outcome.to),
        (state("frozen"), state("assigned"))
    );
    assert_eq!(world.tag(NESTED, "account-frozen-from"), None);
    assert!(organization.policies_of(NESTED).is_empty());
    assert!(
        world
            .platform
            .store
            .deadline(NESTED, DeadlineKind::Lease)
            .is_some(),
        "the lease is watched again"
    );
    assert_eq!(
        world
            .platform
            .bus
            .labels_for(NESTED)
            .iter()
            .rev()
            .take(1)
            .collect::<Vec<_>>(),
        [&Label::AccountUnfrozen]
    );
}
