//! The monthly cost reports of the organization: a summary and one report per cost
//! center, each as an Excel workbook and as CSV, and the FinOps e-mail.
//!
//! Files (each handed to the caller's sink, on the calling thread, as soon as it and
//! the files before it are complete, in this order; see [`cost_reports`]):
//!
//! - **summary** (scope `summary`, label `costs`):
//!   - XLSX: sheet `Summary`, a title block (month, environment, currency, generation
//!     time, the current month's forecast when given) then one row per account,
//!     grouped cost center > OU path > account with Excel outline levels (collapsible),
//!     a subtotal row per OU and per cost center and a grand total, all `SUBTOTAL(9,
//!     ...)` formulas with their cached results; one column per record type present
//!     (`Usage` first, the other charges, then credits and refunds, each sorted), and
//!     a `Total` formula per row. Accounts that left the organization keep their last
//!     known name, marked `(left)`. One sheet per extra currency (`Summary EUR`, ...)
//!     with the same layout, every amount a formula on the `Summary` cell times the
//!     rate written once in its title block. Sheet `Cost centers`: each cost center's
//!     total read from its subtotal cell, its share, and a column chart of them.
//!     Sheet `Services`: charges per cost center × service, grouped per cost center.
//!   - CSV: `cost_center, ou_path, account_id, account_name, record_type, amount,
//!     currency, month`, one line per account × record type, no total line (files of
//!     several months can be concatenated and summed).
//! - **per cost center** (scope: the cost center as an S3-safe name, [`scope_of`];
//!   label `costs`):
//!   - XLSX: sheets `Services` and `Usage types`: one row per account × service (or
//!     usage type), highest first, each account closed by a `SUBTOTAL` row (which
//!     carries the account's name and OU path), and a grand total. `Services` groups
//!     each account's details (outline level 1); `Usage types`, twice as long, is a
//!     flat streamed sheet (the autofilter on the account id stands in for the
//!     outline: rust_xlsxwriter 0.102 streams no outline level). Charges only:
//!     credits and refunds are in the summary.
//!   - CSV: `cost_center, account_id, account_name, ou_path, service, amount,
//!     currency, month`, one line per account × service (charges only). Usage types
//!     are in the workbook only: a CSV holding both would count every charge twice.
//!
//! Accounts without a cost-center tag are in the [`NO_COST_CENTER`] bucket; an
//! account in the costs but not among the known accounts still appears (its id as
//! name, no OU path, in the bucket); unknown record types are columns like the
//! others. A report is never refused for its data.
//!
//! Large organizations: rows refer to accounts and keys by index (no string cloned
//! per row), CSVs are written straight into the file's buffer, and the summary and
//! the cost centers are built by up to [`MAX_WORKERS`] threads, a few jobs ahead of
//! the sink at most ([`WINDOW_PER_WORKER`]). The sheets that need no outline (a cost
//! center's `Usage types`, the extra-currency sheets) use `rust_xlsxwriter`'s low-memory mode (rows flushed to a
//! temporary file as they are written); sheets with outline levels are standard
//! worksheets, because `rust_xlsxwriter` 0.102 writes no row outline level in its
//! streaming modes. A workbook writer needs a writable temporary directory (`TMPDIR`,
//! `/tmp` on Lambda) for those sheets. Every workbook is deflated at
//! [`super::WORKBOOK_COMPRESSION`].

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::ReportError;
use super::model::{CostBreakdowns, Forecast, Month, NO_COST_CENTER, NOT_CHARGES, ReportAccount};
use crate::events::AccountId;

pub mod center;
mod email;
mod style;
pub mod summary;

pub use email::{FinopsEmail, finops_email};

/// The scope of the summary files.
pub const SUMMARY_SCOPE: &str = "summary";
/// The label of every monthly cost file.
pub const LABEL: &str = "costs";
/// Content type of the workbooks.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// Content type of the CSV files.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";
/// The record type shown first (the charges of usage).
pub const USAGE: &str = "Usage";

