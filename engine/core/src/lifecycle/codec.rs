//! The tag codec: account tags <-> [`AccountView`], and commands -> tag changes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};

use super::build::{AwaitedBuild, BuildId, BuildKind};
use super::decide::Command;
use super::holder::Holder;
use super::state::State;
use super::view::{AccountView, PurgeNoticeTag, Transaction, TransactionKind};
use crate::vocabulary::Label;

/// The lifecycle tags, after the prefix.
const STATE: &str = "state";
const SINCE: &str = "since";
const HOLDER: &str = "holder";
const ASSIGNED_SINCE: &str = "assigned-since";
const ATTEMPTS: &str = "attempts";
const BUILD: &str = "build";
const TRANSACTION: &str = "transaction";
const COOLDOWN_UNTIL: &str = "cooldown-until";
const CLOSING: &str = "closing";
const FROZEN_FROM: &str = "frozen-from";
const LEASE_UNTIL: &str = "lease-until";
const SNOOZED_UNTIL: &str = "snoozed-until";
const PURGE_NOTICE: &str = "purge-notice";
const FIELDS: [&str; 13] = [
    STATE,
    SINCE,
    HOLDER,
    ASSIGNED_SINCE,
    ATTEMPTS,
    BUILD,
    TRANSACTION,
    COOLDOWN_UNTIL,
    CLOSING,
    FROZEN_FROM,
    LEASE_UNTIL,
    SNOOZED_UNTIL,
    PURGE_NOTICE,
];

/// Most build attempts a tag may say (far above any sensible `max_attempts`).
const MAX_ATTEMPTS_TAG: u32 = 999;

/// Reads and writes the lifecycle tags of an account.
///
/// | key | value |
/// |---|---|
/// | `{prefix}state` | `vended`, `prepared`, `assigned`, `expired`, `purged`, `quarantined` or `frozen` |
/// | `{prefix}since` | when the state was entered, RFC 3339 UTC to the second: `2025-03-01T08:00:00Z` |
/// | `{prefix}holder` | the holder's e-mail address |
/// | `{prefix}assigned-since` | when the holder was first given the account (kept through maintenance, removed with the holder; the lease counts from here), RFC 3339 UTC to the second |
/// | `{prefix}attempts` | build attempts of the current transition: `1` to `999` |
/// | `{prefix}build` | the awaited build: `preparation/<build id>` or `purge/<build id>` |
/// | `{prefix}transaction` | the open transaction: `onboarding/<opened>/<deadline>` or `maintenance/<opened>/<deadline>` (53 characters at most) |
/// | `{prefix}closing` | when an operator asked spa to close the account (`spa close`): its purge is the last, then the account is closed or parked, RFC 3339 UTC to the second |
/// | `{prefix}cooldown-until` | the end of the cooldown that follows the last purge (no new holder is given the account before), RFC 3339 UTC to the second |
/// | `{prefix}lease-until` | when the assignment ends, when it is not its start plus the lease: a holder extended it (within `lease_extension`) or asked for less (`/spa request 7d`); removed with the holder, RFC 3339 UTC to the second |
/// | `{prefix}frozen-from` | the state a `frozen` account was frozen in, and goes back to when unfrozen: `prepared` or `assigned` |
/// | `{prefix}snoozed-until` | until when the holder put off the purge of this assignment (once per purge; removed when the purge starts), RFC 3339 UTC to the second |
/// | `{prefix}purge-notice` | the purge the holder was last told of: `<instant>/<build id>` while its dry run runs, `<instant>` once told |
/// | `{cost_center_key}` | the cost center, read only |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCodec {
    prefix: String,
    cost_center_key: String,
}

