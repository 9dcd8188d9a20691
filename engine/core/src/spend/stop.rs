//! The `stop` action of the spend guard: which of the resources alive in an
//! account's ledger spa stops (EC2 instances, through the member role of that
//! account), which it names as not stopped and why, and the words of the report.
//!
//! Pure: the use case makes the calls ([`Stop::Instance`] each) and hands back what
//! each did ([`Stopped`]); [`report`] says it. The ledger comes from the calls the
//! account forwarded (its holder is an administrator there): an id or a region that
//! does not read as EC2's is never sent anywhere, and only the member role of the
//! account the ledger belongs to is used, so an id of another account's instance
//! finds nothing.

use serde::{Deserialize, Serialize};

use super::{Kind, Line, Resource};

/// Longest text kept of why something was not stopped (EC2's message included).
const MAX_WHY: usize = 160;
/// Resources named one by one in the report; past it, a count.
const SHOWN: usize = 10;

/// What a `stop` line does with one resource alive in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// An EC2 instance: `StopInstances` in its region, in the account of the ledger.
    Instance(Resource),
    /// Not stopped by spa, and why.
    Not(Resource, String),
}

/// What spa does with each resource of `lines` (a burn's: what is alive), in their
/// order: EC2 instances with an id and a region that read as EC2's are stopped,
/// every other kind is named as not stopped (spa links no SDK of RDS, SageMaker,
/// EKS or Bedrock: a freeze or `purge_early` stops those).
pub fn plan(lines: &[Line]) -> Vec<Stop> {
    lines
        .iter()
        .map(|line| {
            let resource = line.resource.clone();
            match resource.kind {
                Kind::Ec2Instance if !is_instance_id(&resource.id) => {
                    Stop::Not(resource, "not an EC2 instance id: nothing was sent".to_owned())
                }
                Kind::Ec2Instance if !is_region(&resource.region) => Stop::Not(
                    resource,
                    "not an AWS region: nothing was sent".to_owned(),
                ),
                Kind::Ec2Instance => Stop::Instance(resource),
                Kind::Nodegroup => Stop::Not(
                    resource,
                    "spa does not stop EKS node groups (their group would start others): a freeze or purge_early does".to_owned(),
                ),
                kind => {
                    let why = format!(
                        "spa does not stop {}s: a freeze or purge_early does",
                        kind.as_str()
                    );
                    Stop::Not(resource, why)
                }
            }
        })
        .collect()
}

/// `i-` and up to 64 letters, digits and dashes (EC2's are 8 or 17 hexadecimal
/// digits; the emulator's and the tests' ids are looser).
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// A region's shape (`us-east-1`, `us-gov-west-1`) as the settings check it
/// ([`check_region`](crate::settings::values::check_region)), a letter first, at most
/// 32 characters. The region becomes part of an endpoint's host name: nothing else is
/// let through.
pub fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && crate::settings::values::check_region(region).is_ok()
}

/// What became of one resource of a `stop` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub resource: Resource,
    pub outcome: Outcome,
}

/// Whether a resource was stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// EC2 took the stop: the state it was in (`running`; `stopping` or `stopped`
    /// when it was stopped already).
    Stopped { was: String },
    /// Not stopped, and why (cut to a length).
    NotStopped { why: String },
}

impl Stopped {
    /// Stopped, from the state it was in.
    pub fn was(resource: Resource, was: &str) -> Self {
        Self {
            resource,
            outcome: Outcome::Stopped { was: cut(was, 32) },
        }
    }

    /// Not stopped, and why.
    pub fn not(resource: Resource, why: &str) -> Self {
        Self {
            resource,
            outcome: Outcome::NotStopped {
                why: cut(why, MAX_WHY),
            },
        }
    }

    /// Whether EC2 took the stop.
    pub fn is_stopped(&self) -> bool {
        matches!(self.outcome, Outcome::Stopped { .. })
    }
}

/// `text` cut to `max` characters, on one line.
fn cut(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let kept: String = one_line.chars().take(max).collect();
        format!("{kept}…")
    }
}

/// The words of a stop, for the burn report (after the lines crossed, before what
/// runs: an event's reason is cut at its end): `Stopped 4 EC2 instances: `i-…` in
/// us-east-1 (was running); …. Not stopped (1): RDS DB instance `orders` in us-east-1:
/// why.`; an empty stop (nothing alive) says so.
pub fn report(results: &[Stopped]) -> String {
    if results.is_empty() {
        return "Stop: nothing ran to stop.".to_owned();
    }
    let (stopped, not): (Vec<&Stopped>, Vec<&Stopped>) =
        results.iter().partition(|r| r.is_stopped());
    let mut parts = Vec::new();
    if !stopped.is_empty() {
        let each: Vec<String> = stopped
            .iter()
            .take(SHOWN)
            .map(|s| {
                let was = match &s.outcome {
                    Outcome::Stopped { was } => was.as_str(),
                    Outcome::NotStopped { .. } => "",
                };
                format!("`{}` in {} (was {was})", s.resource.id, s.resource.region)
            })
            .collect();
        let plural = if stopped.len() == 1 { "" } else { "s" };
        parts.push(format!(
            "Stopped {} EC2 instance{plural}: {}{}.",
            stopped.len(),
            each.join("; "),
            more(stopped.len())
        ));
    }
    if !not.is_empty() {
        let each: Vec<String> = not
            .iter()
            .take(SHOWN)
            .map(|s| {
                let why = match &s.outcome {
                    Outcome::NotStopped { why } => why.as_str(),
                    Outcome::Stopped { .. } => "",
                };
                let r = &s.resource;
                format!("{} `{}` in {}: {why}", r.kind, r.id, r.region)
            })
            .collect();
        parts.push(format!(
            "Not stopped ({}): {}{}.",
            not.len(),
            each.join("; "),
            more(not.len())
        ));
    }
    parts.join(" ")
}

/// `; and N more` past the resources shown.
fn more(count: usize) -> String {
    if count > SHOWN {
        format!("; and {} more", count - SHOWN)
    } else {
        String::new()
    }
}
