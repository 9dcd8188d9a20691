//! The aws-nuke v3 configuration of a purge (pure): generated for each purge build and
//! passed base64-encoded in `SPA_NUKE_CONFIG`; `deploy/buildspecs/purge.yaml` decodes it
//! and runs `aws-nuke run --config`.
//!
//! What it says (see <https://aws-nuke.ekristen.dev/config/>):
//! - `regions`: the purge variable `PURGE_REGIONS` (regions separated by commas or
//!   spaces, `global` for IAM and other global resources), else the automation region
//!   and `global`;
//! - `blocklist`: the automation account and the management account (from
//!   `automation.management_role_arn`); a purge of either is refused here already;
//! - `accounts.<member>.filters`, what is kept:
//!   - spa's own footprint, by name (the CodeBuild role, the EventBridge role, the
//!     projects and their log groups, the forwarding rules and their targets) and the
//!     member role (`automation.member_role_name`), so that a purge never cuts the
//!     branch spa sits on, nor the report of its own result;
//!   - the roles of the organization (IAM Identity Center, Control Tower, StackSets,
//!     `OrganizationAccountAccessRole`) and what is attached to them, and what else
//!     Identity Center and Control Tower keep in the account (`ORGANIZATION_RESOURCES`:
//!     the SAML provider, the baseline's stacks, Config, topic, function, logs, trail);
//!   - every resource tagged `PURGE_KEEP_TAG` (`key=value`, or `key` for the value
//!     `true`; default `spa:keep=true`);
//!   - with `MAXIMUM_AGE` (`12h`, `30d`, `2w`, `9M` = 9 × 30 days, `1y` = 365 days),
//!     every resource younger than that: aws-nuke's `dateOlderThan` filter matches
//!     (keeps) a resource when its creation time plus the duration is after now, tried on
//!     the creation-time properties aws-nuke resources expose;
//! - the dry-run switch is not in the file but on the command line: `PURGE_MODE`
//!   `--dry-run` (default) or `--no-dry-run`; anything else is refused.
//!
//! IAM principals (users, roles, groups, their keys, passwords, policies, instance
//! profiles, MFA devices, identity providers: [`PRINCIPAL_TYPES`]) are purged by a
//! configuration of their own, [`NukeConfig::principals_yaml`], which keeps spa and the
//! organization only: neither the keep tag nor `MAXIMUM_AGE` keeps a principal, or a
//! holder could tag or refresh a user or role and keep a door into the account after
//! it is handed to the next holder. aws-nuke's `__global__` filters apply to every
//! type or none, hence two runs: principals first, then everything else.

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::Footprint;
use crate::events::AccountId;
use crate::settings::{Resolved, Settings};

/// Purge variable: regions to purge.
pub const PURGE_REGIONS: &str = "PURGE_REGIONS";
/// Purge variable: the tag that keeps a resource.
pub const PURGE_KEEP_TAG: &str = "PURGE_KEEP_TAG";
/// Purge variable: resources younger than this are kept.
pub const MAXIMUM_AGE: &str = "MAXIMUM_AGE";
/// Purge variable: `--dry-run` or `--no-dry-run`.
pub use crate::settings::PURGE_MODE;
/// The tag that keeps a resource when `PURGE_KEEP_TAG` is not set.
pub const DEFAULT_KEEP_TAG: (&str, &str) = ("spa:keep", "true");

/// Roles of the organization that a purge keeps (aws-nuke globs).
pub const ORGANIZATION_ROLES: &[&str] = &[
    "AWSReservedSSO_*",
    "aws-controltower-*",
    "AWSControlTower*",
    "stacksets-exec-*",
    "OrganizationAccountAccessRole",
];

