//! Report runs: the weekly inventory, the monthly activities and the monthly cost
//! reports, written to the reports bucket (or handed to the caller), the cost reports
//! mailed to FinOps.
//!
//! A run is named after the period it reports, never the day it runs: a scheduled run
//! derives its period from its scheduled time (costs and activities: the month
//! before; inventory: the ISO week of the day), `spa report` takes it from the
//! command line. Re-running a period writes the same keys again (S3 `PutObject`
//! replaces an object whole: a key holds the old file or the new one, never a part).
//! A file that cannot be written stops the run with an error naming its key; the
//! e-mail goes only once every file is written.
//!
//! Accounts come from the organization (name, e-mail, tags, OU path), the store
//! (last console sign-in) and the tags' `since`; each run remembers what it saw of
//! every account ([`KnownAccounts::remember_accounts`]), so that an account that
//! left the organization is still named in the cost reports of its months.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use crate::ports::{
    ActivityQuery, Attachment, CostSource, Email, Journal, KnownAccount, KnownAccounts, Logins,
    Mail, Objects, Organization, OrganizationTree, Platform, PortError, WriterLeases,
};
use spa_core::events::{AccountId, Report, ScheduledJob, mask};
use spa_core::reports::monthly::SUMMARY_SCOPE;
use spa_core::reports::{
    CostReportInput, INVENTORY_SCOPE, Month, ReportAccount, Week, activity_reports, cost_reports,
    finops_email, inventory_csv,
};

/// `text/csv` with its charset, for S3 and attachments.
pub const CSV: &str = "text/csv; charset=utf-8";

/// How far before the month activities are read, to find the start of an
/// on-boarding or maintenance that finished in the month.
const LOOKBACK_DAYS: i64 = 35;

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A calendar month (costs, activities).
    Month(Month),
    /// An ISO week (inventory).
    Week(Week),
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Month(month) => month.fmt(f),
            Period::Week(week) => week.fmt(f),
        }
    }
}

impl Period {
    /// The period a scheduled run of `report` at `at` covers: the month before for
    /// costs and activities (a run on 6 December reports November), the ISO week of
    /// the day for the inventory.
    pub fn scheduled(report: Report, at: DateTime<Utc>) -> Self {
        let day = at.date_naive();
        match report {
            Report::Costs | Report::Activities => Period::Month(Month::of(day).previous()),
            Report::Inventory => Period::Week(Week::of(day)),
        }
    }

    /// The month of a monthly report; for a week, the month of its Monday.
    pub fn month(self) -> Month {
        match self {
            Period::Month(month) => month,
            Period::Week(week) => Month::of(week.monday()),
        }
    }

    /// The week of the inventory; for a month, the ISO week of its last day (the
    /// inventory as it stood at the end of the month).
    pub fn week(self) -> Week {
        match self {
            Period::Week(week) => week,
            Period::Month(month) => Week::of(month.end().pred_opt().unwrap_or(month.end())),
        }
    }
}

/// One file a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its key in the bucket (relative path under `--out`).
    pub key: String,
    /// Its size in bytes.
    pub bytes: usize,
}

/// What a report run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    /// The report.
    pub report: Report,
    /// The period, as in the keys (`2026-11`, `2026-W47`).
    pub period: String,
    /// The files written, in order.
    pub files: Vec<Written>,
    /// Whom the report was mailed to (masked addresses).
    pub mailed: Vec<String>,
    /// What did not stop the run (no recipient, no sender, ...).
    pub notes: Vec<String>,
}

/// A caller's sink of report files: key, bytes; an error says why it failed.
pub type FileSink<'s> = dyn FnMut(&str, &[u8]) -> Result<(), String> + Send + 's;

/// Where a run's files go.
pub enum Output<'o> {
    /// The reports bucket (the `Objects` port), and the cost report mailed to FinOps.
    Bucket,
    /// Handed to the caller (`spa report --out DIR`): key, bytes. Nothing is mailed.
    Files(&'o mut FileSink<'o>),
}

impl std::fmt::Debug for Output<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Bucket => "Bucket",
            Output::Files(_) => "Files",
        })
    }
}

pub use spa_core::reports::report_key;

