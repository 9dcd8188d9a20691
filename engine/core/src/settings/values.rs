//! Checks of single values: durations, schedules, identifiers, e-mails, secret references.
//!
//! Every check returns `Err(expected)`: a phrase that completes "expected ...", so that
//! the caller can say where and what was found.

use std::time::Duration;

/// Parses `30s`, `90m`, `2h`, `7d` or `2w` into a [`Duration`].
///
/// A bare number is refused on purpose: `3600` could be seconds or minutes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "a duration such as `30s`, `90m`, `2h`, `7d` or `2w`";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| EXPECTED.to_owned())?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    let count: u64 = digits.parse().map_err(|_| EXPECTED.to_owned())?;
    let factor: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(EXPECTED.to_owned()),
    };
    count
        .checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{EXPECTED} (this one overflows)"))
}

/// Writes a [`Duration`] back in the largest unit that divides it exactly.
pub fn format_duration(duration: &Duration) -> String {
    let seconds = duration.as_secs();
    for (factor, unit) in [(604_800, "w"), (86_400, "d"), (3_600, "h"), (60, "m")] {
        if seconds != 0 && seconds.is_multiple_of(factor) {
            return format!("{}{unit}", seconds / factor);
        }
    }
    format!("{seconds}s")
}

/// An environment identifier: a letter, then letters, digits or `-` (64 at most).
pub fn check_environment(text: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&text.len())
        && text.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("an identifier of letters, digits and `-` that starts with a letter, e.g. `SpaProduction`".to_owned())
    }
}

/// A 12-digit AWS account id.
pub fn check_account_id(text: &str) -> Result<(), String> {
    crate::events::AccountId::parse(text)
        .map(|_| ())
        .ok_or_else(|| "a 12-digit AWS account id such as `123456789012`".to_owned())
}

/// An organizational unit id (`ou-xxxx-yyyyyyyy`) or the root id (`r-xxxx`).
pub fn check_ou_id(text: &str) -> Result<(), String> {
    const EXPECTED: &str =
        "an organizational unit id such as `ou-ab12-cd34ef56`, or a root id such as `r-ab12`";
    let ok = |rest: &str| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match (text.strip_prefix("ou-"), text.strip_prefix("r-")) {
        (Some(rest), _) | (_, Some(rest)) if ok(rest) => Ok(()),
        _ => Err(EXPECTED.to_owned()),
    }
}

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
pub fn check_region(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("an AWS region such as `eu-west-1`".to_owned())
    }
}

/// An IAM action (`service:Action`, globs in the action) or a service prefix.
pub fn check_iam_action(text: &str) -> Result<(), String> {
    let (service, action) = text.split_once(':').unwrap_or((text, "*"));
    let ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?');
    if ok {
        Ok(())
    } else {
        Err("a service such as `sagemaker`, or an action such as `bedrock:CreateProvisionedModelThroughput`".to_owned())
    }
}

/// An EC2 instance type or a glob of them (`p4d.24xlarge`, `p5.*`, `*.metal`).
pub fn check_instance_type(text: &str) -> Result<(), String> {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"*?-".contains(&b))
    };
    match text.split_once('.') {
        _ if text == "*" => Ok(()),
        Some((family, size)) if part(family) && part(size) => Ok(()),
        _ => Err(
            "an instance type such as `p4d.24xlarge`, a glob such as `p5.*`, or `*` for every type"
                .to_owned(),
        ),
    }
}

/// The ARN of an IAM role, e.g. `arn:aws:iam::123456789012:role/SpaManagement`.
pub fn check_role_arn(text: &str) -> Result<(), String> {
    const EXPECTED: &str = "an IAM role ARN such as `arn:aws:iam::123456789012:role/Name`";
    let fields: Vec<&str> = text.splitn(6, ':').collect();
    match fields.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && check_account_id(account).is_ok()
                && resource.strip_prefix("role/").is_some_and(|name| {
                    check_role_name(name.rsplit('/').next().unwrap_or_default()).is_ok()
                }) =>
        {
            Ok(())
        }
        _ => Err(EXPECTED.to_owned()),
    }
}

/// The name of an IAM role (1 to 64 characters of `[A-Za-z0-9+=,.@_-]`).
pub fn check_role_name(text: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("an IAM role name (1 to 64 of `A-Za-z0-9+=,.@_-`)".to_owned())
    }
}

