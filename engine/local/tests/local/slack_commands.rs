//! The slash command use case on the in-memory platform: what a Slack user notices.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use spa_core::chatops::sign;
use spa_core::events::Action;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::Engine;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::ports::{MemorySlackUsers, PortError, Secret};
use spa_usecases::slack::{
    SlackOptions, SlashAnswer, SlashRequest, answer_later, defer_to_queue, on_slash_command,
};

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

const SECRET: &str = "s3cr3t-signing";
const JANES: &str = "111111111111";
const JOHNS: &str = "222222222222";
const URL: &str = "https://hooks.slack.com/commands/T1/1/abc";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

fn settings() -> Settings {
    load("settings.yaml", SETTINGS, &MemorySources::new())
        .map(|l| l.settings)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn platform() -> MemoryPlatform {
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
                ("account-state", "assigned"),
                ("account-since", "2025-02-02T08:00:00Z"),
                ("account-holder", "john.roe@example.com"),
            ],
        );
    let platform = MemoryPlatform::new(organization, now());
    platform
        .secrets
        .set("ssm:/spa/slack-signing-secret", SECRET);
    platform
        .secrets
        .set("ssm:/spa/slack-bot-token", "xoxb-token");
    platform
}

/// spa has seen the accounts (its inventory after an upgrade, or their last
/// transition): their holders are in its holder → accounts index.
async fn seen(engine: &Engine<'_, MemoryPlatform>) {
    spa_usecases::report_accounts(engine, &[]).await.unwrap();
}

fn users() -> MemorySlackUsers {
    MemorySlackUsers::new()
        .with_user("UJANE", "Jane.Doe@example.com")
        .with_user("UJOHN", "john.roe@example.com")
        .with_user("UBOSS", "boss@example.com")
}

fn form(user: &str, text: &str) -> String {
    let enc = |s: &str| form_urlencoded_bytes(s);
    format!(
        "token=x&team_id=T1&channel_id=C1&user_id={user}&user_name=someone&command=%2Fspa&text={}&response_url={}",
        enc(text),
        enc(URL)
    )
}

