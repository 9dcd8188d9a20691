//! Resolution: the settings of one account or organizational unit, from the chain
//! defaults <- listed ancestor OUs (root first, nearest last) <- the item itself.
//!
//! Maps (`account_tags`, build `variables`, `budget`, `preparation`, `purge`) merge key
//! by key; lists (`unset_tags`, `thresholds`) and scalars are replaced.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::schema::{
    BudgetSpec, Build, Currency, Email, Feature, GuardrailsSpec, Item, PurgeNotice, RequestsSpec,
    Settings, SpendGuardSpec, SpendMeasure, SpendThreshold, duration,
};
use crate::lifecycle::Policy;

/// Attempts of a build before quarantine when no item says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Budget alert thresholds (percent) when no item says otherwise.
pub const DEFAULT_THRESHOLDS: [f64; 2] = [80.0, 100.0];

/// Overlays `top` on `base`, in place.
pub fn merge(base: &mut Item, top: &Item) {
    if top.note.is_some() {
        base.note.clone_from(&top.note);
    }
    base.account_tags
        .extend(top.account_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    if top.unset_tags.is_some() {
        base.unset_tags.clone_from(&top.unset_tags);
    }
    if let Some(top_budget) = &top.budget {
        let budget = base.budget.get_or_insert_with(BudgetSpec::default);
        if top_budget.amount.is_some() {
            budget.amount = top_budget.amount;
        }
        if top_budget.currency.is_some() {
            budget.currency.clone_from(&top_budget.currency);
        }
        if top_budget.thresholds.is_some() {
            budget.thresholds.clone_from(&top_budget.thresholds);
        }
    }
    merge_build(&mut base.preparation, top.preparation.as_ref());
    merge_build(&mut base.purge, top.purge.as_ref());
    merge_spend_guard(&mut base.spend_guard, top.spend_guard.as_ref());
    if top.max_attempts.is_some() {
        base.max_attempts = top.max_attempts;
    }
    if top.lease.is_some() {
        base.lease = top.lease;
    }
    if top.cooldown.is_some() {
        base.cooldown = top.cooldown;
    }
    if top.lease_extension.is_some() {
        base.lease_extension = top.lease_extension;
    }
    if let Some(top) = &top.requests {
        let base = base.requests.get_or_insert_with(RequestsSpec::default);
        if top.feature.is_some() {
            base.feature = top.feature;
        }
        if top.approvers.is_some() {
            base.approvers.clone_from(&top.approvers);
        }
        if top.expiry.is_some() {
            base.expiry = top.expiry;
        }
        if top.per_holder.is_some() {
            base.per_holder = top.per_holder;
        }
    }
    if top.purge_notice.is_some() {
        base.purge_notice = top.purge_notice;
    }
    if top.suspended_unit.is_some() {
        base.suspended_unit.clone_from(&top.suspended_unit);
    }
    if top.cost_center.is_some() {
        base.cost_center.clone_from(&top.cost_center);
    }
    if let Some(top) = &top.guardrails {
        let base = base.guardrails.get_or_insert_with(GuardrailsSpec::default);
        if top.feature.is_some() {
            base.feature = top.feature;
        }
        if top.allowed_regions.is_some() {
            base.allowed_regions.clone_from(&top.allowed_regions);
        }
        if top.denied_actions.is_some() {
            base.denied_actions.clone_from(&top.denied_actions);
        }
        if top.denied_instance_types.is_some() {
            base.denied_instance_types
                .clone_from(&top.denied_instance_types);
        }
    }
}

fn merge_spend_guard(base: &mut Option<SpendGuardSpec>, top: Option<&SpendGuardSpec>) {
    let Some(top) = top else { return };
    let base = base.get_or_insert_with(SpendGuardSpec::default);
    if top.feature.is_some() {
        base.feature = top.feature;
    }
    if top.thresholds.is_some() {
        base.thresholds.clone_from(&top.thresholds);
    }
}

fn merge_build(base: &mut Option<Build>, top: Option<&Build>) {
    let Some(top) = top else { return };
    let base = base.get_or_insert_with(Build::default);
    if top.feature.is_some() {
        base.feature = top.feature;
    }
    base.variables
        .extend(top.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
    if top.buildspec.is_some() {
        base.buildspec.clone_from(&top.buildspec);
    }
}

/// Whether an account or unit is in the settings, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An account.
    Account,
    /// An organizational unit.
    OrganizationalUnit,
}

/// The resolved budget of an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// Monthly amount.
    pub amount: f64,
    /// Currency of the amount.
    pub currency: Currency,
    /// Alert thresholds in percent.
    pub thresholds: Vec<f64>,
}

