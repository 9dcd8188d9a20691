//! What CloudTrail-based events share: who acted, from where, when.

use chrono::{DateTime, Utc};

use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{Node, bounded};
use crate::vocabulary::{AccountId, EventId, Sensitive};

/// Who made a call or signed in, from CloudTrail's `userIdentity`.
///
/// Only what spa needs is kept; names of people are [`Sensitive`] (masked in logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The root user of the account.
    Root,
    /// An IAM user of the account.
    IamUser { user_name: Sensitive },
    /// A role session; with IAM Identity Center the role is `AWSReservedSSO_<permission set>_<id>`
    /// and the session name is the person's user name (often an e-mail address).
    AssumedRole {
        role_name: String,
        session_name: Option<Sensitive>,
        /// The permission set when the role is one of IAM Identity Center.
        permission_set: Option<String>,
    },
    /// An AWS service acting on its own (`invokedBy`, e.g. `AWS Internal`).
    AwsService { invoked_by: String },
    /// Any other identity type (`FederatedUser`, `SAMLUser`, `AWSAccount`, ...).
    Other { identity_type: String },
}

impl Principal {
    /// A short form for logs, never with a name in clear:
    /// `root`, `iam-user b***`, `assumed-role AWSReservedSSO_Admin_x/a***@example.com`.
    pub fn masked(&self) -> String {
        match self {
            Principal::Root => "root".to_string(),
            Principal::IamUser { user_name } => format!("iam-user {}", user_name.masked()),
            Principal::AssumedRole {
                role_name,
                session_name,
                ..
            } => match session_name {
                Some(s) => format!("assumed-role {role_name}/{}", s.masked()),
                None => format!("assumed-role {role_name}"),
            },
            Principal::AwsService { invoked_by } => format!("service {invoked_by}"),
            Principal::Other { identity_type } => identity_type.clone(),
        }
    }

    /// Decodes `userIdentity`.
    pub(crate) fn decode(identity: &Node<'_>) -> Result<Self, DecodeError> {
        let identity_type = identity.opt_str("type")?;
        let Some(identity_type) = identity_type else {
            // service events carry no type, only who invoked them
            return match identity.opt_str("invokedBy")? {
                Some(by) => Ok(Principal::AwsService {
                    invoked_by: by.to_string(),
                }),
                None => Err(DecodeError::missing(
                    format!("{}.type", identity.path()),
                    "an identity type (Root, IAMUser, AssumedRole, ...)",
                )),
            };
        };
        match identity_type {
            "Root" => Ok(Principal::Root),
            "IAMUser" => {
                let name = match identity.opt_str("userName")? {
                    Some(name) => name,
                    None => identity
                        .opt_str("arn")?
                        .and_then(|arn| arn.rsplit_once(":user/"))
                        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
                        .ok_or_else(|| {
                            DecodeError::missing(
                                format!("{}.userName", identity.path()),
                                "the IAM user name (userName or an arn ending in :user/<name>)",
                            )
                        })?,
                };
                Ok(Principal::IamUser {
                    user_name: Sensitive::new(name),
                })
            }
            "AssumedRole" => {
                // arn:aws:sts::<account>:assumed-role/<role>/<session>
                let from_arn = identity
                    .opt_str("arn")?
                    .and_then(|arn| arn.split_once(":assumed-role/"))
                    .map(|(_, rest)| rest.split_once('/').unwrap_or((rest, "")));
                let issuer = match identity.opt_obj("sessionContext")? {
                    Some(ctx) => match ctx.opt_obj("sessionIssuer")? {
                        Some(issuer) => issuer.opt_str("userName")?,
                        None => None,
                    },
                    None => None,
                };
                let role_name = issuer
                    .or(from_arn.map(|(role, _)| role))
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| {
                        DecodeError::missing(
                            format!("{}.arn", identity.path()),
                            "the role of the session (arn with :assumed-role/<role>/<session> \
                             or sessionContext.sessionIssuer.userName)",
                        )
                    })?;
                let session = from_arn
                    .map(|(_, s)| s)
                    .filter(|s| !s.is_empty())
                    .or_else(|| {
                        identity
                            .opt_str("principalId")
                            .ok()
                            .flatten()
                            .and_then(|p| p.split_once(':'))
                            .map(|(_, s)| s)
                            .filter(|s| !s.is_empty())
                    });
                Ok(Principal::AssumedRole {
                    role_name: role_name.to_string(),
                    session_name: session.map(Sensitive::new),
                    permission_set: permission_set(role_name),
                })
            }
            other => Ok(Principal::Other {
                identity_type: other.to_string(),
            }),
        }
    }
}

/// `AWSReservedSSO_AdministratorAccess_0123456789abcdef` -> `AdministratorAccess`.
fn permission_set(role_name: &str) -> Option<String> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (set, _suffix) = rest.rsplit_once('_')?;
    (!set.is_empty()).then(|| set.to_string())
}

/// Metadata of a CloudTrail record delivered through EventBridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailRecord {
    /// EventBridge event id: the de-duplication key.
    pub event_id: EventId,
    /// CloudTrail's own `eventID`, to find the record in CloudTrail.
    pub trail_event_id: Option<String>,
    /// When the call was made (`eventTime`, else the event time).
    pub at: DateTime<Utc>,
    /// The account the record comes from (the management account for Organizations).
    pub account: AccountId,
    /// The region of the record.
    pub region: String,
    /// Who acted.
    pub principal: Principal,
    /// `sourceIPAddress`: an IP address, or a service name such as `AWS Internal`.
    pub source_ip: Option<String>,
}

impl TrailRecord {
    pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<Self, DecodeError> {
        let detail = &envelope.detail;
        let principal = Principal::decode(&detail.obj("userIdentity")?)?;
        Ok(TrailRecord {
            event_id: envelope.id.clone(),
            trail_event_id: detail.opt_str("eventID")?.map(str::to_string),
            at: detail.opt_time("eventTime")?.unwrap_or(envelope.time),
            account: envelope.account.clone(),
            region: detail
                .opt_str("awsRegion")?
                .unwrap_or(envelope.region)
                .to_string(),
            principal,
            source_ip: detail.opt_str("sourceIPAddress")?.map(|s| bounded(s, 256)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_set_comes_from_the_identity_center_role() {
        assert_eq!(
            permission_set("AWSReservedSSO_AdministratorAccess_0123456789abcdef").as_deref(),
            Some("AdministratorAccess")
        );
        assert_eq!(
            permission_set("AWSReservedSSO_Read_Only_0123").as_deref(),
            Some("Read_Only")
        );
        assert_eq!(permission_set("OrganizationAccountAccessRole"), None);
        assert_eq!(permission_set("AWSReservedSSO__x"), None);
    }
}
