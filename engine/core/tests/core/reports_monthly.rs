//! The monthly cost reports, read back as FinOps would: every workbook with calamine
//! (sheets, values, formulas and their cached results), the outline levels and the
//! chart from the XLSX's XML, the CSVs with the csv crate; and the FinOps e-mail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, Utc};
use spa_core::events::AccountId;
use spa_core::reports::monthly::{center, summary};
use spa_core::reports::{
    AccountCost, CostBreakdowns, CostReportInput, Forecast, Month, ReportAccount, ReportError,
    ReportFile, cost_reports, finops_email,
};

const PREFIX: &str = "reports/costs";

fn id(n: u8) -> AccountId {
    AccountId::parse(&n.to_string().repeat(12)).unwrap()
}

fn cost(n: u8, key: &str, amount: f64) -> AccountCost {
    AccountCost {
        account: id(n),
        key: key.into(),
        amount,
    }
}

fn account(n: u8, name: &str, center: Option<&str>, ou: &str) -> ReportAccount {
    let mut a = ReportAccount::new(id(n), name);
    a.cost_center = center.map(str::to_owned);
    a.ou_path = ou.into();
    a
}

/// Three cost centers (one the bucket of a missing tag), an account that left, an
/// account unknown to the organization (6), credits and refunds, an unknown record
/// type.
fn accounts() -> Vec<ReportAccount> {
    let mut left = account(4, "old-sandbox", Some("R&D / Paris"), "Root/Research");
    left.left = true;
    vec![
        account(
            1,
            "alice-sandbox",
            Some("CC-Alpha"),
            "Root/Sandboxes/Team A",
        ),
        account(2, "bob-sandbox", Some("CC-Alpha"), "Root/Sandboxes/Team B"),
        account(3, "carol <dev> & co", Some("R&D / Paris"), "Root/Research"),
        left,
        account(5, "untagged", None, "Root/Sandboxes"),
    ]
}

const EC2: &str = "Amazon Elastic Compute Cloud - Compute";
const S3: &str = "Amazon Simple Storage Service";
const LAMBDA: &str = "AWS Lambda";

fn costs() -> CostBreakdowns {
    CostBreakdowns {
        currency: "USD".into(),
        by_service: vec![
            cost(1, EC2, 100.0),
            cost(1, S3, 20.5),
            cost(2, EC2, 50.0),
            cost(2, LAMBDA, 5.25),
            cost(3, EC2, 300.0),
            cost(4, S3, 10.0),
            cost(5, LAMBDA, 7.0),
            cost(6, EC2, 1.0),
        ],
        by_usage_type: vec![
            cost(1, "BoxUsage:t3.micro", 90.0),
            cost(1, "EBS:VolumeUsage.gp3", 10.0),
            cost(1, "TimedStorage-ByteHrs", 20.5),
            cost(2, "BoxUsage:t3.micro", 50.0),
            cost(2, "Lambda-GB-Second", 5.25),
            cost(3, "BoxUsage:m5.large", 300.0),
            cost(4, "TimedStorage-ByteHrs", 10.0),
            cost(5, "Lambda-GB-Second", 7.0),
            cost(6, "BoxUsage:t3.nano", 1.0),
        ],
        by_record_type: vec![
            cost(1, "Usage", 120.5),
            cost(1, "Tax", 12.05),
            cost(1, "Credit", -30.0),
            cost(2, "Usage", 55.25),
            cost(2, "Refund", -5.25),
            cost(3, "Usage", 300.0),
            cost(3, "Tax", 30.0),
            cost(3, "SavingsPlanNegation", -15.0),
            cost(4, "Usage", 10.0),
            cost(5, "Usage", 7.0),
            cost(6, "Usage", 1.0),
        ],
    }
}

fn previous() -> CostBreakdowns {
    CostBreakdowns {
        currency: "USD".into(),
        by_record_type: vec![
            cost(1, "Usage", 100.0),
            cost(2, "Usage", 80.0),
            cost(3, "Usage", 100.0),
            cost(4, "Usage", 50.0),
            cost(7, "Usage", 3.0),
        ],
        ..CostBreakdowns::default()
    }
}

