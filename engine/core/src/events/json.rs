//! A walker over `serde_json::Value` that knows where it is, so that every decoding
//! error names the JSON path of the field and what was expected there.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::DecodeError;
use crate::vocabulary::{AccountId, redact_emails};

/// A value in an event, with its JSON path from the top of the event.
#[derive(Clone, Debug)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

/// A short, log-safe description of a value, for `found` in errors.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string \"{}\"", excerpt(s)),
        Value::Array(a) => format!("an array of {} item(s)", a.len()),
        Value::Object(_) => "an object".to_string(),
    }
}

/// The first characters of a string, with e-mail addresses masked.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    let mut cut: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        cut.push('…');
    }
    redact_emails(&cut).escape_debug().to_string()
}

/// A value from an event kept in a domain type: cut to `max` characters, e-mail
/// addresses masked, otherwise as written.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    let head: String = s.chars().take(max).collect();
    redact_emails(&head)
}

impl<'a> Node<'a> {
    /// The top of an event; `path` is empty there, or names where the JSON came from
    /// (`Records[0].body`) when it was embedded in a string.
    pub(crate) fn root(value: &'a Value, path: &str) -> Self {
        Node {
            value,
            path: path.to_string(),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn value(&self) -> &'a Value {
        self.value
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn invalid(&self, expected: &str) -> DecodeError {
        DecodeError::invalid(self.path.clone(), expected, describe(self.value))
    }

    /// The field `key`, `None` when absent or `null`; an error when `self` is not an object.
    pub(crate) fn opt(&self, key: &str) -> Result<Option<Node<'a>>, DecodeError> {
        let Value::Object(map) = self.value else {
            return Err(self.invalid("an object"));
        };
        Ok(match map.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node {
                value,
                path: self.child_path(key),
            }),
        })
    }

    /// The field `key`, which must be present and not `null`.
    pub(crate) fn req(&self, key: &str, expected: &str) -> Result<Node<'a>, DecodeError> {
        self.opt(key)?
            .ok_or_else(|| DecodeError::missing(self.child_path(key), expected))
    }

    /// This value as a string.
    pub(crate) fn as_str(&self) -> Result<&'a str, DecodeError> {
        self.value.as_str().ok_or_else(|| self.invalid("a string"))
    }

    /// This value as a non-empty string.
    pub(crate) fn as_nonempty_str(&self) -> Result<&'a str, DecodeError> {
        match self.value.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(self.invalid("a non-empty string")),
        }
    }

    /// The string field `key`, present and non-empty.
    pub(crate) fn str(&self, key: &str) -> Result<&'a str, DecodeError> {
        self.req(key, "a non-empty string")?.as_nonempty_str()
    }

    /// The string field `key` when present, not `null` and not empty.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, DecodeError> {
        match self.opt(key)? {
            None => Ok(None),
            Some(node) => {
                let s = node.as_str()?;
                Ok((!s.is_empty()).then_some(s))
            }
        }
    }

    /// The object field `key`.
    pub(crate) fn obj(&self, key: &str) -> Result<Node<'a>, DecodeError> {
        let node = self.req(key, "an object")?;
        if node.value.is_object() {
            Ok(node)
        } else {
            Err(node.invalid("an object"))
        }
    }

    /// The object field `key` when present and not `null`.
    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Node<'a>>, DecodeError> {
        match self.opt(key)? {
            Some(node) if !node.value.is_object() => Err(node.invalid("an object")),
            other => Ok(other),
        }
    }

    /// The items of the array field `key`.
    pub(crate) fn array(&self, key: &str, expected: &str) -> Result<Vec<Node<'a>>, DecodeError> {
        let node = self.req(key, expected)?;
        node.items(expected)
    }

    /// The items of this array.
    pub(crate) fn items(&self, expected: &str) -> Result<Vec<Node<'a>>, DecodeError> {
        let Value::Array(items) = self.value else {
            return Err(self.invalid(expected));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// The account id in string field `key`.
    pub(crate) fn account(&self, key: &str) -> Result<AccountId, DecodeError> {
        let node = self.req(key, AccountId::EXPECTED)?;
        node.as_account()
    }

    /// This value as an account id.
    pub(crate) fn as_account(&self) -> Result<AccountId, DecodeError> {
        self.value
            .as_str()
            .and_then(AccountId::parse)
            .ok_or_else(|| self.invalid(AccountId::EXPECTED))
    }

    /// The RFC 3339 time in string field `key`.
    pub(crate) fn time(&self, key: &str) -> Result<DateTime<Utc>, DecodeError> {
        const EXPECTED: &str = "an RFC 3339 time like 2026-11-21T09:00:00Z";
        let node = self.req(key, EXPECTED)?;
        node.value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| node.invalid(EXPECTED))
    }

    /// The RFC 3339 time in field `key` when present; an error when present but invalid.
    pub(crate) fn opt_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, DecodeError> {
        match self.opt(key)? {
            None => Ok(None),
            Some(_) => self.time(key).map(Some),
        }
    }

    /// A boolean field that CloudTrail may write as `true` or as `"true"`.
    pub(crate) fn opt_loose_bool(&self, key: &str) -> Result<Option<bool>, DecodeError> {
        let Some(node) = self.opt(key)? else {
            return Ok(None);
        };
        match node.value {
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" => Ok(Some(true)),
                "false" | "no" => Ok(Some(false)),
                _ => Err(node.invalid("true or false (\"true\", \"Yes\", ...)")),
            },
            _ => Err(node.invalid("true or false (\"true\", \"Yes\", ...)")),
        }
    }
}

/// The account and the resource of an ARN of `service`
/// (`arn:<partition>:<service>:<region>:<account>:<resource>`); `None` for anything else.
pub(crate) fn arn_of<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, _partition, found, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn_ == "arn" && found == service && !resource.is_empty()).then_some((account, resource))
}