/// An e-mail address `local@domain.tld` (the common subset of RFC 5321, no display name).
pub fn check_email(text: &str) -> Result<(), String> {
    const EXPECTED: &str = "an e-mail address";
    let Some((local, domain)) = text.split_once('@') else {
        return Err(EXPECTED.to_owned());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(EXPECTED.to_owned())
    }
}

/// A three-letter ISO 4217 currency code such as `EUR`.
pub fn check_currency(text: &str) -> Result<(), String> {
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err("a three-letter currency code such as `EUR`".to_owned())
    }
}

/// An S3 bucket name (3 to 63 of lowercase letters, digits, `.` and `-`).
pub fn check_bucket(text: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("an S3 bucket name (3 to 63 of `a-z0-9.-`)".to_owned())
    }
}

/// The name of an Athena workgroup, database or table: 1 to 128 of `A-Za-z0-9_-`
/// (spa quotes it in its SQL; anything else could change the query).
pub fn check_athena_name(text: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("an Athena name (1 to 128 of `A-Za-z0-9_-`)".to_owned())
    }
}

/// An S3 location: `s3://bucket/` or `s3://bucket/prefix/`.
pub fn check_s3_url(text: &str) -> Result<(), String> {
    const EXPECTED: &str = "an S3 location `s3://bucket/prefix/`";
    let Some(rest) = text.strip_prefix("s3://") else {
        return Err(EXPECTED.to_owned());
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let key_ok = key
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    if check_bucket(bucket).is_ok() && key_ok && !key.starts_with('/') && !key.contains("//") {
        Ok(())
    } else {
        Err(EXPECTED.to_owned())
    }
}

/// A reference to a secret: `ssm:/path/to/parameter` or `secretsmanager:name-or-arn`.
pub fn check_secret_ref(text: &str) -> Result<(), String> {
    const EXPECTED: &str = "a secret reference `ssm:/path/to/parameter` or `secretsmanager:name`";
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-:".contains(&b))
    };
    let ok = match (
        text.strip_prefix("ssm:"),
        text.strip_prefix("secretsmanager:"),
    ) {
        (Some(path), _) => path.starts_with('/') && name_ok(path),
        (_, Some(name)) => name_ok(name),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(EXPECTED.to_owned())
}

/// Returns what kind of secret a literal looks like, if it looks like one.
pub fn looks_like_secret(text: &str) -> Option<&'static str> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.contains("hooks.slack.com/") {
        return Some("a Slack webhook URL");
    }
    if lower.starts_with("https://")
        && (lower.contains(".webhook.office.com") || lower.contains(".logic.azure.com"))
    {
        return Some("a Microsoft Teams webhook URL");
    }
    for prefix in ["xoxb-", "xoxp-", "xoxa-", "xoxe-", "xoxs-", "xapp-"] {
        if lower.starts_with(prefix) {
            return Some("a Slack token");
        }
    }
    let bytes = text.trim().as_bytes();
    if bytes.len() == 20
        && (bytes.starts_with(b"AKIA") || bytes.starts_with(b"ASIA"))
        && bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some("an AWS access key id");
    }
    None
}

/// The longest a purge may be snoozed, and noticed ahead: two weeks (a purge put off
/// longer is an exception to ask an operator for, not a button).
pub const MAX_SNOOZE: std::time::Duration = std::time::Duration::from_secs(14 * 86_400);

/// `purge_notice.before`: a duration above zero, at most [`MAX_SNOOZE`].
pub fn check_notice_before(text: &str) -> Result<(), String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("a duration above zero, e.g. `1d`".to_owned()),
        d if d > MAX_SNOOZE => Err("a duration of at most 14d".to_owned()),
        _ => Ok(()),
    }
}

/// `purge_notice.snooze`: a duration of at most [`MAX_SNOOZE`] (`0d`: no snooze).
pub fn check_snooze(text: &str) -> Result<(), String> {
    match parse_duration(text)? {
        d if d > MAX_SNOOZE => Err("a snooze of at most 14d, e.g. `3d`".to_owned()),
        _ => Ok(()),
    }
}

/// An EventBridge schedule expression: `cron(m h dom mon dow y)` or `rate(n unit)`.
pub fn check_schedule(text: &str) -> Result<(), String> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
        return check_cron(inner);
    }
    if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
        return check_rate(inner);
    }
    Err("an EventBridge schedule such as `cron(0 18 ? * SAT *)` or `rate(1 day)`".to_owned())
}

