//! The decoders on every reference sample of `fixtures/events/`, and variations.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::{Value, json};
use spa_core::events::{
    AccountId, AlertType, BuildStatus, CreateAccountOutcome, DecodeError, DomainEvent, Incoming,
    Job, Label, LoginOutcome, OrganizationsCall, OrganizationsEventName, ParentId, Principal,
    Report, ResourceId, Threshold, decode, decode_str, decode_value,
};
use spa_core::lifecycle::State;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/events/");

fn fixture(name: &str) -> Value {
    let path = format!("{FIXTURES}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = new;
}

fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("{pointer}"));
}

fn organizations(value: &Value) -> (spa_core::events::TrailRecord, OrganizationsCall) {
    match decode_value(value) {
        Ok(Incoming::Organizations(e)) => (e.record, e.call),
        other => panic!("not an Organizations event: {other:?}"),
    }
}

// ---------------------------------------------------------------- Organizations

#[test]
fn create_account_result_succeeded() {
    let event = fixture("organizations-create-account-result.json");
    let incoming = decode_value(&event).unwrap();
    assert_eq!(
        incoming.event_id().unwrap().as_str(),
        "eventbridge:0b6a4c1e-0005-4000-8000-000000000005"
    );
    let (record, call) = organizations(&event);
    assert_eq!(record.account, account("111111111111"));
    assert_eq!(record.at.to_rfc3339(), "2026-11-21T09:05:12+00:00");
    assert_eq!(
        record.principal,
        Principal::AwsService {
            invoked_by: "AWS Internal".into()
        }
    );
    let OrganizationsCall::CreateAccountResult(result) = call else {
        panic!("{call:?}")
    };
    assert_eq!(
        result.request_id.as_deref(),
        Some("car-0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        result.outcome,
        CreateAccountOutcome::Succeeded {
            account: account("222222222222")
        }
    );
}

#[test]
fn create_account_result_failed_keeps_the_reason() {
    let mut event = fixture("organizations-create-account-result.json");
    let status = "/detail/serviceEventDetails/createAccountStatus";
    set(&mut event, &format!("{status}/state"), json!("FAILED"));
    remove(&mut event, &format!("{status}/accountId"));
    event
        .pointer_mut(status)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("failureReason".into(), json!("EMAIL_ALREADY_EXISTS"));
    let (_, call) = organizations(&event);
    let OrganizationsCall::CreateAccountResult(result) = call else {
        panic!("{call:?}")
    };
    assert_eq!(
        result.outcome,
        CreateAccountOutcome::Failed {
            reason: Some("EMAIL_ALREADY_EXISTS".into()),
            account: None
        }
    );
}

#[test]
fn create_account_result_in_another_state_is_rejected() {
    let mut event = fixture("organizations-create-account-result.json");
    set(
        &mut event,
        "/detail/serviceEventDetails/createAccountStatus/state",
        json!("IN_PROGRESS"),
    );
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err.path(),
        Some("detail.serviceEventDetails.createAccountStatus.state")
    );
    assert!(err.to_string().contains("SUCCEEDED or FAILED"), "{err}");
}

#[test]
fn missing_account_id_names_its_path() {
    let mut event = fixture("organizations-create-account-result.json");
    remove(
        &mut event,
        "/detail/serviceEventDetails/createAccountStatus/accountId",
    );
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Missing {
            path: "detail.serviceEventDetails.createAccountStatus.accountId".into(),
            expected: "a 12-digit AWS account id".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "missing field `detail.serviceEventDetails.createAccountStatus.accountId`: \
         expected a 12-digit AWS account id"
    );
}

#[test]
fn wrong_type_names_its_path_and_the_expected_type() {
    let mut event = fixture("organizations-create-account-result.json");
    set(
        &mut event,
        "/detail/serviceEventDetails/createAccountStatus/accountId",
        json!(222222222222_u64),
    );
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Invalid {
            path: "detail.serviceEventDetails.createAccountStatus.accountId".into(),
            expected: "a 12-digit AWS account id".into(),
            found: "a number (222222222222)".into(),
        }
    );

    let mut event = fixture("organizations-create-account-result.json");
    set(&mut event, "/detail/serviceEventDetails", json!(["x"]));
    let err = decode_value(&event).unwrap_err();
    assert_eq!(err.path(), Some("detail.serviceEventDetails"));
    assert!(
        err.to_string()
            .contains("expected an object, found an array"),
        "{err}"
    );

    let mut event = fixture("organizations-move-account.json");
    set(&mut event, "/time", json!("yesterday"));
    let err = decode_value(&event).unwrap_err();
    assert_eq!(err.path(), Some("time"));
    assert!(err.to_string().contains("RFC 3339"), "{err}");
}

