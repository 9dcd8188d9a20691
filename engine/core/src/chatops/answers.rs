//! The messages of requests, approvals, lease extensions and unfreezes: what the
//! person who asks, the approvers and the clicker read in Slack (Block Kit). Pure.
//!
//! Every text is escaped for `mrkdwn`; e-mail addresses are masked; Slack users are
//! named by mention (`<@U0123ABCD>`: the ids are checked to be letters and digits
//! where they enter).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::interaction::Button;
use crate::events::{AccountId, redact_emails};
use crate::notify::text::slack_escape_within;
use crate::requests::AccessRequest;
use crate::settings::format_duration;

/// Characters of a section's text.
const SECTION_TEXT_MAX: usize = 3000;

/// Marks a Slack user's mention, kept through the escaping ([`blocks`] writes it
/// `<@U0123ABCD>`); only letters and digits of `user` are kept.
fn mention(user: &str) -> String {
    let id: String = user.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{MENTION_OPEN}{id}{MENTION_CLOSE}")
}

const MENTION_OPEN: char = '\u{E000}';
const MENTION_CLOSE: char = '\u{E001}';

/// A message of `mrkdwn` text (escaped here, mentions written) and buttons, if any.
fn blocks(text: &str, buttons: &[Value]) -> (String, Vec<Value>) {
    let escaped = slack_escape_within(&redact_emails(text), SECTION_TEXT_MAX)
        .replace(MENTION_OPEN, "<@")
        .replace(MENTION_CLOSE, ">");
    let mut blocks =
        vec![json!({ "type": "section", "text": { "type": "mrkdwn", "text": escaped } })];
    if !buttons.is_empty() {
        blocks.push(json!({ "type": "actions", "elements": buttons }));
    }
    (escaped, blocks)
}

/// An answer only the asker sees (a response URL's).
fn ephemeral(text: &str, buttons: &[Value]) -> Value {
    let (text, blocks) = blocks(text, buttons);
    json!({ "response_type": "ephemeral", "replace_original": false, "text": text, "blocks": blocks })
}

/// The message holding the button clicked, replaced by this text (buttons gone).
pub fn replaced(text: &str) -> Value {
    let (text, blocks) = blocks(text, &[]);
    json!({ "replace_original": true, "text": text, "blocks": blocks })
}

/// A direct message from the app to `user` (`chat.postMessage`).
pub fn direct(user: &str, text: &str, buttons: &[Value]) -> Value {
    let (text, blocks) = blocks(text, buttons);
    json!({ "channel": user, "text": text, "blocks": blocks })
}

/// A plain answer to the asker.
pub fn said(text: &str) -> Value {
    ephemeral(text, &[])
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// No unit opens requests.
pub fn closed() -> Value {
    said(
        "No sandbox account can be asked for here: no unit of spa's settings opens requests (`requests.feature`). Ask the team that runs spa.",
    )
}

/// No pool account is free now.
pub fn none_free() -> Value {
    said(
        "No sandbox account is free right now: every account of the pool is held, being cleaned or cooling down. Ask again later.",
    )
}

/// The asker holds as many accounts as a request allows.
pub fn holds_enough(held: usize, limit: u32) -> Value {
    said(&format!(
        "You hold {held} sandbox account{} already, and a request gives one to whoever holds fewer than {limit}. `/spa status` lists yours.",
        if held == 1 { "" } else { "s" }
    ))
}

/// The lease asked is longer than the unit's.
pub fn lease_too_long(asked: std::time::Duration, lease: std::time::Duration) -> Value {
    said(&format!(
        "A sandbox account is lent for {} at most, and you asked for {}: ask again with a shorter lease, or none.",
        format_duration(&lease),
        format_duration(&asked)
    ))
}

/// The request waits for its approvers.
pub fn pending(request: &AccessRequest, approvers: &[String]) -> Value {
    let names: Vec<String> = approvers.iter().map(|a| mention(a)).collect();
    said(&format!(
        "Your request `{}` waits for an approver ({}). If nobody answers by {}, it expires: ask again then.",
        request.id,
        names.join(", "),
        when(request.expires)
    ))
}

/// What an approver is asked, with the two buttons.
pub fn approval(approver: &str, request: &AccessRequest, unit_name: &str) -> Value {
    let lease = request
        .lease
        .map(|lease| format!(" for {}", format_duration(&lease)))
        .unwrap_or_default();
    direct(
        approver,
        &format!(
            "{} asks for a sandbox account of *{}*{lease} (request `{}`). Approve before {}, or the request expires.",
            mention(&request.requester),
            unit_name,
            request.id,
            when(request.expires)
        ),
        &[
            Button::Approve(request.id.clone()).element("Approve", Some("primary")),
            Button::Deny(request.id.clone()).element("Deny", Some("danger")),
        ],
    )
}

/// An account given: to whom it was given (a response URL's answer, or a direct message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// When its lease ends, if it has one.
    pub lease_end: Option<DateTime<Utc>>,
    /// Where to sign in (`notifications.sign_in_url`).
    pub sign_in_url: Option<String>,
    /// Whether its lease may be extended (an `Extend` button).
    pub extendable: bool,
}

