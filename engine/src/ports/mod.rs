//! Ports: what the use cases need from the outside world, as traits.
//!
//! Adapters on the AWS SDK implement them in `aws/` (lifecycle issue); the in-memory
//! implementations in [`memory`] serve the tests and the features, offline.

use std::future::Future;

pub mod memory;

/// Why a port could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The account or organizational unit is not in the organization.
    #[error("`{id}` is not in the organization")]
    NotFound { id: String },
    /// The organization answered something that cannot be right (a cycle, a tree
    /// deeper than AWS allows).
    #[error("the organization tree is inconsistent at `{id}`: {why}")]
    Inconsistent { id: String, why: String },
    /// The service could not be reached or refused the call after retries.
    #[error("{service} is unavailable: {message}")]
    Unavailable { service: String, message: String },
}

/// Where accounts and organizational units sit in the organization.
pub trait OrganizationTree {
    /// The parents of an account or OU, nearest first, up to and including the root.
    fn ancestors(&self, id: &str) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}
