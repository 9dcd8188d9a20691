//! Steps of `scans.feature`: `find` and the access-key scan on the in-memory platform
//! (the member accounts' regions, instances and IAM users are `MemoryScans`; the
//! history and the bus are the memory store and bus). The scheduled scan is fired as
//! EventBridge Scheduler would and routed by `dispatch`, as the function routes it.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use spa_core::events::{AccountId, Job, Label, decode_value};
use spa_core::settings::{MemorySources, Settings, load};
use spa_local::synth;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::ports::{AccessKey, IamUser, Instance, KeyStatus, PortError};
use spa_usecases::{Engine, FindQuery, FindReport, Verdict, dispatch, find_instances};

use super::{SpaWorld, list, rows};

/// What a scans scenario builds up.
#[derive(Debug, Default)]
pub struct Scans {
    platform: Option<MemoryPlatform>,
    accounts: Vec<AccountId>,
    scan_on: bool,
    keys: Vec<String>,
    search: Option<Result<FindReport, String>>,
    verdicts: Vec<Verdict>,
    ran_at: Option<DateTime<Utc>>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 6, 0, 0)
        .single()
        .unwrap_or_default()
}

fn account(text: &str) -> AccountId {
    AccountId::parse(text.trim()).unwrap_or_else(|| panic!("`{text}` is not an account id"))
}

impl Scans {
    fn platform(&self) -> &MemoryPlatform {
        self.platform
            .as_ref()
            .unwrap_or_else(|| panic!("no managed accounts were given"))
    }

    fn settings(&self) -> Settings {
        let text = format!(
            "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
features:
  access_key_scan: {}
  stale_access_key_age: 90d
  unused_access_key_age: 30d
  find_concurrency: 2
organizational_units:
  - identifier: ou-ab12-sandbox1
",
            self.scan_on
        );
        match load("settings.yaml", &text, &MemorySources::new()) {
            Ok(loaded) => loaded.settings,
            Err(error) => panic!("{error}"),
        }
    }
}

#[given(expr = "the managed accounts {string} in regions {string}")]
fn managed_accounts(world: &mut SpaWorld, accounts: String, regions: String) {
    let mut organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root");
    let regions = list(&regions);
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    let mut ids = Vec::new();
    for id in list(&accounts) {
        organization = organization.with_account(&id, &format!("sandbox {id}"), "ou-ab12-sandbox1");
        ids.push(account(&id));
    }
    let platform = MemoryPlatform::new(organization, now());
    for id in &ids {
        platform.scans.set_regions(id.as_str(), &regions);
    }
    world.scans.platform = Some(platform);
    world.scans.accounts = ids;
}

#[given("the instances:")]
fn instances(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 5) {
        world.scans.platform().scans.add_instance(
            &row[0],
            &row[1],
            Instance {
                instance_id: row[2].clone(),
                private_ip: Some(row[3].clone()),
                state: "running".into(),
                name: Some(row[4].clone()),
                instance_type: Some("t3.micro".into()),
            },
        );
    }
}

#[given(expr = "the member role of {string} is missing")]
fn missing_role(world: &mut SpaWorld, id: String) {
    world.scans.platform().scans.fail_account(
        &id,
        PortError::Denied {
            service: "sts".into(),
            action: "AssumeRole".into(),
            message: format!("AccessDenied: no member role in {id}"),
        },
    );
}

#[when(expr = "the operator searches for {string}")]
async fn search(world: &mut SpaWorld, text: String) {
    let scans = &mut world.scans;
    let outcome = match FindQuery::parse(&text) {
        Err(error) => Err(error.to_string()),
        Ok(query) => {
            let settings = scans.settings();
            let platform = scans.platform();
            let engine = Engine::new(platform, &settings).unwrap_or_else(|e| panic!("{e}"));
            find_instances(&engine, &query, &scans.accounts)
                .await
                .map_err(|e| e.to_string())
        }
    };
    scans.search = Some(outcome);
}

fn report(world: &SpaWorld) -> &FindReport {
    match &world.scans.search {
        Some(Ok(report)) => report,
        Some(Err(error)) => panic!("the search failed: {error}"),
        None => panic!("no search was made"),
    }
}

#[then(expr = "the search finds {string} in {string} {string} named {string}")]
fn finds(world: &mut SpaWorld, instance: String, id: String, region: String, name: String) {
    let report = report(world);
    assert!(
        report.found.iter().any(|f| f.instance_id == instance
            && f.account == account(&id)
            && f.region == region
            && f.name.as_deref() == Some(name.as_str())),
        "{instance} not found in {id} {region}: {:?}",
        report.found
    );
}

