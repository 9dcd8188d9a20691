//! The management-account stack: the role spa assumes there (Organizations read and
//! account tags, Cost Explorer read, member roles), trusting only the functions that
//! need it, the rule that forwards Organizations events from `us-east-1` to the
//! engine's bus, and the guardrails: the service control policies of
//! [`spa_core::guardrails`], attached to the units and accounts the settings guard.

use serde_json::json;
use spa_core::rules::{Function, automation_rules};
use spa_core::settings::Settings;

use super::functions::{Grant, deployed};
use super::iam::{ANY_RESOURCE_ACTIONS, PolicyDocument, Statement};
use super::template::{Parameter, Resource, Template, att, r, sub, tag_list};
use super::{Names, ORGANIZATIONS_REGION, SynthError, SynthOptions};

/// The Organizations calls that name an account, unit or root of the organization.
const TREE_ACTIONS: [&str; 6] = [
    "organizations:DescribeAccount",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListTagsForResource",
];

/// The ARN of the engine's bus, as the management stack names it.
pub fn engine_bus_arn(settings: &Settings, names: &Names) -> String {
    format!(
        "arn:${{AWS::Partition}}:events:{}:{}:event-bus/{}",
        settings.automation.region.as_str(),
        settings.automation.account_id.as_str(),
        names.bus
    )
}

