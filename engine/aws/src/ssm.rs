//! [`SsmParameters`]: the `Parameters` port on SSM Parameter Store.
//!
//! Reads decrypt SecureStrings (webhook URLs, signing secrets); writes overwrite, in
//! the intelligent tier (a resolved settings document may pass the 4 KB of the
//! standard tier).

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};

use super::error::port_error;
use spa_usecases::ports::{Parameters, PortError};

const SERVICE: &str = "ssm";

/// SSM Parameter Store.
#[derive(Debug, Clone)]
pub struct SsmParameters {
    client: Client,
    kind: ParameterType,
}

impl SsmParameters {
    /// Writes plain `String` parameters.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            kind: ParameterType::String,
        }
    }

    /// Writes `SecureString` parameters (encrypted with the account's default key).
    pub fn secure(mut self) -> Self {
        self.kind = ParameterType::SecureString;
        self
    }
}

impl Parameters for SsmParameters {
    async fn get(&self, name: &str) -> Result<String, PortError> {
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetParameter", name, e))?;
        output
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| PortError::not_found("SSM parameter", name))
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), PortError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(self.kind.clone())
            .tier(ParameterTier::IntelligentTiering)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutParameter", name, e))?;
        Ok(())
    }
}
