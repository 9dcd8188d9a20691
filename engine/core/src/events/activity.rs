//! One line of an account's history, as the store keeps it and reports read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{AccountId, Label};
use crate::lifecycle::State;

/// One line of an account's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The account.
    pub account: AccountId,
    /// What happened.
    pub label: Label,
    /// The state before, for transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<State>,
    /// The state after, for transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<State>,
    /// For humans: why, what was done (never a full e-mail address).
    #[serde(default)]
    pub detail: String,
    /// The event or command that caused it, for tracing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}