/// Why a prefix or a cost-center key cannot name tags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` cannot name a tag key: {why}")]
pub struct CodecError {
    /// The prefix or key given.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// A tag that does not say what spa expects. Every case is a `Drift`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The state tag names no state.
    #[error(
        "tag `{key}` = `{value}`: unknown state, expected one of vended, prepared, assigned, expired, purged, quarantined, frozen"
    )]
    UnknownState {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The holder tag is not an e-mail address.
    #[error("tag `{key}` = `{value}`: expected the holder's e-mail address ({why})")]
    HolderNotEmail {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The attempts tag is not a count.
    #[error("tag `{key}` = `{value}`: expected a whole number of build attempts from 1 to 999")]
    MalformedAttempts {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The build tag is not `kind/id`.
    #[error("tag `{key}` = `{value}`: expected `preparation/<build id>` or `purge/<build id>`")]
    MalformedBuild {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The transaction tag is not `kind/opened/deadline`.
    #[error(
        "tag `{key}` = `{value}`: expected `onboarding|maintenance/<opened>/<deadline>` with RFC 3339 UTC instants ({why})"
    )]
    MalformedTransaction {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The since tag is not an instant.
    #[error("tag `{key}` = `{value}`: expected an RFC 3339 instant such as 2025-03-01T08:00:00Z")]
    MalformedSince {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The frozen-from tag is not a state an account is frozen in.
    #[error(
        "tag `{key}` = `{value}`: expected the state the account was frozen in, prepared or assigned"
    )]
    MalformedFrozenFrom {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The assigned-since tag is not an instant.
    #[error(
        "tag `{key}` = `{value}`: expected the start of the assignment, an RFC 3339 instant such as 2025-03-01T08:00:00Z"
    )]
    MalformedAssignedSince {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The closing tag is not an instant.
    #[error(
        "tag `{key}` = `{value}`: expected when the close was asked, an RFC 3339 instant such as 2025-03-01T08:00:00Z"
    )]
    MalformedClosing {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The snoozed-until tag is not an instant.
    #[error(
        "tag `{key}` = `{value}`: expected the end of the snooze, an RFC 3339 instant such as 2025-03-01T08:00:00Z"
    )]
    MalformedSnoozedUntil {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The purge-notice tag is not `<instant>[/<build id>]`.
    #[error(
        "tag `{key}` = `{value}`: expected the purge announced, `<RFC 3339 instant>` or `<RFC 3339 instant>/<build id>`"
    )]
    MalformedPurgeNotice {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The cooldown-until tag is not an instant.
    #[error(
        "tag `{key}` = `{value}`: expected the end of the cooldown, an RFC 3339 instant such as 2025-03-01T08:00:00Z"
    )]
    MalformedCooldownUntil {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
    /// The end of the lease is not an RFC 3339 instant.
    #[error(
        "tag `{key}` = `{value}`: expected the end of the lease, an RFC 3339 instant such as 2025-03-01T08:00:00Z"
    )]
    MalformedLeaseUntil {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
}

impl DecodeError {
    /// The exception label of every decoding error.
    pub const fn label(&self) -> Label {
        Label::Drift
    }
}

/// Tags to set and tag keys to remove, disjoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagChanges {
    /// Tags to set (`TagResource`).
    pub set: BTreeMap<String, String>,
    /// Tag keys to remove (`UntagResource`).
    pub remove: BTreeSet<String>,
}

impl TagChanges {
    /// Sets a tag (cancels a removal of the same key).
    pub fn set(&mut self, key: String, value: String) {
        self.remove.remove(&key);
        self.set.insert(key, value);
    }

    /// Removes a tag (cancels a setting of the same key).
    pub fn remove(&mut self, key: String) {
        self.set.remove(&key);
        self.remove.insert(key);
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// The changes still needed on `tags`: drops tags already set to the same value
    /// and removals of absent keys.
    pub fn against(&self, tags: &BTreeMap<String, String>) -> TagChanges {
        TagChanges {
            set: self
                .set
                .iter()
                .filter(|(key, value)| tags.get(*key) != Some(*value))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            // an empty tag is absent already (see [`TagCodec::fold`])
            remove: self
                .remove
                .iter()
                .filter(|key| tags.get(*key).is_some_and(|value| !value.is_empty()))
                .cloned()
                .collect(),
        }
    }

    /// Applies the changes to a tag map (what AWS does with them).
    pub fn apply(&self, tags: &mut BTreeMap<String, String>) {
        for key in &self.remove {
            tags.remove(key);
        }
        for (key, value) in &self.set {
            tags.insert(key.clone(), value.clone());
        }
    }
}

impl Default for TagCodec {
    fn default() -> Self {
        Self {
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            cost_center_key: Self::DEFAULT_COST_CENTER_KEY.to_owned(),
        }
    }
}

/// An instant in tags: RFC 3339, UTC, to the second.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

fn key_ok(key: &str) -> Result<(), &'static str> {
    if key.chars().count() > 128 {
        return Err("expected at most 128 characters in a tag key");
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("the `aws:` prefix is reserved by AWS");
    }
    let allowed = |c: char| {
        c.is_alphanumeric()
            || c == ' '
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    };
    if !key.chars().all(allowed) {
        return Err("expected letters, digits, spaces and `_ . : / = + - @` only");
    }
    Ok(())
}

