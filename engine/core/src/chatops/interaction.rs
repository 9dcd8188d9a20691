//! A click on one of spa's Block Kit buttons, as Slack posts it to the same URL as the
//! slash command: a form whose one field, `payload`, is JSON (`type: block_actions`).
//!
//! It is verified exactly as a slash command is (signature first, replay refused:
//! `usecases::slack`), then read here. What a button may ask is closed: its
//! `action_id` is one of [`Button`]'s words and its `value` an account id or a
//! request id, checked before anything is read for it. The value says *what* a
//! click is about, never *who* may do it: that is decided from the clicker's Slack
//! user id and the settings, where the click is carried out.

use serde_json::Value;

use super::command::{FormError, ResponseUrl};
use crate::requests::is_request_id;
use crate::vocabulary::AccountId;

/// The longest `payload` field kept (Slack's are a few KiB; the body budget of
/// `verify::MAX_BODY` bounds it first).
const MAX_PAYLOAD: usize = 8 * 1024;

/// What a button asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// An approver approves a request (`approve`, the request id).
    Approve(String),
    /// An approver denies a request (`deny`, the request id).
    Deny(String),
    /// The holder extends the lease of their account to the furthest the settings
    /// allow (`extend`, the account id).
    Extend(AccountId),
    /// An admin unfreezes an account the spend guard froze (`unfreeze`, the account id).
    Unfreeze(AccountId),
    /// The holder puts the next purge of their account off, by the most the settings
    /// allow (`snooze`, the account id).
    Snooze(AccountId),
}

impl Button {
    /// The `action_id` of this button.
    pub const fn action_id(&self) -> &'static str {
        match self {
            Button::Approve(_) => "approve",
            Button::Deny(_) => "deny",
            Button::Extend(_) => "extend",
            Button::Unfreeze(_) => "unfreeze",
            Button::Snooze(_) => "snooze",
        }
    }

    /// The `value` of this button.
    pub fn value(&self) -> String {
        match self {
            Button::Approve(id) | Button::Deny(id) => id.clone(),
            Button::Extend(account) | Button::Unfreeze(account) | Button::Snooze(account) => {
                account.to_string()
            }
        }
    }

    /// Reads an `action_id` and a `value`; `None`: not a button of spa's.
    pub fn parse(action_id: &str, value: &str) -> Option<Button> {
        let request = || is_request_id(value).then(|| value.to_owned());
        match action_id {
            "approve" => request().map(Button::Approve),
            "deny" => request().map(Button::Deny),
            "extend" => AccountId::parse(value).map(Button::Extend),
            "unfreeze" => AccountId::parse(value).map(Button::Unfreeze),
            "snooze" => AccountId::parse(value).map(Button::Snooze),
            _ => None,
        }
    }

    /// The Block Kit button (`style`: `primary`, `danger` or none).
    pub fn element(&self, text: &str, style: Option<&str>) -> Value {
        let mut button = serde_json::json!({
            "type": "button",
            "action_id": self.action_id(),
            "value": self.value(),
            "text": { "type": "plain_text", "text": text },
        });
        if let (Some(style), Some(map)) = (style, button.as_object_mut()) {
            map.insert("style".into(), Value::String(style.to_owned()));
        }
        button
    }
}

/// A click, as read from its payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Interaction {
    /// Who clicked (`U2CERLKJA`).
    pub user_id: String,
    /// Their workspace.
    pub team_id: String,
    /// What the button asks.
    pub button: Button,
    /// Where the message that holds the button is answered (replaced or followed).
    pub response_url: Option<ResponseUrl>,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("user_id", &self.user_id)
            .field("team_id", &self.team_id)
            .field("button", &self.button)
            .finish_non_exhaustive()
    }
}

