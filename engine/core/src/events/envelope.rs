//! The EventBridge envelope common to every event delivered by a rule.

use chrono::{DateTime, Utc};

use super::error::DecodeError;
use super::json::{Node, excerpt};
use crate::vocabulary::{AccountId, EventId};

/// Detail-types of the CloudTrail-based events spa consumes.
pub const API_CALL: &str = "AWS API Call via CloudTrail";
pub(crate) const SERVICE_EVENT: &str = "AWS Service Event via CloudTrail";
pub(crate) const CONSOLE_SIGN_IN: &str = "AWS Console Sign In via CloudTrail";
pub(crate) const BUILD_STATE_CHANGE: &str = "CodeBuild Build State Change";

/// The fields of an EventBridge event that every decoder uses.
pub(crate) struct Envelope<'a> {
    pub id: EventId,
    pub source: &'a str,
    pub detail_type: &'a str,
    pub account: AccountId,
    pub time: DateTime<Utc>,
    pub region: &'a str,
    pub detail: Node<'a>,
}

/// The kind of event spa recognizes by `source` and `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Organizations,
    CodeBuild,
    SignIn,
    Spending,
    Spa,
}

/// Which decoder an event goes to, or `Foreign` naming its source and detail-type.
///
/// Only `source` and `detail-type` are read here: a foreign event is reported as
/// foreign even when it lacks the other fields spa would need.
pub(crate) fn route(root: &Node<'_>) -> Result<Route, DecodeError> {
    let source = root.str("source")?;
    let detail_type = root.str("detail-type")?;
    match (source, detail_type) {
        ("aws.organizations", API_CALL | SERVICE_EVENT) => Ok(Route::Organizations),
        ("aws.codebuild", BUILD_STATE_CHANGE) => Ok(Route::CodeBuild),
        ("aws.signin", CONSOLE_SIGN_IN) => Ok(Route::SignIn),
        (source, API_CALL) if super::spending::WATCHED.iter().any(|(s, _)| *s == source) => {
            Ok(Route::Spending)
        }
        (super::domain::SOURCE, _) => Ok(Route::Spa),
        _ => Err(DecodeError::Foreign {
            event_source: excerpt(source),
            detail_type: excerpt(detail_type),
        }),
    }
}

impl<'a> Envelope<'a> {
    pub(crate) fn parse(root: &Node<'a>) -> Result<Self, DecodeError> {
        Ok(Envelope {
            id: EventId::eventbridge(root.str("id")?),
            source: root.str("source")?,
            detail_type: root.str("detail-type")?,
            account: root.account("account")?,
            time: root.time("time")?,
            region: root.str("region")?,
            detail: root.obj("detail")?,
        })
    }

    /// `Unsupported` for an event name spa does not react to.
    pub(crate) fn unsupported(&self, name: &str) -> DecodeError {
        DecodeError::Unsupported {
            event_source: self.source.to_string(),
            detail_type: self.detail_type.to_string(),
            name: excerpt(name),
        }
    }
}