/// The text and buttons that tell the holder their account.
fn given_parts(given: &Given) -> (String, Vec<Value>) {
    let name = if given.name.trim().is_empty() {
        given.account.to_string()
    } else {
        format!("*{}* ({})", given.name.trim(), given.account)
    };
    let mut text = format!("The sandbox account {name} is yours.");
    if let Some(end) = given.lease_end {
        text.push_str(&format!(
            " Its lease ends {}: then it is cleaned and given back.",
            when(end)
        ));
    }
    match &given.sign_in_url {
        Some(url) => text.push_str(&format!(
            "\nSign in at {url} and choose account {}.",
            given.account
        )),
        None => text.push_str(&format!(
            "\nSign in with your usual access to AWS and choose account {}.",
            given.account
        )),
    }
    text.push_str(" An e-mail with the details follows.");
    let buttons = if given.extendable && given.lease_end.is_some() {
        vec![Button::Extend(given.account.clone()).element("Extend the lease", None)]
    } else {
        Vec::new()
    };
    (text, buttons)
}

/// The account given, as the answer to `/spa request`.
pub fn granted(given: &Given) -> Value {
    let (text, buttons) = given_parts(given);
    ephemeral(&text, &buttons)
}

/// The account given after an approval, as a direct message to the requester.
pub fn granted_to(requester: &str, given: &Given, approver: &str) -> Value {
    let (text, buttons) = given_parts(given);
    direct(
        requester,
        &format!("{} approved your request. {text}", mention(approver)),
        &buttons,
    )
}

/// The request denied, as a direct message to the requester.
pub fn denied_to(requester: &str, request: &AccessRequest, approver: &str) -> Value {
    direct(
        requester,
        &format!(
            "{} denied your request `{}` for a sandbox account. Ask them, or the team that runs spa, why.",
            mention(approver),
            request.id
        ),
        &[],
    )
}

/// The request expired unanswered, as a direct message to the requester.
pub fn expired_to(requester: &str, request: &AccessRequest) -> Value {
    direct(
        requester,
        &format!(
            "Nobody answered your request `{}` for a sandbox account by {}: it expired. Ask again with `/spa request`, or ask the approvers of your unit.",
            request.id,
            when(request.expires)
        ),
        &[],
    )
}

/// The approver's message once answered.
pub fn answered(request: &AccessRequest, approver: &str, account: Option<&AccountId>) -> Value {
    let verdict = match account {
        Some(account) => format!(
            "{} approved request `{}`: account {account} was given to {}.",
            mention(approver),
            request.id,
            mention(&request.requester)
        ),
        None => format!(
            "{} denied request `{}` of {}.",
            mention(approver),
            request.id,
            mention(&request.requester)
        ),
    };
    replaced(&verdict)
}

/// The pre-purge notice as a direct message to its holder (`user`), with the Snooze
/// button when the settings allow a snooze.
pub fn purge_notice(user: &str, mail: &crate::notify::PurgeNoticeMail) -> Value {
    let when = mail.purge.format("%Y-%m-%d %H:%M UTC");
    let mut text = format!(
        "Your sandbox account {} will be purged {when}: spa deletes what is in it, then prepares it again.",
        mail.account
    );
    match &mail.preview {
        Ok(summary) if summary.total == 0 => {
            text.push_str("\nA dry run of the purge found nothing it would delete.");
        }
        Ok(summary) => {
            text.push_str(&format!(
                "\nA dry run lists {} resources it would delete:",
                summary.total
            ));
            for line in summary.lines().iter().take(10) {
                let line: String = line.chars().filter(|c| !c.is_control()).take(100).collect();
                text.push_str(&format!("\n• {line}"));
            }
        }
        Err(why) => {
            let why: String = why.chars().filter(|c| !c.is_control()).take(200).collect();
            text.push_str(&format!("\nWhat it would delete is not known: {why}."));
        }
    }
    let buttons = match mail.snooze.filter(|snooze| !snooze.is_zero()) {
        Some(snooze) => {
            text.push_str(&format!(
                "\nYou may put it off once, by {} at most: the button does, or `/spa snooze {} [DURATION]`.",
                format_duration(&snooze),
                mail.account
            ));
            vec![Button::Snooze(mail.account.clone()).element("Snooze the purge", None)]
        }
        None => Vec::new(),
    };
    direct(user, &text, &buttons)
}

