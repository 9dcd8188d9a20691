//! The synthesized templates keep spa's rules: least privilege, a dead-letter queue
//! behind every asynchronous target, no public endpoint, and the very rules, tables
//! and schedules the engine defines. Each check is also shown to catch what it guards
//! against.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use spa_aws::dynamodb::table_definitions;
use spa_core::rules::{Function, automation_rules};
use spa_core::settings::Settings;
use spa_deploy::synth::checks::{self, PUBLIC_FUNCTION};
use spa_deploy::synth::iam::ANY_RESOURCE_ACTIONS;
use spa_deploy::synth::{Stacks, SynthOptions, synth};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn settings() -> Settings {
    spa_aws::files::load_settings(&repo().join("settings.yaml"))
        .expect("the shipped settings load")
        .settings
}

fn stacks(settings: &Settings, upcoming: bool) -> Stacks {
    synth(settings, SynthOptions { upcoming }).expect("the templates synthesize")
}

fn json(stacks: &Stacks) -> [(String, Value); 3] {
    stacks
        .files()
        .map(|(file, template)| (file.to_owned(), template.to_json().unwrap()))
}

fn automation(upcoming: bool) -> Value {
    stacks(&settings(), upcoming).automation.to_json().unwrap()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn rules_broken(template: &Value, rule: &str) -> Vec<String> {
    checks::check(template)
        .into_iter()
        .filter(|v| v.rule == rule)
        .map(|v| v.to_string())
        .collect()
}

#[test]
fn the_shipped_templates_keep_every_rule() {
    for upcoming in [false, true] {
        for (file, template) in json(&stacks(&settings(), upcoming)) {
            let broken = checks::check(&template);
            assert!(
                broken.is_empty(),
                "{file} (upcoming {upcoming}): {broken:#?}"
            );
        }
    }
}

#[test]
fn a_wildcard_action_or_resource_is_caught() {
    let mut template = automation(false);
    let role = &mut template["Resources"]["CommandsRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    role.as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x"}));
    role.as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}));
    role.as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "arn:aws:s3:::x"}));
    // AWS requires `*` for Cost Explorer: listed, so allowed
    role.as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": ["ce:GetCostAndUsage"], "Resource": "*"}));
    let broken = rules_broken(&template, "iam-wildcard");
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(
        broken[0].contains("CommandsRole") && broken.iter().any(|b| b.contains("`s3:*`")),
        "{broken:#?}"
    );
    assert!(
        broken
            .iter()
            .any(|b| b.contains("`sqs:SendMessage` on every resource")),
        "{broken:#?}"
    );
    assert!(
        broken.iter().any(|b| b.contains("NotAction")),
        "{broken:#?}"
    );
}

#[test]
fn wildcard_resources_are_only_the_listed_ones_and_each_is_justified() {
    let template = stacks(&settings(), true).management.to_json().unwrap();
    let statements = &template["Resources"]["ManagementRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let any: Vec<&Value> = statements
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["Resource"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("*")))
        })
        .collect();
    assert_eq!(any.len(), 1, "one statement holds the `*` resources");
    let actions: Vec<&str> = any[0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let listed: Vec<&str> = ANY_RESOURCE_ACTIONS.iter().map(|(a, _)| *a).collect();
    assert_eq!(actions, listed);
}

