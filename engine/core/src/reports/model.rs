//! What cost reports are made of: the reported month, the costs read from a cost
//! source (Cost Explorer or CUR 2.0 through Athena), the accounts they are about.
//!
//! Pure data. Cost Explorer can group by two dimensions at most, so a month's costs
//! come as three breakdowns of the same charges, each per account: by service, by
//! usage type, by record type. Credits and refunds are kept apart: the service and
//! usage-type breakdowns hold charges only (every record type but `Credit` and
//! `Refund`); the record-type breakdown holds everything, credits and refunds as
//! negative amounts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::events::AccountId;

/// A calendar month, the period of a monthly report: `2026-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    first: NaiveDate,
}

/// Why a month could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{found}` is not a month: expected YYYY-MM, e.g. 2026-10")]
pub struct MonthError {
    /// What was given (cut short).
    pub found: String,
}

impl Month {
    /// The month of `day`.
    pub fn of(day: NaiveDate) -> Self {
        Self {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// The month `year`-`month`, if it exists.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Self { first })
    }

    /// Its first day (inclusive start of Cost Explorer's interval).
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month (exclusive end of Cost Explorer's interval).
    pub fn end(self) -> NaiveDate {
        self.first
            .checked_add_months(Months::new(1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The month before.
    pub fn previous(self) -> Self {
        Self::of(
            self.first
                .checked_sub_months(Months::new(1))
                .unwrap_or(self.first),
        )
    }

    /// The month after.
    pub fn next(self) -> Self {
        Self::of(self.end())
    }

    /// The year, for keys: `<prefix>/<scope>/<YYYY>/<YYYY-MM>-<scope>-<label>.<ext>`.
    pub fn year(self) -> i32 {
        self.first.year()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || MonthError {
            found: s.chars().take(20).collect(),
        };
        let (year, month) = s.split_once('-').ok_or_else(error)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(error());
        }
        let year = year.parse::<i32>().map_err(|_| error())?;
        let month = month.parse::<u32>().map_err(|_| error())?;
        Self::new(year, month).ok_or_else(error)
    }
}

/// The record types that are not charges: kept apart from services and usage types.
pub const NOT_CHARGES: [&str; 2] = ["Credit", "Refund"];

/// The cost of one account for one key (a service, a usage type or a record type).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountCost {
    /// The account charged (Cost Explorer's `LINKED_ACCOUNT`).
    pub account: AccountId,
    /// `Amazon Elastic Compute Cloud - Compute`, `EU-BoxUsage:t3.micro`, `Usage`, ...
    pub key: String,
    /// Unblended, in the breakdown's currency; credits and refunds are negative.
    pub amount: f64,
}

/// The costs of a month across the organization, as three breakdowns per account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostBreakdowns {
    /// `USD`: the currency of every amount.
    pub currency: String,
    /// Charges by service (no credit, no refund).
    pub by_service: Vec<AccountCost>,
    /// Charges by usage type (no credit, no refund).
    pub by_usage_type: Vec<AccountCost>,
    /// Everything by record type: `Usage`, `Tax`, `Credit`, `Refund`, ...
    pub by_record_type: Vec<AccountCost>,
}

/// The costs of a period (for the digest and `spa costs`): totals by service and by
/// account, charges only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodCosts {
    /// Inclusive.
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
    /// `USD`.
    pub currency: String,
    /// Service -> amount.
    pub by_service: Vec<(String, f64)>,
    /// Account -> amount.
    pub by_account: Vec<(AccountId, f64)>,
}

/// The cost of one account on one day (the residual cost check).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCost {
    /// The day.
    pub day: NaiveDate,
    /// The account.
    pub account: AccountId,
    /// Charges only, unblended.
    pub amount: f64,
}

impl DailyCost {
    /// One line per day and account of `sums`, in their order, days without charges left out.
    pub fn from_sums(sums: BTreeMap<(NaiveDate, AccountId), f64>) -> Vec<Self> {
        sums.into_iter()
            .filter(|(_, amount)| *amount != 0.0)
            .map(|((day, account), amount)| Self {
                day,
                account,
                amount,
            })
            .collect()
    }
}

