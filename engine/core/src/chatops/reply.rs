//! The answers of the slash command as Slack messages (Block Kit, `ephemeral`: only
//! the asker sees them). Every text is escaped for `mrkdwn` and kept within Slack's
//! limits; e-mail addresses are masked. Pure.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::events::{AccountId, redact_emails};
use crate::notify::digest::{self, Digest};
use crate::notify::text::{slack_escape_within, truncate_escaped};

/// Characters of a section's text.
const SECTION_TEXT_MAX: usize = 3000;
/// Accounts listed in one status answer.
pub const STATUS_LINES_MAX: usize = 25;

/// The state of one account, as the answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Its state (`assigned`, `unmanaged`, ...).
    pub state: String,
    /// Its holder, masked.
    pub holder: Option<String>,
    /// Since when it is in its state.
    pub since: Option<DateTime<Utc>>,
}

/// One ephemeral message of `mrkdwn` text (escaped here), with `text` as fallback.
fn message(text: &str) -> Value {
    let escaped = slack_escape_within(&redact_emails(text), SECTION_TEXT_MAX);
    json!({
        "response_type": "ephemeral",
        "text": escaped,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": escaped } }],
    })
}

/// The help; `not_understood`: the text that was not understood, shown first.
pub fn help(command: &str, not_understood: Option<&str>) -> Value {
    let command = if command.starts_with('/') && command.len() < 40 {
        command
    } else {
        "/spa"
    };
    let mut text = String::new();
    if let Some(what) = not_understood {
        text.push_str(&format!("Sorry, I did not understand `{what}`.\n\n"));
    }
    text.push_str(&format!(
        "Ask spa about your sandbox accounts:\n\
         • `{command} status [ACCOUNT|me]`: the state of an account, or of yours\n\
         • `{command} costs [ACCOUNT|me]`: yesterday, the last 7 days, the month to date and last month\n\
         • `{command} find i-…|PRIVATE-IP|ARN`: where an EC2 instance is, across your accounts and regions\n\
         • `{command} request [LEASE]`: a sandbox account for you (`7d`: for a week), given at once or once approved\n\
         • `{command} extend ACCOUNT [DURATION]`: push the end of your account's lease, within what the settings allow\n\
         • `{command} snooze ACCOUNT [DURATION]`: put the next purge of your account off, once, within what the settings allow\n\
         • `{command} help`: this help\n\
         ACCOUNT is a 12-digit account id. You may ask about the accounts you hold."
    ));
    message(&text)
}

/// The first answer of a question answered later.
pub fn working(what: &str) -> Value {
    message(&format!(
        "Working on `{what}`: the answer comes here in a moment."
    ))
}

/// The same refusal whether the account exists, is managed, or is someone else's.
pub fn refused(account: &AccountId) -> Value {
    message(&format!(
        "You can ask only about accounts you hold, and {account} is not one of them (or there is no such account)."
    ))
}

/// The request comes from another Slack workspace than the settings' own.
pub fn other_workspace() -> Value {
    message("spa answers the members of its own Slack workspace only.")
}

/// The asker could not be told apart (no e-mail address in Slack, Slack down).
pub fn unknown_asker() -> Value {
    message(
        "I could not find your e-mail address in Slack, so I cannot tell which accounts are yours. Ask an administrator of the Slack app.",
    )
}

/// Something failed on spa's side; nothing about what.
pub fn failed() -> Value {
    message("Sorry, spa could not answer this time. Try again in a minute.")
}

/// The slash commands are turned off in the settings.
pub fn disabled() -> Value {
    message("The spa slash command is turned off (`features.slack_commands`).")
}

/// The state of accounts (at most [`STATUS_LINES_MAX`], then how many more).
pub fn status(states: &[AccountState]) -> Value {
    if states.is_empty() {
        return message("You hold no sandbox account.");
    }
    let mut lines: Vec<String> = states
        .iter()
        .take(STATUS_LINES_MAX)
        .map(|s| {
            let mut line = format!("• *{}* ({}): *{}*", one_line(&s.name), s.account, s.state);
            if let Some(since) = s.since {
                line.push_str(&format!(" since {}", since.format("%Y-%m-%d %H:%M UTC")));
            }
            if let Some(holder) = &s.holder {
                line.push_str(&format!(", held by {holder}"));
            }
            line
        })
        .collect();
    if states.len() > STATUS_LINES_MAX {
        lines.push(format!(
            "… and {} more (`spa status` lists them all)",
            states.len() - STATUS_LINES_MAX
        ));
    }
    message(&lines.join("\n"))
}