/// What the monthly cost reports are made of.
#[derive(Debug, Clone, Copy)]
pub struct CostReportInput<'a> {
    /// The reported month.
    pub month: Month,
    /// The settings' environment identifier (in titles and the e-mail's subject).
    pub environment: &'a str,
    /// When the reports are made (given by the caller: reports read no clock).
    pub generated_at: DateTime<Utc>,
    /// The month's costs.
    pub costs: &'a CostBreakdowns,
    /// The month before, for top movers.
    pub previous: Option<&'a CostBreakdowns>,
    /// Every account seen, including those that left.
    pub accounts: &'a [ReportAccount],
    /// ISO code -> rate from the costs' currency.
    pub extra_currencies: &'a BTreeMap<String, f64>,
    /// The current month's, in the summary.
    pub forecast: Option<&'a Forecast>,
}

/// One finished file of a report, ready to be stored or attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// `summary` or the cost center's S3-safe name.
    pub scope: String,
    /// `costs`.
    pub label: &'static str,
    /// `xlsx` or `csv`.
    pub extension: &'static str,
    /// The MIME type of the bytes.
    pub content_type: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
}

/// `<prefix>/<scope>/<YYYY>/<period>-<scope>-<label>.<ext>` (ARCHITECTURE.md §5): the one
/// key of every report file; the scope goes through [`scope_of`], so a cost center can
/// neither reach another prefix nor read as `.` or `..`.
pub fn report_key(
    prefix: &str,
    scope: &str,
    year: i32,
    period: &str,
    label: &str,
    ext: &str,
) -> String {
    let prefix = prefix.trim_matches('/');
    let scope = scope_of(scope);
    let name = format!("{year:04}/{period}-{scope}-{label}.{ext}");
    if prefix.is_empty() {
        format!("{scope}/{name}")
    } else {
        format!("{prefix}/{scope}/{name}")
    }
}

impl ReportFile {
    /// `<prefix>/<scope>/<YYYY>/<period>-<scope>-<label>.<ext>` (no leading `/` when
    /// the prefix is empty; trailing `/` of the prefix ignored).
    pub fn key(&self, prefix: &str, period: &str, year: i32) -> String {
        report_key(
            prefix,
            &self.scope,
            year,
            period,
            self.label,
            self.extension,
        )
    }

    /// The file name: `<period>-<scope>-<label>.<ext>`.
    pub fn file_name(&self, period: &str) -> String {
        format!("{period}-{}-{}.{}", self.scope, self.label, self.extension)
    }
}

/// A cost center as a key segment: `[A-Za-z0-9._-]` kept, anything else `-`; a name
/// of dots only (or empty) becomes dashes so that it never reads as `.` or `..`.
pub fn scope_of(cost_center: &str) -> String {
    let scope: String = cost_center
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if scope.chars().all(|c| c == '.') {
        "-".repeat(scope.len().max(1))
    } else {
        scope
    }
}

/// Builds every file of the month (summary then each cost center, XLSX then CSV) and
/// hands each to `out`, in that order, as soon as it and every file before it are
/// complete. The files are built by up to [`MAX_WORKERS`] threads (the cost centers
/// are independent); `out` is called on the calling thread only, and at most a few
/// cost centers' files are in memory at once (a worker starts a cost center only
/// when fewer than [`WINDOW_PER_WORKER`] per worker wait to be handed over). An error
/// of `out` stops the run and is returned, naming the file; an error building a file
/// is returned after every file before it is handed over, as if the files were
/// built one after the other.
pub fn cost_reports(
    input: &CostReportInput<'_>,
    out: &mut dyn FnMut(ReportFile) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    cost_reports_with(input, workers, out)
}

/// [`cost_reports`] with `workers` threads (1: on the calling thread).
fn cost_reports_with(
    input: &CostReportInput<'_>,
    workers: usize,
    out: &mut dyn FnMut(ReportFile) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let index = Index::new(input);
    let month = input.month.to_string();
    let mut hand = |file: ReportFile| {
        let name = file.file_name(&month);
        out(file).map_err(|error| match error {
            ReportError::Output(why) => ReportError::Output(format!("{name}: {why}")),
            other => ReportError::Output(format!("{name}: {other}")),
        })
    };
    let jobs = index.centers.len() + 1;
    let workers = workers.clamp(1, jobs);
    if workers == 1 {
        for job in 0..jobs {
            for file in build(input, &index, job) {
                hand(file?)?;
            }
        }
        return Ok(());
    }
    parallel(input, &index, jobs, workers, &mut hand)
}

