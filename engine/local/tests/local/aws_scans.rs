//! The scans across member accounts: `find` (EC2 instances by id, private IP and ARN)
//! and the access-key scan, on the emulator (moto server) through the member roles,
//! and their failure paths and bounds on the in-memory double.
//!
//! Moto maps the keys of an assumed role to the role's account, so instances and IAM
//! users made through `Roles::member` live in that member account. Moto does not
//! check that a member role exists: a missing role is a `MemberConfigs` that refuses
//! one account, as STS would. Key ages come from the engine's clock (a `FixedClock`
//! moved into the future): moto stamps keys with the real time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use spa_aws::codebuild::MemberConfigs;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_aws::scans::MemberScans;
use spa_aws::sts::{RoleOptions, Roles};
use spa_core::events::{AccountId, Incoming, Job, Label, decode_value};
use spa_core::settings::{MemorySources, Settings, load};
use spa_local::synth;
use spa_usecases::keys::Problem;
use spa_usecases::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_usecases::ports::{AccessKey, IamUser, Instance, KeyStatus, PortError, Scans};
use spa_usecases::{
    Engine, FindQuery, UseCaseError, Verdict, dispatch, find_instances, find_instances_with,
    scan_access_keys, scan_access_keys_with,
};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

fn id(account: &str) -> AccountId {
    AccountId::parse(account).unwrap()
}

fn settings(extra_features: &str) -> Settings {
    let text = format!(
        "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
features:
  find_concurrency: 4
{extra_features}
organizational_units:
  - identifier: ou-ab12-sandbox1
"
    );
    match load("settings.yaml", &text, &MemorySources::new()) {
        Ok(loaded) => loaded.settings,
        Err(error) => panic!("{error}"),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

fn platform_at(now: DateTime<Utc>) -> MemoryPlatform {
    let organization = MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_account(A, "alice", "ou-ab12-sandbox1")
        .with_account(B, "bob", "ou-ab12-sandbox1")
        .with_account(C, "carol", "ou-ab12-sandbox1");
    MemoryPlatform::new(organization, now)
}

async fn roles(scenario: &spa_testkit::Scenario<'_>) -> Arc<Roles> {
    let config = AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new());
    Arc::new(Roles::new(
        config,
        "aws",
        "OrganizationAccountAccessRole",
        RoleOptions::new("spa-test"),
    ))
}

/// The member roles, but one account's role is missing.
struct MissingRole {
    roles: Arc<Roles>,
    missing: AccountId,
}

impl MemberConfigs for MissingRole {
    async fn member_config(&self, account: &AccountId) -> Result<AwsConfig, PortError> {
        if *account == self.missing {
            return Err(PortError::Denied {
                service: "sts".into(),
                action: "AssumeRole".into(),
                message: format!(
                    "AccessDenied: no role OrganizationAccountAccessRole in {account}"
                ),
            });
        }
        roles_member(&self.roles, account).await
    }
}

async fn roles_member(roles: &Arc<Roles>, account: &AccountId) -> Result<AwsConfig, PortError> {
    roles.member(account).await
}

/// Launches an instance named `name` in `account` and `region`; its id and private IP.
async fn launch(roles: &Arc<Roles>, account: &str, region: &str, name: &str) -> (String, String) {
    use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
    let member = roles.member(&id(account)).await.unwrap();
    let output = member
        .ec2_in(region)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value(name).build())
                .build(),
        )
        .send()
        .await
        .expect("instance launched");
    let instance = &output.instances()[0];
    (
        instance.instance_id().unwrap().to_owned(),
        instance.private_ip_address().unwrap().to_owned(),
    )
}

/// Instances in 3 accounts × 2 regions: (account, region, id, ip) of each.
async fn six_instances(roles: &Arc<Roles>) -> Vec<(String, String, String, String)> {
    let mut launched = Vec::new();
    for account in [A, B, C] {
        for region in REGIONS {
            let (instance, ip) =
                launch(roles, account, region, &format!("web-{account}-{region}")).await;
            launched.push((account.to_owned(), region.to_owned(), instance, ip));
        }
    }
    launched
}

fn all() -> Vec<AccountId> {
    [A, B, C].map(id).to_vec()
}

