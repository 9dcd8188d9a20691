//! `spend_guard.feature`: what a holder and SRE notice of the spend guard on the
//! emulator: the calls forwarded from the account, the freeze policy in Organizations,
//! the chat message and the holder's e-mail, the operator's unfreeze.

use chrono::Utc;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};

use super::SpaWorld;
use super::accounts::{ENVIRONMENT, Live};
use spa_core::events::{AccountCommand, Action};
use spa_usecases::ports::{Commands, Platform};

/// `RunInstances` of `count` instances of `type_name` in `name`, made this scenario's
/// (the fixture's shape, a new id, now); `recipient` the account CloudTrail says the
/// call was made in.
fn run_instances(
    live: &mut Live,
    name: &str,
    recipient: &str,
    count: usize,
    type_name: &str,
) -> Value {
    let account = live.id(name);
    let recipient = live.id(recipient);
    let path = format!(
        "{}/../fixtures/events/ec2-run-instances.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the fixture {path} could not be read: {e}"));
    let mut event: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    let id = live.next_id("run-instances");
    let now = Value::String(Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    event["id"] = Value::String(id.clone());
    event["account"] = Value::String(account.as_str().to_owned());
    event["time"] = now.clone();
    event["detail"]["eventTime"] = now;
    event["detail"]["eventID"] = Value::String(format!("{id}-trail"));
    event["detail"]["recipientAccountId"] = Value::String(recipient.as_str().to_owned());
    event["detail"]["requestParameters"]["instanceType"] = json!(type_name);
    let items: Vec<Value> = (1..=count)
        .map(|n| json!({"instanceId": format!("i-{id}-{n}"), "instanceType": type_name}))
        .collect();
    event["detail"]["responseElements"]["instancesSet"]["items"] = Value::Array(items);
    event
}

#[given(
    regex = r#"^the holder of "([^"]+)" started (\d+) "([^"]+)" instances( and the call was delivered twice)?$"#
)]
#[when(
    regex = r#"^the holder of "([^"]+)" starts (\d+) "([^"]+)" instances( and the call is delivered twice)?$"#
)]
async fn holder_starts(
    world: &mut SpaWorld,
    name: String,
    count: usize,
    type_name: String,
    twice: String,
    step: &Step,
) {
    let live = world.acting(step).await;
    let event = run_instances(live, &name, &name, count, &type_name);
    let times = if twice.is_empty() { 1 } else { 2 };
    for _ in 0..times {
        live.inject(event.clone(), format!("{name} starts {count} {type_name}"));
    }
    live.run().await;
}

#[when(
    regex = r#"^the holder of "([^"]+)" forwards a call that says it started (\d+) "([^"]+)" instances in "([^"]+)"$"#
)]
async fn holder_forges(
    world: &mut SpaWorld,
    name: String,
    count: usize,
    type_name: String,
    other: String,
    step: &Step,
) {
    let live = world.acting(step).await;
    let event = run_instances(live, &name, &other, count, &type_name);
    live.inject(event, format!("{name} forwards a call of {other}"));
    live.run().await;
}

#[when(regex = r#"^an operator unfreezes "([^"]+)"$"#)]
async fn operator_unfreezes(world: &mut SpaWorld, name: String, step: &Step) {
    let live = world.acting(step).await;
    let cause = live.next_id("unfreeze");
    let command = AccountCommand::new(
        &cause,
        ENVIRONMENT,
        live.id(&name),
        Action::Unfreeze,
        Utc::now(),
        "operator",
    );
    live.runtime
        .platform()
        .commands()
        .send(&[command])
        .await
        .unwrap_or_else(|e| panic!("the unfreeze of `{name}` could not be sent: {e}"));
    live.run().await;
}

#[then(regex = r#"^the freeze policy (is|is not) attached to "([^"]+)"$"#)]
async fn freeze_policy(world: &mut SpaWorld, is: String, name: String) {
    let live = world.checking().await;
    let policies = live.policies(&name).await;
    let freeze = format!("{ENVIRONMENT}-Freeze");
    let attached = policies.iter().find(|(n, _)| *n == freeze);
    match (is.as_str(), attached) {
        ("is", Some((_, content))) => {
            assert!(
                content.contains("\"NotAction\"") && content.contains("*:Describe*"),
                "deny all but read: {content}"
            );
        }
        ("is not", None) => {}
        _ => panic!(
            "the freeze policy {is} attached to `{name}`: expected, but it holds {policies:?}\ntimeline:\n{}",
            live.timeline.join("\n")
        ),
    }
}
