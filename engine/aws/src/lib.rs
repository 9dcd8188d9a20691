//! Adapters of the ports on the official AWS SDK for Rust: the only module that
//! names an SDK crate.
//!
//! - [`config`]: the one place that builds SDK configurations and clients (retries
//!   with adaptive rate limiting, timeouts, endpoint override, call counting).
//! - [`metrics`]: the interceptor that counts API calls by `Service:Operation`.
//! - [`sts`]: the management role and the member roles, cached per account.
//! - [`organizations`], [`dynamodb`], [`eventbridge`], [`sqs`], [`ssm`], [`s3`]: one
//!   adapter per port, each tested against the emulator (`engine/aws/tests/adapters/aws_*.rs`).
//! - [`batch`]: batches with per-entry retries, shared by EventBridge and SQS.
//! - [`error`]: SDK errors turned into typed [`PortError`]s.
//!
//! [`AwsPlatform`] hands out every adapter as the [`Platform`] of the use cases. Its
//! builds (CodeBuild in member accounts) come from elsewhere: `AwsPlatform::connect`
//! makes a platform without builds, [`AwsPlatform::with_builds`] adds them, typically
//! made from [`AwsPlatform::roles`].

use std::sync::{Arc, OnceLock};

use spa_core::events::AccountId;
use spa_core::settings::Settings;
use spa_usecases::ports::{Builds, Platform, PortError, SystemClock};

pub mod athena;
pub mod batch;
pub mod budgets;
pub mod cloudformation;
pub mod codebuild;
pub mod config;
pub mod cost_explorer;
pub mod costs;
pub mod dynamodb;
pub mod error;
pub mod eventbridge;
pub mod files;
pub mod footprint;
pub mod incidents;
pub mod metrics;
pub mod organizations;
pub mod pace;
#[cfg(feature = "pricing")]
pub mod pricing;
pub mod s3;
pub mod scans;
pub mod secrets;
pub mod ses;
pub mod slack_api;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod sts;
pub mod webhooks;

pub use config::{AwsConfig, BaseCredentials, Retries};
use dynamodb::DynamoStore;
use eventbridge::EventBridgeBus;
use metrics::ApiCalls;
use organizations::AwsOrganization;
use s3::{ReportsBucket, S3Objects};
use sqs::SqsCommands;
use ssm::SsmParameters;
use sts::{RoleOptions, Roles, partition_of};

/// What the settings do not say about where spa runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Region; default: `automation.region`.
    pub region: Option<String>,
    /// Endpoint override (the emulator); default: `AWS_ENDPOINT_URL` when set.
    pub endpoint: Option<String>,
    /// Credentials of the automation account: ambient (the function's role), or the
    /// emulator's dummy keys.
    pub credentials: BaseCredentials,
    /// Whether Organizations (and the member roles) are reached through
    /// `automation.management_role_arn` (on AWS, from the automation account), or
    /// with the automation account's own credentials (the emulator, or a run from
    /// the management account).
    pub assume_management_role: bool,
    /// The role assumed in the management account instead of
    /// `automation.management_role_arn` (see [`ConnectOptions::for_function`]).
    pub management_role: Option<String>,
    /// Whether that role is assumed at the first call that needs it rather than at
    /// connect: a Lambda function's (the `relay` and `dead-letters` functions never
    /// call the management account, and their roles may not assume its role), not an
    /// operator's (a role that cannot be assumed is said at once).
    pub assume_at_first_use: bool,
    /// The engine's event bus, name or ARN.
    pub bus: String,
    /// The URL of the command queue.
    pub command_queue_url: String,
    /// The reports bucket; default: `reporting.bucket`.
    pub reports_bucket: Option<String>,
    /// How the clients retry: [`Retries::Adaptive`] (the SDK slows its own rate on
    /// throttling) but in fault-injection tests.
    pub retries: Retries,
    /// The SDK's timeouts: the function's nested timeouts on Lambda
    /// ([`ConnectOptions::for_function`]), the operator's otherwise.
    pub timeouts: spa_core::rules::timeouts::Timeouts,
    /// Whether Organizations requests keep to `automation.organizations_rate`, shared
    /// by every invocation through the store ([`pace::Pace`]): on AWS; not against the
    /// emulator, whose organization is spa's alone.
    pub pace: bool,
    /// Slack's Web API (`chat.postMessage`); default Slack's (`SPA_SLACK_API_URL` of
    /// the edge: a local server in tests).
    pub slack_api: Option<String>,
}

