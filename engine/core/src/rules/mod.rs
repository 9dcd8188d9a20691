//! The EventBridge rules of the engine's bus, and an event-pattern matcher.
//!
//! One source for the patterns: the deployed rules (CloudFormation, issue 6) and the
//! local runtime of `spa demo` / `spa handle --follow` both take them from
//! [`automation_rules`], so what routes an event locally is what routes it on AWS.
//! Pure: no SDK type, no I/O, no clock.

mod pattern;
pub mod timeouts;

use std::fmt;

use serde_json::{Value, json};

use crate::events::Label;

pub use pattern::{PatternError, check, matches};

/// The functions of spa (one `bootstrap` binary serves them all, routing by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// Organizations events through CloudTrail: account created, moved, tagged, closed.
    AccountEvents,
    /// CodeBuild state changes forwarded from member accounts.
    BuildEvents,
    /// Console sign-ins forwarded from member accounts.
    SignIns,
    /// Calls that start or end spending, forwarded from member accounts: the spend
    /// guard ([`crate::spend`]).
    SpendEvents,
    /// The command queue (SQS): one account command a message.
    Commands,
    /// EventBridge Scheduler runs (maintenance window, sweeper, ...).
    Scheduler,
    /// AWS Budgets alerts, from each member account's `<env>-BudgetAlerts` topic through
    /// the one central SQS queue.
    BudgetAlerts,
    /// spa's own exception events (and assignments): incidents and notifications.
    Exceptions,
    /// The Slack slash command `/spa` (a public function URL; Slack's signature is
    /// checked before anything else).
    SlackCommands,
    /// The dead-letter queues: every give-up archived and raised as `DeadLetter`.
    DeadLetters,
    /// The transactions table's stream: the events each turn wrote in its outbox,
    /// put on the bus ten a call ([`crate::events::OUTBOX_PREFIX`]).
    Relay,
}

/// The region where Organizations emits its events (and where the management
/// account's forwarding rule and its dead-letter queue live).
pub const ORGANIZATIONS_REGION: &str = "us-east-1";

/// The dead-letter queue of the management account's forwarding rule: the
/// Organizations events EventBridge could not deliver to the engine's bus, in
/// [`ORGANIZATIONS_REGION`]. The sweeper drains it (`spa_usecases::fanout`).
pub fn forward_dead_letter_queue(environment: &str) -> String {
    format!(
        "{environment}-organizations-forward{}",
        crate::events::DEAD_LETTER_QUEUE_SUFFIX
    )
}

/// The name of the engine's bus: the environment identifier.
pub fn bus_name(settings: &crate::settings::Settings) -> String {
    settings.environment_identifier.clone()
}

/// The ARN of the role in the management account that may only read the
/// organization's tree and tags (`<environment>-OrgReader`, beside
/// `automation.management_role_arn`): what the internet-facing `slack-commands`
/// function assumes instead of the management role, which tags accounts and reaches
/// every member role.
pub fn organization_reader_role_arn(settings: &crate::settings::Settings) -> String {
    let management = &settings.automation.management_role_arn;
    let account = management
        .account()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    format!(
        "arn:{}:iam::{account}:role/{}",
        management.partition(),
        organization_reader_role_name(settings)
    )
}

/// The name of the organization reader role ([`organization_reader_role_arn`]).
pub fn organization_reader_role_name(settings: &crate::settings::Settings) -> String {
    format!("{}-OrgReader", settings.environment_identifier)
}

/// The name of the command queue.
pub fn queue_name(settings: &crate::settings::Settings) -> String {
    format!("{}-commands", settings.environment_identifier)
}

/// What invokes a function. Declared once, by [`Function::trigger`]: the templates
/// deploy it and the handler answers in the shape it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The rules of [`automation_rules`] whose target is the function.
    BusRules,
    /// An SQS queue (event source mapping, partial batch responses).
    Queue(QueueSource),
    /// EventBridge Scheduler schedules.
    Schedules,
    /// A public function URL (`AuthType: NONE`) that Slack calls: the handler checks
    /// Slack's signature first.
    FunctionUrl,
    /// Every dead-letter queue of the stack, one event source mapping each, partial
    /// batch responses.
    DeadLetterQueues,
    /// The stream of the transactions table: one event source mapping that lets the
    /// outbox's new items through only ([`crate::events::stream_filter`]), in batches
    /// gathered over [`RELAY_WINDOW_SECONDS`], partial batch responses (the sequence
    /// number to read again from).
    TableStream,
}

