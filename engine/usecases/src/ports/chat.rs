//! The port of chat operations: who a Slack user is (`users.info`).
//!
//! The adapter over Slack's Web API is `crate::slack_api::SlackApi`; the in-memory
//! [`MemorySlackUsers`] serves the tests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

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

/// In-memory Slack users: user id → e-mail address; counts the look-ups; may fail.
#[derive(Debug, Default)]
pub struct MemorySlackUsers {
    users: BTreeMap<String, String>,
    failure: Option<PortError>,
    lookups: Mutex<usize>,
}

impl MemorySlackUsers {
    /// No user.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a user and its address.
    pub fn with_user(mut self, user_id: &str, email: &str) -> Self {
        self.users.insert(user_id.to_owned(), email.to_owned());
        self
    }

    /// Every look-up fails with `error`.
    pub fn failing(mut self, error: PortError) -> Self {
        self.failure = Some(error);
        self
    }

    /// How many look-ups were made.
    pub fn lookups(&self) -> usize {
        self.lookups.lock().map(|n| *n).unwrap_or_default()
    }
}

impl SlackUsers for MemorySlackUsers {
    async fn email(&self, _token: &Secret, user_id: &str) -> Result<Option<String>, PortError> {
        if let Ok(mut n) = self.lookups.lock() {
            *n += 1;
        }
        match &self.failure {
            Some(error) => Err(error.clone()),
            None => Ok(self.users.get(user_id).cloned()),
        }
    }
}