#[test]
fn move_account() {
    let (record, call) = organizations(&fixture("organizations-move-account.json"));
    assert_eq!(
        call,
        OrganizationsCall::MoveAccount {
            account: account("222222222222"),
            source_parent: ParentId::Root("r-ab12".into()),
            destination_parent: ParentId::OrganizationalUnit("ou-ab12-sandbox1".into()),
        }
    );
    assert_eq!(record.source_ip.as_deref(), Some("198.51.100.7"));
    let Principal::AssumedRole {
        role_name,
        session_name,
        permission_set,
    } = &record.principal
    else {
        panic!("{:?}", record.principal)
    };
    assert_eq!(
        role_name,
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
    );
    assert_eq!(permission_set.as_deref(), Some("AdministratorAccess"));
    assert_eq!(session_name.as_ref().unwrap().expose(), "ops@example.com");
    assert!(!format!("{record:?}").contains("ops@example.com"));
    assert_eq!(
        record.principal.masked(),
        "assumed-role AWSReservedSSO_AdministratorAccess_0123456789abcdef/o***@example.com"
    );
}

#[test]
fn move_account_to_something_that_is_not_a_parent() {
    let mut event = fixture("organizations-move-account.json");
    set(
        &mut event,
        "/detail/requestParameters/destinationParentId",
        json!("333333333333"),
    );
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err.path(),
        Some("detail.requestParameters.destinationParentId")
    );
    assert!(err.to_string().contains("OU id"), "{err}");
}

#[test]
fn tag_resource_on_an_account() {
    let (_, call) = organizations(&fixture("organizations-tag-resource.json"));
    let OrganizationsCall::TagResource { resource, tags } = call else {
        panic!("{call:?}")
    };
    assert_eq!(resource, ResourceId::Account(account("222222222222")));
    assert_eq!(resource.account(), Some(&account("222222222222")));
    let pairs: Vec<(&str, &str)> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("account-state", "vended"),
            ("account-holder", "alice@example.com")
        ]
    );
}

#[test]
fn tag_events_on_an_ou_or_the_root_keep_the_resource_id() {
    for (id, expected) in [
        (
            "ou-ab12-sandbox1",
            ResourceId::OrganizationalUnit("ou-ab12-sandbox1".into()),
        ),
        ("r-ab12", ResourceId::Root("r-ab12".into())),
        (
            "p-examplepolicy",
            ResourceId::Policy("p-examplepolicy".into()),
        ),
    ] {
        let mut event = fixture("organizations-tag-resource.json");
        set(
            &mut event,
            "/detail/requestParameters/resourceId",
            json!(id),
        );
        let (_, call) = organizations(&event);
        let OrganizationsCall::TagResource { resource, .. } = call else {
            panic!("{call:?}")
        };
        assert_eq!(resource, expected);
        assert_eq!(resource.account(), None);
        assert_eq!(resource.as_str(), id);

        let mut event = fixture("organizations-untag-resource.json");
        set(
            &mut event,
            "/detail/requestParameters/resourceId",
            json!(id),
        );
        let (_, call) = organizations(&event);
        let OrganizationsCall::UntagResource { resource, .. } = call else {
            panic!("{call:?}")
        };
        assert_eq!(resource, expected);
    }
}

#[test]
fn tag_without_key_names_the_item() {
    let mut event = fixture("organizations-tag-resource.json");
    remove(&mut event, "/detail/requestParameters/tags/1/key");
    let err = decode_value(&event).unwrap_err();
    assert_eq!(err.path(), Some("detail.requestParameters.tags[1].key"));
    // an empty value is a valid tag
    let mut event = fixture("organizations-tag-resource.json");
    remove(&mut event, "/detail/requestParameters/tags/1/value");
    let (_, call) = organizations(&event);
    let OrganizationsCall::TagResource { tags, .. } = call else {
        panic!("{call:?}")
    };
    assert_eq!(tags[1].value, "");
}

