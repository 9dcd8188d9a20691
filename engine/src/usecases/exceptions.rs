//! The exception step: every exception of a transition goes through [`raise`].
//!
//! It writes the activity record and adds the domain event (label, reason) to the
//! events of the run, published once at the end. The bus's `Exceptions` rule hands
//! that event to the `exceptions` function ([`super::on_notice`]), which opens or
//! updates the incident and tells the routed channels: the lifecycle never waits on
//! Incident Manager, Slack, Teams or SES.

use super::apply::Run;
use super::context::Engine;
use super::error::UseCaseError;
use crate::events::Label;
use crate::ports::Platform;

/// Records an exception of the run's account and queues its domain event.
pub(crate) async fn raise<P: Platform>(
    engine: &Engine<'_, P>,
    run: &mut Run<'_>,
    label: Label,
    reason: &str,
) -> Result<(), UseCaseError> {
    let reason = crate::events::redact_emails(reason);
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
