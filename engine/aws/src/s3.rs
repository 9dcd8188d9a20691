//! [`S3Objects`]: the `Objects` port on one S3 bucket (reports), and
//! [`ensure_bucket`] for local runs.

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::config::AwsConfig;
use super::error::port_error;
use spa_usecases::ports::{Objects, PortError};

const SERVICE: &str = "s3";

/// Objects in one bucket.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    /// Objects of `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The error of a call about `key`: a missing bucket is named, not the key.
    fn error<E, R>(&self, action: &str, key: &str, error: SdkError<E, R>) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let id = match error.code() {
            Some("NoSuchBucket") => self.bucket.as_str(),
            _ => key,
        };
        port_error(SERVICE, action, id, error)
    }
}

impl Objects for S3Objects {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.error("PutObject", key, e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.error("GetObject", key, e))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| PortError::Unavailable {
                service: SERVICE.into(),
                message: format!("GetObject: reading `{key}`: {e}"),
            })?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn presigned_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<String, PortError> {
        let presigning =
            PresigningConfig::expires_in(expires_in).map_err(|e| PortError::Rejected {
                service: SERVICE.into(),
                action: "presign GetObject".into(),
                message: e.to_string(),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| self.error("GetObject (presign)", key, e))?;
        Ok(request.uri().to_owned())
    }
}

/// The reports bucket of the settings, when they name one: without it, every call is
/// refused with a message that says which setting is missing.
#[derive(Debug, Clone)]
pub struct ReportsBucket(pub Option<S3Objects>);

impl ReportsBucket {
    fn bucket(&self, action: &str) -> Result<&S3Objects, PortError> {
        self.0.as_ref().ok_or_else(|| PortError::Rejected {
            service: SERVICE.into(),
            action: action.into(),
            message: "no reports bucket: set `reporting.bucket` in the settings".into(),
        })
    }
}

impl Objects for ReportsBucket {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.bucket("PutObject")?.put(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        self.bucket("GetObject")?.get(key).await
    }

    fn bucket_name(&self) -> Option<String> {
        self.0.as_ref().map(|objects| objects.bucket.clone())
    }

    async fn presigned_url(
        &self,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<String, PortError> {
        self.bucket("GetObject")?
            .presigned_url(key, expires_in)
            .await
    }
}

/// Makes the bucket `name` (private: every public access blocked) unless this
/// account has it already. Idempotent.
pub async fn ensure_bucket(config: &AwsConfig, name: &str) -> Result<(), PortError> {
    let client = config.s3();
    let mut create = client.create_bucket().bucket(name);
    if let Some(region) = config.region().filter(|r| *r != "us-east-1") {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => tracing::info!(bucket = name, "bucket created"),
        Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
        Err(e) => return Err(port_error(SERVICE, "CreateBucket", name, e)),
    }
    client
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| port_error(SERVICE, "PutPublicAccessBlock", name, e))?;
    Ok(())
}