/// At most this many threads build the files.
pub const MAX_WORKERS: usize = 4;
/// Jobs (the summary, a cost center) started but not yet handed over, per worker: the
/// summary takes as long as several cost centers, which the other workers build
/// meanwhile (a cost center's finished files are about 1 MiB).
pub const WINDOW_PER_WORKER: usize = 4;

/// The files of job `job`: 0 is the summary, `c + 1` the cost center `c`; XLSX then
/// CSV. An error ends the list (the files after it are not built).
fn build(input: &CostReportInput<'_>, index: &Index<'_>, job: usize) -> Built {
    let (scope, workbook) = match job.checked_sub(1) {
        None => (SUMMARY_SCOPE.to_owned(), summary::workbook(input, index)),
        Some(center) => (
            index.scopes[center].clone(),
            center::workbook(input, index, center),
        ),
    };
    let workbook = match workbook {
        Ok(bytes) => xlsx(&scope, bytes),
        Err(error) => return vec![Err(error)],
    };
    let text = match job.checked_sub(1) {
        None => summary::csv(input, index),
        Some(center) => center::csv(input, index, center),
    };
    vec![Ok(workbook), text.map(|bytes| csv(&scope, bytes))]
}

/// The files of one job, sent by the worker that built them.
type Built = Vec<Result<ReportFile, ReportError>>;

/// Workers take jobs in order from a queue the calling thread fills as it hands
/// files over (at most `workers * WINDOW_PER_WORKER` jobs ahead); each job's files
/// come back through its own one-place channel, read in job order.
fn parallel(
    input: &CostReportInput<'_>,
    index: &Index<'_>,
    jobs: usize,
    workers: usize,
    hand: &mut dyn FnMut(ReportFile) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{SyncSender, sync_channel};
    use std::sync::{Arc, Mutex};

    let window = workers * WINDOW_PER_WORKER;
    // jobs after this one are not built: the first job whose file failed, or 0 once
    // the calling thread stops
    let stop = AtomicUsize::new(usize::MAX);
    let (queue, taken) = sync_channel::<(usize, SyncSender<Built>)>(window);
    let taken = Arc::new(Mutex::new(taken));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let taken = Arc::clone(&taken);
            let stop = &stop;
            scope.spawn(move || {
                loop {
                    let next = match taken.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    let Ok((job, reply)) = next else {
                        return; // the calling thread is done
                    };
                    if job > stop.load(Ordering::Relaxed) {
                        continue; // dropping `reply`: nobody waits for it
                    }
                    let files = build(input, index, job);
                    if files.iter().any(Result::is_err) {
                        // the jobs before it still run (the error is returned after
                        // their files, as when built one after the other)
                        stop.fetch_min(job, Ordering::Relaxed);
                    }
                    if reply.send(files).is_err() {
                        return;
                    }
                }
            });
        }

        let result = hand_in_order(jobs, window, &stop, &queue, hand);
        if result.is_err() {
            stop.store(0, Ordering::Relaxed);
        }
        drop(queue); // the workers end once the queue is empty
        result
    })
}

/// The calling thread's side of [`parallel`]: queues the jobs, `window` ahead at
/// most (none after `stop`), and hands their files over in job order.
fn hand_in_order(
    jobs: usize,
    window: usize,
    stop: &std::sync::atomic::AtomicUsize,
    queue: &std::sync::mpsc::SyncSender<(usize, std::sync::mpsc::SyncSender<Built>)>,
    hand: &mut dyn FnMut(ReportFile) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    use std::sync::atomic::Ordering;
    let mut pending = std::collections::VecDeque::with_capacity(window);
    let mut next = 0;
    loop {
        while next < jobs && pending.len() < window && next <= stop.load(Ordering::Relaxed) {
            let (reply, files) = std::sync::mpsc::sync_channel::<Built>(1);
            if queue.send((next, reply)).is_err() {
                break;
            }
            pending.push_back(files);
            next += 1;
        }
        let Some(files) = pending.pop_front() else {
            return Ok(());
        };
        let files = files.recv().map_err(|_| {
            ReportError::Output("a report worker stopped before its files were built".into())
        })?;
        for file in files {
            hand(file?)?;
        }
    }
}

