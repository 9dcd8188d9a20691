//! [`SsmIncidents`]: the `Incidents` port on AWS Systems Manager Incident Manager.
//!
//! Starting an incident is three calls: `StartIncident` (client token, response plan,
//! title, impact, related links, trigger details), then `UpdateIncidentRecord` for
//! the summary (`StartIncident` has no summary field: a new record takes the response
//! plan's), then `TagResource` on the incident record. A failure of any of them is
//! returned: the caller retries with the same client token, which gives back the same
//! record, and the summary and tags are written again.
//!
//! Every text is fitted to the API's limits (from the service model) before it is
//! sent, cut on character boundaries: title 200 characters, summary 8,000, related
//! item title 200, trigger source 50, raw data 10,000, timeline event data 12,000
//! (a JSON string), client token 128 (a longer token is shortened with a stable hash,
//! so that it stays unique). Tags follow Incident Manager's rules (see
//! [`sanitize_tags`]). A related link whose URL is longer than the 1,000 characters
//! a related item may hold (a presigned URL signed with session credentials often
//! is) cannot be attached: it is listed at the end of the summary instead.
//!
//! Moto has no Incident Manager: the adapter is tested with `aws-smithy-mocks` rules
//! that check the exact requests (`engine/aws/tests/adapters/aws_incidents.rs`).

use std::collections::HashMap;

use aws_sdk_ssmincidents::Client;
use aws_sdk_ssmincidents::types::{
    IncidentRecordStatus, ItemIdentifier, ItemType, ItemValue, RelatedItem, TriggerDetails,
};
use chrono::{DateTime, Utc};

use super::error::port_error;
use spa_usecases::ports::{IncidentRequest, IncidentStatus, Incidents, PortError, RelatedLink};

const SERVICE: &str = "ssm-incidents";

/// Characters of an incident's title.
pub const TITLE_MAX: usize = 200;
/// Characters of an incident's summary.
pub const SUMMARY_MAX: usize = 8_000;
/// Characters of a trigger's source.
pub const SOURCE_MAX: usize = 50;
/// Characters of a trigger's raw data.
pub const RAW_DATA_MAX: usize = 10_000;
/// Characters of a client token.
pub const CLIENT_TOKEN_MAX: usize = 128;
/// Related items of one incident.
pub const RELATED_ITEMS_MAX: usize = 100;
/// Characters of a related item's title.
pub const RELATED_TITLE_MAX: usize = 200;
/// Characters of a related item's URL.
pub const RELATED_URL_MAX: usize = 1_000;
/// Characters of a timeline event's data.
pub const EVENT_DATA_MAX: usize = 12_000;
/// Characters of a tag key.
pub const TAG_KEY_MAX: usize = 128;
/// Characters of a tag value.
pub const TAG_VALUE_MAX: usize = 256;
/// Tags of one resource.
pub const TAGS_MAX: usize = 50;
/// The type of the timeline events spa adds.
pub const CUSTOM_EVENT: &str = "Custom Event";

/// Incident Manager, in the region of its replication set.
#[derive(Debug, Clone)]
pub struct SsmIncidents {
    client: Client,
}

impl SsmIncidents {
    /// Incident Manager through `client` (`AwsConfig::ssm_incidents()`).
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// `text` cut to at most `max` characters, on a character boundary; a cut text ends
/// with `…` (within `max`).
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// `text` cut to at most `max` characters on a character boundary, without a mark.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Whether Incident Manager accepts `c` in a tag key or value: the model's pattern
/// `[A-Za-z0-9 _=@:.+-/]`, less the `,` that its `+-/` range lets through by
/// accident.
fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " _=@:.+-/".contains(c)
}

/// One tag key or value made acceptable: white space becomes a space, any other
/// character outside the pattern becomes `_`; trimmed, cut to `max`, trimmed again.
fn sanitize_tag_text(text: &str, max: usize) -> String {
    let replaced: String = text
        .chars()
        .map(|c| {
            if tag_char(c) {
                c
            } else if c.is_whitespace() {
                ' '
            } else {
                '_'
            }
        })
        .collect();
    cut(replaced.trim(), max).trim().to_owned()
}

