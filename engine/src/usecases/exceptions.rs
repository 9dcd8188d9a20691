//! The exception step: every exception of a transition goes through [`raise`].
//!
//! Today it writes the activity record and adds the domain event (label, reason) to
//! the events of the run, published once at the end. The incidents issue opens or
//! updates the Incident Manager record and the routed chat and e-mail channels here,
//! and only here; nothing in this module claims to notify anybody yet.

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
