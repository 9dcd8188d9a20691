//! Property tests: random trigger sequences through a small simulator that applies
//! decisions to the account's tags the way the use cases do.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Failing cases are kept beside this file (`props.regressions`) and replayed first.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

/// One step of the world around an account.
#[derive(Debug, Clone)]
enum Op {
    Enter,
    /// A person sets the state tag to `vended` in the console, then the tag event comes.
    HumanTagVended,
    Reset,
    /// The awaited build ends (skipped when none is awaited).
    FinishAwaited(BuildStatus),
    /// A build started earlier ends (late, duplicate or reordered result).
    FinishOld(usize, BuildStatus),
    /// The last build result is delivered again.
    RepeatLastFinish,
    /// A person sets the holder tag, then the tag event comes.
    HumanTagHolder(usize),
    Assign(usize),
    Window,
    Expire,
    LeaseEnd,
    Release,
    Sweep,
    Advance(u32),
    Left(Departure),
    /// The next StartBuild fails in the build service: no build id gets tagged.
    FailNextStart,
    /// `spa close`.
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(BuildStatus::ALL.to_vec());
    let departure = prop::sample::select(vec![
        Departure::MovedOut,
        Departure::Closed,
        Departure::Removed,
    ]);
    prop_oneof![
        3 => Just(Op::Enter),
        1 => Just(Op::HumanTagVended),
        2 => Just(Op::Reset),
        10 => status.clone().prop_map(Op::FinishAwaited),
        4 => (any::<usize>(), status).prop_map(|(i, s)| Op::FinishOld(i, s)),
        3 => Just(Op::RepeatLastFinish),
        2 => (0..3usize).prop_map(Op::HumanTagHolder),
        3 => (0..3usize).prop_map(Op::Assign),
        4 => Just(Op::Window),
        1 => Just(Op::Expire),
        1 => Just(Op::LeaseEnd),
        1 => Just(Op::Release),
        3 => Just(Op::Sweep),
        3 => (1..600u32).prop_map(Op::Advance),
        1 => departure.prop_map(Op::Left),
        1 => Just(Op::FailNextStart),
        1 => Just(Op::Close),
    ]
}

fn any_policy() -> impl Strategy<Value = Policy> {
    (
        any::<bool>(),
        any::<bool>(),
        1..5u32,
        any::<bool>(),
        prop::option::of(1..300u64),
        1..6u64,
        1..9u64,
        prop::option::of(1..100u64),
    )
        .prop_map(
            |(
                preparation,
                purge,
                max_attempts,
                budget,
                lease,
                onboarding,
                maintenance,
                cooldown,
            )| Policy {
                preparation,
                purge,
                max_attempts,
                budget,
                lease: lease.map(|h| Duration::from_secs(h * 3600)),
                cooldown: cooldown.map(|h| Duration::from_secs(h * 3600)),
                onboarding_deadline: Duration::from_secs(onboarding * 3600),
                maintenance_deadline: Duration::from_secs(maintenance * 3600),
                ..Policy::default()
            },
        )
}

use std::time::Duration;

/// The current assignment as the test sees it from the outside: who was given the
/// account and when (the `AccountAssigned` event of a new holder), until the holder
/// goes or the account leaves management.
#[derive(Debug, Clone)]
enum Assignment {
    None,
    Known(Holder, DateTime<Utc>),
    /// A person replaced the holder tag by hand: `decide` cannot tell, so the test
    /// does not either until the holder is removed.
    Unknown,
}

/// The account, its tags and what the test remembers to check the properties.
struct Sim {
    codec: TagCodec,
    policy: Policy,
    tags: BTreeMap<String, String>,
    now: DateTime<Utc>,
    started: Vec<BuildId>,
    fail_next_start: bool,
    last_finish: Option<TriggerKind>,
    /// Expired since the last purge-then-preparation.
    dirty: bool,
    /// A purge succeeded (or was skipped by policy) since the account expired.
    purged: bool,
    gone: bool,
    assignment: Assignment,
    /// The end of the cooldown the last purge started.
    cooldown_until: Option<DateTime<Utc>>,
}

