//! The daily digest and the residual cost check, on the in-memory platform with a
//! small cost source of daily rows.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{NaiveDate, TimeDelta, TimeZone};

use super::*;
use crate::digest::{daily_digest, on_digest_job, read_digest};
use crate::ports::{CostSource, PortError};
use crate::residual::{ResidualPolicy, residual_costs};
use spa_core::events::{Label, ScheduledJob};
use spa_core::reports::{CostBreakdowns, DailyCost, Forecast, Month, PeriodCosts};

const SLACK: &str = "https://hooks.slack.example/T0/B0/secret";
const TEAMS: &str = "https://teams.example/workflows/secret";

/// Daily rows (day, account, service, amount); every answer is summed from them.
#[derive(Default)]
pub(super) struct FakeCosts {
    rows: Mutex<Vec<(NaiveDate, AccountId, String, f64)>>,
    /// The next calls fail with these.
    failures: Mutex<Vec<PortError>>,
    /// Every `period_costs` and `daily_costs` call: (start, end).
    calls: Mutex<Vec<(NaiveDate, NaiveDate)>>,
}

impl FakeCosts {
    fn add(&self, day: NaiveDate, account: &str, service: &str, amount: f64) {
        self.rows
            .lock()
            .unwrap()
            .push((day, id(account), service.to_owned(), amount));
    }

    /// The same cost every day of `days`.
    fn every_day(&self, from: NaiveDate, days: i64, account: &str, service: &str, amount: f64) {
        for n in 0..days {
            self.add(from + TimeDelta::days(n), account, service, amount);
        }
    }

