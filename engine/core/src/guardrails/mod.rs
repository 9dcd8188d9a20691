//! Guardrails: the service control policies (SCPs) that keep holders from breaking spa.
//!
//! A holder administers the account spa manages; IAM cannot stop an administrator,
//! an SCP can. From the settings' `guardrails` (inherited like every setting: defaults
//! ← unit ← account), [`policies`] makes the policies `spa synth` puts in the
//! management stack, attached to every listed unit (and every listed account with
//! `guardrails` of its own) whose guardrails are enabled:
//!
//! - **protect** (the same for every target): no principal but spa's member role and
//!   the organization's own roles ([`EXEMPT_ROLES`]) may change spa's footprint (its
//!   roles, CodeBuild projects and their logs, forwarding rules, budget and alerts
//!   topic) or create a role under an exempt name; nobody may leave the organization;
//!   the roles and resources IAM Identity Center and AWS Control Tower keep in the
//!   account (the ones the purge keeps: [`crate::footprint::nuke`]) are left alone, and
//!   configuration recording is not stopped;
//! - **limits** (per distinct settings): the region allow-list (global services
//!   excepted), denied services and actions, denied EC2 instance types. spa's own
//!   roles, the CodeBuild role among them, are exempt, so a purge still reaches every
//!   region.
//!
//! Each policy is minified JSON of at most [`MAX_POLICY_CHARACTERS`]; statements are
//! packed into as few policies as fit, and a target takes at most
//! [`SPA_POLICIES_PER_TARGET`] of them. What does not fit is an error that names the
//! target and the setting that made it too big.
//!
//! SCPs add up down the tree: a unit nested in a guarded unit, or a listed account in
//! one, is held by both, so it can add restrictions but never lift them.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::footprint::nuke::{ORGANIZATION_RESOURCES, ORGANIZATION_ROLES};
use crate::footprint::{FootprintError, Names};
use crate::settings::{Guardrails, Settings};

/// The largest service control policy AWS Organizations accepts, in characters
/// (whitespace counts when a policy is saved through the API: spa saves it minified).
pub const MAX_POLICY_CHARACTERS: usize = 5_120;
/// The most service control policies attached to one unit or account.
pub const MAX_POLICIES_PER_TARGET: usize = 5;
/// spa's share of a target's policies: `FullAWSAccess` stays attached beside them.
pub const SPA_POLICIES_PER_TARGET: usize = MAX_POLICIES_PER_TARGET - 1;

/// Roles that act for the organization in member accounts, exempt like spa's member
/// role (Control Tower's and StackSets' execution roles, the role Organizations creates).
pub const EXEMPT_ROLES: &[&str] = &[
    "AWSControlTowerExecution",
    "OrganizationAccountAccessRole",
    "stacksets-exec-*",
];

/// Actions of global services, whose requests go to `us-east-1` whatever the region
/// allow-list says (the region guardrail does not deny them).
pub const GLOBAL_ACTIONS: &[&str] = &[
    "a4b:*",
    "account:*",
    "acm:*",
    "artifact:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "billing:*",
    "budgets:*",
    "ce:*",
    "chatbot:*",
    "cloudfront:*",
    "cloudtrail:LookupEvents",
    "consolidatedbilling:*",
    "cur:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "fms:*",
    "freetier:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "invoicing:*",
    "kms:*",
    "networkmanager:*",
    "organizations:*",
    "payments:*",
    "pricing:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "route53:*",
    "route53domains:*",
    "s3:GetAccountPublic*",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:PutAccountPublic*",
    "savingsplans:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "tax:*",
    "trustedadvisor:*",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
    "wellarchitected:*",
];

