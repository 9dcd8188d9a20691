//! Builds in member accounts on CodeBuild, and [`MemberBuilds`], the [`Builds`] port
//! over them: it needs only a way to get the configuration of a member account
//! ([`MemberConfigs`], the member role assumed through STS).

use std::future::Future;

use aws_sdk_codebuild::types::{ComputeType, EnvironmentType, SourceType};

use super::config::AwsConfig;

use super::error::port_error;
use spa_core::events::AccountId;
use spa_core::footprint::Footprint;
use spa_core::lifecycle::{BuildId, BuildStatus};
use spa_usecases::ports::{BuildRequest, Builds, PortError};

/// The SDK configuration of a member account: credentials of the member role, region
/// of automation.
pub trait MemberConfigs: Send + Sync {
    /// The configuration of `account`.
    fn member_config(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<AwsConfig, PortError>> + Send;
}

/// Starts the build of `request.kind` in its project, with the request's variables
/// over the project's, and the request's idempotency token: the same token starts
/// one build only (CodeBuild keeps tokens for a few hours).
pub async fn start_build(
    member: &AwsConfig,
    footprint: &Footprint,
    request: &BuildRequest,
) -> Result<BuildId, PortError> {
    start_build_with(&member.codebuild(), footprint, request).await
}

/// [`start_build`] on a CodeBuild client of the member account.
///
/// The project lives in the holder's account, and the holder may edit it: every
/// build is started with what spa's footprint says, sent as overrides (the inline
/// buildspec, no source, the image, the environment type, the compute type, the
/// timeout), so that an edited project runs spa's buildspec all the same.
pub async fn start_build_with(
    client: &aws_sdk_codebuild::Client,
    footprint: &Footprint,
    request: &BuildRequest,
) -> Result<BuildId, PortError> {
    let spec = footprint.project(request.kind);
    let project = &spec.name;
    let output = client
        .start_build()
        .project_name(project)
        .buildspec_override(&spec.buildspec)
        .source_type_override(SourceType::NoSource)
        .image_override(super::footprint::IMAGE)
        .environment_type_override(EnvironmentType::LinuxContainer)
        .compute_type_override(ComputeType::BuildGeneral1Small)
        .timeout_in_minutes_override(i32::try_from(spec.timeout_minutes).unwrap_or(i32::MAX))
        .set_environment_variables_override(Some(super::footprint::variables(&request.variables)?))
        .idempotency_token(&request.idempotency_token)
        .send()
        .await
        .map_err(|e| port_error("codebuild", "StartBuild", project, e))?;
    let id = output
        .build_value()
        .and_then(|b| b.id())
        .ok_or_else(|| PortError::Rejected {
            service: "codebuild".into(),
            action: "StartBuild".into(),
            message: format!("no build id in the answer for `{project}`"),
        })?;
    BuildId::new(id).map_err(|e| PortError::Rejected {
        service: "codebuild".into(),
        action: "StartBuild".into(),
        message: e.to_string(),
    })
}

/// The status of a build; an unknown build is `NotFound`.
pub async fn build_status(member: &AwsConfig, build: &BuildId) -> Result<BuildStatus, PortError> {
    let client = member.codebuild();
    let output = client
        .batch_get_builds()
        .ids(build.as_str())
        .send()
        .await
        .map_err(|e| port_error("codebuild", "BatchGetBuilds", build.as_str(), e))?;
    let found = output
        .builds()
        .iter()
        .find(|b| b.id() == Some(build.as_str()) || b.arn() == Some(build.as_str()))
        .ok_or_else(|| PortError::not_found("CodeBuild build", build.as_str()))?;
    let status = found
        .build_status()
        .map(|s| s.as_str())
        .unwrap_or("IN_PROGRESS");
    status.parse().map_err(|_| PortError::Rejected {
        service: "codebuild".into(),
        action: "BatchGetBuilds".into(),
        message: format!("unknown status `{status}` of build `{build}`"),
    })
}

/// The [`Builds`] port on CodeBuild, in the member accounts `configs` reaches.
#[derive(Debug, Clone)]
pub struct MemberBuilds<F> {
    configs: F,
}

impl<F: MemberConfigs> MemberBuilds<F> {
    /// Builds reached through `configs`.
    pub fn new(configs: F) -> Self {
        Self { configs }
    }
}

impl<F: MemberConfigs> Builds for MemberBuilds<F> {
    async fn ensure_footprint(
        &self,
        account: &AccountId,
        footprint: &Footprint,
    ) -> Result<(), PortError> {
        let member = self.configs.member_config(account).await?;
        super::footprint::ensure(&member, account, footprint)
            .await
            .map(|_| ())
    }

    async fn start_build(
        &self,
        footprint: &Footprint,
        request: &BuildRequest,
    ) -> Result<BuildId, PortError> {
        let member = self.configs.member_config(&request.account).await?;
        start_build(&member, footprint, request).await
    }

    async fn build_status(
        &self,
        account: &AccountId,
        build: &BuildId,
    ) -> Result<BuildStatus, PortError> {
        let member = self.configs.member_config(account).await?;
        build_status(&member, build).await
    }
}
