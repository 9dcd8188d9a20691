//! Small value types shared by the decoders: account ids, event ids, masking.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An AWS account id: exactly twelve ASCII digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// What a valid account id looks like, for error messages.
    pub const EXPECTED: &'static str = "a 12-digit AWS account id";

    /// `Some` when `s` is twelve ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| AccountId(s.to_string()))
    }

    /// The twelve digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        AccountId::parse(&s).ok_or_else(|| serde::de::Error::custom(AccountId::EXPECTED))
    }
}

/// The key to de-duplicate a delivery with (EventBridge delivers at least once, SQS too).
///
/// Namespaced by origin so that ids of different origins never collide:
/// `eventbridge:<id>`, `sns:<MessageId>`, `sqs:<messageId>`, `schedule:<job>@<time>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// The id of an EventBridge event (its `id`).
    pub fn eventbridge(id: &str) -> Self {
        EventId(format!("eventbridge:{id}"))
    }

    /// The id of an SNS notification (its `MessageId`, stable across SNS re-deliveries).
    pub fn sns(message_id: &str) -> Self {
        EventId(format!("sns:{message_id}"))
    }

    /// The id of an SQS message (its `messageId`).
    pub fn sqs(message_id: &str) -> Self {
        EventId(format!("sqs:{message_id}"))
    }

    /// The id of a scheduled run: the job and its scheduled time.
    pub fn schedule(job: &str, at: &chrono::DateTime<chrono::Utc>) -> Self {
        EventId(format!(
            "schedule:{job}@{}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    }

    /// The namespaced id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks an e-mail address or a person's name for logs and events:
/// `alice@example.com` -> `a***@example.com`, `bob` -> `b***`.
///
/// Idempotent: a masked value masks to itself.
pub fn mask(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => {
            let first: String = value.chars().take(1).collect();
            format!("{first}***")
        }
    }
}

/// Replaces every e-mail address found in free text by its masked form.
pub fn redact_emails(text: &str) -> String {
    fn local_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "._%+-".contains(c)
    }
    fn domain_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || ".-".contains(c)
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            // walk back over the local part already copied, forward over the domain
            let mut start = i;
            while start > 0 && local_char(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && domain_char(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            let domain = domain.trim_end_matches('.');
            if start < i && domain.contains('.') {
                let keep = out.chars().count() - (i - start);
                out = out.chars().take(keep).collect();
                out.push(chars[start]);
                out.push_str("***@");
                out.push_str(domain);
                i += 1 + domain.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A value about a person (session name, IAM user name) that logs must only show masked.
///
/// `Debug` and `Display` print the masked form; [`Sensitive::expose`] gives the value
/// to code that must compare it (is this the holder signing in?).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value that must never print in clear.
    pub fn new(value: &str) -> Self {
        Sensitive(value.to_string())
    }

    /// The value in clear: compare it, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form, for logs and events.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sensitive({})", self.masked())
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("222222222222").is_some());
        assert!(AccountId::parse("22222222222").is_none());
        assert!(AccountId::parse("2222222222222").is_none());
        assert!(AccountId::parse("22222222222a").is_none());
        assert!(AccountId::parse("ou-ab12-xyz1").is_none());
        assert!(AccountId::parse("２２２２２２２２２２２２").is_none());
    }

    #[test]
    fn masking_is_idempotent() {
        assert_eq!(mask("alice@example.com"), "a***@example.com");
        assert_eq!(mask("a***@example.com"), "a***@example.com");
        assert_eq!(mask("bob"), "b***");
        assert_eq!(mask(""), "***");
        assert_eq!(mask("@x"), "***@x");
        assert_eq!(mask("élodie@exemple.fr"), "é***@exemple.fr");
    }

    #[test]
    fn emails_in_free_text_are_masked() {
        assert_eq!(
            redact_emails("holder alice.b@example.com, cc bob@corp.example.org."),
            "holder a***@example.com, cc b***@corp.example.org."
        );
        assert_eq!(redact_emails("no @ mail here @x"), "no @ mail here @x");
        assert_eq!(redact_emails("é@é.fr"), "é@é.fr");
        assert_eq!(redact_emails("ü x@y.z"), "ü x***@y.z");
    }

    #[test]
    fn sensitive_values_never_print_in_clear() {
        let s = Sensitive::new("alice@example.com");
        assert_eq!(
            format!("{s:?} {s}"),
            "Sensitive(a***@example.com) a***@example.com"
        );
        assert_eq!(s.expose(), "alice@example.com");
    }
}