fn people() -> [Holder; 3] {
    [jane(), john(), holder("ann@example.org")]
}

impl Sim {
    fn new(policy: Policy, initial_holder: Option<usize>) -> Self {
        let codec = TagCodec::default();
        let mut tags = BTreeMap::new();
        tags.insert("cost-center".to_owned(), "cc-42".to_owned());
        if let Some(i) = initial_holder {
            tags.insert(codec.holder_key(), people()[i].as_str().to_owned());
        }
        Self {
            codec,
            policy,
            tags,
            now: t0(),
            started: Vec::new(),
            fail_next_start: false,
            last_finish: None,
            dirty: false,
            purged: false,
            gone: false,
            assignment: Assignment::None,
            cooldown_until: None,
        }
    }

    fn view(&self) -> AccountView {
        self.codec.decode(&self.tags).unwrap()
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if self.gone {
            return Ok(());
        }
        let view = self.view();
        let kind = match op {
            Op::Enter => TriggerKind::EnteredManagedOu,
            Op::HumanTagVended => {
                self.tags
                    .insert(self.codec.state_key(), "vended".to_owned());
                TriggerKind::TaggedVended
            }
            Op::Reset => TriggerKind::OperatorReset,
            Op::FinishAwaited(status) => match &view.build {
                Some(build) => finished(build.id.as_str(), *status),
                None => return Ok(()),
            },
            Op::FinishOld(i, status) => match self.started.get(i % self.started.len().max(1)) {
                Some(id) => finished(id.as_str(), *status),
                None => return Ok(()),
            },
            Op::RepeatLastFinish => match &self.last_finish {
                Some(kind) => kind.clone(),
                None => return Ok(()),
            },
            Op::HumanTagHolder(i) => {
                let person = people()[*i].clone();
                if view.holder.as_ref().is_some_and(|known| *known != person) {
                    self.assignment = Assignment::Unknown;
                }
                self.tags
                    .insert(self.codec.holder_key(), person.as_str().to_owned());
                TriggerKind::HolderTagged(person)
            }
            Op::Assign(i) => TriggerKind::OperatorAssign(people()[*i].clone()),
            Op::Window => TriggerKind::MaintenanceWindow,
            Op::Expire => TriggerKind::OperatorExpire,
            Op::LeaseEnd => TriggerKind::LeaseEnded,
            Op::Release => TriggerKind::OperatorRelease,
            Op::Sweep => TriggerKind::Sweep,
            Op::Advance(minutes) => {
                self.now += chrono::TimeDelta::minutes(i64::from(*minutes));
                return Ok(());
            }
            Op::Left(departure) => TriggerKind::Left(*departure),
            Op::FailNextStart => {
                self.fail_next_start = true;
                return Ok(());
            }
            Op::Close => TriggerKind::OperatorClose,
        };
        if matches!(kind, TriggerKind::BuildFinished { .. }) {
            self.last_finish = Some(kind.clone());
        }
        let trigger = Trigger::new(self.now, kind);
        // a person's edit may be inconsistent: read the view after it
        let view = self.view();
        let Ok(decision) = decide(&view, &trigger, &self.policy) else {
            return Ok(());
        };
        // the sweeper ends a lease when it has run since the holder was first given
        // the account, however many maintenance cycles came in between, and not before
        if let (
            TriggerKind::Sweep,
            Some(State::Assigned),
            Some(lease),
            Assignment::Known(who, start),
        ) = (
            &trigger.kind,
            view.state,
            self.policy.lease,
            &self.assignment,
        ) && view.holder.as_ref() == Some(who)
        {
            let due = *start + chrono::TimeDelta::from_std(lease).unwrap() <= trigger.at;
            let ends = decision.commands.contains(&Command::RemoveHolder);
            prop_assert_eq!(
                ends,
                due,
                "lease of {:?} from {} at {}: {:?}",
                lease,
                start,
                trigger.at,
                decision
            );
        }
        // a holder named during the cooldown is given the account by the first sweep
        // after it ends
        if let (TriggerKind::Sweep, Ok(())) = (&trigger.kind, view.check())
            && view.holder_waits()
            && view.cooling(trigger.at).is_none()
        {
            prop_assert!(
                decision
                    .events()
                    .any(|label| label == Label::AccountAssigned),
                "the waiting holder was not assigned at {}: {:?}",
                trigger.at,
                decision
            );
        }
        self.apply(&view, &trigger, &decision)?;

        // a duplicate delivered at once changes nothing and starts nothing
        let both_disabled = !self.policy.purge && !self.policy.preparation;
        let renews = matches!(
            trigger.kind,
            TriggerKind::MaintenanceWindow | TriggerKind::OperatorExpire
        ) && both_disabled;
        if !self.gone && !renews {
            let again = decide(&self.view(), &trigger, &self.policy);
            prop_assert!(
                again.as_ref().map_or(true, Decision::is_empty),
                "duplicate `{}` accepted again: {again:?}",
                trigger.kind.name()
            );
        }
        Ok(())
    }

