//! The daily cost digest (pure): the organization's costs of yesterday, the last 7
//! days, the month to date and last month, each against the previous period of the
//! same length, and the top services and accounts of the month to date, in the manner
//! of aws-cost-cli but for the whole organization (or one account).
//!
//! [`digest_periods`] says which days each period covers from `today` (the UTC date
//! of the scheduled run, never the clock); the caller reads the costs of each period
//! and of its previous one (a [`PeriodCosts`] each) and [`digest`] turns them into a
//! [`Digest`], rendered by [`slack`] (Block Kit), [`teams`] (Adaptive Card 1.4 for
//! a Workflows webhook) and [`table`] (the terminal), and serialized as is for JSON.
//!
//! A digest covers complete days only: "month to date" is the month of yesterday up
//! to yesterday, so on the 1st it is the whole month just ended and "last month" the
//! one before. Amounts print with 2 decimals and the currency; changes as `+12.3%`,
//! `-4.0%`, or `new` when the previous period cost nothing. Names come from the
//! organization (anyone may set them): they are put on one line, addresses masked,
//! and escaped for Slack `mrkdwn` (`&`, `<`, `>`).

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use serde::Serialize;
use serde_json::{Value, json};

use super::teams::{CONTENT_TYPE, SCHEMA, VERSION};
use super::text::{self, slack_escape_within, truncate};
use crate::events::AccountId;
use crate::reports::PeriodCosts;

/// How many services and accounts the digest lists.
pub const TOP: usize = 5;

/// Characters of a name in a digest (services, accounts).
const NAME_MAX: usize = 80;
/// Characters of Slack's header block.
const HEADER_MAX: usize = 150;
/// Characters of Slack's section text.
const SECTION_TEXT_MAX: usize = 3000;
/// Characters of Slack's `text` fallback.
const FALLBACK_MAX: usize = 400;

/// The four periods of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// The day before `today`, against the day before it.
    Yesterday,
    /// The 7 days up to yesterday, against the 7 before.
    LastSevenDays,
    /// The month of yesterday up to yesterday, against the same days of the month before.
    MonthToDate,
    /// The month before the month to date, against the month before it.
    LastMonth,
}

impl PeriodKind {
    /// The four, in the digest's order.
    pub const ALL: [PeriodKind; 4] = [
        PeriodKind::Yesterday,
        PeriodKind::LastSevenDays,
        PeriodKind::MonthToDate,
        PeriodKind::LastMonth,
    ];

    /// `Yesterday`, `Last 7 days`, `Month to date`, `Last month`.
    pub const fn title(self) -> &'static str {
        match self {
            PeriodKind::Yesterday => "Yesterday",
            PeriodKind::LastSevenDays => "Last 7 days",
            PeriodKind::MonthToDate => "Month to date",
            PeriodKind::LastMonth => "Last month",
        }
    }
}

/// The days a period covers and those of the period it is compared with; every end
/// is exclusive, as Cost Explorer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DigestPeriod {
    /// Which period.
    pub kind: PeriodKind,
    /// First day.
    pub start: NaiveDate,
    /// The day after the last.
    pub end: NaiveDate,
    /// First day of the previous period.
    pub previous_start: NaiveDate,
    /// The day after the last of the previous period.
    pub previous_end: NaiveDate,
}

/// The periods of the digest of `today`, in [`PeriodKind::ALL`]'s order.
pub fn digest_periods(today: NaiveDate) -> [DigestPeriod; 4] {
    let day = TimeDelta::days(1);
    let yesterday = today - day;
    let month_start = first_of_month(yesterday);
    let previous_month_start = month_before(month_start);
    // month to date against the same days of the month before, within that month
    let mtd_days = (today - month_start).num_days();
    let same_days_end = (previous_month_start + TimeDelta::days(mtd_days)).min(month_start);
    let before_last_start = month_before(previous_month_start);
    [
        DigestPeriod {
            kind: PeriodKind::Yesterday,
            start: yesterday,
            end: today,
            previous_start: yesterday - day,
            previous_end: yesterday,
        },
        DigestPeriod {
            kind: PeriodKind::LastSevenDays,
            start: today - TimeDelta::days(7),
            end: today,
            previous_start: today - TimeDelta::days(14),
            previous_end: today - TimeDelta::days(7),
        },
        DigestPeriod {
            kind: PeriodKind::MonthToDate,
            start: month_start,
            end: today,
            previous_start: previous_month_start,
            previous_end: same_days_end,
        },
        DigestPeriod {
            kind: PeriodKind::LastMonth,
            start: previous_month_start,
            end: month_start,
            previous_start: before_last_start,
            previous_end: previous_month_start,
        },
    ]
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn month_before(first: NaiveDate) -> NaiveDate {
    first.checked_sub_months(Months::new(1)).unwrap_or(first)
}

/// The costs read for one period: its own and those of the period it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodFigures {
    /// The period.
    pub period: DigestPeriod,
    /// Its costs.
    pub current: PeriodCosts,
    /// The costs of the previous period of the same length.
    pub previous: PeriodCosts,
}

