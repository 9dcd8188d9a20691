//! AWS Budgets notifications, through SNS then SQS, as a Lambda SQS event.
//!
//! Budgets sends a plain-text e-mail-like message; the figures are read from its
//! `Key: value` lines, with the opening sentence as a fallback.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::DecodeError;
use super::json::{Node, arn_of, excerpt};
use crate::vocabulary::{AccountId, EventId};

/// A batch of SQS messages; each record is decoded on its own so that one bad message
/// fails alone (Lambda partial batch response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsBatch {
    pub records: Vec<SqsRecord>,
}

/// One SQS message and what it decoded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsRecord {
    /// The SQS `messageId`, to report the record in `batchItemFailures`; `None` only
    /// when the record lacks it (then only failing the whole batch retries it).
    pub message_id: Option<String>,
    pub alert: Result<BudgetAlert, DecodeError>,
}

impl SqsBatch {
    /// Message ids of the records that failed to decode for a reason worth a retry or
    /// the dead-letter queue (not the ignorable ones, such as an SNS subscription
    /// confirmation, nor the refused ones, which came from a member account).
    pub fn failed_message_ids(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| matches!(&r.alert, Err(e) if !e.is_ignorable() && !e.is_refused()))
            .filter_map(|r| r.message_id.as_deref())
            .collect()
    }

    /// Whether a failed record has no message id, so that only failing the whole
    /// batch can get it retried.
    pub fn has_unidentified_failure(&self) -> bool {
        self.records.iter().any(|r| {
            r.message_id.is_none()
                && matches!(&r.alert, Err(e) if !e.is_ignorable() && !e.is_refused())
        })
    }
}

/// An AWS Budgets alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetAlert {
    /// SNS `MessageId` (stable across SNS re-deliveries), else the SQS `messageId`.
    pub event_id: EventId,
    /// The account the budget belongs to (`AWS Account <id>` in the message).
    pub account: AccountId,
    pub budget_name: String,
    /// `Cost`, `Usage`, ... when the message says.
    pub budget_type: Option<String>,
    pub alert_type: AlertType,
    pub threshold: Threshold,
    /// The budgeted amount, when the message says.
    pub budgeted: Option<Money>,
    /// The actual or the forecasted amount, after `alert_type`.
    pub amount: Money,
    /// SNS `Timestamp`, when the message came through an SNS envelope.
    pub notified_at: Option<DateTime<Utc>>,
}

/// Whether the alert is about the actual or the forecasted cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertType {
    Actual,
    Forecasted,
}

impl AlertType {
    /// `ACTUAL` or `FORECASTED`, as Budgets writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertType::Actual => "ACTUAL",
            AlertType::Forecasted => "FORECASTED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ACTUAL" => Some(AlertType::Actual),
            "FORECASTED" | "FORECAST" => Some(AlertType::Forecasted),
            _ => None,
        }
    }
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The threshold that was crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Threshold {
    Absolute(Money),
    /// Percent of the budgeted amount.
    Percentage(Amount),
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Absolute(money) => write!(f, "{money}"),
            Threshold::Percentage(percent) => write!(f, "{percent}%"),
        }
    }
}

/// An exact decimal amount, kept in millionths (no float rounding on money).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount {
    micros: i64,
}

impl Amount {
    /// From millionths of a unit.
    pub const fn from_micros(micros: i64) -> Self {
        Amount { micros }
    }

    /// In millionths of a unit.
    pub const fn micros(self) -> i64 {
        self.micros
    }

    /// As a float, for display and charts only.
    pub fn as_f64(self) -> f64 {
        self.micros as f64 / 1_000_000.0
    }

    /// `80.12`, `1,234.5`, `-3`, `100`; at most 6 decimals and 12 integer digits.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let int: String = int.chars().filter(|c| *c != ',').collect();
        if int.is_empty() && frac.is_empty()
            || int.len() > 12
            || frac.len() > 6
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut frac_micros: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..6 {
            frac_micros = frac_micros.checked_mul(10)?;
        }
        let micros = int.checked_mul(1_000_000)?.checked_add(frac_micros)?;
        Some(Amount {
            micros: if negative { -micros } else { micros },
        })
    }
}