/// Tags as Incident Manager accepts them: keys and values within its pattern
/// (`A-Z a-z 0-9`, space, `_ = @ : . + - /`; others become `_`), keys of at most 128
/// characters, values of at most 256; a tag with an empty key or value after that is
/// dropped, as is a key in the reserved `aws:` namespace; the first of duplicate keys
/// wins; at most 50 tags, in the order given.
pub fn sanitize_tags(tags: &[(String, String)]) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in tags {
        let key = sanitize_tag_text(key, TAG_KEY_MAX);
        let value = sanitize_tag_text(value, TAG_VALUE_MAX);
        if key.is_empty() || value.is_empty() || key.to_ascii_lowercase().starts_with("aws:") {
            continue;
        }
        if kept.iter().any(|(k, _)| *k == key) {
            continue;
        }
        kept.push((key, value));
        if kept.len() == TAGS_MAX {
            break;
        }
    }
    kept
}

/// A client token within the API's 128 characters: a longer one keeps its start and
/// ends with a stable hash of the whole token, so that two long tokens stay distinct
/// and a retry sends the same one.
pub fn client_token(token: &str) -> String {
    if token.chars().count() <= CLIENT_TOKEN_MAX {
        return token.to_owned();
    }
    // FNV-1a, 64 bits: stable across runs and builds (std's hasher is not)
    let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let suffix = format!("-{hash:016x}");
    let mut shortened = cut(token, CLIENT_TOKEN_MAX - suffix.len());
    shortened.push_str(&suffix);
    shortened
}

/// The `eventData` of a custom timeline event: the text as a JSON string (as the
/// console and the CLI's examples write it), cut so that the JSON fits in 12,000
/// characters.
pub fn event_data(text: &str) -> String {
    let encode = |keep: usize| serde_json::Value::String(truncate(text, keep)).to_string();
    let fits = |encoded: &str| encoded.chars().count() <= EVENT_DATA_MAX;
    let whole = encode(usize::MAX);
    if fits(&whole) {
        return whole;
    }
    // the longest cut whose JSON fits (escapes make the JSON longer than the text)
    let (mut low, mut high) = (0, text.chars().count());
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if fits(&encode(middle)) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    encode(low)
}

/// A related link that fits a related item (its URL within 1,000 characters).
fn fits_related_item(link: &RelatedLink) -> bool {
    !link.url.is_empty() && link.url.chars().count() <= RELATED_URL_MAX
}

/// The summary within its 8,000 characters, with the links that could not be related
/// items listed at its end (the text is cut first, so the links stay whole).
pub fn summary_with_links(summary: &str, links: &[&RelatedLink]) -> String {
    let mut listed = String::new();
    if !links.is_empty() {
        listed.push_str("\n\n**Links**\n");
        for link in links {
            let title = if link.title.trim().is_empty() {
                "link"
            } else {
                link.title.trim()
            };
            listed.push_str(&format!("\n- [{title}]({})", link.url));
        }
    }
    let room = SUMMARY_MAX.saturating_sub(listed.chars().count());
    let mut text = truncate(summary.trim_end(), room);
    text.push_str(&listed);
    truncate(text.trim_start(), SUMMARY_MAX)
}

/// What `StartIncident`, `UpdateIncidentRecord` and `TagResource` are sent for a
/// request: every text within the API's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedIncident {
    /// The client token (see [`client_token`]).
    pub client_token: String,
    /// The title, or `None` to keep the response plan's.
    pub title: Option<String>,
    /// Impact, 1 to 5.
    pub impact: i32,
    /// Links attached as related items (URL, title).
    pub related: Vec<RelatedLink>,
    /// The summary (with the links that could not be related items), or `None`.
    pub summary: Option<String>,
    /// Trigger source.
    pub source: String,
    /// Trigger raw data, or `None` when empty.
    pub raw_data: Option<String>,
    /// Tags of the record (see [`sanitize_tags`]).
    pub tags: Vec<(String, String)>,
}

