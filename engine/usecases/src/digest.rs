//! The daily `digest` job: the organization's costs to chat, and the residual cost
//! check.
//!
//! [`on_digest_job`] runs three steps, each with its own outcome: the residual cost
//! check ([`super::residual`], every day, whether or not the digest is on), the spend
//! guard's reconciliation ([`super::reconcile`], when a spend guard is on), then the
//! digest ([`daily_digest`]): the costs of yesterday, the last 7 days, the month to
//! date and last month, each against the period before of the same length, and the
//! top services and accounts of the month ([`spa_core::notify::digest`]), posted to the
//! Slack and Teams webhooks of `notifications` (URLs read through the `Secrets` port).
//!
//! The periods derive from the UTC date of the run's scheduled time, never from the
//! clock, so a late or repeated delivery reports the same days. The run is claimed
//! (`digest#<event id>`): a duplicated delivery posts once. One channel failing never
//! stops the other; each is reported in the outcome. [`read_digest`] builds the same
//! digest for `spa costs`.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use super::on_notice::{Delivery, post, summary};
use super::residual::{ResidualPolicy, residual_costs};
use crate::ports::{CostSource, Organization, Platform, PortError};
use spa_core::events::{AccountId, ScheduledJob};
use spa_core::notify::digest::{self, Digest, DigestInput, PeriodFigures};

/// Runs the `digest` job: the residual cost check (when `residual` is given), the
/// spend guard's reconciliation, then the digest. Every step runs; a step that fails for a reason worth a retry fails the
/// run after the other step ran (the claims keep the retry from posting or raising
/// twice).
pub async fn on_digest_job<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    job: &ScheduledJob,
    residual: Option<&ResidualPolicy>,
) -> Result<Vec<Outcome>, UseCaseError> {
    let mut outcomes = Vec::new();
    let mut failed = None;
    if let Some(policy) = residual {
        match residual_costs(engine, costs, job, policy).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                tracing::error!(cause = job.event_id.as_str(), %error, "residual cost check failed");
                failed = Some(error);
            }
        }
    }
    // the spend guard's reconciliation: the accounts that made no call judged too
    match super::reconcile::reconcile_all(engine, costs, job).await {
        Ok(outcome) => outcomes.push(outcome),
        Err(error) => {
            tracing::error!(cause = job.event_id.as_str(), %error, "spend reconciliation failed");
            failed = failed.or(Some(error));
        }
    }
    match daily_digest(engine, costs, job).await {
        Ok(outcome) => outcomes.push(outcome),
        Err(error) => {
            tracing::error!(cause = job.event_id.as_str(), %error, "daily digest failed");
            failed = failed.or(Some(error));
        }
    }
    match failed {
        Some(error) => {
            for outcome in &outcomes {
                tracing::info!(cause = outcome.cause, verdict = ?outcome.verdict, "step done before the failure");
            }
            Err(error)
        }
        None => Ok(outcomes),
    }
}

