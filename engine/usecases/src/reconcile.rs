//! The spend guard's daily reconciliation: an account that makes no call is judged
//! too.
//!
//! The spend guard reacts to the calls that start spending ([`super::on_spending`]).
//! An account whose month grows without such a call (a service spa does not watch,
//! what ran before the guard was turned on, data transfer) would never be judged. So
//! every day the `digest` job ([`reconcile_all`]):
//!
//! 1. reads what the month cost so far for the whole organization in one Cost
//!    Explorer read (complete days, by linked account: two requests, whatever the
//!    number of accounts; Cost Explorer charges each request);
//! 2. sends each managed account a `reconcile` command with its figure, through the
//!    command queue as the maintenance window does (no invocation works through
//!    thousands of accounts).
//!
//! The `commands` function ([`on_reconcile`]) keeps the figure in the store (a call
//! later that day asks Cost Explorer nothing), then judges the account's lines that the
//! passing days move (`actual_month`, `projected_month`, `projected_lease`; an
//! `hourly_burn` line moves only with a call) exactly as a call would: what runs (the
//! ledger), the month so far, the lease. What the crossed lines say is done once per
//! account and day: the command's id (`<run>/<account>`) is the cause, so the freeze is
//! `<cause>/freeze` and the raise is claimed as `spend#<cause>`. An account that stays
//! over a line is raised again the next day; a frozen one is left alone.
//!
//! Cost Explorer down: the commands go out without a figure, and each account is
//! judged on the figure kept in the store for the month (never on zero, never by one
//! Cost Explorer request per account).

use std::collections::BTreeMap;

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, UseCaseError};
use super::fanout::send;
use super::lease::{self, Taken};
use super::managed::managed_accounts;
use super::on_spending::{Judged, guarded, judge};
use crate::ports::{CostSource, Platform, SpendLedgers};
use chrono::NaiveDate;
use spa_core::events::{AccountCommand, AccountId, Action, Amount, ScheduledJob};
use spa_core::lifecycle::State;
use spa_core::settings::SpendMeasure;
use spa_core::spend::{self, Actual};

/// What the reconciliation's commands say made spa judge (the event's `call` fact).
pub const RECONCILIATION: &str = "reconciliation";

/// The `digest` job's reconciliation step: one Cost Explorer read of the month so
/// far, one `reconcile` command per managed account. `Dispatched(n)`, or ignored when
/// no spend guard is on anywhere in the settings.
pub async fn reconcile_all<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    job: &ScheduledJob,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    if !engine.settings().spend_guard_anywhere() {
        let why = "the spend guard is off everywhere (`spend_guard.feature`)".to_owned();
        return Ok(Outcome::new(cause, None, Verdict::Ignored(why)));
    }
    // a second delivery sends nothing twice; one that resumes a run that died sends
    // its commands again, which the queue's consumer takes for duplicates (same ids)
    let key = format!("reconcile#{cause}");
    if lease::take(engine, &key, || {
        Context::step("claim the reconciliation").cause(cause)
    })
    .await?
        == Taken::Seen
    {
        return Ok(Outcome::new(cause, None, Verdict::Seen));
    }
    let result = async {
        let day = job.scheduled_time.date_naive();
        // by account, once: 10,000 accounts are not looked up in a list each
        let figures: Option<BTreeMap<AccountId, f64>> =
            month_so_far_of_all(engine, costs, cause, job)
                .await
                .map(|figures| {
                    let mut by_account = BTreeMap::new();
                    for (id, amount) in figures {
                        *by_account.entry(id).or_insert(0.0) += amount;
                    }
                    by_account
                });
        let accounts = managed_accounts(engine, None).await?;
        let commands: Vec<AccountCommand> = accounts
            .into_iter()
            .map(|account| {
                // an account Cost Explorer does not list cost nothing this month
                let month_to_date = figures.as_ref().map(|figures| {
                    let amount = figures.get(&account.id).copied().unwrap_or(0.0);
                    format!("{amount:.6}")
                });
                AccountCommand::new(
                    cause,
                    engine.environment(),
                    account.id,
                    Action::Reconcile { day, month_to_date },
                    job.scheduled_time,
                    RECONCILIATION,
                )
                .listed_under(account.parent)
            })
            .collect();
        send(engine, cause, &commands).await?;
        Ok(commands.len())
    }
    .await;
    let count = lease::end(engine, &key, result).await?;
    tracing::info!(cause, count, "spend reconciliation: commands sent");
    Ok(Outcome::new(cause, None, Verdict::Dispatched(count)))
}

