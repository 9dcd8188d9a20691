//! `aws.codebuild` "CodeBuild Build State Change", forwarded from member accounts.

use crate::vocabulary::BuildStatus;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{arn_of, bounded, excerpt};
use crate::vocabulary::{AccountId, EventId};

/// A build in a member account changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStateChange {
    pub event_id: EventId,
    /// The member account the build runs in.
    pub account: AccountId,
    pub region: String,
    pub project: String,
    /// The build ARN (`arn:aws:codebuild:<region>:<account>:build/<project>:<id>`).
    pub build_id: String,
    pub status: BuildStatus,
    /// When the state changed (the event time).
    pub at: DateTime<Utc>,
    /// Who started the build (`additional-information.initiator`), when given.
    pub initiator: Option<String>,
    /// When the build started, when given and readable (`Nov 21, 2026 9:12:03 AM`, UTC).
    pub started_at: Option<DateTime<Utc>>,
}

/// `arn:<partition>:codebuild:<region>:<account>:build/<project>:<id>` -> (account, project).
fn split_build_arn(arn: &str) -> Option<(&str, &str)> {
    let (account, resource) = arn_of(arn, "codebuild")?;
    let (project, id) = resource.strip_prefix("build/")?.split_once(':')?;
    (!project.is_empty() && !id.is_empty()).then_some((account, project))
}

/// `Nov 21, 2026 9:12:03 AM`, the format of `build-start-time`; taken as UTC.
fn parse_java_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%b %d, %Y %I:%M:%S %p")
        .ok()
        .map(|t| t.and_utc())
}

pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<BuildStateChange, DecodeError> {
    let detail = &envelope.detail;
    let status_node = detail.req("build-status", BuildStatus::EXPECTED)?;
    let status = status_node
        .as_str()?
        .parse::<BuildStatus>()
        .map_err(|expected| status_node.invalid(&expected))?;
    let build_node = detail.req("build-id", "a CodeBuild build ARN")?;
    let build_id = build_node.as_str()?;
    let Some((arn_account, arn_project)) = split_build_arn(build_id) else {
        return Err(build_node.invalid(
            "a CodeBuild build ARN (arn:aws:codebuild:<region>:<account>:build/<project>:<id>)",
        ));
    };
    if arn_account != envelope.account.as_str() {
        return Err(DecodeError::refused(
            format!("account {}", envelope.account),
            format!("the end of a build of account {}", excerpt(arn_account)),
        ));
    }
    let project = match detail.opt_str("project-name")? {
        Some(p) => p,
        None => arn_project,
    };
    let info = detail.opt_obj("additional-information")?;
    let (initiator, started_at) = match info {
        Some(info) => (
            info.opt_str("initiator")?.map(|s| bounded(s, 256)),
            info.opt_str("build-start-time")?.and_then(parse_java_time),
        ),
        None => (None, None),
    };
    Ok(BuildStateChange {
        event_id: envelope.id.clone(),
        account: envelope.account.clone(),
        region: envelope.region.to_string(),
        project: project.to_string(),
        build_id: build_id.to_string(),
        status,
        at: envelope.time,
        initiator,
        started_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arns_are_split() {
        assert_eq!(
            split_build_arn("arn:aws:codebuild:eu-west-1:222222222222:build/spa-prepare:4f1b"),
            Some(("222222222222", "spa-prepare"))
        );
        assert_eq!(
            split_build_arn("arn:aws-cn:codebuild:cn-north-1:222222222222:build/p:1"),
            Some(("222222222222", "p"))
        );
        assert_eq!(
            split_build_arn("arn:aws:codebuild:eu-west-1:2:project/p"),
            None
        );
        assert_eq!(split_build_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(split_build_arn("spa-prepare:4f1b"), None);
    }

    #[test]
    fn java_style_times_are_read_as_utc() {
        let t = parse_java_time("Nov 21, 2026 9:12:03 AM").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2026-11-21T09:12:03+00:00"));
        let t = parse_java_time("Nov 1, 2026 12:00:00 PM").map(|t| t.to_rfc3339());
        assert_eq!(t.as_deref(), Some("2026-11-01T12:00:00+00:00"));
        assert_eq!(parse_java_time("yesterday"), None);
    }

    #[test]
    fn statuses_round_trip_and_classify() {
        for s in BuildStatus::ALL {
            assert_eq!(s.as_str().parse::<BuildStatus>(), Ok(s));
            assert_eq!(
                s.is_failure(),
                !matches!(s, BuildStatus::InProgress | BuildStatus::Succeeded)
            );
        }
        assert!("succeeded".parse::<BuildStatus>().is_err());
    }
}
