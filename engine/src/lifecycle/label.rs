//! The labels of everything spa emits: domain events, activities and exceptions.
//!
//! The label is the `detail-type` of an event on the bus, the label of an activity
//! record and the routing key of an exception (DESIGN.md §3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One label of DESIGN.md §3, spelled exactly as on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Label {
    /// The account entered `vended`.
    AccountVended,
    /// The account entered `prepared`.
    AccountPrepared,
    /// The account entered `assigned`.
    AccountAssigned,
    /// The account entered `expired`.
    AccountExpired,
    /// The account entered `purged`.
    AccountPurged,
    /// The account entered `quarantined`.
    AccountQuarantined,
    /// The account left the managed OUs (or was closed or removed).
    AccountUnmanaged,
    /// A preparation or purge build started.
    BuildStarted,
    /// Activity: somebody signed in to the console of a managed account.
    ConsoleLogin,
    /// Activity: the on-boarding transaction completed (the account is ready).
    OnboardingCompleted,
    /// Activity: the maintenance transaction completed (the account is ready).
    MaintenanceCompleted,
    /// Exception: a budget threshold was crossed.
    BudgetAlert,
    /// Exception: somebody signed in as root.
    ConsoleLoginWithRoot,
    /// Exception: somebody signed in as an IAM user.
    ConsoleLoginWithIamUser,
    /// Exception: a build failed past its retry budget.
    BuildFailed,
    /// Exception: the on-boarding transaction passed its deadline.
    OnboardingTimedOut,
    /// Exception: the maintenance transaction passed its deadline.
    MaintenanceTimedOut,
    /// Exception: an access key is older than the threshold.
    StaleAccessKey,
    /// Exception: a purged account still costs money.
    ResidualCost,
    /// Exception: the tags of an account say something spa cannot read or did not write.
    Drift,
}

/// What a label stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// A domain event: something happened to an account (mostly a transition).
    Event,
    /// An activity: recorded and reported, never an incident.
    Activity,
    /// An exception: opens or updates an incident and goes to the routed channels.
    Exception,
}

impl Label {
    /// Every label, events first, then activities, then exceptions.
    pub const ALL: [Label; 20] = [
        Label::AccountVended,
        Label::AccountPrepared,
        Label::AccountAssigned,
        Label::AccountExpired,
        Label::AccountPurged,
        Label::AccountQuarantined,
        Label::AccountUnmanaged,
        Label::BuildStarted,
        Label::ConsoleLogin,
        Label::OnboardingCompleted,
        Label::MaintenanceCompleted,
        Label::BudgetAlert,
        Label::ConsoleLoginWithRoot,
        Label::ConsoleLoginWithIamUser,
        Label::BuildFailed,
        Label::OnboardingTimedOut,
        Label::MaintenanceTimedOut,
        Label::StaleAccessKey,
        Label::ResidualCost,
        Label::Drift,
    ];

    /// The label as on the bus (`detail-type`), in activity records and in settings.
    pub const fn as_str(self) -> &'static str {
        match self {
            Label::AccountVended => "AccountVended",
            Label::AccountPrepared => "AccountPrepared",
            Label::AccountAssigned => "AccountAssigned",
            Label::AccountExpired => "AccountExpired",
            Label::AccountPurged => "AccountPurged",
            Label::AccountQuarantined => "AccountQuarantined",
            Label::AccountUnmanaged => "AccountUnmanaged",
            Label::BuildStarted => "BuildStarted",
            Label::ConsoleLogin => "ConsoleLogin",
            Label::OnboardingCompleted => "OnboardingCompleted",
            Label::MaintenanceCompleted => "MaintenanceCompleted",
            Label::BudgetAlert => "BudgetAlert",
            Label::ConsoleLoginWithRoot => "ConsoleLoginWithRoot",
            Label::ConsoleLoginWithIamUser => "ConsoleLoginWithIamUser",
            Label::BuildFailed => "BuildFailed",
            Label::OnboardingTimedOut => "OnboardingTimedOut",
            Label::MaintenanceTimedOut => "MaintenanceTimedOut",
            Label::StaleAccessKey => "StaleAccessKey",
            Label::ResidualCost => "ResidualCost",
            Label::Drift => "Drift",
        }
    }

    /// Whether this label is a domain event, an activity or an exception.
    pub const fn kind(self) -> LabelKind {
        match self {
            Label::AccountVended
            | Label::AccountPrepared
            | Label::AccountAssigned
            | Label::AccountExpired
            | Label::AccountPurged
            | Label::AccountQuarantined
            | Label::AccountUnmanaged
            | Label::BuildStarted => LabelKind::Event,
            Label::ConsoleLogin | Label::OnboardingCompleted | Label::MaintenanceCompleted => {
                LabelKind::Activity
            }
            Label::BudgetAlert
            | Label::ConsoleLoginWithRoot
            | Label::ConsoleLoginWithIamUser
            | Label::BuildFailed
            | Label::OnboardingTimedOut
            | Label::MaintenanceTimedOut
            | Label::StaleAccessKey
            | Label::ResidualCost
            | Label::Drift => LabelKind::Exception,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown label `{value}`: expected one of {}", Label::ALL.map(Label::as_str).join(", "))]
pub struct ParseLabelError {
    /// The word that was read.
    pub value: String,
}

impl FromStr for Label {
    type Err = ParseLabelError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|label| label.as_str() == value)
            .ok_or_else(|| ParseLabelError {
                value: value.to_owned(),
            })
    }
}
