//! Steps of `reports.feature`: report runs on the emulator, in `accounts.feature`'s
//! world, with the reports bucket of the scenario's `reporting` settings. Files are
//! read back from the emulator's S3; account ids are moto's, so tables name accounts.

use chrono::{Datelike, NaiveDate, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use spa_core::events::Report;
use spa_core::reports::{Month, Week};
use spa_core::rules::Function;
use spa_local::synth;
use spa_usecases::Engine;
use spa_usecases::ports::{Objects, Platform};
use spa_usecases::reports::{Output, Period, run_report};

use super::accounts::Live;
use super::{SpaWorld, rows};

impl Live {
    fn bucket(&self) -> String {
        self.settings
            .reporting
            .bucket
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_else(|| panic!("this scenario's settings name no reports bucket"))
    }

    fn inventory_key(&self) -> String {
        let week = Week::of(Utc::now().date_naive());
        spa_usecases::reports::report_key(
            &self.settings.reporting.inventories_prefix,
            "organization",
            week.year(),
            &week.to_string(),
            "inventory",
            "csv",
        )
    }

    async fn object(&self, key: &str) -> Result<String, String> {
        let bytes = self
            .runtime
            .platform()
            .objects()
            .get(key)
            .await
            .map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }

    /// The keys under `prefix` in the reports bucket.
    async fn keys(&self, prefix: &str) -> Vec<String> {
        let output = self
            .runtime
            .inner()
            .automation()
            .s3()
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(prefix)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the reports bucket could not be listed: {e}"));
        output
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    async fn schedule(&mut self, report: Report, at: chrono::DateTime<Utc>) {
        let input = synth::scheduled_report(report, at);
        self.runtime
            .deliver(Function::Scheduler, input, format!("{report} report"));
        self.run().await;
    }

    /// The CSV at `key` as rows of cells, the header first.
    async fn csv(&self, key: &str) -> Vec<Vec<String>> {
        let text = self.object(key).await.unwrap_or_else(|e| {
            panic!(
                "no `{key}` in the reports bucket: {e}\n{:#?}",
                self.timeline
            )
        });
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| {
                r.unwrap_or_else(|e| panic!("`{key}` is not CSV: {e}"))
                    .iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------- given

#[given("the reporting settings:")]
fn reporting(world: &mut SpaWorld, step: &Step) {
    world.emulated.reporting = Some(super::docstring(step));
}

#[given("the reports bucket is gone")]
async fn bucket_gone(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let bucket = live.bucket();
    live.runtime
        .inner()
        .automation()
        .s3()
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the bucket `{bucket}` could not be deleted: {e}"));
}

/// moto answers `GetCostAndUsage` with what is registered, in order: last month by
/// service, by usage type, by record type, then the month before (nothing).
#[given("Cost Explorer answers for last month:")]
async fn cost_explorer(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let last = Month::of(Utc::now().date_naive()).previous();
    let page = |month: Month, groups: Vec<serde_json::Value>| {
        serde_json::json!({
            "ResultsByTime": [{
                "TimePeriod": { "Start": month.first_day().to_string(), "End": month.end().to_string() },
                "Total": {},
                "Groups": groups,
                "Estimated": false
            }],
            "DimensionValueAttributes": []
        })
    };
    let group = |account: &str, key: &str, amount: &str| {
        serde_json::json!({
            "Keys": [account, key],
            "Metrics": { "UnblendedCost": { "Amount": amount, "Unit": "USD" } }
        })
    };
    let rows = rows(step, 4);
    let mut breakdowns = vec![Vec::new(), Vec::new(), Vec::new()];
    for row in &rows {
        let id = live.id(&row[0]).to_string();
        breakdowns[0].push(group(&id, &row[1], &row[3]));
        breakdowns[1].push(group(&id, &row[2], &row[3]));
        breakdowns[2].push(group(&id, "Usage", &row[3]));
    }
    let mut results: Vec<serde_json::Value> =
        breakdowns.into_iter().map(|g| page(last, g)).collect();
    for _ in 0..3 {
        results.push(page(last.previous(), Vec::new()));
    }
    let url = format!(
        "{}/moto-api/static/ce/cost-and-usage-results",
        live._moto.endpoint()
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({ "account_id": "123456789012", "results": results }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto did not take the costs: {e}"));
    assert_eq!(response.status().as_u16(), 201);
}

// ----------------------------------------------------------------------------- when

#[when("the reports bucket is back")]
async fn bucket_back(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let bucket = live.bucket();
    spa_aws::s3::ensure_bucket(live.runtime.inner().automation(), &bucket)
        .await
        .unwrap_or_else(|e| panic!("the bucket `{bucket}` could not be made: {e}"));
}

#[when("EventBridge Scheduler runs the inventory report")]
async fn scheduled_inventory(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    live.schedule(Report::Inventory, Utc::now()).await;
}

/// Another run of the same week (a run is known by its scheduled time: one of the
/// same second would be the same run delivered twice, and run once).
#[when("EventBridge Scheduler runs the inventory report again, a minute later")]
async fn scheduled_inventory_again(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    live.schedule(
        Report::Inventory,
        Utc::now() + chrono::TimeDelta::minutes(1),
    )
    .await;
}

#[when("EventBridge Scheduler runs the costs report on the 6th of this month")]
async fn scheduled_costs(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let month = Month::of(Utc::now().date_naive());
    let at = NaiveDate::from_ymd_opt(month.year(), month.first_day().month(), 6)
        .unwrap_or(month.first_day())
        .and_hms_opt(6, 0, 0)
        .unwrap_or_default()
        .and_utc();
    live.schedule(Report::Costs, at).await;
}

#[when("EventBridge Scheduler runs the activities report on the 2nd of next month")]
async fn scheduled_activities(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let next = Month::of(Utc::now().date_naive()).next();
    let at = NaiveDate::from_ymd_opt(next.year(), next.first_day().month(), 2)
        .unwrap_or(next.first_day())
        .and_hms_opt(6, 30, 0)
        .unwrap_or_default()
        .and_utc();
    live.schedule(Report::Activities, at).await;
}

#[when("spa runs the inventory report of this week")]
async fn on_demand_inventory(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let settings = live.settings.clone();
    let engine = Engine::new(live.runtime.platform(), &settings)
        .unwrap_or_else(|e| panic!("no engine on these settings: {e}"));
    let period = Period::Week(Week::of(Utc::now().date_naive()));
    let result = run_report(&engine, Report::Inventory, period, &mut Output::Bucket).await;
    live.garbage = Some(
        result
            .map(|run| format!("{run:?}"))
            .map_err(|e| e.to_string()),
    );
}

#[when("EventBridge Scheduler hands the input:")]
async fn scheduler_input(world: &mut SpaWorld, step: &Step) {
    let live = world.acting(step).await;
    let input: serde_json::Value = serde_json::from_str(&super::docstring(step))
        .unwrap_or_else(|e| panic!("the input is not JSON: {e}"));
    let settings = live.settings.clone();
    let handler = spa_local::LocalHandler::new(&settings);
    let result = {
        use spa_local::Handler;
        handler
            .handle(live.runtime.platform(), Function::Scheduler, &input)
            .await
    };
    live.garbage = Some(result);
}

// ----------------------------------------------------------------------------- then

/// `set` for a time that is there (its value depends on when the scenario ran),
/// empty for none; other cells as they are.
fn cell(expected: &str, found: &str) -> bool {
    match expected {
        "set" => chrono::DateTime::parse_from_rfc3339(found).is_ok() && found.ends_with('Z'),
        _ => expected == found,
    }
}

#[then(regex = r#"^the final cost report of "([^"]+)" is in the reports bucket$"#)]
async fn final_cost_report(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let account = live.id(&name);
    let prefix = format!(
        "{}/{account}/",
        live.settings
            .reporting
            .exceptions_prefix
            .trim_end_matches('/')
    );
    let keys = live.keys(&prefix).await;
    assert!(
        keys.iter()
            .any(|key| key.ends_with(&format!("-{account}-final-costs.xlsx"))),
        "no final cost report under {prefix}: {keys:?}\ntimeline:\n{}",
        live.timeline.join("\n")
    );
}

#[then("the inventory of this week includes:")]
async fn inventory_includes(world: &mut SpaWorld, step: &Step) {
    let live = world.checking().await;
    let key = live.inventory_key();
    let csv = live.csv(&key).await;
    assert_eq!(
        csv[0],
        [
            "cost center",
            "cost owner",
            "OU path",
            "account",
            "name",
            "e-mail",
            "state",
            "holder",
            "since",
            "last console login"
        ]
    );
    for row in rows(step, 9) {
        let name = &row[3];
        let id = live.id(name);
        let line = csv
            .iter()
            .find(|l| l.get(3) == Some(&id.to_string()))
            .unwrap_or_else(|| panic!("`{name}` ({id}) is not in the inventory: {csv:?}"));
        // the table skips the account id (moto's): compare the other columns
        let mut found: Vec<&String> = line.iter().collect();
        found.remove(3);
        for (expected, found) in row.iter().zip(found) {
            assert!(
                cell(expected, found),
                "`{name}`: expected `{expected}`, found `{found}` in {line:?}"
            );
        }
    }
}

#[then(regex = r#"^the activities of this month for "([^"]+)" are, in any order:$"#)]
async fn activities_are(world: &mut SpaWorld, center: String, step: &Step) {
    let live = world.checking().await;
    let month = Month::of(Utc::now().date_naive());
    let key = spa_usecases::reports::report_key(
        &live.settings.reporting.activities_prefix,
        &center,
        month.year(),
        &month.to_string(),
        "activities",
        "csv",
    );
    let csv = live.csv(&key).await;
    assert_eq!(
        csv[0],
        [
            "cost center",
            "account",
            "name",
            "activity",
            "started",
            "finished",
            "duration (minutes)",
            "detail"
        ]
    );
    // lines of the same second may come in any order: each expected line is found
    let lines = &csv[1..];
    let expected = rows(step, 4);
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for row in &expected {
        let line = lines
            .iter()
            .find(|l| l[2] == row[0] && l[3] == row[1])
            .unwrap_or_else(|| panic!("no {} of `{}` in {lines:#?}", row[1], row[0]));
        assert_eq!(line[0], center);
        assert_eq!(line[1], live.id(&row[0]).to_string());
        assert!(cell("set", &line[4]), "a start: {line:?}");
        assert_eq!(!line[5].is_empty(), row[2] == "yes", "finished: {line:?}");
        let minutes = line[6].parse::<u64>().is_ok();
        assert_eq!(minutes, row[3] == "yes", "duration: {line:?}");
    }
}

#[then("the run fails, naming the inventory key of this week")]
async fn run_fails(world: &mut SpaWorld) {
    let live = world.checking().await;
    let key = live.inventory_key();
    match live.garbage.take() {
        Some(Err(error)) => assert!(error.contains(&key), "`{key}` not in: {error}"),
        other => panic!("the run did not fail: {other:?}"),
    }
}

#[then("the bucket holds no inventory of this week")]
async fn no_inventory(world: &mut SpaWorld) {
    let live = world.checking().await;
    let key = live.inventory_key();
    assert!(live.keys(&key).await.is_empty(), "`{key}` is there");
}

#[then(regex = r"^the bucket holds (\d+) inventory of this week$")]
async fn inventories(world: &mut SpaWorld, count: usize) {
    let live = world.checking().await;
    let prefix = format!("{}/", live.settings.reporting.inventories_prefix);
    let week = Week::of(Utc::now().date_naive()).to_string();
    let keys: Vec<String> = live
        .keys(&prefix)
        .await
        .into_iter()
        .filter(|k| k.contains(&week))
        .collect();
    assert_eq!(keys.len(), count, "{keys:?}\n{:#?}", live.timeline);
    assert_eq!(keys[0], live.inventory_key());
}

#[then(regex = r#"^the scheduler function refuses it with "(.+)"$"#)]
async fn refused(world: &mut SpaWorld, message: String) {
    let live = world.checking().await;
    match live.garbage.take() {
        Some(Err(error)) => assert!(error.contains(&message), "{error}"),
        other => panic!("the input was not refused: {other:?}"),
    }
}

fn last_month() -> Month {
    Month::of(Utc::now().date_naive()).previous()
}

impl Live {
    fn cost_key(&self, scope: &str, ext: &str) -> String {
        let month = last_month();
        spa_usecases::reports::report_key(
            &self.settings.reporting.costs_prefix,
            scope,
            month.year(),
            &month.to_string(),
            "costs",
            ext,
        )
    }

    async fn summary_workbook(&self) -> calamine::Xlsx<std::io::Cursor<Vec<u8>>> {
        let key = self.cost_key("summary", "xlsx");
        let bytes = self
            .runtime
            .platform()
            .objects()
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("no `{key}`: {e}\n{:#?}", self.timeline));
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
            .unwrap_or_else(|e| panic!("`{key}` is not a workbook: {e}"))
    }
}

#[then(regex = r"^the bucket holds the cost reports of last month for: (.+)$")]
async fn cost_reports_held(world: &mut SpaWorld, scopes: String) {
    let live = world.checking().await;
    let prefix = format!("{}/", live.settings.reporting.costs_prefix);
    let keys = live.keys(&prefix).await;
    for scope in super::list(&scopes) {
        for ext in ["xlsx", "csv"] {
            let key = live.cost_key(&scope, ext);
            assert!(
                keys.contains(&key),
                "`{key}` not in {keys:#?}\n{:#?}",
                live.timeline
            );
        }
    }
}

#[then(regex = r"^the summary workbook of last month has the sheets: (.+)$")]
async fn summary_sheets(world: &mut SpaWorld, sheets: String) {
    use calamine::Reader;
    let live = world.checking().await;
    let workbook = live.summary_workbook().await;
    assert_eq!(workbook.sheet_names(), super::list(&sheets));
}

#[then("its subtotals and total are formulas, never numbers")]
async fn summary_formulas(world: &mut SpaWorld) {
    use calamine::Reader;
    let live = world.checking().await;
    let mut workbook = live.summary_workbook().await;
    let formulas = workbook
        .worksheet_formula("Summary")
        .unwrap_or_else(|e| panic!("no formulas in `Summary`: {e}"));
    let all: Vec<&String> = formulas.used_cells().map(|(_, _, f)| f).collect();
    assert!(
        all.iter().any(|f| f.contains("SUBTOTAL(9,")),
        "no SUBTOTAL formula: {all:?}"
    );
}

#[then(regex = r#"^the summary CSV of last month says "([^"]+)" cost ([\d.]+) USD in "([^"]+)"$"#)]
async fn summary_csv(world: &mut SpaWorld, name: String, amount: String, center: String) {
    let live = world.checking().await;
    let key = live.cost_key("summary", "csv");
    let csv = live.csv(&key).await;
    let id = live.id(&name).to_string();
    let line = csv
        .iter()
        .find(|l| l.get(2) == Some(&id) && l.get(4).map(String::as_str) == Some("Usage"))
        .unwrap_or_else(|| panic!("no usage of `{name}` in {csv:?}"));
    assert_eq!(line[0], center, "{line:?}");
    assert_eq!(line[3], name, "{line:?}");
    assert_eq!(line[5], amount, "{line:?}");
    assert_eq!(line[6], "USD", "{line:?}");
}

#[then(
    regex = r#"^the cost reports of last month were mailed to "([^"]+)" with (\d+) attachments$"#
)]
async fn mailed(world: &mut SpaWorld, to: String, count: usize) {
    let live = world.checking().await;
    let url = format!("{}/moto-api/data.json", live._moto.endpoint());
    let data: serde_json::Value = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("moto's model dump could not be read: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("moto's model dump is not JSON: {e}"));
    let raw = data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let month = last_month().to_string();
    let mail = raw
        .iter()
        .find(|m| {
            m["destinations"].to_string().contains(&to)
                && m["raw_data"].as_str().is_some_and(|r| r.contains(&month))
        })
        .unwrap_or_else(|| panic!("no raw e-mail to {to} about {month}: {raw:#?}"));
    let text = mail["raw_data"].as_str().unwrap_or_default();
    let attachments = text.matches("Content-Disposition: attachment").count();
    assert_eq!(attachments, count, "{text:.2000}");
}