/// The management-account stack.
pub fn management(
    settings: &Settings,
    names: &Names,
    options: SynthOptions,
) -> Result<Template, SynthError> {
    let env = &names.environment;
    let automation = settings.automation.account_id.as_str();
    let tags = super::automation::tags(settings);
    let mut t = Template::new(format!(
        "spa {env}: the role spa assumes in the management account, and the forwarding of Organizations events (deploy in {ORGANIZATIONS_REGION})"
    ));
    t.parameters.insert(
        "OrganizationId".into(),
        Parameter::string("The id of the AWS Organization").pattern(
            "^o-[a-z0-9]{10,32}$",
            "an organization id such as o-a1b2c3d4e5",
        ),
    );
    t.rules.insert(
        "OrganizationsRegion".into(),
        json!({"Assertions": [{
            "Assert": {"Fn::Equals": [r("AWS::Region"), ORGANIZATIONS_REGION]},
            "AssertDescription": format!("Organizations events are emitted in {ORGANIZATIONS_REGION}: deploy this stack there"),
        }]}),
    );

    let trusted: Vec<serde_json::Value> = deployed(settings, options.upcoming)
        .iter()
        .filter(|s| s.grants.contains(&Grant::ManagementRole))
        .map(|s| {
            sub(format!(
                "arn:${{AWS::Partition}}:iam::{automation}:role/{env}-{}",
                s.name
            ))
        })
        .collect();
    let trust = PolicyDocument::new(vec![
        Statement::allow(&["sts:AssumeRole"], Vec::new())
            .to(json!({"AWS": sub(format!("arn:${{AWS::Partition}}:iam::{automation}:root"))}))
            .when(json!({"ArnEquals": {"aws:PrincipalArn": trusted}})),
    ]);
    let org = |kind: &str| {
        sub(format!(
            "arn:${{AWS::Partition}}:organizations::${{AWS::AccountId}}:{kind}/${{OrganizationId}}/*"
        ))
    };
    let any: Vec<&str> = ANY_RESOURCE_ACTIONS.iter().map(|(a, _)| *a).collect();
    let member_roles = member_role_statements(settings);
    let policy = PolicyDocument::new(
        vec![
            Statement::allow(&any, vec![json!("*")]).sid("ActionsWithoutResources"),
            Statement::allow(&TREE_ACTIONS, vec![org("account"), org("ou"), org("root")])
                .sid("ReadTheTree"),
            Statement::allow(
                &["organizations:TagResource", "organizations:UntagResource"],
                vec![org("account")],
            )
            .sid("TagAccounts"),
            // the spend guard freezes an account: the freeze policy, attached to it alone
            Statement::allow(
                &["organizations:AttachPolicy", "organizations:DetachPolicy"],
                vec![
                    org("account"),
                    sub(
                        "arn:${AWS::Partition}:organizations::${AWS::AccountId}:policy/${OrganizationId}/service_control_policy/*".to_owned(),
                    ),
                ],
            )
            .sid("FreezeAccounts"),
            // `spa close`: after its last purge, an account is closed or parked in the
            // suspended unit (a command only the operator sends: see the threat model)
            Statement::allow(
                &["organizations:CloseAccount", "organizations:MoveAccount"],
                vec![org("account"), org("ou"), org("root")],
            )
            .sid("CloseOrParkAccounts"),
            // the sweeper drains what the forwarding rule could not deliver
            Statement::allow(
                &["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                vec![att("ForwardDeadLetters", "Arn")],
            )
            .sid("DrainForwardDeadLetters"),
        ]
        .into_iter()
        .chain(member_roles)
        .collect(),
    );
    t.add(
        "ManagementRole",
        Resource::raw(
            "AWS::IAM::Role",
            json!({
                "RoleName": names.management_role,
                "Description": format!("spa {env}: read the organization, tag accounts, read costs, reach member roles"),
                "AssumeRolePolicyDocument": trust,
                "MaxSessionDuration": 3600,
                "Policies": [{"PolicyName": "spa", "PolicyDocument": policy}],
                "Tags": tag_list(&tags),
            }),
        ),
    )?;

    // the internet-facing function reads the tree through a role that can do nothing else
    let readers: Vec<serde_json::Value> = deployed(settings, options.upcoming)
        .iter()
        .filter(|s| s.grants.contains(&Grant::OrganizationReader))
        .map(|s| {
            sub(format!(
                "arn:${{AWS::Partition}}:iam::{automation}:role/{env}-{}",
                s.name
            ))
        })
        .collect();
    if !readers.is_empty() {
        t.add(
            "OrganizationReaderRole",
            Resource::raw(
                "AWS::IAM::Role",
                json!({
                    "RoleName": spa_core::rules::organization_reader_role_name(settings),
                    "Description": format!("spa {env}: read the organization's tree and tags, nothing else"),
                    "AssumeRolePolicyDocument": PolicyDocument::new(vec![
                        Statement::allow(&["sts:AssumeRole"], Vec::new())
                            .to(json!({"AWS": sub(format!("arn:${{AWS::Partition}}:iam::{automation}:root"))}))
                            .when(json!({"ArnEquals": {"aws:PrincipalArn": readers}})),
                    ]),
                    "MaxSessionDuration": 3600,
                    "Policies": [{"PolicyName": "spa", "PolicyDocument": PolicyDocument::new(vec![
                        Statement::allow(&["organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListRoots"], vec![json!("*")])
                            .sid("TheOrganization"),
                        Statement::allow(&TREE_ACTIONS, vec![org("account"), org("ou"), org("root")])
                            .sid("ReadTheTree"),
                    ])}],
                    "Tags": tag_list(&tags),
                }),
            ),
        )?;
    }

    let bus = engine_bus_arn(settings, names);
    t.add(
        "ForwardRole",
        Resource::raw(
            "AWS::IAM::Role",
            json!({
                "RoleName": format!("{env}-ForwardOrganizationEvents"),
                "Description": "EventBridge: puts Organizations events on spa's bus",
                "AssumeRolePolicyDocument": PolicyDocument::trust_service(
                    "events.amazonaws.com",
                    Some(json!({"StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}})),
                ),
                "Policies": [{"PolicyName": "spa", "PolicyDocument": PolicyDocument::new(vec![
                    Statement::allow(&["events:PutEvents"], vec![sub(bus.clone())]).sid("EngineBus"),
                ])}],
                "Tags": tag_list(&tags),
            }),
        ),
    )?;
    t.add(
        "ForwardDeadLetters",
        Resource::raw(
            "AWS::SQS::Queue",
            json!({
                "QueueName": spa_core::rules::forward_dead_letter_queue(env),
                "MessageRetentionPeriod": 1_209_600,
                "SqsManagedSseEnabled": true,
                "Tags": tag_list(&tags),
            }),
        ),
    )?;
    let pattern = automation_rules(env, automation)
        .into_iter()
        .find(|rule| rule.target == Function::AccountEvents)
        .map(|rule| rule.pattern)
        .unwrap_or_default();
    t.add(
        "ForwardOrganizationEvents",
        Resource::raw(
            "AWS::Events::Rule",
            json!({
                "Name": format!("{env}-ForwardOrganizationEvents"),
                "Description": "Organizations events spa reacts to, to the engine's bus in the automation account",
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{
                    "Id": "engine-bus",
                    "Arn": sub(bus),
                    "RoleArn": att("ForwardRole", "Arn"),
                    "DeadLetterConfig": {"Arn": att("ForwardDeadLetters", "Arn")},
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400},
                }],
            }),
        ),
    )?;
    t.add(
        "ForwardDeadLettersPolicy",
        Resource::raw(
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [r("ForwardDeadLetters")],
                "PolicyDocument": PolicyDocument::new(vec![
                    Statement::allow(&["sqs:SendMessage"], vec![att("ForwardDeadLetters", "Arn")])
                        .sid("RuleDeadLetters")
                        .to(json!({"Service": "events.amazonaws.com"}))
                        .when(json!({"ArnEquals": {"aws:SourceArn": att("ForwardOrganizationEvents", "Arn")}})),
                ]),
            }),
        ),
    )?;
    guardrails(&mut t, settings, &tags)?;
    t.output(
        "ManagementRoleArn",
        "automation.management_role_arn",
        att("ManagementRole", "Arn"),
    );
    Ok(t)
}