#[tokio::test]
async fn instances_are_found_by_id_private_ip_and_arn_across_accounts_and_regions() {
    let scenario = spa_testkit::scenario();
    let roles = roles(&scenario).await;
    let launched = six_instances(&roles).await;
    let scans = MemberScans::new(Arc::clone(&roles));
    let settings = settings("  find_regions: [eu-west-1, us-east-1]");
    let platform = platform_at(t0());
    let engine = Engine::new(&platform, &settings).unwrap();

    // by id: the one instance, wherever it is
    let (account, region, instance, ip) = &launched[3];
    let query = FindQuery::parse(instance).unwrap();
    let report = find_instances_with(&engine, &scans, &query, &all())
        .await
        .unwrap();
    assert_eq!(report.searched, 6, "3 accounts × 2 regions");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.found.len(), 1, "{:?}", report.found);
    let found = &report.found[0];
    assert_eq!(found.account, id(account));
    assert_eq!(&found.region, region);
    assert_eq!(&found.instance_id, instance);
    assert_eq!(found.private_ip.as_deref(), Some(ip.as_str()));
    assert_eq!(found.state, "running");
    assert_eq!(found.instance_type.as_deref(), Some("t3.micro"));
    assert_eq!(
        found.name.as_deref(),
        Some(format!("web-{account}-{region}").as_str())
    );

    // by private IP: that instance (another account may reuse the address)
    let (account, region, instance, ip) = &launched[4];
    let query = FindQuery::parse(ip).unwrap();
    let report = find_instances_with(&engine, &scans, &query, &all())
        .await
        .unwrap();
    assert!(
        report
            .found
            .iter()
            .any(|f| &f.instance_id == instance && f.account == id(account) && &f.region == region),
        "{:?}",
        report.found
    );
    assert!(
        report
            .found
            .iter()
            .all(|f| f.private_ip.as_deref() == Some(ip.as_str()))
    );

    // by ARN: only its account and region are asked
    let (account, region, instance, _) = &launched[1];
    let arn = format!("arn:aws:ec2:{region}:{account}:instance/{instance}");
    let report = find_instances_with(&engine, &scans, &FindQuery::parse(&arn).unwrap(), &all())
        .await
        .unwrap();
    assert_eq!(report.searched, 1);
    assert_eq!(report.found.len(), 1);
    assert_eq!(&report.found[0].instance_id, instance);

    // an ARN whose instance is in another region: not there
    let other = if region == "eu-west-1" {
        "us-east-1"
    } else {
        "eu-west-1"
    };
    let arn = format!("arn:aws:ec2:{other}:{account}:instance/{instance}");
    let report = find_instances_with(&engine, &scans, &FindQuery::parse(&arn).unwrap(), &all())
        .await
        .unwrap();
    assert!(report.found.is_empty());

    // an id nobody has: nothing found, nothing failed (a filter, not InstanceIds)
    let query = FindQuery::parse("i-0123456789abcdef0").unwrap();
    let report = find_instances_with(&engine, &scans, &query, &all())
        .await
        .unwrap();
    assert!(report.found.is_empty());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.searched, 6);
}

#[tokio::test]
async fn a_missing_member_role_is_listed_and_the_other_accounts_still_answer() {
    let scenario = spa_testkit::scenario();
    let roles = roles(&scenario).await;
    let launched = six_instances(&roles).await;
    let scans = MemberScans::new(MissingRole {
        roles: Arc::clone(&roles),
        missing: id(B),
    });
    let settings = settings("  find_regions: [eu-west-1, us-east-1]");
    let platform = platform_at(t0());
    let engine = Engine::new(&platform, &settings).unwrap();
    let (_, _, instance, _) = &launched[5];
    let report = find_instances_with(
        &engine,
        &scans,
        &FindQuery::parse(instance).unwrap(),
        &all(),
    )
    .await
    .unwrap();
    assert_eq!(report.found.len(), 1);
    assert_eq!(report.found[0].account, id(C));
    assert_eq!(
        report.failed.len(),
        2,
        "B in both regions: {:?}",
        report.failed
    );
    assert!(report.failed.iter().all(|f| f.account == id(B)));
    assert!(
        report.failed[0].reason.contains("denied"),
        "{}",
        report.failed[0].reason
    );
}

