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
//! A member role that cannot be assumed is `Denied` (see [`super::sts`]).

use aws_sdk_ec2::types::Filter;
use aws_sdk_iam::types::StatusType;
use chrono::{DateTime, Utc};

use super::codebuild::MemberConfigs;
use super::error::port_error;
use spa_core::events::AccountId;
use spa_usecases::ports::{
    AccessKey, IamUser, Instance, InstanceFilter, KeyStatus, PortError, Scans,
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