struct Fixture {
    costs: CostBreakdowns,
    previous: CostBreakdowns,
    accounts: Vec<ReportAccount>,
    currencies: BTreeMap<String, f64>,
    forecast: Forecast,
}

impl Fixture {
    fn new() -> Self {
        Self {
            costs: costs(),
            previous: previous(),
            accounts: accounts(),
            currencies: BTreeMap::from([("EUR".to_owned(), 0.9), ("GBP".to_owned(), 0.8)]),
            forecast: Forecast {
                month: "2026-11".parse().unwrap(),
                amount: 600.0,
                currency: "USD".into(),
            },
        }
    }

    fn input(&self) -> CostReportInput<'_> {
        CostReportInput {
            month: month(),
            environment: "prod",
            generated_at: "2026-11-06T07:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            costs: &self.costs,
            previous: Some(&self.previous),
            accounts: &self.accounts,
            extra_currencies: &self.currencies,
            forecast: Some(&self.forecast),
        }
    }
}

fn month() -> Month {
    "2026-10".parse().unwrap()
}

fn files(input: &CostReportInput<'_>) -> Vec<ReportFile> {
    let mut files = Vec::new();
    cost_reports(input, &mut |file| {
        files.push(file);
        Ok(())
    })
    .expect("reports built");
    files
}

fn file<'a>(files: &'a [ReportFile], scope: &str, extension: &str) -> &'a ReportFile {
    files
        .iter()
        .find(|f| f.scope == scope && f.extension == extension)
        .unwrap_or_else(|| panic!("no {scope} {extension}"))
}

type Book = Xlsx<Cursor<Vec<u8>>>;

fn open(bytes: &[u8]) -> Book {
    open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a valid workbook")
}

fn text(range: &Range<Data>, row: u32, col: u32) -> String {
    match range.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        other => panic!("no text at ({row}, {col}): {other:?}"),
    }
}

fn number(range: &Range<Data>, row: u32, col: u32) -> f64 {
    match range.get_value((row, col)) {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("no number at ({row}, {col}): {other:?}"),
    }
}

fn formula(range: &Range<String>, row: u32, col: u32) -> String {
    range.get_value((row, col)).cloned().unwrap_or_default()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The XML of a part of the XLSX.
fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).expect("a zip");
    let mut xml = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("no {name}"))
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Outline level of each 1-based row of a sheet's XML (rows without one are absent).
fn outline_levels(xml: &str) -> HashMap<u32, u32> {
    let mut levels = HashMap::new();
    for chunk in xml.split("<row ").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap()];
        let attr = |name: &str| {
            tag.split(&format!("{name}=\""))
                .nth(1)
                .map(|rest| rest[..rest.find('"').unwrap()].parse::<u32>().unwrap())
        };
        if let Some(level) = attr("outlineLevel") {
            levels.insert(attr("r").unwrap(), level);
        }
    }
    levels
}

#[test]
fn every_file_of_the_month_is_handed_over_under_its_key() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let keys: Vec<String> = files
        .iter()
        .map(|f| f.key(PREFIX, &month().to_string(), month().year()))
        .collect();
    assert_eq!(
        keys,
        [
            "reports/costs/summary/2026/2026-10-summary-costs.xlsx",
            "reports/costs/summary/2026/2026-10-summary-costs.csv",
            "reports/costs/CC-Alpha/2026/2026-10-CC-Alpha-costs.xlsx",
            "reports/costs/CC-Alpha/2026/2026-10-CC-Alpha-costs.csv",
            "reports/costs/NoCostCenter/2026/2026-10-NoCostCenter-costs.xlsx",
            "reports/costs/NoCostCenter/2026/2026-10-NoCostCenter-costs.csv",
            "reports/costs/R-D---Paris/2026/2026-10-R-D---Paris-costs.xlsx",
            "reports/costs/R-D---Paris/2026/2026-10-R-D---Paris-costs.csv",
        ]
    );
    for file in &files {
        assert_eq!(file.label, "costs");
        match file.extension {
            "xlsx" => assert!(file.content_type.contains("spreadsheetml")),
            "csv" => assert!(file.content_type.starts_with("text/csv")),
            other => panic!("unexpected extension {other}"),
        }
    }
}

