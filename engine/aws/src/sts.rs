//! Assumed roles: the management role (Organizations), and from it the member role of
//! each member account (builds, footprint), with credentials cached per account and
//! refreshed before they expire.
//!
//! [`AssumedRole`] is a credentials provider that calls `AssumeRole` once and keeps
//! the credentials until `refresh_before` their expiry; [`Roles`] keeps one per
//! member account, so that a Lambda invocation working through many commands of an
//! account assumes its role once. Chaining: ambient credentials (the automation
//! account's function role) → management role → member role, as the member role
//! (`AWSControlTowerExecution`) trusts the management account.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, future as provider_future,
};
use tokio::sync::Mutex;

use super::config::AwsConfig;
use super::error::port_error;
use spa_core::events::AccountId;
use spa_usecases::ports::PortError;

/// What time it is, for the credentials cache (the system clock, or a test's).
pub type Now = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How assumed credentials are asked for and kept.
#[derive(Clone)]
pub struct RoleOptions {
    /// `RoleSessionName` (shows in CloudTrail of the member account).
    pub session_name: String,
    /// How long the credentials last (`DurationSeconds`).
    pub duration: Duration,
    /// Credentials this close to their expiry are refreshed.
    pub refresh_before: Duration,
    /// The clock of the cache.
    pub now: Now,
}

impl RoleOptions {
    /// One hour credentials, refreshed 5 minutes before expiry, on the system clock.
    pub fn new(session_name: impl Into<String>) -> Self {
        let mut name: String = session_name
            .into()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
            .take(64)
            .collect();
        if name.len() < 2 {
            name = "spa".to_owned();
        }
        Self {
            session_name: name,
            duration: Duration::from_secs(3600),
            refresh_before: Duration::from_secs(300),
            now: Arc::new(SystemTime::now),
        }
    }
}

impl fmt::Debug for RoleOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleOptions")
            .field("session_name", &self.session_name)
            .field("duration", &self.duration)
            .field("refresh_before", &self.refresh_before)
            .finish_non_exhaustive()
    }
}

/// Credentials of one role, assumed with the credentials of `from`, cached until
/// `refresh_before` their expiry.
pub struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    options: RoleOptions,
    cached: Mutex<Option<Cached>>,
}

/// Credentials and when they stop being used: `duration` after they were asked
/// for, by the cache's own clock (so a local clock skewed from STS's does not make
/// the cache refresh at every use, or never).
#[derive(Debug, Clone)]
struct Cached {
    credentials: Credentials,
    valid_until: SystemTime,
}

impl fmt::Debug for AssumedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumedRole")
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl AssumedRole {
    /// `role_arn`, assumed with the credentials of `from`.
    pub fn new(from: &AwsConfig, role_arn: impl Into<String>, options: RoleOptions) -> Self {
        Self {
            sts: from.sts(),
            role_arn: role_arn.into(),
            options,
            cached: Mutex::new(None),
        }
    }

    /// The role's ARN.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// Valid credentials: the cached ones, or new ones when there are none or they
    /// expire within `refresh_before`. A role that cannot be assumed (missing, or
    /// trusting someone else) is [`PortError::Denied`].
    pub async fn credentials(&self) -> Result<Credentials, PortError> {
        let mut cached = self.cached.lock().await;
        let now = (self.options.now)();
        if let Some(entry) = cached.as_ref()
            && now + self.options.refresh_before < entry.valid_until
        {
            return Ok(entry.credentials.clone());
        }
        let credentials = self.assume().await?;
        *cached = Some(Cached {
            credentials: credentials.clone(),
            valid_until: now + self.options.duration,
        });
        Ok(credentials)
    }

    async fn assume(&self) -> Result<Credentials, PortError> {
        let seconds = i32::try_from(self.options.duration.as_secs()).unwrap_or(3600);
        tracing::debug!(role = %self.role_arn, "assuming role");
        let output = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.options.session_name)
            .duration_seconds(seconds)
            .send()
            .await
            .map_err(|e| port_error("sts", "AssumeRole", &self.role_arn, e))
            .map_err(|e| match e {
                // a role that does not exist cannot be assumed: that is a denial
                PortError::NotFound { .. } => PortError::Denied {
                    service: "sts".into(),
                    action: "AssumeRole".into(),
                    message: format!("`{}` does not exist", self.role_arn),
                },
                other => other,
            })?;
        let Some(given) = output.credentials() else {
            return Err(PortError::Rejected {
                service: "sts".into(),
                action: "AssumeRole".into(),
                message: format!("no credentials in the answer for `{}`", self.role_arn),
            });
        };
        let expiry = SystemTime::try_from(*given.expiration()).ok();
        Ok(Credentials::new(
            given.access_key_id(),
            given.secret_access_key(),
            Some(given.session_token().to_owned()),
            expiry,
            "spa-assume-role",
        ))
    }

    /// Whether the cache holds credentials (tests, diagnostics).
    pub async fn is_cached(&self) -> bool {
        self.cached.lock().await.is_some()
    }
}

