//! `cargo bench -p spa-core --bench reports`: the monthly cost reports of a large
//! organization, timed and weighed.
//!
//! Synthetic month: 10,000 accounts × 30 services (2 usage types per service), record
//! types Usage, Tax and Credit, 50 cost centers (and some accounts without the tag),
//! a previous month, 2 extra currencies. Runs `cost_reports` (every file of the
//! month, bytes discarded) and `finops_email` three times, and prints for each run the
//! wall time, the CPU time (user + system) and the peak RSS above the input (`VmHWM`,
//! reset through `/proc/self/clear_refs` before the run), then the best and median
//! wall time, the sum of the file sizes, and `bench:` lines for `make benchmarks`. Targets: under 1.6 s and 128 MiB for every
//! file of the month (the input, the caller's cost rows, is counted apart).
//!
//! The peak is read from the kernel rather than from a counting `#[global_allocator]`:
//! the workspace forbids `unsafe` code, which implementing `GlobalAlloc` needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use spa_core::events::AccountId;
use spa_core::reports::{
    AccountCost, CostBreakdowns, CostReportInput, Forecast, ReportAccount, cost_reports,
    finops_email,
};

const ACCOUNTS: usize = 10_000;
const SERVICES: usize = 30;
const CENTERS: usize = 50;

const SERVICE_NAMES: [&str; 10] = [
    "Amazon Elastic Compute Cloud - Compute",
    "Amazon Simple Storage Service",
    "AWS Lambda",
    "Amazon Relational Database Service",
    "Amazon DynamoDB",
    "Amazon CloudWatch",
    "AWS Key Management Service",
    "Amazon Virtual Private Cloud",
    "Amazon Elastic Container Service",
    "AWS CloudTrail",
];

/// A deterministic pseudo-random amount (xorshift).
struct Amounts(u64);

impl Amounts {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 100_000) as f64 / 100.0
    }
}

fn service(s: usize) -> String {
    format!(
        "{} {}",
        SERVICE_NAMES[s % SERVICE_NAMES.len()],
        s / SERVICE_NAMES.len()
    )
}

fn month_costs(seed: u64) -> CostBreakdowns {
    let mut amounts = Amounts(seed);
    let services: Vec<String> = (0..SERVICES).map(service).collect();
    let usage_types: Vec<[String; 2]> = (0..SERVICES)
        .map(|s| [format!("EU-Usage{s}:hours"), format!("EU-Usage{s}:bytes")])
        .collect();
    let mut costs = CostBreakdowns {
        currency: "USD".into(),
        by_service: Vec::with_capacity(ACCOUNTS * SERVICES),
        by_usage_type: Vec::with_capacity(ACCOUNTS * SERVICES * 2),
        by_record_type: Vec::with_capacity(ACCOUNTS * 3),
    };
    for a in 0..ACCOUNTS {
        let account = id(a);
        let mut usage = 0.0;
        for s in 0..SERVICES {
            let (one, two) = (amounts.next(), amounts.next());
            usage += one + two;
            costs.by_service.push(AccountCost {
                account: account.clone(),
                key: services[s].clone(),
                amount: one + two,
            });
            for (key, amount) in usage_types[s].iter().zip([one, two]) {
                costs.by_usage_type.push(AccountCost {
                    account: account.clone(),
                    key: key.clone(),
                    amount,
                });
            }
        }
        for (key, amount) in [
            ("Usage", usage),
            ("Tax", usage * 0.2),
            ("Credit", -amounts.next() / 10.0),
        ] {
            costs.by_record_type.push(AccountCost {
                account: account.clone(),
                key: key.into(),
                amount,
            });
        }
    }
    costs
}

fn id(a: usize) -> AccountId {
    AccountId::parse(&format!("{:012}", 100_000_000_000 + a)).unwrap()
}

