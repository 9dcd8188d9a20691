//! Where cost figures come from: Cost Explorer in the management (payer) account,
//! or CUR 2.0 through Athena for the monthly breakdowns of large organizations.

use std::future::Future;

use chrono::NaiveDate;

use super::PortError;
use spa_core::events::AccountId;
use spa_core::reports::{CostBreakdowns, DailyCost, Forecast, Month, PeriodCosts};

/// The organization's costs (unblended; credits and refunds kept apart).
pub trait CostSource: Send + Sync {
    /// The month's costs of every account, as three breakdowns (service, usage
    /// type, record type). Cost Explorer data is late: the month can be read again
    /// any time, and reads again what the source knows then.
    fn monthly_costs(
        &self,
        month: Month,
    ) -> impl Future<Output = Result<CostBreakdowns, PortError>> + Send;

    /// Totals by service and by account from `start` (inclusive) to `end`
    /// (exclusive), charges only; of one account when `account` is given.
    fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<PeriodCosts, PortError>> + Send;

    /// The daily charges of `accounts` from `start` (inclusive) to `end` (exclusive);
    /// a day without charges has no line.
    fn daily_costs(
        &self,
        accounts: &[AccountId],
        start: NaiveDate,
        end: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DailyCost>, PortError>> + Send;

    /// The forecast total of `month` (the current month), from `today` on; none when
    /// the source cannot forecast (too little history).
    fn forecast(
        &self,
        month: Month,
        today: NaiveDate,
    ) -> impl Future<Output = Result<Option<Forecast>, PortError>> + Send;
}

/// The AWS Price List API: the product documents of one query, every page
/// ([`spa_core::spend::price_list`] says what is asked and reads the answers).
pub trait PriceList: Send + Sync {
    /// The product documents (JSON text) `query` matches.
    fn products(
        &self,
        query: &spa_core::spend::price_list::PriceQuery,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}
