//! The outbox: the domain events of a turn, written in the same write that ends it,
//! and put on the bus by the `relay` function from the table's stream.
//!
//! A transition used to publish its events itself, one `PutEvents` a transition,
//! before it ended its turn: a delivery that died in between published them again.
//! Now the events are items of the transactions table, written in the one
//! `TransactWriteItems` that ends the turn (all or nothing with the state change),
//! and the table's stream hands every new one to the `relay` function, which puts
//! ten on the bus a call ([`PUT_EVENTS_AT_MOST`]).
//!
//! | item | `pk` | `sk` | more |
//! |---|---|---|---|
//! | an event to relay | `outbox#<account>/<event key>` | `event` | `event`: the event's detail as it goes on the bus (JSON), `expires` |
//!
//! The item of one event is always the same (its key is the event's, its `expires`
//! follows the event's time): a delivery that resumes a turn writes it again
//! unchanged, and DynamoDB writes no stream record for a write that changes nothing.
//! The event source mapping lets through new items of this prefix only
//! ([`stream_filter`]).
//!
//! Only spa's own roles write the table: what the relay reads is spa's, never a
//! holder's. It still decodes every record as an event of spa's vocabulary.

use chrono::{SecondsFormat, TimeDelta};
use serde_json::{Value, json};

use super::domain::{self, DomainEvent, SOURCE};
use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{Node, excerpt};

/// The partition key prefix of an event to relay.
pub const OUTBOX_PREFIX: &str = "outbox#";
/// The sort key of an event to relay.
pub const OUTBOX_SORT: &str = "event";
/// The attribute that holds the event's detail (JSON).
pub const OUTBOX_EVENT: &str = "event";
/// How long an event stays in the outbox after its time: long past the stream's
/// 24 hours, so that the relay reads every one before the TTL removes it.
pub const OUTBOX_KEPT: TimeDelta = TimeDelta::days(2);
/// The `eventSource` of a DynamoDB stream record.
pub const STREAM_SOURCE: &str = "aws:dynamodb";
/// Entries of one `PutEvents` call, at most (the EventBridge quota).
pub const PUT_EVENTS_AT_MOST: usize = 10;

/// The partition key of the item of `event`: its account and key, which every
/// publication of it shares (a key is one event of one account: the purge notices
/// of one instant share theirs across accounts); an event without one (none is
/// written in a turn) is named by what it is and when.
pub fn outbox_key(event: &DomainEvent) -> String {
    match &event.key {
        Some(key) => format!("{OUTBOX_PREFIX}{}/{key}", event.account),
        None => format!(
            "{OUTBOX_PREFIX}{}/{}/{}",
            event.account,
            event.label,
            event.at.to_rfc3339_opts(SecondsFormat::Micros, true)
        ),
    }
}

/// What the item of `event` holds: its detail as it goes on the bus.
pub fn outbox_detail(event: &DomainEvent) -> String {
    event.to_entry().detail
}

/// When the item of `event` expires (epoch seconds, the TTL attribute): a function
/// of the event only, so that writing it again changes nothing.
pub fn outbox_expires(event: &DomainEvent) -> i64 {
    (event.at + OUTBOX_KEPT).timestamp()
}

/// The filter of the relay's event source mapping: new items of the outbox only
/// (every other write of the table, and the TTL's removals, never invoke it).
pub fn stream_filter() -> Value {
    json!({
        "eventName": ["INSERT"],
        "dynamodb": { "Keys": { "pk": { "S": [{ "prefix": OUTBOX_PREFIX }] } } }
    })
}

/// The stream record of a new outbox item, as Lambda hands it to the relay (the
/// local runtime plays the event source mapping with it).
pub fn stream_record(event: &DomainEvent, sequence: &str, region: &str, stream_arn: &str) -> Value {
    let keys = json!({ "pk": { "S": outbox_key(event) }, "sk": { "S": OUTBOX_SORT } });
    let mut image = keys.clone();
    image[OUTBOX_EVENT] = json!({ "S": outbox_detail(event) });
    image["expires"] = json!({ "N": outbox_expires(event).to_string() });
    json!({
        "eventID": sequence,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": STREAM_SOURCE,
        "awsRegion": region,
        "dynamodb": {
            "ApproximateCreationDateTime": event.at.timestamp(),
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": sequence,
            "SizeBytes": 256,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": stream_arn
    })
}

/// A batch of the table's stream, as the relay is handed it; each record decoded on
/// its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxBatch {
    /// In stream order.
    pub records: Vec<OutboxRecord>,
}

/// One record of the stream and the event it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The record's `SequenceNumber`: reported in `batchItemFailures`, the stream
    /// is read again from there.
    pub sequence: Option<String>,
    /// The event.
    pub event: Result<DomainEvent, DecodeError>,
}

/// Whether a batch of `Records` comes from a DynamoDB stream.
pub(crate) fn is_outbox_batch(root: &Node<'_>) -> bool {
    let Ok(records) = root.array("Records", "an array of records") else {
        return false;
    };
    records.first().is_some_and(|first| match first.value() {
        Value::Object(map) => map.get("eventSource").and_then(Value::as_str) == Some(STREAM_SOURCE),
        _ => false,
    })
}

pub(crate) fn decode_batch(root: &Node<'_>) -> Result<OutboxBatch, DecodeError> {
    let records = root.array("Records", "an array of DynamoDB stream records")?;
    Ok(OutboxBatch {
        records: records
            .iter()
            .map(|record| {
                let dynamodb = record.opt_obj("dynamodb").ok().flatten();
                OutboxRecord {
                    sequence: dynamodb
                        .as_ref()
                        .and_then(|d| d.opt_str("SequenceNumber").ok().flatten())
                        .map(str::to_owned),
                    event: decode_record(record),
                }
            })
            .collect(),
    })
}