impl fmt::Display for Amount {
    /// At least two decimals, trailing zeros beyond them dropped: `80.12`, `100.00`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let abs = self.micros.unsigned_abs();
        let mut frac = format!("{:06}", abs % 1_000_000);
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}{}.{frac}", abs / 1_000_000)
    }
}

/// An amount with its currency (ISO code when known: `$` is `USD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount: Amount,
    pub currency: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

const SYMBOLS: [(&str, &str); 6] = [
    ("US$", "USD"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
    ("₹", "INR"),
];

/// `$80.12`, `USD 80.12`, `80.12 USD`, `€80.12`, `$1,234.56` (decimal point only).
fn parse_money(s: &str) -> Option<Money> {
    let s = s.trim().trim_end_matches('.').trim();
    for (symbol, code) in SYMBOLS {
        if let Some(rest) = s.strip_prefix(symbol) {
            return Some(Money {
                amount: Amount::parse(rest)?,
                currency: code.to_string(),
            });
        }
        if let Some(rest) = s.strip_suffix(symbol) {
            return Some(Money {
                amount: Amount::parse(rest)?,
                currency: code.to_string(),
            });
        }
    }
    let mut words = s.split_whitespace();
    let (a, b) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let is_unit = |w: &str| !w.is_empty() && w.len() <= 10 && w.chars().all(char::is_alphabetic);
    let (unit, amount) = if is_unit(a) { (a, b) } else { (b, a) };
    if !is_unit(unit) {
        return None;
    }
    Some(Money {
        amount: Amount::parse(amount)?,
        currency: unit.to_string(),
    })
}

/// `> $75.00`, `>= 80%`, `80.00 %`, `greater than $75.00`.
fn parse_threshold(s: &str) -> Option<Threshold> {
    let s = s
        .trim()
        .trim_start_matches("greater than")
        .trim_start_matches(['>', '<', '=', ' '])
        .trim();
    if let Some(percent) = s.strip_suffix('%') {
        return Amount::parse(percent).map(Threshold::Percentage);
    }
    parse_money(s).map(Threshold::Absolute)
}

/// The lines `Key: value` of a Budgets message, keys in lower case.
fn key_values(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim().to_ascii_lowercase();
            if !key.is_empty() && key.len() <= 40 {
                map.entry(key).or_insert_with(|| value.trim().to_string());
            }
        }
    }
    map
}

/// The text between `start` and the next `end` after it.
fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    let to = rest.find(end)?;
    Some(rest[..to].trim())
}

/// `AWS Account 222222222222` (first lines), or an `Account ID:` line.
fn find_account(text: &str, kv: &HashMap<String, String>) -> Option<AccountId> {
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("AWS Account") {
            let rest = rest.trim_start_matches([':', ' ', '#']);
            if let Some(account) = rest.split_whitespace().next().and_then(AccountId::parse) {
                return Some(account);
            }
        }
    }
    ["account id", "aws account", "account"]
        .iter()
        .find_map(|k| kv.get(*k).and_then(|v| AccountId::parse(v.trim())))
}