/// Changes to a role, and its creation (a holder must not create a role under a name
/// the guardrails exempt).
const ROLE_CHANGES: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole*",
    "iam:DetachRolePolicy",
    "iam:PassRole",
    "iam:PutRole*",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole*",
];
const PROJECT_CHANGES: &[&str] = &[
    "codebuild:BatchDeleteBuilds",
    "codebuild:CreateProject",
    "codebuild:CreateWebhook",
    "codebuild:Delete*",
    "codebuild:PutResourcePolicy",
    "codebuild:RetryBuild*",
    "codebuild:StartBuild*",
    "codebuild:StopBuild*",
    "codebuild:Update*",
];
const LOG_CHANGES: &[&str] = &[
    "logs:Delete*",
    "logs:PutRetentionPolicy",
    "logs:PutSubscriptionFilter",
];
const RULE_CHANGES: &[&str] = &[
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:TagResource",
    "events:UntagResource",
];
const TOPIC_CHANGES: &[&str] = &[
    "sns:AddPermission",
    "sns:DeleteTopic",
    "sns:Publish",
    "sns:PutDataProtectionPolicy",
    "sns:RemovePermission",
    "sns:Set*Attributes",
    "sns:Subscribe",
    "sns:TagResource",
    "sns:Unsubscribe",
    "sns:UntagResource",
];
const BUDGET_CHANGES: &[&str] = &["budgets:*BudgetAction", "budgets:ModifyBudget"];
const STACK_CHANGES: &[&str] = &[
    "cloudformation:DeleteStack",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateStack",
    "cloudformation:UpdateTerminationProtection",
];
const SAML_CHANGES: &[&str] = &[
    "iam:DeleteSAMLProvider",
    "iam:TagSAMLProvider",
    "iam:UntagSAMLProvider",
    "iam:UpdateSAMLProvider",
];
const FUNCTION_CHANGES: &[&str] = &[
    "lambda:AddPermission",
    "lambda:Delete*",
    "lambda:Put*",
    "lambda:RemovePermission",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:Update*",
];
const TRAIL_CHANGES: &[&str] = &[
    "cloudtrail:DeleteTrail",
    "cloudtrail:Put*Selectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
];
/// Configuration recording is not resource-scoped: turning it off is denied everywhere.
const RECORDING_CHANGES: &[&str] = &[
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "config:StopConfigurationRecorder",
];

/// A service control policy to create and attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its name in the organization (unique within it).
    pub name: String,
    /// What it is for, in words.
    pub description: String,
    /// The units (`ou-…`) and accounts it is attached to, in the order of the settings.
    pub targets: Vec<String>,
    /// The policy document, minified JSON of at most [`MAX_POLICY_CHARACTERS`].
    pub content: String,
}

/// Why the guardrails cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardrailError {
    /// A name of spa's footprint is not accepted by AWS.
    #[error(transparent)]
    Names(#[from] FootprintError),
    /// One setting alone makes a statement larger than a policy may be.
    #[error(
        "the guardrails of `{target}`: `guardrails.{setting}` alone makes a statement of {characters} characters, and a service control policy holds at most {MAX_POLICY_CHARACTERS}; list fewer entries, or cover several with a `*`"
    )]
    StatementTooLarge {
        /// The unit or account.
        target: String,
        /// The setting (`allowed_regions`, `denied_actions`, `denied_instance_types`).
        setting: &'static str,
        /// The statement's size.
        characters: usize,
    },
    /// The guardrails of a target need more policies than a target takes.
    #[error(
        "the guardrails of `{target}` need {count} service control policies of at most {MAX_POLICY_CHARACTERS} characters, and a unit or account takes at most {MAX_POLICIES_PER_TARGET}, one of them FullAWSAccess{}; the largest setting is `guardrails.{largest}` ({characters} characters): list fewer entries, or cover several with a `*`",
        if *.freeze { " and one kept for the spend guard's freeze" } else { "" }
    )]
    TooManyPolicies {
        /// The unit or account.
        target: String,
        /// Policies needed.
        count: usize,
        /// Whether a slot is kept for the freeze (an account whose spend guard is on).
        freeze: bool,
        /// The setting whose statement is largest.
        largest: &'static str,
        /// Its size.
        characters: usize,
    },
}

