//! `aws.organizations` events through CloudTrail, from the management account.

use std::fmt;

use super::cloudtrail::TrailRecord;
use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{Node, bounded};
use crate::vocabulary::AccountId;

/// An Organizations API call or service event that spa reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationsEvent {
    /// Who, when, where.
    pub record: TrailRecord,
    /// What was done.
    pub call: OrganizationsCall,
}

/// The Organizations events spa consumes, by CloudTrail `eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrganizationsEventName {
    CreateAccountResult,
    MoveAccount,
    TagResource,
    UntagResource,
    CloseAccount,
    RemoveAccountFromOrganization,
}

impl OrganizationsEventName {
    /// Every event name spa consumes.
    pub const ALL: [OrganizationsEventName; 6] = [
        OrganizationsEventName::CreateAccountResult,
        OrganizationsEventName::MoveAccount,
        OrganizationsEventName::TagResource,
        OrganizationsEventName::UntagResource,
        OrganizationsEventName::CloseAccount,
        OrganizationsEventName::RemoveAccountFromOrganization,
    ];

    /// The CloudTrail `eventName`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrganizationsEventName::CreateAccountResult => "CreateAccountResult",
            OrganizationsEventName::MoveAccount => "MoveAccount",
            OrganizationsEventName::TagResource => "TagResource",
            OrganizationsEventName::UntagResource => "UntagResource",
            OrganizationsEventName::CloseAccount => "CloseAccount",
            OrganizationsEventName::RemoveAccountFromOrganization => {
                "RemoveAccountFromOrganization"
            }
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

impl fmt::Display for OrganizationsEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an Organizations event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationsCall {
    /// An account creation finished (`CreateAccountResult` service event).
    CreateAccountResult(CreateAccountResult),
    /// An account moved from one parent to another.
    MoveAccount {
        account: AccountId,
        source_parent: ParentId,
        destination_parent: ParentId,
    },
    /// Tags were set on a resource: an account, or an OU, a root, a policy.
    TagResource {
        resource: ResourceId,
        tags: Vec<Tag>,
    },
    /// Tags were removed from a resource.
    UntagResource {
        resource: ResourceId,
        keys: Vec<String>,
    },
    /// An account was closed (it is suspended, then closed for good after 90 days).
    CloseAccount { account: AccountId },
    /// An account left the organization.
    RemoveAccountFromOrganization { account: AccountId },
    /// The API call failed (`errorCode` present): nothing changed.
    Failed(FailedCall),
}

impl OrganizationsCall {
    /// The CloudTrail `eventName` of the call.
    pub fn name(&self) -> OrganizationsEventName {
        match self {
            OrganizationsCall::CreateAccountResult(_) => {
                OrganizationsEventName::CreateAccountResult
            }
            OrganizationsCall::MoveAccount { .. } => OrganizationsEventName::MoveAccount,
            OrganizationsCall::TagResource { .. } => OrganizationsEventName::TagResource,
            OrganizationsCall::UntagResource { .. } => OrganizationsEventName::UntagResource,
            OrganizationsCall::CloseAccount { .. } => OrganizationsEventName::CloseAccount,
            OrganizationsCall::RemoveAccountFromOrganization { .. } => {
                OrganizationsEventName::RemoveAccountFromOrganization
            }
            OrganizationsCall::Failed(failed) => failed.name,
        }
    }
}

/// The result of an account creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccountResult {
    /// The creation request id (`car-...`).
    pub request_id: Option<String>,
    pub outcome: CreateAccountOutcome,
}

/// Whether the account was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAccountOutcome {
    Succeeded {
        account: AccountId,
    },
    /// `reason` is the Organizations `failureReason` (`EMAIL_ALREADY_EXISTS`, ...).
    Failed {
        reason: Option<String>,
        account: Option<AccountId>,
    },
}

/// An Organizations API call that failed: CloudTrail has `errorCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCall {
    pub name: OrganizationsEventName,
    pub error_code: String,
    pub error_message: Option<String>,
    /// The account the call was about, when the request names one.
    pub account: Option<AccountId>,
}

/// A parent in the organization tree: the root or an OU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParentId {
    /// `r-...`
    Root(String),
    /// `ou-...`
    OrganizationalUnit(String),
}

impl ParentId {
    const EXPECTED: &'static str = "a root id (r-...) or an OU id (ou-...)";

    /// The id as Organizations writes it.
    pub fn as_str(&self) -> &str {
        match self {
            ParentId::Root(id) | ParentId::OrganizationalUnit(id) => id,
        }
    }

    fn decode(node: &Node<'_>) -> Result<Self, DecodeError> {
        match ResourceId::classify(node.as_str()?) {
            ResourceId::Root(id) => Ok(ParentId::Root(id)),
            ResourceId::OrganizationalUnit(id) => Ok(ParentId::OrganizationalUnit(id)),
            _ => Err(node.invalid(Self::EXPECTED)),
        }
    }
}

impl fmt::Display for ParentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A taggable resource of Organizations; tags on anything but an account are the
/// caller's to ignore or use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceId {
    Account(AccountId),
    /// `ou-...`
    OrganizationalUnit(String),
    /// `r-...`
    Root(String),
    /// `p-...`
    Policy(String),
    /// Any other id (a resource policy, a future kind).
    Other(String),
}

