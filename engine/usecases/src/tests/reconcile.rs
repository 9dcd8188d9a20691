//! The spend guard's daily reconciliation as SRE and FinOps see it: an account that
//! makes no call, whose month goes over a line, is raised (or frozen) by the `digest`
//! job; one Cost Explorer read for the whole organization; delivered again, nothing
//! twice.

use super::spend::{RUN, assigned, call, world};
use super::*;
use crate::ports::SpendLedgers;
use spa_core::events::Label;

fn day(d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// Moves the world's clock to 2026-11-21 09:00 UTC, the day of the call fixtures.
fn on_the_21st(world: &World) {
    let to = chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc();
    world.advance(to - world.now());
}

fn raised(world: &World) -> Vec<spa_core::events::DomainEvent> {
    world
        .platform
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::SpendProjected)
        .collect()
}

/// The reconciliation's command of `account` in the run of the `digest` job `job`.
fn reconcile(job: &Incoming, account: &str, month_to_date: Option<&str>) -> AccountCommand {
    let Incoming::Scheduled(job) = job else {
        panic!("a scheduled job")
    };
    AccountCommand::new(
        job.event_id.as_str(),
        "SpaTest",
        id(account),
        Action::Reconcile {
            day: job.scheduled_time.date_naive(),
            month_to_date: month_to_date.map(str::to_owned),
        },
        job.scheduled_time,
        "reconciliation",
    )
}

#[tokio::test]
async fn an_account_that_makes_no_call_is_raised_by_the_daily_reconciliation_once() {
    let world = world("[{when: actual_month, over: 500, actions: [raise]}]");
    assigned(&world).await;
    on_the_21st(&world);
    let costs = &world.platform.cost_source;
    costs.add_daily(day(2), NESTED, "Amazon S3", 300.0);
    costs.add_daily(day(3), NESTED, "AWS Data Transfer", 300.0);
    costs.add_daily(day(3), OUTSIDE, "Amazon EC2", 9000.0);
    let digest = world.job(Job::Digest);
    let dispatched = world.dispatch(&digest).await;
    let reconciliation = dispatched
        .outcomes
        .iter()
        .find(|o| matches!(o.verdict, Verdict::Dispatched(_)))
        .unwrap_or_else(|| panic!("{dispatched:#?}"));
    // every managed account: the line is the account's to judge
    assert_eq!(reconciliation.verdict, Verdict::Dispatched(2));
    // one read for the whole organization, whatever the number of accounts
    assert_eq!(costs.calls.of("period_costs"), 1);
    let sent: Vec<AccountCommand> = world
        .platform
        .commands
        .sent()
        .into_iter()
        .filter(|c| c.account == id(NESTED))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].action,
        Action::Reconcile {
            day: day(21),
            month_to_date: Some("600.000000".into())
        }
    );
    world.drain().await;
    let events = raised(&world);
    assert_eq!(events.len(), 1, "{events:?}");
    let reason = events[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("actual month 600.00 USD is over 500 USD."),
        "{reason}"
    );
    assert_eq!(
        events[0].facts.get("call").map(String::as_str),
        Some("reconciliation")
    );
    // the figure is kept: a call later that day asks Cost Explorer nothing
    let kept = world.platform.store.actual(&id(NESTED)).await.unwrap();
    assert_eq!(kept.map(|k| k.amount.to_string()), Some("600.00".into()));
    assert_eq!(costs.calls.of("period_costs"), 1);
    let run = world.outcome(&call(RUN, NESTED)).await;
    assert_eq!(costs.calls.of("period_costs"), 1);
    // that call is over the line too: raised under its own cause
    assert_eq!(run.events, [Label::SpendProjected], "{run:?}");
    let before = raised(&world).len();

    // the job delivered again sends nothing; the command delivered again raises nothing
    let again = world.dispatch(&digest).await;
    assert!(
        again.outcomes.iter().any(|o| o.verdict == Verdict::Seen),
        "{again:#?}"
    );
    assert!(world.platform.commands.take().is_empty());
    let command = sent[0].clone();
    let twice = on_command(&world.engine(), &command).await.unwrap();
    assert_eq!(twice.verdict, Verdict::Seen, "{twice:?}");
    assert_eq!(raised(&world).len(), before);
}

