//! [`HttpWebhooks`]: the `Webhooks` port over HTTPS (`reqwest` with rustls).
//!
//! One JSON POST per call, with a connect timeout and a total timeout per try. A
//! connection error, a timeout, a 429 or a 5xx is tried again with exponential
//! backoff and jitter (spa's one [`Retry`] policy type, on `backon`), a 429's or 503's `Retry-After` honoured up to a
//! cap; once the tries are spent the error is `Unavailable` and says how many tries
//! and what the last one got. Any other non-2xx answer is `Rejected` at once, with
//! the status and at most 200 characters of the body. Redirects are not followed
//! (a webhook that moved is a settings matter, and the body is not sent elsewhere).
//!
//! Slack answers `200 ok`, Teams Workflows `202 Accepted`: any 2xx is delivered.
//!
//! The URL is a secret (its path or query is the credential): it never appears in an
//! error, a log line or a `Debug` output. Errors name the host only; `reqwest` errors
//! are stripped of their URL, and every message is scrubbed of the URL's path and
//! query in case a server echoes them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backon::Retryable;
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::config::WEBHOOK_TRIES;
use spa_usecases::Retry;
use spa_usecases::ports::{PortError, Secret, Webhooks};
use spa_usecases::retry::pause;

/// How much of an error body is kept in an error.
const BODY_CHARS: usize = 200;
/// How much of an error body is read at most.
const BODY_READ: usize = 4096;
/// The action named in errors.
const ACTION: &str = "POST";

/// Timeouts and retries of [`HttpWebhooks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// To open a connection; default 3 s.
    pub connect_timeout: Duration,
    /// For one try, from sending to the end of the answer; default 10 s.
    pub timeout: Duration,
    /// Tries and waits between them; default [`WEBHOOK_TRIES`] (3 tries, 500 ms
    /// doubled up to 4 s, jitter).
    pub retry: Retry,
    /// Longest wait a `Retry-After` may ask for; default 10 s.
    pub retry_after_cap: Duration,
    /// Slack's Web API, where `chat.postMessage` is; default [`SLACK_API`] (a local
    /// server in tests: `SPA_SLACK_API_URL`).
    pub slack_api: String,
}

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api/";

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            retry: WEBHOOK_TRIES,
            retry_after_cap: Duration::from_secs(10),
            slack_api: SLACK_API.to_owned(),
        }
    }
}

/// Chat webhooks (Slack incoming webhooks, Teams Workflows) over HTTPS.
///
/// The HTTP client (reqwest, its TLS configuration and trusted roots) is built at the
/// first message, not with the platform: most invocations send none, and building it
/// costs a short-lived process (`spa handle`) its time and memory for nothing.
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    options: WebhookOptions,
}

impl HttpWebhooks {
    /// With the default timeouts (3 s to connect, 10 s a try) and 3 tries.
    pub fn new() -> Result<Self, PortError> {
        Self::with_options(WebhookOptions::default())
    }

    /// With other timeouts and retries (tests make them short). The client is built
    /// at the first message: a client that cannot be built fails that message.
    pub fn with_options(options: WebhookOptions) -> Result<Self, PortError> {
        Ok(Self {
            client: Arc::new(OnceLock::new()),
            options,
        })
    }

    /// The HTTP client, built once, at the first call; why it cannot be built.
    fn client(&self) -> Result<&reqwest::Client, String> {
        let options = &self.options;
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(options.connect_timeout)
                    .timeout(options.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("spa/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| {
                        format!(
                            "the HTTP client could not be built: {}",
                            chain(&e.without_url())
                        )
                    })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The options in force.
    pub fn options(&self) -> &WebhookOptions {
        &self.options
    }

    /// On Slack's Web API at `base` (`SPA_SLACK_API_URL` of a test), else Slack's.
    pub fn with_slack_api(mut self, base: Option<&str>) -> Self {
        if let Some(base) = base {
            let mut base = base.to_owned();
            if !base.ends_with('/') {
                base.push('/');
            }
            self.options.slack_api = base;
        }
        self
    }

    /// One try; the start of the answer's body on success.
    async fn attempt(
        &self,
        url: &Url,
        body: &[u8],
        token: Option<&Secret>,
    ) -> Result<String, Failure> {
        let client = self.client().map_err(|message| Failure::Transport {
            retryable: false,
            message,
        })?;
        let mut request = client.post(url.clone());
        request = match token {
            // Slack's Web API asks for the charset with JSON bodies
            Some(token) => request
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .bearer_auth(token.expose()),
            None => request.header(CONTENT_TYPE, "application/json"),
        };
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure::transport(e, self.options.timeout))?;
        let status = response.status();
        if status.is_success() {
            return Ok(String::from_utf8_lossy(&read_bytes(response).await).into_owned());
        }
        let retry_after = retry_after(response.headers(), Utc::now());
        let body = read_start(response).await;
        Err(Failure::Status {
            status,
            retry_after,
            body,
        })
    }
}

