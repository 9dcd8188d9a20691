//! Steps of `slack.feature`: the `/spa` slash command as Slack sends it, on the
//! in-memory platform. A request is the form Slack posts, signed with the app's
//! signing secret (the secret the settings name, in the memory secrets); it goes
//! through `on_slash_command` and then `defer_to_queue`, as the function URL does, so
//! a longer answer is a job on the memory command queue. "The queued job runs" is the
//! commands function: `on_command` on each queued job, which posts to the response
//! URL (the memory webhooks).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};
use spa_core::chatops::sign;
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::ports::{Instance, MemorySlackUsers};
use spa_usecases::slack::{
    SlackOptions, SlashAnswer, SlashRequest, defer_to_queue, on_slash_command,
};
use spa_usecases::{Engine, on_command};

use super::{SpaWorld, list, rows};

/// The signing secret of the Slack app, as the settings' reference resolves it.
pub(super) const SECRET: &str = "s3cr3t-signing";
/// Where Slack wants the answer of this command.
const RESPONSE_URL: &str = "https://hooks.slack.com/commands/T1/1/abc";

/// One request as it reached spa.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) timestamp: Option<String>,
    pub(super) signature: Option<String>,
    pub(super) body: String,
    /// The account id the asker named, when they named one.
    pub(super) account: Option<String>,
}

