//! The maintenance window and bulk operator actions fan out through the queue.

use super::*;
use crate::operator::{Finding, Mode, Selection, bulk, check, status};

/// 25 assigned accounts across nested OUs under the listed one.
async fn many(world: &World) -> Vec<String> {
    let org = world.org();
    org.add_account("999999999990", "stray", "ou-ab12-outside0");
    let ids: Vec<String> = (0..25).map(|n| format!("5000000000{n:02}")).collect();
    org.place("ou-ab12-deep0001", "ou-ab12-team0001");
    for (n, account) in ids.iter().enumerate() {
        let unit = ["ou-ab12-sandbox1", "ou-ab12-team0001", "ou-ab12-deep0001"][n % 3];
        org.add_account(account, &format!("sandbox-{n}"), unit);
        org.set_tags(
            account,
            &[
                ("account-state", "assigned"),
                ("account-since", "2025-02-01T08:00:00Z"),
                ("account-holder", JANE),
            ],
        );
    }
    ids
}

#[tokio::test]
async fn the_window_sends_one_command_per_managed_account_and_reads_no_tag() {
    let world = World::new();
    let ids = many(&world).await;
    world.org().calls.reset();
    let outcome = world.outcome(&world.job(Job::MaintenanceWindow)).await;
    // 25 accounts + the nested account already there + the listed OU NoBuilds' one
    assert_eq!(outcome.verdict, Verdict::Dispatched(27));
    let sent = world.platform.commands.sent();
    assert_eq!(sent.len(), 27);
    for account in &ids {
        assert!(sent.iter().any(|c| c.account.as_str() == account));
    }
    assert!(!sent.iter().any(|c| c.account.as_str() == OUTSIDE));
    assert_eq!(world.org().calls.of("tags"), 0);
    assert_eq!(world.org().calls.of("describe_account"), 0);
    // 4 OUs walked (Sandboxes > Team > Deep, NoBuilds): one accounts_in and one
    // units_in each
    assert_eq!(world.org().calls.of("accounts_in"), 4);
    assert_eq!(world.org().calls.of("units_in"), 4);
    assert_eq!(world.platform.commands.calls.of("send_message_batch"), 3);
    let first = &sent[0];
    assert!(
        first.id.starts_with("schedule:maintenance-window@"),
        "{}",
        first.id
    );
    assert!(first.id.ends_with(first.account.as_str()));

    // the same run delivered twice sends nothing more
    let again = world.outcome(&world.job(Job::MaintenanceWindow)).await;
    assert_eq!(again.verdict, Verdict::Seen);
    assert_eq!(world.platform.commands.sent().len(), 27);

    // the consumers expire the 25 assigned accounts, one purge each
    let drained = world.drain().await;
    assert!(drained.batch_item_failures.is_empty());
    for account in &ids {
        assert_eq!(world.state(account).as_deref(), Some("expired"));
        assert_eq!(world.builds_in(account), 1);
    }
}

#[tokio::test]
async fn bulk_actions_plan_queue_or_apply() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    world.onboard(NO_BUILDS).await;
    let engine = world.engine();
    let dry = bulk(
        &engine,
        &Selection::AllManaged,
        &Action::Expire,
        Mode::DryRun,
        "op-1",
    )
    .await
    .unwrap();
    assert_eq!(dry.planned.len(), 2);
    assert!(
        dry.planned
            .iter()
            .any(|p| p.account.as_str() == NESTED && p.result.is_ok())
    );
    assert!(
        dry.planned
            .iter()
            .any(|p| p.account.as_str() == NO_BUILDS && p.result.is_err())
    );
    assert_eq!(
        world.state(NESTED).as_deref(),
        Some("assigned"),
        "a dry run writes nothing"
    );

    let queued = bulk(
        &engine,
        &Selection::Unit("ou-ab12-sandbox1".into()),
        &Action::Expire,
        Mode::Queue,
        "op-2",
    )
    .await
    .unwrap();
    assert_eq!(queued.sent, 1);
    assert_eq!(
        world.platform.commands.sent()[0].id,
        format!("op-2/{NESTED}")
    );

    let direct = bulk(
        &engine,
        &Selection::Accounts(vec![id(NESTED)]),
        &Action::Expire,
        Mode::Direct,
        "op-3",
    )
    .await
    .unwrap();
    assert_eq!(direct.outcomes[0].to, state("expired"));
}