/// Reads the figures of a Budgets message. `path` names where the text is.
fn parse_message(
    text: &str,
    path: &str,
    event_id: EventId,
    notified_at: Option<DateTime<Utc>>,
) -> Result<BudgetAlert, DecodeError> {
    let text = text.replace("\r\n", "\n");
    let kv = key_values(&text);
    let missing = |expected: &str| DecodeError::missing(path, expected);

    let account =
        find_account(&text, &kv).ok_or_else(|| missing("a line `AWS Account <12-digit id>`"))?;

    let budget_name = kv
        .get("budget name")
        .map(String::as_str)
        .or_else(|| between(&text, "associated with your ", " budget is"))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing("a line `Budget Name: <name>`"))?
        .to_string();

    let alert_type = match kv.get("alert type") {
        Some(value) => AlertType::parse(value).ok_or_else(|| {
            DecodeError::invalid(
                path,
                "`Alert Type: ACTUAL` or `Alert Type: FORECASTED`",
                format!("`Alert Type: {}`", excerpt(value)),
            )
        })?,
        None if text.contains("FORECASTED Cost") => AlertType::Forecasted,
        None if text.contains("ACTUAL Cost") => AlertType::Actual,
        None => return Err(missing("a line `Alert Type: ACTUAL|FORECASTED`")),
    };

    let amount_key = format!("{} amount", alert_type.as_str().to_ascii_lowercase());
    let amount_text = kv
        .get(&amount_key)
        .map(String::as_str)
        .or_else(|| between(&text, "associated with this budget is ", "\n"))
        .ok_or_else(|| {
            missing(&format!(
                "a line `{} Amount: <amount>`",
                alert_type.as_str()
            ))
        })?;
    let amount =
        parse_money(amount_text.split(". ").next().unwrap_or(amount_text)).ok_or_else(|| {
            DecodeError::invalid(
                path,
                format!("`{} Amount` as an amount like $80.12", alert_type.as_str()),
                format!("`{}`", excerpt(amount_text)),
            )
        })?;

    let threshold_text = kv
        .get("alert threshold")
        .map(String::as_str)
        .or_else(|| between(&text, "is greater than ", " for"))
        .ok_or_else(|| missing("a line `Alert Threshold: > <amount or percent>`"))?;
    let threshold = parse_threshold(threshold_text).ok_or_else(|| {
        DecodeError::invalid(
            path,
            "`Alert Threshold` as `> $75.00` or `> 80%`",
            format!("`{}`", excerpt(threshold_text)),
        )
    })?;

    let budgeted = match kv.get("budgeted amount") {
        Some(value) => Some(parse_money(value).ok_or_else(|| {
            DecodeError::invalid(
                path,
                "`Budgeted Amount` as an amount like $100.00",
                format!("`{}`", excerpt(value)),
            )
        })?),
        None => None,
    };

    Ok(BudgetAlert {
        event_id,
        account,
        budget_name,
        budget_type: kv.get("budget type").cloned(),
        alert_type,
        threshold,
        budgeted,
        amount,
        notified_at,
    })
}

/// Whether `Records` is an SQS batch: `Foreign` when its records come from elsewhere.
pub(crate) fn check_batch_source(root: &Node<'_>) -> Result<(), DecodeError> {
    let records = root.array("Records", "an array of SQS records")?;
    let Some(first) = records.first() else {
        return Ok(());
    };
    let source = match first.value() {
        Value::Object(map) => map
            .get("eventSource")
            .or_else(|| map.get("EventSource"))
            .and_then(Value::as_str),
        _ => None,
    };
    match source {
        Some(source) if source != "aws:sqs" => Err(DecodeError::Foreign {
            event_source: excerpt(source),
            detail_type: "Records".to_string(),
        }),
        _ => Ok(()),
    }
}

pub(crate) fn decode_batch(root: &Node<'_>) -> Result<SqsBatch, DecodeError> {
    let records = root.array("Records", "an array of SQS records")?;
    Ok(SqsBatch {
        records: records
            .iter()
            .map(|record| SqsRecord {
                message_id: record
                    .opt_str("messageId")
                    .ok()
                    .flatten()
                    .map(str::to_string),
                alert: decode_record(record),
            })
            .collect(),
    })
}

