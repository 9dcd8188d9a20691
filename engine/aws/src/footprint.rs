//! Ensures the member footprint ([`Footprint`]) in a member account, idempotently:
//! reads first, and writes only what is missing or differs, so that a footprint that
//! is already in place costs read calls only.
//!
//! - `<env>-CodeBuildRole`: trusted by `codebuild.amazonaws.com`, with the AWS-managed
//!   `AdministratorAccess` policy. The purge runs aws-nuke, which lists and deletes
//!   every resource type it knows in every purged region: a hand-written policy would
//!   be `*:*` under another name, and would lag behind aws-nuke's resource list
//!   (a purge that cannot delete leaves costs behind). The blast radius is bounded by
//!   the account (a sandbox), by the trust (CodeBuild only, in that account), by the
//!   organization's SCPs, and by the aws-nuke blocklist and filters spa generates.
//!   The preparation shares the role: it changes account-wide settings (password
//!   policy, public access block, EBS encryption, alias).
//! - `<env>-EventsToEngine`: trusted by `events.amazonaws.com`, with one inline policy
//!   `SpaPutEventsOnEngineBus` that allows `events:PutEvents` on the engine's bus only.
//! - the two CodeBuild projects: no source, inline buildspec, Linux standard image,
//!   small compute, created or updated when the buildspec, variables, role, timeout or
//!   image differ; in the region of the member configuration (the automation region).
//! - the forwarding rules, in each of their regions, with one target (`spa-engine-bus`):
//!   the engine's bus, through the events role.

use std::collections::BTreeMap;

use futures_util::future::join_all;

use super::config::{AwsConfig, ROLE_PROPAGATION};
use aws_sdk_codebuild::types::{
    ArtifactsType, ComputeType, EnvironmentType, EnvironmentVariable, EnvironmentVariableType,
    ProjectArtifacts, ProjectEnvironment, ProjectSource, SourceType,
};
use aws_sdk_eventbridge::types::{RuleState, Target};
use serde_json::{Value as Json, json};

use super::error::{classify, port_error};
use spa_core::events::AccountId;
use spa_core::footprint::{Footprint, ForwardingRule, Project};
use spa_usecases::ports::PortError;

/// The image of the builds: CodeBuild's Ubuntu standard image (AWS CLI v2, curl, tar).
pub const IMAGE: &str = "aws/codebuild/standard:7.0";
/// The AWS-managed policy of the CodeBuild role (see the module documentation).
pub const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
/// The inline policy of the events role.
pub const PUT_EVENTS_POLICY: &str = "SpaPutEventsOnEngineBus";
/// The id of the target of every forwarding rule.
pub const TARGET_ID: &str = "spa-engine-bus";

/// What [`ensure`] did: one line per write, empty when all was in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// `created role X`, `updated project Y`, ...
    pub actions: Vec<String>,
}

