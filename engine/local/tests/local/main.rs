//! The local runtime and the use cases end to end on the emulator: seeding, the lifecycle, dead letters, the Slack command, and the resilience runs under injected faults.
//!
//! One test binary per crate: each module was a binary of its own, and every binary
//! linked the whole SDK again.

mod aws_scans;
mod aws_seed;
mod dead_letters;
mod local_runtime;
mod resilience;
mod slack_commands;
mod slack_requests;
mod spend_stop;