impl TagCodec {
    /// The prefix of the lifecycle tag keys by default.
    pub const DEFAULT_PREFIX: &'static str = "account-";
    /// The cost-center tag key by default.
    pub const DEFAULT_COST_CENTER_KEY: &'static str = "cost-center";

    /// A codec for a prefix and a cost-center key, checked against AWS tag-key rules.
    pub fn new(prefix: &str, cost_center_key: &str) -> Result<Self, CodecError> {
        let fail = |value: &str, why| CodecError {
            value: value.to_owned(),
            why,
        };
        if prefix.is_empty() {
            return Err(fail(prefix, "expected a non-empty prefix"));
        }
        for field in FIELDS {
            key_ok(&format!("{prefix}{field}")).map_err(|why| fail(prefix, why))?;
        }
        if cost_center_key.is_empty() {
            return Err(fail(cost_center_key, "expected a non-empty key"));
        }
        key_ok(cost_center_key).map_err(|why| fail(cost_center_key, why))?;
        let codec = Self {
            prefix: prefix.to_owned(),
            cost_center_key: cost_center_key.to_owned(),
        };
        if codec.reserved_keys().contains(cost_center_key) {
            return Err(fail(cost_center_key, "this key is a lifecycle tag"));
        }
        Ok(codec)
    }

    /// The prefix of the lifecycle tag keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cost-center tag key.
    pub fn cost_center_key(&self) -> &str {
        &self.cost_center_key
    }

