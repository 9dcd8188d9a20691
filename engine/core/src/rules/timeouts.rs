//! The timeouts of each function, from one table, nested so that nothing outlives
//! what holds it:
//!
//! SDK operation (retries included) < invocation budget (= the lease of a claim) <
//! function timeout < the visibility timeout of the queue that feeds it.
//!
//! - A call is only started while a whole operation still fits in the budget (the
//!   engine's retry runner checks it), so no write lands after the claim's lease ran
//!   out and another delivery took it over.
//! - The budget ends before Lambda kills the invocation: the lease a dead invocation
//!   held runs out before the event is delivered again.
//! - A queue hides a record longer than its consumer can hold it: a record is never
//!   handled twice at once. AWS recommends six times the function's timeout.
//!
//! Synth deploys [`Function::timeout`] and the visibility timeouts from here and
//! refuses a table that does not nest ([`check`]); the AWS adapters set the SDK's
//! operation timeout from [`Timeouts::sdk_operation`].

use std::time::Duration;

use super::{Function, Trigger};

/// The longest an SDK operation (every attempt included) may take.
pub const SDK_OPERATION_CAP: Duration = Duration::from_secs(60);
/// The longest one attempt of an SDK operation may take.
pub const SDK_ATTEMPT_CAP: Duration = Duration::from_secs(20);
/// How much longer than its consumer's timeout a queue hides a record (AWS's advice).
pub const VISIBILITY_FACTOR: u32 = 6;

/// The nested timeouts of one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One SDK operation, retries included.
    pub sdk_operation: Duration,
    /// One attempt of an SDK operation.
    pub sdk_attempt: Duration,
    /// What one invocation may spend; also the lease of the claims it takes.
    pub budget: Duration,
    /// Lambda's timeout of the function.
    pub function: Duration,
    /// The visibility timeout of the queue that feeds the function, if one does.
    pub visibility: Option<Duration>,
}

impl Function {
    /// Lambda's timeout of the function: the one table everything else derives from.
    pub const fn timeout(self) -> Duration {
        Duration::from_secs(match self {
            Function::AccountEvents
            | Function::BuildEvents
            | Function::SignIns
            | Function::SpendEvents
            | Function::Commands
            | Function::BudgetAlerts => 60,
            Function::Exceptions => 120,
            Function::DeadLetters => 30,
            // a batch of 100 events is ten PutEvents calls
            Function::Relay => 60,
            // Slack waits 3 seconds for the answer; the longer ones are queued
            Function::SlackCommands => 10,
            // Lambda's longest: a month of 10,000 accounts, an Athena query and the
            // e-mail fit in it
            Function::Scheduler => 900,
        })
    }

    /// The nested timeouts of the function.
    pub fn timeouts(self) -> Timeouts {
        let function = self.timeout();
        // a tenth for the runtime to answer, at least 2 seconds
        let margin = (function / 10).max(Duration::from_secs(2));
        let budget = function.saturating_sub(margin);
        let sdk_operation = (budget / 2).min(SDK_OPERATION_CAP);
        let visibility = match self.trigger() {
            Trigger::Queue(_) | Trigger::DeadLetterQueues => Some(function * VISIBILITY_FACTOR),
            Trigger::BusRules
            | Trigger::Schedules
            | Trigger::FunctionUrl
            | Trigger::TableStream => None,
        };
        Timeouts {
            sdk_operation,
            sdk_attempt: sdk_operation.min(SDK_ATTEMPT_CAP),
            budget,
            function,
            visibility,
        }
    }
}

/// The timeouts a run outside Lambda uses (`spa` commands, the local runtime): the
/// SDK caps, and no budget of its own.
pub fn operator() -> Timeouts {
    Timeouts {
        sdk_operation: SDK_OPERATION_CAP,
        sdk_attempt: SDK_ATTEMPT_CAP,
        budget: Duration::from_secs(3600),
        function: Duration::from_secs(3600),
        visibility: None,
    }
}

/// The longest a request waits for its slot of spa's Organizations rate: a quarter
/// of the invocation's budget, at most 10 s. Past it the request is refused as
/// throttled, so that a backlog of invocations never waits past its budgets, and at
/// most `rate × wait` slots are promised ahead.
pub fn pace_wait(timeouts: &Timeouts) -> Duration {
    (timeouts.budget / 4).min(Duration::from_secs(10))
}

/// The visibility timeout of a queue several functions could read: the longest their
/// nesting asks for.
pub fn visibility_for(consumers: &[Function]) -> Option<Duration> {
    consumers
        .iter()
        .filter_map(|f| f.timeouts().visibility)
        .max()
}

/// Whether the timeouts of `function` nest; the error says which pair does not.
pub fn check(function: Function) -> Result<Timeouts, String> {
    let t = function.timeouts();
    // (inner, its length, outer, its length, whether they may be equal)
    let pairs = [
        (
            "one SDK attempt",
            t.sdk_attempt,
            "one SDK operation",
            t.sdk_operation,
            true,
        ),
        (
            "one SDK operation",
            t.sdk_operation,
            "the invocation budget",
            t.budget,
            false,
        ),
        (
            "the invocation budget",
            t.budget,
            "the function's timeout",
            t.function,
            false,
        ),
    ];
    for (inner, a, outer, b, may_equal) in pairs {
        if a > b || (a == b && !may_equal) {
            return Err(format!(
                "`{function}`: {inner} ({}s) must end before {outer} ({}s)",
                a.as_secs_f64(),
                b.as_secs_f64()
            ));
        }
    }
    if let Some(visibility) = t.visibility
        && visibility <= t.function
    {
        return Err(format!(
            "`{function}`: its queue's visibility timeout ({}s) must be longer than the function's timeout ({}s)",
            visibility.as_secs(),
            t.function.as_secs()
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_nests() {
        for function in Function::ALL {
            let t = check(function).unwrap_or_else(|e| panic!("{e}"));
            assert!(t.sdk_operation < t.budget, "{function}");
            assert!(t.budget < t.function, "{function}");
            if let Some(visibility) = t.visibility {
                assert!(visibility > t.function, "{function}");
            }
        }
    }

    #[test]
    fn the_slash_command_calls_within_its_ten_seconds() {
        let t = Function::SlackCommands.timeouts();
        assert_eq!(t.function, Duration::from_secs(10));
        assert_eq!(t.budget, Duration::from_secs(8));
        assert_eq!(t.sdk_operation, Duration::from_secs(4));
        assert_eq!(t.visibility, None);
    }

    #[test]
    fn queues_hide_a_record_six_times_their_consumers_timeout() {
        assert_eq!(
            Function::Commands.timeouts().visibility,
            Some(Duration::from_secs(360))
        );
        assert_eq!(
            visibility_for(&[Function::DeadLetters]),
            Some(Duration::from_secs(180))
        );
        let scheduler = Function::Scheduler.timeouts();
        assert_eq!(scheduler.sdk_operation, SDK_OPERATION_CAP);
        assert_eq!(scheduler.budget, Duration::from_secs(810));
    }
}
