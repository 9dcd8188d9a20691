//! The labels of the domain events spa emits (ARCHITECTURE.md §3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a domain event says happened; it is the EventBridge `detail-type` of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    // lifecycle
    AccountVended,
    AccountPrepared,
    AccountAssigned,
    AccountExpired,
    AccountPurged,
    AccountQuarantined,
    AccountUnmanaged,
    AccountFrozen,
    AccountUnfrozen,
    BuildStarted,
    // activities
    ConsoleLogin,
    OnboardingCompleted,
    MaintenanceCompleted,
    LeaseChanged,
    PurgeNotice,
    PurgeSnoozed,
    // exceptions
    BudgetAlert,
    ConsoleLoginWithRoot,
    ConsoleLoginWithIamUser,
    BuildFailed,
    PurgeDryRun,
    OnboardingTimedOut,
    MaintenanceTimedOut,
    StaleAccessKey,
    ResidualCost,
    SpendProjected,
    Drift,
    DeadLetter,
}

/// The three families of labels: they are routed and stored differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// A change of state of an account, or a build it started.
    Lifecycle,
    /// Something worth recording that needs nobody.
    Activity,
    /// Something that needs a person: incident and notifications.
    Exception,
}

impl Label {
    /// Every label, lifecycle first, then activities, then exceptions.
    pub const ALL: [Label; 28] = [
        Label::AccountVended,
        Label::AccountPrepared,
        Label::AccountAssigned,
        Label::AccountExpired,
        Label::AccountPurged,
        Label::AccountQuarantined,
        Label::AccountUnmanaged,
        Label::AccountFrozen,
        Label::AccountUnfrozen,
        Label::BuildStarted,
        Label::ConsoleLogin,
        Label::OnboardingCompleted,
        Label::MaintenanceCompleted,
        Label::LeaseChanged,
        Label::PurgeNotice,
        Label::PurgeSnoozed,
        Label::BudgetAlert,
        Label::ConsoleLoginWithRoot,
        Label::ConsoleLoginWithIamUser,
        Label::BuildFailed,
        Label::PurgeDryRun,
        Label::OnboardingTimedOut,
        Label::MaintenanceTimedOut,
        Label::StaleAccessKey,
        Label::ResidualCost,
        Label::SpendProjected,
        Label::Drift,
        Label::DeadLetter,
    ];

