//! spa's figures against the emulator (moto), beside the targets and the Python
//! predecessor's figures:
//!
//! 1. on-boarding: N seeded accounts (half with a holder) through `CreateAccountResult`;
//! 2. the maintenance window: its own invocation (the dispatch), first through the
//!    real SQS adapter on moto's queue, then in the local runtime; then the whole
//!    cycle until idle (every assigned account: expire → purge → purged → preparation
//!    → assigned; a pool account refuses the command);
//! 3. `spa handle` on one event, as a process: wall time (process start to exit) and
//!    peak RSS.
//!
//! `cargo bench -p spa --bench lifecycle` (release build); `SPA_BENCH_ACCOUNTS`
//! (default 300, the size BENCHMARKS.md is written at) and `SPA_BENCH_HANDLE_RUNS`
//! (default 20) scale it. `spa handle` is the `spa` binary `SPA_BENCH_SPA` names:
//! `make benchmarks` builds it in the profile Lambda's `bootstrap` is built in
//! (`lambda-release`: optimized for size, fat LTO), since its memory is what Lambda
//! pays; without it, the bench profile's own `spa` (optimized for speed: more code,
//! more of it resident). Figures are printed
//! as a table and written to `target/bench-lifecycle.json`. Without `--bench` (as
//! `cargo test --benches` runs it) it does nothing: speed goals live here, never in
//! timed tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spa_aws::Connected;
use spa_aws::metrics::ApiCalls;
use spa_aws::sqs::{SqsCommands, ensure_queue};
use spa_core::events::{AccountCommand, AccountId, Action, BuildStatus, Job};
use spa_core::lifecycle::BuildId;
use spa_core::rules::Function;
use spa_core::settings::{MemorySources, Settings, load};
use spa_local::LocalHandler;
use spa_local::seed::{AccountSeed, SeedPlan, UnitSeed};
use spa_local::{Handler, Limits, LocalPlatform, Runtime, synth};
use spa_usecases::ports::{Commands, Organization, Platform};
use spa_usecases::{Verdict, handle, managed_accounts};

/// The OUs the managed accounts are spread over.
const UNITS: usize = 4;
/// The automation (and management) account: moto's default account.
const MANAGEMENT: &str = "123456789012";
const HOLDER_TAG: &str = "account-holder";

/// Targets of issue 18 for `spa handle` on one event, cold: p95 wall time (stated for
/// a `CreateAccountResult` on the 300-account bench) and peak RSS.
const TARGET_HANDLE_MS: f64 = 100.0;
const TARGET_HANDLE_MIB: f64 = 20.0;
const TARGET_DISPATCH_CALLS_PER_ACCOUNT: f64 = 2.0;
/// Targets of issue 18 for a maintenance cycle, per maintained account.
const TARGET_CYCLE_CALLS: f64 = 12.0;
const TARGET_CYCLE_ORGANIZATIONS_CALLS: f64 = 4.0;
/// What issue 18 measured when it set its targets (300 accounts on moto), shown
/// beside each figure in BENCHMARKS.md.
const ISSUE_18: &str = "issue 18, 300 accounts";
const ISSUE_18_CYCLE_CALLS: f64 = 65.0;
const ISSUE_18_CYCLE_ORGANIZATIONS_CALLS: f64 = 11.0;
const ISSUE_18_CREATED_P95_MS: f64 = 185.0;
const ISSUE_18_HANDLE_MIB: &str = "24.5 to 26.7";
/// The Python predecessor against the same emulator.
const PYTHON_HANDLE_S: f64 = 0.69;
const PYTHON_HANDLE_MIB: f64 = 74.0;
const PYTHON_HANDLE_CALLS: u64 = 11;
const PYTHON_WINDOW_S: f64 = 64.0;
const PYTHON_WINDOW_CALLS_PER_ACCOUNT: f64 = 5.0;

fn settings_text(units: &[&str]) -> String {
    let mut text = String::from(
        "\
environment_identifier: SpaBench
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::123456789012:role/SpaManagement
defaults:
  preparation: {feature: enabled}
  purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
organizational_units:
",
    );
    for unit in units {
        text.push_str(&format!("  - identifier: {unit}\n"));
    }
    text
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?}: expected a whole number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------- measuring

/// One delivery handled in the local runtime.
#[derive(Debug, Clone)]
struct Record {
    function: Function,
    elapsed: Duration,
    calls: BTreeMap<String, u64>,
    ok: bool,
}

/// The local handler, timed and counted per delivery.
struct Timed<'s> {
    inner: LocalHandler<'s>,
    calls: ApiCalls,
    records: Mutex<Vec<Record>>,
}

impl Timed<'_> {
    fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

impl Handler<Connected> for Timed<'_> {
    async fn handle(
        &self,
        platform: &LocalPlatform<Connected>,
        function: Function,
        event: &Value,
    ) -> Result<String, String> {
        let before = self.calls.snapshot();
        let start = Instant::now();
        let result = self.inner.handle(platform, function, event).await;
        let elapsed = start.elapsed();
        let calls = difference(&self.calls.snapshot(), &before);
        self.records.lock().unwrap().push(Record {
            function,
            elapsed,
            calls,
            ok: result.is_ok(),
        });
        result
    }
}