/// Posts the digest of the run's day to the configured chat webhooks, once per run.
pub async fn daily_digest<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    job: &ScheduledJob,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    let settings = engine.settings();
    if !settings.features.daily_digest {
        let why = "the daily digest is off (`features.daily_digest`)".to_owned();
        tracing::info!(cause, why, "digest skipped");
        return Ok(Outcome::new(cause, None, Verdict::Ignored(why)));
    }
    let notifications = &settings.notifications;
    let channels: Vec<(&'static str, &str, &'static str)> = [
        (
            "slack",
            notifications.slack_webhook.as_ref(),
            "notifications.slack_webhook",
        ),
        (
            "teams",
            notifications.teams_webhook.as_ref(),
            "notifications.teams_webhook",
        ),
    ]
    .into_iter()
    .filter_map(|(step, reference, setting)| reference.map(|r| (step, r.as_str(), setting)))
    .collect();
    if channels.is_empty() {
        let why = "no chat webhook to post the digest to (`notifications.slack_webhook`, `notifications.teams_webhook`)".to_owned();
        tracing::warn!(cause, why, "digest skipped");
        return Ok(Outcome::new(cause, None, Verdict::Ignored(why)));
    }
    let key = format!("digest#{cause}");
    let claimed = lease::take(engine, &key, || {
        Context::step("claim the digest").cause(cause)
    })
    .await?;
    if claimed == Taken::Seen {
        tracing::info!(cause, "digest posted before: nothing to do");
        return Ok(Outcome::new(cause, None, Verdict::Seen));
    }
    let today = job.scheduled_time.date_naive();
    let digest = match read_digest(engine, costs, today, None).await {
        Ok(digest) => digest,
        Err(error) => return lease::end(engine, &key, Err(error)).await,
    };
    let mut deliveries = Vec::new();
    for (step, reference, setting) in channels {
        let body = match step {
            "slack" => digest::slack(&digest),
            _ => digest::teams(&digest),
        };
        let result = post(engine, Some(reference), setting, &body).await;
        deliveries.push(Delivery { step, result });
    }
    let mut outcome = Outcome::new(cause, None, Verdict::Notified(summary(&deliveries)));
    for delivery in &deliveries {
        match &delivery.result {
            Ok(done) => tracing::info!(cause, step = delivery.step, done, "digest posted"),
            Err(why) => {
                tracing::error!(cause, step = delivery.step, why, "digest not posted");
                outcome.warnings.push(format!("{}: {why}", delivery.step));
            }
        }
    }
    lease::end(engine, &key, Ok(outcome)).await
}

/// Reads the costs of every period of the digest of `today` (of one account when
/// `account` is given) and the names of the accounts it shows, and builds it.
///
/// Names are read for the accounts shown only (at most 5 `DescribeAccount`s, not the
/// whole organization's list); an account that left, or whose name cannot be read,
/// shows its id alone.
pub async fn read_digest<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    today: NaiveDate,
    account: Option<&AccountId>,
) -> Result<Digest, UseCaseError> {
    let retry = engine.retry();
    let mut figures = Vec::new();
    for period in digest::digest_periods(today) {
        let context = || {
            let context = Context::step("read the costs of the digest");
            match account {
                Some(account) => context.account(account),
                None => context,
            }
        };
        let current = retry
            .run("read period costs", || {
                costs.period_costs(period.start, period.end, account)
            })
            .await
            .within(context)?;
        let previous = retry
            .run("read period costs", || {
                costs.period_costs(period.previous_start, period.previous_end, account)
            })
            .await
            .within(context)?;
        figures.push(PeriodFigures {
            period,
            current,
            previous,
        });
    }
    let environment = engine.environment();
    // the accounts the digest shows: the one asked, or the top accounts of the month
    let first = digest::digest(&DigestInput {
        environment,
        today,
        account,
        figures: &figures,
        names: &BTreeMap::new(),
    });
    let shown: Vec<AccountId> = match account {
        Some(account) => vec![account.clone()],
        None => first
            .top_accounts
            .iter()
            .map(|a| a.account.clone())
            .collect(),
    };
    let names = names(engine, &shown).await;
    Ok(digest::digest(&DigestInput {
        environment,
        today,
        account,
        figures: &figures,
        names: &names,
    }))
}

/// The names of `accounts` in the organization; those that cannot be read are left out.
async fn names<P: Platform>(
    engine: &Engine<'_, P>,
    accounts: &[AccountId],
) -> BTreeMap<AccountId, String> {
    let organization = engine.platform().organization();
    let mut names = BTreeMap::new();
    for account in accounts {
        match engine
            .retry()
            .run("describe account", || {
                organization.describe_account(account)
            })
            .await
        {
            Ok(record) => {
                names.insert(account.clone(), record.name);
            }
            Err(PortError::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%account, %error, "the account's name could not be read: its id is shown alone");
            }
        }
    }
    names
}