#[test]
fn every_async_target_without_a_dead_letter_queue_is_caught() {
    let mut template = automation(false);
    let r = &mut template["Resources"];
    r["SignInsRule"]["Properties"]["Targets"][0]
        .as_object_mut()
        .unwrap()
        .remove("DeadLetterConfig");
    r["SweeperSchedule"]["Properties"]["Target"]
        .as_object_mut()
        .unwrap()
        .remove("DeadLetterConfig");
    r["BuildEventsFunction"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("DeadLetterConfig");
    r["CommandQueue"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("RedrivePolicy");
    let broken = rules_broken(&template, "dead-letter");
    let has = |needle: &str| broken.iter().any(|b| b.contains(needle));
    assert!(
        has("SignInsRule: dead-letter: the target `function` has no dead-letter queue"),
        "{broken:#?}"
    );
    assert!(
        has("SweeperSchedule: dead-letter: the schedule's target"),
        "{broken:#?}"
    );
    assert!(
        has("BuildEventsFunction: dead-letter: invoked asynchronously by `BuildEventsRule`"),
        "{broken:#?}"
    );
    assert!(
        has("CommandsSource: dead-letter: the queue `CommandQueue` has no dead-letter queue"),
        "{broken:#?}"
    );
    assert_eq!(broken.len(), 4, "{broken:#?}");
}

#[test]
fn budget_alerts_come_from_the_member_topics_of_the_organization_into_a_queue_with_dead_letters() {
    let template = automation(true);
    let r = &template["Resources"];
    assert!(
        of_type(&template, "AWS::SNS::Topic")
            .iter()
            .all(|(id, _)| !id.contains("Budget")),
        "no central budget topic: Budgets notifies only topics of its own account"
    );
    assert_eq!(
        r["BudgetAlertsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["BudgetAlertsDeadLetters", "Arn"]})
    );
    let statement = &r["BudgetAlertsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Principal"],
        json!({"Service": "sns.amazonaws.com"})
    );
    assert_eq!(statement["Action"], json!(["sqs:SendMessage"]));
    assert_eq!(
        statement["Condition"]["ArnLike"]["aws:SourceArn"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:*:SpaDemo-BudgetAlerts"})
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceOrgID"],
        json!({"Ref": "OrganizationId"})
    );
    // the functions that ensure budgets may subscribe the queue to those topics only
    let role = &r["CommandsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let subscribe = role
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "SubscribeBudgetQueue")
        .expect("the commands function subscribes the queue to member topics");
    assert_eq!(subscribe["Action"], json!(["sns:Subscribe"]));
    assert_eq!(
        subscribe["Resource"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:*:SpaDemo-BudgetAlerts"}])
    );
    let sign_ins = &r["SignInsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    assert!(
        sign_ins
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["Sid"] != "SubscribeBudgetQueue"),
        "sign-ins never ensure a budget"
    );
}

fn with_function_url(template: &mut Value, name: &str, auth: &str) {
    let r = template["Resources"].as_object_mut().unwrap();
    let mut function = r["CommandsFunction"].clone();
    function["Properties"]["FunctionName"] = json!(format!("SpaDemo-{name}"));
    r.insert("ExtraFunction".into(), function);
    r.insert(
        "ExtraUrl".into(),
        json!({"Type": "AWS::Lambda::Url", "Properties": {"AuthType": auth, "TargetFunctionArn": {"Fn::GetAtt": ["ExtraFunction", "Arn"]}}}),
    );
    r.insert(
        "ExtraUrlPermission".into(),
        json!({"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunctionUrl", "FunctionName": {"Ref": "ExtraFunction"},
            "Principal": if auth == "NONE" { "*" } else { "123456789012" }, "FunctionUrlAuthType": auth}}),
    );
}

#[test]
fn only_the_slack_command_endpoint_may_be_public() {
    let mut slack = automation(false);
    with_function_url(&mut slack, PUBLIC_FUNCTION, "NONE");
    assert_eq!(
        rules_broken(&slack, "public-endpoint"),
        Vec::<String>::new()
    );

    let mut other = automation(false);
    with_function_url(&mut other, "commands-url", "NONE");
    let broken = rules_broken(&other, "public-endpoint");
    assert_eq!(broken.len(), 2, "{broken:#?}");
    assert!(broken[0].starts_with("ExtraUrl: public-endpoint: the function URL of `SpaDemo-commands-url` has AuthType NONE"), "{broken:#?}");

    let mut iam = automation(false);
    with_function_url(&mut iam, "commands-url", "AWS_IAM");
    assert_eq!(rules_broken(&iam, "public-endpoint"), Vec::<String>::new());

    let mut api = automation(false);
    api["Resources"].as_object_mut().unwrap().insert(
        "Method".into(),
        json!({"Type": "AWS::ApiGateway::Method", "Properties": {"HttpMethod": "POST", "AuthorizationType": "NONE"}}),
    );
    api["Resources"].as_object_mut().unwrap().insert(
        "AnyInvoke".into(),
        json!({"Type": "AWS::Lambda::Permission", "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "CommandsFunction"}, "Principal": "*"}}),
    );
    let broken = rules_broken(&api, "public-endpoint");
    assert_eq!(broken.len(), 2, "{broken:#?}");
}

#[test]
fn the_rules_are_the_engines_rules() {
    let settings = settings();
    let env = &settings.environment_identifier;
    let template = automation(false);
    let deployed = of_type(&template, "AWS::Events::Rule");
    let expected = automation_rules(env, settings.automation.account_id.as_str());
    assert_eq!(deployed.len(), expected.len());
    for rule in expected {
        let (_, found) = deployed
            .iter()
            .find(|(_, r)| r["Properties"]["Name"] == rule.name.as_str())
            .unwrap_or_else(|| panic!("rule {} is deployed", rule.name));
        assert_eq!(
            found["Properties"]["EventPattern"], rule.pattern,
            "{}",
            rule.name
        );
        let target = found["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        assert_eq!(
            template["Resources"][target]["Properties"]["FunctionName"],
            rule.target.deployed_name(env)
        );
    }
    // the management account forwards exactly what the account-events rule matches
    let management = stacks(&settings, false).management.to_json().unwrap();
    let account_events = automation_rules(env, settings.automation.account_id.as_str())
        .into_iter()
        .find(|r| r.target == Function::AccountEvents)
        .unwrap();
    assert_eq!(
        management["Resources"]["ForwardOrganizationEvents"]["Properties"]["EventPattern"],
        account_events.pattern
    );
}

#[test]
fn the_exceptions_rule_filters_its_environment() {
    let template = automation(true);
    let pattern = &template["Resources"]["ExceptionsRule"]["Properties"]["EventPattern"];
    assert_eq!(pattern["source"], json!(["spa"]));
    assert_eq!(pattern["detail"]["environment"], json!(["SpaDemo"]));
    let types = pattern["detail-type"].as_array().unwrap();
    // the exceptions, a quarantine, an assignment and a pre-purge notice (the holder's e-mails)
    assert_eq!(types.len(), 12 + 3, "{types:?}");
    assert!(types.contains(&json!("PurgeNotice")), "{types:?}");
    assert!(types.contains(&json!("SpendProjected")), "{types:?}");
    assert!(types.contains(&json!("DeadLetter")), "{types:?}");
    assert!(types.contains(&json!("PurgeDryRun")), "{types:?}");
    assert!(
        template["Resources"]["AccountEventsRule"]["Properties"]["EventPattern"]["detail"]
            .get("environment")
            .is_none()
    );
}

#[test]
fn the_tables_are_the_engines_tables() {
    let settings = settings();
    let template = automation(false);
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    let definitions = table_definitions(&settings);
    assert_eq!(tables.len(), definitions.len());
    for definition in definitions {
        let (_, table) = tables
            .iter()
            .find(|(_, t)| t["Properties"]["TableName"] == definition.name.as_str())
            .unwrap_or_else(|| panic!("{} is deployed", definition.name));
        let p = &table["Properties"];
        let mut keys = vec![json!({"AttributeName": definition.partition_key, "KeyType": "HASH"})];
        keys.extend(
            definition
                .sort_key
                .iter()
                .map(|s| json!({"AttributeName": s, "KeyType": "RANGE"})),
        );
        assert_eq!(p["KeySchema"], json!(keys));
        let indexes: Vec<Value> = definition
            .indexes
            .iter()
            .map(|i| json!([i.name, i.partition_key, i.sort_key]))
            .collect();
        let deployed: Vec<Value> = p["GlobalSecondaryIndexes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                json!([
                    i["IndexName"],
                    i["KeySchema"][0]["AttributeName"],
                    i["KeySchema"][1]["AttributeName"]
                ])
            })
            .collect();
        assert_eq!(deployed, indexes);
        assert_eq!(
            p["TimeToLiveSpecification"]["AttributeName"],
            json!(definition.ttl_attribute)
        );
        assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        assert_eq!(table["DeletionPolicy"], "Retain");
    }
}

#[test]
fn each_function_has_its_own_role_and_log_group() {
    let mut settings = settings();
    for (arm, arch) in [(true, "arm64"), (false, "x86_64")] {
        settings.features.arm_architecture = arm;
        let template = stacks(&settings, true).automation.to_json().unwrap();
        let functions = of_type(&template, "AWS::Lambda::Function");
        assert_eq!(functions.len(), Function::ALL.len());
        let mut roles = Vec::new();
        for (_, function) in functions {
            let p = &function["Properties"];
            let name = p["FunctionName"].as_str().unwrap();
            assert_eq!(p["Runtime"], "provided.al2023");
            assert_eq!(p["Architectures"], json!([arch]));
            assert_eq!(
                p["Environment"]["Variables"]["SPA_SETTINGS"],
                "ssm:/SpaDemo/settings"
            );
            assert_eq!(
                format!(
                    "SpaDemo-{}",
                    p["Environment"]["Variables"]["SPA_FUNCTION"]
                        .as_str()
                        .unwrap()
                ),
                name
            );
            let role = p["Role"]["Fn::GetAtt"][0].as_str().unwrap();
            assert_eq!(template["Resources"][role]["Properties"]["RoleName"], name);
            roles.push(role.to_owned());
            let logs = function["DependsOn"][0].as_str().unwrap();
            assert_eq!(
                template["Resources"][logs]["Properties"]["LogGroupName"],
                format!("/aws/lambda/{name}")
            );
            assert_eq!(
                template["Resources"][logs]["Properties"]["RetentionInDays"],
                90
            );
        }
        roles.sort();
        roles.dedup();
        assert_eq!(roles.len(), Function::ALL.len(), "one role per function");
    }
}

#[test]
fn only_the_functions_that_need_them_get_secrets_mail_and_incidents() {
    let template = automation(true);
    let actions = |role: &str| -> Vec<String> {
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
            })
            .collect()
    };
    let commands = actions("CommandsRole");
    assert!(
        !commands.iter().any(|a| a.starts_with("ses:")
            || a.starts_with("ssm-incidents:")
            || a.starts_with("s3:")),
        "{commands:?}"
    );
    // the direct messages of requests: the bot token, and that secret alone
    let secrets = |role: &str| -> Vec<String> {
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].to_string().contains("secretsmanager:"))
            .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
            .map(|r| r.to_string())
            .collect()
    };
    let read = secrets("CommandsRole");
    assert_eq!(read.len(), 1, "{read:?}");
    assert!(read[0].contains("slack-bot-token"), "{read:?}");
    assert!(commands.contains(&"sqs:ReceiveMessage".to_owned()));
    let exceptions = actions("ExceptionsRole");
    for needed in [
        "ssm-incidents:StartIncident",
        "ssm-incidents:UpdateIncidentRecord",
        "ssm-incidents:TagResource",
        "ssm-incidents:GetIncidentRecord",
        "ssm-incidents:CreateTimelineEvent",
        "ses:SendEmail",
        "ssm:GetParameter",
        "s3:GetObject",
        "s3:PutObject",
        "sts:AssumeRole",
    ] {
        assert!(
            exceptions.contains(&needed.to_owned()),
            "{needed}: {exceptions:?}"
        );
    }
    // each function reads the secrets it uses, no other: the webhooks and the bot token
    // (the pre-purge notice's direct message) for the notices, the Slack app's signing
    // secret and bot token for the slash command
    let policy = |role: &str| template["Resources"][role]["Properties"]["Policies"].to_string();
    let (notices, slack) = (policy("ExceptionsRole"), policy("SlackCommandsRole"));
    assert!(
        notices.contains("slack-webhook") && notices.contains("teams-webhook"),
        "{notices}"
    );
    assert!(notices.contains("slack-bot-token"), "{notices}");
    assert!(!notices.contains("slack-signing-secret"), "{notices}");
    // every Sid of a policy is its own (IAM refuses a policy with two alike)
    for role in [
        "ExceptionsRole",
        "CommandsRole",
        "SlackCommandsRole",
        "SchedulerRole",
    ] {
        let sids: Vec<String> =
            template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["Sid"].as_str().map(str::to_owned))
                .collect();
        let mut unique = sids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), sids.len(), "{role}: {sids:?}");
    }
    assert!(
        slack.contains("slack-signing-secret") && slack.contains("slack-bot-token"),
        "{slack}"
    );
    assert!(!slack.contains("webhook"), "{slack}");
}