/// The lease moved.
pub fn extended(account: &AccountId, until: DateTime<Utc>) -> Value {
    said(&format!(
        "The lease of account {account} now ends {}.",
        when(until)
    ))
}

/// An account unfrozen by an admin; `state`: the state it went back to, when known.
pub fn unfrozen(account: &AccountId, by: &str, state: Option<&str>) -> Value {
    let back = state.map_or_else(
        || "it is back in the state it was frozen in".to_owned(),
        |state| format!("it is {state} again"),
    );
    said(&format!(
        "{} unfroze account {account}: {back}, and its holder may start resources.",
        mention(by)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::requests::RequestStatus;

    fn request() -> AccessRequest {
        AccessRequest {
            id: "r-1765000000-0123456789abcdef".into(),
            requester: "U0JANE".into(),
            email: "jane@example.com".into(),
            unit: "ou-ab12-sandbox1".into(),
            lease: Some(std::time::Duration::from_secs(7 * 86_400)),
            asked: DateTime::from_timestamp(1_765_000_000, 0).unwrap(),
            expires: DateTime::from_timestamp(1_765_086_400, 0).unwrap(),
            status: RequestStatus::Pending,
            answered_by: None,
            answered_at: None,
            account: None,
        }
    }

    fn text(message: &Value) -> &str {
        message["blocks"][0]["text"]["text"].as_str().unwrap()
    }

    #[test]
    fn an_approver_gets_the_request_with_two_buttons() {
        let asked = approval("U0APPROVER", &request(), "Personal <sandboxes>");
        assert_eq!(asked["channel"], "U0APPROVER");
        let shown = text(&asked);
        assert!(
            shown.contains(
                "<@U0JANE> asks for a sandbox account of *Personal &lt;sandboxes&gt;* for 1w"
            ),
            "{shown}"
        );
        assert!(!shown.contains("jane@example.com"));
        let buttons = &asked["blocks"][1]["elements"];
        assert_eq!(buttons[0]["action_id"], "approve");
        assert_eq!(buttons[0]["value"], "r-1765000000-0123456789abcdef");
        assert_eq!(buttons[1]["action_id"], "deny");
        assert_eq!(buttons[1]["style"], "danger");
    }

    #[test]
    fn the_holder_is_told_where_to_sign_in_and_may_extend() {
        let given = Given {
            account: AccountId::parse("123456789012").unwrap(),
            name: "Sandbox 7".into(),
            lease_end: DateTime::from_timestamp(1_765_604_800, 0),
            sign_in_url: Some("https://d-1234567890.awsapps.com/start".into()),
            extendable: true,
        };
        let answer = granted(&given);
        assert_eq!(answer["response_type"], "ephemeral");
        let shown = text(&answer);
        assert!(
            shown.contains("*Sandbox 7* (123456789012) is yours"),
            "{shown}"
        );
        assert!(shown.contains("lease ends 2025-12-13"), "{shown}");
        assert!(shown.contains("https://d-1234567890.awsapps.com/start"));
        assert_eq!(answer["blocks"][1]["elements"][0]["action_id"], "extend");
        let told = granted_to(
            "U0JANE",
            &Given {
                extendable: false,
                ..given
            },
            "U0APPROVER",
        );
        assert_eq!(told["channel"], "U0JANE");
        assert!(text(&told).starts_with("<@U0APPROVER> approved your request."));
        assert_eq!(told["blocks"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn answers_replace_the_approvers_message() {
        let account = AccountId::parse("123456789012").unwrap();
        let yes = answered(&request(), "U0APPROVER", Some(&account));
        assert_eq!(yes["replace_original"], true);
        assert!(text(&yes).contains("account 123456789012 was given to <@U0JANE>"));
        let no = answered(&request(), "U0APPROVER", None);
        assert!(text(&no).contains("denied request"));
        assert!(text(&pending(&request(), &["U0APPROVER".into()])).contains("expires"));
        assert!(text(&holds_enough(1, 1)).contains("You hold 1 sandbox account already"));
    }
}