#[tokio::test]
async fn the_enabled_regions_of_an_account_come_from_ec2() {
    let scenario = spa_testkit::scenario();
    let roles = roles(&scenario).await;
    let scans = MemberScans::new(Arc::clone(&roles));
    let regions = scans.regions(&id(A)).await.unwrap();
    for region in REGIONS {
        assert!(regions.iter().any(|r| r == region), "{regions:?}");
    }
    let missing = MemberScans::new(MissingRole {
        roles,
        missing: id(A),
    });
    assert!(matches!(
        missing.regions(&id(A)).await,
        Err(PortError::Denied { .. })
    ));
}

/// alice: a key used now; bob: a key never used; carol: a console password, no key.
async fn iam_users(roles: &Arc<Roles>, scenario: &spa_testkit::Scenario<'_>) -> (String, String) {
    let member = roles.member(&id(A)).await.unwrap();
    let iam = member.iam();
    let mut ids = Vec::new();
    for user in ["alice", "bob", "carol"] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    for user in ["alice", "bob"] {
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap();
        let key = key.access_key().unwrap();
        ids.push((
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        ));
    }
    iam.create_login_profile()
        .user_name("carol")
        .password("Sandbox-Passw0rd!")
        .send()
        .await
        .unwrap();
    // alice's key signs a request: moto stamps its last use
    let (alice_id, alice_secret) = &ids[0];
    let base = AwsConfig::from_sdk(&scenario.sdk_config().await, ApiCalls::new());
    let alice = base.with_credentials(SharedCredentialsProvider::new(Credentials::new(
        alice_id,
        alice_secret,
        None,
        None,
        "alice",
    )));
    alice.sts().get_caller_identity().send().await.unwrap();
    (ids[0].0.clone(), ids[1].0.clone())
}

#[tokio::test]
async fn keys_are_reported_by_age_and_use_and_console_passwords_always() {
    let scenario = spa_testkit::scenario();
    let roles = roles(&scenario).await;
    let (alice_key, bob_key) = iam_users(&roles, &scenario).await;
    let scans = MemberScans::new(MissingRole {
        roles: Arc::clone(&roles),
        missing: id(B),
    });
    let settings = settings("  stale_access_key_age: 90d\n  unused_access_key_age: 30d");
    let accounts = [id(A), id(B)];
    let now = Utc::now();

    // a day later: fresh keys (used or not) are fine; the password is not
    let platform = platform_at(now + TimeDelta::days(1));
    let engine = Engine::new(&platform, &settings).unwrap();
    let report = scan_access_keys_with(&engine, &scans, &accounts, engine.now(), None)
        .await
        .unwrap();
    assert_eq!(report.scanned, 1);
    assert_eq!(report.users, 3);
    assert_eq!(report.keys, 2);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].user, "carol");
    assert_eq!(report.findings[0].problems, [Problem::ConsolePassword]);
    assert_eq!(report.failed.len(), 1, "B cannot be read");
    assert_eq!(report.failed[0].account, id(B));
    assert!(report.raised.is_empty(), "no exception without raise");

    // 45 days later: both keys unused for 30 days (alice's last use, bob's creation)
    platform.clock.set(now + TimeDelta::days(45));
    let report = scan_access_keys_with(&engine, &scans, &accounts, engine.now(), None)
        .await
        .unwrap();
    let alice = report.findings.iter().find(|f| f.user == "alice").unwrap();
    let bob = report.findings.iter().find(|f| f.user == "bob").unwrap();
    assert_eq!(alice.problems, [Problem::Unused]);
    assert_eq!(bob.problems, [Problem::Unused]);
    assert!(alice.last_used.is_some(), "alice's key was used");
    assert!(bob.last_used.is_none(), "bob's key never was");
    assert_eq!(alice.age_days, Some(45));
    let masked = alice.key.clone().unwrap();
    assert_eq!(
        masked,
        format!("{}…{}", &alice_key[..4], &alice_key[alice_key.len() - 4..])
    );

    // 100 days later, raised: stale and unused; once a day
    platform.clock.set(now + TimeDelta::days(100));
    let report = scan_access_keys_with(&engine, &scans, &accounts, engine.now(), Some("test-run"))
        .await
        .unwrap();
    let bob = report.findings.iter().find(|f| f.user == "bob").unwrap();
    assert_eq!(bob.problems, [Problem::Stale, Problem::Unused]);
    assert_eq!(report.raised, [id(A)]);
    let published = platform.bus.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].label, Label::StaleAccessKey);
    assert_eq!(published[0].account, id(A));
    let findings = &published[0].facts["findings"];
    assert!(
        findings.contains("bob") && findings.contains("carol"),
        "{findings}"
    );
    assert!(
        !findings.contains(&bob_key) && !findings.contains(&alice_key),
        "key ids masked: {findings}"
    );
    assert!(
        platform
            .store
            .labels_for(A)
            .contains(&Label::StaleAccessKey)
    );

    let again = scan_access_keys_with(&engine, &scans, &accounts, engine.now(), Some("test-run-2"))
        .await
        .unwrap();
    assert!(again.raised.is_empty());
    assert_eq!(again.raised_before, [id(A)]);
    assert_eq!(platform.bus.published().len(), 1, "raised once a day");

    // the next day raises again
    platform.clock.set(now + TimeDelta::days(101));
    let next = scan_access_keys_with(&engine, &scans, &accounts, engine.now(), Some("test-run-3"))
        .await
        .unwrap();
    assert_eq!(next.raised, [id(A)]);
}

