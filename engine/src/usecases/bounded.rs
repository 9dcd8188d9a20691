//! Runs futures at most `limit` at a time, in one task, and returns their outputs in
//! the order given: the searches and scans across accounts use it so that 10,000
//! accounts never mean 10,000 calls in flight.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Runs every future of `futures`, at most `limit` (at least 1) at once; the outputs
/// come back in the order of `futures`.
pub(crate) async fn bounded<F>(futures: impl IntoIterator<Item = F>, limit: usize) -> Vec<F::Output>
where
    F: Future,
{
    let limit = limit.max(1);
    let mut waiting = futures.into_iter().enumerate();
    let mut running: Vec<(usize, Pin<Box<F>>)> = Vec::new();
    let mut done: Vec<(usize, F::Output)> = Vec::new();
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < limit {
                match waiting.next() {
                    Some((index, future)) => running.push((index, Box::pin(future))),
                    None => break,
                }
            }
            if running.is_empty() {
                return Poll::Ready(());
            }
            let before = running.len();
            let mut i = 0;
            while i < running.len() {
                match running[i].1.as_mut().poll(cx) {
                    Poll::Ready(output) => {
                        let (index, _) = running.swap_remove(i);
                        done.push((index, output));
                    }
                    Poll::Pending => i += 1,
                }
            }
            // nothing finished: wait for a wake-up; else start the next ones at once
            if running.len() == before {
                return Poll::Pending;
            }
        }
    })
    .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, output)| output).collect()
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
