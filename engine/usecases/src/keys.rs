//! The access-key scan: the IAM users of every managed account, read through the
//! member role, for keys that are too old or unused for too long, and for users who
//! can sign in to the console with a password.
//!
//! - **Stale**: an active key older than `features.stale_access_key_age`.
//! - **Unused**: an active key whose last use (its creation, when it was never used)
//!   is older than `features.unused_access_key_age`.
//! - **Console password**: an IAM user with a login profile. Personal sandbox
//!   accounts are reached through roles (SSO, the member role); a password is a door
//!   nobody watches.
//!
//! Inactive keys sign nothing and are not reported. Accounts are read at most
//! `features.find_concurrency` at once; an account that cannot be read (a missing
//! member role) is listed in [`KeyScanReport::failed`] and never stops the scan.
//!
//! When the scan raises (the scheduled `access-key-scan` job, or `spa scan keys
//! --raise`), each account with findings gets one `StaleAccessKey` exception a day
//! (claim `stale-keys#<account>#<YYYY-MM-DD>`): the exception carries the findings
//! (user, key id masked `AKIA…WXYZ`, age, last use), is recorded in the account's
//! history and published on the bus, where the `exceptions` function opens the
//! incident and tells the routed channels and the holder. A re-run the same day
//! raises nothing twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::apply::{Outcome, Verdict};
use super::bounded::bounded;
use super::context::Engine;
use super::error::{Context, UseCaseError};
use super::exceptions::publish_claimed;
use super::find::aligned;
use super::lease::{self, Taken};
use super::managed::managed_accounts;
use crate::ports::{Activity, IamUser, KeyStatus, Platform, Scans, mask_key_id};
use spa_core::events::{AccountId, DomainEvent, Label, ScheduledJob};

/// What the scan reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// An active key older than the stale age.
    Stale,
    /// An active key not used (or, never used, made) for longer than the unused age.
    Unused,
    /// An IAM user with a console password.
    ConsolePassword,
}

impl Problem {
    fn words(self) -> &'static str {
        match self {
            Problem::Stale => "stale",
            Problem::Unused => "unused",
            Problem::ConsolePassword => "console password",
        }
    }
}

/// One finding: a key (stale, unused, or both), or a user with a console password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFinding {
    /// The account.
    pub account: AccountId,
    /// The IAM user.
    pub user: String,
    /// The key id, masked (`AKIA…WXYZ`); none for a console password.
    pub key: Option<String>,
    /// The key's age in whole days.
    pub age_days: Option<i64>,
    /// When the key was last used; none: never (or not a key).
    pub last_used: Option<DateTime<Utc>>,
    /// What is wrong.
    pub problems: Vec<Problem>,
}

impl KeyFinding {
    /// `user alice: key AKIA…WXYZ 120 days old, last used 2025-01-02 (stale, unused)`.
    pub fn sentence(&self) -> String {
        let problems: Vec<&str> = self.problems.iter().map(|p| p.words()).collect();
        match &self.key {
            Some(key) => format!(
                "user {}: key {key} {} day(s) old, {} ({})",
                self.user,
                self.age_days.unwrap_or(0),
                match self.last_used {
                    Some(at) => format!("last used {}", at.date_naive()),
                    None => "never used".to_owned(),
                },
                problems.join(", ")
            ),
            None => format!(
                "user {}: can sign in to the console with a password",
                self.user
            ),
        }
    }
}

/// An account that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFailure {
    /// The account.
    pub account: AccountId,
    /// Why (a missing member role, ...).
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyScanReport {
    /// The findings, by account and user.
    pub findings: Vec<KeyFinding>,
    /// Accounts read.
    pub scanned: usize,
    /// Users seen in them.
    pub users: usize,
    /// Active keys seen in them.
    pub keys: usize,
    /// Accounts that could not be read.
    pub failed: Vec<ScanFailure>,
    /// Accounts a `StaleAccessKey` exception was raised for by this scan.
    pub raised: Vec<AccountId>,
    /// Accounts with findings already raised the same day.
    pub raised_before: Vec<AccountId>,
}

/// The ages of the scan, from `features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// An active key older than this is stale.
    pub stale_after: Duration,
    /// An active key unused for longer than this is reported.
    pub unused_after: Duration,
    /// Accounts read at once (at least 1).
    pub concurrency: usize,
}

impl KeyPolicy {
    /// `features.stale_access_key_age`, `unused_access_key_age`, `find_concurrency`.
    pub fn from_settings(settings: &spa_core::settings::Settings) -> Self {
        let features = &settings.features;
        Self {
            stale_after: features.stale_access_key_age,
            unused_after: features.unused_access_key_age,
            concurrency: usize::try_from(features.find_concurrency)
                .unwrap_or(1)
                .max(1),
        }
    }
}