fn instance(instance_id: &str, ip: &str) -> Instance {
    Instance {
        instance_id: instance_id.into(),
        private_ip: Some(ip.into()),
        state: "running".into(),
        name: None,
        instance_type: Some("t3.micro".into()),
    }
}

fn memory_platform_with_instances(accounts: usize) -> (MemoryPlatform, Vec<AccountId>) {
    let platform = platform_at(t0());
    let mut ids = Vec::new();
    for n in 0..accounts {
        let account = format!("{:012}", 100_000_000_000_u64 + n as u64);
        for region in REGIONS {
            platform.scans.add_instance(
                &account,
                region,
                instance(&format!("i-{n:08x}"), "10.0.0.1"),
            );
        }
        ids.push(id(&account));
    }
    (platform, ids)
}

#[tokio::test]
async fn no_more_calls_than_the_bound_are_in_flight() {
    let (platform, accounts) = memory_platform_with_instances(30);
    platform.scans.set_yields(5);
    let settings = settings("");
    let engine = Engine::new(&platform, &settings).unwrap();
    let report = find_instances(&engine, &FindQuery::parse("10.0.0.1").unwrap(), &accounts)
        .await
        .unwrap();
    assert_eq!(report.searched, 60);
    assert_eq!(report.found.len(), 60);
    assert_eq!(
        platform.scans.max_in_flight(),
        4,
        "features.find_concurrency: 4"
    );
}

#[tokio::test]
async fn a_hung_account_times_out_and_the_others_answer() {
    let (platform, accounts) = memory_platform_with_instances(3);
    platform.scans.hang_account(accounts[1].as_str());
    platform.scans.fail_account(
        accounts[2].as_str(),
        PortError::Denied {
            service: "sts".into(),
            action: "AssumeRole".into(),
            message: "no role".into(),
        },
    );
    let mut settings = settings("");
    settings.features.find_timeout = Duration::from_millis(100);
    let engine = Engine::new(&platform, &settings).unwrap();
    let report = find_instances(&engine, &FindQuery::parse("i-00000000").unwrap(), &accounts)
        .await
        .unwrap();
    assert_eq!(report.found.len(), 2, "account 0 in both regions");
    assert_eq!(report.searched, 2, "only the pairs of account 0");
    assert_eq!(report.failed.len(), 2);
    let hung = report
        .failed
        .iter()
        .find(|f| f.account == accounts[1])
        .unwrap();
    assert_eq!(hung.region, None, "its regions never came");
    assert!(
        hung.reason.contains("no answer within 100 ms"),
        "{}",
        hung.reason
    );
    let denied = report
        .failed
        .iter()
        .find(|f| f.account == accounts[2])
        .unwrap();
    assert!(denied.reason.contains("denied"), "{}", denied.reason);
}

