//! A notice as a Slack incoming-webhook payload with Block Kit.
//!
//! Blocks: a header (`plain_text`), a section with the story in `mrkdwn` and the facts
//! as fields, a context (environment, time shown in the reader's time zone), and an
//! actions block of URL buttons when there are links. Every text object, `mrkdwn` or
//! `plain_text`, is escaped (`&`, `<`, `>`: Slack decodes these three for display)
//! and kept within Slack's limits, counted after escaping.

use serde_json::{Value, json};

use super::text::{self, slack_escape, slack_escape_within};
use super::{Audience, Notice, account_line, at_line, notice_facts, notice_links};

/// Characters of a header block's `plain_text`.
pub const HEADER_MAX: usize = 150;
/// Characters of a section's text.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Fields of a section.
pub const FIELDS_MAX: usize = 10;
/// Characters of one field.
pub const FIELD_MAX: usize = 2000;
/// Characters of a button's text.
const BUTTON_TEXT_MAX: usize = 75;
/// Characters of a button's URL.
pub const URL_MAX: usize = 3000;
/// The `text` fallback (notifications, screen readers) is kept short.
pub const FALLBACK_MAX: usize = 400;

/// Each part of the section text has a share of the section's 3000 characters.
const STORY_MAX: usize = 1000;
const STEP_MAX: usize = 150;
const STEPS_MAX: usize = 5;

/// The Slack incoming-webhook payload of `notice`.
pub fn slack(notice: &Notice) -> Value {
    let account = account_line(&notice.account_name, &notice.account);
    let header = slack_escape_within(&format!("{}: {account}", notice.label.as_str()), HEADER_MAX);
    let fallback = slack_escape_within(
        &format!(
            "{}: {account} in {}: {}",
            notice.label.as_str(),
            text::one_line(&notice.environment),
            text::one_line(&notice.what_happened)
        ),
        FALLBACK_MAX,
    );

    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": header, "emoji": true },
    })];

    let facts = notice_facts(notice, Audience::Team);
    let omitted = facts.len().saturating_sub(FIELDS_MAX);
    let fields: Vec<Value> = facts
        .iter()
        .take(FIELDS_MAX)
        .map(|(name, value)| {
            let name = slack_escape_within(name, 100);
            let budget = FIELD_MAX.saturating_sub(text::units(&name) + 3);
            let value = slack_escape_within(value, budget);
            json!({ "type": "mrkdwn", "text": format!("*{name}*\n{value}") })
        })
        .collect();
    blocks.push(json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": story(notice) },
        "fields": fields,
    }));

    let mut context = vec![
        json!({
            "type": "mrkdwn",
            "text": format!("Environment *{}*", slack_escape_within(&text::one_line(&notice.environment), 200)),
        }),
        json!({ "type": "mrkdwn", "text": date(notice) }),
    ];
    if omitted > 0 {
        let more = if omitted == 1 { "fact" } else { "facts" };
        context.push(json!({
            "type": "mrkdwn",
            "text": format!("{omitted} more {more} not shown here"),
        }));
    }
    blocks.push(json!({ "type": "context", "elements": context }));

    let buttons: Vec<Value> = notice_links(notice, Audience::Team, URL_MAX)
        .into_iter()
        .enumerate()
        .map(|(i, (title, url))| {
            let mut button = json!({
                "type": "button",
                "text": { "type": "plain_text", "text": slack_escape_within(title, BUTTON_TEXT_MAX) },
                "url": url,
                "action_id": format!("spa-link-{i}"),
            });
            if i == 0 && notice.incident_url.is_some() {
                button["style"] = json!("primary");
            }
            button
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }

    json!({ "text": fallback, "blocks": blocks })
}

/// `payload` with `button` at the end of its actions (an actions block added when it
/// has none; Slack takes 25 elements a block).
pub fn with_button(mut payload: Value, button: Value) -> Value {
    let Some(blocks) = payload.get_mut("blocks").and_then(Value::as_array_mut) else {
        return payload;
    };
    let actions = blocks
        .iter_mut()
        .find(|b| b["type"] == "actions")
        .and_then(|b| b.get_mut("elements"))
        .and_then(Value::as_array_mut);
    match actions {
        Some(elements) if elements.len() < 25 => elements.push(button),
        Some(_) => {}
        None => blocks.push(json!({ "type": "actions", "elements": [button] })),
    }
    payload
}

/// What happened, what spa did, next steps: escaped, each part within its share.
fn story(notice: &Notice) -> String {
    let mut parts = vec![
        format!(
            "*What happened*\n{}",
            slack_escape_within(&text::clean(&notice.what_happened), STORY_MAX)
        ),
        format!(
            "*What spa did*\n{}",
            slack_escape_within(&text::clean(&notice.what_spa_did), STORY_MAX)
        ),
    ];
    let steps: Vec<String> = notice
        .next_steps
        .iter()
        .map(|s| text::one_line(s))
        .filter(|s| !s.is_empty())
        .take(STEPS_MAX)
        .map(|s| format!("• {}", slack_escape_within(&s, STEP_MAX)))
        .collect();
    if !steps.is_empty() {
        parts.push(format!("*Next steps*\n{}", steps.join("\n")));
    }
    let story = parts.join("\n\n");
    // the shares add up to less than the limit; this keeps it so if they change
    text::truncate_escaped(&story, SECTION_TEXT_MAX)
}