pub(crate) fn form_urlencoded_bytes(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn ask(platform: &MemoryPlatform, users: &MemorySlackUsers, body: &str) -> SlashAnswer {
    let settings = settings();
    let engine = Engine::new(platform, &settings).unwrap();
    let timestamp = now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let request = SlashRequest {
        timestamp: Some(&timestamp),
        signature: Some(&signature),
        body: body.as_bytes(),
    };
    on_slash_command(&engine, users, &SlackOptions::default(), &request).await
}

fn shown(answer: &SlashAnswer) -> String {
    answer.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_holder_sees_the_state_of_their_account_at_once() {
    let platform = platform();
    let answer = ask(
        &platform,
        &users(),
        &form("UJANE", &format!("status {JANES}")),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["response_type"], "ephemeral");
    let text = shown(&answer);
    assert!(
        text.contains("jane-sandbox") && text.contains("*assigned*"),
        "{text}"
    );
    assert!(!text.contains("jane.doe@"), "the address is masked: {text}");
    assert!(answer.later.is_none());
}

#[tokio::test]
async fn a_holder_asking_about_someone_elses_account_is_refused_like_a_missing_one() {
    let platform = platform();
    let users = users();
    let other = ask(
        &platform,
        &users,
        &form("UJANE", &format!("status {JOHNS}")),
    )
    .await;
    let missing = ask(&platform, &users, &form("UJANE", "status 999999999999")).await;
    assert_eq!(other.status, 200);
    assert!(shown(&other).contains("You can ask only about accounts you hold"));
    assert!(!shown(&other).contains("john-sandbox"));
    assert_eq!(
        shown(&other).replace(JOHNS, "X"),
        shown(&missing).replace("999999999999", "X")
    );
}

#[tokio::test]
async fn an_admin_may_ask_about_any_account() {
    let platform = platform();
    // by user id
    let answer = ask(
        &platform,
        &users(),
        &form("UADMIN1", &format!("status {JOHNS}")),
    )
    .await;
    assert!(
        shown(&answer).contains("john-sandbox"),
        "{}",
        shown(&answer)
    );
    // never by address: `boss@example.com` is whatever a profile says
    let answer = ask(
        &platform,
        &users(),
        &form("UBOSS", &format!("status {JANES}")),
    )
    .await;
    assert!(
        shown(&answer).contains("You can ask only about accounts you hold")
            && !shown(&answer).contains("jane-sandbox"),
        "{}",
        shown(&answer)
    );
}

#[tokio::test]
async fn help_and_unknown_commands_answer_with_the_help() {
    let platform = platform();
    let users = users();
    let help = ask(&platform, &users, &form("UJANE", "help")).await;
    assert_eq!(help.status, 200);
    assert!(shown(&help).contains("/spa status"));
    let unknown = ask(&platform, &users, &form("UJANE", "reboot everything")).await;
    assert_eq!(unknown.status, 200);
    assert!(shown(&unknown).contains("did not understand `reboot everything`"));
    assert_eq!(users.lookups(), 0, "help needs no look-up");
}

#[tokio::test]
async fn costs_are_answered_later_through_the_command_queue() {
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    seen(&engine).await;
    let answer = ask(&platform, &users(), &form("UJANE", "costs")).await;
    assert_eq!(answer.status, 200);
    assert!(shown(&answer).contains("Working on `costs`"));
    let answer = defer_to_queue(&engine, answer).await;
    assert!(answer.later.is_none());
    let sent = platform.commands.sent();
    assert_eq!(sent.len(), 1);
    assert!(matches!(sent[0].action, Action::SlackReply { .. }));
    assert!(platform.webhooks.posted().is_empty(), "nothing posted yet");

    // the commands function runs the job: the answer goes to the response URL, once
    let outcome = spa_usecases::on_command(&engine, &sent[0]).await.unwrap();
    assert_eq!(
        outcome.verdict,
        spa_usecases::Verdict::Notified("slash command answered".into())
    );
    let again = spa_usecases::on_command(&engine, &sent[0]).await.unwrap();
    assert_eq!(again.verdict, spa_usecases::Verdict::Seen);
    let posted = platform.webhooks.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].0, URL);
    assert_eq!(posted[0].1["response_type"], "ephemeral");
    let text = posted[0].1.to_string();
    assert!(
        text.contains("jane-sandbox") || text.contains(JANES),
        "{text}"
    );
    assert!(!text.contains(JOHNS), "only Jane's account: {text}");
}

#[tokio::test]
async fn status_of_my_accounts_lists_only_mine_later() {
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    seen(&engine).await;
    let answer = ask(&platform, &users(), &form("UJOHN", "status me")).await;
    let job = answer.later.expect("deferred");
    answer_later(&engine, &job, None).await.unwrap();
    let posted = platform.webhooks.posted();
    let text = posted[0].1["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains(JOHNS) && !text.contains(JANES), "{text}");
}

#[tokio::test]
async fn a_job_with_a_foreign_response_url_posts_nothing() {
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    let answer = ask(&platform, &users(), &form("UJANE", "costs")).await;
    let mut job = answer.later.expect("deferred");
    if let Action::SlackReply { response_url, .. } = &mut job.action {
        *response_url = "https://evil.example.com/steal".into();
    }
    assert!(answer_later(&engine, &job, None).await.is_err());
    assert!(platform.webhooks.posted().is_empty());
}

#[tokio::test]
async fn a_queue_that_refuses_turns_the_answer_into_try_again() {
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings)
        .unwrap()
        .with_retry(spa_usecases::Retry::immediate(1));
    platform.commands.faults.fail(
        "send",
        PortError::Unavailable {
            service: "sqs".into(),
            message: "down".into(),
        },
        5,
    );
    let answer = ask(&platform, &users(), &form("UJANE", "costs")).await;
    let answer = defer_to_queue(&engine, answer).await;
    assert_eq!(answer.status, 200);
    assert!(shown(&answer).contains("could not answer"));
}

