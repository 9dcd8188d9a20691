//! The operator's live commands: status, check, expire | reset | release | assign,
//! events list. Thin glue over `spa_usecases::operator`.

use std::process::ExitCode;

use serde_json::json;
use spa_core::events::{AccountId, Action};
use spa_usecases::Verdict;
use spa_usecases::handler::summary;
use spa_usecases::operator::{self, BulkReport, Finding, Mode, Selection};
use spa_usecases::ports::{ActivityQuery, Clock, Journal, Platform};

use super::emit;
use super::live::{self, block_on, connect, engine, fail, spinner, table};
use crate::cli::{Bulk, Live};

fn date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// `spa status`.
pub fn status(live: &Live, json: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let bar = spinner("reading the managed accounts".into());
        let lines = operator::status(&engine).await.map_err(fail);
        bar.finish_and_clear();
        let lines = lines?;
        let text = if json {
            let items: Vec<_> = lines
                .iter()
                .map(|l| {
                    json!({
                        "account": l.account.as_str(), "name": l.name, "path": l.path,
                        "state": l.state, "holder": l.holder, "since": l.since,
                        "cooldown_until": l.cooldown_until,
                        "snoozed_until": l.snoozed_until,
                    })
                })
                .collect();
            format!("{}\n", serde_json::Value::Array(items))
        } else {
            format!(
                "{}{} managed account(s)\n",
                status_table(&lines),
                lines.len()
            )
        };
        Ok(emit(&text))
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// The table of `spa status` (and of the demo's end).
pub fn status_table(lines: &[operator::StatusLine]) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.account.to_string(),
                l.name.clone(),
                l.path.clone(),
                l.state.clone(),
                l.holder.clone().unwrap_or_default(),
                date(l.since),
                date(l.cooldown_until),
                date(l.snoozed_until),
            ]
        })
        .collect();
    table(
        &[
            "ACCOUNT",
            "NAME",
            "OU PATH",
            "STATE",
            "HOLDER",
            "SINCE",
            "COOLDOWN UNTIL",
            "SNOOZED UNTIL",
        ],
        &rows,
    )
}

fn finding(f: &Finding) -> (String, String, String) {
    match f {
        Finding::MissingState(a) => (
            a.to_string(),
            "missing-state".into(),
            "managed, but has no state tag: `spa reset` it".into(),
        ),
        Finding::Undecodable(a, why) => (a.to_string(), "undecodable".into(), why.clone()),
        Finding::Inconsistent(a, why) => (a.to_string(), "inconsistent".into(), why.clone()),
        Finding::StrayTags(a, keys) => (
            a.to_string(),
            "stray-tags".into(),
            format!("not managed, yet tagged {}", keys.join(", ")),
        ),
        Finding::Overdue(a, due) => (
            a.to_string(),
            "overdue".into(),
            format!("past its deadline of {}", due.format("%Y-%m-%d %H:%M")),
        ),
    }
}

