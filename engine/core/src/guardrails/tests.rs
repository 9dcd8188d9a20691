#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The policies are read as AWS would evaluate them (moto cannot): a request is denied
//! when a statement's action, resource and every condition match it.

use serde_json::Value as Json;

use super::*;
use crate::settings::{MemorySources, Settings};

const BASE: &str = "environment_identifier: SpaDemo
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: rate(7 days)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
  member_role_name: SpaMember
";

fn settings(rest: &str) -> Settings {
    crate::settings::load(
        "settings.yaml",
        &format!("{BASE}{rest}"),
        &MemorySources::new(),
    )
    .unwrap()
    .settings
}

const GUARDED: &str = "defaults:
  guardrails:
    feature: enabled
organizational_units:
  - identifier: ou-ab12-sandbox1
    guardrails:
      allowed_regions: [eu-west-1, us-east-1]
      denied_actions: [sagemaker, bedrock:CreateProvisionedModelThroughput]
      denied_instance_types: [p4d.*, p5.*, '*.metal']
  - identifier: ou-ab12-datateam
    guardrails:
      allowed_regions: [eu-west-1, us-east-1]
      denied_actions: [sagemaker, bedrock:CreateProvisionedModelThroughput]
      denied_instance_types: [p4d.*, p5.*, '*.metal']
  - identifier: ou-ab12-free
  - identifier: ou-ab12-off
    guardrails:
      feature: disabled
accounts:
  - identifier: '111111111111'
    guardrails:
      denied_instance_types: ['*']
  - identifier: '222222222222'
";

/// A request as an SCP sees it.
struct Request<'a> {
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
    region: &'a str,
    instance_type: Option<&'a str>,
}

const HOLDER: &str = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123";
const MEMBER: &str = "arn:aws:iam::111111111111:role/SpaMember";
const CODEBUILD: &str = "arn:aws:iam::111111111111:role/SpaDemo-CodeBuildRole";

fn holder<'a>(action: &'a str, resource: &'a str) -> Request<'a> {
    Request {
        principal: HOLDER,
        action,
        resource,
        region: "eu-west-1",
        instance_type: None,
    }
}

/// IAM's matching: `*` any run of characters, `?` one, case-insensitive for actions.
fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if fold {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&p, &t)
}

fn list(value: &Json) -> Vec<&str> {
    match value {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_denies(statement: &Json, request: &Request<'_>) -> bool {
    assert_eq!(statement["Effect"], "Deny", "spa's guardrails only deny");
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), None) => list(actions).iter().any(|a| glob(a, request.action, true)),
        (None, Some(actions)) => !list(actions).iter().any(|a| glob(a, request.action, true)),
        _ => panic!("a statement has Action or NotAction: {statement}"),
    };
    let resource = list(&statement["Resource"])
        .iter()
        .any(|r| glob(r, request.resource, false));
    let conditions = statement
        .get("Condition")
        .and_then(Json::as_object)
        .map(|conditions| {
            conditions.iter().all(|(operator, keys)| {
                keys.as_object().unwrap().iter().all(|(key, values)| {
                    let value = match key.as_str() {
                        "aws:PrincipalArn" => Some(request.principal),
                        "aws:RequestedRegion" => Some(request.region),
                        "ec2:InstanceType" => request.instance_type,
                        other => panic!("a condition key the tests do not know: {other}"),
                    };
                    let values = list(values);
                    match (operator.as_str(), value) {
                        ("ArnNotLike", Some(v)) => !values.iter().any(|p| glob(p, v, false)),
                        ("StringNotEquals", Some(v)) => !values.contains(&v),
                        ("StringLike", Some(v)) => values.iter().any(|p| glob(p, v, false)),
                        // a key absent from the request: only the negated operators match
                        ("ArnNotLike" | "StringNotEquals", None) => true,
                        (_, None) => false,
                        (other, _) => panic!("an operator the tests do not know: {other}"),
                    }
                })
            })
        })
        .unwrap_or(true);
    action && resource && conditions
}

/// Whether the policies attached to `target` deny `request`.
fn denied(policies: &[Policy], target: &str, request: &Request<'_>) -> bool {
    policies
        .iter()
        .filter(|p| p.targets.iter().any(|t| t == target))
        .flat_map(|p| {
            let document: Json = serde_json::from_str(&p.content).unwrap();
            document["Statement"].as_array().unwrap().clone()
        })
        .any(|statement| statement_denies(&statement, request))
}

