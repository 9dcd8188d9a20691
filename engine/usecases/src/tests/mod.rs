//! Use cases on the in-memory platform: what an operator or a holder would notice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod crashes;
mod delivery;
mod digest;
mod exceptions;
mod fanout;
mod lifecycle;
mod prices;
mod purge_notice;
mod reconcile;
mod reports;
mod spend;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::ports::memory::{MemoryOrganization, MemoryPlatform};
use spa_core::events::{
    AccountCommand, AccountId, Action, BuildStateChange, BuildStatus, CommandBatch, CommandRecord,
    CreateAccountOutcome, CreateAccountResult, EventId, Incoming, Job, OrganizationsCall,
    OrganizationsEvent, ParentId, Principal, ResourceId, ScheduledJob, Tag, TrailRecord,
};
use spa_core::lifecycle::{BuildId, State};
use spa_core::settings::{MemorySources, Settings, load};

/// Sandboxes (listed) > Team (nested); Outside (not listed); NoBuilds (listed,
/// preparation and purge disabled).
const SETTINGS: &str = "\
environment_identifier: SpaTest
automation:
  account_id: '123456789012'
  region: eu-west-1
  maintenance_window: cron(0 18 ? * SAT *)
  management_role_arn: arn:aws:iam::222222222222:role/SpaManagement
defaults:
  preparation: {feature: enabled, variables: {STAGE: prepare}}
  purge: {feature: enabled, variables: {PURGE_MODE: --no-dry-run}}
  max_attempts: 2
  account_tags: {managed-by: spa}
organizational_units:
  - identifier: ou-ab12-sandbox1
    lease: 30d
  - identifier: ou-ab12-nobuilds
    preparation: {feature: disabled}
    purge: {feature: disabled}
";

pub(super) const NESTED: &str = "111111111111";
pub(super) const OUTSIDE: &str = "222222222222";
pub(super) const NO_BUILDS: &str = "333333333333";
pub(super) const JANE: &str = "jane.doe@example.com";
pub(super) const JOHN: &str = "john.roe@example.com";

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap()
}

pub(super) fn id(account: &str) -> AccountId {
    AccountId::parse(account).unwrap()
}

pub(crate) fn settings() -> Settings {
    match load("settings.yaml", SETTINGS, &MemorySources::new()) {
        Ok(loaded) => loaded.settings,
        Err(error) => panic!("{error}"),
    }
}

fn organization() -> MemoryOrganization {
    MemoryOrganization::new()
        .with_name("r-root", "Root")
        .with_unit("ou-ab12-sandbox1", "Sandboxes", "r-root")
        .with_unit("ou-ab12-team0001", "Team", "ou-ab12-sandbox1")
        .with_unit("ou-ab12-outside0", "Outside", "r-root")
        .with_unit("ou-ab12-nobuilds", "NoBuilds", "r-root")
        .with_account(NESTED, "nested", "ou-ab12-team0001")
        .with_account(OUTSIDE, "outside", "ou-ab12-outside0")
        .with_account(NO_BUILDS, "nobuilds", "ou-ab12-nobuilds")
}

/// A platform, settings, and a counter for fresh event ids.
pub(super) struct World {
    pub platform: MemoryPlatform,
    pub settings: Settings,
    next: std::sync::atomic::AtomicUsize,
}

impl World {
    pub fn new() -> Self {
        Self {
            platform: MemoryPlatform::new(organization(), t0()),
            settings: settings(),
            next: std::sync::atomic::AtomicUsize::new(1),
        }
    }

