//! `spa synth`: the CloudFormation templates of a deployment, generated from the
//! settings and from the engine's own definitions (rules, tables, functions), so that
//! what is deployed is what the local runtime runs.
//!
//! Three stacks:
//!
//! | stack | account, region | what |
//! |---|---|---|
//! | `<env>-artifacts` | automation, `automation.region` | the private bucket of the `bootstrap` zips |
//! | `<env>-automation` | automation, `automation.region` | bus, rules, schedules, queues, functions, tables, reports bucket, topics, incidents, dashboard, alarms |
//! | `<env>-management` | management, `us-east-1` | the role spa assumes, the rule forwarding Organizations events to the engine's bus |
//!
//! The member footprint is not a stack: the engine ensures it at run time
//! (`deploy/templates/README.md`). [`checks`] holds the rules every template must
//! keep (no wildcard grants, a dead-letter queue behind every asynchronous target, no
//! unauthenticated endpoint); [`emulator`] cuts a template down to what moto's
//! CloudFormation can create.

pub mod automation;
pub mod checks;
pub mod emulator;
pub mod functions;
pub mod iam;
pub mod management;
pub mod template;

use spa_core::settings::Settings;

pub use template::{Template, TemplateError};

/// What to synthesize besides the functions that exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthOptions {
    /// Also the functions being written ([`functions::UPCOMING`]).
    pub upcoming: bool,
}

/// Region where Organizations events are emitted (CloudTrail of the management account).
pub use spa_core::rules::ORGANIZATIONS_REGION;

/// Retention of the functions' logs, in days.
pub const LOG_RETENTION_DAYS: u32 = 90;

/// The names of one deployment, derived from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `environment_identifier`.
    pub environment: String,
    /// Stack of the artifacts bucket.
    pub artifacts_stack: String,
    /// The automation stack.
    pub automation_stack: String,
    /// The management-account stack.
    pub management_stack: String,
    /// The SSM parameter that holds the resolved settings (`/<env>/settings`).
    pub settings_parameter: String,
    /// The engine's bus.
    pub bus: String,
    /// The command queue.
    pub command_queue: String,
    /// The reports bucket: `reporting.bucket`, else `<env>-reports-<account>-<region>`.
    pub reports_bucket: String,
    /// The bucket of the function code: `<env>-artifacts-<account>-<region>`.
    pub artifacts_bucket: String,
    /// The response plan's name: the last part of `features.response_plan_arn`, else `<env>-spa`.
    pub response_plan: String,
    /// The role spa assumes in the management account (from `automation.management_role_arn`).
    pub management_role: String,
}

impl Names {
    /// The names of the deployment `settings` describe.
    pub fn new(settings: &Settings) -> Self {
        let env = settings.environment_identifier.clone();
        let reports_bucket = settings
            .reporting
            .bucket
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_else(|| bucket_name(settings, "reports"));
        let response_plan = settings
            .features
            .response_plan_arn
            .as_deref()
            .and_then(|arn| arn.rsplit('/').next())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}-spa", env.to_ascii_lowercase()));
        let management_role = settings
            .automation
            .management_role_arn
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            artifacts_stack: format!("{env}-artifacts"),
            automation_stack: format!("{env}-automation"),
            management_stack: format!("{env}-management"),
            settings_parameter: format!("/{env}/settings"),
            bus: spa_core::rules::bus_name(settings),
            command_queue: spa_core::rules::queue_name(settings),
            reports_bucket,
            artifacts_bucket: bucket_name(settings, "artifacts"),
            response_plan,
            management_role,
            environment: env,
        }
    }
}

/// `<env>-<what>-<account>-<region>`, lowercase, cut to S3's 63 characters.
fn bucket_name(settings: &Settings, what: &str) -> String {
    let suffix = format!(
        "-{what}-{}-{}",
        settings.automation.account_id.as_str(),
        settings.automation.region.as_str()
    );
    let room = 63usize.saturating_sub(suffix.len());
    let env: String = settings
        .environment_identifier
        .to_ascii_lowercase()
        .chars()
        .take(room)
        .collect();
    format!("{}{suffix}", env.trim_end_matches('-'))
}

