//! Calls that start or end spending in member accounts (`AWS API Call via
//! CloudTrail`), forwarded by the member footprint's spending rule: the spend guard's
//! input ([`crate::spend`]).
//!
//! The holder is an adversary: the call is about the sending account only (a record
//! of another account is refused), and a call that failed (`errorCode`) started or
//! ended nothing. What a call started is read from its response (ids AWS gave) and
//! its request (sizes the holder asked for), each bounded.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{Node, bounded, excerpt};
use crate::vocabulary::{AccountId, EventId};

/// What a resource is, for its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An EC2 instance (`type_name`: the instance type).
    Ec2Instance,
    /// An RDS DB instance (`type_name`: the instance class; `count` 2 with a standby).
    DbInstance,
    /// A NAT gateway.
    NatGateway,
    /// A SageMaker training job (`type_name`: the instance type; `count` instances).
    TrainingJob,
    /// An EKS managed node group (`type_name`: its first instance type; `count` nodes).
    Nodegroup,
    /// Bedrock provisioned throughput (`type_name`: the model; `count` model units).
    ProvisionedThroughput,
}

impl Kind {
    /// The word of the kind, in the price book and the reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Ec2Instance => "EC2 instance",
            Kind::DbInstance => "RDS DB instance",
            Kind::NatGateway => "NAT gateway",
            Kind::TrainingJob => "SageMaker training job",
            Kind::Nodegroup => "EKS node group",
            Kind::ProvisionedThroughput => "Bedrock provisioned throughput",
        }
    }

    /// The price list a kind is priced from: node groups are EC2 instances.
    pub(crate) const fn price_list(self) -> &'static str {
        match self {
            Kind::Ec2Instance | Kind::Nodegroup => "ec2",
            Kind::DbInstance => "rds",
            Kind::NatGateway => "nat",
            Kind::TrainingJob => "sagemaker",
            Kind::ProvisionedThroughput => "bedrock",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that costs by the hour while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: Kind,
    /// Its id (instance id, DB identifier, `<cluster>/<node group>`, ARN).
    pub id: String,
    /// What is priced: instance type, DB class, model; empty when the call did not
    /// say (`StartInstances`: the ledger knows).
    pub type_name: String,
    pub region: String,
    /// How many of `type_name` (nodes, training instances, model units; 2 for a
    /// Multi-AZ database).
    pub count: u32,
    /// When it started running.
    pub since: DateTime<Utc>,
    /// When it ends by itself (a training job's longest run), if known.
    pub until: Option<DateTime<Utc>>,
}

/// The calls spa watches, by event source: the list the member footprint's rule
/// forwards and [`decode`] reads. Each starts or ends a kind of [`Resource`].
pub const WATCHED: &[(&str, &[&str])] = &[
    (
        "aws.ec2",
        &[
            "RunInstances",
            "StartInstances",
            "StopInstances",
            "TerminateInstances",
            "CreateNatGateway",
            "DeleteNatGateway",
        ],
    ),
    (
        "aws.rds",
        &[
            "CreateDBInstance",
            "StartDBInstance",
            "StopDBInstance",
            "DeleteDBInstance",
        ],
    ),
    ("aws.sagemaker", &["CreateTrainingJob", "StopTrainingJob"]),
    ("aws.eks", &["CreateNodegroup", "DeleteNodegroup"]),
    (
        "aws.bedrock",
        &[
            "CreateProvisionedModelThroughput",
            "DeleteProvisionedModelThroughput",
        ],
    ),
];

/// Most resources one call may start or end (RunInstances takes up to a few
/// thousand; past this the call is cut, and says so).
const MAX_RESOURCES: usize = 1_000;
/// Longest id kept.
const MAX_ID: usize = 256;
/// Most instances of one resource (a node group's size, a training job's count).
const MAX_COUNT: u32 = 10_000;

/// One call that starts or ends spending in a member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendingCall {
    pub event_id: EventId,
    /// The account the call was made in (the sender).
    pub account: AccountId,
    /// `eventName`.
    pub name: String,
    /// `awsRegion`.
    pub region: String,
    /// `eventTime`.
    pub at: DateTime<Utc>,
    /// What the call started (or started again: `StartInstances`).
    pub started: Vec<Resource>,
    /// The ids of what it stopped or deleted.
    pub ended: Vec<String>,
    /// `errorCode`: the call failed, nothing started or ended.
    pub failed: Option<String>,
}

