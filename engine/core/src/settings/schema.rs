//! The typed settings: one struct per section of `settings.yaml`.
//!
//! These types are the single source of truth: the JSON Schema is derived from them
//! (`schemars`), the validator walks that JSON Schema to find unknown keys, wrong
//! types and bad values, and serde fills these structs once the file is valid.
//! Semantic checks are named in the schema with the `x-spa-check` keyword
//! (see [`check`]), so that a new field picks its check by its type.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Names of the checks that the validator runs on a string (keyword `x-spa-check`).
pub mod check {
    /// 12-digit account id.
    pub const ACCOUNT_ID: &str = "account-id";
    /// `ou-...` or `r-...`.
    pub const OU_ID: &str = "ou-id";
    /// `30s`, `90m`, `2h`, `7d`, `2w`.
    pub const DURATION: &str = "duration";
    /// A duration above zero (`purge_notice.before`).
    pub const NOTICE_BEFORE: &str = "notice-before";
    /// A snooze: a duration of at most [`crate::settings::values::MAX_SNOOZE`].
    pub const SNOOZE: &str = "snooze";
    /// `cron(...)` or `rate(...)`.
    pub const SCHEDULE: &str = "schedule";
    /// E-mail address.
    pub const EMAIL: &str = "email";
    /// `ssm:/...` or `secretsmanager:...`.
    pub const SECRET: &str = "secret-ref";
    /// ISO 4217 code.
    pub const CURRENCY: &str = "currency";
    /// AWS region.
    pub const REGION: &str = "region";
    /// IAM role ARN.
    pub const ROLE_ARN: &str = "role-arn";
    /// IAM role name.
    pub const ROLE_NAME: &str = "role-name";
    /// S3 bucket name.
    pub const BUCKET: &str = "bucket";
    /// Environment identifier.
    pub const ENVIRONMENT: &str = "environment";
    /// Athena workgroup, database or table name.
    pub const ATHENA_NAME: &str = "athena-name";
    /// `s3://bucket/prefix/`.
    pub const S3_URL: &str = "s3-url";
    /// An IAM action or service prefix (`sagemaker`, `bedrock:CreateProvisioned*`).
    pub const IAM_ACTION: &str = "iam-action";
    /// An EC2 instance type or glob (`p4d.24xlarge`, `p5.*`, `*.metal`).
    pub const INSTANCE_TYPE: &str = "instance-type";
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr, $pattern:expr, $description:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The text of the value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = json_schema!({
                    "type": "string",
                    "description": $description,
                    "x-spa-check": $check,
                });
                let pattern: &str = $pattern;
                if !pattern.is_empty() {
                    schema.insert("pattern".to_owned(), pattern.into());
                }
                schema
            }
        }
    };
}

/// A 12-digit AWS account id: the same type the event decoders use.
pub use crate::events::AccountId;

impl JsonSchema for AccountId {
    fn schema_name() -> Cow<'static, str> {
        "AccountId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A 12-digit AWS account id, e.g. '123456789012'.",
            "x-spa-check": check::ACCOUNT_ID,
            "pattern": "^[0-9]{12}$",
        })
    }
}
checked_string!(
    /// An organizational unit id (`ou-...`) or the root id (`r-...`).
    OuId, check::OU_ID, "^(ou|r)-[a-z0-9-]+$", "An organizational unit id ('ou-ab12-cd34ef56') or the root id ('r-ab12')."
);
checked_string!(
    /// An e-mail address.
    Email, check::EMAIL, "", "An e-mail address, e.g. 'alice@example.com'."
);
checked_string!(
    /// A reference to a secret, never the secret itself.
    SecretRef, check::SECRET, "^(ssm:/|secretsmanager:).+", "Where the secret is stored: 'ssm:/path/to/parameter' (SecureString) or 'secretsmanager:name'. Never the secret itself."
);
checked_string!(
    /// An EventBridge schedule expression.
    Schedule, check::SCHEDULE, "^(cron|rate)\\(.*\\)$", "An EventBridge schedule: 'cron(minutes hours day-of-month month day-of-week year)' such as 'cron(0 18 ? * SAT *)', or 'rate(1 day)'."
);
checked_string!(
    /// A three-letter currency code.
    Currency, check::CURRENCY, "^[A-Z]{3}$", "An ISO 4217 currency code, e.g. 'EUR'."
);
checked_string!(
    /// An AWS region.
    Region, check::REGION, "^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$", "An AWS region, e.g. 'eu-west-1'."
);
checked_string!(
    /// An IAM action (`service:Action`, `*` and `?` allowed in the action) or a whole
    /// service (`service`).
    IamAction, check::IAM_ACTION, "^[a-z0-9-]+(:[A-Za-z0-9*?]+)?$", "A service prefix such as 'sagemaker' (every action of the service), or an IAM action such as 'bedrock:CreateProvisionedModelThroughput' ('*' and '?' allowed in the action)."
);
checked_string!(
    /// An EC2 instance type, or a glob of them.
    InstanceType, check::INSTANCE_TYPE, "^([a-z0-9*?-]+\\.[a-z0-9*?-]+|\\*)$", "An EC2 instance type such as 'p4d.24xlarge', a glob such as 'p5.*' or '*.metal', or '*' for every type."
);
checked_string!(
    /// The ARN of an IAM role.
    RoleArn, check::ROLE_ARN, "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", "The ARN of an IAM role, e.g. 'arn:aws:iam::123456789012:role/SpaManagement'."
);
#[cfg(test)]
#[test]
fn a_role_arn_names_its_partition_and_account() {
    let arn = |text: &str| RoleArn(text.to_owned());
    assert_eq!(
        arn("arn:aws-us-gov:iam::222222222222:role/x").partition(),
        "aws-us-gov"
    );
    assert_eq!(arn("arn:aws:iam::222222222222:role/x").partition(), "aws");
    assert_eq!(arn("not an arn").partition(), "aws");
    assert_eq!(
        arn("arn:aws:iam::222222222222:role/x")
            .account()
            .map(|a| a.as_str().to_owned()),
        Some("222222222222".to_owned())
    );
    assert_eq!(arn("arn:aws:iam::nope:role/x").account(), None);
}

