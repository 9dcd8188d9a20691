//! Claims as leases: the one way every reaction takes its key, holds it while it
//! works, and ends it (*Any step may be the last*).
//!
//! - [`take`] claims the key until now + the invocation's budget
//!   ([`Engine::lease`]). `Seen`: done before, nothing to do. `Busy`: another delivery
//!   is at work, [`UseCaseError::Busy`] (transient: the event comes back after the
//!   lease). `Failed`: failed for good before, [`UseCaseError::FailedBefore`]
//!   (permanent, at once, with no step repeated, so that the record ends in its
//!   dead-letter queue). A lease that ran out belongs to a delivery that died: the
//!   work is resumed, from what it noted.
//! - [`end`] ends it with the reaction's result: done on success, failed on a
//!   permanent error, released on a transient one (the retry goes on at once). When
//!   the store cannot be told, the error is logged and counted
//!   (`ClaimsNotCompleted`, `ClaimsNotReleased` in the metrics line), never dropped:
//!   the lease runs out by itself and the next delivery resumes. `Busy` answers are
//!   counted too (`Busy`): how often two deliveries raced for one account or cause.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use crate::ports::{
    AccountCache, Claim, Claims, Ended, Platform, Turn, TurnEnd, TurnWrites, Writer, WriterLeases,
};
use spa_core::events::AccountId;

/// What [`take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Go on: the key is leased to this delivery; `resumed` when an earlier delivery
    /// died at work, with what it noted.
    Go {
        /// Whether an earlier delivery died holding the key.
        resumed: bool,
        /// What it noted ([`Claims::note`]).
        note: Option<String>,
    },
    /// Done before: nothing to do.
    Seen,
}

/// The writer lease of an account, held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldWriter {
    /// Whether an earlier writer died holding it.
    pub(crate) resumed: bool,
    /// What the last writer left.
    pub(crate) cache: AccountCache,
    /// What a delivery of the same cause that died at work left for this one.
    pub(crate) resumes: Option<Resumes>,
    /// The turn, to end when the lease is freed.
    pub(crate) turn: HeldTurn,
}

/// What a delivery of the same cause that died holding the lease left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resumes {
    /// What it noted ([`note_turn`]).
    Noted(String),
    /// It noted nothing: it decided on the tags of the cache, which it had not
    /// replaced yet (a step of a cycle notes nothing: the cache is its note).
    Cached(BTreeMap<String, String>),
}

/// The turn a held writer lease is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldTurn {
    cause: String,
    claims: bool,
    expired: Vec<String>,
}

/// What a turn keeps while it holds an account's writer lease: what the next
/// writer will know, and the records, deadlines and events written with the end of the
/// turn ([`free_writer`]).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    cache: Mutex<AccountCache>,
    writes: Mutex<TurnWrites>,
}

impl Kept {
    /// Keeps `cache`, nothing to write yet.
    pub(crate) fn new(cache: AccountCache) -> Self {
        Self {
            cache: Mutex::new(cache),
            writes: Mutex::default(),
        }
    }

    /// What the next writer will know.
    pub(crate) fn cache(&self) -> MutexGuard<'_, AccountCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the end of the turn writes.
    pub(crate) fn writes(&self) -> MutexGuard<'_, TurnWrites> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What [`take_writer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Turned {
    /// The lease is this delivery's.
    Held(HeldWriter),
    /// The cause was processed on this account before: nothing to do.
    Seen,
}

/// The end of this invocation's lease, from now.
fn lease_end<P: Platform>(
    engine: &Engine<'_, P>,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let now = engine.now();
    let until = chrono::TimeDelta::from_std(engine.lease())
        .ok()
        .and_then(|lease| now.checked_add_signed(lease))
        .unwrap_or(now);
    (now, until)
}

