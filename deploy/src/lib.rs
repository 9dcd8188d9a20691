//! Deployment: what `spa synth`, `spa package` and `spa deploy` make, without the
//! command line (crate `spa`, in `cli/`).
//!
//! - [`synth`]: the CloudFormation templates of a deployment, and the checks they keep.
//! - [`package`]: the Lambda zip (`bootstrap` and the buildspecs), checked for its architecture.
//! - [`release`]: the resolved settings document the functions read from SSM.

pub mod package;
pub mod release;
pub mod synth;
