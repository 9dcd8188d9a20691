//! [`OrganizationCosts`]: the [`CostSource`] port on Cost Explorer in the management
//! (payer) account, which sees every linked account of the organization.
//!
//! Every query reads the unblended cost ([`METRIC`]), grouped by `LINKED_ACCOUNT`
//! and at most one other dimension (Cost Explorer groups by two at most), every
//! `NextPageToken` followed ([`super::costs::each_page`]):
//!
//! | method | granularity | group by | filter |
//! |---|---|---|---|
//! | `monthly_costs` | MONTHLY | account + `SERVICE` / `USAGE_TYPE` | charges only |
//! | `monthly_costs` | MONTHLY | account + `RECORD_TYPE` | none (credits, refunds negative) |
//! | `period_costs` | MONTHLY for whole months, else DAILY | `SERVICE`, then account | charges (and the account) |
//! | `daily_costs` | DAILY | account | charges and the accounts, [`ACCOUNTS_PER_FILTER`] a query |
//! | `forecast` | MONTHLY (`GetCostForecast`, `UNBLENDED_COST`) | — | charges |
//!
//! "Charges only" is `Not` `RECORD_TYPE` in ([`NOT_CHARGES`]) `Credit`, `Refund`.
//! Amounts are summed per key, zero sums dropped; record types Cost Explorer adds
//! later pass through as they come. The currency is read from each amount's `Unit`:
//! two currencies in one answer, or an amount that is not a number, is
//! [`PortError::Inconsistent`], never a wrong total. Throttling
//! (`LimitExceededException`) is `Unavailable`; the rest goes through
//! [`super::error::port_error`].

use std::collections::BTreeMap;

use aws_sdk_costexplorer::Client;
use aws_sdk_costexplorer::operation::get_cost_forecast::GetCostForecastError;
use aws_sdk_costexplorer::types::{
    Dimension, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType,
    Metric, ResultByTime,
};
use chrono::{Datelike, NaiveDate};

use super::config::AwsConfig;
use super::costs::{
    ACTION, METRIC, SERVICE, ce_error, each_page, inconsistent, interval, parse_amount,
};
use spa_core::events::AccountId;
use spa_core::reports::model::NOT_CHARGES;
use spa_core::reports::{AccountCost, CostBreakdowns, DailyCost, Forecast, Month, PeriodCosts};
use spa_usecases::ports::{CostSource, PortError};

/// Accounts named in one `LINKED_ACCOUNT` filter: the accounts of `daily_costs` are
/// asked in chunks of this many (a conservative size: the request stays small
/// whatever Cost Explorer's limit on filter values).
pub const ACCOUNTS_PER_FILTER: usize = 100;

/// The currency when no amount says one (an organization without any cost).
pub const DEFAULT_CURRENCY: &str = "USD";

const FORECAST: &str = "GetCostForecast";

/// Cost Explorer in the management account.
#[derive(Debug, Clone)]
pub struct OrganizationCosts {
    client: Client,
}

impl OrganizationCosts {
    /// Costs read with `management`'s credentials (the management role), in us-east-1.
    pub fn new(management: &AwsConfig) -> Self {
        Self {
            client: management.cost_explorer(),
        }
    }

    /// Costs read with `client` (tests).
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }
}

/// The one currency of an answer.
#[derive(Debug, Default)]
pub(crate) struct OneCurrency(Option<String>);

impl OneCurrency {
    /// Checks `unit` against the currency seen so far.
    pub(crate) fn check(&mut self, unit: &str, key: &str, account: &str) -> Result<(), PortError> {
        match &self.0 {
            None => {
                self.0 = Some(unit.to_owned());
                Ok(())
            }
            Some(seen) if seen == unit => Ok(()),
            Some(seen) => Err(inconsistent(
                key,
                format!(
                    "the costs come in two currencies, {seen} and {unit} (`{key}` in account {account}): a total would be wrong"
                ),
            )),
        }
    }

    /// The currency, [`DEFAULT_CURRENCY`] when none was seen.
    pub(crate) fn into_code(self) -> String {
        self.0.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned())
    }
}

/// Sums per (account, key), then drops zeros.
#[derive(Debug, Default)]
pub(crate) struct Sums(BTreeMap<(AccountId, String), f64>);

