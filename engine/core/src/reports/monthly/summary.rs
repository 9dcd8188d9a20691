//! The summary of the month: workbook (`Summary`, one `Summary <CODE>` per extra
//! currency, `Cost centers` with its chart, `Services`) and CSV. See the parent
//! module's doc for what each holds.

use std::fmt::Write as _;

use rust_xlsxwriter::utility::{row_col_to_cell, row_col_to_cell_absolute};
use rust_xlsxwriter::{Chart, Worksheet};

use super::super::ReportError;
use super::style::{Style, formula, generated, outline, properties, streamed_sheet, title_block};
use super::{CostReportInput, CsvOut, Index, excel_row};

/// The main sheet.
pub const SHEET: &str = "Summary";
/// The sheet of cost-center totals and their chart.
pub const CENTERS_SHEET: &str = "Cost centers";
/// The sheet of charges per cost center and service.
pub const SERVICES_SHEET: &str = "Services";
/// The label of an OU's subtotal row (column D of `Summary`).
pub const OU_SUBTOTAL: &str = "OU subtotal";
/// The label of a cost center's subtotal row.
pub const CENTER_TOTAL: &str = "Cost center total";
/// The label of the grand total row (column A).
pub const TOTAL: &str = "TOTAL";

/// Row of the table's header (0-based), below the title block.
pub const HEADER_ROW: u32 = 8;
const FIRST_ROW: u32 = HEADER_ROW + 1;
/// Columns before the record types: cost center, OU path, account, name.
const FIXED: u16 = 4;
/// The row of the forecast in the title block, and of the rate (extra currencies).
const FORECAST_ROW: u32 = 5;
const RATE_ROW: u32 = 6;

/// How the amounts of a `Summary` sheet are written.
#[derive(Clone, Copy)]
enum Amounts<'r> {
    /// Numbers and formulas on them.
    Base,
    /// The `Summary` cell at the same place times the rate in `cell`.
    Converted { rate: f64, cell: &'r str },
}

impl Amounts<'_> {
    /// Writes a plain amount (`formula` None) or a formula with its cached `value`.
    fn write(
        self,
        sheet: &mut Worksheet,
        row: u32,
        col: u16,
        value: f64,
        base_formula: Option<String>,
        format: &rust_xlsxwriter::Format,
    ) -> Result<(), ReportError> {
        match (self, base_formula) {
            (Amounts::Base, None) => {
                sheet.write_number_with_format(row, col, value, format)?;
            }
            (Amounts::Base, Some(text)) => {
                sheet.write_formula_with_format(row, col, formula(text, value), format)?;
            }
            (Amounts::Converted { rate, cell }, _) => {
                let text = format!("={SHEET}!{}*{cell}", row_col_to_cell(row, col));
                sheet.write_formula_with_format(row, col, formula(text, value * rate), format)?;
            }
        }
        Ok(())
    }
}

/// Where a cost center's subtotal is, and how much.
struct CenterTotal {
    row: u32,
    total: f64,
}

/// The summary workbook.
pub(super) fn workbook(
    input: &CostReportInput<'_>,
    index: &Index<'_>,
) -> Result<Vec<u8>, ReportError> {
    let currency = input.costs.currency.as_str();
    let month = input.month.to_string();
    let mut workbook = crate::reports::new_workbook();
    properties(
        &mut workbook,
        &format!("AWS costs of {month}"),
        &format!("Environment {}", input.environment),
        input.generated_at,
    )?;

    let style = Style::new(currency);
    // outline levels need a standard worksheet: rust_xlsxwriter (0.102) writes none
    // in its streaming modes
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET)?;
    let (centers, grand) = summary_sheet(sheet, input, index, &style, Amounts::Base)?;

    for (code, rate) in extra_currencies(input) {
        // converted sheets carry no outline: they stream
        let sheet = streamed_sheet(&mut workbook)?;
        sheet.set_name(format!("{SHEET} {code}"))?;
        let cell = row_col_to_cell_absolute(RATE_ROW, 1);
        summary_sheet(
            sheet,
            input,
            index,
            &Style::new(&code),
            Amounts::Converted { rate, cell: &cell },
        )?;
    }

    let sheet = workbook.add_worksheet();
    sheet.set_name(CENTERS_SHEET)?;
    centers_sheet(sheet, input, index, &style, &centers, grand)?;

    let sheet = workbook.add_worksheet();
    sheet.set_name(SERVICES_SHEET)?;
    services_sheet(sheet, input, index, &style)?;

    Ok(workbook.save_to_buffer()?)
}