#[test]
fn untag_resource() {
    let (_, call) = organizations(&fixture("organizations-untag-resource.json"));
    assert_eq!(
        call,
        OrganizationsCall::UntagResource {
            resource: ResourceId::Account(account("222222222222")),
            keys: vec!["account-holder".into()],
        }
    );
}

#[test]
fn close_account_and_remove_account() {
    let (_, call) = organizations(&fixture("organizations-close-account.json"));
    assert_eq!(
        call,
        OrganizationsCall::CloseAccount {
            account: account("222222222222")
        }
    );
    let mut event = fixture("organizations-close-account.json");
    set(
        &mut event,
        "/detail/eventName",
        json!("RemoveAccountFromOrganization"),
    );
    let (_, call) = organizations(&event);
    assert_eq!(
        call,
        OrganizationsCall::RemoveAccountFromOrganization {
            account: account("222222222222")
        }
    );
}

#[test]
fn failed_calls_are_not_changes() {
    let mut event = fixture("organizations-move-account.json");
    let detail = event
        .pointer_mut("/detail")
        .unwrap()
        .as_object_mut()
        .unwrap();
    detail.insert("errorCode".into(), json!("AccessDeniedException"));
    detail.insert(
        "errorMessage".into(),
        json!("You don't have permissions to access this resource."),
    );
    let (_, call) = organizations(&event);
    let OrganizationsCall::Failed(failed) = call else {
        panic!("{call:?}")
    };
    assert_eq!(failed.name, OrganizationsEventName::MoveAccount);
    assert_eq!(failed.error_code, "AccessDeniedException");
    assert_eq!(failed.account, Some(account("222222222222")));
    assert_eq!(
        failed.error_message.as_deref(),
        Some("You don't have permissions to access this resource.")
    );
}

#[test]
fn other_organizations_calls_are_unsupported_and_ignorable() {
    let mut event = fixture("organizations-move-account.json");
    set(
        &mut event,
        "/detail/eventName",
        json!("CreateOrganizationalUnit"),
    );
    let err = decode_value(&event).unwrap_err();
    assert!(err.is_ignorable());
    assert_eq!(
        err,
        DecodeError::Unsupported {
            event_source: "aws.organizations".into(),
            detail_type: "AWS API Call via CloudTrail".into(),
            name: "CreateOrganizationalUnit".into(),
        }
    );
}

// ---------------------------------------------------------------- CodeBuild

#[test]
fn build_state_change() {
    let event = fixture("codebuild-build-state-change.json");
    let Incoming::Build(build) = decode_value(&event).unwrap() else {
        panic!()
    };
    assert_eq!(build.account, account("222222222222"));
    assert_eq!(build.region, "eu-west-1");
    assert_eq!(build.project, "spa-prepare");
    assert_eq!(
        build.build_id,
        "arn:aws:codebuild:eu-west-1:222222222222:build/spa-prepare:4f1b7c2a-0000-4000-8000-00000000abcd"
    );
    assert_eq!(build.status, BuildStatus::Succeeded);
    assert_eq!(build.at.to_rfc3339(), "2026-11-21T09:20:00+00:00");
    assert_eq!(build.initiator.as_deref(), Some("spa-engine"));
    assert_eq!(
        build.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-21T09:12:03+00:00")
    );
    assert_eq!(
        build.event_id.as_str(),
        "eventbridge:0b6a4c1e-0006-4000-8000-000000000006"
    );
}

#[test]
fn every_build_status() {
    for (text, status) in [
        ("IN_PROGRESS", BuildStatus::InProgress),
        ("SUCCEEDED", BuildStatus::Succeeded),
        ("FAILED", BuildStatus::Failed),
        ("FAULT", BuildStatus::Fault),
        ("STOPPED", BuildStatus::Stopped),
        ("TIMED_OUT", BuildStatus::TimedOut),
    ] {
        let mut event = fixture("codebuild-build-state-change.json");
        set(&mut event, "/detail/build-status", json!(text));
        let Incoming::Build(build) = decode_value(&event).unwrap() else {
            panic!()
        };
        assert_eq!(build.status, status);
        assert_eq!(build.status.as_str(), text);
        assert_eq!(build.status.is_terminal(), text != "IN_PROGRESS");
    }
    let mut event = fixture("codebuild-build-state-change.json");
    set(&mut event, "/detail/build-status", json!("PENDING"));
    let err = decode_value(&event).unwrap_err();
    assert_eq!(err.path(), Some("detail.build-status"));
    assert!(err.to_string().contains("TIMED_OUT"), "{err}");
}