/// Takes the writer lease of `account` for this invocation's lease and `cause`:
/// one writer per account (`Busy` while another holds it); when `claims`, the cause
/// is claimed in the same write (`Seen` once done, [`UseCaseError::FailedBefore`]
/// once failed for good).
pub(crate) async fn take_writer<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    cause: &str,
    claims: bool,
) -> Result<Turned, UseCaseError> {
    let (now, until) = lease_end(engine);
    let store = engine.platform().store();
    let context = || {
        Context::step("take the account's writer lease")
            .account(account)
            .cause(cause)
    };
    let turn = Turn {
        cause,
        claims,
        replay: engine.is_replay(),
    };
    let writer = engine
        .retry()
        .run("take the writer lease", || {
            store.take_writer(account, turn, now, until)
        })
        .await
        .within(context)?;
    match writer {
        Writer::Held {
            resumed,
            same_cause,
            note,
            mut cache,
            expired,
        } => {
            let mut resumes = None;
            if resumed || same_cause {
                // it may have written tags it could not leave in the cache: whoever
                // frees the lease next must not leave the old ones as current
                tracing::warn!(%account, cause, "an earlier writer of the account died at work: its tags and place are read again");
                engine.count_trouble("Resumed");
                let decided_on = cache.tags.take();
                cache.ancestors = None;
                if same_cause {
                    resumes = match (note, decided_on) {
                        (Some(note), _) => Some(Resumes::Noted(note)),
                        (None, Some(tags)) => Some(Resumes::Cached(tags)),
                        (None, None) => None,
                    };
                }
            }
            Ok(Turned::Held(HeldWriter {
                resumed: resumed || same_cause,
                cache,
                resumes,
                turn: HeldTurn {
                    cause: cause.to_owned(),
                    claims,
                    expired,
                },
            }))
        }
        Writer::Busy { until } => Err(busy(engine, context(), until)),
        Writer::Seen => Ok(Turned::Seen),
        Writer::Failed { why } => Err(failed_before(context(), why)),
    }
}

/// Another delivery holds the key until `until` (counted: `Busy`).
fn busy<P: Platform>(
    engine: &Engine<'_, P>,
    context: Context,
    until: chrono::DateTime<chrono::Utc>,
) -> UseCaseError {
    engine.count_trouble("Busy");
    UseCaseError::Busy {
        context: Box::new(context),
        until,
    }
}

/// The key failed for good before, and why.
fn failed_before(context: Context, why: String) -> UseCaseError {
    UseCaseError::FailedBefore {
        context: Box::new(context),
        why,
    }
}

/// Notes, on the writer lease held for `cause`, what a delivery of the same cause
/// that resumes must know.
pub(crate) async fn note_turn<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    cause: &str,
    note: &str,
    context: impl FnOnce() -> Context,
) -> Result<(), UseCaseError> {
    let store = engine.platform().store();
    engine
        .retry()
        .run("note the turn", || store.note_turn(account, cause, note))
        .await
        .within(context)
}

/// Frees the writer lease of `account`, leaving what is `kept` for the next writer,
/// writing the turn's records, deadlines and events and ending the turn with the reaction's
/// `result`, in one write: done on success, failed on a permanent error, given
/// back on a transient one (the retry goes on at once).
///
/// When that write fails, the lease is left to run out: the next delivery resumes
/// the cause from what it noted and writes the records, deadlines and events then (the
/// failure is logged and counted, `ClaimsNotReleased`, and a success becomes the
/// error, so that the cause is delivered again). A turn with nothing to write that
/// cannot be freed keeps its result.
pub(crate) async fn free_writer<P: Platform, T>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    turn: &HeldTurn,
    kept: Kept,
    result: Result<T, UseCaseError>,
) -> Result<T, UseCaseError> {
    let mut known = kept
        .cache
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let writes = kept
        .writes
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    index_holder(engine, &mut known);
    let end = match &result {
        _ if !turn.claims => TurnEnd::Released,
        Ok(_) => TurnEnd::Done,
        Err(failure) if failure.is_transient() => TurnEnd::Released,
        Err(failure) => TurnEnd::Failed(failure.to_string()),
    };
    let ended = Ended {
        cause: &turn.cause,
        claims: turn.claims,
        end: &end,
        expired: &turn.expired,
        at: engine.now(),
        writes: &writes,
    };
    let store = engine.platform().store();
    let freed = engine
        .retry()
        .run("free the writer lease", || {
            store.free_writer(account, &known, ended)
        })
        .await;
    let Err(error) = freed else {
        return result;
    };
    engine.count_trouble("ClaimsNotReleased");
    if writes.is_empty() {
        tracing::error!(%account, cause = turn.cause, %error, "the account's writer lease could not be freed: the next delivery waits for it to run out, then resumes");
        return result;
    }
    tracing::error!(%account, cause = turn.cause, %error, "the turn's activity records, deadlines and events could not be written with its end: the lease runs out and the next delivery resumes the cause");
    match result {
        Ok(_) => Err(UseCaseError::port(
            Context::step("end the turn")
                .account(account)
                .cause(&turn.cause),
            error,
        )),
        Err(failure) => Err(failure),
    }
}