#[tokio::test]
async fn signature_problems_and_replays_are_401_and_run_nothing() {
    let platform = platform();
    let users = users();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    let body = form("UJANE", &format!("status {JANES}"));
    let timestamp = now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let options = SlackOptions::default();
    let run = |timestamp: Option<String>, signature: Option<String>, body: String| {
        let engine = &engine;
        let users = &users;
        let options = &options;
        async move {
            let request = SlashRequest {
                timestamp: timestamp.as_deref(),
                signature: signature.as_deref(),
                body: body.as_bytes(),
            };
            on_slash_command(engine, users, options, &request).await
        }
    };
    let tampered = body.replace(JANES, JOHNS);
    let wrong = sign(b"another secret", &timestamp, body.as_bytes());
    let old = (now().timestamp() - 301).to_string();
    let stale = sign(SECRET.as_bytes(), &old, body.as_bytes());
    let huge = "a".repeat(9 * 1024);
    for (name, answer) in [
        (
            "tampered",
            run(Some(timestamp.clone()), Some(signature.clone()), tampered).await,
        ),
        (
            "wrong secret",
            run(Some(timestamp.clone()), Some(wrong), body.clone()).await,
        ),
        ("stale", run(Some(old), Some(stale), body.clone()).await),
        (
            "no timestamp",
            run(None, Some(signature.clone()), body.clone()).await,
        ),
        (
            "no signature",
            run(Some(timestamp.clone()), None, body.clone()).await,
        ),
        (
            "garbled",
            run(Some("soon".into()), Some(signature.clone()), body.clone()).await,
        ),
        (
            "oversize",
            run(Some(timestamp.clone()), Some(signature.clone()), huge).await,
        ),
    ] {
        assert_eq!(answer.status, 401, "{name}");
        assert_eq!(
            answer.body,
            serde_json::json!({"error": "unauthorized"}),
            "{name}"
        );
    }
    assert_eq!(users.lookups(), 0, "nothing ran before the signature");
    assert_eq!(platform.organization.calls.of("tags"), 0);

    let first = run(
        Some(timestamp.clone()),
        Some(signature.clone()),
        body.clone(),
    )
    .await;
    assert_eq!(first.status, 200);
    let replay = run(Some(timestamp), Some(signature), body).await;
    assert_eq!(replay.status, 401, "a replay is refused");
}

#[tokio::test]
async fn a_verified_but_malformed_request_is_400_without_detail() {
    let platform = platform();
    let answer = ask(&platform, &users(), "command=%2Fspa&text=help").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body, serde_json::json!({"error": "bad request"}));
    let foreign = form("UJANE", "help").replace("hooks.slack.com", "evil.example.com");
    let answer = ask(&platform, &users(), &foreign).await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn a_user_without_an_address_or_slack_down_gets_a_polite_answer() {
    let platform = platform();
    let nobody = MemorySlackUsers::new();
    let answer = ask(
        &platform,
        &nobody,
        &form("UNOBODY", &format!("status {JANES}")),
    )
    .await;
    assert!(shown(&answer).contains("could not find your e-mail address"));
    let down = MemorySlackUsers::new().failing(PortError::Unavailable {
        service: "slack".into(),
        message: "down".into(),
    });
    let answer = ask(&platform, &down, &form("UJANE", &format!("status {JANES}"))).await;
    assert_eq!(answer.status, 200);
    assert!(shown(&answer).contains("could not answer"));
    let _ = Secret::new("unused");
    let _: Value = answer.body;
}

