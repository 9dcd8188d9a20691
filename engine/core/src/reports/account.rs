//! The cost of one account per service: the workbook linked from an incident (the
//! month-to-date cost report) and its CSV twin.
//!
//! The workbook has one sheet, `Costs`: a title block (account, name, holder masked,
//! cost center, OU path, period, currency, generation time), then a table `Service`,
//! `Cost (<currency>)`, `Share of total` with a bold, filled, bordered header row
//! that stays frozen, an autofilter over the services, amounts with two decimals and
//! the currency, and a `TOTAL` row. The total is a `SUM` formula and every share a
//! formula on it, so that a reader who edits a row sees consistent numbers; their
//! cached results are written too, for viewers that do not recalculate. An account
//! without cost still gets a valid workbook, whose table says so.
//!
//! The CSV has one line per service, with the account and the period on every line
//! so that the files of many accounts can be concatenated; it has no total line (a
//! sum over the file would count it twice).
//!
//! Periods are as Cost Explorer's: `period_start` inclusive, `period_end` exclusive;
//! both files show the last day included.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatBorder, Formula, Worksheet,
};

use super::ReportError;
use crate::events::{AccountId, mask};
use crate::reports::ServiceCost;

/// The name of the workbook's sheet.
pub const SHEET: &str = "Costs";
/// The text of the table when the account cost nothing.
pub const NO_COST: &str = "No cost in this period";
/// The label of the total row.
pub const TOTAL: &str = "TOTAL";

/// Row of the table's header (0-based): below the title block.
const HEADER_ROW: u32 = 10;
const FIRST_ROW: u32 = HEADER_ROW + 1;

/// Who and what a cost report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHeading {
    /// The account.
    pub account: AccountId,
    /// Its name in the organization.
    pub account_name: String,
    /// Its holder (an e-mail address): always written masked.
    pub holder: Option<String>,
    /// Its cost center.
    pub cost_center: Option<String>,
    /// Its place in the organization (`Root / Sandboxes / Team A`).
    pub ou_path: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// The day after the period (exclusive, as Cost Explorer's end).
    pub period_end: NaiveDate,
    /// The currency of the amounts (`USD`).
    pub currency: String,
    /// When the report was made (given by the caller: reports read no clock).
    pub generated_at: DateTime<Utc>,
}

impl AccountHeading {
    /// The last day of the period (its first when the period is empty).
    pub fn last_day(&self) -> NaiveDate {
        self.period_end
            .pred_opt()
            .filter(|d| *d >= self.period_start)
            .unwrap_or(self.period_start)
    }

    /// `2026-10-01 to 2026-10-14`, or one day, or an empty period said as such.
    pub fn period_text(&self) -> String {
        if self.period_end <= self.period_start {
            format!("{} (no full day yet)", self.period_start)
        } else if self.last_day() == self.period_start {
            self.period_start.to_string()
        } else {
            format!("{} to {}", self.period_start, self.last_day())
        }
    }

    fn holder_text(&self) -> String {
        self.holder
            .as_deref()
            .filter(|h| !h.trim().is_empty())
            .map(|h| mask(h.trim()))
            .unwrap_or_else(|| "none".to_owned())
    }
}

fn check_currencies(heading: &AccountHeading, costs: &[ServiceCost]) -> Result<(), ReportError> {
    match costs.iter().find(|c| c.currency != heading.currency) {
        Some(odd) => Err(ReportError::Currency {
            service: odd.service.clone(),
            found: odd.currency.clone(),
            expected: heading.currency.clone(),
        }),
        None => Ok(()),
    }
}

/// The number format of amounts: two decimals, thousands separated, the currency
/// after (`#,##0.00 "USD"`); the currency keeps its letters and digits only.
pub fn amount_format(currency: &str) -> String {
    let code: String = currency
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if code.is_empty() {
        "#,##0.00".to_owned()
    } else {
        format!("#,##0.00 \"{code}\"")
    }
}

/// A1 reference of a 0-based row in column `column`.
fn cell(column: char, row: u32) -> String {
    format!("{column}{}", row + 1)
}