/// The names of the OUs of `ancestors` (nearest first, as the `OrganizationTree`
/// port gives them), root first: `["Root", "Sandboxes", "Team A"]`. Unit names are
/// kept in `names`, so that 10,000 accounts in a few OUs describe each OU once.
pub(crate) async fn ou_names<P: Platform>(
    engine: &Engine<'_, P>,
    ancestors: &[String],
    names: &mut HashMap<String, String>,
) -> Result<Vec<String>, PortError> {
    let organization = engine.platform().organization();
    let mut path = Vec::with_capacity(ancestors.len());
    for id in ancestors.iter().rev() {
        if id.starts_with("r-") {
            path.push("Root".to_owned());
            continue;
        }
        if let Some(name) = names.get(id) {
            path.push(name.clone());
            continue;
        }
        let unit = engine
            .retry()
            .run("describe unit", || organization.describe_unit(id))
            .await?;
        names.insert(id.clone(), unit.name.clone());
        path.push(unit.name);
    }
    Ok(path)
}

/// Every account of the organization as reports show it, then the accounts of
/// `also` the organization no longer lists, from what earlier runs remembered
/// (`left`; an account never seen is reported by its id). What is seen is
/// remembered for the next runs.
///
/// The tags and place of the accounts spa manages come from what their last writer
/// knew (`WriterLeases::cached_many`, 100 a call); Organizations is asked only about
/// the others, `features.find_concurrency` at a time: 10,000 managed accounts cost
/// the pages of `ListAccounts` and one `DescribeOrganizationalUnit` per OU.
pub async fn report_accounts<P: Platform>(
    engine: &Engine<'_, P>,
    also: &[AccountId],
) -> Result<Vec<ReportAccount>, UseCaseError> {
    let platform = engine.platform();
    let organization = platform.organization();
    let store = platform.store();
    let retry = engine.retry();
    let codec = engine.codec();
    let owners = &engine.settings().reporting.cost_owners;
    let now = engine.now();
    let records = retry
        .run("list accounts", || organization.list_accounts())
        .await
        .within(|| Context::step("list the accounts"))?;
    let logins = retry
        .run("read last sign-ins", || store.last_logins())
        .await
        .within(|| Context::step("read the last console sign-ins"))?;
    // what spa knows of the accounts it manages, in batches; Organizations is asked
    // only about the others, a few at a time
    let ids: Vec<AccountId> = records.iter().map(|r| r.id.clone()).collect();
    let cached = retry
        .run("read the cache", || store.cached_many(&ids))
        .await
        .within(|| Context::step("read what spa knows of the accounts"))?;
    let concurrency = usize::try_from(engine.settings().features.find_concurrency).unwrap_or(1);
    let places = super::bounded::bounded(
        records.iter().map(|record| {
            let cache = cached.get(&record.id);
            let id = &record.id;
            async move {
                let context = |step| Context::step(step).account(id);
                let tags = match cache.and_then(|c| c.tags.clone()) {
                    Some(tags) => tags,
                    None => retry
                        .run("read tags", || organization.tags(id))
                        .await
                        .within(|| context("read the tags"))?,
                };
                let ancestors = match cache.and_then(|c| c.ancestors.clone()) {
                    Some(ancestors) => ancestors,
                    None => retry
                        .run("read ancestors", || organization.ancestors(id.as_str()))
                        .await
                        .within(|| context("read the ancestors"))?,
                };
                Ok::<_, UseCaseError>((tags, ancestors))
            }
        }),
        concurrency,
    )
    .await;
    let mut units = HashMap::new();
    let mut accounts = Vec::with_capacity(records.len() + also.len());
    let mut seeds = Vec::new();
    for (record, place) in records.into_iter().zip(places) {
        let id = record.id.clone();
        let context = |step| Context::step(step).account(&id);
        let (tags, ancestors) = place?;
        // a managed account no writer knows yet (spa upgraded, tags set before it):
        // what was read of it is left for its first writer and the holder index
        if !cached.contains_key(&id)
            && engine
                .settings()
                .resolve_account(id.as_str(), &ancestors)
                .is_some()
        {
            let mut cache = crate::ports::AccountCache {
                tags: Some(tags.clone()),
                ancestors: Some(ancestors.clone()),
                ..Default::default()
            };
            super::lease::index_holder(engine, &mut cache);
            seeds.push((id.clone(), cache));
        }
        let ou_path = ou_names(engine, &ancestors, &mut units)
            .await
            .within(|| context("describe the OUs"))?
            .join("/");
        let mut account = ReportAccount::new(record.id.clone(), record.name);
        account.email = record.email.expose().to_owned();
        account.cost_center = tags
            .get(codec.cost_center_key())
            .filter(|c| !c.trim().is_empty())
            .cloned();
        account.cost_owner = owners.get(account.cost_center_or_bucket()).cloned();
        account.ou_path = ou_path;
        match codec.decode(&tags) {
            Ok(view) => {
                account.state = view.state.map(|s| s.to_string());
                account.holder = view.holder.map(|h| h.as_str().to_owned());
                account.since = view.since;
            }
            // tags spa cannot read: shown as they are (`spa check` tells what is wrong)
            Err(_) => {
                account.state = tags.get(&codec.state_key()).cloned();
                account.holder = tags.get(&codec.holder_key()).cloned();
            }
        }
        account.last_login = logins.get(&record.id).copied();
        accounts.push(account);
    }
    let seen: Vec<KnownAccount> = accounts
        .iter()
        .map(|a| KnownAccount {
            account: a.id.clone(),
            name: a.name.clone(),
            cost_center: a.cost_center.clone(),
            ou_path: a.ou_path.clone(),
            seen: now,
        })
        .collect();
    retry
        .run("remember accounts", || store.remember_accounts(&seen))
        .await
        .within(|| Context::step("remember the accounts seen"))?;
    let seeded = super::bounded::bounded(
        seeds
            .iter()
            .map(|(id, cache)| retry.run("seed the cache", move || store.seed(id, cache))),
        concurrency,
    )
    .await;
    for ((id, _), result) in seeds.iter().zip(seeded) {
        if let Err(error) = result {
            // a cache: the account's first writer reads its tags instead
            tracing::warn!(account = %id, %error, "what the inventory read of the account could not be left for its first writer");
        }
    }

    let listed: std::collections::HashSet<&AccountId> = accounts.iter().map(|a| &a.id).collect();
    let mut gone: Vec<AccountId> = also
        .iter()
        .filter(|id| !listed.contains(id))
        .cloned()
        .collect();
    gone.sort();
    gone.dedup();
    if !gone.is_empty() {
        let known = retry
            .run("read known accounts", || store.known_accounts(&gone))
            .await
            .within(|| Context::step("read the accounts that left"))?;
        let known: HashMap<&AccountId, &KnownAccount> =
            known.iter().map(|k| (&k.account, k)).collect();
        for id in &gone {
            let mut account = ReportAccount::new(id.clone(), "");
            if let Some(known) = known.get(id) {
                account.name = known.name.clone();
                account.cost_center = known.cost_center.clone();
                account.ou_path = known.ou_path.clone();
            }
            account.cost_owner = owners.get(account.cost_center_or_bucket()).cloned();
            account.last_login = logins.get(id).copied();
            account.left = true;
            accounts.push(account);
        }
    }
    Ok(accounts)
}