/// A resolved build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildPlan {
    /// Whether the build runs (`feature: enabled`; disabled unless asked).
    pub enabled: bool,
    /// Environment variables of the build.
    pub variables: BTreeMap<String, String>,
    /// Buildspec file, relative to the settings file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildspec: Option<String>,
}

/// Purge variable: `--dry-run` (list only: the default) or `--no-dry-run` (delete).
pub const PURGE_MODE: &str = "PURGE_MODE";
/// The `PURGE_MODE` that deletes.
pub const NO_DRY_RUN: &str = "--no-dry-run";

impl BuildPlan {
    /// Whether this purge only lists what it would delete: `PURGE_MODE` is not
    /// `--no-dry-run` (a value the purge refuses never deletes either).
    pub fn dry_run(&self) -> bool {
        self.variables.get(PURGE_MODE).map(|v| v.trim()) != Some(NO_DRY_RUN)
    }

    fn from(build: Option<&Build>) -> Self {
        match build {
            Some(build) => Self {
                enabled: build.feature == Some(Feature::Enabled),
                variables: build.variables.clone(),
                buildspec: build.buildspec.clone(),
            },
            None => Self::default(),
        }
    }
}

/// Resolved guardrails: what the service control policies of a unit or account deny.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Guardrails {
    /// Whether spa attaches its policies.
    pub enabled: bool,
    /// The only regions holders may act in (empty: every region).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_regions: Vec<String>,
    /// Services (`sagemaker`) or actions (`bedrock:Create*`) denied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_actions: Vec<String>,
    /// EC2 instance types (globs) that may not run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_instance_types: Vec<String>,
}

impl Guardrails {
    fn from(spec: Option<&GuardrailsSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        let texts = |list: Option<Vec<String>>| {
            let mut list = list.unwrap_or_default();
            let mut seen = std::collections::BTreeSet::new();
            list.retain(|item| seen.insert(item.clone()));
            list
        };
        Self {
            enabled: spec.feature == Some(Feature::Enabled),
            allowed_regions: texts(
                spec.allowed_regions
                    .as_ref()
                    .map(|l| l.iter().map(|r| r.as_str().to_owned()).collect()),
            ),
            denied_actions: texts(
                spec.denied_actions
                    .as_ref()
                    .map(|l| l.iter().map(|a| a.as_str().to_owned()).collect()),
            ),
            denied_instance_types: texts(
                spec.denied_instance_types
                    .as_ref()
                    .map(|l| l.iter().map(|t| t.as_str().to_owned()).collect()),
            ),
        }
    }
}

/// The resolved spend guard of an account.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpendGuard {
    /// Whether spa watches the calls that start spending.
    pub enabled: bool,
    /// The thresholds, in the order of the settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<SpendThreshold>,
}

impl SpendGuard {
    /// Whether a line needs what the month cost so far (Cost Explorer).
    pub fn needs_actuals(&self) -> bool {
        self.enabled
            && self.thresholds.iter().any(|t| {
                matches!(
                    t.when,
                    SpendMeasure::ProjectedMonth | SpendMeasure::ActualMonth
                )
            })
    }

    fn from(spec: Option<&SpendGuardSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            enabled: spec.feature == Some(Feature::Enabled),
            thresholds: spec.thresholds.clone().unwrap_or_default(),
        }
    }
}

/// `/spa request` on a unit, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// Whether its pool accounts may be asked for.
    pub enabled: bool,
    /// Who approves (Slack user ids); empty: granted at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// How long a request waits for an approver.
    #[serde(with = "duration")]
    pub expiry: Duration,
    /// How many accounts one person may hold through requests at once.
    pub per_holder: u32,
}

/// How long a request waits for an approver when no item says.
pub const DEFAULT_REQUEST_EXPIRY: Duration = Duration::from_secs(24 * 3_600);

impl Default for Requests {
    fn default() -> Self {
        Self::from(None)
    }
}

impl Requests {
    fn from(spec: Option<&RequestsSpec>) -> Self {
        let spec = spec.cloned().unwrap_or_default();
        Self {
            enabled: spec.feature == Some(Feature::Enabled),
            approvers: spec.approvers.unwrap_or_default(),
            expiry: spec.expiry.unwrap_or(DEFAULT_REQUEST_EXPIRY),
            per_holder: spec.per_holder.unwrap_or(1).max(1),
        }
    }
}

