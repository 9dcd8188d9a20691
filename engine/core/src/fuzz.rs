//! The checks behind the fuzz targets: arbitrary bytes into each parser of outside input
//! (the settings loader, the CSV overlay parser, the event decoders), and a panic when an
//! invariant breaks.
//!
//! The same functions run in two harnesses: `fuzz/fuzz_targets/*.rs` (cargo-fuzz, coverage
//! guided, `make fuzz`) and `engine/core/tests/core/fuzz_targets.rs` (bounded property tests and the
//! committed seeds and regressions, in `make test`). Each checks more than "no panic":
//!
//! - settings that load re-serialize (as the document `spa deploy` pushes) and load the same;
//!   every error has a place inside the file or a key path;
//! - a CSV overlay applied twice leaves the accounts as once; its errors name a row;
//! - an event decodes the same from its re-serialized JSON (its id is stable); an error about
//!   a field names its path; no error text shows an e-mail address in clear;
//! - a Slack request verifies only with the signature of its body, the right signature
//!   fails only for its time or size, and one changed byte of the body never verifies.
//!
//! Pure: no I/O, no clock.

use chrono::DateTime;

use crate::chatops::command::{Request, parse_form};
use crate::chatops::verify::{MAX_BODY, Rejection, sign, verify};
use crate::events::{self, DecodeError, Incoming, redact_emails};
use crate::settings::{self, Diagnostic, MemorySources, Place, Settings};

/// The settings file every check names.
const SETTINGS_FILE: &str = "settings.yaml";
/// The CSV overlay the settings of [`csv_overlay`] name.
const CSV_FILE: &str = "accounts.csv";
/// The CSV overlay the shipped `settings.yaml` names (a seed of [`settings`]).
const EXAMPLE_CSV_FILE: &str = "examples/accounts.csv";

/// A settings file that loads, naming one CSV overlay; the accounts it lists meet the rows.
pub const SETTINGS_WITH_OVERLAY: &str = "\
environment_identifier: SpaFuzz
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
accounts_csv: [accounts.csv]
defaults:
  preparation:
    feature: enabled
  purge:
    feature: enabled
  account_tags:
    team: sandbox
accounts:
  - identifier: '210987654321'
    note: from the settings file
    account_tags:
      owner: yaml
";

/// A CSV overlay that applies cleanly, offered to settings files that name `accounts.csv`.
pub const OVERLAY: &str = "\
Account,Note,Holder,Budget,Cost center,Tag: owner,Preparation: BUDGET_NAME,Purge: MAXIMUM_AGE
123456789012,,alice@example.com,500,FIN-1,alice,AliceBudget,6M
210987654321,new one,,,,bob,,
";

/// YAML bytes into the settings loader (`accounts.csv` and `examples/accounts.csv`
/// readable as [`OVERLAY`]).
///
/// Settings that load, written as the JSON document `spa deploy` pushes (overlays applied,
/// `accounts_csv` emptied), load back equal; a refusal has at least one error, and each
/// error points inside the file or names a key path.
pub fn settings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_load(text, OVERLAY);
}

/// CSV bytes as the overlay of [`SETTINGS_WITH_OVERLAY`], and into the overlay parser alone.
///
/// The overlay applied a second time changes nothing (rows overlay, they never add twice);
/// its errors name a row of the file; settings with the overlay applied re-serialize and
/// load the same, as in [`settings`].
pub fn csv_overlay(data: &[u8]) {
    let Ok(csv) = std::str::from_utf8(data) else {
        return;
    };
    let mut accounts = Vec::new();
    let errors = settings::overlay::overlay(CSV_FILE, csv, &mut accounts);
    let lines = line_count(csv);
    for error in &errors {
        assert!(error.is_error(), "an overlay returns errors only: {error}");
        check_place(error, CSV_FILE, lines);
    }
    let once = accounts.clone();
    let again = settings::overlay::overlay(CSV_FILE, csv, &mut accounts);
    assert_eq!(again, errors, "the same rows give the same errors");
    assert_eq!(
        accounts, once,
        "an overlay applied twice changes more than once"
    );

    check_load(SETTINGS_WITH_OVERLAY, csv);
}

