//! The pre-purge notice: what the dry run of a purge listed, summarized for the
//! holder (pure).
//!
//! The list is aws-nuke's output, written to the reports bucket by the purge
//! buildspec in dry-run mode. It comes from the member account: every resource name
//! in it may have been chosen by the holder to mislead (a name that reads like an
//! instruction, markup, a million lines). So it is read as untrusted text: at most
//! [`MAX_LIST_BYTES`] of it, lines of aws-nuke's shape only (`<region> - <type> -
//! <id> - [...] - would remove`), types and names cut to a few characters of a
//! plain alphabet, counts per type, a few names each. Whatever else is in the file is
//! counted as unread, never shown. Never panics.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::events::AccountId;

/// The most of a list read; the rest is counted, not read.
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;
/// Resource types shown; the rest are added up in one line.
pub const MAX_TYPES: usize = 30;
/// Names shown per type.
pub const MAX_NAMES: usize = 3;
const MAX_TYPE_CHARS: usize = 60;
const MAX_NAME_CHARS: usize = 60;

/// Where the dry run of the purge of `account` at `purge` stores its list: under the
/// per-account prefix of the reports bucket (`reporting.exceptions_prefix`), named
/// after the purge.
pub fn list_key(exceptions_prefix: &str, account: &AccountId, purge: DateTime<Utc>) -> String {
    let prefix = exceptions_prefix.trim_matches('/');
    format!(
        "{prefix}/{account}/{}/{}-{account}-purge-preview.txt",
        purge.format("%Y"),
        purge.format("%Y-%m-%dT%H%MZ"),
    )
}

/// One resource type of the list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeCount {
    /// How many resources of the type would be deleted.
    pub count: usize,
    /// The first few names (ids), cleaned.
    pub names: Vec<String>,
}

/// What the dry run would delete, by resource type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreviewSummary {
    /// Counts per resource type (cleaned type names).
    pub types: BTreeMap<String, TypeCount>,
    /// Resources in all.
    pub total: usize,
    /// Lines that were not aws-nuke's "would remove" lines (logs, filtered resources,
    /// anything else): not shown.
    pub other_lines: usize,
    /// Whether the list was longer than [`MAX_LIST_BYTES`] (only that much was read).
    pub truncated: bool,
}

/// Keeps a plain alphabet (letters, digits, `-_.:/@`) and cuts the text to `max`
/// characters: what comes from the member account never carries markup, links or
/// line breaks into a notice.
pub fn untrusted(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@'))
        .collect();
    if kept.chars().count() > max {
        let mut cut: String = kept.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        kept
    }
}

impl PreviewSummary {
    /// Reads aws-nuke's output (any bytes).
    pub fn from_list(bytes: &[u8]) -> PreviewSummary {
        let truncated = bytes.len() > MAX_LIST_BYTES;
        let bytes = &bytes[..bytes.len().min(MAX_LIST_BYTES)];
        let text = String::from_utf8_lossy(bytes);
        let mut summary = PreviewSummary {
            truncated,
            ..PreviewSummary::default()
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Some((kind, name)) => {
                    let kind = untrusted(kind, MAX_TYPE_CHARS);
                    if kind.is_empty() {
                        summary.other_lines += 1;
                        continue;
                    }
                    // a bounded number of types: more distinct types than any AWS
                    // account has fold into one
                    let kind = if summary.types.len() >= 500 && !summary.types.contains_key(&kind) {
                        "other".to_owned()
                    } else {
                        kind
                    };
                    let entry = summary.types.entry(kind).or_default();
                    entry.count += 1;
                    if entry.names.len() < MAX_NAMES {
                        let name = untrusted(name, MAX_NAME_CHARS);
                        if !name.is_empty() {
                            entry.names.push(name);
                        }
                    }
                    summary.total += 1;
                }
                None => summary.other_lines += 1,
            }
        }
        summary
    }

    /// The types by count, largest first (then by name), at most [`MAX_TYPES`], and
    /// what the others add up to.
    pub fn largest(&self) -> (Vec<(&str, &TypeCount)>, usize) {
        let mut types: Vec<(&str, &TypeCount)> =
            self.types.iter().map(|(k, v)| (k.as_str(), v)).collect();
        types.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        let rest = types.iter().skip(MAX_TYPES).map(|(_, t)| t.count).sum();
        types.truncate(MAX_TYPES);
        (types, rest)
    }

    /// One line per type: `EC2Instance: 3 (i-1, i-2, i-3)`, then the others, for
    /// plain text (already cleaned).
    pub fn lines(&self) -> Vec<String> {
        let (types, rest) = self.largest();
        let mut lines: Vec<String> = types
            .iter()
            .map(|(kind, t)| {
                let more = t.count.saturating_sub(t.names.len());
                let names = if t.names.is_empty() {
                    String::new()
                } else if more > 0 {
                    format!(" ({}, and {more} more)", t.names.join(", "))
                } else {
                    format!(" ({})", t.names.join(", "))
                };
                format!("{kind}: {}{names}", t.count)
            })
            .collect();
        if rest > 0 {
            lines.push(format!(
                "{rest} more resources of {} other types",
                self.types.len().saturating_sub(MAX_TYPES)
            ));
        }
        if self.truncated {
            lines.push(format!(
                "the list was longer than {} MiB: only its beginning was read",
                MAX_LIST_BYTES / (1024 * 1024)
            ));
        }
        lines
    }
}