/// A change against the previous period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// In percent of the previous amount.
    Percent(f64),
    /// The previous period cost nothing, this one something.
    New,
    /// Both cost nothing.
    None,
}

impl Change {
    /// The change from `previous` to `amount`.
    pub fn between(previous: f64, amount: f64) -> Self {
        if previous.abs() < 0.005 {
            if amount.abs() < 0.005 {
                Change::None
            } else {
                Change::New
            }
        } else {
            Change::Percent((amount - previous) / previous.abs() * 100.0)
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Percent(p) if p.abs() < 0.05 => f.write_str("0.0%"),
            Change::Percent(p) => write!(f, "{p:+.1}%"),
            Change::New => f.write_str("new"),
            Change::None => f.write_str("0.0%"),
        }
    }
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// One line of the digest: an amount, the previous one, and the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// The period's (or the service's, the account's) cost.
    pub amount: f64,
    /// The previous period's.
    pub previous: f64,
    /// `+12.3%`, `-4.0%`, `new`.
    pub change: Change,
}

impl Line {
    fn new(amount: f64, previous: f64) -> Self {
        Self {
            amount,
            previous,
            change: Change::between(previous, amount),
        }
    }
}

/// A period of the digest and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodLine {
    /// Its days.
    #[serde(flatten)]
    pub period: DigestPeriod,
    /// `Yesterday`, ...
    pub title: &'static str,
    /// What it cost, against the previous period.
    #[serde(flatten)]
    pub line: Line,
}

/// A service of the month to date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceLine {
    /// `Amazon Elastic Compute Cloud - Compute`.
    pub service: String,
    /// Against the same days of the month before.
    #[serde(flatten)]
    pub line: Line,
}

/// An account of the month to date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountLine {
    /// Its id.
    pub account: AccountId,
    /// Its name in the organization; empty when unknown (it left).
    pub name: String,
    /// Against the same days of the month before.
    #[serde(flatten)]
    pub line: Line,
}

/// An account the digest is about, when it is about one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestAccount {
    /// Its id.
    pub account: AccountId,
    /// Its name; empty when unknown.
    pub name: String,
}

/// The digest: what chat and the terminal show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    /// The settings' environment identifier.
    pub environment: String,
    /// The date of the run (its periods end the day before).
    pub today: NaiveDate,
    /// The one account the digest is about; none: the organization.
    pub account: Option<DigestAccount>,
    /// `USD`.
    pub currency: String,
    /// Yesterday, last 7 days, month to date, last month.
    pub periods: Vec<PeriodLine>,
    /// The most costly services of the month to date.
    pub top_services: Vec<ServiceLine>,
    /// The most costly accounts of the month to date (none for one account).
    pub top_accounts: Vec<AccountLine>,
}

/// What the digest is about and the names it shows.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The settings' environment identifier.
    pub environment: &'a str,
    /// The date of the run.
    pub today: NaiveDate,
    /// The one account the digest is about; none: the organization.
    pub account: Option<&'a AccountId>,
    /// The costs of each period, from [`digest_periods`].
    pub figures: &'a [PeriodFigures],
    /// Account names by id (the top accounts, the one account).
    pub names: &'a BTreeMap<AccountId, String>,
}