/// What a Lambda function may be handed, as bytes, into [`events::decode`].
///
/// A decoded event decodes the same from its re-serialized JSON (key order, spacing and
/// escapes do not move its id); an error names the JSON path of a field when it is about
/// one, and shows no e-mail address in clear.
pub fn events(data: &[u8]) {
    let decoded = events::decode(data);
    match &decoded {
        Ok(incoming) => {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
                panic!("decoded bytes that are not JSON: {incoming:?}");
            };
            let Ok(text) = serde_json::to_vec_pretty(&value) else {
                return;
            };
            let again = events::decode(&text);
            assert_eq!(
                again.as_ref(),
                Ok(incoming),
                "the same event, re-serialized, decodes differently"
            );
            check_records(incoming);
        }
        Err(error) => check_decode_error(error),
    }
}

/// Bytes as the body of one SQS record (a Budgets alert through SNS, or an account
/// command), so that the fuzzer reaches the body decoders without escaping JSON in JSON.
///
/// The same checks as [`events`]; a body that fails to decode fails only its own record.
pub fn sqs_body(data: &[u8]) {
    let body = String::from_utf8_lossy(data);
    let batch = serde_json::json!({
        "Records": [
            {
                "messageId": "0b8b1f4e-0000-4000-8000-000000000001",
                "receiptHandle": "AQEB",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:SpaFuzz-commands",
                "awsRegion": "eu-west-1"
            }
        ]
    });
    let Ok(bytes) = serde_json::to_vec(&batch) else {
        return;
    };
    match events::decode(&bytes) {
        Ok(Incoming::BudgetAlerts(_) | Incoming::Commands(_)) => events(&bytes),
        Ok(other) => panic!("an SQS batch decoded as something else: {other:?}"),
        Err(error) => {
            check_decode_error(&error);
            panic!("one bad body failed the whole batch instead of its record: {error}");
        }
    }
}

/// Loads `text` with `csv` readable as `accounts.csv` (and as `examples/accounts.csv`),
/// and checks what comes out.
fn check_load(text: &str, csv: &str) {
    let sources = MemorySources::new()
        .with(CSV_FILE, csv)
        .with(EXAMPLE_CSV_FILE, csv);
    match settings::load(SETTINGS_FILE, text, &sources) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                assert!(!warning.is_error(), "an error among warnings: {warning}");
            }
            check_reload(&loaded.settings);
        }
        Err(refused) => {
            assert!(
                !refused.errors.is_empty(),
                "settings refused without an error"
            );
            for error in &refused.errors {
                assert!(error.is_error(), "a warning among errors: {error}");
                let lines = if error.file == SETTINGS_FILE {
                    line_count(text)
                } else {
                    line_count(csv)
                };
                check_place(error, &error.file, lines);
            }
        }
    }
}

/// Settings as `spa deploy` pushes them (overlays applied, JSON) load back the same.
fn check_reload(settings: &Settings) {
    let mut pushed = settings.clone();
    pushed.accounts_csv.clear();
    let text = match serde_json::to_string_pretty(&pushed) {
        Ok(text) => text,
        Err(error) => panic!("settings that loaded do not serialize: {error}"),
    };
    match settings::load("ssm:/SpaFuzz/settings", &text, &MemorySources::new()) {
        Ok(reloaded) => assert_eq!(
            reloaded.settings, pushed,
            "settings re-serialized load differently:\n{text}"
        ),
        Err(refused) => {
            panic!("settings that loaded are refused once re-serialized:\n{refused}\n{text}")
        }
    }
}

/// An error points inside its file (line and column from 1, a line that exists) or names a key path.
fn check_place(diagnostic: &Diagnostic, file: &str, lines: u64) {
    assert_eq!(diagnostic.file, file, "{diagnostic}");
    assert!(!diagnostic.message.is_empty(), "an error without a message");
    match &diagnostic.place {
        Place::Text { line, column } => {
            assert!(*line >= 1 && *column >= 1, "position from 0: {diagnostic}");
            assert!(
                u64::from(*line) <= lines,
                "line {line} past the end of the file ({lines} lines): {diagnostic}"
            );
        }
        Place::Cell { row, column } => {
            assert!(*row >= 1, "row 0: {diagnostic}");
            assert!(
                *row <= lines,
                "row {row} past the end ({lines} lines): {diagnostic}"
            );
            assert!(
                !column.is_empty(),
                "a cell without its column: {diagnostic}"
            );
        }
        Place::File => {}
    }
}

/// Lines of a text as YAML and editors count them: `\n`, `\r\n` and a lone `\r` each end
/// a line (the last line counts without its break; a position just after a final break
/// is on the line that follows).
fn line_count(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    u64::try_from(breaks).unwrap_or(u64::MAX).saturating_add(1)
}

