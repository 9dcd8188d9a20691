//! The slash command endpoint of `spa slack serve`, in process on a free port: real
//! signed HTTP requests, and a local server standing in for Slack's response URL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use spa_aws::webhooks::HttpWebhooks;
use spa_cli::slack_server::{SlackServer, bind, serve};
use spa_core::chatops::sign;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::MemorySlackUsers;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::slack::SlackOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SETTINGS: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
notifications:
  slack_signing_secret: ssm:/spa/slack-signing-secret
  slack_bot_token: ssm:/spa/slack-bot-token
features:
  slack_commands: true
  slack_team_id: T1
  slack_admins: [UADMIN1]
organizational_units:
  - identifier: ou-ab12-sandbox1
";

/// The secret given as `SLACK_SIGNING_SECRET` would be: not the one in the store.
const SECRET: &str = "local-override-secret";
const JANES: &str = "111111111111";
const JOHNS: &str = "222222222222";

fn settings() -> Settings {
    load("settings.yaml", SETTINGS, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The memory platform, but the webhooks are real HTTP (the response URL is a local
/// server): a platform of the in-memory ports with `HttpWebhooks`.
mod platform {
    use super::*;

    pub struct Local {
        pub memory: MemoryPlatform,
        pub webhooks: HttpWebhooks,
    }

    spa_usecases::forward_platform! {
        impl Platform for Local {
            inner: self.memory as MemoryPlatform;
            webhooks: HttpWebhooks = self.webhooks,
        }
    }
}

struct Running {
    port: u16,
    slack: MockServer,
    platform: Arc<platform::Local>,
}

async fn start() -> Running {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(JANES, "jane-sandbox", "ou-ab12-sandbox1")
        .with_account(JOHNS, "john-sandbox", "ou-ab12-sandbox1")
        .with_tags(
            JANES,
            &[
                ("account-state", "assigned"),
                ("account-since", "2025-02-01T08:00:00Z"),
                ("account-holder", "jane.doe@example.com"),
            ],
        )
        .with_tags(
            JOHNS,
            &[
                ("account-state", "prepared"),
                ("account-since", "2025-02-02T08:00:00Z"),
            ],
        );
    // the clock of the server is now: requests are signed now
    let memory = MemoryPlatform::new(organization, Utc::now());
    // spa has seen the accounts (its inventory, or their last transition): their
    // holders are in its holder -> accounts index
    let seen = settings();
    let engine = spa_usecases::Engine::new(&memory, &seen).unwrap();
    spa_usecases::report_accounts(&engine, &[]).await.unwrap();
    drop(engine);
    memory.secrets.set(
        "ssm:/spa/slack-signing-secret",
        "the-stored-secret-is-not-used",
    );
    memory.secrets.set("ssm:/spa/slack-bot-token", "xoxb-test");
    let platform = Arc::new(platform::Local {
        memory,
        webhooks: HttpWebhooks::new().unwrap(),
    });
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/commands/T1/answer"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&slack)
        .await;
    let users = MemorySlackUsers::new()
        .with_user("UJANE", "jane.doe@example.com")
        .with_user("UADMIN1", "admin@example.com");
    let listener = bind(0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = SlackServer {
        platform: Arc::clone(&platform),
        settings: Arc::new(settings()),
        users: Arc::new(users),
        options: SlackOptions {
            signing_secret: Some(spa_usecases::ports::Secret::new(SECRET)),
            local_response_base: Some(format!("{}/", slack.uri())),
        },
    };
    tokio::spawn(serve(listener, Arc::new(server)));
    Running {
        port,
        slack,
        platform,
    }
}

fn form(running: &Running, user: &str, text: &str) -> String {
    let url = format!("{}/commands/T1/answer", running.slack.uri());
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "token=x&team_id=T1&channel_id=C1&user_id={user}&user_name=u&command=%2Fspa&text={}&response_url={}&trigger_id=1",
        enc(text),
        enc(&url)
    )
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
async fn post(port: u16, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut request = format!(
        "POST /slack HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    // the server may close before reading a refused oversize body: keep what came
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn signed(port: u16, secret: &str, timestamp: i64, body: &str) -> (u16, String) {
    let timestamp = timestamp.to_string();
    let signature = sign(secret.as_bytes(), &timestamp, body.as_bytes());
    post(
        port,
        &[
            ("X-Slack-Request-Timestamp", &timestamp),
            ("X-Slack-Signature", &signature),
        ],
        body.as_bytes(),
    )
    .await
}

fn text(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_default();
    value["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_signed_request_is_answered_and_its_replay_refused() {
    let running = start().await;
    let body = form(&running, "UJANE", &format!("status {JANES}"));
    let now = Utc::now().timestamp();
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(text(&answer).contains("jane-sandbox"), "{answer}");
    assert!(!answer.contains("jane.doe@"), "masked: {answer}");

    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 401, "the same request again is a replay");
    assert_eq!(answer, "{\"error\":\"unauthorized\"}");
}

#[tokio::test]
async fn tampered_wrong_secret_stale_and_missing_headers_are_401_with_no_detail() {
    let running = start().await;
    let read_before = running.platform.memory.organization.calls.of("tags");
    let body = form(&running, "UJANE", &format!("status {JANES}"));
    let now = Utc::now().timestamp();
    let timestamp = now.to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let tampered = body.replace(JANES, JOHNS);
    let cases: Vec<(&str, (u16, String))> = vec![
        (
            "tampered",
            post(
                running.port,
                &[
                    ("X-Slack-Request-Timestamp", &timestamp),
                    ("X-Slack-Signature", &signature),
                ],
                tampered.as_bytes(),
            )
            .await,
        ),
        (
            "the stored secret, not the override",
            signed(running.port, "the-stored-secret-is-not-used", now, &body).await,
        ),
        (
            "stale",
            signed(running.port, SECRET, now - 6 * 60, &body).await,
        ),
        ("no headers", post(running.port, &[], body.as_bytes()).await),
        (
            "oversize",
            signed(running.port, SECRET, now, &"a".repeat(20_000)).await,
        ),
    ];
    for (name, (status, answer)) in cases {
        assert_eq!(status, 401, "{name}: {answer}");
        assert!(
            answer.is_empty() || answer == "{\"error\":\"unauthorized\"}",
            "{name}: {answer}"
        );
    }
    assert_eq!(
        running.platform.memory.organization.calls.of("tags"),
        read_before,
        "nothing read for a request refused"
    );
}

#[tokio::test]
async fn a_malformed_verified_request_is_400_and_an_unknown_command_gets_the_help() {
    let running = start().await;
    let now = Utc::now().timestamp();
    let (status, answer) = signed(running.port, SECRET, now, "command=%2Fspa&text=help").await;
    assert_eq!(
        (status, answer.as_str()),
        (400, "{\"error\":\"bad request\"}")
    );
    let body = form(&running, "UJANE", "launch the rockets");
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("did not understand `launch the rockets`"));
}

#[tokio::test]
async fn a_holder_is_refused_someone_elses_account_and_an_admin_is_not() {
    let running = start().await;
    let now = Utc::now().timestamp();
    let body = form(&running, "UJANE", &format!("status {JOHNS}"));
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("You can ask only about accounts you hold"));
    assert!(!text(&answer).contains("john-sandbox"));
    let body = form(&running, "UADMIN1", &format!("status {JOHNS}"));
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("john-sandbox") && text(&answer).contains("prepared"));
}

#[tokio::test]
async fn costs_answer_at_once_and_the_figures_arrive_at_the_response_url() {
    let running = start().await;
    let now = Utc::now().timestamp();
    let body = form(&running, "UJANE", "costs");
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 200);
    assert!(text(&answer).contains("Working on `costs`"), "{answer}");
    // the answer is posted by a task after the response
    let mut posted = Vec::new();
    for _ in 0..100 {
        posted = running.slack.received_requests().await.unwrap_or_default();
        if !posted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(posted.len(), 1, "one answer posted");
    let answer: Value = serde_json::from_slice(&posted[0].body).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    let shown = answer.to_string();
    assert!(shown.contains(JANES), "Jane's account: {shown}");
    assert!(!shown.contains(JOHNS), "{shown}");
    assert!(
        running.platform.memory.commands.sent().is_empty(),
        "locally, no queue"
    );
}

/// The form Slack posts when `user` clicks the button `action_id` of value `value`.
fn click(running: &Running, user: &str, action_id: &str, value: &str) -> String {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": { "id": user },
        "team": { "id": "T1" },
        "response_url": format!("{}/commands/T1/answer", running.slack.uri()),
        "actions": [{ "action_id": action_id, "value": value, "type": "button" }],
    });
    let encoded: String = payload
        .to_string()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("payload={encoded}")
}

#[tokio::test]
async fn a_click_is_answered_200_at_once_its_verdict_at_the_response_url() {
    let running = start().await;
    let now = Utc::now().timestamp();
    // Jane clicks Unfreeze on her own account: she is no admin
    let body = click(&running, "UJANE", "unfreeze", JANES);
    let (status, answer) = signed(running.port, SECRET, now, &body).await;
    assert_eq!((status, answer.as_str()), (200, "{}"));
    let mut posted = Vec::new();
    for _ in 0..100 {
        posted = running.slack.received_requests().await.unwrap_or_default();
        if !posted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(posted.len(), 1, "one verdict posted");
    let verdict: Value = serde_json::from_slice(&posted[0].body).unwrap();
    assert!(
        verdict.to_string().contains("Only spa's admins"),
        "{verdict}"
    );
    // the same click again is a replay; a forged button is a 400; a wrong secret 401
    let (status, _) = signed(running.port, SECRET, now, &body).await;
    assert_eq!(status, 401);
    let forged = click(&running, "UADMIN1", "delete_everything", JANES);
    let (status, answer) = signed(running.port, SECRET, now, &forged).await;
    assert_eq!(
        (status, answer.as_str()),
        (400, "{\"error\":\"bad request\"}")
    );
    let other = click(&running, "UADMIN1", "unfreeze", JOHNS);
    let (status, _) = signed(running.port, "not-the-secret", now, &other).await;
    assert_eq!(status, 401);
    let tags = running.platform.memory.organization.tags_of(JANES);
    assert_eq!(tags["account-state"], "assigned");
}
