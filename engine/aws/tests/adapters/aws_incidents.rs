//! The Incident Manager adapter against mocked clients: moto has no Incident Manager,
//! so `aws-smithy-mocks` rules check the exact requests (client token, response plan,
//! title, impact, related item, trigger, summary, tags, timeline event) and answer as
//! the service does, errors included (as HTTP answers, so that the SDK reads their
//! codes as it would from AWS). No credentials, no network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use aws_sdk_ssmincidents::Client;
use aws_sdk_ssmincidents::operation::create_timeline_event::CreateTimelineEventOutput;
use aws_sdk_ssmincidents::operation::get_incident_record::GetIncidentRecordOutput;
use aws_sdk_ssmincidents::operation::start_incident::StartIncidentOutput;
use aws_sdk_ssmincidents::operation::tag_resource::TagResourceOutput;
use aws_sdk_ssmincidents::operation::update_incident_record::UpdateIncidentRecordOutput;
use aws_sdk_ssmincidents::types::{
    IncidentRecord, IncidentRecordSource, IncidentRecordStatus, ItemType, ItemValue,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Utc};
use spa_aws::incidents::{CUSTOM_EVENT, SsmIncidents};
use spa_usecases::ports::{IncidentRequest, IncidentStatus, Incidents, PortError, RelatedLink};

const PLAN: &str = "arn:aws:ssm-incidents::123456789012:response-plan/spa-exceptions";
const RECORD: &str = "arn:aws:ssm-incidents::123456789012:incident-record/spa-exceptions/6ebcc812-85f5-b7eb-8b2f-283e4EXAMPLE";
const REPORT_URL: &str = "https://spa-reports.s3.us-east-1.amazonaws.com/costs/222222222222/2026/2026-10-222222222222-month-to-date.xlsx?X-Amz-Expires=3600&X-Amz-Signature=0123abcd";

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

fn request() -> IncidentRequest {
    IncidentRequest {
        client_token: "spa-BudgetAlert-222222222222-2026-10".into(),
        response_plan_arn: PLAN.into(),
        title: "BudgetAlert: sandbox-alice (222222222222)".into(),
        summary: "The budget of **sandbox-alice** reached 120% (120.00 USD of 100.00 USD).".into(),
        impact: 3,
        tags: vec![
            ("spa:label".into(), "BudgetAlert".into()),
            ("spa:account".into(), "222222222222".into()),
            ("spa:ou-path".into(), "Root/Sandboxes, Team A".into()),
            ("spa:cost-center".into(), String::new()),
        ],
        related: vec![RelatedLink {
            title: "Month-to-date cost report".into(),
            url: REPORT_URL.into(),
        }],
        trigger_source: "spa".into(),
        triggered_at: at(),
        trigger_data: r#"{"label":"BudgetAlert","account":"222222222222"}"#.into(),
    }
}

/// An error answered as Incident Manager answers it (restJson1).
fn error(status: u16, code: &'static str, message: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
    );
    response.headers_mut().insert("x-amzn-errortype", code);
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

