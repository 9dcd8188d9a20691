//! The member footprint: what spa keeps in each member account so that builds run
//! there and their results come back (pure: names, documents, patterns; the `aws/`
//! adapter ensures it exists).
//!
//! Every name is scoped by the settings' `environment_identifier`, so that two
//! environments of spa never collide in one member account.

use std::collections::BTreeMap;

use crate::lifecycle::BuildKind;

/// Everything spa ensures in one member account before a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The settings' `environment_identifier`.
    pub environment: String,
    /// The CodeBuild service role (name, in the member account).
    pub service_role: String,
    /// The preparation project.
    pub prepare: Project,
    /// The purge project.
    pub purge: Project,
    /// The rules that forward events of the member account to the engine's bus.
    pub rules: Vec<ForwardingRule>,
}

impl Footprint {
    /// The project of a build kind.
    pub fn project(&self, kind: BuildKind) -> &Project {
        match kind {
            BuildKind::Preparation => &self.prepare,
            BuildKind::Purge => &self.purge,
        }
    }
}

/// A CodeBuild project in the member account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Its name.
    pub name: String,
    /// The buildspec, inline (YAML text).
    pub buildspec: String,
    /// Environment variables set on the project (overridden per build by the request).
    pub variables: BTreeMap<String, String>,
    /// Build timeout in minutes.
    pub timeout_minutes: u32,
}

/// An EventBridge rule in the member account, whose target is the engine's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingRule {
    /// Its name.
    pub name: String,
    /// The event pattern (JSON text).
    pub pattern: String,
    /// The ARN of the engine's bus in the automation account.
    pub target_bus_arn: String,
    /// The role EventBridge assumes to put events on another account's bus (name).
    pub role: String,
}
