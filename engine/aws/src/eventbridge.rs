//! [`EventBridgeBus`]: the `Bus` port on EventBridge `PutEvents`.
//!
//! Entries are the domain events' own ([`DomainEvent::to_entry`]), put on the
//! engine's bus (name or ARN) in batches of 10; entries EventBridge refuses
//! (`FailedEntryCount`, per-entry `ErrorCode`) are put again with backoff (see
//! [`super::batch`]), and what still fails is one error saying how many and why.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;

use super::batch::{BatchCall, EntryFailure, send_in_batches};
use super::config::REFUSED_ENTRIES;
use super::error::port_error;
use spa_core::events::{DomainEvent, PutEventsEntry};
use spa_usecases::Retry;
use spa_usecases::ports::{Bus, PortError};

/// Entries of one `PutEvents` call, at most (EventBridge's quota, which the relay
/// also chunks by).
pub const BATCH: usize = spa_core::events::PUT_EVENTS_AT_MOST;

const CALL: BatchCall<'static> = BatchCall {
    service: "events",
    action: "PutEvents",
    size: BATCH,
};

/// The engine's event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
    retry: Retry,
}

impl EventBridgeBus {
    /// Puts events on `bus` (a name in this account, or an ARN).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            retry: REFUSED_ENTRIES,
        }
    }

    /// Another policy for refused entries.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The bus name or ARN.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Puts raw entries (events spa forwards as they are, the local router's replays).
    pub async fn put_entries(&self, entries: &[PutEventsEntry]) -> Result<(), PortError> {
        send_in_batches(CALL, entries, self.retry, |batch| self.put_batch(batch)).await
    }

    async fn put_batch(&self, batch: Vec<PutEventsEntry>) -> Result<Vec<EntryFailure>, PortError> {
        let entries: Vec<PutEventsRequestEntry> = batch
            .iter()
            .map(|entry| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(&entry.source)
                    .detail_type(&entry.detail_type)
                    .detail(&entry.detail)
                    .set_resources(Some(entry.resources.clone()).filter(|r| !r.is_empty()))
                    .time(DateTime::from_millis(entry.time.timestamp_millis()))
                    .build()
            })
            .collect();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| port_error(CALL.service, CALL.action, &self.bus, e))?;
        if output.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }
        let failures: Vec<EntryFailure> = output
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(index, result)| {
                result.error_code().map(|code| {
                    EntryFailure::new(index, code, result.error_message().unwrap_or_default())
                })
            })
            .collect();
        if failures.is_empty() {
            // a count without the failed entries: every entry is in doubt
            return Ok((0..batch.len())
                .map(|index| {
                    EntryFailure::new(
                        index,
                        "InternalFailure",
                        "failed entry without an error code",
                    )
                })
                .collect());
        }
        Ok(failures)
    }
}

impl Bus for EventBridgeBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        let entries: Vec<PutEventsEntry> = events.iter().map(DomainEvent::to_entry).collect();
        self.put_entries(&entries).await?;
        tracing::debug!(bus = %self.bus, events = events.len(), "events published");
        Ok(())
    }
}