fn decode_record(record: &Node<'_>) -> Result<BudgetAlert, DecodeError> {
    let source = record.req("eventSource", "aws:sqs")?;
    if source.as_str()? != "aws:sqs" {
        return Err(source.invalid("aws:sqs"));
    }
    let message_id = record.str("messageId")?;
    let body_node = record.req("body", "an SNS notification or a Budgets message")?;
    let body = body_node.as_str()?;
    let body_path = body_node.path().to_string();
    // only SNS topics of the organization's accounts send to the queue: whatever a body
    // says, a member account said it, so a body that does not read is refused, never
    // retried into the dead-letter queue (a holder could otherwise raise `DeadLetter`
    // at will)
    decode_body(body, &body_path, message_id).map_err(|error| {
        if error.is_ignorable() || error.is_refused() {
            error
        } else {
            DecodeError::refused(
                "a message on the budget alerts queue",
                format!("an unreadable budget alert ({error})"),
            )
        }
    })
}

fn decode_body(body: &str, body_path: &str, message_id: &str) -> Result<BudgetAlert, DecodeError> {
    if !body.trim_start().starts_with('{') {
        // raw message delivery: the body is the text alone, with no topic to tell who
        // sent it; spa subscribes without it, so the subscription was changed
        return Err(DecodeError::refused(
            "a message without its SNS envelope (raw message delivery: no topic says who sent it)",
            "a budget alert",
        ));
    }
    let envelope: Value = serde_json::from_str(body).map_err(|e| {
        DecodeError::invalid(
            body_path,
            "an SNS notification (JSON) or a Budgets message",
            format!("invalid JSON ({e})"),
        )
    })?;
    let sns = Node::root(&envelope, body_path);
    let kind = sns.str("Type")?;
    if kind != "Notification" {
        return Err(DecodeError::Unsupported {
            event_source: "aws:sns".to_string(),
            detail_type: "SNS message".to_string(),
            name: excerpt(kind),
        });
    }
    // who sent it: the account of the topic, which SNS writes in the envelope (the
    // queue takes only the budget alert topics of the organization's accounts)
    let sender = match sns.opt_str("TopicArn")?.and_then(topic_account) {
        Some(account) => account,
        None => {
            return Err(DecodeError::refused(
                "an SNS notification without a topic ARN",
                "a budget alert",
            ));
        }
    };
    let refused = |claim: String| DecodeError::refused(format!("account {sender}"), claim);
    let message_node = sns.req("Message", "the Budgets message text")?;
    let message = message_node.as_str()?;
    let subject = sns.opt_str("Subject")?.unwrap_or("");
    if !subject.contains("Budget") && !message.contains("AWS Budget") {
        return Err(refused(format!(
            "a message that is not an AWS Budgets alert (subject `{}`)",
            excerpt(subject)
        )));
    }
    let event_id = match sns.opt_str("MessageId")? {
        Some(id) => EventId::sns(id),
        None => EventId::sqs(message_id),
    };
    let alert = parse_message(
        message,
        message_node.path(),
        event_id,
        sns.opt_time("Timestamp")?,
    )
    .map_err(|error| refused(format!("an unreadable budget alert ({error})")))?;
    // an alert is taken only about the account that owns the topic
    if alert.account != sender {
        return Err(refused(format!(
            "a budget alert of account {}",
            alert.account
        )));
    }
    Ok(alert)
}