pub(super) fn excel_time(at: DateTime<Utc>) -> Result<ExcelDateTime, ReportError> {
    let year = u16::try_from(at.year())
        .map_err(|_| rust_xlsxwriter::XlsxError::DateTimeRangeError(at.to_rfc3339()))?;
    // month, day, hour, minute and second fit their types by construction
    let date = ExcelDateTime::from_ymd(year, at.month() as u8, at.day() as u8)?;
    Ok(date.and_hms(at.hour() as u16, at.minute() as u8, at.second())?)
}

/// The house style of a table's header row: bold, filled, bordered.
pub(super) fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x00D9_E1F2))
        .set_border(FormatBorder::Thin)
}

struct Formats {
    title: Format,
    label: Format,
    header: Format,
    amount: Format,
    share: Format,
    note: Format,
    total_label: Format,
    total_amount: Format,
    total_share: Format,
}

impl Formats {
    fn new(currency: &str) -> Self {
        let money = amount_format(currency);
        let header = header_format();
        let total = Format::new()
            .set_bold()
            .set_border_top(FormatBorder::Thin)
            .set_border_bottom(FormatBorder::Double);
        Self {
            title: Format::new().set_bold().set_font_size(14),
            label: Format::new().set_bold(),
            header,
            amount: Format::new().set_num_format(&money),
            share: Format::new().set_num_format("0.0%"),
            note: Format::new().set_italic(),
            total_label: total.clone(),
            total_amount: total.clone().set_num_format(&money),
            total_share: total.set_num_format("0.0%"),
        }
    }
}

fn title_block(
    sheet: &mut Worksheet,
    heading: &AccountHeading,
    formats: &Formats,
) -> Result<(), ReportError> {
    let title = format!("AWS cost of {} ({})", heading.account_name, heading.account);
    sheet.write_string_with_format(0, 0, title, &formats.title)?;
    let generated = heading
        .generated_at
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let lines = [
        ("Account", heading.account.to_string()),
        ("Account name", heading.account_name.clone()),
        ("Holder", heading.holder_text()),
        (
            "Cost center",
            heading
                .cost_center
                .clone()
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "none".to_owned()),
        ),
        ("OU path", heading.ou_path.clone()),
        ("Period", heading.period_text()),
        ("Currency", heading.currency.clone()),
        ("Generated", generated),
    ];
    for (row, (label, value)) in (1u32..).zip(lines) {
        sheet.write_string_with_format(row, 0, label, &formats.label)?;
        sheet.write_string(row, 1, value)?;
    }
    Ok(())
}

/// The cost of one account per service as an XLSX workbook (see the module's doc).
///
/// `costs` are written in the order given (the `Costs` port gives them highest
/// first); every row must be in `heading.currency`.
pub fn account_costs_workbook(
    heading: &AccountHeading,
    costs: &[ServiceCost],
) -> Result<Vec<u8>, ReportError> {
    check_currencies(heading, costs)?;
    let formats = Formats::new(&heading.currency);
    let mut workbook = crate::reports::new_workbook();
    // the creation time is the caller's, so that the same input gives the same bytes
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("AWS cost of {}", heading.account))
            .set_subject(heading.period_text())
            .set_author("spa")
            .set_creation_datetime(&excel_time(heading.generated_at)?),
    );
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET)?;
    title_block(sheet, heading, &formats)?;

    let currency = if heading.currency.is_empty() {
        "Cost".to_owned()
    } else {
        format!("Cost ({})", heading.currency)
    };
    for (col, text) in (0u16..).zip(["Service", currency.as_str(), "Share of total"]) {
        sheet.write_string_with_format(HEADER_ROW, col, text, &formats.header)?;
    }

    // one row per service, or one row that says there is none
    let rows = u32::try_from(costs.len().max(1))
        .map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
    let last_row = FIRST_ROW + rows - 1;
    let total_row = last_row + 1;
    let total: f64 = costs.iter().map(|c| c.amount).sum();
    let total_cell = format!("$B${}", total_row + 1);
    if costs.is_empty() {
        sheet.write_string_with_format(FIRST_ROW, 0, NO_COST, &formats.note)?;
    }
    for (row, cost) in (FIRST_ROW..).zip(costs) {
        sheet.write_string(row, 0, &cost.service)?;
        sheet.write_number_with_format(row, 1, cost.amount, &formats.amount)?;
        let share = if total == 0.0 {
            0.0
        } else {
            cost.amount / total
        };
        let formula = format!("=IF({total_cell}=0,0,{}/{total_cell})", cell('B', row));
        sheet.write_formula_with_format(
            row,
            2,
            Formula::new(formula).set_result(share.to_string()),
            &formats.share,
        )?;
    }

    sheet.write_string_with_format(total_row, 0, TOTAL, &formats.total_label)?;
    let sum = format!("=SUM({}:{})", cell('B', FIRST_ROW), cell('B', last_row));
    sheet.write_formula_with_format(
        total_row,
        1,
        Formula::new(sum).set_result(total.to_string()),
        &formats.total_amount,
    )?;
    let whole = if total == 0.0 { 0.0 } else { 1.0 };
    sheet.write_formula_with_format(
        total_row,
        2,
        Formula::new(format!("=IF({total_cell}=0,0,{total_cell}/{total_cell})"))
            .set_result(whole.to_string()),
        &formats.total_share,
    )?;

    sheet.set_freeze_panes(FIRST_ROW, 0)?;
    // the filter covers the services, never the total
    sheet.autofilter(HEADER_ROW, 0, last_row, 2)?;
    let longest = costs
        .iter()
        .map(|c| c.service.chars().count())
        .chain([heading.ou_path.chars().count(), NO_COST.len()])
        .max()
        .unwrap_or(0);
    sheet.set_column_width(0, (longest + 2).clamp(16, 70) as f64)?;
    sheet.set_column_width(1, 30)?;
    sheet.set_column_width(2, 16)?;
    Ok(workbook.save_to_buffer()?)
}