/// The answer of `find`: one line per instance found (at most [`STATUS_LINES_MAX`]),
/// then how many places could not be searched.
pub fn found(lines: &[String], searched: usize, failed: &[String]) -> Value {
    let mut text = if lines.is_empty() {
        format!("No instance found ({searched} account-regions searched).")
    } else {
        let mut shown: Vec<String> = lines
            .iter()
            .take(STATUS_LINES_MAX)
            .map(|l| format!("• {}", one_line(l)))
            .collect();
        if lines.len() > STATUS_LINES_MAX {
            shown.push(format!("… and {} more", lines.len() - STATUS_LINES_MAX));
        }
        shown.join("\n")
    };
    if !failed.is_empty() {
        text.push_str(&format!(
            "\n_Not searched ({}): {}_",
            failed.len(),
            failed
                .iter()
                .take(5)
                .map(|f| one_line(f))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    message(&text)
}

/// A `find` query that is not one: what was expected.
pub fn bad_query(why: &str) -> Value {
    message(&format!("I cannot search for that: {why}"))
}

/// Costs: one digest per account (or the organization's), as the daily digest shows them.
pub fn costs(digests: &[Digest]) -> Value {
    if digests.is_empty() {
        return message("You hold no sandbox account, so there are no costs to show.");
    }
    let mut blocks = Vec::new();
    let mut fallback = Vec::new();
    for digest in digests {
        let payload = digest::slack(digest);
        if let Some(parts) = payload.get("blocks").and_then(Value::as_array) {
            blocks.extend(parts.iter().cloned());
        }
        if let Some(text) = payload.get("text").and_then(Value::as_str) {
            fallback.push(text.to_owned());
        }
    }
    // Slack takes 50 blocks a message
    blocks.truncate(50);
    json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": truncate_escaped(&redact_emails(&fallback.join(" / ")), 400),
        "blocks": blocks,
    })
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: &Value) -> String {
        reply["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn replies_are_ephemeral_block_kit() {
        for reply in [
            help("/spa", None),
            working("costs"),
            failed(),
            unknown_asker(),
        ] {
            assert_eq!(reply["response_type"], "ephemeral");
            assert_eq!(reply["blocks"][0]["type"], "section");
            assert_eq!(reply["blocks"][0]["text"]["type"], "mrkdwn");
            assert!(reply["text"].is_string());
        }
    }

    #[test]
    fn the_help_says_what_was_not_understood_escaped() {
        let reply = help("/spa", Some("<!channel> reboot"));
        let shown = text(&reply);
        assert!(
            shown.starts_with("Sorry, I did not understand `&lt;!channel&gt; reboot`"),
            "{shown}"
        );
        assert!(shown.contains("/spa status [ACCOUNT|me]"));
        assert!(shown.contains("/spa costs"));
        assert!(shown.contains("/spa find"), "{shown}");
        assert!(!text(&help("/sandbox", None)).contains("Sorry"));
        assert!(text(&help("/sandbox", None)).contains("/sandbox help"));
    }

    #[test]
    fn a_status_masks_addresses_and_stops_at_the_limit() {
        let state = |n: u64| AccountState {
            account: AccountId::parse(&format!("{:012}", 100_000_000_000 + n)).expect("id"),
            name: format!("Sandbox of jane.doe@example.com {n}"),
            state: "assigned".into(),
            holder: Some("j***@example.com".into()),
            since: DateTime::from_timestamp(1_700_000_000, 0),
        };
        let shown = text(&status(&[state(1)]));
        assert!(
            shown.contains("*assigned* since 2023-11-14 22:13 UTC"),
            "{shown}"
        );
        assert!(shown.contains("100000000001"));
        assert!(!shown.contains("jane.doe@"), "{shown}");
        let many: Vec<AccountState> = (0..30).map(state).collect();
        let shown = text(&status(&many));
        assert_eq!(shown.matches("• ").count(), STATUS_LINES_MAX);
        assert!(shown.contains("and 5 more"));
        assert!(text(&status(&[])).contains("no sandbox account"));
    }

    #[test]
    fn the_refusal_does_not_tell_whether_the_account_exists() {
        let account = AccountId::parse("123456789012").expect("id");
        assert_eq!(refused(&account), refused(&account));
        assert!(text(&refused(&account)).contains("123456789012"));
    }
}