/// One row of the summary table, as read back.
#[derive(Debug)]
struct SummaryRow {
    row: u32,
    center: String,
    ou: String,
    account: String,
    name: String,
    amounts: Vec<f64>,
}

#[test]
fn the_summary_groups_accounts_under_subtotal_formulas() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let bytes = &file(&files, "summary", "xlsx").bytes;
    let mut book = open(bytes);
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Summary EUR",
            "Summary GBP",
            "Cost centers",
            "Services"
        ]
    );
    let values = book.worksheet_range(summary::SHEET).unwrap();
    let formulas = book.worksheet_formula(summary::SHEET).unwrap();

    // title block with the forecast of the current month
    assert_eq!(
        text(&values, 0, 0),
        "AWS costs of 2026-10, environment prod"
    );
    assert_eq!(text(&values, 5, 0), "Forecast of 2026-11");
    assert!(close(number(&values, 5, 1), 600.0));

    // header: record types with Usage first, then the other charges, credits, refunds
    let header = summary::HEADER_ROW;
    let columns: Vec<String> = (0..10).map(|c| text(&values, header, c)).collect();
    assert_eq!(
        columns,
        [
            "Cost center",
            "OU path",
            "Account",
            "Account name",
            "Usage",
            "SavingsPlanNegation",
            "Tax",
            "Credit",
            "Refund",
            "Total (USD)"
        ]
    );
    let total_col = 9;

    let rows: Vec<SummaryRow> = (header + 1..=values.end().unwrap().0)
        .map(|row| SummaryRow {
            row,
            center: text(&values, row, 0),
            ou: text(&values, row, 1),
            account: text(&values, row, 2),
            name: text(&values, row, 3),
            amounts: (4..=total_col).map(|c| number(&values, row, c)).collect(),
        })
        .collect();
    let shape: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.center.as_str(),
                r.ou.as_str(),
                if r.account.is_empty() {
                    r.name.as_str()
                } else {
                    r.account.as_str()
                },
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("CC-Alpha", "Root/Sandboxes/Team A", "111111111111"),
            ("CC-Alpha", "Root/Sandboxes/Team A", summary::OU_SUBTOTAL),
            ("CC-Alpha", "Root/Sandboxes/Team B", "222222222222"),
            ("CC-Alpha", "Root/Sandboxes/Team B", summary::OU_SUBTOTAL),
            ("CC-Alpha", "", summary::CENTER_TOTAL),
            ("NoCostCenter", "", "666666666666"),
            ("NoCostCenter", "", summary::OU_SUBTOTAL),
            ("NoCostCenter", "Root/Sandboxes", "555555555555"),
            ("NoCostCenter", "Root/Sandboxes", summary::OU_SUBTOTAL),
            ("NoCostCenter", "", summary::CENTER_TOTAL),
            ("R&D / Paris", "Root/Research", "333333333333"),
            ("R&D / Paris", "Root/Research", "444444444444"),
            ("R&D / Paris", "Root/Research", summary::OU_SUBTOTAL),
            ("R&D / Paris", "", summary::CENTER_TOTAL),
            (summary::TOTAL, "", ""),
        ]
    );
    let by_account = |id: &str| rows.iter().find(|r| r.account == id).unwrap();
    // an account unknown to the organization: its id as name, in the bucket
    assert_eq!(by_account("666666666666").name, "666666666666");
    // the account that left keeps its last known name, marked
    assert_eq!(by_account("444444444444").name, "old-sandbox (left)");
    assert_eq!(by_account("333333333333").name, "carol <dev> & co");
    // credits and refunds in their own columns, negative; the unknown type too
    let alice = &by_account("111111111111").amounts;
    for (got, want) in alice.iter().zip([120.5, 0.0, 12.05, -30.0, 0.0, 102.55]) {
        assert!(close(*got, want), "{alice:?}");
    }
    assert_eq!(by_account("222222222222").amounts[4], -5.25);
    assert_eq!(by_account("333333333333").amounts[1], -15.0);

    // every total is a formula; its cached value is the sum of the rows it covers
    let mut ou = vec![0.0; 6];
    let mut center = vec![0.0; 6];
    let mut grand = vec![0.0; 6];
    let (mut ou_first, mut center_first) = (header + 1, header + 1);
    for r in &rows {
        let row = r.row;
        let is_account = !r.account.is_empty();
        if is_account {
            assert_eq!(
                formula(&formulas, row, total_col),
                format!("SUM(E{n}:I{n})", n = row + 1)
            );
            assert!(close(r.amounts[5], r.amounts[..5].iter().sum()));
            for col in 4..total_col {
                assert_eq!(formula(&formulas, row, col), "", "amounts are numbers");
            }
            for (sum, value) in ou.iter_mut().zip(&r.amounts) {
                *sum += value;
            }
            continue;
        }
        let (expected, first) = match r.name.as_str() {
            summary::OU_SUBTOTAL => (&mut ou, ou_first),
            summary::CENTER_TOTAL => (&mut center, center_first),
            _ => (&mut grand, header + 1),
        };
        for col in 4..=total_col {
            let letter = char::from(b'A' + col as u8);
            assert_eq!(
                formula(&formulas, row, col),
                format!("SUBTOTAL(9,{letter}{}:{letter}{})", first + 1, row),
                "row {row} col {col}"
            );
            let i = (col - 4) as usize;
            assert!(
                close(r.amounts[i], expected[i]),
                "row {row} col {col}: {} != {}",
                r.amounts[i],
                expected[i]
            );
        }
        match r.name.as_str() {
            summary::OU_SUBTOTAL => {
                for (sum, value) in center.iter_mut().zip(&ou) {
                    *sum += value;
                }
                ou = vec![0.0; 6];
                ou_first = row + 1;
            }
            summary::CENTER_TOTAL => {
                for (sum, value) in grand.iter_mut().zip(&center) {
                    *sum += value;
                }
                center = vec![0.0; 6];
                center_first = row + 1;
                ou_first = row + 1;
            }
            _ => {}
        }
    }
    let total = rows.last().unwrap();
    assert!(close(total.amounts[5], 102.55 + 50.0 + 8.0 + 325.0));

    // outline: accounts at level 2, OU subtotals at level 1, cost centers ungrouped
    let levels = outline_levels(&part(bytes, "xl/worksheets/sheet1.xml"));
    for r in &rows {
        let expected = match (r.account.is_empty(), r.name.as_str()) {
            (false, _) => Some(2),
            (true, summary::OU_SUBTOTAL) => Some(1),
            _ => None,
        };
        assert_eq!(levels.get(&(r.row + 1)).copied(), expected, "row {}", r.row);
    }
}