/// The rows of [`account_costs_workbook`] as CSV (see the module's doc): `account_id,
/// account_name, cost_center, first_day, last_day, service, amount, currency, share`;
/// amounts as given (full precision), shares of the total to four decimals. Only a
/// header when the account cost nothing.
pub fn account_costs_csv(heading: &AccountHeading, costs: &[ServiceCost]) -> Vec<u8> {
    let total: f64 = costs.iter().map(|c| c.amount).sum();
    let first = heading.period_start.to_string();
    let last = heading.last_day().to_string();
    let account = heading.account.to_string();
    let cost_center = heading.cost_center.clone().unwrap_or_default();
    let mut lines: Vec<Vec<String>> = vec![
        [
            "account_id",
            "account_name",
            "cost_center",
            "first_day",
            "last_day",
            "service",
            "amount",
            "currency",
            "share",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for cost in costs {
        let share = if total == 0.0 {
            0.0
        } else {
            cost.amount / total
        };
        lines.push(vec![
            account.clone(),
            heading.account_name.clone(),
            cost_center.clone(),
            first.clone(),
            last.clone(),
            cost.service.clone(),
            cost.amount.to_string(),
            cost.currency.clone(),
            format!("{share:.4}"),
        ]);
    }
    let mut bytes = Vec::new();
    {
        let mut writer = csv::Writer::from_writer(&mut bytes);
        for line in &lines {
            // writing into memory cannot fail: there is no I/O to go wrong
            if writer.write_record(line).is_err() {
                break;
            }
        }
        let _ = writer.flush();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_carry_two_decimals_and_the_currency() {
        assert_eq!(amount_format("USD"), "#,##0.00 \"USD\"");
        assert_eq!(amount_format("E\"UR"), "#,##0.00 \"EUR\"");
        assert_eq!(amount_format(""), "#,##0.00");
    }

    #[test]
    fn periods_show_their_last_day() {
        let heading = |start: &str, end: &str| AccountHeading {
            account: AccountId::parse("222222222222").expect("id"),
            account_name: "sandbox".into(),
            holder: None,
            cost_center: None,
            ou_path: "Root".into(),
            period_start: start.parse().expect("date"),
            period_end: end.parse().expect("date"),
            currency: "USD".into(),
            generated_at: DateTime::from_timestamp(0, 0).expect("instant"),
        };
        assert_eq!(
            heading("2026-10-01", "2026-10-15").period_text(),
            "2026-10-01 to 2026-10-14"
        );
        assert_eq!(
            heading("2026-10-01", "2026-10-02").period_text(),
            "2026-10-01"
        );
        assert_eq!(
            heading("2026-10-01", "2026-10-01").period_text(),
            "2026-10-01 (no full day yet)"
        );
    }
}