impl RoleArn {
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`); `aws` when unreadable.
    pub fn partition(&self) -> &str {
        self.0
            .split(':')
            .nth(1)
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
    }

    /// The account that holds the role (for `automation.management_role_arn`: the
    /// management account, the one that speaks for Organizations).
    pub fn account(&self) -> Option<AccountId> {
        self.0.split(':').nth(4).and_then(AccountId::parse)
    }
}

checked_string!(
    /// The name of an IAM role.
    RoleName, check::ROLE_NAME, "^[A-Za-z0-9+=,.@_-]{1,64}$", "The name of an IAM role, e.g. 'AWSControlTowerExecution'."
);
checked_string!(
    /// An S3 bucket name.
    Bucket, check::BUCKET, "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "An S3 bucket name."
);

checked_string!(
    /// The name of an Athena workgroup, database or table.
    AthenaName, check::ATHENA_NAME, "^[A-Za-z0-9_-]{1,128}$", "An Athena workgroup, database or table name: letters, digits, '_' and '-'."
);
checked_string!(
    /// An S3 location.
    S3Url, check::S3_URL, "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", "An S3 location, e.g. 's3://cur-query-results/spa/'."
);

/// Only for the JSON Schema of `std::time::Duration` fields.
pub(crate) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhdw]$",
            "description": "A duration: a whole number and a unit, s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. '90m', '2h', '7d'.",
            "x-spa-check": check::DURATION,
        })
    }
}

/// Only for the JSON Schema of `purge_notice.before`: a duration above zero.
pub(crate) struct NoticeBeforeText;

impl JsonSchema for NoticeBeforeText {
    fn schema_name() -> Cow<'static, str> {
        "NoticeBefore".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhdw]$",
            "description": "How long before the purge the holder is told, above zero and at most 14 days, e.g. '1d'.",
            "x-spa-check": check::NOTICE_BEFORE,
        })
    }
}

/// Only for the JSON Schema of `purge_notice.snooze`: at most 14 days.
pub(crate) struct SnoozeText;

impl JsonSchema for SnoozeText {
    fn schema_name() -> Cow<'static, str> {
        "Snooze".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhdw]$",
            "description": "The longest the holder may put their purge off, once, at most 14 days ('0d': no snooze), e.g. '3d'.",
            "x-spa-check": check::SNOOZE,
        })
    }
}

/// The pre-purge notice of an account: its holder is told `before` its purge what
/// will be deleted (from a dry run), and may put the purge off once, by at most
/// `snooze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeNotice {
    /// How long before the purge the holder is told (above zero, at most 14 days).
    #[serde(with = "duration")]
    #[schemars(with = "NoticeBeforeText")]
    pub before: Duration,
    /// The longest the holder may put the purge off, once (at most 14 days; `0d`: no
    /// snooze).
    #[serde(with = "duration")]
    #[schemars(with = "SnoozeText")]
    pub snooze: Duration,
}

/// Serde glue for `std::time::Duration` written as `2h`.
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::settings::values::format_duration(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::settings::values::parse_duration(&text)
            .map_err(|expected| D::Error::custom(format!("expected {expected}")))
    }

    /// The same for `Option<Duration>`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            value: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] Duration);
            Ok(Option::<Wrap>::deserialize(deserializer)?.map(|Wrap(d)| d))
        }
    }
}