#[test]
fn schedules_come_from_the_settings() {
    let settings = settings();
    let template = automation(false);
    let schedules = of_type(&template, "AWS::Scheduler::Schedule");
    let by_name = |name: &str| {
        schedules
            .iter()
            .find(|(_, s)| s["Properties"]["Name"] == name)
            .map(|(_, s)| &s["Properties"])
            .unwrap_or_else(|| panic!("{name}"))
    };
    let window = by_name("SpaDemo-maintenance-window");
    assert_eq!(
        window["ScheduleExpression"],
        settings.automation.maintenance_window.as_str()
    );
    assert_eq!(window["ScheduleExpressionTimezone"], "UTC");
    let input: Value = serde_json::from_str(window["Target"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input["job"], "maintenance-window");
    assert_eq!(
        by_name("SpaDemo-digest")["ScheduleExpression"],
        settings.reporting.schedules.digest.as_str()
    );
    assert_eq!(
        by_name("SpaDemo-reports-costs")["ScheduleExpression"],
        settings.reporting.schedules.costs.as_str()
    );
    assert_eq!(schedules.len(), 7);
}

#[test]
fn the_bus_and_the_management_role_trust_only_the_organization_and_the_functions() {
    let stacks = stacks(&settings(), false);
    let automation = stacks.automation.to_json().unwrap();
    let policy = &automation["Resources"]["BusPolicy"]["Properties"]["Statement"];
    assert_eq!(
        policy["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        json!({"Ref": "OrganizationId"})
    );
    // the organization forwards AWS's events only: a member account cannot put one of
    // spa's own events (`source: spa`) on the bus
    assert_eq!(
        policy["Condition"]["ForAllValues:StringEquals"]["events:source"],
        json!([
            "aws.bedrock",
            "aws.codebuild",
            "aws.ec2",
            "aws.eks",
            "aws.organizations",
            "aws.rds",
            "aws.sagemaker",
            "aws.signin"
        ])
    );
    // and the rule for spa's own events takes the automation account's only
    let exceptions = of_type(&automation, "AWS::Events::Rule")
        .into_iter()
        .find(|(_, rule)| rule["Properties"]["Name"] == "SpaDemo-Exceptions")
        .expect("the exceptions rule")
        .1;
    assert_eq!(
        exceptions["Properties"]["EventPattern"]["account"],
        json!(["123456789012"])
    );
    let management = stacks.management.to_json().unwrap();
    let role = &management["Resources"]["ManagementRole"]["Properties"];
    assert_eq!(role["RoleName"], "SpaAccountsManagementRole");
    let trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        .as_array()
        .unwrap();
    let names: Vec<String> = trusted
        .iter()
        .map(|t| {
            t["Fn::Sub"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "SpaDemo-account-events",
            "SpaDemo-build-events",
            "SpaDemo-sign-ins",
            "SpaDemo-spend-events",
            "SpaDemo-commands",
            "SpaDemo-scheduler",
            "SpaDemo-budget-alerts",
            "SpaDemo-exceptions",
        ]
    );
    // the internet-facing function reads the tree through a role that can do nothing else
    let reader = &management["Resources"]["OrganizationReaderRole"]["Properties"];
    assert_eq!(reader["RoleName"], "SpaDemo-OrgReader");
    assert_eq!(
        reader["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::123456789012:role/SpaDemo-slack-commands"}])
    );
    let read: Vec<&str> = reader["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    assert!(
        read.iter()
            .all(|a| a.starts_with("organizations:Describe") || a.starts_with("organizations:List")),
        "read only: {read:?}"
    );
    let slack = of_type(&automation, "AWS::IAM::Role")
        .into_iter()
        .find(|(_, r)| r["Properties"]["RoleName"] == "SpaDemo-slack-commands")
        .expect("the slack-commands role")
        .1
        .to_string();
    assert!(slack.contains("role/SpaDemo-OrgReader"), "{slack}");
    assert!(!slack.contains("SpaAccountsManagementRole"), "{slack}");
    let actions: Vec<&str> = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    // in the organization: read and tag, close or park an account after its last
    // purge (`spa close`), create the one freeze policy and attach it to a frozen
    // account or detach it (the spend guard); nothing deleted, removed or left (its one
    // deletion is of the messages of the forwarding dead-letter queue it drains)
    let writes: Vec<&&str> = actions
        .iter()
        .filter(|a| {
            a.starts_with("organizations:")
                && !a.starts_with("organizations:Describe")
                && !a.starts_with("organizations:List")
        })
        .collect();
    assert_eq!(
        writes,
        [
            &"organizations:CreatePolicy",
            &"organizations:TagResource",
            &"organizations:UntagResource",
            &"organizations:AttachPolicy",
            &"organizations:DetachPolicy",
            &"organizations:CloseAccount",
            &"organizations:MoveAccount"
        ],
        "read, tag, close or park, freeze only: {actions:?}"
    );
    assert!(
        actions
            .iter()
            .filter(|a| a.contains("Delete"))
            .all(|a| *a == "sqs:DeleteMessage"),
        "{actions:?}"
    );
    // a freeze is attached to an account only, and only the organization's SCPs
    let freeze = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "FreezeAccounts")
        .expect("the freeze statement");
    let resources = freeze["Resource"].to_string();
    assert!(
        resources.contains(":account/") && resources.contains("/service_control_policy/*"),
        "{resources}"
    );
    assert!(!resources.contains("\"*\""), "{resources}");
}

