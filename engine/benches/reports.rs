//! `cargo bench -p spa-engine --bench reports`: the monthly cost reports of a large
//! organization, timed and weighed.
//!
//! Synthetic month: 10,000 accounts × 30 services (2 usage types per service), record
//! types Usage, Tax and Credit, 50 cost centers (and some accounts without the tag),
//! a previous month, 2 extra currencies. Runs `cost_reports` (every file of the
//! month, bytes discarded) and `finops_email`, and prints the wall time, the sum of
//! the file sizes and the memory: the resident size of the input, then the peak RSS
//! of the run (`VmHWM`, reset through `/proc/self/clear_refs` once the input is
//! built) and that peak above the input. Targets: under 1.6 s and 128 MiB for every
//! file of the month (the input, the caller's cost rows, is counted apart).
//!
//! The peak is read from the kernel rather than from a counting `#[global_allocator]`:
//! the workspace forbids `unsafe` code, which implementing `GlobalAlloc` needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use spa_engine::events::AccountId;
use spa_engine::reports::{
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

    let reset = reset_peak();
    let started = Instant::now();
    let mut files = 0usize;
    let mut size = 0usize;
    let mut largest = 0usize;
    // time spent building each kind of file: from the previous hand-over to this one
    let mut spent: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut last = Instant::now();
    cost_reports(&input, &mut |file| {
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
    let reports = started.elapsed();
    let email = finops_email(&input, "# Cloud costs of {month}\n\nHello FinOps.");
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM").unwrap_or(0);

    println!(
        "files: {files}, {:.1} MiB in all (largest {:.1} MiB); e-mail {} bytes",
        size as f64 / (1024.0 * 1024.0),
        largest as f64 / (1024.0 * 1024.0),
        email.html.len() + email.text.len()
    );
    for (kind, (count, seconds)) in &spent {
        println!("  {kind}: {count} file(s), {seconds:.3} s");
    }
    println!(
        "wall time: {:.3} s (target < 1.6 s), of which the files {:.3} s",
        elapsed.as_secs_f64(),
        reports.as_secs_f64()
    );
    if reset {
        println!(
            "peak RSS of the run: {:.1} MiB, {:.1} MiB above the input (target < 128 MiB)",
            mib(peak),
            mib(peak.saturating_sub(input_rss))
        );
    } else {
        println!(
            "peak RSS of the process (input included; clear_refs unavailable): {:.1} MiB",
            mib(peak)
        );
    }
}
