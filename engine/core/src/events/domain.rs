//! The domain events spa emits on its bus (source `spa`, detail-type = label), and
//! their decoding when they come back to spa's own rules.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::envelope::Envelope;
use super::error::DecodeError;
use super::json::{Node, excerpt};
use crate::lifecycle::State;
use crate::vocabulary::Label;
use crate::vocabulary::{AccountId, EventId, mask, redact_emails};

/// The EventBridge `source` of every event spa emits.
pub const SOURCE: &str = "spa";

/// Longest `reason` kept in an event, in characters (PutEvents takes 256 KiB a call).
pub const MAX_REASON_CHARS: usize = 1000;
/// Longest value of a fact, in characters.
pub const MAX_FACT_CHARS: usize = 256;

const STATE_EXPECTED: &str = "a state (vended, prepared, assigned, expired, purged, quarantined)";

/// Something that happened to an account, as spa tells it to the rest of the world.
///
/// Free text (`reason`, facts) and `holder` are masked when the event is encoded: no
/// full e-mail address leaves spa in an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEvent {
    pub label: Label,
    /// The settings' `environment_identifier` (several environments may share a bus).
    pub environment: String,
    pub account: AccountId,
    pub at: DateTime<Utc>,
    /// The state before, for transitions.
    pub from_state: Option<State>,
    /// The state after, for transitions (`None` when the account becomes unmanaged).
    pub to_state: Option<State>,
    /// Why, for exceptions (`build FAILED 3 times`, `root signed in from 203.0.113.10`).
    pub reason: Option<String>,
    /// The holder, masked (`a***@example.com`).
    pub holder: Option<String>,
    /// More detail by name (`build_id`, `amount`, `threshold`, ...).
    pub facts: BTreeMap<String, String>,
    /// What makes the event one: the same for every publication of it (a delivery
    /// that resumes the work of one that died publishes it again), so that whoever
    /// reacts to it reacts once. `<cause>/<label>`; `None`: the bus's event id.
    pub key: Option<String>,
}

impl DomainEvent {
    /// An event with no transition, reason, holder or facts.
    pub fn new(
        label: Label,
        environment: impl Into<String>,
        account: AccountId,
        at: DateTime<Utc>,
    ) -> Self {
        DomainEvent {
            label,
            environment: environment.into(),
            account,
            at,
            from_state: None,
            to_state: None,
            reason: None,
            holder: None,
            facts: BTreeMap::new(),
            key: None,
        }
    }

    /// Keys the event by the cause that made it: every publication of the event of
    /// `label` for `cause` is the same event (see [`DomainEvent::key`]).
    pub fn keyed(mut self, cause: &str) -> Self {
        self.key = Some(clean(&format!("{cause}/{}", self.label), MAX_FACT_CHARS));
        self
    }

    /// Sets the states before and after.
    pub fn with_transition(mut self, from: Option<State>, to: Option<State>) -> Self {
        self.from_state = from;
        self.to_state = to;
        self
    }

    /// Sets the reason; e-mail addresses in it are masked, and it is cut to
    /// [`MAX_REASON_CHARS`].
    pub fn with_reason(mut self, reason: impl AsRef<str>) -> Self {
        self.reason = Some(clean(reason.as_ref(), MAX_REASON_CHARS));
        self
    }

    /// Sets the holder, masked.
    pub fn with_holder(mut self, email: impl AsRef<str>) -> Self {
        self.holder = Some(mask(email.as_ref()));
        self
    }

    /// Adds a fact; e-mail addresses in the value are masked.
    pub fn with_fact(mut self, key: impl Into<String>, value: impl AsRef<str>) -> Self {
        self.facts
            .insert(key.into(), clean(value.as_ref(), MAX_FACT_CHARS));
        self
    }

    /// The PutEvents entry of this event (to the bus of the adapter's choice).
    pub fn to_entry(&self) -> PutEventsEntry {
        let detail = Detail {
            environment: &self.environment,
            account: self.account.as_str(),
            label: self.label.as_str(),
            at: self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            from_state: self.from_state.map(State::as_str),
            to_state: self.to_state.map(State::as_str),
            reason: self.reason.as_deref().map(|r| clean(r, MAX_REASON_CHARS)),
            holder: self.holder.as_deref().map(mask),
            key: self.key.as_deref(),
            facts: self
                .facts
                .iter()
                .map(|(k, v)| (clean(k, MAX_FACT_CHARS), clean(v, MAX_FACT_CHARS)))
                .collect(),
        };
        PutEventsEntry {
            source: SOURCE.to_string(),
            detail_type: self.label.as_str().to_string(),
            // a struct of strings and maps of strings always serializes
            detail: serde_json::to_string(&detail).unwrap_or_else(|_| "{}".to_string()),
            resources: Vec::new(),
            time: self.at,
        }
    }
}

