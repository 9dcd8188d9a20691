//! Builds: what the lifecycle starts (preparation, purge) and how they end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::vocabulary::BuildStatus;

/// Which build runs in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildKind {
    /// The preparation build: brings the account to the company baseline.
    Preparation,
    /// The purge build: deletes what the holder left in the account.
    Purge,
}

impl BuildKind {
    /// `preparation` or `purge`, as in settings and in the `{prefix}build` tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            BuildKind::Preparation => "preparation",
            BuildKind::Purge => "purge",
        }
    }
}

impl fmt::Display for BuildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identifier of a build (a CodeBuild id is `project:uuid`).
///
/// Checked to fit an AWS tag value: 1 to 200 characters among letters, digits and
/// `_ . : / = + - @` (room is left for the `preparation/` prefix of the tag).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BuildId(String);

/// Why a text is not a build id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a build id: expected 1 to 200 letters, digits or `_ . : / = + - @`")]
pub struct BuildIdError {
    /// The text that was read.
    pub value: String,
}

impl BuildId {
    /// Checks and wraps a build id.
    pub fn new(id: &str) -> Result<Self, BuildIdError> {
        let ok = !id.is_empty()
            && id.len() <= 200
            && id.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
            });
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(BuildIdError {
                value: id.to_owned(),
            })
        }
    }

    /// The id as given by the build service.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for BuildId {
    type Err = BuildIdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        BuildId::new(id)
    }
}

impl TryFrom<String> for BuildId {
    type Error = BuildIdError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        BuildId::new(&id)
    }
}

impl From<BuildId> for String {
    fn from(id: BuildId) -> Self {
        id.0
    }
}

/// The build an account waits for: its kind and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AwaitedBuild {
    /// Preparation or purge.
    pub kind: BuildKind,
    /// The id the build service gave when the build started.
    pub id: BuildId,
}