/// The whole settings file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "spa settings",
    description = "Settings of spa, the engine that keeps personal sandbox AWS accounts sustainable."
)]
pub struct Settings {
    /// Names this deployment; prefixes resources and tags every event spa emits. Several environments may share an event bus.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z][A-Za-z0-9-]*$"), extend("x-spa-check" = "environment"))]
    pub environment_identifier: String,
    /// Where spa runs and how it reaches the organization.
    pub automation: Automation,
    /// History tables and transaction deadlines.
    #[serde(default)]
    pub metering: Metering,
    /// Reports: where they go, who gets them, when.
    #[serde(default)]
    pub reporting: Reporting,
    /// Chat and e-mail channels, and which exception goes where.
    #[serde(default)]
    pub notifications: Notifications,
    /// Optional features.
    #[serde(default)]
    pub features: Features,
    /// Settings of every managed account, unless an organizational unit or the account says otherwise.
    #[serde(default)]
    pub defaults: Item,
    /// Organizational units whose accounts (and whose nested units' accounts) spa manages.
    #[serde(default)]
    pub organizational_units: Vec<OrganizationalUnit>,
    /// Accounts managed by spa wherever they are, or accounts with settings of their own.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// CSV files, relative to this file, whose rows overlay or add accounts (columns: Account, Note, Holder, Budget, Cost center, 'Tag: key', 'Preparation: VAR', 'Purge: VAR').
    #[serde(default)]
    pub accounts_csv: Vec<String>,
}

/// Where spa runs and how it reaches the organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Automation {
    /// The account where spa is deployed (the automation account).
    pub account_id: AccountId,
    /// The region where spa is deployed.
    pub region: Region,
    /// When assigned accounts expire to be purged and prepared again.
    pub maintenance_window: Schedule,
    /// The role spa assumes in the management account to read the organization and tag accounts.
    pub management_role_arn: RoleArn,
    /// The role spa assumes in member accounts to run preparation and purge builds.
    #[serde(default = "default_member_role_name")]
    pub member_role_name: RoleName,
    /// Prefix of the tags spa keeps on accounts (`<prefix>state`, `<prefix>holder`).
    #[serde(default = "default_tag_prefix")]
    #[schemars(length(min = 1, max = 64))]
    pub tag_prefix: String,
    /// Key of the cost-center tag on accounts.
    #[serde(default = "default_cost_center_tag")]
    #[schemars(length(min = 1, max = 128))]
    pub cost_center_tag: String,
    /// Tags put on spa's own resources in the automation account.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// How much spa's functions log.
    #[serde(default)]
    pub log_level: LogLevel,
    /// The requests a second spa may make to Organizations, all its functions
    /// together: its share of the management account's quota, which Control Tower,
    /// account factories and Identity Center share too.
    #[serde(default = "default_organizations_rate")]
    #[schemars(range(min = 1, max = 100))]
    pub organizations_rate: u32,
}

fn default_organizations_rate() -> u32 {
    4
}

fn default_member_role_name() -> RoleName {
    RoleName("AWSControlTowerExecution".to_owned())
}
fn default_tag_prefix() -> String {
    "account-".to_owned()
}
fn default_cost_center_tag() -> String {
    "cost-center".to_owned()
}

/// Verbosity of spa's logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default.
    #[default]
    Info,
    /// For troubleshooting.
    Debug,
    /// Everything (in Lambda, what `debug` logs: `bootstrap` is built without `trace`
    /// lines).
    Trace,
}

/// History tables and transaction deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metering {
    /// DynamoDB table of activity records (prefixed with the environment identifier).
    #[serde(default = "default_activities_table")]
    pub activities_table: String,
    /// How long activity records are kept.
    #[serde(default = "default_activities_ttl", with = "duration")]
    #[schemars(with = "DurationText")]
    pub activities_ttl: Duration,
    /// DynamoDB table of on-going transactions (prefixed with the environment identifier).
    #[serde(default = "default_transactions_table")]
    pub transactions_table: String,
    /// How long finished transactions are kept.
    #[serde(default = "default_transactions_ttl", with = "duration")]
    #[schemars(with = "DurationText")]
    pub transactions_ttl: Duration,
    /// Deadline of on-boarding (vended -> assigned); past it, `OnboardingTimedOut`.
    #[serde(default = "default_onboarding_deadline", with = "duration")]
    #[schemars(with = "DurationText")]
    pub onboarding_deadline: Duration,
    /// Deadline of maintenance (expired -> assigned); past it, `MaintenanceTimedOut`.
    #[serde(default = "default_maintenance_deadline", with = "duration")]
    #[schemars(with = "DurationText")]
    pub maintenance_deadline: Duration,
}