fn check_rate(inner: &str) -> Result<(), String> {
    const EXPECTED: &str = "`rate(VALUE UNIT)` with a positive VALUE and UNIT `minute(s)`, `hour(s)` or `day(s)`, e.g. `rate(5 minutes)`";
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [value, unit] = parts.as_slice() else {
        return Err(EXPECTED.to_owned());
    };
    let value: u64 = value.parse().map_err(|_| EXPECTED.to_owned())?;
    match (value, *unit) {
        (0, _) => Err(EXPECTED.to_owned()),
        (1, "minute" | "hour" | "day") => Ok(()),
        (1, "minutes" | "hours" | "days") => Err(format!(
            "`rate(1 {})`: with 1, the unit is singular",
            unit.trim_end_matches('s')
        )),
        (_, "minutes" | "hours" | "days") => Ok(()),
        (_, "minute" | "hour" | "day") => Err(format!(
            "`rate({value} {unit}s)`: above 1, the unit is plural"
        )),
        _ => Err(EXPECTED.to_owned()),
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

fn check_cron(inner: &str) -> Result<(), String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "a cron expression with 6 fields (minutes hours day-of-month month day-of-week year), e.g. `cron(0 18 ? * SAT *)`; found {} field(s)",
            fields.len()
        ));
    }
    let specs = [
        Field {
            name: "minutes",
            min: 0,
            max: 59,
            names: &[],
        },
        Field {
            name: "hours",
            min: 0,
            max: 23,
            names: &[],
        },
        Field {
            name: "day-of-month",
            min: 1,
            max: 31,
            names: &[],
        },
        Field {
            name: "month",
            min: 1,
            max: 12,
            names: &MONTHS,
        },
        Field {
            name: "day-of-week",
            min: 1,
            max: 7,
            names: &DAYS,
        },
        Field {
            name: "year",
            min: 1970,
            max: 2199,
            names: &[],
        },
    ];
    for (index, (field, spec)) in fields.iter().zip(specs.iter()).enumerate() {
        check_cron_field(index, field, spec)
            .map_err(|why| format!("a valid cron {} field: {why}", spec.name))?;
    }
    let (dom, dow) = (fields[2], fields[4]);
    match (dom == "?", dow == "?") {
        (true, true) => Err("a cron expression with `?` in only one of day-of-month and day-of-week".to_owned()),
        (false, false) => Err("a cron expression with `?` in day-of-month or in day-of-week (EventBridge needs one of them), e.g. `cron(0 18 ? * SAT *)`".to_owned()),
        _ => Ok(()),
    }
}

fn check_cron_field(index: usize, field: &str, spec: &Field) -> Result<(), String> {
    let is_dom = index == 2;
    let is_dow = index == 4;
    if field == "?" {
        return if is_dom || is_dow {
            Ok(())
        } else {
            Err("`?` is allowed only in day-of-month and day-of-week".to_owned())
        };
    }
    if is_dow && field.contains('#') {
        let (day, nth) = field.split_once('#').unwrap_or_default();
        value(day, spec)?;
        return match nth.parse::<u32>() {
            Ok(1..=5) => Ok(()),
            _ => Err(format!("`{field}`: the number after `#` is 1 to 5")),
        };
    }
    for item in field.split(',') {
        if item.is_empty() {
            return Err(format!("`{field}` has an empty list item"));
        }
        if is_dom && (item == "L" || item == "LW") {
            continue;
        }
        if is_dom && let Some(day) = item.strip_suffix('W') {
            value(day, spec)?;
            continue;
        }
        if is_dow && item == "L" {
            continue;
        }
        if is_dow && let Some(day) = item.strip_suffix('L') {
            value(day, spec)?;
            continue;
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(s) if s >= 1 && s <= spec.max => {}
                _ => {
                    return Err(format!(
                        "`{item}`: the increment after `/` is 1 to {}",
                        spec.max
                    ));
                }
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((low, high)) => {
                value(low, spec)?;
                value(high, spec)?;
            }
            None => {
                value(range, spec)?;
            }
        }
    }
    Ok(())
}