/// Whether `source` and `eventName` are a watched call.
pub fn is_watched(source: &str, name: &str) -> bool {
    WATCHED
        .iter()
        .any(|(s, names)| *s == source && names.contains(&name))
}

pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<SpendingCall, DecodeError> {
    let detail = &envelope.detail;
    let name = detail.str("eventName")?;
    if !is_watched(envelope.source, name) {
        return Err(envelope.unsupported(name));
    }
    // a call made in another account, forwarded from this one, is forged
    if let Some(recipient) = detail.opt_str("recipientAccountId")?
        && recipient != envelope.account.as_str()
    {
        return Err(DecodeError::refused(
            format!("account {}", envelope.account),
            format!("a call in account {}", excerpt(recipient)),
        ));
    }
    let region = bounded(detail.opt_str("awsRegion")?.unwrap_or(envelope.region), 32);
    let at = detail.opt_time("eventTime")?.unwrap_or(envelope.time);
    let mut call = SpendingCall {
        event_id: envelope.id.clone(),
        account: envelope.account.clone(),
        name: name.to_owned(),
        region: region.clone(),
        at,
        started: Vec::new(),
        ended: Vec::new(),
        failed: detail.opt_str("errorCode")?.map(|code| bounded(code, 128)),
    };
    if call.failed.is_some() {
        return Ok(call);
    }
    let request = detail.opt_obj("requestParameters")?;
    let response = detail.opt_obj("responseElements")?;
    let resource = |kind, id: &str, type_name: &str, count: u32| Resource {
        kind,
        id: bounded(id, MAX_ID),
        type_name: bounded(type_name, 128),
        region: region.clone(),
        count: count.clamp(1, MAX_COUNT),
        since: at,
        until: None,
    };
    match name {
        "RunInstances" | "StartInstances" => {
            for item in instances(response.as_ref())? {
                let id = item.str("instanceId")?;
                // StartInstances does not say the type: the ledger knows it
                let type_name = item.opt_str("instanceType")?.unwrap_or("");
                call.started
                    .push(resource(Kind::Ec2Instance, id, type_name, 1));
            }
        }
        "StopInstances" | "TerminateInstances" => {
            for item in instances(response.as_ref())? {
                call.ended.push(bounded(item.str("instanceId")?, MAX_ID));
            }
        }
        "CreateNatGateway" => {
            let response = required(response.as_ref(), detail, "responseElements")?;
            if let Some(id) = find_str(&response, &["natGatewayId", "NatGatewayId"]) {
                call.started.push(resource(Kind::NatGateway, id, "", 1));
            }
        }
        "DeleteNatGateway" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            if let Some(id) = find_str(&request, &["natGatewayId", "NatGatewayId"]) {
                call.ended.push(bounded(id, MAX_ID));
            }
        }
        "CreateDBInstance" | "StartDBInstance" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            let id = request.str("dBInstanceIdentifier")?;
            let class = request.opt_str("dBInstanceClass")?.unwrap_or("");
            // a standby is a second instance of the same class
            let count = if request.opt_loose_bool("multiAZ")? == Some(true) {
                2
            } else {
                1
            };
            call.started
                .push(resource(Kind::DbInstance, id, class, count));
        }
        "StopDBInstance" | "DeleteDBInstance" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            call.ended
                .push(bounded(request.str("dBInstanceIdentifier")?, MAX_ID));
        }
        "CreateTrainingJob" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            let id = request.str("trainingJobName")?;
            let config = request.obj("resourceConfig")?;
            let count = count(&config, "instanceCount")?;
            let mut job = resource(Kind::TrainingJob, id, config.str("instanceType")?, count);
            // a job ends by itself at the latest after its longest run (one day
            // unless the request says)
            let seconds = match request.opt_obj("stoppingCondition")? {
                Some(stop) => match stop.opt("maxRuntimeInSeconds")? {
                    Some(field) => field
                        .value()
                        .as_u64()
                        .filter(|n| *n >= 1)
                        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                        .ok_or_else(|| field.invalid("a whole number of seconds"))?,
                    None => 86_400,
                },
                None => 86_400,
            };
            job.until = at.checked_add_signed(chrono::TimeDelta::seconds(i64::from(seconds)));
            call.started.push(job);
        }
        "StopTrainingJob" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            call.ended
                .push(bounded(request.str("trainingJobName")?, MAX_ID));
        }
        "CreateNodegroup" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            let id = nodegroup_id(&request)?;
            let types = match request.opt("instanceTypes")? {
                Some(types) => types.items("a list of instance types")?,
                None => Vec::new(),
            };
            // EKS's default type when the request names none
            let type_name = match types.first() {
                Some(first) => first.as_str()?,
                None => "t3.medium",
            };
            let size = match request.opt_obj("scalingConfig")? {
                Some(scaling) => count_or(&scaling, "desiredSize", 2)?,
                None => 2,
            };
            call.started
                .push(resource(Kind::Nodegroup, &id, type_name, size));
        }
        "DeleteNodegroup" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            call.ended.push(bounded(&nodegroup_id(&request)?, MAX_ID));
        }
        "CreateProvisionedModelThroughput" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            let response = required(response.as_ref(), detail, "responseElements")?;
            let id = response.str("provisionedModelArn")?;
            let model = request.str("modelId")?;
            let units = count(&request, "modelUnits")?;
            call.started
                .push(resource(Kind::ProvisionedThroughput, id, model, units));
        }
        "DeleteProvisionedModelThroughput" => {
            let request = required(request.as_ref(), detail, "requestParameters")?;
            call.ended
                .push(bounded(request.str("provisionedModelId")?, MAX_ID));
        }
        _ => return Err(envelope.unsupported(name)),
    }
    call.started.truncate(MAX_RESOURCES);
    call.ended.truncate(MAX_RESOURCES);
    Ok(call)
}