fn default_activities_table() -> String {
    "Activities".to_owned()
}
fn default_activities_ttl() -> Duration {
    Duration::from_secs(366 * 86_400)
}
fn default_transactions_table() -> String {
    "Transactions".to_owned()
}
fn default_transactions_ttl() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_onboarding_deadline() -> Duration {
    Duration::from_secs(2 * 3_600)
}
fn default_maintenance_deadline() -> Duration {
    Duration::from_secs(4 * 3_600)
}

impl Default for Metering {
    fn default() -> Self {
        Self {
            activities_table: default_activities_table(),
            activities_ttl: default_activities_ttl(),
            transactions_table: default_transactions_table(),
            transactions_ttl: default_transactions_ttl(),
            onboarding_deadline: default_onboarding_deadline(),
            maintenance_deadline: default_maintenance_deadline(),
        }
    }
}

/// Reports: where they go, who gets them, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reporting {
    /// Bucket of the reports; none: spa creates a private one.
    #[serde(default)]
    pub bucket: Option<Bucket>,
    /// Key prefix of cost reports.
    #[serde(default = "default_costs_prefix")]
    pub costs_prefix: String,
    /// Key prefix of inventory reports.
    #[serde(default = "default_inventories_prefix")]
    pub inventories_prefix: String,
    /// Key prefix of activity reports.
    #[serde(default = "default_activities_prefix")]
    pub activities_prefix: String,
    /// Key prefix of exception records and per-account cost reports.
    #[serde(default = "default_exceptions_prefix")]
    pub exceptions_prefix: String,
    /// Markdown body of the e-mail that carries the monthly cost report; `{month}` is replaced.
    #[serde(default = "default_email_template")]
    pub email_template: String,
    /// Who receives the monthly cost report (FinOps).
    #[serde(default)]
    pub recipients: Vec<Email>,
    /// Currencies added to cost reports, with the rate from USD, e.g. `EUR: 0.92`.
    #[serde(default)]
    #[schemars(
        with = "BTreeMap<String, Rate>",
        extend("propertyNames" = {"type": "string", "pattern": "^[A-Z]{3}$", "x-spa-check": "currency"})
    )]
    pub extra_currencies: BTreeMap<Currency, Rate>,
    /// Who answers for each cost center's spending (an e-mail address or a name), by
    /// cost center: the inventory's `cost owner` column.
    #[serde(default)]
    pub cost_owners: BTreeMap<String, String>,
    /// When reports are produced.
    #[serde(default)]
    pub schedules: ReportSchedules,
    /// Where monthly costs are read: `cost_explorer` (the default), or CUR 2.0 through Athena for large organizations.
    #[serde(default)]
    pub cost_source: CostSourceSettings,
}

/// Where monthly costs are read. The daily digest, the forecast and the residual
/// cost check always read Cost Explorer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CostSourceSettings {
    /// Cost Explorer in the management (payer) account.
    #[default]
    CostExplorer,
    /// A CUR 2.0 data export queried with Athena.
    Athena(AthenaSource),
}

/// A CUR 2.0 table queried with Athena (in the manner of Kubecost's cloud integration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AthenaSource {
    /// The region of the CUR table (and of the workgroup); default: `automation.region`.
    #[serde(default)]
    pub region: Option<Region>,
    /// The Athena workgroup the queries run in.
    #[serde(default = "default_athena_workgroup")]
    pub workgroup: AthenaName,
    /// The Glue database of the CUR 2.0 table.
    pub database: AthenaName,
    /// The CUR 2.0 table (its `billing_period` partition is read).
    pub table: AthenaName,
    /// Where the CUR 2.0 export's data lies (the table's location): spa's role may
    /// read there and nowhere else.
    pub data_location: S3Url,
    /// Where Athena writes query results.
    pub output_location: S3Url,
    /// How long a query may run before spa stops it and reports the month as failed.
    #[serde(default = "default_athena_query_timeout", with = "duration")]
    #[schemars(with = "DurationText")]
    pub query_timeout: Duration,
}

fn default_athena_workgroup() -> AthenaName {
    AthenaName("primary".to_owned())
}
fn default_athena_query_timeout() -> Duration {
    Duration::from_secs(5 * 60)
}

/// An exchange rate from USD (greater than 0).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Rate(#[schemars(extend("exclusiveMinimum" = 0))] pub f64);

fn default_costs_prefix() -> String {
    "reports/costs".to_owned()
}
fn default_inventories_prefix() -> String {
    "reports/inventories".to_owned()
}
fn default_activities_prefix() -> String {
    "reports/activities".to_owned()
}
fn default_exceptions_prefix() -> String {
    "reports/exceptions".to_owned()
}
fn default_email_template() -> String {
    "You will find attached the cloud cost reports for {month}.".to_owned()
}