fn record(status: IncidentRecordStatus) -> GetIncidentRecordOutput {
    let record = IncidentRecord::builder()
        .arn(RECORD)
        .title("BudgetAlert: sandbox-alice (222222222222)")
        .status(status)
        .impact(3)
        .creation_time(aws_smithy_types::DateTime::from_secs(1_790_000_000))
        .last_modified_time(aws_smithy_types::DateTime::from_secs(1_790_000_100))
        .last_modified_by("arn:aws:sts::123456789012:assumed-role/spa/spa")
        .dedupe_string("")
        .incident_record_source(
            IncidentRecordSource::builder()
                .created_by("arn:aws:sts::123456789012:assumed-role/spa/spa")
                .source("spa")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    GetIncidentRecordOutput::builder()
        .incident_record(record)
        .build()
}

fn client(rules: &[&Rule]) -> SsmIncidents {
    let client: Client = mock_client!(aws_sdk_ssmincidents, RuleMode::Sequential, rules);
    SsmIncidents::new(client)
}

#[tokio::test]
async fn an_incident_starts_with_its_link_then_gets_its_summary_and_tags() {
    let start = mock!(Client::start_incident)
        .match_requests(|r| {
            let trigger = r.trigger_details().unwrap();
            let items = r.related_items();
            r.client_token() == Some("spa-BudgetAlert-222222222222-2026-10")
                && r.response_plan_arn() == Some(PLAN)
                && r.title() == Some("BudgetAlert: sandbox-alice (222222222222)")
                && r.impact() == Some(3)
                && items.len() == 1
                && items[0].title() == Some("Month-to-date cost report")
                && items[0].identifier().map(|i| i.r#type()) == Some(&ItemType::Other)
                && items[0].identifier().and_then(|i| i.value())
                    == Some(&ItemValue::Url(REPORT_URL.into()))
                && trigger.source() == "spa"
                && trigger.timestamp() == &aws_smithy_types::DateTime::from_secs(1_790_000_000)
                && trigger.raw_data() == Some(r#"{"label":"BudgetAlert","account":"222222222222"}"#)
        })
        .then_output(|| {
            StartIncidentOutput::builder()
                .incident_record_arn(RECORD)
                .build()
                .unwrap()
        });
    let summary = mock!(Client::update_incident_record)
        .match_requests(|r| {
            r.arn() == Some(RECORD)
                && r.summary()
                    == Some("The budget of **sandbox-alice** reached 120% (120.00 USD of 100.00 USD).")
                // the summary only: title, impact and status stay as started
                && r.title().is_none()
                && r.impact().is_none()
                && r.status().is_none()
        })
        .then_output(|| UpdateIncidentRecordOutput::builder().build());
    let tags = mock!(Client::tag_resource)
        .match_requests(|r| {
            let expected: HashMap<String, String> = [
                ("spa:label", "BudgetAlert"),
                ("spa:account", "222222222222"),
                // the comma is outside Incident Manager's tag pattern
                ("spa:ou-path", "Root/Sandboxes_ Team A"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            // the empty cost center is dropped
            r.resource_arn() == Some(RECORD) && r.tags() == Some(&expected)
        })
        .then_output(|| TagResourceOutput::builder().build());

    let incidents = client(&[&start, &summary, &tags]);
    let arn = incidents.start_incident(&request()).await.expect("started");

    assert_eq!(arn, RECORD);
    assert_eq!(start.num_calls(), 1);
    assert_eq!(summary.num_calls(), 1);
    assert_eq!(tags.num_calls(), 1);
}

#[tokio::test]
async fn a_link_too_long_for_a_related_item_goes_to_the_summary() {
    let presigned = format!(
        "{REPORT_URL}&X-Amz-Security-Token={}",
        "IQoJb3JpZ2luX2VjE".repeat(80)
    );
    let expected = format!(
        "The budget reached 120%.\n\n**Links**\n\n- [Month-to-date cost report]({presigned})"
    );
    let start = mock!(Client::start_incident)
        .match_requests(|r| r.related_items().is_empty() && r.response_plan_arn() == Some(PLAN))
        .then_output(|| {
            StartIncidentOutput::builder()
                .incident_record_arn(RECORD)
                .build()
                .unwrap()
        });
    let summary = mock!(Client::update_incident_record)
        .match_requests(move |r| r.arn() == Some(RECORD) && r.summary() == Some(expected.as_str()))
        .then_output(|| UpdateIncidentRecordOutput::builder().build());

    let mut request = request();
    request.summary = "The budget reached 120%.".into();
    request.tags.clear();
    request.related[0].url = presigned.clone();
    // no tags left: no TagResource call (a third call would find no rule and fail)
    let incidents = client(&[&start, &summary]);
    assert_eq!(
        incidents.start_incident(&request).await.expect("started"),
        RECORD
    );
    assert_eq!(summary.num_calls(), 1);
}

#[tokio::test]
async fn the_status_of_an_incident_is_open_then_resolved() {
    let open = mock!(Client::get_incident_record)
        .match_requests(|r| r.arn() == Some(RECORD))
        .then_output(|| record(IncidentRecordStatus::Open));
    let resolved = mock!(Client::get_incident_record)
        .match_requests(|r| r.arn() == Some(RECORD))
        .then_output(|| record(IncidentRecordStatus::Resolved));
    let incidents = client(&[&open, &resolved]);

    assert_eq!(
        incidents.incident_status(RECORD).await.expect("status"),
        IncidentStatus::Open
    );
    assert_eq!(
        incidents.incident_status(RECORD).await.expect("status"),
        IncidentStatus::Resolved
    );
}

#[tokio::test]
async fn a_timeline_event_is_a_custom_event_with_json_data() {
    let event = mock!(Client::create_timeline_event)
        .match_requests(|r| {
            r.client_token() == Some("spa-BudgetAlert-222222222222-2026-10-again-1")
                && r.incident_record_arn() == Some(RECORD)
                && r.event_time() == Some(&aws_smithy_types::DateTime::from_secs(1_790_000_600))
                && r.event_type() == Some(CUSTOM_EVENT)
                && r.event_type() == Some("Custom Event")
                && r.event_data() == Some(r#""BudgetAlert again: 150% of \"sandbox-alice\"""#)
                && r.event_references().is_empty()
        })
        .then_output(|| {
            CreateTimelineEventOutput::builder()
                .incident_record_arn(RECORD)
                .event_id("c0bcc885-a41d-eb01-b4ab-9d2de193643c")
                .build()
                .unwrap()
        });
    let incidents = client(&[&event]);
    incidents
        .add_timeline_event(
            RECORD,
            "spa-BudgetAlert-222222222222-2026-10-again-1",
            at() + chrono::Duration::minutes(10),
            "BudgetAlert again: 150% of \"sandbox-alice\"",
        )
        .await
        .expect("added");
    assert_eq!(event.num_calls(), 1);
}

#[tokio::test]
async fn a_denied_start_is_denied_and_nothing_else_is_called() {
    let start = mock!(Client::start_incident).then_http_response(|| {
        error(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: ssm-incidents:StartIncident",
        )
    });
    // Sequential: a summary or tag call after the denial would find no rule and fail
    let incidents = client(&[&start]);
    let result = incidents.start_incident(&request()).await;
    assert!(
        matches!(&result, Err(PortError::Denied { service, action, message })
            if service == "ssm-incidents" && action == "StartIncident"
                && message.contains("not authorized")),
        "{result:?}"
    );
    assert!(!result.unwrap_err().is_transient());
}

#[tokio::test]
async fn an_unknown_incident_is_not_found() {
    let missing = mock!(Client::get_incident_record)
        .match_requests(|r| r.arn() == Some(RECORD))
        .then_http_response(|| {
            error(
                404,
                "ResourceNotFoundException",
                "Incident record not found",
            )
        });
    let incidents = client(&[&missing]);
    assert_eq!(
        incidents.incident_status(RECORD).await,
        Err(PortError::not_found(
            "Incident Manager incident record",
            RECORD
        ))
    );
}

#[tokio::test]
async fn a_refused_timeline_event_is_rejected() {
    let invalid = mock!(Client::create_timeline_event).then_http_response(|| {
        error(
            400,
            "ValidationException",
            "1 validation error detected: Value at 'eventTime' failed to satisfy constraint",
        )
    });
    let incidents = client(&[&invalid]);
    let result = incidents
        .add_timeline_event(RECORD, "token", at(), "text")
        .await;
    assert!(
        matches!(&result, Err(PortError::Rejected { action, message, .. })
            if action == "CreateTimelineEvent" && message.starts_with("ValidationException")),
        "{result:?}"
    );
    assert!(!result.unwrap_err().is_transient());
}

#[tokio::test]
async fn a_failed_tagging_fails_the_start_so_that_it_is_retried() {
    let start = mock!(Client::start_incident).then_output(|| {
        StartIncidentOutput::builder()
            .incident_record_arn(RECORD)
            .build()
            .unwrap()
    });
    let summary = mock!(Client::update_incident_record)
        .then_output(|| UpdateIncidentRecordOutput::builder().build());
    let tags = mock!(Client::tag_resource).then_http_response(|| {
        error(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: ssm-incidents:TagResource",
        )
    });
    let incidents = client(&[&start, &summary, &tags]);
    let result = incidents.start_incident(&request()).await;
    assert!(
        matches!(&result, Err(PortError::Denied { action, .. }) if action == "TagResource"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_bad_request_is_refused_before_any_call() {
    // no rule: any call would fail the test
    let incidents = client(&[]);
    let mut request = request();
    request.trigger_source = "aws.budgets".into();
    assert!(matches!(
        incidents.start_incident(&request).await,
        Err(PortError::Rejected { .. })
    ));
}
