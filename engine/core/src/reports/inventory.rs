//! The weekly inventory: one CSV line per account of the organization (and per
//! account that left it but is still remembered), for FinOps and the cost owners.
//!
//! Columns: cost center, cost owner, OU path, account, name, e-mail, state, holder,
//! since, last console login. Times are RFC 3339 UTC (`2026-11-16T08:30:00Z`); what
//! is not known is an empty cell. Lines are sorted by cost center (the
//! `NoCostCenter` bucket for accounts without the tag), OU path, account.
//!
//! The report is named after the ISO week it describes, never the run date:
//! `<prefix>/organization/<YYYY>/<YYYY>-W<ww>-organization-inventory.csv`, where
//! `YYYY` is the ISO week-based year (the Monday of week 1 may fall in December), so
//! that re-running a week overwrites its file and weeks sort as text.

use chrono::{DateTime, Datelike, IsoWeek, NaiveDate, SecondsFormat, Utc, Weekday};

use super::ReportError;
use super::model::ReportAccount;

/// The scope of the inventory in its key: the whole organization.
pub const INVENTORY_SCOPE: &str = "organization";

/// The header row of the inventory.
pub const INVENTORY_HEADER: [&str; 10] = [
    "cost center",
    "cost owner",
    "OU path",
    "account",
    "name",
    "e-mail",
    "state",
    "holder",
    "since",
    "last console login",
];

/// An ISO week, the period of an inventory: `2026-W47`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    monday: NaiveDate,
}

/// Why a week could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{found}` is not an ISO week: expected YYYY-Www, e.g. 2026-W47")]
pub struct WeekError {
    /// What was given (cut short).
    pub found: String,
}

impl Week {
    /// The ISO week of `day`.
    pub fn of(day: NaiveDate) -> Self {
        let week: IsoWeek = day.iso_week();
        Self {
            monday: NaiveDate::from_isoywd_opt(week.year(), week.week(), Weekday::Mon)
                .unwrap_or(day),
        }
    }

    /// Week `week` of ISO year `year`, if it exists (week 53 only in long years).
    pub fn new(year: i32, week: u32) -> Option<Self> {
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).map(|monday| Self { monday })
    }

    /// Its Monday.
    pub fn monday(self) -> NaiveDate {
        self.monday
    }

    /// The ISO week-based year (the year of the key).
    pub fn year(self) -> i32 {
        self.monday.iso_week().year()
    }

    /// The week number, 1 to 53.
    pub fn number(self) -> u32 {
        self.monday.iso_week().week()
    }
}

impl std::fmt::Display for Week {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-W{:02}", self.year(), self.number())
    }
}

impl std::str::FromStr for Week {
    type Err = WeekError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || WeekError {
            found: s.chars().take(20).collect(),
        };
        let (year, week) = s.split_once("-W").ok_or_else(error)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(error());
        }
        let year = year.parse::<i32>().map_err(|_| error())?;
        let week = week.parse::<u32>().map_err(|_| error())?;
        Self::new(year, week).ok_or_else(error)
    }
}

/// An instant as the reports write it: RFC 3339, UTC, to the second.
pub fn report_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The inventory CSV of `accounts` (any order: the lines are sorted here).
pub fn inventory_csv(accounts: &[ReportAccount]) -> Result<Vec<u8>, ReportError> {
    let mut sorted: Vec<&ReportAccount> = accounts.iter().collect();
    sorted.sort_by(|a, b| {
        a.cost_center_or_bucket()
            .cmp(b.cost_center_or_bucket())
            .then_with(|| a.ou_path.cmp(&b.ou_path))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(128 * (accounts.len() + 1)));
    writer
        .write_record(INVENTORY_HEADER)
        .map_err(|e| ReportError::csv(&e))?;
    for account in sorted {
        let since = account.since.map(report_time).unwrap_or_default();
        let login = account.last_login.map(report_time).unwrap_or_default();
        writer
            .write_record([
                account.cost_center_or_bucket(),
                account.cost_owner.as_deref().unwrap_or_default(),
                &account.ou_path,
                account.id.as_str(),
                &account.name,
                &account.email,
                account.state.as_deref().unwrap_or_default(),
                account.holder.as_deref().unwrap_or_default(),
                &since,
                &login,
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
    use crate::events::AccountId;

    fn account(id: &str, name: &str, cost_center: Option<&str>, ou: &str) -> ReportAccount {
        let mut account = ReportAccount::new(AccountId::parse(id).unwrap(), name);
        account.cost_center = cost_center.map(str::to_owned);
        account.ou_path = ou.into();
        account
    }

    fn rows(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::Reader::from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn lines_are_sorted_by_cost_center_ou_path_and_account_with_empty_unknowns() {
        let mut alice = account("222222222222", "alice", Some("IT-001"), "Root/Sandboxes");
        alice.email = "alice-root@example.com".into();
        alice.cost_owner = Some("Finance Team".into());
        alice.state = Some("assigned".into());
        alice.holder = Some("alice@example.com".into());
        alice.since = DateTime::parse_from_rfc3339("2026-11-02T09:30:00+01:00")
            .ok()
            .map(|t| t.with_timezone(&Utc));
        alice.last_login = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .ok()
            .map(|t| t.with_timezone(&Utc));
        let accounts = vec![
            account("333333333333", "bob", Some("IT-001"), "Root/Sandboxes"),
            account("444444444444", "orphan", None, "Root"),
            alice,
            account("111111111111", "carol", Some("IT-001"), "Root/Labs"),
        ];
        let csv = inventory_csv(&accounts).unwrap();
        let text = String::from_utf8(csv.clone()).unwrap();
        assert!(
            text.starts_with("cost center,cost owner,OU path,account,name,e-mail,state,holder,since,last console login\n"),
            "{text}"
        );
        let rows = rows(&csv);
        let order: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(
            order,
            [
                "111111111111",
                "222222222222",
                "333333333333",
                "444444444444"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "IT-001",
                "Finance Team",
                "Root/Sandboxes",
                "222222222222",
                "alice",
                "alice-root@example.com",
                "assigned",
                "alice@example.com",
                "2026-11-02T08:30:00Z",
                "2026-11-20T10:00:00Z"
            ]
        );
        assert_eq!(rows[3][0], "NoCostCenter");
        assert_eq!(&rows[3][5..], ["", "", "", "", ""], "unknowns are empty");
    }

    #[test]
    fn names_with_commas_and_quotes_stay_in_their_cell() {
        let accounts = vec![account(
            "111111111111",
            "R&D, \"lab\"",
            Some("IT-001"),
            "Root",
        )];
        let rows = rows(&inventory_csv(&accounts).unwrap());
        assert_eq!(rows[0][4], "R&D, \"lab\"");
    }

    #[test]
    fn an_empty_organization_is_a_header() {
        let text = String::from_utf8(inventory_csv(&[]).unwrap()).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn weeks_are_iso_weeks() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let week = Week::of(day);
        assert_eq!(week.to_string(), "2026-W47");
        assert_eq!(
            week.monday(),
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        );
        // the first days of January may belong to the last week of the year before
        let week = Week::of(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(week.to_string(), "2026-W53");
        assert_eq!(week.year(), 2026);
        assert_eq!("2026-W47".parse::<Week>().unwrap(), Week::of(day));
        for bad in ["2026-47", "2026-W7", "2025-W53", "2026-W00", "W47", ""] {
            let error = bad.parse::<Week>().unwrap_err();
            assert!(error.to_string().contains("expected YYYY-Www"), "{bad}");
        }
    }
}
