//! The AWS events the local runtime makes up, in the shapes AWS delivers them (see
//! `fixtures/events/`): moto emits no CloudTrail or CodeBuild event and runs no
//! scheduler, so the local runtime writes what AWS would have sent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use spa_core::events::{AccountCommand, AccountId, BuildStatus, Job};
use spa_core::lifecycle::BuildId;

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// CodeBuild's own time format in `additional-information` (`Nov 21, 2026 9:12:03 AM`).
fn codebuild_time(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %-I:%M:%S %p").to_string()
}

/// `CreateAccountResult` (SUCCEEDED) as CloudTrail sends it through EventBridge.
pub fn create_account_result(
    id: &str,
    management: &AccountId,
    account: &AccountId,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.organizations",
        "account": management.as_str(),
        "time": time(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": { "accountId": management.as_str(), "invokedBy": "AWS Internal" },
            "eventTime": time(at),
            "eventSource": "organizations.amazonaws.com",
            "eventName": "CreateAccountResult",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "AWS Internal",
            "userAgent": "AWS Internal",
            "requestParameters": null,
            "responseElements": null,
            "eventID": format!("{id}-trail"),
            "readOnly": false,
            "eventType": "AwsServiceEvent",
            "managementEvent": true,
            "recipientAccountId": management.as_str(),
            "serviceEventDetails": {
                "createAccountStatus": {
                    "id": format!("car-{id}"),
                    "state": "SUCCEEDED",
                    "accountName": "****",
                    "accountId": account.as_str(),
                    "requestedTimestamp": codebuild_time(at),
                    "completedTimestamp": codebuild_time(at),
                }
            },
            "eventCategory": "Management"
        }
    })
}

/// "CodeBuild Build State Change", as the member account's forwarding rule sends it.
pub fn build_state_change(
    id: &str,
    account: &AccountId,
    region: &str,
    build: &BuildId,
    status: BuildStatus,
    at: DateTime<Utc>,
) -> Value {
    let project = build
        .as_str()
        .split_once(':')
        .map_or(build.as_str(), |(project, _)| project);
    let arn = format!(
        "arn:aws:codebuild:{region}:{}:build/{}",
        account.as_str(),
        build.as_str()
    );
    json!({
        "version": "0",
        "id": id,
        "detail-type": "CodeBuild Build State Change",
        "source": "aws.codebuild",
        "account": account.as_str(),
        "time": time(at),
        "region": region,
        "resources": [arn],
        "detail": {
            "build-status": status.as_str(),
            "project-name": project,
            "build-id": arn,
            "additional-information": {
                "build-complete": status.is_terminal(),
                "initiator": "spa-engine",
                "source": { "type": "NO_SOURCE" },
            },
            "current-phase": "COMPLETED",
            "current-phase-context": "[: ]",
            "version": "1"
        }
    })
}

/// EC2's `RunInstances` of `count` instances of `instance_type` in `account`, by an
/// Identity Center role, as the member account's spending rule forwards it (moto
/// emits no CloudTrail event): the spend guard's input.
pub fn run_instances(
    id: &str,
    account: &AccountId,
    instance_type: &str,
    count: usize,
    at: DateTime<Utc>,
) -> Value {
    let items: Vec<Value> = (1..=count)
        .map(|n| {
            json!({
                "instanceId": format!("i-{:0>15}{n}", id.len()),
                "instanceType": instance_type,
                "instanceState": {"code": 0, "name": "pending"}
            })
        })
        .collect();
    json!({
        "version": "0",
        "id": id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": account.as_str(),
        "time": time(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:holder",
                "arn": format!("arn:aws:sts::{}:assumed-role/AWSReservedSSO_AdministratorAccess_0123/holder", account.as_str()),
                "accountId": account.as_str()
            },
            "eventTime": time(at),
            "eventSource": "ec2.amazonaws.com",
            "eventName": "RunInstances",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2",
            "requestParameters": {
                "instanceType": instance_type,
                "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": count, "maxCount": count}]}
            },
            "responseElements": {"instancesSet": {"items": items}},
            "eventID": format!("{id}-trail"),
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account.as_str(),
            "eventCategory": "Management"
        }
    })
}

