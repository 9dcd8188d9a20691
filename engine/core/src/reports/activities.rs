//! The monthly activities report: one CSV per cost center, for the cost owners.
//!
//! Lines are what happened to the accounts in the month, read from the lifecycle's
//! activity records:
//!
//! - **on-boarding**: from `AccountVended` (the account entered `vended`) to
//!   `OnboardingCompleted` (it is ready: prepared in the pool, or assigned);
//! - **maintenance**: from `AccountExpired` to `MaintenanceCompleted`;
//! - **console login**: every `ConsoleLogin`, `ConsoleLoginWithRoot`,
//!   `ConsoleLoginWithIamUser` (the detail says root or IAM user).
//!
//! An on-boarding or a maintenance is shown in the month it finished (with its start,
//! even of the month before, and its duration in whole minutes) and in the month it
//! started when it did not finish within that month (no end, no duration). The
//! caller hands the activities from before the month too (a few weeks), so that a
//! start before the month is found; activities outside the month are used for that
//! only. Columns: cost center, account, name, activity, started, finished, duration
//! (minutes), detail; times RFC 3339 UTC; unknowns empty.
//!
//! Every cost center of `accounts` gets its file (a header alone when nothing
//! happened), so that a month has the same files on every run and a re-run
//! overwrites each; accounts the caller does not know fall in `NoCostCenter`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::ReportError;
use super::inventory::report_time;
use super::model::{Month, NO_COST_CENTER, ReportAccount};
use crate::events::Activity;
use crate::events::{AccountId, Label};
use crate::lifecycle::State;

/// The header row of an activities CSV.
pub const ACTIVITIES_HEADER: [&str; 8] = [
    "cost center",
    "account",
    "name",
    "activity",
    "started",
    "finished",
    "duration (minutes)",
    "detail",
];

/// The activities CSV of one cost center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityReport {
    /// The cost center (`NoCostCenter` for accounts without the tag).
    pub cost_center: String,
    /// Lines besides the header.
    pub rows: usize,
    /// The CSV.
    pub csv: Vec<u8>,
}

/// One line, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    account: AccountId,
    activity: &'static str,
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    detail: String,
}

/// An on-boarding or maintenance under way.
#[derive(Debug, Clone, Copy)]
struct Open {
    started: DateTime<Utc>,
}

/// The activities CSVs of `month`, one per cost center, sorted by cost center.
pub fn activity_reports(
    month: Month,
    activities: &[Activity],
    accounts: &[ReportAccount],
) -> Result<Vec<ActivityReport>, ReportError> {
    let start = month.first_day().and_time(chrono::NaiveTime::MIN).and_utc();
    let end = month.end().and_time(chrono::NaiveTime::MIN).and_utc();
    let within = |at: DateTime<Utc>| start <= at && at < end;

    let mut ordered: Vec<&Activity> = activities.iter().filter(|a| a.at < end).collect();
    // records of the same instant (times are often to the second; an account vended
    // without preparation is ready at once): starts first, completions last
    let rank = |label: Label| match label {
        Label::AccountVended | Label::AccountExpired => 0,
        Label::OnboardingCompleted | Label::MaintenanceCompleted => 2,
        _ => 1,
    };
    ordered.sort_by(|a, b| {
        a.account
            .cmp(&b.account)
            .then_with(|| a.at.cmp(&b.at))
            .then_with(|| rank(a.label).cmp(&rank(b.label)))
    });

    let mut lines = Vec::new();
    let mut onboarding: HashMap<&AccountId, Open> = HashMap::new();
    let mut maintenance: HashMap<&AccountId, Open> = HashMap::new();
    for activity in &ordered {
        let account = &activity.account;
        match activity.label {
            Label::AccountVended if activity.to.is_none_or(|s| s == State::Vended) => {
                // a reset re-vends an account whose on-boarding is still open: the
                // on-boarding goes on from its first start
                onboarding.entry(account).or_insert(Open {
                    started: activity.at,
                });
            }
            Label::AccountExpired => {
                maintenance.entry(account).or_insert(Open {
                    started: activity.at,
                });
            }
            Label::OnboardingCompleted | Label::MaintenanceCompleted => {
                let (open, name) = if activity.label == Label::OnboardingCompleted {
                    (onboarding.remove(account), "on-boarding")
                } else {
                    (maintenance.remove(account), "maintenance")
                };
                let started = open.map(|o| o.started);
                let detail = match activity.to {
                    Some(state) => format!("ready ({state})"),
                    None => "ready".to_owned(),
                };
                if within(activity.at) {
                    lines.push(Line {
                        account: account.clone(),
                        activity: name,
                        started,
                        finished: Some(activity.at),
                        detail,
                    });
                } else if let Some(started) = started.filter(|s| within(*s)) {
                    // finished after the month (the record is not read here, but be safe)
                    lines.push(unfinished(account, name, started));
                }
            }
            Label::ConsoleLogin | Label::ConsoleLoginWithRoot | Label::ConsoleLoginWithIamUser
                if within(activity.at) =>
            {
                let who = match activity.label {
                    Label::ConsoleLoginWithRoot => "root user",
                    Label::ConsoleLoginWithIamUser => "IAM user",
                    _ => "role",
                };
                let detail = if activity.detail.is_empty() {
                    who.to_owned()
                } else {
                    format!("{who}: {}", activity.detail)
                };
                lines.push(Line {
                    account: account.clone(),
                    activity: "console login",
                    started: Some(activity.at),
                    finished: None,
                    detail,
                });
            }
            _ => {}
        }
    }
    for (open, name) in [(onboarding, "on-boarding"), (maintenance, "maintenance")] {
        for (account, open) in open {
            if within(open.started) {
                lines.push(unfinished(account, name, open.started));
            }
        }
    }

    let known: HashMap<&AccountId, &ReportAccount> = accounts.iter().map(|a| (&a.id, a)).collect();
    let mut by_center: BTreeMap<&str, Vec<Line>> = accounts
        .iter()
        .map(|a| (a.cost_center_or_bucket(), Vec::new()))
        .collect();
    for line in lines {
        let center = known
            .get(&line.account)
            .map_or(NO_COST_CENTER, |a| a.cost_center_or_bucket());
        by_center.entry(center).or_default().push(line);
    }
    by_center
        .into_iter()
        .map(|(center, mut lines)| {
            lines.sort_by(|a, b| {
                a.account
                    .cmp(&b.account)
                    .then_with(|| a.started.or(a.finished).cmp(&b.started.or(b.finished)))
                    .then_with(|| a.activity.cmp(b.activity))
            });
            let csv = write(center, &lines, &known)?;
            Ok(ActivityReport {
                cost_center: center.to_owned(),
                rows: lines.len(),
                csv,
            })
        })
        .collect()
}