/// What each account's month cost so far, from one Cost Explorer read of the
/// organization (complete days before the run's day); `None` when it cannot be read or
/// answers in another currency than the price book's (a warning: each account is then
/// judged on its kept figure).
async fn month_so_far_of_all<P: Platform, C: CostSource>(
    engine: &Engine<'_, P>,
    costs: &C,
    cause: &str,
    job: &ScheduledJob,
) -> Option<Vec<(AccountId, f64)>> {
    let today = job.scheduled_time.date_naive();
    let start = spend::month_start(job.scheduled_time);
    let read = engine
        .retry()
        .run("read the month so far", || {
            costs.period_costs(start, today, None)
        })
        .await;
    match read {
        Ok(period) if period.currency == "USD" || period.by_account.is_empty() => {
            Some(period.by_account)
        }
        Ok(period) => {
            tracing::warn!(
                cause,
                currency = period.currency,
                "Cost Explorer answers in another currency than the price book's: each account is judged on its kept figure"
            );
            None
        }
        Err(error) => {
            tracing::warn!(cause, %error, "Cost Explorer cannot be read: each account is judged on its kept figure");
            engine.count_trouble("ReconciliationCostsUnread");
            None
        }
    }
}

/// One `reconcile` command: the figure kept, the lines the day moves judged.
pub async fn on_reconcile<P: Platform>(
    engine: &Engine<'_, P>,
    command: &AccountCommand,
    day: NaiveDate,
    month_to_date: Option<&str>,
) -> Result<Outcome, UseCaseError> {
    let (cause, account) = (command.id.as_str(), &command.account);
    let context = |step| Context::step(step).account(account).cause(cause);
    let figure = match month_to_date {
        Some(text) => Some(
            Amount::parse(text)
                .filter(|amount| amount.micros() >= 0)
                .map(|amount| Actual { day, amount })
                .ok_or_else(|| {
                    UseCaseError::bad_input(
                        context("read the command"),
                        format!("`month_to_date` is `{text}`: expected US dollars such as 12.50"),
                    )
                })?,
        ),
        None => None,
    };
    let (cache, mut resolved) = match guarded(engine, account, cause, RECONCILIATION).await? {
        Ok(guarded) => guarded,
        Err(outcome) => return Ok(outcome),
    };
    let store = engine.platform().store();
    let actual = match figure {
        Some(actual) => {
            if let Err(error) = store.set_actual(account, &actual).await {
                // a call later today asks Cost Explorer again: a cost, never a wrong figure
                tracing::warn!(%account, cause, %error, "the month so far cannot be kept");
            }
            Some(actual)
        }
        None => match store.actual(account).await {
            Ok(kept) => kept.filter(|actual| actual.of_month(command.at)),
            Err(error) => {
                tracing::warn!(%account, cause, %error, "the month so far kept in the store cannot be read");
                None
            }
        },
    };
    let frozen = cache
        .tags
        .as_ref()
        .and_then(|tags| engine.codec().decode(tags).ok())
        .and_then(|view| view.state)
        == Some(State::Frozen);
    if frozen {
        let why = "frozen already: the spend guard has nothing more to do".to_owned();
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    // the lines the passing days move; an hourly burn changes only with a call
    resolved
        .spend_guard
        .thresholds
        .retain(|line| line.when != SpendMeasure::HourlyBurn);
    if resolved.spend_guard.thresholds.is_empty() {
        let why = "no line of the spend guard moves without a call (`hourly_burn` only)".to_owned();
        return Ok(Outcome::new(cause, Some(account), Verdict::Ignored(why)));
    }
    let ledger = engine
        .retry()
        .run("read the ledger", || store.ledger(account))
        .await
        .map_err(|error| UseCaseError::port(context("read the spend ledger"), error))?;
    let judged = Judged {
        cause,
        account,
        at: command.at,
        what: RECONCILIATION,
    };
    judge(engine, &judged, &ledger, &resolved, cache.tags, actual).await
}
