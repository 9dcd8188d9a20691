//! `spa costs [--account ID] [--json]`: the daily digest's figures in the terminal,
//! for the organization or one account, read from the configured cost source.

use std::process::ExitCode;

use spa_core::events::AccountId;
use spa_core::notify::digest;
use spa_usecases::ports::{Clock, Platform};
use spa_usecases::read_digest;

use super::emit;
use super::live::{self, block_on, connect, engine, fail, spinner};
use crate::cli::Live;

/// `spa costs`.
pub fn run(live: &Live, account: Option<&AccountId>, json: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let today = platform.clock().now().date_naive();
        let bar = spinner("reading the costs".into());
        let read = read_digest(&engine, platform.cost_source(), today, account)
            .await
            .map_err(fail);
        bar.finish_and_clear();
        let digest = read?;
        let text = if json {
            match serde_json::to_string_pretty(&digest) {
                Ok(text) => format!("{text}\n"),
                Err(error) => {
                    eprintln!("error: the digest could not be written as JSON: {error}");
                    return Err(ExitCode::FAILURE);
                }
            }
        } else {
            digest::table(&digest)
        };
        Ok(emit(&text))
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}