    fn key(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// The key of the state tag (`account-state` by default).
    pub fn state_key(&self) -> String {
        self.key(STATE)
    }

    /// The key of the holder tag (`account-holder` by default).
    pub fn holder_key(&self) -> String {
        self.key(HOLDER)
    }

    /// The changes in as few Organizations calls as they can take: removals of
    /// lifecycle tags that come with writes are written as empty values, which
    /// [`TagCodec::decode`] reads as absent, so that the transition is one
    /// `TagResource` rather than a `TagResource` and an `UntagResource` (each call
    /// takes a slot of the management account's Organizations quota). Removals alone,
    /// and removals of other tags (the settings' `unset_tags`), stay removals.
    pub fn fold(&self, changes: &TagChanges) -> TagChanges {
        if changes.set.is_empty() || changes.remove.is_empty() {
            return changes.clone();
        }
        let reserved = self.reserved_keys();
        let mut folded = TagChanges {
            set: changes.set.clone(),
            remove: Default::default(),
        };
        for key in &changes.remove {
            if reserved.contains(key) {
                folded.set.insert(key.clone(), String::new());
            } else {
                folded.remove.insert(key.clone());
            }
        }
        folded
    }

    /// The keys the lifecycle owns: settings must not set or unset them.
    pub fn reserved_keys(&self) -> BTreeSet<String> {
        FIELDS.iter().map(|field| self.key(field)).collect()
    }

    /// Reads the lifecycle's view of an account from its tags.
    ///
    /// An absent or empty tag means none (an empty holder tag: no holder).
    pub fn decode(&self, tags: &BTreeMap<String, String>) -> Result<AccountView, DecodeError> {
        // an empty lifecycle tag is absent: spa writes a removal that comes with a
        // write as an empty value, in the write's one call ([`TagCodec::fold`])
        let get = |field: &str| {
            let key = self.key(field);
            tags.get(&key)
                .filter(|value| !value.is_empty())
                .map(|value| (key, value.clone()))
        };
        let state = match get(STATE) {
            None => None,
            Some((key, value)) => Some(
                value
                    .parse::<State>()
                    .map_err(|_| DecodeError::UnknownState { key, value })?,
            ),
        };
        let since = match get(SINCE) {
            None => None,
            Some((key, value)) => {
                Some(parse_instant(&value).ok_or(DecodeError::MalformedSince { key, value })?)
            }
        };
        let holder = match get(HOLDER) {
            None => None,
            Some((key, value)) => {
                Some(
                    Holder::new(&value).map_err(|error| DecodeError::HolderNotEmail {
                        key,
                        value,
                        why: error.why,
                    })?,
                )
            }
        };
        let assigned_since = match get(ASSIGNED_SINCE) {
            None => None,
            Some((key, value)) => Some(
                parse_instant(&value).ok_or(DecodeError::MalformedAssignedSince { key, value })?,
            ),
        };
        let cooldown_until = match get(COOLDOWN_UNTIL) {
            None => None,
            Some((key, value)) => Some(
                parse_instant(&value).ok_or(DecodeError::MalformedCooldownUntil { key, value })?,
            ),
        };
        let lease_until = match get(LEASE_UNTIL) {
            None => None,
            Some((key, value)) => {
                Some(parse_instant(&value).ok_or(DecodeError::MalformedLeaseUntil { key, value })?)
            }
        };
        let snoozed_until = match get(SNOOZED_UNTIL) {
            None => None,
            Some((key, value)) => Some(
                parse_instant(&value).ok_or(DecodeError::MalformedSnoozedUntil { key, value })?,
            ),
        };
        let notice = match get(PURGE_NOTICE) {
            None => None,
            Some((key, value)) => Some(
                Self::parse_notice(&value)
                    .ok_or(DecodeError::MalformedPurgeNotice { key, value })?,
            ),
        };
        let closing = match get(CLOSING) {
            None => None,
            Some((key, value)) => {
                Some(parse_instant(&value).ok_or(DecodeError::MalformedClosing { key, value })?)
            }
        };
        let attempts = match get(ATTEMPTS) {
            None => 0,
            Some((key, value)) => {
                let count = (!value.is_empty()
                    && value.len() <= 3
                    && value.bytes().all(|b| b.is_ascii_digit()))
                .then(|| value.parse::<u32>().ok())
                .flatten()
                .filter(|n| (1..=MAX_ATTEMPTS_TAG).contains(n));
                count.ok_or(DecodeError::MalformedAttempts { key, value })?
            }
        };
        let build = match get(BUILD) {
            None => None,
            Some((key, value)) => {
                Some(Self::parse_build(&value).ok_or(DecodeError::MalformedBuild { key, value })?)
            }
        };
        let transaction = match get(TRANSACTION) {
            None => None,
            Some((key, value)) => Some(
                Self::parse_transaction(&value)
                    .map_err(|why| DecodeError::MalformedTransaction { key, value, why })?,
            ),
        };
        let frozen_from = match get(FROZEN_FROM) {
            None => None,
            Some((key, value)) => Some(
                value
                    .parse::<State>()
                    .ok()
                    .filter(|state| State::FREEZABLE.contains(state))
                    .ok_or(DecodeError::MalformedFrozenFrom { key, value })?,
            ),
        };
        Ok(AccountView {
            state,
            since,
            holder,
            assigned_since,
            attempts,
            build,
            transaction,
            cooldown_until,
            lease_until,
            closing,
            frozen_from,
            snoozed_until,
            notice,
            cost_center: tags.get(&self.cost_center_key).cloned(),
        })
    }

    fn parse_notice(value: &str) -> Option<PurgeNoticeTag> {
        let (purge, preview) = match value.split_once('/') {
            Some((purge, build)) => (purge, Some(BuildId::new(build).ok()?)),
            None => (value, None),
        };
        Some(PurgeNoticeTag {
            purge: parse_instant(purge)?,
            preview,
        })
    }

    /// The tag to write once the holder's notice of the purge at `purge` is under way:
    /// its dry run `preview` started (none: it could not start, the notice goes
    /// without the list).
    pub fn notice_started(&self, purge: DateTime<Utc>, preview: Option<&BuildId>) -> TagChanges {
        let mut changes = TagChanges::default();
        let value = match preview {
            Some(build) => format!("{}/{build}", instant(purge)),
            None => instant(purge),
        };
        changes.set(self.key(PURGE_NOTICE), value);
        changes
    }

    fn parse_build(value: &str) -> Option<AwaitedBuild> {
        let (kind, id) = value.split_once('/')?;
        let kind = match kind {
            "preparation" => BuildKind::Preparation,
            "purge" => BuildKind::Purge,
            _ => return None,
        };
        Some(AwaitedBuild {
            kind,
            id: BuildId::new(id).ok()?,
        })
    }

    /// The value of the build tag: `preparation/<id>` or `purge/<id>`.
    pub fn encode_build(build: &AwaitedBuild) -> String {
        format!("{}/{}", build.kind, build.id)
    }

    /// The value of the transaction tag: `onboarding/<opened>/<deadline>`.
    pub fn encode_transaction(transaction: &Transaction) -> String {
        format!(
            "{}/{}/{}",
            transaction.kind,
            instant(transaction.opened),
            instant(transaction.deadline)
        )
    }

    /// Reads a transaction tag value.
    pub fn parse_transaction(value: &str) -> Result<Transaction, &'static str> {
        let mut parts = value.split('/');
        let (Some(kind), Some(opened), Some(deadline), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected three parts separated by `/`");
        };
        let kind = TransactionKind::parse(kind).ok_or("unknown transaction kind")?;
        let opened = parse_instant(opened).ok_or("the opening instant is not RFC 3339")?;
        let deadline = parse_instant(deadline).ok_or("the deadline is not RFC 3339")?;
        if deadline < opened {
            return Err("the deadline comes before the opening");
        }
        Ok(Transaction {
            kind,
            opened,
            deadline,
        })
    }