fn older_than(since: DateTime<Utc>, now: DateTime<Utc>, limit: Duration) -> bool {
    let limit = chrono::TimeDelta::from_std(limit).unwrap_or(chrono::TimeDelta::MAX);
    now.signed_duration_since(since) > limit
}

/// The findings of one account's users at `now` (pure).
pub fn classify(
    account: &AccountId,
    users: &[IamUser],
    now: DateTime<Utc>,
    policy: &KeyPolicy,
) -> Vec<KeyFinding> {
    let mut findings = Vec::new();
    for user in users {
        if user.console_password {
            findings.push(KeyFinding {
                account: account.clone(),
                user: user.name.clone(),
                key: None,
                age_days: None,
                last_used: None,
                problems: vec![Problem::ConsolePassword],
            });
        }
        for key in &user.keys {
            if key.status != KeyStatus::Active {
                continue;
            }
            let mut problems = Vec::new();
            if older_than(key.created, now, policy.stale_after) {
                problems.push(Problem::Stale);
            }
            if older_than(
                key.last_used.unwrap_or(key.created),
                now,
                policy.unused_after,
            ) {
                problems.push(Problem::Unused);
            }
            if problems.is_empty() {
                continue;
            }
            findings.push(KeyFinding {
                account: account.clone(),
                user: user.name.clone(),
                key: Some(mask_key_id(&key.id)),
                age_days: Some(now.signed_duration_since(key.created).num_days().max(0)),
                last_used: key.last_used,
                problems,
            });
        }
    }
    findings
}

/// Scans `accounts` on the platform's scans at `now`; with `raise`, raises
/// `StaleAccessKey` for each account with findings, once a day (`cause` names the
/// run in the history).
pub async fn scan_access_keys<P: Platform>(
    engine: &Engine<'_, P>,
    accounts: &[AccountId],
    now: DateTime<Utc>,
    raise: Option<&str>,
) -> Result<KeyScanReport, UseCaseError> {
    scan_access_keys_with(engine, engine.platform().scans(), accounts, now, raise).await
}

/// [`scan_access_keys`] on the given scans (an adapter other than the platform's).
pub async fn scan_access_keys_with<P: Platform, S: Scans>(
    engine: &Engine<'_, P>,
    scans: &S,
    accounts: &[AccountId],
    now: DateTime<Utc>,
    raise: Option<&str>,
) -> Result<KeyScanReport, UseCaseError> {
    let policy = KeyPolicy::from_settings(engine.settings());
    let retry = engine.retry();
    let read = bounded(
        accounts.iter().map(|account| async move {
            let users = retry.run("iam users", || scans.iam_users(account)).await;
            (account, users)
        }),
        policy.concurrency,
    )
    .await;
    let mut report = KeyScanReport::default();
    let mut by_account: Vec<(AccountId, Vec<KeyFinding>)> = Vec::new();
    for (account, users) in read {
        match users {
            Ok(users) => {
                report.scanned += 1;
                report.users += users.len();
                report.keys += users
                    .iter()
                    .flat_map(|u| &u.keys)
                    .filter(|k| k.status == KeyStatus::Active)
                    .count();
                let findings = classify(account, &users, now, &policy);
                if !findings.is_empty() {
                    by_account.push((account.clone(), findings));
                }
            }
            Err(error) => {
                tracing::warn!(%account, %error, "access keys not read");
                report.failed.push(ScanFailure {
                    account: account.clone(),
                    reason: error.to_string(),
                });
            }
        }
    }
    for (account, findings) in by_account {
        if let Some(cause) = raise {
            match raise_stale_keys(engine, &account, &findings, now, cause, &policy).await {
                Ok(Taken::Go { .. }) => report.raised.push(account.clone()),
                Ok(Taken::Seen) => report.raised_before.push(account.clone()),
                Err(error) => {
                    tracing::error!(%account, cause, %error, "stale access keys not raised");
                    report.failed.push(ScanFailure {
                        account: account.clone(),
                        reason: format!("read, but the exception was not raised: {error}"),
                    });
                }
            }
        }
        report.findings.extend(findings);
    }
    tracing::info!(
        scanned = report.scanned,
        findings = report.findings.len(),
        failed = report.failed.len(),
        raised = report.raised.len(),
        "access keys scanned"
    );
    Ok(report)
}

fn days(duration: Duration) -> u64 {
    duration.as_secs() / 86_400
}

