//! Batch calls with per-entry results (EventBridge `PutEvents`, SQS
//! `SendMessageBatch`): items go in batches, the entries a call refused are sent again
//! with backoff (the policy [`REFUSED_ENTRIES`](super::config::REFUSED_ENTRIES), run
//! by [`Retry::resend`]), and what still fails makes one error that says how many and
//! why.
//!
//! The logic takes a closure that performs one batch call, so that it is tested
//! without any service.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;

use super::error::classify;
use spa_usecases::Retry;
use spa_usecases::ports::PortError;
use spa_usecases::retry::Unfinished;

/// One entry a batch call refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// Its position in the batch that was sent.
    pub index: usize,
    /// The service's error code.
    pub code: String,
    /// The service's message.
    pub message: String,
}

impl EntryFailure {
    /// A refused entry.
    pub fn new(index: usize, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            index,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What one batch call is about, for errors.
#[derive(Debug, Clone, Copy)]
pub struct BatchCall<'a> {
    /// `events`, `sqs`.
    pub service: &'a str,
    /// `PutEvents`, `SendMessageBatch`.
    pub action: &'a str,
    /// Largest batch the service takes.
    pub size: usize,
}

/// Sends `items` in batches of `call.size` with `send`, which performs one call and
/// returns the entries it refused (positions in the batch it was given). Refused
/// entries are sent again as `policy` says ([`Retry::resend`], the one retry
/// mechanism), up to `policy.attempts` sends each; an error of a whole call (after the
/// SDK's own retries) stops at once.
pub async fn send_in_batches<T, F, Fut>(
    call: BatchCall<'_>,
    items: &[T],
    policy: Retry,
    mut send: F,
) -> Result<(), PortError>
where
    T: Clone,
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryFailure>, PortError>>,
{
    let mut failed: Vec<EntryFailure> = Vec::new();
    for chunk in items.chunks(call.size.max(1)) {
        let pending = Refused {
            items: chunk.to_vec(),
            failures: Vec::new(),
        };
        let sent = policy
            .resend(call.action, pending, |pending: Refused<T>| {
                let reply = send(pending.items.clone());
                async move {
                    let failures = reply.await?;
                    let items: Vec<T> = failures
                        .iter()
                        .filter_map(|f| pending.items.get(f.index).cloned())
                        .collect();
                    if failures.is_empty() || items.is_empty() {
                        return Ok(ControlFlow::Break(()));
                    }
                    tracing::warn!(
                        service = call.service,
                        action = call.action,
                        refused = failures.len(),
                        "entries refused"
                    );
                    Ok(ControlFlow::Continue(Refused { items, failures }))
                }
            })
            .await;
        match sent {
            Ok(()) => {}
            Err(Unfinished::Failed(error)) => return Err(error),
            Err(Unfinished::Left(left)) => failed.extend(left.failures),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(summarize(call, items.len(), policy.attempts, &failed))
}

/// The entries of a batch still to send, and why the last call refused them.
#[derive(Debug, Clone)]
struct Refused<T> {
    items: Vec<T>,
    failures: Vec<EntryFailure>,
}

/// One error for every entry that still failed: how many, and each code's count and
/// first message. Transient codes only (throttling, internal errors): `Unavailable`.
fn summarize(
    call: BatchCall<'_>,
    total: usize,
    attempts: u32,
    failed: &[EntryFailure],
) -> PortError {
    let mut by_code: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for failure in failed {
        by_code
            .entry(failure.code.as_str())
            .or_insert((0, failure.message.as_str()))
            .0 += 1;
    }
    let reasons: Vec<String> = by_code
        .iter()
        .map(|(code, (count, message))| format!("{count} × {code}: {message}"))
        .collect();
    let message = format!(
        "{} of {total} entries still refused after {attempts} attempts ({})",
        failed.len(),
        reasons.join("; ")
    );
    let transient = by_code
        .keys()
        .all(|code| classify(call.service, call.action, "", code, String::new()).is_transient());
    if transient {
        PortError::Unavailable {
            service: call.service.to_owned(),
            message: format!("{}: {message}", call.action),
        }
    } else {
        PortError::Rejected {
            service: call.service.to_owned(),
            action: call.action.to_owned(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const CALL: BatchCall<'static> = BatchCall {
        service: "events",
        action: "PutEvents",
        size: 10,
    };

    fn quick(attempts: u32) -> Retry {
        Retry::immediate(attempts)
    }

    #[tokio::test]
    async fn items_go_in_batches_of_ten() {
        let items: Vec<u32> = (0..23).collect();
        let sizes = RefCell::new(Vec::new());
        let result = send_in_batches(CALL, &items, quick(3), |batch| {
            sizes.borrow_mut().push(batch.len());
            async { Ok(Vec::new()) }
        })
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(sizes.into_inner(), vec![10, 10, 3]);
    }

    #[tokio::test]
    async fn refused_entries_are_sent_again_until_accepted() {
        let items: Vec<u32> = (0..12).collect();
        let sent = RefCell::new(Vec::new());
        let result = send_in_batches(CALL, &items, quick(3), |batch: Vec<u32>| {
            let first = sent.borrow().is_empty();
            sent.borrow_mut().push(batch.clone());
            // the first call refuses entries 3 and 7 once
            let failures = if first {
                vec![
                    EntryFailure::new(3, "ThrottlingException", "slow down"),
                    EntryFailure::new(7, "InternalFailure", "oops"),
                ]
            } else {
                Vec::new()
            };
            async move { Ok(failures) }
        })
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(
            sent.into_inner(),
            vec![(0..10).collect::<Vec<_>>(), vec![3, 7], vec![10, 11]]
        );
    }

    #[tokio::test]
    async fn entries_refused_every_time_make_an_error_that_counts_them() {
        let items: Vec<u32> = (0..15).collect();
        let calls = RefCell::new(0);
        let result = send_in_batches(CALL, &items, quick(3), |batch: Vec<u32>| {
            *calls.borrow_mut() += 1;
            let failures: Vec<EntryFailure> = batch
                .iter()
                .enumerate()
                .filter(|(_, item)| **item % 5 == 0)
                .map(|(i, _)| EntryFailure::new(i, "ThrottlingException", "rate exceeded"))
                .collect();
            async move { Ok(failures) }
        })
        .await;
        // 0, 5, 10: 3 sends each; 2 batches → 6 calls
        assert_eq!(*calls.borrow(), 6);
        match result {
            Err(PortError::Unavailable { service, message }) => {
                assert_eq!(service, "events");
                assert!(
                    message.contains("3 of 15 entries still refused after 3 attempts"),
                    "{message}"
                );
                assert!(
                    message.contains("3 × ThrottlingException: rate exceeded"),
                    "{message}"
                );
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refusal_that_retries_cannot_cure_is_rejected() {
        let items = vec![1u32];
        let result = send_in_batches(CALL, &items, quick(2), |_| async {
            Ok(vec![EntryFailure::new(0, "MalformedDetail", "not JSON")])
        })
        .await;
        assert!(
            matches!(&result, Err(PortError::Rejected { message, .. }) if message.contains("MalformedDetail")),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_error_of_the_whole_call_stops_at_once() {
        let items: Vec<u32> = (0..30).collect();
        let calls = RefCell::new(0);
        let result = send_in_batches(CALL, &items, quick(3), |_| {
            *calls.borrow_mut() += 1;
            async {
                Err(PortError::Denied {
                    service: "events".into(),
                    action: "PutEvents".into(),
                    message: "no".into(),
                })
            }
        })
        .await;
        assert!(matches!(result, Err(PortError::Denied { .. })));
        assert_eq!(*calls.borrow(), 1);
    }
}