#[test]
fn each_extra_currency_sheet_converts_the_summary_with_one_rate_cell() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let mut book = open(&file(&files, "summary", "xlsx").bytes);
    let usd = book.worksheet_range("Summary").unwrap();
    for (sheet, rate) in [("Summary EUR", 0.9), ("Summary GBP", 0.8)] {
        let values = book.worksheet_range(sheet).unwrap();
        let formulas = book.worksheet_formula(sheet).unwrap();
        assert_eq!(text(&values, 6, 0), "Rate from USD");
        assert!(close(number(&values, 6, 1), rate));
        let code = &sheet[8..];
        assert_eq!(
            text(&values, summary::HEADER_ROW, 9),
            format!("Total ({code})")
        );
        let mut converted = 0;
        for row in summary::HEADER_ROW + 1..=usd.end().unwrap().0 {
            for col in 4..=9 {
                if let Some(Data::Float(amount)) = usd.get_value((row, col)) {
                    assert_eq!(
                        formula(&formulas, row, col),
                        format!("Summary!{}{}*$B$7", char::from(b'A' + col as u8), row + 1)
                    );
                    assert!(close(number(&values, row, col), amount * rate));
                    converted += 1;
                }
            }
        }
        assert_eq!(converted, 15 * 6, "every amount of the table");
        // the forecast too
        assert_eq!(formula(&formulas, 5, 1), "Summary!B6*$B$7");
        assert!(close(number(&values, 5, 1), 600.0 * rate));
    }
}