#[then(expr = "{int} account-region pairs were searched with no failure")]
fn searched(world: &mut SpaWorld, pairs: usize) {
    let report = report(world);
    assert_eq!(report.searched, pairs);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

#[then(expr = "the search lists {string} as failed because {string}")]
fn failed(world: &mut SpaWorld, id: String, why: String) {
    let report = report(world);
    assert!(
        report
            .failed
            .iter()
            .any(|f| f.account == account(&id) && f.reason.contains(&why)),
        "{:?}",
        report.failed
    );
}

#[then(expr = "the search is refused with {string}")]
fn refused(world: &mut SpaWorld, text: String) {
    match &world.scans.search {
        Some(Err(error)) => assert!(error.contains(&text), "{error}"),
        other => panic!("the search was not refused: {other:?}"),
    }
}

fn days_ago(text: &str) -> Option<DateTime<Utc>> {
    match text.trim() {
        "" | "never" => None,
        days => Some(
            now()
                - TimeDelta::days(
                    days.parse()
                        .unwrap_or_else(|_| panic!("`{days}` is not a number of days")),
                ),
        ),
    }
}

#[given("the IAM users:")]
fn iam_users(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 6) {
        let keys = match days_ago(&row[3]) {
            Some(created) if !row[2].is_empty() => {
                world.scans.keys.push(row[2].clone());
                vec![AccessKey {
                    id: row[2].clone(),
                    status: KeyStatus::Active,
                    created,
                    last_used: days_ago(&row[4]),
                }]
            }
            _ => Vec::new(),
        };
        world.scans.platform().scans.add_user(
            &row[0],
            IamUser {
                name: row[1].clone(),
                console_password: row[5] == "yes",
                keys,
            },
        );
    }
}

#[given("the access-key scan is on")]
fn scan_on(world: &mut SpaWorld) {
    world.scans.scan_on = true;
}

async fn run_scan(world: &mut SpaWorld, at: DateTime<Utc>) {
    let scans = &mut world.scans;
    let settings = scans.settings();
    let platform = scans.platform();
    platform.clock.set(at);
    let engine = Engine::new(platform, &settings).unwrap_or_else(|e| panic!("{e}"));
    let incoming =
        decode_value(&synth::scheduled(Job::AccessKeyScan, at)).unwrap_or_else(|e| panic!("{e}"));
    let dispatched = dispatch(&engine, &incoming)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    scans
        .verdicts
        .extend(dispatched.outcomes.into_iter().map(|o| o.verdict));
    scans.ran_at = Some(at);
}

#[when("the access-key scan runs")]
async fn scan_runs(world: &mut SpaWorld) {
    run_scan(world, now()).await;
}

#[when(expr = "the access-key scan runs again {int} hours later")]
async fn scan_runs_again(world: &mut SpaWorld, hours: i64) {
    let at = world.scans.ran_at.unwrap_or_else(now) + TimeDelta::hours(hours);
    run_scan(world, at).await;
}

fn raised(world: &SpaWorld, id: &str) -> Vec<spa_core::events::DomainEvent> {
    world
        .scans
        .platform()
        .bus
        .published()
        .into_iter()
        .filter(|e| e.label == Label::StaleAccessKey && e.account == account(id))
        .collect()
}

#[then(expr = "StaleAccessKey is raised for {string} with {string} and {string}")]
fn raised_with_two(world: &mut SpaWorld, id: String, first: String, second: String) {
    let events = raised(world, &id);
    assert_eq!(events.len(), 1, "{events:?}");
    let findings = &events[0].facts["findings"];
    assert!(
        findings.contains(&first) && findings.contains(&second),
        "{findings}"
    );
}

#[then(expr = "StaleAccessKey is raised for {string} with {string}")]
fn raised_with(world: &mut SpaWorld, id: String, text: String) {
    let events = raised(world, &id);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].facts["findings"].contains(&text),
        "{:?}",
        events[0].facts
    );
}

#[then(expr = "no StaleAccessKey is raised for {string}")]
fn not_raised(world: &mut SpaWorld, id: String) {
    assert!(raised(world, &id).is_empty());
}

#[then("no access key id is shown in clear")]
fn masked(world: &mut SpaWorld) {
    let published = world.scans.platform().bus.published();
    let history = world.scans.platform().store.recorded();
    for key in &world.scans.keys {
        for event in &published {
            let text = format!("{:?} {:?}", event.reason, event.facts);
            assert!(!text.contains(key), "{key} in {text}");
        }
        for activity in &history {
            assert!(
                !activity.detail.contains(key),
                "{key} in {}",
                activity.detail
            );
        }
    }
}

#[then(expr = "{int} StaleAccessKey exceptions were raised in all")]
fn raised_in_all(world: &mut SpaWorld, count: usize) {
    let published = world.scans.platform().bus.published();
    let raised = published
        .iter()
        .filter(|e| e.label == Label::StaleAccessKey)
        .count();
    assert_eq!(raised, count, "{published:?}");
}

#[then(expr = "the scan says {string}")]
fn scan_says(world: &mut SpaWorld, text: String) {
    let said = format!("{:?}", world.scans.verdicts);
    assert!(said.contains(&text), "{said}");
}