impl Default for Reporting {
    fn default() -> Self {
        Self {
            bucket: None,
            costs_prefix: default_costs_prefix(),
            inventories_prefix: default_inventories_prefix(),
            activities_prefix: default_activities_prefix(),
            exceptions_prefix: default_exceptions_prefix(),
            email_template: default_email_template(),
            recipients: Vec::new(),
            extra_currencies: BTreeMap::new(),
            cost_owners: BTreeMap::new(),
            schedules: ReportSchedules::default(),
            cost_source: CostSourceSettings::default(),
        }
    }
}

/// When reports are produced (EventBridge Scheduler expressions, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportSchedules {
    /// Monthly cost reports of the previous month. Cost Explorer's figures of a month
    /// keep changing for days after it ends (late usage, credits, refunds, the invoice
    /// closes around day 5): the default runs on day 6 (an early report) and again on
    /// day 14 (the final one, overwriting the same files).
    #[serde(default = "default_costs_schedule")]
    pub costs: Schedule,
    /// Weekly inventory.
    #[serde(default = "default_inventory_schedule")]
    pub inventory: Schedule,
    /// Monthly activity report.
    #[serde(default = "default_activities_schedule")]
    pub activities: Schedule,
    /// Daily cost digest to chat.
    #[serde(default = "default_digest_schedule")]
    pub digest: Schedule,
}

fn default_costs_schedule() -> Schedule {
    Schedule("cron(0 6 6,14 * ? *)".to_owned())
}
fn default_inventory_schedule() -> Schedule {
    Schedule("cron(0 6 ? * MON *)".to_owned())
}
fn default_activities_schedule() -> Schedule {
    Schedule("cron(30 6 2 * ? *)".to_owned())
}
fn default_digest_schedule() -> Schedule {
    Schedule("cron(0 7 ? * MON-FRI *)".to_owned())
}

impl Default for ReportSchedules {
    fn default() -> Self {
        Self {
            costs: default_costs_schedule(),
            inventory: default_inventory_schedule(),
            activities: default_activities_schedule(),
            digest: default_digest_schedule(),
        }
    }
}

/// Chat and e-mail channels, and which exception goes where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notifications {
    /// Where the Slack incoming webhook URL is stored.
    #[serde(default)]
    pub slack_webhook: Option<SecretRef>,
    /// Where the Slack signing secret of the slash command is stored.
    #[serde(default)]
    pub slack_signing_secret: Option<SecretRef>,
    /// Where the Slack bot token of the slash command is stored (scopes `users:read`,
    /// `users:read.email`): it tells which holder a Slack user is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_bot_token: Option<SecretRef>,
    /// Where the Microsoft Teams Workflows webhook URL is stored.
    #[serde(default)]
    pub teams_webhook: Option<SecretRef>,
    /// Sender of spa's e-mails (an identity verified in SES).
    #[serde(default)]
    pub email_sender: Option<Email>,
    /// Mailboxes of the `email` channel (e.g. the SRE team).
    #[serde(default)]
    pub email_recipients: Vec<Email>,
    /// Which channels each exception label goes to, and whether the holder is told.
    #[serde(default)]
    pub routes: Routes,
    /// Where the workbooks are published (e.g. the `workbooks/exceptions` folder of
    /// your copy of the repository); an exception links `<url>/<Label>.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://\S+$"))]
    pub workbooks_url: Option<String>,
    /// Where holders sign in to their accounts (the AWS access portal of IAM Identity
    /// Center, `https://d-1234567890.awsapps.com/start`): told with every assignment,
    /// in the welcome e-mail and the answer to `/spa request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://\S+$"))]
    pub sign_in_url: Option<String>,
}

/// Routing of exception labels; a label without a route uses `default`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Routes {
    /// Route of every label that has none of its own.
    #[serde(default)]
    pub default: Option<Route>,
    /// A budget threshold was crossed.
    #[serde(default, rename = "BudgetAlert")]
    pub budget_alert: Option<Route>,
    /// Someone signed in with the root user.
    #[serde(default, rename = "ConsoleLoginWithRoot")]
    pub console_login_with_root: Option<Route>,
    /// Someone signed in with an IAM user.
    #[serde(default, rename = "ConsoleLoginWithIamUser")]
    pub console_login_with_iam_user: Option<Route>,
    /// A preparation or purge build failed.
    #[serde(default, rename = "BuildFailed")]
    pub build_failed: Option<Route>,
    /// A purge ran as a dry run (`PURGE_MODE` not `--no-dry-run`): nothing was deleted,
    /// the account is quarantined rather than handed on.
    #[serde(default, rename = "PurgeDryRun")]
    pub purge_dry_run: Option<Route>,
    /// On-boarding missed its deadline.
    #[serde(default, rename = "OnboardingTimedOut")]
    pub onboarding_timed_out: Option<Route>,
    /// Maintenance missed its deadline.
    #[serde(default, rename = "MaintenanceTimedOut")]
    pub maintenance_timed_out: Option<Route>,
    /// An access key is older than the threshold.
    #[serde(default, rename = "StaleAccessKey")]
    pub stale_access_key: Option<Route>,
    /// A purged account still costs money.
    #[serde(default, rename = "ResidualCost")]
    pub residual_cost: Option<Route>,
    /// An account differs from what spa expects.
    #[serde(default, rename = "Drift")]
    pub drift: Option<Route>,
    /// An account was quarantined after its builds kept failing.
    #[serde(default, rename = "AccountQuarantined")]
    pub account_quarantined: Option<Route>,
    /// spa gave up on an event or a command after every retry (a dead-letter queue).
    #[serde(default, rename = "DeadLetter")]
    pub dead_letter: Option<Route>,
    /// The spend guard: what runs costs more than a line of `spend_guard` (a freeze).
    #[serde(default, rename = "SpendProjected")]
    pub spend_projected: Option<Route>,
}

