//! TEMPORARY: replaced at merge.

use chrono::{DateTime, NaiveDate, Utc};

use crate::ports::ServiceCost;

/// Heading.
pub struct AccountHeading {
    pub account: String,
    pub name: String,
    pub holder: Option<String>,
    pub cost_center: Option<String>,
    pub ou_path: Vec<String>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub currency: String,
    pub generated_at: DateTime<Utc>,
}

/// Workbook.
pub fn account_costs_workbook(
    heading: &AccountHeading,
    costs: &[ServiceCost],
) -> Result<Vec<u8>, std::fmt::Error> {
    Ok(format!("{} {}", heading.account, costs.len()).into_bytes())
}
