//! The fault-injecting proxy (`spa_testkit::faults`) as the AWS SDK sees it: each
//! protocol's throttling answer is read by the SDK as throttling (its error code, and
//! it retries), server errors and dropped connections are retried, a connection
//! dropped after forwarding hides a call that did happen, and a rate limit throttles
//! what exceeds it. Clients are spa's (`AwsConfig`), with retries turned off where a
//! test must see the first answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_testkit::faults::{Fault, FaultPlan, FaultProxy};

fn plan() -> FaultPlan {
    FaultPlan::none().seeded(7)
}

async fn config(proxy: &FaultProxy) -> AwsConfig {
    AwsConfig::from_sdk(&spa_testkit::sdk_config(proxy.url()).await, ApiCalls::new())
}

/// spa's configuration with `attempts` attempts per call (1: no retry), quick backoff.
async fn with_attempts(proxy: &FaultProxy, attempts: u32) -> AwsConfig {
    let retry = if attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(std::time::Duration::from_millis(1))
    };
    config(proxy).await.with_retry(retry)
}

fn throttled(proxy: &FaultProxy) -> u64 {
    proxy.counts().fault(Fault::Throttled)
}

#[tokio::test]
async fn aws_json_throttling_is_throttling_to_the_sdk() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            throttle: 1.0,
            ..plan()
        },
    )
    .unwrap();
    let once = with_attempts(&proxy, 1).await;
    let error = once
        .organizations()
        .describe_organization()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Some("ThrottlingException"), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(throttled(&proxy), 1);
    // the SDK retries it: three attempts reach the proxy
    let thrice = with_attempts(&proxy, 3).await;
    let error = thrice
        .organizations()
        .describe_organization()
        .send()
        .await
        .expect_err("still throttled");
    assert_eq!(error.code(), Some("ThrottlingException"));
    assert_eq!(throttled(&proxy), 4);
    assert_eq!(proxy.counts().forwarded.values().sum::<u64>(), 0);
    assert_eq!(
        proxy.counts().received.keys().collect::<Vec<_>>(),
        vec!["organizations:DescribeOrganization"]
    );
}

#[tokio::test]
async fn aws_query_throttling_is_throttling_to_the_sdk() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            throttle: 1.0,
            ..plan()
        },
    )
    .unwrap();
    let error = with_attempts(&proxy, 1)
        .await
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Some("Throttling"), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    let _ = with_attempts(&proxy, 3)
        .await
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(throttled(&proxy), 4, "retried as throttling");
    assert!(
        proxy
            .counts()
            .received
            .contains_key("sts:GetCallerIdentity")
    );
}

#[tokio::test]
async fn rest_xml_slow_down_and_rest_json_429_are_throttling_to_the_sdk() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            throttle: 1.0,
            ..plan()
        },
    )
    .unwrap();
    let once = with_attempts(&proxy, 1).await;
    let error = once
        .s3()
        .list_buckets()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Some("SlowDown"), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(503));
    let error = once
        .ssm_incidents()
        .list_response_plans()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(error.code(), Some("TooManyRequestsException"), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(429));
    // spa's own classification: transient, so the event comes back
    let port = spa_aws::error::port_error("s3", "ListBuckets", "-", error);
    assert!(port.is_transient(), "{port:?}");
}

#[tokio::test]
async fn calls_succeed_through_a_share_of_faults_with_spa_retries() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            throttle: 0.3,
            server_error: 0.1,
            drop_before: 0.05,
            ..plan()
        },
    )
    .unwrap();
    // spa's attempts and backoff for a random share of faults (`Retries::Hurried`):
    // the adaptive limiter would only sleep, half a request a second, for minutes
    let config = config(&proxy)
        .await
        .with_retry(spa_aws::config::Retries::Hurried.config());
    for _ in 0..30 {
        config
            .sts()
            .get_caller_identity()
            .send()
            .await
            .expect("retried until it succeeds");
    }
    let counts = proxy.counts();
    assert!(counts.fault(Fault::Throttled) > 0, "{}", counts.summary());
    assert!(counts.fault(Fault::ServerError) > 0, "{}", counts.summary());
    assert_eq!(counts.forwarded("sts:GetCallerIdentity"), 30);
    assert_eq!(config.calls().count("STS:GetCallerIdentity"), 30);
    assert_eq!(
        config.calls().attempts(),
        counts.requests(),
        "every attempt reached the proxy"
    );
}