#[test]
fn the_committed_templates_are_current() {
    for (file, template) in stacks(&settings(), false).files() {
        let expected = serde_json::to_string_pretty(&template.to_json().unwrap()).unwrap() + "\n";
        let path = repo().join("deploy/templates").join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == expected,
            "{} is out of date: run `spa synth --settings settings.yaml --out deploy/templates`",
            path.display()
        );
    }
}

fn statements_of(template: &Value, role: &str) -> Vec<Value> {
    template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn with_athena_as_cost_source_the_scheduler_may_query_that_table_only() {
    let without = automation(false);
    assert!(
        statements_of(&without, "SchedulerRole")
            .iter()
            .all(|s| !s["Sid"].as_str().unwrap_or("").starts_with("Cur")),
        "Cost Explorer needs no Athena grant"
    );
    let mut settings = settings();
    settings.reporting.cost_source = serde_json::from_value(json!({"athena": {
        "region": "us-east-1",
        "database": "cur_db",
        "table": "cur2",
        "data_location": "s3://cur-exports/cur2/",
        "output_location": "s3://athena-results/spa/",
    }}))
    .unwrap();
    let template = stacks(&settings, false).automation.to_json().unwrap();
    let statements = statements_of(&template, "SchedulerRole");
    let sid = |name: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == name)
            .unwrap_or_else(|| panic!("{name} in {statements:#?}"))
            .clone()
    };
    assert_eq!(
        sid("CurQueries")["Resource"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:athena:us-east-1:${AWS::AccountId}:workgroup/primary"}])
    );
    assert_eq!(
        sid("CurTable")["Resource"][2],
        json!({"Fn::Sub": "arn:${AWS::Partition}:glue:us-east-1:${AWS::AccountId}:table/cur_db/cur2"})
    );
    assert_eq!(sid("CurData")["Action"], json!(["s3:GetObject"]));
    assert_eq!(
        sid("CurData")["Resource"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:s3:::cur-exports/cur2/*"}])
    );
    assert_eq!(
        sid("CurResults")["Resource"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:s3:::athena-results/spa/*"}])
    );
    assert!(
        checks::check(&template).is_empty(),
        "{:#?}",
        checks::check(&template)
    );
}

#[test]
fn the_slack_command_endpoint_is_the_one_public_function_url() {
    let template = automation(false);
    let urls = of_type(&template, "AWS::Lambda::Url");
    assert_eq!(urls.len(), 1, "one function URL");
    let (_, url) = urls[0];
    assert_eq!(url["Properties"]["AuthType"], "NONE");
    assert_eq!(
        url["Properties"]["TargetFunctionArn"],
        json!({"Fn::GetAtt": ["SlackCommandsFunction", "Arn"]})
    );
    let function = &template["Resources"]["SlackCommandsFunction"]["Properties"];
    assert_eq!(
        function["FunctionName"],
        format!("SpaDemo-{PUBLIC_FUNCTION}")
    );
    assert!(
        function.get("DeadLetterConfig").is_none(),
        "a synchronous function"
    );
    let public: Vec<&Value> = of_type(&template, "AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| &p["Properties"])
        .filter(|p| p["Principal"] == "*")
        .collect();
    assert_eq!(public.len(), 2, "{public:#?}");
    assert!(
        public
            .iter()
            .all(|p| p["FunctionName"] == json!({"Ref": "SlackCommandsFunction"}))
    );
    assert_eq!(
        template["Outputs"]["SlackCommandsUrl"]["Value"],
        json!({"Fn::GetAtt": ["SlackCommandsUrl", "FunctionUrl"]})
    );
    assert_eq!(
        rules_broken(&template, "public-endpoint"),
        Vec::<String>::new()
    );

    // the `InvokeFunction` half of a public URL on another function is refused
    let mut other = template.clone();
    other["Resources"].as_object_mut().unwrap().insert(
        "SneakyInvoke".into(),
        json!({"Type": "AWS::Lambda::Permission", "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "CommandsFunction"}, "Principal": "*", "InvokedViaFunctionUrl": true}}),
    );
    let broken = rules_broken(&other, "public-endpoint");
    assert_eq!(broken.len(), 1, "{broken:#?}");

    // turned off: no URL at all
    let mut settings = settings();
    settings.features.slack_commands = false;
    let off = stacks(&settings, false).automation.to_json().unwrap();
    assert!(of_type(&off, "AWS::Lambda::Url").is_empty());
    assert!(off["Outputs"].get("SlackCommandsUrl").is_none());
}

#[test]
fn every_dead_letter_queue_is_read_by_the_dead_letters_function_and_nothing_more() {
    let template = automation(false);
    let dlqs: Vec<String> = of_type(&template, "AWS::SQS::Queue")
        .into_iter()
        .filter(|(_, q)| {
            q["Properties"]["QueueName"]
                .as_str()
                .unwrap()
                .ends_with(spa_core::events::DEAD_LETTER_QUEUE_SUFFIX)
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert!(dlqs.len() >= 4, "{dlqs:?}");
    let mappings: Vec<&Value> = of_type(&template, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .map(|(_, m)| &m["Properties"])
        .filter(|p| p["FunctionName"] == json!({"Ref": checks::DEAD_LETTERS_FUNCTION}))
        .collect();
    let sources: Vec<String> = mappings
        .iter()
        .map(|p| {
            p["EventSourceArn"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut expected = dlqs.clone();
    expected.sort();
    let mut found = sources.clone();
    found.sort();
    assert_eq!(found, expected);
    for mapping in &mappings {
        assert_eq!(
            mapping["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
    }
    // the function keeps no dead-letter queue of its own (it would read itself)
    let function = &template["Resources"][checks::DEAD_LETTERS_FUNCTION]["Properties"];
    assert!(function.get("DeadLetterConfig").is_none());
    assert!(
        function["Timeout"].as_u64().unwrap() <= 30,
        "within the queues' visibility timeout"
    );
    // least privilege: read those queues, write under dead-letters/, store and bus only
    let statements = statements_of(&template, "DeadLettersRole");
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid}: {statements:#?}"))
    };
    let consume = by_sid("ConsumeDeadLetters");
    assert_eq!(
        consume["Action"],
        json!([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes"
        ])
    );
    let mut readable: Vec<String> = consume["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::GetAtt"][0].as_str().unwrap().to_owned())
        .collect();
    readable.sort();
    assert_eq!(readable, expected);
    assert_eq!(
        by_sid("ArchiveDeadLetters")["Resource"],
        json!([{"Fn::Sub": "${ReportsBucket.Arn}/dead-letters/*"}])
    );
    let sids: Vec<&str> = statements
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids,
        [
            "OwnLogs",
            "Settings",
            "Store",
            "PublishEvents",
            "ArchiveDeadLetters",
            "ConsumeDeadLetters"
        ]
    );
    // the queues' alarms stay
    for dlq in &dlqs {
        assert_eq!(
            template["Resources"][format!("{dlq}Alarm")]["Type"],
            "AWS::CloudWatch::Alarm"
        );
    }
}

#[test]
fn a_queue_without_dead_letters_is_still_caught_when_another_function_reads_it() {
    let mut template = automation(false);
    let r = &mut template["Resources"];
    r["CommandQueue"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("RedrivePolicy");
    // the dead-letters function reading a queue is fine; the commands function is not
    let broken = rules_broken(&template, "dead-letter");
    assert_eq!(broken.len(), 1, "{broken:#?}");
    assert!(broken[0].contains("CommandsSource"), "{broken:#?}");
}

#[test]
fn the_management_stack_holds_the_guardrails_the_settings_make() {
    let settings = settings();
    let template = stacks(&settings, false).management.to_json().unwrap();
    let policies = of_type(&template, "AWS::Organizations::Policy");
    let expected = spa_core::guardrails::policies(&settings).unwrap();
    assert_eq!(policies.len(), expected.len());
    assert_eq!(
        expected.len(),
        2,
        "the protection, and the sandboxes' limits"
    );
    for ((id, resource), policy) in policies.iter().zip(&expected) {
        let properties = &resource["Properties"];
        assert_eq!(properties["Name"], policy.name.as_str(), "{id}");
        assert_eq!(properties["Type"], "SERVICE_CONTROL_POLICY");
        // the minified text the size limit counts, not an object CloudFormation reformats
        let content = properties["Content"].as_str().unwrap();
        assert_eq!(content, policy.content);
        assert!(content.len() <= spa_core::guardrails::MAX_POLICY_CHARACTERS);
        assert_eq!(properties["TargetIds"], json!(policy.targets));
    }
    assert_eq!(
        template["Resources"]["Guardrails"]["Properties"]["TargetIds"],
        json!(["ou-ab12-sandbox1", "ou-ab12-datateam"])
    );
    assert_eq!(
        template["Resources"]["LimitsOuAb12Sandbox1"]["Properties"]["TargetIds"],
        json!(["ou-ab12-sandbox1"])
    );
}

#[test]
fn without_guardrails_the_management_stack_holds_no_policy() {
    let mut settings = settings();
    settings.defaults.guardrails = None;
    for unit in &mut settings.organizational_units {
        unit.item.guardrails = None;
    }
    let template = stacks(&settings, false).management.to_json().unwrap();
    assert!(of_type(&template, "AWS::Organizations::Policy").is_empty());
}

#[test]
fn the_management_role_reaches_member_roles_in_the_managed_units_and_listed_accounts_only() {
    let settings = settings();
    let management = stacks(&settings, false).management.to_json().unwrap();
    let statements = management["Resources"]["ManagementRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone();
    let assume: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("sts:AssumeRole"))
        })
        .collect();
    assert_eq!(assume.len(), 2, "{assume:#?}");
    let units = assume[0];
    assert_eq!(units["Sid"], "MemberRolesInManagedUnits");
    assert_eq!(
        units["Condition"]["ForAnyValue:StringLike"]["aws:ResourceOrgPaths"],
        json!([
            {"Fn::Sub": "${OrganizationId}/*/ou-ab12-sandbox1/*"},
            {"Fn::Sub": "${OrganizationId}/*/ou-ab12-datateam/*"}
        ])
    );
    let listed = assume[1];
    assert_eq!(listed["Sid"], "MemberRolesOfListedAccounts");
    let roles: Vec<String> = listed["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::Sub"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles.len(), settings.accounts.len());
    assert!(
        roles.iter().all(|r| !r.contains("iam::*:")),
        "each listed account by its id: {roles:?}"
    );
    // many listed accounts: the organization is the bound (the policy must fit)
    let mut many = settings.clone();
    let template = many.accounts[0].clone();
    many.accounts = (0..=spa_deploy::synth::management::MAX_LISTED_MEMBER_ACCOUNTS)
        .map(|n| {
            let mut account = template.clone();
            account.identifier = spa_core::events::AccountId::parse(&format!(
                "{:012}",
                400_000_000_000u64 + n as u64
            ))
            .unwrap();
            account
        })
        .collect();
    let wide = stacks(&many, false)
        .management
        .to_json()
        .unwrap()
        .to_string();
    assert!(wide.contains("\"MemberRoles\""), "{wide}");
    assert!(!wide.contains("MemberRolesOfListedAccounts"));
}

#[test]
fn the_management_role_drains_the_forwarding_dead_letter_queue_and_no_other() {
    let management = stacks(&settings(), false).management.to_json().unwrap();
    let statements = management["Resources"]["ManagementRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone();
    let sqs: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("sqs:"))
        })
        .collect();
    assert_eq!(sqs.len(), 1, "{sqs:#?}");
    assert_eq!(sqs[0]["Sid"], "DrainForwardDeadLetters");
    assert_eq!(
        sqs[0]["Resource"],
        json!([{"Fn::GetAtt": ["ForwardDeadLetters", "Arn"]}])
    );
    // the queue is the one the engine reads (one name, from spa_core::rules)
    assert_eq!(
        management["Resources"]["ForwardDeadLetters"]["Properties"]["QueueName"],
        spa_core::rules::forward_dead_letter_queue("SpaDemo")
    );
}

#[test]
fn the_reports_bucket_takes_the_purge_preview_lists_of_the_organizations_codebuild_roles_only() {
    let template = automation(false);
    let policy = &template["Resources"]["ReportsBucketPolicy"]["Properties"]["PolicyDocument"];
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{policy:#}");
    assert_eq!(statements[0]["Sid"], "DenyInsecureTransport");
    let lists = &statements[1];
    assert_eq!(lists["Sid"], "PurgePreviewLists");
    assert_eq!(lists["Effect"], "Allow");
    // PutObject only: no read, no delete, no listing of what other accounts wrote
    assert_eq!(lists["Action"], serde_json::json!(["s3:PutObject"]));
    // each account under its own prefix of the exceptions prefix
    assert_eq!(
        lists["Resource"],
        serde_json::json!([{"Fn::Sub": "${ReportsBucket.Arn}/reports/exceptions/${!aws:PrincipalAccount}/*"}])
    );
    // the organization's accounts, spa's CodeBuild role of this environment
    assert_eq!(
        lists["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        serde_json::json!({"Ref": "OrganizationId"})
    );
    assert_eq!(
        lists["Condition"]["ArnLike"]["aws:PrincipalArn"],
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/SpaDemo-CodeBuildRole"})
    );
}

/// The outbox's path as deployed: the transactions table streams new images, one
/// event source mapping lets its new outbox items only through to the relay, and
/// the relay's role may read that stream, put events on the bus and give up to its
/// own dead-letter queue, nothing else (no table write, no role to assume).
#[test]
fn the_relay_reads_the_outbox_stream_and_may_only_put_events() {
    let template = automation(false);
    let streamed: Vec<&str> = of_type(&template, "AWS::DynamoDB::Table")
        .iter()
        .filter(|(_, t)| t["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(streamed, ["TransactionsTable"]);
    let (_, mapping) = of_type(&template, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .find(|(_, m)| m["Properties"]["FunctionName"] == json!({"Ref": "RelayFunction"}))
        .expect("the relay's mapping");
    let p = &mapping["Properties"];
    assert_eq!(
        p["EventSourceArn"],
        json!({"Fn::GetAtt": ["TransactionsTable", "StreamArn"]})
    );
    let pattern: Value = serde_json::from_str(
        p["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .expect("a pattern"),
    )
    .expect("JSON");
    assert_eq!(pattern, spa_core::events::stream_filter());
    assert_eq!(
        p["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        p["DestinationConfig"]["OnFailure"]["Destination"],
        json!({"Fn::GetAtt": ["RelayDeadLetters", "Arn"]})
    );
    let mut actions: Vec<String> = statements_of(&template, "RelayRole")
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![s["Action"].clone()])
        })
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "events:PutEvents",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sqs:SendMessage",
            "ssm:GetParameter",
        ]
    );
}
