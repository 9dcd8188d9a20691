//! When an EventBridge schedule fires next: the maintenance window's `cron()`, so that
//! the pre-purge notice knows when the next purge is.
//!
//! Hand-written (ARCHITECTURE.md, *Dependencies and why*): the cron crates on
//! crates.io read the 5-field Unix or the 6/7-field Quartz syntax with seconds; none
//! reads AWS's six fields (minutes hours day-of-month month day-of-week year, `?`,
//! `L`, `W`, `#`, `SUN`=1) without a rewrite that would itself need the tests below.
//! Evaluated in UTC, as EventBridge rules are. `rate()` schedules fire from when they
//! were created, which spa does not know: they give no next instant (`None`).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// How far ahead a firing is looked for (a `cron()` whose years are all past, or a
/// 31st of February, fires never).
const HORIZON_DAYS: i64 = 5 * 366;

/// A schedule expression that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule `{expression}`: {why}")]
pub struct ScheduleError {
    /// The expression (at most 80 characters of it).
    pub expression: String,
    /// What is wrong.
    pub why: String,
}

/// A set of allowed values of one field, as a bit set (0 to 63; years as offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bits(u64);

impl Bits {
    fn has(self, value: u32) -> bool {
        value < 64 && self.0 & (1 << value) != 0
    }
    fn set(&mut self, value: u32) {
        if value < 64 {
            self.0 |= 1 << value;
        }
    }
}

/// How a day is chosen in the day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Days(Bits),
    Last,
    LastWeekday,
    /// The weekday nearest to this day, within the month.
    NearestWeekday(u32),
}

/// How a day is chosen in the day-of-week field (1 = Sunday, as AWS counts).
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    Days(Bits),
    /// The last such weekday of the month (`6L`).
    Last(u32),
    /// The n-th such weekday of the month (`3#2`).
    Nth(u32, u32),
}

/// A parsed `cron()` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Bits,
    hours: Bits,
    dom: DayOfMonth,
    months: Bits,
    dow: DayOfWeek,
    /// Years from 1970, as a list of ranges (a bit set would not hold 230 years).
    years: Vec<(u32, u32, u32)>,
}

/// An EventBridge schedule: `cron(...)` or `rate(...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A `cron()` expression, evaluated in UTC.
    Cron(Box<Cron>),
    /// A `rate()` expression: its phase is not known.
    Rate(std::time::Duration),
}

impl Schedule {
    /// Reads `cron(m h dom mon dow y)` or `rate(n unit)`.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        let error = |why: String| ScheduleError {
            expression: text.chars().take(80).collect(),
            why,
        };
        if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            return parse_cron(inner)
                .map(|c| Schedule::Cron(Box::new(c)))
                .map_err(error);
        }
        if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
            let parts: Vec<&str> = inner.split_whitespace().collect();
            let [value, unit] = parts.as_slice() else {
                return Err(error("expected `rate(VALUE UNIT)`".into()));
            };
            let value: u64 = value
                .parse()
                .map_err(|_| error("the rate's value is not a number".into()))?;
            let seconds = match unit.trim_end_matches('s') {
                "minute" => 60,
                "hour" => 3600,
                "day" => 86_400,
                _ => {
                    return Err(error(
                        "the rate's unit is minute(s), hour(s) or day(s)".into(),
                    ));
                }
            };
            return Ok(Schedule::Rate(std::time::Duration::from_secs(
                value.saturating_mul(seconds),
            )));
        }
        Err(error("expected `cron(...)` or `rate(...)`".into()))
    }

    /// The first firing strictly after `after` (`None`: a `rate()`, or no firing in
    /// the next five years).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron.next_after(after),
            Schedule::Rate(_) => None,
        }
    }
}

