//! The local runtime: what EventBridge, the command queue's event source mapping,
//! EventBridge Scheduler and CodeBuild's event forwarding do on AWS, done in process
//! against the emulator, so `spa demo` and `spa handle --follow` run the lifecycle
//! end to end on a laptop.
//!
//! - Events spa publishes on its bus go to moto's bus too, and are routed here by the
//!   same rules as on AWS ([`spa_core::rules::automation_rules`]).
//! - Account commands become Lambda SQS events for the `commands` function (they do
//!   not travel through moto's queue: the runtime plays the event source mapping).
//! - Builds started in member accounts are watched: their status is polled and, once
//!   over, turned into the "CodeBuild Build State Change" event AWS would forward.
//! - Scheduled jobs are fired on demand ([`Runtime::fire`]).
//! - The events a turn writes in the outbox become DynamoDB stream batches for the
//!   `relay` function ([`LocalStore`]: the runtime plays the table's stream and its
//!   event source mapping), which puts them on the bus.
//!
//! The runtime is generic over a [`Platform`]: the same code runs on moto through the
//! AWS adapters and, in tests, on the in-memory ports.

pub mod connect;
pub mod emulator;
mod handler;
pub mod seed;
mod store;
pub mod synth;

pub use handler::LocalHandler;
pub use store::LocalStore;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use spa_core::events::{AccountCommand, AccountId, DomainEvent, Job};
use spa_core::footprint::Footprint;
use spa_core::lifecycle::{BuildId, BuildStatus};
use spa_core::rules::{Function, Rule, route};
use spa_usecases::ports::{BuildRequest, Builds, Bus, Clock, Commands, Platform, PortError};

/// One event on its way to a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The function it is for.
    pub function: Function,
    /// The event, as Lambda hands it to the function.
    pub event: Value,
    /// What it is, for the timeline (`AccountVended 222222222222`).
    pub summary: String,
}

/// What the runtime needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct Site {
    /// The automation account (the bus's account in delivered events).
    pub account: AccountId,
    /// The region.
    pub region: String,
    /// The settings' environment identifier.
    pub environment: String,
    /// The ARN of the command queue (in the SQS events handed to `commands`).
    pub queue_arn: String,
}

#[derive(Debug)]
struct State {
    pending: VecDeque<Delivery>,
    watched: BTreeMap<BuildId, AccountId>,
    /// This runtime's own mark in the ids it makes ([`run_mark`]).
    run: String,
    sequence: u64,
    published: u64,
    commands: u64,
    builds: u64,
    /// The keys of the outbox items streamed to the relay ([`LocalStore`]).
    streamed: std::collections::BTreeSet<String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
            watched: BTreeMap::new(),
            run: run_mark(),
            sequence: 0,
            published: 0,
            commands: 0,
            builds: 0,
            streamed: std::collections::BTreeSet::new(),
        }
    }
}

/// What sets one runtime's ids apart from another's on the same emulator: the instant
/// it started and its process id. Every id spa claims must be new to the store, which
/// outlives the process: two `spa handle --follow` runs numbering from 1 would take
/// each other's events and build results for duplicates (`already handled`).
fn run_mark() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}{:x}{run:x}",
        nanos & 0xffff_ffff_ffff,
        std::process::id()
    )
}

/// The queue of deliveries and the builds being watched, shared by the wrappers.
#[derive(Debug, Clone, Default)]
pub struct Pending(Arc<Mutex<State>>);

impl Pending {
    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock cannot leave the queue half-written
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut state = self.lock();
        state.sequence += 1;
        format!("local-{prefix}-{}-{:08}", state.run, state.sequence)
    }

    /// Queues a delivery.
    pub fn push(&self, delivery: Delivery) {
        self.lock().pending.push_back(delivery);
    }

    /// The next delivery, if any.
    pub fn pop(&self) -> Option<Delivery> {
        self.lock().pending.pop_front()
    }

    /// Whether no delivery waits and no build is watched.
    pub fn is_idle(&self) -> bool {
        let state = self.lock();
        state.pending.is_empty() && state.watched.is_empty()
    }

    /// Events published, commands sent and builds started through the wrappers.
    pub fn counts(&self) -> (u64, u64, u64) {
        let state = self.lock();
        (state.published, state.commands, state.builds)
    }
}

/// The bus: publishes to the real (emulated) bus, then routes each event by the rules.
pub struct LocalBus<B> {
    inner: B,
    pending: Pending,
    site: Site,
    rules: Vec<Rule>,
}

