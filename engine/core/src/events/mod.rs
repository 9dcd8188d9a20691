//! Decoders of the AWS events spa consumes, and the domain events it emits.
//!
//! Pure: no SDK type, no I/O, no clock. [`decode`] recognizes the shape of what a
//! Lambda function was handed (an EventBridge event, an SQS batch, a Scheduler input)
//! and returns a typed [`Incoming`], or a [`DecodeError`] that names the JSON path at
//! fault and what was expected there. It never panics, whatever the bytes.

mod activity;
mod budgets;
mod cloudtrail;
mod codebuild;
mod command;
mod dead_letter;
mod domain;
mod envelope;
mod error;
mod json;
mod organizations;
mod outbox;
mod scheduler;
mod signin;
mod spending;

use serde_json::Value;

pub use crate::vocabulary::BuildStatus;
pub use crate::vocabulary::label;
pub use crate::vocabulary::{
    AccountId, EventId, Label, LabelKind, Sensitive, UnknownLabel, mask, redact_emails,
};
pub use activity::Activity;
pub use budgets::{AlertType, Amount, BudgetAlert, Money, SqsBatch, SqsRecord, Threshold};
pub use cloudtrail::{Principal, TrailRecord};
pub use codebuild::BuildStateChange;
pub use command::{AccountCommand, Action, CommandBatch, CommandRecord};
pub use dead_letter::{
    DEAD_LETTER_QUEUE_SUFFIX, DeadLetter, DeadLetterBatch, DeadLetterRecord, UNREADABLE,
    queue_name, replay_event,
};
pub use domain::{DomainEvent, MAX_FACT_CHARS, MAX_REASON_CHARS, PutEventsEntry, SOURCE, SpaEvent};
pub use envelope::API_CALL;
pub use error::DecodeError;
pub use organizations::{
    CreateAccountOutcome, CreateAccountResult, FailedCall, OrganizationsCall, OrganizationsEvent,
    OrganizationsEventName, ParentId, ResourceId, Tag,
};
pub use outbox::{
    OUTBOX_EVENT, OUTBOX_PREFIX, OUTBOX_SORT, OutboxBatch, OutboxRecord, PUT_EVENTS_AT_MOST,
    outbox_detail, outbox_expires, outbox_key, stream_filter, stream_record,
};
pub use scheduler::{Job, Report, ScheduledJob};
pub use signin::{ConsoleLogin, LoginOutcome};
pub use spending::{Kind, Resource, SpendingCall, WATCHED, is_watched};

use envelope::{Envelope, Route};
use json::{Node, describe};

/// Everything a spa function may be handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// `aws.organizations` through CloudTrail.
    Organizations(OrganizationsEvent),
    /// `aws.codebuild` "CodeBuild Build State Change".
    Build(BuildStateChange),
    /// `aws.signin` `ConsoleLogin`.
    ConsoleLogin(ConsoleLogin),
    /// A call that starts or ends spending in a member account (the spend guard).
    Spending(SpendingCall),
    /// An SQS batch of AWS Budgets alerts; each record decoded on its own.
    BudgetAlerts(SqsBatch),
    /// An EventBridge Scheduler run.
    Scheduled(ScheduledJob),
    /// One of spa's own domain events (source `spa`): never react to it in a loop.
    Spa(SpaEvent),
    /// An SQS batch of account commands (the command queue); each record decoded on
    /// its own.
    Commands(CommandBatch),
    /// An SQS batch taken from one of spa's dead-letter queues (`...-dlq`): what
    /// spa gave up on after every retry; each record read on its own.
    DeadLetters(DeadLetterBatch),
    /// A batch of the transactions table's stream: spa's events written with the end
    /// of a turn, for the `relay` function to put on the bus; each record decoded on
    /// its own.
    Outbox(OutboxBatch),
}

impl Incoming {
    /// The de-duplication key; `None` for an SQS batch, whose records each have one
    /// ([`BudgetAlert::event_id`], [`AccountCommand::id`]).
    pub fn event_id(&self) -> Option<&EventId> {
        match self {
            Incoming::Organizations(e) => Some(&e.record.event_id),
            Incoming::Build(e) => Some(&e.event_id),
            Incoming::ConsoleLogin(e) => Some(&e.event_id),
            Incoming::Spending(e) => Some(&e.event_id),
            Incoming::BudgetAlerts(_)
            | Incoming::Commands(_)
            | Incoming::DeadLetters(_)
            | Incoming::Outbox(_) => None,
            Incoming::Scheduled(e) => Some(&e.event_id),
            Incoming::Spa(e) => Some(&e.event_id),
        }
    }

    /// Whether this is one of spa's own emissions.
    pub fn is_own(&self) -> bool {
        matches!(self, Incoming::Spa(_))
    }
}

/// Decodes what a Lambda function was handed, as bytes.
pub fn decode(bytes: &[u8]) -> Result<Incoming, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))?;
    decode_value(&value)
}

/// Decodes what a Lambda function was handed, as text.
pub fn decode_str(text: &str) -> Result<Incoming, DecodeError> {
    decode(text.as_bytes())
}

/// Decodes what a Lambda function was handed, already parsed.
pub fn decode_value(value: &Value) -> Result<Incoming, DecodeError> {
    let Value::Object(map) = value else {
        return Err(DecodeError::UnknownShape {
            found: describe(value),
        });
    };
    let root = Node::root(value, "");
    if map.contains_key("source") || map.contains_key("detail-type") {
        let route = envelope::route(&root)?;
        let envelope = Envelope::parse(&root)?;
        return Ok(match route {
            Route::Organizations => Incoming::Organizations(organizations::decode(&envelope)?),
            Route::CodeBuild => Incoming::Build(codebuild::decode(&envelope)?),
            Route::SignIn => Incoming::ConsoleLogin(signin::decode(&envelope)?),
            Route::Spending => Incoming::Spending(spending::decode(&envelope)?),
            Route::Spa => Incoming::Spa(domain::decode(&envelope)?),
        });
    }
    if map.contains_key("Records") {
        if outbox::is_outbox_batch(&root) {
            return outbox::decode_batch(&root).map(Incoming::Outbox);
        }
        budgets::check_batch_source(&root)?;
        if dead_letter::is_dead_letter_batch(&root) {
            return dead_letter::decode_batch(&root).map(Incoming::DeadLetters);
        }
        if command::is_command_batch(&root) {
            return command::decode_batch(&root).map(Incoming::Commands);
        }
        return budgets::decode_batch(&root).map(Incoming::BudgetAlerts);
    }
    if map.contains_key("job") {
        return scheduler::decode(&root).map(Incoming::Scheduled);
    }
    let mut keys: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
    keys.sort_unstable();
    Err(DecodeError::UnknownShape {
        found: format!(
            "an object with keys {}",
            keys.iter()
                .map(|k| format!("`{}`", json::excerpt(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}
