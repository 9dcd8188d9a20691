//! Tests of the lifecycle: the (state x trigger) table, focused cases, the codec and
//! property tests over random trigger sequences.
#![allow(clippy::unwrap_used)]

mod close;
mod codec;
mod cooldown;
mod focused;
mod props;
mod purge_notice;
mod table;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

/// 2025-03-01T08:00:00Z: the instant every fixture starts from.
pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

pub(super) fn hours(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::hours(n)
}

pub(super) fn holder(address: &str) -> Holder {
    Holder::new(address).unwrap()
}

pub(super) fn jane() -> Holder {
    holder("jane.doe@example.com")
}

pub(super) fn john() -> Holder {
    holder("john.roe@example.com")
}

pub(super) fn build_id(id: &str) -> BuildId {
    BuildId::new(id).unwrap()
}

pub(super) fn awaited(kind: BuildKind, id: &str) -> Option<AwaitedBuild> {
    Some(AwaitedBuild {
        kind,
        id: build_id(id),
    })
}

pub(super) fn transaction(kind: TransactionKind) -> Option<Transaction> {
    let deadline = match kind {
        TransactionKind::Onboarding => t0() + hours(2),
        TransactionKind::Maintenance => t0() + hours(4),
    };
    Some(Transaction {
        kind,
        opened: t0(),
        deadline,
    })
}

/// The default policy: preparation and purge on, 3 attempts, 2 h on-boarding, 4 h maintenance.
pub(super) fn policy() -> Policy {
    Policy::default()
}

pub(super) fn at(kind: TriggerKind) -> Trigger {
    Trigger::new(t0() + hours(1), kind)
}

pub(super) fn finished(id: &str, status: BuildStatus) -> TriggerKind {
    TriggerKind::BuildFinished {
        build: build_id(id),
        status,
    }
}

/// Expired during jane's maintenance, waiting for purge build `b-1` at `attempts`.
pub(super) fn expired_purging(attempts: u32) -> AccountView {
    AccountView {
        holder: Some(jane()),
        attempts,
        build: awaited(BuildKind::Purge, "b-1"),
        transaction: transaction(TransactionKind::Maintenance),
        ..managed(State::Expired)
    }
}

/// Assigned to jane at t0 (the assignment and the state both start at t0).
pub(super) fn assigned_to_jane() -> AccountView {
    AccountView {
        holder: Some(jane()),
        assigned_since: Some(t0()),
        ..managed(State::Assigned)
    }
}

pub(super) fn managed(state: State) -> AccountView {
    AccountView {
        state: Some(state),
        since: Some(t0()),
        ..AccountView::default()
    }
}

/// Labels of the events a decision emits.
pub(super) fn events(decision: &Decision) -> Vec<Label> {
    decision.events().collect()
}