/// The extra currencies that make a sheet: a code of letters and digits (at most
/// 10), not the costs' own, a finite positive rate; each code once.
pub(super) fn extra_currencies(input: &CostReportInput<'_>) -> Vec<(String, f64)> {
    let mut seen: Vec<(String, f64)> = Vec::new();
    for (code, rate) in input.extra_currencies {
        let code: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(10)
            .collect::<String>()
            .to_ascii_uppercase();
        if code.is_empty()
            || code.eq_ignore_ascii_case(&input.costs.currency)
            || !rate.is_finite()
            || *rate <= 0.0
            || seen.iter().any(|(c, _)| *c == code)
        {
            continue;
        }
        seen.push((code, *rate));
    }
    seen
}

/// A `Summary` sheet (the base or a converted one); returns the cost centers'
/// subtotals and the grand total row.
fn summary_sheet(
    sheet: &mut Worksheet,
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    style: &Style,
    amounts: Amounts<'_>,
) -> Result<(Vec<CenterTotal>, CenterTotal), ReportError> {
    let base = input.costs.currency.as_str();
    let month = input.month.to_string();
    let grouped = matches!(amounts, Amounts::Base);
    let types = index.record_types.len();
    let width = FIXED + u16::try_from(types + 1).map_err(|_| limit())?;
    let total_col = width - 1;

    sheet.set_column_width(0, 20)?;
    sheet.set_column_width(1, 32)?;
    sheet.set_column_width(2, 14)?;
    sheet.set_column_width(3, 32)?;
    for col in FIXED..width {
        sheet.set_column_width(col, 16)?;
    }

    // title block
    let (currency, title) = match amounts {
        Amounts::Base => (
            base.to_owned(),
            format!("AWS costs of {month}, environment {}", input.environment),
        ),
        Amounts::Converted { .. } => {
            let code = sheet.name().trim_start_matches(SHEET).trim().to_owned();
            let title = format!(
                "AWS costs of {month}, environment {}, in {code}",
                input.environment
            );
            (code, title)
        }
    };
    let at = generated(input.generated_at);
    title_block(
        sheet,
        style,
        &title,
        &[
            ("Month", &month),
            ("Environment", input.environment),
            ("Currency", &currency),
            ("Generated", &at),
        ],
    )?;
    match input.forecast {
        Some(forecast) => {
            let label = format!("Forecast of {}", forecast.month);
            sheet.write_string_with_format(FORECAST_ROW, 0, label, &style.label)?;
            amounts.write(sheet, FORECAST_ROW, 1, forecast.amount, None, &style.amount)?;
        }
        None => {
            sheet.write_string_with_format(FORECAST_ROW, 0, "Forecast", &style.label)?;
            sheet.write_string(FORECAST_ROW, 1, "none")?;
        }
    }
    match amounts {
        Amounts::Base => {
            sheet.write_string_with_format(RATE_ROW, 0, "Accounts", &style.label)?;
            sheet.write_number(RATE_ROW, 1, index.accounts.len() as f64)?;
        }
        Amounts::Converted { rate, .. } => {
            let label = format!("Rate from {base}");
            sheet.write_string_with_format(RATE_ROW, 0, label, &style.label)?;
            sheet.write_number_with_format(RATE_ROW, 1, rate, &style.rate)?;
            sheet.write_string_with_format(
                RATE_ROW,
                2,
                format!("1 {base} = this many {currency} (from the settings)"),
                &style.note,
            )?;
        }
    }

    // header
    let headers = ["Cost center", "OU path", "Account", "Account name"];
    for (col, text) in (0u16..).zip(headers) {
        sheet.write_string_with_format(HEADER_ROW, col, text, &style.header)?;
    }
    for (col, text) in (FIXED..).zip(&index.record_types) {
        sheet.write_string_with_format(HEADER_ROW, col, *text, &style.header)?;
    }
    let total_header = if currency.is_empty() {
        "Total".to_owned()
    } else {
        format!("Total ({currency})")
    };
    sheet.write_string_with_format(HEADER_ROW, total_col, total_header, &style.header)?;

    let mut row = FIRST_ROW;
    let mut grand = vec![0.0; types + 1];
    let mut centers = Vec::with_capacity(index.centers.len());
    if index.accounts.is_empty() {
        sheet.write_string_with_format(row, 0, "No cost in this month", &style.note)?;
        row += 1;
    }
    let sum = |values: &mut [f64], add: &[f64]| {
        for (v, a) in values.iter_mut().zip(add) {
            *v += a;
        }
    };
    let mut line = vec![0.0; types + 1];
    for (center, name) in index.centers.iter().enumerate() {
        let center_first = row;
        let mut center_sums = vec![0.0; types + 1];
        for run in index.ou_runs(center) {
            let ou_first = row;
            let mut ou_sums = vec![0.0; types + 1];
            let ou_path = index.accounts[run.start as usize].ou_path;
            for account in run {
                let a = &index.accounts[account as usize];
                if grouped {
                    outline(sheet, row, 2)?;
                }
                sheet.write_string(row, 0, *name)?;
                sheet.write_string(row, 1, a.ou_path)?;
                sheet.write_string(row, 2, a.id.as_str())?;
                sheet.write_string(row, 3, index.display_name(account))?;
                let values = index.record_row(account);
                line[..types].copy_from_slice(values);
                line[types] = values.iter().sum();
                for (col, value) in (FIXED..).zip(values) {
                    amounts.write(sheet, row, col, *value, None, &style.amount)?;
                }
                let text = if types == 0 {
                    "=0".to_owned()
                } else {
                    format!(
                        "=SUM({}:{})",
                        row_col_to_cell(row, FIXED),
                        row_col_to_cell(row, total_col - 1)
                    )
                };
                amounts.write(
                    sheet,
                    row,
                    total_col,
                    line[types],
                    Some(text),
                    &style.amount,
                )?;
                sum(&mut ou_sums, &line);
                row += 1;
            }
            if grouped {
                outline(sheet, row, 1)?;
            }
            sheet.write_string_with_format(row, 0, *name, &style.subtotal_text)?;
            sheet.write_string_with_format(row, 1, ou_path, &style.subtotal_text)?;
            sheet.write_string_with_format(row, 3, OU_SUBTOTAL, &style.subtotal_text)?;
            subtotals(
                sheet,
                row,
                ou_first,
                &ou_sums,
                amounts,
                &style.subtotal_amount,
            )?;
            sum(&mut center_sums, &ou_sums);
            row += 1;
        }
        sheet.write_string_with_format(row, 0, *name, &style.subtotal_text)?;
        sheet.write_string_with_format(row, 3, CENTER_TOTAL, &style.subtotal_text)?;
        subtotals(
            sheet,
            row,
            center_first,
            &center_sums,
            amounts,
            &style.subtotal_amount,
        )?;
        centers.push(CenterTotal {
            row,
            total: center_sums[types],
        });
        sum(&mut grand, &center_sums);
        row += 1;
    }
    let last_detail = row - 1;
    sheet.write_string_with_format(row, 0, TOTAL, &style.total_text)?;
    for col in 1..FIXED {
        sheet.write_blank(row, col, &style.total_text)?;
    }
    subtotals(sheet, row, FIRST_ROW, &grand, amounts, &style.total_amount)?;

    sheet.set_freeze_panes(FIRST_ROW, 0)?;
    sheet.autofilter(HEADER_ROW, 0, last_detail, total_col)?;
    Ok((
        centers,
        CenterTotal {
            row,
            total: grand[types],
        },
    ))
}