/// `responseElements.instancesSet.items`.
fn instances<'a>(response: Option<&Node<'a>>) -> Result<Vec<Node<'a>>, DecodeError> {
    let Some(response) = response else {
        return Ok(Vec::new());
    };
    match response.opt_obj("instancesSet")? {
        Some(set) => set.array("items", "a list of instances"),
        None => Ok(Vec::new()),
    }
}

fn required<'a>(
    node: Option<&Node<'a>>,
    detail: &Node<'a>,
    key: &str,
) -> Result<Node<'a>, DecodeError> {
    match node {
        Some(node) => Ok(node.clone()),
        None => detail.obj(key),
    }
}

/// The first string under one of `keys`, at any depth (at most 4 levels): the
/// shapes of EC2's responses nest their ids in wrappers.
fn find_str<'a>(node: &Node<'a>, keys: &[&str]) -> Option<&'a str> {
    fn go<'a>(value: &'a serde_json::Value, keys: &[&str], depth: usize) -> Option<&'a str> {
        let serde_json::Value::Object(map) = value else {
            return None;
        };
        for key in keys {
            if let Some(found) = map.get(*key).and_then(serde_json::Value::as_str) {
                return Some(found);
            }
        }
        if depth == 0 {
            return None;
        }
        map.values().find_map(|child| go(child, keys, depth - 1))
    }
    go(node.value(), keys, 4)
}

/// The id of a node group: `<cluster>/<node group>`.
fn nodegroup_id(request: &Node<'_>) -> Result<String, DecodeError> {
    let cluster = match request.opt_str("clusterName")? {
        Some(cluster) => cluster,
        None => request.str("name")?,
    };
    Ok(format!("{cluster}/{}", request.str("nodegroupName")?))
}

/// A whole number of at least 1 in field `key`.
fn count(node: &Node<'_>, key: &str) -> Result<u32, DecodeError> {
    const EXPECTED: &str = "a whole number of at least 1";
    let field = node.req(key, EXPECTED)?;
    field
        .value()
        .as_u64()
        .filter(|n| *n >= 1)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX).min(MAX_COUNT))
        .ok_or_else(|| field.invalid(EXPECTED))
}

/// [`count`], or `default` when the field is absent.
fn count_or(node: &Node<'_>, key: &str, default: u32) -> Result<u32, DecodeError> {
    match node.opt(key)? {
        Some(_) => count(node, key),
        None => Ok(default),
    }
}