fn difference(
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn add(into: &mut BTreeMap<String, u64>, calls: &BTreeMap<String, u64>) {
    for (k, v) in calls {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn top(calls: &BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut sorted: Vec<(String, u64)> = calls.iter().map(|(k, v)| (k.clone(), *v)).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted.truncate(n);
    sorted
}

/// Per function: deliveries, time in the handler, API calls, latency percentiles.
#[derive(Debug, Default)]
struct FunctionFigures {
    deliveries: u64,
    failed: u64,
    busy: Duration,
    calls: BTreeMap<String, u64>,
    latencies: Vec<Duration>,
}

/// A run of the local runtime until idle.
struct Phase {
    name: &'static str,
    accounts: usize,
    wall: Duration,
    calls: BTreeMap<String, u64>,
    attempts: u64,
    handled: u64,
    failed: u64,
    commands_sent: u64,
    builds_started: u64,
    functions: BTreeMap<Function, FunctionFigures>,
    records: Vec<Record>,
    cpu: Cpu,
}

/// The build watcher's polls stand in for the Build State Change events CodeBuild
/// forwards on AWS: they are counted apart from what the functions call.
const WATCHER_CALL: &str = "CodeBuild:BatchGetBuilds";

impl Phase {
    fn busy(&self) -> Duration {
        self.functions.values().map(|f| f.busy).sum()
    }
    fn function_calls(&self) -> u64 {
        self.functions.values().map(|f| total(&f.calls)).sum()
    }
    fn watcher_calls(&self) -> u64 {
        self.calls.get(WATCHER_CALL).copied().unwrap_or(0)
    }
    fn per_account(&self, calls: u64) -> f64 {
        calls as f64 / self.accounts.max(1) as f64
    }

    fn to_json(&self) -> Value {
        let functions: BTreeMap<&str, Value> = self
            .functions
            .iter()
            .map(|(f, fig)| {
                let mut sorted = fig.latencies.clone();
                sorted.sort();
                (
                    f.as_str(),
                    json!({
                        "deliveries": fig.deliveries,
                        "failed": fig.failed,
                        "busy_ms": ms(fig.busy),
                        "api_calls": total(&fig.calls),
                        "latency_ms": {
                            "median": ms(percentile(&sorted, 0.5)),
                            "p95": ms(percentile(&sorted, 0.95)),
                            "max": ms(sorted.last().copied().unwrap_or_default()),
                        },
                    }),
                )
            })
            .collect();
        json!({
            "accounts": self.accounts,
            "wall_s": self.wall.as_secs_f64(),
            "in_functions_s": self.busy().as_secs_f64(),
            "cpu": self.cpu.to_json(),
            "api_calls": total(&self.calls),
            "api_attempts": self.attempts,
            "api_calls_of_functions": self.function_calls(),
            "api_calls_of_build_watcher": self.watcher_calls(),
            "api_calls_per_account": self.per_account(total(&self.calls)),
            "api_calls_of_functions_per_account": self.per_account(self.function_calls()),
            "deliveries": self.handled,
            "failed": self.failed,
            "commands_sent": self.commands_sent,
            "builds_started": self.builds_started,
            "functions": functions,
            "calls_by_operation": self.calls,
        })
    }
}

async fn run_phase(
    name: &'static str,
    accounts: usize,
    runtime: &Runtime<Connected>,
    timed: &Timed<'_>,
    limits: Limits,
    emulator: Option<&str>,
) -> Phase {
    let calls = runtime.inner().calls();
    let verbose = std::env::var_os("SPA_BENCH_VERBOSE").is_some();
    let cpu = Cpu::now(emulator);
    let start = Instant::now();
    let mut failures = Vec::new();
    let summary = runtime
        .run_until_idle(timed, limits, |step| {
            if verbose {
                eprintln!(
                    "{name}: {} {} -> {:?}",
                    step.function.as_str(),
                    step.summary,
                    step.result
                );
            }
            if let Err(why) = &step.result {
                failures.push(format!(
                    "{} {}: {why}",
                    step.function.as_str(),
                    step.summary
                ));
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: the local runtime stopped: {e}"));
    let wall = start.elapsed();
    let cpu = Cpu::now(emulator).since(cpu);
    for failure in failures.iter().take(5) {
        eprintln!("{name}: failed delivery: {failure}");
    }
    let records = timed.take();
    let mut functions: BTreeMap<Function, FunctionFigures> = BTreeMap::new();
    for record in &records {
        let figures = functions.entry(record.function).or_default();
        figures.deliveries += 1;
        figures.failed += u64::from(!record.ok);
        figures.busy += record.elapsed;
        figures.latencies.push(record.elapsed);
        add(&mut figures.calls, &record.calls);
    }
    Phase {
        name,
        accounts,
        wall,
        calls: calls.snapshot(),
        attempts: calls.attempts(),
        handled: summary.handled,
        failed: summary.failed,
        commands_sent: summary.commands_sent,
        builds_started: summary.builds_started,
        functions,
        records,
        cpu,
    }
}

fn print_phase(phase: &Phase) {
    println!("\n== {} ({} accounts) ==", phase.name, phase.accounts);
    println!(
        "  wall time                 {:>10.2} s   (in the functions {:.2} s; the rest: build watcher polls every 10 ms, serial)",
        phase.wall.as_secs_f64(),
        phase.busy().as_secs_f64()
    );
    println!(
        "  CPU time                  {:>10.2} s   spa, {:.2} s the emulator",
        phase.cpu.spa.as_secs_f64(),
        phase.cpu.emulator.as_secs_f64()
    );
    println!(
        "  API calls                 {:>10}     ({:.2} per account; {} attempts on the wire)",
        total(&phase.calls),
        phase.per_account(total(&phase.calls)),
        phase.attempts
    );
    println!(
        "    of the functions        {:>10}     ({:.2} per account)",
        phase.function_calls(),
        phase.per_account(phase.function_calls())
    );
    println!(
        "    of the build watcher    {:>10}     ({WATCHER_CALL}; on AWS CodeBuild forwards an event instead)",
        phase.watcher_calls()
    );
    println!(
        "  deliveries                {:>10}     ({} failed); commands {}, builds started {}",
        phase.handled, phase.failed, phase.commands_sent, phase.builds_started
    );
    println!("  by function               deliveries  busy s  calls  median ms  p95 ms   max ms");
    for (function, figures) in &phase.functions {
        let mut sorted = figures.latencies.clone();
        sorted.sort();
        println!(
            "    {:<22}{:>10} {:>7.2} {:>6} {:>10.1} {:>7.1} {:>8.1}",
            function.as_str(),
            figures.deliveries,
            figures.busy.as_secs_f64(),
            total(&figures.calls),
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.95)),
            ms(sorted.last().copied().unwrap_or_default()),
        );
    }
    println!("  top operations");
    for (operation, count) in top(&phase.calls, 10) {
        println!(
            "    {operation:<40}{count:>8}  ({:.2} per account)",
            phase.per_account(count)
        );
    }
}

// ---------------------------------------------------------------- CPU time

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`; `None` off Linux.
fn cpu_of(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may hold spaces: fields are counted after its closing ')'
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture's ABI
    Some(Duration::from_millis(ticks * 10))
}

/// The emulator: the child process of this one that runs python.
fn emulator_pid() -> Option<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().into_string().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(')')?;
            let parent = rest.split_whitespace().nth(1)?;
            (parent == me && name.starts_with("python")).then_some(pid)
        })
}

/// CPU time of spa (this process) and of the emulator, to tell whose the wall time is.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    spa: Duration,
    emulator: Duration,
}

impl Cpu {
    fn now(emulator: Option<&str>) -> Self {
        Self {
            spa: cpu_of("self").unwrap_or_default(),
            emulator: emulator.and_then(cpu_of).unwrap_or_default(),
        }
    }
    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            spa: self.spa.saturating_sub(start.spa),
            emulator: self.emulator.saturating_sub(start.emulator),
        }
    }
    fn to_json(self) -> Value {
        json!({ "spa_s": self.spa.as_secs_f64(), "emulator_s": self.emulator.as_secs_f64() })
    }
}

// ---------------------------------------------------------------- the organization

/// Accounts by their `account-state` tag (read after the counting).
async fn states(runtime: &Runtime<Connected>, accounts: &[String]) -> BTreeMap<String, usize> {
    let organization = runtime.inner().organization();
    let mut states = BTreeMap::new();
    for id in accounts {
        let id = AccountId::parse(id).expect("an account id");
        let state = match organization.tags(&id).await {
            Ok(tags) => tags
                .get("account-state")
                .cloned()
                .unwrap_or_else(|| "(none)".into()),
            Err(e) => format!("(unreadable: {e})"),
        };
        *states.entry(state).or_default() += 1;
    }
    states
}

fn plan(accounts: usize, handle_accounts: usize) -> SeedPlan {
    let mut units: Vec<UnitSeed> = (0..UNITS)
        .map(|u| UnitSeed {
            key: format!("unit-{u}"),
            name: format!("Sandboxes {u}"),
            parent: None,
        })
        .collect();
    units.push(UnitSeed {
        key: "unit-handle".into(),
        name: "Handled by spa handle".into(),
        parent: None,
    });
    let holder = |i: usize| {
        if i.is_multiple_of(2) {
            BTreeMap::from([(HOLDER_TAG.to_owned(), format!("holder{i}@example.com"))])
        } else {
            BTreeMap::new()
        }
    };
    let mut seeds: Vec<AccountSeed> = (0..accounts)
        .map(|i| AccountSeed {
            key: None,
            name: format!("sandbox-{i}"),
            email: format!("aws+sandbox{i}@example.com"),
            parent: Some(format!("unit-{}", i % UNITS)),
            tags: holder(i),
        })
        .collect();
    seeds.extend((0..handle_accounts).map(|i| AccountSeed {
        key: None,
        name: format!("handled-{i}"),
        email: format!("aws+handled{i}@example.com"),
        parent: Some("unit-handle".into()),
        tags: holder(i),
    }));
    SeedPlan {
        units,
        accounts: seeds,
    }
}

fn load_settings(text: &str) -> Settings {
    load("settings.yaml", text, &MemorySources::new())
        .unwrap_or_else(|e| panic!("the bench's settings do not load: {e:?}"))
        .settings
}

// ---------------------------------------------------------------- spa handle

#[derive(Debug)]
struct HandleRun {
    wall: Duration,
    peak_rss_kib: Option<u64>,
    /// User + system CPU time of the child, from wait4 (10 ms resolution).
    cpu: Option<Duration>,
    api_calls: Option<u64>,
    summary: String,
}

/// Runs `spa handle` once on `event` under `/usr/bin/time` (peak RSS and CPU of the
/// child, from wait4), timing it from spawn to exit.
fn spa_handle_once(
    spa: &Path,
    time: Option<&Path>,
    dir: &Path,
    endpoint: &str,
    settings: &Path,
    event: &Path,
) -> Result<HandleRun, String> {
    let usage_file = dir.join("usage.txt");
    let mut command = match time {
        Some(time) => {
            let mut c = Command::new(time);
            c.arg("-f")
                .arg("%M %U %S")
                .arg("-o")
                .arg(&usage_file)
                .arg(spa);
            c
        }
        None => Command::new(spa),
    };
    command
        .arg("handle")
        .arg("--json")
        .arg("--endpoint-url")
        .arg(endpoint)
        .arg("--settings")
        .arg(settings)
        .arg(event)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", spa.display()))?;
    let wall = start.elapsed();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let why: Vec<&str> = stderr
            .lines()
            .chain(stdout.lines())
            .filter(|l| !l.trim().is_empty() && !l.starts_with("Command exited"))
            .take(4)
            .collect();
        return Err(format!("{} ({})", why.join(" | "), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let printed: Option<Value> = serde_json::from_str(stdout.trim()).ok();
    let api_calls = printed
        .as_ref()
        .and_then(|v| v.get("api_calls"))
        .and_then(Value::as_u64);
    let summary = printed
        .as_ref()
        .and_then(|v| v.get("summary"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| stdout.trim().to_owned());
    let usage: Vec<String> = time
        .and_then(|_| std::fs::read_to_string(&usage_file).ok())
        .and_then(|t| t.lines().last().map(str::to_owned))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let peak_rss_kib = usage.first().and_then(|k| k.parse().ok());
    let seconds = |i: usize| usage.get(i).and_then(|s| s.parse::<f64>().ok());
    let cpu = seconds(1)
        .zip(seconds(2))
        .map(|(user, system)| Duration::from_secs_f64(user + system));
    Ok(HandleRun {
        wall,
        peak_rss_kib,
        cpu,
        api_calls,
        summary,
    })
}

/// Runs of `spa handle` on one kind of event, one account each.
struct Series {
    event: &'static str,
    warmup: HandleRun,
    runs: Vec<HandleRun>,
}

impl Series {
    fn sorted(&self, of: impl Fn(&HandleRun) -> Option<Duration>) -> Vec<Duration> {
        let mut values: Vec<Duration> = self.runs.iter().filter_map(of).collect();
        values.sort();
        values
    }
    fn p95_ms(&self) -> f64 {
        ms(percentile(&self.sorted(|r| Some(r.wall)), 0.95))
    }
    fn rss_mib(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter_map(|r| r.peak_rss_kib)
            .max()
            .map(|k| k as f64 / 1024.0)
    }
    fn api_calls(&self) -> Option<u64> {
        self.runs.iter().filter_map(|r| r.api_calls).max()
    }

    fn print(&self) {
        let walls = self.sorted(|r| Some(r.wall));
        let cpus = self.sorted(|r| r.cpu);
        println!("  {}", self.event);
        println!(
            "    runs                    {:>10}     (+1 warm-up: {:.1} ms); e.g. {}",
            self.runs.len(),
            ms(self.warmup.wall),
            self.warmup.summary
        );
        println!(
            "    wall time median / p95  {:>7.1} / {:.1} ms   (target <= {TARGET_HANDLE_MS} ms: {}; Python: {:.0} ms)",
            ms(percentile(&walls, 0.5)),
            self.p95_ms(),
            verdict(self.p95_ms() <= TARGET_HANDLE_MS),
            PYTHON_HANDLE_S * 1000.0
        );
        if !cpus.is_empty() {
            println!(
                "    CPU of spa median / max {:>7.0} / {:.0} ms   (user + system; the rest of the wall time is waiting on moto)",
                ms(percentile(&cpus, 0.5)),
                ms(cpus.last().copied().unwrap_or_default())
            );
        }
        match self.rss_mib() {
            Some(mib) => println!(
                "    peak RSS (max)          {mib:>10.1} MiB (target <= {TARGET_HANDLE_MIB} MiB: {}; Python: {PYTHON_HANDLE_MIB} MiB)",
                verdict(mib <= TARGET_HANDLE_MIB)
            ),
            None => {
                println!("    peak RSS                not measured: /usr/bin/time is not installed")
            }
        }
        match self.api_calls() {
            Some(n) => {
                println!("    API calls               {n:>10}     (Python: {PYTHON_HANDLE_CALLS})")
            }
            None => println!("    API calls               not printed by `spa handle --json`"),
        }
    }

    fn to_json(&self) -> Value {
        let walls = self.sorted(|r| Some(r.wall));
        let cpus = self.sorted(|r| r.cpu);
        json!({
            "event": self.event,
            "runs": self.runs.len(),
            "warmup_ms": ms(self.warmup.wall),
            "wall_ms": {
                "median": ms(percentile(&walls, 0.5)),
                "p95": self.p95_ms(),
                "max": ms(walls.last().copied().unwrap_or_default()),
            },
            "cpu_ms": {
                "median": (!cpus.is_empty()).then(|| ms(percentile(&cpus, 0.5))),
                "max": cpus.last().map(|c| ms(*c)),
            },
            "peak_rss_mib": self.rss_mib(),
            "api_calls": self.api_calls(),
            "summary": self.warmup.summary,
            "wall_met": self.p95_ms() <= TARGET_HANDLE_MS,
            "rss_met": self.rss_mib().map(|m| m <= TARGET_HANDLE_MIB),
        })
    }
}

struct HandleFigures {
    series: Vec<Series>,
    time_overhead: Option<Duration>,
}

/// The build a `spa handle` summary says it started (`..., build <id> started`).
fn started_build(summary: &str) -> Option<BuildId> {
    let (_, after) = summary.split_once("build ")?;
    let (id, _) = after.split_once(" started")?;
    BuildId::new(id).ok()
}

/// The `spa` binary run as `spa handle`: `SPA_BENCH_SPA`, else the bench profile's.
fn handle_binary() -> PathBuf {
    std::env::var_os("SPA_BENCH_SPA")
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_spa")), PathBuf::from)
}

/// `spa handle` on fresh accounts: their `CreateAccountResult` (on-boarding: the
/// member footprint, the preparation build started), then the end of that build
/// (`Build State Change`, the awaited build: the account is prepared or assigned).
fn spa_handle(
    endpoint: &str,
    region: &str,
    settings_text: &str,
    accounts: &[String],
) -> Result<HandleFigures, String> {
    let spa = handle_binary();
    let time = Path::new("/usr/bin/time");
    let time = time.exists().then_some(time);
    let dir = std::env::temp_dir().join(format!("spa-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, settings_text).map_err(|e| e.to_string())?;
    let run = |name: String, event: Value| -> Result<HandleRun, String> {
        let file = dir.join(name);
        std::fs::write(&file, event.to_string()).map_err(|e| e.to_string())?;
        spa_handle_once(&spa, time, &dir, endpoint, &settings, &file)
    };
    let management = AccountId::parse(MANAGEMENT).expect("an account id");
    let mut created = Vec::new();
    let mut builds = Vec::new();
    for id in accounts {
        let account = AccountId::parse(id).expect("an account id");
        let event = synth::create_account_result(
            &format!("bench-handle-{id}"),
            &management,
            &account,
            chrono::Utc::now(),
        );
        let handled = run(format!("created-{id}.json"), event)?;
        if let Some(build) = started_build(&handled.summary) {
            builds.push((account, build));
        }
        created.push(handled);
    }
    let mut finished = Vec::new();
    for (account, build) in &builds {
        let event = synth::build_state_change(
            &format!("bench-build-{account}"),
            account,
            region,
            build,
            BuildStatus::Succeeded,
            chrono::Utc::now(),
        );
        finished.push(run(format!("build-{account}.json"), event)?);
    }
    // what /usr/bin/time adds to the wall time: its own fork and exec
    let time_overhead = time.map(|time| {
        let mut samples: Vec<Duration> = (0..10)
            .map(|_| {
                let start = Instant::now();
                let _ = Command::new(time)
                    .args(["-f", "%M", "-o"])
                    .arg(dir.join("usage-true.txt"))
                    .arg("true")
                    .status();
                let with = start.elapsed();
                let start = Instant::now();
                let _ = Command::new("true").status();
                with.saturating_sub(start.elapsed())
            })
            .collect();
        samples.sort();
        percentile(&samples, 0.5)
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut series = Vec::new();
    for (event, mut runs) in [
        (
            "CreateAccountResult (on-boarding: member footprint, preparation build started)",
            created,
        ),
        (
            "Build State Change (the awaited preparation build succeeded)",
            finished,
        ),
    ] {
        if runs.is_empty() {
            continue;
        }
        let warmup = runs.remove(0);
        series.push(Series {
            event,
            warmup,
            runs,
        });
    }
    Ok(HandleFigures {
        series,
        time_overhead,
    })
}

// ---------------------------------------------------------------- main

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn target_dir() -> PathBuf {
    // target/release/deps/lifecycle-<hash>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "lifecycle: a benchmark against the emulator; run it with `cargo bench -p spa --bench lifecycle`"
        );
        return;
    }
    let accounts = env_number("SPA_BENCH_ACCOUNTS", 300).max(1);
    let handle_runs = env_number("SPA_BENCH_HANDLE_RUNS", 20);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(bench(accounts, handle_runs));
}

async fn bench(accounts: usize, handle_runs: usize) {
    let emulator = spa_testkit::Emulator::start().unwrap_or_else(|e| panic!("{e}"));
    let endpoint = emulator.endpoint();
    let emulator_pid = emulator_pid();
    println!("spa lifecycle benchmark: {accounts} accounts in {UNITS} OUs, moto at {endpoint}");

    // seeding (not a figure of spa: the emulator's organization)
    let handle_accounts = if handle_runs > 0 { handle_runs + 1 } else { 0 };
    let config = spa_testkit::sdk_config(&endpoint).await;
    let start = Instant::now();
    let seeded = spa_local::emulator::seed(&config, &plan(accounts, handle_accounts))
        .await
        .expect("the organization is seeded");
    let seed_time = start.elapsed();
    println!(
        "seeded {} accounts in {:.1} s",
        seeded.created.len(),
        seed_time.as_secs_f64()
    );
    let (managed, handled) = seeded.created.split_at(accounts);
    let units: Vec<&str> = (0..UNITS)
        .map(|u| seeded.units[&format!("unit-{u}")].as_str())
        .collect();
    let settings = load_settings(&settings_text(&units));
    let mut with_handle_unit = units.clone();
    with_handle_unit.push(seeded.units["unit-handle"].as_str());
    let handle_settings = settings_text(&with_handle_unit);

    let (runtime, resources) = spa_local::connect::runtime(&settings, &endpoint)
        .await
        .expect("the local runtime on the emulator");
    let calls = runtime.inner().calls().clone();
    let timed = Timed {
        inner: LocalHandler::new(&settings).with_engine_bus_arn(resources.bus_arn.clone()),
        calls: calls.clone(),
        records: Mutex::new(Vec::new()),
    };
    let limits = Limits {
        poll_interval: Duration::from_millis(10),
        ..Limits::default()
    };

    // 1. on-boarding
    let management = AccountId::parse(MANAGEMENT).expect("an account id");
    for id in managed {
        let account = AccountId::parse(id).expect("an account id");
        let event = synth::create_account_result(
            &format!("created-{id}"),
            &management,
            &account,
            chrono::Utc::now(),
        );
        runtime.inject(event, format!("created {id}"));
    }
    calls.reset();
    let onboarding = run_phase(
        "on-boarding",
        accounts,
        &runtime,
        &timed,
        limits,
        emulator_pid.as_deref(),
    )
    .await;
    print_phase(&onboarding);
    let after_onboarding = states(&runtime, managed).await;
    println!("  states after: {after_onboarding:?}");

    // 2a. the window's invocation as deployed: commands through SQS on moto's queue
    // (empty: the local runtime's own commands never travel through it)
    let engine = timed
        .inner
        .engine(runtime.inner())
        .expect("an engine on the emulator");
    let earlier = chrono::Utc::now() - chrono::Duration::days(7);
    calls.reset();
    let cpu = Cpu::now(emulator_pid.as_deref());
    let start = Instant::now();
    let handled_window = handle(
        &engine,
        Some(Function::Scheduler),
        &synth::scheduled(Job::MaintenanceWindow, earlier),
    )
    .await
    .expect("the maintenance window's dispatch through SQS");
    let sqs_wall = start.elapsed();
    let sqs_cpu = Cpu::now(emulator_pid.as_deref()).since(cpu);
    let sqs_calls = calls.snapshot();
    let sqs_sent: u64 = handled_window
        .dispatched
        .outcomes
        .iter()
        .map(|o| match o.verdict {
            Verdict::Dispatched(n) => n as u64,
            _ => 0,
        })
        .sum();
    let sqs_per_account = total(&sqs_calls) as f64 / accounts as f64;
    println!("\n== maintenance window: the dispatch, as deployed (SQS on moto) ==");
    println!("  wall time                 {:>10.1} ms", ms(sqs_wall));
    println!(
        "  API calls                 {:>10}     ({sqs_per_account:.3} per account; target <= {TARGET_DISPATCH_CALLS_PER_ACCOUNT}: {}; Python: {PYTHON_WINDOW_CALLS_PER_ACCOUNT})",
        total(&sqs_calls),
        verdict(sqs_per_account <= TARGET_DISPATCH_CALLS_PER_ACCOUNT)
    );
    println!(
        "  commands sent             {:>10}     (one per account; accounts handled in this invocation: 0)",
        sqs_sent
    );
    println!(
        "  CPU time                  {:>10.1} ms  spa, {:.1} ms the emulator",
        ms(sqs_cpu.spa),
        ms(sqs_cpu.emulator)
    );
    for (operation, count) in top(&sqs_calls, 10) {
        println!("    {operation:<40}{count:>8}");
    }
    // its two halves apart: the listing (per OU, no tag read), then the SQS adapter alone
    calls.reset();
    let start = Instant::now();
    let listed = managed_accounts(&engine, None)
        .await
        .expect("the managed accounts are listed");
    let listing = (start.elapsed(), calls.total());
    let commands: Vec<AccountCommand> = listed
        .into_iter()
        .map(|account| {
            AccountCommand::new(
                "bench/sqs",
                &settings.environment_identifier,
                account.id,
                Action::MaintenanceWindow,
                earlier,
                "maintenance-window",
            )
        })
        .collect();
    // a queue of its own: moto's `SendMessageBatch` costs grow with the messages
    // already queued (about 11 ms a call on an empty queue, 90 ms at 250 messages),
    // which AWS's do not, and moto refuses a second purge within 60 s as AWS does
    let probe_queue = ensure_queue(runtime.inner().automation(), "SpaBench-probe")
        .await
        .expect("a queue for the SQS adapter alone");
    let probe = SqsCommands::new(runtime.inner().automation().sqs(), probe_queue);
    calls.reset();
    let start = Instant::now();
    probe
        .send(&commands)
        .await
        .expect("the commands are sent to moto's queue");
    let sending = (start.elapsed(), calls.total());
    println!(
        "    listing the accounts    {:>10.1} ms, {} calls ({} accounts)",
        ms(listing.0),
        listing.1,
        commands.len()
    );
    println!(
        "    SqsCommands::send       {:>10.1} ms, {} calls ({} commands, batches of 10)",
        ms(sending.0),
        sending.1,
        commands.len()
    );

    // 2b. the cycle in the local runtime (its command queue is in process)
    calls.reset();
    runtime.fire(Job::MaintenanceWindow, chrono::Utc::now());
    let cycle = run_phase(
        "maintenance cycle",
        accounts,
        &runtime,
        &timed,
        limits,
        emulator_pid.as_deref(),
    )
    .await;
    let dispatch = cycle
        .records
        .iter()
        .find(|r| r.function == Function::Scheduler)
        .cloned()
        .expect("the window's own delivery");
    let sqs_batches = accounts.div_ceil(10) as u64;
    let dispatch_on_aws = total(&dispatch.calls) + sqs_batches;
    println!("\n== maintenance window: the dispatch, in the local runtime ==");
    println!(
        "  wall time                 {:>10.1} ms",
        ms(dispatch.elapsed)
    );
    println!(
        "  API calls                 {:>10}     (+ {sqs_batches} SendMessageBatch on AWS = {dispatch_on_aws}, {:.3} per account)",
        total(&dispatch.calls),
        dispatch_on_aws as f64 / accounts as f64
    );
    println!("  commands sent             {:>10}", cycle.commands_sent);
    print_phase(&cycle);
    let after_cycle = states(&runtime, managed).await;
    println!("  states after: {after_cycle:?}");
    // only assigned accounts are maintained; a pool (prepared) account refuses the command
    let maintained = after_onboarding.get("assigned").copied().unwrap_or(0);
    let per_maintained = cycle.function_calls() as f64 / maintained.max(1) as f64;
    // the management account's quota: every Organizations request of the cycle, the
    // window's listing included
    let organizations: u64 = cycle
        .calls
        .iter()
        .filter(|(operation, _)| operation.starts_with("Organizations:"))
        .map(|(_, count)| *count)
        .sum();
    let org_per_maintained = organizations as f64 / maintained.max(1) as f64;
    println!(
        "  maintained (assigned) accounts {maintained}: {per_maintained:.2} calls of the functions each, {org_per_maintained:.2} of them to Organizations (a pool account, prepared, refuses the command: only an assigned account expires)"
    );

    // 3. spa handle
    let handle_figures = if handle_runs == 0 {
        Err("SPA_BENCH_HANDLE_RUNS=0".to_owned())
    } else {
        spa_handle(
            &endpoint,
            settings.automation.region.as_str(),
            &handle_settings,
            handled,
        )
    };
    println!("\n== spa handle: one event, one account, process start to exit ==");
    let measured = match std::env::var_os("SPA_BENCH_SPA").filter(|path| !path.is_empty()) {
        Some(_) => "named by SPA_BENCH_SPA; `make benchmarks`: the lambda-release build",
        None => "the bench profile's build (optimized for speed, not what Lambda runs)",
    };
    println!("  binary: {} ({measured})", handle_binary().display());
    let handle_json = match &handle_figures {
        Err(why) => {
            println!("  spa handle not available: {why}");
            json!({ "skipped": format!("spa handle not available: {why}") })
        }
        Ok(figures) => {
            for series in &figures.series {
                series.print();
            }
            if let Some(overhead) = figures.time_overhead {
                println!(
                    "  (wall times include /usr/bin/time's own start, about {:.1} ms)",
                    ms(overhead)
                );
            }
            json!({
                "series": figures.series.iter().map(Series::to_json).collect::<Vec<_>>(),
                "time_overhead_ms": figures.time_overhead.map(ms),
                "target_wall_ms": TARGET_HANDLE_MS,
                "target_rss_mib": TARGET_HANDLE_MIB,
            })
        }
    };

    println!("\n== against the targets ==");
    println!(
        "  window dispatch: {:.3} calls/account through SQS (target <= {TARGET_DISPATCH_CALLS_PER_ACCOUNT}, Python {PYTHON_WINDOW_CALLS_PER_ACCOUNT}): {}; not serial: the window handles no account itself, it sends {} commands",
        sqs_per_account,
        verdict(sqs_per_account <= TARGET_DISPATCH_CALLS_PER_ACCOUNT),
        sqs_sent
    );
    println!(
        "  window dispatch wall time: {:.1} ms through SQS for {accounts} accounts (Python: {PYTHON_WINDOW_S} s serially for 1,000)",
        ms(sqs_wall)
    );
    println!(
        "  whole cycle in the local runtime: {:.1} s, one invocation after another (on AWS the commands run concurrently)",
        cycle.wall.as_secs_f64()
    );
    println!(
        "  maintenance cycle: {per_maintained:.2} calls per maintained account (target <= {TARGET_CYCLE_CALLS}: {}; {ISSUE_18_CYCLE_CALLS} at issue 18), {org_per_maintained:.2} to Organizations (target <= {TARGET_CYCLE_ORGANIZATIONS_CALLS}: {})",
        verdict(per_maintained <= TARGET_CYCLE_CALLS),
        verdict(org_per_maintained <= TARGET_CYCLE_ORGANIZATIONS_CALLS),
    );
    match &handle_figures {
        Ok(figures) => {
            for series in &figures.series {
                println!(
                    "  spa handle, {}: p95 {:.1} ms (target <= {TARGET_HANDLE_MS} ms: {}), peak RSS {} (target <= {TARGET_HANDLE_MIB} MiB: {}); Python: {PYTHON_HANDLE_S} s, {PYTHON_HANDLE_MIB} MiB, {PYTHON_HANDLE_CALLS} calls",
                    series.event.split(" (").next().unwrap_or(series.event),
                    series.p95_ms(),
                    verdict(series.p95_ms() <= TARGET_HANDLE_MS),
                    series
                        .rss_mib()
                        .map_or("not measured".to_owned(), |m| format!("{m:.1} MiB")),
                    series
                        .rss_mib()
                        .map_or("unknown", |m| verdict(m <= TARGET_HANDLE_MIB)),
                );
            }
        }
        Err(_) => println!("  spa handle: not measured (see above)"),
    }

    // the lines `scripts/benchmarks.sh` collects into BENCHMARKS.md
    let name = format!("lifecycle ({accounts} accounts on moto)");
    let bench = |metric: &str, value: String, unit: &str| {
        println!("bench: {name} | {metric} | {value} | {unit}");
    };
    // a figure held to a target: the target, and the figure when it was set
    let held = |metric: &str, value: String, unit: &str, target: f64, before: String| {
        println!("bench: {name} | {metric} | {value} | {unit} | <= {target} {unit} | {before}");
    };
    bench(
        "on-boarding, wall time",
        format!("{:.1}", onboarding.wall.as_secs_f64()),
        "s",
    );
    bench(
        "on-boarding, API calls of the functions per account",
        format!("{:.2}", onboarding.per_account(onboarding.function_calls())),
        "calls",
    );
    bench(
        "maintenance window dispatch through SQS, wall time",
        format!("{:.1}", ms(sqs_wall)),
        "ms",
    );
    held(
        "maintenance window dispatch, API calls per account",
        format!("{sqs_per_account:.3}"),
        "calls",
        TARGET_DISPATCH_CALLS_PER_ACCOUNT,
        format!("{PYTHON_WINDOW_CALLS_PER_ACCOUNT} calls (the Python predecessor)"),
    );
    bench(
        "maintenance cycle in the local runtime, wall time",
        format!("{:.1}", cycle.wall.as_secs_f64()),
        "s",
    );
    held(
        "maintenance cycle, API calls of the functions per maintained account",
        format!("{per_maintained:.2}"),
        "calls",
        TARGET_CYCLE_CALLS,
        format!("{ISSUE_18_CYCLE_CALLS} calls ({ISSUE_18})"),
    );
    held(
        "maintenance cycle, Organizations calls per maintained account",
        format!("{org_per_maintained:.2}"),
        "calls",
        TARGET_CYCLE_ORGANIZATIONS_CALLS,
        format!("about {ISSUE_18_CYCLE_ORGANIZATIONS_CALLS} calls ({ISSUE_18})"),
    );
    if let Ok(figures) = &handle_figures {
        for series in &figures.series {
            let event = series.event.split(" (").next().unwrap_or(series.event);
            // issue 18 stated the time of a CreateAccountResult, the memory of any event
            let p95_before = if event == "CreateAccountResult" {
                format!("{ISSUE_18_CREATED_P95_MS} ms ({ISSUE_18})")
            } else {
                format!(
                    "{:.0} ms (the Python predecessor)",
                    PYTHON_HANDLE_S * 1000.0
                )
            };
            held(
                &format!("spa handle {event}, wall time p95"),
                format!("{:.1}", series.p95_ms()),
                "ms",
                TARGET_HANDLE_MS,
                p95_before,
            );
            if let Some(rss) = series.rss_mib() {
                held(
                    &format!("spa handle {event}, peak RSS"),
                    format!("{rss:.1}"),
                    "MiB",
                    TARGET_HANDLE_MIB,
                    format!("{ISSUE_18_HANDLE_MIB} MiB ({ISSUE_18})"),
                );
            }
        }
    }

    let report = json!({
        "accounts": accounts,
        "units": UNITS,
        "seed_s": seed_time.as_secs_f64(),
        "onboarding": onboarding.to_json(),
        "states_after_onboarding": after_onboarding,
        "window_dispatch_sqs": {
            "wall_ms": ms(sqs_wall),
            "api_calls": total(&sqs_calls),
            "api_calls_per_account": sqs_per_account,
            "commands_sent": sqs_sent,
            "calls_by_operation": sqs_calls,
            "cpu": sqs_cpu.to_json(),
            "listing": { "wall_ms": ms(listing.0), "api_calls": listing.1 },
            "sqs_send": { "wall_ms": ms(sending.0), "api_calls": sending.1, "commands": commands.len() },
            "target_calls_per_account": TARGET_DISPATCH_CALLS_PER_ACCOUNT,
            "met": sqs_per_account <= TARGET_DISPATCH_CALLS_PER_ACCOUNT,
        },
        "window_dispatch_local": {
            "wall_ms": ms(dispatch.elapsed),
            "api_calls": total(&dispatch.calls),
            "send_message_batch_on_aws": sqs_batches,
            "api_calls_on_aws_per_account": dispatch_on_aws as f64 / accounts as f64,
            "calls_by_operation": dispatch.calls,
        },
        "maintenance_cycle": cycle.to_json(),
        "maintained_accounts": maintained,
        "api_calls_of_functions_per_maintained_account": per_maintained,
        "organizations_calls_per_maintained_account": org_per_maintained,
        "states_after_cycle": after_cycle,
        "spa_handle": handle_json,
        "python": {
            "handle_s": PYTHON_HANDLE_S,
            "handle_mib": PYTHON_HANDLE_MIB,
            "handle_calls": PYTHON_HANDLE_CALLS,
            "window_s_serial": PYTHON_WINDOW_S,
            "window_calls_per_account": PYTHON_WINDOW_CALLS_PER_ACCOUNT,
        },
    });
    let path = target_dir().join("bench-lifecycle.json");
    match std::fs::write(&path, format!("{report:#}\n")) {
        Ok(()) => println!("\nfigures written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
    drop(emulator);
}
