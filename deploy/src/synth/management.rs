//! The management-account stack: the role spa assumes there (Organizations read and
//! account tags, Cost Explorer read, member roles), trusting only the functions that
//! need it, and the rule that forwards Organizations events from `us-east-1` to the
//! engine's bus.

use serde_json::json;
use spa_core::rules::{Function, automation_rules};
use spa_core::settings::Settings;

use super::functions::{Grant, deployed};
use super::iam::{ANY_RESOURCE_ACTIONS, PolicyDocument, Statement};
use super::template::{Parameter, Resource, Template, TemplateError, att, r, sub, tag_list};
use super::{Names, ORGANIZATIONS_REGION, SynthOptions};

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
) -> Result<Template, TemplateError> {
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
    let policy = PolicyDocument::new(vec![
        Statement::allow(&any, vec![json!("*")]).sid("ActionsWithoutResources"),
        Statement::allow(&TREE_ACTIONS, vec![org("account"), org("ou"), org("root")])
            .sid("ReadTheTree"),
        Statement::allow(
            &["organizations:TagResource", "organizations:UntagResource"],
            vec![org("account")],
        )
        .sid("TagAccounts"),
        Statement::allow(
            &["sts:AssumeRole"],
            vec![sub(format!(
                "arn:${{AWS::Partition}}:iam::*:role/{}",
                settings.automation.member_role_name.as_str()
            ))],
        )
        .sid("MemberRoles")
        .when(json!({"StringEquals": {"aws:ResourceOrgID": r("OrganizationId")}})),
    ]);
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
                "QueueName": super::automation::dead_letter_queue(&format!("{env}-organizations-forward")),
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
    t.output(
        "ManagementRoleArn",
        "automation.management_role_arn",
        att("ManagementRole", "Arn"),
    );
    Ok(t)
}