/// `spa check`: exit 1 when something is found.
pub fn check(live: &Live, json: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let bar = spinner("reading the tags of every account".into());
        let findings = operator::check(&engine).await.map_err(fail);
        bar.finish_and_clear();
        let findings = findings?;
        let rows: Vec<(String, String, String)> = findings.iter().map(finding).collect();
        let text = if json {
            let items: Vec<_> = rows
                .iter()
                .map(|(a, k, w)| json!({"account": a, "finding": k, "detail": w}))
                .collect();
            format!("{}\n", serde_json::Value::Array(items))
        } else if rows.is_empty() {
            "no drift found\n".to_owned()
        } else {
            let rows: Vec<Vec<String>> = rows.into_iter().map(|(a, k, w)| vec![a, k, w]).collect();
            format!(
                "{}{} finding(s)\n",
                table(&["ACCOUNT", "FINDING", "DETAIL"], &rows),
                rows.len()
            )
        };
        let code = emit(&text);
        Ok(if findings.is_empty() {
            code
        } else {
            ExitCode::FAILURE
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

fn selection(bulk: &Bulk) -> Result<Selection, ExitCode> {
    if bulk.all {
        return Ok(Selection::AllManaged);
    }
    if let Some(ou) = &bulk.ou {
        return Ok(Selection::Unit(ou.clone()));
    }
    let mut ids = Vec::new();
    for id in &bulk.accounts {
        match AccountId::parse(id) {
            Some(id) => ids.push(id),
            None => {
                eprintln!(
                    "error: `{id}` is not an account id: expected {}",
                    AccountId::EXPECTED
                );
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(Selection::Accounts(ids))
}

/// Asks before changing several accounts; refuses without a terminal unless `--yes`.
fn confirm(what: &str, count: usize, bulk: &Bulk) -> Result<(), ExitCode> {
    let several = count > 1 || bulk.all || bulk.ou.is_some();
    if bulk.yes || bulk.dry_run || !several {
        return Ok(());
    }
    ask(
        &format!("{what} {count} account(s)"),
        &format!("{what} {count} account(s)?"),
    )
}

/// Asks `question` on the terminal: yes goes on; anything else, or no terminal (the
/// operator must say `--yes` about `what`), stops with nothing done.
fn ask(what: &str, question: &str) -> Result<(), ExitCode> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        eprintln!("error: {what}: confirm with --yes (standard input is not a terminal)");
        return Err(ExitCode::from(2));
    }
    eprint!("{question} [y/N] ");
    // an unflushed prompt or an unread answer is a no: nothing is done
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        answer.clear();
    }
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        eprintln!("nothing done");
        Err(ExitCode::FAILURE)
    }
}

fn report_text(report: &BulkReport, json: bool) -> String {
    if json {
        let planned: Vec<_> = report
            .planned
            .iter()
            .map(|p| match &p.result {
                Ok(decision) => json!({"account": p.account.as_str(),
                    "from": spa_core::lifecycle::state_name(decision.from),
                    "to": spa_core::lifecycle::state_name(decision.to)}),
                Err(why) => json!({"account": p.account.as_str(), "skipped": why}),
            })
            .collect();
        let outcomes: Vec<_> = report.outcomes.iter().map(summary).collect();
        let failures: Vec<_> = report
            .failures
            .iter()
            .map(|(a, why)| json!({"account": a.as_str(), "error": why}))
            .collect();
        return format!(
            "{}\n",
            json!({"accounts": report.accounts.len(), "planned": planned, "sent": report.sent,
                   "outcomes": outcomes, "failures": failures})
        );
    }
    let mut text = String::new();
    for p in &report.planned {
        match &p.result {
            Ok(decision) => text.push_str(&format!(
                "{}: would go {} -> {}\n",
                p.account,
                spa_core::lifecycle::state_name(decision.from),
                spa_core::lifecycle::state_name(decision.to)
            )),
            Err(why) => text.push_str(&format!("{}: nothing to do: {why}\n", p.account)),
        }
    }
    for outcome in &report.outcomes {
        text.push_str(&summary(outcome));
        text.push('\n');
    }
    for (account, why) in &report.failures {
        text.push_str(&format!("{account}: failed: {why}\n"));
    }
    if report.sent > 0 {
        text.push_str(&format!(
            "{} command(s) sent to the command queue\n",
            report.sent
        ));
    }
    if report.accounts.is_empty() {
        text.push_str("no managed account selected\n");
    }
    text
}

/// `spa expire | reset | release` and `spa assign`.
pub fn bulk(live: &Live, bulk: &Bulk, action: Action) -> ExitCode {
    let selection = match selection(bulk) {
        Ok(selection) => selection,
        Err(code) => return code,
    };
    run_bulk(live, bulk, selection, action)
}

/// `spa close ACCOUNT` or `spa close --holder EMAIL` (every account of a holder who
/// leaves): always asks first (a closed account does not come back), unless `--yes`
/// or `--dry-run`.
pub fn close(live: &Live, bulk: &Bulk, holder: Option<&str>) -> ExitCode {
    let (selection, what) = match holder {
        Some(holder) => match spa_core::lifecycle::Holder::new(holder) {
            Ok(checked) => (
                Selection::HeldBy(holder.to_owned()),
                format!("every account held by {}", checked.masked()),
            ),
            Err(error) => {
                eprintln!("error: --holder: {error}");
                return ExitCode::from(2);
            }
        },
        None => match selection(bulk) {
            Ok(selection) => (selection, bulk.accounts.join(" ")),
            Err(code) => return code,
        },
    };
    if !bulk.yes
        && !bulk.dry_run
        && let Err(code) = ask(
            &format!("closing {what} cannot be undone"),
            &format!(
                "close {what}? Its holder loses it, a last purge deletes what is in it, then AWS closes it (or it is parked in the suspended unit)."
            ),
        )
    {
        return code;
    }
    let asked = Bulk {
        yes: true,
        ..bulk.clone()
    };
    run_bulk(live, &asked, selection, Action::Close)
}

/// `spa assign ACCOUNT --holder EMAIL`.
pub fn assign(live: &Live, account: &str, holder: &str, dry_run: bool, json: bool) -> ExitCode {
    if let Err(error) = spa_core::lifecycle::Holder::new(holder) {
        eprintln!("error: --holder: {error}");
        return ExitCode::from(2);
    }
    let action = Action::Assign {
        holder: holder.to_owned(),
    };
    one_account(live, account, action, dry_run, json)
}

/// `spa freeze ACCOUNT --reason TEXT`.
pub fn freeze(live: &Live, account: &str, reason: &str, dry_run: bool, json: bool) -> ExitCode {
    // one line of at most 1,000 characters: it goes to an incident and the history
    let reason: String = reason
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(1000)
        .collect();
    if reason.is_empty() {
        eprintln!("error: --reason: expected why the account is frozen, for its incident");
        return ExitCode::from(2);
    }
    let action = Action::Freeze { reason };
    one_account(live, account, action, dry_run, json)
}

/// `spa snooze ACCOUNT [--by 2d]`: the operator puts the next purge of the account
/// off, once, by at most its `purge_notice.snooze`. Exit 0 snoozed, 1 refused (the
/// reason printed), 2 bad input.
pub fn snooze(live: &Live, account: &str, by: Option<&str>, json: bool) -> ExitCode {
    let Some(id) = AccountId::parse(account) else {
        eprintln!(
            "error: `{account}` is not an account id: expected {}",
            AccountId::EXPECTED
        );
        return ExitCode::from(2);
    };
    let by = match by
        .map(spa_core::settings::values::parse_duration)
        .transpose()
    {
        Ok(by) => by,
        Err(expected) => {
            eprintln!("error: --by: expected {expected}");
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
        let outcome = spa_usecases::snooze(&engine, &id, by, spa_usecases::Snoozer::Operator)
            .await
            .map_err(fail)?;
        Ok(match (&outcome, json) {
            (spa_usecases::SnoozeOutcome::Snoozed { purge, until }, true) => emit(&format!(
                "{}\n",
                json!({"account": id.as_str(), "snoozed": true, "purge": purge, "snoozed_until": until})
            )),
            (spa_usecases::SnoozeOutcome::Snoozed { purge, until }, false) => emit(&format!(
                "{id}: the purge of {} is put off until {} (UTC)\n",
                purge.format("%Y-%m-%d %H:%M"),
                until.format("%Y-%m-%d %H:%M")
            )),
            (spa_usecases::SnoozeOutcome::Refused(why), true) => {
                // refused: exit 1 whether or not the answer could be printed
                let _printed: ExitCode = emit(&format!(
                    "{}\n",
                    json!({"account": id.as_str(), "snoozed": false, "reason": why})
                ));
                ExitCode::from(1)
            }
            (spa_usecases::SnoozeOutcome::Refused(why), false) => {
                eprintln!("error: {id} not snoozed: {why}");
                ExitCode::from(1)
            }
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// An action on one account, applied at once (not through the queue).
fn one_account(live: &Live, account: &str, action: Action, dry_run: bool, json: bool) -> ExitCode {
    let Some(id) = AccountId::parse(account) else {
        eprintln!(
            "error: `{account}` is not an account id: expected {}",
            AccountId::EXPECTED
        );
        return ExitCode::from(2);
    };
    let options = Bulk {
        accounts: vec![account.to_owned()],
        ou: None,
        all: false,
        dry_run,
        yes: true,
        direct: true,
        json,
    };
    run_bulk(live, &options, Selection::Accounts(vec![id]), action)
}

fn run_bulk(live: &Live, bulk: &Bulk, selection: Selection, action: Action) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mode = if bulk.dry_run {
        Mode::DryRun
    } else if bulk.direct {
        Mode::Direct
    } else {
        Mode::Queue
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let accounts = operator::select(&engine, &selection).await.map_err(fail)?;
        confirm(action.name(), accounts.len(), bulk)?;
        let run_id = format!(
            "operator-{}",
            platform.clock().now().format("%Y%m%dT%H%M%S%.3fZ")
        );
        let bar = spinner(format!("{} {} account(s)", action.name(), accounts.len()));
        let report = operator::bulk(
            &engine,
            &Selection::Accounts(accounts),
            &action,
            mode,
            &run_id,
        )
        .await
        .map_err(fail);
        bar.finish_and_clear();
        let report = report?;
        let code = emit(&report_text(&report, bulk.json));
        // an assign refused during a cooldown did nothing the operator asked for
        let cooling = report.outcomes.iter().any(|o| {
            matches!(
                o.verdict,
                Verdict::Rejected(spa_core::lifecycle::Rejection::Cooldown { .. })
            )
        });
        Ok(if report.failures.is_empty() && !cooling {
            code
        } else {
            ExitCode::FAILURE
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// `spa events list`.
pub fn events(live: &Live, account: Option<&str>, limit: usize, json: bool) -> ExitCode {
    let account = match account.map(|a| (a, AccountId::parse(a))) {
        None => None,
        Some((_, Some(id))) => Some(id),
        Some((text, None)) => {
            eprintln!(
                "error: --account: `{text}` is not an account id: expected {}",
                AccountId::EXPECTED
            );
            return ExitCode::from(2);
        }
    };
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    block_on(async {
        let platform = connect(&loaded).await?;
        let query = ActivityQuery {
            account,
            since: None,
            limit: Some(limit),
        };
        let activities = platform.store().activities(&query).await.map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })?;
        let text = if json {
            format!(
                "{}\n",
                serde_json::to_string(&activities).unwrap_or_default()
            )
        } else {
            let rows: Vec<Vec<String>> = activities
                .iter()
                .map(|a| {
                    vec![
                        date(Some(a.at)),
                        a.account.to_string(),
                        a.label.to_string(),
                        match (a.from, a.to) {
                            (None, None) => String::new(),
                            (from, to) => format!(
                                "{} -> {}",
                                spa_core::lifecycle::state_name(from),
                                spa_core::lifecycle::state_name(to)
                            ),
                        },
                        spa_core::events::redact_emails(&a.detail),
                    ]
                })
                .collect();
            table(&["AT", "ACCOUNT", "LABEL", "STATE", "DETAIL"], &rows)
        };
        Ok(emit(&text))
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}
