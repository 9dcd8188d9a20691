//! Dead letters: what spa gave up on after every retry, read back from a dead-letter
//! queue (issue 8: every give-up surfaced as an exception).
//!
//! A message in one of the stack's dead-letter queues (all named `...-dlq`) is the
//! original message as it was sent: an EventBridge event (rule and schedule targets,
//! Lambda asynchronous invocations), a command of the command queue, a budget alert
//! through SNS. [`DeadLetter::decode`] finds in it the account concerned (through the
//! decoders of those messages), what was lost, and the error its attributes give. It
//! never fails: a body nobody can read is still a dead letter ("unreadable message").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::json::Node;
use super::{Incoming, OrganizationsCall, OrganizationsEvent, decode_str, decode_value};
use crate::vocabulary::AccountId;
use crate::vocabulary::Label;

/// The suffix of the names of every dead-letter queue spa creates: the stack's (see
/// `spa_deploy::synth`) and the local runtime's (`spa_aws::sqs::ensure_queue`).
/// It is how a batch is known to come from a dead-letter queue
/// ([`Incoming::DeadLetters`]), so every such queue is named with it.
pub const DEAD_LETTER_QUEUE_SUFFIX: &str = "-dlq";

/// What is said of a body nobody can read.
pub const UNREADABLE: &str = "unreadable message";

/// The most characters of an error kept (attributes are the sender's text).
const MAX_ERROR_CHARS: usize = 500;

/// One message of a dead-letter queue, and what it says was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter queue's name (`SpaDemo-commands-dlq`).
    pub queue: String,
    /// The account the lost message concerned; `None` when it concerns none (a
    /// schedule run) or cannot be read.
    pub account: Option<AccountId>,
    /// What was lost, in a few words (`command \`expire\``, `budget alert`, ...).
    pub lost: String,
    /// Why it was given up, when the attributes say (EventBridge `ERROR_CODE`,
    /// `ERROR_MESSAGE`; Lambda `ErrorCode`, `ErrorMessage`).
    pub error: Option<String>,
    /// Whether the body was understood.
    pub readable: bool,
    /// Whether the lost message is itself a `DeadLetter` exception (the `exceptions`
    /// function gave up on it): raising it again could loop, so it is only recorded.
    pub about_a_dead_letter: bool,
}

impl DeadLetter {
    /// Reads a message taken from the dead-letter queue `queue_name`: `body` as it
    /// was received, `attributes` its message attributes (name → string value).
    pub fn decode(queue_name: &str, body: &str, attributes: &BTreeMap<String, String>) -> Self {
        let (account, lost, readable) = match what_was_lost(body) {
            Some((account, lost)) => (account, lost, true),
            None => (None, UNREADABLE.to_owned(), false),
        };
        let about_a_dead_letter = matches!(
            decode_str(body),
            Ok(Incoming::Spa(event)) if event.event.label == Label::DeadLetter
        );
        DeadLetter {
            queue: queue_name.to_owned(),
            account,
            lost,
            error: error_of(attributes),
            readable,
            about_a_dead_letter,
        }
    }
}

/// A Lambda SQS event taken from a dead-letter queue: each record read on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterBatch {
    /// The records, in order.
    pub records: Vec<DeadLetterRecord>,
}

/// One SQS record of a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRecord {
    /// The SQS `messageId` (kept when SQS moves a message to its dead-letter queue),
    /// to report the record in `batchItemFailures`.
    pub message_id: Option<String>,
    /// The body, byte for byte as received: what is archived and replayed.
    pub body: String,
    /// When the message was sent to the queue (`SentTimestamp`), stable across
    /// redeliveries.
    pub sent_at: Option<DateTime<Utc>>,
    /// What it says.
    pub dead_letter: DeadLetter,
}

