//! The words every module of the core shares, and that depend on nothing else of spa:
//! account and event ids (with the masking of addresses), the labels of what happens to
//! an account, the status of a build. Kept apart so that the modules above form no
//! cycle (`events` reads `lifecycle`'s states, `lifecycle` reads these words); `events`
//! re-exports them, so `spa_core::events::{AccountId, Label, BuildStatus}` keep working.

mod build_status;
mod ids;
pub mod label;

pub use build_status::BuildStatus;
pub use ids::{AccountId, EventId, Sensitive, mask, redact_emails};
pub use label::{Label, LabelKind, UnknownLabel};