/// Masks e-mail addresses and cuts to `max` characters; idempotent.
fn clean(text: &str, max: usize) -> String {
    // masking never lengthens text by more than 3 characters an address
    let head: String = text.chars().take(max.saturating_mul(2)).collect();
    redact_emails(&head).chars().take(max).collect()
}

#[derive(Serialize)]
struct Detail<'a> {
    environment: &'a str,
    account: &'a str,
    label: &'a str,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    holder: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    facts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

/// One entry of an EventBridge `PutEvents` call, without the bus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutEventsEntry {
    /// Always [`SOURCE`].
    pub source: String,
    /// The label.
    pub detail_type: String,
    /// The detail, a JSON object as a string.
    pub detail: String,
    pub resources: Vec<String>,
    pub time: DateTime<Utc>,
}

impl PutEventsEntry {
    /// The event as an EventBridge rule delivers it to a target, with the given event
    /// id, account and region: what the local event router of `spa demo` hands on.
    pub fn delivered(
        &self,
        id: &str,
        account: &AccountId,
        region: &str,
    ) -> Result<Value, DecodeError> {
        let detail: Value = serde_json::from_str(&self.detail).map_err(|e| {
            DecodeError::invalid("Detail", "a JSON object", format!("invalid JSON ({e})"))
        })?;
        Ok(serde_json::json!({
            "version": "0",
            "id": id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": account.as_str(),
            "time": self.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            "region": region,
            "resources": self.resources,
            "detail": detail,
        }))
    }
}

/// A domain event of spa, received back from the bus: handlers recognize it and never
/// react to it in a loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaEvent {
    pub event_id: EventId,
    /// The account that put it on the bus (the envelope's `account`, which EventBridge
    /// sets): only the automation account speaks as spa, which the `exceptions`
    /// function checks before anything else.
    pub sender: AccountId,
    pub event: DomainEvent,
}

fn opt_state(detail: &Node<'_>, key: &str) -> Result<Option<State>, DecodeError> {
    match detail.opt(key)? {
        None => Ok(None),
        Some(node) => node
            .as_str()?
            .parse()
            .map(Some)
            .map_err(|_| node.invalid(STATE_EXPECTED)),
    }
}

pub(crate) fn decode(envelope: &Envelope<'_>) -> Result<SpaEvent, DecodeError> {
    let detail = &envelope.detail;
    let label_node = detail.req("label", "a spa label (AccountVended, ...)")?;
    let label_text = label_node.as_str()?;
    let label: Label = label_text
        .parse()
        .map_err(|_| label_node.invalid("a spa label (AccountVended, ...)"))?;
    if envelope.detail_type != label.as_str() {
        return Err(DecodeError::invalid(
            "detail-type",
            format!("the label of the detail (`{label}`)"),
            format!("`{}`", excerpt(envelope.detail_type)),
        ));
    }
    let facts = match detail.opt_obj("facts")? {
        None => BTreeMap::new(),
        Some(facts) => match facts.value() {
            Value::Object(map) => map
                .keys()
                .map(|k| {
                    Ok((
                        clean(k, MAX_FACT_CHARS),
                        clean(facts.req(k, "a string")?.as_str()?, MAX_FACT_CHARS),
                    ))
                })
                .collect::<Result<_, DecodeError>>()?,
            _ => BTreeMap::new(),
        },
    };
    let event = DomainEvent {
        label,
        environment: detail.str("environment")?.to_string(),
        account: detail.account("account")?,
        at: detail.time("at")?,
        from_state: opt_state(detail, "from_state")?,
        to_state: opt_state(detail, "to_state")?,
        reason: detail
            .opt_str("reason")?
            .map(|r| clean(r, MAX_REASON_CHARS)),
        holder: detail.opt_str("holder")?.map(mask),
        facts,
        key: detail.opt_str("key")?.map(|k| clean(k, MAX_FACT_CHARS)),
    };
    Ok(SpaEvent {
        event_id: envelope.id.clone(),
        sender: envelope.account.clone(),
        event,
    })
}