/// The time in the reader's time zone, UTC for clients that cannot format it.
fn date(notice: &Notice) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        notice.at.timestamp(),
        slack_escape(&at_line(&notice.at))
    )
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    fn all_texts(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| all_texts(v, out)),
            Value::Object(map) => map.values().for_each(|v| all_texts(v, out)),
            _ => {}
        }
    }

    fn texts(value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        all_texts(value, &mut out);
        out
    }

    #[test]
    fn the_payload_has_the_expected_blocks() {
        let payload = slack(&sample::notice());
        let expected = json!({
            "text": "BudgetAlert: Alice's sandbox (111111111111) in SpaDemo: Actual cost reached 120.00 USD.",
            "blocks": [
                {
                    "type": "header",
                    "text": {
                        "type": "plain_text",
                        "text": "BudgetAlert: Alice's sandbox (111111111111)",
                        "emoji": true
                    }
                },
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": "*What happened*\nActual cost reached 120.00 USD.\n\n*What spa did*\nOpened an incident.\n\n*Next steps*\n• spa status --account 111111111111"
                    },
                    "fields": [
                        { "type": "mrkdwn", "text": "*Account*\nAlice's sandbox (111111111111)" },
                        { "type": "mrkdwn", "text": "*Holder*\na***@example.com" },
                        { "type": "mrkdwn", "text": "*OU path*\nRoot / Sandboxes" },
                        { "type": "mrkdwn", "text": "*Cost center*\nCC-42" },
                        { "type": "mrkdwn", "text": "*Amount*\n120.00 USD" },
                        { "type": "mrkdwn", "text": "*Threshold*\n100%" }
                    ]
                },
                {
                    "type": "context",
                    "elements": [
                        { "type": "mrkdwn", "text": "Environment *SpaDemo*" },
                        {
                            "type": "mrkdwn",
                            "text": "<!date^1791036300^{date_short_pretty} at {time}|2026-10-03 14:05 UTC>"
                        }
                    ]
                },
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": { "type": "plain_text", "text": "Open the incident" },
                            "url": "https://console.aws.amazon.com/systems-manager/incidents/x",
                            "action_id": "spa-link-0",
                            "style": "primary"
                        },
                        {
                            "type": "button",
                            "text": { "type": "plain_text", "text": "Read the workbook" },
                            "url": "https://wiki.example.com/spa/BudgetAlert",
                            "action_id": "spa-link-1"
                        },
                        {
                            "type": "button",
                            "text": { "type": "plain_text", "text": "See the cost report" },
                            "url": "https://reports.example.com/111111111111.xlsx?X-Amz-Signature=abc&X-Amz-Expires=3600",
                            "action_id": "spa-link-2"
                        }
                    ]
                }
            ]
        });
        assert_eq!(payload, expected);
    }

    #[test]
    fn without_links_there_is_no_actions_block() {
        let mut notice = sample::notice();
        notice.incident_url = None;
        notice.workbook_url = None;
        notice.cost_report_url = Some("javascript:alert(1)".into());
        let payload = slack(&notice);
        let kinds: Vec<&str> = payload["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["type"].as_str())
            .collect();
        assert_eq!(kinds, ["header", "section", "context"]);
    }

    #[test]
    fn mrkdwn_is_escaped() {
        let payload = slack(&sample::hostile());
        let story = payload["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            story.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{story}"
        );
        assert!(story.contains("&lt;at&gt;"), "{story}");
        let fallback = payload["text"].as_str().unwrap_or_default();
        assert!(
            fallback.contains("Bob &lt;b&gt;&amp;&lt;/b&gt;"),
            "{fallback}"
        );
        let fields = texts(&payload["blocks"][1]["fields"]);
        assert!(
            fields
                .iter()
                .any(|f| f == "*Owner &lt;x&gt;*\nh***@example.com &amp; co"),
            "{fields:?}"
        );
        for text in texts(&payload) {
            assert!(!text.contains("<script"), "{text}");
            assert!(!text.contains("<b>"), "{text}");
        }
    }

    #[test]
    fn no_full_address_in_any_text() {
        for text in texts(&slack(&sample::hostile())) {
            assert!(!sample::has_full_address(&text), "{text}");
        }
    }

    #[test]
    fn a_huge_reason_stays_within_the_limits() {
        let mut notice = sample::notice();
        notice.what_happened = "é&<😀".repeat(2_500); // 10 000 characters, escapes grow it
        notice.what_spa_did = "x".repeat(10_000);
        notice.account_name = "n".repeat(500);
        notice.next_steps = vec!["s".repeat(1_000); 20];
        notice.facts = vec![("f".into(), "v&".repeat(5_000))];
        let payload = slack(&notice);
        let header = payload["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text::units(header) <= HEADER_MAX);
        let story = payload["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text::units(story) <= SECTION_TEXT_MAX,
            "{}",
            text::units(story)
        );
        assert!(story.contains("*Next steps*"), "the steps keep their share");
        // an entity is never cut: every & starts a whole entity
        for (i, _) in story.match_indices('&') {
            let rest = &story[i..];
            assert!(
                rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                "{}",
                &rest[..rest.len().min(8)]
            );
        }
        for field in texts(&payload["blocks"][1]["fields"]) {
            assert!(text::units(&field) <= FIELD_MAX);
        }
        let fallback = payload["text"].as_str().unwrap_or_default();
        assert!(text::units(fallback) <= FALLBACK_MAX);
    }

    #[test]
    fn fields_are_capped_at_ten() {
        let mut notice = sample::notice();
        notice.facts = (0..15)
            .map(|i| (format!("F{i}"), format!("v{i}")))
            .collect();
        let payload = slack(&notice);
        let fields = payload["blocks"][1]["fields"].as_array().map(Vec::len);
        assert_eq!(fields, Some(FIELDS_MAX));
        // account, holder, OU path, cost center, then F0..F5; F6..F14 are told as a count
        let context = texts(&payload["blocks"][2]);
        assert!(
            context.iter().any(|t| t == "9 more facts not shown here"),
            "{context:?}"
        );
    }
}
