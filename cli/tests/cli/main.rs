//! The `spa` binary, run as an operator or CI would run it: one test binary, so the
//! SDK is linked once for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod commands;
mod deploy;
mod live;
mod package;
mod slack_serve;
mod synth;
