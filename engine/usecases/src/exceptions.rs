//! The exception step: every exception of a transition goes through [`raise`].
//!
//! It writes the activity record and adds the domain event (label, reason) to the
//! events of the run, published once at the end. The bus's `Exceptions` rule hands
//! that event to the `exceptions` function ([`super::on_notice`]), which opens or
//! updates the incident and tells the routed channels: the lifecycle never waits on
//! Incident Manager, Slack, Teams or SES.

use super::apply::Run;
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use crate::ports::{Activity, Bus, Claim, Claims, Journal, Platform};
use spa_core::events::{DomainEvent, Label};

/// Records an exception of the run's account and queues its domain event.
pub(crate) async fn raise<P: Platform>(
    engine: &Engine<'_, P>,
    run: &mut Run<'_>,
    label: Label,
    reason: &str,
) -> Result<(), UseCaseError> {
    let reason = spa_core::events::redact_emails(reason);
    tracing::warn!(
        account = %run.account,
        cause = run.cause,
        %label,
        reason = %reason,
        "exception raised"
    );
    run.emit_with_reason(engine.environment(), label, Some(&reason));
    engine.record(run, label, &reason).await
}

/// Records and publishes an exception a job found (not a transition), under the claim
/// `key` its caller has just taken, so that it is raised once. On a transient failure
/// the claim is released and the error returned: the next run raises it again.
/// `what` names the finding in the log ("the residual cost").
pub(crate) async fn publish_claimed<P: Platform>(
    engine: &Engine<'_, P>,
    key: &str,
    cause: &str,
    activity: &Activity,
    event: DomainEvent,
    what: &str,
) -> Result<Claim, UseCaseError> {
    let platform = engine.platform();
    let store = platform.store();
    let account = &activity.account;
    let context = |step| Context::step(step).account(account).cause(cause);
    let label = event.label;
    let reason = event.reason.clone().unwrap_or_default();
    let result = async {
        engine
            .retry()
            .run("record activity", || store.record(activity))
            .await
            .within(|| context("record the exception"))?;
        let bus = platform.bus();
        let events = [event];
        engine
            .retry()
            .run("publish the exception", || bus.publish(&events))
            .await
            .within(|| context("publish the exception"))
    }
    .await;
    match result {
        Ok(()) => {
            tracing::warn!(%account, cause, %label, reason, "exception raised");
            Ok(Claim::New)
        }
        Err(error) => {
            if error.is_transient()
                && let Err(release) = store.release(key).await
            {
                tracing::error!(%account, cause, %release, "could not release the claim: {what} will not be raised again");
            }
            Err(error)
        }
    }
}
