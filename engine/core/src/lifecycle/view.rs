//! What the lifecycle knows of one account: its tags, decoded.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::build::AwaitedBuild;
use super::holder::Holder;
use super::state::{State, state_name};

/// The two timed transactions of ARCHITECTURE.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransactionKind {
    /// From `vended` until the account is ready (`prepared` or `assigned`).
    Onboarding,
    /// From `expired` until the account is ready again.
    Maintenance,
}

impl TransactionKind {
    /// `onboarding` or `maintenance`, as in the `{prefix}transaction` tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Onboarding => "onboarding",
            TransactionKind::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TransactionKind {
    /// Reads `onboarding` or `maintenance`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "onboarding" => Some(TransactionKind::Onboarding),
            "maintenance" => Some(TransactionKind::Maintenance),
            _ => None,
        }
    }
}

/// An open transaction: what it is, when it was opened and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// On-boarding or maintenance.
    pub kind: TransactionKind,
    /// When it was opened (kept when an operator resumes a quarantined account).
    pub opened: DateTime<Utc>,
    /// When the sweeper turns it into an exception.
    pub deadline: DateTime<Utc>,
}

impl Transaction {
    /// Whether the deadline has passed at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.deadline <= now
    }
}

/// The lifecycle's view of one account, decoded from its tags by [`TagCodec`](super::TagCodec).
///
/// `AccountView::default()` is an unmanaged account without any spa tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountView {
    /// `None`: unmanaged (no `{prefix}state` tag).
    pub state: Option<State>,
    /// When the account entered its state (`{prefix}since`).
    pub since: Option<DateTime<Utc>>,
    /// The person the account is, or will be, assigned to (`{prefix}holder`).
    pub holder: Option<Holder>,
    /// When the current assignment started (`{prefix}assigned-since`): the holder was
    /// first given the account. Kept through maintenance with the same holder, removed
    /// with the holder; the lease counts from here. `None` on accounts assigned before
    /// spa wrote this tag.
    pub assigned_since: Option<DateTime<Utc>>,
    /// Build attempts of the current transition, 0 when none (`{prefix}attempts`).
    pub attempts: u32,
    /// The build the account waits for (`{prefix}build`).
    pub build: Option<AwaitedBuild>,
    /// The open transaction (`{prefix}transaction`).
    pub transaction: Option<Transaction>,
    /// The end of the cooldown that follows the last purge (`{prefix}cooldown-until`):
    /// no new holder is given the account before this instant.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// When the assignment ends, when it is not its start plus the lease
    /// (`{prefix}lease-until`): extended by the holder, or shorter as asked.
    pub lease_until: Option<DateTime<Utc>>,
    /// When an operator asked spa to close the account (`{prefix}closing`): the purge
    /// under way is its last; then the account is closed, or parked in the suspended
    /// unit, and leaves management.
    pub closing: Option<DateTime<Utc>>,
    /// The state a `frozen` account was frozen in (`{prefix}frozen-from`): it goes
    /// back there when unfrozen.
    pub frozen_from: Option<State>,
    /// Until when the holder put off the purge of this assignment (`{prefix}snoozed-until`):
    /// the maintenance window leaves the account alone, its lease end waits, and the
    /// sweeper purges it then. Removed when the purge starts.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// The last pre-purge notice (`{prefix}purge-notice`): the purge it announced, and
    /// the dry-run build that lists what it will delete.
    pub notice: Option<PurgeNoticeTag>,
    /// The cost center (the settings' cost-center tag key); not used by `decide`.
    pub cost_center: Option<String>,
}

/// What `{prefix}purge-notice` says: the holder was (or is being) told of the purge
/// at `purge`, from the dry run `preview` (none: it could not start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeNoticeTag {
    /// The purge announced.
    pub purge: DateTime<Utc>,
    /// The dry-run build whose list the notice carries.
    pub preview: Option<super::build::BuildId>,
}