impl ConnectOptions {
    /// On AWS, in the automation account.
    pub fn aws(bus: impl Into<String>, command_queue_url: impl Into<String>) -> Self {
        Self {
            region: None,
            endpoint: None,
            credentials: BaseCredentials::Ambient,
            assume_management_role: true,
            management_role: None,
            assume_at_first_use: false,
            bus: bus.into(),
            command_queue_url: command_queue_url.into(),
            reports_bucket: None,
            retries: Retries::Adaptive,
            timeouts: spa_core::rules::timeouts::operator(),
            pace: true,
            slack_api: None,
        }
    }

    /// Against the emulator at `endpoint`.
    pub fn emulator(
        endpoint: impl Into<String>,
        bus: impl Into<String>,
        command_queue_url: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            credentials: BaseCredentials::Emulator,
            assume_management_role: false,
            pace: false,
            ..Self::aws(bus, command_queue_url)
        }
    }
}

impl ConnectOptions {
    /// These options for the function `function`: `slack-commands`, which faces the
    /// internet, reads the organization through the organization reader role
    /// ([`spa_core::rules::organization_reader_role_arn`]), which can neither tag an
    /// account nor reach a member role; every other function through the management
    /// role. Its SDK calls time out within the function's budget
    /// ([`spa_core::rules::Function::timeouts`]).
    pub fn for_function(
        mut self,
        settings: &Settings,
        function: Option<spa_core::rules::Function>,
    ) -> Self {
        self.management_role = (function == Some(spa_core::rules::Function::SlackCommands))
            .then(|| spa_core::rules::organization_reader_role_arn(settings));
        if let Some(function) = function {
            self.timeouts = function.timeouts();
            self.assume_at_first_use = true;
        }
        self
    }

    /// The options of an operator's run: against the emulator at `endpoint` (its
    /// credentials, no management role), or on AWS with the operator's credentials
    /// and the management role; the engine's bus and command queue named as
    /// `spa local init` and the automation stack name them.
    pub fn for_settings(settings: &Settings, endpoint: Option<&str>) -> Self {
        let region = settings.automation.region.as_str();
        let account = settings.automation.account_id.as_str();
        let bus = format!(
            "arn:aws:events:{region}:{account}:event-bus/{}",
            spa_core::rules::bus_name(settings)
        );
        let queue = spa_core::rules::queue_name(settings);
        match endpoint {
            Some(endpoint) => {
                let url = format!("{}/{account}/{queue}", endpoint.trim_end_matches('/'));
                Self::emulator(endpoint, bus, url)
            }
            None => {
                let url = format!("https://sqs.{region}.amazonaws.com/{account}/{queue}");
                Self::aws(bus, url)
            }
        }
    }
}

/// The central budget alerts queue (`<environment>-BudgetAlerts`, made by the
/// automation stack or `spa local init`) that every member's topic delivers to.
fn budget_alerts_queue_arn(settings: &Settings, region: &str) -> String {
    format!(
        "arn:{}:sqs:{region}:{}:{}",
        partition_of(settings.automation.management_role_arn.as_str()),
        settings.automation.account_id.as_str(),
        sns::budget_alerts_name(settings)
    )
}

