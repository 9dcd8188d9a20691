//! What a Lambda function of spa does with what it is handed: decode, check that it
//! is for this function, dispatch, and answer in the shape Lambda expects (a partial
//! batch response for SQS). The `bootstrap` binary, `spa handle` and the local
//! runtime all go through [`handle`], so they cannot drift apart.

use serde_json::{Value, json};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::dispatch::{Dispatched, dispatch};
use super::error::UseCaseError;
use crate::ports::Platform;
use spa_core::events::{DecodeError, Incoming, decode_value, redact_emails, replay_event};
use spa_core::rules::Function;

/// Why an invocation failed as a whole (Lambda retries it, then the DLQ keeps it).
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event does not decode: it names the JSON path and what was expected.
    #[error("the event does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The event is not for this function.
    #[error("the `{function}` function does not take {found}")]
    WrongFunction {
        /// The function.
        function: Function,
        /// What it was handed.
        found: &'static str,
    },
    /// The use case failed.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    /// The invocation's budget ran out before the work was done
    /// (`spa_core::rules::timeouts`): it is delivered again, and resumed.
    #[error(
        "the `{function}` function stopped after {seconds}s, past which no call could end within its budget: the event comes back and the work is resumed"
    )]
    OutOfTime {
        /// The function.
        function: Function,
        /// When it stopped: its budget less one SDK operation.
        seconds: u64,
    },
}

/// What an invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The function that handled it.
    pub function: Function,
    /// What the use cases did.
    pub dispatched: Dispatched,
}

impl Handled {
    /// The answer to Lambda, in the shape the function's trigger reads
    /// ([`Trigger::answers_batch_item_failures`](spa_core::rules::Trigger::answers_batch_item_failures)): `{"batchItemFailures": [...]}` for
    /// every queue-fed function (the records to retry; Lambda deletes the others), a
    /// summary otherwise.
    pub fn response(&self) -> Value {
        if self.function.trigger().answers_batch_item_failures() {
            json!({
                "batchItemFailures": self
                    .dispatched
                    .batch_item_failures
                    .iter()
                    .map(|id| json!({ "itemIdentifier": id }))
                    .collect::<Vec<_>>()
            })
        } else {
            json!({
                "outcomes": self.dispatched.outcomes.iter().map(summary).collect::<Vec<_>>()
            })
        }
    }