/// What a Slack scenario builds up.
#[derive(Debug, Default)]
pub struct Slack {
    admins: Vec<String>,
    platform: Option<MemoryPlatform>,
    directory: Option<MemorySlackUsers>,
    /// The requests sent, the last one last.
    sent: Vec<Sent>,
    /// Their answers, in the same order.
    answers: Vec<SlashAnswer>,
    /// The tags read before any request (spa's inventory of the accounts).
    read_before: usize,
    /// More settings of the sandbox unit (YAML, indented under it).
    pub(super) unit: String,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The form Slack posts for `/spa TEXT` typed by `user`.
pub(super) fn form(user: &str, text: &str) -> String {
    format!(
        "token=x&team_id=T1&channel_id=C1&user_id={user}&user_name=someone&command=%2Fspa&text={}&response_url={}",
        encode(text),
        encode(RESPONSE_URL)
    )
}

/// `application/x-www-form-urlencoded`, as Slack encodes.
pub(super) fn encode(text: &str) -> String {
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

/// The text the asker sees in an ephemeral answer.
pub(super) fn shown(body: &Value) -> String {
    body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

impl Slack {
    pub(super) fn platform(&self) -> &MemoryPlatform {
        self.platform
            .as_ref()
            .unwrap_or_else(|| panic!("no sandbox accounts were given"))
    }

    fn directory(&self) -> &MemorySlackUsers {
        self.directory
            .as_ref()
            .unwrap_or_else(|| panic!("no Slack users were given"))
    }

    pub(super) fn settings(&self) -> Settings {
        let admins = self.admins.join(", ");
        let text = format!(
            "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
notifications:
  slack_signing_secret: ssm:/spa/slack-signing-secret
  slack_bot_token: ssm:/spa/slack-bot-token
  sign_in_url: https://d-1234567890.awsapps.com/start
features:
  slack_commands: true
  slack_team_id: T1
  slack_admins: [{admins}]
organizational_units:
  - identifier: ou-ab12-sandbox1
{unit}",
            unit = self.unit
        );
        match load("settings.yaml", &text, &MemorySources::new()) {
            Ok(loaded) => loaded.settings,
            Err(error) => panic!("{error}"),
        }
    }

    fn last(&self) -> &SlashAnswer {
        self.answers
            .last()
            .unwrap_or_else(|| panic!("no request was sent"))
    }

    /// Sends one request as the function URL handles it: answered, then its job queued.
    pub(super) async fn send(&mut self, sent: Sent) {
        let settings = self.settings();
        let platform = self.platform();
        let engine = Engine::new(platform, &settings).unwrap_or_else(|e| panic!("{e}"));
        let request = SlashRequest {
            timestamp: sent.timestamp.as_deref(),
            signature: sent.signature.as_deref(),
            body: sent.body.as_bytes(),
        };
        let answer = on_slash_command(
            &engine,
            self.directory(),
            &SlackOptions::default(),
            &request,
        )
        .await;
        let answer = defer_to_queue(&engine, answer).await;
        self.sent.push(sent);
        self.answers.push(answer);
    }

    /// Sends `body` signed now with the app's secret, as Slack does.
    pub(super) async fn send_signed(&mut self, body: String, account: Option<String>) {
        let timestamp = self.platform().clock.now_at().timestamp().to_string();
        let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
        self.send(Sent {
            timestamp: Some(timestamp),
            signature: Some(signature),
            body,
            account,
        })
        .await;
    }

    /// Runs every queued job, as the commands function would.
    pub(super) async fn run_jobs(&self) {
        let settings = self.settings();
        let platform = self.platform();
        let engine = Engine::new(platform, &settings).unwrap_or_else(|e| panic!("{e}"));
        let jobs = platform.commands.sent();
        assert!(!jobs.is_empty(), "no job was queued");
        for job in &jobs {
            if let Err(error) = on_command(&engine, job).await {
                panic!("the queued job failed: {error}");
            }
        }
    }

    pub(super) fn posted(&self) -> Vec<(String, Value)> {
        self.platform().webhooks.posted()
    }
}

/// The account id at the end of `/spa status ACCOUNT`, if any.
fn named_account(text: &str) -> Option<String> {
    text.split_whitespace()
        .last()
        .filter(|w| w.len() == 12 && w.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// `/spa TEXT` → `TEXT`.
fn command_text(typed: &str) -> &str {
    typed
        .strip_prefix("/spa")
        .map(str::trim)
        .unwrap_or_else(|| panic!("`{typed}` is not a /spa command"))
}

#[given("the Slack users:")]
fn slack_users(world: &mut SpaWorld, step: &Step) {
    let mut directory = MemorySlackUsers::new();
    for row in rows(step, 2) {
        directory = directory.with_user(&row[0], &row[1]);
    }
    world.slack.directory = Some(directory);
}

#[given(expr = "the Slack admins {string}")]
fn slack_admins(world: &mut SpaWorld, admins: String) {
    world.slack.admins = list(&admins);
}

#[given("the sandbox accounts:")]
async fn sandbox_accounts(world: &mut SpaWorld, step: &Step) {
    let mut organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root");
    for row in rows(step, 3) {
        organization = organization
            .with_account(&row[0], &row[1], "ou-ab12-sandbox1")
            .with_tags(
                &row[0],
                &[
                    ("account-state", "assigned"),
                    ("account-since", "2025-02-01T08:00:00Z"),
                    ("account-holder", &row[2]),
                ],
            );
    }
    let platform = MemoryPlatform::new(organization, now());
    platform
        .secrets
        .set("ssm:/spa/slack-signing-secret", SECRET);
    platform
        .secrets
        .set("ssm:/spa/slack-bot-token", "xoxb-token");
    // spa has seen them (its inventory, or their last transition): their holders are
    // in its holder -> accounts index
    let settings = world.slack.settings();
    let engine = Engine::new(&platform, &settings).unwrap_or_else(|e| panic!("{e}"));
    spa_usecases::report_accounts(&engine, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    world.slack.read_before = platform.organization.calls.of("tags");
    world.slack.platform = Some(platform);
}

#[given(expr = "the instance {string} named {string} runs in {string} {string}")]
fn instance_runs(world: &mut SpaWorld, id: String, name: String, account: String, region: String) {
    let scans = &world.slack.platform().scans;
    scans.set_regions(&account, &[region.as_str()]);
    scans.add_instance(
        &account,
        &region,
        Instance {
            instance_id: id,
            private_ip: Some("10.0.0.5".into()),
            state: "running".into(),
            name: Some(name),
            instance_type: None,
        },
    );
}

#[when(expr = "{string} sends {string}")]
async fn sends(world: &mut SpaWorld, user: String, typed: String) {
    let text = command_text(&typed);
    world
        .slack
        .send_signed(form(&user, text), named_account(text))
        .await;
}

#[when(expr = "{string} of another Slack workspace sends {string} in a shared channel")]
async fn sends_from_another_workspace(world: &mut SpaWorld, user: String, typed: String) {
    let text = command_text(&typed);
    // Slack signs it with spa's app secret all the same: the channel is shared
    let body = form(&user, text).replace("team_id=T1&", "team_id=T9OTHER&");
    let timestamp = now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    world
        .slack
        .send(Sent {
            timestamp: Some(timestamp),
            signature: Some(signature),
            body,
            account: named_account(text),
        })
        .await;
}

#[when(
    regex = r#"^"([^"]*)" sends "([^"]*)" (with the body changed after signing|signed with another secret|signed 6 minutes ago|without the signature header)$"#
)]
async fn sends_untrusted(world: &mut SpaWorld, user: String, typed: String, how: String) {
    let text = command_text(&typed);
    let body = form(&user, text);
    let timestamp = now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    let sent = match how.as_str() {
        "with the body changed after signing" => Sent {
            timestamp: Some(timestamp),
            signature: Some(signature),
            body: body.replace("111111111111", "222222222222"),
            account: None,
        },
        "signed with another secret" => Sent {
            signature: Some(sign(b"another secret", &timestamp, body.as_bytes())),
            timestamp: Some(timestamp),
            body,
            account: None,
        },
        "signed 6 minutes ago" => {
            let old = (now() - TimeDelta::minutes(6)).timestamp().to_string();
            Sent {
                signature: Some(sign(SECRET.as_bytes(), &old, body.as_bytes())),
                timestamp: Some(old),
                body,
                account: None,
            }
        }
        "without the signature header" => Sent {
            timestamp: Some(timestamp),
            signature: None,
            body,
            account: None,
        },
        other => panic!("no such way to send: {other}"),
    };
    if how.starts_with("with the body changed") {
        assert_ne!(sent.body, form(&user, text), "the body was changed");
    }
    world.slack.send(sent).await;
}

#[when("the same request is sent again")]
async fn sent_again(world: &mut SpaWorld) {
    let sent = world
        .slack
        .sent
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no request was sent"));
    world.slack.send(sent).await;
}

#[when(expr = "a correctly signed request has the body {string}")]
async fn signed_body(world: &mut SpaWorld, body: String) {
    let timestamp = now().timestamp().to_string();
    let signature = sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
    world
        .slack
        .send(Sent {
            timestamp: Some(timestamp),
            signature: Some(signature),
            body,
            account: None,
        })
        .await;
}

#[when("the queued job runs")]
#[when("the queued job runs again")]
async fn job_runs(world: &mut SpaWorld) {
    world.slack.run_jobs().await;
}

#[then(expr = "the answer is {int}")]
fn answer_is(world: &mut SpaWorld, status: u16) {
    let answer = world.slack.last();
    assert_eq!(answer.status, status, "answered {}", answer.body);
}

#[then(expr = "the asker sees {string}")]
fn asker_sees(world: &mut SpaWorld, text: String) {
    let answer = world.slack.last();
    assert_eq!(
        answer.body["response_type"], "ephemeral",
        "only the asker sees it: {}",
        answer.body
    );
    let shown = shown(&answer.body);
    assert!(shown.contains(&text), "`{text}` is not in:\n{shown}");
}

#[then(expr = "the asker does not see {string}")]
fn asker_does_not_see(world: &mut SpaWorld, text: String) {
    let answer = world.slack.last();
    let all = answer.body.to_string();
    assert!(!all.contains(&text), "`{text}` is in:\n{all}");
}

#[then("the asker sees the same refusal as before, but for the account id")]
fn same_refusal(world: &mut SpaWorld) {
    let slack = &world.slack;
    let count = slack.answers.len();
    assert!(count >= 2, "two requests were sent");
    let answers = &slack.answers[count - 2..];
    let sents = &slack.sent[count - 2..];
    let [before, now] = [0, 1].map(|i| {
        let account = sents[i]
            .account
            .clone()
            .unwrap_or_else(|| panic!("request {i} named no account"));
        assert_eq!(answers[i].status, 200);
        let text = shown(&answers[i].body);
        assert!(
            text.contains(&account),
            "the refusal names {account}: {text}"
        );
        text.replace(&account, "ACCOUNT")
    });
    assert_eq!(before, now);
}

#[then(expr = "the answer body is exactly the error {string}")]
fn exactly_the_error(world: &mut SpaWorld, error: String) {
    assert_eq!(world.slack.last().body, json!({ "error": error }));
}

#[then("nothing was run")]
fn nothing_was_run(world: &mut SpaWorld) {
    let slack = &world.slack;
    let platform = slack.platform();
    assert_eq!(
        slack.directory().lookups(),
        0,
        "no Slack user was looked up"
    );
    assert_eq!(platform.store.calls.of("claim"), 0, "nothing was claimed");
    assert!(platform.commands.sent().is_empty(), "no job was queued");
    assert_eq!(
        platform.organization.calls.of("tags"),
        slack.read_before,
        "no tag was read"
    );
    assert!(platform.webhooks.posted().is_empty(), "nothing was posted");
}

#[then("nothing has been posted to the response URL yet")]
fn nothing_posted_yet(world: &mut SpaWorld) {
    assert!(
        world.slack.posted().is_empty(),
        "{:?}",
        world.slack.posted()
    );
    assert_eq!(
        world.slack.platform().commands.sent().len(),
        1,
        "one job was queued"
    );
}

#[then("one answer was posted to the response URL")]
fn one_posted(world: &mut SpaWorld) {
    let posted = world.slack.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].0, RESPONSE_URL);
    assert_eq!(posted[0].1["response_type"], "ephemeral");
}

#[then(expr = "the posted answer shows {string}")]
fn posted_shows(world: &mut SpaWorld, text: String) {
    let posted = world.slack.posted();
    let last = posted
        .last()
        .map(|(_, body)| body.to_string())
        .unwrap_or_else(|| panic!("nothing was posted"));
    assert!(last.contains(&text), "`{text}` is not in:\n{last}");
}

#[then(expr = "the posted answer does not show {string}")]
fn posted_does_not_show(world: &mut SpaWorld, text: String) {
    let posted = world.slack.posted();
    let last = posted
        .last()
        .map(|(_, body)| body.to_string())
        .unwrap_or_else(|| panic!("nothing was posted"));
    assert!(!last.contains(&text), "`{text}` is in:\n{last}");
}