impl Changes {
    /// Whether nothing had to be written.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn push(&mut self, action: String) {
        tracing::info!(action = %action, "member footprint");
        self.actions.push(action);
    }

    /// Adds what writes made side by side did, each done or not; the first failure.
    fn gather(&mut self, done: Vec<(Result<(), PortError>, Changes)>) -> Result<(), PortError> {
        let mut failed = None;
        for (result, changes) in done {
            self.actions.extend(changes.actions);
            if let Err(error) = result {
                failed = failed.or(Some(error));
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// Ensures the footprint in the member account of `member` (credentials of the member
/// role, region of automation): the roles, the projects (which name the service
/// role) and the rules (whose targets name the events role).
///
/// What does not depend on another write goes at once. Beside the roles: the read of
/// the projects, and each rule in each region read and put (a rule names no role);
/// once the roles are there: the projects created or updated, each beside the other,
/// and the rules' targets. On-boarding waits for the longest chain of calls (4 on a
/// new account: `GetRole`, `CreateRole`, `AttachRolePolicy`, then `CreateProject`),
/// not for their sum (22). Every call is idempotent and the order AWS needs is kept (a
/// role before the project or target that names it, a rule before its target), so a
/// failure, or a kill, at any call leaves what was written in place and the next
/// delivery ensures what is left. The changes are told in a fixed order (roles,
/// projects, rules), whichever call ended first.
pub async fn ensure(
    member: &AwsConfig,
    account: &AccountId,
    footprint: &Footprint,
) -> Result<Changes, PortError> {
    let codebuild = member.codebuild();
    let mut changes = Changes::default();
    let each_rule = rule_regions(footprint)
        .into_iter()
        .map(|(rule, region)| async move {
            let events = member.eventbridge_in(region);
            let mut changes = Changes::default();
            let put = put_rule(&events, rule, region, &mut changes).await;
            (rule, region, events, put, changes)
        });
    let (roles, found, rules) = tokio::join!(
        ensure_roles(member, account, footprint, &mut changes),
        read_projects(&codebuild, footprint),
        join_all(each_rule),
    );
    let mut rule_changes: Vec<Changes> = Vec::new();
    let mut failed = None;
    let mut put = Vec::new();
    for (rule, region, events, existing, changes) in rules {
        match existing {
            Ok(existing) => put.push((rule, region, events, existing, rule_changes.len())),
            Err(error) => failed = failed.or(Some(error)),
        }
        rule_changes.push(changes);
    }
    let (roles, found) = match (roles, found) {
        (Ok(roles), Ok(found)) => (roles, found),
        (Err(error), _) | (_, Err(error)) => {
            rule_changes
                .into_iter()
                .for_each(|c| changes.actions.extend(c.actions));
            return Err(error);
        }
    };
    let mut projects = Changes::default();
    let targets = put.iter().map(|(rule, region, events, existing, at)| {
        let roles = &roles;
        async move {
            let mut changes = Changes::default();
            let role_arn = events_role_arn(roles, rule);
            let set = match role_arn {
                Ok(role_arn) => {
                    put_target(
                        events,
                        rule,
                        role_arn,
                        region,
                        existing.as_deref(),
                        &mut changes,
                    )
                    .await
                }
                Err(error) => Err(error),
            };
            (*at, set, changes)
        }
    });
    let (projected, targeted) = tokio::join!(
        write_projects(&codebuild, footprint, &roles.service, &found, &mut projects),
        join_all(targets),
    );
    for (at, set, target_changes) in targeted {
        if let Some(changes) = rule_changes.get_mut(at) {
            changes.actions.extend(target_changes.actions);
        }
        if let Err(error) = set {
            failed = failed.or(Some(error));
        }
    }
    changes.actions.extend(projects.actions);
    rule_changes
        .into_iter()
        .for_each(|c| changes.actions.extend(c.actions));
    projected?;
    failed.map_or(Ok(changes), Err)
}

/// Each forwarding rule in each of its regions, in the footprint's order.
fn rule_regions(footprint: &Footprint) -> Vec<(&ForwardingRule, &str)> {
    footprint
        .rules
        .iter()
        .flat_map(|rule| {
            rule.regions
                .iter()
                .map(move |region| (rule, region.as_str()))
        })
        .collect()
}

/// The ARN of the events role a rule's target names.
fn events_role_arn<'r>(roles: &'r RoleArns, rule: &ForwardingRule) -> Result<&'r str, PortError> {
    roles
        .events
        .get(&rule.role)
        .map(String::as_str)
        .ok_or_else(|| PortError::Rejected {
            service: "iam".into(),
            action: "GetRole".into(),
            message: format!("no ARN for the events role `{}`", rule.role),
        })
}

/// The ARNs of the footprint's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArns {
    /// The CodeBuild service role.
    pub service: String,
    /// The events roles, by name.
    pub events: BTreeMap<String, String>,
}