#[test]
fn build_of_another_account_is_rejected() {
    let mut event = fixture("codebuild-build-state-change.json");
    set(&mut event, "/account", json!("444444444444"));
    let err = decode_value(&event).unwrap_err();
    assert!(err.is_refused(), "{err}");
    assert!(
        err.to_string().starts_with(
            "refused: account 444444444444 may not say the end of a build of account "
        ),
        "{err}"
    );
    let mut event = fixture("codebuild-build-state-change.json");
    set(&mut event, "/detail/build-id", json!("spa-prepare:1234"));
    assert_eq!(
        decode_value(&event).unwrap_err().path(),
        Some("detail.build-id")
    );
}

#[test]
fn build_phase_changes_are_foreign() {
    let mut event = fixture("codebuild-build-state-change.json");
    set(
        &mut event,
        "/detail-type",
        json!("CodeBuild Build Phase Change"),
    );
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Foreign {
            event_source: "aws.codebuild".into(),
            detail_type: "CodeBuild Build Phase Change".into()
        }
    );
    assert!(err.is_ignorable());
}

// ---------------------------------------------------------------- Sign-in

fn login(name: &str) -> spa_core::events::ConsoleLogin {
    match decode_value(&fixture(name)).unwrap() {
        Incoming::ConsoleLogin(login) => login,
        other => panic!("{other:?}"),
    }
}

#[test]
fn console_login_as_root() {
    let login = login("signin-console-login-root.json");
    assert_eq!(login.principal, Principal::Root);
    assert_eq!(login.account, account("222222222222"));
    assert_eq!(login.outcome, LoginOutcome::Success);
    assert_eq!(login.mfa_used, Some(false));
    assert_eq!(login.source_ip.as_deref(), Some("203.0.113.10"));
    assert_eq!(login.label(), Label::ConsoleLoginWithRoot);
}

#[test]
fn a_sign_in_to_another_account_forwarded_from_this_one_is_refused() {
    let mut event = fixture("signin-console-login-root.json");
    set(&mut event, "/account", json!("333333333333"));
    let err = decode_value(&event).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused: account 333333333333 may not say a sign-in to account 222222222222"
    );
}

#[test]
fn console_login_as_iam_user() {
    let login = login("signin-console-login-iam-user.json");
    let Principal::IamUser { user_name } = &login.principal else {
        panic!()
    };
    assert_eq!(user_name.expose(), "bob");
    assert_eq!(login.principal.masked(), "iam-user b***");
    assert_eq!(login.mfa_used, Some(true));
    assert_eq!(login.label(), Label::ConsoleLoginWithIamUser);
}

#[test]
fn console_login_through_identity_center() {
    let login = login("signin-console-login-assumed-role.json");
    let Principal::AssumedRole {
        role_name,
        session_name,
        permission_set,
    } = &login.principal
    else {
        panic!()
    };
    assert_eq!(
        role_name,
        "AWSReservedSSO_AdministratorAccess_fedcba9876543210"
    );
    assert_eq!(permission_set.as_deref(), Some("AdministratorAccess"));
    assert_eq!(session_name.as_ref().unwrap().expose(), "alice@example.com");
    // MFAUsed of the sign-in wins over the session's mfaAuthenticated
    assert_eq!(login.mfa_used, Some(true));
    assert_eq!(login.label(), Label::ConsoleLogin);
    assert!(login.succeeded());
    let logged = format!("{login:?}");
    assert!(!logged.contains("alice@example.com"), "{logged}");
    assert!(logged.contains("a***@example.com"), "{logged}");
}

#[test]
fn failed_console_login() {
    let mut event = fixture("signin-console-login-root.json");
    set(
        &mut event,
        "/detail/responseElements/ConsoleLogin",
        json!("Failure"),
    );
    event
        .pointer_mut("/detail")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("errorMessage".into(), json!("Failed authentication"));
    remove(&mut event, "/detail/additionalEventData");
    let Incoming::ConsoleLogin(login) = decode_value(&event).unwrap() else {
        panic!()
    };
    assert_eq!(
        login.outcome,
        LoginOutcome::Failure {
            reason: Some("Failed authentication".into())
        }
    );
    assert_eq!(login.mfa_used, None);
    assert!(!login.succeeded());
}