/// Runs `report` for `period`, writing its files to `output`.
pub async fn run_report<P: Platform>(
    engine: &Engine<'_, P>,
    report: Report,
    period: Period,
    output: &mut Output<'_>,
) -> Result<ReportRun, UseCaseError> {
    let mut run = ReportRun {
        report,
        period: String::new(),
        files: Vec::new(),
        mailed: Vec::new(),
        notes: Vec::new(),
    };
    let reporting = &engine.settings().reporting;
    match report {
        Report::Inventory => {
            let week = period.week();
            run.period = week.to_string();
            let accounts = report_accounts(engine, &[]).await?;
            let csv = inventory_csv(&accounts).map_err(|e| built("build the inventory", &e))?;
            let key = report_key(
                &reporting.inventories_prefix,
                INVENTORY_SCOPE,
                week.year(),
                &run.period,
                "inventory",
                "csv",
            );
            write(engine, output, &mut run, key, csv, CSV).await?;
        }
        Report::Activities => {
            let month = period.month();
            run.period = month.to_string();
            let since = month.first_day() - TimeDelta::days(LOOKBACK_DAYS);
            let query = ActivityQuery {
                account: None,
                since: Some(midnight(since)),
                limit: None,
            };
            let store = engine.platform().store();
            let activities = engine
                .retry()
                .run("read activities", || store.activities(&query))
                .await
                .within(|| Context::step("read the activities"))?;
            let mut ids: Vec<AccountId> = activities.iter().map(|a| a.account.clone()).collect();
            ids.sort();
            ids.dedup();
            let accounts = report_accounts(engine, &ids).await?;
            let reports = activity_reports(month, &activities, &accounts)
                .map_err(|e| built("build the activities", &e))?;
            for report in reports {
                let key = report_key(
                    &reporting.activities_prefix,
                    &report.cost_center,
                    month.year(),
                    &run.period,
                    "activities",
                    "csv",
                );
                write(engine, output, &mut run, key, report.csv, CSV).await?;
            }
        }
        Report::Costs => {
            let month = period.month();
            run.period = month.to_string();
            costs(engine, month, output, &mut run).await?;
        }
    }
    Ok(run)
}