impl HttpWebhooks {
    /// POSTs `body` to `raw` with the retries of the options: the start of the answer.
    async fn post(
        &self,
        raw: &str,
        body: &serde_json::Value,
        token: Option<&Secret>,
    ) -> Result<String, PortError> {
        let Ok(parsed) = Url::parse(raw) else {
            return Err(PortError::Rejected {
                service: "webhook".to_owned(),
                action: ACTION.to_owned(),
                message: "the webhook reference does not hold an http(s) URL".to_owned(),
            });
        };
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return Err(PortError::Rejected {
                service: "webhook".to_owned(),
                action: ACTION.to_owned(),
                message: "the webhook reference does not hold an http(s) URL".to_owned(),
            });
        }
        let service = format!("webhook {}", parsed.host_str().unwrap_or("?"));
        let scrub = Scrubber::new(raw, &parsed);
        let bytes = serde_json::to_vec(body).map_err(|e| PortError::Rejected {
            service: service.clone(),
            action: ACTION.to_owned(),
            message: format!("the body is not JSON: {e}"),
        })?;

        let tries = AtomicUsize::new(0);
        let options = &self.options;
        let result = (|| async {
            tries.fetch_add(1, Ordering::Relaxed);
            self.attempt(&parsed, &bytes, token).await
        })
        .retry(options.retry.backoff())
        .sleep(pause)
        .when(Failure::retryable)
        .adjust(|failure, next| {
            next.map(|delay| match failure.retry_after() {
                Some(asked) => delay.max(asked.min(options.retry_after_cap)),
                None => delay,
            })
        })
        .notify(|failure, delay| {
            tracing::warn!(
                service = %service,
                tries = tries.load(Ordering::Relaxed),
                failure = %scrub.clean(&failure.describe()),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "webhook try failed, trying again"
            );
        })
        .await;

        let tries = tries.load(Ordering::Relaxed);
        match result {
            Ok(answer) => Ok(answer),
            Err(failure) if failure.retryable() => Err(PortError::Unavailable {
                service,
                message: scrub.clean(&format!(
                    "{ACTION}: gave up after {tries} {}: last {}",
                    if tries == 1 { "try" } else { "tries" },
                    failure.describe()
                )),
            }),
            Err(failure) => Err(PortError::Rejected {
                service,
                action: ACTION.to_owned(),
                message: scrub.clean(&failure.describe()),
            }),
        }
    }
}

impl Webhooks for HttpWebhooks {
    async fn post_json(&self, url: &Secret, body: &serde_json::Value) -> Result<(), PortError> {
        self.post(url.expose(), body, None).await.map(|_| ())
    }

    async fn post_message(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<(), PortError> {
        let url = format!("{}chat.postMessage", self.options.slack_api);
        let answer = self.post(&url, body, Some(token)).await?;
        // Slack answers 200 to a refused message too: `{"ok": false, "error": "..."}`
        let read: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        // a long answer is read in part: Slack's starts with its verdict
        let ok = read.get("ok").and_then(serde_json::Value::as_bool) == Some(true)
            || answer.trim_start().starts_with("{\"ok\":true");
        if ok {
            return Ok(());
        }
        let error = read
            .get("error")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("an answer that is not Slack's")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(80)
            .collect::<String>();
        Err(PortError::Rejected {
            service: "slack".to_owned(),
            action: "chat.postMessage".to_owned(),
            message: format!("Slack refused the message: {error}"),
        })
    }

    async fn slack_user(&self, token: &Secret, email: &str) -> Result<Option<String>, PortError> {
        let unavailable = |message: String| PortError::Unavailable {
            service: "slack".to_owned(),
            message,
        };
        let client = self.client().map_err(|message| PortError::Rejected {
            service: "webhook".to_owned(),
            action: "client".to_owned(),
            message,
        })?;
        let response = client
            .get(format!("{}users.lookupByEmail", self.options.slack_api))
            .bearer_auth(token.expose())
            .query(&[("email", email)])
            .send()
            .await
            .map_err(|e| {
                unavailable(format!("users.lookupByEmail: {}", chain(&e.without_url())))
            })?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "users.lookupByEmail: HTTP {}",
                response.status()
            )));
        }
        let read: serde_json::Value = serde_json::from_slice(&read_bytes(response).await)
            .map_err(|_| unavailable("users.lookupByEmail: an answer that is not JSON".into()))?;
        if read.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
            return Ok(read
                .pointer("/user/id")
                .and_then(serde_json::Value::as_str)
                .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric()))
                .map(str::to_owned));
        }
        match read.get("error").and_then(serde_json::Value::as_str) {
            Some("users_not_found") => Ok(None),
            other => Err(PortError::Rejected {
                service: "slack".to_owned(),
                action: "users.lookupByEmail".to_owned(),
                message: format!(
                    "Slack refused: {}",
                    other
                        .unwrap_or("an answer that is not Slack's")
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(80)
                        .collect::<String>()
                ),
            }),
        }
    }
}