#[test]
fn the_chart_reads_each_cost_center_total_from_its_subtotal() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let bytes = &file(&files, "summary", "xlsx").bytes;
    let mut book = open(bytes);
    let values = book.worksheet_range(summary::CENTERS_SHEET).unwrap();
    let formulas = book.worksheet_formula(summary::CENTERS_SHEET).unwrap();
    let usd = book.worksheet_range(summary::SHEET).unwrap();
    let centers: Vec<String> = (1..4).map(|r| text(&values, r, 0)).collect();
    assert_eq!(centers, ["CC-Alpha", "NoCostCenter", "R&D / Paris"]);
    for (row, expected) in (1..4).zip([152.55, 8.0, 325.0]) {
        let reference = formula(&formulas, row, 1);
        // the reference is to the cost center's subtotal row on Summary
        let target: u32 = reference.trim_start_matches("Summary!$J$").parse().unwrap();
        assert_eq!(text(&usd, target - 1, 3), summary::CENTER_TOTAL);
        assert_eq!(text(&usd, target - 1, 0), centers[row as usize - 1]);
        assert!(close(number(&values, row, 1), expected), "{reference}");
    }
    assert_eq!(text(&values, 4, 0), summary::TOTAL);
    assert!(close(number(&values, 4, 1), 485.55));

    let chart = part(bytes, "xl/charts/chart1.xml");
    assert!(chart.contains("<c:barChart>"), "a column chart");
    assert!(chart.contains("'Cost centers'!$B$2:$B$4"), "{chart}");
    assert!(chart.contains("'Cost centers'!$A$2:$A$4"));
}

#[test]
fn the_services_sheet_holds_charges_only() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let mut book = open(&file(&files, "summary", "xlsx").bytes);
    let values = book.worksheet_range(summary::SERVICES_SHEET).unwrap();
    let formulas = book.worksheet_formula(summary::SERVICES_SHEET).unwrap();
    let lines: Vec<(String, String, f64)> = (4..=values.end().unwrap().0)
        .map(|r| {
            (
                text(&values, r, 0),
                text(&values, r, 1),
                number(&values, r, 2),
            )
        })
        .collect();
    let expected = [
        ("CC-Alpha", EC2, 150.0),
        ("CC-Alpha", S3, 20.5),
        ("CC-Alpha", LAMBDA, 5.25),
        ("CC-Alpha", summary::CENTER_TOTAL, 175.75),
        ("NoCostCenter", LAMBDA, 7.0),
        ("NoCostCenter", EC2, 1.0),
        ("NoCostCenter", summary::CENTER_TOTAL, 8.0),
        ("R&D / Paris", EC2, 300.0),
        ("R&D / Paris", S3, 10.0),
        ("R&D / Paris", summary::CENTER_TOTAL, 310.0),
        (summary::TOTAL, "", 493.75),
    ];
    assert_eq!(lines.len(), expected.len());
    for (got, want) in lines.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), (want.0, want.1));
        assert!(close(got.2, want.2), "{got:?}");
    }
    assert_eq!(formula(&formulas, 7, 2), "SUBTOTAL(9,C5:C7)");
    assert_eq!(formula(&formulas, 14, 2), "SUBTOTAL(9,C5:C14)");
}

#[test]
fn the_summary_csv_has_one_line_per_account_and_record_type() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let mut reader = csv::Reader::from_reader(&file(&files, "summary", "csv").bytes[..]);
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "cost_center",
            "ou_path",
            "account_id",
            "account_name",
            "record_type",
            "amount",
            "currency",
            "month"
        ]
    );
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(lines.len(), 11, "one per non-zero record type, no total");
    let line = |account: &str, record: &str| {
        lines
            .iter()
            .find(|l| &l[2] == account && &l[4] == record)
            .unwrap_or_else(|| panic!("{account} {record}"))
            .iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("111111111111", "Credit"),
        [
            "CC-Alpha",
            "Root/Sandboxes/Team A",
            "111111111111",
            "alice-sandbox",
            "Credit",
            "-30",
            "USD",
            "2026-10"
        ]
    );
    assert_eq!(line("444444444444", "Usage")[3], "old-sandbox");
    assert_eq!(line("666666666666", "Usage")[0], "NoCostCenter");
    assert_eq!(line("555555555555", "Usage")[0], "NoCostCenter");
    assert_eq!(line("333333333333", "SavingsPlanNegation")[5], "-15");
    let sum: f64 = lines.iter().map(|l| l[5].parse::<f64>().unwrap()).sum();
    assert!(close(sum, 485.55));
}