/// One statement, and the setting it comes from (for errors).
#[derive(Debug, Clone)]
struct Statement {
    setting: &'static str,
    body: Json,
}

impl Statement {
    fn characters(&self) -> usize {
        self.body.to_string().len()
    }
}

/// The service control policies of `settings`, or every reason they cannot be made.
///
/// No target enabled: no policy.
pub fn policies(settings: &Settings) -> Result<Vec<Policy>, Vec<GuardrailError>> {
    let env = settings.environment_identifier.as_str();
    let names = Names::new(env).map_err(|e| vec![GuardrailError::from(e)])?;
    let arns = Arns::new(settings, &names);
    let targets = targets(settings);
    if targets.is_empty() {
        return Ok(Vec::new());
    }

    let mut errors = Vec::new();
    let protect = match pack(&protect(&arns)) {
        Ok(chunks) => chunks,
        Err((setting, characters)) => {
            // the protect statements are spa's own: only a very long name gets here
            return Err(vec![GuardrailError::StatementTooLarge {
                target: targets[0].0.clone(),
                setting,
                characters,
            }]);
        }
    };
    let mut policies = named(
        &protect,
        &format!("{env}-Guardrails"),
        &format!(
            "spa {env}: holders may not change spa's footprint, leave the organization, or touch what Identity Center and Control Tower keep"
        ),
        targets.iter().map(|(t, _, _)| t.clone()).collect(),
    );

    // targets with the same limits share their policies
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (target, guardrails, keeps_freeze) in &targets {
        let statements = limits(guardrails, &arns);
        let chunks = match pack(&statements) {
            Ok(chunks) => chunks,
            Err((setting, characters)) => {
                errors.push(GuardrailError::StatementTooLarge {
                    target: target.clone(),
                    setting,
                    characters,
                });
                continue;
            }
        };
        let count = protect.len() + chunks.len();
        // the freeze is attached to an account at run time: its slot is kept
        let freeze = *keeps_freeze;
        let room = SPA_POLICIES_PER_TARGET - usize::from(freeze);
        if count > room {
            let (largest, characters) = statements
                .iter()
                .map(|s| (s.setting, s.characters()))
                .max_by_key(|(_, c)| *c)
                .unwrap_or(("allowed_regions", 0));
            errors.push(GuardrailError::TooManyPolicies {
                target: target.clone(),
                count,
                freeze,
                largest,
                characters,
            });
            continue;
        }
        if chunks.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(c, _)| *c == chunks) {
            Some((_, members)) => members.push(target.clone()),
            None => groups.push((chunks, vec![target.clone()])),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (chunks, members) in groups {
        let first = members[0].clone();
        policies.extend(named(
            &chunks,
            &format!("{env}-Limits-{first}"),
            &format!("spa {env}: regions, services and instance types holders may use, as the guardrails of {first} say"),
            members,
        ));
    }
    Ok(policies)
}

/// The targets whose guardrails are enabled, with their guardrails: every listed unit,
/// and every listed account that says `guardrails` itself.
/// The guarded units and accounts, with their guardrails, and whether the target is
/// an account whose spend guard is on (its freeze takes one of its policy slots).
fn targets(settings: &Settings) -> Vec<(String, Guardrails, bool)> {
    let units = settings.organizational_units.iter().filter_map(|unit| {
        let id = unit.identifier.as_str();
        settings
            .resolve_ou(id, &[])
            .map(|resolved| (id.to_owned(), resolved.guardrails, false))
    });
    let accounts = settings
        .accounts
        .iter()
        .filter(|account| account.item.guardrails.is_some())
        .filter_map(|account| {
            let id = account.identifier.as_str();
            settings.resolve_account(id, &[]).map(|resolved| {
                let freeze = resolved.spend_guard.enabled;
                (id.to_owned(), resolved.guardrails, freeze)
            })
        });
    units
        .chain(accounts)
        .filter(|(_, guardrails, _)| guardrails.enabled)
        .collect()
}

fn named(chunks: &[String], name: &str, description: &str, targets: Vec<String>) -> Vec<Policy> {
    chunks
        .iter()
        .enumerate()
        .map(|(index, content)| Policy {
            name: match index {
                0 => name.to_owned(),
                n => format!("{name}-{}", n + 1),
            },
            description: description.to_owned(),
            targets: targets.clone(),
            content: content.clone(),
        })
        .collect()
}

/// Statements packed in order into as few documents as fit; `Err` names the setting
/// of a statement too large for any document.
fn pack(statements: &[Statement]) -> Result<Vec<String>, (&'static str, usize)> {
    let document =
        |bodies: &[Json]| json!({"Version": "2012-10-17", "Statement": bodies}).to_string();
    let mut chunks: Vec<String> = Vec::new();
    let mut current: Vec<Json> = Vec::new();
    for statement in statements {
        let alone = document(std::slice::from_ref(&statement.body));
        if alone.len() > MAX_POLICY_CHARACTERS {
            return Err((statement.setting, statement.characters()));
        }
        current.push(statement.body.clone());
        if document(&current).len() > MAX_POLICY_CHARACTERS {
            current.pop();
            chunks.push(document(&current));
            current = vec![statement.body.clone()];
        }
    }
    if !current.is_empty() {
        chunks.push(document(&current));
    }
    Ok(chunks)
}

/// ARNs in the partition of the deployment.
struct Arns {
    partition: String,
    /// spa's member role, and the organization's roles (`aws:PrincipalArn` patterns).
    exempt: Vec<String>,
    /// The same, and the CodeBuild role: whom the limits do not hold.
    exempt_from_limits: Vec<String>,
    footprint: Footprint,
}

struct Footprint {
    roles: Vec<String>,
    projects: Vec<String>,
    rules: Vec<String>,
    topic: String,
    budget: String,
}

impl Arns {
    fn new(settings: &Settings, names: &Names) -> Self {
        let partition = settings
            .automation
            .management_role_arn
            .partition()
            .to_owned();
        let role = |name: &str| format!("arn:{partition}:iam::*:role/{name}");
        let member = settings.automation.member_role_name.as_str();
        let mut exempt: Vec<String> = std::iter::once(member)
            .chain(EXEMPT_ROLES.iter().copied())
            .map(role)
            .collect();
        exempt.dedup();
        let mut exempt_from_limits = exempt.clone();
        exempt_from_limits.push(role(&names.service_role));
        let footprint = Footprint {
            roles: [member, &names.service_role, &names.events_role]
                .into_iter()
                .map(role)
                .collect(),
            projects: [&names.prepare, &names.purge]
                .into_iter()
                .map(|p| format!("arn:{partition}:codebuild:*:*:project/{p}"))
                .collect(),
            rules: [
                &names.forward_builds,
                &names.forward_sign_ins,
                &names.forward_spending,
            ]
            .into_iter()
            .map(|r| format!("arn:{partition}:events:*:*:rule/{r}"))
            .collect(),
            topic: format!("arn:{partition}:sns:*:*:{}", names.budget_alerts_topic),
            budget: format!("arn:{partition}:budgets::*:budget/{}", names.budget),
        };
        Self {
            partition,
            exempt,
            exempt_from_limits,
            footprint,
        }
    }

    /// The ARN of a resource that IAM Identity Center or Control Tower keeps, from the
    /// purge's filter of it (`None` when its ARN does not carry the name the filter
    /// matches, as with Config rules: Control Tower's own controls protect those).
    fn organization_resource(
        &self,
        kind: &str,
        glob: &str,
    ) -> Option<(&'static [&'static str], String)> {
        let p = &self.partition;
        let arn = |text: String| text.replacen("arn:*:", &format!("arn:{p}:"), 1);
        Some(match kind {
            "IAMSAMLProvider" => (SAML_CHANGES, arn(glob.to_owned())),
            "CloudFormationStack" => (
                STACK_CHANGES,
                format!("arn:{p}:cloudformation:*:*:stack/{glob}"),
            ),
            "LambdaFunction" => (
                FUNCTION_CHANGES,
                format!("arn:{p}:lambda:*:*:function:{glob}"),
            ),
            "SNSTopic" | "SNSSubscription" => (TOPIC_CHANGES, arn(glob.to_owned())),
            "CloudWatchLogsLogGroup" => (LOG_CHANGES, format!("arn:{p}:logs:*:*:log-group:{glob}")),
            "EventBridgeRule" => (RULE_CHANGES, format!("arn:{p}:events:*:*:rule/{glob}")),
            "CloudTrailTrail" => (
                TRAIL_CHANGES,
                format!("arn:{p}:cloudtrail:*:*:trail/{glob}"),
            ),
            // Config's recorder and channel are not resource-scoped
            // ([`RECORDING_CHANGES`]); its rules' ARNs carry ids, not names
            _ => return None,
        })
    }
}