    fn fail(&self, error: PortError, times: usize) {
        self.failures
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(error, times));
    }

    fn check(&self, start: NaiveDate, end: NaiveDate) -> Result<(), PortError> {
        self.calls.lock().unwrap().push((start, end));
        let mut failures = self.failures.lock().unwrap();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.remove(0))
        }
    }

    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl CostSource for FakeCosts {
    async fn monthly_costs(&self, _month: Month) -> Result<CostBreakdowns, PortError> {
        Ok(CostBreakdowns::default())
    }

    async fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> Result<PeriodCosts, PortError> {
        self.check(start, end)?;
        let mut services: BTreeMap<String, f64> = BTreeMap::new();
        let mut accounts: BTreeMap<AccountId, f64> = BTreeMap::new();
        for (day, who, service, amount) in self.rows.lock().unwrap().iter() {
            if *day < start || *day >= end || account.is_some_and(|a| a != who) {
                continue;
            }
            *services.entry(service.clone()).or_default() += amount;
            *accounts.entry(who.clone()).or_default() += amount;
        }
        Ok(PeriodCosts {
            start,
            end,
            currency: "USD".into(),
            by_service: services.into_iter().collect(),
            by_account: accounts.into_iter().collect(),
        })
    }

    async fn daily_costs(
        &self,
        accounts: &[AccountId],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DailyCost>, PortError> {
        self.check(start, end)?;
        let mut sums: BTreeMap<(NaiveDate, AccountId), f64> = BTreeMap::new();
        for (day, who, _, amount) in self.rows.lock().unwrap().iter() {
            if *day >= start && *day < end && accounts.contains(who) {
                *sums.entry((*day, who.clone())).or_default() += amount;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((day, account), amount)| DailyCost {
                day,
                account,
                amount,
            })
            .collect())
    }

    async fn forecast(
        &self,
        _month: Month,
        _today: NaiveDate,
    ) -> Result<Option<Forecast>, PortError> {
        Ok(None)
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Settings with the digest on or off and both webhooks.
fn world(digest: bool) -> World {
    world_with(digest, "secretsmanager:spa/test/teams")
}

/// Settings with the digest on or off, Slack, and Teams' URL kept under `teams`.
fn world_with(digest: bool, teams: &str) -> World {
    let mut world = World::new();
    let text = format!(
        "{SETTINGS}notifications:\n  slack_webhook: ssm:/spa/test/slack\n  teams_webhook: {teams}\nfeatures:\n  daily_digest: {digest}\n"
    );
    world.settings = match load("settings.yaml", &text, &MemorySources::new()) {
        Ok(loaded) => loaded.settings,
        Err(error) => panic!("{error}"),
    };
    world.platform.secrets.set("ssm:/spa/test/slack", SLACK);
    world
        .platform
        .secrets
        .set("secretsmanager:spa/test/teams", TEAMS);
    world
}

/// The digest run of 2026-11-21 at 07:00 UTC.
fn run_at(at: chrono::DateTime<Utc>) -> ScheduledJob {
    ScheduledJob {
        event_id: EventId::schedule("digest", &at),
        job: Job::Digest,
        report: None,
        scheduled_time: at,
    }
}

fn digest_run() -> ScheduledJob {
    run_at(Utc.with_ymd_and_hms(2026, 11, 21, 7, 0, 0).unwrap())
}

/// Nested spends 10 USD of EC2 a day through November (5 the days of October), and
/// outside 2 USD of S3 on 2026-11-20 only.
fn seeded() -> FakeCosts {
    let costs = FakeCosts::default();
    costs.every_day(day("2026-10-01"), 31, NESTED, "Amazon EC2", 5.0);
    costs.every_day(day("2026-11-01"), 30, NESTED, "Amazon EC2", 10.0);
    costs.add(day("2026-11-20"), OUTSIDE, "Amazon S3 & <Glacier>", 2.0);
    costs
}

fn posted_to(world: &World, url: &str) -> Vec<serde_json::Value> {
    world
        .platform
        .webhooks
        .posted()
        .into_iter()
        .filter(|(to, _)| to == url)
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn a_digest_run_posts_the_figures_to_slack_and_teams() {
    let world = world(true);
    let costs = seeded();
    let outcome = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap();
    assert_eq!(
        outcome.verdict,
        Verdict::Notified("slack: posted, teams: posted".into())
    );
    let slack = posted_to(&world, SLACK);
    assert_eq!(slack.len(), 1);
    let text = slack[0].to_string();
    // yesterday: 10 + 2 against 10; month to date 20 days of 10 + 2 against 20 days of 5
    assert!(
        text.contains("*Yesterday* (2026-11-20)\\n*12.00 USD* +20.0% vs 10.00 USD"),
        "{text}"
    );
    assert!(
        text.contains(
            "*Month to date* (2026-11-01 – 2026-11-20)\\n*202.00 USD* +102.0% vs 100.00 USD"
        ),
        "{text}"
    );
    assert!(
        text.contains("1. nested (111111111111): 200.00 USD (+100.0%)"),
        "{text}"
    );
    assert!(
        text.contains("2. outside (222222222222): 2.00 USD (new)"),
        "{text}"
    );
    assert!(text.contains("Amazon S3 &amp; &lt;Glacier&gt;"), "{text}");
    let teams = posted_to(&world, TEAMS);
    assert_eq!(teams.len(), 1);
    assert_eq!(
        teams[0]["attachments"][0]["content"]["body"][1]["facts"][3]["value"],
        "155.00 USD (new) vs 0.00 USD",
        "last month: 31 days of 5, nothing in September: {}",
        teams[0]
    );
}

#[tokio::test]
async fn a_duplicated_run_posts_once() {
    let world = world(true);
    let costs = seeded();
    let run = digest_run();
    daily_digest(&world.engine(), &costs, &run).await.unwrap();
    let again = daily_digest(&world.engine(), &costs, &run).await.unwrap();
    assert_eq!(again.verdict, Verdict::Seen);
    assert_eq!(world.platform.webhooks.posted().len(), 2, "one per channel");
}

#[tokio::test]
async fn one_channel_failing_never_stops_the_other() {
    let world = world(true);
    let costs = seeded();
    // Slack is posted first: it fails, Teams still gets the card
    world.platform.webhooks.faults.fail(
        "post_json",
        PortError::Unavailable {
            service: "slack".into(),
            message: "500 Internal Server Error".into(),
        },
        1,
    );
    let outcome = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap();
    assert_eq!(
        outcome.verdict,
        Verdict::Notified("teams: posted; failed: slack".into())
    );
    assert_eq!(posted_to(&world, TEAMS).len(), 1);
    assert!(outcome.warnings[0].starts_with("slack: "), "{outcome:?}");

    // Teams' URL cannot be read: Slack still gets the digest
    let world = world_with(true, "secretsmanager:spa/test/missing");
    let outcome = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap();
    assert_eq!(
        outcome.verdict,
        Verdict::Notified("slack: posted; failed: teams".into())
    );
    assert!(
        outcome.warnings[0].contains("could not be read from `secretsmanager:spa/test/missing`"),
        "{outcome:?}"
    );
    assert_eq!(posted_to(&world, SLACK).len(), 1);
}

#[tokio::test]
async fn the_digest_is_skipped_when_off_and_retried_when_costs_cannot_be_read() {
    let world = world(false);
    let costs = seeded();
    let outcome = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap();
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("features.daily_digest")),
        "{outcome:?}"
    );
    assert_eq!(costs.calls(), 0);
    assert!(world.platform.webhooks.posted().is_empty());

    let world = self::world(true);
    costs.fail(
        PortError::Unavailable {
            service: "ce".into(),
            message: "throttled".into(),
        },
        3,
    );
    let error = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(world.platform.webhooks.posted().is_empty());
    // the claim was released: the retry posts
    let outcome = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap();
    assert!(
        matches!(outcome.verdict, Verdict::Notified(_)),
        "{outcome:?}"
    );
    assert_eq!(world.platform.webhooks.posted().len(), 2);

    let denied = PortError::Denied {
        service: "ce".into(),
        action: "GetCostAndUsage".into(),
        message: "no".into(),
    };
    let world = self::world(true);
    costs.fail(denied, 1);
    let error = daily_digest(&world.engine(), &costs, &digest_run())
        .await
        .unwrap_err();
    assert!(!error.is_transient());
    assert!(error.to_string().contains("GetCostAndUsage"), "{error}");
}

#[tokio::test]
async fn the_digest_of_one_account_reads_its_costs_only() {
    let world = world(true);
    let costs = seeded();
    let digest = read_digest(
        &world.engine(),
        &costs,
        day("2026-11-21"),
        Some(&id(OUTSIDE)),
    )
    .await
    .unwrap();
    assert_eq!(digest.periods[0].line.amount, 2.0);
    assert_eq!(digest.periods[2].line.amount, 2.0);
    assert!(digest.top_accounts.is_empty());
    let account = digest.account.unwrap();
    assert_eq!(account.name, "outside");
    assert_eq!(costs.calls(), 8, "4 periods and the 4 before");
}

/// Nested is purged during the maintenance window of `t0` (2025-03-01).
async fn purged(world: &World) -> chrono::DateTime<Utc> {
    world.assign(NESTED, JANE).await;
    world.dispatch(&world.job(Job::MaintenanceWindow)).await;
    world.drain().await;
    world
        .dispatch(&world.finished(NESTED, BuildStatus::Succeeded))
        .await;
    let purge = world
        .platform
        .store
        .recorded_for(NESTED)
        .into_iter()
        .find(|a| a.label == Label::AccountPurged)
        .expect("the purge is in the history");
    purge.at
}

fn policy() -> ResidualPolicy {
    ResidualPolicy {
        threshold: 5.0,
        days: 3,
        currency: "USD".into(),
    }
}

#[tokio::test]
async fn a_purged_account_still_spending_raises_residual_cost_once() {
    let world = world(false);
    let purge = purged(&world).await;
    assert_eq!(purge.date_naive(), day("2025-03-01"));
    let costs = FakeCosts::default();
    // the day of the purge does not count, the days after do
    costs.add(day("2025-03-01"), NESTED, "Amazon EC2", 50.0);
    costs.add(day("2025-03-02"), NESTED, "Amazon EC2", 7.5);
    costs.add(day("2025-03-03"), NESTED, "Amazon EC2", 1.0);
    // nested the next day: no full day behind the purge yet
    let first = run_at(Utc.with_ymd_and_hms(2025, 3, 2, 7, 0, 0).unwrap());
    let outcome = residual_costs(&world.engine(), &costs, &first, &policy())
        .await
        .unwrap();
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("no purge with a full day")),
        "{outcome:?}"
    );
    let run = run_at(Utc.with_ymd_and_hms(2025, 3, 4, 7, 0, 0).unwrap());
    let outcome = residual_costs(&world.engine(), &costs, &run, &policy())
        .await
        .unwrap();
    assert_eq!(outcome.events, [Label::ResidualCost]);
    let published: Vec<_> = world
        .platform
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::ResidualCost)
        .collect();
    assert_eq!(published.len(), 1);
    let event = &published[0];
    assert_eq!(event.account, id(NESTED));
    let reason = event.reason.clone().unwrap();
    assert!(
        reason.contains("7.50 USD on 2025-03-02")
            && reason.contains("threshold of 5.00 USD a day")
            && reason.contains("purge on 2025-03-01"),
        "{reason}"
    );
    assert!(
        !reason.contains("50.00"),
        "the day of the purge does not count: {reason}"
    );
    assert_eq!(
        world.platform.store.labels_for(NESTED).last(),
        Some(&Label::ResidualCost)
    );
    // the next day's run finds it raised
    let next = run_at(Utc.with_ymd_and_hms(2025, 3, 5, 7, 0, 0).unwrap());
    let outcome = residual_costs(&world.engine(), &costs, &next, &policy())
        .await
        .unwrap();
    assert!(outcome.events.is_empty(), "{outcome:?}");
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(text) if text.contains("1 raised before")),
        "{outcome:?}"
    );
    let raised = world
        .platform
        .bus
        .published()
        .iter()
        .filter(|e| e.label == Label::ResidualCost)
        .count();
    assert_eq!(raised, 1);
}

