//! Steps of `digest.feature`: the `digest` job on the emulator's platform (as in
//! `exceptions.feature`: Organizations, DynamoDB, the webhooks' secrets, the bus, chat
//! on a recording local HTTP server), with the costs from a cost source the scenario
//! fills with daily rows.
//!
//! The job is run through its use case, `on_digest_job`, on the local runtime's
//! platform; what it publishes (`ResidualCost`) is then handled by the runtime like
//! any event (the `exceptions` function tells Slack).

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::Value;
use spa_engine::events::{AccountId, Incoming, Job, Label};
use spa_engine::ports::{CostSource, PortError};
use spa_engine::reports::{CostBreakdowns, DailyCost, Forecast, Month, PeriodCosts};
use spa_engine::usecases::{Engine, Outcome, ResidualPolicy, Verdict, on_digest_job};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::SpaWorld;
use super::accounts::Live;

/// What a digest scenario builds up: the costs, the residual policy, the outcomes.
#[derive(Debug, Default)]
pub struct Digests {
    /// The costs the source answers with.
    costs: RowCosts,
    /// Costs given relative to the purge day: (account, days after the purge, amount).
    after_purge: Vec<(AccountId, i64, f64)>,
    /// The residual cost check's threshold and days, when the scenario sets them.
    policy: Option<ResidualPolicy>,
    /// The outcomes of the last run.
    outcomes: Vec<Outcome>,
}

/// A cost source of daily rows (day, account, service, amount); every answer is
/// summed from them, as Cost Explorer would.
#[derive(Debug, Default)]
struct RowCosts {
    rows: Mutex<Vec<(NaiveDate, AccountId, String, f64)>>,
}

impl RowCosts {
    fn add(&self, day: NaiveDate, account: &AccountId, service: &str, amount: f64) {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((day, account.clone(), service.to_owned(), amount));
    }

