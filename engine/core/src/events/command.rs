//! Account commands: one message per account on the command queue (SQS).
//!
//! The maintenance window and the bulk operator actions fan out through the queue,
//! so no invocation works through thousands of accounts serially, and the queue's
//! concurrency caps the rate of calls to Organizations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::DecodeError;
use super::json::{Node, excerpt};
use crate::vocabulary::AccountId;

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
    /// `spa close`: a last purge, then the account is closed (or parked in the
    /// suspended unit) and leaves management.
    Close,
    /// `spa freeze ACCOUNT --reason TEXT`: as the spend guard does.
    Freeze {
        /// Why, for the incident and the history (no e-mail address in it).
        reason: String,
    },
    /// `spa unfreeze`: back to the state the account was frozen in.
    Unfreeze,
    /// `spa snooze ACCOUNT [--by 2d]`, `/spa snooze ACCOUNT [2d]`, the notice's Slack
    /// button: put the next purge off, once, by at most `purge_notice.snooze`.
    Snooze {
        /// How long (`2d`, `36h`); none: the most the settings allow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// The e-mail address of the person who asks (a Slack user), checked against
        /// the account's holder; none: an operator (the message body is not logged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder: Option<String>,
    },
    /// The spend guard's daily reconciliation (the `digest` job): the account's
    /// thresholds judged again on what its month cost so far, whether or not it made a
    /// call that day.
    Reconcile {
        /// The day Cost Explorer's figure is of (its complete days end the day before).
        day: chrono::NaiveDate,
        /// What the account's month cost so far in US dollars (`12.345678`), as the
        /// one Cost Explorer read of the whole organization said; none when Cost
        /// Explorer could not be read (the figure kept in the store is judged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        month_to_date: Option<String>,
    },
    /// A Slack slash command answered later (`/spa costs`, `/spa status`): the
    /// `commands` function works the answer out and posts it to Slack's response URL.
    /// `account` is the account asked about, else the automation account.
    SlackReply {
        /// The Slack user who asked (for logs).
        user: String,
        /// Their e-mail address as Slack gave it (the message body is not logged).
        #[serde(default)]
        email: Option<String>,
        /// Whether they are in `features.slack_admins`.
        #[serde(default)]
        admin: bool,
        /// The command's text (`costs 123456789012`).
        text: String,
        /// Where the answer goes (a credential for 30 minutes: never logged).
        response_url: String,
    },
    /// A click on one of spa's Slack buttons (approve, deny, extend, unfreeze),
    /// verified by the `slack-commands` function and carried out by the `commands`
    /// function, which decides whether the clicker may. `account` is the account the
    /// button is about, else the automation account.
    SlackButton {
        /// The Slack user who clicked.
        user: String,
        /// Their e-mail address as Slack gave it (the message body is not logged).
        #[serde(default)]
        email: Option<String>,
        /// Whether they are in `features.slack_admins`.
        #[serde(default)]
        admin: bool,
        /// The button's `action_id`.
        button: String,
        /// The button's `value` (an account id or a request id).
        value: String,
        /// Where the message of the button is answered (never logged).
        #[serde(default)]
        response_url: Option<String>,
    },
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
            Action::Close => "close",
            Action::Freeze { .. } => "freeze",
            Action::Unfreeze => "unfreeze",
            Action::Snooze { .. } => "snooze",
            Action::Reconcile { .. } => "reconcile",
            Action::SlackReply { .. } => "slack-reply",
            Action::SlackButton { .. } => "slack-button",
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
    /// The OU or root the account was listed under when the command was made (the
    /// maintenance window lists accounts by parent): what spa knew of the account's
    /// place holds only while it names this parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
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
            parent: None,
        }
    }

    /// The command of an account listed under `parent`.
    pub fn listed_under(mut self, parent: Option<String>) -> Self {
        self.parent = parent;
        self
    }

    /// The message body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A Lambda SQS event of account commands; each record decoded on its own so that
/// one bad message fails alone (partial batch response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBatch {
    pub records: Vec<CommandRecord>,
}

/// One SQS message of the command queue and what it decoded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// The SQS `messageId`, to report the record in `batchItemFailures`.
    pub message_id: Option<String>,
    pub command: Result<AccountCommand, DecodeError>,
}