#[tokio::test]
async fn status_and_check_show_states_and_drift() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    world
        .org()
        .set_tags(NO_BUILDS, &[("account-state", "banana")]);
    world
        .org()
        .set_tags(OUTSIDE, &[("account-state", "prepared")]);
    let engine = world.engine();
    let lines = status(&engine).await.unwrap();
    let nested = lines.iter().find(|l| l.account.as_str() == NESTED).unwrap();
    assert_eq!(nested.state, "assigned");
    assert_eq!(nested.holder.as_deref(), Some("j***@example.com"));
    assert_eq!(nested.path, "ou-ab12-sandbox1/Team");
    let findings = check(&engine).await.unwrap();
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Undecodable(a, _) if a.as_str() == NO_BUILDS))
    );
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::StrayTags(a, _) if a.as_str() == OUTSIDE))
    );
    assert!(
        !findings
            .iter()
            .any(|f| matches!(f, Finding::Inconsistent(a, _) if a.as_str() == NESTED))
    );
}

#[tokio::test]
async fn the_sweeper_raises_what_the_management_account_could_not_forward() {
    let world = World::new();
    // a CreateAccountResult EventBridge could not deliver to the engine's bus
    let body = include_str!("../../../../fixtures/events/organizations-create-account-result.json");
    let account = serde_json::from_str::<serde_json::Value>(body).unwrap()["detail"]
        ["serviceEventDetails"]["createAccountStatus"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    world
        .platform
        .forwarding
        .lose("SpaTest", "lost-1", body, world.now());
    let engine = world.engine();
    let outcomes = dispatch(&engine, &world.job(Job::Sweeper))
        .await
        .unwrap()
        .outcomes;
    assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
    assert_eq!(outcomes[0].events, [spa_core::events::Label::DeadLetter]);
    assert_eq!(
        outcomes[0].account.as_ref().map(AccountId::as_str),
        Some(account.as_str())
    );
    // raised for the account it concerned, archived, and gone from the queue
    assert_eq!(
        world.platform.bus.labels_for(&account),
        [spa_core::events::Label::DeadLetter]
    );
    assert_eq!(world.platform.objects.keys().len(), 1);
    assert_eq!(world.platform.forwarding.left(), 0);
    // the next sweep has nothing to raise
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
async fn a_forwarded_dead_letter_that_cannot_be_raised_stays_and_the_sweep_goes_on() {
    let world = World::new();
    let body = include_str!("../../../../fixtures/events/organizations-create-account-result.json");
    world
        .platform
        .forwarding
        .lose("SpaTest", "lost-1", body, world.now());
    world.platform.bus.faults.fail(
        "publish",
        crate::ports::PortError::Unavailable {
            service: "events".into(),
            message: "down".into(),
        },
        10,
    );
    let engine = world.engine();
    let outcomes = dispatch(&engine, &world.job(Job::Sweeper))
        .await
        .unwrap()
        .outcomes;
    assert!(outcomes.is_empty(), "{outcomes:#?}");
    assert_eq!(world.platform.forwarding.left(), 1, "it stays in the queue");
    assert_eq!(engine.troubles().get("ForwardedNotRaised"), Some(&1));
}

#[tokio::test]
async fn the_window_leaves_out_what_spa_knows_is_not_assigned() {
    let world = World::new();
    world.assign(NESTED, JANE).await;
    world.onboard(NO_BUILDS).await;
    let window = |world: &World| {
        world.advance(TimeDelta::days(1));
        world.job(Job::MaintenanceWindow)
    };
    let sent_to = |world: &World, from: usize| -> Vec<String> {
        world.platform.commands.sent()[from..]
            .iter()
            .map(|c| c.account.to_string())
            .collect()
    };
    // the pool account is known prepared: only the assigned one gets a command,
    // the caches read in one call
    world.platform.store.calls.reset();
    let outcome = world.outcome(&window(&world)).await;
    assert_eq!(outcome.verdict, Verdict::Dispatched(1));
    assert_eq!(sent_to(&world, 0), [NESTED]);
    assert_eq!(world.platform.store.calls.of("cached_many"), 1);
    world.drain().await;
    assert_eq!(world.state(NESTED).as_deref(), Some("expired"));

    // a person tags the pool account: its tags are in doubt, it gets its command
    let cost_center = world.engine().codec().cost_center_key().to_owned();
    world
        .dispatch(&world.tagged(NO_BUILDS, &[(&cost_center, "CC-42")]))
        .await;
    let before = world.platform.commands.sent().len();
    world.dispatch(&window(&world)).await;
    assert_eq!(sent_to(&world, before), [NO_BUILDS]);

    // the caches cannot be read: every account gets its command
    let down = crate::ports::PortError::Unavailable {
        service: "dynamodb".into(),
        message: "throttled".into(),
    };
    world.platform.store.faults.fail("cached_many", down, 3);
    let before = world.platform.commands.sent().len();
    let outcome = world.outcome(&window(&world)).await;
    assert_eq!(outcome.verdict, Verdict::Dispatched(2));
    let mut sent = sent_to(&world, before);
    sent.sort();
    assert_eq!(sent, [NESTED, NO_BUILDS]);
}