fn rejected(action: &str, message: String) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message,
    }
}

impl PreparedIncident {
    /// Fits `request` to the API; an impact outside 1..=5 or a trigger source in the
    /// `aws.` namespace (reserved for AWS) is `Rejected` before any call.
    pub fn new(request: &IncidentRequest) -> Result<Self, PortError> {
        if !(1..=5).contains(&request.impact) {
            return Err(rejected(
                "StartIncident",
                format!("impact {} is not between 1 and 5", request.impact),
            ));
        }
        if request.trigger_source.starts_with("aws.") {
            return Err(rejected(
                "StartIncident",
                format!(
                    "trigger source `{}` is in the `aws.` namespace, reserved for AWS",
                    request.trigger_source
                ),
            ));
        }
        let title = truncate(request.title.trim(), TITLE_MAX);
        let (attachable, listed): (Vec<&RelatedLink>, Vec<&RelatedLink>) = request
            .related
            .iter()
            .filter(|l| !l.url.is_empty())
            .partition(|l| fits_related_item(l));
        let mut listed = listed;
        let mut related = Vec::new();
        for link in attachable {
            if related.len() < RELATED_ITEMS_MAX {
                related.push(RelatedLink {
                    title: truncate(link.title.trim(), RELATED_TITLE_MAX),
                    url: link.url.clone(),
                });
            } else {
                listed.push(link);
            }
        }
        let summary = summary_with_links(&request.summary, &listed);
        Ok(Self {
            client_token: client_token(&request.client_token),
            title: (!title.is_empty()).then_some(title),
            impact: i32::from(request.impact),
            related,
            summary: (!summary.trim().is_empty()).then_some(summary),
            source: cut(&request.trigger_source, SOURCE_MAX),
            raw_data: (!request.trigger_data.is_empty())
                .then(|| truncate(&request.trigger_data, RAW_DATA_MAX)),
            tags: sanitize_tags(&request.tags),
        })
    }
}

fn timestamp(at: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_millis(at.timestamp_millis())
}

fn related_item(link: &RelatedLink) -> Result<RelatedItem, PortError> {
    let identifier = ItemIdentifier::builder()
        .r#type(ItemType::Other)
        .value(ItemValue::Url(link.url.clone()))
        .build()
        .map_err(|e| rejected("StartIncident", e.to_string()))?;
    let item = RelatedItem::builder().identifier(identifier);
    Ok(if link.title.is_empty() {
        item.build()
    } else {
        item.title(&link.title).build()
    })
}