impl ResourceId {
    fn classify(id: &str) -> Self {
        if let Some(account) = AccountId::parse(id) {
            ResourceId::Account(account)
        } else if id.starts_with("ou-") {
            ResourceId::OrganizationalUnit(id.to_string())
        } else if id.starts_with("r-") {
            ResourceId::Root(id.to_string())
        } else if id.starts_with("p-") {
            ResourceId::Policy(id.to_string())
        } else {
            ResourceId::Other(id.to_string())
        }
    }

    /// The id as Organizations writes it.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceId::Account(a) => a.as_str(),
            ResourceId::OrganizationalUnit(id)
            | ResourceId::Root(id)
            | ResourceId::Policy(id)
            | ResourceId::Other(id) => id,
        }
    }

    /// The account, when the resource is one.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            ResourceId::Account(a) => Some(a),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag set on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Decodes `aws.organizations` events (API calls and service events).
pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<OrganizationsEvent, DecodeError> {
    let detail = &envelope.detail;
    let name_text = detail.str("eventName")?;
    let Some(name) = OrganizationsEventName::parse(name_text) else {
        return Err(envelope.unsupported(name_text));
    };
    let record = TrailRecord::decode(envelope)?;
    let call = if let Some(error_code) = detail.opt_str("errorCode")? {
        OrganizationsCall::Failed(FailedCall {
            name,
            error_code: bounded(error_code, 128),
            error_message: detail.opt_str("errorMessage")?.map(|s| bounded(s, 1000)),
            account: failed_call_account(detail),
        })
    } else {
        decode_call(name, detail)?
    };
    Ok(OrganizationsEvent { record, call })
}

/// Best effort: the account a failed request was about.
fn failed_call_account(detail: &Node<'_>) -> Option<AccountId> {
    let params = detail.opt_obj("requestParameters").ok().flatten()?;
    ["accountId", "resourceId"].into_iter().find_map(|key| {
        params
            .opt_str(key)
            .ok()
            .flatten()
            .and_then(AccountId::parse)
    })
}

fn decode_call(
    name: OrganizationsEventName,
    detail: &Node<'_>,
) -> Result<OrganizationsCall, DecodeError> {
    use OrganizationsEventName as N;
    let params = || detail.obj("requestParameters");
    Ok(match name {
        N::CreateAccountResult => {
            OrganizationsCall::CreateAccountResult(decode_create_account_result(detail)?)
        }
        N::MoveAccount => {
            let params = params()?;
            OrganizationsCall::MoveAccount {
                account: params.account("accountId")?,
                source_parent: ParentId::decode(
                    &params.req("sourceParentId", ParentId::EXPECTED)?,
                )?,
                destination_parent: ParentId::decode(
                    &params.req("destinationParentId", ParentId::EXPECTED)?,
                )?,
            }
        }
        N::TagResource => {
            let params = params()?;
            OrganizationsCall::TagResource {
                resource: resource_id(&params)?,
                tags: params
                    .array("tags", "an array of {key, value} tags")?
                    .iter()
                    .map(decode_tag)
                    .collect::<Result<_, _>>()?,
            }
        }
        N::UntagResource => {
            let params = params()?;
            OrganizationsCall::UntagResource {
                resource: resource_id(&params)?,
                keys: params
                    .array("tagKeys", "an array of tag keys")?
                    .iter()
                    .map(|k| k.as_nonempty_str().map(str::to_string))
                    .collect::<Result<_, _>>()?,
            }
        }
        N::CloseAccount => OrganizationsCall::CloseAccount {
            account: params()?.account("accountId")?,
        },
        N::RemoveAccountFromOrganization => OrganizationsCall::RemoveAccountFromOrganization {
            account: params()?.account("accountId")?,
        },
    })
}

fn resource_id(params: &Node<'_>) -> Result<ResourceId, DecodeError> {
    Ok(ResourceId::classify(params.str("resourceId")?))
}

fn decode_tag(node: &Node<'_>) -> Result<Tag, DecodeError> {
    // CloudTrail writes `key`/`value` in lower case; accept the API's `Key`/`Value` too.
    let key = match node.opt("key")? {
        Some(_) => node.str("key")?,
        None => match node.opt("Key")? {
            Some(_) => node.str("Key")?,
            None => node.str("key")?,
        },
    };
    let value = match node.opt_str("value")? {
        Some(v) => v,
        None => node.opt_str("Value")?.unwrap_or(""),
    };
    Ok(Tag {
        key: key.to_string(),
        value: value.to_string(),
    })
}

fn decode_create_account_result(detail: &Node<'_>) -> Result<CreateAccountResult, DecodeError> {
    let status = detail
        .obj("serviceEventDetails")?
        .obj("createAccountStatus")?;
    let request_id = status.opt_str("id")?.map(str::to_string);
    let state = status.req("state", "SUCCEEDED or FAILED")?;
    let outcome = match state.as_str()? {
        "SUCCEEDED" => CreateAccountOutcome::Succeeded {
            account: status.account("accountId")?,
        },
        "FAILED" => CreateAccountOutcome::Failed {
            reason: status.opt_str("failureReason")?.map(|s| bounded(s, 256)),
            account: match status.opt("accountId")? {
                Some(node) => Some(node.as_account()?),
                None => None,
            },
        },
        _ => return Err(state.invalid("SUCCEEDED or FAILED")),
    };
    Ok(CreateAccountResult {
        request_id,
        outcome,
    })
}
