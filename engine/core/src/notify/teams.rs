//! A notice as a Microsoft Teams Workflows webhook payload: a `message` carrying one
//! Adaptive Card 1.4 (title, story, facts, `Action.OpenUrl` buttons).
//!
//! Workflows ("Post to a channel when a webhook request is received") accept Adaptive
//! Cards only; the Office 365 connector MessageCard they replace is retired. Adaptive
//! Cards render no HTML, so texts are not escaped; they are cleaned (addresses masked,
//! control characters removed) and kept short, well within the 28 KB a Teams message
//! may carry.

use serde_json::{Value, json};

use super::text::{self, truncate};
use super::{Audience, Notice, account_line, at_line, notice_facts, notice_links};

/// The schema of Adaptive Cards.
pub const SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";
/// The content type of an Adaptive Card attachment.
pub const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The card version Teams renders everywhere (desktop, web, mobile).
pub const VERSION: &str = "1.4";

const TITLE_MAX: usize = 200;
const STORY_MAX: usize = 1500;
const STEP_MAX: usize = 200;
const STEPS_MAX: usize = 8;
const FACTS_MAX: usize = 15;
const FACT_TITLE_MAX: usize = 80;
const FACT_VALUE_MAX: usize = 300;
const URL_MAX: usize = 4000;

/// The Teams Workflows webhook payload of `notice`.
pub fn teams(notice: &Notice) -> Value {
    let account = account_line(&notice.account_name, &notice.account);
    let title = truncate(&format!("{}: {account}", notice.label.as_str()), TITLE_MAX);

    let mut facts: Vec<Value> = notice_facts(notice, Audience::Team)
        .into_iter()
        .take(FACTS_MAX)
        .map(|(name, value)| {
            json!({
                "title": truncate(&name, FACT_TITLE_MAX),
                "value": truncate(&value, FACT_VALUE_MAX),
            })
        })
        .collect();
    facts.push(json!({
        "title": "Environment",
        "value": truncate(&text::one_line(&notice.environment), FACT_VALUE_MAX),
    }));
    facts.push(json!({ "title": "At", "value": at_line(&notice.at) }));

    let mut card = json!({
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": [
            { "type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true },
            { "type": "TextBlock", "text": story(notice), "wrap": true },
            { "type": "FactSet", "facts": facts },
        ],
    });
    let actions: Vec<Value> = notice_links(notice, Audience::Team, URL_MAX)
        .into_iter()
        .map(|(title, url)| json!({ "type": "Action.OpenUrl", "title": title, "url": url }))
        .collect();
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CONTENT_TYPE,
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// What happened, what spa did, next steps, in the card's Markdown subset.
fn story(notice: &Notice) -> String {
    let mut parts = vec![
        format!(
            "**What happened**\n\n{}",
            truncate(&text::clean(&notice.what_happened), STORY_MAX)
        ),
        format!(
            "**What spa did**\n\n{}",
            truncate(&text::clean(&notice.what_spa_did), STORY_MAX)
        ),
    ];
    let steps: Vec<String> = notice
        .next_steps
        .iter()
        .map(|s| text::one_line(s))
        .filter(|s| !s.is_empty())
        .take(STEPS_MAX)
        .map(|s| format!("- {}", truncate(&s, STEP_MAX)))
        .collect();
    if !steps.is_empty() {
        parts.push(format!("**Next steps**\n\n{}", steps.join("\n")));
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn the_payload_is_a_workflows_message_with_an_adaptive_card() {
        let payload = teams(&sample::notice());
        let expected = json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "BudgetAlert: Alice's sandbox (111111111111)",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": true
                        },
                        {
                            "type": "TextBlock",
                            "text": "**What happened**\n\nActual cost reached 120.00 USD.\n\n**What spa did**\n\nOpened an incident.\n\n**Next steps**\n\n- spa status --account 111111111111",
                            "wrap": true
                        },
                        {
                            "type": "FactSet",
                            "facts": [
                                { "title": "Account", "value": "Alice's sandbox (111111111111)" },
                                { "title": "Holder", "value": "a***@example.com" },
                                { "title": "OU path", "value": "Root / Sandboxes" },
                                { "title": "Cost center", "value": "CC-42" },
                                { "title": "Amount", "value": "120.00 USD" },
                                { "title": "Threshold", "value": "100%" },
                                { "title": "Environment", "value": "SpaDemo" },
                                { "title": "At", "value": "2026-10-03 14:05 UTC" }
                            ]
                        }
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open the incident",
                            "url": "https://console.aws.amazon.com/systems-manager/incidents/x"
                        },
                        {
                            "type": "Action.OpenUrl",
                            "title": "Read the workbook",
                            "url": "https://wiki.example.com/spa/BudgetAlert"
                        },
                        {
                            "type": "Action.OpenUrl",
                            "title": "See the cost report",
                            "url": "https://reports.example.com/111111111111.xlsx?X-Amz-Signature=abc&X-Amz-Expires=3600"
                        }
                    ]
                }
            }]
        });
        assert_eq!(payload, expected);
        assert_ne!(payload["@type"], json!("MessageCard"));
    }

    #[test]
    fn without_links_there_are_no_actions() {
        let mut notice = sample::notice();
        notice.incident_url = None;
        notice.workbook_url = Some("file:///etc/passwd".into());
        notice.cost_report_url = None;
        let card = &teams(&notice)["attachments"][0]["content"];
        assert!(card.get("actions").is_none(), "{card}");
    }

    #[test]
    fn no_full_address_and_bounded_size() {
        let serialized = teams(&sample::hostile()).to_string();
        assert!(!sample::has_full_address(&serialized), "{serialized}");
        let mut notice = sample::notice();
        notice.what_happened = "é".repeat(10_000);
        notice.facts = vec![("f".into(), "v".repeat(10_000)); 40];
        let payload = teams(&notice);
        let story = payload["attachments"][0]["content"]["body"][1]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(story.contains("é…"), "cut marked");
        let facts = payload["attachments"][0]["content"]["body"][2]["facts"]
            .as_array()
            .map(Vec::len);
        assert_eq!(facts, Some(FACTS_MAX + 2));
        assert!(payload.to_string().len() < 28_000);
    }
}