/// A combination of tags that no decision produces: somebody edited the tags by hand.
///
/// `decide` rejects such a view with [`Rejection::Invalid`](super::Rejection::Invalid)
/// except for an operator reset and for leaving management, which repair it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// `assigned` needs a holder.
    #[error("the account is assigned but has no holder")]
    AssignedWithoutHolder,
    /// Only `vended`, `expired` and `purged` wait for a build.
    #[error("the account is {} but waits for a build", state_name(*.state))]
    BuildOutOfPlace {
        /// The state read.
        state: Option<State>,
    },
    /// `vended` and `purged` wait for a preparation, `expired` for a purge.
    #[error("the account is {} but waits for a {kind} build", state_name(*.state))]
    WrongBuildKind {
        /// The state read.
        state: Option<State>,
        /// The kind of the awaited build.
        kind: super::build::BuildKind,
    },
    /// A build id without its attempt number.
    #[error("the account waits for a build but counts no attempt")]
    BuildWithoutAttempts,
    /// Attempts belong to states that build.
    #[error("the account is {} but counts {attempts} build attempts", state_name(*.state))]
    AttemptsOutOfPlace {
        /// The state read.
        state: Option<State>,
        /// The attempts read.
        attempts: u32,
    },
    /// An assignment belongs to a holder: it ends when the holder is removed.
    #[error("the account records the start of an assignment but has no holder")]
    AssignmentWithoutHolder,
    /// An unmanaged or pool (`prepared`) account is in no assignment: leaving
    /// management ends it, and a pool account is assigned as soon as it has a holder.
    #[error("the account is {} but records the start of an assignment", state_name(*.state))]
    AssignmentOutOfPlace {
        /// The state read.
        state: Option<State>,
    },
    /// `frozen` says what it was frozen from, and only `frozen` does.
    #[error("the account is {} but {}", state_name(*.state), if *.frozen_from { "says what it was frozen from" } else { "does not say what it was frozen from" })]
    FrozenFromOutOfPlace {
        /// The state read.
        state: Option<State>,
        /// Whether a frozen-from tag is there.
        frozen_from: bool,
    },
    /// A transaction is open only while the account is not ready (or quarantined).
    #[error("the account is {} but has an open {kind} transaction", state_name(*.state))]
    TransactionOutOfPlace {
        /// The state read.
        state: Option<State>,
        /// The kind of the transaction.
        kind: TransactionKind,
    },
}

impl AccountView {
    /// Checks that the tags hold together (see [`Inconsistency`]).
    pub fn check(&self) -> Result<(), Inconsistency> {
        let state = self.state;
        let builds = state.is_some_and(State::builds);
        if state == Some(State::Assigned) && self.holder.is_none() {
            return Err(Inconsistency::AssignedWithoutHolder);
        }
        if (state == Some(State::Frozen)) != self.frozen_from.is_some() {
            return Err(Inconsistency::FrozenFromOutOfPlace {
                state,
                frozen_from: self.frozen_from.is_some(),
            });
        }
        if self.assigned_since.is_some() {
            if self.holder.is_none() {
                return Err(Inconsistency::AssignmentWithoutHolder);
            }
            if matches!(state, None | Some(State::Prepared)) {
                return Err(Inconsistency::AssignmentOutOfPlace { state });
            }
        }
        if let Some(build) = &self.build {
            if !builds {
                return Err(Inconsistency::BuildOutOfPlace { state });
            }
            let expected = if state == Some(State::Expired) {
                super::build::BuildKind::Purge
            } else {
                super::build::BuildKind::Preparation
            };
            if build.kind != expected {
                return Err(Inconsistency::WrongBuildKind {
                    state,
                    kind: build.kind,
                });
            }
            if self.attempts == 0 {
                return Err(Inconsistency::BuildWithoutAttempts);
            }
        }
        if self.attempts > 0 && !builds {
            return Err(Inconsistency::AttemptsOutOfPlace {
                state,
                attempts: self.attempts,
            });
        }
        if let Some(transaction) = &self.transaction {
            let open_ok = builds || state == Some(State::Quarantined);
            if !open_ok {
                return Err(Inconsistency::TransactionOutOfPlace {
                    state,
                    kind: transaction.kind,
                });
            }
        }
        Ok(())
    }

    /// Whether `{prefix}assigned-since` is there when it should not be (see
    /// [`Inconsistency::AssignmentWithoutHolder`] and [`Inconsistency::AssignmentOutOfPlace`]).
    pub(super) fn stray_assignment(&self) -> bool {
        self.assigned_since.is_some()
            && (self.holder.is_none() || matches!(self.state, None | Some(State::Prepared)))
    }

    /// The end of the cooldown when it is still running at `at`: a new holder waits for
    /// it. An assignment that goes on through maintenance is not held back by it (the
    /// cooldown is between holders), so an account in one shows none.
    pub fn cooling(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let in_assignment = self.assigned_since.is_some() || self.state == Some(State::Assigned);
        self.cooldown_until
            .filter(|until| *until > at && !in_assignment)
    }