impl Incidents for SsmIncidents {
    async fn start_incident(&self, request: &IncidentRequest) -> Result<String, PortError> {
        let prepared = PreparedIncident::new(request)?;
        let plan = request.response_plan_arn.as_str();
        let trigger = TriggerDetails::builder()
            .source(&prepared.source)
            .timestamp(timestamp(request.triggered_at))
            .set_raw_data(prepared.raw_data.clone())
            .build()
            .map_err(|e| rejected("StartIncident", e.to_string()))?;
        let related = prepared
            .related
            .iter()
            .map(related_item)
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .start_incident()
            .client_token(&prepared.client_token)
            .response_plan_arn(plan)
            .set_title(prepared.title.clone())
            .impact(prepared.impact)
            .set_related_items((!related.is_empty()).then_some(related))
            .trigger_details(trigger)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "StartIncident", plan, e))?;
        let arn = output.incident_record_arn().to_owned();
        if arn.is_empty() {
            return Err(rejected(
                "StartIncident",
                format!("no incident record ARN in the answer for plan `{plan}`"),
            ));
        }
        if let Some(summary) = &prepared.summary {
            self.client
                .update_incident_record()
                .arn(&arn)
                .summary(summary)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "UpdateIncidentRecord", &arn, e))?;
        }
        if !prepared.tags.is_empty() {
            let tags: HashMap<String, String> = prepared.tags.iter().cloned().collect();
            self.client
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "TagResource", &arn, e))?;
        }
        tracing::info!(
            incident = %arn,
            impact = prepared.impact,
            related = prepared.related.len(),
            tags = prepared.tags.len(),
            "incident started"
        );
        Ok(arn)
    }

    async fn incident_status(&self, arn: &str) -> Result<IncidentStatus, PortError> {
        let output = self
            .client
            .get_incident_record()
            .arn(arn)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetIncidentRecord", arn, e))?;
        let record = output.incident_record().ok_or_else(|| {
            rejected(
                "GetIncidentRecord",
                format!("no incident record in the answer for `{arn}`"),
            )
        })?;
        match record.status() {
            IncidentRecordStatus::Open => Ok(IncidentStatus::Open),
            IncidentRecordStatus::Resolved => Ok(IncidentStatus::Resolved),
            other => Err(rejected(
                "GetIncidentRecord",
                format!("unknown status `{}` of incident `{arn}`", other.as_str()),
            )),
        }
    }

    async fn add_timeline_event(
        &self,
        arn: &str,
        token: &str,
        at: DateTime<Utc>,
        text: &str,
    ) -> Result<(), PortError> {
        self.client
            .create_timeline_event()
            .client_token(client_token(token))
            .incident_record_arn(arn)
            .event_time(timestamp(at))
            .event_type(CUSTOM_EVENT)
            .event_data(event_data(text))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "CreateTimelineEvent", arn, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn truncation_cuts_on_characters_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly", 7), "exactly");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
        // multi-byte characters are never split
        let accented = "é".repeat(300);
        let cut = truncate(&accented, TITLE_MAX);
        assert_eq!(cut.chars().count(), TITLE_MAX);
        assert!(cut.ends_with('…'));
        assert!(cut.starts_with("éé"));
        assert_eq!(truncate("🦀🦀🦀", 2), "🦀…");
        assert_eq!(truncate("anything", 0), "");
    }

    #[test]
    fn tags_follow_incident_managers_rules() {
        let sanitized = sanitize_tags(&tags(&[
            ("spa:label", "BudgetAlert"),
            ("ou path", "Root/Sandboxes/Équipe, A"),
            ("cost center", "  "),
            ("", "orphan"),
            ("aws:reserved", "x"),
            ("AWS:Reserved", "x"),
            ("name", "Zoë's\tsandbox\n"),
            ("spa:label", "second one loses"),
            ("holder", "a***@example.com"),
        ]));
        assert_eq!(
            sanitized,
            tags(&[
                ("spa:label", "BudgetAlert"),
                ("ou path", "Root/Sandboxes/_quipe_ A"),
                ("name", "Zo__s sandbox"),
                ("holder", "a___@example.com"),
            ])
        );
        for (key, value) in &sanitized {
            assert!(key.chars().all(tag_char) && value.chars().all(tag_char));
        }
    }

    #[test]
    fn tags_are_cut_to_their_lengths_and_counted() {
        let long = sanitize_tags(&tags(&[(&"k".repeat(200), &"v".repeat(300))]));
        assert_eq!(long[0].0.chars().count(), TAG_KEY_MAX);
        assert_eq!(long[0].1.chars().count(), TAG_VALUE_MAX);
        // a cut that ends on a space leaves no trailing space
        let spaced = format!("{} tail", "x".repeat(TAG_VALUE_MAX - 1));
        let cut = sanitize_tags(&tags(&[("k", &spaced)]));
        assert_eq!(cut[0].1, "x".repeat(TAG_VALUE_MAX - 1));

        let many: Vec<(String, String)> = (0..60).map(|i| (format!("k{i}"), "v".into())).collect();
        let kept = sanitize_tags(&many);
        assert_eq!(kept.len(), TAGS_MAX);
        assert_eq!(kept[0].0, "k0");
        assert_eq!(kept[49].0, "k49");
    }

    #[test]
    fn long_client_tokens_stay_distinct_and_stable() {
        assert_eq!(client_token("spa-123"), "spa-123");
        let a = format!("{}-a", "t".repeat(200));
        let b = format!("{}-b", "t".repeat(200));
        assert_eq!(client_token(&a).chars().count(), CLIENT_TOKEN_MAX);
        assert_ne!(client_token(&a), client_token(&b));
        assert_eq!(client_token(&a), client_token(&a));
        assert!(client_token(&a).starts_with("tttt"));
    }

    #[test]
    fn event_data_is_a_json_string_within_the_limit() {
        assert_eq!(event_data("budget at 120%"), "\"budget at 120%\"");
        assert_eq!(event_data("say \"hi\"\n"), r#""say \"hi\"\n""#);
        // quotes double in JSON: the text is cut so that the JSON fits
        let quotes = "\"".repeat(EVENT_DATA_MAX);
        let data = event_data(&quotes);
        assert!(data.chars().count() <= EVENT_DATA_MAX);
        assert!(data.chars().count() > EVENT_DATA_MAX - 3);
        let back: String = serde_json::from_str(&data).expect("a JSON string");
        assert!(back.ends_with('…'));
    }

    fn request() -> IncidentRequest {
        IncidentRequest {
            client_token: "spa-BudgetAlert-222222222222-2026-10".into(),
            response_plan_arn: "arn:aws:ssm-incidents::123456789012:response-plan/spa".into(),
            title: "BudgetAlert: sandbox-alice (222222222222)".into(),
            summary: "The budget reached 120%.".into(),
            impact: 3,
            tags: tags(&[("spa:label", "BudgetAlert")]),
            related: vec![RelatedLink {
                title: "Cost report".into(),
                url: "https://bucket.s3.amazonaws.com/report.xlsx?X-Amz-Signature=abc".into(),
            }],
            trigger_source: "spa".into(),
            triggered_at: DateTime::from_timestamp(1_790_000_000, 0).expect("instant"),
            trigger_data: "{}".into(),
        }
    }

    #[test]
    fn requests_are_checked_before_any_call() {
        let mut bad = request();
        bad.impact = 0;
        assert!(matches!(
            PreparedIncident::new(&bad),
            Err(PortError::Rejected { message, .. }) if message.contains("impact 0")
        ));
        let mut aws = request();
        aws.trigger_source = "aws.budgets".into();
        assert!(matches!(
            PreparedIncident::new(&aws),
            Err(PortError::Rejected { message, .. }) if message.contains("aws.")
        ));
    }

    #[test]
    fn long_texts_and_urls_are_fitted() {
        let mut long = request();
        long.title = "t".repeat(500);
        long.summary = "s".repeat(20_000);
        long.trigger_data = "d".repeat(20_000);
        let presigned = format!(
            "https://bucket.s3.amazonaws.com/r.xlsx?X-Amz-Security-Token={}",
            "x".repeat(1_500)
        );
        long.related.push(RelatedLink {
            title: "Long link".into(),
            url: presigned.clone(),
        });
        long.related.push(RelatedLink {
            title: "Empty".into(),
            url: String::new(),
        });
        let prepared = PreparedIncident::new(&long).expect("fitted");
        assert_eq!(
            prepared.title.as_deref().map(|t| t.chars().count()),
            Some(TITLE_MAX)
        );
        assert_eq!(
            prepared.raw_data.as_deref().map(|t| t.chars().count()),
            Some(RAW_DATA_MAX)
        );
        assert_eq!(prepared.related.len(), 1, "the short link only");
        assert_eq!(prepared.related[0].title, "Cost report");
        let summary = prepared.summary.expect("summary");
        assert!(summary.chars().count() <= SUMMARY_MAX);
        assert!(
            summary.ends_with(&format!("- [Long link]({presigned})")),
            "the long link is kept whole at the end of the summary"
        );
        assert!(summary.starts_with("sss"));
    }

    #[test]
    fn an_empty_title_or_summary_keeps_the_plans() {
        let mut plain = request();
        plain.title = "  ".into();
        plain.summary = String::new();
        plain.trigger_data = String::new();
        let prepared = PreparedIncident::new(&plain).expect("prepared");
        assert_eq!(prepared.title, None);
        assert_eq!(prepared.summary, None);
        assert_eq!(prepared.raw_data, None);
    }
}