impl Sums {
    /// Adds `amount` to `account`'s `key`.
    pub(crate) fn add(&mut self, account: AccountId, key: &str, amount: f64) {
        *self.0.entry((account, key.to_owned())).or_insert(0.0) += amount;
    }

    /// The non-zero sums, by account then key.
    pub(crate) fn into_costs(self) -> Vec<AccountCost> {
        self.0
            .into_iter()
            .filter(|(_, amount)| *amount != 0.0)
            .map(|((account, key), amount)| AccountCost {
                account,
                key,
                amount,
            })
            .collect()
    }
}

/// A linked account id as Cost Explorer gives it.
pub(crate) fn account_of(text: &str) -> Result<AccountId, PortError> {
    AccountId::parse(text).ok_or_else(|| {
        inconsistent(
            text,
            format!("Cost Explorer gave `{text}` as a linked account, not a 12-digit account id"),
        )
    })
}

/// One amount of a result: (account, key, amount), the unit checked.
struct Row<'a> {
    keys: &'a [String],
    amount: f64,
}

/// The groups of `result`, each with its keys and amount (unit checked).
fn rows<'a>(
    result: &'a ResultByTime,
    currency: &mut OneCurrency,
) -> Result<Vec<Row<'a>>, PortError> {
    let mut rows = Vec::with_capacity(result.groups().len());
    for group in result.groups() {
        let keys = group.keys();
        let key = keys.last().map(String::as_str).unwrap_or("(no key)");
        let account = keys.first().map(String::as_str).unwrap_or("(no account)");
        let metric = group.metrics().and_then(|m| m.get(METRIC));
        let text = metric.and_then(|m| m.amount()).ok_or_else(|| {
            inconsistent(
                key,
                format!("Cost Explorer gave no {METRIC} amount for `{key}` in account {account}"),
            )
        })?;
        let amount = parse_amount(text, key, account)?;
        let unit = metric
            .and_then(|m| m.unit())
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_CURRENCY);
        currency.check(unit, key, account)?;
        rows.push(Row { keys, amount });
    }
    Ok(rows)
}

fn by_dimension(key: &str) -> GroupDefinition {
    GroupDefinition::builder()
        .r#type(GroupDefinitionType::Dimension)
        .key(key)
        .build()
}

/// `RECORD_TYPE` not `Credit` nor `Refund`: the charges.
pub fn charges_only() -> Expression {
    let mut values = DimensionValues::builder().key(Dimension::RecordType);
    for record in NOT_CHARGES {
        values = values.values(record);
    }
    Expression::builder()
        .not(Expression::builder().dimensions(values.build()).build())
        .build()
}

/// `LINKED_ACCOUNT` in `accounts`.
fn linked_accounts<'a>(accounts: impl IntoIterator<Item = &'a AccountId>) -> Expression {
    let mut values = DimensionValues::builder().key(Dimension::LinkedAccount);
    for account in accounts {
        values = values.values(account.as_str());
    }
    Expression::builder().dimensions(values.build()).build()
}

fn both(a: Expression, b: Expression) -> Expression {
    Expression::builder().and(a).and(b).build()
}

fn rejected(action: &str, message: String) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message,
    }
}

/// Whether `start`..`end` is made of whole months (MONTHLY granularity fits).
fn whole_months(start: NaiveDate, end: NaiveDate) -> bool {
    start.day() == 1 && end.day() == 1
}

impl OrganizationCosts {
    /// One breakdown of `month`: grouped by account and `dimension`, filtered.
    async fn breakdown(
        &self,
        month: Month,
        dimension: &str,
        filter: Option<Expression>,
        currency: &mut OneCurrency,
    ) -> Result<Vec<AccountCost>, PortError> {
        let request = self
            .client
            .get_cost_and_usage()
            .time_period(interval(ACTION, month.first_day(), month.end())?)
            .granularity(Granularity::Monthly)
            .metrics(METRIC)
            .group_by(by_dimension("LINKED_ACCOUNT"))
            .group_by(by_dimension(dimension))
            .set_filter(filter);
        let mut sums = Sums::default();
        each_page(request, &month.to_string(), |page| {
            for result in page.results_by_time() {
                for row in rows(result, currency)? {
                    let [account, key] = row.keys else {
                        return Err(inconsistent(
                            dimension,
                            format!(
                                "Cost Explorer gave a {dimension} group with {} keys, expected the account and the {dimension}",
                                row.keys.len()
                            ),
                        ));
                    };
                    sums.add(account_of(account)?, key, row.amount);
                }
            }
            Ok(())
        })
        .await?;
        Ok(sums.into_costs())
    }

