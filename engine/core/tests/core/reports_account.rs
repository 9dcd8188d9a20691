//! The account cost report, read back as its readers would: the workbook with
//! calamine (values, formulas, formats, filter), the CSV with the csv crate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, Utc};
use spa_core::events::AccountId;
use spa_core::reports::ServiceCost;
use spa_core::reports::account::{NO_COST, SHEET, TOTAL};
use spa_core::reports::{AccountHeading, ReportError, account_costs_csv, account_costs_workbook};

fn heading() -> AccountHeading {
    AccountHeading {
        account: AccountId::parse("222222222222").unwrap(),
        account_name: "sandbox-alice".into(),
        holder: Some("alice.martin@example.com".into()),
        cost_center: Some("CC-1234".into()),
        ou_path: "Root / Sandboxes / Team A".into(),
        period_start: "2026-10-01".parse().unwrap(),
        period_end: "2026-10-15".parse().unwrap(),
        currency: "USD".into(),
        generated_at: "2026-10-15T08:30:00Z".parse::<DateTime<Utc>>().unwrap(),
    }
}

fn cost(service: &str, amount: f64) -> ServiceCost {
    ServiceCost {
        service: service.into(),
        amount,
        currency: "USD".into(),
    }
}

fn costs() -> Vec<ServiceCost> {
    vec![
        cost("AWS Lambda", 20.0),
        cost("Amazon Elastic Compute Cloud - Compute", 12.34),
        cost("Amazon Simple Storage Service", 0.75),
        cost("Tax", -1.5),
    ]
}

fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes)).expect("a valid workbook")
}

fn text(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        other => panic!("no text at ({row}, {col}): {other:?}"),
    }
}

fn number(range: &calamine::Range<Data>, row: u32, col: u32) -> f64 {
    match range.get_value((row, col)) {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("no number at ({row}, {col}): {other:?}"),
    }
}

/// The row (0-based) whose first cell is `label`.
fn row_of(range: &calamine::Range<Data>, label: &str) -> u32 {
    range
        .rows()
        .position(|r| r.first() == Some(&Data::String(label.into())))
        .map(|i| i as u32 + range.start().unwrap().0)
        .unwrap_or_else(|| panic!("no row `{label}`"))
}

#[test]
fn the_workbook_has_the_heading_the_services_and_formulas() {
    let mut book = open(account_costs_workbook(&heading(), &costs()).expect("written"));
    assert_eq!(book.sheet_names(), [SHEET]);
    let values = book.worksheet_range(SHEET).expect("values");
    let formulas = book.worksheet_formula(SHEET).expect("formulas");

    // title block
    assert_eq!(
        text(&values, 0, 0),
        "AWS cost of sandbox-alice (222222222222)"
    );
    let field = |label: &str| text(&values, row_of(&values, label), 1);
    assert_eq!(field("Account"), "222222222222");
    assert_eq!(field("Account name"), "sandbox-alice");
    assert_eq!(
        field("Holder"),
        "a***@example.com",
        "never the address in clear"
    );
    assert_eq!(field("Cost center"), "CC-1234");
    assert_eq!(field("OU path"), "Root / Sandboxes / Team A");
    assert_eq!(field("Period"), "2026-10-01 to 2026-10-14");
    assert_eq!(field("Currency"), "USD");
    assert_eq!(field("Generated"), "2026-10-15 08:30 UTC");

    // the table
    let header = row_of(&values, "Service");
    assert_eq!(text(&values, header, 1), "Cost (USD)");
    assert_eq!(text(&values, header, 2), "Share of total");
    let services: Vec<(String, f64)> = (header + 1..header + 5)
        .map(|r| (text(&values, r, 0), number(&values, r, 1)))
        .collect();
    assert_eq!(
        services,
        [
            ("AWS Lambda".to_owned(), 20.0),
            ("Amazon Elastic Compute Cloud - Compute".to_owned(), 12.34),
            ("Amazon Simple Storage Service".to_owned(), 0.75),
            ("Tax".to_owned(), -1.5),
        ]
    );

    // the total is a formula over the services, its cached value their sum
    let total = row_of(&values, TOTAL);
    assert_eq!(total, header + 5);
    let first = header + 2; // 1-based row of the first service
    let last = header + 5;
    let total_cell = format!("$B${}", total + 1);
    assert_eq!(
        formulas.get_value((total, 1)).map(String::as_str),
        Some(format!("SUM(B{first}:B{last})").as_str())
    );
    assert!((number(&values, total, 1) - 31.59).abs() < 1e-9);
    // every share divides by the total cell
    assert_eq!(
        formulas.get_value((header + 1, 2)).map(String::as_str),
        Some(format!("IF({total_cell}=0,0,B{first}/{total_cell})").as_str())
    );
    assert!((number(&values, header + 1, 2) - 20.0 / 31.59).abs() < 1e-9);
    assert!((number(&values, total, 2) - 1.0).abs() < 1e-9);
    // the amounts are numbers, not formulas
    assert_eq!(
        formulas
            .get_value((header + 1, 1))
            .map(String::as_str)
            .unwrap_or(""),
        ""
    );
}