impl Cron {
    /// The first firing strictly after `after`, to the minute.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // the next whole minute
        let start = after
            .with_second(0)?
            .with_nanosecond(0)?
            .checked_add_signed(Duration::minutes(1))?;
        let first_day = start.date_naive();
        for offset in 0..HORIZON_DAYS {
            let day = first_day.checked_add_signed(Duration::days(offset))?;
            if !self.day_matches(day) {
                continue;
            }
            let from = if offset == 0 {
                (start.hour(), start.minute())
            } else {
                (0, 0)
            };
            if let Some((hour, minute)) = self.first_time(from) {
                let naive = day.and_hms_opt(hour, minute, 0)?;
                return Some(Utc.from_utc_datetime(&naive));
            }
        }
        None
    }

    fn first_time(&self, (from_hour, from_minute): (u32, u32)) -> Option<(u32, u32)> {
        for hour in from_hour..24 {
            if !self.hours.has(hour) {
                continue;
            }
            let first = if hour == from_hour { from_minute } else { 0 };
            if let Some(minute) = (first..60).find(|m| self.minutes.has(*m)) {
                return Some((hour, minute));
            }
        }
        None
    }

    fn day_matches(&self, day: NaiveDate) -> bool {
        let year = u32::try_from(day.year()).unwrap_or(0);
        let year_ok = self
            .years
            .iter()
            .any(|(low, high, step)| year >= *low && year <= *high && (year - low) % step == 0);
        if !year_ok || !self.months.has(day.month()) {
            return false;
        }
        let last = last_day(day);
        let dom_ok = match &self.dom {
            DayOfMonth::Any => true,
            DayOfMonth::Days(bits) => bits.has(day.day()),
            DayOfMonth::Last => day.day() == last,
            DayOfMonth::LastWeekday => nearest_weekday(day, last) == day.day(),
            DayOfMonth::NearestWeekday(n) => *n <= last && nearest_weekday(day, *n) == day.day(),
        };
        // AWS: 1 = Sunday
        let weekday = day.weekday().number_from_sunday();
        let dow_ok = match &self.dow {
            DayOfWeek::Any => true,
            DayOfWeek::Days(bits) => bits.has(weekday),
            DayOfWeek::Last(d) => *d == weekday && day.day() + 7 > last,
            DayOfWeek::Nth(d, n) => *d == weekday && (day.day() - 1) / 7 + 1 == *n,
        };
        dom_ok && dow_ok
    }
}

fn last_day(day: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(day.year(), day.month(), *d).is_some())
        .unwrap_or(28)
}

/// The weekday (Monday to Friday) nearest to day `n` of `day`'s month, never leaving
/// the month.
fn nearest_weekday(day: NaiveDate, n: u32) -> u32 {
    let Some(target) = NaiveDate::from_ymd_opt(day.year(), day.month(), n) else {
        return 0;
    };
    let last = last_day(day);
    match target.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    }
}

fn value(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let found = names
        .iter()
        .position(|n| *n == upper)
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + min)
        .or_else(|| text.parse::<u32>().ok());
    match found {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not in {min}-{max}")),
    }
}

/// `*`, `a`, `a-b`, each with an optional `/step`, in a list.
fn ranges(field: &str, min: u32, max: u32, names: &[&str]) -> Result<Vec<(u32, u32, u32)>, String> {
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| format!("`{item}`: a step of at least 1"))?,
            ),
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((low, high)) => (value(low, min, max, names)?, value(high, min, max, names)?),
                // `5/10`: from 5 to the end, every 10
                None if step > 1 => (value(range, min, max, names)?, max),
                None => {
                    let v = value(range, min, max, names)?;
                    (v, v)
                }
            },
        };
        if low > high {
            return Err(format!("`{item}`: the range goes backwards"));
        }
        out.push((low, high, step));
    }
    Ok(out)
}

fn bits(field: &str, min: u32, max: u32, names: &[&str]) -> Result<Bits, String> {
    let mut bits = Bits::default();
    for (low, high, step) in ranges(field, min, max, names)? {
        let mut v = low;
        while v <= high {
            bits.set(v);
            v = v.saturating_add(step);
        }
    }
    Ok(bits)
}

