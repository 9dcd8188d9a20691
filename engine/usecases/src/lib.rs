//! spa's use cases: one module per reaction, each taking the ports of a
//! [`Platform`](crate::ports::Platform) through an [`Engine`] and returning what it
//! did as an [`Outcome`]. The [`ports`] are the traits the use cases need from the
//! outside world; `spa-aws` implements them on AWS, `ports::memory` in memory (for
//! tests: this crate's own, and with the feature `testing` other crates'). This crate
//! names no SDK crate.
//!
//! Every reaction that moves an account goes through [`Engine::apply`] (claim,
//! re-read tags, resolve settings, decide, carry out); [`dispatch()`] routes whatever a
//! function was handed to the right reaction.

pub mod apply;
mod bounded;
pub mod budget;
pub mod context;
pub mod dead_letters;
pub mod error;
mod exceptions;
pub mod holders;
mod lease;
pub mod ports;
pub mod resolve;
pub mod retry;

pub use apply::{Outcome, Verdict, idempotency_token};
pub use context::{Buildspecs, Engine};
pub use error::{Context, UseCaseError};
pub use retry::Retry;
pub mod digest;
pub mod dispatch;
pub mod fanout;
pub mod find;
pub mod handler;
pub mod keys;
pub mod managed;
pub mod on_build_finished;
pub mod on_command;
pub mod on_notice;
pub mod on_organization_event;
pub mod on_signal;
pub mod on_spending;

pub use dead_letters::{ARCHIVE_PREFIX, archive_key, on_dead_letter, on_dead_letters};
pub use digest::{daily_digest, on_digest_job, read_digest};
pub use dispatch::{Dispatched, dispatch};
pub use fanout::{SWEEP_INLINE, on_maintenance_window, on_sweep};
pub use find::{
    FindQuery, FindQueryError, FindReport, Found, SearchFailure, find_instances,
    find_instances_with,
};
pub use handler::{HandleError, Handled, accept, function_for, handle, handle_accepted};
pub use keys::{
    KeyFinding, KeyScanReport, on_access_key_scan, scan_access_keys, scan_access_keys_with,
};
pub use managed::{ManagedAccount, managed_accounts};
pub use on_build_finished::on_build_finished;
pub use on_command::on_command;
pub use on_notice::on_notice;
pub use on_organization_event::on_organization_event;
pub use reports::{Output, Period, ReportRun, on_report_job, report_accounts, run_report};
pub use residual::{ResidualPolicy, residual_costs};
pub mod operator;
pub mod prices;
pub mod reconcile;
pub mod relay;
pub mod reports;
pub mod requests;
pub mod residual;
pub mod slack;
pub mod snooze;
pub use snooze::{SnoozeOutcome, Snoozer, snooze, snooze_for};
pub mod trust;

#[cfg(test)]
mod tests;
