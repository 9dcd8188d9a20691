//! The demo's organization, seeded in the emulator.

use std::collections::BTreeMap;

use aws_sdk_organizations::Client;
use spa_local::emulator::seed;
use spa_local::seed::{AccountSeed, SeedPlan, UnitSeed};

#[tokio::test]
async fn units_nest_and_accounts_land_where_planned_with_their_tags() {
    let scenario = spa_testkit::scenario();
    let config = scenario.sdk_config().await;
    let plan = SeedPlan {
        units: vec![
            UnitSeed {
                key: "ou-a".into(),
                name: "Sandboxes".into(),
                parent: None,
            },
            UnitSeed {
                key: "ou-b".into(),
                name: "Data".into(),
                parent: Some("ou-a".into()),
            },
        ],
        accounts: vec![
            AccountSeed {
                key: Some("111111111111".into()),
                name: "alice".into(),
                email: "aws+alice@example.com".into(),
                parent: Some("ou-b".into()),
                tags: BTreeMap::from([("account-holder".into(), "alice@example.com".into())]),
            },
            AccountSeed {
                key: None,
                name: "pool".into(),
                email: "aws+pool@example.com".into(),
                parent: None,
                tags: BTreeMap::new(),
            },
        ],
    };
    let seeded = seed(&config, &plan).await.expect("seeded");
    assert_eq!(seeded.created.len(), 2);
    let client = Client::new(&config);
    let alice = &seeded.accounts["111111111111"];
    let parents = client
        .list_parents()
        .child_id(alice)
        .send()
        .await
        .expect("parents");
    assert_eq!(
        parents.parents()[0].id(),
        Some(seeded.units["ou-b"].as_str())
    );
    let up = client
        .list_parents()
        .child_id(&seeded.units["ou-b"])
        .send()
        .await
        .expect("parents");
    assert_eq!(up.parents()[0].id(), Some(seeded.units["ou-a"].as_str()));
    let tags = client
        .list_tags_for_resource()
        .resource_id(alice)
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.tags()[0].value(), "alice@example.com");
    let pool = &seeded.created[1];
    let parents = client
        .list_parents()
        .child_id(pool)
        .send()
        .await
        .expect("parents");
    assert_eq!(parents.parents()[0].id(), Some(seeded.root.as_str()));
    // seeding again in the same organization adds, and does not fail on the existing one
    let again = seed(
        &config,
        &SeedPlan {
            units: vec![],
            accounts: plan.accounts[1..].to_vec(),
        },
    )
    .await
    .expect("seeded again");
    assert_eq!(again.created.len(), 1);
}

/// The demo's emulator check, as `spa demo` prints it.
mod emulator_check {
    use spa_aws::config::AwsConfig;
    use spa_aws::metrics::ApiCalls;
    use spa_local::emulator::{EmulatorError, check};

    async fn config(endpoint: &str) -> AwsConfig {
        AwsConfig::from_sdk(&spa_testkit::sdk_config(endpoint).await, ApiCalls::new())
    }

    #[tokio::test]
    async fn spa_s_emulator_has_what_the_demo_needs() {
        let endpoint = spa_testkit::emulator().endpoint();
        assert_eq!(check(&config(&endpoint).await, &endpoint).await, Ok(()));
    }

    #[tokio::test]
    async fn moto_as_installed_is_told_apart_with_what_it_lacks_and_how_to_start_spa_s() {
        let plain = spa_testkit::Emulator::start_with_env(
            &spa_testkit::venv_python(),
            &[("SPA_MOTO_PLAIN", "1")],
        )
        .expect("moto as installed");
        let endpoint = plain.endpoint();
        let error = check(&config(&endpoint).await, &endpoint)
            .await
            .expect_err("moto without spa's additions");
        assert!(matches!(error, EmulatorError::Lacking { .. }), "{error:?}");
        let said = error.to_string();
        for words in [
            "lacks what spa needs",
            "AdministratorAccess",
            "AWS Budgets",
            "scripts/moto_server.py",
            "--endpoint-url",
        ] {
            assert!(said.contains(words), "{words}: {said}");
        }
        assert_eq!(said.lines().count(), 1, "{said}");
    }

    #[tokio::test]
    async fn nothing_listening_is_said_so() {
        let endpoint = "http://127.0.0.1:9";
        let error = check(&config(endpoint).await, endpoint)
            .await
            .expect_err("nothing listens on port 9");
        assert_eq!(
            error,
            EmulatorError::Unreachable {
                endpoint: endpoint.into()
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("nothing answers at http://127.0.0.1:9: start spa's emulator"),
            "{error}"
        );
    }
}
