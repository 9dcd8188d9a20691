//! The one error type of the decoders.

use thiserror::Error;

/// Why an incoming event could not be decoded.
///
/// Paths are JSON paths from the top of the event (`detail.requestParameters.accountId`,
/// `Records[2].body.Message`); values quoted in errors are short and e-mail addresses in
/// them are masked, so an error can be logged as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The bytes are not JSON (truncated, not UTF-8, ...).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A field that is needed is absent or `null`.
    #[error("missing field `{path}`: expected {expected}")]
    Missing { path: String, expected: String },
    /// A field is present but of the wrong type or value.
    #[error("wrong field `{path}`: expected {expected}, found {found}")]
    Invalid {
        path: String,
        expected: String,
        found: String,
    },
    /// A well-formed event that spa does not consume (another source or detail-type).
    #[error("foreign event: source `{event_source}`, detail-type `{detail_type}`")]
    Foreign {
        event_source: String,
        detail_type: String,
    },
    /// An event of a consumed source and detail-type, but an API call or event name
    /// that spa does not react to (`CreateOrganizationalUnit`, `CheckMfa`, ...).
    #[error("unsupported event `{name}` of source `{event_source}`, detail-type `{detail_type}`")]
    Unsupported {
        event_source: String,
        detail_type: String,
        name: String,
    },
    /// An EventBridge Scheduler input naming a job that does not exist.
    #[error("unknown scheduler job `{found}` at `{path}`; known jobs: {}", .known.join(", "))]
    UnknownJob {
        path: String,
        found: String,
        known: &'static [&'static str],
    },
    /// A `reports` job naming a report that does not exist.
    #[error("unknown report `{found}` at `{path}`; known reports: {}", .known.join(", "))]
    UnknownReport {
        path: String,
        found: String,
        known: &'static [&'static str],
    },
    /// JSON that is neither an EventBridge event, an SQS batch nor a Scheduler input.
    #[error(
        "unrecognized event shape: expected an EventBridge event (`source`, `detail-type`), \
         an SQS batch (`Records`) or a Scheduler input (`job`), found {found}"
    )]
    UnknownShape { found: String },
    /// Well-formed input from a sender that may not say what it says: an event about
    /// another account, a budget alert about an account that does not own the topic
    /// (the holder is an adversary: ARCHITECTURE.md, "Threat model"). Refused for good:
    /// never retried, never dead-lettered, logged as a security event and counted.
    #[error("refused: {sender} may not say {claim}")]
    Refused { sender: String, claim: String },
}

impl DecodeError {
    /// The JSON path the error is about, when it is about one field.
    pub fn path(&self) -> Option<&str> {
        match self {
            DecodeError::Missing { path, .. }
            | DecodeError::Invalid { path, .. }
            | DecodeError::UnknownJob { path, .. }
            | DecodeError::UnknownReport { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Whether the event is well-formed but not for spa: acknowledge and drop it rather
    /// than retry it or send it to a dead-letter queue.
    pub fn is_ignorable(&self) -> bool {
        matches!(
            self,
            DecodeError::Foreign { .. } | DecodeError::Unsupported { .. }
        )
    }

    /// Whether the input is refused for who sent it ([`DecodeError::Refused`]).
    pub fn is_refused(&self) -> bool {
        matches!(self, DecodeError::Refused { .. })
    }

    /// Why the input is refused (`<sender> may not say <claim>`), when it is.
    pub fn refusal(&self) -> Option<String> {
        match self {
            DecodeError::Refused { sender, claim } => Some(format!("{sender} may not say {claim}")),
            _ => None,
        }
    }

    pub(crate) fn refused(sender: impl Into<String>, claim: impl Into<String>) -> Self {
        DecodeError::Refused {
            sender: sender.into(),
            claim: claim.into(),
        }
    }

    pub(crate) fn missing(path: impl Into<String>, expected: impl Into<String>) -> Self {
        DecodeError::Missing {
            path: path.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn invalid(
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        DecodeError::Invalid {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        DecodeError::Json {
            line: err.line(),
            column: err.column(),
            message: {
                let text = err.to_string();
                // serde_json appends " at line L column C": it is in the fields already.
                match text.rfind(" at line ") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                }
            },
        }
    }
}
