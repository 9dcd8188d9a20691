//! The whole lifecycle on the emulator through the fault-injecting proxy
//! (`spa_testkit::faults`): accounts on-boarded, then the maintenance window and the
//! cycle it starts (expire → purge → purged → preparation → assigned), with 10% of
//! the requests throttled and 5% answered with server errors.
//!
//! Deliveries are driven here (the local runtime's router and build watcher feed
//! them): a delivery that fails is delivered again, twice, as Lambda retries an
//! asynchronous invocation (or SQS a message); one that still fails is a give-up,
//! listed with its account, and handed as production does to the `dead-letters`
//! function as a message of the matching dead-letter queue (retried while the faults
//! go on): each must end archived once and raised once as `DeadLetter` for its
//! account. Every account must end in its expected state, each
//! build-starting transition must start one build (one idempotency token, one build
//! id), and every give-up must name an account that did not silently end well.
//!
//! `at_least_once_*` deliver every event twice, shuffled by a seeded generator
//! (`SPA_SEED` sets it; the seed is printed): no double build, no rejection other than
//! duplicate or stale, no account lost.
//!
//! `SPA_RESILIENCE_ACCOUNTS` sets the number of accounts of the default runs;
//! `make resilience` runs the two ignored 1,000-account runs (as delivered, and twice
//! shuffled). Retries back off from 5 ms (`Retries::Hurried`) unless
//! `SPA_RESILIENCE_ADAPTIVE` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use spa_aws::{Connected, Retries};
use spa_core::events::{AccountId, Job, Label};
use spa_core::lifecycle::{Rejection, State};
use spa_core::rules::Function;
use spa_core::settings::{MemorySources, Settings, load};
use spa_local::LocalHandler;
use spa_local::seed::{AccountSeed, SeedPlan, UnitSeed, remap};
use spa_local::{Handler, Limits, LocalPlatform, Runtime, synth};
use spa_testkit::faults::{Fault, FaultCounts, FaultPlan, FaultProxy};
use spa_usecases::ports::{ActivityQuery, Journal, Objects, Organization, Platform};
use spa_usecases::{Verdict, archive_key, handle};

const SETTINGS: &str = "\
environment_identifier: SpaFaults
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
reporting:
  bucket: spa-faults-reports
defaults:
  preparation: {feature: enabled}
  purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
organizational_units:
  - identifier: ou-sandboxes
";

const HOLDER: &str = "account-holder";
const STATE: &str = "account-state";
const START_BUILD: &str = "codebuild:StartBuild";

fn accounts_from_env(default: usize) -> usize {
    std::env::var("SPA_RESILIENCE_ACCOUNTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn seed_from_env() -> u64 {
    std::env::var("SPA_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1)
        })
}

// ---------------------------------------------------------------- the handler

/// What the deliveries came to.
#[derive(Debug, Default)]
struct Log {
    handled: u64,
    failed: u64,
    duplicates: u64,
    stale: u64,
    seen: u64,
    /// The window's command refused by a pool account (only an assigned account
    /// expires): at most one per pool account, none when the window knew it was
    /// prepared (it sends such an account no command).
    pool_refusals: u64,
    /// Rejections other than these, duplicate and stale: illegal states.
    illegal: Vec<String>,
    /// Build ids started per account (a resumed start is the same id).
    builds: BTreeMap<String, BTreeSet<String>>,
    /// Claims found held by another delivery (a race lost: the delivery comes back).
    busy: u64,
}

/// The engine's handler, recording the verdict of every outcome.
struct Probe<'s> {
    inner: LocalHandler<'s>,
    log: Mutex<Log>,
    /// The records the last delivery reported failed (`None`: it failed whole).
    last_failures: Mutex<Option<Vec<String>>>,
    /// `environment_identifier`: names the dead-letter queues.
    environment: String,
    /// Deliveries of this function about this account always fail (a handler double
    /// that cannot succeed), so that give-ups certainly happen.
    doomed: Option<(Function, String)>,
}

