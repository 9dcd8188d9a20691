//! A slash command as Slack posts it (`application/x-www-form-urlencoded`), and what
//! its text asks: `status [ACCOUNT|me]`, `costs [ACCOUNT|me]`, `find QUERY`, `help`.
//!
//! Parsing never panics (property-tested); a body that is not a slash command is a
//! [`FormError`] (answered 400 without detail); a text that is not understood is
//! [`Request::Unknown`] (answered with the help). The `response_url` must be Slack's
//! (`https://hooks.slack.com/...`) or the one local base a test configures: spa
//! never posts to an arbitrary URL a request names.

use std::collections::BTreeMap;

use crate::events::AccountId;

/// The longest value of a form field that is kept (Slack's are far shorter).
const MAX_FIELD: usize = 3_000;
/// Where Slack's response URLs are.
pub const SLACK_RESPONSE_BASE: &str = "https://hooks.slack.com/";

/// Why a body is not a slash command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A field the command needs is absent or empty.
    #[error("the field `{0}` is missing")]
    Missing(&'static str),
    /// A field is given twice.
    #[error("the field `{0}` is given twice")]
    Duplicate(String),
    /// A field is too long, or not text.
    #[error("the field `{0}` is not valid")]
    Invalid(&'static str),
    /// The response URL is not Slack's.
    #[error("the response URL is not Slack's")]
    ResponseUrl,
}

/// A slash command as Slack posts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// `/spa`.
    pub command: String,
    /// What follows the command.
    pub text: String,
    /// The Slack user (`U2CERLKJA`).
    pub user_id: String,
    /// The Slack user name, for logs.
    pub user_name: String,
    /// The workspace.
    pub team_id: String,
    /// The channel.
    pub channel_id: String,
    /// Where the answer goes later (valid 30 minutes, 5 answers).
    pub response_url: ResponseUrl,
}

impl std::fmt::Debug for SlashCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlashCommand")
            .field("command", &self.command)
            .field("text", &self.text)
            .field("user_id", &self.user_id)
            .field("team_id", &self.team_id)
            .field("channel_id", &self.channel_id)
            .finish_non_exhaustive()
    }
}

/// A response URL that was checked to be Slack's (or the configured local base).
/// Its path is a credential: `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseUrl(String);

impl std::fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseUrl(***)")
    }
}

impl ResponseUrl {
    /// `url` when it starts with [`SLACK_RESPONSE_BASE`] or with `local_base` (an
    /// `http://127.0.0.1:PORT/` of a test), and holds no space, control character,
    /// backslash or `@`.
    pub fn parse(url: &str, local_base: Option<&str>) -> Result<Self, FormError> {
        let allowed =
            |base: &str| base.ends_with('/') && url.starts_with(base) && url.len() > base.len();
        let clean = !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\' || c == '@');
        if clean && (allowed(SLACK_RESPONSE_BASE) || local_base.is_some_and(allowed)) {
            Ok(Self(url.to_owned()))
        } else {
            Err(FormError::ResponseUrl)
        }
    }

    /// The URL: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Parses a form body into a slash command; `local_base`: see [`ResponseUrl::parse`].
pub fn parse_form(body: &[u8], local_base: Option<&str>) -> Result<SlashCommand, FormError> {
    const KEPT: [&str; 7] = [
        "command",
        "text",
        "user_id",
        "user_name",
        "team_id",
        "channel_id",
        "response_url",
    ];
    let mut fields: BTreeMap<&'static str, String> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        let Some(name) = KEPT.into_iter().find(|k| *k == key) else {
            continue;
        };
        if value.len() > MAX_FIELD || value.contains('\u{fffd}') {
            return Err(FormError::Invalid(name));
        }
        if fields.insert(name, value.into_owned()).is_some() {
            return Err(FormError::Duplicate(name.to_owned()));
        }
    }
    let mut take = |name: &'static str, required: bool| -> Result<String, FormError> {
        let value = fields.remove(name).unwrap_or_default();
        if required && value.trim().is_empty() {
            return Err(FormError::Missing(name));
        }
        Ok(value)
    };
    let command = take("command", true)?;
    let text = take("text", false)?;
    let user_id = take("user_id", true)?;
    let user_name = take("user_name", false)?;
    let team_id = take("team_id", true)?;
    let channel_id = take("channel_id", false)?;
    let response_url = take("response_url", true)?;
    if !command.starts_with('/') {
        return Err(FormError::Invalid("command"));
    }
    if !user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FormError::Invalid("user_id"));
    }
    Ok(SlashCommand {
        command,
        text,
        user_id,
        user_name,
        team_id,
        channel_id,
        response_url: ResponseUrl::parse(&response_url, local_base)?,
    })
}

