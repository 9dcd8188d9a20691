//! Scheduled fan-outs: the maintenance window and the sweeper.
//!
//! The window lists the managed accounts (no tag read) and sends one
//! `maintenance_window` command per account to the command queue: each account is
//! then handled by its own invocation, under the queue's concurrency. The sweeper
//! reads the due deadlines and handles up to [`SWEEP_INLINE`] accounts in its own
//! invocation (the usual case: a few overdue transactions or ended leases, acted on
//! within minutes); beyond that it fans out `sweep` commands like the window.

use std::collections::BTreeSet;

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use super::managed::{ManagedAccount, managed_accounts};
use crate::ports::{Commands, Deadlines, Platform, WriterLeases};
use spa_core::events::{AccountCommand, AccountId, Action, ScheduledJob};
use spa_core::lifecycle::{State, Trigger, TriggerKind};

/// Most due accounts the sweeper handles itself; more are fanned out as commands.
pub const SWEEP_INLINE: usize = 5;

/// Sends commands through the queue (the adapter batches them by 10).
pub(crate) async fn send<P: Platform>(
    engine: &Engine<'_, P>,
    cause: &str,
    commands: &[AccountCommand],
) -> Result<(), UseCaseError> {
    let queue = engine.platform().commands();
    engine
        .retry()
        .run("send commands", || queue.send(commands))
        .await
        .within(|| Context::step("send commands").cause(cause))
}

/// The maintenance window: one command per managed account. Returns the outcome,
/// `Dispatched(n)`.
pub async fn on_maintenance_window<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    // a second delivery sends nothing twice; one that resumes a run that died sends
    // its commands again, which their consumers take for duplicates (same ids)
    if lease::take(engine, cause, || {
        Context::step("claim the run").cause(cause)
    })
    .await?
        == Taken::Seen
    {
        return Ok(Outcome::new(cause, None, Verdict::Seen));
    }
    let result = async {
        let accounts = managed_accounts(engine, None).await?;
        let (accounts, left) = expirable(engine, cause, accounts).await;
        if left > 0 {
            tracing::info!(
                cause,
                left,
                "maintenance window: accounts spa knows are not assigned get no command"
            );
        }
        let commands: Vec<AccountCommand> = accounts
            .into_iter()
            .map(|account| {
                AccountCommand::new(
                    cause,
                    engine.environment(),
                    account.id,
                    Action::MaintenanceWindow,
                    job.scheduled_time,
                    "maintenance-window",
                )
                .listed_under(account.parent)
            })
            .collect();
        send(engine, cause, &commands).await?;
        Ok(commands.len())
    }
    .await;
    let count = lease::end(engine, cause, result).await?;
    tracing::info!(cause, count, "maintenance window: commands sent");
    Ok(Outcome::new(cause, None, Verdict::Dispatched(count)))
}

/// The accounts the window may expire, and how many it leaves out: those whose
/// cached tags ([`crate::ports::AccountCache`], read 100 a call) say a state other
/// than `assigned`, which the window's command would refuse on those same tags
/// (the command decides on the cache too). An account spa knows nothing of, or
/// whose tags are in doubt, gets its command; so does every account when the
/// caches cannot be read.
async fn expirable<P: Platform>(
    engine: &Engine<'_, P>,
    cause: &str,
    accounts: Vec<ManagedAccount>,
) -> (Vec<ManagedAccount>, usize) {
    let ids: Vec<AccountId> = accounts.iter().map(|account| account.id.clone()).collect();
    let store = engine.platform().store();
    let caches = match engine
        .retry()
        .run("read the caches", || store.cached_many(&ids))
        .await
    {
        Ok(caches) => caches,
        Err(error) => {
            tracing::warn!(cause, %error, "maintenance window: the caches cannot be read: a command for every account");
            return (accounts, 0);
        }
    };
    let total = accounts.len();
    let kept: Vec<ManagedAccount> = accounts
        .into_iter()
        .filter(|account| {
            let state = caches
                .get(&account.id)
                .and_then(|cache| cache.tags.as_ref())
                .and_then(|tags| engine.codec().decode(tags).ok())
                .map(|view| view.state);
            match state {
                Some(Some(state)) => state == State::Assigned,
                _ => true,
            }
        })
        .collect();
    let left = total - kept.len();
    (kept, left)
}

/// The sweeper: each account with a due deadline is swept (overdue on-boarding or
/// maintenance -> quarantine and exception; lease end -> release), inline when few,
/// through the queue otherwise; then the management account's forwarding
/// dead-letter queue is drained ([`super::dead_letters::drain_forwarded`]).
pub async fn on_sweep<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
) -> Result<Vec<Outcome>, UseCaseError> {
    let mut outcomes = sweep(engine, job).await?;
    // the requests nobody answered in time: their askers told; a failure never stops
    // the sweep (the next one tries again)
    if let Err(error) = super::requests::expire_due(engine).await {
        tracing::error!(%error, "the requests due could not be expired");
        engine.count_trouble("RequestExpiryFailed");
    }
    // what the management account could not forward: raised, never lost; a failure
    // here never stops the sweep (logged, counted, drained next time)
    match super::dead_letters::drain_forwarded(engine).await {
        Ok(raised) => outcomes.extend(raised),
        Err(error) => {
            tracing::error!(%error, "the forwarding dead-letter queue could not be drained");
            engine.count_trouble("ForwardDrainFailed");
        }
    }
    Ok(outcomes)
}

async fn sweep<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
) -> Result<Vec<Outcome>, UseCaseError> {
    let cause = job.event_id.as_str();
    let now = engine.now().max(job.scheduled_time);
    let store = engine.platform().store();
    let due = engine
        .retry()
        .run("due deadlines", || store.due_deadlines(now))
        .await
        .within(|| Context::step("read due deadlines").cause(cause))?;
    let accounts: BTreeSet<_> = due.into_iter().map(|d| d.account).collect();
    if accounts.len() > SWEEP_INLINE {
        let commands: Vec<AccountCommand> = accounts
            .into_iter()
            .map(|account| {
                AccountCommand::new(
                    cause,
                    engine.environment(),
                    account,
                    Action::Sweep,
                    now,
                    "sweeper",
                )
            })
            .collect();
        send(engine, cause, &commands).await?;
        tracing::info!(cause, count = commands.len(), "sweeper: commands sent");
        return Ok(vec![Outcome::new(
            cause,
            None,
            Verdict::Dispatched(commands.len()),
        )]);
    }
    let mut outcomes = Vec::new();
    let mut failure = None;
    for account in accounts {
        let key = format!("{cause}/{account}");
        match engine
            .apply(&key, &account, Trigger::new(now, TriggerKind::Sweep))
            .await
        {
            Ok(outcome) => outcomes.push(outcome),
            // the others are still swept; the run is retried for this one
            Err(error) => {
                if failure.is_none() || error.is_transient() {
                    failure = Some(error);
                }
            }
        }
    }
    match failure {
        Some(error) if error.is_transient() => Err(error),
        Some(error) => {
            tracing::error!(cause, %error, "sweeper: an account could not be swept");
            Ok(outcomes)
        }
        None => Ok(outcomes),
    }
}
