//! One entry point for whatever a function was handed: routes every [`Incoming`] to
//! its reaction and returns the outcomes and, for SQS batches, the message ids to
//! report as `batchItemFailures` (partial batch response).

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::fanout::{on_maintenance_window, on_sweep};
use super::on_build_finished::on_build_finished;
use super::on_command::on_command;
use super::on_organization_event::on_organization_event;
use crate::events::{AccountId, Incoming, Job, Label, LoginOutcome};
use crate::ports::{Activity, Claim, Platform, Store};

/// What a dispatch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// One outcome per trigger handled.
    pub outcomes: Vec<Outcome>,
    /// SQS message ids to report in `batchItemFailures`: records that failed for a
    /// reason worth a retry (transient) or the dead-letter queue (undecodable).
    pub batch_item_failures: Vec<String>,
}

impl Dispatched {
    fn one(outcome: Outcome) -> Self {
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
pub async fn dispatch<P: Platform>(
    engine: &Engine<'_, P>,
    incoming: &Incoming,
) -> Result<Dispatched, UseCaseError> {
    match incoming {
        Incoming::Organizations(event) => Ok(Dispatched {
            outcomes: on_organization_event(engine, event).await?,
            batch_item_failures: Vec::new(),
        }),
        Incoming::Build(change) => on_build_finished(engine, change).await.map(Dispatched::one),
        Incoming::Scheduled(job) => match job.job {
            Job::MaintenanceWindow => on_maintenance_window(engine, job)
                .await
                .map(Dispatched::one),
            Job::Sweeper => Ok(Dispatched {
                outcomes: on_sweep(engine, job).await?,
                batch_item_failures: Vec::new(),
            }),
            Job::Reports | Job::Digest | Job::AccessKeyScan => {
                let why = format!(
                    "the `{}` job is not handled by the lifecycle use cases yet",
                    job.job
                );
                tracing::info!(cause = job.event_id.as_str(), why, "scheduled job skipped");
                Ok(Dispatched::one(Outcome::new(
                    job.event_id.as_str(),
                    None,
                    Verdict::Ignored(why),
                )))
            }
        },
        Incoming::Spa(event) => {
            tracing::debug!(cause = event.event_id.as_str(), label = %event.event.label, "spa's own event: never reacted to");
            Ok(Dispatched::one(Outcome::new(
                event.event_id.as_str(),
                Some(&event.event.account),
                Verdict::Ignored("spa's own event".into()),
            )))
        }
        Incoming::ConsoleLogin(login) => {
            let mut detail = format!("{} signed in", login.principal.masked());
            if let LoginOutcome::Failure { .. } = login.outcome {
                detail = format!("{} failed to sign in", login.principal.masked());
            }
            if let Some(ip) = &login.source_ip {
                detail.push_str(&format!(" from {ip}"));
            }
            if let Some(mfa) = login.mfa_used {
                detail.push_str(if mfa { " with MFA" } else { " without MFA" });
            }
            let outcome = note(
                engine,
                login.event_id.as_str(),
                &login.account,
                login.at,
                login.label(),
                &detail,
            )
            .await?;
            Ok(Dispatched::one(outcome))
        }
        Incoming::BudgetAlerts(batch) => {
            let mut dispatched = Dispatched::default();
            for record in &batch.records {
                let Ok(alert) = &record.alert else { continue };
                let detail = format!(
                    "budget `{}`: {} {} amount over {:?}",
                    alert.budget_name, alert.alert_type, alert.amount, alert.threshold
                );
                let at = alert.notified_at.unwrap_or_else(|| engine.now());
                match note(
                    engine,
                    alert.event_id.as_str(),
                    &alert.account,
                    at,
                    Label::BudgetAlert,
                    &detail,
                )
                .await
                {
                    Ok(outcome) => dispatched.outcomes.push(outcome),
                    Err(error) if error.is_transient() => {
                        if let Some(id) = &record.message_id {
                            dispatched.batch_item_failures.push(id.clone());
                        }
                    }
                    Err(error) => tracing::error!(%error, "budget alert not recorded"),
                }
            }
            dispatched
                .batch_item_failures
                .extend(batch.failed_message_ids().into_iter().map(str::to_owned));
            Ok(dispatched)
        }
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
                    Ok(command) => match on_command(engine, command).await {
                        Ok(outcome) => {
                            dispatched.outcomes.push(outcome);
                            Ok(())
                        }
                        Err(error) if error.is_transient() => failed(&mut dispatched),
                        // refused for good: logged by the use case, acknowledged
                        Err(error) => {
                            tracing::error!(%error, "command refused");
                            Ok(())
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

/// Records an activity that moves no account (a console sign-in, a budget alert),
/// once per cause.
pub async fn note<P: Platform>(
    engine: &Engine<'_, P>,
    cause: &str,
    account: &AccountId,
    at: chrono::DateTime<chrono::Utc>,
    label: Label,
    detail: &str,
) -> Result<Outcome, UseCaseError> {
    let store = engine.platform().store();
    let context = || {
        Context::step("record an activity")
            .account(account)
            .cause(cause)
    };
    if store.claim(cause, engine.now()).await.within(context)? == Claim::Seen {
        return Ok(Outcome::new(cause, Some(account), Verdict::Seen));
    }
    let activity = Activity {
        at,
        account: account.clone(),
        label,
        from: None,
        to: None,
        detail: crate::events::redact_emails(detail),
        cause: Some(cause.to_owned()),
    };
    let recorded = engine
        .retry()
        .run("record activity", || store.record(&activity))
        .await
        .within(context);
    if let Err(error) = recorded {
        if error.is_transient() {
            let _ = store.release(cause).await;
        }
        return Err(error);
    }
    tracing::info!(%account, cause, %label, "activity recorded");
    Ok(Outcome::new(cause, Some(account), Verdict::Applied))
}