impl Routes {
    /// The route of an exception label (its own, else `default`).
    pub fn route(&self, label: &str) -> Option<&Route> {
        let own = match label {
            "BudgetAlert" => &self.budget_alert,
            "ConsoleLoginWithRoot" => &self.console_login_with_root,
            "ConsoleLoginWithIamUser" => &self.console_login_with_iam_user,
            "BuildFailed" => &self.build_failed,
            "PurgeDryRun" => &self.purge_dry_run,
            "OnboardingTimedOut" => &self.onboarding_timed_out,
            "MaintenanceTimedOut" => &self.maintenance_timed_out,
            "StaleAccessKey" => &self.stale_access_key,
            "ResidualCost" => &self.residual_cost,
            "Drift" => &self.drift,
            "AccountQuarantined" => &self.account_quarantined,
            "DeadLetter" => &self.dead_letter,
            "SpendProjected" => &self.spend_projected,
            _ => &None,
        };
        own.as_ref().or(self.default.as_ref())
    }
}

/// Where one exception label goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Route {
    /// Channels that receive it.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Whether the holder of the account is told too (by e-mail).
    #[serde(default)]
    pub notify_holder: bool,
    /// Impact of the Incident Manager incident, 1 (critical) to 5 (no impact);
    /// default: spa's impact of the label (see the workbooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub impact: Option<u8>,
}

/// A notification channel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The Slack incoming webhook.
    Slack,
    /// The Microsoft Teams webhook.
    Teams,
    /// `notifications.email_recipients`.
    Email,
}

/// Optional features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Features {
    /// Open an Incident Manager incident for each exception.
    #[serde(default)]
    pub incident_manager: bool,
    /// Response plan of the incidents (needed with `incident_manager`).
    #[serde(default)]
    pub response_plan_arn: Option<String>,
    /// How long the link to an account's cost report in an incident stays valid
    /// (a presigned S3 URL; at most 7d, and no longer than the function's session).
    #[serde(default = "default_cost_link_expiry", with = "duration")]
    #[schemars(with = "DurationText")]
    pub cost_link_expiry: Duration,
    /// Run functions and builds on ARM (Graviton).
    #[serde(default = "yes")]
    pub arm_architecture: bool,
    /// Raise exceptions on console logins with root or IAM users.
    #[serde(default = "yes")]
    pub console_login_alerts: bool,
    /// Scan managed accounts for stale access keys.
    #[serde(default)]
    pub access_key_scan: bool,
    /// Age past which an access key is stale.
    #[serde(default = "default_stale_access_key_age", with = "duration")]
    #[schemars(with = "DurationText")]
    pub stale_access_key_age: Duration,
    /// Time without use past which an access key is reported (a key never used counts
    /// from its creation).
    #[serde(default = "default_unused_access_key_age", with = "duration")]
    #[schemars(with = "DurationText")]
    pub unused_access_key_age: Duration,
    /// How many account × region searches (`spa find`, `/spa find`) and account scans
    /// run at once.
    #[serde(default = "default_find_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub find_concurrency: u32,
    /// How long a search waits for one account (its regions included) before it lists
    /// the account as failed and answers with the others.
    #[serde(default = "default_find_timeout", with = "duration")]
    #[schemars(with = "DurationText")]
    pub find_timeout: Duration,
    /// The regions a search looks in; empty: every region enabled in each account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub find_regions: Vec<String>,
    /// Serve the Slack slash command (needs `notifications.slack_signing_secret`).
    #[serde(default)]
    pub slack_commands: bool,
    /// The Slack workspace whose members may ask (its team id, `T0123ABCD`): a request
    /// from any other workspace (a channel shared with another company) is refused.
    /// Required with `slack_commands`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^T[A-Z0-9]+$"))]
    pub slack_team_id: Option<String>,
    /// Who may ask the slash command about any account: Slack user ids (`U0123ABCD`)
    /// of `slack_team_id`'s members, never e-mail addresses (an address comes from a
    /// profile). Anyone else may ask about the accounts they hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^[UW][A-Z0-9]{2,}$")))]
    pub slack_admins: Vec<String>,
    /// Post the daily cost digest to chat.
    #[serde(default)]
    pub daily_digest: bool,
    /// Watch the daily cost of accounts after their purge: above the threshold, `ResidualCost`.
    #[serde(default)]
    pub residual_cost: ResidualCost,
}

