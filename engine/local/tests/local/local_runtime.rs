//! The lifecycle end to end on the emulator: seeded organization, real adapters,
//! events routed in process, builds polled from moto's CodeBuild.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use spa_core::events::{AccountId, Job};
use spa_core::settings::{MemorySources, load};
use spa_local::LocalHandler;
use spa_local::seed::{AccountSeed, SeedPlan, UnitSeed, remap};
use spa_local::{Limits, synth};
use spa_usecases::ports::{Organization, Platform};

const SETTINGS: &str = "\
environment_identifier: SpaMoto
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
defaults:
  preparation: {feature: enabled}
  purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
organizational_units:
  - identifier: ou-sandboxes
";

#[tokio::test]
async fn accounts_are_onboarded_and_maintained_on_the_emulator() {
    let scenario = spa_testkit::scenario();
    let settings = load("settings.yaml", SETTINGS, &MemorySources::new())
        .unwrap()
        .settings;
    let config = scenario.sdk_config().await;
    let holder = BTreeMap::from([("account-holder".to_owned(), "jane@example.com".to_owned())]);
    let plan = SeedPlan {
        units: vec![UnitSeed {
            key: "ou-sandboxes".into(),
            name: "Sandboxes".into(),
            parent: None,
        }],
        accounts: vec![
            AccountSeed {
                key: None,
                name: "jane".into(),
                email: "aws+jane@example.com".into(),
                parent: Some("ou-sandboxes".into()),
                tags: holder,
            },
            AccountSeed {
                key: None,
                name: "pool".into(),
                email: "aws+pool@example.com".into(),
                parent: Some("ou-sandboxes".into()),
                tags: BTreeMap::new(),
            },
        ],
    };
    let seeded = spa_local::emulator::seed(&config, &plan)
        .await
        .expect("seeded");
    let settings = remap(&settings, &seeded);
    let (runtime, resources) = spa_local::connect::runtime(&settings, &scenario.endpoint())
        .await
        .expect("runtime");
    let management = AccountId::parse("123456789012").unwrap();
    for id in &seeded.created {
        let account = AccountId::parse(id).unwrap();
        let event = synth::create_account_result(
            &format!("created-{id}"),
            &management,
            &account,
            chrono::Utc::now(),
        );
        assert_eq!(runtime.inject(event, format!("created {id}")), 1);
    }
    let handler = LocalHandler::new(&settings).with_engine_bus_arn(resources.bus_arn.clone());
    let limits = Limits {
        poll_interval: std::time::Duration::from_millis(20),
        ..Limits::default()
    };
    let mut steps = Vec::new();
    let summary = runtime
        .run_until_idle(&handler, limits, |s| steps.push(s.clone()))
        .await
        .expect("run");
    assert_eq!(summary.failed, 0, "{steps:#?}");
    let state = |id: &str| {
        let organization = runtime.platform().organization();
        let id = AccountId::parse(id).unwrap();
        async move {
            organization
                .tags(&id)
                .await
                .unwrap()
                .get("account-state")
                .cloned()
        }
    };
    assert_eq!(
        state(&seeded.created[0]).await.as_deref(),
        Some("assigned"),
        "{steps:#?}"
    );
    assert_eq!(state(&seeded.created[1]).await.as_deref(), Some("prepared"));
    assert_eq!(summary.builds_started, 2);

    runtime.fire(Job::MaintenanceWindow, chrono::Utc::now());
    let summary = runtime
        .run_until_idle(&handler, limits, |s| steps.push(s.clone()))
        .await
        .expect("run");
    assert_eq!(summary.failed, 0, "{steps:#?}");
    assert_eq!(summary.builds_started, 2, "{steps:#?}");
    assert_eq!(state(&seeded.created[0]).await.as_deref(), Some("assigned"));
}