const EXPECTED_KEY: &str = "an outbox key (`outbox#...`)";
const EXPECTED_EVENT: &str = "one of spa's events (its detail as JSON)";

fn decode_record(record: &Node<'_>) -> Result<DomainEvent, DecodeError> {
    let source = record.str("eventSource")?;
    if source != STREAM_SOURCE {
        return Err(record
            .req("eventSource", STREAM_SOURCE)?
            .invalid(STREAM_SOURCE));
    }
    let image = record.obj("dynamodb")?.obj("NewImage")?;
    let pk = image.obj("pk")?.str("S")?;
    if !pk.starts_with(OUTBOX_PREFIX) {
        return Err(DecodeError::invalid(
            format!("{}.pk.S", image.path()),
            EXPECTED_KEY,
            format!("\"{}\"", excerpt(pk)),
        ));
    }
    let held = image.obj(OUTBOX_EVENT)?.req("S", EXPECTED_EVENT)?;
    let detail: Value = serde_json::from_str(held.as_str()?)
        .map_err(|e| DecodeError::invalid(held.path(), EXPECTED_EVENT, excerpt(&e.to_string())))?;
    let fields = Node::root(&detail, held.path());
    let label = fields
        .req("label", "a spa label (AccountVended, ...)")?
        .as_str()?;
    let account = fields.account("account")?;
    let at = fields.time("at")?;
    // the envelope EventBridge would wrap it in, so that it decodes as a delivered
    // event of spa does: one decoder, one vocabulary
    let envelope = json!({
        "id": "outbox",
        "source": SOURCE,
        "detail-type": label,
        "account": account.as_str(),
        "time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": "outbox",
        "detail": detail,
    });
    let root = Node::root(&envelope, held.path());
    let envelope = Envelope::parse(&root)?;
    domain::decode(&envelope).map(|spa| spa.event)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::events::{Incoming, decode_value};
    use crate::lifecycle::State;
    use crate::vocabulary::{AccountId, Label};

    fn event() -> DomainEvent {
        DomainEvent::new(
            Label::AccountExpired,
            "SpaDemo",
            AccountId::parse("123456789012").unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
        )
        .with_transition(Some(State::Assigned), Some(State::Expired))
        .with_holder("alice@example.com")
        .with_fact("trigger", "maintenance-window")
        .keyed("window-1/123456789012")
    }

    fn batch(records: Vec<Value>) -> Value {
        json!({ "Records": records })
    }

    #[test]
    fn an_event_goes_through_the_stream_as_it_was_written() {
        let event = event();
        let record = stream_record(&event, "100", "eu-west-1", "arn:stream");
        match decode_value(&batch(vec![record])).unwrap() {
            Incoming::Outbox(batch) => {
                assert_eq!(batch.records.len(), 1);
                assert_eq!(batch.records[0].sequence.as_deref(), Some("100"));
                let back = batch.records[0].event.clone().unwrap();
                assert_eq!(back, event);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_item_of_an_event_is_the_same_every_time_it_is_written() {
        let event = event();
        assert_eq!(
            outbox_key(&event),
            "outbox#123456789012/window-1/123456789012/AccountExpired"
        );
        assert_eq!(outbox_expires(&event), outbox_expires(&event.clone()));
        assert_eq!(outbox_detail(&event), outbox_detail(&event.clone()));
    }

    #[test]
    fn a_record_that_is_not_an_event_of_spa_fails_alone_and_says_where() {
        let good = stream_record(&event(), "1", "eu-west-1", "arn:stream");
        let mut foreign = good.clone();
        foreign["dynamodb"]["NewImage"]["pk"]["S"] = json!("writer#123456789012");
        let mut forged = good.clone();
        forged["dynamodb"]["NewImage"]["event"]["S"] = json!(
            r#"{"label":"NoSuchLabel","account":"123456789012","at":"2026-12-07T10:00:00Z"}"#
        );
        let mut timeless = good.clone();
        timeless["dynamodb"]["NewImage"]["event"]["S"] =
            json!(r#"{"label":"AccountExpired","account":"123456789012"}"#);
        let mut broken = good.clone();
        broken["dynamodb"]["NewImage"]["event"]["S"] = json!("{not json");
        let mut queued = good.clone();
        queued["eventSource"] = json!("aws:sqs");
        let Incoming::Outbox(batch) = decode_value(&batch(vec![
            good, foreign, forged, broken, timeless, queued,
        ]))
        .unwrap() else {
            panic!("not an outbox batch");
        };
        assert!(batch.records[0].event.is_ok());
        let errors: Vec<String> = batch.records[1..]
            .iter()
            .map(|r| r.event.clone().unwrap_err().to_string())
            .collect();
        assert!(errors[0].contains("outbox key"), "{}", errors[0]);
        assert!(errors[1].contains("label"), "{}", errors[1]);
        assert!(
            errors[2].contains("Records[3].dynamodb.NewImage.event.S"),
            "{}",
            errors[2]
        );
        assert!(
            errors[3].contains("Records[4].dynamodb.NewImage.event.S.at"),
            "{}",
            errors[3]
        );
        assert_eq!(
            errors[4],
            "wrong field `Records[5].eventSource`: expected aws:dynamodb, found a string \"aws:sqs\""
        );
    }

    #[test]
    fn the_filter_lets_new_outbox_items_through_only() {
        let filter = stream_filter();
        assert_eq!(filter["eventName"], json!(["INSERT"]));
        assert_eq!(
            filter["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"],
            json!(OUTBOX_PREFIX)
        );
    }
}