/// Listed accounts named one by one in the management role's policy, at most: past
/// that, the role may reach the member role in every account of the organization (an
/// IAM role's inline policies hold 10,240 characters).
pub const MAX_LISTED_MEMBER_ACCOUNTS: usize = 100;

/// Where the management role may assume the member role: in the accounts under the
/// listed units (`aws:ResourceOrgPaths`), and in the listed accounts, wherever they are.
/// Never elsewhere in the organization, but with more listed accounts than
/// [`MAX_LISTED_MEMBER_ACCOUNTS`], where the organization is the bound.
pub fn member_role_statements(settings: &Settings) -> Vec<Statement> {
    let member = settings.automation.member_role_name.as_str();
    let in_org = json!({"StringEquals": {"aws:ResourceOrgID": r("OrganizationId")}});
    let accounts = &settings.accounts;
    if accounts.len() > MAX_LISTED_MEMBER_ACCOUNTS {
        return vec![
            Statement::allow(
                &["sts:AssumeRole"],
                vec![sub(format!("arn:${{AWS::Partition}}:iam::*:role/{member}"))],
            )
            .sid("MemberRoles")
            .when(in_org),
        ];
    }
    let mut statements = Vec::new();
    let paths: Vec<serde_json::Value> = settings
        .organizational_units
        .iter()
        .map(|unit| {
            let id = unit.identifier.as_str();
            // the root is the first step of every path, a unit one further down
            let pattern = if id.starts_with("r-") {
                format!("${{OrganizationId}}/{id}/*")
            } else {
                format!("${{OrganizationId}}/*/{id}/*")
            };
            sub(pattern)
        })
        .collect();
    if !paths.is_empty() {
        statements.push(
            Statement::allow(
                &["sts:AssumeRole"],
                vec![sub(format!("arn:${{AWS::Partition}}:iam::*:role/{member}"))],
            )
            .sid("MemberRolesInManagedUnits")
            .when(json!({
                "StringEquals": {"aws:ResourceOrgID": r("OrganizationId")},
                "ForAnyValue:StringLike": {"aws:ResourceOrgPaths": paths},
            })),
        );
    }
    if !accounts.is_empty() {
        let roles = accounts
            .iter()
            .map(|a| {
                sub(format!(
                    "arn:${{AWS::Partition}}:iam::{}:role/{member}",
                    a.identifier.as_str()
                ))
            })
            .collect();
        statements.push(
            Statement::allow(&["sts:AssumeRole"], roles)
                .sid("MemberRolesOfListedAccounts")
                .when(in_org),
        );
    }
    statements
}

/// One `AWS::Organizations::Policy` per guardrail policy, attached to its targets. The
/// content is the minified text the size limit is counted on.
fn guardrails(
    t: &mut Template,
    settings: &Settings,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), SynthError> {
    let policies = spa_core::guardrails::policies(settings).map_err(SynthError::Guardrails)?;
    for policy in policies {
        let id: String = policy
            .name
            .strip_prefix(settings.environment_identifier.as_str())
            .unwrap_or(&policy.name)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| !part.is_empty())
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        t.add(
            id,
            Resource::raw(
                "AWS::Organizations::Policy",
                json!({
                    "Name": policy.name,
                    "Description": policy.description,
                    "Type": "SERVICE_CONTROL_POLICY",
                    "Content": policy.content,
                    "TargetIds": policy.targets,
                    "Tags": tag_list(tags),
                }),
            ),
        )?;
    }
    Ok(())
}