/// Ensures the CodeBuild role and the events role(s).
pub async fn ensure_roles(
    member: &AwsConfig,
    account: &AccountId,
    footprint: &Footprint,
    changes: &mut Changes,
) -> Result<RoleArns, PortError> {
    let iam = member.iam();
    let iam = &iam;
    let service_trust = trust_policy("codebuild.amazonaws.com", account);
    let service_permissions = Permissions::Managed(ADMINISTRATOR_ACCESS);
    let mut service_changes = Changes::default();
    let service = ensure_role(
        iam,
        &footprint.service_role,
        &service_trust,
        &service_permissions,
        &mut service_changes,
    );
    // each events role beside the service role and the others
    let events_roles = footprint.events_roles().into_iter().map(|role| async move {
        let buses: Vec<&str> = footprint
            .rules
            .iter()
            .filter(|r| r.role == role)
            .map(|r| r.target_bus_arn.as_str())
            .collect();
        let mut changes = Changes::default();
        let arn = ensure_role(
            iam,
            role,
            &trust_policy("events.amazonaws.com", account),
            &Permissions::Inline(PUT_EVENTS_POLICY, put_events_policy(&buses)),
            &mut changes,
        )
        .await;
        (role, arn, changes)
    });
    let (service, events_roles) = tokio::join!(service, join_all(events_roles));
    changes.actions.extend(service_changes.actions);
    let mut events = BTreeMap::new();
    let mut failed = None;
    for (role, arn, role_changes) in events_roles {
        changes.actions.extend(role_changes.actions);
        match arn {
            Ok(arn) => {
                events.insert(role.to_owned(), arn);
            }
            Err(error) => failed = failed.or(Some(error)),
        }
    }
    let service = service?;
    match failed {
        Some(error) => Err(error),
        None => Ok(RoleArns { service, events }),
    }
}

/// Ensures the forwarding rules and their targets, in each of their regions.
pub async fn ensure_rules(
    member: &AwsConfig,
    footprint: &Footprint,
    roles: &RoleArns,
    changes: &mut Changes,
) -> Result<(), PortError> {
    let mut each = Vec::new();
    for (rule, region) in rule_regions(footprint) {
        let role_arn = events_role_arn(roles, rule)?;
        each.push(async move {
            let events = member.eventbridge_in(region);
            let mut changes = Changes::default();
            let ensured = ensure_rule(&events, rule, role_arn, region, &mut changes).await;
            (ensured, changes)
        });
    }
    changes.gather(join_all(each).await)
}

/// What a role is allowed.
enum Permissions {
    /// An AWS-managed policy, attached.
    Managed(&'static str),
    /// An inline policy: name, document.
    Inline(&'static str, Json),
}

/// A trust policy for an AWS service principal, acting for `account` only
/// (`aws:SourceAccount`: the service cannot be made to assume the role on behalf of a
/// resource of another account, the confused deputy).
pub fn trust_policy(service: &str, account: &AccountId) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account.as_str()}},
        }],
    })
}

/// The policy of the events role: `events:PutEvents` on the engine's bus(es).
pub fn put_events_policy(buses: &[&str]) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": buses,
        }],
    })
}