/// Every adapter on AWS; `B` is the builds adapter (`()` until one is given).
///
/// The adapters of the organization, the store and the bus are built at connection:
/// nearly every invocation calls them. The others (command queue, parameters, reports
/// bucket, incidents, cost sources, secrets, mail, forwarding dead letters) are built
/// at their first use, from [`Later`]: an invocation handles one event and calls few
/// of them, and an SDK client built for nothing costs a short-lived process (`spa
/// handle`, a Lambda cold start) its code pages and allocations (ARCHITECTURE.md,
/// *One event, cold*).
#[derive(Debug)]
pub struct AwsPlatform<B> {
    automation: AwsConfig,
    roles: Arc<Roles>,
    organization: AwsOrganization,
    store: DynamoStore,
    bus: EventBridgeBus,
    later: Later,
    commands: OnceLock<SqsCommands>,
    parameters: OnceLock<SsmParameters>,
    objects: OnceLock<ReportsBucket>,
    clock: SystemClock,
    budgets: budgets::MemberBudgets<Arc<Roles>>,
    incidents: OnceLock<incidents::SsmIncidents>,
    costs: costs::MemberCosts<Arc<Roles>>,
    cost_source: OnceLock<athena::CostSources>,
    secrets: OnceLock<secrets::AwsSecrets>,
    webhooks: crate::webhooks::HttpWebhooks,
    mail: OnceLock<ses::SesMail>,
    scans: scans::MemberScans<Arc<Roles>>,
    forwarding: OnceLock<sqs::ForwardDeadLetters>,
    builds: B,
}

/// What the adapters built at their first use are built from.
#[derive(Debug)]
struct Later {
    /// The management account's configuration (Cost Explorer, the forwarding dead
    /// letters).
    management: AwsConfig,
    command_queue_url: String,
    bucket: Option<String>,
    cost_source: spa_core::settings::CostSourceSettings,
    forward_dead_letter_queue: String,
}

impl AwsPlatform<()> {
    /// Connects every adapter: the automation account's configuration (ambient
    /// credentials, or the emulator's), the management account's (the management
    /// role assumed now, so that a missing or untrusting role is a
    /// [`PortError::Denied`] here), and the member roles from it.
    pub async fn connect(settings: &Settings, options: &ConnectOptions) -> Result<Self, PortError> {
        let region = Self::region(settings, options);
        let base = AwsConfig::load(
            &region,
            options.endpoint.as_deref(),
            options.credentials,
            ApiCalls::new(),
        )
        .await;
        Self::connect_from(base, settings, options).await
    }

    /// The automation account's region: the options', else the settings'.
    pub fn region(settings: &Settings, options: &ConnectOptions) -> String {
        options
            .region
            .clone()
            .unwrap_or_else(|| settings.automation.region.as_str().to_owned())
    }

    /// [`AwsPlatform::connect`] from a base configuration loaded elsewhere (the Lambda
    /// functions': [`AwsConfig::from_environment`]), in [`AwsPlatform::region`]; its
    /// calls are counted by its counter. The options' retries and timeouts apply.
    pub async fn connect_from(
        base: AwsConfig,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Self, PortError> {
        let region = Self::region(settings, options);
        let automation = base
            .with_retry(options.retries.config())
            .with_timeouts(&options.timeouts);
        let session = format!("spa-{}", settings.environment_identifier);
        let management_arn = settings.automation.management_role_arn.as_str();
        let assumed = options.management_role.as_deref().unwrap_or(management_arn);
        let management = if options.assume_management_role && options.assume_at_first_use {
            Roles::assume_at_first_use(&automation, assumed, RoleOptions::new(&session))
        } else if options.assume_management_role {
            Roles::assume(&automation, assumed, RoleOptions::new(&session)).await?
        } else {
            automation.clone()
        };
        let roles = Arc::new(Roles::new(
            management.clone(),
            partition_of(management_arn),
            settings.automation.member_role_name.as_str(),
            RoleOptions::new(&session),
        ));
        let bucket = options.reports_bucket.clone().or_else(|| {
            settings
                .reporting
                .bucket
                .as_ref()
                .map(|b| b.as_str().to_owned())
        });
        let mut organization = AwsOrganization::new(management.organizations());
        if options.pace {
            organization = organization.with_pace(Arc::new(pace::Pace::new(
                automation.dynamodb(),
                &dynamodb::StoreTables::from_settings(settings).transactions,
                "organizations",
                settings.automation.organizations_rate,
                spa_core::rules::timeouts::pace_wait(&options.timeouts),
            )));
        }
        Ok(Self {
            organization,
            store: DynamoStore::from_settings(automation.dynamodb(), settings),
            bus: EventBridgeBus::new(automation.eventbridge(), &options.bus),
            later: Later {
                management,
                command_queue_url: options.command_queue_url.clone(),
                bucket,
                cost_source: settings.reporting.cost_source.clone(),
                forward_dead_letter_queue: spa_core::rules::forward_dead_letter_queue(
                    &settings.environment_identifier,
                ),
            },
            commands: OnceLock::new(),
            parameters: OnceLock::new(),
            objects: OnceLock::new(),
            clock: SystemClock,
            budgets: budgets::MemberBudgets::new(
                Arc::clone(&roles),
                automation.clone(),
                budget_alerts_queue_arn(settings, &region),
            ),
            incidents: OnceLock::new(),
            costs: costs::MemberCosts::new(Arc::clone(&roles)),
            cost_source: OnceLock::new(),
            secrets: OnceLock::new(),
            webhooks: crate::webhooks::HttpWebhooks::new()?
                .with_slack_api(options.slack_api.as_deref()),
            mail: OnceLock::new(),
            scans: scans::MemberScans::new(Arc::clone(&roles)),
            forwarding: OnceLock::new(),
            builds: (),
            roles,
            automation,
        })
    }
}

impl<B> AwsPlatform<B> {
    /// The same platform with its builds adapter.
    pub fn with_builds<C>(self, builds: C) -> AwsPlatform<C> {
        AwsPlatform {
            automation: self.automation,
            roles: self.roles,
            organization: self.organization,
            store: self.store,
            bus: self.bus,
            later: self.later,
            commands: self.commands,
            parameters: self.parameters,
            objects: self.objects,
            clock: self.clock,
            budgets: self.budgets,
            incidents: self.incidents,
            costs: self.costs,
            cost_source: self.cost_source,
            secrets: self.secrets,
            webhooks: self.webhooks,
            mail: self.mail,
            scans: self.scans,
            forwarding: self.forwarding,
            builds,
        }
    }