fn xlsx(scope: &str, bytes: Vec<u8>) -> ReportFile {
    ReportFile {
        scope: scope.to_owned(),
        label: LABEL,
        extension: "xlsx",
        content_type: XLSX_CONTENT_TYPE,
        bytes,
    }
}

fn csv(scope: &str, bytes: Vec<u8>) -> ReportFile {
    ReportFile {
        scope: scope.to_owned(),
        label: LABEL,
        extension: "csv",
        content_type: CSV_CONTENT_TYPE,
        bytes,
    }
}

/// An account as the reports show it, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Account<'a> {
    pub id: &'a AccountId,
    pub name: &'a str,
    pub ou_path: &'a str,
    /// Index in [`Index::centers`].
    pub center: usize,
    pub left: bool,
}

/// One amount of one account for one key; both by index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    /// Index in [`Index::accounts`] (report order).
    pub account: u32,
    /// Index in [`Rows::keys`].
    pub key: u32,
    pub amount: f64,
}

/// A breakdown by index: its keys once, its rows in report order (account, then
/// highest amount first, then key).
#[derive(Debug, Default)]
pub(super) struct Rows<'a> {
    pub keys: Vec<&'a str>,
    pub rows: Vec<Row>,
}

impl Rows<'_> {
    /// The rows of the accounts `accounts` (a cost center's range).
    pub fn of(&self, accounts: &Range<u32>) -> &[Row] {
        let start = self.rows.partition_point(|r| r.account < accounts.start);
        let end = self.rows.partition_point(|r| r.account < accounts.end);
        &self.rows[start..end]
    }
}

/// Everything the files need, computed once: accounts in report order (cost center,
/// OU path, name, id), cost centers sorted, each breakdown by index.
#[derive(Debug)]
pub(super) struct Index<'a> {
    pub accounts: Vec<Account<'a>>,
    pub centers: Vec<&'a str>,
    /// The S3-safe scope of each cost center, unique (a clash gets `-2`, `-3`...).
    pub scopes: Vec<String>,
    /// The accounts of each cost center (a range of [`Index::accounts`]).
    pub center_accounts: Vec<Range<u32>>,
    pub services: Rows<'a>,
    pub usage_types: Rows<'a>,
    /// Keys in column order (`Usage`, other charges, credits and refunds); every
    /// account's amount per record type in `record_amounts[account * keys + key]`.
    pub record_types: Vec<&'a str>,
    pub record_amounts: Vec<f64>,
}

/// The known accounts by id: one per id, the entry of an account still in the
/// organization preferred to one that left.
pub(super) fn known_accounts(accounts: &[ReportAccount]) -> HashMap<&str, &ReportAccount> {
    let mut known: HashMap<&str, &ReportAccount> = HashMap::with_capacity(accounts.len());
    for account in accounts {
        known
            .entry(account.id.as_str())
            .and_modify(|seen| {
                if seen.left && !account.left {
                    *seen = account;
                }
            })
            .or_insert(account);
    }
    known
}

