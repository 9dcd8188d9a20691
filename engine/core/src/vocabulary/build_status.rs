//! The status of a CodeBuild build: the lifecycle reads it (a build's result moves an
//! account), the decoder of build events writes it.

use std::fmt;
use std::str::FromStr;

/// Every status of a CodeBuild build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildStatus {
    InProgress,
    Succeeded,
    Failed,
    Fault,
    Stopped,
    TimedOut,
}

impl BuildStatus {
    pub const ALL: [BuildStatus; 6] = [
        BuildStatus::InProgress,
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::Fault,
        BuildStatus::Stopped,
        BuildStatus::TimedOut,
    ];

    pub(crate) const EXPECTED: &'static str =
        "a build status (IN_PROGRESS, SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT)";

    /// As CodeBuild writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            BuildStatus::InProgress => "IN_PROGRESS",
            BuildStatus::Succeeded => "SUCCEEDED",
            BuildStatus::Failed => "FAILED",
            BuildStatus::Fault => "FAULT",
            BuildStatus::Stopped => "STOPPED",
            BuildStatus::TimedOut => "TIMED_OUT",
        }
    }

    /// Whether the build is over.
    pub const fn is_terminal(self) -> bool {
        !matches!(self, BuildStatus::InProgress)
    }

    /// Whether the build is over and succeeded.
    pub const fn is_success(self) -> bool {
        matches!(self, BuildStatus::Succeeded)
    }

    /// Whether the build is over without success (FAILED, FAULT, STOPPED, TIMED_OUT).
    pub const fn is_failure(self) -> bool {
        self.is_terminal() && !self.is_success()
    }
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BuildStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| Self::EXPECTED.to_string())
    }
}
