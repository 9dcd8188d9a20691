//! The one place that builds SDK configurations and clients.
//!
//! Every client spa uses comes from an [`AwsConfig`]: the same retry policy
//! (standard retries with adaptive client-side rate limiting: throttling, 5xx and
//! transient network errors are retried by the SDK with backoff), the same timeouts,
//! the endpoint override of the emulator, the [`ApiCalls`] interceptor that counts
//! every call, and the HTTPS client ([`http_client`]).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use spa_core::rules::timeouts::Timeouts;

use super::metrics::ApiCalls;
use spa_usecases::Retry;

/// Attempts of one call, first included, before its error reaches the adapter.
pub const MAX_ATTEMPTS: u32 = 5;

/// The environment variable that points every client at another endpoint (the
/// emulator), read by the SDK itself too.
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL";

/// Standard retries with adaptive rate limiting: on throttling, the client slows its
/// own sending rate instead of hammering the service (Organizations allows a few
/// calls a second per account).
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(10))
}

/// How the clients retry a failed call. Every policy makes [`MAX_ATTEMPTS`] attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retries {
    /// Standard retries with adaptive client-side rate limiting ([`retry_config`]):
    /// what runs on AWS.
    #[default]
    Adaptive,
    /// Standard retries, without the rate limiter, and with a backoff of
    /// [`HURRIED_BACKOFF`]: for a fault-injection run whose throttling is a random
    /// share rather than a rate. The limiter would slow the one process down to half
    /// a request per second, and waiting longer proves nothing: a 1,000-account cycle
    /// delivered in sequence would spend most of its time asleep. Never for AWS.
    Hurried,
}

/// The first backoff of [`Retries::Hurried`] (it doubles, with jitter, up to 10 times
/// as much).
pub const HURRIED_BACKOFF: Duration = Duration::from_millis(5);

impl Retries {
    /// The SDK's retry configuration of this policy.
    pub fn config(self) -> RetryConfig {
        match self {
            Self::Adaptive => retry_config(),
            Self::Hurried => RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(HURRIED_BACKOFF)
                .with_max_backoff(HURRIED_BACKOFF * 10),
        }
    }
}

/// What the SDK's retries cannot see, tried again by spa's one mechanism
/// ([`Retry`], on `backon`): each policy once, here.
///
/// The entries of a batch call that EventBridge or SQS refused one by one (a
/// throttled entry in an accepted call): 4 sends, 100 ms doubled up to 2 s, jitter.
pub const REFUSED_ENTRIES: Retry = Retry {
    attempts: 4,
    backoff: Duration::from_millis(100),
    cap: Duration::from_secs(2),
    jitter: true,
};

/// The items or keys DynamoDB left unprocessed in a batch call (throttling): 8 tries,
/// 50 ms doubled up to 3.2 s, jitter.
pub const UNPROCESSED_ITEMS: Retry = Retry {
    attempts: 8,
    backoff: Duration::from_millis(50),
    cap: Duration::from_millis(3_200),
    jitter: true,
};

/// CodeBuild refusing a service role IAM has not propagated yet: 5 tries, 2 s doubled
/// (2 + 4 + 8 + 16 s, about half a minute); no jitter: the wait is for IAM, not for a
/// capacity shared with other callers.
pub const ROLE_PROPAGATION: Retry = Retry {
    attempts: 5,
    backoff: Duration::from_secs(2),
    cap: Duration::from_secs(16),
    jitter: false,
};

/// A chat webhook's 5xx, 429 or timeout: 3 tries, 500 ms doubled up to 4 s, jitter (a
/// `Retry-After` may ask for longer, see `webhooks`).
pub const WEBHOOK_TRIES: Retry = Retry {
    attempts: 3,
    backoff: Duration::from_millis(500),
    cap: Duration::from_secs(4),
    jitter: true,
};

/// The `tracing` directive that keeps aws-config's warnings out of an operator's
/// terminal: each failed credentials provider is logged with the SDK's `Debug`,
/// while the error that reaches the user says what is wrong, once
/// ([`crate::error::no_credentials`]).
pub const QUIET_SDK_LOGS: &str = "aws_config=error";

