//! The residual cost check: does a purged account still cost money?
//!
//! A purge ends with the account's `AccountPurged` transition (expired → purged, the
//! purge build SUCCEEDED, or the purge disabled), recorded in its history at the
//! time the build's end was seen. Every day the `digest` job finds the purges of the
//! last [`ResidualPolicy::days`] days in the history, reads the daily charges of
//! those accounts from the day after each purge (complete days only, up to the day
//! before the run), and raises `ResidualCost` for each account that cost more than
//! [`ResidualPolicy::threshold`] on one of the `days` full days after its purge.
//!
//! It is raised once per account and purge (claim `residual#<account>#<purge time>`):
//! the next days' runs find it claimed. A purge whose days are all below the
//! threshold so far is looked at again the next day, until its `days` days are past.
//! The exception is recorded in the account's history and published on the bus, where
//! the `exceptions` function opens the incident and tells the routed channels.
//!
//! Maintenance gives an account back to its holder right after the purge and the
//! preparation: the holder's new spending counts too. The threshold is meant for
//! what a purged account may still cost in a day; `days` keeps the look short.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::exceptions::publish_claimed;
use super::lease::{self, Taken};
use crate::ports::{Activity, ActivityQuery, CostSource, Journal, Platform};
use spa_core::events::{AccountId, DomainEvent, Label, ScheduledJob};
use spa_core::notify::digest::money;

/// What the residual cost check compares.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualPolicy {
    /// The most a purged account may cost in one day (charges, unblended).
    pub threshold: f64,
    /// How many full days after a purge are looked at (at least 1).
    pub days: u32,
    /// The currency of the threshold and of the cost source (`USD`).
    pub currency: String,
}

impl ResidualPolicy {
    /// The policy of `features.residual_cost` (threshold in the cost source's currency).
    pub fn from_settings(settings: &spa_core::settings::Settings) -> Self {
        let residual = &settings.features.residual_cost;
        Self {
            threshold: residual.threshold,
            days: residual.days,
            currency: "USD".to_owned(),
        }
    }
}

/// A purge found in the history.
#[derive(Debug, Clone, PartialEq)]
struct Purge {
    account: AccountId,
    at: DateTime<Utc>,
}

impl Purge {
    fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }
}

