//! The use-case context: the platform, the settings and what derives from them once
//! (the tag codec, spa's own principals, the footprint inputs, the retry policy).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::error::UseCaseError;
use crate::Retry;
use crate::ports::{Clock, Platform};
use spa_core::events::{AccountId, Principal};
use spa_core::footprint::{
    BuildInput, Footprint, FootprintError, build_variables, member_budget_topic_arn,
};
use spa_core::lifecycle::{BuildKind, TagCodec};
use spa_core::rules::Function;
use spa_core::settings::{Resolved, Settings};

pub use spa_core::footprint::Buildspecs;

/// Everything a use case needs besides its input: the ports and the settings.
pub struct Engine<'a, P: Platform> {
    platform: &'a P,
    settings: &'a Settings,
    codec: TagCodec,
    buildspecs: Buildspecs,
    engine_bus_arn: String,
    own_roles: BTreeSet<String>,
    retry: Retry,
    /// How long a claim taken by this invocation is held ([`crate::lease`]).
    lease: Duration,
    /// Whether claims that failed for good are taken again (an operator's replay).
    replay: bool,
    /// What went wrong without failing the reaction, by metric name: counted into
    /// the invocation's metrics line (a claim not released, not completed).
    troubles: Mutex<BTreeMap<&'static str, u32>>,
}

impl<'a, P: Platform> Engine<'a, P> {
    /// The context of `settings` on `platform`.
    ///
    /// spa's own principal is the role of `automation.management_role_arn`: tag events
    /// it causes are not reacted to. The engine bus defaults to
    /// `arn:aws:events:<region>:<automation account>:event-bus/<environment>`.
    pub fn new(platform: &'a P, settings: &'a Settings) -> Result<Self, UseCaseError> {
        let automation = &settings.automation;
        let codec = TagCodec::new(&automation.tag_prefix, &automation.cost_center_tag).map_err(
            |error| UseCaseError::Settings {
                reason: error.to_string(),
            },
        )?;
        let own_roles = role_name(automation.management_role_arn.as_str())
            .map(str::to_owned)
            .into_iter()
            .collect();
        Ok(Self {
            platform,
            settings,
            codec,
            buildspecs: Buildspecs::new(),
            engine_bus_arn: format!(
                "arn:aws:events:{}:{}:event-bus/{}",
                automation.region, automation.account_id, settings.environment_identifier
            ),
            own_roles,
            retry: Retry::default(),
            lease: Function::AccountEvents.timeouts().budget,
            replay: false,
            troubles: Mutex::new(BTreeMap::new()),
        })
    }

    /// The buildspec texts by path.
    pub fn with_buildspecs(mut self, buildspecs: Buildspecs) -> Self {
        self.buildspecs = buildspecs;
        self
    }

    /// The SNS topic the budget of member `account` notifies: its own
    /// `<environment>-BudgetAlerts` in the automation region (AWS Budgets notifies only a
    /// topic of the budget's account), made with the budget; the automation account
    /// subscribes the central budget alerts queue to it.
    pub fn member_budget_topic_arn(&self, account: &AccountId) -> String {
        let automation = &self.settings.automation;
        member_budget_topic_arn(
            automation.management_role_arn.partition(),
            automation.region.as_str(),
            account,
            self.environment(),
        )
    }

    /// The response plan of incidents: `features.response_plan_arn`, else the one the
    /// automation stack deploys (`<environment>`).
    pub fn response_plan_arn(&self) -> String {
        match &self.settings.features.response_plan_arn {
            Some(arn) => arn.clone(),
            None => format!(
                "arn:aws:ssm-incidents::{}:response-plan/{}",
                self.settings.automation.account_id, self.settings.environment_identifier
            ),
        }
    }

    /// The ARN of the engine's bus (the target of the member accounts' forwarding rules).
    pub fn with_engine_bus_arn(mut self, arn: impl Into<String>) -> Self {
        self.engine_bus_arn = arn.into();
        self
    }

    /// More roles whose sessions are spa itself (the deployed functions' roles): tag
    /// events they cause are ignored.
    pub fn with_own_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.own_roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// How transient failures are retried within an invocation.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The invocation runs as `function` on Lambda: its claims are held for the
    /// function's budget ([`spa_core::rules::Function::timeouts`]); without it, for the
    /// budget of the lifecycle functions.
    pub fn for_function(mut self, function: Function) -> Self {
        self.lease = function.timeouts().budget;
        self
    }

    /// Claims held this long (tests of the leases).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// An operator's replay (`spa handle FILE`): a cause that failed for good is
    /// handled again.
    pub fn replaying(mut self) -> Self {
        self.replay = true;
        self
    }

    /// How long a claim is held.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Whether failed claims are taken again.
    pub fn is_replay(&self) -> bool {
        self.replay
    }

    /// Counts one trouble under the metric `name`.
    pub fn count_trouble(&self, name: &'static str) {
        let mut troubles = match self.troubles.lock() {
            Ok(troubles) => troubles,
            Err(poisoned) => poisoned.into_inner(),
        };
        *troubles.entry(name).or_insert(0) += 1;
    }

    /// The troubles counted so far, by metric name.
    pub fn troubles(&self) -> BTreeMap<&'static str, u32> {
        match self.troubles.lock() {
            Ok(troubles) => troubles.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The ports.
    pub fn platform(&self) -> &'a P {
        self.platform
    }

    /// The settings.
    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// The tag codec of the settings' prefix and cost-center key.
    pub fn codec(&self) -> &TagCodec {
        &self.codec
    }

    /// The settings' `environment_identifier`.
    pub fn environment(&self) -> &'a str {
        &self.settings.environment_identifier
    }

    /// The retry policy.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// Now, from the clock port.
    pub fn now(&self) -> DateTime<Utc> {
        self.platform.clock().now()
    }

    /// Whether `principal` is spa itself (a session of one of its roles).
    pub fn is_own(&self, principal: &Principal) -> bool {
        match principal {
            Principal::AssumedRole { role_name, .. } => self.own_roles.contains(role_name),
            _ => false,
        }
    }

    /// The footprint of an account with these resolved settings.
    pub fn footprint(&self, resolved: &Resolved) -> Result<Footprint, FootprintError> {
        Footprint::for_account(
            self.settings,
            resolved,
            &self.buildspecs,
            &self.engine_bus_arn,
        )
    }

    /// The variables of a build: the settings' `variables`, then spa's `SPA_*`
    /// contract (see [`spa_core::footprint`]).
    pub fn build_variables(
        &self,
        resolved: &Resolved,
        footprint: &Footprint,
        account: &AccountId,
        kind: BuildKind,
        attempt: u32,
    ) -> Result<BTreeMap<String, String>, FootprintError> {
        build_variables(
            self.settings,
            resolved,
            footprint,
            &BuildInput {
                account,
                kind,
                attempt,
            },
        )
    }

    /// The ARN of the engine's bus.
    pub fn engine_bus_arn(&self) -> &str {
        &self.engine_bus_arn
    }
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/Name` -> `Name`).
fn role_name(arn: &str) -> Option<&str> {
    arn.split_once(":role/")
        .and_then(|(_, path)| path.rsplit('/').next())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_come_from_arns() {
        assert_eq!(
            role_name("arn:aws:iam::222222222222:role/SpaAccountsManagementRole"),
            Some("SpaAccountsManagementRole")
        );
        assert_eq!(role_name("arn:aws:iam::2:role/path/to/Name"), Some("Name"));
        assert_eq!(role_name("arn:aws:iam::2:user/Name"), None);
    }
}
