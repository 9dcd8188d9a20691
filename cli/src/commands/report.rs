//! `spa report costs|inventory|activities`: runs a report on demand, as the schedule
//! does, against the live platform (AWS, or the emulator with `--endpoint-url`).
//!
//! Without `--out`, the files go to the reports bucket under the keys of the
//! scheduled run (a re-run overwrites them) and the cost report is mailed to
//! `reporting.recipients`. With `--out DIR`, the files are written under `DIR` at the
//! same relative keys and nothing is sent.
//!
//! The period: `--month YYYY-MM` for the costs and the activities (by default the
//! month before, as the schedule); `--week YYYY-Www` for the inventory (by default the
//! current ISO week). The inventory is a snapshot of the organization as it is now:
//! its week only names the file, so it takes a week, never a month.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use serde_json::json;
use spa_core::events::Report;
use spa_core::reports::{Month, Week};
use spa_usecases::reports::{Output, Period, ReportRun, run_report};

use super::emit;
use super::live::{self, block_on, connect, engine, fail, spinner, table};
use crate::cli::{Live, ReportKind};

/// The period asked for, checked against the report.
pub fn period(
    kind: ReportKind,
    month: Option<Month>,
    week: Option<Week>,
    today: chrono::NaiveDate,
) -> Result<Period, String> {
    match (kind, month, week) {
        (ReportKind::Inventory, Some(_), _) => Err(
            "the inventory is named after a week: use `--week YYYY-Www` (it lists the accounts as they are now)"
                .into(),
        ),
        (ReportKind::Inventory, None, Some(week)) => Ok(Period::Week(week)),
        (ReportKind::Inventory, None, None) => Ok(Period::Week(Week::of(today))),
        (_, _, Some(_)) => Err(format!(
            "the {} report is monthly: use `--month YYYY-MM`",
            report(kind)
        )),
        (_, Some(month), None) => Ok(Period::Month(month)),
        (_, None, None) => Ok(Period::Month(Month::of(today).previous())),
    }
}

fn report(kind: ReportKind) -> Report {
    match kind {
        ReportKind::Costs => Report::Costs,
        ReportKind::Inventory => Report::Inventory,
        ReportKind::Activities => Report::Activities,
    }
}

/// Writes `bytes` at `key` under `dir`, creating the folders.
fn write_file(dir: &Path, key: &str, bytes: &[u8]) -> Result<(), String> {
    if key.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err("not a relative key".into());
    }
    let path = dir.join(key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `spa report`.
pub fn run(
    live: &Live,
    kind: ReportKind,
    month: Option<Month>,
    week: Option<Week>,
    out: Option<&PathBuf>,
    json: bool,
) -> ExitCode {
    let period = match period(kind, month, week, Utc::now().date_naive()) {
        Ok(period) => period,
        Err(why) => {
            eprintln!("error: {why}");
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
        let bar = spinner(format!("running the {} report of {period}", report(kind)));
        let result = match out {
            Some(dir) => {
                let mut sink = |key: &str, bytes: &[u8]| write_file(dir, key, bytes);
                run_report(&engine, report(kind), period, &mut Output::Files(&mut sink)).await
            }
            None => run_report(&engine, report(kind), period, &mut Output::Bucket).await,
        };
        bar.finish_and_clear();
        let run = result.map_err(fail)?;
        Ok(emit(&render(&run, out.map(PathBuf::as_path), json)))
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

fn render(run: &ReportRun, out: Option<&Path>, json: bool) -> String {
    if json {
        let files: Vec<_> = run
            .files
            .iter()
            .map(|f| json!({"key": f.key, "bytes": f.bytes}))
            .collect();
        let value = json!({
            "report": run.report.as_str(),
            "period": run.period,
            "out": out.map(|d| d.display().to_string()),
            "files": files,
            "mailed": run.mailed,
            "notes": run.notes,
        });
        return format!("{value}\n");
    }
    let rows: Vec<Vec<String>> = run
        .files
        .iter()
        .map(|f| vec![f.key.clone(), f.bytes.to_string()])
        .collect();
    let mut text = table(&["KEY", "BYTES"], &rows);
    let place = match out {
        Some(dir) => format!("under {}", dir.display()),
        None => "to the reports bucket".to_owned(),
    };
    text.push_str(&format!(
        "{} report of {}: {} file(s) written {place}\n",
        run.report,
        run.period,
        run.files.len()
    ));
    if !run.mailed.is_empty() {
        text.push_str(&format!("mailed to {}\n", run.mailed.join(", ")));
    }
    for note in &run.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    #[test]
    fn periods_default_as_the_schedule_and_fit_the_report() {
        let p = |kind, month: Option<&str>, week: Option<&str>| {
            period(
                kind,
                month.map(|m| m.parse().unwrap()),
                week.map(|w| w.parse().unwrap()),
                today(),
            )
            .map(|p| p.to_string())
        };
        assert_eq!(p(ReportKind::Costs, None, None).unwrap(), "2026-11");
        assert_eq!(
            p(ReportKind::Activities, Some("2026-03"), None).unwrap(),
            "2026-03"
        );
        assert_eq!(p(ReportKind::Inventory, None, None).unwrap(), "2026-W49");
        assert_eq!(
            p(ReportKind::Inventory, None, Some("2026-W02")).unwrap(),
            "2026-W02"
        );
        assert!(
            p(ReportKind::Inventory, Some("2026-03"), None)
                .unwrap_err()
                .contains("--week")
        );
        assert!(
            p(ReportKind::Costs, None, Some("2026-W02"))
                .unwrap_err()
                .contains("--month")
        );
    }

    #[test]
    fn files_go_under_the_folder_at_their_key() {
        let dir = std::env::temp_dir().join(format!("spa-report-test-{}", std::process::id()));
        write_file(&dir, "reports/a/2026/x.csv", b"a,b\n").unwrap();
        assert_eq!(
            std::fs::read(dir.join("reports/a/2026/x.csv")).unwrap(),
            b"a,b\n"
        );
        assert!(write_file(&dir, "../escape.csv", b"").is_err());
        assert!(write_file(&dir, "/abs.csv", b"").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
