//! [`MemberCosts`]: the `Costs` port on Cost Explorer, read in the member account
//! itself through its member role ([`MemberConfigs`], as [`super::codebuild::MemberBuilds`]).
//!
//! One `GetCostAndUsage` per page (`NextPageToken` followed to the last page):
//! monthly granularity, the unblended cost, grouped by the `SERVICE` dimension. The
//! amounts of a service are summed across the result periods (a period over several
//! months has one result per month), services whose sum is zero are dropped, and the
//! rest comes highest first. Cost Explorer is a global service reached in us-east-1
//! (`AwsConfig::cost_explorer`).
//!
//! An amount that is missing or not a number is [`PortError::Inconsistent`] naming
//! the service: a report must not show a wrong total. Cost Explorer's own throttling
//! error (`LimitExceededException`, "too many calls in a short period") is
//! `Unavailable`, to be tried again; other errors go through [`port_error`].
//!
//! The request, pagination, amount and error helpers here are shared with the
//! organization's cost source ([`super::cost_explorer`]).

use std::collections::{BTreeMap, HashSet};

use aws_sdk_costexplorer::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use aws_sdk_costexplorer::operation::get_cost_and_usage::builders::GetCostAndUsageFluentBuilder;
use aws_sdk_costexplorer::types::{
    DateInterval, Granularity, GroupDefinition, GroupDefinitionType, ResultByTime,
};
use chrono::NaiveDate;

use super::codebuild::MemberConfigs;
use super::error::port_error;
use spa_core::events::AccountId;
use spa_usecases::ports::{Costs, PortError, ServiceCost};

pub(crate) const SERVICE: &str = "ce";
pub(crate) const ACTION: &str = "GetCostAndUsage";
/// The metric read: what the account was charged, before any discount sharing.
pub const METRIC: &str = "UnblendedCost";
/// The dimension costs are grouped by.
pub const GROUP_BY: &str = "SERVICE";

/// Cost Explorer in member accounts, reached through `configs`.
#[derive(Debug, Clone)]
pub struct MemberCosts<F> {
    configs: F,
}

impl<F: MemberConfigs> MemberCosts<F> {
    /// Costs read in the member accounts `configs` reaches.
    pub fn new(configs: F) -> Self {
        Self { configs }
    }
}

/// The cost of each service, summed over the result periods of every page.
#[derive(Debug, Default)]
pub struct ServiceTotals {
    totals: BTreeMap<String, (f64, String)>,
}

pub(crate) fn inconsistent(service: &str, why: String) -> PortError {
    PortError::Inconsistent {
        id: service.to_owned(),
        why,
    }
}

impl ServiceTotals {
    /// Adds the groups of one result period of `account`.
    pub fn add(&mut self, account: &AccountId, result: &ResultByTime) -> Result<(), PortError> {
        for group in result.groups() {
            let service = group.keys().first().map(String::as_str).ok_or_else(|| {
                inconsistent(
                    "(no service)",
                    format!(
                        "Cost Explorer gave a cost group without a service for account {account}"
                    ),
                )
            })?;
            let metric = group.metrics().and_then(|m| m.get(METRIC));
            let amount = metric.and_then(|m| m.amount()).ok_or_else(|| {
                inconsistent(
                    service,
                    format!(
                        "Cost Explorer gave no {METRIC} amount for `{service}` in account {account}"
                    ),
                )
            })?;
            let unit = metric.and_then(|m| m.unit()).unwrap_or("USD");
            self.add_amount(account, service, amount, unit)?;
        }
        Ok(())
    }

    /// Adds `amount` (Cost Explorer's decimal text) in `unit` to `service`.
    pub fn add_amount(
        &mut self,
        account: &AccountId,
        service: &str,
        amount: &str,
        unit: &str,
    ) -> Result<(), PortError> {
        let value = parse_amount(amount, service, account.as_str())?;
        let entry = self
            .totals
            .entry(service.to_owned())
            .or_insert_with(|| (0.0, unit.to_owned()));
        if entry.1 != unit {
            return Err(inconsistent(
                service,
                format!(
                    "Cost Explorer gave `{service}` in account {account} in {} and in {unit}",
                    entry.1
                ),
            ));
        }
        entry.0 += value;
        Ok(())
    }

    /// The services with a cost, highest first (then by name).
    pub fn into_costs(self) -> Vec<ServiceCost> {
        let mut costs: Vec<ServiceCost> = self
            .totals
            .into_iter()
            .filter(|(_, (amount, _))| *amount != 0.0)
            .map(|(service, (amount, currency))| ServiceCost {
                service,
                amount,
                currency,
            })
            .collect();
        costs.sort_by(|a, b| {
            b.amount
                .total_cmp(&a.amount)
                .then_with(|| a.service.cmp(&b.service))
        });
        costs
    }
}

/// A Cost Explorer error of `action` about `id`: its own throttling error
/// (`LimitExceededException`, "too many calls in a short period") is `Unavailable`,
/// to be tried again; the rest goes through [`port_error`].
pub(crate) fn ce_error<E, R>(action: &str, id: &str, error: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if let Some(e) = error.as_service_error()
        && e.code() == Some("LimitExceededException")
    {
        return PortError::Unavailable {
            service: SERVICE.into(),
            message: format!(
                "{action}: LimitExceededException: {}",
                e.message().unwrap_or("too many calls")
            ),
        };
    }
    port_error(SERVICE, action, id, error)
}