/// The residual cost check: a purge must stop the spending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResidualCost {
    /// Daily cost (in the budget's currency) above which a purged account raises `ResidualCost`.
    #[serde(default = "default_residual_threshold")]
    #[schemars(range(min = 0))]
    pub threshold: f64,
    /// How many days after a purge are watched.
    #[serde(default = "default_residual_days")]
    #[schemars(range(min = 1, max = 31))]
    pub days: u32,
}

fn default_residual_threshold() -> f64 {
    1.0
}
fn default_residual_days() -> u32 {
    3
}

impl Default for ResidualCost {
    fn default() -> Self {
        Self {
            threshold: default_residual_threshold(),
            days: default_residual_days(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_cost_link_expiry() -> Duration {
    Duration::from_secs(12 * 3_600)
}
fn default_stale_access_key_age() -> Duration {
    Duration::from_secs(90 * 86_400)
}
fn default_unused_access_key_age() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_find_concurrency() -> u32 {
    16
}
fn default_find_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for Features {
    fn default() -> Self {
        Self {
            incident_manager: false,
            response_plan_arn: None,
            cost_link_expiry: default_cost_link_expiry(),
            arm_architecture: true,
            console_login_alerts: true,
            access_key_scan: false,
            stale_access_key_age: default_stale_access_key_age(),
            unused_access_key_age: default_unused_access_key_age(),
            find_concurrency: default_find_concurrency(),
            find_timeout: default_find_timeout(),
            find_regions: Vec::new(),
            slack_commands: false,
            slack_team_id: None,
            slack_admins: Vec::new(),
            daily_digest: false,
            residual_cost: ResidualCost::default(),
        }
    }
}

/// Settings of accounts, at any level: defaults, organizational unit, account.
///
/// Every field is optional: what an item leaves out, it inherits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Free text for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Tags set on the account when it is vended (merged key by key with inherited tags).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub account_tags: BTreeMap<String, String>,
    /// Tag keys removed from the account when it is vended (replaces the inherited list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unset_tags: Option<Vec<String>>,
    /// The AWS Budget ensured when the account is prepared (merged key by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// The preparation build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<Build>,
    /// The purge build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge: Option<Build>,
    /// Build attempts before the account is quarantined (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: Option<u32>,
    /// Longest assignment before the account expires, whatever the maintenance window.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::option"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub lease: Option<Duration>,
    /// How long after a purge the account waits before a new holder is given it (the
    /// last holder's late bills and quotas settle first); a holder named meanwhile
    /// waits, `spa assign` is refused with the time it ends. None: no cooldown.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::option"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub cooldown: Option<Duration>,
    /// How much later than its lease the holder may push an assignment's end, in all
    /// (the Slack `Extend` button, `/spa extend`). None: a lease is never extended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::option"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub lease_extension: Option<Duration>,
    /// `/spa request`: whether Slack users may ask for one of this unit's pool
    /// accounts, and who approves (fields replace, one by one, what is inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestsSpec>,
    /// The pre-purge notice: `before` the purge of an assigned account (the next
    /// maintenance window or its lease end), its holder is told what will be deleted
    /// (a dry run lists it) and may put the purge off once, by at most `snooze`. None:
    /// no notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_notice: Option<PurgeNotice>,
    /// Where `spa close` leaves the account after its last purge: moved to this unit
    /// (a unit outside the managed ones, where accounts are parked). None: closed in
    /// AWS Organizations (`CloseAccount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_unit: Option<OuId>,
    /// Cost center of the account, set as the cost-center tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// Service control policies `spa synth` attaches to the unit or account (fields
    /// replace, one by one, what is inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailsSpec>,
    /// The spend guard: thresholds on what the account's running resources cost,
    /// estimated from the calls that start them, within the minute (fields replace,
    /// one by one, what is inherited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_guard: Option<SpendGuardSpec>,
}

/// `/spa request` on a unit: a Slack user asks for a pool account, and is given one
/// at once or once an approver agrees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestsSpec {
    /// Whether this unit's pool accounts may be asked for (default: disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
    /// Who approves a request: Slack user ids (`U0123ABCD`) of `features.slack_team_id`'s
    /// members, never e-mail addresses. Empty: a request is granted at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = r"^[UW][A-Z0-9]{2,}$")))]
    pub approvers: Option<Vec<String>>,
    /// How long a request waits for an approver before it expires (default 24h).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration::option"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub expiry: Option<Duration>,
    /// How many accounts one person may hold through requests at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub per_holder: Option<u32>,
}

/// The spend guard of a unit or account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpendGuardSpec {
    /// Whether spa watches the calls that start spending here (default: disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
    /// What crosses a line, and what spa does then (replaces the inherited list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<SpendThreshold>>,
}

/// One line of the spend guard: when what is measured goes over `over` US dollars,
/// spa does `actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendThreshold {
    /// What is measured: `hourly_burn` (what the running resources cost an hour),
    /// `projected_month` (what the month cost so far, per Cost Explorer, and what the
    /// running resources cost until the month ends), `actual_month` (what the month
    /// cost so far, per Cost Explorer) or `projected_lease` (what the running
    /// resources cost until the holder's lease ends).
    pub when: SpendMeasure,
    /// In US dollars, greater than 0.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub over: f64,
    /// `tell_holder` (an e-mail and chat message to the holder), `raise` (the
    /// `SpendProjected` incident and its routed channels), `freeze` (a deny-all-but-
    /// read policy until an operator runs `spa unfreeze`; it raises too),
    /// `purge_early` (the account purged now, its holder kept; it raises too),
    /// `stop` (the account's running EC2 instances stopped through the member role;
    /// other kinds are named as not stopped; it raises too).
    pub actions: Vec<SpendAction>,
}

