//! The spend guard: what runs in a member account and what it costs an hour, from
//! the calls that start and end spending ([`crate::events::SpendingCall`]), priced
//! from a price book; thresholds on that burn and its projection to the month's end.
//!
//! Pure: the ledger of an account is data ([`Entry`]), [`apply`] says which entries a
//! call changes, [`Burn::of`] prices what is alive at an instant, [`crossed`] says
//! which thresholds of the settings the burn crosses. Budgets and Cost Explorer
//! refresh a few times a day; this reacts to the call that starts the spending.

pub mod price_list;
mod prices;
pub mod stop;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{Amount, SpendingCall};
pub use crate::events::{Kind, Resource};
use crate::settings::{SpendAction, SpendGuard, SpendMeasure, SpendThreshold};

pub use prices::{Basis, PriceBook, PriceSheet, Priced};

/// One resource of an account's ledger: alive, or ended at `ended` (kept a week, so
/// that a late call does not bring it back, and a restart knows its type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub resource: Resource,
    /// When it was stopped or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<DateTime<Utc>>,
    /// The instant of the last call that changed it: a call older than this changes
    /// nothing (EventBridge does not keep order).
    pub changed: DateTime<Utc>,
}

impl Entry {
    /// Whether it runs at `at`.
    pub fn alive(&self, at: DateTime<Utc>) -> bool {
        self.ended.is_none() && self.resource.until.is_none_or(|until| until > at)
    }
}

/// The entries a call changes, given the ledger as it is: what the store writes.
/// A call older than an entry's last change leaves that entry alone.
pub fn apply(ledger: &[Entry], call: &SpendingCall) -> Vec<Entry> {
    let mut changed = Vec::new();
    if call.failed.is_some() {
        return changed;
    }
    let known = |id: &str| ledger.iter().find(|e| e.resource.id == id);
    for started in &call.started {
        let mut resource = started.clone();
        match known(&resource.id) {
            Some(entry) if entry.changed >= call.at => continue,
            Some(entry) if resource.type_name.is_empty() => {
                // started again: the type and size are those it was started with
                resource.type_name.clone_from(&entry.resource.type_name);
                resource.count = entry.resource.count;
            }
            _ => {}
        }
        changed.push(Entry {
            resource,
            ended: None,
            changed: call.at,
        });
    }
    for id in &call.ended {
        match known(id) {
            Some(entry) if entry.changed >= call.at => {}
            Some(entry) => changed.push(Entry {
                ended: Some(call.at),
                changed: call.at,
                ..entry.clone()
            }),
            // ended before spa saw it start (or before the guard was on): remembered,
            // so that its late start does not count
            None => changed.push(Entry {
                resource: Resource {
                    kind: kind_of_end(&call.name),
                    id: id.clone(),
                    type_name: String::new(),
                    region: call.region.clone(),
                    count: 1,
                    since: call.at,
                    until: None,
                },
                ended: Some(call.at),
                changed: call.at,
            }),
        }
    }
    changed
}

fn kind_of_end(name: &str) -> Kind {
    match name {
        "DeleteNatGateway" => Kind::NatGateway,
        "StopDBInstance" | "DeleteDBInstance" => Kind::DbInstance,
        "StopTrainingJob" => Kind::TrainingJob,
        "DeleteNodegroup" => Kind::Nodegroup,
        "DeleteProvisionedModelThroughput" => Kind::ProvisionedThroughput,
        _ => Kind::Ec2Instance,
    }
}

/// How long an ended entry is kept.
pub const KEEP_ENDED: TimeDelta = TimeDelta::days(7);

/// One priced line of a burn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub resource: Resource,
    /// The price of one, an hour, and how it was found.
    pub price: Priced,
    /// `price` × `count`.
    pub per_hour: Amount,
}

/// What an account's running resources cost an hour, in US dollars (the price
/// book's currency), at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burn {
    pub at: DateTime<Utc>,
    /// The resources alive, most expensive first.
    pub lines: Vec<Line>,
    pub per_hour: Amount,
}

impl Burn {
    /// Prices what is alive in `ledger` at `at`.
    pub fn of(ledger: &[Entry], book: &PriceBook, at: DateTime<Utc>) -> Burn {
        let mut lines: Vec<Line> = ledger
            .iter()
            .filter(|e| e.alive(at))
            .map(|e| {
                let price = book.price(e.resource.kind, &e.resource.region, &e.resource.type_name);
                let per_hour = Amount::from_micros(
                    price
                        .per_hour
                        .micros()
                        .saturating_mul(i64::from(e.resource.count)),
                );
                Line {
                    resource: e.resource.clone(),
                    price,
                    per_hour,
                }
            })
            .collect();
        lines.sort_by(|a, b| {
            b.per_hour
                .cmp(&a.per_hour)
                .then_with(|| a.resource.id.cmp(&b.resource.id))
        });
        let per_hour = Amount::from_micros(
            lines
                .iter()
                .fold(0i64, |sum, line| sum.saturating_add(line.per_hour.micros())),
        );
        Burn {
            at,
            lines,
            per_hour,
        }
    }

    /// What the resources alive cost from now to the end of the month (UTC), at
    /// this burn: the projection spa adds to what the month cost already.
    pub fn to_month_end(&self) -> Amount {
        self.until(month_end(self.at))
    }

