//! SES v2 e-mail against the emulator (moto server): simple and raw messages, the
//! sender identity, an unverified sender refused. What moto accepted is read back
//! from its model dump (`/moto-api/data.json`, where SES keeps sent messages).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::DateTime;
use serde_json::Value;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::ses::{SesMail, ensure_identity};
use spa_core::events::{AccountId, Label};
use spa_core::notify::{self, Audience, Notice};
use spa_usecases::ports::{Attachment, Email, Mail, PortError};

const SENDER: &str = "spa@example.com";

async fn config(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new())
}

/// The calls of an operation, whatever the service's name in the counter.
fn calls(config: &AwsConfig, operation: &str) -> u64 {
    config
        .calls()
        .snapshot()
        .iter()
        .filter(|(key, _)| key.ends_with(&format!(":{operation}")))
        .map(|(_, n)| n)
        .sum()
}

/// What moto's SES backend kept: `Message` (simple) and `RawMessage` records.
async fn sent(scenario: &spa_testkit::Scenario<'_>) -> Value {
    let url = format!("{}/moto-api/data.json", scenario.endpoint());
    let data: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    data["ses"].clone()
}

fn notice() -> Notice {
    Notice {
        label: Label::BudgetAlert,
        environment: "SpaTest".into(),
        account: AccountId::parse("111111111111").unwrap(),
        account_name: "Alice's sandbox".into(),
        holder: Some("a***@example.com".into()),
        ou_path: vec!["Root".into(), "Sandboxes".into()],
        cost_center: Some("CC-42".into()),
        at: DateTime::from_timestamp(1_791_036_300, 0).unwrap(),
        what_happened: "Actual cost reached 120.00 € <over> the budget.".into(),
        what_spa_did: "Opened an incident.".into(),
        next_steps: vec![],
        workbook_url: None,
        incident_url: None,
        cost_report_url: None,
        facts: vec![("Amount".into(), "120.00 EUR".into())],
    }
}

#[tokio::test]
async fn a_rendered_notice_is_sent_as_simple_content() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    ensure_identity(&config, SENDER).await.expect("identity");
    ensure_identity(&config, SENDER).await.expect("idempotent");
    assert_eq!(
        calls(&config, "CreateEmailIdentity"),
        1,
        "{:?}",
        config.calls().snapshot()
    );

    let rendered = notify::email(&notice(), Audience::Holder);
    let email = Email {
        from: SENDER.into(),
        to: vec!["alice@example.com".into()],
        subject: rendered.subject.clone(),
        text: rendered.text.clone(),
        html: rendered.html.clone(),
        attachments: vec![],
    };
    let id = SesMail::from_config(&config)
        .send_email(&email)
        .await
        .expect("sent");
    assert!(!id.is_empty());

    let ses = sent(&scenario).await;
    let messages = ses["Message"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{ses}");
    let message = &messages[0];
    assert_eq!(message["id"], id.as_str());
    assert_eq!(message["source"], SENDER);
    assert_eq!(
        message["subject"],
        "[spa SpaTest] Budget alert on your sandbox account Alice's sandbox (111111111111)"
    );
    assert_eq!(
        message["destinations"]["ToAddresses"][0],
        "alice@example.com"
    );
    // moto keeps the HTML body when there is one: UTF-8 intact, markup escaped
    let body = message["body"].as_str().unwrap();
    assert_eq!(body, rendered.html);
    assert!(body.contains("120.00 € &lt;over&gt; the budget."), "{body}");
    assert!(ses["RawMessage"].as_array().is_none_or(Vec::is_empty));
}

#[tokio::test]
async fn an_email_with_attachments_is_sent_as_raw_mime() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    ensure_identity(&config, SENDER).await.expect("identity");
    let workbook: Vec<u8> = (0u8..=255).cycle().take(3_000).collect();
    let email = Email {
        from: SENDER.into(),
        to: vec!["finops@example.com".into(), "sre@example.com".into()],
        subject: "[spa SpaTest] Costs of 2026-10".into(),
        text: "The summary of October is attached.".into(),
        html: "<p>The summary of October is attached.</p>".into(),
        attachments: vec![Attachment {
            file_name: "2026-10-summary.xlsx".into(),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                .into(),
            bytes: workbook.clone(),
        }],
    };
    let id = SesMail::from_config(&config)
        .send_email(&email)
        .await
        .expect("sent");

    let ses = sent(&scenario).await;
    let raws = ses["RawMessage"].as_array().unwrap();
    assert_eq!(raws.len(), 1, "{ses}");
    let raw = &raws[0];
    assert_eq!(raw["id"], id.as_str());
    assert_eq!(raw["source"], SENDER);
    let destinations: Vec<&str> = raw["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        destinations.contains(&"finops@example.com"),
        "{destinations:?}"
    );
    assert!(
        destinations.contains(&"sre@example.com"),
        "{destinations:?}"
    );
    let mime = raw["raw_data"].as_str().unwrap();
    assert!(
        mime.contains("Subject: [spa SpaTest] Costs of 2026-10"),
        "{mime}"
    );
    assert!(mime.contains("Content-Type: multipart/mixed"), "{mime}");
    assert!(
        mime.contains("Content-Type: multipart/alternative"),
        "{mime}"
    );
    assert!(mime.contains("filename=\"2026-10-summary.xlsx\""), "{mime}");
    // the attachment's bytes come back whole from the base64 part
    let part = mime
        .split("Content-Transfer-Encoding: base64")
        .nth(1)
        .unwrap()
        .split("--")
        .next()
        .unwrap();
    let encoded: String = part.split_whitespace().collect();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, workbook);
    assert!(ses["Message"].as_array().is_none_or(Vec::is_empty));
}

#[tokio::test]
async fn an_unverified_sender_is_refused() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let mail = SesMail::from_config(&config);
    let mut email = Email {
        from: "nobody@example.com".into(),
        to: vec!["alice@example.com".into()],
        subject: "hello".into(),
        text: "hello".into(),
        html: String::new(),
        attachments: vec![],
    };
    for attachments in [
        vec![],
        vec![Attachment {
            file_name: "a.csv".into(),
            content_type: "text/csv".into(),
            bytes: b"a,b\n".to_vec(),
        }],
    ] {
        email.attachments = attachments;
        let error = mail.send_email(&email).await.expect_err("refused");
        assert!(matches!(error, PortError::Rejected { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("nobody@"), "{text}");
        // moto (and SES) name the sender: it is there, masked
        assert!(text.contains("n***@example.com"), "{text}");
        assert!(!error.is_transient());
    }
    let ses = sent(&scenario).await;
    assert!(ses["Message"].as_array().is_none_or(Vec::is_empty), "{ses}");
    assert!(
        ses["RawMessage"].as_array().is_none_or(Vec::is_empty),
        "{ses}"
    );
}

#[tokio::test]
async fn an_email_without_recipient_is_refused_without_a_call() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let email = Email {
        from: SENDER.into(),
        to: vec![],
        subject: "hello".into(),
        text: "hello".into(),
        html: String::new(),
        attachments: vec![],
    };
    let error = SesMail::from_config(&config)
        .send_email(&email)
        .await
        .expect_err("refused");
    assert!(matches!(error, PortError::Rejected { .. }), "{error:?}");
    assert_eq!(config.calls().total(), 0);
}