/// Timeouts: a connection in 3 s, an attempt and a whole call (retries included) as
/// the function's nested timeouts say ([`spa_core::rules::timeouts`]): within the
/// invocation's budget, itself within the function's timeout. Outside Lambda (the
/// operator's commands), 20 s an attempt and 60 s a call.
pub fn timeout_config(timeouts: &Timeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3).min(timeouts.sdk_attempt))
        .operation_attempt_timeout(timeouts.sdk_attempt)
        .operation_timeout(timeouts.sdk_operation)
        .build()
}

/// The HTTPS client of every SDK client: the SDK's default client (hyper 1, rustls,
/// the system's trusted roots, the proxy of `HTTPS_PROXY`/`NO_PROXY`), with ring as
/// rustls' crypto provider instead of aws-lc-rs.
///
/// The SDK crates are built without their `default-https-client` feature: it links
/// aws-lc-rs (and the C library of aws-lc-sys) while the webhooks' `reqwest` links
/// ring: one provider is enough, and aws-lc is the bigger of the two in the Lambda's
/// `bootstrap`. Without that feature the SDK has no client of its own: a
/// configuration loaded without this one fails at its first call ("no HTTP client"),
/// so [`AwsConfig::load`] always sets it (the test kit's configurations set their
/// own).
pub fn http_client() -> SharedHttpClient {
    // what `aws-smithy-runtime` builds for `default-https-client`
    // (`default_https_client`, through the same `build_with_connector_fn`, which its
    // docs hide), with `CryptoMode::Ring`; the documented `build_https` would leave
    // the proxy of the environment out
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The HTTP client of the clients that call `endpoint`: [`http_client`], but for a
/// plain `http://` endpoint (the emulator), where no call can need TLS: a client
/// without it, so that no trusted root is read from the system and parsed, and no
/// TLS configuration built, for a process that will never use them (`spa handle` on
/// the emulator read and parsed every certificate of `/etc/ssl/certs` before its
/// first call).
pub fn http_client_for(endpoint: Option<&str>) -> SharedHttpClient {
    if !endpoint.is_some_and(is_plain_http) {
        return http_client();
    }
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default();
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build_http()
    })
}

/// Whether `endpoint` is a plain HTTP URL (`http://`, any case).
pub fn is_plain_http(endpoint: &str) -> bool {
    endpoint
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// Where the credentials of the base configuration come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BaseCredentials {
    /// The SDK's default chain (environment, profile, Lambda role).
    #[default]
    Ambient,
    /// Fixed dummy keys, for the emulator (moto accepts any).
    Emulator,
}

/// The emulator's dummy keys (moto accepts any).
fn emulator_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "spa-emulator",
    ))
}

/// An SDK configuration and the call counter shared by every client built from it.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    sdk: SdkConfig,
    calls: ApiCalls,
}

/// Where the global services (Budgets, Cost Explorer) answer.
pub const GLOBAL_REGION: &str = "us-east-1";