    /// The label as written in ARCHITECTURE.md §3, in settings and in the EventBridge `detail-type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::AccountVended => "AccountVended",
            Label::AccountPrepared => "AccountPrepared",
            Label::AccountAssigned => "AccountAssigned",
            Label::AccountExpired => "AccountExpired",
            Label::AccountPurged => "AccountPurged",
            Label::AccountQuarantined => "AccountQuarantined",
            Label::AccountUnmanaged => "AccountUnmanaged",
            Label::AccountFrozen => "AccountFrozen",
            Label::AccountUnfrozen => "AccountUnfrozen",
            Label::BuildStarted => "BuildStarted",
            Label::ConsoleLogin => "ConsoleLogin",
            Label::OnboardingCompleted => "OnboardingCompleted",
            Label::MaintenanceCompleted => "MaintenanceCompleted",
            Label::LeaseChanged => "LeaseChanged",
            Label::PurgeNotice => "PurgeNotice",
            Label::PurgeSnoozed => "PurgeSnoozed",
            Label::BudgetAlert => "BudgetAlert",
            Label::ConsoleLoginWithRoot => "ConsoleLoginWithRoot",
            Label::ConsoleLoginWithIamUser => "ConsoleLoginWithIamUser",
            Label::BuildFailed => "BuildFailed",
            Label::PurgeDryRun => "PurgeDryRun",
            Label::OnboardingTimedOut => "OnboardingTimedOut",
            Label::MaintenanceTimedOut => "MaintenanceTimedOut",
            Label::StaleAccessKey => "StaleAccessKey",
            Label::ResidualCost => "ResidualCost",
            Label::SpendProjected => "SpendProjected",
            Label::Drift => "Drift",
            Label::DeadLetter => "DeadLetter",
        }
    }

    /// Lifecycle, activity or exception.
    pub const fn kind(self) -> LabelKind {
        match self {
            Label::AccountVended
            | Label::AccountPrepared
            | Label::AccountAssigned
            | Label::AccountExpired
            | Label::AccountPurged
            | Label::AccountQuarantined
            | Label::AccountUnmanaged
            | Label::AccountFrozen
            | Label::AccountUnfrozen
            | Label::BuildStarted => LabelKind::Lifecycle,
            Label::ConsoleLogin
            | Label::OnboardingCompleted
            | Label::MaintenanceCompleted
            | Label::LeaseChanged
            | Label::PurgeNotice
            | Label::PurgeSnoozed => LabelKind::Activity,
            Label::BudgetAlert
            | Label::ConsoleLoginWithRoot
            | Label::ConsoleLoginWithIamUser
            | Label::BuildFailed
            | Label::PurgeDryRun
            | Label::OnboardingTimedOut
            | Label::MaintenanceTimedOut
            | Label::StaleAccessKey
            | Label::ResidualCost
            | Label::SpendProjected
            | Label::Drift
            | Label::DeadLetter => LabelKind::Exception,
        }
    }

    /// Whether this label is an exception (opens an incident, notifies).
    pub const fn is_exception(self) -> bool {
        matches!(self.kind(), LabelKind::Exception)
    }

    /// Whether this label needs a person: an exception, or a quarantine (a lifecycle
    /// label that SRE must act on). It opens or updates an incident and is routed to
    /// the chat and e-mail channels of `notifications.routes`.
    pub const fn needs_attention(self) -> bool {
        self.is_exception() || matches!(self, Label::AccountQuarantined)
    }

    /// Whether the `exceptions` function receives this label: what needs attention,
    /// an assignment and a pre-purge notice (the holder is told by e-mail).
    pub const fn is_noticed(self) -> bool {
        self.needs_attention() || matches!(self, Label::AccountAssigned | Label::PurgeNotice)
    }
}

impl LabelKind {
    /// `lifecycle`, `activity` or `exception`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LabelKind::Lifecycle => "lifecycle",
            LabelKind::Activity => "activity",
            LabelKind::Exception => "exception",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for LabelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the labels of ARCHITECTURE.md §3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown label `{found}`; expected one of: {}", known_labels())]
pub struct UnknownLabel {
    /// What was given.
    pub found: String,
}

fn known_labels() -> String {
    Label::ALL
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Label {
    type Err = UnknownLabel;

    /// Exact match only: labels are identifiers, `accountvended` is not `AccountVended`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .iter()
            .copied()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLabel {
                found: s.chars().take(64).collect(),
            })
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_label_round_trips_through_its_name() {
        for label in Label::ALL {
            assert_eq!(label.as_str().parse::<Label>(), Ok(label));
            assert_eq!(label.to_string(), label.as_str());
        }
    }

    #[test]
    fn kinds_follow_the_design() {
        let count = |k| Label::ALL.iter().filter(|l| l.kind() == k).count();
        assert_eq!(count(LabelKind::Lifecycle), 10);
        assert_eq!(count(LabelKind::Activity), 6);
        assert_eq!(count(LabelKind::Exception), 12);
        assert!(Label::PurgeDryRun.needs_attention());
        assert!(Label::DeadLetter.is_exception());
        assert!(Label::DeadLetter.needs_attention());
        assert!(Label::Drift.is_exception());
        assert_eq!(Label::BuildStarted.kind().as_str(), "lifecycle");
    }

    #[test]
    fn unknown_label_lists_the_known_ones() {
        let err = "accountvended".parse::<Label>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`accountvended`"), "{text}");
        assert!(text.contains("AccountVended, AccountPrepared"), "{text}");
    }
}