/// The account of an SNS topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`).
fn topic_account(arn: &str) -> Option<AccountId> {
    arn_of(arn, "sns").and_then(|(account, _name)| AccountId::parse(account))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn money(s: &str) -> Option<String> {
        parse_money(s).map(|m| m.to_string())
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(Amount::parse("80.12").unwrap().micros(), 80_120_000);
        assert_eq!(Amount::parse("1,234.5").unwrap().to_string(), "1234.50");
        assert_eq!(Amount::parse("100").unwrap().to_string(), "100.00");
        assert_eq!(Amount::parse(".5").unwrap().to_string(), "0.50");
        assert_eq!(Amount::parse("0.125").unwrap().to_string(), "0.125");
        assert_eq!(Amount::parse("-3").unwrap().to_string(), "-3.00");
        for bad in ["", ".", "1.2.3", "12a", "1.1234567", "9999999999999", "--1"] {
            assert_eq!(Amount::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn money_in_the_forms_budgets_may_write() {
        assert_eq!(money("$80.12").as_deref(), Some("80.12 USD"));
        assert_eq!(money("$1,234.56.").as_deref(), Some("1234.56 USD"));
        assert_eq!(money("USD 80.12").as_deref(), Some("80.12 USD"));
        assert_eq!(money("80.12 USD").as_deref(), Some("80.12 USD"));
        assert_eq!(money("€80.12").as_deref(), Some("80.12 EUR"));
        assert_eq!(money("80.12 €").as_deref(), Some("80.12 EUR"));
        assert_eq!(money("80.12"), None);
        assert_eq!(money("a lot"), None);
    }

    #[test]
    fn thresholds_absolute_or_percent() {
        assert_eq!(
            parse_threshold("> $75.00"),
            Some(Threshold::Absolute(parse_money("$75").unwrap()))
        );
        assert_eq!(
            parse_threshold(">= 80%"),
            Some(Threshold::Percentage(Amount::parse("80").unwrap()))
        );
        assert_eq!(
            parse_threshold("> 80.00 %"),
            Some(Threshold::Percentage(Amount::parse("80").unwrap()))
        );
        assert_eq!(parse_threshold("> soon"), None);
    }

    const FORECASTED: &str = "AWS Budget Notification November 21, 2026\r\n\
        AWS Account 222222222222\r\n\r\nDear AWS Customer,\r\n\r\n\
        You requested that we alert you when the FORECASTED Cost associated with your \
        team: sandbox budget is greater than 80.00% for the current month. The FORECASTED \
        Cost associated with this budget is $120.50. You can find additional details below.\r\n\r\n\
        Budget Name: team: sandbox\r\nBudget Type: Cost\r\nBudgeted Amount: $100.00\r\n\
        Alert Type: FORECASTED\r\nAlert Threshold: > 80.00%\r\nFORECASTED Amount: $120.50\r\n";

    #[test]
    fn forecasted_alert_with_percent_threshold_and_crlf() {
        let alert = parse_message(FORECASTED, "m", EventId::sqs("x"), None).unwrap();
        assert_eq!(alert.account.as_str(), "222222222222");
        assert_eq!(alert.budget_name, "team: sandbox");
        assert_eq!(alert.alert_type, AlertType::Forecasted);
        assert_eq!(alert.amount.to_string(), "120.50 USD");
        assert_eq!(alert.budgeted.unwrap().to_string(), "100.00 USD");
        assert_eq!(
            alert.threshold,
            Threshold::Percentage(Amount::parse("80").unwrap())
        );
        assert_eq!(alert.budget_type.as_deref(), Some("Cost"));
    }

    #[test]
    fn the_opening_sentence_is_a_fallback() {
        let text = "AWS Budget Notification\nAWS Account 222222222222\n\n\
            You requested that we alert you when the ACTUAL Cost associated with your \
            spa-budget budget is greater than $75.00 for the current month. The ACTUAL Cost \
            associated with this budget is $80.12. You can find additional details below.\n";
        let alert = parse_message(text, "m", EventId::sqs("x"), None).unwrap();
        assert_eq!(alert.budget_name, "spa-budget");
        assert_eq!(alert.alert_type, AlertType::Actual);
        assert_eq!(alert.amount.to_string(), "80.12 USD");
        assert_eq!(
            alert.threshold,
            Threshold::Absolute(parse_money("$75.00").unwrap())
        );
        assert_eq!(alert.budgeted, None);
    }

    #[test]
    fn a_message_without_account_names_what_is_missing() {
        let err = parse_message(
            "Budget Name: x\n",
            "Records[0].body.Message",
            EventId::sqs("x"),
            None,
        )
        .unwrap_err();
        assert_eq!(err.path(), Some("Records[0].body.Message"));
        assert!(err.to_string().contains("AWS Account"), "{err}");
    }
}