/// How long the relay's event source mapping gathers records before it invokes the
/// relay: a few seconds of delay on each event buy ten events a `PutEvents`.
pub const RELAY_WINDOW_SECONDS: u32 = 5;
/// Records of the stream in one invocation of the relay, at most.
pub const RELAY_BATCH: u32 = 100;

impl Trigger {
    /// Whether the function is invoked asynchronously (EventBridge, Scheduler), so that
    /// it needs a dead-letter queue of its own for invocations that keep failing.
    pub const fn is_async(self) -> bool {
        matches!(self, Trigger::BusRules | Trigger::Schedules)
    }

    /// Whether Lambda reads the function's answer as a partial batch response
    /// (`batchItemFailures`): the records listed come back, the others are deleted.
    pub const fn answers_batch_item_failures(self) -> bool {
        matches!(
            self,
            Trigger::Queue(_) | Trigger::DeadLetterQueues | Trigger::TableStream
        )
    }
}

/// The queues spa consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSource {
    /// The command queue (`<env>-commands`): one account command a message.
    Commands,
    /// Budget alerts (`<env>-BudgetAlerts`), subscribed to the SNS topic of the same
    /// name that AWS Budgets in member accounts publish to.
    BudgetAlerts,
}

impl Function {
    /// What invokes the function: the one declaration that synth, routing and the
    /// shape of the Lambda response derive from.
    pub const fn trigger(self) -> Trigger {
        match self {
            Function::AccountEvents
            | Function::BuildEvents
            | Function::SignIns
            | Function::SpendEvents
            | Function::Exceptions => Trigger::BusRules,
            Function::Commands => Trigger::Queue(QueueSource::Commands),
            Function::BudgetAlerts => Trigger::Queue(QueueSource::BudgetAlerts),
            Function::Scheduler => Trigger::Schedules,
            Function::SlackCommands => Trigger::FunctionUrl,
            Function::DeadLetters => Trigger::DeadLetterQueues,
            Function::Relay => Trigger::TableStream,
        }
    }

    /// Every function.
    pub const ALL: [Function; 11] = [
        Function::AccountEvents,
        Function::BuildEvents,
        Function::SignIns,
        Function::SpendEvents,
        Function::Commands,
        Function::Scheduler,
        Function::BudgetAlerts,
        Function::Exceptions,
        Function::SlackCommands,
        Function::DeadLetters,
        Function::Relay,
    ];

    /// The short name: the deployed function is `<environment>-<name>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Function::AccountEvents => "account-events",
            Function::BuildEvents => "build-events",
            Function::SignIns => "sign-ins",
            Function::SpendEvents => "spend-events",
            Function::Commands => "commands",
            Function::Scheduler => "scheduler",
            Function::BudgetAlerts => "budget-alerts",
            Function::Exceptions => "exceptions",
            Function::SlackCommands => "slack-commands",
            Function::DeadLetters => "dead-letters",
            Function::Relay => "relay",
        }
    }

    /// The function a deployed Lambda function name stands for (`SpaDemo-commands`
    /// or `commands`), whatever its environment prefix; the longest name that fits
    /// wins (`SpaDemo-slack-commands` is not `commands`).
    pub fn from_function_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .filter(|f| name == f.as_str() || name.ends_with(&format!("-{}", f.as_str())))
            .max_by_key(|f| f.as_str().len())
    }

    /// The deployed name of the function in an environment.
    pub fn deployed_name(self, environment: &str) -> String {
        format!("{environment}-{}", self.as_str())
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule of the engine's bus: events matching `pattern` go to `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `<environment>-<what>`, at most 64 characters.
    pub name: String,
    /// For humans.
    pub description: &'static str,
    /// The EventBridge event pattern.
    pub pattern: Value,
    /// The function that receives the matching events.
    pub target: Function,
}

/// The Organizations calls spa reacts to.
pub const ORGANIZATIONS_EVENTS: [&str; 6] = [
    "CreateAccountResult",
    "MoveAccount",
    "TagResource",
    "UntagResource",
    "CloseAccount",
    "RemoveAccountFromOrganization",
];