/// What a spend threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpendMeasure {
    /// What the running resources cost an hour.
    HourlyBurn,
    /// The month's cost projected to its end.
    ProjectedMonth,
    /// What the month cost so far, as Cost Explorer says (complete days, at most a
    /// day behind).
    ActualMonth,
    /// What the running resources cost until the holder's lease ends (the lease time
    /// left at this burn); not judged on an account without holder or lease.
    ProjectedLease,
}

/// What spa does when a spend threshold is crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpendAction {
    /// Tell the holder.
    TellHolder,
    /// Raise `SpendProjected`: incident, routed channels.
    Raise,
    /// Freeze the account (and raise).
    Freeze,
    /// Purge the account now rather than at its maintenance window: what runs is
    /// deleted, the holder keeps the account, prepared again (a line that also
    /// freezes freezes instead).
    PurgeEarly,
    /// Stop the running EC2 instances of the account's ledger now, through the member
    /// role (and raise); what spa does not stop (RDS, SageMaker, EKS, Bedrock, NAT
    /// gateways) is named as not stopped. Done first: with `freeze`, stopped then
    /// frozen; with `purge_early`, stopped then purged.
    Stop,
}

/// Guardrails: what holders may not do, enforced by AWS Organizations as service
/// control policies. SCPs add up down the tree: a unit or account under a guarded
/// unit is held by that unit's policies too, so it can only add restrictions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GuardrailsSpec {
    /// Whether spa attaches its policies here (default: disabled). Enabled, holders may
    /// not change spa's footprint, leave the organization, or touch what IAM Identity
    /// Center and AWS Control Tower keep in the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
    /// The only regions where holders may act (global services excepted); none: every region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_regions: Option<Vec<Region>>,
    /// Services or actions holders may not use at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_actions: Option<Vec<IamAction>>,
    /// EC2 instance types holders may not launch or start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_instance_types: Option<Vec<InstanceType>>,
}

/// An organizational unit listed in the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrganizationalUnit {
    /// The id of the organizational unit.
    pub identifier: OuId,
    /// Its settings.
    #[serde(flatten)]
    pub item: Item,
}

/// An account listed in the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// The id of the account.
    pub identifier: AccountId,
    /// The person the account is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Email>,
    /// Its settings.
    #[serde(flatten)]
    pub item: Item,
}

/// A budget; fields merge key by key along the inheritance chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BudgetSpec {
    /// Monthly amount, greater than 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub amount: Option<f64>,
    /// Currency of the amount (default USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Alert thresholds, in percent of the amount (0 to 1000; default 80 and 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<Percent>>,
}

/// A percentage from 0 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Percent(#[schemars(range(min = 0, max = 1000))] pub f64);

/// A build run in the account (preparation or purge).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Build {
    /// Whether the build runs (default: disabled, as in SPA: nothing runs unless asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
    /// Environment variables of the build (merged key by key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// The buildspec file, relative to the settings file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildspec: Option<String>,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// The build runs.
    Enabled,
    /// The build is skipped.
    Disabled,
}
