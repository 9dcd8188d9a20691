//! Proves the emulator harness: an organization, an OU and accounts are created in
//! moto server through the official SDK, one account is tagged, and the tags read
//! back are the ones written; a reset forgets everything.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{AccountStatus, Tag};

async fn organizations() -> (spa_testkit::Scenario<'static>, Client) {
    let scenario = spa_testkit::scenario();
    let client = Client::new(&scenario.sdk_config().await);
    (scenario, client)
}

#[tokio::test]
async fn organization_ou_accounts_and_tags_round_trip_through_the_emulator() {
    let (_scenario, org) = organizations().await;
    org.create_organization()
        .send()
        .await
        .expect("create organization");
    let root = org.list_roots().send().await.expect("list roots").roots()[0]
        .id()
        .expect("root id")
        .to_string();
    let ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("Sandboxes")
        .send()
        .await
        .expect("create OU");
    let ou_id = ou
        .organizational_unit()
        .and_then(|o| o.id())
        .expect("OU id");

    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let created = org
            .create_account()
            .account_name(format!("sandbox-{name}"))
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("create account");
        let status = created.create_account_status().expect("status");
        assert_eq!(status.state().map(|s| s.as_str()), Some("SUCCEEDED"));
        let id = status.account_id().expect("account id").to_string();
        org.move_account()
            .account_id(&id)
            .source_parent_id(&root)
            .destination_parent_id(ou_id)
            .send()
            .await
            .expect("move account");
        ids.push(id);
    }

    let in_ou = org
        .list_accounts_for_parent()
        .parent_id(ou_id)
        .send()
        .await
        .expect("list accounts for parent");
    let mut listed: Vec<_> = in_ou.accounts().iter().filter_map(|a| a.id()).collect();
    listed.sort_unstable();
    let mut expected: Vec<_> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert!(
        in_ou
            .accounts()
            .iter()
            .all(|a| a.status() == Some(&AccountStatus::Active))
    );

    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("tag");
    org.tag_resource()
        .resource_id(&ids[0])
        .tags(tag("account-state", "vended"))
        .tags(tag("account-holder", "alice@example.com"))
        .send()
        .await
        .expect("tag account");

    let tags = org
        .list_tags_for_resource()
        .resource_id(&ids[0])
        .send()
        .await
        .expect("list tags");
    let mut read: Vec<_> = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    read.sort();
    assert_eq!(
        read,
        vec![
            (
                "account-holder".to_string(),
                "alice@example.com".to_string()
            ),
            ("account-state".to_string(), "vended".to_string()),
        ]
    );
    let untagged = org
        .list_tags_for_resource()
        .resource_id(&ids[1])
        .send()
        .await
        .expect("list tags of the other account");
    assert!(
        untagged.tags().is_empty(),
        "only the first account was tagged"
    );
}

#[tokio::test]
async fn each_scenario_starts_from_an_empty_emulator() {
    for _ in 0..2 {
        let (_scenario, org) = organizations().await;
        let described = org.describe_organization().send().await;
        assert!(described.is_err(), "a reset emulator has no organization");
        org.create_organization()
            .send()
            .await
            .expect("create organization");
    }
}

#[test]
fn a_missing_virtualenv_is_reported_with_the_way_to_install_it() {
    let python = std::path::Path::new("/nowhere/.venv/bin/python");
    let error = match spa_testkit::Emulator::start_with(python) {
        Ok(_) => panic!("an emulator started without its virtualenv"),
        Err(e) => e,
    };
    assert!(matches!(error, spa_testkit::HarnessError::Missing { .. }));
    let message = error.to_string();
    assert!(message.contains("/nowhere/.venv/bin/python"), "{message}");
    assert!(message.contains("make venv"), "{message}");
}