impl<'a> Index<'a> {
    pub fn new(input: &CostReportInput<'a>) -> Self {
        let costs = input.costs;
        let known = known_accounts(input.accounts);

        // every account with a cost row, once
        let mut ids: HashMap<&str, &'a AccountId> = HashMap::new();
        for row in costs
            .by_record_type
            .iter()
            .chain(&costs.by_service)
            .chain(&costs.by_usage_type)
        {
            ids.entry(row.account.as_str()).or_insert(&row.account);
        }

        let mut centers: Vec<&'a str> = Vec::new();
        let mut center_of: HashMap<&'a str, usize> = HashMap::new();
        let mut accounts: Vec<Account<'a>> = ids
            .into_values()
            .map(|id| {
                let (name, ou_path, center, left) = match known.get(id.as_str()) {
                    Some(account) => (
                        account.name.as_str(),
                        account.ou_path.as_str(),
                        account.cost_center_or_bucket(),
                        account.left,
                    ),
                    None => (id.as_str(), "", NO_COST_CENTER, false),
                };
                let name = if name.trim().is_empty() {
                    id.as_str()
                } else {
                    name
                };
                let center = *center_of.entry(center).or_insert_with(|| {
                    centers.push(center);
                    centers.len() - 1
                });
                Account {
                    id,
                    name,
                    ou_path,
                    center,
                    left,
                }
            })
            .collect();

        // cost centers sorted by name; accounts by cost center, OU path, name, id
        let mut order: Vec<usize> = (0..centers.len()).collect();
        order.sort_by(|a, b| centers[*a].cmp(centers[*b]));
        let mut rank = vec![0; centers.len()];
        for (position, center) in order.iter().enumerate() {
            rank[*center] = position;
        }
        let centers: Vec<&'a str> = order.iter().map(|c| centers[*c]).collect();
        for account in &mut accounts {
            account.center = rank[account.center];
        }
        accounts.sort_by(|a, b| {
            (a.center, a.ou_path, a.name, a.id).cmp(&(b.center, b.ou_path, b.name, b.id))
        });
        let position: HashMap<&str, u32> = (0u32..)
            .zip(&accounts)
            .map(|(i, a)| (a.id.as_str(), i))
            .collect();

        let mut center_accounts = vec![0..0; centers.len()];
        for (i, account) in (0u32..).zip(&accounts) {
            let range = &mut center_accounts[account.center];
            if range.start == range.end {
                *range = i..i + 1;
            } else {
                range.end = i + 1;
            }
        }

        let services = rows(&costs.by_service, &position);
        let usage_types = rows(&costs.by_usage_type, &position);
        let records = rows(&costs.by_record_type, &position);

        // record types in column order
        let mut columns: Vec<u32> = (0u32..).take(records.keys.len()).collect();
        let class = |key: &str| {
            if key == USAGE {
                0
            } else if NOT_CHARGES.contains(&key) {
                2
            } else {
                1
            }
        };
        columns.sort_by(|a, b| {
            let (a, b) = (records.keys[*a as usize], records.keys[*b as usize]);
            (class(a), a).cmp(&(class(b), b))
        });
        let mut column_of = vec![0usize; columns.len()];
        for (column, key) in columns.iter().enumerate() {
            column_of[*key as usize] = column;
        }
        let record_types: Vec<&'a str> =
            columns.iter().map(|k| records.keys[*k as usize]).collect();
        let width = record_types.len();
        let mut record_amounts = vec![0.0; accounts.len() * width];
        for row in &records.rows {
            record_amounts[row.account as usize * width + column_of[row.key as usize]] +=
                row.amount;
        }

        let scopes = unique_scopes(&centers);
        Self {
            accounts,
            centers,
            scopes,
            center_accounts,
            services,
            usage_types,
            record_types,
            record_amounts,
        }
    }

    /// An account's amounts per record type, in column order.
    pub fn record_row(&self, account: u32) -> &[f64] {
        let width = self.record_types.len();
        let start = account as usize * width;
        &self.record_amounts[start..start + width]
    }

    /// The accounts of a cost center, each OU path's run as a range.
    pub fn ou_runs(&self, center: usize) -> Vec<Range<u32>> {
        let range = self.center_accounts[center].clone();
        let mut runs: Vec<Range<u32>> = Vec::new();
        for i in range {
            match runs.last_mut() {
                Some(run)
                    if self.accounts[run.start as usize].ou_path
                        == self.accounts[i as usize].ou_path =>
                {
                    run.end = i + 1;
                }
                _ => runs.push(i..i + 1),
            }
        }
        runs
    }

    /// The account's name as shown: `(left)` after the last known name of an account
    /// that left the organization.
    pub fn display_name(&self, account: u32) -> String {
        let account = &self.accounts[account as usize];
        if account.left {
            format!("{} (left)", account.name)
        } else {
            account.name.to_owned()
        }
    }
}