/// The interval `start` (inclusive) to `end` (exclusive) as Cost Explorer reads it.
pub(crate) fn interval(
    action: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<DateInterval, PortError> {
    DateInterval::builder()
        .start(start.format("%Y-%m-%d").to_string())
        .end(end.format("%Y-%m-%d").to_string())
        .build()
        .map_err(|e| PortError::Rejected {
            service: SERVICE.into(),
            action: action.into(),
            message: e.to_string(),
        })
}

/// Sends `request` and every next page (`NextPageToken` followed to the last page,
/// a token given twice is [`PortError::Inconsistent`]), handing each page to `page`.
pub(crate) async fn each_page(
    request: GetCostAndUsageFluentBuilder,
    id: &str,
    mut page: impl FnMut(&GetCostAndUsageOutput) -> Result<(), PortError>,
) -> Result<(), PortError> {
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let output = request
            .clone()
            .set_next_page_token(token.clone())
            .send()
            .await
            .map_err(|e| ce_error(ACTION, id, e))?;
        page(&output)?;
        match output.next_page_token().filter(|t| !t.is_empty()) {
            Some(next) if !seen.insert(next.to_owned()) => {
                return Err(PortError::Inconsistent {
                    id: id.to_owned(),
                    why: format!("Cost Explorer gave the page token `{next}` twice"),
                });
            }
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(()),
        }
    }
}

/// Cost Explorer's decimal text as a number; anything else is
/// [`PortError::Inconsistent`] about `key` (a report must not show a wrong total).
pub(crate) fn parse_amount(amount: &str, key: &str, account: &str) -> Result<f64, PortError> {
    amount
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            inconsistent(
                key,
                format!(
                    "Cost Explorer gave the {METRIC} amount `{amount}` for `{key}` in account {account}, not a number"
                ),
            )
        })
}

impl<F: MemberConfigs> Costs for MemberCosts<F> {
    async fn account_costs(
        &self,
        account: &AccountId,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ServiceCost>, PortError> {
        if end < start {
            return Err(PortError::Rejected {
                service: SERVICE.into(),
                action: ACTION.into(),
                message: format!("the period ends ({end}) before it starts ({start})"),
            });
        }
        if end == start {
            // an empty period (the first day of a month, month to date) costs nothing;
            // Cost Explorer refuses it
            return Ok(Vec::new());
        }
        let member = self.configs.member_config(account).await?;
        let client = member.cost_explorer();
        let period = interval(ACTION, start, end)?;
        let by_service = GroupDefinition::builder()
            .r#type(GroupDefinitionType::Dimension)
            .key(GROUP_BY)
            .build();
        let mut totals = ServiceTotals::default();
        let request = client
            .get_cost_and_usage()
            .time_period(period)
            .granularity(Granularity::Monthly)
            .metrics(METRIC)
            .group_by(by_service);
        each_page(request, account.as_str(), |page| {
            for result in page.results_by_time() {
                totals.add(account, result)?;
            }
            Ok(())
        })
        .await?;
        Ok(totals.into_costs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse("222222222222").expect("id")
    }

    #[test]
    fn amounts_are_summed_per_service_sorted_and_zeros_dropped() {
        let mut totals = ServiceTotals::default();
        let a = account();
        totals
            .add_amount(&a, "Amazon S3", "1.25", "USD")
            .expect("ok");
        totals
            .add_amount(&a, "Amazon EC2", "10.0000000001", "USD")
            .expect("ok");
        totals.add_amount(&a, "AWS Lambda", "0", "USD").expect("ok");
        totals
            .add_amount(&a, "Amazon S3", "2.5", "USD")
            .expect("ok");
        totals.add_amount(&a, "Tax", "-0.5", "USD").expect("ok");
        totals.add_amount(&a, "AWS KMS", "3.75", "USD").expect("ok");
        let costs = totals.into_costs();
        let names: Vec<&str> = costs.iter().map(|c| c.service.as_str()).collect();
        // equal amounts by name; a credit (negative) last; the zero gone
        assert_eq!(names, ["Amazon EC2", "AWS KMS", "Amazon S3", "Tax"]);
        assert!((costs[2].amount - 3.75).abs() < 1e-9);
        assert_eq!(costs[0].currency, "USD");
    }

    #[test]
    fn a_bad_amount_names_the_service() {
        let a = account();
        for bad in ["", "n/a", "NaN", "inf", "1,5"] {
            let mut totals = ServiceTotals::default();
            let error = totals
                .add_amount(&a, "Amazon S3", bad, "USD")
                .expect_err(bad);
            assert!(
                matches!(&error, PortError::Inconsistent { id, why } if id == "Amazon S3" && why.contains("222222222222")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn one_service_in_two_currencies_is_inconsistent() {
        let a = account();
        let mut totals = ServiceTotals::default();
        totals.add_amount(&a, "Amazon S3", "1", "USD").expect("ok");
        assert!(matches!(
            totals.add_amount(&a, "Amazon S3", "1", "EUR"),
            Err(PortError::Inconsistent { id, .. }) if id == "Amazon S3"
        ));
    }
}
