//! What each function of spa needs deployed: its trigger and its grants.
//!
//! [`spec`] matches every [`Function`] exhaustively: a new variant does not compile
//! until its trigger and grants are declared here. Functions whose handler is not
//! merged yet wait in [`UPCOMING`], keyed by their name; the lead switches one on by
//! adding its `Function` variant and the arm `Function::X => upcoming_spec("x", settings)`
//! (or synthesizes them now with [`super::SynthOptions::upcoming`]).

use spa_core::events::Label;
pub use spa_core::rules::{Function, QueueSource, Trigger};
use spa_core::settings::Settings;

/// A permission a function needs; each becomes the narrowest statements the settings
/// allow (see `automation::statements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// Assume the management role (Organizations, Cost Explorer; member roles through it).
    ManagementRole,
    /// Assume the organization reader role of the management account: the tree and the
    /// tags, read only; no member role, no tag written, no cost.
    OrganizationReader,
    /// Read and write the tables (claims, activities, deadlines, incidents, sign-ins).
    Store,
    /// Put domain events on the engine's bus.
    PublishEvents,
    /// Send account commands to the command queue.
    SendCommands,
    /// Write reports to the reports bucket.
    WriteReports,
    /// Read reports from the reports bucket (presigned links, per-account reports).
    ReadReports,
    /// Read the chat webhooks (`notifications.slack_webhook`, `teams_webhook`).
    ChatWebhooks,
    /// Read the Slack app's secrets (`notifications.slack_signing_secret`,
    /// `slack_bot_token`).
    SlackApp,
    /// Read the Slack app's bot token alone (`notifications.slack_bot_token`): the
    /// `commands` function writes to Slack users (requests, approvals).
    SlackBot,
    /// Send e-mail from `notifications.email_sender` (SES v2).
    Mail,
    /// Start, update, tag incidents of the response plan; add timeline events.
    Incidents,
    /// Subscribe the central budget alerts queue to the `<env>-BudgetAlerts` topics of
    /// member accounts, and keep those subscriptions' attributes (budgets are ensured
    /// with every preparation and assignment).
    BudgetTopics,
    /// Query the CUR 2.0 table with Athena (`reporting.cost_source: athena`): the
    /// workgroup, the Glue database and table, the export's data (read), the query
    /// results' location (read and write).
    CurQueries,
    /// Archive dead letters to the reports bucket, under `dead-letters/` only.
    ArchiveDeadLetters,
    /// Read the transactions table's stream (the relay's event source mapping) and
    /// send what it gives up on to the relay's dead-letter queue.
    ReadOutbox,
}

/// How one function is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The short name (`account-events`); deployed as `<env>-<name>`.
    pub name: &'static str,
    /// For humans.
    pub description: &'static str,
    /// The function: what invokes it is [`Function::trigger`].
    pub function: Function,
    /// What it may do, besides logging to its log group and reading the settings.
    pub grants: Vec<Grant>,
    /// Memory in MB.
    pub memory_mb: u32,
}

const LIFECYCLE: [Grant; 3] = [Grant::ManagementRole, Grant::Store, Grant::PublishEvents];
/// The lifecycle functions that prepare or assign accounts, so ensure their budgets.
const PREPARING: [Grant; 4] = [
    Grant::ManagementRole,
    Grant::Store,
    Grant::PublishEvents,
    Grant::BudgetTopics,
];

impl FunctionSpec {
    /// What invokes the function.
    pub fn trigger(&self) -> Trigger {
        self.function.trigger()
    }

    /// Lambda's timeout, from the one table ([`Function::timeout`]).
    pub fn timeout_seconds(&self) -> u64 {
        self.function.timeout().as_secs()
    }
}

