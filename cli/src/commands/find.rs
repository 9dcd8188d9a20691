//! `spa find QUERY [--json]` (EC2 instances across every managed account and enabled
//! region) and `spa scan keys [--json] [--raise]` (access keys and console passwords
//! of the managed accounts' IAM users): the operator's view, every managed account.

use std::process::ExitCode;

use spa_core::events::AccountId;
use spa_usecases::ports::{Clock, Platform};
use spa_usecases::{
    Engine, FindQuery, find, find_instances, keys, managed_accounts, scan_access_keys,
};

use super::emit;
use super::live::{self, block_on, connect, engine, fail, spinner};
use crate::cli::Live;

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, ExitCode> {
    serde_json::to_string_pretty(value)
        .map(|text| format!("{text}\n"))
        .map_err(|error| {
            eprintln!("error: the result could not be written as JSON: {error}");
            ExitCode::FAILURE
        })
}

async fn every_managed_account<P: Platform>(
    engine: &Engine<'_, P>,
) -> Result<Vec<AccountId>, ExitCode> {
    let bar = spinner("listing the managed accounts".into());
    let listed = managed_accounts(engine, None).await.map_err(fail);
    bar.finish_and_clear();
    Ok(listed?.into_iter().map(|a| a.id).collect())
}

/// `spa find`: exit 0 when found, 1 when nothing was found, 2 for a query that is
/// not one.
pub fn find(live: &Live, query: &str, json: bool) -> ExitCode {
    let query = match FindQuery::parse(query) {
        Ok(query) => query,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let accounts = every_managed_account(&engine).await?;
        let bar = spinner(format!(
            "searching {} account(s) for {query}",
            accounts.len()
        ));
        let searched = find_instances(&engine, &query, &accounts)
            .await
            .map_err(fail);
        bar.finish_and_clear();
        let report = searched?;
        let text = if json {
            json_text(&report)?
        } else {
            find::table(&report)
        };
        let code = emit(&text);
        Ok(if report.found.is_empty() {
            ExitCode::FAILURE
        } else {
            code
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// `spa scan keys`: exit 0 when every account was read and nothing was found, 1
/// otherwise.
pub fn scan_keys(live: &Live, json: bool, raise: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let accounts = every_managed_account(&engine).await?;
        let now = platform.clock().now();
        let cause = format!("spa-scan-keys-{}", now.format("%Y-%m-%dT%H:%M:%SZ"));
        let bar = spinner(format!(
            "scanning the IAM users of {} account(s)",
            accounts.len()
        ));
        let scanned = scan_access_keys(&engine, &accounts, now, raise.then_some(cause.as_str()))
            .await
            .map_err(fail);
        bar.finish_and_clear();
        let report = scanned?;
        let text = if json {
            json_text(&report)?
        } else {
            keys::table(&report)
        };
        let code = emit(&text);
        Ok(if report.findings.is_empty() && report.failed.is_empty() {
            code
        } else {
            ExitCode::FAILURE
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}