#[test]
fn other_sign_in_events_are_unsupported() {
    let mut event = fixture("signin-console-login-root.json");
    set(&mut event, "/detail/eventName", json!("CheckMfa"));
    let err = decode_value(&event).unwrap_err();
    assert!(err.is_ignorable(), "{err}");
    assert!(err.to_string().contains("CheckMfa"));
}

// ---------------------------------------------------------------- Budgets via SNS, SQS

#[test]
fn budget_alert_batch() {
    let Incoming::BudgetAlerts(batch) = decode_value(&fixture("sqs-budget-alert.json")).unwrap()
    else {
        panic!()
    };
    assert_eq!(batch.records.len(), 1);
    let record = &batch.records[0];
    assert_eq!(
        record.message_id.as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000011")
    );
    let alert = record.alert.as_ref().unwrap();
    assert_eq!(
        alert.event_id.as_str(),
        "sns:9a1b2c3d-0000-4000-8000-000000000010"
    );
    assert_eq!(alert.account, account("222222222222"));
    assert_eq!(alert.budget_name, "spa-budget");
    assert_eq!(alert.budget_type.as_deref(), Some("Cost"));
    assert_eq!(alert.alert_type, AlertType::Actual);
    assert_eq!(alert.amount.to_string(), "80.12 USD");
    assert_eq!(alert.amount.amount.micros(), 80_120_000);
    assert_eq!(alert.budgeted.as_ref().unwrap().to_string(), "100.00 USD");
    let Threshold::Absolute(threshold) = &alert.threshold else {
        panic!()
    };
    assert_eq!(threshold.to_string(), "75.00 USD");
    assert_eq!(
        alert.notified_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-21T11:00:00+00:00")
    );
    assert!(batch.failed_message_ids().is_empty());
}

#[test]
fn empty_sqs_batch_is_an_empty_batch() {
    let Incoming::BudgetAlerts(batch) = decode_str(r#"{"Records": []}"#).unwrap() else {
        panic!()
    };
    assert!(batch.records.is_empty());
}

fn body_of(event: &Value) -> Value {
    serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap()
}

fn record_with_body(template: &Value, message_id: &str, body: String) -> Value {
    let mut record = template["Records"][0].clone();
    record["messageId"] = json!(message_id);
    record["body"] = json!(body);
    record
}

#[test]
fn a_record_that_does_not_read_is_refused_alone() {
    let event = fixture("sqs-budget-alert.json");
    let good = event["Records"][0].clone();
    let mut no_account = body_of(&event);
    no_account["Message"] = json!(
        no_account["Message"]
            .as_str()
            .unwrap()
            .replace("AWS Account 222222222222", "AWS Account unknown")
    );
    let bad = record_with_body(&event, "bad-1", no_account.to_string());
    let garbage = record_with_body(&event, "bad-2", "{not json".to_string());
    let mut forecast = body_of(&event);
    forecast["MessageId"] = json!("sns-2");
    forecast["Message"] = json!(
        forecast["Message"]
            .as_str()
            .unwrap()
            .replace("ACTUAL", "FORECASTED")
    );
    let good2 = record_with_body(&event, "good-2", forecast.to_string());
    let batch = json!({ "Records": [good, bad, garbage, good2] });
    let Incoming::BudgetAlerts(batch) = decode_value(&batch).unwrap() else {
        panic!()
    };
    assert!(batch.records[0].alert.is_ok());
    // what the topic's account published does not read: refused, naming the sender
    let err = batch.records[1].alert.as_ref().unwrap_err();
    assert!(err.is_refused(), "{err}");
    assert!(
        err.to_string().starts_with(
            "refused: account 222222222222 may not say an unreadable budget alert (missing field `Records[1].body.Message`: expected a line `AWS Account"
        ),
        "{err}"
    );
    let err = batch.records[2].alert.as_ref().unwrap_err();
    assert!(err.is_refused(), "{err}");
    assert!(err.to_string().contains("Records[2].body"), "{err}");
    let forecast = batch.records[3].alert.as_ref().unwrap();
    assert_eq!(forecast.alert_type, AlertType::Forecasted);
    assert_eq!(forecast.amount.to_string(), "80.12 USD");
    // refused records are neither retried nor dead-lettered
    assert!(batch.failed_message_ids().is_empty());
    assert!(!batch.has_unidentified_failure());
}

