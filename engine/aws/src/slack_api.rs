//! [`SlackApi`]: the `SlackUsers` port on Slack's Web API (`users.info`), over HTTPS
//! with `reqwest` (rustls), with short timeouts: it runs within Slack's 3 seconds.
//!
//! The base URL is `https://slack.com/api/` unless the edge gives another (a local
//! server in tests: `SPA_SLACK_API_URL`). The bot token goes in the `Authorization`
//! header, never in a URL, a log line or an error.

use std::time::Duration;

use serde::Deserialize;

use spa_usecases::ports::{PortError, Secret, SlackUsers};

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api/";

/// The Slack Web API client.
#[derive(Debug, Clone)]
pub struct SlackApi {
    client: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct UsersInfo {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    email: Option<String>,
}

fn unavailable(message: String) -> PortError {
    PortError::Unavailable {
        service: "slack".to_owned(),
        message,
    }
}

impl SlackApi {
    /// On `base` (`None`: [`SLACK_API`]); a base without a final `/` gets one.
    pub fn new(base: Option<&str>) -> Result<Self, PortError> {
        let mut base = base.unwrap_or(SLACK_API).to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(800))
            .timeout(Duration::from_millis(1500))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("spa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PortError::Rejected {
                service: "slack".to_owned(),
                action: "client".to_owned(),
                message: format!("the HTTP client could not be built: {}", e.without_url()),
            })?;
        Ok(Self { client, base })
    }
}

impl SlackUsers for SlackApi {
    async fn email(&self, token: &Secret, user_id: &str) -> Result<Option<String>, PortError> {
        let response = self
            .client
            .get(format!("{}users.info", self.base))
            .query(&[("user", user_id)])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| unavailable(format!("users.info: {}", e.without_url())))?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(unavailable(format!("users.info: HTTP {status}")));
        }
        let info: UsersInfo = response.json().await.map_err(|e| {
            unavailable(format!(
                "users.info: the answer is not JSON: {}",
                e.without_url()
            ))
        })?;
        if info.ok {
            return Ok(info
                .user
                .filter(|user| !user.deleted)
                .and_then(|user| user.profile)
                .and_then(|profile| profile.email)
                .filter(|email| !email.is_empty()));
        }
        match info.error.as_deref().unwrap_or("unknown") {
            "user_not_found" | "user_not_visible" => Ok(None),
            "ratelimited" => Err(unavailable("users.info: rate limited".to_owned())),
            error @ ("not_authed" | "invalid_auth" | "token_revoked" | "token_expired"
            | "account_inactive" | "missing_scope" | "no_permission") => Err(PortError::Denied {
                service: "slack".to_owned(),
                action: "users.info".to_owned(),
                message: error.to_owned(),
            }),
            error => Err(PortError::Rejected {
                service: "slack".to_owned(),
                action: "users.info".to_owned(),
                message: error.chars().take(80).collect(),
            }),
        }
    }
}