fn accounts() -> Vec<ReportAccount> {
    (0..ACCOUNTS)
        .map(|a| {
            let mut account = ReportAccount::new(id(a), format!("sandbox-{a:05}"));
            // one account in 100 has no cost-center tag
            account.cost_center = (a % 100 != 0).then(|| format!("CC-{:03}", a % CENTERS));
            account.ou_path = format!("Root/Sandboxes/Team {}", a % 120);
            account.left = a % 250 == 0;
            account
        })
        .collect()
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), if the system has it.
fn status_kib(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resets the peak RSS to the current RSS (Linux: `5` into `clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The CPU time of the process so far (user + system, every thread), in seconds:
/// fields 14 and 15 of `/proc/self/stat`, in clock ticks (`USER_HZ`, 100 on Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name (field 2) is in parentheses and may hold spaces
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3
    let user: u64 = fields.get(14 - 3)?.parse().ok()?;
    let system: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

fn mib(kib: usize) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let costs = month_costs(0x9E37_79B9_7F4A_7C15);
    let previous = month_costs(0x2545_F491_4F6C_DD1D);
    let accounts = accounts();
    let currencies = BTreeMap::from([("EUR".to_owned(), 0.92), ("GBP".to_owned(), 0.79)]);
    let forecast = Forecast {
        month: "2026-11".parse().unwrap(),
        amount: 1_234_567.0,
        currency: "USD".into(),
    };
    let input = CostReportInput {
        month: "2026-10".parse().unwrap(),
        environment: "bench",
        generated_at: "2026-11-06T07:00:00Z".parse().unwrap(),
        costs: &costs,
        previous: Some(&previous),
        accounts: &accounts,
        extra_currencies: &currencies,
        forecast: Some(&forecast),
    };
    let input_rss = status_kib("VmRSS").unwrap_or(0);
    println!(
        "input: {ACCOUNTS} accounts x {SERVICES} services ({} service rows, {} usage-type rows, {} record-type rows, this month and the previous), {CENTERS} cost centers; RSS {:.1} MiB",
        costs.by_service.len(),
        costs.by_usage_type.len(),
        costs.by_record_type.len(),
        mib(input_rss)
    );

    // a few runs: the machine may be shared, the best run shows what the code needs and
    // the median what a caller sees
    let runs: Vec<Run> = (0..RUNS).map(|_| run(&input)).collect();
    let Some(first) = runs.first() else { return };
    println!(
        "files: {}, {:.1} MiB in all (largest {:.1} MiB); e-mail {} bytes; workbooks deflated at level {}",
        first.files,
        first.size as f64 / (1024.0 * 1024.0),
        first.largest as f64 / (1024.0 * 1024.0),
        first.email,
        spa_core::reports::WORKBOOK_COMPRESSION
    );
    for (i, run) in runs.iter().enumerate() {
        let kinds: Vec<String> = run
            .spent
            .iter()
            .map(|(kind, (count, seconds))| format!("{kind} {count} file(s) {seconds:.3} s"))
            .collect();
        println!(
            "run {}: wall {:.3} s (files {:.3} s), CPU {}, peak {}; {}",
            i + 1,
            run.wall,
            run.files_wall,
            run.cpu
                .map_or("unavailable".into(), |c| format!("{c:.2} s")),
            run.peak_above_input
                .map_or("unavailable".into(), |p| format!(
                    "{:.1} MiB above the input",
                    mib(p)
                )),
            kinds.join(", ")
        );
    }
    let mut walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    walls.sort_by(f64::total_cmp);
    let best = walls[0];
    let median = walls[walls.len() / 2];
    let mut cpus: Vec<f64> = runs.iter().filter_map(|r| r.cpu).collect();
    cpus.sort_by(f64::total_cmp);
    let peak = runs.iter().filter_map(|r| r.peak_above_input).max();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!(
        "wall time: best {best:.3} s, median {median:.3} s of {RUNS} runs (target < 1.6 s); {threads} core(s) available"
    );
    match peak {
        Some(peak) => println!(
            "peak RSS above the input: {:.1} MiB (target < 128 MiB)",
            mib(peak)
        ),
        None => println!("peak RSS: unavailable (no /proc/self/clear_refs)"),
    }
    // the lines `scripts/benchmarks.sh` collects into BENCHMARKS.md
    let name = "reports (10,000 accounts x 30 services, every file of the month)";
    println!("bench: {name} | files | {} | files", first.files);
    println!(
        "bench: {name} | output | {:.1} | MiB",
        first.size as f64 / (1024.0 * 1024.0)
    );
    println!("bench: {name} | wall time, best of {RUNS} | {best:.3} | s");
    println!("bench: {name} | wall time, median of {RUNS} | {median:.3} | s");
    if let Some(cpu) = cpus.get(cpus.len() / 2) {
        println!("bench: {name} | CPU time (user + system), median | {cpu:.2} | s");
    }
    println!(
        "bench: {name} | throughput, best | {:.0} | service rows/s",
        costs.by_service.len() as f64 / best
    );
    if let Some(peak) = peak {
        println!(
            "bench: {name} | peak RSS above the input | {:.1} | MiB",
            mib(peak)
        );
    }
    println!("bench: {name} | input RSS | {:.1} | MiB", mib(input_rss));
}

/// How many times the month's files are built.
const RUNS: usize = 3;

/// One build of every file of the month, measured.
struct Run {
    files: usize,
    size: usize,
    largest: usize,
    email: usize,
    /// Time spent building each kind of file: count and seconds.
    spent: BTreeMap<String, (usize, f64)>,
    /// The files and the e-mail, in seconds.
    wall: f64,
    /// The files alone.
    files_wall: f64,
    cpu: Option<f64>,
    /// Peak RSS of the run above the RSS before it, in KiB.
    peak_above_input: Option<usize>,
}

fn run(input: &CostReportInput<'_>) -> Run {
    let before = status_kib("VmRSS").unwrap_or(0);
    let reset = reset_peak();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let (mut files, mut size, mut largest) = (0usize, 0usize, 0usize);
    let mut spent: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut last = Instant::now();
    cost_reports(input, &mut |file| {
        let kind = format!(
            "{} {}",
            if file.scope == "summary" {
                "summary"
            } else {
                "cost center"
            },
            file.extension
        );
        let entry = spent.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += last.elapsed().as_secs_f64();
        files += 1;
        size += file.bytes.len();
        largest = largest.max(file.bytes.len());
        last = Instant::now();
        Ok(())
    })
    .expect("reports built");
    let files_wall = started.elapsed().as_secs_f64();
    let email = finops_email(input, "# Cloud costs of {month}\n\nHello FinOps.");
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let peak = status_kib("VmHWM");
    Run {
        files,
        size,
        largest,
        email: email.html.len() + email.text.len(),
        spent,
        wall,
        files_wall,
        cpu,
        peak_above_input: peak.filter(|_| reset).map(|p| p.saturating_sub(before)),
    }
}