impl<B: Bus> Bus for LocalBus<B> {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PortError> {
        self.inner.publish(events).await?;
        for event in events {
            let id = self.pending.next_id("event");
            let delivered = event
                .to_entry()
                .delivered(&id, &self.site.account, &self.site.region)
                .map_err(|e| PortError::Rejected {
                    service: "events".into(),
                    action: "PutEvents".into(),
                    message: e.to_string(),
                })?;
            self.pending.lock().published += 1;
            for function in route(&self.rules, &delivered) {
                self.pending.push(Delivery {
                    function,
                    event: delivered.clone(),
                    summary: format!("{} {}", event.label, event.account),
                });
            }
        }
        Ok(())
    }
}

/// The command queue: each command becomes a Lambda SQS event for `commands`.
pub struct LocalCommands {
    pending: Pending,
    site: Site,
}

impl Commands for LocalCommands {
    async fn send(&self, commands: &[AccountCommand]) -> Result<(), PortError> {
        for batch in commands.chunks(10) {
            let records: Vec<(String, AccountCommand)> = batch
                .iter()
                .map(|c| (self.pending.next_id("message"), c.clone()))
                .collect();
            let summary = match batch {
                [one] => format!("{} {}", one.action.name(), one.account),
                _ => format!("{} commands", batch.len()),
            };
            self.pending.lock().commands += batch.len() as u64;
            self.pending.push(Delivery {
                function: Function::Commands,
                event: synth::command_batch(&self.site.queue_arn, &self.site.region, &records),
                summary,
            });
        }
        Ok(())
    }
}

/// Builds: started for real (in the emulator), and watched until they end.
pub struct LocalBuilds<B> {
    inner: B,
    pending: Pending,
}

impl<B: Builds> Builds for LocalBuilds<B> {
    async fn ensure_footprint(
        &self,
        account: &AccountId,
        footprint: &Footprint,
    ) -> Result<(), PortError> {
        self.inner.ensure_footprint(account, footprint).await
    }

    async fn start_build(
        &self,
        footprint: &Footprint,
        request: &BuildRequest,
    ) -> Result<BuildId, PortError> {
        let id = self.inner.start_build(footprint, request).await?;
        let mut state = self.pending.lock();
        state.builds += 1;
        state.watched.insert(id.clone(), request.account.clone());
        Ok(id)
    }

    /// In the local runtime a build ends when the runtime delivers its end: until
    /// then (a build still watched, or held by a test that reports its end itself),
    /// the engine is told it runs, whatever the emulator (whose builds end at once)
    /// says. The runtime never loses an end, so the sweeper has none to recover.
    async fn build_status(
        &self,
        account: &AccountId,
        build: &BuildId,
    ) -> Result<BuildStatus, PortError> {
        if self.pending.lock().watched.contains_key(build) {
            return Ok(BuildStatus::InProgress);
        }
        self.inner.build_status(account, build).await
    }
}

/// Hands the inner platform's bus to the wrapper.
pub struct ForwardBus<P>(Arc<P>);
/// Hands the inner platform's builds to the wrapper.
pub struct ForwardBuilds<P>(Arc<P>);

impl<P: Platform> Bus for ForwardBus<P> {
    fn publish(
        &self,
        events: &[DomainEvent],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.0.bus().publish(events)
    }
}

impl<P: Platform> Builds for ForwardBuilds<P> {
    fn ensure_footprint(
        &self,
        account: &AccountId,
        footprint: &Footprint,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.0.builds().ensure_footprint(account, footprint)
    }
    fn start_build(
        &self,
        footprint: &Footprint,
        request: &BuildRequest,
    ) -> impl Future<Output = Result<BuildId, PortError>> + Send {
        self.0.builds().start_build(footprint, request)
    }
    fn build_status(
        &self,
        account: &AccountId,
        build: &BuildId,
    ) -> impl Future<Output = Result<BuildStatus, PortError>> + Send {
        self.0.builds().build_status(account, build)
    }
}

/// A platform whose bus, command queue and builds feed the local runtime; every other
/// port (the organization, the store, the clock...) is the inner platform's.
pub struct LocalPlatform<P: Platform> {
    inner: Arc<P>,
    store: LocalStore<P>,
    bus: LocalBus<ForwardBus<P>>,
    commands: LocalCommands,
    builds: LocalBuilds<ForwardBuilds<P>>,
}

