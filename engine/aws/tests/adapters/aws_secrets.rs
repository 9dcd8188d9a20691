//! Secrets from SSM Parameter Store and Secrets Manager against the emulator (moto
//! server): SecureStrings decrypted, SecretStrings read, missing ones NotFound, bad
//! references refused, and a second read served from memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_ssm::types::ParameterType;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::secrets::AwsSecrets;
use spa_usecases::ports::{PortError, Secrets};

const SLACK: &str = "https://hooks.slack.com/services/T000/B000/s3cretT0ken";
const TEAMS: &str = "https://prod-01.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=s1gnature";

async fn config(scenario: &spa_testkit::Scenario<'_>) -> AwsConfig {
    AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new())
}

/// The calls of an operation, whatever the service's name in the counter.
fn calls(config: &AwsConfig, operation: &str) -> u64 {
    config
        .calls()
        .snapshot()
        .iter()
        .filter(|(key, _)| key.ends_with(&format!(":{operation}")))
        .map(|(_, n)| n)
        .sum()
}

async fn seed(config: &AwsConfig) {
    config
        .ssm()
        .put_parameter()
        .name("/spa/slack-webhook")
        .value(SLACK)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    config
        .secretsmanager()
        .create_secret()
        .name("spa/teams-webhook")
        .secret_string(TEAMS)
        .send()
        .await
        .unwrap();
    config
        .secretsmanager()
        .create_secret()
        .name("spa/binary")
        .secret_binary(Blob::new(b"\x00\x01".to_vec()))
        .send()
        .await
        .unwrap();
    config.calls().reset();
}

#[tokio::test]
async fn a_secure_string_is_decrypted_and_then_served_from_memory() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    seed(&config).await;
    let secrets = AwsSecrets::new(&config);
    let value = secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    assert_eq!(value.expose(), SLACK);
    let again = secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    assert_eq!(again.expose(), SLACK);
    assert_eq!(
        calls(&config, "GetParameter"),
        1,
        "{:?}",
        config.calls().snapshot()
    );
    // a clone shares the memory (the platform hands out clones)
    let clone = secrets.clone();
    clone.secret("ssm:/spa/slack-webhook").await.unwrap();
    assert_eq!(calls(&config, "GetParameter"), 1);
    // the value never prints
    assert!(!format!("{value:?} {value} {secrets:?}").contains("s3cret"));
}

#[tokio::test]
async fn a_secrets_manager_string_is_read_and_then_served_from_memory() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    seed(&config).await;
    let secrets = AwsSecrets::new(&config);
    for _ in 0..3 {
        let value = secrets
            .secret("secretsmanager:spa/teams-webhook")
            .await
            .unwrap();
        assert_eq!(value.expose(), TEAMS);
    }
    assert_eq!(
        calls(&config, "GetSecretValue"),
        1,
        "{:?}",
        config.calls().snapshot()
    );
}

#[tokio::test]
async fn without_memory_every_read_calls_the_service() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    seed(&config).await;
    let secrets = AwsSecrets::new(&config).with_ttl(Duration::ZERO);
    secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    assert_eq!(calls(&config, "GetParameter"), 2);
    let secrets = AwsSecrets::new(&config);
    secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    secrets.clear();
    secrets.secret("ssm:/spa/slack-webhook").await.unwrap();
    assert_eq!(
        calls(&config, "GetParameter"),
        4,
        "cleared memory reads again"
    );
}

#[tokio::test]
async fn missing_secrets_are_not_found() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    seed(&config).await;
    let secrets = AwsSecrets::new(&config);
    assert_eq!(
        secrets
            .secret("ssm:/spa/missing")
            .await
            .unwrap_err()
            .to_string(),
        "SSM parameter `/spa/missing` does not exist"
    );
    assert_eq!(
        secrets
            .secret("secretsmanager:spa/missing")
            .await
            .unwrap_err()
            .to_string(),
        "Secrets Manager secret `spa/missing` does not exist"
    );
    // a miss is not remembered: once created, the secret is found
    config
        .secretsmanager()
        .create_secret()
        .name("spa/missing")
        .secret_string("now here")
        .send()
        .await
        .unwrap();
    let value = secrets.secret("secretsmanager:spa/missing").await.unwrap();
    assert_eq!(value.expose(), "now here");
}

#[tokio::test]
async fn a_bad_reference_is_rejected_without_a_call() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    let secrets = AwsSecrets::new(&config);
    for bad in ["ssm:spa/slack", SLACK, "vault:spa/slack", "secretsmanager:"] {
        let error = secrets.secret(bad).await.unwrap_err();
        let PortError::Rejected { message, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(
            message.contains("`ssm:/path/to/parameter` or `secretsmanager:name-or-arn`"),
            "{message}"
        );
        assert!(
            !message.contains("s3cret"),
            "a pasted secret is not echoed: {message}"
        );
    }
    assert_eq!(config.calls().total(), 0);
}

#[tokio::test]
async fn a_binary_secret_is_rejected() {
    let scenario = spa_testkit::scenario();
    let config = config(&scenario).await;
    seed(&config).await;
    let error = AwsSecrets::new(&config)
        .secret("secretsmanager:spa/binary")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortError::Rejected { message, .. } if message.contains("SecretString")),
        "{error:?}"
    );
}

#[tokio::test]
async fn stored_secrets_read_back_through_their_reference() {
    use spa_aws::secrets::{AwsSecrets, store_secret};
    use spa_usecases::ports::Secrets;
    let scenario = spa_testkit::scenario();
    let config = AwsConfig::from_sdk(
        &scenario.sdk_config().await,
        spa_aws::metrics::ApiCalls::new(),
    );
    for (reference, value) in [
        ("ssm:/spa/test/slack", "https://hooks.example/one"),
        ("secretsmanager:spa/test/teams", "https://teams.example/one"),
    ] {
        store_secret(&config, reference, value)
            .await
            .expect("stored");
        // a second store gives the new value (the secret exists now)
        let newer = value.replace("one", "two");
        store_secret(&config, reference, &newer)
            .await
            .expect("again");
        let read = AwsSecrets::new(&config)
            .secret(reference)
            .await
            .expect("read");
        assert_eq!(read.expose(), newer);
    }
    assert!(matches!(
        store_secret(&config, "https://hooks.example/x", "v").await,
        Err(spa_usecases::ports::PortError::Rejected { .. })
    ));
}