/// A policy document as IAM returns it (URL-encoded JSON), or plain JSON.
pub fn decode_policy(text: &str) -> Option<Json> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)?).ok())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Ensures a role, its trust and its permissions; returns its ARN.
async fn ensure_role(
    iam: &aws_sdk_iam::Client,
    name: &str,
    trust: &Json,
    permissions: &Permissions,
    changes: &mut Changes,
) -> Result<String, PortError> {
    let existing = match iam.get_role().role_name(name).send().await {
        Ok(output) => output.role().cloned(),
        Err(error) => match port_error("iam", "GetRole", name, error) {
            PortError::NotFound { .. } => None,
            other => return Err(other),
        },
    };
    let created = existing.is_none();
    let arn = match existing {
        Some(role) => {
            let current = role.assume_role_policy_document().and_then(decode_policy);
            if current.as_ref() != Some(trust) {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(trust.to_string())
                    .send()
                    .await
                    .map_err(|e| port_error("iam", "UpdateAssumeRolePolicy", name, e))?;
                changes.push(format!("updated the trust of role {name}"));
            }
            role.arn().to_owned()
        }
        None => {
            let output = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .description("spa member footprint")
                .send()
                .await
                .map_err(|e| port_error("iam", "CreateRole", name, e))?;
            changes.push(format!("created role {name}"));
            output
                .role()
                .map(|r| r.arn().to_owned())
                .ok_or_else(|| PortError::Rejected {
                    service: "iam".into(),
                    action: "CreateRole".into(),
                    message: format!("no role in the answer for `{name}`"),
                })?
        }
    };
    match permissions {
        // a role created now has no policy yet: nothing to read
        Permissions::Managed(policy) => {
            let attached = if created {
                Vec::new()
            } else {
                iam.list_attached_role_policies()
                    .role_name(name)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| port_error("iam", "ListAttachedRolePolicies", name, e))?
            };
            if !attached.iter().any(|p| p.policy_arn() == Some(policy)) {
                iam.attach_role_policy()
                    .role_name(name)
                    .policy_arn(*policy)
                    .send()
                    .await
                    // the role was just ensured: a missing entity is the policy
                    .map_err(|e| port_error("iam", "AttachRolePolicy", policy, e))?;
                changes.push(format!("attached {policy} to role {name}"));
            }
        }
        Permissions::Inline(policy, document) => {
            let current = if created {
                None
            } else {
                match iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(*policy)
                    .send()
                    .await
                {
                    Ok(output) => decode_policy(output.policy_document()),
                    Err(error) => match port_error("iam", "GetRolePolicy", name, error) {
                        PortError::NotFound { .. } => None,
                        other => return Err(other),
                    },
                }
            };
            if current.as_ref() != Some(document) {
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(*policy)
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .map_err(|e| port_error("iam", "PutRolePolicy", name, e))?;
                changes.push(format!("put policy {policy} on role {name}"));
            }
        }
    }
    Ok(arn)
}

/// The project as CodeBuild should hold it.
pub struct ProjectRequest {
    /// No source, the inline buildspec.
    pub source: ProjectSource,
    /// No artifacts.
    pub artifacts: ProjectArtifacts,
    /// Linux standard image, small, the project's variables.
    pub environment: ProjectEnvironment,
}

/// The parts of a create/update request of `project`.
pub fn project_request(project: &Project) -> Result<ProjectRequest, PortError> {
    let invalid =
        |what: &str, error: aws_smithy_types::error::operation::BuildError| PortError::Rejected {
            service: "codebuild".into(),
            action: "CreateProject".into(),
            message: format!("{what} of `{}`: {error}", project.name),
        };
    let source = ProjectSource::builder()
        .r#type(SourceType::NoSource)
        .buildspec(&project.buildspec)
        .build()
        .map_err(|e| invalid("source", e))?;
    let artifacts = ProjectArtifacts::builder()
        .r#type(ArtifactsType::NoArtifacts)
        .build()
        .map_err(|e| invalid("artifacts", e))?;
    let environment = ProjectEnvironment::builder()
        .r#type(EnvironmentType::LinuxContainer)
        .image(IMAGE)
        .compute_type(ComputeType::BuildGeneral1Small)
        .set_environment_variables(Some(variables(&project.variables)?))
        .build()
        .map_err(|e| invalid("environment", e))?;
    Ok(ProjectRequest {
        source,
        artifacts,
        environment,
    })
}

/// Plain-text CodeBuild variables.
pub fn variables(values: &BTreeMap<String, String>) -> Result<Vec<EnvironmentVariable>, PortError> {
    values
        .iter()
        .map(|(name, value)| {
            EnvironmentVariable::builder()
                .name(name)
                .value(value)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
                .map_err(|e| PortError::Rejected {
                    service: "codebuild".into(),
                    action: "EnvironmentVariable".into(),
                    message: format!("`{name}`: {e}"),
                })
        })
        .collect()
}