#[test]
fn the_table_is_formatted_and_filtered() {
    let mut book = open(account_costs_workbook(&heading(), &costs()).expect("written"));
    let values = book.worksheet_range(SHEET).expect("values");
    let styles = book.worksheet_style(SHEET).expect("styles");
    let header = row_of(&values, "Service");
    let total = row_of(&values, TOTAL);

    for col in 0..3 {
        let style = styles.get((header, col)).expect("header style");
        assert!(style.font.as_ref().is_some_and(|f| f.is_bold()), "bold");
        assert!(
            style.fill.as_ref().is_some_and(|f| f.is_visible()),
            "filled"
        );
        assert!(
            style
                .borders
                .as_ref()
                .is_some_and(|b| b.has_visible_borders()),
            "bordered"
        );
    }
    let format = |row: u32, col: u32| {
        styles
            .get((row, col))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone())
            .unwrap_or_default()
    };
    assert_eq!(format(header + 1, 1), "#,##0.00 \"USD\"");
    assert_eq!(format(total, 1), "#,##0.00 \"USD\"");
    assert_eq!(format(header + 1, 2), "0.0%");
    assert!(
        styles
            .get((total, 0))
            .and_then(|s| s.font.as_ref())
            .is_some_and(|f| f.is_bold())
    );

    // the autofilter covers the header and the services, not the total
    let filter = book
        .defined_names()
        .iter()
        .find(|(name, _)| name == "_xlnm._FilterDatabase")
        .map(|(_, range)| range.clone());
    assert_eq!(
        filter.as_deref(),
        Some(format!("{SHEET}!$A${}:$C${}", header + 1, total).as_str())
    );
}

#[test]
fn an_account_without_cost_still_gets_a_workbook_that_says_so() {
    let mut heading = heading();
    heading.holder = None;
    heading.cost_center = None;
    let mut book = open(account_costs_workbook(&heading, &[]).expect("written"));
    let values = book.worksheet_range(SHEET).expect("values");
    let formulas = book.worksheet_formula(SHEET).expect("formulas");
    let header = row_of(&values, "Service");
    assert_eq!(text(&values, header + 1, 0), NO_COST);
    assert!(NO_COST.to_lowercase().contains("no cost"));
    let total = row_of(&values, TOTAL);
    assert_eq!(number(&values, total, 1), 0.0);
    assert!(
        formulas
            .get_value((total, 1))
            .is_some_and(|f| f.starts_with("SUM(")),
        "still a formula"
    );
    assert_eq!(number(&values, total, 2), 0.0, "no division by zero");
    assert_eq!(text(&values, row_of(&values, "Holder"), 1), "none");
    assert_eq!(text(&values, row_of(&values, "Cost center"), 1), "none");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let once = account_costs_workbook(&heading(), &costs()).expect("written");
    let twice = account_costs_workbook(&heading(), &costs()).expect("written");
    assert_eq!(once, twice, "no clock in the workbook");
    let mut book = open(once);
    let properties = book.workbook_properties().expect("properties");
    assert_eq!(
        properties.created.as_deref(),
        Some("2026-10-15T08:30:00Z"),
        "{properties:?}"
    );
}

#[test]
fn a_cost_in_another_currency_is_refused() {
    let mut rows = costs();
    rows[2].currency = "EUR".into();
    let error = account_costs_workbook(&heading(), &rows).expect_err("mixed currencies");
    assert!(
        matches!(&error, ReportError::Currency { service, found, expected }
            if service == "Amazon Simple Storage Service" && found == "EUR" && expected == "USD"),
        "{error:?}"
    );
}

#[test]
fn the_csv_has_the_same_rows() {
    let bytes = account_costs_csv(&heading(), &costs());
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        headers,
        [
            "account_id",
            "account_name",
            "cost_center",
            "first_day",
            "last_day",
            "service",
            "amount",
            "currency",
            "share"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "one line per service, no total line");
    assert_eq!(
        rows[1].iter().collect::<Vec<_>>(),
        [
            "222222222222",
            "sandbox-alice",
            "CC-1234",
            "2026-10-01",
            "2026-10-14",
            "Amazon Elastic Compute Cloud - Compute",
            "12.34",
            "USD",
            "0.3906"
        ]
    );
    let amounts: f64 = rows.iter().map(|r| r[6].parse::<f64>().unwrap()).sum();
    assert!((amounts - 31.59).abs() < 1e-9);
    assert_eq!(&rows[3][6], "-1.5");

    let empty = account_costs_csv(&heading(), &[]);
    let mut reader = csv::Reader::from_reader(empty.as_slice());
    assert_eq!(reader.headers().unwrap().len(), 9);
    assert_eq!(reader.records().count(), 0);
}

#[test]
fn names_with_commas_and_quotes_survive_the_csv() {
    let mut heading = heading();
    heading.account_name = "alice, \"the\" sandbox".into();
    let bytes = account_costs_csv(&heading, &[cost("Amazon S3, \"Glacier\"", 1.0)]);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[1], "alice, \"the\" sandbox");
    assert_eq!(&row[5], "Amazon S3, \"Glacier\"");
    assert_eq!(&row[8], "1.0000");
}