    fn rows(&self) -> Vec<(NaiveDate, AccountId, String, f64)> {
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl CostSource for RowCosts {
    async fn monthly_costs(&self, _month: Month) -> Result<CostBreakdowns, PortError> {
        Ok(CostBreakdowns::default())
    }

    async fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> Result<PeriodCosts, PortError> {
        let mut services: BTreeMap<String, f64> = BTreeMap::new();
        let mut accounts: BTreeMap<AccountId, f64> = BTreeMap::new();
        for (day, who, service, amount) in self.rows() {
            if day < start || day >= end || account.is_some_and(|a| *a != who) {
                continue;
            }
            *services.entry(service).or_default() += amount;
            *accounts.entry(who).or_default() += amount;
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
        let mut sums: BTreeMap<(NaiveDate, AccountId), f64> = BTreeMap::new();
        for (day, who, _, amount) in self.rows() {
            if day >= start && day < end && accounts.contains(&who) {
                *sums.entry((day, who)).or_default() += amount;
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

fn date(text: &str) -> NaiveDate {
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a date (YYYY-MM-DD)"))
}

fn amount(text: &str) -> f64 {
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{text}` is not an amount"))
}

/// Runs the `digest` job scheduled at `at` on the emulator's platform, then lets the
/// runtime handle what it published.
async fn run_digest(world: &mut SpaWorld, at: DateTime<Utc>, times: usize, step: &Step) {
    let mut digest = std::mem::take(&mut world.digest);
    let live = world.acting(step).await;
    // as EventBridge Scheduler hands it to the function
    let input = spa_engine::local::synth::scheduled(Job::Digest, at);
    let job = match spa_engine::events::decode_value(&input) {
        Ok(Incoming::Scheduled(job)) => job,
        other => panic!("the scheduler's input is not a scheduled job: {other:?}"),
    };
    for _ in 0..times {
        let engine = Engine::new(live.runtime.platform(), &live.settings)
            .unwrap_or_else(|e| panic!("no engine on these settings: {e}"))
            .with_engine_bus_arn(live.bus_arn.clone());
        let outcomes = on_digest_job(&engine, &digest.costs, &job, digest.policy.as_ref())
            .await
            .unwrap_or_else(|e| panic!("the digest run failed: {e}"));
        live.timeline.push(format!(
            "digest {at}: {:?}",
            outcomes.iter().map(|o| &o.verdict).collect::<Vec<_>>()
        ));
        digest.outcomes = outcomes;
    }
    live.run().await;
    world.digest = digest;
}

/// Every string of a JSON body.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------- given

#[given("the daily digest is on")]
async fn digest_on(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    live.settings.features.daily_digest = true;
}

#[given("the daily costs:")]
async fn daily_costs(world: &mut SpaWorld, step: &Step) {
    let rows = super::rows(step, 5);
    let digest = std::mem::take(&mut world.digest);
    let live = world.acting(step).await;
    for row in rows {
        let account = live.id(&row[0]);
        let (from, to) = (date(&row[2]), date(&row[3]));
        let mut day = from;
        while day <= to {
            digest.costs.add(day, &account, &row[1], amount(&row[4]));
            day += TimeDelta::days(1);
        }
    }
    world.digest = digest;
}

#[given("the daily costs after the purge:")]
async fn costs_after_purge(world: &mut SpaWorld, step: &Step) {
    let rows = super::rows(step, 3);
    let mut digest = std::mem::take(&mut world.digest);
    let live = world.acting(step).await;
    for row in rows {
        let days: i64 = row[1]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`{}` is not a number of days", row[1]));
        digest
            .after_purge
            .push((live.id(&row[0]), days, amount(&row[2])));
    }
    world.digest = digest;
}

#[given(regex = r"^the residual cost threshold is ([\d.]+) USD a day over (\d+) days$")]
fn residual_policy(world: &mut SpaWorld, threshold: String, days: u32) {
    world.digest.policy = Some(ResidualPolicy {
        threshold: amount(&threshold),
        days,
        currency: "USD".into(),
    });
}

#[given(regex = r"^the Teams webhook answers (\d{3})$")]
async fn teams_answers(world: &mut SpaWorld, status: u16, step: &Step) {
    let live = world.acting(step).await;
    let server = live
        .chat
        .as_ref()
        .unwrap_or_else(|| panic!("this scenario has no chat webhooks"));
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/teams"))
        .respond_with(ResponseTemplate::new(status))
        .mount(server)
        .await;
}

// ----------------------------------------------------------------------------- when

#[when(regex = r"^EventBridge Scheduler runs the digest of (\d{4}-\d{2}-\d{2})(, twice)?$")]
async fn digest_of(world: &mut SpaWorld, day: String, twice: String, step: &Step) {
    let at = Utc.from_utc_datetime(&date(&day).and_hms_opt(7, 0, 0).unwrap_or_default());
    let times = if twice.is_empty() { 1 } else { 2 };
    run_digest(world, at, times, step).await;
}

#[when(regex = r"^EventBridge Scheduler runs the digest (\d+) days after the purge$")]
async fn digest_after_purge(world: &mut SpaWorld, days: i64, step: &Step) {
    // the purge ran in this scenario, today
    let purge_day = Utc::now().date_naive();
    let rows = std::mem::take(&mut world.digest.after_purge);
    for (account, after, amount) in rows {
        world.digest.costs.add(
            purge_day + TimeDelta::days(after),
            &account,
            "Amazon EC2",
            amount,
        );
    }
    let at = Utc::now() + TimeDelta::days(days);
    run_digest(world, at, 1, step).await;
}

// ----------------------------------------------------------------------------- then

/// The digests a channel received (bodies whose title says `Cloud costs of`).
async fn digests(live: &Live, channel: &str) -> Vec<Vec<String>> {
    let server = live
        .chat
        .as_ref()
        .unwrap_or_else(|| panic!("this scenario has no chat webhooks"));
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == format!("/{channel}"))
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .map(|body| {
            let mut out = Vec::new();
            strings(&body, &mut out);
            out
        })
        .filter(|texts| texts.iter().any(|t| t.starts_with("Cloud costs of")))
        .collect()
}

#[then(regex = r"^(Slack|Teams) received (\d+) digests? that says?:$")]
async fn received_digest(world: &mut SpaWorld, channel: String, count: usize, step: &Step) {
    let live = world.checking().await;
    let channel = channel.to_lowercase();
    let found = digests(live, &channel).await;
    assert_eq!(
        found.len(),
        count,
        "{channel} received {} digest(s): {found:#?}\ntimeline:\n{}",
        found.len(),
        live.timeline.join("\n")
    );
    let table = step
        .table()
        .unwrap_or_else(|| panic!("the step `{}` needs a table", step.value));
    for row in &table.rows {
        let mut phrase = row.first().cloned().unwrap_or_default();
        for (name, id) in &live.accounts {
            phrase = phrase.replace(&format!("{{{name}}}"), id.as_str());
        }
        for digest in &found {
            assert!(
                digest.iter().any(|text| text.contains(&phrase)),
                "the {channel} digest does not say {phrase:?}: {digest:#?}"
            );
        }
    }
}

#[then(regex = r#"^the digest run says "([^"]+)"$"#)]
async fn run_says(world: &mut SpaWorld, text: String) {
    let outcome = world
        .digest
        .outcomes
        .last()
        .unwrap_or_else(|| panic!("no digest ran"));
    match &outcome.verdict {
        Verdict::Notified(said) => assert_eq!(said, &text, "{outcome:#?}"),
        other => panic!("the digest run says {other:?}, not {text:?}"),
    }
}

#[then(regex = r#"^the history of "([^"]+)" does not include ([A-Za-z]+)$"#)]
async fn history_excludes(world: &mut SpaWorld, name: String, label: String) {
    let live = world.checking().await;
    let label: Label = label
        .parse()
        .unwrap_or_else(|_| panic!("`{label}` is not a label"));
    let history = live.history(&name).await;
    let seen: Vec<&str> = history.iter().map(|a| a.label.as_str()).collect();
    assert!(
        !history.iter().any(|a| a.label == label),
        "the history of `{name}` has {label}: {seen:?}"
    );
}