impl Handler<Connected> for Probe<'_> {
    async fn handle(
        &self,
        platform: &LocalPlatform<Connected>,
        function: Function,
        event: &Value,
    ) -> Result<String, String> {
        let engine = self.inner.engine(platform).map_err(|e| e.to_string())?;
        // the records about the doomed account fail; the others are handled
        let mut doomed_ids = Vec::new();
        let mut reduced = None;
        if let Some((doomed_function, account)) = &self.doomed
            && *doomed_function == function
        {
            let about = |record: &Value| record.to_string().contains(account.as_str());
            match event.get("Records").and_then(Value::as_array) {
                Some(records) => {
                    doomed_ids = records
                        .iter()
                        .filter(|r| about(r))
                        .filter_map(|r| r["messageId"].as_str().map(str::to_owned))
                        .collect();
                    let kept: Vec<Value> = records.iter().filter(|r| !about(r)).cloned().collect();
                    reduced = Some(json!({ "Records": kept }));
                }
                None if about(event) => {
                    let mut log = self.log.lock().unwrap();
                    log.handled += 1;
                    log.failed += 1;
                    *self.last_failures.lock().unwrap() = None;
                    return Err(format!("doomed: every delivery about {account} fails"));
                }
                None => {}
            }
        }
        let event = reduced.as_ref().unwrap_or(event);
        let mut handled = if event["Records"].as_array().is_some_and(Vec::is_empty) {
            Ok(spa_usecases::Handled {
                function,
                dispatched: spa_usecases::Dispatched::default(),
            })
        } else {
            handle(&engine, Some(function), event).await
        };
        if let Ok(handled) = &mut handled {
            handled.dispatched.batch_item_failures.extend(doomed_ids);
        }
        let busy = engine.troubles().get("Busy").copied().unwrap_or(0);
        *self.last_failures.lock().unwrap() = match &handled {
            Ok(handled) => Some(handled.dispatched.batch_item_failures.clone()),
            Err(_) => None,
        };
        let mut log = self.log.lock().unwrap();
        log.handled += 1;
        log.busy += u64::from(busy);
        match handled {
            Ok(handled) => {
                for outcome in &handled.dispatched.outcomes {
                    let account = outcome
                        .account
                        .as_ref()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default();
                    match &outcome.verdict {
                        Verdict::Rejected(Rejection::Duplicate { .. }) => log.duplicates += 1,
                        Verdict::Rejected(Rejection::Stale { .. }) => log.stale += 1,
                        Verdict::Rejected(Rejection::Illegal {
                            state: Some(State::Prepared),
                            trigger: "maintenance window",
                            ..
                        }) => log.pool_refusals += 1,
                        Verdict::Rejected(other) => log.illegal.push(format!("{account}: {other}")),
                        Verdict::Seen => log.seen += 1,
                        _ => {}
                    }
                    if let Some(build) = &outcome.build {
                        log.builds
                            .entry(account)
                            .or_default()
                            .insert(build.as_str().to_owned());
                    }
                }
                if handled.dispatched.batch_item_failures.is_empty() {
                    Ok(handled.summary())
                } else {
                    log.failed += 1;
                    Err(handled.summary())
                }
            }
            Err(error) => {
                log.failed += 1;
                Err(error.to_string())
            }
        }
    }
}

/// Takes the deliveries instead of handling them, so the test orders them.
#[derive(Default)]
struct Capture(Mutex<Vec<(Function, Value)>>);

impl<P: Platform> Handler<P> for Capture {
    async fn handle(
        &self,
        _platform: &LocalPlatform<P>,
        function: Function,
        event: &Value,
    ) -> Result<String, String> {
        self.0.lock().unwrap().push((function, event.clone()));
        Ok("captured".into())
    }
}

// ---------------------------------------------------------------- the driver

/// How deliveries are handed over.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// Each once, in order.
    Once,
    /// Each twice, shuffled by a generator of this seed.
    TwiceShuffled(u64),
    /// Each twice, shuffled by a generator of this seed, and handed to two workers
    /// that deliver at once: the two deliveries of an event, and events about the same
    /// account, race.
    TwoWorkers(u64),
}

/// Tries of a delivery by a racing worker: a reaction told `Busy` (the other worker
/// holds the account or the cause) comes back after a short wait, as SQS or Lambda
/// would deliver it again.
const RACE_TRIES: u32 = 400;

/// Times a failed delivery is tried in all (Lambda: the first and two retries).
const TRIES: u32 = 3;

#[derive(Debug, Default)]
struct Driven {
    deliveries: u64,
    redeliveries: u64,
    /// Deliveries that failed every try: what, and why.
    give_ups: Vec<String>,
    /// What each give-up became: a message of a dead-letter queue, handed to the
    /// `dead-letters` function.
    dead_letters: Vec<Lost>,
}

/// One message of a dead-letter queue, as production would have it.
#[derive(Debug, Clone)]
struct Lost {
    queue: String,
    message_id: String,
    body: String,
    sent_at: chrono::DateTime<chrono::Utc>,
    /// The account it concerns, read from the message here (not by the engine's
    /// decoder): the automation account when it concerns none.
    account: String,
    /// Tries the `dead-letters` function needed.
    tries: u32,
}