spa_usecases::forward_platform! {
    impl<P: Platform> Platform for LocalPlatform<P> {
        inner: self.inner as P;
        builds: LocalBuilds<ForwardBuilds<P>> = self.builds,
        store: LocalStore<P> = self.store,
        bus: LocalBus<ForwardBus<P>> = self.bus,
        commands: LocalCommands = self.commands,
    }
}

/// What runs a delivery: the handler routing of the `bootstrap` binary.
pub trait Handler<P: Platform> {
    /// Handles one event for one function on `platform`; `Ok` is a summary of what
    /// was done, `Err` why it failed (the delivery would be retried on AWS).
    fn handle(
        &self,
        platform: &LocalPlatform<P>,
        function: Function,
        event: &Value,
    ) -> impl Future<Output = Result<String, String>>;
}

/// One delivery handled, for the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When (the platform's clock).
    pub at: DateTime<Utc>,
    /// The function that handled it.
    pub function: Function,
    /// What was delivered.
    pub summary: String,
    /// What the function did, or why it failed.
    pub result: Result<String, String>,
}

/// What one run did (counts of this run only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    /// Deliveries handled.
    pub handled: u64,
    /// Deliveries whose handling failed.
    pub failed: u64,
    /// Domain events published.
    pub events_published: u64,
    /// Account commands sent.
    pub commands_sent: u64,
    /// Builds started.
    pub builds_started: u64,
}

/// Why a run stopped before everything was done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// More deliveries than the limit: something loops.
    #[error(
        "stopped after {0} deliveries: an event loop? (raise the limit if the organization is that large)"
    )]
    TooManyDeliveries(u64),
    /// Builds still run after the polls allowed.
    #[error("{0} build(s) still running after {1} polls")]
    BuildsStillRunning(usize, u32),
    /// A watched build's status could not be read.
    #[error("could not read the status of build `{build}`: {error}")]
    Watch { build: String, error: PortError },
}

/// How the runtime waits for builds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many deliveries in one run.
    pub deliveries: u64,
    /// At most this many rounds of build polling without progress.
    pub polls: u32,
    /// Between two polling rounds.
    pub poll_interval: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deliveries: 1_000_000,
            polls: 600,
            poll_interval: std::time::Duration::from_millis(200),
        }
    }
}

/// The local runtime: a router, a scheduler fired on demand, a build watcher.
pub struct Runtime<P: Platform> {
    platform: LocalPlatform<P>,
    pending: Pending,
    site: Site,
    rules: Vec<Rule>,
}

impl<P: Platform> Runtime<P> {
    /// A runtime over `inner`, routing by the rules of `site.environment`.
    pub fn new(inner: P, site: Site) -> Self {
        let inner = Arc::new(inner);
        let pending = Pending::default();
        let rules = spa_core::rules::automation_rules(&site.environment, site.account.as_str());
        let platform = LocalPlatform {
            inner: Arc::clone(&inner),
            store: LocalStore {
                inner: Arc::clone(&inner),
                pending: pending.clone(),
                site: site.clone(),
            },
            bus: LocalBus {
                inner: ForwardBus(Arc::clone(&inner)),
                pending: pending.clone(),
                site: site.clone(),
                rules: rules.clone(),
            },
            commands: LocalCommands {
                pending: pending.clone(),
                site: site.clone(),
            },
            builds: LocalBuilds {
                inner: ForwardBuilds(Arc::clone(&inner)),
                pending: pending.clone(),
            },
        };
        Self {
            platform,
            pending,
            site,
            rules,
        }
    }

    /// The platform the handlers run on.
    pub fn platform(&self) -> &LocalPlatform<P> {
        &self.platform
    }

    /// The inner platform.
    pub fn inner(&self) -> &P {
        &self.platform.inner
    }

    /// The queue of deliveries.
    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    /// Fires a scheduled job now, as EventBridge Scheduler would at `at`.
    pub fn fire(&self, job: Job, at: DateTime<Utc>) {
        self.pending.push(Delivery {
            function: Function::Scheduler,
            event: synth::scheduled(job, at),
            summary: format!("{} at {}", job.as_str(), at.format("%Y-%m-%d %H:%M")),
        });
    }

    /// Puts an AWS event on the bus: it goes where the rules send it. Returns how
    /// many functions it reached.
    pub fn inject(&self, event: Value, summary: impl Into<String>) -> usize {
        let summary = summary.into();
        let functions = route(&self.rules, &event);
        for function in &functions {
            self.pending.push(Delivery {
                function: *function,
                event: event.clone(),
                summary: summary.clone(),
            });
        }
        functions.len()
    }

