//! EventBridge Scheduler input: `{"job": "...", "scheduled_time": "..."}`, handed to
//! the function as is (no EventBridge envelope). The `reports` job names its report:
//! `{"job": "reports", "report": "costs" | "inventory" | "activities", ...}`.

use std::fmt;

use chrono::{DateTime, Utc};

use super::error::DecodeError;
use super::json::{Node, excerpt};
use crate::vocabulary::EventId;

/// A run of a scheduled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// `schedule:<job>@<scheduled time>` (`schedule:reports/<report>@...` for a
    /// report): two deliveries of one run share it, two reports due at the same time
    /// do not.
    pub event_id: EventId,
    /// The job.
    pub job: Job,
    /// The report of a `reports` job (none for the other jobs).
    pub report: Option<Report>,
    /// The time the run was scheduled for (`<aws.scheduler.scheduled-time>`), not the
    /// time it was delivered: the period a run covers derives from it.
    pub scheduled_time: DateTime<Utc>,
}

/// The jobs run on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Expire assigned accounts (cron in settings).
    MaintenanceWindow,
    /// Turn overdue on-boarding and maintenance transactions into exceptions.
    Sweeper,
    /// Monthly and weekly reports.
    Reports,
    /// Daily cost digest to chat.
    Digest,
    /// Access-key age scan across managed accounts.
    AccessKeyScan,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::MaintenanceWindow,
        Job::Sweeper,
        Job::Reports,
        Job::Digest,
        Job::AccessKeyScan,
    ];

    /// The names, as written in the schedule's input.
    pub const NAMES: &'static [&'static str] = &[
        "maintenance-window",
        "sweeper",
        "reports",
        "digest",
        "access-key-scan",
    ];

    /// As written in the schedule's input.
    pub const fn as_str(self) -> &'static str {
        match self {
            Job::MaintenanceWindow => "maintenance-window",
            Job::Sweeper => "sweeper",
            Job::Reports => "reports",
            Job::Digest => "digest",
            Job::AccessKeyScan => "access-key-scan",
        }
    }

    /// The job named `s`, exactly.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reports a `reports` job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Report {
    /// Monthly cost reports (CSV, Excel) of the previous month, mailed to FinOps.
    Costs,
    /// The weekly inventory of accounts.
    Inventory,
    /// Monthly activities per cost center, of the previous month.
    Activities,
}

impl Report {
    /// Every report.
    pub const ALL: [Report; 3] = [Report::Costs, Report::Inventory, Report::Activities];

    /// The names, as written in the schedule's input and on the command line.
    pub const NAMES: &'static [&'static str] = &["costs", "inventory", "activities"];

    /// As written in the schedule's input.
    pub const fn as_str(self) -> &'static str {
        match self {
            Report::Costs => "costs",
            Report::Inventory => "inventory",
            Report::Activities => "activities",
        }
    }

    /// The report named `s`, exactly.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn decode(root: &Node<'_>) -> Result<ScheduledJob, DecodeError> {
    let job_node = root.req("job", "a job name")?;
    let name = job_node.as_str()?;
    let job = Job::parse(name).ok_or_else(|| DecodeError::UnknownJob {
        path: job_node.path().to_string(),
        found: excerpt(name),
        known: Job::NAMES,
    })?;
    let report = match job {
        Job::Reports => {
            let node = root.req("report", "a report name (costs, inventory, activities)")?;
            let name = node.as_str()?;
            Some(
                Report::parse(name).ok_or_else(|| DecodeError::UnknownReport {
                    path: node.path().to_string(),
                    found: excerpt(name),
                    known: Report::NAMES,
                })?,
            )
        }
        _ => None,
    };
    let scheduled_time = root.time("scheduled_time")?;
    let id = match report {
        Some(report) => format!("{}/{report}", job.as_str()),
        None => job.as_str().to_owned(),
    };
    Ok(ScheduledJob {
        event_id: EventId::schedule(&id, &scheduled_time),
        job,
        report,
        scheduled_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_variants() {
        assert_eq!(Job::ALL.len(), Job::NAMES.len());
        for (job, name) in Job::ALL.iter().zip(Job::NAMES) {
            assert_eq!(job.as_str(), *name);
            assert_eq!(Job::parse(name), Some(*job));
        }
        for (report, name) in Report::ALL.iter().zip(Report::NAMES) {
            assert_eq!(report.as_str(), *name);
            assert_eq!(Report::parse(name), Some(*report));
        }
    }
}