    /// The automation account's configuration (its clients are counted).
    pub fn automation(&self) -> &AwsConfig {
        &self.automation
    }

    /// The management and member roles.
    pub fn roles(&self) -> &Arc<Roles> {
        &self.roles
    }

    /// The configuration of a member account, through its member role (cached,
    /// refreshed before expiry); a role that cannot be assumed is `Denied`.
    pub async fn member_config(
        &self,
        account: &AccountId,
    ) -> Result<aws_config::SdkConfig, PortError> {
        self.roles.member_config(account).await
    }

    /// API calls made so far by every client of this platform, by `Service:Operation`.
    pub fn calls(&self) -> &ApiCalls {
        self.automation.calls()
    }

    /// SSM Parameter Store.
    pub fn parameters(&self) -> &SsmParameters {
        self.parameters
            .get_or_init(|| SsmParameters::new(self.automation.ssm()))
    }

    /// The reports bucket, when one is named.
    pub fn reports_bucket(&self) -> Option<&S3Objects> {
        self.reports().0.as_ref()
    }

    fn reports(&self) -> &ReportsBucket {
        self.objects.get_or_init(|| {
            ReportsBucket(
                self.later
                    .bucket
                    .as_ref()
                    .map(|b| S3Objects::new(self.automation.s3(), b.clone())),
            )
        })
    }
}

/// Member accounts are reached through their member role, from the management role.
impl codebuild::MemberConfigs for Arc<Roles> {
    async fn member_config(&self, account: &AccountId) -> Result<AwsConfig, PortError> {
        self.member(account).await
    }
}

/// The platform with every adapter, builds included.
pub type Connected = AwsPlatform<codebuild::MemberBuilds<Arc<Roles>>>;

impl AwsPlatform<()> {
    /// [`AwsPlatform::connect`], with builds in member accounts through their role.
    pub async fn connect_with_builds(
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Connected, PortError> {
        let platform = Self::connect(settings, options).await?;
        let roles = Arc::clone(platform.roles());
        Ok(platform.with_builds(codebuild::MemberBuilds::new(roles)))
    }

    /// [`AwsPlatform::connect_from`], with builds in member accounts through their role.
    pub async fn connect_from_with_builds(
        base: AwsConfig,
        settings: &Settings,
        options: &ConnectOptions,
    ) -> Result<Connected, PortError> {
        let platform = Self::connect_from(base, settings, options).await?;
        let roles = Arc::clone(platform.roles());
        Ok(platform.with_builds(codebuild::MemberBuilds::new(roles)))
    }
}

impl<B: Builds> Platform for AwsPlatform<B> {
    type Organization = AwsOrganization;
    type Builds = B;
    type Store = DynamoStore;
    type Bus = EventBridgeBus;
    type Commands = SqsCommands;
    type Clock = SystemClock;
    type Budgets = budgets::MemberBudgets<Arc<Roles>>;
    type Incidents = incidents::SsmIncidents;
    type Costs = costs::MemberCosts<Arc<Roles>>;
    type CostSource = athena::CostSources;
    type Objects = ReportsBucket;
    type Secrets = secrets::AwsSecrets;
    type Webhooks = crate::webhooks::HttpWebhooks;
    type Mail = ses::SesMail;
    type Scans = scans::MemberScans<Arc<Roles>>;
    type Stops = scans::MemberScans<Arc<Roles>>;
    type Forwarding = sqs::ForwardDeadLetters;