/// Raises `ResidualCost` for the accounts purged in the last `policy.days` days that
/// cost more than the threshold on a full day after their purge.
pub async fn residual_costs<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    job: &ScheduledJob,
    policy: &ResidualPolicy,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    let today = job.scheduled_time.date_naive();
    let days = i64::from(policy.days.max(1));
    let context = |step| Context::step(step).cause(cause);
    // a purge on the day before `today - days` has had its `days` full days
    let since_day = today - TimeDelta::days(days + 1);
    let since = since_day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let store = engine.platform().store();
    let query = ActivityQuery {
        since: Some(since),
        ..ActivityQuery::default()
    };
    let history = engine
        .retry()
        .run("read activities", || store.activities(&query))
        .await
        .within(|| context("read the purges"))?;
    let purges = last_purges(&history, since);
    // the purges that have at least one full day behind them
    let due: Vec<&Purge> = purges
        .iter()
        .filter(|p| p.day() + TimeDelta::days(1) < today)
        .collect();
    if due.is_empty() {
        let why = format!(
            "no purge with a full day behind it in the last {days} day(s) ({} purge(s) seen)",
            purges.len()
        );
        return Ok(Outcome::new(cause, None, Verdict::Ignored(why)));
    }
    let accounts: Vec<AccountId> = due.iter().map(|p| p.account.clone()).collect();
    let start = due
        .iter()
        .map(|p| p.day() + TimeDelta::days(1))
        .min()
        .unwrap_or(today);
    let daily = engine
        .retry()
        .run("read daily costs", || {
            costs.daily_costs(&accounts, start, today)
        })
        .await
        .within(|| context("read the daily costs of purged accounts"))?;
    let mut by_account: BTreeMap<&AccountId, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for cost in &daily {
        by_account
            .entry(&cost.account)
            .or_default()
            .push((cost.day, cost.amount));
    }
    let mut outcome = Outcome::new(cause, None, Verdict::Applied);
    let mut raised = 0;
    let mut seen = 0;
    for purge in &due {
        let first = purge.day() + TimeDelta::days(1);
        let last = (purge.day() + TimeDelta::days(days)).min(today - TimeDelta::days(1));
        let mut over: Vec<(NaiveDate, f64)> = by_account
            .get(&purge.account)
            .map(|costs| {
                costs
                    .iter()
                    .filter(|(day, amount)| {
                        *day >= first && *day <= last && *amount > policy.threshold
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if over.is_empty() {
            continue;
        }
        over.sort_by_key(|(day, _)| *day);
        let checked = (last - first).num_days() + 1;
        match raise(engine, job, purge, &over, checked, policy).await {
            Ok(Taken::Go { .. }) => {
                raised += 1;
                outcome.events.push(Label::ResidualCost);
            }
            Ok(Taken::Seen) => seen += 1,
            Err(error) => {
                tracing::error!(account = %purge.account, cause, %error, "residual cost not raised");
                outcome
                    .warnings
                    .push(format!("{}: not raised: {error}", purge.account));
            }
        }
    }
    let text = format!(
        "{} purged account(s) checked: {raised} raised, {seen} raised before, threshold {} a day",
        due.len(),
        money(policy.threshold, &policy.currency)
    );
    tracing::info!(cause, text, "residual cost check");
    outcome.verdict = if raised == 0 && outcome.warnings.is_empty() {
        Verdict::Ignored(text)
    } else {
        Verdict::Notified(text)
    };
    Ok(outcome)
}

/// The last purge of each account at or after `since`, from a history newest first
/// (read again in any order to be sure).
fn last_purges(history: &[Activity], since: DateTime<Utc>) -> Vec<Purge> {
    let mut last: BTreeMap<AccountId, DateTime<Utc>> = BTreeMap::new();
    for activity in history {
        if activity.label != Label::AccountPurged || activity.at < since {
            continue;
        }
        let at = last.entry(activity.account.clone()).or_insert(activity.at);
        if activity.at > *at {
            *at = activity.at;
        }
    }
    last.into_iter()
        .map(|(account, at)| Purge { account, at })
        .collect()
}

/// Raises `ResidualCost` for one account and purge, once: claimed, recorded in the
/// history, published on the bus. A transient failure releases the claim, so that the
/// next run raises it.
async fn raise<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
    purge: &Purge,
    over: &[(NaiveDate, f64)],
    checked: i64,
    policy: &ResidualPolicy,
) -> Result<Taken, UseCaseError> {
    let account = &purge.account;
    let cause = job.event_id.as_str();
    let context = |step| Context::step(step).account(account).cause(cause);
    let key = format!("residual#{account}#{}", purge.at.timestamp());
    if lease::take(engine, &key, || context("claim the residual cost")).await? == Taken::Seen {
        return Ok(Taken::Seen);
    }
    let amounts: Vec<String> = over
        .iter()
        .map(|(day, amount)| format!("{} on {day}", money(*amount, &policy.currency)))
        .collect();
    let threshold = money(policy.threshold, &policy.currency);
    let reason = format!(
        "the account cost {} after its purge on {}, above the threshold of {threshold} a day ({checked} full day(s) after the purge checked of {})",
        amounts.join(", "),
        purge.day(),
        policy.days.max(1),
    );
    let days: Vec<String> = over
        .iter()
        .map(|(day, amount)| format!("{day}: {}", money(*amount, &policy.currency)))
        .collect();
    let event = DomainEvent::new(
        Label::ResidualCost,
        engine.environment(),
        account.clone(),
        job.scheduled_time,
    )
    .with_reason(&reason)
    .with_fact("purged", purge.day().to_string())
    .with_fact("threshold", &threshold)
    .with_fact("days_over", days.join(", "))
    .with_fact("days_checked", checked.to_string());
    let activity = Activity {
        at: job.scheduled_time,
        account: account.clone(),
        label: Label::ResidualCost,
        from: None,
        to: None,
        detail: reason.clone(),
        cause: Some(cause.to_owned()),
    };
    publish_claimed(engine, &key, cause, &activity, event, "the residual cost").await
}