#[tokio::test]
async fn a_projected_month_over_its_line_freezes_and_a_frozen_account_is_left_alone() {
    let world = world("[{when: projected_month, over: 500, actions: [freeze]}]");
    assigned(&world).await;
    on_the_21st(&world);
    world
        .platform
        .cost_source
        .add_daily(day(4), NESTED, "Amazon SageMaker", 800.0);
    world.dispatch(&world.job(Job::Digest)).await;
    world.drain().await;
    assert_eq!(world.state(NESTED).as_deref(), Some("frozen"));
    assert_eq!(
        world.platform.organization.policies_of(NESTED),
        ["SpaTest-Freeze"]
    );
    assert_eq!(raised(&world).len(), 1);

    // the next day: frozen already, nothing more
    world.advance(TimeDelta::days(1));
    let next = world.job(Job::Digest);
    world.dispatch(&next).await;
    let outcomes = world.drain().await.outcomes;
    assert!(
        outcomes.iter().any(|o| o.account == Some(id(NESTED))
            && matches!(&o.verdict, Verdict::Ignored(why) if why.contains("frozen already"))),
        "{outcomes:#?}"
    );
    assert_eq!(raised(&world).len(), 1);
}

#[tokio::test]
async fn cost_explorer_down_judges_the_kept_figure_without_a_request_per_account() {
    let world = world("[{when: actual_month, over: 500, actions: [raise]}]");
    assigned(&world).await;
    on_the_21st(&world);
    // kept earlier this month
    world
        .platform
        .store
        .set_actual(
            &id(NESTED),
            &spa_core::spend::Actual {
                day: day(20),
                amount: spa_core::events::Amount::parse("700").unwrap(),
            },
        )
        .await
        .unwrap();
    let costs = &world.platform.cost_source;
    costs.faults.fail(
        "period_costs",
        crate::ports::PortError::Unavailable {
            service: "ce".into(),
            message: "throttled".into(),
        },
        10,
    );
    world.dispatch(&world.job(Job::Digest)).await;
    let asked = costs.calls.of("period_costs");
    let sent = world.platform.commands.sent();
    assert!(
        sent.iter().all(|c| matches!(
            &c.action,
            Action::Reconcile {
                month_to_date: None,
                ..
            }
        )),
        "{sent:?}"
    );
    world.drain().await;
    assert_eq!(
        costs.calls.of("period_costs"),
        asked,
        "no Cost Explorer request per account"
    );
    let events = raised(&world);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("actual month 700.00 USD is over 500 USD."),
        "{events:?}"
    );
}

#[tokio::test]
async fn without_a_guard_or_with_an_hourly_line_only_the_reconciliation_does_nothing() {
    // the guard off everywhere: no Cost Explorer read, no command
    let off = World::new();
    off.assign(NESTED, JANE).await;
    let outcomes = off.dispatch(&off.job(Job::Digest)).await.outcomes;
    assert!(
        outcomes.iter().any(|o| matches!(&o.verdict, Verdict::Ignored(why) if why.contains("spend guard is off everywhere"))),
        "{outcomes:#?}"
    );
    assert!(off.platform.commands.sent().is_empty());

    // an hourly burn moves only with a call
    let hourly = world("[{when: hourly_burn, over: 1, actions: [raise]}]");
    assigned(&hourly).await;
    on_the_21st(&hourly);
    hourly.dispatch(&hourly.job(Job::Digest)).await;
    let outcomes = hourly.drain().await.outcomes;
    assert!(
        outcomes.iter().any(|o| o.account == Some(id(NESTED))
            && matches!(&o.verdict, Verdict::Ignored(why) if why.contains("hourly_burn"))),
        "{outcomes:#?}"
    );
    assert!(raised(&hourly).is_empty());
    assert!(
        hourly
            .platform
            .store
            .ledger(&id(NESTED))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_figure_that_is_not_an_amount_is_refused_with_what_was_expected() {
    let world = world("[{when: actual_month, over: 500, actions: [raise]}]");
    assigned(&world).await;
    on_the_21st(&world);
    let digest = world.job(Job::Digest);
    for bad in ["lots", "-5", "1e9"] {
        let command = reconcile(&digest, NESTED, Some(bad));
        let error = on_command(&world.engine(), &command).await.unwrap_err();
        assert!(!error.is_transient());
        let text = error.to_string();
        assert!(
            text.contains(&format!("`month_to_date` is `{bad}`: expected US dollars")),
            "{text}"
        );
    }
    assert!(raised(&world).is_empty());
    assert_eq!(
        world.platform.store.actual(&id(NESTED)).await.unwrap(),
        None
    );
    // an account spa does not manage
    let outside = on_command(&world.engine(), &reconcile(&digest, OUTSIDE, Some("9000")))
        .await
        .unwrap();
    assert_eq!(outside.verdict, Verdict::Unmanaged);
}
