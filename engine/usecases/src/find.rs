//! `find`: EC2 instances by id, private IP or ARN across the managed accounts and
//! their enabled regions, in parallel.
//!
//! The search reads each account's enabled regions (EC2 `DescribeRegions`), unless
//! `features.find_regions` names them, then asks every (account, region) pair for the
//! instances matching the query. At most `features.find_concurrency` calls are in
//! flight at once, and each call (the regions of an account, one region's instances)
//! waits at most `features.find_timeout`. An account or region that fails or times
//! out is listed in [`FindReport::failed`] and the others still answer: a search
//! across 10,000 accounts is not lost for one missing member role.
//!
//! An ARN names its account and region: only that pair is searched, and an account
//! that is not among those the caller may search is refused.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde::Serialize;

use super::bounded::bounded;
use super::context::Engine;
use super::error::{Context, UseCaseError};
use crate::ports::{Instance, InstanceFilter, Platform, PortError, Scans};
use spa_core::events::AccountId;

/// What is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindQuery {
    /// An instance id, `i-` and 8 or 17 hexadecimal digits.
    InstanceId(String),
    /// A private IPv4 address.
    PrivateIp(Ipv4Addr),
    /// An instance ARN: `arn:aws:ec2:<region>:<account>:instance/<id>`.
    Arn {
        /// The account of the ARN.
        account: AccountId,
        /// The region of the ARN.
        region: String,
        /// The instance id of the ARN.
        instance_id: String,
    },
}

/// Why a query is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindQueryError {
    /// Nothing was given.
    #[error("nothing to find: expected {}", FindQuery::EXPECTED)]
    Empty,
    /// The text is none of the shapes a query takes.
    #[error("`{text}` is not a query: expected {}", FindQuery::EXPECTED)]
    Unrecognized {
        /// What was given (cut to 80 characters).
        text: String,
    },
    /// An instance id that is not one.
    #[error(
        "`{text}` is not an instance id: expected `i-` and 8 or 17 hexadecimal digits, e.g. `i-0123456789abcdef0`"
    )]
    InstanceId {
        /// What was given.
        text: String,
    },
    /// An ARN that is not an EC2 instance's.
    #[error(
        "`{text}` is not an instance ARN: {why}; expected `arn:aws:ec2:<region>:<12-digit account>:instance/i-...`"
    )]
    Arn {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
}

fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

fn is_instance_id(text: &str) -> bool {
    text.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_region(text: &str) -> bool {
    // `eu-west-1`, `us-gov-west-1`, `ap-southeast-4`: lowercase words and a number
    let mut parts = text.split('-');
    let last = parts.next_back();
    let words: Vec<&str> = parts.collect();
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && last.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl FindQuery {
    /// What a query looks like, for error messages.
    pub const EXPECTED: &'static str = "an instance id (`i-0123456789abcdef0`), a private IPv4 address (`10.0.1.23`) or an instance ARN (`arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0`)";

    /// Reads a query: an instance id, a private IPv4 address or an instance ARN
    /// (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<FindQuery, FindQueryError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FindQueryError::Empty);
        }
        if text.starts_with("arn:") {
            return Self::parse_arn(text);
        }
        if text.starts_with("i-") {
            return if is_instance_id(text) {
                Ok(FindQuery::InstanceId(text.to_owned()))
            } else {
                Err(FindQueryError::InstanceId { text: cut(text) })
            };
        }
        text.parse::<Ipv4Addr>()
            .map(FindQuery::PrivateIp)
            .map_err(|_| FindQueryError::Unrecognized { text: cut(text) })
    }

    fn parse_arn(text: &str) -> Result<FindQuery, FindQueryError> {
        let bad = |why: &str| FindQueryError::Arn {
            text: cut(text),
            why: why.to_owned(),
        };
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [_, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(bad("it has fewer than six `:`-separated parts"));
        };
        if partition.is_empty() {
            return Err(bad("the partition is empty"));
        }
        if *service != "ec2" {
            return Err(bad("the service is not `ec2`"));
        }
        if !is_region(region) {
            return Err(bad("the region is not one (e.g. `eu-west-1`)"));
        }
        let account =
            AccountId::parse(account).ok_or_else(|| bad("the account is not 12 digits"))?;
        let instance_id = resource
            .strip_prefix("instance/")
            .ok_or_else(|| bad("the resource is not `instance/<id>`"))?;
        if !is_instance_id(instance_id) {
            return Err(bad(
                "the instance id is not `i-` and 8 or 17 hexadecimal digits",
            ));
        }
        Ok(FindQuery::Arn {
            account,
            region: (*region).to_owned(),
            instance_id: instance_id.to_owned(),
        })
    }

    /// The filter of one region's search.
    pub fn filter(&self) -> InstanceFilter {
        match self {
            FindQuery::InstanceId(id)
            | FindQuery::Arn {
                instance_id: id, ..
            } => InstanceFilter::Id(id.clone()),
            FindQuery::PrivateIp(ip) => InstanceFilter::PrivateIp(*ip),
        }
    }
}

