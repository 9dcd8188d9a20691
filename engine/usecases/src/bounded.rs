//! Runs futures at most `limit` at a time, in one task, and returns their outputs in
//! the order given: the searches and scans across accounts use it so that 10,000
//! accounts never mean 10,000 calls in flight.

use std::future::Future;

use futures_util::StreamExt as _;

/// Runs every future of `futures`, at most `limit` (at least 1) at once; the outputs
/// come back in the order of `futures` (`futures-util`'s `buffered`).
pub(crate) async fn bounded<F>(futures: impl IntoIterator<Item = F>, limit: usize) -> Vec<F::Output>
where
    F: Future,
{
    futures_util::stream::iter(futures)
        .buffered(limit.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn at_most_limit_run_at_once_and_outputs_keep_their_order() {
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let work = (0..20).map(|n| {
            let in_flight = &in_flight;
            let most = &most;
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                for _ in 0..(20 - n) {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                n * 2
            }
        });
        let outputs = bounded(work, 4).await;
        assert_eq!(outputs, (0..20).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn no_future_is_no_output_and_a_zero_limit_still_runs_one() {
        let none: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(bounded(none, 3).await.is_empty());
        let one = bounded([std::future::ready(7)], 0).await;
        assert_eq!(one, [7]);
    }
}
