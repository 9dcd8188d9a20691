//! The one retry mechanism of spa: [`Retry`], a policy (tries, first wait, longest
//! wait, jitter) run by `backon`'s exponential backoff.
//!
//! Every wait-and-try-again of spa goes through it: the use cases' transient port
//! failures ([`Retry::run`]), and in the adapters the entries a batch call refused,
//! DynamoDB's unprocessed items ([`Retry::resend`]), CodeBuild refusing a role IAM has
//! not propagated yet, and the chat webhooks (which also honour `Retry-After`, through
//! [`Retry::backoff`]). Each policy is declared once, as a constant beside its use
//! ([`Retry::TRANSIENT`] here, the adapters' in `spa_aws::config`). Whole SDK calls
//! are retried by the SDK's own standard retries, not here.
//!
//! A zero first wait never sleeps (not even a timer's tick): [`Retry::immediate`] is
//! how tests and local runs retry without waiting.

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable, RetryableWithContext};

use crate::ports::PortError;

/// How a failed call is tried again: `attempts` tries in all, the first after no
/// wait, the second after `backoff`, each next after twice the wait before, never
/// more than `cap`; with `jitter`, each wait is lengthened by up to itself, at random,
/// so that callers that failed together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, at least 1.
    pub attempts: u32,
    /// Wait before the second try; doubled before each next one.
    pub backoff: Duration,
    /// Longest wait between two tries (before jitter).
    pub cap: Duration,
    /// Whether each wait is lengthened by a random part of itself.
    pub jitter: bool,
}

/// What [`Retry::resend`] could not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished<W, E> {
    /// A call failed: not tried again (the SDK retried the whole call already).
    Failed(E),
    /// What the service still left undone after the last try.
    Left(W),
}

/// The internal error of one try of [`Retry::resend`].
enum Step<E> {
    Failed(E),
    Left,
}

impl Default for Retry {
    fn default() -> Self {
        Self::TRANSIENT
    }
}

impl Retry {
    /// A transient port failure within one invocation of a use case, before the event
    /// goes back to Lambda or SQS for a later retry: 3 tries, 200 ms then 400 ms
    /// (with jitter, up to twice that).
    pub const TRANSIENT: Retry = Retry {
        attempts: 3,
        backoff: Duration::from_millis(200),
        cap: Duration::from_secs(2),
        jitter: true,
    };

    /// No waiting between tries (tests, local runs).
    pub const fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            backoff: Duration::ZERO,
            cap: Duration::ZERO,
            jitter: false,
        }
    }

    /// The same policy without waits (tests of an adapter's policy).
    pub const fn without_waits(self) -> Self {
        Self::immediate(self.attempts)
    }

    /// The policy as `backon`'s backoff, for a caller that needs more of `backon`
    /// (the webhooks adjust a wait to the server's `Retry-After`). Run it with
    /// [`pause`] as the sleeper so that a zero wait does not sleep.
    pub fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_min_delay(self.backoff)
            .with_max_delay(self.cap.max(self.backoff))
            .with_factor(2.0)
            .with_max_times(self.attempts.max(1).saturating_sub(1) as usize);
        if self.jitter && !self.backoff.is_zero() {
            builder.with_jitter()
        } else {
            builder
        }
    }

    /// Runs `call` until it succeeds, fails for good (a failure that is not
    /// [transient](PortError::is_transient)), or the tries are spent.
    pub async fn run<T, F, Fut>(&self, what: &'static str, call: F) -> Result<T, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        self.run_when(what, call, PortError::is_transient).await
    }

    /// Runs `call` until it succeeds, fails with an error `retryable` does not accept,
    /// or the tries are spent.
    pub async fn run_when<T, E, F, Fut, R>(
        &self,
        what: &'static str,
        call: F,
        retryable: R,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        R: FnMut(&E) -> bool,
    {
        let mut tried = 0u32;
        // each try's future on the heap: backon keeps it in its own state and builds
        // it inside `poll`, so a large one (an SDK call, the member footprint) would
        // sit on the stack of every poll, and a debug build overflowed its 2 MiB
        let mut call = call;
        (move || Box::pin(call()))
            .retry(self.backoff())
            .sleep(pause)
            .when(retryable)
            .notify(|error, wait| {
                tried += 1;
                tracing::info!(
                    what,
                    tried,
                    %error,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "failure worth another try, trying again"
                );
            })
            .await
    }

    /// Sends `work` with `call`, then what the service left of it, until nothing is
    /// left, a call fails, or the tries are spent. `call` answers what it did
    /// (`Break`) or what the service left undone (`Continue`: DynamoDB's unprocessed
    /// items, the entries a batch refused), which is sent again after the wait.
    pub async fn resend<W, O, E, F, Fut>(
        &self,
        what: &str,
        work: W,
        mut call: F,
    ) -> Result<O, Unfinished<W, E>>
    where
        W: Clone,
        F: FnMut(W) -> Fut,
        Fut: Future<Output = Result<ControlFlow<O, W>, E>>,
    {
        let mut tried = 0u32;
        let (left, result) = (|work: W| {
            let sent = call(work.clone());
            // on the heap, as in `run_when`
            Box::pin(async move {
                match sent.await {
                    Ok(ControlFlow::Break(done)) => (work, Ok(done)),
                    Ok(ControlFlow::Continue(left)) => (left, Err(Step::Left)),
                    Err(error) => (work, Err(Step::Failed(error))),
                }
            })
        })
        .retry(self.backoff())
        .sleep(pause)
        .context(work)
        .when(|step| matches!(step, Step::Left))
        .notify(|_, wait| {
            tried += 1;
            tracing::info!(
                what,
                tried,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "left undone by the service, sending it again"
            );
        })
        .await;
        match result {
            Ok(done) => Ok(done),
            Err(Step::Left) => Err(Unfinished::Left(left)),
            Err(Step::Failed(error)) => Err(Unfinished::Failed(error)),
        }
    }
}