#[test]
fn each_cost_center_has_its_services_and_usage_types() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let bytes = &file(&files, "CC-Alpha", "xlsx").bytes;
    let mut book = open(bytes);
    assert_eq!(
        book.sheet_names(),
        [center::SERVICES_SHEET, center::USAGE_TYPES_SHEET]
    );
    let values = book.worksheet_range(center::SERVICES_SHEET).unwrap();
    let formulas = book.worksheet_formula(center::SERVICES_SHEET).unwrap();
    let header = center::HEADER_ROW;
    assert_eq!(text(&values, header, 3), "Service");
    assert_eq!(text(&values, header, 4), "Cost (USD)");
    let lines: Vec<(String, String, f64)> = (header + 1..=values.end().unwrap().0)
        .map(|r| {
            (
                text(&values, r, 0),
                text(&values, r, 3),
                number(&values, r, 4),
            )
        })
        .collect();
    let expected = [
        ("111111111111", EC2, 100.0),
        ("111111111111", S3, 20.5),
        ("111111111111", center::ACCOUNT_TOTAL, 120.5),
        ("222222222222", EC2, 50.0),
        ("222222222222", LAMBDA, 5.25),
        ("222222222222", center::ACCOUNT_TOTAL, 55.25),
        (center::TOTAL, "", 175.75),
    ];
    assert_eq!(lines.len(), expected.len());
    for (got, want) in lines.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), (want.0, want.1));
        assert!(close(got.2, want.2), "{got:?}");
    }
    // 1-based first detail row; 0-based rows of the first account total and the total
    let (first, account_total, total) = (header + 2, header + 3, header + 7);
    assert_eq!(
        formula(&formulas, account_total, 4),
        format!("SUBTOTAL(9,E{first}:E{})", first + 1)
    );
    assert_eq!(
        formula(&formulas, total, 4),
        format!("SUBTOTAL(9,E{first}:E{total})")
    );
    let levels = outline_levels(&part(bytes, "xl/worksheets/sheet1.xml"));
    let grouped: Vec<u32> = {
        let mut rows: Vec<u32> = levels.keys().copied().collect();
        rows.sort_unstable();
        rows
    };
    assert_eq!(
        grouped,
        [first, first + 1, first + 3, first + 4],
        "detail rows at level 1"
    );
    assert!(levels.values().all(|l| *l == 1));

    let usage = book.worksheet_range(center::USAGE_TYPES_SHEET).unwrap();
    assert_eq!(text(&usage, header, 3), "Usage type");
    assert_eq!(text(&usage, header + 1, 3), "BoxUsage:t3.micro");
    let last = usage.end().unwrap().0;
    assert_eq!(text(&usage, last, 0), center::TOTAL);
    assert!(close(number(&usage, last, 4), 175.75));
    // the usage types are streamed, flat: each account's total row is a SUBTOTAL of its
    // details, the grand total a SUBTOTAL of the whole column; no outline
    let usage_formulas = book.worksheet_formula(center::USAGE_TYPES_SHEET).unwrap();
    let totals: Vec<u32> = (header + 1..last)
        .filter(|r| text(&usage, *r, 3) == center::ACCOUNT_TOTAL)
        .collect();
    assert_eq!(totals.len(), 2, "one total row per account");
    assert_eq!(
        formula(&usage_formulas, totals[0], 4),
        format!("SUBTOTAL(9,E{first}:E{})", totals[0])
    );
    assert_eq!(
        formula(&usage_formulas, last, 4),
        format!("SUBTOTAL(9,E{first}:E{})", last)
    );
    assert!(outline_levels(&part(bytes, "xl/worksheets/sheet2.xml")).is_empty());

    // the account's name and OU path are on its total row
    assert_eq!(text(&values, account_total, 1), "alice-sandbox");
    assert_eq!(text(&values, account_total, 2), "Root/Sandboxes/Team A");
    let amount_format = book
        .worksheet_style(center::SERVICES_SHEET)
        .unwrap()
        .get((header + 1, 4))
        .and_then(|s| s.number_format.as_ref())
        .map(|f| f.format_code.clone());
    assert_eq!(amount_format.as_deref(), Some("#,##0.00 \"USD\""));

    // the left account is listed with its last known name in its cost center
    let mut book = open(&file(&files, "R-D---Paris", "xlsx").bytes);
    let values = book.worksheet_range(center::SERVICES_SHEET).unwrap();
    let names: Vec<String> = (header + 1..=values.end().unwrap().0)
        .map(|r| text(&values, r, 1))
        .collect();
    assert!(
        names.contains(&"old-sandbox (left)".to_owned()),
        "{names:?}"
    );
}