/// Most tries of the `dead-letters` function on one message (its queue redelivers it
/// after each visibility timeout, for 14 days).
const DEAD_LETTER_TRIES: u32 = 30;

/// The automation account of the settings.
const AUTOMATION: &str = "123456789012";

/// The account a lost message concerns, read from its JSON.
fn concerned(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return AUTOMATION.to_owned();
    };
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let found = if value.get("action").is_some() {
        text("/account")
    } else if value.get("source").and_then(Value::as_str) == Some("aws.organizations") {
        text("/detail/serviceEventDetails/createAccountStatus/accountId")
    } else if value.get("source").and_then(Value::as_str) == Some("spa") {
        text("/detail/account")
    } else if value.get("source").is_some() {
        text("/account")
    } else {
        None
    };
    found.unwrap_or(AUTOMATION).to_owned()
}

/// The messages a given-up delivery leaves in its dead-letter queue: the failed
/// records of an SQS batch (their queue's redrive keeps body and message id), or the
/// event itself for an asynchronous invocation (Lambda's on-failure DLQ, with
/// `ErrorCode` / `ErrorMessage` / `RequestID`).
fn dead_letters_of(
    environment: &str,
    function: Function,
    event: &Value,
    failed: Option<&[String]>,
    why: &str,
    serial: usize,
) -> Vec<(Lost, Value)> {
    let now = chrono::Utc::now();
    let sent = now.timestamp_millis().to_string();
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let queue = match function {
            Function::BudgetAlerts => format!("{environment}-BudgetAlerts-dlq"),
            _ => format!("{environment}-commands-dlq"),
        };
        return records
            .iter()
            .filter(|r| {
                let id = r["messageId"].as_str().unwrap_or_default();
                failed.is_none_or(|failed| failed.iter().any(|f| f == id))
            })
            .map(|r| {
                let body = r["body"].as_str().unwrap_or_default().to_owned();
                let message_id = r["messageId"].as_str().unwrap_or_default().to_owned();
                let record = json!({
                    "messageId": message_id,
                    "receiptHandle": "AQEB",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": sent},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": format!("arn:aws:sqs:eu-west-1:{AUTOMATION}:{queue}"),
                    "awsRegion": "eu-west-1",
                });
                let lost = Lost {
                    queue: queue.clone(),
                    account: concerned(&body),
                    message_id,
                    body,
                    sent_at: chrono::DateTime::from_timestamp_millis(now.timestamp_millis())
                        .unwrap(),
                    tries: 0,
                };
                (lost, record)
            })
            .collect();
    }
    let queue = format!("{environment}-{}-dlq", function.as_str());
    let body = event.to_string();
    let message_id = format!("lambda-dlq-{serial}");
    let attribute = |value: &str| json!({"stringValue": value, "dataType": "String"});
    let record = json!({
        "messageId": message_id,
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": sent},
        "messageAttributes": {
            "ErrorCode": attribute("200"),
            "ErrorMessage": attribute(&why.chars().take(200).collect::<String>()),
            "RequestID": attribute(&format!("request-{serial}")),
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:eu-west-1:{AUTOMATION}:{queue}"),
        "awsRegion": "eu-west-1",
    });
    let lost = Lost {
        queue,
        account: concerned(&body),
        message_id,
        body,
        sent_at: chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap(),
        tries: 0,
    };
    vec![(lost, record)]
}

/// Hands a dead letter to the `dead-letters` function until it is archived and raised,
/// as its queue would redeliver it; the proxy's faults are still on.
async fn hand_to_dead_letters(
    runtime: &Runtime<Connected>,
    probe: &Probe<'_>,
    lost: &mut Lost,
    record: Value,
) {
    let engine = probe.inner.engine(runtime.platform()).unwrap();
    let event = json!({ "Records": [record] });
    loop {
        lost.tries += 1;
        match handle(&engine, Some(Function::DeadLetters), &event).await {
            Ok(handled) if handled.dispatched.batch_item_failures.is_empty() => return,
            Ok(handled) => {
                assert!(
                    lost.tries < DEAD_LETTER_TRIES,
                    "the dead letter {} was not archived and raised in {DEAD_LETTER_TRIES} tries: {}",
                    lost.message_id,
                    handled.summary()
                );
            }
            Err(error) => panic!("a dead-letter batch failed whole: {error}"),
        }
    }
}