/// The sleeper of every retry: `tokio`'s timer, but a zero wait returns at once.
pub async fn pause(wait: Duration) {
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn unavailable() -> PortError {
        PortError::Unavailable {
            service: "s".into(),
            message: "down".into(),
        }
    }

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_the_attempts() {
        let policy = Retry {
            attempts: 5,
            backoff: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            jitter: false,
        };
        let waits: Vec<u64> = policy
            .backoff()
            .build()
            .map(|w| w.as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![100, 200, 300, 300]);
    }

    #[test]
    fn jitter_lengthens_a_wait_by_at_most_itself() {
        let waits: Vec<Duration> = Retry::TRANSIENT.backoff().build().collect();
        assert_eq!(waits.len(), 2);
        assert!(waits[0] >= Duration::from_millis(200) && waits[0] < Duration::from_millis(400));
        assert!(waits[1] >= Duration::from_millis(400) && waits[1] < Duration::from_millis(800));
    }

    #[test]
    fn immediate_never_waits() {
        let waits: Vec<Duration> = Retry::immediate(4).backoff().build().collect();
        assert_eq!(waits, vec![Duration::ZERO; 3]);
        assert_eq!(Retry::immediate(0).backoff().build().count(), 0);
    }

    #[tokio::test]
    async fn transient_failures_are_tried_again_until_the_attempts_are_spent() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = Retry::immediate(3)
            .run("test", || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(unavailable()) }
            })
            .await;
        assert_eq!(result, Err(unavailable()));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_lasting_failure_is_not_tried_again() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = Retry::immediate(3)
            .run("test", || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(PortError::not_in_organization("123456789012")) }
            })
            .await;
        assert!(matches!(result, Err(PortError::NotFound { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn success_after_a_transient_failure() {
        let calls = AtomicU32::new(0);
        let result = Retry::immediate(3)
            .run("test", || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                async move { if n == 0 { Err(unavailable()) } else { Ok(n) } }
            })
            .await;
        assert_eq!(result, Ok(1));
    }

    #[test]
    fn no_runtime_is_needed_without_waits() {
        // a zero wait does not reach tokio's timer
        let result = futures_util::FutureExt::now_or_never(
            Retry::immediate(2).run("test", || async { Err::<(), _>(unavailable()) }),
        );
        assert_eq!(result, Some(Err(unavailable())));
    }

    #[tokio::test]
    async fn resend_sends_what_is_left_until_nothing_is() {
        let sent = std::sync::Mutex::new(Vec::new());
        let result: Result<usize, Unfinished<Vec<u32>, PortError>> = Retry::immediate(4)
            .resend("test", vec![1, 2, 3, 4], |work: Vec<u32>| {
                if let Ok(mut sent) = sent.lock() {
                    sent.push(work.clone());
                }
                // the service takes the first item of each call
                async move {
                    Ok(match work.split_first() {
                        Some((_, rest)) if !rest.is_empty() => ControlFlow::Continue(rest.to_vec()),
                        _ => ControlFlow::Break(work.len()),
                    })
                }
            })
            .await;
        assert_eq!(result, Ok(1));
        assert_eq!(
            sent.into_inner().unwrap_or_default(),
            vec![vec![1, 2, 3, 4], vec![2, 3, 4], vec![3, 4], vec![4]]
        );
    }

    #[tokio::test]
    async fn resend_gives_back_what_is_left_after_the_last_try() {
        let result: Result<(), Unfinished<Vec<u32>, PortError>> = Retry::immediate(2)
            .resend("test", vec![1, 2, 3], |work: Vec<u32>| async move {
                Ok(ControlFlow::Continue(work[1..].to_vec()))
            })
            .await;
        assert_eq!(result, Err(Unfinished::Left(vec![3])));
    }

    #[tokio::test]
    async fn resend_stops_at_a_failed_call() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Unfinished<Vec<u32>, PortError>> = Retry::immediate(5)
            .resend("test", vec![1], |_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(unavailable()) }
            })
            .await;
        assert_eq!(result, Err(Unfinished::Failed(unavailable())));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