/// The monthly cost reports: the month's costs (and the month before's, for the top
/// movers), the current month's forecast when the month reported is the last one or
/// the current one, every file written, then the summary mailed to FinOps.
async fn costs<P: Platform>(
    engine: &Engine<'_, P>,
    month: Month,
    output: &mut Output<'_>,
    run: &mut ReportRun,
) -> Result<(), UseCaseError> {
    let reporting = &engine.settings().reporting;
    let source = engine.platform().cost_source();
    let retry = engine.retry();
    let costs = retry
        .run("read the month's costs", || source.monthly_costs(month))
        .await
        .within(|| Context::step("read the month's costs"))?;
    let previous = match retry
        .run("read the costs of the month before", || {
            source.monthly_costs(month.previous())
        })
        .await
    {
        Ok(previous) => Some(previous),
        Err(error) if error.is_transient() => {
            return Err(UseCaseError::port(
                Context::step("read the costs of the month before"),
                error,
            ));
        }
        Err(error) => {
            run.notes.push(format!(
                "no movers: the costs of {} could not be read: {error}",
                month.previous()
            ));
            None
        }
    };
    let now = engine.now();
    let today = now.date_naive();
    let current = Month::of(today);
    let forecast = if month == current || month.next() == current {
        match retry
            .run("read the forecast", || source.forecast(current, today))
            .await
        {
            Ok(forecast) => forecast,
            Err(error) => {
                run.notes.push(format!("no forecast of {current}: {error}"));
                None
            }
        }
    } else {
        None
    };
    let mut ids: Vec<AccountId> = costs
        .by_service
        .iter()
        .chain(&costs.by_usage_type)
        .chain(&costs.by_record_type)
        .chain(previous.iter().flat_map(|p| p.by_record_type.iter()))
        .map(|c| c.account.clone())
        .collect();
    ids.sort();
    ids.dedup();
    let accounts = report_accounts(engine, &ids).await?;
    let extra: BTreeMap<String, f64> = reporting
        .extra_currencies
        .iter()
        .map(|(code, rate)| (code.as_str().to_owned(), rate.0))
        .collect();
    let input = CostReportInput {
        month,
        environment: engine.environment(),
        generated_at: now,
        costs: &costs,
        previous: previous.as_ref(),
        accounts: &accounts,
        extra_currencies: &extra,
        forecast: forecast.as_ref(),
    };
    // the builder hands files over one by one through a plain callback; the writes
    // are async, so the files of the month are kept until written (a few MiB for
    // 10,000 accounts)
    let mut files = Vec::new();
    cost_reports(&input, &mut |file| {
        files.push(file);
        Ok(())
    })
    .map_err(|e| built("build the cost reports", &e))?;
    let mut attachments = Vec::new();
    for file in files {
        let key = file.key(&reporting.costs_prefix, &run.period, month.year());
        if file.scope == SUMMARY_SCOPE {
            attachments.push(Attachment {
                file_name: file.file_name(&run.period),
                content_type: file.content_type.to_owned(),
                bytes: file.bytes.clone(),
            });
        }
        write(engine, output, run, key, file.bytes, file.content_type).await?;
    }
    if matches!(output, Output::Bucket) {
        mail_finops(engine, &input, attachments, run).await?;
    }
    Ok(())
}