/// Raises `StaleAccessKey` for one account and day, once: claimed, recorded in the
/// history, published on the bus. A transient failure releases the claim, so that a
/// later run raises it.
async fn raise_stale_keys<P: Platform>(
    engine: &Engine<'_, P>,
    account: &AccountId,
    findings: &[KeyFinding],
    now: DateTime<Utc>,
    cause: &str,
    policy: &KeyPolicy,
) -> Result<Taken, UseCaseError> {
    let context = |step| Context::step(step).account(account).cause(cause);
    let day = now.date_naive();
    let key = format!("stale-keys#{account}#{day}");
    if lease::take(engine, &key, || context("claim the access-key findings")).await? == Taken::Seen
    {
        return Ok(Taken::Seen);
    }
    let count = |p: Problem| findings.iter().filter(|f| f.problems.contains(&p)).count();
    let reason = format!(
        "{} stale key(s) (older than {} days), {} unused key(s) (not used for {} days), {} IAM user(s) with a console password",
        count(Problem::Stale),
        days(policy.stale_after),
        count(Problem::Unused),
        days(policy.unused_after),
        count(Problem::ConsolePassword),
    );
    let lines: Vec<String> = findings.iter().map(KeyFinding::sentence).collect();
    let event = DomainEvent::new(
        Label::StaleAccessKey,
        engine.environment(),
        account.clone(),
        now,
    )
    .with_reason(&reason)
    .with_fact("findings", lines.join("; "))
    .with_fact("stale_after_days", days(policy.stale_after).to_string())
    .with_fact("unused_after_days", days(policy.unused_after).to_string())
    .with_fact("scan_day", day.to_string());
    let activity = Activity {
        at: now,
        account: account.clone(),
        label: Label::StaleAccessKey,
        from: None,
        to: None,
        detail: format!("{reason}: {}", lines.join("; ")),
        cause: Some(cause.to_owned()),
    };
    publish_claimed(
        engine,
        &key,
        cause,
        &activity,
        event,
        "the access-key findings",
    )
    .await
}

/// The scheduled `access-key-scan` job: every managed account scanned at the job's
/// time, `StaleAccessKey` raised once a day for each account with findings. Off
/// (`features.access_key_scan: false`): nothing is read, and the outcome says so.
pub async fn on_access_key_scan<P: Platform>(
    engine: &Engine<'_, P>,
    job: &ScheduledJob,
) -> Result<Outcome, UseCaseError> {
    let cause = job.event_id.as_str();
    if !engine.settings().features.access_key_scan {
        let why = "features.access_key_scan is off: no account scanned".to_owned();
        tracing::info!(cause, why, "scheduled job skipped");
        return Ok(Outcome::new(cause, None, Verdict::Ignored(why)));
    }
    let accounts: Vec<AccountId> = managed_accounts(engine, None)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let report = scan_access_keys(engine, &accounts, job.scheduled_time, Some(cause)).await?;
    let mut outcome = Outcome::new(cause, None, Verdict::Applied);
    for failure in &report.failed {
        outcome
            .warnings
            .push(format!("{}: {}", failure.account, failure.reason));
    }
    outcome
        .events
        .extend(report.raised.iter().map(|_| Label::StaleAccessKey));
    let text = format!(
        "{} account(s) scanned, {} finding(s), {} raised, {} raised before today, {} failed",
        report.scanned,
        report.findings.len(),
        report.raised.len(),
        report.raised_before.len(),
        report.failed.len()
    );
    outcome.verdict = if report.raised.is_empty() && report.failed.is_empty() {
        Verdict::Ignored(text)
    } else {
        Verdict::Notified(text)
    };
    Ok(outcome)
}

/// The report as a terminal table (and the failures under it).
pub fn table(report: &KeyScanReport) -> String {
    let mut text = String::new();
    if report.findings.is_empty() {
        text.push_str("no finding\n");
    } else {
        let rows: Vec<[String; 6]> = report
            .findings
            .iter()
            .map(|f| {
                let problems: Vec<&str> = f.problems.iter().map(|p| p.words()).collect();
                [
                    f.account.to_string(),
                    f.user.clone(),
                    f.key.clone().unwrap_or_else(|| "-".into()),
                    f.age_days.map_or_else(|| "-".into(), |d| format!("{d} d")),
                    match (&f.key, f.last_used) {
                        (None, _) => "-".into(),
                        (Some(_), None) => "never".into(),
                        (Some(_), Some(at)) => at.date_naive().to_string(),
                    },
                    problems.join(", "),
                ]
            })
            .collect();
        let header = ["ACCOUNT", "USER", "KEY", "AGE", "LAST USED", "FINDING"];
        text.push_str(&aligned(&header, &rows));
    }
    text.push_str(&format!(
        "{} account(s) scanned, {} user(s), {} active key(s), {} finding(s), {} failed",
        report.scanned,
        report.users,
        report.keys,
        report.findings.len(),
        report.failed.len()
    ));
    if !report.raised.is_empty() || !report.raised_before.is_empty() {
        text.push_str(&format!(
            "; StaleAccessKey raised for {} account(s), {} raised before today",
            report.raised.len(),
            report.raised_before.len()
        ));
    }
    text.push('\n');
    for failure in &report.failed {
        text.push_str(&format!(
            "failed: {}: {}\n",
            failure.account, failure.reason
        ));
    }
    text
}