const EXPECTED: &str =
    "an account command (JSON with `id`, `environment`, `account`, `action`, `at`, `origin`)";

/// Whether an SQS batch carries account commands: its first record's body is a JSON
/// object with an `action` (Budgets notifications never have one).
pub(crate) fn is_command_batch(root: &Node<'_>) -> bool {
    let Ok(records) = root.array("Records", "an array of SQS records") else {
        return false;
    };
    let Some(first) = records.first() else {
        return false;
    };
    let body = match first.value() {
        Value::Object(map) => map.get("body").and_then(Value::as_str),
        _ => None,
    };
    body.and_then(|body| serde_json::from_str::<Value>(body).ok())
        .is_some_and(|value| value.get("action").is_some())
}

pub(crate) fn decode_batch(root: &Node<'_>) -> Result<CommandBatch, DecodeError> {
    let records = root.array("Records", "an array of SQS records")?;
    Ok(CommandBatch {
        records: records
            .iter()
            .map(|record| CommandRecord {
                message_id: record
                    .opt_str("messageId")
                    .ok()
                    .flatten()
                    .map(str::to_string),
                command: decode_record(record),
            })
            .collect(),
    })
}

fn decode_record(record: &Node<'_>) -> Result<AccountCommand, DecodeError> {
    let body = record.req("body", EXPECTED)?;
    serde_json::from_str(body.as_str()?)
        .map_err(|error| DecodeError::invalid(body.path(), EXPECTED, excerpt(&error.to_string())))
}

impl CommandBatch {
    /// Message ids of the records that did not decode: retried, then dead-lettered.
    pub fn undecoded_message_ids(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| r.command.is_err())
            .filter_map(|r| r.message_id.as_deref())
            .collect()
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
            Action::Close,
            Action::Reconcile {
                day: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap_or_default(),
                month_to_date: Some("600.000000".into()),
            },
            Action::Reconcile {
                day: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap_or_default(),
                month_to_date: None,
            },
            Action::SlackReply {
                user: "U1".into(),
                email: Some("jane@example.com".into()),
                admin: false,
                text: "costs".into(),
                response_url: "https://hooks.slack.com/commands/1/2/3".into(),
            },
        ] {
            let command =
                AccountCommand::new("window-1", "Spa", account.clone(), action, at, "operator");
            let back: AccountCommand = serde_json::from_str(&command.to_json()).expect("decodes");
            assert_eq!(back, command);
            assert_eq!(back.id, "window-1/222222222222");
        }
    }

    #[test]
    fn a_batch_of_commands_is_decoded_record_by_record() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let account = AccountId::parse("222222222222").expect("account");
        let good = AccountCommand::new("w", "Spa", account, Action::Sweep, at, "sweeper");
        let event = serde_json::json!({"Records": [
            {"messageId": "m-1", "eventSource": "aws:sqs", "body": good.to_json()},
            {"messageId": "m-2", "eventSource": "aws:sqs", "body": "{\"action\": \"explode\"}"},
        ]});
        let Ok(super::super::Incoming::Commands(batch)) = super::super::decode_value(&event) else {
            panic!("expected a command batch");
        };
        assert_eq!(batch.records[0].command.as_ref().ok(), Some(&good));
        let error = batch.records[1].command.as_ref().expect_err("bad record");
        assert_eq!(error.path(), Some("Records[1].body"), "{error}");
        assert_eq!(batch.undecoded_message_ids(), ["m-2"]);
    }

    #[test]
    fn a_reconciliation_without_a_day_is_one_error_that_names_the_record() {
        let body = r#"{"id": "d/222222222222", "environment": "Spa", "account": "222222222222", "action": "reconcile", "day": "21 November", "at": "2026-11-21T07:00:00Z", "origin": "reconciliation"}"#;
        let event = serde_json::json!({"Records": [
            {"messageId": "m-1", "eventSource": "aws:sqs", "body": body},
        ]});
        let Ok(super::super::Incoming::Commands(batch)) = super::super::decode_value(&event) else {
            panic!("expected a command batch");
        };
        let error = batch.records[0].command.as_ref().expect_err("bad day");
        assert_eq!(error.path(), Some("Records[0].body"), "{error}");
        let text = error.to_string();
        assert!(text.contains("account command"), "{text}");
    }
}