/// What IAM Identity Center and AWS Control Tower keep in every account they govern,
/// other than roles ([`ORGANIZATION_ROLES`]): a purge never removes them, or the
/// holder could no longer sign in and the account would drift from its landing zone.
/// `(aws-nuke resource type, property, glob)`.
pub const ORGANIZATION_RESOURCES: &[(&str, &str, &str)] = &[
    // Identity Center's SAML provider (`AWSSSO_<id>_DO_NOT_DELETE`)
    (
        "IAMSAMLProvider",
        "ARN",
        "arn:*:iam::*:saml-provider/AWSSSO_*",
    ),
    // Control Tower's baseline: stack set instances, Config, its notifications, logs
    ("CloudFormationStack", "Name", "StackSet-AWSControlTower*"),
    (
        "ConfigServiceConfigurationRecorder",
        "Name",
        "aws-controltower-*",
    ),
    ("ConfigServiceDeliveryChannel", "Name", "aws-controltower-*"),
    ("ConfigServiceConfigRule", "Name", "AWSControlTower_*"),
    ("LambdaFunction", "Name", "aws-controltower-*"),
    ("SNSTopic", "TopicARN", "arn:*:sns:*:*:aws-controltower-*"),
    (
        "SNSSubscription",
        "TopicARN",
        "arn:*:sns:*:*:aws-controltower-*",
    ),
    ("CloudWatchLogsLogGroup", "Name", "*aws-controltower*"),
    ("EventBridgeRule", "Name", "aws-controltower-*"),
    ("CloudTrailTrail", "Name", "aws-controltower-*"),
];

/// The aws-nuke types of IAM principals and what gives access through them: purged
/// whatever their tags or age.
pub const PRINCIPAL_TYPES: &[&str] = &[
    "IAMGroup",
    "IAMGroupPolicy",
    "IAMGroupPolicyAttachment",
    "IAMInstanceProfile",
    "IAMInstanceProfileRole",
    "IAMLoginProfile",
    "IAMOpenIDConnectProvider",
    "IAMRole",
    "IAMRolePolicy",
    "IAMRolePolicyAttachment",
    "IAMSAMLProvider",
    "IAMServiceSpecificCredential",
    "IAMSigningCertificate",
    "IAMUser",
    "IAMUserAccessKey",
    "IAMUserGroupAttachment",
    "IAMUserHTTPSGitCredential",
    "IAMUserMFADevice",
    "IAMUserPolicy",
    "IAMUserPolicyAttachment",
    "IAMUserSSHPublicKey",
    "IAMVirtualMFADevice",
];

/// Properties that hold the creation time of aws-nuke resources.
const CREATION_PROPERTIES: &[&str] = &[
    "CreationDate",
    "CreateDate",
    "CreatedTime",
    "CreationTime",
    "CreateTime",
    "CreatedAt",
    "LaunchTime",
];

/// Why the aws-nuke configuration cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NukeError {
    /// A purge variable has a value that cannot be used.
    #[error("purge variable `{name}` = `{value}`: expected {expected}")]
    Variable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The account to purge is one that must never be purged.
    #[error("account {0} is the automation or the management account: it is never purged")]
    Blocklisted(String),
    /// The management role ARN has no account id.
    #[error("no account id in `automation.management_role_arn` `{0}`")]
    ManagementArn(String),
}

/// The configuration of one purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NukeConfig {
    /// The aws-nuke configuration file (YAML) of everything but IAM principals.
    pub yaml: String,
    /// The aws-nuke configuration file (YAML) of IAM principals ([`PRINCIPAL_TYPES`]):
    /// spa and the organization kept, nothing else.
    pub principals_yaml: String,
    /// Whether aws-nuke only lists what it would delete.
    pub dry_run: bool,
}

impl NukeConfig {
    /// The file, base64 (standard alphabet, padded), as `SPA_NUKE_CONFIG` carries it.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.yaml.as_bytes())
    }

    /// The principals' file, base64, as `SPA_NUKE_PRINCIPALS_CONFIG` carries it.
    pub fn principals_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.principals_yaml.as_bytes())
    }
}

/// An ARN glob matching a resource named `name` in any region.
fn glob_of_name(name: &str) -> String {
    format!("arn:*:sns:*:*:{name}")
}