/// Sets the cache's holder from its tags when they are known (the holder → accounts
/// index follows the tags, and stays as it was while they are in doubt).
pub(crate) fn index_holder<P: Platform>(engine: &Engine<'_, P>, cache: &mut AccountCache) {
    if let Some(tags) = &cache.tags {
        cache.holder = engine
            .codec()
            .decode(tags)
            .ok()
            .and_then(|view| view.holder)
            .map(|holder| super::holders::fingerprint(&holder));
    }
}

/// Takes the claim `key` for this invocation's lease (see the module docs).
pub(crate) async fn take<P: Platform>(
    engine: &Engine<'_, P>,
    key: &str,
    context: impl Fn() -> Context,
) -> Result<Taken, UseCaseError> {
    let (now, until) = lease_end(engine);
    let store = engine.platform().store();
    let claim = engine
        .retry()
        .run("claim", || store.claim(key, now, until, engine.is_replay()))
        .await
        .within(&context)?;
    match claim {
        Claim::New => Ok(Taken::Go {
            resumed: false,
            note: None,
        }),
        Claim::Resumed { note } => {
            tracing::warn!(
                key,
                "an earlier delivery died at work on this cause: resuming it"
            );
            engine.count_trouble("Resumed");
            Ok(Taken::Go {
                resumed: true,
                note,
            })
        }
        Claim::Seen => Ok(Taken::Seen),
        Claim::Busy { until } => Err(busy(engine, context(), until)),
        Claim::Failed { why } => Err(failed_before(context(), why)),
    }
}

/// Notes on the held claim `key` what a delivery that resumes must know.
pub(crate) async fn note<P: Platform>(
    engine: &Engine<'_, P>,
    key: &str,
    note: &str,
    context: impl FnOnce() -> Context,
) -> Result<(), UseCaseError> {
    let store = engine.platform().store();
    engine
        .retry()
        .run("note the claim", || store.note(key, note))
        .await
        .within(context)
}

/// Ends the claim `key` with the reaction's `result`, which it returns.
pub(crate) async fn end<P: Platform, T>(
    engine: &Engine<'_, P>,
    key: &str,
    result: Result<T, UseCaseError>,
) -> Result<T, UseCaseError> {
    let store = engine.platform().store();
    let now = engine.now();
    match &result {
        Ok(_) => {
            let done = engine
                .retry()
                .run("complete the claim", || store.complete(key, now, None))
                .await;
            if let Err(error) = done {
                tracing::error!(key, %error, "the claim could not be marked done: its lease runs out and a later delivery of the cause does the work again");
                engine.count_trouble("ClaimsNotCompleted");
            }
        }
        Err(failure) if failure.is_transient() => give_back(engine, key).await,
        Err(failure) => {
            let why = failure.to_string();
            let failed = engine
                .retry()
                .run("mark the claim failed", || {
                    store.complete(key, now, Some(&why))
                })
                .await;
            if let Err(error) = failed {
                tracing::error!(key, %error, "the claim could not be marked failed: a later delivery tries again");
                engine.count_trouble("ClaimsNotCompleted");
            }
        }
    }
    result
}

/// Ends the claim `key` with `result`, giving it back on any failure: for a
/// reaction that may run again whole with no step doubled (a report run writes the
/// same files under the same keys), so that a retry after a fix runs it.
pub(crate) async fn end_rerunnable<P: Platform, T>(
    engine: &Engine<'_, P>,
    key: &str,
    result: Result<T, UseCaseError>,
) -> Result<T, UseCaseError> {
    match result {
        Ok(_) => end(engine, key, result).await,
        Err(_) => {
            give_back(engine, key).await;
            result
        }
    }
}