/// A breakdown by index: keys interned, duplicates (same account and key) summed,
/// zero amounts dropped, rows in report order.
fn rows<'a>(costs: &'a [super::model::AccountCost], position: &HashMap<&str, u32>) -> Rows<'a> {
    let mut keys: Vec<&'a str> = Vec::new();
    let mut key_of: HashMap<&'a str, u32> = HashMap::new();
    let mut rows: Vec<Row> = Vec::with_capacity(costs.len());
    for cost in costs {
        let Some(account) = position.get(cost.account.as_str()) else {
            continue; // every account of the costs has a position: cannot happen
        };
        let key = *key_of.entry(cost.key.as_str()).or_insert_with(|| {
            keys.push(cost.key.as_str());
            u32::try_from(keys.len() - 1).unwrap_or(u32::MAX)
        });
        rows.push(Row {
            account: *account,
            key,
            amount: cost.amount,
        });
    }
    rows.sort_unstable_by_key(|r| (r.account, r.key));
    rows.dedup_by(|next, kept| {
        if next.account == kept.account && next.key == kept.key {
            kept.amount += next.amount;
            true
        } else {
            false
        }
    });
    rows.retain(|r| r.amount != 0.0);
    rows.sort_by(|a, b| {
        a.account
            .cmp(&b.account)
            .then(b.amount.total_cmp(&a.amount))
            .then_with(|| keys[a.key as usize].cmp(keys[b.key as usize]))
    });
    Rows { keys, rows }
}

/// Each cost center's scope, unique: a second center with the same S3-safe name gets
/// `-2`, and so on (centers are sorted, so the suffixes are stable).
fn unique_scopes(centers: &[&str]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut scopes = Vec::with_capacity(centers.len());
    for center in centers {
        let base = scope_of(center);
        let mut scope = base.clone();
        let mut n = 1;
        while seen.contains_key(&scope) || scope == SUMMARY_SCOPE {
            n += 1;
            scope = format!("{base}-{n}");
        }
        seen.insert(scope.clone(), 1);
        scopes.push(scope);
    }
    scopes
}

/// The workbook writer's number of a row or column, or the format's limit error.
pub(super) fn excel_row(n: usize) -> Result<u32, ReportError> {
    u32::try_from(n).map_err(|_| ReportError::Xlsx(rust_xlsxwriter::XlsxError::RowColumnLimitError))
}

/// Writes CSV lines into a buffer; writing into memory cannot fail, but if it did
/// the error says which file.
pub(super) struct CsvOut {
    writer: ::csv::Writer<Vec<u8>>,
}

impl CsvOut {
    pub fn new(header: &[&str]) -> Result<Self, ReportError> {
        let mut out = Self {
            writer: ::csv::Writer::from_writer(Vec::with_capacity(1 << 16)),
        };
        out.line(header)?;
        Ok(out)
    }

    pub fn line(&mut self, fields: &[&str]) -> Result<(), ReportError> {
        self.writer
            .write_record(fields)
            .map_err(|e| ReportError::Output(format!("the CSV could not be written: {e}")))
    }