/// `SUBTOTAL(9, ...)` of every amount column from `first` to the row above `row`
/// (nested subtotals are ignored by Excel), with the cached sums.
fn subtotals(
    sheet: &mut Worksheet,
    row: u32,
    first: u32,
    sums: &[f64],
    amounts: Amounts<'_>,
    format: &rust_xlsxwriter::Format,
) -> Result<(), ReportError> {
    let last = row.saturating_sub(1).max(first);
    for (col, value) in (FIXED..).zip(sums) {
        let text = format!(
            "=SUBTOTAL(9,{}:{})",
            row_col_to_cell(first, col),
            row_col_to_cell(last, col)
        );
        amounts.write(sheet, row, col, *value, Some(text), format)?;
    }
    Ok(())
}

/// `Cost centers`: each center's total read from its subtotal cell on `Summary`, its
/// share, the grand total, and a column chart of the totals.
fn centers_sheet(
    sheet: &mut Worksheet,
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    style: &Style,
    centers: &[CenterTotal],
    grand: CenterTotal,
) -> Result<(), ReportError> {
    let currency = input.costs.currency.as_str();
    let total_col = FIXED + u16::try_from(index.record_types.len()).map_err(|_| limit())?;
    let cost_header = if currency.is_empty() {
        "Total".to_owned()
    } else {
        format!("Total ({currency})")
    };
    for (col, text) in (0u16..).zip(["Cost center", cost_header.as_str(), "Share of total"]) {
        sheet.write_string_with_format(0, col, text, &style.header)?;
    }
    let grand_cell = "$B$".to_owned() + &(centers.len() + 2).to_string();
    for (row, (name, center)) in (1u32..).zip(index.centers.iter().zip(centers)) {
        sheet.write_string(row, 0, *name)?;
        let text = format!(
            "={SHEET}!{}",
            row_col_to_cell_absolute(center.row, total_col)
        );
        sheet.write_formula_with_format(row, 1, formula(text, center.total), &style.amount)?;
        let share = if grand.total == 0.0 {
            0.0
        } else {
            center.total / grand.total
        };
        let text = format!("=IF({grand_cell}=0,0,B{}/{grand_cell})", row + 1);
        sheet.write_formula_with_format(row, 2, formula(text, share), &style.share)?;
    }
    let total_row = excel_row(centers.len() + 1)?;
    sheet.write_string_with_format(total_row, 0, TOTAL, &style.total_text)?;
    let text = format!(
        "={SHEET}!{}",
        row_col_to_cell_absolute(grand.row, total_col)
    );
    sheet.write_formula_with_format(
        total_row,
        1,
        formula(text, grand.total),
        &style.total_amount,
    )?;
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 20)?;
    sheet.set_column_width(2, 14)?;
    sheet.set_freeze_panes(1, 0)?;

    if !centers.is_empty() {
        let last = excel_row(centers.len())?;
        let mut chart = Chart::new_column();
        chart
            .add_series()
            .set_name(cost_header.as_str())
            .set_categories((CENTERS_SHEET, 1, 0, last, 0))
            .set_values((CENTERS_SHEET, 1, 1, last, 1));
        chart
            .title()
            .set_name(&format!("Cost per cost center, {}", input.month));
        chart.legend().set_hidden();
        let wide = 480 + 24 * u32::try_from(centers.len()).unwrap_or(u32::MAX / 48);
        chart.set_width(wide.min(2400)).set_height(420);
        sheet.insert_chart(1, 4, &chart)?;
    }
    Ok(())
}

