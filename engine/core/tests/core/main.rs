//! The pure core read from outside: every reference event decoded, no input panics, the fuzz checks on their seeds and regressions, the reports read back, and the architecture rules the compiler cannot see.
//!
//! One test binary per crate: each module was a binary of its own, and every binary
//! linked the whole SDK again.

mod architecture;
mod events_fixtures;
mod events_proptest;
mod fuzz_targets;
mod reports_account;
mod reports_monthly;