#[test]
fn the_settings_check_admins_and_keep_the_bot_token_a_reference() {
    let settings = settings();
    assert_eq!(settings.features.slack_admins, ["UADMIN1"]);
    assert_eq!(
        settings
            .notifications
            .slack_bot_token
            .as_ref()
            .map(|r| r.as_str()),
        Some("ssm:/spa/slack-bot-token")
    );
    for bad in ["'not an admin'", "boss@example.com"] {
        let text = SETTINGS.replace("[UADMIN1]", &format!("[UADMIN1, {bad}]"));
        let Err(error) = load("settings.yaml", &text, &MemorySources::new()) else {
            panic!("refused")
        };
        let error = error.to_string();
        assert!(
            error.contains("features.slack_admins[1]")
                && error.contains("a Slack user id (`U0123ABCD`), never an e-mail address"),
            "{error}"
        );
    }
    let literal = SETTINGS.replace("ssm:/spa/slack-bot-token", "xoxb-1234-5678");
    assert!(load("settings.yaml", &literal, &MemorySources::new()).is_err());
}

#[tokio::test]
async fn a_function_url_event_is_answered_and_its_job_queued() {
    use base64::Engine as _;
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    let body = form("UJANE", "costs");
    let timestamp = now().timestamp().to_string();
    let event = serde_json::json!({
        "version": "2.0",
        "headers": {
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": sign(SECRET.as_bytes(), &timestamp, body.as_bytes()),
        },
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true,
    });
    let answer =
        spa_usecases::slack::on_function_url(&engine, &users(), &SlackOptions::default(), &event)
            .await;
    assert_eq!(answer.status, 200);
    assert!(answer.later.is_none(), "queued before answering");
    assert_eq!(platform.commands.sent().len(), 1);
    let replay =
        spa_usecases::slack::on_function_url(&engine, &users(), &SlackOptions::default(), &event)
            .await;
    assert_eq!(replay.status, 401);
    assert_eq!(platform.commands.sent().len(), 1);
}

#[tokio::test]
async fn find_searches_the_askers_accounts_and_an_admin_every_managed_one() {
    use spa_usecases::ports::Instance;
    let platform = platform();
    let settings = settings();
    let engine = Engine::new(&platform, &settings).unwrap();
    seen(&engine).await;
    for (account, id) in [
        (JANES, "i-0123456789abcdef0"),
        (JOHNS, "i-0fedcba9876543210"),
    ] {
        platform.scans.set_regions(account, &["eu-west-1"]);
        platform.scans.add_instance(
            account,
            "eu-west-1",
            Instance {
                instance_id: id.into(),
                private_ip: Some("10.0.0.5".into()),
                state: "running".into(),
                name: Some(format!("box-{account}")),
                instance_type: None,
            },
        );
    }
    let answer_of = |user: &'static str| {
        let platform = &platform;
        let engine = &engine;
        async move {
            let answer = ask(platform, &users(), &form(user, "find 10.0.0.5")).await;
            assert!(shown(&answer).contains("Working on `find 10.0.0.5`"));
            answer_later(engine, &answer.later.expect("deferred"), None)
                .await
                .unwrap();
            platform.webhooks.posted().last().unwrap().1.to_string()
        }
    };
    let janes = answer_of("UJANE").await;
    assert!(janes.contains("i-0123456789abcdef0"), "{janes}");
    assert!(!janes.contains("i-0fedcba9876543210"), "{janes}");
    let admins = answer_of("UADMIN1").await;
    assert!(
        admins.contains("i-0123456789abcdef0") && admins.contains("i-0fedcba9876543210"),
        "{admins}"
    );
    let answer = ask(&platform, &users(), &form("UJANE", "find i-zz")).await;
    answer_later(&engine, &answer.later.expect("deferred"), None)
        .await
        .unwrap();
    let bad = platform.webhooks.posted().last().unwrap().1.to_string();
    assert!(bad.contains("I cannot search for that"), "{bad}");
}
