//! The library half of the `spa` command line: what the binary and its tests share
//! without going through a process.
//!
//! - [`slack_server`]: the Slack slash command endpoint on a local port (`spa slack serve`).

pub mod slack_server;
