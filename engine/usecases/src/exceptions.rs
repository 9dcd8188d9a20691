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
use super::lease::{self, Taken};
use crate::ports::{Activity, Bus, Journal, Platform};
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
    engine.record(run, label, &reason);
    Ok(())
}

/// Records and publishes an exception a job found (not a transition), under the claim
/// `key` its caller has just taken ([`lease::take`]), so that it is raised once: the
/// event is keyed by `key`, and the claim ended with the result ([`lease::end`]: on a
/// transient failure it is released and the error returned, so that the next run
/// raises it again). `what` names the finding in the log ("the residual cost").
pub(crate) async fn publish_claimed<P: Platform>(
    engine: &Engine<'_, P>,
    key: &str,
    cause: &str,
    activity: &Activity,
    event: DomainEvent,
    what: &str,
) -> Result<Taken, UseCaseError> {
    let platform = engine.platform();
    let store = platform.store();
    let account = &activity.account;
    let context = |step| Context::step(step).account(account).cause(cause);
    let label = event.label;
    let reason = event.reason.clone().unwrap_or_default();
    let event = event.keyed(key);
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
    if result.is_ok() {
        tracing::warn!(%account, cause, %label, reason, what, "exception raised");
    }
    lease::end(engine, key, result).await.map(|()| Taken::Go {
        resumed: false,
        note: None,
    })
}
