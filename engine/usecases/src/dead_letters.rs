//! The `dead-letters` function: every give-up surfaced as an exception (issue 8).
//!
//! Each record of a batch taken from one of the stack's dead-letter queues is
//! 1. **archived**, byte for byte as received, to the reports bucket under
//!    `dead-letters/<YYYY>/<MM>/<DD>/<queue>/<message id>.json` (the day the message
//!    was sent to the queue, so a redelivery writes the same key), where
//!    `spa handle <file>` replays it as is;
//! 2. **claimed** (`dead-letter:<message id>`), so that a redelivered record raises
//!    once;
//! 3. **raised** as `DeadLetter` through [`publish_claimed`]: an activity record of the
//!    account concerned (the automation account for a message that concerns none: a
//!    schedule run, an unreadable body) and the domain event, which the `exceptions`
//!    function turns into an incident, routed messages and the holder's e-mail.
//!
//! A lost `DeadLetter` exception (the `exceptions` function gave up on it) is archived
//! and recorded, never raised again: that would loop through the same function.
//!
//! A record whose archive, claim or raise fails is reported in `batchItemFailures`:
//! it stays in its queue and comes back after the visibility timeout (a dead-letter
//! queue keeps messages 14 days and has no dead-letter queue of its own). A record is
//! never acknowledged before it is archived.