fn parse_cron(inner: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [minutes, hours, dom, months, dow, years] = fields.as_slice() else {
        return Err(format!(
            "6 fields (minutes hours day-of-month month day-of-week year), found {}",
            fields.len()
        ));
    };
    let dom = match *dom {
        "?" | "*" => DayOfMonth::Any,
        "L" => DayOfMonth::Last,
        "LW" => DayOfMonth::LastWeekday,
        d if d.ends_with('W') => {
            DayOfMonth::NearestWeekday(value(d.trim_end_matches('W'), 1, 31, &[])?)
        }
        d => DayOfMonth::Days(bits(d, 1, 31, &[])?),
    };
    let dow = match *dow {
        "?" | "*" => DayOfWeek::Any,
        "L" => DayOfWeek::Last(7),
        d if d.contains('#') => {
            let (day, nth) = d.split_once('#').unwrap_or_default();
            let nth = nth
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| format!("`{d}`: the number after `#` is 1 to 5"))?;
            DayOfWeek::Nth(value(day, 1, 7, &DAYS)?, nth)
        }
        d if d.len() > 1 && d.ends_with('L') => {
            DayOfWeek::Last(value(d.trim_end_matches('L'), 1, 7, &DAYS)?)
        }
        d => DayOfWeek::Days(bits(d, 1, 7, &DAYS)?),
    };
    Ok(Cron {
        minutes: bits(minutes, 0, 59, &[])?,
        hours: bits(hours, 0, 23, &[])?,
        dom,
        months: bits(months, 1, 12, &MONTHS)?,
        dow,
        years: ranges(years, 1970, 2199, &[])?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn next(expression: &str, after: &str) -> Option<String> {
        Schedule::parse(expression)
            .unwrap()
            .next_after(at(after))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ %a").to_string())
    }

    #[test]
    fn the_shipped_weekly_window_fires_on_saturdays_at_six_pm() {
        // 2026-12-06 is a Sunday
        let w = "cron(0 18 ? * SAT *)";
        assert_eq!(
            next(w, "2026-12-06T10:00:00Z").as_deref(),
            Some("2026-12-12T18:00:00Z Sat")
        );
        // strictly after: a window at 18:00 sharp is the next one
        assert_eq!(
            next(w, "2026-12-12T18:00:00Z").as_deref(),
            Some("2026-12-19T18:00:00Z Sat")
        );
        assert_eq!(
            next(w, "2026-12-12T17:59:30Z").as_deref(),
            Some("2026-12-12T18:00:00Z Sat")
        );
        // across a year
        assert_eq!(
            next(w, "2026-12-27T00:00:00Z").as_deref(),
            Some("2027-01-02T18:00:00Z Sat")
        );
    }

    #[test]
    fn aws_syntax_is_evaluated() {
        let cases = [
            (
                "cron(0 10 * * ? *)",
                "2026-12-06T10:00:00Z",
                "2026-12-07T10:00:00Z Mon",
            ),
            (
                "cron(0/15 * * * ? *)",
                "2026-12-06T10:07:00Z",
                "2026-12-06T10:15:00Z Sun",
            ),
            (
                "cron(0/5 8-17 ? * MON-FRI *)",
                "2026-12-05T17:58:00Z",
                "2026-12-07T08:00:00Z Mon",
            ),
            (
                "cron(0 8 1 * ? *)",
                "2026-12-06T00:00:00Z",
                "2027-01-01T08:00:00Z Fri",
            ),
            (
                "cron(0 0 L * ? *)",
                "2027-02-01T00:00:00Z",
                "2027-02-28T00:00:00Z Sun",
            ),
            (
                "cron(0 0 L * ? *)",
                "2028-02-01T00:00:00Z",
                "2028-02-29T00:00:00Z Tue",
            ),
            // 2027-01-03 is a Sunday: the nearest weekday is Monday the 4th
            (
                "cron(0 0 3W * ? *)",
                "2026-12-31T00:00:00Z",
                "2027-01-04T00:00:00Z Mon",
            ),
            // 2027-05-01 is a Saturday: 1W stays in the month, Monday the 3rd
            (
                "cron(0 0 1W * ? *)",
                "2027-04-30T00:00:00Z",
                "2027-05-03T00:00:00Z Mon",
            ),
            // 2027-01-31 is a Sunday: LW is Friday the 29th
            (
                "cron(0 0 LW * ? *)",
                "2027-01-02T00:00:00Z",
                "2027-01-29T00:00:00Z Fri",
            ),
            // second Tuesday (3 = TUE)
            (
                "cron(0 0 ? * 3#2 *)",
                "2026-12-06T00:00:00Z",
                "2026-12-08T00:00:00Z Tue",
            ),
            (
                "cron(0 0 ? * 3#2 *)",
                "2026-12-09T00:00:00Z",
                "2027-01-12T00:00:00Z Tue",
            ),
            // last Friday
            (
                "cron(30 12 ? * 6L *)",
                "2026-12-06T00:00:00Z",
                "2026-12-25T12:30:00Z Fri",
            ),
            (
                "cron(0 9 ? JAN,JUL MON 2027-2028)",
                "2026-12-06T00:00:00Z",
                "2027-01-04T09:00:00Z Mon",
            ),
            (
                "cron(0 9 15 * ? 2026/2)",
                "2026-12-16T00:00:00Z",
                "2028-01-15T09:00:00Z Sat",
            ),
        ];
        for (expression, after, expected) in cases {
            assert_eq!(
                next(expression, after).as_deref(),
                Some(expected),
                "{expression}"
            );
        }
    }

    #[test]
    fn schedules_that_never_fire_and_rates_give_no_instant() {
        assert_eq!(next("cron(0 0 30 FEB ? *)", "2026-01-01T00:00:00Z"), None);
        assert_eq!(next("cron(0 0 * * ? 2020)", "2026-01-01T00:00:00Z"), None);
        assert_eq!(next("rate(7 days)", "2026-01-01T00:00:00Z"), None);
    }

    #[test]
    fn every_schedule_the_settings_accept_is_evaluated() {
        for expression in [
            "cron(0 18 ? * SAT *)",
            "cron(0 10 * * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(0/5 8-17 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0 0 L * ? *)",
            "cron(0 0 3W * ? *)",
            "cron(0 0 ? * 3#2 *)",
            "cron(15 10 ? * 6L 2026-2030)",
            "cron(0 12 ? jan,feb mon *)",
            "rate(1 day)",
            "rate(5 minutes)",
        ] {
            assert!(
                crate::settings::values::check_schedule(expression).is_ok(),
                "{expression}"
            );
            assert!(Schedule::parse(expression).is_ok(), "{expression}");
        }
        for bad in [
            "cron(0 18 ? * SAT)",
            "cron(61 * * * ? *)",
            "weekly",
            "cron(0 0 ? * 9#1 *)",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
