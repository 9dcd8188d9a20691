//! The member footprint: what spa keeps in each member account so that builds run
//! there and their results come back (pure: names, documents, patterns; the `aws/`
//! adapter ensures it exists).
//!
//! Every name is scoped by the settings' `environment_identifier`, so that two
//! environments of spa never collide in one member account:
//!
//! | resource | name (environment `SpaDemo`) |
//! |---|---|
//! | CodeBuild project, preparation | `SpaDemo-Prepare` |
//! | CodeBuild project, purge | `SpaDemo-Purge` |
//! | IAM role of both projects | `SpaDemo-CodeBuildRole` |
//! | IAM role EventBridge assumes to put events on the engine's bus | `SpaDemo-EventsToEngine` |
//! | EventBridge rule, build results | `SpaDemo-ForwardBuilds` |
//! | EventBridge rule, console sign-ins | `SpaDemo-ForwardSignIns` |
//! | EventBridge rule, calls that start spending (spend guard enabled) | `SpaDemo-ForwardSpending` |
//! | SNS topic of the account's budget alerts (automation region) | `SpaDemo-BudgetAlerts` |
//!
//! # Budget alerts
//!
//! AWS Budgets notifies only an SNS topic of the budget's own account ("cross-account
//! Amazon SNS isn't supported"), so each member account has its own topic
//! ([`member_budget_topic_arn`]), made with the budget (`aws::budgets`), not before a
//! build. Its policy lets AWS Budgets publish for this account only (`aws:SourceAccount`
//! and `aws:SourceArn` `arn:<partition>:budgets::<member>:*`, as AWS documents) and the
//! automation account subscribe the central budget alerts queue to it (`sns:Subscribe`,
//! protocol `sqs`, that queue only). The subscription belongs to the automation account
//! (the queue's owner, so it needs no confirmation) and keeps the SNS envelope (raw
//! delivery off); the central queue accepts messages from the topics of this name in
//! the automation region, of the organization's accounts when spa can read the
//! organization. The purge's aws-nuke configuration ([`nuke`]) does not keep the
//! topic yet: a purge may delete it, and the preparation that follows (which ensures
//! the budget) makes it again.
//!
//! The event patterns of the rules are functions ([`build_state_change_pattern`],
//! [`console_sign_in_pattern`]) so that the CloudFormation templates and the local
//! router read the same source; [`pattern_matches`] applies them to an event the way
//! EventBridge does for the exact-value subset they use.
//!
//! # Variables contract
//!
//! Every build is started with the variables of [`build_variables`] (documented in
//! `deploy/buildspecs/README.md`):
//!
//! | variable | value |
//! |---|---|
//! | `SPA_ENVIRONMENT` | the settings' `environment_identifier` |
//! | `SPA_ACCOUNT_ID` | the member account |
//! | `SPA_BUILD_KIND` | `preparation` or `purge` |
//! | `SPA_ATTEMPT` | attempt of this transition, from 1 |
//! | `SPA_REGION` | the automation region |
//! | `SPA_NUKE_CONFIG` | purge only: the aws-nuke configuration of everything but IAM principals, base64 ([`nuke`]) |
//! | `SPA_NUKE_PRINCIPALS_CONFIG` | purge only: the aws-nuke configuration of IAM principals, base64 ([`nuke`]) |
//! | any other | the resolved `variables` of the build in the settings |
//!
//! Settings may not define `SPA_*` variables. The holder's e-mail address is not
//! passed: builds run before an account has a holder (pool accounts), and what needs
//! the address (the budget and its notifications, messages to the holder) is done by
//! the engine, so no build log or CodeBuild console shows it.

mod buildspecs;
pub mod nuke;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::events::AccountId;
use crate::lifecycle::{BuildKind, BuildStatus};
use crate::settings::{Resolved, Settings};

pub use buildspecs::{Buildspecs, DEFAULT_PREPARE, DEFAULT_PURGE, named_buildspecs};

/// Everything spa ensures in one member account before a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The settings' `environment_identifier`.
    pub environment: String,
    /// The CodeBuild service role (name, in the member account).
    pub service_role: String,
    /// The preparation project.
    pub prepare: Project,
    /// The purge project.
    pub purge: Project,
    /// The rules that forward events of the member account to the engine's bus.
    pub rules: Vec<ForwardingRule>,
}