    pub fn finish(self) -> Result<Vec<u8>, ReportError> {
        self.writer
            .into_inner()
            .map_err(|e| ReportError::Output(format!("the CSV could not be written: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_safe_key_segments() {
        assert_eq!(scope_of("IT-001"), "IT-001");
        assert_eq!(scope_of("R&D / Paris"), "R-D---Paris");
        assert_eq!(scope_of("Équipe_2.a"), "-quipe_2.a");
        assert_eq!(scope_of(".."), "--");
        assert_eq!(scope_of(""), "-");
    }

    #[test]
    fn clashing_scopes_get_a_suffix() {
        assert_eq!(
            unique_scopes(&["A B", "A-B", "A/B", "summary"]),
            ["A-B", "A-B-2", "A-B-3", "summary-2"]
        );
    }

    /// A month of `n` accounts over 7 cost centers.
    fn month_of(n: u32) -> (CostBreakdowns, Vec<ReportAccount>) {
        let mut costs = CostBreakdowns {
            currency: "USD".into(),
            ..CostBreakdowns::default()
        };
        let mut accounts = Vec::new();
        for a in 0..n {
            let id = AccountId::parse(&format!("{:012}", 100_000_000_000u64 + u64::from(a)))
                .expect("a valid id");
            let mut account = ReportAccount::new(id.clone(), format!("sandbox-{a}"));
            account.cost_center = (a % 8 != 0).then(|| format!("CC-{}", a % 8));
            account.ou_path = format!("Root/Team {}", a % 3);
            accounts.push(account);
            for s in 0..4 {
                let amount = f64::from(a * 7 + s) / 10.0;
                let cost = |key: String| super::super::model::AccountCost {
                    account: id.clone(),
                    key,
                    amount,
                };
                costs.by_service.push(cost(format!("Service {s}")));
                costs.by_usage_type.push(cost(format!("Usage type {s}")));
            }
            costs.by_record_type.push(super::super::model::AccountCost {
                account: id.clone(),
                key: USAGE.into(),
                amount: f64::from(a),
            });
        }
        (costs, accounts)
    }

    fn input<'a>(
        costs: &'a CostBreakdowns,
        accounts: &'a [ReportAccount],
        rates: &'a BTreeMap<String, f64>,
    ) -> CostReportInput<'a> {
        CostReportInput {
            month: "2026-10".parse().expect("a month"),
            environment: "test",
            generated_at: "2026-11-06T07:00:00Z".parse().expect("a time"),
            costs,
            previous: None,
            accounts,
            extra_currencies: rates,
            forecast: None,
        }
    }

    fn built(input: &CostReportInput<'_>, workers: usize) -> Vec<ReportFile> {
        let mut files = Vec::new();
        cost_reports_with(input, workers, &mut |file| {
            files.push(file);
            Ok(())
        })
        .expect("files built");
        files
    }

    #[test]
    fn workers_hand_over_the_same_files_in_the_same_order() {
        let (costs, accounts) = month_of(60);
        let rates = BTreeMap::from([("EUR".to_owned(), 0.9)]);
        let input = input(&costs, &accounts, &rates);
        let alone = built(&input, 1);
        assert_eq!(alone.len(), 2 + 8 * 2, "the summary and 8 cost centers");
        for workers in [2, 3, 4] {
            let together = built(&input, workers);
            let names = |files: &[ReportFile]| -> Vec<String> {
                files.iter().map(|f| f.file_name("2026-10")).collect()
            };
            assert_eq!(names(&together), names(&alone), "{workers} workers");
            for (a, b) in together.iter().zip(&alone) {
                assert!(
                    a == b,
                    "{} differs with {workers} workers",
                    a.file_name("2026-10")
                );
            }
        }
    }

    #[test]
    fn a_failing_output_stops_the_workers_with_the_same_error() {
        let (costs, accounts) = month_of(60);
        let rates = BTreeMap::new();
        let input = input(&costs, &accounts, &rates);
        for workers in [1, 3] {
            let mut handed = Vec::new();
            let error = cost_reports_with(&input, workers, &mut |file| {
                handed.push(file.file_name("2026-10"));
                if handed.len() == 5 {
                    Err(ReportError::Output("bucket gone".into()))
                } else {
                    Ok(())
                }
            })
            .expect_err("the sink failed");
            assert_eq!(handed.len(), 5, "nothing handed after the failure");
            assert_eq!(
                error.to_string(),
                ReportError::Output("2026-10-CC-2-costs.xlsx: bucket gone".into()).to_string(),
                "{workers} workers"
            );
        }
    }

    #[test]
    fn keys_name_the_scope_the_year_and_the_period() {
        let file = xlsx("IT-001", vec![]);
        assert_eq!(
            file.key("reports/costs/", "2026-10", 2026),
            "reports/costs/IT-001/2026/2026-10-IT-001-costs.xlsx"
        );
        assert_eq!(
            csv("summary", vec![]).key("", "2026-10", 2026),
            "summary/2026/2026-10-summary-costs.csv"
        );
    }
}