/// The deployment of `function`: every variant must say what triggers it and what it
/// may do.
pub fn spec(function: Function, settings: &Settings) -> FunctionSpec {
    match function {
        Function::BudgetAlerts => budget_alerts_spec(),
        Function::Exceptions => exceptions_spec(settings),
        Function::AccountEvents => FunctionSpec {
            name: Function::AccountEvents.as_str(),
            description: "Organizations events: accounts created, moved, tagged, closed",
            function: Function::AccountEvents,
            grants: PREPARING.to_vec(),
            memory_mb: 256,
        },
        Function::BuildEvents => FunctionSpec {
            name: Function::BuildEvents.as_str(),
            description: "Ends of preparation and purge builds in member accounts",
            function: Function::BuildEvents,
            grants: PREPARING.to_vec(),
            memory_mb: 256,
        },
        Function::SignIns => FunctionSpec {
            name: Function::SignIns.as_str(),
            description: "Console sign-ins in member accounts",
            function: Function::SignIns,
            grants: LIFECYCLE.to_vec(),
            memory_mb: 256,
        },
        Function::SpendEvents => FunctionSpec {
            name: Function::SpendEvents.as_str(),
            description: "Calls that start or end spending in member accounts: burn, thresholds, freeze",
            function: Function::SpendEvents,
            grants: LIFECYCLE.to_vec(),
            memory_mb: 256,
        },
        Function::Commands => {
            let mut grants = PREPARING.to_vec();
            // the answers of slash commands read the costs
            if settings.features.slack_commands && athena(settings) {
                grants.push(Grant::CurQueries);
            }
            // requests and approvals are told to Slack users in direct messages
            if settings.features.slack_commands && settings.notifications.slack_bot_token.is_some()
            {
                grants.push(Grant::SlackBot);
            }
            FunctionSpec {
                name: Function::Commands.as_str(),
                description: "Account commands of the command queue (maintenance fan-out, operator actions, the spend guard's daily reconciliation, slash command answers)",
                function: Function::Commands,
                grants,
                memory_mb: 256,
            }
        }
        Function::DeadLetters => FunctionSpec {
            name: Function::DeadLetters.as_str(),
            description: "Dead-letter queues: every give-up archived for replay and raised as a DeadLetter exception",
            function: Function::DeadLetters,
            grants: vec![
                Grant::Store,
                Grant::PublishEvents,
                Grant::ArchiveDeadLetters,
            ],
            memory_mb: 256,
        },
        Function::Relay => FunctionSpec {
            name: Function::Relay.as_str(),
            description: "The outbox: the events each turn wrote with its end, put on the bus ten a call",
            function: Function::Relay,
            // it reads the stream and puts events on the bus: no table, no role to assume
            grants: vec![Grant::ReadOutbox, Grant::PublishEvents],
            memory_mb: 128,
        },
        Function::SlackCommands => FunctionSpec {
            name: Function::SlackCommands.as_str(),
            description: "The Slack slash command /spa (function URL; Slack's signature checked first)",
            function: Function::SlackCommands,
            // tags of the account asked about (read only: the function faces the
            // internet), the replay claims, the signing secret and bot token, the queue
            // that answers the longer questions
            grants: vec![
                Grant::OrganizationReader,
                Grant::Store,
                Grant::SendCommands,
                Grant::SlackApp,
            ],
            memory_mb: 256,
        },
        Function::Scheduler => {
            let mut grants = LIFECYCLE.to_vec();
            grants.extend([Grant::SendCommands, Grant::WriteReports]);
            if settings.notifications.email_sender.is_some() {
                grants.push(Grant::Mail);
            }
            if settings.features.daily_digest {
                grants.push(Grant::ChatWebhooks);
            }
            if athena(settings) {
                grants.push(Grant::CurQueries);
            }
            // the sweeper tells whoever asked that their request expired
            if settings.features.slack_commands && settings.notifications.slack_bot_token.is_some()
            {
                grants.push(Grant::SlackBot);
            }
            FunctionSpec {
                name: Function::Scheduler.as_str(),
                description: "Scheduled jobs: maintenance window, sweeper, reports, digest (and the spend guard's reconciliation), access-key scan",
                function: Function::Scheduler,
                grants,
                memory_mb: 1024,
            }
        }
    }
}

fn athena(settings: &Settings) -> bool {
    matches!(
        settings.reporting.cost_source,
        spa_core::settings::CostSourceSettings::Athena(_)
    )
}

/// Functions whose handler is being written, keyed by name: synthesized with
/// [`super::SynthOptions::upcoming`], or once their `Function` variant exists.
/// (None today: `budget-alerts` and `exceptions` are functions now.)
pub const UPCOMING: [&str; 0] = [];

