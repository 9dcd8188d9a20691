//! The holder of an account: the e-mail address of the person who uses it.

use std::fmt;
use std::str::FromStr;

/// The e-mail address of the person an account is (or will be) assigned to.
///
/// The address is checked when it is built and can be written in an AWS tag value
/// (letters, digits and `. _ + - @` only; at most 254 characters). `Display` and
/// `Debug` show the [masked](Holder::masked) form so that a full address never lands
/// in a log by accident; [`Holder::as_str`] gives the full address for tags and mail.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Holder(String);

/// Why a text is not a holder e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an e-mail address: {why}")]
pub struct HolderError {
    /// The text that was read.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Holder {
    /// Checks and wraps an e-mail address.
    pub fn new(address: &str) -> Result<Self, HolderError> {
        let fail = |why| HolderError {
            value: address.to_owned(),
            why,
        };
        if address.len() > 254 {
            return Err(fail("expected at most 254 characters"));
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(fail("expected `name@domain`"));
        };
        if domain.contains('@') {
            return Err(fail("expected a single `@`"));
        }
        if local.is_empty() || local.len() > 64 {
            return Err(fail("expected 1 to 64 characters before `@`"));
        }
        if !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        {
            return Err(fail(
                "expected only letters, digits and `. _ + -` before `@` (what an AWS tag value accepts)",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(fail(
                "expected no leading, trailing or double `.` before `@`",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(fail("expected a domain with a `.` after `@`"));
        }
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !labels.iter().all(label_ok) {
            return Err(fail(
                "expected a domain of dot-separated labels of letters, digits and `-`",
            ));
        }
        Ok(Self(address.to_owned()))
    }

    /// The full address: for tags and mail only, never for logs at info level.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address for logs: first character of the name, `***`, then the domain
    /// (`jane.doe@example.com` -> `j***@example.com`).
    pub fn masked(&self) -> String {
        crate::vocabulary::mask(&self.0)
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Holder({})", self.masked())
    }
}

impl FromStr for Holder {
    type Err = HolderError;

    fn from_str(address: &str) -> Result<Self, Self::Err> {
        Holder::new(address)
    }
}