    /// What the resources alive cost from now until `end`, at this burn (nothing
    /// when `end` has passed).
    pub fn until(&self, end: DateTime<Utc>) -> Amount {
        let seconds = end.signed_duration_since(self.at).num_seconds().max(0);
        // micros an hour × seconds / 3600, without overflow for any sane burn
        let micros = i128::from(self.per_hour.micros()) * i128::from(seconds) / 3600;
        Amount::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// The first instant of the next month (UTC).
fn month_end(at: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if at.month() == 12 {
        (at.year().saturating_add(1), 1)
    } else {
        (at.year(), at.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(at, |next| next.and_utc())
}

/// A threshold of the settings that the burn crossed, and its figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossed {
    pub threshold: SpendThreshold,
    /// What was measured: the hourly burn, or the month-end projection.
    pub measured: Amount,
}

impl Crossed {
    /// `hourly burn 131.1 USD over 100 USD` / `projected month 94,000 USD over 3,000 USD`.
    pub fn describe(&self) -> String {
        let (what, limit) = self.threshold.measure();
        format!("{what} {} USD is over {limit} USD", self.measured)
    }

    /// Whether its actions include `action`.
    pub fn does(&self, action: SpendAction) -> bool {
        self.threshold.actions.contains(&action)
    }
}

/// What the month cost so far, as Cost Explorer said on `day` (complete days before
/// it): the spend guard's reconciliation, kept in the store, asked again at most once
/// a day and account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actual {
    /// The day it was read (UTC); the figure counts the days of its month before it.
    pub day: NaiveDate,
    /// In US dollars.
    pub amount: Amount,
}

impl Actual {
    /// Whether it was read today (`at`'s UTC day).
    pub fn current(&self, at: DateTime<Utc>) -> bool {
        self.day == at.date_naive()
    }

    /// Whether it counts the month of `at`.
    pub fn of_month(&self, at: DateTime<Utc>) -> bool {
        self.day.year() == at.year() && self.day.month() == at.month()
    }
}

/// The first day of `at`'s month (UTC).
pub fn month_start(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
        .with_day(1)
        .unwrap_or_else(|| at.date_naive())
}

/// What a threshold is judged against besides the burn, when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// What the month cost already (Cost Explorer): added to the month's projection.
    pub month_to_date: Option<Amount>,
    /// When the holder's lease ends.
    pub lease_end: Option<DateTime<Utc>>,
}

/// The thresholds of `guard` that `burn` crosses, with what else is `known`.
pub fn crossed(guard: &SpendGuard, burn: &Burn, known: Known) -> Vec<Crossed> {
    let Known {
        month_to_date,
        lease_end,
    } = known;
    if !guard.enabled {
        return Vec::new();
    }
    let projected = Amount::from_micros(
        burn.to_month_end()
            .micros()
            .saturating_add(month_to_date.map_or(0, Amount::micros)),
    );
    guard
        .thresholds
        .iter()
        .filter_map(|threshold| {
            let measured = match (threshold.when, month_to_date) {
                (SpendMeasure::HourlyBurn, _) => burn.per_hour,
                (SpendMeasure::ProjectedMonth, _) => projected,
                (SpendMeasure::ActualMonth, Some(actual)) => actual,
                // not known: not judged (never taken for zero, never for a crossing)
                (SpendMeasure::ActualMonth, None) => return None,
                (SpendMeasure::ProjectedLease, _) => burn.until(lease_end?),
            };
            (measured.as_f64() > threshold.over).then(|| Crossed {
                threshold: threshold.clone(),
                measured,
            })
        })
        .collect()
}

/// The burn report: what runs, since when, what it costs, how it was priced; the
/// thresholds crossed first. No e-mail address in it (nothing of the holder).
pub fn report(burn: &Burn, crossed: &[Crossed], actual: Option<Actual>) -> String {
    report_with(burn, crossed, actual, None)
}

/// [`report`] with what a `stop` did ([`stop::report`]) after the thresholds crossed,
/// before what runs: an event keeps the first 1,000 characters of its reason.
pub fn report_with(
    burn: &Burn,
    crossed: &[Crossed],
    actual: Option<Actual>,
    stopped: Option<&str>,
) -> String {
    let mut text = String::new();
    for c in crossed {
        text.push_str(&c.describe());
        text.push_str(". ");
    }
    if let Some(stopped) = stopped {
        text.push_str(stopped);
        text.push(' ');
    }
    text.push_str(&format!(
        "Burn {} USD an hour, {} USD more by the end of the month.",
        burn.per_hour,
        burn.to_month_end()
    ));
    if let Some(actual) = actual {
        text.push_str(&format!(
            " Cost Explorer: {} USD this month before {}.",
            actual.amount, actual.day
        ));
    }
    const SHOWN: usize = 10;
    for line in burn.lines.iter().take(SHOWN) {
        let r = &line.resource;
        let what = if r.type_name.is_empty() {
            r.kind.as_str().to_owned()
        } else {
            format!("{} {}", r.kind, r.type_name)
        };
        text.push_str(&format!(
            " {} × {what} `{}` in {} since {}: {} USD an hour",
            r.count,
            r.id,
            r.region,
            r.since.format("%Y-%m-%d %H:%M UTC"),
            line.per_hour
        ));
        if let Some(note) = line.price.basis.note() {
            text.push_str(&format!(" ({note})"));
        }
        text.push('.');
    }
    if burn.lines.len() > SHOWN {
        text.push_str(&format!(" And {} more.", burn.lines.len() - SHOWN));
    }
    text
}
