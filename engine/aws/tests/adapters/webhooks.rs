//! The webhook adapter against a real local HTTP server (wiremock) that records what
//! it receives: bodies, retries, refusals, timeouts, and the URL kept secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::DateTime;
use serde_json::json;
use spa_aws::webhooks::{HttpWebhooks, WebhookOptions};
use spa_core::events::{AccountId, Label};
use spa_core::notify::{self, Notice};
use spa_usecases::Retry;
use spa_usecases::ports::{PortError, Secret, Webhooks};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The secret part of the webhook URL, as Slack's are made.
const SECRET_PATH: &str = "/services/T0SPA0000/B0SPA0000/s3cretT0kenNeverPrinted";

/// Short waits so that retries take milliseconds.
fn options(tries: u32) -> WebhookOptions {
    WebhookOptions {
        connect_timeout: Duration::from_millis(500),
        timeout: Duration::from_millis(500),
        retry: Retry {
            attempts: tries,
            backoff: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            jitter: true,
        },
        retry_after_cap: Duration::from_millis(100),
        slack_api: spa_aws::webhooks::SLACK_API.to_owned(),
    }
}

fn webhooks(tries: u32) -> HttpWebhooks {
    HttpWebhooks::with_options(options(tries)).expect("client")
}

fn url(server: &MockServer) -> Secret {
    Secret::new(format!("{}{SECRET_PATH}", server.uri()))
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

/// Neither the URL nor its secret path shows in the error, however printed.
fn assert_secret_kept(error: &PortError, url: &Secret) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(url.expose()), "{text}");
        assert!(!text.contains("s3cretT0ken"), "{text}");
        assert!(!text.contains("/services/"), "{text}");
    }
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
        what_happened: "Actual cost reached 120.00 USD & rising <fast>.".into(),
        what_spa_did: "Opened an incident.".into(),
        next_steps: vec!["spa status --account 111111111111".into()],
        workbook_url: None,
        incident_url: Some("https://console.aws.amazon.com/systems-manager/incidents/x".into()),
        cost_report_url: None,
        facts: vec![("Amount".into(), "120.00 USD".into())],
    }
}

#[tokio::test]
async fn a_slack_payload_is_posted_as_json_and_ok_is_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SECRET_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let payload = notify::slack(&notice());
    webhooks(3)
        .post_json(&url(&server), &payload)
        .await
        .expect("delivered");

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = request.body_json().unwrap();
    assert_eq!(body, payload);
    assert_eq!(
        body["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .lines()
            .nth(1),
        Some("Actual cost reached 120.00 USD &amp; rising &lt;fast&gt;.")
    );
}

#[tokio::test]
async fn a_teams_202_accepted_is_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let payload = notify::teams(&notice());
    webhooks(3)
        .post_json(&url(&server), &payload)
        .await
        .expect("delivered");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].body_json::<serde_json::Value>().unwrap(),
        payload
    );
}

#[tokio::test]
async fn a_500_then_a_200_is_delivered_on_the_second_try() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    webhooks(3)
        .post_json(&url(&server), &json!({"text": "hi"}))
        .await
        .expect("delivered after a retry");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn always_500_is_unavailable_after_exactly_the_tries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream down"))
        .mount(&server)
        .await;
    let url = url(&server);
    let error = webhooks(4)
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("unavailable");
    assert_eq!(requests(&server).await, 4);
    let PortError::Unavailable { service, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(service, "webhook 127.0.0.1");
    assert!(message.contains("gave up after 4 tries"), "{message}");
    assert!(
        message.contains("last HTTP 500 Internal Server Error: upstream down"),
        "{message}"
    );
    assert!(error.is_transient());
    assert_secret_kept(&error, &url);
}