fn unless(principals: &[String]) -> Json {
    json!({"ArnNotLike": {"aws:PrincipalArn": principals}})
}

fn sorted(lists: &[&[&str]]) -> Vec<String> {
    let mut all: Vec<String> = lists
        .iter()
        .flat_map(|l| l.iter().map(|a| (*a).to_owned()))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The statements every guarded target gets.
fn protect(arns: &Arns) -> Vec<Statement> {
    let f = &arns.footprint;
    let p = &arns.partition;
    let log_groups = f.projects.iter().filter_map(|project| {
        let name = project.rsplit('/').next()?;
        Some(format!(
            "arn:{p}:logs:*:*:log-group:/aws/codebuild/{name}:*"
        ))
    });
    // roles named as exempt ones may not be made or changed by anyone else either
    let exempt_names = EXEMPT_ROLES
        .iter()
        .map(|name| format!("arn:{p}:iam::*:role/*{name}"));
    let mut spa_resources: Vec<String> = f
        .roles
        .iter()
        .cloned()
        .chain(exempt_names)
        .chain(f.projects.iter().cloned())
        .chain(log_groups)
        .chain(f.rules.iter().cloned())
        .chain([f.topic.clone(), f.budget.clone()])
        .collect();
    spa_resources.dedup();
    let spa = json!({
        "Sid": "ProtectSpa",
        "Effect": "Deny",
        "Action": sorted(&[ROLE_CHANGES, PROJECT_CHANGES, LOG_CHANGES, RULE_CHANGES, TOPIC_CHANGES, BUDGET_CHANGES]),
        "Resource": spa_resources,
        "Condition": unless(&arns.exempt),
    });

    let mut actions: Vec<&[&str]> = vec![ROLE_CHANGES];
    let mut resources: Vec<String> = ORGANIZATION_ROLES
        .iter()
        .map(|glob| format!("arn:{p}:iam::*:role/*{glob}"))
        .collect();
    for (kind, _, glob) in ORGANIZATION_RESOURCES {
        if let Some((changes, arn)) = arns.organization_resource(kind, glob) {
            actions.push(changes);
            if !resources.contains(&arn) {
                resources.push(arn);
            }
        }
    }
    let landing_zone = json!({
        "Sid": "ProtectIdentityCenterAndControlTower",
        "Effect": "Deny",
        "Action": sorted(&actions),
        "Resource": resources,
        "Condition": unless(&arns.exempt),
    });
    let recording = json!({
        "Sid": "KeepConfigurationRecording",
        "Effect": "Deny",
        "Action": RECORDING_CHANGES,
        "Resource": "*",
        "Condition": unless(&arns.exempt),
    });
    let leave = json!({
        "Sid": "StayInTheOrganization",
        "Effect": "Deny",
        "Action": "organizations:LeaveOrganization",
        "Resource": "*",
    });
    [spa, landing_zone, recording, leave]
        .into_iter()
        .map(|body| Statement {
            setting: "feature",
            body,
        })
        .collect()
}

/// The statements of one target's limits (none when it sets none).
fn limits(guardrails: &Guardrails, arns: &Arns) -> Vec<Statement> {
    let p = &arns.partition;
    let mut statements = Vec::new();
    let exempt = &arns.exempt_from_limits;
    if !guardrails.allowed_regions.is_empty() {
        statements.push(Statement {
            setting: "allowed_regions",
            body: json!({
                "Sid": "AllowedRegions",
                "Effect": "Deny",
                "NotAction": GLOBAL_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:RequestedRegion": guardrails.allowed_regions},
                    "ArnNotLike": {"aws:PrincipalArn": exempt},
                },
            }),
        });
    }
    if !guardrails.denied_actions.is_empty() {
        let actions: Vec<String> = guardrails
            .denied_actions
            .iter()
            .map(|a| {
                if a.contains(':') {
                    a.clone()
                } else {
                    format!("{a}:*")
                }
            })
            .collect();
        statements.push(Statement {
            setting: "denied_actions",
            body: json!({
                "Sid": "DeniedActions",
                "Effect": "Deny",
                "Action": actions,
                "Resource": "*",
                "Condition": unless(exempt),
            }),
        });
    }
    if !guardrails.denied_instance_types.is_empty() {
        statements.push(Statement {
            setting: "denied_instance_types",
            body: json!({
                "Sid": "DeniedInstanceTypes",
                "Effect": "Deny",
                "Action": ["ec2:RunInstances", "ec2:StartInstances"],
                "Resource": format!("arn:{p}:ec2:*:*:instance/*"),
                "Condition": {
                    "StringLike": {"ec2:InstanceType": guardrails.denied_instance_types},
                    "ArnNotLike": {"aws:PrincipalArn": exempt},
                },
            }),
        });
    }
    statements
}