/// Why a payload is not a click spa answers (every case a 400 without detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    /// The form or its payload is malformed.
    #[error("the interaction payload is malformed: {0}")]
    Malformed(&'static str),
    /// Not a click on a button (`type` is not `block_actions`).
    #[error("not a button click")]
    NotAClick,
    /// A button that is not one of spa's, or a value that is not what it expects.
    #[error("not one of spa's buttons")]
    UnknownButton,
    /// The response URL is not Slack's.
    #[error(transparent)]
    Form(#[from] FormError),
}

/// Whether a form body is an interaction (its only field is `payload`) rather than a
/// slash command.
pub fn is_interaction(body: &[u8]) -> bool {
    form_urlencoded::parse(body).any(|(key, _)| key == "payload")
}

/// Reads a click from a form body; `local_base`: see [`ResponseUrl::parse`].
pub fn parse_interaction(
    body: &[u8],
    local_base: Option<&str>,
) -> Result<Interaction, InteractionError> {
    let mut payload = None;
    for (key, value) in form_urlencoded::parse(body) {
        if key == "payload" {
            if payload.is_some() {
                return Err(InteractionError::Malformed("`payload` is given twice"));
            }
            if value.len() > MAX_PAYLOAD || value.contains('\u{fffd}') {
                return Err(InteractionError::Malformed("`payload` is not valid"));
            }
            payload = Some(value.into_owned());
        }
    }
    let payload = payload.ok_or(InteractionError::Malformed("no `payload`"))?;
    let root: Value = serde_json::from_str(&payload)
        .map_err(|_| InteractionError::Malformed("`payload` is not JSON"))?;
    if root.get("type").and_then(Value::as_str) != Some("block_actions") {
        return Err(InteractionError::NotAClick);
    }
    let text = |value: Option<&Value>, what: &'static str| -> Result<String, InteractionError> {
        value
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 64)
            .map(str::to_owned)
            .ok_or(InteractionError::Malformed(what))
    };
    let user_id = text(root.pointer("/user/id"), "no `user.id`")?;
    if !user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(InteractionError::Malformed("`user.id` is not a Slack id"));
    }
    let team_id = text(
        root.pointer("/team/id").or(root.pointer("/user/team_id")),
        "no `team.id`",
    )?;
    let actions = root
        .get("actions")
        .and_then(Value::as_array)
        .ok_or(InteractionError::Malformed("no `actions`"))?;
    // Slack sends the one button clicked
    let [action] = actions.as_slice() else {
        return Err(InteractionError::Malformed("not exactly one action"));
    };
    let action_id = text(action.get("action_id"), "no `action_id`")?;
    let value = text(action.get("value"), "no `value`")?;
    let button = Button::parse(&action_id, &value).ok_or(InteractionError::UnknownButton)?;
    let response_url = match root.get("response_url").and_then(Value::as_str) {
        Some(url) => Some(ResponseUrl::parse(url, local_base)?),
        None => None,
    };
    Ok(Interaction {
        user_id,
        team_id,
        button,
        response_url,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form(payload: &Value) -> Vec<u8> {
        let text = payload.to_string();
        format!(
            "payload={}",
            form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
        )
        .into_bytes()
    }

    fn click(action_id: &str, value: &str) -> Value {
        serde_json::json!({
            "type": "block_actions",
            "user": { "id": "U0APPROVER", "team_id": "T1" },
            "team": { "id": "T1" },
            "response_url": "https://hooks.slack.com/actions/T1/1/s3cr3tpath",
            "actions": [{ "action_id": action_id, "value": value, "type": "button" }],
        })
    }

    #[test]
    fn a_click_on_each_button_is_read() {
        let body = form(&click("approve", "r-1765000000-0123456789abcdef"));
        assert!(is_interaction(&body));
        let read = parse_interaction(&body, None).unwrap();
        assert_eq!(read.user_id, "U0APPROVER");
        assert_eq!(read.team_id, "T1");
        assert_eq!(
            read.button,
            Button::Approve("r-1765000000-0123456789abcdef".into())
        );
        assert!(!format!("{read:?}").contains("s3cr3tpath"));
        let account = AccountId::parse("123456789012").unwrap();
        for (id, button) in [
            ("deny", Button::Deny("r-1-ab".into())),
            ("extend", Button::Extend(account.clone())),
            ("unfreeze", Button::Unfreeze(account.clone())),
            ("snooze", Button::Snooze(account.clone())),
        ] {
            let clicked = parse_interaction(&form(&click(id, &button.value())), None).unwrap();
            assert_eq!(clicked.button, button);
            let element = button.element("Go", Some("primary"));
            assert_eq!(element["action_id"], id);
            assert_eq!(element["value"], button.value());
        }
    }

    #[test]
    fn what_is_not_a_click_of_spas_is_refused() {
        let slash = b"command=%2Fspa&text=help&user_id=U1&team_id=T1";
        assert!(!is_interaction(slash));
        let cases: Vec<(Vec<u8>, InteractionError)> = vec![
            (
                b"payload=%7Bnot%20json".to_vec(),
                InteractionError::Malformed("`payload` is not JSON"),
            ),
            (
                form(&serde_json::json!({ "type": "view_submission" })),
                InteractionError::NotAClick,
            ),
            (
                form(&click("delete", "123456789012")),
                InteractionError::UnknownButton,
            ),
            // a value that is not what the button expects
            (
                form(&click("approve", "123456789012")),
                InteractionError::UnknownButton,
            ),
            (
                form(&click("unfreeze", "r-1-ab")),
                InteractionError::UnknownButton,
            ),
            (
                form(&click("extend", "../../etc")),
                InteractionError::UnknownButton,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(parse_interaction(&body, None).err(), Some(expected));
        }
        let mut two = click("approve", "r-1-ab");
        two["actions"] = serde_json::json!([
            { "action_id": "approve", "value": "r-1-ab" },
            { "action_id": "deny", "value": "r-1-ab" }
        ]);
        assert!(parse_interaction(&form(&two), None).is_err());
        let mut elsewhere = click("approve", "r-1-ab");
        elsewhere["response_url"] = "https://evil.example.com/x".into();
        assert_eq!(
            parse_interaction(&form(&elsewhere), None).err(),
            Some(InteractionError::Form(FormError::ResponseUrl))
        );
        let mut odd_user = click("approve", "r-1-ab");
        odd_user["user"]["id"] = "U1/../x".into();
        assert!(parse_interaction(&form(&odd_user), None).is_err());
        let twice = [form(&click("approve", "r-1-ab")), b"&payload=x".to_vec()].concat();
        assert!(parse_interaction(&twice, None).is_err());
    }

    proptest::proptest! {
        #[test]
        fn no_payload_panics(text in ".{0,300}") {
            let body = format!(
                "payload={}",
                form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            );
            let _ = parse_interaction(body.as_bytes(), None);
        }
    }
}
