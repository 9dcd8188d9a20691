//! The seven states of a managed account.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a managed account, as written in its `{prefix}state` tag.
///
/// An account without a state is *unmanaged*: the lifecycle models it as
/// `Option<State>::None` (see [`state_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// New in a managed OU (created, moved in, or re-vended); preparation pending or running.
    Vended,
    /// Preparation succeeded; waits in the pool when it has no holder.
    Prepared,
    /// In use by its holder.
    Assigned,
    /// Picked by the maintenance window (or lease end); purge pending or running.
    Expired,
    /// Purge succeeded; preparation pending or running.
    Purged,
    /// A build failed past its retry budget, or a deadline passed; needs an operator.
    Quarantined,
    /// Its spend crossed a threshold of the spend guard: a deny-all-but-read service
    /// control policy holds it, its data kept, until an operator unfreezes it (back to
    /// the state it was frozen in, `{prefix}frozen-from`).
    Frozen,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 7] = [
        State::Vended,
        State::Prepared,
        State::Assigned,
        State::Expired,
        State::Purged,
        State::Quarantined,
        State::Frozen,
    ];

    /// The one word of this state, as written in tags, logs and docs.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Vended => "vended",
            State::Prepared => "prepared",
            State::Assigned => "assigned",
            State::Expired => "expired",
            State::Purged => "purged",
            State::Quarantined => "quarantined",
            State::Frozen => "frozen",
        }
    }

    /// The states an account is frozen from (`{prefix}frozen-from`): those in which a
    /// holder, or whoever has the account, spends. An account under preparation or
    /// purge is not frozen: its build deletes or prepares, and a freeze would stop it.
    pub const FREEZABLE: [State; 2] = [State::Prepared, State::Assigned];

    /// Whether a build (preparation or purge) belongs to this state.
    pub const fn builds(self) -> bool {
        matches!(self, State::Vended | State::Expired | State::Purged)
    }
}

/// The word of an optional state: `unmanaged` when there is none.
pub const fn state_name(state: Option<State>) -> &'static str {
    match state {
        Some(state) => state.as_str(),
        None => "unmanaged",
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the six states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown state `{value}`: expected one of vended, prepared, assigned, expired, purged, quarantined, frozen"
)]
pub struct ParseStateError {
    /// The word that was read.
    pub value: String,
}

impl FromStr for State {
    type Err = ParseStateError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
            .ok_or_else(|| ParseStateError {
                value: value.to_owned(),
            })
    }
}