    /// The tag changes of a decision's commands. Lifecycle tags win over the
    /// policy's literal `SetTags`/`RemoveTags` whatever their order.
    pub fn encode(&self, commands: &[Command]) -> TagChanges {
        let mut changes = TagChanges::default();
        for command in commands {
            match command {
                Command::RemoveTags(keys) => {
                    keys.iter().for_each(|key| changes.remove(key.clone()))
                }
                Command::SetTags(tags) => tags
                    .iter()
                    .for_each(|(key, value)| changes.set(key.clone(), value.clone())),
                _ => {}
            }
        }
        for command in commands {
            match command {
                Command::SetState { state, since } => {
                    changes.set(self.key(STATE), state.as_str().to_owned());
                    changes.set(self.key(SINCE), instant(*since));
                }
                Command::ClearState => {
                    // every lifecycle tag but the holder: one list, `FIELDS`
                    for field in FIELDS.iter().filter(|field| **field != HOLDER) {
                        changes.remove(self.key(field));
                    }
                }
                Command::SetHolder(holder) => {
                    changes.set(self.key(HOLDER), holder.as_str().to_owned())
                }
                Command::RemoveHolder => {
                    changes.remove(self.key(HOLDER));
                    changes.remove(self.key(ASSIGNED_SINCE));
                    changes.remove(self.key(LEASE_UNTIL));
                }
                Command::StartAssignment(since) => {
                    changes.set(self.key(ASSIGNED_SINCE), instant(*since));
                }
                Command::EndAssignment => {
                    changes.remove(self.key(ASSIGNED_SINCE));
                    changes.remove(self.key(LEASE_UNTIL));
                }
                Command::SetLeaseEnd(until) => {
                    changes.set(self.key(LEASE_UNTIL), instant(*until));
                }
                Command::StartCooldown(until) => {
                    changes.set(self.key(COOLDOWN_UNTIL), instant(*until));
                }
                Command::StartClosing(asked) => {
                    changes.set(self.key(CLOSING), instant(*asked));
                }
                Command::StartBuild { attempt, .. } => {
                    changes.set(self.key(ATTEMPTS), attempt.to_string());
                    changes.remove(self.key(BUILD));
                }
                Command::ClearBuild => {
                    changes.remove(self.key(ATTEMPTS));
                    changes.remove(self.key(BUILD));
                }
                Command::OpenTransaction(transaction) => {
                    changes.set(self.key(TRANSACTION), Self::encode_transaction(transaction));
                }
                Command::CloseTransaction(_) => changes.remove(self.key(TRANSACTION)),
                Command::Freeze { from } => {
                    changes.set(self.key(FROZEN_FROM), from.as_str().to_owned());
                }
                Command::Thaw => changes.remove(self.key(FROZEN_FROM)),
                Command::Snooze { until, .. } => {
                    changes.set(self.key(SNOOZED_UNTIL), instant(*until));
                }
                Command::EndSnooze => changes.remove(self.key(SNOOZED_UNTIL)),
                // told: the tag keeps the purge, no longer the dry run it waited for
                Command::TellPurgeNotice { purge, .. } => {
                    changes.set(self.key(PURGE_NOTICE), instant(*purge));
                }
                Command::RemoveTags(_)
                | Command::SetTags(_)
                | Command::EnsureBudget
                | Command::Decommission(_)
                | Command::EmitEvent(_)
                | Command::RecordActivity(_)
                | Command::RaiseException { .. }
                | Command::NotifyHolder { .. }
                | Command::StartPreview { .. } => {}
            }
        }
        changes
    }

    /// The tag to write once a build has started: the account now waits for it.
    pub fn build_started(&self, kind: BuildKind, id: &BuildId) -> TagChanges {
        let mut changes = TagChanges::default();
        let build = AwaitedBuild {
            kind,
            id: id.clone(),
        };
        changes.set(self.key(BUILD), Self::encode_build(&build));
        changes
    }
}