/// An [`AssumedRole`] shared by the SDK's credentials chain and [`Roles`].
#[derive(Debug, Clone)]
pub struct SharedRole(pub Arc<AssumedRole>);

impl ProvideCredentials for SharedRole {
    fn provide_credentials<'a>(&'a self) -> provider_future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider_future::ProvideCredentials::new(async move {
            self.0
                .credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// The configurations of the management account and of member accounts.
#[derive(Debug)]
pub struct Roles {
    management: AwsConfig,
    partition: String,
    member_role_name: String,
    options: RoleOptions,
    members: Mutex<HashMap<AccountId, Member>>,
}

#[derive(Debug, Clone)]
struct Member {
    role: Arc<AssumedRole>,
    config: AwsConfig,
}

impl Roles {
    /// Member roles assumed from `management` (the management role's configuration,
    /// or the ambient one against the emulator). `partition` is the ARN partition
    /// (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn new(
        management: AwsConfig,
        partition: impl Into<String>,
        member_role_name: impl Into<String>,
        options: RoleOptions,
    ) -> Self {
        Self {
            management,
            partition: partition.into(),
            member_role_name: member_role_name.into(),
            options,
            members: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration that assumes `role_arn` from `base` at its first call, and
    /// keeps it fresh: a function whose calls never need the role never assumes it
    /// (nor needs the right to).
    pub fn assume_at_first_use(
        base: &AwsConfig,
        role_arn: &str,
        options: RoleOptions,
    ) -> AwsConfig {
        let role = Arc::new(AssumedRole::new(base, role_arn, options));
        base.with_credentials(SharedCredentialsProvider::new(SharedRole(role)))
    }

    /// Assumes `role_arn` from `base` now (so that a missing role is an error here,
    /// not at the first call), and returns the configuration that keeps it fresh.
    pub async fn assume(
        base: &AwsConfig,
        role_arn: &str,
        options: RoleOptions,
    ) -> Result<AwsConfig, PortError> {
        let role = Arc::new(AssumedRole::new(base, role_arn, options));
        role.credentials().await?;
        Ok(base.with_credentials(SharedCredentialsProvider::new(SharedRole(role))))
    }

    /// The management account's configuration.
    pub fn management(&self) -> &AwsConfig {
        &self.management
    }

    /// The ARN of the member role in `account`.
    pub fn member_role_arn(&self, account: &AccountId) -> String {
        format!(
            "arn:{}:iam::{account}:role/{}",
            self.partition, self.member_role_name
        )
    }

    /// The configuration of a member account, through its member role: assumed at
    /// the first use, then reused and refreshed before expiry. A member role that
    /// cannot be assumed is [`PortError::Denied`].
    pub async fn member(&self, account: &AccountId) -> Result<AwsConfig, PortError> {
        let member = {
            let mut members = self.members.lock().await;
            members
                .entry(account.clone())
                .or_insert_with(|| {
                    let role = Arc::new(AssumedRole::new(
                        &self.management,
                        self.member_role_arn(account),
                        self.options.clone(),
                    ));
                    let config = self
                        .management
                        .with_credentials(SharedCredentialsProvider::new(SharedRole(role.clone())));
                    Member { role, config }
                })
                .clone()
        };
        // outside the map's lock: accounts are assumed concurrently
        member.role.credentials().await?;
        Ok(member.config)
    }

    /// The SDK configuration of a member account (see [`Roles::member`]); prefer
    /// `member` and its client builders, whose calls are counted.
    pub async fn member_config(
        &self,
        account: &AccountId,
    ) -> Result<aws_config::SdkConfig, PortError> {
        Ok(self.member(account).await?.sdk().clone())
    }

    /// Forgets the cached credentials of every member account.
    pub async fn forget(&self) {
        self.members.lock().await.clear();
    }
}

/// The partition of an ARN (`arn:aws-cn:...` → `aws-cn`), `aws` when unreadable.
pub fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_read_from_arns() {
        assert_eq!(partition_of("arn:aws:iam::111111111111:role/x"), "aws");
        assert_eq!(
            partition_of("arn:aws-cn:iam::111111111111:role/x"),
            "aws-cn"
        );
        assert_eq!(partition_of("nonsense"), "aws");
    }

    #[test]
    fn session_names_keep_allowed_characters() {
        assert_eq!(
            RoleOptions::new("spa-Demo env!").session_name,
            "spa-Demoenv"
        );
        assert_eq!(RoleOptions::new("").session_name, "spa");
        assert_eq!(RoleOptions::new("x".repeat(80)).session_name.len(), 64);
    }
}