impl Footprint {
    /// A digest of everything the footprint ensures (SHA-256 of its full description,
    /// base64): equal digests, equal footprints. A transition records it once the
    /// footprint was ensured in full, and skips the member account's reads while the
    /// footprint it would ensure has the same digest. A change of settings, of a
    /// buildspec or of what this version of spa puts in a footprint changes it.
    pub fn digest(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(format!("{self:?}").as_bytes());
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
    }

    /// The project of a build kind.
    pub fn project(&self, kind: BuildKind) -> &Project {
        match kind {
            BuildKind::Preparation => &self.prepare,
            BuildKind::Purge => &self.purge,
        }
    }

    /// The roles EventBridge assumes for the rules (names, once each).
    pub fn events_roles(&self) -> Vec<&str> {
        let mut roles: Vec<&str> = self.rules.iter().map(|r| r.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    /// The footprint of an account: names scoped by the environment, the resolved
    /// builds of the account, rules that forward to `engine_bus_arn`.
    ///
    /// The buildspec a build names is taken from `buildspecs` (loaded with the
    /// settings); a build that names none runs the shipped default.
    pub fn for_account(
        settings: &Settings,
        resolved: &Resolved,
        buildspecs: &Buildspecs,
        engine_bus_arn: &str,
    ) -> Result<Footprint, FootprintError> {
        let names = Names::new(&settings.environment_identifier)?;
        check_bus_arn(engine_bus_arn)?;
        let attempts = resolved.max_attempts.max(1);
        let project = |kind: BuildKind| -> Result<Project, FootprintError> {
            let (name, plan, deadline) = match kind {
                BuildKind::Preparation => (
                    &names.prepare,
                    &resolved.preparation,
                    resolved.onboarding_deadline,
                ),
                BuildKind::Purge => (&names.purge, &resolved.purge, resolved.maintenance_deadline),
            };
            check_variables(kind, &plan.variables)?;
            let mut variables = plan.variables.clone();
            variables.insert(
                ENVIRONMENT.to_owned(),
                settings.environment_identifier.clone(),
            );
            variables.insert(BUILD_KIND.to_owned(), kind.as_str().to_owned());
            Ok(Project {
                name: name.clone(),
                buildspec: buildspecs.text(plan.buildspec.as_deref(), kind)?.to_owned(),
                variables,
                timeout_minutes: timeout_minutes(deadline, attempts),
            })
        };
        let region = settings.automation.region.as_str();
        let mut sign_in_regions = vec![region.to_owned()];
        if region != SIGN_IN_REGION {
            sign_in_regions.push(SIGN_IN_REGION.to_owned());
        }
        let mut rules = vec![
            ForwardingRule {
                name: names.forward_builds.clone(),
                pattern: build_state_change_pattern(&[&names.prepare, &names.purge]),
                target_bus_arn: engine_bus_arn.to_owned(),
                role: names.events_role.clone(),
                regions: vec![region.to_owned()],
            },
            ForwardingRule {
                name: names.forward_sign_ins.clone(),
                pattern: console_sign_in_pattern(),
                target_bus_arn: engine_bus_arn.to_owned(),
                role: names.events_role.clone(),
                regions: sign_in_regions,
            },
        ];
        if resolved.spend_guard.enabled {
            // CloudTrail's calls reach EventBridge in their own region: the rule is in
            // every region holders may act in (the guardrails' allow-list), else in
            // the automation region only
            let mut regions = resolved.guardrails.allowed_regions.clone();
            if regions.is_empty() {
                regions.push(region.to_owned());
            }
            rules.push(ForwardingRule {
                name: names.forward_spending.clone(),
                pattern: crate::rules::spending_pattern().to_string(),
                target_bus_arn: engine_bus_arn.to_owned(),
                role: names.events_role.clone(),
                regions,
            });
        }
        Ok(Footprint {
            environment: settings.environment_identifier.clone(),
            service_role: names.service_role.clone(),
            rules,
            prepare: project(BuildKind::Preparation)?,
            purge: project(BuildKind::Purge)?,
        })
    }
}

/// A CodeBuild project in the member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Its name.
    pub name: String,
    /// The buildspec, inline (YAML text).
    pub buildspec: String,
    /// Environment variables set on the project (overridden per build by the request).
    pub variables: BTreeMap<String, String>,
    /// Build timeout in minutes.
    pub timeout_minutes: u32,
}

/// An EventBridge rule in the member account, whose target is the engine's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingRule {
    /// Its name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: String,
    /// The ARN of the engine's bus in the automation account.
    pub target_bus_arn: String,
    /// The role EventBridge assumes to put events on another account's bus (name).
    pub role: String,
    /// The regions of the member account where the rule exists: the automation region
    /// (where builds run) and, for console sign-ins, also `us-east-1`, where AWS records
    /// most of them.
    pub regions: Vec<String>,
}

