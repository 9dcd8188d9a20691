//! Steps of `requests.feature`: `/spa request`, its approval in a direct message,
//! `/spa extend` and spa's buttons, in the Slack world of `slack.feature` (the
//! in-memory platform). A click is the form Slack posts for a button (`payload`,
//! `block_actions`), signed like a command, sent through the same endpoint; "the
//! queued job runs" is the commands function. Direct messages are what the memory
//! platform's Slack Web API received.

use chrono::TimeDelta;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};
use spa_usecases::Engine;

use super::slack::{encode, shown};
use super::{SpaWorld, list};

/// The direct messages `user` received from spa's app.
fn messages_to(world: &SpaWorld, user: &str) -> Vec<Value> {
    world
        .slack
        .platform()
        .webhooks
        .messages()
        .into_iter()
        .filter(|m| m["channel"] == user)
        .collect()
}

/// The request id the approver's buttons carry.
fn request_id(world: &SpaWorld) -> String {
    world
        .slack
        .platform()
        .webhooks
        .messages()
        .iter()
        .rev()
        .find_map(|m| {
            m["blocks"][1]["elements"][0]["value"]
                .as_str()
                .filter(|v| v.starts_with("r-"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no approver was asked"))
}

#[given(expr = "the pool accounts {string}")]
fn pool_accounts(world: &mut SpaWorld, accounts: String) {
    let organization = &world.slack.platform().organization;
    for (n, account) in list(&accounts).iter().enumerate() {
        organization.add_account(account, &format!("pool-{n}"), "ou-ab12-sandbox1");
        let since = format!("2025-02-{:02}T08:00:00Z", n + 1);
        organization.set_tags(
            account,
            &[("account-state", "prepared"), ("account-since", &since)],
        );
    }
}

#[given("the sandbox unit's settings:")]
fn unit_settings(world: &mut SpaWorld, step: &Step) {
    let text = step
        .docstring
        .as_deref()
        .unwrap_or_else(|| panic!("the settings go in a docstring"));
    world.slack.unit = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("    {l}\n"))
        .collect();
}

#[given(expr = "{string} is frozen by the spend guard")]
async fn frozen(world: &mut SpaWorld, account: String) {
    let settings = world.slack.settings();
    let platform = world.slack.platform();
    let engine = Engine::new(platform, &settings).unwrap_or_else(|e| panic!("{e}"));
    let id = spa_core::events::AccountId::parse(&account)
        .unwrap_or_else(|| panic!("`{account}` is not an account id"));
    let trigger = spa_core::lifecycle::Trigger::new(
        platform.clock.now_at(),
        spa_core::lifecycle::TriggerKind::Freeze {
            reason: "4 p4d.24xlarge: 131.09 USD an hour".into(),
        },
    );
    engine
        .apply("feature/freeze", &id, trigger)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[when(expr = "{int} hours pass")]
fn hours_pass(world: &mut SpaWorld, hours: i64) {
    world
        .slack
        .platform()
        .clock
        .advance(TimeDelta::hours(hours));
}

/// `user` clicks the button `action_id` whose value is `value`.
async fn click(world: &mut SpaWorld, user: &str, action_id: &str, value: &str) {
    // a click comes a little after what it answers: its own timestamp
    world.slack.platform().clock.advance(TimeDelta::seconds(5));
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user },
        "team": { "id": "T1" },
        "response_url": format!("https://hooks.slack.com/actions/T1/2/{user}"),
        "actions": [{ "action_id": action_id, "value": value, "type": "button" }],
    });
    let body = format!("payload={}", encode(&payload.to_string()));
    world.slack.send_signed(body, None).await;
}

#[when(regex = r#"^"([^"]*)" clicks "(approve|deny)" on the request$"#)]
async fn clicks_on_request(world: &mut SpaWorld, user: String, action: String) {
    let id = request_id(world);
    click(world, &user, &action, &id).await;
}

#[when(regex = r#"^"([^"]*)" clicks "(extend|unfreeze)" for "([^"]*)"$"#)]
async fn clicks_for_account(world: &mut SpaWorld, user: String, action: String, account: String) {
    click(world, &user, &action, &account).await;
}

#[then(expr = "{string} got a direct message that says {string}")]
fn direct_message(world: &mut SpaWorld, user: String, text: String) {
    let got = messages_to(world, &user);
    assert!(
        got.iter().any(|m| shown(m).contains(&text)),
        "`{text}` is not in the messages to {user}: {got:#?}"
    );
    for message in &got {
        assert!(
            !message.to_string().contains("@example.com"),
            "an address in Slack: {message}"
        );
    }
}

#[then(expr = "{string} got {int} direct message(s)")]
fn direct_messages(world: &mut SpaWorld, user: String, count: usize) {
    assert_eq!(messages_to(world, &user).len(), count);
}

#[then(expr = "the account {string} is {string} and held by {string}")]
fn account_is(world: &mut SpaWorld, account: String, state: String, holder: String) {
    let tags = world.slack.platform().organization.tags_of(&account);
    assert_eq!(tags.get("account-state"), Some(&state), "{tags:?}");
    assert_eq!(tags.get("account-holder"), Some(&holder), "{tags:?}");
}

#[then(expr = "the account {string} has no holder")]
fn no_holder(world: &mut SpaWorld, account: String) {
    let tags = world.slack.platform().organization.tags_of(&account);
    assert!(!tags.contains_key("account-holder"), "{tags:?}");
}

#[then(expr = "the account {string} has the tag {string} = {string}")]
fn has_tag(world: &mut SpaWorld, account: String, key: String, value: String) {
    let tags = world.slack.platform().organization.tags_of(&account);
    assert_eq!(tags.get(&key), Some(&value), "{tags:?}");
}