#[test]
fn the_cost_center_csv_has_one_line_per_account_and_service() {
    let fixture = Fixture::new();
    let files = files(&fixture.input());
    let mut reader = csv::Reader::from_reader(&file(&files, "R-D---Paris", "csv").bytes[..]);
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "cost_center",
            "account_id",
            "account_name",
            "ou_path",
            "service",
            "amount",
            "currency",
            "month"
        ]
    );
    let lines: Vec<Vec<String>> = reader
        .records()
        .map(|l| l.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        lines,
        [
            [
                "R&D / Paris",
                "333333333333",
                "carol <dev> & co",
                "Root/Research",
                EC2,
                "300",
                "USD",
                "2026-10"
            ],
            [
                "R&D / Paris",
                "444444444444",
                "old-sandbox",
                "Root/Research",
                S3,
                "10",
                "USD",
                "2026-10"
            ],
        ]
    );
}

#[test]
fn a_failing_output_stops_the_run_and_says_which_file() {
    let fixture = Fixture::new();
    let mut handed = 0;
    let error = cost_reports(&fixture.input(), &mut |_| {
        handed += 1;
        if handed == 3 {
            Err(ReportError::Output("access denied to s3://reports".into()))
        } else {
            Ok(())
        }
    })
    .expect_err("the sink failed");
    assert_eq!(handed, 3, "nothing is built after the failure");
    let message = error.to_string();
    assert!(
        message.contains("access denied to s3://reports"),
        "{message}"
    );
    assert!(message.contains("2026-10-CC-Alpha-costs.xlsx"), "{message}");
}

#[test]
fn a_month_without_costs_still_gets_a_summary() {
    let mut fixture = Fixture::new();
    fixture.costs = CostBreakdowns {
        currency: "USD".into(),
        ..CostBreakdowns::default()
    };
    let files = files(&fixture.input());
    assert_eq!(files.len(), 2, "the summary only");
    let mut book = open(&file(&files, "summary", "xlsx").bytes);
    let values = book.worksheet_range(summary::SHEET).unwrap();
    assert_eq!(
        text(&values, summary::HEADER_ROW + 1, 0),
        "No cost in this month"
    );
    assert_eq!(text(&values, summary::HEADER_ROW + 2, 0), summary::TOTAL);
    let csv = &file(&files, "summary", "csv").bytes;
    assert_eq!(csv::Reader::from_reader(&csv[..]).records().count(), 0);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let fixture = Fixture::new();
    let mut shuffled = Fixture::new();
    shuffled.costs.by_service.reverse();
    shuffled.costs.by_record_type.reverse();
    shuffled.accounts.reverse();
    let a: Vec<Vec<u8>> = files(&fixture.input())
        .into_iter()
        .map(|f| f.bytes)
        .collect();
    let b: Vec<Vec<u8>> = files(&shuffled.input())
        .into_iter()
        .map(|f| f.bytes)
        .collect();
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        if i % 2 == 1 {
            assert_eq!(a, b, "CSV {i}");
        }
    }
    // workbooks: same sheets and values whatever the input order
    let mut one = open(&a[0]);
    let mut two = open(&b[0]);
    assert_eq!(
        one.worksheet_range("Summary").unwrap(),
        two.worksheet_range("Summary").unwrap()
    );
}

