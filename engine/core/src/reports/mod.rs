//! reports: cost rows + accounts + settings → bytes.
//!
//! Pure: every report is built in memory from what the caller gives (cost rows read
//! through the `Costs` port, the account's heading, the instant of generation); no
//! I/O, no clock, no SDK type. The caller stores the bytes (S3) or mails them.
//!
//! - [`account`]: the cost of one account per service, as an Excel workbook (formulas
//!   for the total and the shares) and as CSV.
//! - [`inventory`]: the weekly inventory CSV of every account.
//! - [`activities`]: the monthly activities CSV of a cost center (on-boardings,
//!   maintenances with their durations, console sign-ins).
//! - [`model`]: the month, the cost breakdowns, the accounts reports are about.
//! - [`monthly`]: the monthly cost reports of the organization (a summary and one
//!   report per cost center, XLSX and CSV) and the FinOps e-mail.

pub mod account;
pub mod activities;
pub mod inventory;
pub mod model;
pub mod monthly;

pub use account::{AccountHeading, account_costs_csv, account_costs_workbook};
pub use activities::{ACTIVITIES_HEADER, ActivityReport, activity_reports};
pub use inventory::{
    INVENTORY_HEADER, INVENTORY_SCOPE, Week, WeekError, inventory_csv, report_time,
};
pub use model::{
    AccountCost, CostBreakdowns, DailyCost, Forecast, Month, MonthError, NO_COST_CENTER,
    NOT_CHARGES, PeriodCosts, ReportAccount, ServiceCost,
};
pub use monthly::{
    CostReportInput, FinopsEmail, ReportFile, cost_reports, finops_email, report_key, scope_of,
};

/// The zip compression level of every workbook spa writes: level 2, zlib-rs's fast
/// strategy. Deflating the worksheets' XML is the largest single cost of the month's
/// reports (`engine/core/benches/reports.rs`): level 3 (the medium strategy) costs about 12%
/// more CPU for files about 10% smaller, rust_xlsxwriter's default (6) twice the time
/// for files about 5% smaller again.
pub const WORKBOOK_COMPRESSION: u8 = 2;

/// A new workbook with spa's compression level: the only way the reports make one
/// (`clippy.toml` refuses `Workbook::new` elsewhere).
#[allow(clippy::disallowed_methods)]
pub(crate) fn new_workbook() -> rust_xlsxwriter::Workbook {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    workbook.set_zip_compression_level(WORKBOOK_COMPRESSION);
    workbook
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The workbook writer failed (a limit of the XLSX format, a bad format string).
    #[error("the workbook could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// A cost row is in another currency than the report's.
    #[error("`{service}` costs are in {found}, the report is in {expected}")]
    Currency {
        /// The service of the row.
        service: String,
        /// Its currency.
        found: String,
        /// The report's.
        expected: String,
    },
    /// The caller's sink refused a finished file (storage down, permission denied):
    /// the run stops there.
    #[error("a report file could not be handed over: {0}")]
    Output(String),
    /// A CSV line could not be written.
    #[error("the CSV could not be written: {0}")]
    Csv(String),
}

impl ReportError {
    /// A CSV writer's error.
    pub(crate) fn csv(error: &csv::Error) -> Self {
        ReportError::Csv(error.to_string())
    }
}
