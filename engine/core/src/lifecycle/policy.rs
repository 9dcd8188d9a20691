//! What the lifecycle needs to know of the resolved settings of one account.
//!
//! `settings` builds it (`Resolved::policy`); the transition function reads it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::schedule::Schedule;

/// The pre-purge notice of an account (`purge_notice` in the settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticePolicy {
    /// How long before its purge the holder is told.
    pub before: Duration,
    /// The longest the holder may put the purge off, once.
    pub snooze: Duration,
}

/// The resolved settings of one account, as the lifecycle sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Whether a preparation build runs (`preparation.feature: enabled`).
    pub preparation: bool,
    /// Whether a purge build runs (`purge.feature: enabled`).
    pub purge: bool,
    /// Whether the purge only lists what it would delete (`PURGE_MODE` is not
    /// `--no-dry-run`): its success quarantines the account (`PurgeDryRun`) instead of
    /// handing it on as purged.
    pub purge_dry_run: bool,
    /// Build attempts of one transition before the account is `quarantined` (at least 1).
    pub max_attempts: u32,
    /// Tags set on the account when it is `vended`.
    pub account_tags: BTreeMap<String, String>,
    /// Tag keys removed from the account when it is `vended`.
    pub unset_tags: Vec<String>,
    /// Whether a budget is ensured when the account is `prepared`.
    pub budget: bool,
    /// Longest assignment before the account expires (`None`: no lease).
    pub lease: Option<Duration>,
    /// How long after a purge no new holder is given the account (`None`: none).
    pub cooldown: Option<Duration>,
    /// How much later than its lease an assignment may end, in all (`None`: never).
    pub lease_extension: Option<Duration>,
    /// The pre-purge notice and its snooze (`None`: no notice, no snooze).
    pub purge_notice: Option<NoticePolicy>,
    /// When the maintenance window fires (`None`: a `rate()`, whose next firing spa
    /// cannot know; only the lease end is then noticed).
    pub maintenance_window: Option<Schedule>,
    /// Where a closed account goes: `None`, closed in Organizations (`CloseAccount`);
    /// a unit, moved there (the suspended unit, outside the managed ones).
    pub suspended_unit: Option<String>,
    /// Deadline of the on-boarding transaction (`vended` -> `assigned`).
    pub onboarding_deadline: Duration,
    /// Deadline of the maintenance transaction (`expired` -> `assigned`).
    pub maintenance_deadline: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            preparation: true,
            purge: true,
            purge_dry_run: false,
            max_attempts: 3,
            account_tags: BTreeMap::new(),
            unset_tags: Vec::new(),
            budget: false,
            lease: None,
            lease_extension: None,
            cooldown: None,
            purge_notice: None,
            maintenance_window: None,
            suspended_unit: None,
            onboarding_deadline: Duration::from_secs(2 * 3600),
            maintenance_deadline: Duration::from_secs(4 * 3600),
        }
    }
}