/// Releases the claim `key`; a failure is logged and counted (`ClaimsNotReleased`):
/// the lease runs out by itself.
pub(crate) async fn give_back<P: Platform>(engine: &Engine<'_, P>, key: &str) {
    let store = engine.platform().store();
    let released = engine
        .retry()
        .run("release the claim", || store.release(key))
        .await;
    if let Err(error) = released {
        tracing::error!(key, %error, "the claim could not be released: the retry resumes once its lease runs out");
        engine.count_trouble("ClaimsNotReleased");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ports::PortError;
    use crate::ports::memory::{MemoryOrganization, MemoryPlatform};
    use spa_core::settings::Settings;

    fn settings() -> Settings {
        crate::tests::settings()
    }

    #[tokio::test]
    async fn a_lease_is_busy_until_it_runs_out_then_resumed_with_its_note() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let platform = MemoryPlatform::new(MemoryOrganization::new(), start);
        let settings = settings();
        let engine = Engine::new(&platform, &settings)
            .unwrap()
            .with_lease(Duration::from_secs(50));
        let context = || Context::step("test");
        let first = take(&engine, "k", context).await.unwrap();
        assert_eq!(
            first,
            Taken::Go {
                resumed: false,
                note: None
            }
        );
        note(&engine, "k", "before", context).await.unwrap();
        // the first delivery dies here; a second one comes within the lease
        match take(&engine, "k", context).await {
            Err(error @ UseCaseError::Busy { .. }) => assert!(error.is_transient()),
            other => panic!("{other:?}"),
        }
        platform.clock.advance(chrono::TimeDelta::seconds(51));
        let resumed = take(&engine, "k", context).await.unwrap();
        assert_eq!(
            resumed,
            Taken::Go {
                resumed: true,
                note: Some("before".into())
            }
        );
        end(&engine, "k", Ok(())).await.unwrap();
        assert_eq!(take(&engine, "k", context).await.unwrap(), Taken::Seen);
        assert_eq!(engine.troubles().get("Resumed"), Some(&1));
    }

    #[tokio::test]
    async fn a_permanent_failure_is_answered_again_at_once_and_replayed_by_an_operator() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let platform = MemoryPlatform::new(MemoryOrganization::new(), start);
        let settings = settings();
        let engine = Engine::new(&platform, &settings).unwrap();
        let context = || Context::step("test");
        take(&engine, "k", context).await.unwrap();
        let bad: Result<(), _> = Err(UseCaseError::bad_input(context(), "no such holder"));
        assert!(end(&engine, "k", bad).await.is_err());
        match take(&engine, "k", context).await {
            Err(error @ UseCaseError::FailedBefore { .. }) => {
                assert!(!error.is_transient());
                assert!(error.to_string().contains("no such holder"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let replay = Engine::new(&platform, &settings).unwrap().replaying();
        assert!(matches!(
            take(&replay, "k", context).await,
            Ok(Taken::Go { .. })
        ));
    }

    #[tokio::test]
    async fn a_release_that_fails_is_counted_and_the_lease_runs_out() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let platform = MemoryPlatform::new(MemoryOrganization::new(), start);
        let settings = settings();
        let engine = Engine::new(&platform, &settings)
            .unwrap()
            .with_retry(crate::Retry::immediate(1))
            .with_lease(Duration::from_secs(50));
        let context = || Context::step("test");
        take(&engine, "k", context).await.unwrap();
        platform.store.faults.fail(
            "release",
            PortError::Unavailable {
                service: "dynamodb".into(),
                message: "down".into(),
            },
            1,
        );
        let transient: Result<(), _> = Err(UseCaseError::port(
            context(),
            PortError::Unavailable {
                service: "codebuild".into(),
                message: "down".into(),
            },
        ));
        assert!(end(&engine, "k", transient).await.is_err());
        assert_eq!(engine.troubles().get("ClaimsNotReleased"), Some(&1));
        assert!(matches!(
            take(&engine, "k", context).await,
            Err(UseCaseError::Busy { .. })
        ));
        platform.clock.advance(chrono::TimeDelta::seconds(50));
        assert!(matches!(
            take(&engine, "k", context).await,
            Ok(Taken::Go { resumed: true, .. })
        ));
    }
}
