//! Who may say what. Every holder administers the account spa manages, so whatever
//! comes from a member account may be forged (ARCHITECTURE.md, "Threat model"). Input
//! is checked where it enters:
//!
//! - the decoders refuse what the input alone proves forged ([`DecodeError::Refused`]):
//!   a build or a sign-in of another account than the sending one, a budget alert
//!   about another account than the one that owns its topic, a budget alert without
//!   its SNS envelope;
//! - [`spa_event`] refuses one of spa's own events put on the bus by any account but
//!   the automation account (a holder may put events on the bus: member accounts
//!   forward their sign-ins and builds to it);
//! - [`organizations_event`] refuses an Organizations event that the management
//!   account did not send (only the management account calls Organizations about the
//!   organization's accounts; a member could forward an Organizations record of its
//!   own).
//!
//! A refusal is one `warn` log line marked `security = "refused"` that names the
//! sender and what it claimed, an outcome [`Verdict::Refused`] (counted as `Refused`
//! in the invocation's metrics), and nothing else: no retry, no dead letter, no state
//! changed, no notice.

use spa_core::events::{AccountId, OrganizationsEvent, SpaEvent, redact_emails};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use crate::ports::Platform;

/// The outcome of refused input, logged once as a security event.
pub fn refused(cause: &str, account: Option<&AccountId>, why: &str) -> Outcome {
    let why = redact_emails(why);
    tracing::warn!(
        security = "refused",
        cause,
        account = account.map(AccountId::as_str),
        why = %why,
        "input refused"
    );
    Outcome::new(cause, account, Verdict::Refused(why))
}

/// Why one of spa's own events is refused: it was not put on the bus by the
/// automation account. `None`: spa said it.
pub fn spa_event<P: Platform>(engine: &Engine<'_, P>, event: &SpaEvent) -> Option<String> {
    let automation = engine.settings().automation.account_id.as_str();
    (event.sender.as_str() != automation).then(|| {
        format!(
            "account {} may not say `{}` about account {}: only the automation account {automation} speaks as spa",
            event.sender, event.event.label, event.event.account
        )
    })
}

/// The management account: the account of `automation.management_role_arn`.
pub fn management_account<P: Platform>(engine: &Engine<'_, P>) -> Option<AccountId> {
    engine.settings().automation.management_role_arn.account()
}

/// Why an Organizations event is refused: it was not sent by the management account.
/// `None`: the management account sent it.
pub fn organizations_event<P: Platform>(
    engine: &Engine<'_, P>,
    event: &OrganizationsEvent,
) -> Option<String> {
    let management = management_account(engine)?;
    (event.record.account != management).then(|| {
        format!(
            "account {} may not report `{}` to spa: Organizations events come from the management account {management}",
            event.record.account,
            event.call.name().as_str()
        )
    })
}
