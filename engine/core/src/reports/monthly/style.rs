//! The formats of the monthly workbooks (the house style of `account.rs`: bold filled
//! header, amounts with two decimals and the currency, totals bold and ruled), and
//! the small helpers every sheet uses.

use chrono::{DateTime, Utc};
use rust_xlsxwriter::{DocProperties, Format, FormatBorder, Formula, Workbook, Worksheet};

use super::super::ReportError;
use super::super::account::{amount_format, excel_time, header_format};

/// The formats of one currency.
pub(crate) struct Style {
    pub title: Format,
    pub label: Format,
    pub header: Format,
    pub amount: Format,
    pub subtotal_text: Format,
    pub subtotal_amount: Format,
    pub total_text: Format,
    pub total_amount: Format,
    pub note: Format,
    pub rate: Format,
    pub share: Format,
}

impl Style {
    pub fn new(currency: &str) -> Self {
        let money = amount_format(currency);
        let subtotal = Format::new().set_bold();
        let total = Format::new()
            .set_bold()
            .set_border_top(FormatBorder::Thin)
            .set_border_bottom(FormatBorder::Double);
        Self {
            title: Format::new().set_bold().set_font_size(14),
            label: Format::new().set_bold(),
            header: header_format(),
            amount: Format::new().set_num_format(&money),
            subtotal_text: subtotal.clone(),
            subtotal_amount: subtotal.set_num_format(&money),
            total_text: total.clone(),
            total_amount: total.set_num_format(&money),
            note: Format::new().set_italic(),
            rate: Format::new().set_num_format("0.000000"),
            share: Format::new().set_num_format("0.0%"),
        }
    }
}

/// The document properties: the creation time is the caller's, so that the same
/// input gives the same bytes.
pub(crate) fn properties(
    workbook: &mut Workbook,
    title: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<(), ReportError> {
    workbook.set_properties(
        &DocProperties::new()
            .set_title(title)
            .set_subject(subject)
            .set_author("spa")
            .set_creation_datetime(&excel_time(at)?),
    );
    Ok(())
}

/// `label: value` lines of a title block from row 1, under a title in row 0.
pub(crate) fn title_block(
    sheet: &mut Worksheet,
    style: &Style,
    title: &str,
    lines: &[(&str, &str)],
) -> Result<(), ReportError> {
    sheet.write_string_with_format(0, 0, title, &style.title)?;
    for (row, (label, value)) in (1u32..).zip(lines) {
        sheet.write_string_with_format(row, 0, *label, &style.label)?;
        sheet.write_string(row, 1, *value)?;
    }
    Ok(())
}

/// A formula with its cached result.
pub(crate) fn formula(text: String, value: f64) -> Formula {
    Formula::new(text).set_result(value.to_string())
}

/// A worksheet written in row order and spooled to an anonymous temporary file as each
/// row ends (rust_xlsxwriter's low-memory mode: strings stay shared): a large sheet
/// costs a few rows of memory, not all its cells, and is written faster than a
/// standard one. Every write must be at or below the last row written, and the sheet
/// can carry no outline (rust_xlsxwriter 0.102 writes no `outlineLevel` there).
pub(crate) fn streamed_sheet(workbook: &mut Workbook) -> Result<&mut Worksheet, ReportError> {
    Ok(workbook.add_worksheet_with_low_memory()?)
}

/// Puts `row` at outline `level` (0: not grouped). Standard worksheets only:
/// rust_xlsxwriter 0.102 writes no row outline level in its streaming modes.
pub(crate) fn outline(sheet: &mut Worksheet, row: u32, level: u8) -> Result<(), ReportError> {
    for _ in 0..level {
        sheet.group_rows(row, row)?;
    }
    Ok(())
}

/// `2026-10-15 08:30 UTC`.
pub(crate) fn generated(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