    pub fn engine(&self) -> Engine<'_, MemoryPlatform> {
        Engine::new(&self.platform, &self.settings)
            .unwrap()
            .with_retry(Retry::immediate(3))
    }

    pub fn org(&self) -> &MemoryOrganization {
        &self.platform.organization
    }

    pub fn fresh(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("event-{n}")
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.platform.clock.now_at()
    }

    pub fn advance(&self, delta: TimeDelta) {
        self.platform.clock.advance(delta);
    }

    pub async fn dispatch(&self, incoming: &Incoming) -> Dispatched {
        dispatch(&self.engine(), incoming).await.unwrap()
    }

    pub async fn outcome(&self, incoming: &Incoming) -> Outcome {
        let mut dispatched = self.dispatch(incoming).await;
        assert_eq!(dispatched.outcomes.len(), 1, "{dispatched:#?}");
        dispatched.outcomes.remove(0)
    }

    pub fn state(&self, account: &str) -> Option<String> {
        self.tag(account, "account-state")
    }

    /// A tag as spa reads it: an empty lifecycle tag is absent (`TagCodec::fold`).
    pub fn tag(&self, account: &str, key: &str) -> Option<String> {
        self.org()
            .tags_of(account)
            .get(key)
            .filter(|value| !value.is_empty())
            .cloned()
    }

    pub fn builds_in(&self, account: &str) -> usize {
        self.platform.builds.started_in(account).len()
    }

    /// The last build of `account` ends with `status`: its state change event.
    pub fn finished(&self, account: &str, status: BuildStatus) -> Incoming {
        let build = self
            .platform
            .builds
            .last_in(account)
            .expect("a build was started");
        self.finished_build(account, &build, status)
    }

    pub fn finished_build(&self, account: &str, build: &BuildId, status: BuildStatus) -> Incoming {
        // a build takes a while
        self.advance(TimeDelta::minutes(10));
        Incoming::Build(BuildStateChange {
            event_id: EventId::eventbridge(&self.fresh()),
            account: id(account),
            region: "eu-west-1".into(),
            project: "SpaTest-Prepare".into(),
            build_id: format!("arn:aws:codebuild:eu-west-1:{account}:build/{build}"),
            status,
            at: self.now(),
            initiator: None,
            started_at: None,
        })
    }

    pub fn organizations(&self, call: OrganizationsCall, principal: Principal) -> Incoming {
        self.advance(TimeDelta::minutes(1));
        Incoming::Organizations(OrganizationsEvent {
            record: TrailRecord {
                event_id: EventId::eventbridge(&self.fresh()),
                trail_event_id: None,
                at: self.now(),
                // Organizations events come from the management account of the settings
                account: id("222222222222"),
                region: "us-east-1".into(),
                principal,
                source_ip: None,
            },
            call,
        })
    }

    pub fn created(&self, account: &str) -> Incoming {
        self.organizations(
            OrganizationsCall::CreateAccountResult(CreateAccountResult {
                request_id: Some("car-1".into()),
                outcome: CreateAccountOutcome::Succeeded {
                    account: id(account),
                },
            }),
            Principal::AwsService {
                invoked_by: "AWS Internal".into(),
            },
        )
    }

    /// Moves the account in the organization, and the event that says so.
    pub fn moved(&self, account: &str, to: &str) -> Incoming {
        let from = self.org().parent_of(account).unwrap();
        self.org().place(account, to);
        self.organizations(
            OrganizationsCall::MoveAccount {
                account: id(account),
                source_parent: ParentId::OrganizationalUnit(from),
                destination_parent: ParentId::OrganizationalUnit(to.into()),
            },
            person(),
        )
    }

    /// Tags set by hand by `principal`, and the event that says so.
    pub fn tagged_by(
        &self,
        account: &str,
        tags: &[(&str, &str)],
        principal: Principal,
    ) -> Incoming {
        self.org().set_tags(account, tags);
        self.organizations(
            OrganizationsCall::TagResource {
                resource: ResourceId::Account(id(account)),
                tags: tags
                    .iter()
                    .map(|(key, value)| Tag {
                        key: (*key).into(),
                        value: (*value).into(),
                    })
                    .collect(),
            },
            principal,
        )
    }

    pub fn tagged(&self, account: &str, tags: &[(&str, &str)]) -> Incoming {
        self.tagged_by(account, tags, person())
    }

    pub fn job(&self, job: Job) -> Incoming {
        let at = self.now();
        Incoming::Scheduled(ScheduledJob {
            event_id: EventId::schedule(job.as_str(), &at),
            job,
            report: None,
            scheduled_time: at,
        })
    }

    pub fn command(&self, account: &str, action: Action) -> AccountCommand {
        self.advance(TimeDelta::minutes(1));
        AccountCommand::new(
            &self.fresh(),
            "SpaTest",
            id(account),
            action,
            self.now(),
            "operator",
        )
    }

    /// Receives every queued command as one SQS batch (message ids `m-<n>`).
    pub async fn drain(&self) -> Dispatched {
        let commands = self.platform.commands.take();
        self.dispatch(&batch(commands)).await
    }

    /// On-boards an account by creating it, its preparation succeeding.
    pub async fn onboard(&self, account: &str) {
        self.dispatch(&self.created(account)).await;
        if self.builds_in(account) > 0 {
            self.dispatch(&self.finished(account, BuildStatus::Succeeded))
                .await;
        }
        assert_eq!(self.state(account).as_deref(), Some("prepared"));
    }

    /// On-boards an account and assigns it to `holder` by tag.
    pub async fn assign(&self, account: &str, holder: &str) {
        self.onboard(account).await;
        self.dispatch(&self.tagged(account, &[("account-holder", holder)]))
            .await;
        assert_eq!(self.state(account).as_deref(), Some("assigned"));
    }
}

pub(super) fn batch(commands: Vec<AccountCommand>) -> Incoming {
    Incoming::Commands(CommandBatch {
        records: commands
            .into_iter()
            .enumerate()
            .map(|(n, command)| CommandRecord {
                message_id: Some(format!("m-{n}")),
                command: Ok(command),
            })
            .collect(),
    })
}

pub(super) fn person() -> Principal {
    Principal::AssumedRole {
        role_name: "AWSReservedSSO_Admin_0123".into(),
        session_name: None,
        permission_set: Some("Admin".into()),
    }
}

pub(super) fn spa_itself() -> Principal {
    Principal::AssumedRole {
        role_name: "SpaManagement".into(),
        session_name: None,
        permission_set: None,
    }
}

pub(super) fn state(name: &str) -> Option<State> {
    name.parse().ok()
}