/// Whether a project CodeBuild holds is the one wanted.
pub fn project_matches(
    existing: &aws_sdk_codebuild::types::Project,
    wanted: &Project,
    role_arn: &str,
) -> bool {
    let source_ok = existing.source().is_some_and(|s| {
        *s.r#type() == SourceType::NoSource && s.buildspec() == Some(wanted.buildspec.as_str())
    });
    let environment_ok = existing.environment().is_some_and(|e| {
        let current: BTreeMap<&str, &str> = e
            .environment_variables()
            .iter()
            .map(|v| (v.name(), v.value()))
            .collect();
        let plain = e.environment_variables().iter().all(|v| {
            v.r#type()
                .is_none_or(|t| *t == EnvironmentVariableType::Plaintext)
        });
        let wanted_variables: BTreeMap<&str, &str> = wanted
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        *e.r#type() == EnvironmentType::LinuxContainer
            && e.image() == IMAGE
            && *e.compute_type() == ComputeType::BuildGeneral1Small
            && plain
            && current == wanted_variables
    });
    source_ok
        && environment_ok
        && existing.service_role() == Some(role_arn)
        && existing.timeout_in_minutes() == i32::try_from(wanted.timeout_minutes).ok()
}

/// Ensures the two projects: created when missing, updated when they differ from the
/// footprint ([`project_matches`]), untouched otherwise.
pub async fn ensure_projects(
    member: &AwsConfig,
    footprint: &Footprint,
    role_arn: &str,
    changes: &mut Changes,
) -> Result<(), PortError> {
    let codebuild = member.codebuild();
    let found = read_projects(&codebuild, footprint).await?;
    write_projects(&codebuild, footprint, role_arn, &found, changes).await
}

/// The footprint's projects as CodeBuild holds them (those it has).
async fn read_projects(
    codebuild: &aws_sdk_codebuild::Client,
    footprint: &Footprint,
) -> Result<Vec<aws_sdk_codebuild::types::Project>, PortError> {
    let names = [&footprint.prepare, &footprint.purge].map(|p| p.name.clone());
    let found = codebuild
        .batch_get_projects()
        .set_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| port_error("codebuild", "BatchGetProjects", &names.join(", "), e))?;
    Ok(found.projects.unwrap_or_default())
}

/// Creates or updates each project that is not as the footprint says, each beside the
/// other; the changes told in the footprint's order (preparation, purge).
async fn write_projects(
    codebuild: &aws_sdk_codebuild::Client,
    footprint: &Footprint,
    role_arn: &str,
    found: &[aws_sdk_codebuild::types::Project],
    changes: &mut Changes,
) -> Result<(), PortError> {
    let each = [&footprint.prepare, &footprint.purge].map(|project| async move {
        let existing = found
            .iter()
            .find(|p| p.name() == Some(project.name.as_str()));
        let timeout = i32::try_from(project.timeout_minutes).unwrap_or(480);
        let mut changes = Changes::default();
        let written = match existing {
            Some(existing) if project_matches(existing, project, role_arn) => Ok(()),
            Some(_) => update_project(codebuild, project, role_arn, timeout)
                .await
                .map(|()| changes.push(format!("updated project {}", project.name))),
            None => create_project(codebuild, project, role_arn, timeout)
                .await
                .map(|()| changes.push(format!("created project {}", project.name))),
        };
        (written, changes)
    });
    changes.gather(join_all(each).await)
}

/// Updates a project to what the footprint says.
async fn update_project(
    codebuild: &aws_sdk_codebuild::Client,
    project: &Project,
    role_arn: &str,
    timeout: i32,
) -> Result<(), PortError> {
    let parts = project_request(project)?;
    codebuild
        .update_project()
        .name(&project.name)
        .source(parts.source)
        .artifacts(parts.artifacts)
        .environment(parts.environment)
        .service_role(role_arn)
        .timeout_in_minutes(timeout)
        .send()
        .await
        .map(drop)
        .map_err(|e| port_error("codebuild", "UpdateProject", &project.name, e))
}

/// Creates a project; a role created moments ago may not be usable by CodeBuild yet
/// (IAM is eventually consistent): that refusal is tried again as
/// [`ROLE_PROPAGATION`] says (about half a minute).
async fn create_project(
    codebuild: &aws_sdk_codebuild::Client,
    project: &Project,
    role_arn: &str,
    timeout: i32,
) -> Result<(), PortError> {
    let create = || async {
        let parts = project_request(project)?;
        codebuild
            .create_project()
            .name(&project.name)
            .description("spa member footprint")
            .source(parts.source)
            .artifacts(parts.artifacts)
            .environment(parts.environment)
            .service_role(role_arn)
            .timeout_in_minutes(timeout)
            .send()
            .await
            .map(drop)
            .map_err(|error| port_error("codebuild", "CreateProject", &project.name, error))
    };
    ROLE_PROPAGATION
        .run_when("CreateProject", create, role_not_propagated)
        .await
}