/// `us-east-1 - EC2Instance - i-0abc - [Name: "web"] - would remove` ->
/// (`EC2Instance`, `i-0abc`). aws-nuke v3 writes one such line per resource it would
/// delete; anything else is not a resource to show.
fn parse_line(line: &str) -> Option<(&str, &str)> {
    if !line.ends_with("would remove") {
        return None;
    }
    let mut parts = line.splitn(4, " - ");
    let _region = parts.next()?;
    let kind = parts.next()?;
    let name = parts.next()?;
    Some((kind.trim(), name.trim()))
}

/// What the holder is told before a purge.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgeNoticeMail {
    /// The settings' environment identifier.
    pub environment: String,
    /// The account.
    pub account: AccountId,
    /// Its name in the organization.
    pub account_name: String,
    /// When it will be purged.
    pub purge: DateTime<Utc>,
    /// What the dry run listed; `Err`: why there is no list (the dry run failed, the
    /// list could not be read).
    pub preview: Result<PreviewSummary, String>,
    /// The longest snooze offered (none: no snooze).
    pub snooze: Option<std::time::Duration>,
    /// Where to get help, one line each.
    pub help: Vec<String>,
}

/// The instant as the notice writes it.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LIST: &str = "\
aws-nuke version v3.56.0
us-east-1 - EC2Instance - i-0abc - [Name: \"web\"] - would remove
us-east-1 - EC2Instance - i-0def - [] - would remove
eu-west-1 - S3Bucket - s3://holder-data - [] - would remove
us-east-1 - IAMRole - spa-CodeBuild - [] - filtered by config
Scan complete: 4 total, 3 nukeable, 1 filtered.
";

    #[test]
    fn the_list_is_counted_by_type_with_a_few_names() {
        let summary = PreviewSummary::from_list(LIST.as_bytes());
        assert_eq!(summary.total, 3);
        assert_eq!(summary.types["EC2Instance"].count, 2);
        assert_eq!(summary.types["EC2Instance"].names, ["i-0abc", "i-0def"]);
        assert_eq!(summary.types["S3Bucket"].names, ["s3://holder-data"]);
        assert_eq!(summary.other_lines, 3);
        assert_eq!(
            summary.lines(),
            [
                "EC2Instance: 2 (i-0abc, i-0def)",
                "S3Bucket: 1 (s3://holder-data)"
            ]
        );
    }

    #[test]
    fn names_from_the_account_carry_no_markup_and_are_cut() {
        let forged = format!(
            "us-east-1 - <b>EC2Instance</b> - <a href=\"https://evil.example\">click</a>{} - [] - would remove\n",
            "x".repeat(500)
        );
        let summary = PreviewSummary::from_list(forged.as_bytes());
        let (kind, count) = summary.types.iter().next().unwrap();
        assert_eq!(kind, "bEC2Instance/b");
        let name = &count.names[0];
        assert!(!name.contains('<') && !name.contains('"') && !name.contains(' '));
        assert!(name.chars().count() <= MAX_NAME_CHARS, "{name}");
    }

    #[test]
    fn malformed_and_huge_lists_give_a_summary_never_a_panic() {
        for bytes in [
            &b""[..],
            &b"\xff\xfe\x00 - - - would remove"[..],
            &b" - would remove"[..],
            &b"a - b - would remove"[..],
        ] {
            let _ = PreviewSummary::from_list(bytes).lines();
        }
        let line = "us-east-1 - EC2Instance - i-1 - [] - would remove\n";
        let huge = line.repeat(MAX_LIST_BYTES / line.len() + 10);
        let summary = PreviewSummary::from_list(huge.as_bytes());
        assert!(summary.truncated);
        assert!(
            summary
                .lines()
                .last()
                .unwrap()
                .contains("only its beginning")
        );
        let mut many = String::new();
        for i in 0..2000 {
            many.push_str(&format!("r - Type{i} - n - [] - would remove\n"));
        }
        let summary = PreviewSummary::from_list(many.as_bytes());
        assert!(summary.types.len() <= 501);
        assert_eq!(summary.lines().len(), MAX_TYPES + 1);
    }

    #[test]
    fn the_list_key_is_per_account_and_purge() {
        let account = AccountId::parse("111111111111").unwrap();
        let purge = DateTime::parse_from_rfc3339("2026-12-12T18:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            list_key("/exceptions/", &account, purge),
            "exceptions/111111111111/2026/2026-12-12T1800Z-111111111111-purge-preview.txt"
        );
    }
}