/// "AWS Console Sign In via CloudTrail" of the root user of `account`, as the member
/// account's forwarding rule sends it (what moto never emits).
pub fn root_console_login(
    id: &str,
    account: &AccountId,
    source_ip: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "AWS Console Sign In via CloudTrail",
        "source": "aws.signin",
        "account": account.as_str(),
        "time": time(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "Root",
                "principalId": account.as_str(),
                "arn": format!("arn:aws:iam::{}:root", account.as_str()),
                "accountId": account.as_str()
            },
            "eventTime": time(at),
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": source_ip,
            "userAgent": "Mozilla/5.0",
            "requestParameters": null,
            "responseElements": { "ConsoleLogin": "Success" },
            "additionalEventData": { "MFAUsed": "No", "MobileVersion": "No" },
            "eventID": format!("{id}-trail"),
            "eventType": "AwsConsoleSignIn",
            "recipientAccountId": account.as_str()
        }
    })
}

/// The subject and text of an AWS Budgets alert (actual cost over an absolute
/// threshold), worded as Budgets words it on SNS.
pub fn budget_alert_message(
    account: &AccountId,
    budget: &str,
    threshold: &str,
    spent: &str,
    budgeted: &str,
    at: DateTime<Utc>,
) -> (String, String) {
    let subject = format!("AWS Budgets: {budget} has exceeded your alert threshold");
    let message = format!(
        "AWS Budget Notification {}\nAWS Account {account}\n\nDear AWS Customer,\n\n\
         You requested that we alert you when the ACTUAL Cost associated with your {budget} \
         budget is greater than ${threshold} for the current month. The ACTUAL Cost associated \
         with this budget is ${spent}.\n\nBudget Name: {budget}\nBudget Type: Cost\n\
         Budgeted Amount: ${budgeted}\nAlert Type: ACTUAL\nAlert Threshold: > ${threshold}\n\
         ACTUAL Amount: ${spent}\n",
        at.format("%B %d, %Y")
    );
    (subject, message)
}

/// The input an EventBridge Scheduler schedule hands to the function.
pub fn scheduled(job: Job, at: DateTime<Utc>) -> Value {
    json!({ "job": job.as_str(), "scheduled_time": time(at) })
}

/// The input of a `reports` schedule: `{"job": "reports", "report": ...}`.
pub fn scheduled_report(report: spa_core::events::Report, at: DateTime<Utc>) -> Value {
    json!({ "job": Job::Reports.as_str(), "report": report.as_str(), "scheduled_time": time(at) })
}

/// A Lambda SQS event of account commands, as the command queue's event source
/// mapping hands it to the function.
pub fn command_batch(
    queue_arn: &str,
    region: &str,
    commands: &[(String, AccountCommand)],
) -> Value {
    let records: Vec<Value> = commands
        .iter()
        .map(|(message_id, command)| {
            json!({
                "messageId": message_id,
                "receiptHandle": format!("local-{message_id}"),
                "body": command.to_json(),
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spa_core::events::{Incoming, decode_value};

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_345_200, 0).unwrap_or_default()
    }

    #[test]
    fn made_up_events_decode_like_the_real_ones() {
        let management = AccountId::parse("111111111111").expect("id");
        let account = AccountId::parse("222222222222").expect("id");
        let created = create_account_result("e1", &management, &account, at());
        assert!(matches!(
            decode_value(&created),
            Ok(Incoming::Organizations(_))
        ));
        let build = BuildId::new("SpaDemo-Prepare:4f1b7c2a").expect("id");
        let ended = build_state_change(
            "e2",
            &account,
            "eu-west-1",
            &build,
            BuildStatus::Failed,
            at(),
        );
        match decode_value(&ended) {
            Ok(Incoming::Build(change)) => {
                assert_eq!(change.status, BuildStatus::Failed);
                assert_eq!(change.project, "SpaDemo-Prepare");
                assert!(change.build_id.ends_with("build/SpaDemo-Prepare:4f1b7c2a"));
            }
            other => panic!("{other:?}"),
        }
        let window = scheduled(Job::MaintenanceWindow, at());
        assert!(matches!(decode_value(&window), Ok(Incoming::Scheduled(_))));
        let root = root_console_login("e3", &account, "203.0.113.10", at());
        match decode_value(&root) {
            Ok(Incoming::ConsoleLogin(login)) => {
                assert_eq!(login.label(), spa_core::events::Label::ConsoleLoginWithRoot);
                assert_eq!(login.account, account);
            }
            other => panic!("{other:?}"),
        }
    }
}