/// The forecast of the current month's cost (Cost Explorer `GetCostForecast`).
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// The month forecast.
    pub month: Month,
    /// What it will cost in total (actual so far plus forecast).
    pub amount: f64,
    /// `USD`.
    pub currency: String,
}

/// An account as reports show it: what the organization, its tags and spa's records
/// say of it. An account that left the organization keeps its last known name.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportAccount {
    /// The account.
    pub id: AccountId,
    /// Its name (the last known one when it left the organization).
    pub name: String,
    /// Its root e-mail (shown in the inventory, never logged).
    pub email: String,
    /// The cost center tag; none: the `NoCostCenter` bucket.
    pub cost_center: Option<String>,
    /// Who answers for the cost center's spending (settings).
    pub cost_owner: Option<String>,
    /// `Root/Sandboxes/Team A`.
    pub ou_path: String,
    /// spa's state tag, if managed.
    pub state: Option<String>,
    /// The holder, if assigned.
    pub holder: Option<String>,
    /// Since when it is in its state (the last transition).
    pub since: Option<DateTime<Utc>>,
    /// The last console sign-in spa saw.
    pub last_login: Option<DateTime<Utc>>,
    /// It left the organization (closed, removed): still reported for its costs.
    pub left: bool,
}

/// The cost-center bucket of accounts without the tag: a report never fails for it.
pub const NO_COST_CENTER: &str = "NoCostCenter";

impl ReportAccount {
    /// An account known by its id and name only.
    pub fn new(id: AccountId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            email: String::new(),
            cost_center: None,
            cost_owner: None,
            ou_path: String::new(),
            state: None,
            holder: None,
            since: None,
            last_login: None,
            left: false,
        }
    }

    /// The cost center, or [`NO_COST_CENTER`].
    pub fn cost_center_or_bucket(&self) -> &str {
        self.cost_center
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or(NO_COST_CENTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_read_and_print_as_yyyy_mm() {
        let month: Month = "2026-10".parse().expect("a month");
        assert_eq!(month.to_string(), "2026-10");
        assert_eq!(
            month.first_day(),
            NaiveDate::from_ymd_opt(2026, 10, 1).expect("day")
        );
        assert_eq!(
            month.end(),
            NaiveDate::from_ymd_opt(2026, 11, 1).expect("day")
        );
        assert_eq!(month.previous().to_string(), "2026-09");
        assert_eq!(
            "2026-12"
                .parse::<Month>()
                .expect("a month")
                .next()
                .to_string(),
            "2027-01"
        );
        assert_eq!(
            "2026-01"
                .parse::<Month>()
                .expect("a month")
                .previous()
                .to_string(),
            "2025-12"
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_expected_shape() {
        for bad in [
            "2026-13",
            "2026-1",
            "26-10",
            "2026/10",
            "",
            "2026-10-01",
            "abcd-ef",
        ] {
            let error = bad.parse::<Month>().expect_err(bad);
            assert!(
                error.to_string().contains("expected YYYY-MM"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn accounts_without_cost_center_fall_in_the_bucket() {
        let id = AccountId::parse("123456789012").expect("an id");
        let mut account = ReportAccount::new(id, "alice");
        assert_eq!(account.cost_center_or_bucket(), NO_COST_CENTER);
        account.cost_center = Some(" ".into());
        assert_eq!(account.cost_center_or_bucket(), NO_COST_CENTER);
        account.cost_center = Some("IT-001".into());
        assert_eq!(account.cost_center_or_bucket(), "IT-001");
    }
}

/// Cost of one service in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCost {
    /// `Amazon Elastic Compute Cloud - Compute`.
    pub service: String,
    /// Unblended cost.
    pub amount: f64,
    /// `USD`.
    pub currency: String,
}