/// The Lambda event that delivers an archived queue message again, when `message` is
/// the body of a queue message rather than a whole event: a bare account command (the
/// command queue's body) or an SNS notification (a budget alert) becomes a one-record
/// SQS batch, as the queue's event source mapping would hand it. `None`: `message` is
/// already an event (EventBridge, Scheduler input, SQS batch). So `spa handle` replays
/// an archived dead letter as is.
pub fn replay_event(message: &Value) -> Option<Value> {
    let Value::Object(map) = message else {
        return None;
    };
    let bare_command = map.contains_key("action") && map.contains_key("account");
    let notification = map.get("Type").and_then(Value::as_str) == Some("Notification");
    if !(bare_command || notification) || map.contains_key("Records") {
        return None;
    }
    Some(json!({"Records": [{
        "messageId": "replay",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:::replay",
        "body": message.to_string(),
        "attributes": {},
        "messageAttributes": {},
    }]}))
}

/// The queue name of an SQS ARN (`arn:aws:sqs:region:account:name`).
pub fn queue_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// Whether an SQS batch comes from a dead-letter queue: its first record's
/// `eventSourceARN` names a queue ending in `-dlq`.
pub(crate) fn is_dead_letter_batch(root: &Node<'_>) -> bool {
    let Ok(records) = root.array("Records", "an array of SQS records") else {
        return false;
    };
    records
        .first()
        .and_then(|first| first.value().get("eventSourceARN"))
        .and_then(Value::as_str)
        .is_some_and(|arn| queue_name(arn).ends_with(DEAD_LETTER_QUEUE_SUFFIX))
}

pub(crate) fn decode_batch(root: &Node<'_>) -> Result<DeadLetterBatch, super::error::DecodeError> {
    let records = root.array("Records", "an array of SQS records")?;
    Ok(DeadLetterBatch {
        records: records.iter().map(|r| record(r.value())).collect(),
    })
}

fn record(value: &Value) -> DeadLetterRecord {
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    let queue = text("eventSourceARN").map(queue_name).unwrap_or_default();
    let body = match value.get("body") {
        Some(Value::String(body)) => body.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let sent_at = value
        .get("attributes")
        .and_then(|a| a.get("SentTimestamp"))
        .and_then(Value::as_str)
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    let attributes = message_attributes(value.get("messageAttributes"));
    DeadLetterRecord {
        message_id: text("messageId")
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        dead_letter: DeadLetter::decode(queue, &body, &attributes),
        body,
        sent_at,
    }
}

/// Lambda's `messageAttributes` (`{"ERROR_CODE": {"stringValue": "...", ...}}`) as
/// name → string value; the SQS API's `StringValue` spelling is read too.
fn message_attributes(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(map)) = value else {
        return BTreeMap::new();
    };
    map.iter()
        .filter_map(|(name, attribute)| {
            let value = match attribute {
                Value::String(s) => Some(s.as_str()),
                other => other
                    .get("stringValue")
                    .or_else(|| other.get("StringValue"))
                    .and_then(Value::as_str),
            }?;
            Some((name.clone(), value.to_owned()))
        })
        .collect()
}

/// The error the attributes give: EventBridge's (`ERROR_CODE`, `ERROR_MESSAGE`,
/// `RULE_ARN`, `TARGET_ARN`) or Lambda's (`ErrorCode`, `ErrorMessage`, `RequestID`).
fn error_of(attributes: &BTreeMap<String, String>) -> Option<String> {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| attributes.get(*n))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let code = get(&["ERROR_CODE", "ErrorCode"]);
    let message = get(&["ERROR_MESSAGE", "ErrorMessage"]);
    let mut text = match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => return None,
    };
    let mut context = Vec::new();
    if let Some(rule) = get(&["RULE_ARN"]) {
        context.push(format!("rule {rule}"));
    }
    if let Some(target) = get(&["TARGET_ARN"]) {
        context.push(format!("target {target}"));
    }
    if let Some(request) = get(&["RequestID"]) {
        context.push(format!("request {request}"));
    }
    if !context.is_empty() {
        text.push_str(&format!(" ({})", context.join(", ")));
    }
    Some(truncate(&text, MAX_ERROR_CHARS))
}

