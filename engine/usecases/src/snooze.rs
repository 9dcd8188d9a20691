//! The holder puts the next purge of their account off, once, by at most
//! `purge_notice.snooze` (issue 20): from the pre-purge notice, through `/spa snooze`
//! in Slack, a Slack button, or an operator's `spa snooze`.
//!
//! A snooze is a trigger like the others, decided by `decide` on the tags read under
//! the account's lease (*Use cases apply one way*): granted, it writes
//! `{prefix}snoozed-until` (the window leaves the account alone, its lease end waits,
//! the sweeper purges it then) and records `PurgeSnoozed` in the history; refused, it
//! says why in words ([`SnoozeRefusal`]). A Slack user is checked against the
//! account's holder tag, never trusted for it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::UseCaseError;
use crate::ports::Platform;
use spa_core::events::AccountId;
use spa_core::lifecycle::{Command, Holder, Rejection, Trigger, TriggerKind};

pub use spa_core::lifecycle::SnoozeRefusal;

/// Who asks for the snooze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snoozer {
    /// An operator (the CLI, the command queue): any account.
    Operator,
    /// A person identified by their e-mail address (a Slack user, as Slack's
    /// `users.info` gives it): granted only when they are the account's holder.
    Holder(Holder),
}

impl Snoozer {
    fn asker(&self) -> Option<Holder> {
        match self {
            Snoozer::Operator => None,
            Snoozer::Holder(holder) => Some(holder.clone()),
        }
    }
}

/// What came of a snooze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnoozeOutcome {
    /// Granted: the purge at `purge` is put off until `until`.
    Snoozed {
        /// The purge put off.
        purge: DateTime<Utc>,
        /// When the account is purged now.
        until: DateTime<Utc>,
    },
    /// Refused, with the reason in words for the asker (no e-mail address in it).
    Refused(String),
}

impl SnoozeOutcome {
    /// Reads what `apply` did with a snooze.
    pub fn of(outcome: &Outcome) -> SnoozeOutcome {
        let granted = outcome.commands.iter().find_map(|command| match command {
            Command::Snooze { purge, until } => Some(SnoozeOutcome::Snoozed {
                purge: *purge,
                until: *until,
            }),
            _ => None,
        });
        if let Some(granted) = granted {
            return granted;
        }
        match &outcome.verdict {
            Verdict::Rejected(Rejection::Snooze(refusal)) => {
                SnoozeOutcome::Refused(refusal.to_string())
            }
            Verdict::Rejected(rejection) => SnoozeOutcome::Refused(rejection.to_string()),
            Verdict::Seen => SnoozeOutcome::Refused("this snooze was asked already".to_owned()),
            Verdict::Unmanaged => {
                SnoozeOutcome::Refused("spa does not manage this account".to_owned())
            }
            other => SnoozeOutcome::Refused(format!("not snoozed: {other:?}")),
        }
    }
}

/// Puts the next purge of `account` off by `by` (none: the most the settings allow),
/// for `asker`. `cause` makes the request one (a Slack request's id, a command's
/// id): a second delivery of the same request is not a second snooze.
pub async fn snooze_for<P: Platform>(
    engine: &Engine<'_, P>,
    cause: &str,
    account: &AccountId,
    by: Option<Duration>,
    asker: Snoozer,
) -> Result<SnoozeOutcome, UseCaseError> {
    let trigger = Trigger::new(
        engine.now(),
        TriggerKind::Snooze {
            by,
            asker: asker.asker(),
        },
    );
    let outcome = engine.apply(cause, account, trigger).await?;
    let result = SnoozeOutcome::of(&outcome);
    match &result {
        SnoozeOutcome::Snoozed { until, .. } => {
            tracing::info!(%account, cause, until = %until, operator = matches!(asker, Snoozer::Operator), "purge snoozed")
        }
        SnoozeOutcome::Refused(why) => tracing::info!(%account, cause, why, "snooze refused"),
    }
    Ok(result)
}

/// [`snooze_for`] with a cause of its own: the account, who asks, for how long and
/// the instant asked (each request is its own; a repeat of a granted one is refused as
/// a second snooze).
pub async fn snooze<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    by: Option<Duration>,
    asker: Snoozer,
) -> Result<SnoozeOutcome, UseCaseError> {
    let who = match &asker {
        Snoozer::Operator => "operator".to_owned(),
        Snoozer::Holder(holder) => crate::holders::fingerprint(holder),
    };
    let cause = format!(
        "snooze/{account}/{who}/{}/{}",
        by.map_or(0, |by| by.as_secs()),
        engine.now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    snooze_for(engine, &cause, account, by, asker).await
}