/// The digest of the figures.
pub fn digest(input: &DigestInput<'_>) -> Digest {
    let name_of = |id: &AccountId| input.names.get(id).cloned().unwrap_or_default();
    let periods = input
        .figures
        .iter()
        .map(|f| PeriodLine {
            period: f.period,
            title: f.period.kind.title(),
            line: Line::new(total(&f.current), total(&f.previous)),
        })
        .collect();
    let month = input
        .figures
        .iter()
        .find(|f| f.period.kind == PeriodKind::MonthToDate);
    let currency = input
        .figures
        .iter()
        .map(|f| f.current.currency.as_str())
        .find(|c| !c.is_empty())
        .unwrap_or("USD")
        .to_owned();
    let (top_services, top_accounts) = match month {
        Some(month) => {
            let services = top(&month.current.by_service, &month.previous.by_service)
                .into_iter()
                .map(|(service, line)| ServiceLine { service, line })
                .collect();
            let accounts = if input.account.is_some() {
                Vec::new()
            } else {
                top(&month.current.by_account, &month.previous.by_account)
                    .into_iter()
                    .map(|(account, line)| AccountLine {
                        name: name_of(&account),
                        account,
                        line,
                    })
                    .collect()
            };
            (services, accounts)
        }
        None => (Vec::new(), Vec::new()),
    };
    Digest {
        environment: input.environment.to_owned(),
        today: input.today,
        account: input.account.map(|id| DigestAccount {
            account: id.clone(),
            name: name_of(id),
        }),
        currency,
        periods,
        top_services,
        top_accounts,
    }
}

/// The period's total (by service; by account when there is no service breakdown).
fn total(costs: &PeriodCosts) -> f64 {
    let rows = if costs.by_service.is_empty() {
        &costs.by_account.iter().map(|(_, a)| *a).collect::<Vec<_>>()
    } else {
        &costs.by_service.iter().map(|(_, a)| *a).collect::<Vec<_>>()
    };
    // an empty sum of floats is -0.0: shown and serialized as 0
    rows.iter().sum::<f64>() + 0.0
}

/// The [`TOP`] highest keys of `current` (summed per key), with the previous amounts.
fn top<K: Ord + Clone>(current: &[(K, f64)], previous: &[(K, f64)]) -> Vec<(K, Line)> {
    let sum = |rows: &[(K, f64)]| {
        let mut sums: BTreeMap<K, f64> = BTreeMap::new();
        for (key, amount) in rows {
            *sums.entry(key.clone()).or_default() += amount;
        }
        sums
    };
    let before = sum(previous);
    let mut rows: Vec<(K, f64)> = sum(current)
        .into_iter()
        .filter(|(_, amount)| amount.abs() >= 0.005)
        .collect();
    // highest first; ties in key order (the map's), so the order is stable
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.into_iter()
        .take(TOP)
        .map(|(key, amount)| {
            let previous = before.get(&key).copied().unwrap_or(0.0);
            (key, Line::new(amount, previous))
        })
        .collect()
}

/// `1234.50 USD` (never `-0.00`).
pub fn money(amount: f64, currency: &str) -> String {
    let amount = if amount.abs() < 0.005 { 0.0 } else { amount };
    format!("{amount:.2} {currency}")
}

/// `2026-11-20`, or `2026-11-14 – 2026-11-20` (the end shown inclusive).
fn days(start: NaiveDate, end: NaiveDate) -> String {
    let last = end - TimeDelta::days(1);
    if last <= start {
        start.to_string()
    } else {
        format!("{start} – {last}")
    }
}

/// `the organization`, or `Alice's sandbox (111111111111)`.
fn scope(digest: &Digest) -> String {
    match &digest.account {
        None => "the organization".to_owned(),
        Some(account) => account_name(&account.name, &account.account),
    }
}

/// A name on one line, addresses masked, cut short.
fn name(raw: &str) -> String {
    truncate(&text::one_line(raw), NAME_MAX)
}

fn account_name(raw: &str, id: &AccountId) -> String {
    let name = name(raw);
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}

/// `12.34 USD (+23.4%)`.
fn amount_and_change(line: &Line, currency: &str) -> String {
    format!("{} ({})", money(line.amount, currency), line.change)
}

fn title(digest: &Digest) -> String {
    format!("Cloud costs of {} on {}", scope(digest), digest.today)
}