#[test]
fn guarded_units_and_accounts_get_the_protection_and_their_limits() {
    let policies = policies(&settings(GUARDED)).unwrap();
    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SpaDemo-Guardrails",
            "SpaDemo-Limits-ou-ab12-sandbox1",
            "SpaDemo-Limits-111111111111"
        ]
    );
    // the protection holds every guarded unit and the account with guardrails of its
    // own; `off` is disabled, `222222222222` relies on its unit
    assert_eq!(
        policies[0].targets,
        [
            "ou-ab12-sandbox1",
            "ou-ab12-datateam",
            "ou-ab12-free",
            "111111111111"
        ]
    );
    // the same limits are one policy
    assert_eq!(
        policies[1].targets,
        ["ou-ab12-sandbox1", "ou-ab12-datateam"]
    );
    for policy in &policies {
        assert!(
            policy.content.len() <= MAX_POLICY_CHARACTERS,
            "{}",
            policy.name
        );
        assert!(
            !policy.content.contains(' '),
            "minified: {}",
            policy.content
        );
        let document: Json = serde_json::from_str(&policy.content).unwrap();
        assert_eq!(document["Version"], "2012-10-17");
    }
    // the protection of the shipped names fits one policy, with room for longer names
    assert!(
        policies[0].content.len() < 4_500,
        "{}",
        policies[0].content.len()
    );
    let per_target = by_target(&policies);
    assert_eq!(per_target["ou-ab12-free"], ["SpaDemo-Guardrails"]);
    assert_eq!(per_target["111111111111"].len(), 2);
}

#[test]
fn no_guardrails_no_policy() {
    assert_eq!(
        policies(&settings(
            "organizational_units:\n  - identifier: ou-ab12-x\n"
        ))
        .unwrap(),
        []
    );
}

#[test]
fn a_holder_cannot_change_spa_footprint_but_spa_can() {
    let policies = policies(&settings(GUARDED)).unwrap();
    let attacks = [
        (
            "codebuild:UpdateProject",
            "arn:aws:codebuild:eu-west-1:111111111111:project/SpaDemo-Purge",
        ),
        (
            "codebuild:StartBuild",
            "arn:aws:codebuild:eu-west-1:111111111111:project/SpaDemo-Prepare",
        ),
        (
            "codebuild:DeleteProject",
            "arn:aws:codebuild:eu-west-1:111111111111:project/SpaDemo-Purge",
        ),
        (
            "logs:DeleteLogGroup",
            "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/codebuild/SpaDemo-Purge:*",
        ),
        (
            "iam:UpdateAssumeRolePolicy",
            "arn:aws:iam::111111111111:role/SpaMember",
        ),
        (
            "iam:DeleteRolePolicy",
            "arn:aws:iam::111111111111:role/SpaDemo-CodeBuildRole",
        ),
        (
            "iam:PassRole",
            "arn:aws:iam::111111111111:role/SpaDemo-CodeBuildRole",
        ),
        (
            "iam:AttachRolePolicy",
            "arn:aws:iam::111111111111:role/SpaDemo-EventsToEngine",
        ),
        (
            "events:DisableRule",
            "arn:aws:events:us-east-1:111111111111:rule/SpaDemo-ForwardSignIns",
        ),
        (
            "events:RemoveTargets",
            "arn:aws:events:eu-west-1:111111111111:rule/SpaDemo-ForwardBuilds",
        ),
        (
            "sns:Unsubscribe",
            "arn:aws:sns:eu-west-1:111111111111:SpaDemo-BudgetAlerts",
        ),
        (
            "sns:Publish",
            "arn:aws:sns:eu-west-1:111111111111:SpaDemo-BudgetAlerts",
        ),
        (
            "budgets:ModifyBudget",
            "arn:aws:budgets::111111111111:budget/SpaDemo-Budget",
        ),
        ("organizations:LeaveOrganization", "*"),
        // a role under a name the guardrails exempt would escape them
        (
            "iam:CreateRole",
            "arn:aws:iam::111111111111:role/stacksets-exec-mine",
        ),
        (
            "iam:CreateRole",
            "arn:aws:iam::111111111111:role/tools/AWSControlTowerExecution",
        ),
        // Identity Center and Control Tower
        (
            "iam:DeleteSAMLProvider",
            "arn:aws:iam::111111111111:saml-provider/AWSSSO_0123_DO_NOT_DELETE",
        ),
        (
            "iam:DeleteRole",
            "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ReadOnly_1",
        ),
        (
            "iam:UpdateAssumeRolePolicy",
            "arn:aws:iam::111111111111:role/AWSControlTowerExecution",
        ),
        (
            "cloudformation:DeleteStack",
            "arn:aws:cloudformation:eu-west-1:111111111111:stack/StackSet-AWSControlTowerBP-BASELINE-CONFIG-1/x",
        ),
        ("config:StopConfigurationRecorder", "*"),
        (
            "lambda:DeleteFunction",
            "arn:aws:lambda:eu-west-1:111111111111:function:aws-controltower-NotificationForwarder",
        ),
        (
            "cloudtrail:StopLogging",
            "arn:aws:cloudtrail:eu-west-1:111111111111:trail/aws-controltower-BaselineCloudTrail",
        ),
    ];
    for (action, resource) in attacks {
        assert!(
            denied(&policies, "ou-ab12-free", &holder(action, resource)),
            "a holder may {action} on {resource}"
        );
        if action != "organizations:LeaveOrganization" && action != "iam:CreateRole" {
            let spa = Request {
                principal: MEMBER,
                ..holder(action, resource)
            };
            assert!(
                !denied(&policies, "ou-ab12-free", &spa),
                "spa may not {action} on {resource}"
            );
        }
    }
    // the holder's own work is untouched
    for (action, resource) in [
        ("iam:CreateRole", "arn:aws:iam::111111111111:role/my-app"),
        ("iam:PassRole", "arn:aws:iam::111111111111:role/my-app"),
        (
            "codebuild:StartBuild",
            "arn:aws:codebuild:eu-west-1:111111111111:project/my-build",
        ),
        ("sns:Publish", "arn:aws:sns:eu-west-1:111111111111:my-topic"),
        (
            "ec2:RunInstances",
            "arn:aws:ec2:eu-west-1:111111111111:instance/*",
        ),
        (
            "codebuild:BatchGetProjects",
            "arn:aws:codebuild:eu-west-1:111111111111:project/SpaDemo-Purge",
        ),
    ] {
        assert!(
            !denied(&policies, "ou-ab12-free", &holder(action, resource)),
            "a holder may not {action} on {resource}"
        );
    }
}

