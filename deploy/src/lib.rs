//! The library half of the `spa` command line: what its commands and its tests share
//! without going through the binary.
//!
//! - [`synth`]: the CloudFormation templates of a deployment, and the checks they keep.
//! - [`package`]: the Lambda zip (`bootstrap` and the buildspecs), checked for its architecture.
//! - [`release`]: the resolved settings document the functions read from SSM.
//! - [`slack_server`]: the Slack slash command endpoint on a local port (`spa slack serve`).

pub mod package;
pub mod release;
pub mod slack_server;
pub mod synth;