fn unfinished(account: &AccountId, activity: &'static str, started: DateTime<Utc>) -> Line {
    Line {
        account: account.clone(),
        activity,
        started: Some(started),
        finished: None,
        detail: "not finished within the month".to_owned(),
    }
}

fn write(
    center: &str,
    lines: &[Line],
    known: &HashMap<&AccountId, &ReportAccount>,
) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(96 * (lines.len() + 1)));
    writer
        .write_record(ACTIVITIES_HEADER)
        .map_err(|e| ReportError::csv(&e))?;
    for line in lines {
        let name = known
            .get(&line.account)
            .map(|a| a.name.as_str())
            .unwrap_or_default();
        let duration = match (line.started, line.finished) {
            (Some(started), Some(finished)) if line.activity != "console login" => {
                let seconds = (finished - started).num_seconds().max(0);
                ((seconds + 30) / 60).to_string()
            }
            _ => String::new(),
        };
        writer
            .write_record([
                center,
                line.account.as_str(),
                name,
                line.activity,
                &line.started.map(report_time).unwrap_or_default(),
                &line.finished.map(report_time).unwrap_or_default(),
                &duration,
                &line.detail,
            ])
            .map_err(|e| ReportError::csv(&e))?;
    }
    writer
        .into_inner()
        .map_err(|e| ReportError::Csv(e.error().to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn activity(account: &str, when: &str, label: Label, to: Option<State>) -> Activity {
        Activity {
            at: at(when),
            account: id(account),
            label,
            from: None,
            to,
            detail: String::new(),
            cause: None,
        }
    }

    fn rows(report: &ActivityReport) -> Vec<Vec<String>> {
        csv::Reader::from_reader(report.csv.as_slice())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn accounts() -> Vec<ReportAccount> {
        let mut a = ReportAccount::new(id("111111111111"), "alice");
        a.cost_center = Some("IT-001".into());
        let mut b = ReportAccount::new(id("222222222222"), "bob");
        b.cost_center = Some("HR-002".into());
        vec![a, b]
    }

    fn november() -> Month {
        "2026-11".parse().unwrap()
    }

    #[test]
    fn onboardings_maintenances_and_logins_of_the_month_with_durations() {
        let mut login = activity(
            "111111111111",
            "2026-11-10T09:00:00Z",
            Label::ConsoleLoginWithRoot,
            None,
        );
        login.detail = "root sign-in from 192.0.2.1".into();
        let activities = vec![
            activity(
                "111111111111",
                "2026-11-02T08:00:00Z",
                Label::AccountVended,
                Some(State::Vended),
            ),
            activity(
                "111111111111",
                "2026-11-02T08:42:20Z",
                Label::OnboardingCompleted,
                Some(State::Assigned),
            ),
            login,
            // a maintenance that started in October and ended in November
            activity(
                "222222222222",
                "2026-10-31T23:00:00Z",
                Label::AccountExpired,
                Some(State::Expired),
            ),
            activity(
                "222222222222",
                "2026-11-01T01:30:00Z",
                Label::MaintenanceCompleted,
                Some(State::Prepared),
            ),
            // a lifecycle record that is no activity of the report
            activity(
                "222222222222",
                "2026-11-01T00:10:00Z",
                Label::AccountPurged,
                Some(State::Purged),
            ),
        ];
        let reports = activity_reports(november(), &activities, &accounts()).unwrap();
        let centers: Vec<&str> = reports.iter().map(|r| r.cost_center.as_str()).collect();
        assert_eq!(centers, ["HR-002", "IT-001"]);
        let it = rows(&reports[1]);
        assert_eq!(
            it,
            [
                vec![
                    "IT-001",
                    "111111111111",
                    "alice",
                    "on-boarding",
                    "2026-11-02T08:00:00Z",
                    "2026-11-02T08:42:20Z",
                    "42",
                    "ready (assigned)"
                ],
                vec![
                    "IT-001",
                    "111111111111",
                    "alice",
                    "console login",
                    "2026-11-10T09:00:00Z",
                    "",
                    "",
                    "root user: root sign-in from 192.0.2.1"
                ],
            ]
        );
        let hr = rows(&reports[0]);
        assert_eq!(hr.len(), 1);
        assert_eq!(hr[0][3], "maintenance");
        assert_eq!(hr[0][4], "2026-10-31T23:00:00Z", "started the month before");
        assert_eq!(hr[0][6], "150");
        assert!(
            String::from_utf8(reports[0].csv.clone())
                .unwrap()
                .starts_with(
                    "cost center,account,name,activity,started,finished,duration (minutes),detail\n"
                )
        );
    }

    #[test]
    fn an_onboarding_not_finished_within_the_month_shows_without_end() {
        let activities = vec![
            activity(
                "111111111111",
                "2026-11-30T23:00:00Z",
                Label::AccountVended,
                Some(State::Vended),
            ),
            activity(
                "111111111111",
                "2026-12-01T00:20:00Z",
                Label::OnboardingCompleted,
                Some(State::Prepared),
            ),
        ];
        let reports = activity_reports(november(), &activities, &accounts()).unwrap();
        let it = rows(&reports[1]);
        assert_eq!(it.len(), 1);
        assert_eq!(it[0][3], "on-boarding");
        assert_eq!(it[0][5], "", "no end");
        assert_eq!(it[0][6], "", "no duration");
        assert_eq!(it[0][7], "not finished within the month");
        // December shows it finished, with its start of November
        let december = activity_reports(november().next(), &activities, &accounts()).unwrap();
        let it = rows(&december[1]);
        assert_eq!(it[0][4], "2026-11-30T23:00:00Z");
        assert_eq!(it[0][6], "80");
    }

    #[test]
    fn a_reset_keeps_the_first_start_and_other_months_are_left_out() {
        let activities = vec![
            activity(
                "111111111111",
                "2026-11-03T08:00:00Z",
                Label::AccountVended,
                Some(State::Vended),
            ),
            activity(
                "111111111111",
                "2026-11-03T12:00:00Z",
                Label::AccountVended,
                Some(State::Vended),
            ),
            activity(
                "111111111111",
                "2026-11-03T13:00:00Z",
                Label::OnboardingCompleted,
                Some(State::Prepared),
            ),
            activity(
                "111111111111",
                "2026-10-03T13:00:00Z",
                Label::ConsoleLogin,
                None,
            ),
        ];
        let reports = activity_reports(november(), &activities, &accounts()).unwrap();
        let it = rows(&reports[1]);
        assert_eq!(it.len(), 1, "{it:?}");
        assert_eq!(it[0][6], "300");
        assert_eq!(reports[0].rows, 0, "HR-002 has its file, header only");
        assert_eq!(
            String::from_utf8(reports[0].csv.clone())
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    #[test]
    fn a_start_and_its_end_in_the_same_second_in_any_order_make_one_line() {
        let same = "2026-11-03T08:00:00Z";
        // the store reads newest first: the completion may come before the start
        let activities = vec![
            activity(
                "111111111111",
                same,
                Label::OnboardingCompleted,
                Some(State::Prepared),
            ),
            activity(
                "111111111111",
                same,
                Label::AccountVended,
                Some(State::Vended),
            ),
        ];
        let reports = activity_reports(november(), &activities, &accounts()).unwrap();
        let it = rows(&reports[1]);
        assert_eq!(it.len(), 1, "{it:?}");
        assert_eq!(it[0][4], same);
        assert_eq!(it[0][5], same);
        assert_eq!(it[0][6], "0");
    }

    #[test]
    fn accounts_nobody_knows_fall_in_the_no_cost_center_bucket() {
        let activities = vec![activity(
            "999999999999",
            "2026-11-05T10:00:00Z",
            Label::ConsoleLogin,
            None,
        )];
        let reports = activity_reports(november(), &activities, &accounts()).unwrap();
        let bucket = reports
            .iter()
            .find(|r| r.cost_center == NO_COST_CENTER)
            .unwrap();
        let lines = rows(bucket);
        assert_eq!(lines[0][1], "999999999999");
        assert_eq!(lines[0][2], "", "name unknown");
        assert_eq!(lines[0][7], "role");
    }
}