fn value(text: &str, spec: &Field) -> Result<u32, String> {
    if let Some(position) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(spec.min + position as u32);
    }
    match text.parse::<u32>() {
        Ok(v) if (spec.min..=spec.max).contains(&v) => Ok(v),
        _ => {
            let names = if spec.names.is_empty() {
                String::new()
            } else {
                format!(" or {}-{}", spec.names[0], spec.names[spec.names.len() - 1])
            };
            Err(format!("`{text}` is not {}-{}{names}", spec.min, spec.max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        for bad in [
            "",
            "2",
            "h",
            "2 hours",
            "-1h",
            "1.5h",
            "2y",
            "99999999999999999999d",
            "18446744073709551615w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(&Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(&Duration::from_secs(31_622_400)), "366d");
        assert_eq!(format_duration(&Duration::from_secs(61)), "61s");
        assert_eq!(format_duration(&Duration::ZERO), "0s");
    }

    #[test]
    fn schedules() {
        for good in [
            "cron(0 18 ? * SAT *)",
            "cron(0 10 * * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(0/5 8-17 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(0 0 L * ? *)",
            "cron(0 0 3W * ? *)",
            "cron(0 0 ? * 3#2 *)",
            "cron(0 0 ? * 6L 2025-2030)",
            "cron(15 12 ? JAN,FEB * *)",
            "rate(1 day)",
            "rate(5 minutes)",
        ] {
            assert_eq!(check_schedule(good), Ok(()), "{good}");
        }
        for bad in [
            "0 18 * * 6",
            "cron(0 18 * * 6)",
            "cron(0 18 * * SAT *)",
            "cron(0 18 ? * ? *)",
            "cron(60 18 ? * SAT *)",
            "cron(0 24 ? * SAT *)",
            "cron(0 18 ? * SUX *)",
            "cron(0 18 ? 13 SAT *)",
            "cron(0 18 ? * SAT 1969)",
            "cron(0/0 18 ? * SAT *)",
            "cron(0 18 ? * 3#9 *)",
            "cron(? 18 1 * ? *)",
            "rate(0 days)",
            "rate(1 days)",
            "rate(2 day)",
            "rate(2 weeks)",
            "rate(days)",
        ] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(check_account_id("123456789012").is_ok());
        assert!(check_account_id("12345678901").is_err());
        assert!(check_account_id("12345678901a").is_err());
        assert!(check_ou_id("ou-ab12-cd34ef56").is_ok());
        assert!(check_ou_id("r-ab12").is_ok());
        assert!(check_ou_id("ou-").is_err());
        assert!(check_ou_id("OU-1234").is_err());
        assert!(check_region("eu-west-1").is_ok());
        assert!(check_region("us-gov-west-1").is_ok());
        assert!(check_region("europe").is_err());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/SpaManagement").is_ok());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/path/SpaManagement").is_ok());
        assert!(check_role_arn("arn:aws:iam::1234:role/X").is_err());
        assert!(check_role_arn("SpaManagement").is_err());
        assert!(check_role_name("AWSControlTowerExecution").is_ok());
        assert!(check_role_name("bad name").is_err());
        assert!(check_bucket("my-reports.bucket").is_ok());
        assert!(check_bucket("My_Bucket").is_err());
        assert!(check_currency("EUR").is_ok());
        assert!(check_currency("eur").is_err());
    }

    #[test]
    fn emails() {
        for good in [
            "alice@example.com",
            "john.foo+spa@sub.example.co.uk",
            "finops_alerts@example.com",
        ] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in [
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "bob@@example.com",
            "bob smith@example.com",
            "a..b@example.com",
            "bob@-x.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets() {
        assert!(check_secret_ref("ssm:/spa/slack-webhook").is_ok());
        assert!(check_secret_ref("secretsmanager:spa/teams-webhook").is_ok());
        assert!(
            check_secret_ref(
                "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"
            )
            .is_ok()
        );
        assert!(check_secret_ref("ssm:spa").is_err());
        assert!(check_secret_ref("https://hooks.slack.com/services/T/B/X").is_err());
        assert!(looks_like_secret("https://hooks.slack.com/services/T0/B0/abc").is_some());
        assert!(looks_like_secret("https://acme.webhook.office.com/webhookb2/892ca8xf").is_some());
        assert!(
            looks_like_secret("https://prod-12.westeurope.logic.azure.com/workflows/abc").is_some()
        );
        assert!(looks_like_secret("xoxb-1234-abcd").is_some());
        assert!(looks_like_secret("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(looks_like_secret("ssm:/spa/slack").is_none());
        assert!(looks_like_secret("https://example.com").is_none());
    }
}