    fn apply(
        &mut self,
        before: &AccountView,
        trigger: &Trigger,
        decision: &Decision,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(decision.from, before.state);
        let starts: Vec<_> = decision
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::StartBuild { kind, attempt } => Some((*kind, *attempt)),
                _ => None,
            })
            .collect();
        prop_assert!(
            starts.len() <= 1,
            "two builds started at once: {:?}",
            decision
        );
        if let (false, Some(awaited)) = (starts.is_empty(), &before.build) {
            let finishes_it = matches!(&trigger.kind, TriggerKind::BuildFinished { build, .. } if *build == awaited.id);
            prop_assert!(
                finishes_it,
                "build started while `{}` is awaited: {:?}",
                awaited.id,
                decision
            );
        }
        // a closing account is given to nobody, and leaves only after a purge
        if before.closing.is_some() {
            prop_assert!(
                !decision
                    .events()
                    .any(|label| label == Label::AccountAssigned),
                "a closing account assigned: {:?}",
                decision
            );
        }
        if decision
            .commands
            .iter()
            .any(|c| matches!(c, Command::Decommission(_)))
        {
            prop_assert!(
                decision.events().any(|label| label == Label::AccountPurged)
                    || before.state == Some(State::Purged),
                "closed without a last purge: {:?}",
                decision
            );
        }
        // no new holder is given the account during the cooldown after its last purge
        for command in &decision.commands {
            match command {
                Command::StartCooldown(until) => self.cooldown_until = Some(*until),
                Command::StartAssignment(_) => prop_assert!(
                    self.cooldown_until.is_none_or(|until| until <= trigger.at),
                    "a new holder given the account during the cooldown until {:?}: {:?}",
                    self.cooldown_until,
                    decision
                ),
                _ => {}
            }
        }
        // the tags, as the use case writes them
        self.codec.encode(&decision.commands).apply(&mut self.tags);
        if let Some((kind, attempt)) = decision.build_to_start() {
            prop_assert!(attempt >= 1 && attempt <= self.policy.max_attempts);
            if self.fail_next_start {
                self.fail_next_start = false;
            } else {
                let id = build_id(&format!("spa-{kind}:{}", self.started.len() + 1));
                self.codec.build_started(kind, &id).apply(&mut self.tags);
                self.started.push(id);
            }
        }
        if matches!(trigger.kind, TriggerKind::Left(Departure::Removed)) {
            self.gone = true;
            return Ok(());
        }

        // the tags still decode and hold together
        let after = self
            .codec
            .decode(&self.tags)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(after.state, decision.to, "tags disagree with the decision");
        if let Err(inconsistency) = after.check() {
            return Err(TestCaseError::fail(format!(
                "{inconsistency}: {after:?} after {decision:?}"
            )));
        }
        prop_assert!(after.attempts <= self.policy.max_attempts);
        if after.state == Some(State::Assigned) {
            prop_assert!(after.holder.is_some());
            // every account here was assigned by this version of spa
            prop_assert!(after.assigned_since.is_some(), "no assignment start");
        }
        // an assignment start never moves while the holder stays
        if before.holder.is_some()
            && before.holder == after.holder
            && let (Some(was), Some(is)) = (before.assigned_since, after.assigned_since)
        {
            prop_assert_eq!(was, is, "the assignment start moved: {:?}", decision);
        }
        if let Some(start) = after.assigned_since {
            prop_assert!(start <= trigger.at, "an assignment starting in the future");
        }
        if after.holder.is_none() || after.state.is_none() {
            self.assignment = Assignment::None;
        }
        if decision
            .events()
            .any(|label| label == Label::AccountAssigned)
        {
            let holder = after.holder.clone();
            match (&self.assignment, holder) {
                (Assignment::Known(who, _), Some(holder)) if *who == holder => {}
                (Assignment::Unknown, _) => {}
                (_, Some(holder)) => self.assignment = Assignment::Known(holder, trigger.at),
                (_, None) => {}
            }
        }
        if after.state.is_some_and(|state| !state.builds()) {
            prop_assert!(after.build.is_none());
        }
        prop_assert_eq!(
            after.cost_center.as_deref(),
            Some("cc-42"),
            "cost center lost"
        );

        // never assigned after expired unless purged and prepared in between
        for label in decision.events() {
            match label {
                Label::AccountExpired => {
                    self.dirty = true;
                    self.purged = false;
                }
                Label::AccountPurged => self.purged = true,
                Label::AccountPrepared if self.purged => self.dirty = false,
                Label::AccountAssigned => {
                    prop_assert!(
                        !self.dirty,
                        "assigned after expiry without purge and preparation: {:?}",
                        decision
                    );
                }
                // out of management, the account is out of scope
                Label::AccountUnmanaged => {
                    self.dirty = false;
                    self.purged = false;
                    self.cooldown_until = None;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn random_histories_keep_the_invariants(
        policy in any_policy(),
        initial_holder in prop::option::of(0..3usize),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut sim = Sim::new(policy, initial_holder);
        for op in &ops {
            sim.step(op)?;
        }
    }

    #[test]
    fn decide_never_panics_on_any_view(
        state in prop::option::of(prop::sample::select(State::ALL.to_vec())),
        attempts in 0..6u32,
        has_build in any::<bool>(),
        purge_build in any::<bool>(),
        tx in prop::option::of(any::<bool>()),
        holder_known in any::<bool>(),
        assigned_hours_ago in prop::option::of(0..2000i64),
        cooldown_hours in prop::option::of(-100..100i64),
        closing in any::<bool>(),
        op in op(),
        policy in any_policy(),
        offset in -100_000i64..100_000,
    ) {
        let view = AccountView {
            state,
            since: Some(t0()),
            holder: holder_known.then(jane),
            assigned_since: assigned_hours_ago.map(|h| t0() - hours(h)),
            attempts,
            build: has_build.then(|| AwaitedBuild {
                kind: if purge_build { BuildKind::Purge } else { BuildKind::Preparation },
                id: build_id("b-1"),
            }),
            transaction: tx.and_then(|m| transaction(if m { TransactionKind::Maintenance } else { TransactionKind::Onboarding })),
            cooldown_until: cooldown_hours.map(|h| t0() + hours(h)),
            lease_until: None,
            closing: closing.then(t0),
            frozen_from: None,
            snoozed_until: None,
            notice: None,
            cost_center: None,
        };
        let kind = match op {
            Op::Enter => TriggerKind::EnteredManagedOu,
            Op::HumanTagVended => TriggerKind::TaggedVended,
            Op::Reset => TriggerKind::OperatorReset,
            Op::FinishAwaited(s) => finished("b-1", s),
            Op::FinishOld(_, s) => finished("b-0", s),
            Op::HumanTagHolder(i) | Op::Assign(i) => TriggerKind::OperatorAssign(people()[i].clone()),
            Op::Window => TriggerKind::MaintenanceWindow,
            Op::Expire => TriggerKind::OperatorExpire,
            Op::LeaseEnd => TriggerKind::LeaseEnded,
            Op::Release => TriggerKind::OperatorRelease,
            Op::Left(d) => TriggerKind::Left(d),
            _ => TriggerKind::Sweep,
        };
        let trigger = Trigger::new(t0() + chrono::TimeDelta::minutes(offset), kind);
        let codec = TagCodec::default();
        if let Ok(decision) = decide(&view, &trigger, &policy) {
            // whatever the view, an accepted decision leaves tags that hold together,
            // once the started build (if any) is tagged
            let mut tags = BTreeMap::new();
            let before = TagChanges {
                set: [
                    (codec.state_key(), state.map_or("", State::as_str).to_owned()),
                ].into_iter().filter(|(_, v)| !v.is_empty()).collect(),
                remove: Default::default(),
            };
            before.apply(&mut tags);
            if let Some(h) = &view.holder { tags.insert(codec.holder_key(), h.as_str().to_owned()); }
            if let Some(start) = view.assigned_since {
                codec.encode(&[Command::StartAssignment(start)]).apply(&mut tags);
            }
            if attempts > 0 { tags.insert("account-attempts".to_owned(), attempts.to_string()); }
            if let Some(b) = &view.build { tags.insert("account-build".to_owned(), TagCodec::encode_build(b)); }
            if let Some(t) = &view.transaction { tags.insert("account-transaction".to_owned(), TagCodec::encode_transaction(t)); }
            prop_assert_eq!(codec.decode(&tags).map(|v| v.state), Ok(view.state));
            codec.encode(&decision.commands).apply(&mut tags);
            if let Some((kind, _)) = decision.build_to_start() {
                codec.build_started(kind, &build_id("b-2")).apply(&mut tags);
            }
            if !matches!(trigger.kind, TriggerKind::Left(Departure::Removed)) {
                let after = codec.decode(&tags).unwrap();
                prop_assert_eq!(after.state, decision.to);
                prop_assert!(after.check().is_ok(), "{:?} -> {:?}", view, after);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn decoding_never_panics_on_any_tag_value(
        state in ".{0,20}",
        since in ".{0,30}",
        holder in ".{0,40}",
        assigned_since in ".{0,30}",
        attempts in ".{0,5}",
        build in ".{0,40}",
        transaction in ".{0,70}",
    ) {
        let codec = TagCodec::default();
        let tags = BTreeMap::from([
            ("account-state".to_owned(), state),
            ("account-since".to_owned(), since),
            ("account-holder".to_owned(), holder),
            ("account-assigned-since".to_owned(), assigned_since),
            ("account-attempts".to_owned(), attempts),
            ("account-build".to_owned(), build),
            ("account-transaction".to_owned(), transaction),
        ]);
        let _ = codec.decode(&tags);
    }

    #[test]
    fn holders_never_panic_and_masks_never_show_the_name(address in "[a-z.+_-]{1,12}@[a-z-]{1,10}\\.[a-z]{2,4}") {
        if let Ok(holder) = Holder::new(&address) {
            let masked = holder.masked();
            let (name, domain) = address.split_once('@').unwrap();
            let tail = format!("***@{domain}");
            prop_assert!(masked.ends_with(&tail), "{} does not end with {}", masked, tail);
            // the domain stays in clear, so look for the name in the masked local part only
            let (masked_local, _) = masked.rsplit_once('@').unwrap();
            if name.len() > 1 {
                prop_assert!(!masked_local.contains(name), "{} shows {}", masked, name);
            }
        }
    }

    #[test]
    fn transactions_survive_their_tag(opened in 0i64..4_000_000_000, length in 0i64..100_000_000) {
        let opened = DateTime::from_timestamp(opened, 0).unwrap();
        let transaction = Transaction {
            kind: TransactionKind::Onboarding,
            opened,
            deadline: opened + chrono::TimeDelta::seconds(length),
        };
        let value = TagCodec::encode_transaction(&transaction);
        prop_assert!(value.len() <= 256);
        prop_assert_eq!(TagCodec::parse_transaction(&value), Ok(transaction));
    }
}
