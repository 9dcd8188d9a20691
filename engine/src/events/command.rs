//! Account commands: one message per account on the command queue (SQS).
//!
//! The maintenance window and the bulk operator actions fan out through the queue,
//! so no invocation works through thousands of accounts serially, and the queue's
//! concurrency caps the rate of calls to Organizations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::AccountId;

/// What to do to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The maintenance window picked the account (`assigned` -> `expired`).
    MaintenanceWindow,
    /// `spa expire`.
    Expire,
    /// `spa reset`: re-vend.
    Reset,
    /// `spa release`: the holder gives the account back.
    Release,
    /// `spa assign --holder EMAIL`.
    Assign {
        /// The holder's e-mail address (the message body is not logged).
        holder: String,
    },
    /// Look at the account's deadlines and lease now.
    Sweep,
}

impl Action {
    /// A short name for logs (never an e-mail address).
    pub const fn name(&self) -> &'static str {
        match self {
            Action::MaintenanceWindow => "maintenance-window",
            Action::Expire => "expire",
            Action::Reset => "reset",
            Action::Release => "release",
            Action::Assign { .. } => "assign",
            Action::Sweep => "sweep",
        }
    }
}

/// One command for one account, as it travels on the command queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCommand {
    /// Unique for what caused it and the account (`<cause>/<account>`): the
    /// de-duplication key of the command.
    pub id: String,
    /// The settings' `environment_identifier`: a queue shared by environments is not
    /// expected, but a command of another environment is refused, not run.
    pub environment: String,
    /// The account.
    pub account: AccountId,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// When it was asked.
    pub at: DateTime<Utc>,
    /// Who or what asked (`maintenance-window`, `operator`), for the activity record.
    pub origin: String,
}

impl AccountCommand {
    /// A command whose id is `<cause>/<account>`.
    pub fn new(
        cause: &str,
        environment: &str,
        account: AccountId,
        action: Action,
        at: DateTime<Utc>,
        origin: &str,
    ) -> Self {
        Self {
            id: format!("{cause}/{account}"),
            environment: environment.to_owned(),
            account,
            action,
            at,
            origin: origin.to_owned(),
        }
    }

    /// The message body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_queue() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let account = AccountId::parse("222222222222").expect("account");
        for action in [
            Action::MaintenanceWindow,
            Action::Expire,
            Action::Reset,
            Action::Release,
            Action::Assign {
                holder: "jane@example.com".into(),
            },
            Action::Sweep,
        ] {
            let command =
                AccountCommand::new("window-1", "Spa", account.clone(), action, at, "operator");
            let back: AccountCommand = serde_json::from_str(&command.to_json()).expect("decodes");
            assert_eq!(back, command);
            assert_eq!(back.id, "window-1/222222222222");
        }
    }
}