#[test]
fn the_holder_role_is_not_exempt() {
    let policies = policies(&settings(GUARDED)).unwrap();
    for policy in &policies {
        assert!(
            !policy.content.contains("AWSReservedSSO_*\"]"),
            "{}",
            policy.content
        );
        let document: Json = serde_json::from_str(&policy.content).unwrap();
        for statement in document["Statement"].as_array().unwrap() {
            let exempt = &statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"];
            for pattern in list(exempt) {
                assert!(
                    !glob(pattern, HOLDER, false),
                    "{pattern} exempts the holder"
                );
            }
        }
    }
}

#[test]
fn limits_hold_holders_and_leave_spa_free() {
    let policies = policies(&settings(GUARDED)).unwrap();
    let run = |principal, region, instance_type| Request {
        principal,
        action: "ec2:RunInstances",
        resource: "arn:aws:ec2:eu-west-1:111111111111:instance/*",
        region,
        instance_type: Some(instance_type),
    };
    let unit = "ou-ab12-sandbox1";
    assert!(denied(
        &policies,
        unit,
        &run(HOLDER, "eu-west-1", "p4d.24xlarge")
    ));
    assert!(denied(
        &policies,
        unit,
        &run(HOLDER, "eu-west-1", "c5.metal")
    ));
    assert!(!denied(
        &policies,
        unit,
        &run(HOLDER, "eu-west-1", "t3.micro")
    ));
    assert!(
        denied(&policies, unit, &run(HOLDER, "us-west-2", "t3.micro")),
        "outside the allowed regions"
    );
    assert!(
        !denied(
            &policies,
            "ou-ab12-free",
            &run(HOLDER, "us-west-2", "p4d.24xlarge")
        ),
        "a unit without limits"
    );
    assert!(
        !denied(&policies, unit, &run(CODEBUILD, "us-west-2", "t3.micro")),
        "the purge reaches every region"
    );
    // global services answer in us-east-1 whatever the list
    assert!(!denied(
        &policies,
        unit,
        &Request {
            action: "iam:CreateRole",
            region: "us-east-1",
            ..holder("iam:CreateRole", "arn:aws:iam::111111111111:role/app")
        }
    ));
    assert!(denied(
        &policies,
        unit,
        &holder(
            "sagemaker:CreateNotebookInstance",
            "arn:aws:sagemaker:eu-west-1:111111111111:notebook-instance/x"
        )
    ));
    assert!(denied(
        &policies,
        unit,
        &holder("bedrock:CreateProvisionedModelThroughput", "*")
    ));
    assert!(!denied(
        &policies,
        unit,
        &holder("bedrock:InvokeModel", "*")
    ));
    // the account's own limits: no instance at all, in any region
    assert!(denied(
        &policies,
        "111111111111",
        &run(HOLDER, "us-west-2", "t3.micro")
    ));
}

