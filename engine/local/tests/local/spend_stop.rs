//! The spend guard's `stop` on the emulator (moto server): instances launched in a
//! member account through its member role, a forwarded `RunInstances` of them that
//! crosses a `stop` line, and their state read back from EC2; the report as the
//! exceptions function receives it.
//!
//! The platform is the memory one with its [`Stops`] swapped for the AWS adapter
//! ([`MemberScans`] on the member roles of moto), as `aws_scans` searches on moto:
//! what the test looks at in EC2 is what spa did there. Moto maps the keys of an
//! assumed role to the role's account, so each account's instances are its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::scans::MemberScans;
use spa_aws::sts::{RoleOptions, Roles};
use spa_core::events::{AccountId, Incoming, Label, decode_value};
use spa_core::settings::{MemorySources, Settings, load};
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::{Engine, Verdict, dispatch};

const HOLDER: &str = "222222222222";
const OTHER: &str = "333333333333";
const REGION: &str = "us-east-1";

/// The memory platform, but instances are stopped in moto's EC2 through the member
/// roles.
struct OnMoto {
    inner: MemoryPlatform,
    stops: MemberScans<Arc<Roles>>,
}

spa_usecases::forward_platform! {
    impl Platform for OnMoto {
        inner: self.inner as MemoryPlatform;
        stops: MemberScans<Arc<Roles>> = self.stops,
    }
}

fn id(account: &str) -> AccountId {
    AccountId::parse(account).unwrap()
}

fn settings() -> Settings {
    let text = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: us-east-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::111111111111:role/SpaManagement
organizational_units:
  - identifier: ou-ab12-sandbox1
    guardrails: {allowed_regions: [us-east-1]}
    spend_guard:
      feature: enabled
      thresholds:
        - {when: hourly_burn, over: 100, actions: [stop]}
";
    match load("settings.yaml", text, &MemorySources::new()) {
        Ok(loaded) => loaded.settings,
        Err(error) => panic!("{error}"),
    }
}

async fn roles(scenario: &spa_testkit::Scenario<'_>, calls: &ApiCalls) -> Arc<Roles> {
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, calls.clone());
    Arc::new(Roles::new(
        config,
        "aws",
        "OrganizationAccountAccessRole",
        RoleOptions::new("spa-test"),
    ))
}

/// Launches `count` instances of `instance_type` in `account`: their ids.
async fn launch(roles: &Roles, account: &str, instance_type: &str, count: i32) -> Vec<String> {
    let member = roles.member(&id(account)).await.unwrap();
    let output = member
        .ec2_in(REGION)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(instance_type.into())
        .min_count(count)
        .max_count(count)
        .send()
        .await
        .expect("instances launched");
    output
        .instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect()
}

/// The state of each instance of `ids` in `account`, as EC2 says it.
async fn states(roles: &Roles, account: &str, ids: &[String]) -> Vec<String> {
    let member = roles.member(&id(account)).await.unwrap();
    let output = member
        .ec2_in(REGION)
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .expect("described");
    let mut found: Vec<(String, String)> = output
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap().to_owned(),
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    let mut wanted: Vec<String> = ids.to_vec();
    wanted.sort();
    assert_eq!(
        found.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(),
        wanted
    );
    found.into_iter().map(|(_, state)| state).collect()
}

/// `RunInstances` of `ids` (`instance_type`) as `account`'s spending rule forwards it.
fn run_instances(event: &str, account: &str, instance_type: &str, ids: &[String]) -> Incoming {
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
    let mut value: Value =
        spa_local::synth::run_instances(event, &id(account), instance_type, ids.len(), at);
    let items: Vec<Value> = ids
        .iter()
        .map(|i| json!({"instanceId": i, "instanceType": instance_type, "instanceState": {"code": 0, "name": "pending"}}))
        .collect();
    value["detail"]["responseElements"]["instancesSet"]["items"] = Value::Array(items);
    decode_value(&value).unwrap()
}

#[tokio::test]
async fn four_p4d_over_a_stop_line_are_stopped_in_their_account_and_told_once() {
    let scenario = spa_testkit::scenario();
    let calls = ApiCalls::new();
    let roles = roles(&scenario, &calls).await;
    let p4d = launch(&roles, HOLDER, "p4d.24xlarge", 4).await;
    // another account's instance: the holder's call names it, spa never reaches it
    let theirs = launch(&roles, OTHER, "t3.micro", 1).await;
    assert_eq!(states(&roles, HOLDER, &p4d).await, ["running"; 4]);

    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(HOLDER, "jane", "ou-ab12-sandbox1")
        .with_account(OTHER, "mallory", "ou-ab12-sandbox1");
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 30).unwrap();
    let platform = OnMoto {
        inner: MemoryPlatform::new(organization, now),
        stops: MemberScans::new(Arc::clone(&roles)),
    };
    let settings = settings();
    let engine = Engine::new(&platform, &settings)
        .unwrap()
        .with_retry(spa_usecases::Retry::immediate(3));

    let mut named = p4d.clone();
    named.push(theirs[0].clone());
    let run = run_instances("stop-run-1", HOLDER, "p4d.24xlarge", &named);
    let dispatched = dispatch(&engine, &run).await.unwrap();
    let outcome = &dispatched.outcomes[0];
    assert_eq!(outcome.events, [Label::SpendProjected], "{outcome:?}");

    // five priced (the holder's call names five p4d.24xlarge); what EC2 holds now: the four stopped (moto stops at once), the other account's
    // instance running
    for state in states(&roles, HOLDER, &p4d).await {
        assert!(state == "stopping" || state == "stopped", "{state}");
    }
    assert_eq!(states(&roles, OTHER, &theirs).await, ["running"]);

    // the report, as the exceptions function receives it
    let raised: Vec<_> = platform
        .inner
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::SpendProjected)
        .collect();
    assert_eq!(raised.len(), 1);
    let reason = raised[0].reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("hourly burn 163.863 USD is over 100 USD. Stopped 4 EC2 instances: `"),
        "{reason}"
    );
    assert!(reason.contains("Stopped 4 EC2 instances: `"), "{reason}");
    for instance in &p4d {
        assert!(
            reason.contains(&format!("`{instance}` in us-east-1 (was running)")),
            "{instance}: {reason}"
        );
    }
    assert!(
        reason.contains(&format!(
            "Not stopped (1): EC2 instance `{}` in us-east-1: no such instance in this account and region",
            theirs[0]
        )),
        "{reason}"
    );
    assert_eq!(
        calls.count("EC2:StopInstances"),
        5,
        "one StopInstances an instance"
    );

    // delivered again: nothing stopped again, nothing told again
    let again = dispatch(&engine, &run).await.unwrap();
    assert_eq!(again.outcomes[0].verdict, Verdict::Seen, "{again:?}");
    assert_eq!(calls.count("EC2:StopInstances"), 5);
    let told = platform
        .inner
        .bus
        .published()
        .iter()
        .filter(|e| e.label == Label::SpendProjected)
        .count();
    assert_eq!(told, 1);
}