#[tokio::test]
async fn a_purged_account_below_the_threshold_or_out_of_the_window_raises_nothing() {
    let world = world(false);
    purged(&world).await;
    let costs = FakeCosts::default();
    costs.every_day(day("2025-03-02"), 3, NESTED, "Amazon EC2", 4.99);
    // a day past the `days` after the purge
    costs.add(day("2025-03-05"), NESTED, "Amazon EC2", 80.0);
    for day in [4, 5, 6] {
        let run = run_at(Utc.with_ymd_and_hms(2025, 3, day, 7, 0, 0).unwrap());
        let outcome = residual_costs(&world.engine(), &costs, &run, &policy())
            .await
            .unwrap();
        assert!(outcome.events.is_empty(), "{day}: {outcome:?}");
    }
    // past the window, the purge is no longer read
    let run = run_at(Utc.with_ymd_and_hms(2025, 3, 9, 7, 0, 0).unwrap());
    let outcome = residual_costs(&world.engine(), &costs, &run, &policy())
        .await
        .unwrap();
    assert!(
        matches!(&outcome.verdict, Verdict::Ignored(why) if why.contains("0 purge(s) seen")),
        "{outcome:?}"
    );
    assert!(
        !world
            .platform
            .bus
            .published()
            .iter()
            .any(|e| e.label == Label::ResidualCost)
    );
}