impl SpendThreshold {
    /// What is measured, in words, and the line: (`hourly burn`, `100`).
    pub fn measure(&self) -> (&'static str, String) {
        let what = match self.when {
            SpendMeasure::HourlyBurn => "hourly burn",
            SpendMeasure::ProjectedMonth => "projected month",
            SpendMeasure::ActualMonth => "actual month",
            SpendMeasure::ProjectedLease => "projected lease",
        };
        (what, self.over.to_string())
    }
}

/// The settings of one account or organizational unit, after inheritance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// Account id or OU id.
    pub identifier: String,
    /// Account or organizational unit.
    pub kind: Kind,
    /// The items applied, in order: `defaults`, then ids.
    pub chain: Vec<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Holder (accounts only, when the settings name one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<Email>,
    /// Tags set when the account is vended (the cost center tag not included).
    pub account_tags: BTreeMap<String, String>,
    /// Tag keys removed when the account is vended.
    pub unset_tags: Vec<String>,
    /// The budget, when an amount is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The preparation build.
    pub preparation: BuildPlan,
    /// The purge build.
    pub purge: BuildPlan,
    /// Attempts before quarantine.
    pub max_attempts: u32,
    /// Longest assignment.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub lease: Option<Duration>,
    /// How long a purged account waits before a new holder is given it.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Duration>,
    /// How much later than its lease an assignment may end, in all.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub lease_extension: Option<Duration>,
    /// `/spa request` on this unit.
    pub requests: Requests,
    /// The pre-purge notice and its snooze (none: no notice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge_notice: Option<PurgeNotice>,
    /// The maintenance window (`automation.maintenance_window`), evaluated (none: a
    /// `rate()` or an expression that could not be read).
    #[serde(skip)]
    pub maintenance_window: Option<crate::lifecycle::Schedule>,
    /// Where `spa close` moves the account (none: `CloseAccount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_unit: Option<String>,
    /// Cost center.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// Key of the cost-center tag.
    pub cost_center_tag: String,
    /// The service control policies' settings.
    pub guardrails: Guardrails,
    /// The spend guard.
    pub spend_guard: SpendGuard,
    /// Deadline of on-boarding.
    #[serde(with = "duration")]
    pub onboarding_deadline: Duration,
    /// Deadline of maintenance.
    #[serde(with = "duration")]
    pub maintenance_deadline: Duration,
}

impl Resolved {
    /// What the lifecycle needs of these settings.
    ///
    /// The cost center, when known, is one of the `account_tags` (under `cost_center_tag`).
    pub fn policy(&self) -> Policy {
        let mut account_tags = self.account_tags.clone();
        if let Some(cost_center) = &self.cost_center {
            account_tags.insert(self.cost_center_tag.clone(), cost_center.clone());
        }
        Policy {
            preparation: self.preparation.enabled,
            purge: self.purge.enabled,
            purge_dry_run: self.purge.dry_run(),
            max_attempts: self.max_attempts.max(1),
            account_tags,
            unset_tags: self.unset_tags.clone(),
            budget: self.budget.is_some(),
            lease: self.lease,
            cooldown: self.cooldown,
            lease_extension: self.lease_extension,
            purge_notice: self.purge_notice.map(|n| crate::lifecycle::NoticePolicy {
                before: n.before,
                snooze: n.snooze,
            }),
            maintenance_window: self.maintenance_window.clone(),
            suspended_unit: self.suspended_unit.clone(),
            onboarding_deadline: self.onboarding_deadline,
            maintenance_deadline: self.maintenance_deadline,
        }
    }
}

impl Settings {
    /// Whether the spend guard is turned on anywhere: the defaults, a listed unit or a
    /// listed account (where it is on, the resolved settings say).
    pub fn spend_guard_anywhere(&self) -> bool {
        let on = |item: &super::schema::Item| {
            item.spend_guard.as_ref().and_then(|guard| guard.feature)
                == Some(super::schema::Feature::Enabled)
        };
        on(&self.defaults)
            || self.organizational_units.iter().any(|unit| on(&unit.item))
            || self.accounts.iter().any(|account| on(&account.item))
    }

    /// The listed organizational unit `ou_id`, if any.
    pub fn organizational_unit(&self, ou_id: &str) -> Option<&super::schema::OrganizationalUnit> {
        self.organizational_units
            .iter()
            .find(|ou| ou.identifier.as_str() == ou_id)
    }

