//! [`MemberScans`]: the [`Scans`] port in member accounts, through their member role
//! ([`MemberConfigs`], as [`super::codebuild::MemberBuilds`]).
//!
//! - Regions: EC2 `DescribeRegions` without `AllRegions`, i.e. the regions enabled in
//!   the account (opted in, or not needing it).
//! - Instances: EC2 `DescribeInstances` in one region, with the `instance-id` or the
//!   `private-ip-address` filter (a filter, not `InstanceIds`: an id that is not there
//!   is an empty answer, not an `InvalidInstanceID.NotFound` error), every page.
//! - IAM users: `ListUsers`, then for each user `ListAccessKeys`,
//!   `GetAccessKeyLastUsed` for each key and `GetLoginProfile` (`NoSuchEntity`: no
//!   console password), every page.
//!
//! - Stops ([`Stops`], the spend guard's `stop`): EC2 `StopInstances` of one instance
//!   in its region (one a call: a batch fails whole when one id is unknown or one
//!   instance cannot be stopped). The state it was in is the answer's
//!   `PreviousState` (`stopping`/`stopped`: it was stopped already, the call is
//!   idempotent). `InvalidInstanceID.NotFound` (and `.Malformed`) is `NotFound`: no such
//!   instance in this account and region; `IncorrectInstanceState` (pending, shutting
//!   down, terminated), `UnsupportedOperation` (a one-time Spot Instance, an
//!   instance-store root) and `OperationNotPermitted` (stop protection) are
//!   `Rejected`, EC2's code first in the message.
//!
//! A member role that cannot be assumed is `Denied` (see [`super::sts`]).

use aws_sdk_ec2::types::Filter;
use aws_sdk_iam::types::StatusType;
use chrono::{DateTime, Utc};

use super::codebuild::MemberConfigs;
use super::error::port_error;
use spa_core::events::AccountId;
use spa_usecases::ports::{
    AccessKey, IamUser, Instance, InstanceFilter, KeyStatus, PortError, Scans, Stops,
};

/// The scans in the member accounts `configs` reaches.
#[derive(Debug, Clone)]
pub struct MemberScans<F> {
    configs: F,
}

impl<F: MemberConfigs> MemberScans<F> {
    /// Scans through `configs`.
    pub fn new(configs: F) -> Self {
        Self { configs }
    }
}

fn instant(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

fn instance_of(instance: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    let instance_id = instance.instance_id()?.to_owned();
    let name = instance
        .tags()
        .iter()
        .find(|tag| tag.key() == Some("Name"))
        .and_then(|tag| tag.value())
        .map(str::to_owned);
    Some(Instance {
        instance_id,
        private_ip: instance.private_ip_address().map(str::to_owned),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map_or_else(|| "unknown".to_owned(), |n| n.as_str().to_owned()),
        name,
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()),
    })
}

impl<F: MemberConfigs> Scans for MemberScans<F> {
    async fn regions(&self, account: &AccountId) -> Result<Vec<String>, PortError> {
        let config = self.configs.member_config(account).await?;
        let output = config
            .ec2()
            .describe_regions()
            .send()
            .await
            .map_err(|e| port_error("ec2", "DescribeRegions", account.as_str(), e))?;
        let mut regions: Vec<String> = output
            .regions()
            .iter()
            .filter_map(|r| r.region_name())
            .map(str::to_owned)
            .collect();
        regions.sort();
        regions.dedup();
        Ok(regions)
    }

    async fn instances(
        &self,
        account: &AccountId,
        region: &str,
        filter: &InstanceFilter,
    ) -> Result<Vec<Instance>, PortError> {
        let config = self.configs.member_config(account).await?;
        let client = config.ec2_in(region);
        let filter = match filter {
            InstanceFilter::Id(id) => Filter::builder().name("instance-id").values(id),
            InstanceFilter::PrivateIp(ip) => Filter::builder()
                .name("private-ip-address")
                .values(ip.to_string()),
        }
        .build();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = client
                .describe_instances()
                .filters(filter.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error("ec2", "DescribeInstances", account.as_str(), e))?;
            for reservation in output.reservations() {
                found.extend(reservation.instances().iter().filter_map(instance_of));
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(found)
    }

    async fn iam_users(&self, account: &AccountId) -> Result<Vec<IamUser>, PortError> {
        let config = self.configs.member_config(account).await?;
        let iam = config.iam();
        let id = account.as_str();
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = iam
                .list_users()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| port_error("iam", "ListUsers", id, e))?;
            names.extend(output.users().iter().map(|u| u.user_name().to_owned()));
            match output.marker() {
                Some(next) if output.is_truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        let mut users = Vec::with_capacity(names.len());
        for name in names {
            let mut keys = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let output = iam
                    .list_access_keys()
                    .user_name(&name)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| port_error("iam", "ListAccessKeys", id, e))?;
                for key in output.access_key_metadata() {
                    let (Some(key_id), Some(created)) =
                        (key.access_key_id(), key.create_date().and_then(instant))
                    else {
                        continue;
                    };
                    let used = iam
                        .get_access_key_last_used()
                        .access_key_id(key_id)
                        .send()
                        .await
                        .map_err(|e| port_error("iam", "GetAccessKeyLastUsed", id, e))?;
                    let last_used = used
                        .access_key_last_used()
                        .and_then(|u| u.last_used_date())
                        .and_then(instant);
                    keys.push(AccessKey {
                        id: key_id.to_owned(),
                        status: match key.status() {
                            Some(StatusType::Active) => KeyStatus::Active,
                            _ => KeyStatus::Inactive,
                        },
                        created,
                        last_used,
                    });
                }
                match output.marker() {
                    Some(next) if output.is_truncated() => marker = Some(next.to_owned()),
                    _ => break,
                }
            }
            let console_password = match iam.get_login_profile().user_name(&name).send().await {
                Ok(_) => true,
                Err(error) => match port_error("iam", "GetLoginProfile", &name, error) {
                    PortError::NotFound { .. } => false,
                    other => return Err(other),
                },
            };
            users.push(IamUser {
                name,
                console_password,
                keys,
            });
        }
        Ok(users)
    }
}

impl<F: MemberConfigs> Stops for MemberScans<F> {
    async fn stop_instance(
        &self,
        account: &AccountId,
        region: &str,
        id: &str,
    ) -> Result<String, PortError> {
        let config = self.configs.member_config(account).await?;
        let output = config
            .ec2_in(region)
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| match port_error("ec2", "StopInstances", id, e) {
                // an id EC2 cannot read names no instance of this account either
                PortError::Rejected { message, .. } if message.starts_with("InvalidInstanceID") => {
                    PortError::not_found("EC2 resource", id)
                }
                other => other,
            })?;
        let change = output
            .stopping_instances()
            .iter()
            .find(|change| change.instance_id() == Some(id))
            .ok_or_else(|| PortError::Rejected {
                service: "ec2".into(),
                action: "StopInstances".into(),
                message: format!("no state change of `{id}` in the answer"),
            })?;
        Ok(change
            .previous_state()
            .and_then(|s| s.name())
            .map_or_else(|| "unknown".to_owned(), |n| n.as_str().to_owned()))
    }
}