#[tokio::test]
async fn an_arn_outside_the_searchable_accounts_is_refused() {
    let (platform, accounts) = memory_platform_with_instances(1);
    let settings = settings("");
    let engine = Engine::new(&platform, &settings).unwrap();
    let arn = "arn:aws:ec2:eu-west-1:999999999999:instance/i-00000000";
    let error = find_instances(&engine, &FindQuery::parse(arn).unwrap(), &accounts)
        .await
        .unwrap_err();
    assert!(matches!(error, UseCaseError::BadInput { .. }));
    assert!(error.to_string().contains("999999999999"), "{error}");
    assert_eq!(platform.scans.calls.of("instances"), 0);
}

fn user(name: &str, password: bool, keys: Vec<AccessKey>) -> IamUser {
    IamUser {
        name: name.into(),
        console_password: password,
        keys,
    }
}

fn key(
    id: &str,
    created: DateTime<Utc>,
    used: Option<DateTime<Utc>>,
    status: KeyStatus,
) -> AccessKey {
    AccessKey {
        id: id.into(),
        status,
        created,
        last_used: used,
    }
}

async fn job(engine: &Engine<'_, MemoryPlatform>, at: DateTime<Utc>) -> Verdict {
    let incoming = decode_value(&synth::scheduled(Job::AccessKeyScan, at)).unwrap();
    assert!(matches!(incoming, Incoming::Scheduled(_)));
    let dispatched = dispatch(engine, &incoming).await.unwrap();
    dispatched.outcomes[0].verdict.clone()
}

#[tokio::test]
async fn the_scheduled_scan_raises_once_a_day_and_does_nothing_when_off() {
    let platform = platform_at(t0());
    let old = t0() - TimeDelta::days(200);
    platform.scans.add_user(
        A,
        user(
            "deploy",
            false,
            vec![
                key(
                    "AKIAOLDKEY000000001",
                    old,
                    Some(t0() - TimeDelta::days(1)),
                    KeyStatus::Active,
                ),
                key("AKIAOLDKEY000000002", old, None, KeyStatus::Inactive),
            ],
        ),
    );
    platform.scans.add_user(
        B,
        user(
            "fresh",
            false,
            vec![key(
                "AKIAFRESHKEY0000003",
                t0() - TimeDelta::days(3),
                Some(t0()),
                KeyStatus::Active,
            )],
        ),
    );
    platform.scans.fail_account(
        C,
        PortError::Denied {
            service: "sts".into(),
            action: "AssumeRole".into(),
            message: "no role".into(),
        },
    );

    let off = settings("");
    let engine = Engine::new(&platform, &off).unwrap();
    let verdict = job(&engine, t0()).await;
    assert!(
        matches!(&verdict, Verdict::Ignored(why) if why.contains("access_key_scan is off")),
        "{verdict:?}"
    );
    assert_eq!(platform.scans.calls.of("iam_users"), 0);

    let on = settings("  access_key_scan: true");
    let engine = Engine::new(&platform, &on).unwrap();
    let verdict = job(&engine, t0()).await;
    assert!(
        matches!(&verdict, Verdict::Notified(text) if text.contains("1 raised") && text.contains("1 failed")),
        "{verdict:?}"
    );
    let published = platform.bus.published();
    assert_eq!(
        published.len(),
        1,
        "only the old active key of A: {published:?}"
    );
    assert_eq!(published[0].account, id(A));
    assert!(published[0].facts["findings"].contains("AKIA…0001"));
    assert!(
        !published[0].facts["findings"].contains("0002"),
        "inactive key not reported"
    );

    // later the same day: nothing raised twice
    let verdict = job(&engine, t0() + TimeDelta::hours(6)).await;
    assert!(
        matches!(&verdict, Verdict::Notified(text) if text.contains("0 raised")),
        "{verdict:?}"
    );
    assert_eq!(platform.bus.published().len(), 1);

    // the on-demand scan reads the same, raises nothing
    let report = scan_access_keys(&engine, &all(), t0(), None).await.unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.failed.len(), 1);
}