/// The deployment of an upcoming function, by name (`None`: not an upcoming function).
pub fn upcoming_spec(_name: &str, _settings: &Settings) -> Option<FunctionSpec> {
    None
}

fn budget_alerts_spec() -> FunctionSpec {
    FunctionSpec {
        name: "budget-alerts",
        description: "AWS Budgets alerts of member accounts, through SNS and SQS",
        function: Function::BudgetAlerts,
        grants: LIFECYCLE.to_vec(),
        memory_mb: 256,
    }
}

fn exceptions_spec(settings: &Settings) -> FunctionSpec {
    let mut grants = vec![
        Grant::ManagementRole,
        Grant::Store,
        Grant::ReadReports,
        Grant::WriteReports,
        Grant::ChatWebhooks,
    ];
    if settings.features.incident_manager {
        grants.push(Grant::Incidents);
    }
    if settings.notifications.email_sender.is_some() {
        grants.push(Grant::Mail);
    }
    // the pre-purge notice goes to its holder in Slack too (a direct message)
    if settings.features.slack_commands && settings.notifications.slack_bot_token.is_some() {
        grants.push(Grant::SlackBot);
    }
    FunctionSpec {
        name: "exceptions",
        description: "Exceptions: incidents, chat and e-mail notifications",
        function: Function::Exceptions,
        grants,
        memory_mb: 256,
    }
}

/// The detail-types the exceptions function receives: every exception label, and the
/// lifecycle labels that notify (`AccountQuarantined`, `AccountAssigned`).
pub fn exception_detail_types() -> Vec<String> {
    let mut types: Vec<String> = Label::ALL
        .into_iter()
        .filter(|l| l.is_exception())
        .map(|l| l.as_str().to_owned())
        .collect();
    types.extend([
        Label::AccountQuarantined.as_str().to_owned(),
        Label::AccountAssigned.as_str().to_owned(),
    ]);
    types
}

/// Every function deployed: each `Function` (`slack-commands` only with
/// `features.slack_commands`: no public URL otherwise), then the upcoming ones when
/// asked (those that have become a `Function` are not added twice).
pub fn deployed(settings: &Settings, upcoming: bool) -> Vec<FunctionSpec> {
    let mut specs: Vec<FunctionSpec> = Function::ALL
        .into_iter()
        .filter(|f| *f != Function::SlackCommands || settings.features.slack_commands)
        .map(|f| spec(f, settings))
        .collect();
    if upcoming {
        for name in UPCOMING {
            if !specs.iter().any(|s| s.name == name) {
                specs.extend(upcoming_spec(name, settings));
            }
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_spec_is_named_after_its_function() {
        let settings = crate::synth::tests::settings();
        for function in Function::ALL {
            assert_eq!(spec(function, &settings).name, function.as_str());
        }
        assert_eq!(upcoming_spec("slack", &settings), None);
    }

    #[test]
    fn the_slack_command_endpoint_is_deployed_only_when_turned_on() {
        let mut settings = crate::synth::tests::settings();
        settings.features.slack_commands = true;
        let on = deployed(&settings, false);
        let slack = on
            .iter()
            .find(|s| s.name == "slack-commands")
            .expect("deployed");
        assert_eq!(slack.trigger(), Trigger::FunctionUrl);
        assert!(!slack.trigger().is_async());
        assert!(slack.grants.contains(&Grant::SendCommands));
        settings.features.slack_commands = false;
        let off = deployed(&settings, false);
        assert_eq!(off.len(), on.len() - 1);
        assert!(off.iter().all(|s| s.trigger() != Trigger::FunctionUrl));
    }

    #[test]
    fn upcoming_functions_join_once() {
        let settings = crate::synth::tests::settings();
        assert_eq!(deployed(&settings, false).len(), Function::ALL.len());
        let all = deployed(&settings, true);
        assert_eq!(all.len(), Function::ALL.len());
        let types = exception_detail_types();
        assert!(types.contains(&"BudgetAlert".to_owned()));
        assert!(types.contains(&"AccountQuarantined".to_owned()));
        assert!(types.contains(&"AccountAssigned".to_owned()));
        assert!(!types.contains(&"AccountVended".to_owned()));
    }
}