fn describe(function: Function, event: &Value) -> String {
    let kind = event
        .get("detail-type")
        .and_then(Value::as_str)
        .or_else(|| {
            event
                .pointer("/Records/0/eventSource")
                .and_then(Value::as_str)
        })
        .unwrap_or("event");
    let detail = event
        .pointer("/detail/serviceEventDetails/createAccountStatus/accountId")
        .or_else(|| event.pointer("/detail/additional-information/initiator"))
        .or_else(|| event.pointer("/Records/0/body"))
        .or_else(|| event.pointer("/detail/account"))
        .map(|v| v.to_string())
        .unwrap_or_default();
    format!("{} {kind} {detail}", function.as_str())
}

/// How often [`drive`] says how far it got (a 1,000-account run takes a while).
const PROGRESS_EVERY: u64 = 1000;

/// Hands every delivery to `probe` until nothing is pending and no build runs.
async fn drive(runtime: &Runtime<Connected>, probe: &Probe<'_>, mode: Delivery) -> Driven {
    let limits = Limits {
        poll_interval: std::time::Duration::from_millis(10),
        ..Limits::default()
    };
    let mut rng = match mode {
        Delivery::Once => None,
        Delivery::TwiceShuffled(seed) | Delivery::TwoWorkers(seed) => {
            Some(spa_testkit::faults::fastrand::Rng::with_seed(seed))
        }
    };
    let mut driven = Driven::default();
    loop {
        let capture = Capture::default();
        runtime
            .run_until_idle(&capture, limits, |_| {})
            .await
            .expect("the runtime routes and watches builds");
        let mut batch = capture.0.into_inner().unwrap();
        if batch.is_empty() {
            return driven;
        }
        if let Some(rng) = rng.as_mut() {
            batch = batch
                .into_iter()
                .flat_map(|delivery| [delivery.clone(), delivery])
                .collect();
            rng.shuffle(&mut batch);
        }
        if let Delivery::TwoWorkers(_) = mode {
            let (even, odd): (Vec<_>, Vec<_>) =
                batch.into_iter().enumerate().partition(|(n, _)| n % 2 == 0);
            let strip = |half: Vec<(usize, (Function, Value))>| -> Vec<(Function, Value)> {
                half.into_iter().map(|(_, delivery)| delivery).collect()
            };
            let (a, b) = tokio::join!(
                race(runtime, probe, strip(even)),
                race(runtime, probe, strip(odd))
            );
            for worker in [a, b] {
                driven.deliveries += worker.deliveries;
                driven.redeliveries += worker.redeliveries;
                driven.give_ups.extend(worker.give_ups);
            }
            continue;
        }
        for (function, event) in batch {
            driven.deliveries += 1;
            if driven.deliveries % PROGRESS_EVERY == 0 {
                eprintln!(
                    "progress: {} deliveries, {} redeliveries, {} give-ups",
                    driven.deliveries,
                    driven.redeliveries,
                    driven.give_ups.len()
                );
            }
            let mut tries = 1;
            while let Err(why) = probe.handle(runtime.platform(), function, &event).await {
                if tries >= TRIES {
                    driven
                        .give_ups
                        .push(format!("{}: {why}", describe(function, &event)));
                    let failed = probe.last_failures.lock().unwrap().clone();
                    let serial = driven.dead_letters.len();
                    for (mut lost, record) in dead_letters_of(
                        &probe.environment,
                        function,
                        &event,
                        failed.as_deref(),
                        &why,
                        serial,
                    ) {
                        hand_to_dead_letters(runtime, probe, &mut lost, record).await;
                        driven.dead_letters.push(lost);
                    }
                    break;
                }
                tries += 1;
                driven.redeliveries += 1;
            }
        }
    }
}