#[test]
fn the_exempt_roles_are_spa_and_the_organization() {
    let policies = policies(&settings(GUARDED)).unwrap();
    let protect: Json = serde_json::from_str(&policies[0].content).unwrap();
    let exempt = list(&protect["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
    assert_eq!(
        exempt,
        [
            "arn:aws:iam::*:role/SpaMember",
            "arn:aws:iam::*:role/AWSControlTowerExecution",
            "arn:aws:iam::*:role/OrganizationAccountAccessRole",
            "arn:aws:iam::*:role/stacksets-exec-*"
        ]
    );
}

#[test]
fn every_kept_organization_resource_is_protected_or_says_why_not() {
    let s = settings(GUARDED);
    let names = Names::new("SpaDemo").unwrap();
    let arns = Arns::new(&s, &names);
    for (kind, _, glob) in ORGANIZATION_RESOURCES {
        let protected = arns.organization_resource(kind, glob).is_some();
        let why_not = kind.starts_with("ConfigService");
        assert!(
            protected || why_not,
            "{kind} is kept by the purge but not protected"
        );
    }
}

#[test]
fn a_china_or_govcloud_deployment_names_its_partition() {
    let text = GUARDED.to_owned();
    let s = crate::settings::load(
        "settings.yaml",
        &format!(
            "{}{text}",
            BASE.replace(
                "arn:aws:iam::222222222222",
                "arn:aws-us-gov:iam::222222222222"
            )
        ),
        &MemorySources::new(),
    )
    .unwrap()
    .settings;
    let policies = policies(&s).unwrap();
    assert!(policies[0].content.contains("arn:aws-us-gov:codebuild"));
    assert!(!policies[0].content.contains("arn:aws:"));
}

#[test]
fn a_statement_too_large_names_its_setting_and_target() {
    let actions: Vec<String> = (0..400)
        .map(|n| format!("service{n}:DoSomething"))
        .collect();
    let text = format!(
        "organizational_units:\n  - identifier: ou-ab12-big\n    guardrails:\n      feature: enabled\n      denied_actions: [{}]\n",
        actions.join(", ")
    );
    let errors = policies(&settings(&text)).unwrap_err();
    assert_eq!(errors.len(), 1);
    let message = errors[0].to_string();
    assert!(
        message.contains("`ou-ab12-big`")
            && message.contains("`guardrails.denied_actions`")
            && message.contains("5120"),
        "{message}"
    );
}

#[test]
fn statements_fill_several_policies_when_one_is_not_enough() {
    // three limits of about 3,000 characters each: more than one policy, fewer than four
    let actions: Vec<String> = (0..100).map(|n| format!("service{n}:Do*")).collect();
    let types: Vec<String> = (0..150).map(|n| format!("x{n}.*")).collect();
    let regions: Vec<String> = (1..=150).map(|n| format!("xx-region-{n}")).collect();
    let text = format!(
        "organizational_units:\n  - identifier: ou-ab12-big\n    guardrails:\n      feature: enabled\n      allowed_regions: [{}]\n      denied_actions: [{}]\n      denied_instance_types: [{}]\n",
        regions.join(", "),
        actions.join(", "),
        types.join(", ")
    );
    let policies = policies(&settings(&text)).unwrap();
    let limits: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.name.contains("Limits"))
        .collect();
    assert!(
        limits.len() >= 2,
        "{:?}",
        policies
            .iter()
            .map(|p| (&p.name, p.content.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(limits[1].name, "SpaDemo-Limits-ou-ab12-big-2");
    assert!(
        policies
            .iter()
            .all(|p| p.content.len() <= MAX_POLICY_CHARACTERS)
    );
}

#[test]
fn a_target_with_too_many_policies_is_refused() {
    let statement = |n: usize| Statement {
        setting: "denied_actions",
        body: serde_json::json!({"Sid": "x".repeat(n)}),
    };
    let chunks = pack(&[
        statement(4_000),
        statement(4_000),
        statement(4_000),
        statement(4_000),
        statement(4_000),
    ])
    .unwrap();
    assert_eq!(
        chunks.len(),
        5,
        "five statements of 4,000 characters: five policies"
    );
    assert!(chunks.len() > SPA_POLICIES_PER_TARGET);
}

#[test]
fn a_bad_action_or_instance_type_is_a_positioned_error() {
    let text = format!(
        "{BASE}organizational_units:\n  - identifier: ou-ab12-x\n    guardrails:\n      denied_actions: [Sage Maker]\n      denied_instance_types: [p4d]\n"
    );
    let errors = crate::settings::load("settings.yaml", &text, &MemorySources::new())
        .unwrap_err()
        .errors;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].contains("organizational_units[0].guardrails.denied_actions[0]")
            && shown[0].contains("a service such as `sagemaker`"),
        "{shown:?}"
    );
    assert!(
        shown[1].contains("denied_instance_types[0]") && shown[1].contains("`p4d.24xlarge`"),
        "{shown:?}"
    );
}

#[test]
fn a_frozen_account_reads_and_nothing_else_but_spa_still_works_in_it() {
    let mut freeze = freeze_policy(&settings("")).unwrap();
    assert_eq!(freeze.name, "SpaDemo-Freeze");
    assert!(freeze.content.len() <= MAX_POLICY_CHARACTERS);
    assert!(freeze.targets.is_empty(), "attached at run time only");
    freeze.targets.push("111111111111".into());
    let policies = [freeze];
    let account = "111111111111";
    for (action, resource) in [
        (
            "ec2:RunInstances",
            "arn:aws:ec2:eu-west-1:111111111111:instance/*",
        ),
        (
            "ec2:TerminateInstances",
            "arn:aws:ec2:eu-west-1:111111111111:instance/i-1",
        ),
        ("s3:PutObject", "arn:aws:s3:::bucket/key"),
        ("s3:DeleteBucket", "arn:aws:s3:::bucket"),
        ("iam:CreateUser", "arn:aws:iam::111111111111:user/x"),
        ("sagemaker:CreateEndpoint", "*"),
        ("bedrock:InvokeModel", "*"),
    ] {
        assert!(
            denied(&policies, account, &holder(action, resource)),
            "{action} is denied to the holder"
        );
    }
    for action in [
        "ec2:DescribeInstances",
        "s3:GetObject",
        "s3:ListBucket",
        "ce:GetCostAndUsage",
        "cloudtrail:LookupEvents",
        "sts:GetCallerIdentity",
        "logs:GetLogEvents",
    ] {
        assert!(
            !denied(&policies, account, &holder(action, "*")),
            "{action} stays allowed: the holder can read what is there"
        );
    }
    // spa's roles still work: the unfreeze, then the purge, are never blocked
    for principal in [MEMBER, CODEBUILD] {
        let request = Request {
            principal,
            ..holder("ec2:TerminateInstances", "*")
        };
        assert!(!denied(&policies, account, &request), "{principal}");
    }
}

#[test]
fn an_account_whose_spend_guard_is_on_keeps_a_slot_for_its_freeze() {
    // three limits of about 3,500 characters each, on an account of its own: the
    // protection and three limits policies, four of spa's: all a target takes
    let actions: Vec<String> = (0..220).map(|n| format!("service{n}:Do*")).collect();
    let types: Vec<String> = (0..330).map(|n| format!("x{n}.*")).collect();
    let regions: Vec<String> = (1..=190).map(|n| format!("xx-region-{n}")).collect();
    let account = |guard: &str| {
        format!(
            "accounts:\n  - identifier: '111111111111'\n{guard}    guardrails:\n      feature: enabled\n      allowed_regions: [{}]\n      denied_actions: [{}]\n      denied_instance_types: [{}]\n",
            regions.join(", "),
            actions.join(", "),
            types.join(", ")
        )
    };
    let unguarded = policies(&settings(&account(""))).unwrap();
    let attached = by_target(&unguarded)["111111111111"].len();
    assert_eq!(attached, SPA_POLICIES_PER_TARGET, "{attached}");
    let errors = policies(&settings(&account(
        "    spend_guard: {feature: enabled, thresholds: [{when: hourly_burn, over: 100, actions: [freeze]}]}\n",
    )))
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = errors[0].to_string();
    assert!(
        message.contains("`111111111111`")
            && message.contains("one kept for the spend guard's freeze"),
        "{message}"
    );
}