    /// The listed account `account_id`, if any.
    pub fn account(&self, account_id: &str) -> Option<&super::schema::Account> {
        self.accounts
            .iter()
            .find(|a| a.identifier.as_str() == account_id)
    }

    /// Whether spa manages the account: listed under `accounts`, or under a listed OU.
    ///
    /// `ancestors`: the account's parent OU first, then its parent, up to the root.
    pub fn is_managed(&self, account_id: &str, ancestors: &[String]) -> bool {
        self.account(account_id).is_some()
            || ancestors
                .iter()
                .any(|id| self.organizational_unit(id).is_some())
    }

    /// The settings of an account, or `None` when spa does not manage it.
    ///
    /// `ancestors`: the account's parent OU first, then its parent, up to the root.
    /// Without a live OU tree (`&[]`), a listed account resolves as defaults <- account.
    pub fn resolve_account(&self, account_id: &str, ancestors: &[String]) -> Option<Resolved> {
        let account = self.account(account_id);
        if !self.is_managed(account_id, ancestors) {
            return None;
        }
        let (mut item, mut chain) = self.inherited(ancestors);
        if let Some(account) = account {
            merge(&mut item, &account.item);
            chain.push(account_id.to_owned());
        }
        Some(self.finish(
            account_id,
            Kind::Account,
            item,
            chain,
            account.and_then(|a| a.holder.clone()),
        ))
    }

    /// The settings of an organizational unit, or `None` when neither it nor an ancestor is listed.
    ///
    /// `ancestors`: the unit's parent first, up to the root.
    pub fn resolve_ou(&self, ou_id: &str, ancestors: &[String]) -> Option<Resolved> {
        let unit = self.organizational_unit(ou_id);
        if unit.is_none()
            && !ancestors
                .iter()
                .any(|id| self.organizational_unit(id).is_some())
        {
            return None;
        }
        let (mut item, mut chain) = self.inherited(ancestors);
        if let Some(unit) = unit {
            merge(&mut item, &unit.item);
            chain.push(ou_id.to_owned());
        }
        Some(self.finish(ou_id, Kind::OrganizationalUnit, item, chain, None))
    }

    /// Defaults, then every listed ancestor from the root down (nearest last).
    fn inherited(&self, ancestors: &[String]) -> (Item, Vec<String>) {
        let mut item = self.defaults.clone();
        let mut chain = vec!["defaults".to_owned()];
        for id in ancestors.iter().rev() {
            if let Some(unit) = self.organizational_unit(id) {
                merge(&mut item, &unit.item);
                chain.push(id.clone());
            }
        }
        (item, chain)
    }

    fn finish(
        &self,
        identifier: &str,
        kind: Kind,
        item: Item,
        chain: Vec<String>,
        holder: Option<Email>,
    ) -> Resolved {
        let budget = item.budget.as_ref().and_then(|b| {
            Some(Budget {
                amount: b.amount?,
                currency: b
                    .currency
                    .clone()
                    .unwrap_or_else(|| Currency("USD".to_owned())),
                thresholds: b
                    .thresholds
                    .as_ref()
                    .map(|t| t.iter().map(|p| p.0).collect())
                    .unwrap_or_else(|| DEFAULT_THRESHOLDS.to_vec()),
            })
        });
        Resolved {
            identifier: identifier.to_owned(),
            kind,
            chain,
            note: item.note,
            holder,
            account_tags: item.account_tags,
            unset_tags: item.unset_tags.unwrap_or_default(),
            budget,
            preparation: BuildPlan::from(item.preparation.as_ref()),
            purge: BuildPlan::from(item.purge.as_ref()),
            max_attempts: item.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
            lease: item.lease,
            cooldown: item.cooldown,
            lease_extension: item.lease_extension,
            requests: Requests::from(item.requests.as_ref()),
            purge_notice: item.purge_notice,
            maintenance_window: crate::lifecycle::Schedule::parse(
                &self.automation.maintenance_window.0,
            )
            .ok(),
            suspended_unit: item.suspended_unit.map(|unit| unit.0),
            cost_center: item.cost_center,
            cost_center_tag: self.automation.cost_center_tag.clone(),
            guardrails: Guardrails::from(item.guardrails.as_ref()),
            spend_guard: SpendGuard::from(item.spend_guard.as_ref()),
            onboarding_deadline: self.metering.onboarding_deadline,
            maintenance_deadline: self.metering.maintenance_deadline,
        }
    }
}