fn truncate(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The account and what was lost, or `None` when the body cannot be read at all.
fn what_was_lost(body: &str) -> Option<(Option<AccountId>, String)> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if let Some(value) = &parsed
        && let Value::Object(map) = value
        && (map.contains_key("source")
            || map.contains_key("detail-type")
            || map.contains_key("job"))
    {
        return match decode_value(value) {
            Ok(incoming) => Some(described(&incoming)),
            Err(_) => leniently(value),
        };
    }
    // a command or a budget alert: as the record of an SQS batch of its queue
    let batch =
        json!({"Records": [{"messageId": "dead-letter", "eventSource": "aws:sqs", "body": body}]});
    if let Ok(incoming) = decode_value(&batch) {
        let readable = match &incoming {
            Incoming::Commands(batch) => batch.records.iter().all(|r| r.command.is_ok()),
            Incoming::BudgetAlerts(batch) => batch.records.iter().all(|r| r.alert.is_ok()),
            _ => true,
        };
        if readable {
            return Some(described(&incoming));
        }
    }
    parsed.as_ref().and_then(leniently)
}

/// What a message spa could not fully decode still says: an event's detail-type, a
/// command's action and account.
fn leniently(value: &Value) -> Option<(Option<AccountId>, String)> {
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    if let Some(detail_type) = text("detail-type") {
        let what = match text("source") {
            Some(source) => format!("{} event `{}`", bounded(source), bounded(detail_type)),
            None => format!("event `{}`", bounded(detail_type)),
        };
        return Some((None, what));
    }
    if let Some(action) = text("action") {
        let account = text("account").and_then(AccountId::parse);
        return Some((account, format!("command `{}`", bounded(action))));
    }
    if let Some(job) = text("job") {
        return Some((None, format!("scheduled job `{}`", bounded(job))));
    }
    // the relay's on-failure record: where in the table's stream, not the events
    // (they stay in the outbox until their TTL)
    if let Some(info) = value.get("DDBStreamBatchInfo") {
        let field = |key: &str| {
            info.get(key)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        return Some((
            None,
            format!(
                "{} event(s) of the outbox the relay could not put on the bus (stream sequence {} to {})",
                bounded(&field("batchSize")),
                bounded(&field("startSequenceNumber")),
                bounded(&field("endSequenceNumber"))
            ),
        ));
    }
    None
}

fn bounded(text: &str) -> String {
    truncate(text, 64)
}

fn described(incoming: &Incoming) -> (Option<AccountId>, String) {
    match incoming {
        Incoming::Organizations(event) => organizations(event),
        Incoming::Build(change) => (
            Some(change.account.clone()),
            format!("CodeBuild Build State Change ({})", change.status.as_str()),
        ),
        Incoming::ConsoleLogin(login) => (Some(login.account.clone()), "console sign-in".into()),
        Incoming::Spending(call) => (
            Some(call.account.clone()),
            format!("spending call `{}`", call.name),
        ),
        Incoming::Spa(event) => (
            Some(event.event.account.clone()),
            format!("spa event `{}`", event.event.label),
        ),
        Incoming::Scheduled(job) => (None, format!("scheduled job `{}`", job.job.as_str())),
        Incoming::Commands(batch) => batch
            .records
            .first()
            .and_then(|r| r.command.as_ref().ok())
            .map_or((None, UNREADABLE.to_owned()), |command| {
                (
                    Some(command.account.clone()),
                    format!("command `{}`", command.action.name()),
                )
            }),
        Incoming::BudgetAlerts(batch) => (
            batch
                .records
                .first()
                .and_then(|r| r.alert.as_ref().ok())
                .map(|alert| alert.account.clone()),
            "budget alert".to_owned(),
        ),
        Incoming::DeadLetters(_) => (None, "dead letter".to_owned()),
        Incoming::Outbox(batch) => (
            batch
                .records
                .first()
                .and_then(|r| r.event.as_ref().ok())
                .map(|event| event.account.clone()),
            format!("{} event(s) of the outbox", batch.records.len()),
        ),
    }
}

fn organizations(event: &OrganizationsEvent) -> (Option<AccountId>, String) {
    use super::CreateAccountOutcome as Created;
    let (name, account) = match &event.call {
        OrganizationsCall::CreateAccountResult(result) => (
            "CreateAccountResult",
            match &result.outcome {
                Created::Succeeded { account } => Some(account),
                Created::Failed { account, .. } => account.as_ref(),
            },
        ),
        OrganizationsCall::MoveAccount { account, .. } => ("MoveAccount", Some(account)),
        OrganizationsCall::TagResource { resource, .. } => ("TagResource", resource.account()),
        OrganizationsCall::UntagResource { resource, .. } => ("UntagResource", resource.account()),
        OrganizationsCall::CloseAccount { account } => ("CloseAccount", Some(account)),
        OrganizationsCall::RemoveAccountFromOrganization { account } => {
            ("RemoveAccountFromOrganization", Some(account))
        }
        OrganizationsCall::Failed(failed) => (failed.name.as_str(), failed.account.as_ref()),
    };
    (account.cloned(), format!("Organizations event `{name}`"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The reference events of `fixtures/events/`, embedded (a pure module reads no file, even in tests).
    fn fixture(name: &str) -> String {
        match name {
            "codebuild-build-state-change.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/codebuild-build-state-change.json"
            )),
            "organizations-close-account.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/organizations-close-account.json"
            )),
            "organizations-create-account-result.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/organizations-create-account-result.json"
            )),
            "organizations-move-account.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/organizations-move-account.json"
            )),
            "organizations-tag-resource.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/organizations-tag-resource.json"
            )),
            "organizations-untag-resource.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/organizations-untag-resource.json"
            )),
            "scheduler-maintenance-window.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/scheduler-maintenance-window.json"
            )),
            "signin-console-login-assumed-role.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/signin-console-login-assumed-role.json"
            )),
            "signin-console-login-iam-user.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/signin-console-login-iam-user.json"
            )),
            "signin-console-login-root.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/signin-console-login-root.json"
            )),
            "sqs-budget-alert.json" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/events/sqs-budget-alert.json"
            )),
            other => panic!("no fixture {other}"),
        }
        .to_owned()
    }

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_organizations_event_names_the_account_it_concerns_not_the_management_account() {
        let body = fixture("organizations-move-account.json");
        let letter = DeadLetter::decode("SpaDemo-delivery-dlq", &body, &none());
        let Ok(Incoming::Organizations(event)) = crate::events::decode_str(&body) else {
            panic!("fixture decodes");
        };
        let OrganizationsCall::MoveAccount { account, .. } = &event.call else {
            panic!("a move");
        };
        assert_eq!(letter.account.as_ref(), Some(account));
        assert_ne!(letter.account.as_ref(), Some(&event.record.account));
        assert_eq!(letter.lost, "Organizations event `MoveAccount`");
        assert!(letter.readable);
        assert_eq!(letter.error, None);
        assert_eq!(letter.queue, "SpaDemo-delivery-dlq");
    }

    #[test]
    fn every_event_fixture_is_read_with_its_account() {
        for name in [
            "codebuild-build-state-change.json",
            "organizations-close-account.json",
            "organizations-create-account-result.json",
            "organizations-tag-resource.json",
            "organizations-untag-resource.json",
            "signin-console-login-assumed-role.json",
            "signin-console-login-iam-user.json",
            "signin-console-login-root.json",
        ] {
            let letter = DeadLetter::decode("q-dlq", &fixture(name), &none());
            assert!(letter.readable, "{name}");
            assert!(letter.account.is_some(), "{name}: {letter:?}");
            assert_ne!(letter.lost, UNREADABLE, "{name}");
        }
        let sign_in =
            DeadLetter::decode("q-dlq", &fixture("signin-console-login-root.json"), &none());
        assert_eq!(sign_in.lost, "console sign-in");
    }

    #[test]
    fn a_schedule_run_concerns_no_account() {
        let letter = DeadLetter::decode(
            "SpaDemo-scheduler-dlq",
            &fixture("scheduler-maintenance-window.json"),
            &none(),
        );
        assert_eq!(letter.account, None);
        assert_eq!(letter.lost, "scheduled job `maintenance-window`");
        assert!(letter.readable);
    }

    #[test]
    fn a_command_names_its_account_and_action() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let command = crate::events::AccountCommand::new(
            "window-1",
            "SpaDemo",
            AccountId::parse("222222222222").unwrap(),
            crate::events::Action::Expire,
            at,
            "operator",
        );
        let letter = DeadLetter::decode("SpaDemo-commands-dlq", &command.to_json(), &none());
        assert_eq!(letter.account, AccountId::parse("222222222222"));
        assert_eq!(letter.lost, "command `expire`");
    }

    #[test]
    fn a_command_that_does_not_decode_still_names_its_account() {
        let body = r#"{"action": "explode", "account": "333333333333"}"#;
        let letter = DeadLetter::decode("SpaDemo-commands-dlq", body, &none());
        assert_eq!(letter.account, AccountId::parse("333333333333"));
        assert_eq!(letter.lost, "command `explode`");
    }

    #[test]
    fn a_budget_alert_names_the_budgets_account() {
        let batch: Value = serde_json::from_str(&fixture("sqs-budget-alert.json")).unwrap();
        let body = batch["Records"][0]["body"].as_str().unwrap();
        let letter = DeadLetter::decode("SpaDemo-BudgetAlerts-dlq", body, &none());
        assert_eq!(letter.account, AccountId::parse("222222222222"));
        assert_eq!(letter.lost, "budget alert");
    }

    #[test]
    fn eventbridge_attributes_give_the_error_rule_and_target() {
        let letter = DeadLetter::decode(
            "SpaDemo-delivery-dlq",
            &fixture("codebuild-build-state-change.json"),
            &attributes(&[
                ("ERROR_CODE", "SDK_CLIENT_ERROR"),
                ("ERROR_MESSAGE", "Unable to invoke Lambda function"),
                ("RULE_ARN", "arn:aws:events:eu-west-1:1:rule/SpaDemo/builds"),
                (
                    "TARGET_ARN",
                    "arn:aws:lambda:eu-west-1:1:function:SpaDemo-build-events",
                ),
                ("EXHAUSTED_RETRY_CONDITION", "MaximumRetryAttemptsExhausted"),
            ]),
        );
        let error = letter.error.unwrap();
        assert!(
            error.starts_with("SDK_CLIENT_ERROR: Unable to invoke Lambda function"),
            "{error}"
        );
        assert!(
            error.contains("rule arn:aws:events:eu-west-1:1:rule/SpaDemo/builds"),
            "{error}"
        );
        assert!(error.contains("target arn:aws:lambda"), "{error}");
    }

    #[test]
    fn lambda_attributes_give_the_error_and_request() {
        let letter = DeadLetter::decode(
            "SpaDemo-sign-ins-dlq",
            &fixture("signin-console-login-root.json"),
            &attributes(&[
                ("ErrorCode", "200"),
                ("ErrorMessage", "store unavailable\nafter 3 tries"),
                ("RequestID", "r-1"),
            ]),
        );
        assert_eq!(
            letter.error.as_deref(),
            Some("200: store unavailable after 3 tries (request r-1)")
        );
    }

    #[test]
    fn the_relays_give_up_says_where_in_the_stream_not_what() {
        // what Lambda sends to the relay's on-failure destination: the batch's place
        // in the table's stream, not its records (they stay in the outbox)
        let body = json!({
            "requestContext": {
                "requestId": "r-1",
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:SpaDemo-relay",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 11
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-12-07T10:00:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000001",
                "startSequenceNumber": "100",
                "endSequenceNumber": "112",
                "approximateArrivalOfFirstRecord": "2026-12-07T09:00:00Z",
                "approximateArrivalOfLastRecord": "2026-12-07T09:00:05Z",
                "batchSize": 13,
                "streamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/SpaDemo-Transactions/stream/2026"
            }
        })
        .to_string();
        let letter = DeadLetter::decode("SpaDemo-relay-dlq", &body, &none());
        assert!(letter.readable);
        assert_eq!(letter.account, None);
        assert_eq!(
            letter.lost,
            "13 event(s) of the outbox the relay could not put on the bus (stream sequence 100 to 112)"
        );
    }

    #[test]
    fn an_unreadable_body_is_still_a_dead_letter() {
        for body in [
            "",
            "not json",
            "{}",
            "[1,2]",
            "{\"Records\": 3}",
            "\u{0}\u{ffff}",
        ] {
            let letter = DeadLetter::decode("q-dlq", body, &none());
            assert_eq!(letter.account, None, "{body:?}");
            assert_eq!(letter.lost, UNREADABLE, "{body:?}");
            assert!(!letter.readable);
        }
    }

    #[test]
    fn a_batch_from_a_dead_letter_queue_is_recognized_by_its_queue() {
        let event = json!({"Records": [{
            "messageId": "m-1",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:111111111111:SpaDemo-commands-dlq",
            "body": "garbage",
            "attributes": {"SentTimestamp": "1795345200000"},
            "messageAttributes": {"ERROR_CODE": {"stringValue": "X", "dataType": "String"}},
        }]});
        let Ok(Incoming::DeadLetters(batch)) = decode_value(&event) else {
            panic!("a dead-letter batch");
        };
        let record = &batch.records[0];
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
        assert_eq!(record.body, "garbage");
        assert_eq!(record.dead_letter.queue, "SpaDemo-commands-dlq");
        assert_eq!(record.dead_letter.error.as_deref(), Some("X"));
        assert_eq!(
            record.sent_at,
            DateTime::from_timestamp_millis(1_795_345_200_000)
        );
        // the same body from the command queue itself is a command batch
        let mut live = event.clone();
        live["Records"][0]["eventSourceARN"] = json!("arn:aws:sqs:eu-west-1:1:SpaDemo-commands");
        assert!(!matches!(decode_value(&live), Ok(Incoming::DeadLetters(_))));
    }

    #[test]
    fn a_dead_letter_exception_that_was_lost_is_told_apart() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let account = AccountId::parse("222222222222").unwrap();
        let event = |label| {
            crate::events::DomainEvent::new(label, "SpaDemo", account.clone(), at)
                .to_entry()
                .delivered("e-1", &account, "eu-west-1")
                .unwrap()
                .to_string()
        };
        let lost = DeadLetter::decode("SpaDemo-exceptions-dlq", &event(Label::DeadLetter), &none());
        assert!(lost.about_a_dead_letter);
        assert_eq!(lost.lost, "spa event `DeadLetter`");
        let other = DeadLetter::decode(
            "SpaDemo-exceptions-dlq",
            &event(Label::BuildFailed),
            &none(),
        );
        assert!(!other.about_a_dead_letter);
        assert_eq!(other.account, Some(account));
    }

    #[test]
    fn long_errors_are_cut() {
        let long = "x".repeat(2_000);
        let letter = DeadLetter::decode("q-dlq", "", &attributes(&[("ErrorMessage", &long)]));
        assert_eq!(letter.error.unwrap().chars().count(), MAX_ERROR_CHARS);
    }
}