#[test]
fn an_alert_about_another_account_than_the_topics_is_refused() {
    let event = fixture("sqs-budget-alert.json");
    // the holder of 333333333333 publishes, on their own topic, an alert naming 222222222222
    let mut forged = body_of(&event);
    forged["TopicArn"] = json!("arn:aws:sns:us-east-1:333333333333:Spa-BudgetAlerts");
    let mut no_topic = body_of(&event);
    no_topic.as_object_mut().unwrap().remove("TopicArn");
    let batch = json!({ "Records": [
        record_with_body(&event, "forged", forged.to_string()),
        record_with_body(&event, "no-topic", no_topic.to_string()),
    ] });
    let Incoming::BudgetAlerts(batch) = decode_value(&batch).unwrap() else {
        panic!()
    };
    assert_eq!(
        batch.records[0].alert.as_ref().unwrap_err().to_string(),
        "refused: account 333333333333 may not say a budget alert of account 222222222222"
    );
    assert_eq!(
        batch.records[1].alert.as_ref().unwrap_err().to_string(),
        "refused: an SNS notification without a topic ARN may not say a budget alert"
    );
    assert!(batch.failed_message_ids().is_empty());
}

#[test]
fn raw_message_delivery_is_refused() {
    // spa subscribes with raw message delivery off: a bare text has no topic to tell
    // who sent it, so the subscription was changed by someone else
    let event = fixture("sqs-budget-alert.json");
    let text = body_of(&event)["Message"].as_str().unwrap().to_string();
    let batch = json!({ "Records": [record_with_body(&event, "raw-1", text)] });
    let Incoming::BudgetAlerts(batch) = decode_value(&batch).unwrap() else {
        panic!()
    };
    let err = batch.records[0].alert.as_ref().unwrap_err();
    assert!(err.is_refused(), "{err}");
    assert!(batch.failed_message_ids().is_empty());
}

#[test]
fn sns_subscription_confirmation_is_ignorable() {
    let event = fixture("sqs-budget-alert.json");
    let mut body = body_of(&event);
    body["Type"] = json!("SubscriptionConfirmation");
    let batch = json!({ "Records": [record_with_body(&event, "confirm", body.to_string())] });
    let Incoming::BudgetAlerts(batch) = decode_value(&batch).unwrap() else {
        panic!()
    };
    assert!(batch.records[0].alert.as_ref().unwrap_err().is_ignorable());
    assert!(batch.failed_message_ids().is_empty());
}

#[test]
fn records_of_another_service_are_foreign() {
    let err = decode_str(r#"{"Records": [{"eventSource": "aws:s3", "s3": {}}]}"#).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Foreign {
            event_source: "aws:s3".into(),
            detail_type: "Records".into()
        }
    );
    let err = decode_str(r#"{"Records": {"eventSource": "aws:sqs"}}"#).unwrap_err();
    assert_eq!(err.path(), Some("Records"));
}

// ---------------------------------------------------------------- Scheduler

#[test]
fn scheduled_maintenance_window() {
    let Incoming::Scheduled(run) =
        decode_value(&fixture("scheduler-maintenance-window.json")).unwrap()
    else {
        panic!()
    };
    assert_eq!(run.job, Job::MaintenanceWindow);
    assert_eq!(run.scheduled_time.to_rfc3339(), "2026-11-21T18:00:00+00:00");
    assert_eq!(
        run.event_id.as_str(),
        "schedule:maintenance-window@2026-11-21T18:00:00Z"
    );
}

#[test]
fn every_job() {
    for (name, job) in [
        ("maintenance-window", Job::MaintenanceWindow),
        ("sweeper", Job::Sweeper),
        ("reports", Job::Reports),
        ("digest", Job::Digest),
        ("access-key-scan", Job::AccessKeyScan),
    ] {
        let input =
            json!({"job": name, "report": "costs", "scheduled_time": "2026-11-21T18:00:00+01:00"});
        let Incoming::Scheduled(run) = decode_value(&input).unwrap() else {
            panic!()
        };
        assert_eq!(run.job, job);
        assert_eq!(run.scheduled_time.to_rfc3339(), "2026-11-21T17:00:00+00:00");
        assert_eq!(run.report.is_some(), job == Job::Reports, "{name}");
    }
}

