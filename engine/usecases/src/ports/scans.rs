//! Ports of the scans across member accounts: the regions an account has enabled,
//! its EC2 instances matching an id or a private IP (the `find` search), and its IAM
//! users with their access keys and console passwords (the access-key scan); and the
//! one write beside them, [`Stops`]: an instance stopped (the spend guard's `stop`).
//!
//! Every call is about one member account, reached through its member role; a role
//! that cannot be assumed is [`PortError::Denied`], so a scan lists that account as a
//! failure and goes on with the others.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PortError;
use spa_core::events::AccountId;

/// Which instances to look for in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceFilter {
    /// The instance with this id (`i-...`); absent is an empty answer, not an error.
    Id(String),
    /// The instances with this primary or secondary private IPv4 address.
    PrivateIp(Ipv4Addr),
}

impl fmt::Display for InstanceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceFilter::Id(id) => f.write_str(id),
            InstanceFilter::PrivateIp(ip) => write!(f, "{ip}"),
        }
    }
}

/// An EC2 instance as a search shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// `i-...`.
    pub instance_id: String,
    /// Its primary private IPv4 address.
    pub private_ip: Option<String>,
    /// `pending`, `running`, `stopped`, `terminated`, ...
    pub state: String,
    /// Its `Name` tag.
    pub name: Option<String>,
    /// `t3.micro`, ...
    pub instance_type: Option<String>,
}

/// Whether an access key can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// It signs requests.
    Active,
    /// Disabled by its owner or an administrator.
    Inactive,
}

/// An access key of an IAM user. Its id is not a secret, but it is shown masked
/// (`AKIA…WXYZ`, see [`mask_key_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA...`.
    pub id: String,
    /// Active or inactive.
    pub status: KeyStatus,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When it last signed a request; never: `None`.
    pub last_used: Option<DateTime<Utc>>,
}

/// An IAM user of a member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    /// Its name.
    pub name: String,
    /// Whether it has a console password (a login profile).
    pub console_password: bool,
    /// Its access keys.
    pub keys: Vec<AccessKey>,
}

/// An access key id as spa shows it: the first four and the last four characters
/// (`AKIA…WXYZ`); a short id is shown as `…` only.
pub fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "…".to_owned();
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}…{tail}")
}

/// What the scans read in member accounts, through the member role.
pub trait Scans: Send + Sync {
    /// The regions enabled in `account` (opted in, or not needing it).
    fn regions(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;

    /// The instances of `account` in `region` that match `filter` (every page).
    fn instances(
        &self,
        account: &AccountId,
        region: &str,
        filter: &InstanceFilter,
    ) -> impl Future<Output = Result<Vec<Instance>, PortError>> + Send;

    /// The IAM users of `account` with their access keys (last use included) and
    /// whether each has a console password (every page).
    fn iam_users(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<IamUser>, PortError>> + Send;
}

/// What spa does to the EC2 instances of member accounts, through the member role of
/// the account: the spend guard's `stop`. A write, apart from [`Scans`] (reads), but
/// the same adapter (the member account's EC2 client) implements both.
pub trait Stops: Send + Sync {
    /// Stops the instance `id` of `account` in `region` (EC2 `StopInstances`, one
    /// instance a call, so that one that cannot be stopped never keeps the others
    /// running) and answers the state it was in (`running`; `stopping` or `stopped`
    /// when it was stopped already: the call is idempotent). No instance of that id in
    /// that account and region (`InvalidInstanceID.NotFound`): [`PortError::NotFound`].
    /// EC2 refusing it (`IncorrectInstanceState`: pending, shutting down, terminated;
    /// `UnsupportedOperation`: a one-time Spot Instance, an instance-store root;
    /// `OperationNotPermitted`: stop protection): [`PortError::Rejected`] with EC2's
    /// code first in its message.
    fn stop_instance(
        &self,
        account: &AccountId,
        region: &str,
        id: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_show_their_ends_only() {
        assert_eq!(mask_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
        assert_eq!(mask_key_id("AKIA12"), "…");
    }
}