/// Which accounts a question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The asker's own accounts (`me`, or nothing).
    Mine,
    /// One account.
    Account(AccountId),
}

/// What a slash command's text asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `status [ACCOUNT|me]`: the state of accounts.
    Status(Target),
    /// `costs [ACCOUNT|me]`: yesterday, last 7 days, month to date, last month.
    Costs(Target),
    /// `find QUERY`: an EC2 instance by id, private IP or ARN (the query as typed,
    /// checked by `usecases::find::FindQuery::parse`).
    Find(String),
    /// `request [LEASE]`: a pool account, for the unit's lease or a shorter one.
    Ask {
        /// The lease asked (`7d`), when one is.
        lease: Option<std::time::Duration>,
    },
    /// `extend ACCOUNT [DURATION]`: the lease of an account the asker holds, pushed
    /// by `DURATION`, or to the furthest the settings allow.
    Extend {
        /// The account.
        account: AccountId,
        /// By how much (none: as far as allowed).
        by: Option<std::time::Duration>,
    },
    /// `snooze ACCOUNT [DURATION]`: the next purge of an account the asker holds put
    /// off, once, by `DURATION` or the most the settings allow.
    Snooze {
        /// The account.
        account: AccountId,
        /// By how much (none: as far as allowed).
        by: Option<std::time::Duration>,
    },
    /// `help`, or nothing.
    Help,
    /// Anything else: what was not understood (at most 100 characters).
    Unknown(String),
}

impl Request {
    /// Reads the text of a slash command (words separated by any white space, the
    /// command word in any case).
    pub fn parse(text: &str) -> Request {
        let words: Vec<&str> = text.split_whitespace().collect();
        let unknown = || {
            let mut shown: String = text.trim().chars().take(100).collect();
            if text.trim().chars().count() > 100 {
                shown.push('…');
            }
            Request::Unknown(shown)
        };
        let target = |words: &[&str]| match words {
            [] => Some(Target::Mine),
            [word] if word.eq_ignore_ascii_case("me") => Some(Target::Mine),
            [word] => AccountId::parse(word).map(Target::Account),
            _ => None,
        };
        let Some((first, rest)) = words.split_first() else {
            return Request::Help;
        };
        match first.to_ascii_lowercase().as_str() {
            "help" if rest.is_empty() => Request::Help,
            "status" => target(rest).map_or_else(unknown, Request::Status),
            "costs" | "cost" => target(rest).map_or_else(unknown, Request::Costs),
            "find" if !rest.is_empty() => Request::Find(rest.join(" ")),
            "request" => match rest {
                [] => Request::Ask { lease: None },
                [lease] => crate::settings::parse_duration(lease)
                    .ok()
                    .filter(|lease| !lease.is_zero())
                    .map_or_else(unknown, |lease| Request::Ask { lease: Some(lease) }),
                _ => unknown(),
            },
            "snooze" => match rest {
                [account] => AccountId::parse(account)
                    .map_or_else(unknown, |account| Request::Snooze { account, by: None }),
                [account, by] => match (
                    AccountId::parse(account),
                    crate::settings::parse_duration(by)
                        .ok()
                        .filter(|by| !by.is_zero()),
                ) {
                    (Some(account), Some(by)) => Request::Snooze {
                        account,
                        by: Some(by),
                    },
                    _ => unknown(),
                },
                _ => unknown(),
            },
            "extend" => match rest {
                [account] => AccountId::parse(account)
                    .map_or_else(unknown, |account| Request::Extend { account, by: None }),
                [account, by] => match (
                    AccountId::parse(account),
                    crate::settings::parse_duration(by)
                        .ok()
                        .filter(|by| !by.is_zero()),
                ) {
                    (Some(account), Some(by)) => Request::Extend {
                        account,
                        by: Some(by),
                    },
                    _ => unknown(),
                },
                _ => unknown(),
            },
            _ => unknown(),
        }
    }