/// Why one try failed.
#[derive(Debug)]
enum Failure {
    /// The server answered with a status other than 2xx.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: String,
    },
    /// No answer: connection, timeout, or a request that could not be made.
    Transport { retryable: bool, message: String },
}

impl Failure {
    fn transport(error: reqwest::Error, timeout: Duration) -> Self {
        let error = error.without_url();
        if error.is_timeout() {
            Failure::Transport {
                retryable: true,
                message: format!("timed out after {} ms", timeout.as_millis()),
            }
        } else if error.is_connect() {
            Failure::Transport {
                retryable: true,
                message: format!("could not connect: {}", chain(&error)),
            }
        } else if error.is_builder() {
            Failure::Transport {
                retryable: false,
                message: format!("the request could not be made: {}", chain(&error)),
            }
        } else {
            // the connection broke while sending or reading: worth another try
            Failure::Transport {
                retryable: true,
                message: chain(&error),
            }
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            Failure::Transport { retryable, .. } => *retryable,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status {
                status,
                retry_after,
                ..
            } if *status == StatusCode::TOO_MANY_REQUESTS
                || *status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                *retry_after
            }
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Status { status, body, .. } if body.is_empty() => format!("HTTP {status}"),
            Failure::Status { status, body, .. } => format!("HTTP {status}: {body}"),
            Failure::Transport { message, .. } => message.clone(),
        }
    }
}

/// An error and its sources, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

/// The first [`BODY_READ`] bytes of an answer, or a little more.
async fn read_bytes(mut response: reqwest::Response) -> Vec<u8> {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes
}

/// The first [`BODY_CHARS`] characters of an error answer, on one line.
async fn read_start(response: reqwest::Response) -> String {
    let bytes = read_bytes(response).await;
    let text = String::from_utf8_lossy(&bytes);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    let mut kept: String = line.chars().take(BODY_CHARS).collect();
    if line.chars().count() > BODY_CHARS {
        kept.push('…');
    }
    kept
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP date after `now`.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Removes the secret parts of a URL from a text.
struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    fn new(raw: &str, url: &Url) -> Self {
        let mut secrets = vec![raw.to_owned(), url.as_str().to_owned()];
        let path = url.path();
        if path.len() > 1 {
            secrets.push(path.to_owned());
            // each segment long enough to be a token
            secrets.extend(path.split('/').filter(|s| s.len() >= 8).map(str::to_owned));
        }
        if let Some(query) = url.query().filter(|q| !q.is_empty()) {
            secrets.push(query.to_owned());
            secrets.extend(
                url.query_pairs()
                    .map(|(_, v)| v.into_owned())
                    .filter(|v| v.len() >= 8),
            );
        }
        // longest first, so that a part never leaves pieces of a longer one behind
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    fn clean(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(RETRY_AFTER, value);
        }
        headers
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = DateTime::from_timestamp(1_445_412_470, 0).unwrap_or_default(); // 07:27:50
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn what_is_retried() {
        let status = |code: u16| Failure::Status {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            retry_after: Some(Duration::from_secs(1)),
            body: String::new(),
        };
        assert!(status(429).retryable());
        assert!(status(500).retryable());
        assert!(status(503).retryable());
        assert!(!status(400).retryable());
        assert!(!status(404).retryable());
        assert!(!status(301).retryable());
        assert_eq!(status(429).retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(status(500).retry_after(), None);
    }

    #[test]
    fn the_scrubber_removes_every_secret_part() {
        let raw = "https://hooks.slack.com/services/T0000/B0000/XXXXsecretXXXX";
        let url = Url::parse(raw).unwrap_or_else(|_| unreachable!());
        let scrub = Scrubber::new(raw, &url);
        let text =
            format!("echo {raw} and /services/T0000/B0000/XXXXsecretXXXX and XXXXsecretXXXX");
        let clean = scrub.clean(&text);
        assert!(!clean.contains("secret"), "{clean}");
        assert!(clean.contains("echo *** and *** and ***"), "{clean}");

        let raw = "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1GNATUREs1gnature";
        let url = Url::parse(raw).unwrap_or_else(|_| unreachable!());
        let clean = Scrubber::new(raw, &url).clean("bad sig=S1GNATUREs1gnature");
        assert!(!clean.contains("S1GNATURE"), "{clean}");
    }
}
