//! `spend_guard.feature`: what a holder and SRE notice of the spend guard on the
//! emulator: the calls forwarded from the account, the freeze policy in Organizations,
//! the chat message and the holder's e-mail, the operator's unfreeze.

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use serde_json::{Value, json};

use super::SpaWorld;
use super::accounts::{ENVIRONMENT, Live};
use spa_core::events::Action;

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
    let mut event = live.member_fixture("ec2-run-instances.json", name, recipient);
    let id = event["id"].as_str().unwrap_or("run").to_owned();
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
    super::accounts::operator_sends(world, &name, Action::Unfreeze, step).await;
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
