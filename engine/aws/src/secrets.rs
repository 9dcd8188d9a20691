//! [`AwsSecrets`]: the `Secrets` port on SSM Parameter Store and Secrets Manager.
//!
//! A reference is `ssm:/path` (a parameter, SecureStrings decrypted) or
//! `secretsmanager:name-or-arn` (the secret's `SecretString`), as settings validate
//! them. Values are kept in memory for five minutes (by default), so a warm Lambda
//! does not call SSM for every notification, and a rotated secret is picked up soon
//! after. Values are handed out as [`Secret`]s, which never print.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::AwsConfig;
use super::error::port_error;
use spa_usecases::ports::{PortError, Secret, Secrets};

/// How long a value is served from memory.
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// What a reference must look like, told when it does not.
const EXPECTED: &str =
    "a secret reference is `ssm:/path/to/parameter` or `secretsmanager:name-or-arn`";

/// Where a secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference<'a> {
    /// An SSM parameter, by name (`/spa/slack-webhook`).
    Parameter(&'a str),
    /// A Secrets Manager secret, by name or ARN.
    Secret(&'a str),
}

fn parse(reference: &str) -> Option<Reference<'_>> {
    let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if let Some(path) = reference.strip_prefix("ssm:") {
        return (path.starts_with('/') && path.len() > 1 && plain(path))
            .then_some(Reference::Parameter(path));
    }
    if let Some(name) = reference.strip_prefix("secretsmanager:") {
        return plain(name).then_some(Reference::Secret(name));
    }
    None
}

/// Stores `value` where `reference` says (an SSM SecureString, overwritten; a Secrets
/// Manager secret, created or given a new value): `spa demo` points the settings'
/// webhooks at its local recorder this way; operators use the console or their IaC.
pub async fn store_secret(
    config: &AwsConfig,
    reference: &str,
    value: &str,
) -> Result<(), PortError> {
    let shown: String = reference.chars().take(6).collect();
    match parse(reference) {
        Some(Reference::Parameter(name)) => {
            config
                .ssm()
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .map_err(|e| port_error("ssm", "PutParameter", name, e))?;
        }
        Some(Reference::Secret(name)) => {
            let client = config.secretsmanager();
            let put = client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await;
            if let Err(error) = put {
                match port_error("secretsmanager", "PutSecretValue", name, error) {
                    PortError::NotFound { .. } => {
                        client
                            .create_secret()
                            .name(name)
                            .secret_string(value)
                            .send()
                            .await
                            .map_err(|e| port_error("secretsmanager", "CreateSecret", name, e))?;
                    }
                    other => return Err(other),
                }
            }
        }
        None => {
            return Err(PortError::Rejected {
                service: "spa".into(),
                action: "store a secret".into(),
                message: format!("`{shown}…`: {EXPECTED}"),
            });
        }
    }
    Ok(())
}

/// Secrets from SSM Parameter Store and Secrets Manager, cached.
#[derive(Clone)]
pub struct AwsSecrets {
    ssm: aws_sdk_ssm::Client,
    secrets_manager: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, (Instant, Secret)>>>,
}

impl std::fmt::Debug for AwsSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the cache holds values: only their number is shown
        let cached = self.with_cache(|c| c.len());
        f.debug_struct("AwsSecrets")
            .field("ttl", &self.ttl)
            .field("cached", &cached)
            .finish_non_exhaustive()
    }
}

impl AwsSecrets {
    /// On the SSM and Secrets Manager clients of `config`, values kept [`CACHE_TTL`].
    pub fn new(config: &AwsConfig) -> Self {
        Self {
            ssm: config.ssm(),
            secrets_manager: config.secretsmanager(),
            ttl: CACHE_TTL,
            cache: Arc::default(),
        }
    }

    /// The same, values kept `ttl` (zero: never kept).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Forgets every value kept.
    pub fn clear(&self) {
        self.with_cache(HashMap::clear);
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut HashMap<String, (Instant, Secret)>) -> T) -> T {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut cache)
    }

    fn cached(&self, reference: &str) -> Option<Secret> {
        self.with_cache(|cache| match cache.get(reference) {
            Some((at, value)) if at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                cache.remove(reference);
                None
            }
            None => None,
        })
    }

    async fn fetch(&self, reference: Reference<'_>) -> Result<Secret, PortError> {
        match reference {
            Reference::Parameter(name) => {
                let output = self
                    .ssm
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| port_error("ssm", "GetParameter", name, e))?;
                output
                    .parameter()
                    .and_then(|p| p.value())
                    .map(Secret::new)
                    .ok_or_else(|| PortError::not_found("SSM parameter", name))
            }
            Reference::Secret(name) => {
                let output = self
                    .secrets_manager
                    .get_secret_value()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| port_error("secretsmanager", "GetSecretValue", name, e))?;
                match output.secret_string() {
                    Some(value) => Ok(Secret::new(value)),
                    None => Err(PortError::Rejected {
                        service: "secretsmanager".to_owned(),
                        action: "GetSecretValue".to_owned(),
                        message: format!(
                            "`{name}` holds a binary secret; spa reads SecretString values"
                        ),
                    }),
                }
            }
        }
    }
}

impl Secrets for AwsSecrets {
    async fn secret(&self, reference: &str) -> Result<Secret, PortError> {
        let Some(parsed) = parse(reference) else {
            return Err(PortError::Rejected {
                service: "secrets".to_owned(),
                action: "resolve".to_owned(),
                message: format!("`{}` is not {EXPECTED}", shown(reference)),
            });
        };
        if let Some(value) = self.cached(reference) {
            return Ok(value);
        }
        let value = self.fetch(parsed).await?;
        if !self.ttl.is_zero() {
            self.with_cache(|cache| {
                cache.insert(reference.to_owned(), (Instant::now(), value.clone()));
            });
        }
        Ok(value)
    }
}

/// A bad reference as printed in its error: it may be a secret pasted in the wrong
/// place (a webhook URL, a token), so only its first characters are shown.
fn shown(reference: &str) -> String {
    let start: String = reference.chars().take(6).collect();
    if reference.chars().count() > 6 {
        format!("{start}…")
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_ssm_paths_or_secrets_manager_names() {
        assert_eq!(
            parse("ssm:/spa/slack-webhook"),
            Some(Reference::Parameter("/spa/slack-webhook"))
        );
        assert_eq!(
            parse("secretsmanager:spa/teams-webhook"),
            Some(Reference::Secret("spa/teams-webhook"))
        );
        assert_eq!(
            parse("secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"),
            Some(Reference::Secret(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"
            ))
        );
        for bad in [
            "ssm:spa",
            "ssm:/",
            "ssm:",
            "secretsmanager:",
            "secretsmanager:a b",
            "https://hooks.slack.com/services/T/B/x",
            "/spa/slack",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_reference_is_shown_only_in_part() {
        assert_eq!(shown("https://hooks.slack.com/services/T/B/x"), "https:…");
        assert_eq!(shown("ssm:a"), "ssm:a");
    }
}