    /// Totals grouped by `dimension` alone.
    async fn totals(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        dimension: &str,
        filter: Expression,
        currency: &mut OneCurrency,
    ) -> Result<BTreeMap<String, f64>, PortError> {
        let granularity = if whole_months(start, end) {
            Granularity::Monthly
        } else {
            Granularity::Daily
        };
        let request = self
            .client
            .get_cost_and_usage()
            .time_period(interval(ACTION, start, end)?)
            .granularity(granularity)
            .metrics(METRIC)
            .group_by(by_dimension(dimension))
            .filter(filter);
        let mut totals = BTreeMap::new();
        each_page(request, &format!("{start}..{end}"), |page| {
            for result in page.results_by_time() {
                for row in rows(result, currency)? {
                    let key = row.keys.first().cloned().unwrap_or_default();
                    *totals.entry(key).or_insert(0.0) += row.amount;
                }
            }
            Ok(())
        })
        .await?;
        totals.retain(|_, amount| *amount != 0.0);
        Ok(totals)
    }
}

/// Highest first, then by name.
fn highest_first<K: Ord>(mut rows: Vec<(K, f64)>) -> Vec<(K, f64)> {
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn check_period(action: &str, start: NaiveDate, end: NaiveDate) -> Result<(), PortError> {
    if end < start {
        return Err(rejected(
            action,
            format!("the period ends ({end}) before it starts ({start})"),
        ));
    }
    Ok(())
}

impl CostSource for OrganizationCosts {
    async fn monthly_costs(&self, month: Month) -> Result<CostBreakdowns, PortError> {
        let mut currency = OneCurrency::default();
        let by_service = self
            .breakdown(month, "SERVICE", Some(charges_only()), &mut currency)
            .await?;
        let by_usage_type = self
            .breakdown(month, "USAGE_TYPE", Some(charges_only()), &mut currency)
            .await?;
        let by_record_type = self
            .breakdown(month, "RECORD_TYPE", None, &mut currency)
            .await?;
        Ok(CostBreakdowns {
            currency: currency.into_code(),
            by_service,
            by_usage_type,
            by_record_type,
        })
    }

    async fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> Result<PeriodCosts, PortError> {
        check_period(ACTION, start, end)?;
        let mut currency = OneCurrency::default();
        let mut costs = PeriodCosts {
            start,
            end,
            ..PeriodCosts::default()
        };
        if start < end {
            let filter = || match account {
                Some(account) => both(charges_only(), linked_accounts([account])),
                None => charges_only(),
            };
            let by_service = self
                .totals(start, end, "SERVICE", filter(), &mut currency)
                .await?;
            let by_account = self
                .totals(start, end, "LINKED_ACCOUNT", filter(), &mut currency)
                .await?;
            costs.by_service = highest_first(by_service.into_iter().collect());
            costs.by_account = highest_first(
                by_account
                    .into_iter()
                    .map(|(id, amount)| account_of(&id).map(|id| (id, amount)))
                    .collect::<Result<_, _>>()?,
            );
        }
        costs.currency = currency.into_code();
        Ok(costs)
    }

    async fn daily_costs(
        &self,
        accounts: &[AccountId],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DailyCost>, PortError> {
        check_period(ACTION, start, end)?;
        let mut days: BTreeMap<(NaiveDate, AccountId), f64> = BTreeMap::new();
        if start == end {
            return Ok(Vec::new());
        }
        let mut currency = OneCurrency::default();
        for chunk in accounts.chunks(ACCOUNTS_PER_FILTER) {
            let request = self
                .client
                .get_cost_and_usage()
                .time_period(interval(ACTION, start, end)?)
                .granularity(Granularity::Daily)
                .metrics(METRIC)
                .group_by(by_dimension("LINKED_ACCOUNT"))
                .filter(both(charges_only(), linked_accounts(chunk)));
            each_page(request, &format!("{start}..{end}"), |page| {
                for result in page.results_by_time() {
                    let day_text = result.time_period().map(|p| p.start()).unwrap_or_default();
                    let day = day_text.parse::<NaiveDate>().map_err(|_| {
                        inconsistent(
                            day_text,
                            format!("Cost Explorer gave `{day_text}` as a day, not YYYY-MM-DD"),
                        )
                    })?;
                    for row in rows(result, &mut currency)? {
                        let id = row.keys.first().map(String::as_str).unwrap_or_default();
                        *days.entry((day, account_of(id)?)).or_insert(0.0) += row.amount;
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(DailyCost::from_sums(days))
    }

    async fn forecast(
        &self,
        month: Month,
        today: NaiveDate,
    ) -> Result<Option<Forecast>, PortError> {
        let start = today.max(month.first_day());
        let end = month.end();
        if start >= end {
            // the month is over: nothing left to forecast
            return Ok(None);
        }
        let mut currency = OneCurrency::default();
        // actual charges so far (none on the month's first day), then the rest forecast
        let actual: f64 = if month.first_day() < start {
            self.totals(
                month.first_day(),
                start,
                "LINKED_ACCOUNT",
                charges_only(),
                &mut currency,
            )
            .await?
            .values()
            .sum()
        } else {
            0.0
        };
        let answer = self
            .client
            .get_cost_forecast()
            .time_period(interval(FORECAST, start, end)?)
            .metric(Metric::UnblendedCost)
            .granularity(Granularity::Monthly)
            .filter(charges_only())
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(error) => {
                if let Some(GetCostForecastError::DataUnavailableException(_)) =
                    error.as_service_error()
                {
                    // too little history to forecast
                    return Ok(None);
                }
                return Err(ce_error(FORECAST, &month.to_string(), error));
            }
        };
        let key = format!("forecast {month}");
        let Some(total) = output.total() else {
            return Ok(None);
        };
        let text = total.amount().unwrap_or_default();
        let forecast = parse_amount(text, &key, "(all)")?;
        let unit = total
            .unit()
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_CURRENCY);
        currency.check(unit, &key, "(all)")?;
        Ok(Some(Forecast {
            month,
            amount: actual + forecast,
            currency: currency.into_code(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> AccountId {
        AccountId::parse(text).expect("id")
    }

    #[test]
    fn sums_add_up_per_account_and_key_and_drop_zeros() {
        let mut sums = Sums::default();
        sums.add(id("222222222222"), "Amazon S3", 1.5);
        sums.add(id("111111111111"), "Amazon S3", 2.0);
        sums.add(id("222222222222"), "Amazon S3", 0.25);
        sums.add(id("222222222222"), "AWS KMS", 1.0);
        sums.add(id("222222222222"), "AWS KMS", -1.0);
        let costs = sums.into_costs();
        assert_eq!(costs.len(), 2, "{costs:?}");
        assert_eq!(costs[0].account.as_str(), "111111111111");
        assert_eq!(costs[1].key, "Amazon S3");
        assert!((costs[1].amount - 1.75).abs() < 1e-9);
    }

    #[test]
    fn two_currencies_are_inconsistent() {
        let mut currency = OneCurrency::default();
        currency
            .check("USD", "Amazon S3", "222222222222")
            .expect("first");
        currency
            .check("USD", "AWS KMS", "222222222222")
            .expect("same");
        let error = currency
            .check("EUR", "AWS KMS", "333333333333")
            .expect_err("two currencies");
        assert!(
            matches!(&error, PortError::Inconsistent { why, .. } if why.contains("USD and EUR")),
            "{error:?}"
        );
        assert_eq!(OneCurrency::default().into_code(), "USD");
    }

    #[test]
    fn the_charges_filter_leaves_out_credits_and_refunds() {
        let filter = charges_only();
        let inner = filter.not().and_then(Expression::dimensions).expect("not");
        assert_eq!(inner.key(), Some(&Dimension::RecordType));
        assert_eq!(inner.values(), ["Credit", "Refund"]);
    }

    #[test]
    fn linked_accounts_that_are_not_ids_are_inconsistent() {
        assert!(account_of("123456789012").is_ok());
        assert!(matches!(
            account_of("NoLinkedAccount"),
            Err(PortError::Inconsistent { .. })
        ));
    }

    #[test]
    fn whole_months_read_monthly() {
        let d = |t: &str| t.parse::<NaiveDate>().expect("day");
        assert!(whole_months(d("2026-09-01"), d("2026-11-01")));
        assert!(!whole_months(d("2026-09-01"), d("2026-09-15")));
        assert!(!whole_months(d("2026-09-03"), d("2026-10-01")));
    }
}