/// Why the footprint of an account cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FootprintError {
    /// A name scoped by the environment is too long or has characters AWS refuses.
    #[error(
        "the {what} name `{name}` is not accepted by AWS: {expected}; choose a shorter `environment_identifier`"
    )]
    Name {
        /// What is named (`CodeBuild project`, `IAM role`, `EventBridge rule`).
        what: &'static str,
        /// The name.
        name: String,
        /// What AWS accepts.
        expected: &'static str,
    },
    /// The engine's bus is not an EventBridge bus ARN.
    #[error(
        "`{0}` is not the ARN of an EventBridge event bus (arn:aws:events:<region>:<account>:event-bus/<name>)"
    )]
    BusArn(String),
    /// A build names a buildspec that was not loaded with the settings.
    #[error("the {kind} buildspec `{path}` was not loaded with the settings")]
    MissingBuildspec {
        /// Preparation or purge.
        kind: BuildKind,
        /// The path, as the settings name it.
        path: String,
    },
    /// Settings define a variable that spa sets itself.
    #[error(
        "the {kind} variable `{name}` is reserved: spa sets the `SPA_*` variables of every build"
    )]
    ReservedVariable {
        /// Preparation or purge.
        kind: BuildKind,
        /// The variable.
        name: String,
    },
    /// The aws-nuke configuration cannot be made.
    #[error(transparent)]
    Nuke(#[from] nuke::NukeError),
}

/// Region where AWS records console sign-ins of the global endpoint (and of root).
pub const SIGN_IN_REGION: &str = "us-east-1";

/// `SPA_ENVIRONMENT`: the settings' `environment_identifier`.
pub const ENVIRONMENT: &str = "SPA_ENVIRONMENT";
/// `SPA_ACCOUNT_ID`: the member account.
pub const ACCOUNT_ID: &str = "SPA_ACCOUNT_ID";
/// `SPA_BUILD_KIND`: `preparation` or `purge`.
pub const BUILD_KIND: &str = "SPA_BUILD_KIND";
/// `SPA_ATTEMPT`: attempt of this transition, from 1.
pub const ATTEMPT: &str = "SPA_ATTEMPT";
/// `SPA_REGION`: the automation region.
pub const REGION: &str = "SPA_REGION";
/// `SPA_NUKE_CONFIG`: purge only, the aws-nuke configuration of everything but IAM
/// principals (YAML, base64).
pub const NUKE_CONFIG: &str = "SPA_NUKE_CONFIG";
/// `SPA_NUKE_PRINCIPALS_CONFIG`: purge only, the aws-nuke configuration of IAM
/// principals (YAML, base64): no keep tag, no age keeps them.
pub const NUKE_PRINCIPALS_CONFIG: &str = "SPA_NUKE_PRINCIPALS_CONFIG";
/// The prefix of the variables spa sets; settings may not use it.
pub const RESERVED_PREFIX: &str = "SPA_";
/// The dry run of a pre-purge notice: the key its list is written to in the reports
/// bucket (set on that build only; the buildspec then runs aws-nuke without
/// `--no-dry-run`, whatever `PURGE_MODE` says).
pub const PREVIEW_KEY: &str = "SPA_PREVIEW_KEY";
/// The reports bucket (with [`PREVIEW_KEY`]).
pub const REPORTS_BUCKET: &str = "SPA_REPORTS_BUCKET";