// ---- the FinOps e-mail ----

const TEMPLATE: &str = "# Cloud costs of {month}\n\nHello FinOps,\nhere are the costs of {month}.\n\nThe <platform> team";

#[test]
fn the_email_has_the_subject_the_template_and_the_totals() {
    let fixture = Fixture::new();
    let email = finops_email(&fixture.input(), TEMPLATE);
    assert_eq!(email.subject, "[spa prod] Cloud costs of 2026-10");
    assert!(email.html.contains("<h1>Cloud costs of 2026-10</h1>"));
    assert!(
        email
            .html
            .contains("<p>Hello FinOps,<br>\nhere are the costs of 2026-10.</p>")
    );
    assert!(email.html.contains("The &lt;platform&gt; team"));
    assert!(email.text.starts_with("# Cloud costs of 2026-10\n"));
    // per cost center, this month, the month before and the change
    assert!(
        email.text.contains(
            "- R&D / Paris: 325.00 USD (2026-09: 150.00 USD, change +175.00 USD (+116.7%))"
        ),
        "{}",
        email.text
    );
    assert!(
        email
            .text
            .contains("- Total: 485.55 USD (2026-09: 333.00 USD, change +152.55 USD (+45.8%))")
    );
    assert!(email.html.contains("R&amp;D / Paris"));
    assert!(!email.html.contains("R&D"), "names are escaped");
    // the forecast, and the totals in the extra currencies
    assert!(email.text.contains("Forecast of 2026-11: 600.00 USD."));
    assert!(email.html.contains("Forecast of 2026-11: 600.00 USD."));
    assert!(email.text.contains("EUR (rate 0.9), 388.44 GBP (rate 0.8)"));
}

#[test]
fn the_email_lists_the_top_five_movers_escaped() {
    let fixture = Fixture::new();
    let email = finops_email(&fixture.input(), TEMPLATE);
    let movers: Vec<&str> = email
        .text
        .split("Top movers since 2026-09\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("- "))
        .collect();
    assert_eq!(
        movers,
        [
            "- carol <dev> & co (333333333333), R&D / Paris: 315.00 USD (2026-09: 100.00 USD, change +215.00 USD (+215.0%))",
            "- old-sandbox (left) (444444444444), R&D / Paris: 10.00 USD (2026-09: 50.00 USD, change -40.00 USD (-80.0%))",
            "- bob-sandbox (222222222222), CC-Alpha: 50.00 USD (2026-09: 80.00 USD, change -30.00 USD (-37.5%))",
            "- untagged (555555555555), NoCostCenter: 7.00 USD (2026-09: 0.00 USD, change +7.00 USD (new))",
            "- 777777777777, NoCostCenter: 0.00 USD (2026-09: 3.00 USD, change -3.00 USD (-100.0%))",
        ]
    );
    assert!(
        email
            .html
            .contains("carol &lt;dev&gt; &amp; co (333333333333)")
    );
    assert!(!email.html.contains("<dev>"));
}

#[test]
fn without_a_previous_month_the_email_says_there_is_nothing_to_compare() {
    let fixture = Fixture::new();
    let mut input = fixture.input();
    input.previous = None;
    input.forecast = None;
    input.environment = "<b>prod</b>\nBcc: x@example.com";
    let email = finops_email(&input, "Hi");
    assert_eq!(
        email.subject, "[spa <b>prod</b> Bcc: x@example.com] Cloud costs of 2026-10",
        "one line: no header can be smuggled in"
    );
    assert!(email.text.contains("No costs of 2026-09 to compare with."));
    assert!(email.text.contains("change n/a"));
    assert!(!email.text.contains("Forecast"));
    assert!(!email.html.contains("<b>prod</b>"));
    assert!(email.html.contains("&lt;b&gt;prod&lt;/b&gt;"));
}