    fn organization(&self) -> &AwsOrganization {
        &self.organization
    }
    fn builds(&self) -> &B {
        &self.builds
    }
    fn store(&self) -> &DynamoStore {
        &self.store
    }
    fn bus(&self) -> &EventBridgeBus {
        &self.bus
    }
    fn commands(&self) -> &SqsCommands {
        self.commands
            .get_or_init(|| SqsCommands::new(self.automation.sqs(), &self.later.command_queue_url))
    }
    fn clock(&self) -> &SystemClock {
        &self.clock
    }
    fn budgets(&self) -> &Self::Budgets {
        &self.budgets
    }
    fn incidents(&self) -> &Self::Incidents {
        self.incidents
            .get_or_init(|| incidents::SsmIncidents::new(self.automation.ssm_incidents()))
    }
    fn costs(&self) -> &Self::Costs {
        &self.costs
    }
    fn cost_source(&self) -> &Self::CostSource {
        self.cost_source.get_or_init(|| {
            athena::CostSources::new(
                &self.later.management,
                &self.automation,
                &self.later.cost_source,
            )
        })
    }
    fn objects(&self) -> &Self::Objects {
        self.reports()
    }
    fn secrets(&self) -> &Self::Secrets {
        self.secrets
            .get_or_init(|| secrets::AwsSecrets::new(&self.automation))
    }
    fn webhooks(&self) -> &Self::Webhooks {
        &self.webhooks
    }
    fn mail(&self) -> &Self::Mail {
        self.mail
            .get_or_init(|| ses::SesMail::from_config(&self.automation))
    }
    fn scans(&self) -> &Self::Scans {
        &self.scans
    }
    /// The member account's EC2 client stops what the scans read.
    fn stops(&self) -> &Self::Stops {
        &self.scans
    }
    fn forwarding(&self) -> &Self::Forwarding {
        self.forwarding.get_or_init(|| {
            sqs::ForwardDeadLetters::new(
                self.later
                    .management
                    .sqs_in(spa_core::rules::ORGANIZATIONS_REGION),
                self.later.forward_dead_letter_queue.clone(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use spa_core::rules::Function;

    #[test]
    fn only_the_internet_facing_function_reads_through_the_organization_reader() {
        let text = "environment_identifier: SpaDemo\nautomation:\n  account_id: '123456789012'\n  region: eu-west-1\n  maintenance_window: rate(7 days)\n  management_role_arn: arn:aws-us-gov:iam::222222222222:role/Spa\n";
        let settings = spa_core::settings::load(
            "settings.yaml",
            text,
            &spa_core::settings::MemorySources::new(),
        )
        .unwrap()
        .settings;
        let options = || ConnectOptions::aws("bus", "queue");
        assert_eq!(
            options()
                .for_function(&settings, Some(Function::SlackCommands))
                .management_role
                .as_deref(),
            Some("arn:aws-us-gov:iam::222222222222:role/SpaDemo-OrgReader")
        );
        for function in Function::ALL
            .into_iter()
            .filter(|f| *f != Function::SlackCommands)
            .map(Some)
            .chain([None])
        {
            assert_eq!(
                options().for_function(&settings, function).management_role,
                None,
                "{function:?}"
            );
        }
    }
}