#[tokio::test]
async fn the_digest_job_runs_the_check_even_with_the_digest_off_and_fails_for_a_retry() {
    let world = world(false);
    purged(&world).await;
    let costs = FakeCosts::default();
    costs.add(day("2025-03-02"), NESTED, "Amazon EC2", 9.0);
    let run = run_at(Utc.with_ymd_and_hms(2025, 3, 3, 7, 0, 0).unwrap());
    let outcomes = on_digest_job(&world.engine(), &costs, &run, Some(&policy()))
        .await
        .unwrap();
    // the residual cost check, the spend guard's reconciliation (off), the digest
    assert_eq!(outcomes.len(), 3, "{outcomes:#?}");
    assert_eq!(outcomes[0].events, [Label::ResidualCost]);
    assert!(
        matches!(&outcomes[1].verdict, Verdict::Ignored(why) if why.contains("spend guard is off everywhere"))
    );
    assert!(matches!(outcomes[2].verdict, Verdict::Ignored(_)));

    // the costs cannot be read: the run fails for a retry, nothing raised twice
    let world = self::world(true);
    purged(&world).await;
    costs.fail(
        PortError::Unavailable {
            service: "ce".into(),
            message: "throttled".into(),
        },
        3,
    );
    let error = on_digest_job(&world.engine(), &costs, &run, Some(&policy()))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    let outcomes = on_digest_job(&world.engine(), &costs, &run, Some(&policy()))
        .await
        .unwrap();
    assert_eq!(outcomes[0].events, [Label::ResidualCost], "{outcomes:#?}");
    // the digest was posted by the failed run: the retry finds it posted
    assert_eq!(outcomes[2].verdict, Verdict::Seen, "{outcomes:#?}");
    assert_eq!(world.platform.webhooks.posted().len(), 2);
}

#[tokio::test]
async fn the_scheduled_digest_job_runs_the_check_and_the_digest_on_the_platform_cost_source() {
    let mut world = world(true);
    world.settings.features.residual_cost.threshold = 5.0;
    purged(&world).await;
    let costs = &world.platform.cost_source;
    costs.add_daily(day("2025-03-02"), NESTED, "Amazon EC2", 9.0);
    costs.add_daily(day("2025-03-02"), OUTSIDE, "Amazon S3", 1.0);
    world
        .platform
        .clock
        .set(Utc.with_ymd_and_hms(2025, 3, 3, 7, 0, 0).unwrap());
    let dispatched = world.dispatch(&world.job(Job::Digest)).await;
    assert_eq!(dispatched.outcomes.len(), 3, "{dispatched:#?}");
    assert_eq!(dispatched.outcomes[0].events, [Label::ResidualCost]);
    assert_eq!(
        dispatched.outcomes[2].verdict,
        Verdict::Notified("slack: posted, teams: posted".into())
    );
    let slack = posted_to(&world, SLACK);
    assert!(
        slack[0]
            .to_string()
            .contains("*Yesterday* (2025-03-02)\\n*10.00 USD* new vs 0.00 USD"),
        "{}",
        slack[0]
    );
}