/// One racing worker: delivers each of `batch` until it is handled (a failure, mostly
/// `Busy` while the other worker holds the account, comes back after a short wait).
async fn race(
    runtime: &Runtime<Connected>,
    probe: &Probe<'_>,
    batch: Vec<(Function, Value)>,
) -> Driven {
    let mut driven = Driven::default();
    for (function, event) in batch {
        driven.deliveries += 1;
        let mut tries = 1;
        while let Err(why) = probe.handle(runtime.platform(), function, &event).await {
            if tries >= RACE_TRIES {
                driven
                    .give_ups
                    .push(format!("{}: {why}", describe(function, &event)));
                break;
            }
            tries += 1;
            driven.redeliveries += 1;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    driven
}

// ---------------------------------------------------------------- the organization

struct Seeded {
    settings: Settings,
    /// Account id → expected final state.
    expected: BTreeMap<String, &'static str>,
}

async fn seed(scenario: &spa_testkit::Scenario<'_>, accounts: usize) -> Seeded {
    let settings = load("settings.yaml", SETTINGS, &MemorySources::new())
        .unwrap()
        .settings;
    let plan = SeedPlan {
        units: vec![UnitSeed {
            key: "ou-sandboxes".into(),
            name: "Sandboxes".into(),
            parent: None,
        }],
        accounts: (0..accounts)
            .map(|i| AccountSeed {
                key: None,
                name: format!("sandbox-{i:05}"),
                email: format!("aws+sandbox-{i:05}@example.com"),
                parent: Some("ou-sandboxes".into()),
                // two accounts of three have a holder; the rest wait in the pool
                tags: if i % 3 == 2 {
                    BTreeMap::new()
                } else {
                    BTreeMap::from([(HOLDER.to_owned(), format!("dev{i}@example.com"))])
                },
            })
            .collect(),
    };
    let seeded = spa_local::emulator::seed(&scenario.sdk_config().await, &plan)
        .await
        .expect("seeded");
    let expected = seeded
        .created
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), if i % 3 == 2 { "prepared" } else { "assigned" }))
        .collect();
    Seeded {
        settings: remap(&settings, &seeded),
        expected,
    }
}

/// Builds one account's transitions start: preparation, then for a holder's account
/// the maintenance's purge and preparation.
fn expected_builds(state: &str) -> usize {
    if state == "assigned" { 3 } else { 1 }
}

/// The account of an idempotency token (`spa-<account>-<kind>-...`).
fn token_account(token: &str) -> String {
    token.split('-').nth(1).unwrap_or_default().to_owned()
}

/// StartBuild requests that reached the emulator, per token.
fn builds_in_emulator(counts: &FaultCounts) -> BTreeMap<String, u64> {
    let mut per_token = BTreeMap::new();
    for seen in &counts.tokened {
        if seen.operation == START_BUILD && seen.status.is_some_and(|s| (200..300).contains(&s)) {
            *per_token.entry(seen.token.clone()).or_insert(0) += 1;
        }
    }
    per_token
}

/// What a run came to, printed and checked.
struct Report {
    name: String,
    accounts: usize,
    seconds: f64,
    calls: u64,
    attempts: u64,
    faults: FaultCounts,
    log: Log,
    driven: Driven,
    wrong_states: Vec<String>,
    tokens_per_account: BTreeMap<String, BTreeSet<String>>,
    emulator_builds: BTreeMap<String, u64>,
    /// Account id → expected final state.
    expected: BTreeMap<String, &'static str>,
    /// Dead letters archived byte for byte under their key.
    archived: usize,
    /// Dead letters with exactly one `DeadLetter` activity for their account.
    raised: usize,
    /// What a dead letter lacks (no archive, no activity, two activities...).
    dead_letter_problems: Vec<String>,
}

impl Report {
    fn print(&self) {
        println!("== {} ==", self.name);
        println!(
            "accounts {} | wall {:.1} s | API calls {} | attempts on the wire {} | SDK retries {}",
            self.accounts,
            self.seconds,
            self.calls,
            self.attempts,
            self.attempts.saturating_sub(self.calls)
        );
        println!("proxy: {}", self.faults.summary());
        println!(
            "deliveries {} | handled {} | failed {} | redelivered {} | give-ups {}",
            self.driven.deliveries,
            self.log.handled,
            self.log.failed,
            self.driven.redeliveries,
            self.driven.give_ups.len()
        );
        println!(
            "verdicts: already handled {} | duplicate {} | stale {} | pool refusing the window {} | illegal {} | busy (a race lost, delivered again) {}",
            self.log.seen,
            self.log.duplicates,
            self.log.stale,
            self.log.pool_refusals,
            self.log.illegal.len(),
            self.log.busy
        );
        let builds: usize = self.log.builds.values().map(BTreeSet::len).sum();
        let tokens: usize = self.tokens_per_account.values().map(BTreeSet::len).sum();
        let in_emulator: u64 = self.emulator_builds.values().sum();
        println!(
            "builds: {builds} build ids, {tokens} idempotency tokens, {in_emulator} StartBuild reaching the emulator | accounts in a wrong state {}",
            self.wrong_states.len()
        );
        println!(
            "dead letters: {} archived, {} raised ({} messages, {} tries of the dead-letters function)",
            self.archived,
            self.raised,
            self.driven.dead_letters.len(),
            self.driven
                .dead_letters
                .iter()
                .map(|l| l.tries)
                .sum::<u32>()
        );
        for give_up in &self.driven.give_ups {
            println!("give-up: {give_up}");
        }
    }