/// Actions a frozen account keeps: reading. Everything else is denied to all but
/// spa's roles and the organization's ([`freeze_policy`]).
pub const READ_ACTIONS: &[&str] = &[
    "*:BatchGet*",
    "*:Describe*",
    "*:Get*",
    "*:List*",
    "*:Lookup*",
    "*:Search*",
    "*:View*",
    "cloudshell:*",
    "signin:*",
    "sso:*",
    "sts:*",
];

/// The freeze: one service control policy, `{env}-Freeze`, that denies every action
/// but reading ([`READ_ACTIONS`]) to every principal of the account but spa's roles
/// and the organization's ([`EXEMPT_ROLES`]). The spend guard attaches it to a frozen
/// account and `spa unfreeze` detaches it: whatever runs keeps running (its data is
/// kept), nothing new starts, nothing is changed. It has no target of its own; a
/// listed account whose spend guard is on keeps one of its policy slots for it
/// ([`policies`] refuses guardrails that would take it).
pub fn freeze_policy(settings: &Settings) -> Result<Policy, GuardrailError> {
    let env = settings.environment_identifier.as_str();
    let names = Names::new(env)?;
    let arns = Arns::new(settings, &names);
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Frozen",
            "Effect": "Deny",
            "NotAction": READ_ACTIONS,
            "Resource": "*",
            "Condition": unless(&arns.exempt_from_limits),
        }],
    });
    Ok(Policy {
        name: format!("{env}-Freeze"),
        description: format!(
            "spa {env}: the account is frozen by the spend guard: reading only, until an operator unfreezes it"
        ),
        targets: Vec::new(),
        content: document.to_string(),
    })
}

/// Policies by target: which of `policies` each unit or account gets.
pub fn by_target(policies: &[Policy]) -> BTreeMap<&str, Vec<&str>> {
    let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for policy in policies {
        for target in &policy.targets {
            map.entry(target.as_str())
                .or_default()
                .push(policy.name.as_str());
        }
    }
    map
}