fn check_records(incoming: &Incoming) {
    match incoming {
        Incoming::BudgetAlerts(batch) => {
            for record in &batch.records {
                if let Err(error) = &record.alert {
                    check_decode_error(error);
                }
            }
        }
        Incoming::Commands(batch) => {
            for record in &batch.records {
                if let Err(error) = &record.command {
                    check_decode_error(error);
                }
            }
        }
        Incoming::Outbox(batch) => {
            for record in &batch.records {
                if let Err(error) = &record.event {
                    check_decode_error(error);
                }
            }
        }
        _ => {}
    }
}

fn check_decode_error(error: &DecodeError) {
    let text = error.to_string();
    assert!(!text.is_empty(), "an error without a message");
    assert_eq!(
        redact_emails(&text),
        text,
        "an error shows an e-mail address in clear"
    );
    match error {
        DecodeError::Missing { path, .. }
        | DecodeError::Invalid { path, .. }
        | DecodeError::UnknownJob { path, .. }
        | DecodeError::UnknownReport { path, .. } => {
            assert!(
                !path.is_empty(),
                "an error about a field without its path: {error}"
            );
        }
        DecodeError::Json { line, .. } => assert!(*line >= 1, "JSON error on line 0: {error}"),
        _ => {}
    }
}

/// The signing secret of [`slack_request`] (Slack's documentation example).
pub const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
/// The instant [`slack_request`] verifies at (2026-11-21 12:00:00 UTC).
pub const SLACK_NOW: i64 = 1_795_348_800;

/// A Slack request: the first line is the timestamp header, the second the signature
/// header (an empty line: the header is absent), the rest the body, verified at
/// [`SLACK_NOW`] with [`SLACK_SECRET`].
///
/// A request verifies only when its signature is the body's; the body signed right fails
/// only for its timestamp or its size (never as a mismatch); one byte of the body
/// changed after signing never verifies. A body that verifies parses as a slash command
/// or is refused, and its text reads as a request, without a panic.
pub fn slack_request(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().map(String::from_utf8_lossy);
    let signature = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    let timestamp = timestamp.as_deref().filter(|t| !t.is_empty());
    let signature = signature.as_deref().filter(|s| !s.is_empty());
    let Some(now) = DateTime::from_timestamp(SLACK_NOW, 0) else {
        return;
    };

    if let Ok(verified) = verify(SLACK_SECRET, timestamp, signature, body, now) {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            panic!("verified without both headers");
        };
        let expected = sign(SLACK_SECRET, timestamp.trim(), body);
        assert_eq!(
            signature.trim().to_ascii_lowercase(),
            expected,
            "verified a signature that is not the body's"
        );
        assert_eq!(format!("v0={}", verified.signature), expected);
    }

    // the same body, signed right
    let timestamp = timestamp.unwrap_or("1795348800");
    let signed = sign(SLACK_SECRET, timestamp.trim(), body);
    match verify(SLACK_SECRET, Some(timestamp), Some(&signed), body, now) {
        Ok(_) => {
            if let Some(last) = body.len().checked_sub(1) {
                let mut tampered = body.to_vec();
                tampered[last] ^= 0x01;
                assert_eq!(
                    verify(SLACK_SECRET, Some(timestamp), Some(&signed), &tampered, now),
                    Err(Rejection::Mismatch),
                    "a changed body verified with the original signature"
                );
            }
            if let Ok(command) = parse_form(body, None) {
                if let Request::Unknown(shown) = Request::parse(&command.text) {
                    assert!(
                        shown.chars().count() <= 101,
                        "an echo of {} characters",
                        shown.chars().count()
                    );
                }
                let url = command.response_url.expose();
                let shown = [
                    &command.command,
                    &command.text,
                    &command.user_id,
                    &command.team_id,
                    &command.channel_id,
                ];
                if !shown.iter().any(|field| field.contains(url)) {
                    assert!(
                        !format!("{command:?}").contains(url),
                        "a slash command shows its response URL in logs"
                    );
                }
            }
        }
        Err(Rejection::Mismatch) => panic!("the body's own signature does not match"),
        Err(Rejection::TooLarge) => assert!(body.len() > MAX_BODY),
        Err(Rejection::MissingTimestamp | Rejection::MissingSignature) => {
            panic!("both headers were given")
        }
        Err(Rejection::GarbledSignature) => panic!("the signature made by `sign` is garbled"),
        Err(Rejection::GarbledTimestamp | Rejection::Stale | Rejection::Future) => {}
    }
}