/// `Services`: charges per cost center × service, highest first, grouped per cost
/// center with a `SUBTOTAL` row, and a grand total.
fn services_sheet(
    sheet: &mut Worksheet,
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    style: &Style,
) -> Result<(), ReportError> {
    const HEADER: u32 = 3;
    let currency = input.costs.currency.as_str();
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 50)?;
    sheet.set_column_width(2, 18)?;
    sheet.write_string_with_format(
        0,
        0,
        format!("Charges per cost center and service, {}", input.month),
        &style.title,
    )?;
    sheet.write_string_with_format(
        1,
        0,
        "Charges only: credits and refunds are on the Summary sheet.",
        &style.note,
    )?;
    let cost = if currency.is_empty() {
        "Cost".to_owned()
    } else {
        format!("Cost ({currency})")
    };
    for (col, text) in (0u16..).zip(["Cost center", "Service", cost.as_str()]) {
        sheet.write_string_with_format(HEADER, col, text, &style.header)?;
    }
    let first = HEADER + 1;
    let mut row = first;
    let mut grand = 0.0;
    let keys = &index.services.keys;
    let mut per_key = vec![0.0; keys.len()];
    let mut present: Vec<usize> = Vec::new();
    for (center, name) in index.centers.iter().enumerate() {
        per_key.iter_mut().for_each(|v| *v = 0.0);
        for r in index.services.of(&index.center_accounts[center]) {
            per_key[r.key as usize] += r.amount;
        }
        present.clear();
        present.extend((0..keys.len()).filter(|k| per_key[*k] != 0.0));
        if present.is_empty() {
            continue;
        }
        present.sort_by(|a, b| {
            per_key[*b]
                .total_cmp(&per_key[*a])
                .then_with(|| keys[*a].cmp(keys[*b]))
        });
        let center_first = row;
        let mut total = 0.0;
        for key in &present {
            outline(sheet, row, 1)?;
            sheet.write_string(row, 0, *name)?;
            sheet.write_string(row, 1, keys[*key])?;
            sheet.write_number_with_format(row, 2, per_key[*key], &style.amount)?;
            total += per_key[*key];
            row += 1;
        }
        sheet.write_string_with_format(row, 0, *name, &style.subtotal_text)?;
        sheet.write_string_with_format(row, 1, CENTER_TOTAL, &style.subtotal_text)?;
        let text = format!("=SUBTOTAL(9,C{}:C{})", center_first + 1, row);
        sheet.write_formula_with_format(row, 2, formula(text, total), &style.subtotal_amount)?;
        grand += total;
        row += 1;
    }
    if row == first {
        sheet.write_string_with_format(row, 0, "No charge in this month", &style.note)?;
        row += 1;
    }
    let last_detail = row - 1;
    sheet.write_string_with_format(row, 0, TOTAL, &style.total_text)?;
    sheet.write_blank(row, 1, &style.total_text)?;
    let text = format!("=SUBTOTAL(9,C{}:C{})", first + 1, row);
    sheet.write_formula_with_format(row, 2, formula(text, grand), &style.total_amount)?;
    sheet.set_freeze_panes(first, 0)?;
    sheet.autofilter(HEADER, 0, last_detail, 2)?;
    Ok(())
}

/// The summary CSV: one line per account × record type with an amount.
pub(super) fn csv(input: &CostReportInput<'_>, index: &Index<'_>) -> Result<Vec<u8>, ReportError> {
    let month = input.month.to_string();
    let currency = input.costs.currency.as_str();
    let mut out = CsvOut::new(&[
        "cost_center",
        "ou_path",
        "account_id",
        "account_name",
        "record_type",
        "amount",
        "currency",
        "month",
    ])?;
    let mut amount = String::new();
    for (i, account) in (0u32..).zip(&index.accounts) {
        for (record_type, value) in index.record_types.iter().zip(index.record_row(i)) {
            if *value == 0.0 {
                continue;
            }
            amount.clear();
            let _ = write!(amount, "{value}");
            out.line(&[
                index.centers[account.center],
                account.ou_path,
                account.id.as_str(),
                account.name,
                record_type,
                &amount,
                currency,
                &month,
            ])?;
        }
    }
    out.finish()
}

fn limit() -> ReportError {
    ReportError::Xlsx(rust_xlsxwriter::XlsxError::RowColumnLimitError)
}
