//! The port of chat operations: who a Slack user is (`users.info`).
//!
//! The adapter over Slack's Web API is `spa_aws::slack_api::SlackApi`; the in-memory
//! `MemorySlackUsers` (in `memory`, feature `testing`) serves the tests.

use std::future::Future;

use super::{PortError, Secret};

/// Slack's directory of users.
pub trait SlackUsers: Send + Sync {
    /// The e-mail address of a Slack user, read with the bot token (`users:read.email`);
    /// `None`: no such user, or no address visible.
    fn email(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
}