/// The aws-nuke configuration of the purge of `account`.
pub fn config(
    settings: &Settings,
    resolved: &Resolved,
    footprint: &Footprint,
    account: &AccountId,
) -> Result<NukeConfig, NukeError> {
    let variables = &resolved.purge.variables;
    let automation = settings.automation.account_id.as_str().to_owned();
    let management_arn = &settings.automation.management_role_arn;
    let management = management_arn
        .account()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| NukeError::ManagementArn(management_arn.as_str().to_owned()))?;
    if account.as_str() == automation || account.as_str() == management {
        return Err(NukeError::Blocklisted(account.as_str().to_owned()));
    }
    let mut blocklist = vec![automation, management];
    blocklist.dedup();

    let regions = regions(
        variables.get(PURGE_REGIONS).map(String::as_str),
        settings.automation.region.as_str(),
    )?;
    let (tag_key, tag_value) = keep_tag(variables.get(PURGE_KEEP_TAG).map(String::as_str))?;
    let max_age = match variables.get(MAXIMUM_AGE).map(|v| v.trim()) {
        None | Some("") => None,
        Some(text) => Some(age_hours(text)?),
    };
    let dry_run = dry_run(variables.get(PURGE_MODE).map(String::as_str))?;

    let mut global = vec![json!({"property": format!("tag:{tag_key}"), "value": tag_value})];
    if let Some(hours) = max_age {
        for property in CREATION_PROPERTIES {
            global.push(json!({
                "type": "dateOlderThan",
                "property": property,
                "value": format!("{hours}h"),
            }));
        }
    }

    let mut roles: Vec<Json> = [footprint.service_role.as_str()]
        .into_iter()
        .chain(footprint.events_roles())
        .chain([settings.automation.member_role_name.as_str()])
        .map(|name| json!({"property": "Name", "value": name}))
        .collect();
    roles.extend(
        ORGANIZATION_ROLES
            .iter()
            .map(|glob| json!({"property": "Name", "type": "glob", "value": glob})),
    );
    let role_children: Vec<Json> = roles
        .iter()
        .map(|filter| {
            let mut filter = filter.clone();
            if let Some(fields) = filter.as_object_mut() {
                fields.insert("property".into(), "RoleName".into());
            }
            filter
        })
        .collect();
    let projects = [&footprint.prepare.name, &footprint.purge.name];
    let rules: Vec<&str> = footprint.rules.iter().map(|r| r.name.as_str()).collect();

    let mut filters = Map::new();
    filters.insert("__global__".into(), Json::Array(global));
    filters.insert("IAMRole".into(), Json::Array(roles));
    filters.insert("IAMRolePolicy".into(), Json::Array(role_children.clone()));
    filters.insert("IAMRolePolicyAttachment".into(), Json::Array(role_children));
    filters.insert(
        "CodeBuildProject".into(),
        projects
            .iter()
            .map(|name| json!({"property": "Name", "value": name}))
            .collect(),
    );
    filters.insert(
        "CloudWatchLogsLogGroup".into(),
        projects
            .iter()
            .map(|name| json!({"property": "Name", "value": format!("/aws/codebuild/{name}")}))
            .collect(),
    );
    filters.insert(
        "EventBridgeRule".into(),
        rules
            .iter()
            .map(|name| json!({"property": "Name", "value": name}))
            .collect(),
    );
    filters.insert(
        "EventBridgeTarget".into(),
        rules
            .iter()
            .map(|name| json!({"property": "RuleName", "value": name}))
            .collect(),
    );
    // the budget and the topic its alerts go through (made again by each preparation,
    // kept so that alerts flow between a purge and the next preparation)
    let topic = glob_of_name(&super::budget_alerts_topic_name(&footprint.environment));
    filters.insert(
        "SNSTopic".into(),
        json!([{"property": "TopicARN", "type": "glob", "value": topic}]),
    );
    filters.insert(
        "SNSSubscription".into(),
        json!([{"property": "TopicARN", "type": "glob", "value": topic}]),
    );
    filters.insert(
        "BudgetsBudget".into(),
        json!([{"property": "Name", "value": super::budget_name(&footprint.environment)}]),
    );
    for legacy in ["CloudWatchEventsRule", "CloudWatchEventsTarget"] {
        filters.insert(
            legacy.into(),
            rules
                .iter()
                .map(|name| json!({"type": "contains", "value": name}))
                .collect(),
        );
    }

    for (kind, property, glob) in ORGANIZATION_RESOURCES {
        let filter = json!({"property": property, "type": "glob", "value": glob});
        match filters
            .entry(*kind)
            .or_insert_with(|| Json::Array(Vec::new()))
        {
            Json::Array(list) => list.push(filter),
            other => *other = Json::Array(vec![filter]),
        }
    }

    let header = |what: &str| {
        format!(
            "# aws-nuke configuration generated by spa ({}) for the purge of {}: {what}\n",
            settings.environment_identifier,
            account.as_str()
        )
    };
    let document = |filters: Map<String, Json>, resource_types: Json| {
        let mut accounts = Map::new();
        accounts.insert(account.as_str().to_owned(), json!({"filters": filters}));
        let document = json!({
            "regions": regions,
            "blocklist": blocklist,
            "accounts": accounts,
            "resource-types": resource_types,
            "settings": {
                "EC2Instance": {"DisableDeletionProtection": true, "DisableStopProtection": true},
                "RDSInstance": {"DisableDeletionProtection": true},
                "CloudFormationStack": {"DisableDeletionProtection": true},
                "DynamoDBTable": {"DisableDeletionProtection": true},
            },
        });
        serde_saphyr::to_string(&document).unwrap_or_else(|_| document.to_string())
    };
    // principals: spa and the organization only, whatever the keep tag and the age
    let mut principal_filters = filters.clone();
    principal_filters.remove("__global__");
    principal_filters.retain(|kind, _| PRINCIPAL_TYPES.contains(&kind.as_str()));
    let principals_yaml = format!(
        "{}{}",
        header("IAM principals, kept only when they are spa's or the organization's"),
        document(principal_filters, json!({"includes": PRINCIPAL_TYPES}))
    );
    // everything else; buckets are emptied with their deletion
    let mut filters = filters;
    filters.retain(|kind, _| !PRINCIPAL_TYPES.contains(&kind.as_str()));
    let mut excluded = vec!["S3Object"];
    excluded.extend(PRINCIPAL_TYPES);
    let yaml = format!(
        "{}{}",
        header("everything but IAM principals"),
        document(filters, json!({"excludes": excluded}))
    );
    Ok(NukeConfig {
        yaml,
        principals_yaml,
        dry_run,
    })
}