impl fmt::Display for FindQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindQuery::InstanceId(id) => f.write_str(id),
            FindQuery::PrivateIp(ip) => write!(f, "{ip}"),
            FindQuery::Arn {
                account,
                region,
                instance_id,
            } => write!(f, "arn:aws:ec2:{region}:{account}:instance/{instance_id}"),
        }
    }
}

/// An instance found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Its account.
    pub account: AccountId,
    /// Its region.
    pub region: String,
    /// `i-...`.
    pub instance_id: String,
    /// Its primary private IPv4 address.
    pub private_ip: Option<String>,
    /// `running`, `stopped`, ...
    pub state: String,
    /// Its `Name` tag.
    pub name: Option<String>,
    /// `t3.micro`, ...
    pub instance_type: Option<String>,
}

/// An account (its regions could not be read: no region) or an account and region
/// that did not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchFailure {
    /// The account.
    pub account: AccountId,
    /// The region, when the failure is about one.
    pub region: Option<String>,
    /// Why (a timeout, a missing member role, ...).
    pub reason: String,
}

/// What a search found, and where it could not look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindReport {
    /// The instances found, by account, region and id.
    pub found: Vec<Found>,
    /// The (account, region) pairs asked, those that failed included.
    pub searched: usize,
    /// What could not be searched, by account and region.
    pub failed: Vec<SearchFailure>,
}

/// How a search runs, from `features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPolicy {
    /// Calls in flight at once (at least 1).
    pub concurrency: usize,
    /// The longest wait for one call.
    pub timeout: Duration,
    /// The regions searched; empty: each account's enabled regions.
    pub regions: Vec<String>,
}

impl SearchPolicy {
    /// `features.find_concurrency`, `find_timeout`, `find_regions`.
    pub fn from_settings(settings: &spa_core::settings::Settings) -> Self {
        let features = &settings.features;
        Self {
            concurrency: usize::try_from(features.find_concurrency)
                .unwrap_or(1)
                .max(1),
            timeout: features.find_timeout,
            regions: features.find_regions.clone(),
        }
    }
}

/// Calls `call` (tried again on transient failures, as the engine's retry says)
/// within `timeout`.
pub(crate) async fn within_timeout<T, F, Fut>(
    engine_retry: crate::Retry,
    timeout: Duration,
    what: &'static str,
    call: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, PortError>>,
{
    match tokio::time::timeout(timeout, engine_retry.run(what, call)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}", seconds(timeout))),
    }
}

fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1_000) {
        format!("{} s", millis / 1_000)
    } else {
        format!("{millis} ms")
    }
}

/// Searches `accounts` (the caller's view: every managed account for an operator)
/// for the instances matching `query`, on the platform's scans.
pub async fn find_instances<P: Platform>(
    engine: &Engine<'_, P>,
    query: &FindQuery,
    accounts: &[AccountId],
) -> Result<FindReport, UseCaseError> {
    find_instances_with(engine, engine.platform().scans(), query, accounts).await
}

/// [`find_instances`] on the given scans (an adapter other than the platform's).
pub async fn find_instances_with<P: Platform, S: Scans>(
    engine: &Engine<'_, P>,
    scans: &S,
    query: &FindQuery,
    accounts: &[AccountId],
) -> Result<FindReport, UseCaseError> {
    let policy = SearchPolicy::from_settings(engine.settings());
    let retry = engine.retry();
    let timeout = policy.timeout;
    let filter = query.filter();
    let mut report = FindReport::default();
    let pairs: Vec<(AccountId, String)> = match query {
        FindQuery::Arn {
            account, region, ..
        } => {
            if !accounts.contains(account) {
                return Err(UseCaseError::bad_input(
                    Context::step("find an instance").account(account),
                    format!("account {account} is not one of the accounts this search may look in"),
                ));
            }
            vec![(account.clone(), region.clone())]
        }
        _ if !policy.regions.is_empty() => accounts
            .iter()
            .flat_map(|a| policy.regions.iter().map(|r| (a.clone(), r.clone())))
            .collect(),
        _ => {
            let listed = bounded(
                accounts.iter().map(|account| async move {
                    let regions =
                        within_timeout(retry, timeout, "regions", || scans.regions(account)).await;
                    (account, regions)
                }),
                policy.concurrency,
            )
            .await;
            let mut pairs = Vec::new();
            for (account, regions) in listed {
                match regions {
                    Ok(regions) => {
                        pairs.extend(regions.into_iter().map(|r| (account.clone(), r)));
                    }
                    Err(reason) => report.failed.push(SearchFailure {
                        account: account.clone(),
                        region: None,
                        reason: format!("regions not read: {reason}"),
                    }),
                }
            }
            pairs
        }
    };
    report.searched = pairs.len();
    let answers = bounded(
        pairs.iter().map(|(account, region)| {
            let filter = &filter;
            async move {
                let found = within_timeout(retry, timeout, "instances", || {
                    scans.instances(account, region, filter)
                })
                .await;
                (account, region, found)
            }
        }),
        policy.concurrency,
    )
    .await;
    for (account, region, answer) in answers {
        match answer {
            Ok(instances) => report
                .found
                .extend(instances.into_iter().map(|i| found(account, region, i))),
            Err(reason) => report.failed.push(SearchFailure {
                account: account.clone(),
                region: Some(region.clone()),
                reason,
            }),
        }
    }
    report.found.sort_by(|a, b| {
        (&a.account, &a.region, &a.instance_id).cmp(&(&b.account, &b.region, &b.instance_id))
    });
    report
        .failed
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    tracing::info!(
        query = %query,
        found = report.found.len(),
        searched = report.searched,
        failed = report.failed.len(),
        "instances searched"
    );
    Ok(report)
}