/// CodeBuild's refusal of a service role it cannot assume yet.
fn role_not_propagated(error: &PortError) -> bool {
    matches!(error, PortError::Rejected { message, .. }
        if message.contains("not authorized to perform: sts:AssumeRole"))
}

/// Ensures one rule in one region, then its target.
async fn ensure_rule(
    events: &aws_sdk_eventbridge::Client,
    rule: &ForwardingRule,
    role_arn: &str,
    region: &str,
    changes: &mut Changes,
) -> Result<(), PortError> {
    let existing = put_rule(events, rule, region, changes).await?;
    put_target(events, rule, role_arn, region, existing.as_deref(), changes).await
}

/// Ensures the rule itself (pattern, enabled), which names no role; the targets of
/// the rule as it was, `None` when it was not there.
async fn put_rule(
    events: &aws_sdk_eventbridge::Client,
    rule: &ForwardingRule,
    region: &str,
    changes: &mut Changes,
) -> Result<Option<Vec<Target>>, PortError> {
    let wanted = decode_policy(&rule.pattern);
    let current = match events.describe_rule().name(&rule.name).send().await {
        Ok(output) => Some((
            output.event_pattern().and_then(decode_policy),
            output.state().cloned(),
        )),
        Err(error) => match port_error("events", "DescribeRule", &rule.name, error) {
            PortError::NotFound { .. } => None,
            other => return Err(other),
        },
    };
    let rule_ok = current
        .as_ref()
        .is_some_and(|(pattern, state)| *pattern == wanted && *state == Some(RuleState::Enabled));
    if !rule_ok {
        events
            .put_rule()
            .name(&rule.name)
            .event_pattern(&rule.pattern)
            .state(RuleState::Enabled)
            .description("spa: forwards events of this account to the engine's bus")
            .send()
            .await
            .map_err(|e| port_error("events", "PutRule", &rule.name, e))?;
        let verb = if current.is_some() {
            "updated"
        } else {
            "created"
        };
        changes.push(format!("{verb} rule {} in {region}", rule.name));
    }
    if current.is_none() {
        return Ok(None);
    }
    let targets = events
        .list_targets_by_rule()
        .rule(&rule.name)
        .send()
        .await
        .map_err(|e| port_error("events", "ListTargetsByRule", &rule.name, e))?;
    Ok(Some(targets.targets.unwrap_or_default()))
}

/// Ensures the target of a rule (put before): the engine's bus, through the events
/// role `role_arn`; `existing`, the rule's targets as they were (`None`: a new rule).
async fn put_target(
    events: &aws_sdk_eventbridge::Client,
    rule: &ForwardingRule,
    role_arn: &str,
    region: &str,
    existing: Option<&[Target]>,
    changes: &mut Changes,
) -> Result<(), PortError> {
    let targets_ok = existing.is_some_and(|targets| {
        targets.iter().any(|t| {
            t.id() == TARGET_ID && t.arn() == rule.target_bus_arn && t.role_arn() == Some(role_arn)
        })
    });
    if !targets_ok {
        let output = events
            .put_targets()
            .rule(&rule.name)
            .targets(target(rule, role_arn)?)
            .send()
            .await
            .map_err(|e| port_error("events", "PutTargets", &rule.name, e))?;
        if output.failed_entry_count() > 0 {
            let why: Vec<String> = output
                .failed_entries()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.error_code().unwrap_or("?"),
                        f.error_message().unwrap_or("?")
                    )
                })
                .collect();
            return Err(classify(
                "events",
                "PutTargets",
                &rule.name,
                output
                    .failed_entries()
                    .first()
                    .and_then(|f| f.error_code())
                    .unwrap_or("FailedEntry"),
                why.join("; "),
            ));
        }
        changes.push(format!("set the target of rule {} in {region}", rule.name));
    }
    Ok(())
}