#[tokio::test]
async fn server_errors_alternate_500_and_503_and_are_transient() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            server_error: 1.0,
            ..plan()
        },
    )
    .unwrap();
    let once = with_attempts(&proxy, 1).await;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let error = once
            .dynamodb()
            .list_tables()
            .send()
            .await
            .expect_err("server error");
        statuses.push(error.raw_response().map(|r| r.status().as_u16()));
        let port = spa_aws::error::port_error("dynamodb", "ListTables", "-", error);
        assert!(port.is_transient(), "{port:?}");
    }
    assert_eq!(statuses, vec![Some(500), Some(503)]);
    assert_eq!(proxy.counts().fault(Fault::ServerError), 2);
}

#[tokio::test]
async fn a_connection_dropped_after_forwarding_hides_a_call_that_happened() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            drop_after: 1.0,
            ..plan()
        }
        .only("s3:PUT"),
    )
    .unwrap();
    let once = with_attempts(&proxy, 1).await;
    let error = once
        .s3()
        .create_bucket()
        .bucket("hidden-answer")
        .send()
        .await
        .expect_err("no answer");
    assert!(
        matches!(
            error,
            aws_sdk_s3::error::SdkError::DispatchFailure(_)
                | aws_sdk_s3::error::SdkError::ResponseError(_)
        ),
        "{error:?}"
    );
    // the bucket exists: the call happened, the client never heard
    let direct = AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new());
    let buckets = direct.s3().list_buckets().send().await.unwrap();
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, vec!["hidden-answer"]);
    let counts = proxy.counts();
    assert_eq!(counts.fault(Fault::DroppedAfter), 1);
    assert_eq!(counts.forwarded("s3:PUT"), 1);
    // the other operations pass untouched
    once.s3().list_buckets().send().await.unwrap();
}

#[tokio::test]
async fn a_connection_dropped_before_forwarding_is_retried() {
    let scenario = spa_testkit::scenario();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        FaultPlan {
            drop_before: 1.0,
            ..plan()
        },
    )
    .unwrap();
    let error = with_attempts(&proxy, 1)
        .await
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect_err("dropped");
    assert!(
        matches!(
            error,
            aws_sdk_sts::error::SdkError::DispatchFailure(_)
                | aws_sdk_sts::error::SdkError::ResponseError(_)
        ),
        "{error:?}"
    );
    assert_eq!(proxy.counts().forwarded.values().sum::<u64>(), 0);
    proxy.set_plan(FaultPlan {
        drop_before: 0.5,
        ..plan()
    });
    let three = with_attempts(&proxy, 5).await;
    for _ in 0..5 {
        three.sts().get_caller_identity().send().await.unwrap();
    }
    assert!(proxy.counts().fault(Fault::DroppedBefore) > 1);
}

#[tokio::test]
async fn a_rate_limit_throttles_what_exceeds_it() {
    let scenario = spa_testkit::scenario();
    let direct = AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new());
    direct
        .organizations()
        .create_organization()
        .send()
        .await
        .unwrap();
    let proxy = FaultProxy::start(
        &scenario.endpoint(),
        plan().rate_limit("organizations", 4.0),
    )
    .unwrap();
    let once = with_attempts(&proxy, 1).await;
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..12 {
        match once.organizations().list_roots().send().await {
            Ok(_) => answered += 1,
            Err(error) => {
                assert_eq!(error.code(), Some("ThrottlingException"));
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "answered {answered}");
    assert_eq!(proxy.counts().fault(Fault::RateLimited), refused);
    // other services are not limited
    for _ in 0..8 {
        once.sts().get_caller_identity().send().await.unwrap();
    }
    // spa's retries (adaptive, backoff) get every call through the limit
    let spa = config(&proxy).await;
    for _ in 0..8 {
        spa.organizations().list_roots().send().await.unwrap();
    }
}
