//! One account command from the queue (maintenance window fan-out, bulk operator
//! actions, sweeper fan-out) -> one trigger applied to one account; a slash command
//! job (`SlackReply`) or a button's click (`SlackButton`) -> its answer posted to Slack
//! (`usecases::slack`).

use super::apply::Outcome;
use super::context::Engine;
use super::error::{Context, UseCaseError};
use crate::ports::Platform;
use spa_core::events::{AccountCommand, Action};
use spa_core::lifecycle::{Holder, Trigger, TriggerKind};

/// The trigger of an action; `Assign` needs an e-mail address.
pub fn trigger_kind(action: &Action) -> Result<TriggerKind, String> {
    Ok(match action {
        Action::MaintenanceWindow => TriggerKind::MaintenanceWindow,
        Action::Expire => TriggerKind::OperatorExpire,
        Action::Reset => TriggerKind::OperatorReset,
        Action::Release => TriggerKind::OperatorRelease,
        Action::Assign { holder } => {
            TriggerKind::OperatorAssign(Holder::new(holder).map_err(|error| {
                format!("`assign` needs the holder's e-mail address: {}", error.why)
            })?)
        }
        Action::Sweep => TriggerKind::Sweep,
        Action::Close => TriggerKind::OperatorClose,
        Action::Freeze { reason } => TriggerKind::Freeze {
            reason: spa_core::events::redact_emails(reason),
        },
        Action::Unfreeze => TriggerKind::OperatorUnfreeze,
        Action::Snooze { by, holder } => TriggerKind::Snooze {
            by: by
                .as_deref()
                .map(spa_core::settings::values::parse_duration)
                .transpose()
                .map_err(|expected| {
                    format!("`snooze` needs a duration such as 2d: expected {expected}")
                })?,
            asker: holder
                .as_deref()
                .map(Holder::new)
                .transpose()
                .map_err(|error| {
                    format!("`snooze` needs the asker's e-mail address: {}", error.why)
                })?,
        },
        Action::SlackReply { .. } | Action::SlackButton { .. } => {
            return Err("a Slack job is not a lifecycle trigger".to_owned());
        }
        Action::Reconcile { .. } => {
            return Err("the spend guard's reconciliation is not a lifecycle trigger".to_owned());
        }
    })
}

/// Applies one command; a command of another environment is refused (permanent).
///
/// The trigger happens at the command's `at` (a re-delivered command decides the
/// same), except a sweep, which judges deadlines at the time it runs.
pub async fn on_command<P: Platform>(
    engine: &Engine<'_, P>,
    command: &AccountCommand,
) -> Result<Outcome, UseCaseError> {
    let context = || {
        Context::step("read the command")
            .account(&command.account)
            .cause(&command.id)
    };
    if command.environment != engine.environment() {
        return Err(UseCaseError::bad_input(
            context(),
            format!(
                "the command is for environment `{}`, this is `{}`: refused",
                command.environment,
                engine.environment()
            ),
        ));
    }
    if let Action::SlackReply { .. } | Action::SlackButton { .. } = command.action {
        return super::slack::answer_later(engine, command, None).await;
    }
    if let Action::Reconcile { day, month_to_date } = &command.action {
        return super::reconcile::on_reconcile(engine, command, *day, month_to_date.as_deref())
            .await;
    }
    let kind = trigger_kind(&command.action)
        .map_err(|reason| UseCaseError::bad_input(context(), reason))?;
    let at = match command.action {
        Action::Sweep => engine.now().max(command.at),
        _ => command.at,
    };
    tracing::info!(account = %command.account, cause = command.id, action = command.action.name(), origin = command.origin, "command");
    engine
        .apply_listed(
            &command.id,
            &command.account,
            Trigger::new(at, kind),
            command.parent.as_deref(),
        )
        .await
}