    /// Every give-up surfaced: each of its dead letters archived once and raised once
    /// as `DeadLetter` for its account.
    fn check_dead_letters(&self) {
        assert!(
            self.dead_letter_problems.is_empty(),
            "dead letters not surfaced: {:#?}",
            self.dead_letter_problems
        );
        assert!(
            self.driven.dead_letters.len() >= self.driven.give_ups.len(),
            "a give-up left no dead letter: {:#?}",
            self.driven.give_ups
        );
        assert_eq!(self.archived, self.driven.dead_letters.len());
        assert_eq!(self.raised, self.driven.dead_letters.len());
    }

    /// Whether no delivery met an illegal state.
    fn illegal_free(&self) -> bool {
        self.log.illegal.is_empty()
    }

    /// The checks every run must pass.
    fn check(&self) {
        self.check_dead_letters();
        assert!(
            self.log.illegal.is_empty(),
            "illegal states: {:#?}",
            self.log.illegal
        );
        let pool = self.expected.values().filter(|s| **s == "prepared").count();
        assert!(
            self.log.pool_refusals <= pool as u64,
            "at most one refusal per pool account: {} for {pool}",
            self.log.pool_refusals
        );
        // every give-up names an event; an account that did not end well must have
        // one (nothing lost silently)
        for wrong in &self.wrong_states {
            let account = wrong.split(':').next().unwrap_or_default();
            assert!(
                self.driven.give_ups.iter().any(|g| g.contains(account)),
                "{wrong} and no give-up names it: lost silently"
            );
        }
        assert!(
            self.wrong_states.is_empty(),
            "accounts in a wrong state: {:#?}\ngive-ups: {:#?}",
            self.wrong_states,
            self.driven.give_ups
        );
        for (account, state) in &self.expected {
            let ids = self.log.builds.get(account).map_or(0, BTreeSet::len);
            let tokens = self
                .tokens_per_account
                .get(account)
                .map_or(0, BTreeSet::len);
            assert_eq!(
                ids,
                expected_builds(state),
                "build ids of {account}: {:?}",
                self.log.builds.get(account)
            );
            assert_eq!(
                tokens,
                expected_builds(state),
                "idempotency tokens of {account}: {:?}",
                self.tokens_per_account.get(account)
            );
        }
        let twice: Vec<_> = self
            .emulator_builds
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect();
        assert!(twice.is_empty(), "a token started builds twice: {twice:?}");
    }
}

/// Seeds, on-boards every account, runs the maintenance window until idle; `plan`
/// is in force throughout (the seeding goes straight to the emulator).
async fn cycle(name: &str, accounts: usize, plan: FaultPlan, mode: Delivery) -> Report {
    cycle_with(name, accounts, plan, mode, None).await
}

/// The accounts expected assigned (a holder's), in order.
fn holders_accounts<'a>(
    expected: &'a BTreeMap<String, &'static str>,
) -> impl Iterator<Item = &'a String> {
    expected
        .iter()
        .filter(|(_, state)| **state == "assigned")
        .map(|(id, _)| id)
}