/// The names of the footprint of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The preparation project.
    pub prepare: String,
    /// The purge project.
    pub purge: String,
    /// The CodeBuild service role.
    pub service_role: String,
    /// The role EventBridge assumes to put events on the engine's bus.
    pub events_role: String,
    /// The rule that forwards build results.
    pub forward_builds: String,
    /// The rule that forwards console sign-ins.
    pub forward_sign_ins: String,
    /// The rule that forwards the calls the spend guard watches.
    pub forward_spending: String,
    /// The SNS topic the account's budget notifies ([`budget_alerts_topic_name`]).
    pub budget_alerts_topic: String,
    /// The account's budget ([`budget_name`]).
    pub budget: String,
}

/// The name of the budget spa keeps in every managed account, `<environment>-Budget`.
pub fn budget_name(environment: &str) -> String {
    format!("{environment}-Budget")
}

/// The name of a member account's budget alerts topic, `<environment>-BudgetAlerts`;
/// also the name of the central queue those topics feed.
pub fn budget_alerts_topic_name(environment: &str) -> String {
    format!("{environment}-BudgetAlerts")
}

/// The ARN of the budget alerts topic of member `account`
/// (`arn:<partition>:sns:<region>:<account>:<environment>-BudgetAlerts`): the topic its
/// budget notifies, in the automation region.
pub fn member_budget_topic_arn(
    partition: &str,
    region: &str,
    account: &AccountId,
    environment: &str,
) -> String {
    format!(
        "arn:{partition}:sns:{region}:{account}:{}",
        budget_alerts_topic_name(environment)
    )
}

impl Names {
    /// The names of `environment`, each checked against the limits of AWS.
    pub fn new(environment: &str) -> Result<Self, FootprintError> {
        let names = Self {
            prepare: format!("{environment}-Prepare"),
            purge: format!("{environment}-Purge"),
            service_role: format!("{environment}-CodeBuildRole"),
            events_role: format!("{environment}-EventsToEngine"),
            forward_builds: format!("{environment}-ForwardBuilds"),
            forward_sign_ins: format!("{environment}-ForwardSignIns"),
            forward_spending: format!("{environment}-ForwardSpending"),
            budget_alerts_topic: budget_alerts_topic_name(environment),
            budget: budget_name(environment),
        };
        for project in [&names.prepare, &names.purge] {
            check_name(
                "CodeBuild project",
                project,
                2..=150,
                |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
                "2 to 150 letters, digits, `-` or `_`, starting with a letter or digit",
            )?;
        }
        for role in [&names.service_role, &names.events_role] {
            check_name(
                "IAM role",
                role,
                1..=64,
                |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c),
                "1 to 64 letters, digits or `+ = , . @ _ -`",
            )?;
        }
        for rule in [
            &names.forward_builds,
            &names.forward_sign_ins,
            &names.forward_spending,
        ] {
            check_name(
                "EventBridge rule",
                rule,
                1..=64,
                |c| c.is_ascii_alphanumeric() || ".-_".contains(c),
                "1 to 64 letters, digits or `. - _`",
            )?;
        }
        check_name(
            "SNS topic",
            &names.budget_alerts_topic,
            1..=256,
            |c| c.is_ascii_alphanumeric() || "-_".contains(c),
            "1 to 256 letters, digits, `-` or `_`",
        )?;
        Ok(names)
    }
}

fn check_name(
    what: &'static str,
    name: &str,
    length: std::ops::RangeInclusive<usize>,
    allowed: impl Fn(char) -> bool,
    expected: &'static str,
) -> Result<(), FootprintError> {
    let ok = length.contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(allowed);
    if ok {
        Ok(())
    } else {
        Err(FootprintError::Name {
            what,
            name: name.to_owned(),
            expected,
        })
    }
}

fn check_bus_arn(arn: &str) -> Result<(), FootprintError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = matches!(
        parts.as_slice(),
        [arn_, partition, "events", region, account, resource]
            if *arn_ == "arn"
                && partition.starts_with("aws")
                && !region.is_empty()
                && AccountId::parse(account).is_some()
                && resource.strip_prefix("event-bus/").is_some_and(|n| !n.is_empty())
    );
    if ok {
        Ok(())
    } else {
        Err(FootprintError::BusArn(arn.to_owned()))
    }
}