    /// Whether the answer takes longer than Slack's 3 seconds may allow, so that it is
    /// posted to the response URL later: costs, and the state of every account of
    /// the asker (one tag read per managed account).
    pub fn is_deferred(&self) -> bool {
        matches!(
            self,
            Request::Costs(_)
                | Request::Status(Target::Mine)
                | Request::Find(_)
                | Request::Ask { .. }
                | Request::Extend { .. }
                | Request::Snooze { .. }
        )
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status(_) => "status",
            Request::Costs(_) => "costs",
            Request::Find(_) => "find",
            Request::Ask { .. } => "request",
            Request::Extend { .. } => "extend",
            Request::Snooze { .. } => "snooze",
            Request::Help => "help",
            Request::Unknown(_) => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F3977%2F96rGlf";

    fn body(text: &str) -> String {
        format!(
            "token=x&team_id=T1&channel_id=C1&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fspa&text={text}&response_url={URL}&trigger_id=1.2.3"
        )
    }

    #[test]
    fn a_slash_command_is_read_from_its_form() {
        let command = parse_form(body("status+me").as_bytes(), None).expect("parses");
        assert_eq!(command.command, "/spa");
        assert_eq!(command.text, "status me");
        assert_eq!(command.user_id, "U2CERLKJA");
        assert_eq!(command.team_id, "T1");
        assert_eq!(
            command.response_url.expose(),
            "https://hooks.slack.com/commands/T1/3977/96rGlf"
        );
        assert!(!format!("{command:?}").contains("96rGlf"));
        // an empty text is fine
        assert_eq!(
            parse_form(body("").as_bytes(), None).map(|c| c.text),
            Ok(String::new())
        );
    }

    #[test]
    fn a_malformed_form_is_refused() {
        assert_eq!(
            parse_form(b"", None).err(),
            Some(FormError::Missing("command"))
        );
        assert_eq!(
            parse_form(b"command=%2Fspa&text=help", None).err(),
            Some(FormError::Missing("user_id"))
        );
        let twice = format!("{}&user_id=U999", body("help"));
        assert_eq!(
            parse_form(twice.as_bytes(), None).err(),
            Some(FormError::Duplicate("user_id".into()))
        );
        let not_utf8 = [body("help").as_bytes(), b"&text2=x&user_name=%FF"].concat();
        assert_eq!(
            parse_form(&not_utf8, None).err(),
            Some(FormError::Invalid("user_name"))
        );
        let bad_user = body("help").replace("U2CERLKJA", "U2%2F..");
        assert_eq!(
            parse_form(bad_user.as_bytes(), None).err(),
            Some(FormError::Invalid("user_id"))
        );
        assert!(parse_form(b"\xff\xfe\x00=&&==&", None).is_err());
    }

    #[test]
    fn only_slacks_response_urls_are_taken() {
        for bad in [
            "https://evil.example.com/commands/1",
            "https://hooks.slack.com.evil.example.com/x",
            "http://hooks.slack.com/commands/1",
            "https://hooks.slack.com/",
            "https://hooks.slack.com/x y",
            "https://hooks.slack.com\\@evil/x",
            "http://127.0.0.1:9999/hook",
        ] {
            assert_eq!(
                ResponseUrl::parse(bad, None),
                Err(FormError::ResponseUrl),
                "{bad}"
            );
        }
        assert!(ResponseUrl::parse("https://hooks.slack.com/commands/T1/2/3", None).is_ok());
        let local = Some("http://127.0.0.1:9999/");
        assert!(ResponseUrl::parse("http://127.0.0.1:9999/hook", local).is_ok());
        assert!(ResponseUrl::parse("http://127.0.0.1:9998/hook", local).is_err());
        let evil = body("help").replace(URL, "https%3A%2F%2Fevil.example.com%2Fx");
        assert_eq!(
            parse_form(evil.as_bytes(), None).err(),
            Some(FormError::ResponseUrl)
        );
    }

    #[test]
    fn the_text_says_what_is_asked() {
        let account = AccountId::parse("123456789012").expect("account");
        assert_eq!(Request::parse(""), Request::Help);
        assert_eq!(Request::parse("  help "), Request::Help);
        assert_eq!(Request::parse("status"), Request::Status(Target::Mine));
        assert_eq!(Request::parse("Status ME"), Request::Status(Target::Mine));
        assert_eq!(
            Request::parse("status\t123456789012"),
            Request::Status(Target::Account(account.clone()))
        );
        assert_eq!(Request::parse("costs"), Request::Costs(Target::Mine));
        assert_eq!(
            Request::parse("costs 123456789012"),
            Request::Costs(Target::Account(account))
        );
        assert_eq!(Request::parse("reboot"), Request::Unknown("reboot".into()));
        assert_eq!(
            Request::parse("status 12345"),
            Request::Unknown("status 12345".into())
        );
        assert_eq!(
            Request::parse("status me too"),
            Request::Unknown("status me too".into())
        );
        assert_eq!(
            Request::parse("help me"),
            Request::Unknown("help me".into())
        );
        let long = "x".repeat(300);
        let Request::Unknown(shown) = Request::parse(&long) else {
            panic!("unknown")
        };
        assert_eq!(shown.chars().count(), 101);
        assert_eq!(
            Request::parse("find  10.0.1.23"),
            Request::Find("10.0.1.23".into())
        );
        assert_eq!(Request::parse("find"), Request::Unknown("find".into()));
        assert!(Request::parse("find i-0123456789abcdef0").is_deferred());
        assert!(Request::parse("costs").is_deferred());
        assert!(Request::parse("status").is_deferred());
        assert!(!Request::parse("status 123456789012").is_deferred());
        assert!(!Request::parse("help").is_deferred());
    }

    #[test]
    fn a_request_and_an_extension_are_read_with_their_durations() {
        let account = AccountId::parse("123456789012").expect("account");
        let days = |n: u64| std::time::Duration::from_secs(n * 86_400);
        assert_eq!(Request::parse("request"), Request::Ask { lease: None });
        assert_eq!(
            Request::parse("Request 7d"),
            Request::Ask {
                lease: Some(days(7))
            }
        );
        assert_eq!(
            Request::parse("extend 123456789012"),
            Request::Extend {
                account: account.clone(),
                by: None
            }
        );
        assert_eq!(
            Request::parse("extend 123456789012 2w"),
            Request::Extend {
                account,
                by: Some(days(14))
            }
        );
        for bad in [
            "request 7",
            "request 0d",
            "request 7d please",
            "extend",
            "extend me",
            "extend 123456789012 forever",
        ] {
            assert_eq!(Request::parse(bad), Request::Unknown(bad.into()), "{bad}");
        }
        assert!(Request::parse("request").is_deferred());
        assert!(Request::parse("extend 123456789012").is_deferred());
        assert_eq!(
            Request::parse("snooze 123456789012 2d"),
            Request::Snooze {
                account: AccountId::parse("123456789012").expect("account"),
                by: Some(days(2))
            }
        );
        assert_eq!(
            Request::parse("snooze 123456789012 later"),
            Request::Unknown("snooze 123456789012 later".into())
        );
    }

    proptest::proptest! {
        #[test]
        fn no_body_or_text_panics(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            text in ".{0,200}",
        ) {
            let _ = parse_form(&bytes, Some("http://127.0.0.1:1/"));
            let _ = Request::parse(&text);
            let form = format!("command=%2Fspa&user_id=U1&team_id=T1&response_url={URL}&text={}",
                form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>());
            let parsed = parse_form(form.as_bytes(), None);
            let replaced = text.contains(char::REPLACEMENT_CHARACTER);
            proptest::prop_assert!(parsed.is_ok() || replaced);
            if let Ok(command) = parsed {
                proptest::prop_assert_eq!(command.text, text);
            }
        }
    }
}