/// The build statuses that end a build (the rules let no `IN_PROGRESS` through).
pub const BUILD_END_STATUSES: [&str; 5] = ["SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"];

/// The prefix of the names of every resource spa owns in an environment (projects,
/// roles, rules, functions): `<environment>-`.
pub fn resource_prefix(environment: &str) -> String {
    format!("{environment}-")
}

/// The rules of the engine's bus in an environment whose automation account is
/// `automation_account`: spa's own events are taken from that account only (member
/// accounts may put events on the bus too, to forward their sign-ins and builds).
pub fn automation_rules(environment: &str, automation_account: &str) -> Vec<Rule> {
    vec![
        Rule {
            name: format!("{environment}-AccountEvents"),
            description: "Organizations events through CloudTrail: account created, moved, tagged, closed, removed",
            pattern: json!({
                "source": ["aws.organizations"],
                "detail-type": ["AWS API Call via CloudTrail", "AWS Service Event via CloudTrail"],
                "detail": {
                    "eventSource": ["organizations.amazonaws.com"],
                    "eventName": ORGANIZATIONS_EVENTS,
                }
            }),
            target: Function::AccountEvents,
        },
        Rule {
            name: format!("{environment}-BuildEvents"),
            description: "Ends of spa's builds in member accounts",
            pattern: json!({
                "source": ["aws.codebuild"],
                "detail-type": ["CodeBuild Build State Change"],
                "detail": {
                    "build-status": BUILD_END_STATUSES,
                    "project-name": [{ "prefix": resource_prefix(environment) }],
                }
            }),
            target: Function::BuildEvents,
        },
        Rule {
            name: format!("{environment}-SignIns"),
            description: "Console sign-ins in member accounts",
            pattern: json!({
                "source": ["aws.signin"],
                "detail-type": ["AWS Console Sign In via CloudTrail"],
                "detail": { "eventName": ["ConsoleLogin"] }
            }),
            target: Function::SignIns,
        },
        Rule {
            name: format!("{environment}-SpendEvents"),
            description: "Calls that start or end spending in member accounts: the spend guard",
            pattern: spending_pattern(),
            target: Function::SpendEvents,
        },
        Rule {
            name: format!("{environment}-Exceptions"),
            description: "spa's exceptions, quarantines and assignments of this environment: incidents and notifications",
            pattern: json!({
                "source": [crate::events::SOURCE],
                "account": [automation_account],
                "detail-type": noticed_labels(),
                "detail": { "environment": [environment] }
            }),
            target: Function::Exceptions,
        },
    ]
}

/// The pattern of the calls the spend guard watches ([`crate::events::WATCHED`]): the
/// engine's rule and each member account's forwarding rule match the same calls.
pub fn spending_pattern() -> Value {
    let sources: Vec<&str> = crate::events::WATCHED.iter().map(|(s, _)| *s).collect();
    let mut names: Vec<&str> = crate::events::WATCHED
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    json!({
        "source": sources,
        "detail-type": [crate::events::API_CALL],
        "detail": { "eventName": names }
    })
}

/// The sources other accounts send to the bus (the management account its
/// Organizations events, member accounts their builds and sign-ins): every source the
/// rules match but spa's own. The bus policy lets the organization put these only.
pub fn forwarded_sources(rules: &[Rule]) -> Vec<String> {
    let mut sources: Vec<String> = rules
        .iter()
        .flat_map(|rule| {
            rule.pattern["source"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|source| source.as_str().map(str::to_owned))
        .filter(|source| source != crate::events::SOURCE)
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// The labels of spa's own events that the `exceptions` function receives: every
/// exception, a quarantine (it needs a person), and an assignment (the holder is told).
pub fn noticed_labels() -> Vec<&'static str> {
    Label::ALL
        .into_iter()
        .filter(|label| label.is_noticed())
        .map(Label::as_str)
        .collect()
}

/// The functions an event on the bus goes to.
pub fn route(rules: &[Rule], event: &Value) -> Vec<Function> {
    rules
        .iter()
        .filter(|rule| matches(&rule.pattern, event))
        .map(|rule| rule.target)
        .collect()
}

#[cfg(test)]
mod tests;