fn check_variables(
    kind: BuildKind,
    variables: &BTreeMap<String, String>,
) -> Result<(), FootprintError> {
    match variables.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(name) => Err(FootprintError::ReservedVariable {
            kind,
            name: name.clone(),
        }),
        None => Ok(()),
    }
}

/// The timeout of one build: all attempts of a transition fit in its deadline
/// (on-boarding for the preparation, maintenance for the purge), between 5 minutes and
/// 8 hours (CodeBuild accepts 5 to 2160).
pub fn timeout_minutes(deadline: Duration, attempts: u32) -> u32 {
    let minutes = deadline.as_secs() / 60 / u64::from(attempts.max(1));
    u32::try_from(minutes.clamp(5, 480)).unwrap_or(480)
}

/// The event pattern of the results of `projects` (CodeBuild "Build State Change",
/// final statuses only: the engine starts builds and does not need `IN_PROGRESS`).
pub fn build_state_change_pattern(projects: &[&str]) -> String {
    let statuses: Vec<&str> = BuildStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    json!({
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {
            "project-name": projects,
            "build-status": statuses,
        },
    })
    .to_string()
}

/// The event pattern of console sign-ins (root, IAM users, assumed roles).
pub fn console_sign_in_pattern() -> String {
    json!({
        "source": ["aws.signin"],
        "detail-type": ["AWS Console Sign In via CloudTrail"],
        "detail": { "eventName": ["ConsoleLogin"] },
    })
    .to_string()
}

/// Whether `event` matches `pattern`, for patterns made of exact values: every key of
/// the pattern is in the event, arrays list the accepted values (an array in the event
/// matches when one of its values is accepted), objects nest. A pattern that is not
/// JSON, or that uses EventBridge operators (`prefix`, `anything-but`, ...), matches
/// nothing.
pub fn pattern_matches(pattern: &str, event: &Json) -> bool {
    match serde_json::from_str::<Json>(pattern) {
        Ok(pattern) => matches_value(&pattern, event),
        Err(_) => false,
    }
}

fn matches_value(pattern: &Json, event: &Json) -> bool {
    match pattern {
        Json::Object(fields) => fields.iter().all(|(key, inner)| {
            event
                .get(key)
                .is_some_and(|value| matches_value(inner, value))
        }),
        Json::Array(accepted) => {
            let accepts = |value: &Json| {
                !value.is_object() && accepted.iter().any(|a| !a.is_object() && a == value)
            };
            match event {
                Json::Array(values) => values.iter().any(accepts),
                value => accepts(value),
            }
        }
        _ => false,
    }
}

/// What a build is about, besides the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInput<'a> {
    /// The member account.
    pub account: &'a AccountId,
    /// Preparation or purge.
    pub kind: BuildKind,
    /// Attempt of this transition, from 1.
    pub attempt: u32,
}

/// The environment variables of a build: the resolved `variables` of the build in the
/// settings, then spa's `SPA_*` contract (see the module documentation), with the
/// aws-nuke configuration for a purge.
pub fn build_variables(
    settings: &Settings,
    resolved: &Resolved,
    footprint: &Footprint,
    input: &BuildInput<'_>,
) -> Result<BTreeMap<String, String>, FootprintError> {
    let plan = match input.kind {
        BuildKind::Preparation => &resolved.preparation,
        BuildKind::Purge => &resolved.purge,
    };
    check_variables(input.kind, &plan.variables)?;
    let mut variables = plan.variables.clone();
    let mut set = |key: &str, value: String| {
        variables.insert(key.to_owned(), value);
    };
    set(ENVIRONMENT, settings.environment_identifier.clone());
    set(ACCOUNT_ID, input.account.as_str().to_owned());
    set(BUILD_KIND, input.kind.as_str().to_owned());
    set(ATTEMPT, input.attempt.max(1).to_string());
    set(REGION, settings.automation.region.as_str().to_owned());
    if input.kind == BuildKind::Purge {
        let config = nuke::config(settings, resolved, footprint, input.account)?;
        set(NUKE_CONFIG, config.base64());
        set(NUKE_PRINCIPALS_CONFIG, config.principals_base64());
    }
    Ok(variables)
}

#[cfg(test)]
mod tests;