    /// One line for humans.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.dispatched.outcomes.iter().map(summary).collect();
        if !self.dispatched.batch_item_failures.is_empty() {
            parts.push(format!(
                "{} record(s) to retry",
                self.dispatched.batch_item_failures.len()
            ));
        }
        if parts.is_empty() {
            "nothing to do".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// The function that takes an input of this shape.
pub fn function_for(incoming: &Incoming) -> Function {
    match incoming {
        Incoming::Organizations(_) => Function::AccountEvents,
        Incoming::Build(_) => Function::BuildEvents,
        Incoming::ConsoleLogin(_) => Function::SignIns,
        Incoming::Spending(_) => Function::SpendEvents,
        Incoming::Commands(_) => Function::Commands,
        Incoming::DeadLetters(_) => Function::DeadLetters,
        Incoming::Scheduled(_) => Function::Scheduler,
        Incoming::BudgetAlerts(_) => Function::BudgetAlerts,
        Incoming::Spa(_) => Function::Exceptions,
        Incoming::Outbox(_) => Function::Relay,
    }
}

fn shape(incoming: &Incoming) -> &'static str {
    match incoming {
        Incoming::Organizations(_) => "an Organizations event",
        Incoming::Build(_) => "a CodeBuild event",
        Incoming::ConsoleLogin(_) => "a console sign-in event",
        Incoming::Spending(_) => "a call that starts or ends spending",
        Incoming::BudgetAlerts(_) => "a batch of budget alerts",
        Incoming::Commands(_) => "a batch of account commands",
        Incoming::DeadLetters(_) => "a batch from a dead-letter queue",
        Incoming::Scheduled(_) => "a scheduled job",
        Incoming::Spa(_) => "one of spa's own events",
        Incoming::Outbox(_) => "a batch of the outbox's stream",
    }
}

/// What [`handle`] checks before it touches anything: the event decodes, and is for
/// `function` (`None`: found from the event's shape). `spa handle` calls it before it
/// connects, so a malformed event is reported without a call to AWS.
pub fn accept(
    function: Option<Function>,
    event: &Value,
) -> Result<(Function, Incoming), HandleError> {
    let replayed = replay_event(event);
    let incoming = decode_value(replayed.as_ref().unwrap_or(event))?;
    let expected = function_for(&incoming);
    if let Some(given) = function
        && given != expected
    {
        return Err(HandleError::WrongFunction {
            function: given,
            found: shape(&incoming),
        });
    }
    Ok((expected, incoming))
}

/// Handles one invocation of `function` (`None`: found from the event's shape).
///
/// A bare queue message (an account command, a budget alert's SNS notification, as
/// archived from a dead-letter queue) is handled as the one-record SQS batch its
/// queue would deliver ([`replay_event`]).
pub async fn handle<P: Platform>(
    engine: &Engine<'_, P>,
    function: Option<Function>,
    event: &Value,
) -> Result<Handled, HandleError> {
    let (function, incoming) = match (accept(function, event), function) {
        (Ok(accepted), _) => accepted,
        (Err(HandleError::Decode(error)), Some(function)) if error.is_refused() => {
            return refused_event(function, event, &error).ok_or(HandleError::Decode(error));
        }
        (Err(error), _) => return Err(error),
    };
    handle_accepted(engine, function, &incoming).await
}

/// The second half of [`handle`]: an event [`accept`] already decoded, for `function`.
pub async fn handle_accepted<P: Platform>(
    engine: &Engine<'_, P>,
    function: Function,
    incoming: &Incoming,
) -> Result<Handled, HandleError> {
    let dispatched = dispatch(engine, incoming).await?;
    Ok(Handled {
        function,
        dispatched,
    })
}

/// What a function answers to an event its decoder refused: a handled invocation
/// with one refused outcome, so that Lambda neither retries it nor keeps it in a
/// dead-letter queue. `None` when `error` is not a refusal.
pub(crate) fn refused_event(
    function: Function,
    event: &Value,
    error: &DecodeError,
) -> Option<Handled> {
    let why = error.refusal()?;
    let cause = event.get("id").and_then(Value::as_str).unwrap_or("event");
    Some(Handled {
        function,
        dispatched: Dispatched::one(super::trust::refused(cause, None, &why)),
    })
}

/// One outcome in a few words (no e-mail address).
pub fn summary(outcome: &Outcome) -> String {
    let who = outcome
        .account
        .as_ref()
        .map_or_else(String::new, |a| format!("{a} "));
    let state = |s: Option<spa_core::lifecycle::State>| spa_core::lifecycle::state_name(s);
    let text = match &outcome.verdict {
        // a signal (sign-in, budget alert): recorded, maybe raised
        Verdict::Applied
            if outcome.trigger.is_none() && outcome.from.is_none() && outcome.to.is_none() =>
        {
            match outcome.events.as_slice() {
                [] => format!("{who}recorded"),
                labels => {
                    let labels: Vec<&str> = labels.iter().map(|l| l.as_str()).collect();
                    format!("{who}recorded, {} raised", labels.join(", "))
                }
            }
        }
        Verdict::Applied | Verdict::Resumed => {
            let mut text = if outcome.from == outcome.to {
                format!("{who}stays {}", state(outcome.to))
            } else {
                format!("{who}{} -> {}", state(outcome.from), state(outcome.to))
            };
            if let Some(build) = &outcome.build {
                text.push_str(&format!(", build {build} started"));
            }
            if outcome.verdict == Verdict::Resumed {
                text.push_str(" (resumed)");
            }
            text
        }
        Verdict::Seen => format!("{who}already handled"),
        Verdict::Rejected(rejection) => format!("{who}rejected: {rejection}"),
        Verdict::Unmanaged => format!("{who}not managed by spa"),
        Verdict::Drift(why) => format!("{who}drift: {why}"),
        Verdict::Ignored(why) => format!("{who}ignored: {why}"),
        Verdict::Dispatched(n) => format!("{n} command(s) sent"),
        Verdict::Notified(what) => format!("{who}notified: {what}"),
        Verdict::Refused(why) => format!("{who}refused: {why}"),
        Verdict::Relayed => {
            let labels: Vec<&str> = outcome.events.iter().map(|l| l.as_str()).collect();
            format!("{who}{} put on the bus", labels.join(", "))
        }
    };
    redact_emails(&text)
}