fn found(account: &AccountId, region: &str, instance: Instance) -> Found {
    Found {
        account: account.clone(),
        region: region.to_owned(),
        instance_id: instance.instance_id,
        private_ip: instance.private_ip,
        state: instance.state,
        name: instance.name,
        instance_type: instance.instance_type,
    }
}

/// The report as a terminal table (and the failures under it).
pub fn table(report: &FindReport) -> String {
    let mut text = String::new();
    if report.found.is_empty() {
        text.push_str("no instance found\n");
    } else {
        let rows: Vec<[String; 7]> = report
            .found
            .iter()
            .map(|f| {
                [
                    f.account.to_string(),
                    f.region.clone(),
                    f.instance_id.clone(),
                    f.private_ip.clone().unwrap_or_else(|| "-".into()),
                    f.state.clone(),
                    f.instance_type.clone().unwrap_or_else(|| "-".into()),
                    f.name.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let header = [
            "ACCOUNT",
            "REGION",
            "INSTANCE",
            "PRIVATE IP",
            "STATE",
            "TYPE",
            "NAME",
        ];
        text.push_str(&aligned(&header, &rows));
    }
    text.push_str(&format!(
        "{} account-region pair(s) searched, {} failed\n",
        report.searched,
        report.failed.len()
    ));
    for failure in &report.failed {
        text.push_str(&format!(
            "failed: {} {}: {}\n",
            failure.account,
            failure.region.as_deref().unwrap_or("(regions)"),
            failure.reason
        ));
    }
    text
}

/// Columns padded to their widest cell.
pub(crate) fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_ips_and_arns_are_queries() {
        assert_eq!(
            FindQuery::parse(" i-0123456789abcdef0 "),
            Ok(FindQuery::InstanceId("i-0123456789abcdef0".into()))
        );
        assert_eq!(
            FindQuery::parse("i-0123abcd"),
            Ok(FindQuery::InstanceId("i-0123abcd".into()))
        );
        assert_eq!(
            FindQuery::parse("10.0.1.23"),
            Ok(FindQuery::PrivateIp(Ipv4Addr::new(10, 0, 1, 23)))
        );
        assert_eq!(
            FindQuery::parse("arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0"),
            Ok(FindQuery::Arn {
                account: AccountId::parse("123456789012").unwrap(),
                region: "eu-west-1".into(),
                instance_id: "i-0123456789abcdef0".into()
            })
        );
    }

    #[test]
    fn a_bad_query_says_what_was_expected() {
        assert_eq!(FindQuery::parse("  "), Err(FindQueryError::Empty));
        let error = FindQuery::parse("web-server").unwrap_err();
        assert!(error.to_string().contains("instance id"), "{error}");
        assert!(error.to_string().contains("IPv4"), "{error}");
        assert!(matches!(
            FindQuery::parse("i-XYZ"),
            Err(FindQueryError::InstanceId { .. })
        ));
        assert!(matches!(
            FindQuery::parse("10.0.1.300"),
            Err(FindQueryError::Unrecognized { .. })
        ));
        for (arn, why) in [
            ("arn:aws:s3:::bucket/key", "not `ec2`"),
            (
                "arn:aws:ec2:eu-west-1:1234:instance/i-0123456789abcdef0",
                "12 digits",
            ),
            (
                "arn:aws:ec2:Europe:123456789012:instance/i-0123456789abcdef0",
                "region",
            ),
            (
                "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123",
                "instance/<id>",
            ),
            ("arn:aws:ec2:eu-west-1", "six"),
        ] {
            let error = FindQuery::parse(arn).unwrap_err();
            assert!(error.to_string().contains(why), "{arn}: {error}");
        }
    }
}