    /// Hands an event straight to a function (`spa handle`: the function is known).
    pub fn deliver(&self, function: Function, event: Value, summary: impl Into<String>) {
        self.pending.push(Delivery {
            function,
            event,
            summary: summary.into(),
        });
    }

    /// Handles the deliveries that are pending and those they cause, without waiting
    /// for builds: the builds started stay watched, and a later
    /// [`run_until_idle`](Self::run_until_idle) delivers their ends. Lets a test (or
    /// `spa handle`) report a build's end itself, before the real one comes back.
    pub async fn run_pending<H: Handler<P>>(
        &self,
        handler: &H,
        limits: Limits,
        mut on_step: impl FnMut(&Step),
    ) -> Result<RunSummary, RunError> {
        let mut summary = RunSummary::default();
        let before = self.pending.counts();
        self.drain(handler, limits, &mut summary, &mut on_step)
            .await?;
        Ok(self.counted(summary, before))
    }

    /// Handles deliveries until none is pending.
    async fn drain<H: Handler<P>>(
        &self,
        handler: &H,
        limits: Limits,
        summary: &mut RunSummary,
        on_step: &mut impl FnMut(&Step),
    ) -> Result<(), RunError> {
        while let Some(delivery) = self.pending.pop() {
            if summary.handled >= limits.deliveries {
                return Err(RunError::TooManyDeliveries(summary.handled));
            }
            let result = handler
                .handle(&self.platform, delivery.function, &delivery.event)
                .await;
            summary.handled += 1;
            if result.is_err() {
                summary.failed += 1;
            }
            on_step(&Step {
                at: self.platform.clock().now(),
                function: delivery.function,
                summary: delivery.summary,
                result,
            });
        }
        Ok(())
    }

    /// `summary` with the runtime's counts of events, commands and builds.
    /// Adds what this run published, sent and started (the counts since `before`).
    fn counted(&self, mut summary: RunSummary, before: (u64, u64, u64)) -> RunSummary {
        let (published, commands, builds) = self.pending.counts();
        summary.events_published = published - before.0;
        summary.commands_sent = commands - before.1;
        summary.builds_started = builds - before.2;
        summary
    }

    /// Handles every delivery, then watches the builds and delivers their ends, until
    /// nothing is pending. `on_step` sees each delivery once handled.
    pub async fn run_until_idle<H: Handler<P>>(
        &self,
        handler: &H,
        limits: Limits,
        mut on_step: impl FnMut(&Step),
    ) -> Result<RunSummary, RunError> {
        let mut summary = RunSummary::default();
        let before = self.pending.counts();
        let mut idle_polls = 0u32;
        loop {
            self.drain(handler, limits, &mut summary, &mut on_step)
                .await?;
            let watched: Vec<(BuildId, AccountId)> = self
                .pending
                .lock()
                .watched
                .iter()
                .map(|(b, a)| (b.clone(), a.clone()))
                .collect();
            if watched.is_empty() {
                break;
            }
            let mut ended = 0;
            for (build, account) in watched {
                let status = match self
                    .platform
                    .inner
                    .builds()
                    .build_status(&account, &build)
                    .await
                {
                    Ok(status) => status,
                    // a throttled or failed poll is tried again next round, as
                    // CodeBuild's event would still come: one transient error
                    // must not end the run (and lose every other build's end)
                    Err(error) if error.is_transient() => {
                        tracing::info!(%build, %error, "build status unavailable, polling again");
                        continue;
                    }
                    Err(error) => {
                        return Err(RunError::Watch {
                            build: build.to_string(),
                            error,
                        });
                    }
                };
                if status.is_terminal() {
                    ended += 1;
                    self.pending.lock().watched.remove(&build);
                    let id = self.pending.next_id("build");
                    let event = synth::build_state_change(
                        &id,
                        &account,
                        &self.site.region,
                        &build,
                        status,
                        self.platform.clock().now(),
                    );
                    self.inject(event, format!("build {} {}", build, status.as_str()));
                }
            }
            if ended == 0 {
                idle_polls += 1;
                if idle_polls > limits.polls {
                    let still = self.pending.lock().watched.len();
                    return Err(RunError::BuildsStillRunning(still, limits.polls));
                }
                tokio::time::sleep(limits.poll_interval).await;
            } else {
                idle_polls = 0;
            }
        }
        Ok(self.counted(summary, before))
    }
}

#[cfg(test)]
mod tests;
