//! Steps of `digest.feature`: the `digest` job on the emulator, fired as EventBridge
//! Scheduler would and handled by the local runtime like every other delivery: the
//! residual cost check and the digest read Cost Explorer (moto answers what the
//! scenario registers), the history (DynamoDB), the names (Organizations), the
//! webhooks' URLs (SSM, Secrets Manager), post to chat (a recording local HTTP
//! server), and what they raise goes on the bus to the `exceptions` function.
//!
//! Moto tracks no cost: `GetCostAndUsage` answers, in order, what was registered on
//! `/moto-api/static/ce/cost-and-usage-results`, one answer per distinct request.
//! Before each run the scenario registers the answers of the requests the job makes,
//! in the order it makes them, computed from the scenario's daily rows: the residual
//! check's daily costs of the purged accounts (when a purge has a full day behind
//! it), the month so far of the spend guard's reconciliation (when a guard is on),
//! then for each period of the digest (yesterday, last 7 days, month to date, last
//! month), its own costs and those of the period before, each by service then by
//! account.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};
use spa_core::events::{AccountId, Job, Label};
use spa_core::notify::digest::digest_periods;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::SpaWorld;
use super::accounts::Live;

/// What a digest scenario builds up.
#[derive(Debug, Default)]
pub struct Digests {
    /// Daily charges: (day, account, service, amount).
    rows: Vec<(NaiveDate, AccountId, String, f64)>,
    /// Costs given relative to the purge day: (account, days after the purge, amount).
    after_purge: Vec<(AccountId, i64, f64)>,
    /// The accounts purged in the scenario, once their purge ran.
    purged: Vec<AccountId>,
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

fn groups(sums: BTreeMap<String, f64>) -> Vec<Value> {
    sums.into_iter()
        .map(|(key, amount)| {
            json!({
                "Keys": [key],
                "Metrics": { "UnblendedCost": { "Amount": format!("{amount:.10}"), "Unit": "USD" } }
            })
        })
        .collect()
}

/// One `GetCostAndUsage` answer: one page of results by time.
fn answer(results: Vec<Value>) -> Value {
    json!({ "ResultsByTime": results, "DimensionValueAttributes": [] })
}

fn by_time(start: NaiveDate, end: NaiveDate, groups: Vec<Value>) -> Value {
    json!({
        "TimePeriod": { "Start": start.to_string(), "End": end.to_string() },
        "Total": {},
        "Groups": groups,
        "Estimated": false
    })
}

impl Digests {
    /// The totals of `[start, end)` by service or by account.
    fn totals(&self, start: NaiveDate, end: NaiveDate, by_account: bool) -> Value {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (day, account, service, amount) in &self.rows {
            if *day >= start && *day < end {
                let key = if by_account {
                    account.to_string()
                } else {
                    service.clone()
                };
                *sums.entry(key).or_default() += amount;
            }
        }
        answer(vec![by_time(start, end, groups(sums))])
    }

    /// The daily costs of `accounts` in `[start, end)`, one result a day.
    fn daily(&self, accounts: &[AccountId], start: NaiveDate, end: NaiveDate) -> Value {
        let mut results = Vec::new();
        let mut day = start;
        while day < end {
            let mut sums: BTreeMap<String, f64> = BTreeMap::new();
            for (d, account, _, amount) in &self.rows {
                if *d == day && accounts.contains(account) {
                    *sums.entry(account.to_string()).or_default() += amount;
                }
            }
            results.push(by_time(day, day + TimeDelta::days(1), groups(sums)));
            day += TimeDelta::days(1);
        }
        answer(results)
    }