/// [`cycle`], with the deliveries of one function about the `doomed` account (its
/// index among the seeded accounts that get a holder: the window sends a command
/// to those only) always failing.
async fn cycle_with(
    name: &str,
    accounts: usize,
    plan: FaultPlan,
    mode: Delivery,
    doomed: Option<(Function, usize)>,
) -> Report {
    let scenario = spa_testkit::scenario();
    let organization = seed(&scenario, accounts).await;
    let proxy = FaultProxy::start(&scenario.endpoint(), plan).expect("proxy");
    let settings = &organization.settings;
    // hurried retries unless SPA_RESILIENCE_ADAPTIVE is set: a random share of
    // throttling keeps the adaptive limiter at its floor (half a call a second)
    let retries = if std::env::var_os("SPA_RESILIENCE_ADAPTIVE").is_some() {
        Retries::Adaptive
    } else {
        Retries::Hurried
    };
    let (runtime, resources) =
        spa_local::connect::runtime_with_retries(settings, proxy.url(), retries)
            .await
            .expect("runtime");
    let doomed = doomed.map(|(function, index)| {
        let id = holders_accounts(&organization.expected)
            .nth(index)
            .unwrap()
            .clone();
        (function, id)
    });
    let probe = Probe {
        inner: LocalHandler::new(settings).with_engine_bus_arn(resources.bus_arn.clone()),
        log: Mutex::new(Log::default()),
        last_failures: Mutex::new(None),
        environment: settings.environment_identifier.clone(),
        doomed,
    };
    let start = Instant::now();
    let management = AccountId::parse("123456789012").unwrap();
    for id in organization.expected.keys() {
        let account = AccountId::parse(id).unwrap();
        let event = synth::create_account_result(
            &format!("created-{id}"),
            &management,
            &account,
            chrono::Utc::now(),
        );
        runtime.inject(event, format!("created {id}"));
    }
    let mut driven = drive(&runtime, &probe, mode).await;
    runtime.fire(Job::MaintenanceWindow, chrono::Utc::now());
    let window = drive(&runtime, &probe, mode).await;
    driven.deliveries += window.deliveries;
    driven.redeliveries += window.redeliveries;
    driven.give_ups.extend(window.give_ups);
    driven.dead_letters.extend(window.dead_letters);
    let seconds = start.elapsed().as_secs_f64();
    // the final states, read without faults
    proxy.set_plan(FaultPlan::none());
    let mut wrong_states = Vec::new();
    for (id, expected) in &organization.expected {
        let tags = runtime
            .platform()
            .organization()
            .tags(&AccountId::parse(id).unwrap())
            .await
            .expect("tags");
        let state = tags.get(STATE).map(String::as_str).unwrap_or("none");
        if state != *expected {
            wrong_states.push(format!("{id}: {state}, expected {expected}"));
        }
    }
    // every dead letter archived once and raised once, read without faults
    let (mut archived, mut raised, mut dead_letter_problems) = (0, 0, Vec::new());
    let platform = runtime.platform();
    for lost in &driven.dead_letters {
        let key = archive_key(&lost.queue, &lost.message_id, lost.sent_at);
        match platform.objects().get(&key).await {
            Ok(bytes) if bytes == lost.body.as_bytes() => archived += 1,
            Ok(_) => dead_letter_problems.push(format!("{key}: archived bytes differ")),
            Err(error) => dead_letter_problems.push(format!("{key}: not archived: {error}")),
        }
        let history = platform
            .store()
            .activities(&ActivityQuery {
                account: AccountId::parse(&lost.account),
                ..ActivityQuery::default()
            })
            .await
            .expect("history");
        let cause = format!("dead-letter:{}", lost.message_id);
        let found = history
            .iter()
            .filter(|a| a.label == Label::DeadLetter && a.cause.as_deref() == Some(cause.as_str()))
            .count();
        if found == 1 {
            raised += 1;
        } else {
            dead_letter_problems.push(format!(
                "{cause}: {found} DeadLetter activities for {}",
                lost.account
            ));
        }
    }
    let faults = proxy.counts();
    let mut tokens_per_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for seen in faults.tokened.iter().filter(|t| t.operation == START_BUILD) {
        tokens_per_account
            .entry(token_account(&seen.token))
            .or_default()
            .insert(seen.token.clone());
    }
    let calls = runtime.inner().calls();
    let report = Report {
        name: name.to_owned(),
        accounts,
        seconds,
        calls: calls.total(),
        attempts: calls.attempts(),
        emulator_builds: builds_in_emulator(&faults),
        faults,
        log: probe.log.into_inner().unwrap(),
        driven,
        wrong_states,
        tokens_per_account,
        expected: organization.expected.clone(),
        archived,
        raised,
        dead_letter_problems,
    };
    report.print();
    report
}

/// 10% throttled, 5% server errors, on every service; CodeBuild honours tokens.
fn throttling_plan(seed: u64) -> FaultPlan {
    FaultPlan {
        throttle: 0.10,
        server_error: 0.05,
        ..FaultPlan::none()
    }
    .seeded(seed)
    .idempotent(START_BUILD)
}

async fn throttled_cycle(accounts: usize) {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    let report = cycle(
        "10% throttled, 5% server errors",
        accounts,
        throttling_plan(seed),
        Delivery::Once,
    )
    .await;
    assert!(report.faults.fault(Fault::Throttled) > 0);
    assert!(report.faults.fault(Fault::ServerError) > 0);
    report.check();
}

#[tokio::test]
async fn the_cycle_survives_throttling_and_server_errors() {
    throttled_cycle(accounts_from_env(30)).await;
}

#[tokio::test]
#[ignore = "1,000 accounts: minutes; `make resilience`"]
async fn the_cycle_of_1000_accounts_survives_throttling_and_server_errors() {
    throttled_cycle(1000).await;
}

async fn twice_shuffled_cycle(accounts: usize) {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    let report = cycle(
        "every event delivered twice, shuffled; 10% throttled, 5% server errors",
        accounts,
        throttling_plan(seed),
        Delivery::TwiceShuffled(seed),
    )
    .await;
    assert!(
        report.log.seen > 0,
        "the second deliveries were recognised as already handled"
    );
    report.check();
}