/// The target of a forwarding rule: the engine's bus, through the events role.
pub fn target(rule: &ForwardingRule, role_arn: &str) -> Result<Target, PortError> {
    Target::builder()
        .id(TARGET_ID)
        .arn(&rule.target_bus_arn)
        .role_arn(role_arn)
        .build()
        .map_err(|e| PortError::Rejected {
            service: "events".into(),
            action: "PutTargets".into(),
            message: format!("target of `{}`: {e}", rule.name),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn policies_read_back_url_encoded_or_plain() {
        let account = AccountId::parse("333333333333").unwrap();
        let trust = trust_policy("codebuild.amazonaws.com", &account);
        assert_eq!(decode_policy(&trust.to_string()), Some(trust.clone()));
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "333333333333"
        );
        let plain = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22codebuild.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(decode_policy(encoded), Some(plain));
        assert_eq!(decode_policy("%zz"), None);
        assert_eq!(decode_policy("%E2%82"), None);
    }

    #[test]
    fn the_events_role_may_put_on_the_engine_bus_only() {
        let policy = put_events_policy(&["arn:aws:events:eu-west-1:123456789012:event-bus/spa"]);
        assert_eq!(policy["Statement"][0]["Action"], "events:PutEvents");
        assert_eq!(
            policy["Statement"][0]["Resource"],
            json!(["arn:aws:events:eu-west-1:123456789012:event-bus/spa"])
        );
    }

    #[test]
    fn rule_targets_carry_the_role() {
        let rule = ForwardingRule {
            name: "SpaDemo-ForwardBuilds".into(),
            pattern: "{}".into(),
            target_bus_arn: "arn:aws:events:eu-west-1:123456789012:event-bus/spa".into(),
            role: "SpaDemo-EventsToEngine".into(),
            regions: vec!["eu-west-1".into()],
        };
        let target = target(
            &rule,
            "arn:aws:iam::333333333333:role/SpaDemo-EventsToEngine",
        )
        .unwrap();
        assert_eq!(target.id(), TARGET_ID);
        assert_eq!(target.arn(), rule.target_bus_arn);
        assert_eq!(
            target.role_arn(),
            Some("arn:aws:iam::333333333333:role/SpaDemo-EventsToEngine")
        );
    }

    #[test]
    fn projects_have_no_source_and_an_inline_buildspec() {
        let project = Project {
            name: "SpaDemo-Prepare".into(),
            buildspec: "version: 0.2\n".into(),
            variables: [("A".to_owned(), "1".to_owned())].into(),
            timeout_minutes: 40,
        };
        let parts = project_request(&project).unwrap();
        assert_eq!(*parts.source.r#type(), SourceType::NoSource);
        assert_eq!(parts.source.buildspec(), Some("version: 0.2\n"));
        assert_eq!(*parts.artifacts.r#type(), ArtifactsType::NoArtifacts);
        assert_eq!(parts.environment.image(), IMAGE);
        assert_eq!(
            *parts.environment.compute_type(),
            ComputeType::BuildGeneral1Small
        );
        assert_eq!(parts.environment.environment_variables()[0].name(), "A");

        let role = "arn:aws:iam::333333333333:role/SpaDemo-CodeBuildRole";
        let existing = aws_sdk_codebuild::types::Project::builder()
            .name("SpaDemo-Prepare")
            .source(parts.source.clone())
            .environment(parts.environment.clone())
            .service_role(role)
            .timeout_in_minutes(40)
            .build();
        assert!(project_matches(&existing, &project, role));
        assert!(!project_matches(&existing, &project, "arn:other"));
        let changed = Project {
            buildspec: "version: 0.2\n# changed\n".into(),
            ..project.clone()
        };
        assert!(!project_matches(&existing, &changed, role));
        let more = Project {
            variables: [("A".to_owned(), "2".to_owned())].into(),
            ..project
        };
        assert!(!project_matches(&existing, &more, role));
    }
}