use chrono::{DateTime, Datelike, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::dispatch::Dispatched;
use super::error::{Context, PortResultExt, UseCaseError};
use super::exceptions::publish_claimed;
use super::lease::{self, Taken};
use crate::ports::{Activity, Claims, Forwarding, Journal, Objects, Platform, PortError};
use spa_core::events::{
    AccountId, DeadLetterBatch, DeadLetterRecord, DomainEvent, Label, redact_emails,
};

/// The key prefix of archived dead letters in the reports bucket.
pub const ARCHIVE_PREFIX: &str = "dead-letters";

/// The archive key of a record: `dead-letters/<YYYY>/<MM>/<DD>/<queue>/<id>.json`.
pub fn archive_key(queue: &str, message_id: &str, sent_at: DateTime<Utc>) -> String {
    format!(
        "{ARCHIVE_PREFIX}/{:04}/{:02}/{:02}/{}/{}.json",
        sent_at.year(),
        sent_at.month(),
        sent_at.day(),
        key_part(queue, "queue"),
        key_part(message_id, "message"),
    )
}

/// Letters, digits, `-`, `_`, `.` only (an SQS message id is a UUID; a queue name is
/// letters, digits, `-`, `_`): nothing that makes another path.
fn key_part(text: &str, empty: &str) -> String {
    let part: String = text
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if part.is_empty() {
        empty.to_owned()
    } else {
        part
    }
}

/// A stable id for a record that has no `messageId` (never seen from Lambda): the
/// FNV-1a hash of its queue and body.
fn fallback_id(record: &DeadLetterRecord) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in record
        .dead_letter
        .queue
        .bytes()
        .chain([0])
        .chain(record.body.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("body-{hash:016x}")
}

/// Handles a batch taken from a dead-letter queue: archive, claim, raise, each record
/// on its own; the records to keep in the queue are in `batch_item_failures`.
pub async fn on_dead_letters<P: Platform>(
    engine: &Engine<'_, P>,
    batch: &DeadLetterBatch,
) -> Result<Dispatched, UseCaseError> {
    let mut dispatched = Dispatched::default();
    let mut unidentified = None;
    for record in &batch.records {
        match on_dead_letter(engine, record).await {
            Ok(outcome) => dispatched.outcomes.push(outcome),
            Err(error) => {
                tracing::error!(queue = record.dead_letter.queue, message = record.message_id.as_deref(), %error, "dead letter kept in its queue");
                match &record.message_id {
                    Some(id) => dispatched.batch_item_failures.push(id.clone()),
                    None => unidentified = Some(error),
                }
            }
        }
    }
    match unidentified {
        // only failing the whole batch brings a record without an id back
        Some(error) => Err(error),
        None => Ok(dispatched),
    }
}

/// Archives, claims and raises one dead letter.
pub async fn on_dead_letter<P: Platform>(
    engine: &Engine<'_, P>,
    record: &DeadLetterRecord,
) -> Result<Outcome, UseCaseError> {
    let platform = engine.platform();
    let letter = &record.dead_letter;
    let id = record
        .message_id
        .clone()
        .unwrap_or_else(|| fallback_id(record));
    let cause = format!("dead-letter:{id}");
    let account: AccountId = letter
        .account
        .clone()
        .unwrap_or_else(|| engine.settings().automation.account_id.clone());
    let context = |step| Context::step(step).account(&account).cause(&cause);
    let now = engine.now();
    let key = archive_key(&letter.queue, &id, record.sent_at.unwrap_or(now));

    let objects = platform.objects();
    engine
        .retry()
        .run("archive the dead letter", || {
            objects.put(&key, record.body.as_bytes().to_vec(), "application/json")
        })
        .await
        .within(|| context("archive the dead letter"))?;

    let store = platform.store();
    if lease::take(engine, &cause, || context("claim the dead letter")).await? == Taken::Seen {
        tracing::info!(%account, cause, "dead letter raised before: archived again, acknowledged");
        return Ok(Outcome::new(&cause, Some(&account), Verdict::Seen));
    }

    let archive = archive_reference(engine, &key);
    let error = letter
        .error
        .clone()
        .unwrap_or_else(|| "no error given (failed on every delivery)".to_owned());
    let reason = redact_emails(&format!(
        "gave up on {} after every retry (queue {}): {}; archived at {}, replay it with `spa handle`",
        letter.lost, letter.queue, error, archive
    ));
    let activity = Activity {
        at: now,
        account: account.clone(),
        label: Label::DeadLetter,
        from: None,
        to: None,
        detail: reason.clone(),
        cause: Some(cause.clone()),
    };
    if letter.about_a_dead_letter {
        // the `exceptions` function gave up on a DeadLetter: raising it again would
        // loop through the same function, so it is recorded (and archived) only
        let recorded = engine
            .retry()
            .run("record the dead letter", || store.record(&activity))
            .await
            .within(|| context("record the dead letter"));
        if recorded.is_ok() {
            tracing::error!(%account, cause, "a DeadLetter exception was itself dead-lettered: recorded and archived, not raised again");
        }
        let recorded = recorded.map(|()| Outcome::new(&cause, Some(&account), Verdict::Applied));
        return lease::end(engine, &cause, recorded).await;
    }
    let mut event = DomainEvent::new(
        Label::DeadLetter,
        engine.environment(),
        account.clone(),
        now,
    )
    .with_reason(&reason)
    .with_fact("queue", &letter.queue)
    .with_fact("lost", redact_emails(&letter.lost))
    .with_fact("error", redact_emails(&error))
    .with_fact("archive", &archive)
    .with_fact("message_id", &id);
    if letter.account.is_none() {
        event = event.with_fact("concerns", "no account: raised on the automation account");
    }
    match publish_claimed(engine, &cause, &cause, &activity, event, "the dead letter").await {
        Ok(_) => {
            let mut outcome = Outcome::new(&cause, Some(&account), Verdict::Applied);
            outcome.events.push(Label::DeadLetter);
            Ok(outcome)
        }
        Err(error) => {
            // publish_claimed releases the claim on a transient failure; on any
            // other the record stays in its queue too, so it must raise next time
            if !error.is_transient()
                && let Err(release) = store.release(&cause).await
            {
                tracing::error!(%account, cause, %release, "could not release the claim: the dead letter is not raised again until it is replayed");
                engine.count_trouble("ClaimsNotReleased");
            }
            Err(error)
        }
    }
}

/// Rounds of [`drain_forwarded`] in one sweep (10 messages each).
const DRAIN_ROUNDS: usize = 10;

/// Drains the management account's forwarding dead-letter queue
/// ([`Forwarding`]): each Organizations event EventBridge could not deliver to the
/// engine's bus is archived and raised as `DeadLetter` ([`on_dead_letter`]), then
/// deleted. A message that fails stays, and comes back after the queue's visibility
/// timeout; one already raised is archived again and acknowledged (its claim). A
/// queue that does not exist (the management stack not deployed, a local run) has
/// nothing to drain. Run by the sweeper.
pub async fn drain_forwarded<P: Platform>(
    engine: &Engine<'_, P>,
) -> Result<Vec<Outcome>, UseCaseError> {
    let forwarding = engine.platform().forwarding();
    let context = || Context::step("drain the forwarding dead-letter queue");
    let mut outcomes = Vec::new();
    for _ in 0..DRAIN_ROUNDS {
        let taken = match engine
            .retry()
            .run("take forwarded dead letters", || {
                forwarding.take_dead_letters(10)
            })
            .await
        {
            Ok(taken) => taken,
            Err(PortError::NotFound { .. }) => {
                tracing::info!("no forwarding dead-letter queue: nothing to drain");
                return Ok(outcomes);
            }
            Err(error) => return Err(UseCaseError::port(context(), error)),
        };
        if taken.is_empty() {
            break;
        }
        for letter in taken {
            match on_dead_letter(engine, &letter.record).await {
                Ok(outcome) => {
                    let deleted = engine
                        .retry()
                        .run("delete the forwarded dead letter", || {
                            forwarding.delete_dead_letter(&letter.receipt)
                        })
                        .await;
                    if let Err(error) = deleted {
                        // it comes back, is archived again and acknowledged
                        tracing::error!(%error, "a forwarded dead letter raised but not deleted");
                        engine.count_trouble("ForwardedNotDeleted");
                    }
                    outcomes.push(outcome);
                }
                Err(error) => {
                    tracing::error!(%error, "a forwarded dead letter could not be raised: it comes back");
                    engine.count_trouble("ForwardedNotRaised");
                }
            }
        }
    }
    Ok(outcomes)
}

/// `s3://<bucket>/<key>`, the bucket of the settings when they name one.
fn archive_reference<P: Platform>(engine: &Engine<'_, P>, key: &str) -> String {
    let bucket = engine
        .settings()
        .reporting
        .bucket
        .as_ref()
        .map_or("<reports bucket>", |b| b.as_str());
    format!("s3://{bucket}/{key}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn archive_keys_are_dated_by_the_sending_and_never_escape() {
        let at = DateTime::parse_from_rfc3339("2026-11-02T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            archive_key("SpaDemo-commands-dlq", "0f1e-22", at),
            "dead-letters/2026/11/02/SpaDemo-commands-dlq/0f1e-22.json"
        );
        assert_eq!(
            archive_key("../x", "a/../../b", at),
            "dead-letters/2026/11/02/___x/a_______b.json"
        );
        assert_eq!(
            archive_key("", "", at),
            "dead-letters/2026/11/02/queue/message.json"
        );
    }
}
