//! The report of one cost center: workbook (`Services`, `Usage types`) and CSV (one
//! line per account × service). Charges only. See the parent module's doc.
//!
//! In the workbook, every detail row carries the account id (so that a filter on it
//! keeps the account's rows); the account's name and OU path are on its total row,
//! below its details. These are the largest sheets of the month: a row has three
//! cells and the amounts take their column's format (no format per cell).

use std::fmt::Write as _;

use rust_xlsxwriter::Worksheet;

use super::super::ReportError;
use super::style::{Style, formula, generated, properties, streamed_sheet, title_block};
use super::{CostReportInput, CsvOut, Index, Rows};

/// The sheet of charges per account × service.
pub const SERVICES_SHEET: &str = "Services";
/// The sheet of charges per account × usage type.
pub const USAGE_TYPES_SHEET: &str = "Usage types";
/// The label of an account's subtotal row (column D).
pub const ACCOUNT_TOTAL: &str = "Account total";
/// The label of the grand total row (column A).
pub const TOTAL: &str = "TOTAL";

/// Row of the tables' header (0-based), below the title block.
pub const HEADER_ROW: u32 = 8;
const FIRST_ROW: u32 = HEADER_ROW + 1;

/// The workbook of cost center `center` (an index of `index.centers`).
pub(super) fn workbook(
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    center: usize,
) -> Result<Vec<u8>, ReportError> {
    let name = index.centers[center];
    let month = input.month.to_string();
    let mut workbook = crate::reports::new_workbook();
    properties(
        &mut workbook,
        &format!("AWS costs of {name}, {month}"),
        &format!("Environment {}", input.environment),
        input.generated_at,
    )?;
    let style = Style::new(&input.costs.currency);
    // `Services`: a standard worksheet, each account's details grouped (outline
    // levels need one: rust_xlsxwriter 0.102 writes none in its streaming modes)
    let sheet = workbook.add_worksheet();
    sheet.set_name(SERVICES_SHEET)?;
    table(sheet, input, index, center, &style, Sheet::Services)?;
    // `Usage types`: twice as many rows, streamed, not grouped (the account total rows
    // and the autofilter on the account id stand in for the outline)
    let sheet = streamed_sheet(&mut workbook)?;
    sheet.set_name(USAGE_TYPES_SHEET)?;
    table(sheet, input, index, center, &style, Sheet::UsageTypes)?;
    Ok(workbook.save_to_buffer()?)
}

/// The two sheets of a cost center's workbook.
#[derive(Debug, Clone, Copy)]
enum Sheet {
    /// Per account × service, each account's details grouped.
    Services,
    /// Per account × usage type, streamed, flat.
    UsageTypes,
}

/// One sheet: title block, then per account its keys highest first (outline level
/// 1) and a `SUBTOTAL` row, then the grand total.
fn table(
    sheet: &mut Worksheet,
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    center: usize,
    style: &Style,
    kind: Sheet,
) -> Result<(), ReportError> {
    let (what, rows, grouped): (&str, &Rows<'_>, bool) = match kind {
        Sheet::Services => ("Service", &index.services, true),
        Sheet::UsageTypes => ("Usage type", &index.usage_types, false),
    };
    let name = index.centers[center];
    let currency = input.costs.currency.as_str();
    let month = input.month.to_string();
    let at = generated(input.generated_at);
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 32)?;
    sheet.set_column_width(2, 32)?;
    sheet.set_column_width(3, 50)?;
    sheet.set_column_width(4, 18)?;
    sheet.set_column_format(4, &style.amount)?;
    title_block(
        sheet,
        style,
        &format!("AWS costs of cost center {name}, {month}"),
        &[
            ("Cost center", name),
            ("Month", &month),
            ("Environment", input.environment),
            ("Currency", currency),
            ("Generated", &at),
        ],
    )?;
    sheet.write_string_with_format(
        6,
        0,
        "Charges only: credits and refunds are in the summary report.",
        &style.note,
    )?;
    let cost = if currency.is_empty() {
        "Cost".to_owned()
    } else {
        format!("Cost ({currency})")
    };
    for (col, text) in (0u16..).zip(["Account", "Account name", "OU path", what, &cost]) {
        sheet.write_string_with_format(HEADER_ROW, col, text, &style.header)?;
    }

    let lines = rows.of(&index.center_accounts[center]);
    let mut row = FIRST_ROW;
    let mut grand = 0.0;
    let mut start = 0;
    while start < lines.len() {
        let account = lines[start].account;
        let end = start
            + lines[start..]
                .iter()
                .position(|r| r.account != account)
                .unwrap_or(lines.len() - start);
        let a = &index.accounts[account as usize];
        let shown = index.display_name(account);
        let first = row;
        let mut total = 0.0;
        let details = super::excel_row(end - start)?;
        if grouped && details > 0 {
            // the account's details at outline level 1, in one call
            sheet.group_rows(first, first + details - 1)?;
        }
        for line in &lines[start..end] {
            // the account id on every row (filters); its name and OU path on its total
            sheet.write_string(row, 0, a.id.as_str())?;
            sheet.write_string(row, 3, rows.keys[line.key as usize])?;
            // the column's format: no format looked up per cell
            sheet.write_number(row, 4, line.amount)?;
            total += line.amount;
            row += 1;
        }
        sheet.write_string_with_format(row, 0, a.id.as_str(), &style.subtotal_text)?;
        sheet.write_string_with_format(row, 1, shown, &style.subtotal_text)?;
        sheet.write_string_with_format(row, 2, a.ou_path, &style.subtotal_text)?;
        sheet.write_string_with_format(row, 3, ACCOUNT_TOTAL, &style.subtotal_text)?;
        let text = format!("=SUBTOTAL(9,E{}:E{})", first + 1, row);
        sheet.write_formula_with_format(row, 4, formula(text, total), &style.subtotal_amount)?;
        grand += total;
        row += 1;
        start = end;
    }
    if lines.is_empty() {
        sheet.write_string_with_format(row, 0, "No charge in this month", &style.note)?;
        row += 1;
    }
    let last_detail = row - 1;
    sheet.write_string_with_format(row, 0, TOTAL, &style.total_text)?;
    for col in 1..4 {
        sheet.write_blank(row, col, &style.total_text)?;
    }
    let text = format!("=SUBTOTAL(9,E{}:E{})", FIRST_ROW + 1, row);
    sheet.write_formula_with_format(row, 4, formula(text, grand), &style.total_amount)?;
    sheet.set_freeze_panes(FIRST_ROW, 0)?;
    sheet.autofilter(HEADER_ROW, 0, last_detail, 4)?;
    Ok(())
}

/// The CSV of cost center `center`: one line per account × service with a charge.
pub(super) fn csv(
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    center: usize,
) -> Result<Vec<u8>, ReportError> {
    let name = index.centers[center];
    let month = input.month.to_string();
    let currency = input.costs.currency.as_str();
    let mut out = CsvOut::new(&[
        "cost_center",
        "account_id",
        "account_name",
        "ou_path",
        "service",
        "amount",
        "currency",
        "month",
    ])?;
    let mut amount = String::new();
    for line in index.services.of(&index.center_accounts[center]) {
        let account = &index.accounts[line.account as usize];
        amount.clear();
        let _ = write!(amount, "{}", line.amount);
        out.line(&[
            name,
            account.id.as_str(),
            account.name,
            account.ou_path,
            index.services.keys[line.key as usize],
            &amount,
            currency,
            &month,
        ])?;
    }
    out.finish()
}