/// Mails the summary to `reporting.recipients`, once every file is written. No
/// recipient, or no sender: said in the run's notes, not an error (the files are in
/// the bucket). SES failing fails the run, which can be run again (the same keys).
async fn mail_finops<P: Platform>(
    engine: &Engine<'_, P>,
    input: &CostReportInput<'_>,
    attachments: Vec<Attachment>,
    run: &mut ReportRun,
) -> Result<(), UseCaseError> {
    let settings = engine.settings();
    let recipients: Vec<String> = settings
        .reporting
        .recipients
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    if recipients.is_empty() {
        run.notes
            .push("not mailed: `reporting.recipients` is empty".into());
        return Ok(());
    }
    let Some(from) = &settings.notifications.email_sender else {
        run.notes
            .push("not mailed: `notifications.email_sender` is not set".into());
        return Ok(());
    };
    let body = finops_email(input, &settings.reporting.email_template);
    let email = Email {
        from: from.as_str().to_owned(),
        to: recipients.clone(),
        subject: body.subject,
        text: body.text,
        html: body.html,
        attachments,
    };
    let mail = engine.platform().mail();
    engine
        .retry()
        .run("mail the cost report", || mail.send_email(&email))
        .await
        .within(|| Context::step("mail the cost report to FinOps"))?;
    run.mailed = recipients.iter().map(|r| mask(r)).collect();
    Ok(())
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn built(step: &'static str, error: &spa_core::reports::ReportError) -> UseCaseError {
    UseCaseError::bad_input(Context::step(step), error.to_string())
}

/// Writes one file where the run's files go; a failure names the key.
async fn write<P: Platform>(
    engine: &Engine<'_, P>,
    output: &mut Output<'_>,
    run: &mut ReportRun,
    key: String,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), UseCaseError> {
    let size = bytes.len();
    match output {
        Output::Files(sink) => sink(&key, &bytes).map_err(|why| {
            UseCaseError::bad_input(
                Context::step("write a report file"),
                format!("`{key}`: {why}"),
            )
        })?,
        Output::Bucket => {
            let objects = engine.platform().objects();
            engine
                .retry()
                .run("put report", || {
                    objects.put(&key, bytes.clone(), content_type)
                })
                .await
                .map_err(|source| {
                    UseCaseError::port(Context::step("write the report file").cause(&key), source)
                })?;
        }
    }
    tracing::info!(key, bytes = size, "report file written");
    run.files.push(Written { key, bytes: size });
    Ok(())
}

/// The scheduled `reports` job: claims the run (a duplicated delivery runs once),
/// derives the period from the scheduled time, runs the report to the bucket. A
/// failed run releases its claim, so that the retried delivery runs it again.
pub async fn on_report_job<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    let Some(report) = job.report else {
        return Err(UseCaseError::bad_input(
            Context::step("read the scheduled job").cause(cause),
            "a `reports` job without its `report`",
        ));
    };
    let key = format!("report#{cause}");
    if lease::take(engine, &key, || {
        Context::step("claim the report run").cause(cause)
    })
    .await?
        == Taken::Seen
    {
        return Ok(Outcome::new(cause, None, Verdict::Seen));
    }
    let period = Period::scheduled(report, job.scheduled_time);
    // a run writes whole files under the same keys again: running it again is safe
    let result = match run_report(engine, report, period, &mut Output::Bucket).await {
        Ok(run) => {
            let mut summary = format!(
                "{} report of {}: {} file(s)",
                run.report,
                run.period,
                run.files.len()
            );
            if !run.mailed.is_empty() {
                summary.push_str(&format!(", mailed to {}", run.mailed.join(", ")));
            }
            tracing::info!(cause, %report, period = %run.period, files = run.files.len(), "report run done");
            let mut outcome = Outcome::new(cause, None, Verdict::Notified(summary));
            outcome.warnings = run.notes;
            Ok(outcome)
        }
        Err(error) => {
            tracing::error!(cause, %report, %period, %error, "report run failed");
            Err(error)
        }
    };
    lease::end_rerunnable(engine, &key, result).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn scheduled_periods_are_the_month_before_or_the_week_of_the_day() {
        let early = at("2026-12-06T06:00:00Z");
        let last = at("2027-01-14T06:00:00Z");
        assert_eq!(
            Period::scheduled(Report::Costs, early).to_string(),
            "2026-11"
        );
        assert_eq!(
            Period::scheduled(Report::Costs, last).to_string(),
            "2026-12"
        );
        assert_eq!(
            Period::scheduled(Report::Activities, early).to_string(),
            "2026-11"
        );
        assert_eq!(
            Period::scheduled(Report::Inventory, at("2026-11-23T06:00:00Z")).to_string(),
            "2026-W48"
        );
    }

    #[test]
    fn keys_are_named_after_the_period_and_cost_centers_cannot_escape() {
        assert_eq!(
            report_key(
                "reports/inventories/",
                "organization",
                2026,
                "2026-W48",
                "inventory",
                "csv"
            ),
            "reports/inventories/organization/2026/2026-W48-organization-inventory.csv"
        );
        assert_eq!(
            report_key(
                "reports/activities",
                "../R&D x",
                2026,
                "2026-11",
                "activities",
                "csv"
            ),
            "reports/activities/..-R-D-x/2026/2026-11-..-R-D-x-activities.csv"
        );
        assert_eq!(
            report_key("/r/", "..", 2026, "2026-11", "costs", "csv"),
            "r/--/2026/2026-11----costs.csv"
        );
    }
}
