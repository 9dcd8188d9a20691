//! [`Pace`]: spa's share of the management account's Organizations quota, kept by
//! every invocation of every function through one item of the transactions table.
//!
//! The quota belongs to the management account and is shared by every tool of the
//! organization (Control Tower, account factories, Identity Center): spa keeps to
//! `automation.organizations_rate` requests a second, however many of its functions
//! run at once. The item `pace#organizations` holds `next`, the instant (epoch
//! microseconds) of the next free slot. A request takes a slot with one conditional
//! `UpdateItem` (`next` as last seen → the slot + 1/rate); when another took it first,
//! the refusal carries the current `next` (`ReturnValuesOnConditionCheckFailure`) and
//! the take is tried again on it. Then the request waits for its slot.
//!
//! A slot further than `max_wait` away is not taken: the request fails as
//! unavailable (transient), so that the use case's retry, or the event's next
//! delivery, comes back later. No invocation queues past its budget, and at most
//! `rate × max_wait` slots are ever promised ahead.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::error::port_error;
use spa_usecases::ports::PortError;

const SERVICE: &str = "dynamodb";
/// Takes tried before the request is said throttled (each refused take means another
/// invocation took a slot: the quota is being used).
const ATTEMPTS: usize = 8;

/// Keeps spa's Organizations requests to a rate shared by every invocation.
#[derive(Debug)]
pub struct Pace {
    client: Client,
    table: String,
    key: String,
    interval_us: i64,
    max_wait: Duration,
    rate: u32,
    /// The `next` this process last saw (a good first guess for the next take).
    seen: Mutex<Option<i64>>,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl Pace {
    /// `rate` requests a second (at least 1) for `what` (`organizations`), kept in
    /// `table`; a request waits at most `max_wait` for its slot.
    pub fn new(client: Client, table: &str, what: &str, rate: u32, max_wait: Duration) -> Self {
        let rate = rate.max(1);
        Self {
            client,
            table: table.to_owned(),
            key: format!("pace#{what}"),
            interval_us: 1_000_000 / i64::from(rate),
            max_wait,
            rate,
            seen: Mutex::new(None),
        }
    }

    /// Takes the next slot and waits for it (see the module docs).
    pub async fn take(&self) -> Result<(), PortError> {
        let mut seen = *self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..ATTEMPTS {
            let now = now_us();
            let slot = seen.unwrap_or(now).max(now);
            let wait = slot - now;
            if wait > micros(self.max_wait) {
                return Err(self.throttled(wait));
            }
            let next = slot + self.interval_us;
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(self.key.clone()))
                .key("sk", AttributeValue::S("pace".into()))
                .update_expression("SET #n = :next")
                .expression_attribute_names("#n", "next")
                .expression_attribute_values(":next", AttributeValue::N(next.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            request = match seen {
                None => request.condition_expression("attribute_not_exists(#n)"),
                Some(seen) => request
                    .condition_expression("#n = :seen")
                    .expression_attribute_values(":seen", AttributeValue::N(seen.to_string())),
            };
            match request.send().await {
                Ok(_) => {
                    *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(next);
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_micros(wait.unsigned_abs())).await;
                    }
                    return Ok(());
                }
                Err(error) => match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                        // another invocation took a slot: try again on the current one
                        seen = refused
                            .item()
                            .and_then(|item| item.get("next"))
                            .and_then(|v| v.as_n().ok())
                            .and_then(|n| n.parse().ok());
                    }
                    _ => return Err(port_error(SERVICE, "UpdateItem", &self.table, error)),
                },
            }
        }
        Err(self.throttled(self.interval_us * ATTEMPTS as i64))
    }

    fn throttled(&self, wait_us: i64) -> PortError {
        PortError::Unavailable {
            service: "organizations".into(),
            message: format!(
                "spa's share of the Organizations quota ({} requests/s, `automation.organizations_rate`) is taken for the next {:.1} s: try again later",
                self.rate,
                wait_us as f64 / 1e6
            ),
        }
    }
}
