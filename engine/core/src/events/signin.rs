//! `aws.signin` `ConsoleLogin`, forwarded from member accounts.

use chrono::{DateTime, Utc};

use super::cloudtrail::Principal;
use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{bounded, excerpt};
use crate::vocabulary::Label;
use crate::vocabulary::{AccountId, EventId};

/// A console sign-in to a member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLogin {
    pub event_id: EventId,
    /// The account signed in to.
    pub account: AccountId,
    pub at: DateTime<Utc>,
    /// Who signed in; names are kept [`Sensitive`](super::Sensitive).
    pub principal: Principal,
    pub outcome: LoginOutcome,
    /// `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// `additionalEventData.MFAUsed`, else the session's `mfaAuthenticated`; `None` when
    /// the event says neither.
    pub mfa_used: Option<bool>,
}

/// Whether the sign-in succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    /// `errorMessage` when given (`Failed authentication`, ...).
    Failure {
        reason: Option<String>,
    },
}

impl ConsoleLogin {
    /// The label this sign-in is reported under: an exception for root and IAM users,
    /// an activity otherwise.
    pub fn label(&self) -> Label {
        match self.principal {
            Principal::Root => Label::ConsoleLoginWithRoot,
            Principal::IamUser { .. } => Label::ConsoleLoginWithIamUser,
            _ => Label::ConsoleLogin,
        }
    }

    /// Whether the sign-in succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome == LoginOutcome::Success
    }
}

pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<ConsoleLogin, DecodeError> {
    let detail = &envelope.detail;
    let name = detail.str("eventName")?;
    if name != "ConsoleLogin" {
        return Err(envelope.unsupported(name));
    }
    // the account the sign-in is about is the sending account: a sign-in to another
    // account forwarded from this one is refused (the holder is an adversary)
    if let Some(recipient) = detail.opt_str("recipientAccountId")?
        && recipient != envelope.account.as_str()
    {
        return Err(DecodeError::refused(
            format!("account {}", envelope.account),
            format!("a sign-in to account {}", excerpt(recipient)),
        ));
    }
    let identity = detail.obj("userIdentity")?;
    let principal = Principal::decode(&identity)?;

    let response = detail.obj("responseElements")?;
    let result = response.req("ConsoleLogin", "Success or Failure")?;
    let outcome = match result.as_str()? {
        "Success" => LoginOutcome::Success,
        "Failure" => LoginOutcome::Failure {
            reason: detail.opt_str("errorMessage")?.map(|s| bounded(s, 1000)),
        },
        _ => return Err(result.invalid("Success or Failure")),
    };

    let mfa_used = match detail.opt_obj("additionalEventData")? {
        Some(data) => data.opt_loose_bool("MFAUsed")?,
        None => None,
    };
    let mfa_used = match mfa_used {
        Some(used) => Some(used),
        None => match identity.opt_obj("sessionContext")? {
            Some(ctx) => match ctx.opt_obj("attributes")? {
                Some(attributes) => attributes.opt_loose_bool("mfaAuthenticated")?,
                None => None,
            },
            None => None,
        },
    };

    Ok(ConsoleLogin {
        event_id: envelope.id.clone(),
        account: envelope.account.clone(),
        at: detail.opt_time("eventTime")?.unwrap_or(envelope.time),
        principal,
        outcome,
        source_ip: detail.opt_str("sourceIPAddress")?.map(|s| bounded(s, 256)),
        mfa_used,
    })
}