macro_rules! client {
    ($(#[$doc:meta])* $name:ident, $krate:ident) => {
        $(#[$doc])*
        pub fn $name(&self) -> $krate::Client {
            let config = $krate::config::Builder::from(&self.sdk)
                .interceptor(self.calls.clone())
                .build();
            $krate::Client::from_conf(config)
        }
    };
}

impl AwsConfig {
    /// Loads the base configuration: `region`, the endpoint override (`endpoint`, else
    /// `AWS_ENDPOINT_URL`), credentials, spa's retry policy and timeouts, and the
    /// HTTPS client ([`http_client`]).
    ///
    /// With the emulator's credentials, aws-config's loader is not run: the region, the
    /// credentials and the endpoint are given, and nothing of the profiles, the
    /// credentials chain or IMDS applies ([`AwsConfig::from_environment`], with
    /// [`http_client_for`] the endpoint), code and time a short-lived command on the
    /// emulator (`spa handle`) would spend for nothing.
    pub async fn load(
        region: &str,
        endpoint: Option<&str>,
        credentials: BaseCredentials,
        calls: ApiCalls,
    ) -> Self {
        let endpoint = endpoint
            .map(str::to_owned)
            .or_else(|| std::env::var(ENDPOINT_ENV).ok().filter(|e| !e.is_empty()));
        if credentials == BaseCredentials::Emulator {
            let http = http_client_for(endpoint.as_deref());
            return Self::built(region, endpoint, emulator_credentials(), http, calls);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client_for(endpoint.as_deref()))
            .region(Region::new(region.to_owned()))
            .retry_config(retry_config())
            .timeout_config(timeout_config(&spa_core::rules::timeouts::operator()));
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self {
            sdk: loader.load().await,
            calls,
        }
    }

    /// What [`AwsConfig::load`] loads, from the environment alone, for the Lambda
    /// functions: `region`, the endpoint override (`endpoint`, else `AWS_ENDPOINT_URL`),
    /// spa's retry policy and timeouts, the HTTPS client, and the credentials of
    /// `credentials`: [`BaseCredentials::Ambient`] reads the keys Lambda puts in the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// the first provider of the SDK's default chain, the one that answers in Lambda).
    ///
    /// It does not call aws-config's loader, so a binary that builds its configuration
    /// only here (`bootstrap`) links neither the rest of the default chain (profiles,
    /// web identity, ECS, IMDS) nor the shared config files' parser (0.3 MB). What the
    /// loader reads beside the credentials (`AWS_PROFILE` and the config files, the
    /// service-specific `AWS_ENDPOINT_URL_*`, `AWS_USE_FIPS_ENDPOINT`, ...) is not read:
    /// spa's functions are given none of it. The SDK's clients supply the rest of what
    /// the loader would (sleep, time source, identity cache, stalled stream protection).
    pub fn from_environment(
        region: &str,
        endpoint: Option<&str>,
        credentials: BaseCredentials,
        calls: ApiCalls,
    ) -> Self {
        let provider = match credentials {
            BaseCredentials::Ambient => SharedCredentialsProvider::new(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
            BaseCredentials::Emulator => emulator_credentials(),
        };
        let endpoint = endpoint
            .map(str::to_owned)
            .or_else(|| std::env::var(ENDPOINT_ENV).ok().filter(|e| !e.is_empty()));
        // always the TLS client: [`http_client_for`] would link a second connector
        // into `bootstrap`, for the tests' emulator alone
        Self::built(region, endpoint, provider, http_client(), calls)
    }

    /// A configuration built without aws-config's loader: `region`, `endpoint`,
    /// `credentials`, the HTTP client `http`, spa's retry policy and timeouts.
    fn built(
        region: &str,
        endpoint: Option<String>,
        credentials: SharedCredentialsProvider,
        http: SharedHttpClient,
        calls: ApiCalls,
    ) -> Self {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(region.to_owned()))
            .retry_config(retry_config())
            .timeout_config(timeout_config(&spa_core::rules::timeouts::operator()))
            .credentials_provider(credentials);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            sdk: builder.build(),
            calls,
        }
    }

    /// Wraps a configuration made elsewhere (a test's), with spa's retry policy and
    /// timeouts.
    pub fn from_sdk(sdk: &SdkConfig, calls: ApiCalls) -> Self {
        let sdk = sdk
            .to_builder()
            .retry_config(retry_config())
            .timeout_config(timeout_config(&spa_core::rules::timeouts::operator()))
            .build();
        Self { sdk, calls }
    }

    /// The same configuration with other credentials (an assumed role); the calls are
    /// counted by the same counter.
    pub fn with_credentials(&self, provider: SharedCredentialsProvider) -> Self {
        Self {
            sdk: self.sdk.to_builder().credentials_provider(provider).build(),
            calls: self.calls.clone(),
        }
    }

    /// The same configuration with another retry policy (a test that must see the
    /// first answer, or the SDK's retries counted); the calls are counted by the same
    /// counter.
    pub fn with_retry(&self, retry: RetryConfig) -> Self {
        Self {
            sdk: self.sdk.to_builder().retry_config(retry).build(),
            calls: self.calls.clone(),
        }
    }

    /// The same configuration with the timeouts of a function (see [`timeout_config`]).
    pub fn with_timeouts(&self, timeouts: &Timeouts) -> Self {
        Self {
            sdk: self
                .sdk
                .to_builder()
                .timeout_config(timeout_config(timeouts))
                .build(),
            calls: self.calls.clone(),
        }
    }

    /// The SDK configuration (clients built from it directly are not counted).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The call counter.
    pub fn calls(&self) -> &ApiCalls {
        &self.calls
    }

    /// The region.
    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(Region::as_ref)
    }

    /// Whether an endpoint override is set (the emulator).
    pub fn is_emulated(&self) -> bool {
        self.sdk.endpoint_url().is_some()
    }

    client!(
        /// AWS Organizations.
        organizations,
        aws_sdk_organizations
    );
    client!(
        /// STS.
        sts,
        aws_sdk_sts
    );
    client!(
        /// EventBridge.
        eventbridge,
        aws_sdk_eventbridge
    );
    client!(
        /// DynamoDB.
        dynamodb,
        aws_sdk_dynamodb
    );
    client!(
        /// SQS.
        sqs,
        aws_sdk_sqs
    );
    client!(
        /// SSM Parameter Store.
        ssm,
        aws_sdk_ssm
    );
    client!(
        /// CodeBuild (in member accounts).
        codebuild,
        aws_sdk_codebuild
    );
    client!(
        /// IAM (in member accounts).
        iam,
        aws_sdk_iam
    );
    client!(
        /// Incident Manager (in the region of its replication set).
        ssm_incidents,
        aws_sdk_ssmincidents
    );
    client!(
        /// SES v2.
        sesv2,
        aws_sdk_sesv2
    );
    client!(
        /// Secrets Manager.
        secretsmanager,
        aws_sdk_secretsmanager
    );
    client!(
        /// SNS (the budget alerts topic).
        sns,
        aws_sdk_sns
    );
    client!(
        /// CloudFormation (`spa deploy`).
        cloudformation,
        aws_sdk_cloudformation
    );
    client!(
        /// EC2 (the enabled regions and the instances of member accounts).
        ec2,
        aws_sdk_ec2
    );
    client!(
        /// Athena (CUR 2.0 queries, in the region of the CUR table).
        athena,
        aws_sdk_athena
    );

    /// S3; path-style addressing behind an endpoint override (the emulator has no
    /// per-bucket host names).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .interceptor(self.calls.clone())
            .force_path_style(self.is_emulated())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl AwsConfig {
    /// AWS Budgets: a global service, reached in `us-east-1`.
    pub fn budgets(&self) -> aws_sdk_budgets::Client {
        let config = aws_sdk_budgets::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(GLOBAL_REGION))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_budgets::Client::from_conf(config)
    }

    /// The Price List API, reached in `us-east-1` (`spa prices refresh` only).
    #[cfg(feature = "pricing")]
    pub fn pricing(&self) -> aws_sdk_pricing::Client {
        let config = aws_sdk_pricing::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(GLOBAL_REGION))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_pricing::Client::from_conf(config)
    }

    /// Cost Explorer: a global service, reached in `us-east-1`.
    pub fn cost_explorer(&self) -> aws_sdk_costexplorer::Client {
        let config = aws_sdk_costexplorer::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(GLOBAL_REGION))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_costexplorer::Client::from_conf(config)
    }

    /// An SNS client in `region` (a member's budget alerts topic lives in the
    /// automation region, whatever region the member's configuration has).
    pub fn sns_in(&self, region: &str) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    /// An Athena client in `region` (where the CUR table is).
    pub fn athena_in(&self, region: &str) -> aws_sdk_athena::Client {
        let config = aws_sdk_athena::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_athena::Client::from_conf(config)
    }

    /// An SQS client in `region` (the management account's forwarding dead-letter
    /// queue is in the Organizations region).
    pub fn sqs_in(&self, region: &str) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    /// An EC2 client in `region` (a search looks at instances region by region).
    pub fn ec2_in(&self, region: &str) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }

    /// An EventBridge client in another region of the same account (forwarding rules
    /// live where the events are emitted, e.g. console sign-ins in us-east-1).
    pub fn eventbridge_in(&self, region: &str) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::config::Builder::from(&self.sdk)
            .region(aws_config::Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::retry::RetryMode;

    #[test]
    fn only_a_plain_http_endpoint_goes_without_tls() {
        assert!(is_plain_http("http://127.0.0.1:5000"));
        assert!(is_plain_http("HTTP://localhost"));
        assert!(!is_plain_http("https://sqs.eu-west-1.amazonaws.com"));
        assert!(!is_plain_http("http:/"));
        assert!(!is_plain_http(""));
    }

    #[test]
    fn retries_are_adaptive_and_bounded() {
        let retry = retry_config();
        assert_eq!(retry.mode(), RetryMode::Adaptive);
        assert_eq!(retry.max_attempts(), MAX_ATTEMPTS);
        let timeouts = timeout_config(&spa_core::rules::timeouts::operator());
        assert!(timeouts.operation_timeout() > timeouts.operation_attempt_timeout());
        let slack = timeout_config(&spa_core::rules::Function::SlackCommands.timeouts());
        assert_eq!(slack.operation_timeout(), Some(Duration::from_secs(4)));
    }
}