    /// When the current assignment started: `{prefix}assigned-since`, or, on an account
    /// assigned before spa wrote it, when it entered `assigned`.
    pub fn assignment_start(&self) -> Option<DateTime<Utc>> {
        self.assigned_since
            .or(self.since.filter(|_| self.state == Some(State::Assigned)))
    }

    /// When the lease of the holder ends: `{prefix}lease-until`, else the start of the
    /// assignment plus `lease`; `None` without holder or lease.
    pub fn lease_end(&self, lease: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
        self.holder.as_ref()?;
        let start = self.assignment_start()?;
        let computed = after(start, lease?);
        self.lease_until.or(computed)
    }

    /// The latest end a lease may be given: the start of the assignment plus the
    /// lease plus `extension`; `None` without holder or lease.
    pub fn lease_limit(
        &self,
        lease: Option<std::time::Duration>,
        extension: Option<std::time::Duration>,
    ) -> Option<DateTime<Utc>> {
        self.holder.as_ref()?;
        let start = self.assignment_start()?;
        let end = after(start, lease?)?;
        after(end, extension.unwrap_or_default())
    }

    /// Whether a holder waits for the account to be given to them: the account is in
    /// the pool (`prepared`) with a holder named during its cooldown. The sweeper
    /// assigns it when the cooldown ends.
    pub fn holder_waits(&self) -> bool {
        self.state == Some(State::Prepared)
            && self.holder.is_some()
            && self.assigned_since.is_none()
    }

    /// The next purge of an assigned account seen at `at`: the end of the holder's
    /// snooze when there is one, else the earlier of the next maintenance window and
    /// the lease end (`None`: not assigned, or neither is known).
    pub fn next_purge(
        &self,
        at: DateTime<Utc>,
        policy: &super::policy::Policy,
    ) -> Option<DateTime<Utc>> {
        if self.state != Some(State::Assigned) || self.closing.is_some() {
            return None;
        }
        if let Some(until) = self.snoozed_until {
            return Some(until);
        }
        let window = policy
            .maintenance_window
            .as_ref()
            .and_then(|window| window.next_after(at));
        let lease_end = self.lease_end(policy.lease);
        match (window, lease_end) {
            (Some(window), Some(lease)) => Some(window.min(lease)),
            (window, lease) => window.or(lease),
        }
    }

    /// When the holder of an assigned account is to be told of its next purge, seen at
    /// `at`: `purge_notice.before` the next purge, unless that purge was announced
    /// already (or snoozed: the holder knows), with the purge it is for.
    pub fn notice_due(
        &self,
        at: DateTime<Utc>,
        policy: &super::policy::Policy,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let notice = policy.purge_notice?;
        if self.snoozed_until.is_some() || self.holder.is_none() {
            return None;
        }
        let purge = self.next_purge(at, policy)?;
        if self.notice.as_ref().is_some_and(|n| n.purge == purge) {
            return None;
        }
        let before = chrono::TimeDelta::from_std(notice.before).ok()?;
        Some((purge.checked_sub_signed(before)?, purge))
    }

    /// The dry run of a pre-purge notice whose end spa still waits for (the holder is
    /// not told yet), and when the sweeper should ask CodeBuild about it, seen at `at`:
    /// the maintenance deadline after the notice was due (or after `at`, when it started
    /// late), at the latest the purge.
    pub fn preview_pending(
        &self,
        at: DateTime<Utc>,
        policy: &super::policy::Policy,
    ) -> Option<(&super::build::BuildId, DateTime<Utc>)> {
        if self.state != Some(State::Assigned) {
            return None;
        }
        let notice = self.notice.as_ref()?;
        let preview = notice.preview.as_ref()?;
        let before = policy
            .purge_notice
            .and_then(|n| chrono::TimeDelta::from_std(n.before).ok())
            .unwrap_or_default();
        let grace = chrono::TimeDelta::from_std(policy.maintenance_deadline).unwrap_or_default();
        let ask = notice
            .purge
            .checked_sub_signed(before)
            .and_then(|due| due.max(at).checked_add_signed(grace))
            .map_or(notice.purge, |ask| ask.min(notice.purge));
        Some((preview, ask))
    }

    /// Whether preparation or purge work is under way (a build started or awaited).
    pub fn working(&self) -> bool {
        self.build.is_some() || self.attempts > 0
    }
}

/// `at` + `duration`, if it can be told.
fn after(at: DateTime<Utc>, duration: std::time::Duration) -> Option<DateTime<Utc>> {
    chrono::TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
}
