//! The relay: the events each turn wrote in the outbox, put on the bus.
//!
//! A transition writes its domain events with the end of its turn, in the same
//! `TransactWriteItems` as its activity records and deadlines
//! ([`TurnWrites::events`](crate::ports::TurnWrites::events)); the table's stream
//! hands every new outbox item to the `relay` function, which puts them on the bus in
//! stream order, [`PUT_EVENTS_AT_MOST`] a call.
//!
//! *Any step may be the last*: the stream is read again from the first record the
//! relay reports in `batchItemFailures` (its sequence number), so a batch that fails
//! half-way puts the rest on the bus at the next try and never an event twice but
//! those of the call that failed (whoever reacts to an event dedupes on its key). A
//! record that does not decode cannot get better by a retry: it is logged with its
//! sequence number, counted (`OutboxUndecodable`) and passed over, so that it does
//! not hold the events behind it (only spa writes the outbox: such a record is a bug).

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::dispatch::Dispatched;
use super::error::{Context, UseCaseError};
use crate::ports::{Bus, Platform};
use spa_core::events::{DomainEvent, OutboxBatch, PUT_EVENTS_AT_MOST};

/// Puts the events of a batch of the outbox's stream on the bus (see the module).
pub async fn on_outbox<P: Platform>(
    engine: &Engine<'_, P>,
    batch: &OutboxBatch,
) -> Result<Dispatched, UseCaseError> {
    let mut events: Vec<(Option<&str>, &DomainEvent)> = Vec::new();
    for record in &batch.records {
        match &record.event {
            Ok(event) => events.push((record.sequence.as_deref(), event)),
            Err(error) => {
                tracing::error!(sequence = record.sequence.as_deref(), %error, "a record of the outbox does not decode: passed over");
                engine.count_trouble("OutboxUndecodable");
            }
        }
    }
    let bus = engine.platform().bus();
    let mut dispatched = Dispatched::default();
    for chunk in events.chunks(PUT_EVENTS_AT_MOST) {
        let put: Vec<DomainEvent> = chunk.iter().map(|(_, event)| (*event).clone()).collect();
        let published = engine
            .retry()
            .run("relay the outbox", || bus.publish(&put))
            .await;
        if let Err(error) = published {
            engine.count_trouble("RelayFailed");
            let first = chunk.first().and_then(|(sequence, _)| *sequence);
            tracing::error!(sequence = first, events = chunk.len(), %error, "events of the outbox could not be put on the bus: the stream is read again from the first of them");
            let Some(first) = first else {
                return Err(UseCaseError::port(Context::step("relay the outbox"), error));
            };
            dispatched.batch_item_failures.push(first.to_owned());
            return Ok(dispatched);
        }
        // one outcome per account, its events in order
        for (_, event) in chunk {
            let known = dispatched
                .outcomes
                .iter_mut()
                .find(|o| o.account.as_ref() == Some(&event.account));
            match known {
                Some(outcome) => outcome.events.push(event.label),
                None => {
                    let cause = event.key.clone().unwrap_or_default();
                    let mut outcome = Outcome::new(cause, Some(&event.account), Verdict::Relayed);
                    outcome.events.push(event.label);
                    dispatched.outcomes.push(outcome);
                }
            }
        }
    }
    Ok(dispatched)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    use crate::context::Engine;
    use crate::handler::handle;
    use crate::ports::PortError;
    use crate::ports::memory::{MemoryOrganization, MemoryPlatform};
    use crate::retry::Retry;
    use spa_core::events::{AccountId, DomainEvent, Label, stream_record};
    use spa_core::rules::Function;

    fn event(n: usize) -> DomainEvent {
        DomainEvent::new(
            Label::AccountPurged,
            "SpaDemo",
            AccountId::parse(&format!("4{n:011}")).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
        )
        .keyed(&format!("build-{n}"))
    }

    /// The stream batch Lambda hands the relay: `n` events, sequence numbers 1..=n.
    fn batch(n: usize) -> Value {
        let records: Vec<Value> = (1..=n)
            .map(|i| stream_record(&event(i), &i.to_string(), "eu-west-1", "arn:stream"))
            .collect();
        json!({ "Records": records })
    }

    fn platform() -> MemoryPlatform {
        let start = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 5).unwrap();
        MemoryPlatform::new(MemoryOrganization::new(), start)
    }

    #[tokio::test]
    async fn twenty_five_events_are_three_calls_in_stream_order_and_nothing_to_retry() {
        let platform = platform();
        let settings = crate::tests::settings();
        let engine = Engine::new(&platform, &settings).unwrap();
        let handled = handle(&engine, Some(Function::Relay), &batch(25))
            .await
            .unwrap();
        assert_eq!(handled.response(), json!({ "batchItemFailures": [] }));
        assert_eq!(platform.bus.calls.of("publish"), 3);
        let published = platform.bus.published();
        assert_eq!(published, (1..=25).map(event).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_call_that_fails_sends_the_stream_back_to_its_first_event_and_no_further() {
        let platform = platform();
        let settings = crate::tests::settings();
        let engine = Engine::new(&platform, &settings)
            .unwrap()
            .with_retry(Retry::immediate(1));
        // the first ten go on the bus, the second call fails
        platform.bus.faults.fail_after(
            "publish",
            1,
            PortError::Unavailable {
                service: "events".into(),
                message: "throttled".into(),
            },
            10,
        );
        let handled = handle(&engine, Some(Function::Relay), &batch(25))
            .await
            .unwrap();
        // Lambda reads the stream again from event 11: none of the first ten twice
        assert_eq!(
            handled.response(),
            json!({ "batchItemFailures": [{ "itemIdentifier": "11" }] })
        );
        assert_eq!(platform.bus.published().len(), 10);
        assert_eq!(engine.troubles().get("RelayFailed"), Some(&1));
    }

    #[tokio::test]
    async fn a_record_that_does_not_decode_is_passed_over_and_counted() {
        let platform = platform();
        let settings = crate::tests::settings();
        let engine = Engine::new(&platform, &settings).unwrap();
        let mut input = batch(3);
        input["Records"][1]["dynamodb"]["NewImage"]["event"]["S"] = json!("{broken");
        let handled = handle(&engine, Some(Function::Relay), &input)
            .await
            .unwrap();
        assert_eq!(handled.response(), json!({ "batchItemFailures": [] }));
        assert_eq!(platform.bus.published(), vec![event(1), event(3)]);
        assert_eq!(engine.troubles().get("OutboxUndecodable"), Some(&1));
    }
}