#[test]
fn a_reports_run_names_its_report_and_each_report_is_its_own_run() {
    let mut ids = Vec::new();
    for (name, report) in [
        ("costs", Report::Costs),
        ("inventory", Report::Inventory),
        ("activities", Report::Activities),
    ] {
        let input =
            json!({"job": "reports", "report": name, "scheduled_time": "2026-12-07T06:00:00Z"});
        let Incoming::Scheduled(run) = decode_value(&input).unwrap() else {
            panic!()
        };
        assert_eq!(run.report, Some(report));
        ids.push(run.event_id.as_str().to_owned());
    }
    assert_eq!(
        ids,
        [
            "schedule:reports/costs@2026-12-07T06:00:00Z",
            "schedule:reports/inventory@2026-12-07T06:00:00Z",
            "schedule:reports/activities@2026-12-07T06:00:00Z"
        ],
        "a Monday 7th runs the inventory and the costs: two runs, two claims"
    );
}

#[test]
fn an_unknown_or_missing_report_is_a_clear_error() {
    let err = decode_str(
        r#"{"job": "reports", "report": "salaries", "scheduled_time": "2026-11-21T18:00:00Z"}"#,
    )
    .unwrap_err();
    assert!(matches!(err, DecodeError::UnknownReport { .. }));
    assert_eq!(
        err.to_string(),
        "unknown report `salaries` at `report`; known reports: costs, inventory, activities"
    );
    let err =
        decode_str(r#"{"job": "reports", "scheduled_time": "2026-11-21T18:00:00Z"}"#).unwrap_err();
    assert_eq!(err.path(), Some("report"));
    assert!(
        err.to_string().contains("costs, inventory, activities"),
        "{err}"
    );
    let err =
        decode_str(r#"{"job": "reports", "report": 5, "scheduled_time": "2026-11-21T18:00:00Z"}"#)
            .unwrap_err();
    assert_eq!(err.path(), Some("report"));
}

#[test]
fn unknown_job_lists_the_known_ones() {
    let err =
        decode_str(r#"{"job": "purge-everything", "scheduled_time": "2026-11-21T18:00:00Z"}"#)
            .unwrap_err();
    assert!(matches!(err, DecodeError::UnknownJob { .. }));
    assert_eq!(
        err.to_string(),
        "unknown scheduler job `purge-everything` at `job`; known jobs: \
         maintenance-window, sweeper, reports, digest, access-key-scan"
    );
    let err = decode_str(r#"{"job": "sweeper"}"#).unwrap_err();
    assert_eq!(err.path(), Some("scheduled_time"));
    let err = decode_str(r#"{"job": 3, "scheduled_time": "2026-11-21T18:00:00Z"}"#).unwrap_err();
    assert_eq!(err.path(), Some("job"));
}

// ---------------------------------------------------------------- shapes

#[test]
fn foreign_events_name_source_and_detail_type() {
    let err = decode_str(
        r#"{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "foreign event: source `aws.ec2`, detail-type `EC2 Instance State-change Notification`"
    );
    let mut event = fixture("signin-console-login-root.json");
    set(&mut event, "/source", json!("aws.iam"));
    assert!(matches!(
        decode_value(&event),
        Err(DecodeError::Foreign { .. })
    ));
}

#[test]
fn invalid_or_truncated_json() {
    let text = std::fs::read(format!("{FIXTURES}organizations-move-account.json")).unwrap();
    let err = decode(&text[..text.len() / 2]).unwrap_err();
    assert!(matches!(err, DecodeError::Json { .. }), "{err}");
    assert!(!err.to_string().contains(" at line 0"), "{err}");
    assert!(matches!(decode(b""), Err(DecodeError::Json { .. })));
    assert!(matches!(decode(b"\xff\xfe"), Err(DecodeError::Json { .. })));
    assert!(matches!(
        decode(b"[1, 2]"),
        Err(DecodeError::UnknownShape { .. })
    ));
    let err = decode(br#"{"hello": "world"}"#).unwrap_err();
    assert!(err.to_string().contains("`hello`"), "{err}");
}

#[test]
fn errors_never_print_an_email_in_clear() {
    let mut event = fixture("organizations-move-account.json");
    set(
        &mut event,
        "/detail/requestParameters/accountId",
        json!("alice@example.com"),
    );
    let err = decode_value(&event).unwrap_err();
    assert!(!err.to_string().contains("alice@"), "{err}");
    assert!(err.to_string().contains("a***@example.com"), "{err}");
}

// ---------------------------------------------------------------- spa's own events

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
        .unwrap()
        .to_utc()
}

#[test]
fn domain_event_envelope() {
    let event = DomainEvent::new(
        Label::AccountAssigned,
        "sandboxes",
        account("222222222222"),
        at(),
    )
    .with_transition(Some(State::Prepared), Some(State::Assigned))
    .with_holder("alice@example.com");
    let entry = event.to_entry();
    assert_eq!(entry.source, "spa");
    assert_eq!(entry.detail_type, "AccountAssigned");
    assert_eq!(entry.time, at());
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(
        detail,
        json!({
            "environment": "sandboxes",
            "account": "222222222222",
            "label": "AccountAssigned",
            "at": "2026-11-21T12:00:00Z",
            "from_state": "prepared",
            "to_state": "assigned",
            "holder": "a***@example.com",
        })
    );
}

#[test]
fn no_email_leaves_in_clear() {
    let mut event = DomainEvent::new(
        Label::BuildFailed,
        "sandboxes",
        account("222222222222"),
        at(),
    )
    .with_reason("build failed for bob.smith@example.com, see logs")
    .with_fact("notified", "carol@example.org");
    event.holder = Some("dave@example.com".into()); // set around the builder
    let entry = event.to_entry();
    for email in ["bob.smith@", "carol@", "dave@"] {
        assert!(!entry.detail.contains(email), "{}", entry.detail);
    }
    assert!(entry.detail.contains("b***@example.com"));
}

#[test]
fn domain_events_round_trip_through_the_bus() {
    for label in Label::ALL {
        let mut event = DomainEvent::new(label, "sandboxes", account("222222222222"), at());
        if label == Label::AccountUnmanaged {
            event = event.with_transition(Some(State::Assigned), None);
        } else if label.is_exception() {
            event = event
                .with_reason(format!("{label} for a***@example.com"))
                .with_fact(
                    "build_id",
                    "arn:aws:codebuild:eu-west-1:222222222222:build/p:1",
                )
                .with_fact("empty", "");
        } else {
            event = event
                .with_transition(Some(State::Vended), Some(State::Prepared))
                .with_holder("alice@example.com");
        }
        let delivered = event
            .to_entry()
            .delivered("e-1", &account("333333333333"), "eu-west-1")
            .unwrap();
        let bytes = serde_json::to_vec(&delivered).unwrap();
        let incoming = decode(&bytes).unwrap();
        assert!(incoming.is_own());
        assert_eq!(incoming.event_id().unwrap().as_str(), "eventbridge:e-1");
        let Incoming::Spa(own) = incoming else {
            panic!()
        };
        assert_eq!(own.event, event, "{label}");
    }
}

#[test]
fn own_events_are_checked_too() {
    let event = DomainEvent::new(
        Label::AccountVended,
        "sandboxes",
        account("222222222222"),
        at(),
    );
    let mut delivered = event
        .to_entry()
        .delivered("e-2", &account("333333333333"), "eu-west-1")
        .unwrap();
    delivered["detail-type"] = json!("AccountPurged");
    let err = decode_value(&delivered).unwrap_err();
    assert_eq!(err.path(), Some("detail-type"));

    delivered["detail-type"] = json!("AccountVended");
    delivered["detail"]["to_state"] = json!("Vended");
    let err = decode_value(&delivered).unwrap_err();
    assert_eq!(err.path(), Some("detail.to_state"));
    assert!(err.to_string().contains("quarantined"), "{err}");

    delivered["detail"]["to_state"] = json!("vended");
    delivered["detail"]["label"] = json!("AccountRenamed");
    let err = decode_value(&delivered).unwrap_err();
    assert_eq!(err.path(), Some("detail.label"));
}
