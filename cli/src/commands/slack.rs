//! `spa slack serve --port N [--settings FILE]`: the slash command endpoint on
//! 127.0.0.1, against AWS or the emulator like the other live commands.
//!
//! At the edge only: `SLACK_SIGNING_SECRET` (instead of the settings' secret
//! reference), `SPA_SLACK_API_URL` (another Slack Web API, for tests) and
//! `SPA_SLACK_RESPONSE_BASE` (a loopback base accepted besides Slack's for response
//! URLs, for tests).

use std::process::ExitCode;
use std::sync::Arc;

use spa_aws::slack_api::SlackApi;
use spa_cli::slack_server::{SlackServer, bind, serve as serve_on};
use spa_usecases::ports::Secret;
use spa_usecases::slack::SlackOptions;

use super::live::{self, block_on, connect};
use crate::cli::Live;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A response base of a test: loopback HTTP only, ending with `/`.
fn local_base(value: &str) -> Result<String, String> {
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if loopback.iter().any(|p| value.starts_with(p)) {
        let mut base = value.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(base)
    } else {
        Err(format!(
            "SPA_SLACK_RESPONSE_BASE must be a loopback http:// base (a local test server), not `{value}`"
        ))
    }
}

/// `spa slack serve`.
pub fn serve(live: &Live, port: u16) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let local_response_base = match env("SPA_SLACK_RESPONSE_BASE").map(|v| local_base(&v)) {
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
        Some(Ok(base)) => Some(base),
        None => None,
    };
    let signing_secret = env("SLACK_SIGNING_SECRET").map(Secret::new);
    if signing_secret.is_none() && loaded.settings.notifications.slack_signing_secret.is_none() {
        eprintln!(
            "error: no signing secret: set SLACK_SIGNING_SECRET or notifications.slack_signing_secret"
        );
        return ExitCode::FAILURE;
    }
    let users = match SlackApi::new(env("SPA_SLACK_API_URL").as_deref()) {
        Ok(users) => users,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let listener = bind(port).await.map_err(|error| {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {error}");
            ExitCode::FAILURE
        })?;
        let address = listener.local_addr().map_err(|error| {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        })?;
        eprintln!("serving the Slack slash command on http://{address}/ (Ctrl-C stops)");
        let server = SlackServer {
            platform: Arc::new(platform),
            settings: Arc::new(loaded.settings.clone()),
            users: Arc::new(users),
            options: SlackOptions {
                signing_secret,
                local_response_base,
            },
        };
        serve_on(listener, Arc::new(server)).await;
        Ok::<ExitCode, ExitCode>(ExitCode::SUCCESS)
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_response_base_is_taken() {
        assert_eq!(
            local_base("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080/")
        );
        assert!(local_base("https://evil.example.com/").is_err());
        assert!(local_base("http://127.0.0.1.evil.example.com/").is_err());
    }
}