/// The Slack incoming-webhook payload of the digest (Block Kit).
pub fn slack(digest: &Digest) -> Value {
    let currency = &digest.currency;
    let header = slack_escape_within(&title(digest), HEADER_MAX);
    let fields: Vec<Value> = digest
        .periods
        .iter()
        .map(|p| {
            json!({
                "type": "mrkdwn",
                "text": format!(
                    "*{}* ({})\n*{}* {} vs {}",
                    p.title,
                    days(p.period.start, p.period.end),
                    money(p.line.amount, currency),
                    p.line.change,
                    money(p.line.previous, currency),
                ),
            })
        })
        .collect();
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": header, "emoji": true } }),
        json!({ "type": "section", "fields": fields }),
    ];
    let services: Vec<String> = digest
        .top_services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}. {}: {}",
                i + 1,
                slack_escape_within(&name(&s.service), NAME_MAX * 5),
                amount_and_change(&s.line, currency)
            )
        })
        .collect();
    if !services.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": text::truncate_escaped(&format!("*Top services, month to date*\n{}", services.join("\n")), SECTION_TEXT_MAX) },
        }));
    }
    let accounts: Vec<String> = digest
        .top_accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "{}. {}: {}",
                i + 1,
                slack_escape_within(&account_name(&a.name, &a.account), NAME_MAX * 5),
                amount_and_change(&a.line, currency)
            )
        })
        .collect();
    if !accounts.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": text::truncate_escaped(&format!("*Top accounts, month to date*\n{}", accounts.join("\n")), SECTION_TEXT_MAX) },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "Environment *{}* · unblended charges, complete days · each period against the one before of the same length",
                slack_escape_within(&text::one_line(&digest.environment), 200)
            ),
        }],
    }));
    json!({ "text": slack_escape_within(&fallback(digest), FALLBACK_MAX), "blocks": blocks })
}

/// One line for notifications: the title and the periods' amounts.
fn fallback(digest: &Digest) -> String {
    let periods: Vec<String> = digest
        .periods
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.title.to_lowercase(),
                amount_and_change(&p.line, &digest.currency)
            )
        })
        .collect();
    format!("{}: {}", title(digest), periods.join(", "))
}

/// The Microsoft Teams Workflows webhook payload of the digest (Adaptive Card 1.4).
pub fn teams(digest: &Digest) -> Value {
    let currency = &digest.currency;
    let periods: Vec<Value> = digest
        .periods
        .iter()
        .map(|p| {
            json!({
                "title": format!("{} ({})", p.title, days(p.period.start, p.period.end)),
                "value": format!("{} vs {}", amount_and_change(&p.line, currency), money(p.line.previous, currency)),
            })
        })
        .collect();
    let mut body = vec![
        json!({ "type": "TextBlock", "text": truncate(&title(digest), 200), "weight": "Bolder", "size": "Medium", "wrap": true }),
        json!({ "type": "FactSet", "facts": periods }),
    ];
    let services: Vec<Value> = digest
        .top_services
        .iter()
        .map(
            |s| json!({ "title": name(&s.service), "value": amount_and_change(&s.line, currency) }),
        )
        .collect();
    if !services.is_empty() {
        body.push(
            json!({ "type": "TextBlock", "text": "**Top services, month to date**", "wrap": true }),
        );
        body.push(json!({ "type": "FactSet", "facts": services }));
    }
    let accounts: Vec<Value> = digest
        .top_accounts
        .iter()
        .map(|a| json!({ "title": account_name(&a.name, &a.account), "value": amount_and_change(&a.line, currency) }))
        .collect();
    if !accounts.is_empty() {
        body.push(
            json!({ "type": "TextBlock", "text": "**Top accounts, month to date**", "wrap": true }),
        );
        body.push(json!({ "type": "FactSet", "facts": accounts }));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!(
            "Environment {} · unblended charges, complete days · each period against the one before of the same length",
            truncate(&text::one_line(&digest.environment), 200)
        ),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CONTENT_TYPE,
            "contentUrl": null,
            "content": { "$schema": SCHEMA, "type": "AdaptiveCard", "version": VERSION, "body": body },
        }],
    })
}