fn regions(value: Option<&str>, home: &str) -> Result<Vec<String>, NukeError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(vec![home.to_owned(), "global".to_owned()]);
    };
    let mut regions: Vec<String> = Vec::new();
    for region in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
    {
        let ok = region == "global"
            || (region.split('-').count() >= 3
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && region.ends_with(|c: char| c.is_ascii_digit()));
        if !ok {
            return Err(NukeError::Variable {
                name: PURGE_REGIONS,
                value: value.to_owned(),
                expected: "AWS regions or `global`, separated by commas or spaces, e.g. `eu-west-1, us-east-1, global`",
            });
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_owned());
        }
    }
    Ok(regions)
}

fn keep_tag(value: Option<&str>) -> Result<(String, String), NukeError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok((DEFAULT_KEEP_TAG.0.to_owned(), DEFAULT_KEEP_TAG.1.to_owned()));
    };
    let (key, tag_value) = value.split_once('=').unwrap_or((value, "true"));
    let (key, tag_value) = (key.trim(), tag_value.trim());
    if key.is_empty() || key.len() > 128 || tag_value.len() > 256 {
        return Err(NukeError::Variable {
            name: PURGE_KEEP_TAG,
            value: value.to_owned(),
            expected: "a tag `key=value`, or `key` for the value `true`, e.g. `spa:keep=true`",
        });
    }
    Ok((key.to_owned(), tag_value.to_owned()))
}

/// `MAXIMUM_AGE` in hours: a whole number and `h`, `d`, `w`, `M` (30 days) or `y`
/// (365 days).
pub fn age_hours(text: &str) -> Result<u64, NukeError> {
    let fail = || NukeError::Variable {
        name: MAXIMUM_AGE,
        value: text.to_owned(),
        expected: "a whole number and a unit, h (hours), d (days), w (weeks), M (30 days) or y (365 days), e.g. `9M`",
    };
    let unit = text.chars().last().ok_or_else(fail)?;
    let number: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| fail())?;
    let hours_per_unit: u64 = match unit {
        'h' => 1,
        'd' => 24,
        'w' => 24 * 7,
        'M' => 24 * 30,
        'y' => 24 * 365,
        _ => return Err(fail()),
    };
    match number.checked_mul(hours_per_unit) {
        Some(hours) if hours > 0 && hours <= 24 * 365 * 100 => Ok(hours),
        _ => Err(fail()),
    }
}

fn dry_run(value: Option<&str>) -> Result<bool, NukeError> {
    match value.map(str::trim) {
        None | Some("" | "--dry-run") => Ok(true),
        Some(crate::settings::NO_DRY_RUN) => Ok(false),
        Some(other) => Err(NukeError::Variable {
            name: PURGE_MODE,
            value: other.to_owned(),
            expected: "`--dry-run` (list only, the default) or `--no-dry-run` (delete)",
        }),
    }
}