/// The templates of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Stacks {
    /// The names they use.
    pub names: Names,
    /// The artifacts bucket.
    pub artifacts: Template,
    /// The automation stack.
    pub automation: Template,
    /// The management-account stack.
    pub management: Template,
}

impl Stacks {
    /// `(file name, template)` of each stack, as `spa synth` writes them.
    pub fn files(&self) -> [(&'static str, &Template); 3] {
        [
            ("artifacts.json", &self.artifacts),
            ("automation.json", &self.automation),
            ("management.json", &self.management),
        ]
    }
}

/// Why the templates cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// A template cannot be assembled.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A name made from the settings is refused by AWS.
    #[error("{0}")]
    Name(String),
    /// The guardrails do not fit the limits of AWS Organizations.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Guardrails(Vec<spa_core::guardrails::GuardrailError>),
}

/// The templates of the deployment `settings` describe.
pub fn synth(settings: &Settings, options: SynthOptions) -> Result<Stacks, SynthError> {
    let names = Names::new(settings);
    check_names(settings, &names)?;
    Ok(Stacks {
        artifacts: automation::artifacts(settings, &names)?,
        automation: automation::automation(settings, &names, options)?,
        management: management::management(settings, &names, options)?,
        names,
    })
}

fn check_names(settings: &Settings, names: &Names) -> Result<(), SynthError> {
    let longest_function = functions::deployed(settings, true)
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    // `<env>-<function>-dlq` is the longest queue name; SQS allows 80 characters,
    // Lambda function and IAM role names 64.
    let longest = names.environment.len()
        + 1
        + longest_function
        + spa_core::events::DEAD_LETTER_QUEUE_SUFFIX.len();
    if names.environment.len() + 1 + longest_function > 64 || longest > 80 {
        return Err(SynthError::Name(format!(
            "environment_identifier `{}` is too long for the function and role names (at most {} characters)",
            names.environment,
            64 - 1 - longest_function
        )));
    }
    if names.management_role.is_empty() {
        return Err(SynthError::Name(
            "automation.management_role_arn names no role".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The shipped settings (CSV overlays are not needed by the templates).
    pub fn settings() -> Settings {
        let text = include_str!("../../../settings.yaml");
        let sources = spa_core::settings::MemorySources::new().with(
            std::path::Path::new("examples/accounts.csv"),
            include_str!("../../../examples/accounts.csv"),
        );
        spa_core::settings::load("settings.yaml", text, &sources)
            .expect("the shipped settings load")
            .settings
    }

    #[test]
    fn names_follow_the_settings() {
        let settings = settings();
        let names = Names::new(&settings);
        assert_eq!(names.automation_stack, "SpaDemo-automation");
        assert_eq!(names.settings_parameter, "/SpaDemo/settings");
        assert_eq!(names.reports_bucket, "spa-demo-reports-123456789012");
        assert_eq!(names.response_plan, "spa-demo");
        assert_eq!(names.management_role, "SpaAccountsManagementRole");
        assert_eq!(names.bus, "SpaDemo");
        assert_eq!(
            names.artifacts_bucket,
            "spademo-artifacts-123456789012-eu-west-1"
        );
        assert_eq!(names.command_queue, "SpaDemo-commands");
    }

    #[test]
    fn a_bucket_is_named_when_the_settings_name_none() {
        let mut settings = settings();
        settings.reporting.bucket = None;
        settings.features.response_plan_arn = None;
        let names = Names::new(&settings);
        assert_eq!(
            names.reports_bucket,
            "spademo-reports-123456789012-eu-west-1"
        );
        assert_eq!(names.response_plan, "spademo-spa");
        settings.environment_identifier = "A".repeat(60);
        assert!(Names::new(&settings).reports_bucket.len() <= 63);
    }

    #[test]
    fn a_too_long_environment_is_one_clear_error() {
        let mut settings = settings();
        settings.environment_identifier = "E".repeat(60);
        let error = synth(&settings, SynthOptions::default()).unwrap_err();
        assert!(error.to_string().contains("too long"), "{error}");
    }
}