#[tokio::test]
async fn at_least_once_every_event_twice_and_shuffled() {
    twice_shuffled_cycle(accounts_from_env(30)).await;
}

#[tokio::test]
#[ignore = "1,000 accounts: minutes; `make resilience`"]
async fn at_least_once_for_1000_accounts_every_event_twice_and_shuffled() {
    twice_shuffled_cycle(1000).await;
}

async fn racing_cycle(accounts: usize) {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    let report = cycle(
        "every event delivered twice, shuffled, by two workers at once; 10% throttled, 5% server errors",
        accounts,
        throttling_plan(seed),
        Delivery::TwoWorkers(seed),
    )
    .await;
    assert!(
        report.driven.give_ups.is_empty(),
        "{:#?}",
        report.driven.give_ups
    );
    report.check();
}

/// Races: the deliveries of the same accounts at once, from two workers (one writer
/// per account: the loser is told `Busy` and comes back); no illegal transition, no
/// build started twice, no account lost.
#[tokio::test]
async fn two_workers_racing_on_the_same_accounts_interleave_nothing() {
    racing_cycle(accounts_from_env(30)).await;
}

#[tokio::test]
#[ignore = "1,000 accounts: minutes; `make resilience`"]
async fn two_workers_racing_on_1000_accounts_interleave_nothing() {
    racing_cycle(1000).await;
}

/// StartBuild's answer lost after CodeBuild started the build, half the time.
fn lost_answers(seed: u64) -> FaultPlan {
    FaultPlan {
        drop_after: 0.5,
        ..FaultPlan::none()
    }
    .seeded(seed)
    .only(START_BUILD)
}

#[tokio::test]
async fn a_lost_start_build_answer_starts_no_second_build() {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    // CodeBuild keeps idempotency tokens; moto does not, so the proxy plays that part
    let report = cycle(
        "StartBuild answers lost after the build started (tokens honoured)",
        12,
        lost_answers(seed).idempotent(START_BUILD),
        Delivery::Once,
    )
    .await;
    assert!(report.faults.fault(Fault::DroppedAfter) > 0);
    assert!(
        report.faults.fault(Fault::Replayed) > 0,
        "the retries carried the same token"
    );
    report.check();
}

#[tokio::test]
async fn without_the_token_a_lost_answer_would_start_a_second_build() {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    // the control: moto's own behaviour (tokens ignored) shows what the token prevents,
    // and that the check above would see it
    let report = cycle(
        "StartBuild answers lost after the build started (tokens ignored, as moto does)",
        12,
        lost_answers(seed),
        Delivery::Once,
    )
    .await;
    assert!(report.faults.fault(Fault::DroppedAfter) > 0);
    assert!(
        report.emulator_builds.values().any(|n| *n > 1),
        "a retried StartBuild reached the emulator twice: {:?}",
        report.emulator_builds
    );
    // no check of the final states: the control only shows the second build. Half of
    // the StartBuild answers are lost here, and with some seeds an account spends its
    // every try on them and stays behind (SPA_SEED=1796545397: purged, expected
    // assigned); the test with the token checks the states
    if !report.wrong_states.is_empty() {
        println!("without the token, wrong states: {:?}", report.wrong_states);
    }
}

#[tokio::test]
async fn every_give_up_is_archived_and_raised_for_its_account() {
    let seed = seed_from_env();
    println!("SPA_SEED={seed}");
    // the maintenance window's command for the first account (it has a holder) fails
    // every delivery, while the proxy keeps throttling and failing calls
    let report = cycle_with(
        "the window's command for one account always fails; 10% throttled, 5% server errors",
        6,
        throttling_plan(seed),
        Delivery::Once,
        Some((Function::Commands, 0)),
    )
    .await;
    let doomed = holders_accounts(&report.expected).next().unwrap().clone();
    assert!(
        report.driven.give_ups.iter().any(|g| g.contains(&doomed)),
        "the doomed command was given up: {:#?}",
        report.driven.give_ups
    );
    let lost: Vec<&Lost> = report
        .driven
        .dead_letters
        .iter()
        .filter(|l| l.account == doomed)
        .collect();
    assert!(!lost.is_empty(), "{:#?}", report.driven.dead_letters);
    assert!(
        lost.iter().all(|l| l.queue == "SpaFaults-commands-dlq"),
        "{lost:#?}"
    );
    report.check_dead_letters();
    assert!(
        report.illegal_free(),
        "illegal states: {:#?}",
        report.log.illegal
    );
}