#[tokio::test]
async fn a_400_is_rejected_at_once_with_the_start_of_the_body() {
    let server = MockServer::start().await;
    let body = format!("invalid_blocks {}", "x".repeat(1_000));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(body))
        .mount(&server)
        .await;
    let url = url(&server);
    let error = webhooks(3)
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("rejected");
    assert_eq!(requests(&server).await, 1, "a 4xx is not retried");
    let PortError::Rejected {
        action, message, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(action, "POST");
    assert!(
        message.starts_with("HTTP 400 Bad Request: invalid_blocks xxx"),
        "{message}"
    );
    let kept = message.trim_start_matches("HTTP 400 Bad Request: ");
    assert_eq!(kept.chars().count(), 201, "200 characters and the cut mark");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_slack_404_channel_not_found_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found"))
        .mount(&server)
        .await;
    let error = webhooks(3)
        .post_json(&url(&server), &json!({"text": "hi"}))
        .await
        .expect_err("rejected");
    assert_eq!(requests(&server).await, 1);
    assert!(
        matches!(&error, PortError::Rejected { message, .. } if message == "HTTP 404 Not Found: channel_not_found"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let url = url(&server);
    let mut options = options(2);
    options.timeout = Duration::from_millis(200);
    let error = HttpWebhooks::with_options(options)
        .unwrap()
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("timed out");
    let PortError::Unavailable { message, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("gave up after 2 tries"), "{message}");
    assert!(message.contains("timed out after 200 ms"), "{message}");
    assert_eq!(requests(&server).await, 2);
    assert_secret_kept(&error, &url);
}

#[tokio::test]
async fn a_429_waits_as_retry_after_asks_up_to_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let started = Instant::now();
    webhooks(3)
        .post_json(&url(&server), &json!({"text": "hi"}))
        .await
        .expect("delivered after the wait");
    assert_eq!(requests(&server).await, 2);
    // the backoff alone waits at most 10 ms; the capped Retry-After asks for 100 ms
    // (and not an hour: the test would not end)
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn a_429_every_time_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .mount(&server)
        .await;
    let error = webhooks(3)
        .post_json(&url(&server), &json!({"text": "hi"}))
        .await
        .expect_err("unavailable");
    assert_eq!(requests(&server).await, 3);
    assert!(
        matches!(&error, PortError::Unavailable { message, .. } if message.contains("429 Too Many Requests")),
        "{error:?}"
    );
}

#[tokio::test]
async fn nobody_listening_is_unavailable_and_the_url_stays_secret() {
    // a port that was just free: nothing listens there any more
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = Secret::new(format!(
        "http://127.0.0.1:{port}{SECRET_PATH}?sig=QuerySecretValue"
    ));
    let error = webhooks(2)
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("unavailable");
    let PortError::Unavailable { message, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("gave up after 2 tries: last could not connect"),
        "{message}"
    );
    assert_secret_kept(&error, &url);
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("QuerySecretValue"), "{text}");
    }
}

#[tokio::test]
async fn a_server_that_echoes_the_url_does_not_leak_it() {
    let server = MockServer::start().await;
    let url = url(&server);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string(format!("forbidden: {} ({SECRET_PATH})", url.expose())),
        )
        .mount(&server)
        .await;
    let error = webhooks(3)
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("rejected");
    assert!(
        matches!(&error, PortError::Rejected { message, .. } if message == "HTTP 403 Forbidden: forbidden: *** (***)"),
        "{error:?}"
    );
    assert_secret_kept(&error, &url);
}

#[tokio::test]
async fn a_reference_that_is_no_url_is_rejected_without_printing_it() {
    let url = Secret::new("xoxb-not-a-url-s3cretT0ken");
    let error = webhooks(3)
        .post_json(&url, &json!({"text": "hi"}))
        .await
        .expect_err("rejected");
    assert!(matches!(error, PortError::Rejected { .. }), "{error:?}");
    assert_secret_kept(&error, &url);
    let debug = format!("{:?}", webhooks(3));
    assert!(!debug.contains("s3cret"));
}

#[tokio::test]
async fn a_direct_message_goes_to_chat_post_message_with_the_bot_token() {
    use wiremock::matchers::{body_json, header};
    let server = MockServer::start().await;
    let message = json!({"channel": "U0JANE", "text": "The sandbox account is yours."});
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", "Bearer xoxb-s3cretBotT0ken"))
        .and(body_json(&message))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "D1", "ts": "1.2"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let token = Secret::new("xoxb-s3cretBotT0ken");
    let slack = webhooks(3).with_slack_api(Some(&format!("{}/api", server.uri())));
    slack.post_message(&token, &message).await.expect("posted");

    // Slack refuses with a 200 and `ok: false`: the error says Slack's word, never the token
    let refused = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
        )
        .mount(&refused)
        .await;
    let error = webhooks(3)
        .with_slack_api(Some(&refused.uri()))
        .post_message(&token, &message)
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, PortError::Rejected { message, .. } if message == "Slack refused the message: channel_not_found"),
        "{error:?}"
    );
    assert!(!format!("{error:?}{error}").contains("s3cretBotT0ken"));
}

#[tokio::test]
async fn a_holder_is_found_in_slack_by_address_or_not_at_all() {
    use wiremock::matchers::{header, query_param};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/users.lookupByEmail"))
        .and(header("authorization", "Bearer xoxb-s3cretBotT0ken"))
        .and(query_param("email", "jane@example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "user": {"id": "U0JANE"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users.lookupByEmail"))
        .and(query_param("email", "nobody@example.com"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "users_not_found"})),
        )
        .mount(&server)
        .await;
    let token = Secret::new("xoxb-s3cretBotT0ken");
    let slack = webhooks(1).with_slack_api(Some(&server.uri()));
    assert_eq!(
        slack.slack_user(&token, "jane@example.com").await.unwrap(),
        Some("U0JANE".to_owned())
    );
    assert_eq!(
        slack
            .slack_user(&token, "nobody@example.com")
            .await
            .unwrap(),
        None
    );
    // another refusal is an error that names Slack's word, never the token
    let refused = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "missing_scope"})),
        )
        .mount(&refused)
        .await;
    let error = webhooks(1)
        .with_slack_api(Some(&refused.uri()))
        .slack_user(&token, "jane@example.com")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("missing_scope"), "{error}");
    assert!(!format!("{error:?}").contains("s3cretBotT0ken"));
}
