//! One entry point for whatever a function was handed: routes every [`Incoming`] to
//! its reaction and returns the outcomes and, for SQS batches, the message ids to
//! report as `batchItemFailures` (partial batch response).

use super::apply::Outcome;
use super::context::Engine;
use super::dead_letters::on_dead_letters;
use super::digest::on_digest_job;
use super::error::{Context, UseCaseError};
use super::fanout::{on_maintenance_window, on_sweep};
use super::keys::on_access_key_scan;
use super::on_build_finished::on_build_finished;
use super::on_command::on_command;
use super::on_notice::on_notice;
use super::on_organization_event::on_organization_event;
use super::on_signal::{on_budget_alert, on_console_login};
use super::reports::on_report_job;
use super::residual::ResidualPolicy;
use crate::ports::Platform;
use spa_core::events::{Incoming, Job};

/// What a dispatch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// One outcome per trigger handled.
    pub outcomes: Vec<Outcome>,
    /// SQS message ids to report in `batchItemFailures`: records that failed for a
    /// reason worth a retry (transient) or the dead-letter queue (undecodable, or
    /// failed for good).
    pub batch_item_failures: Vec<String>,
}

impl Dispatched {
    pub(crate) fn one(outcome: Outcome) -> Self {
        Self {
            outcomes: vec![outcome],
            batch_item_failures: Vec::new(),
        }
    }
}

/// Routes `incoming` to its reaction.
///
/// An error means the whole input should be retried (transient) or was refused
/// (permanent); SQS batches never fail as a whole for one record: the failed records
/// are listed in [`Dispatched::batch_item_failures`].
///
/// Each reaction's future is boxed: their state machines are large (the report and
/// digest jobs above all), and one future holding every arm's state inline
/// overflowed a 2 MiB thread stack in debug builds.
pub async fn dispatch<P: Platform>(
    engine: &Engine<'_, P>,
    incoming: &Incoming,
) -> Result<Dispatched, UseCaseError> {
    match incoming {
        Incoming::Organizations(event) => Ok(Dispatched {
            outcomes: Box::pin(on_organization_event(engine, event)).await?,
            batch_item_failures: Vec::new(),
        }),
        Incoming::Build(change) => Box::pin(on_build_finished(engine, change))
            .await
            .map(Dispatched::one),
        Incoming::Scheduled(job) => match job.job {
            Job::MaintenanceWindow => Box::pin(on_maintenance_window(engine, job))
                .await
                .map(Dispatched::one),
            Job::Sweeper => Ok(Dispatched {
                outcomes: Box::pin(on_sweep(engine, job)).await?,
                batch_item_failures: Vec::new(),
            }),
            Job::Digest => {
                let policy = ResidualPolicy::from_settings(engine.settings());
                let costs = engine.platform().cost_source();
                Ok(Dispatched {
                    outcomes: Box::pin(on_digest_job(engine, costs, job, Some(&policy))).await?,
                    batch_item_failures: Vec::new(),
                })
            }
            Job::Reports => Box::pin(on_report_job(engine, job))
                .await
                .map(Dispatched::one),
            Job::AccessKeyScan => Box::pin(on_access_key_scan(engine, job))
                .await
                .map(Dispatched::one),
        },
        Incoming::Spa(event) => Box::pin(on_notice(engine, event))
            .await
            .map(Dispatched::one),
        Incoming::ConsoleLogin(login) => Box::pin(on_console_login(engine, login))
            .await
            .map(Dispatched::one),
        Incoming::Spending(call) => Box::pin(super::on_spending::on_spending(engine, call))
            .await
            .map(Dispatched::one),
        Incoming::BudgetAlerts(batch) => {
            let mut dispatched = Dispatched::default();
            for record in &batch.records {
                let Ok(alert) = &record.alert else { continue };
                match Box::pin(on_budget_alert(engine, alert)).await {
                    Ok(outcome) => dispatched.outcomes.push(outcome),
                    Err(error) if error.is_transient() => {
                        tracing::warn!(%error, "budget alert to retry");
                        match &record.message_id {
                            Some(id) => dispatched.batch_item_failures.push(id.clone()),
                            None => return Err(error),
                        }
                    }
                    // failed for good: counted, and handed back so that the record
                    // ends in the dead-letter queue (archived, raised as DeadLetter);
                    // its claim answers every redelivery at once, doing nothing twice
                    Err(error) => {
                        tracing::error!(%error, "budget alert not recorded: it goes to the dead-letter queue");
                        engine.count_trouble("PermanentFailures");
                        match &record.message_id {
                            Some(id) => dispatched.batch_item_failures.push(id.clone()),
                            None => return Err(error),
                        }
                    }
                }
            }
            for record in &batch.records {
                if let Err(error) = &record.alert {
                    if let Some(why) = error.refusal() {
                        let cause = record.message_id.as_deref().unwrap_or("budget alert");
                        dispatched
                            .outcomes
                            .push(crate::trust::refused(cause, None, &why));
                    } else if error.is_ignorable() {
                        tracing::info!(message = record.message_id.as_deref(), %error, "message ignored");
                    } else {
                        tracing::error!(message = record.message_id.as_deref(), %error, "undecodable budget message: retried, then dead-lettered");
                    }
                }
            }
            dispatched
                .batch_item_failures
                .extend(batch.failed_message_ids().into_iter().map(str::to_owned));
            if batch.has_unidentified_failure() {
                return Err(UseCaseError::bad_input(
                    Context::step("report a failed record"),
                    "a failed SQS record has no message id: the whole batch must be retried",
                ));
            }
            Ok(dispatched)
        }
        Incoming::DeadLetters(batch) => Box::pin(on_dead_letters(engine, batch)).await,
        Incoming::Outbox(batch) => Box::pin(super::relay::on_outbox(engine, batch)).await,
        Incoming::Commands(batch) => {
            let mut dispatched = Dispatched::default();
            for record in &batch.records {
                let failed = |dispatched: &mut Dispatched| match &record.message_id {
                    Some(id) => {
                        dispatched.batch_item_failures.push(id.clone());
                        Ok(())
                    }
                    None => Err(()),
                };
                let result = match &record.command {
                    Err(error) => {
                        tracing::error!(message = record.message_id.as_deref(), %error, "undecodable command: retried, then dead-lettered");
                        failed(&mut dispatched)
                    }
                    Ok(command) => match Box::pin(on_command(engine, command)).await {
                        Ok(outcome) => {
                            dispatched.outcomes.push(outcome);
                            Ok(())
                        }
                        Err(error) if error.is_transient() => failed(&mut dispatched),
                        // failed for good: counted, and handed back so that the
                        // record ends in the dead-letter queue (archived, raised as
                        // DeadLetter); its claim answers every redelivery at once
                        Err(error) => {
                            tracing::error!(%error, "command failed for good: it goes to the dead-letter queue");
                            engine.count_trouble("PermanentFailures");
                            failed(&mut dispatched)
                        }
                    },
                };
                if result.is_err() {
                    return Err(UseCaseError::bad_input(
                        Context::step("report a failed record"),
                        "a failed SQS record has no message id: the whole batch must be retried",
                    ));
                }
            }
            Ok(dispatched)
        }
    }
}