    /// The answers of the run of `today`, in the order the job asks: the residual
    /// check's, the spend guard's reconciliation's when a guard is on (the month so
    /// far), the digest's. Moto answers a request it saw before as it did then, so a
    /// period asked twice takes one answer.
    fn answers(&self, today: NaiveDate, purge_day: Option<NaiveDate>, guard: bool) -> Vec<Value> {
        let mut answers = Vec::new();
        if let Some(purge_day) = purge_day.filter(|d| *d + TimeDelta::days(1) < today) {
            let mut accounts = self.purged.clone();
            accounts.sort();
            answers.push(self.daily(&accounts, purge_day + TimeDelta::days(1), today));
        }
        let mut periods = Vec::new();
        if guard {
            let month_start = today.with_day(1).unwrap_or(today);
            if month_start < today {
                periods.push((month_start, today));
            }
        }
        for period in digest_periods(today) {
            periods.push((period.start, period.end));
            periods.push((period.previous_start, period.previous_end));
        }
        let mut asked = Vec::new();
        for (start, end) in periods {
            if asked.contains(&(start, end)) {
                continue;
            }
            asked.push((start, end));
            answers.push(self.totals(start, end, false));
            answers.push(self.totals(start, end, true));
        }
        answers
    }
}

/// Registers Cost Explorer's answers in the management account, in order.
async fn register(live: &Live, answers: Vec<Value>) {
    let url = format!(
        "{}/moto-api/static/ce/cost-and-usage-results",
        live._moto.endpoint()
    );
    let body = json!({
        "account_id": live.settings.automation.account_id.as_str(),
        "results": answers,
    });
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the costs could not be registered on moto: {e}"));
    assert!(
        response.status().is_success(),
        "moto refused the costs: {}",
        response.status()
    );
}

/// Fires the `digest` job scheduled at `at` (`times` deliveries of the same run) and
/// lets the runtime handle it and what it causes.
async fn run_digest(
    world: &mut SpaWorld,
    at: DateTime<Utc>,
    purge_day: Option<NaiveDate>,
    times: usize,
    step: &Step,
) {
    let digest = std::mem::take(&mut world.digest);
    let live = world.acting(step).await;
    let guard = live.settings.spend_guard_anywhere();
    register(live, digest.answers(at.date_naive(), purge_day, guard)).await;
    for _ in 0..times {
        live.runtime.fire(Job::Digest, at);
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
    let mut digest = std::mem::take(&mut world.digest);
    let live = world.acting(step).await;
    for row in rows {
        let account = live.id(&row[0]);
        let (from, to) = (date(&row[2]), date(&row[3]));
        let mut day = from;
        while day <= to {
            digest
                .rows
                .push((day, account.clone(), row[1].clone(), amount(&row[4])));
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
        let account = live.id(&row[0]);
        if !digest.purged.contains(&account) {
            digest.purged.push(account.clone());
        }
        digest.after_purge.push((account, days, amount(&row[2])));
    }
    world.digest = digest;
}

#[given(regex = r"^the residual cost threshold is ([\d.]+) USD a day over (\d+) days$")]
async fn residual_policy(world: &mut SpaWorld, threshold: String, days: u32, step: &Step) {
    let live = world.acting(step).await;
    live.settings.features.residual_cost.threshold = amount(&threshold);
    live.settings.features.residual_cost.days = days;
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
    run_digest(world, at, None, times, step).await;
}

#[when(regex = r"^EventBridge Scheduler runs the digest (\d+) days after the purge$")]
async fn digest_after_purge(world: &mut SpaWorld, days: i64, step: &Step) {
    // the purge ran in this scenario, today
    let purge_day = Utc::now().date_naive();
    let rows = std::mem::take(&mut world.digest.after_purge);
    for (account, after, amount) in rows {
        world.digest.rows.push((
            purge_day + TimeDelta::days(after),
            account,
            "Amazon EC2".to_owned(),
            amount,
        ));
    }
    let at = Utc::now() + TimeDelta::days(days);
    run_digest(world, at, Some(purge_day), 1, step).await;
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
    let live = world.checking().await;
    let said = format!("notified: {text}");
    assert!(
        live.timeline
            .iter()
            .any(|line| line.starts_with("scheduler ") && line.contains(&said)),
        "no digest run says {said:?}\ntimeline:\n{}",
        live.timeline.join("\n")
    );
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