/// The digest as plain-text tables, for the terminal.
pub fn table(digest: &Digest) -> String {
    let currency = &digest.currency;
    let mut out = format!("{}\n\n", title(digest));
    let rows: Vec<Vec<String>> = digest
        .periods
        .iter()
        .map(|p| {
            vec![
                p.title.to_owned(),
                days(p.period.start, p.period.end),
                money(p.line.amount, currency),
                money(p.line.previous, currency),
                p.line.change.to_string(),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &["PERIOD", "DAYS", "COST", "PREVIOUS", "CHANGE"],
        &rows,
        3,
    ));
    if !digest.top_services.is_empty() {
        out.push_str("\nTop services, month to date\n");
        let rows: Vec<Vec<String>> = digest
            .top_services
            .iter()
            .map(|s| {
                vec![
                    name(&s.service),
                    money(s.line.amount, currency),
                    s.line.change.to_string(),
                ]
            })
            .collect();
        out.push_str(&aligned(&["SERVICE", "COST", "CHANGE"], &rows, 2));
    }
    if !digest.top_accounts.is_empty() {
        out.push_str("\nTop accounts, month to date\n");
        let rows: Vec<Vec<String>> = digest
            .top_accounts
            .iter()
            .map(|a| {
                vec![
                    a.account.to_string(),
                    name(&a.name),
                    money(a.line.amount, currency),
                    a.line.change.to_string(),
                ]
            })
            .collect();
        out.push_str(&aligned(&["ACCOUNT", "NAME", "COST", "CHANGE"], &rows, 2));
    }
    out
}

/// Columns aligned on the widest cell; the last `right` columns (amounts, changes)
/// are right-aligned.
fn aligned(header: &[&str], rows: &[Vec<String>], right: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let first_right = header.len().saturating_sub(right);
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            if i >= first_right {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&pad);
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut text = line(header);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        text.push_str(&line(&cells));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn id(text: &str) -> AccountId {
        AccountId::parse(text).unwrap()
    }

    fn costs(services: &[(&str, f64)], accounts: &[(&str, f64)]) -> PeriodCosts {
        PeriodCosts {
            start: day("2026-01-01"),
            end: day("2026-01-02"),
            currency: "USD".into(),
            by_service: services
                .iter()
                .map(|(s, a)| ((*s).to_owned(), *a))
                .collect(),
            by_account: accounts.iter().map(|(s, a)| (id(s), *a)).collect(),
        }
    }

    /// A digest of 2026-11-21 with hand-made figures.
    fn sample(account: Option<&AccountId>) -> Digest {
        let periods = digest_periods(day("2026-11-21"));
        let figures: Vec<PeriodFigures> = periods
            .iter()
            .map(|period| {
                let (current, previous) = match period.kind {
                    PeriodKind::Yesterday => (
                        costs(&[("EC2", 12.0), ("S3", 0.34)], &[]),
                        costs(&[("EC2", 10.0)], &[]),
                    ),
                    PeriodKind::LastSevenDays => {
                        (costs(&[("EC2", 96.0)], &[]), costs(&[("EC2", 100.0)], &[]))
                    }
                    PeriodKind::MonthToDate => (
                        costs(
                            &[
                                ("EC2", 300.0),
                                ("S3 & <Glacier>", 50.0),
                                ("Lambda", 5.0),
                                ("KMS", 4.0),
                                ("SNS", 3.0),
                                ("SQS", 2.0),
                            ],
                            &[("111111111111", 250.0), ("222222222222", 114.0)],
                        ),
                        costs(
                            &[("EC2", 200.0), ("Lambda", 5.0)],
                            &[("111111111111", 200.0)],
                        ),
                    ),
                    PeriodKind::LastMonth => (costs(&[], &[]), costs(&[], &[])),
                };
                PeriodFigures {
                    period: *period,
                    current,
                    previous,
                }
            })
            .collect();
        let names = BTreeMap::from([(
            id("111111111111"),
            "Bob <b>&</b> bob@example.com".to_owned(),
        )]);
        digest(&DigestInput {
            environment: "SpaDemo",
            today: day("2026-11-21"),
            account,
            figures: &figures,
            names: &names,
        })
    }

    #[test]
    fn periods_are_complete_days_against_the_same_length_before() {
        let [yesterday, week, month, last] = digest_periods(day("2026-11-21"));
        assert_eq!(
            (yesterday.start, yesterday.end),
            (day("2026-11-20"), day("2026-11-21"))
        );
        assert_eq!(
            (yesterday.previous_start, yesterday.previous_end),
            (day("2026-11-19"), day("2026-11-20"))
        );
        assert_eq!(
            (week.start, week.end),
            (day("2026-11-14"), day("2026-11-21"))
        );
        assert_eq!(
            (week.previous_start, week.previous_end),
            (day("2026-11-07"), day("2026-11-14"))
        );
        assert_eq!(
            (month.start, month.end),
            (day("2026-11-01"), day("2026-11-21"))
        );
        assert_eq!(
            (month.previous_start, month.previous_end),
            (day("2026-10-01"), day("2026-10-21"))
        );
        assert_eq!(
            (last.start, last.end),
            (day("2026-10-01"), day("2026-11-01"))
        );
        assert_eq!(
            (last.previous_start, last.previous_end),
            (day("2026-09-01"), day("2026-10-01"))
        );
    }

    #[test]
    fn on_the_first_the_month_to_date_is_the_month_just_ended() {
        let [_, _, month, last] = digest_periods(day("2027-01-01"));
        assert_eq!(
            (month.start, month.end),
            (day("2026-12-01"), day("2027-01-01"))
        );
        assert_eq!(
            (month.previous_start, month.previous_end),
            (day("2026-11-01"), day("2026-12-01"))
        );
        assert_eq!(
            (last.start, last.end),
            (day("2026-11-01"), day("2026-12-01"))
        );
        // 31 days of March against February: the same days, within February
        let [_, _, month, _] = digest_periods(day("2026-04-01"));
        assert_eq!(
            (month.previous_start, month.previous_end),
            (day("2026-02-01"), day("2026-03-01"))
        );
        for today in ["2026-03-01", "2026-03-02", "2026-12-31", "2028-02-29"] {
            for period in digest_periods(day(today)) {
                assert!(period.start < period.end, "{today} {period:?}");
                assert!(
                    period.previous_start < period.previous_end,
                    "{today} {period:?}"
                );
                assert!(period.end <= day(today), "{today} {period:?}");
            }
        }
    }

    #[test]
    fn changes_read_as_signed_percent_or_new() {
        assert_eq!(Change::between(10.0, 12.34).to_string(), "+23.4%");
        assert_eq!(Change::between(100.0, 96.0).to_string(), "-4.0%");
        assert_eq!(Change::between(0.0, 5.0).to_string(), "new");
        assert_eq!(Change::between(0.0, 0.0).to_string(), "0.0%");
        assert_eq!(Change::between(3.0, 3.0).to_string(), "0.0%");
        assert_eq!(money(1234.5, "USD"), "1234.50 USD");
        assert_eq!(money(-0.001, "USD"), "0.00 USD");
    }

    #[test]
    fn the_digest_has_totals_and_the_top_five_with_their_changes() {
        let digest = sample(None);
        let totals: Vec<(f64, String)> = digest
            .periods
            .iter()
            .map(|p| (p.line.amount, p.line.change.to_string()))
            .collect();
        assert_eq!(totals[0].1, "+23.4%");
        assert!((totals[0].0 - 12.34).abs() < 1e-9);
        assert_eq!(totals[1].1, "-4.0%");
        assert_eq!(totals[3].1, "0.0%");
        let services: Vec<(&str, String)> = digest
            .top_services
            .iter()
            .map(|s| (s.service.as_str(), s.line.change.to_string()))
            .collect();
        assert_eq!(
            services,
            [
                ("EC2", "+50.0%".to_owned()),
                ("S3 & <Glacier>", "new".into()),
                ("Lambda", "0.0%".into()),
                ("KMS", "new".into()),
                ("SNS", "new".into())
            ]
        );
        let accounts: Vec<(&str, String)> = digest
            .top_accounts
            .iter()
            .map(|a| (a.account.as_str(), a.line.change.to_string()))
            .collect();
        assert_eq!(
            accounts,
            [
                ("111111111111", "+25.0%".to_owned()),
                ("222222222222", "new".into())
            ]
        );
        assert_eq!(
            digest.top_accounts[1].name, "",
            "an unknown name stays empty"
        );
    }

    #[test]
    fn a_digest_of_one_account_lists_no_accounts() {
        let one = id("111111111111");
        let digest = sample(Some(&one));
        assert!(digest.top_accounts.is_empty());
        assert!(
            table(&digest).starts_with(
                "Cloud costs of Bob <b>&</b> b***@example.com (111111111111) on 2026-11-21"
            ),
            "{}",
            table(&digest)
        );
    }

    #[test]
    fn slack_shows_the_figures_with_names_escaped() {
        let payload = slack(&sample(None));
        let text = payload.to_string();
        assert_eq!(
            payload["blocks"][0]["text"]["text"],
            "Cloud costs of the organization on 2026-11-21"
        );
        assert_eq!(
            payload["blocks"][1]["fields"][0]["text"],
            "*Yesterday* (2026-11-20)\n*12.34 USD* +23.4% vs 10.00 USD"
        );
        assert_eq!(
            payload["blocks"][1]["fields"][1]["text"],
            "*Last 7 days* (2026-11-14 – 2026-11-20)\n*96.00 USD* -4.0% vs 100.00 USD"
        );
        let services = payload["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(
            services.contains("1. EC2: 300.00 USD (+50.0%)"),
            "{services}"
        );
        assert!(
            services.contains("2. S3 &amp; &lt;Glacier&gt;: 50.00 USD (new)"),
            "{services}"
        );
        let accounts = payload["blocks"][3]["text"]["text"].as_str().unwrap();
        assert!(accounts.contains("1. Bob &lt;b&gt;&amp;&lt;/b&gt; b***@example.com (111111111111): 250.00 USD (+25.0%)"), "{accounts}");
        assert!(
            accounts.contains("2. 222222222222: 114.00 USD (new)"),
            "{accounts}"
        );
        assert!(!text.contains("<b>") && !text.contains("bob@"), "{text}");
        assert!(
            payload["text"]
                .as_str()
                .unwrap()
                .contains("yesterday 12.34 USD (+23.4%)")
        );
    }

    #[test]
    fn hostile_names_stay_within_slack_limits_and_show_no_address() {
        let mut digest = sample(None);
        for service in &mut digest.top_services {
            service.service = "<&>".repeat(2_000);
        }
        for account in &mut digest.top_accounts {
            account.name = format!("{} eve@example.com\n*bold*", "&".repeat(3_000));
        }
        digest.environment = "e".repeat(1_000);
        let payload = slack(&digest);
        for block in payload["blocks"].as_array().unwrap() {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(
                    text::units(text) <= SECTION_TEXT_MAX,
                    "{}",
                    text::units(text)
                );
            }
        }
        assert!(text::units(payload["text"].as_str().unwrap()) <= FALLBACK_MAX);
        let serialized = payload.to_string();
        assert!(!serialized.contains("eve@"), "{serialized}");
        assert!(!serialized.contains("<&>"), "escaped");
        let card = teams(&digest).to_string();
        assert!(!card.contains("eve@"));
        assert!(card.len() < 28_000, "{}", card.len());
        assert!(!table(&digest).contains("eve@"));
    }

    #[test]
    fn teams_is_an_adaptive_card_with_the_same_figures() {
        let payload = teams(&sample(None));
        let card = &payload["attachments"][0]["content"];
        assert_eq!(payload["attachments"][0]["contentType"], CONTENT_TYPE);
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["body"][1]["facts"][2]["title"],
            "Month to date (2026-11-01 – 2026-11-20)"
        );
        assert_eq!(
            card["body"][1]["facts"][2]["value"],
            "364.00 USD (+77.6%) vs 205.00 USD"
        );
        assert_eq!(card["body"][3]["facts"][0]["value"], "300.00 USD (+50.0%)");
        assert_eq!(
            card["body"][5]["facts"][0]["title"],
            "Bob <b>&</b> b***@example.com (111111111111)"
        );
        assert!(!payload.to_string().contains("bob@"));
    }

    #[test]
    fn the_table_aligns_the_figures() {
        let table = table(&sample(None));
        let expected = "\
Cloud costs of the organization on 2026-11-21

PERIOD         DAYS                           COST    PREVIOUS  CHANGE
Yesterday      2026-11-20                12.34 USD   10.00 USD  +23.4%
Last 7 days    2026-11-14 – 2026-11-20   96.00 USD  100.00 USD   -4.0%
Month to date  2026-11-01 – 2026-11-20  364.00 USD  205.00 USD  +77.6%
Last month     2026-10-01 – 2026-10-31    0.00 USD    0.00 USD    0.0%

Top services, month to date
SERVICE               COST  CHANGE
EC2             300.00 USD  +50.0%
S3 & <Glacier>   50.00 USD     new
Lambda            5.00 USD    0.0%
KMS               4.00 USD     new
SNS               3.00 USD     new

Top accounts, month to date
ACCOUNT       NAME                                 COST  CHANGE
111111111111  Bob <b>&</b> b***@example.com  250.00 USD  +25.0%
222222222222                                 114.00 USD     new
";
        assert_eq!(table, expected);
        let json = serde_json::to_value(sample(None)).unwrap();
        assert_eq!(json["periods"][0]["kind"], "yesterday");
        assert_eq!(json["periods"][0]["start"], "2026-11-20");
        assert_eq!(json["periods"][0]["change"], "+23.4%");
        assert_eq!(json["top_accounts"][0]["account"], "111111111111");
        assert_eq!(
            json["periods"][3]["previous"].to_string(),
            "0.0",
            "never -0.0"
        );
    }
}
