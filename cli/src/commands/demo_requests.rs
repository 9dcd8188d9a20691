//! The demo's requests stage: an engineer asks for a sandbox account with `/spa
//! request`, the unit's approver clicks Approve in the direct message spa sends, and
//! the account is given. Slack is the demo's local stand-in (the chat server): its Web
//! API (`users.info`, `chat.postMessage`) and the response URLs; each request is signed
//! with the app's signing secret as Slack signs it, and goes through the same use case
//! as the function URL (`on_slash_command`, then the job as the `commands` function
//! runs it).

use serde_json::{Value, json};
use spa_aws::slack_api::SlackApi;
use spa_core::chatops::sign;
use spa_core::events::AccountId;
use spa_usecases::Engine;
use spa_usecases::ports::{Platform, Secret};
use spa_usecases::slack::{SlackOptions, SlashRequest, answer_later, on_slash_command};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The engineer who asks: their Slack user id and address.
pub const REQUESTER: (&str, &str) = ("U0DEMOENGINEER", "new.engineer@example.com");
/// The demo app's signing secret (the demo signs as Slack would).
const SIGNING_SECRET: &str = "demo-signing-secret";
/// The demo app's bot token, kept where `notifications.slack_bot_token` says.
pub const BOT_TOKEN: &str = "xoxb-demo-token";

/// What came of the stage.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// The account given, if one was.
    pub account: Option<AccountId>,
    /// What the person who asked read in their direct message.
    pub told: Option<String>,
}

/// The approver of the first unit that opens requests, if any.
pub fn approver(settings: &spa_core::settings::Settings) -> Option<String> {
    settings.organizational_units.iter().find_map(|unit| {
        let requests = unit.item.requests.as_ref()?;
        (requests.feature == Some(spa_core::settings::Feature::Enabled))
            .then(|| requests.approvers.as_ref()?.first().cloned())
            .flatten()
    })
}

/// Slack's Web API on the chat server: `users.info` knows the engineer and the
/// approver, `chat.postMessage` and the response URLs answer `ok`.
pub async fn mount_slack(server: &MockServer, approver: &str) {
    for (user, email) in [REQUESTER, (approver, "team.lead@example.com")] {
        Mock::given(method("GET"))
            .and(path("/api/users.info"))
            .and(query_param("user", user))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true,
                "user": { "deleted": false, "profile": { "email": email } },
            })))
            .mount(server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ok": true })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("^/slack-response/.*"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
}

/// The direct messages the chat server received, oldest first.
async fn messages(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/api/chat.postMessage")
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Signs `body` as Slack does and hands it to the use case, then runs its job.
async fn as_slack<P: Platform>(
    engine: &Engine<'_, P>,
    users: &SlackApi,
    options: &SlackOptions,
    body: &str,
) -> Result<(), String> {
    let timestamp = engine.now().timestamp().to_string();
    let signature = sign(SIGNING_SECRET.as_bytes(), &timestamp, body.as_bytes());
    let request = SlashRequest {
        timestamp: Some(&timestamp),
        signature: Some(&signature),
        body: body.as_bytes(),
    };
    let answer = on_slash_command(engine, users, options, &request).await;
    if answer.status != 200 {
        return Err(format!(
            "the slash command answered {}: {}",
            answer.status, answer.body
        ));
    }
    let job = answer
        .later
        .ok_or_else(|| format!("no job was handed on: {}", answer.body))?;
    answer_later(engine, &job, options.local_response_base.as_deref())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `/spa request` by the engineer, then Approve by `approver`.
pub async fn request_and_approve<P: Platform>(
    engine: &Engine<'_, P>,
    server: &MockServer,
    approver: &str,
) -> Result<Requested, String> {
    let settings = engine.settings();
    let team = settings
        .features
        .slack_team_id
        .clone()
        .ok_or("no `features.slack_team_id`")?;
    let base = format!("{}/", server.uri());
    let options = SlackOptions {
        signing_secret: Some(Secret::new(SIGNING_SECRET)),
        local_response_base: Some(base.clone()),
    };
    let users = SlackApi::new(Some(&format!("{base}api/"))).map_err(|e| e.to_string())?;
    let asked = format!(
        "team_id={team}&channel_id=C0DEMO&user_id={}&user_name=engineer&command=%2Fspa&text=request&response_url={}",
        REQUESTER.0,
        encode(&format!("{base}slack-response/request"))
    );
    as_slack(engine, &users, &options, &asked).await?;
    // the approver's direct message carries the request's id in its Approve button
    let id = messages(server)
        .await
        .iter()
        .rev()
        .find(|m| m["channel"] == approver)
        .and_then(|m| {
            m["blocks"][1]["elements"][0]["value"]
                .as_str()
                .map(str::to_owned)
        })
        .ok_or("the approver was not asked")?;
    let payload = json!({
        "type": "block_actions",
        "user": { "id": approver },
        "team": { "id": team },
        "response_url": format!("{base}slack-response/approve"),
        "actions": [{ "action_id": "approve", "value": id, "type": "button" }],
    });
    let clicked = format!("payload={}", encode(&payload.to_string()));
    as_slack(engine, &users, &options, &clicked).await?;
    let told = messages(server)
        .await
        .into_iter()
        .rev()
        .find(|m| m["channel"] == REQUESTER.0)
        .and_then(|m| m["blocks"][0]["text"]["text"].as_str().map(str::to_owned));
    // "The sandbox account *name* (123456789012) is yours": the id in parentheses
    let account = told.as_deref().and_then(|text| {
        text.split('(')
            .filter_map(|part| part.split_once(')'))
            .find_map(|(id, _)| AccountId::parse(id))
    });
    Ok(Requested { account, told })
}
