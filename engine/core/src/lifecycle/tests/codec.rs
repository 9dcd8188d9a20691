//! The tag codec, holders, states and labels.

use std::collections::BTreeMap;

use super::*;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn states_read_and_write_one_word_each() {
    for state in State::ALL {
        assert_eq!(state.as_str().parse::<State>(), Ok(state));
        assert_eq!(state.to_string(), state.as_str());
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            format!("\"{state}\"")
        );
    }
    let error = "Assigned".parse::<State>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown state `Assigned`: expected one of vended, prepared, assigned, expired, purged, quarantined, frozen"
    );
    assert_eq!(state_name(None), "unmanaged");
}

#[test]
fn labels_cover_design_section_3() {
    let design = [
        "AccountVended",
        "AccountPrepared",
        "AccountAssigned",
        "AccountExpired",
        "AccountPurged",
        "AccountQuarantined",
        "AccountUnmanaged",
        "AccountFrozen",
        "AccountUnfrozen",
        "BuildStarted",
        "ConsoleLogin",
        "OnboardingCompleted",
        "MaintenanceCompleted",
        "LeaseChanged",
        "PurgeNotice",
        "PurgeSnoozed",
        "BudgetAlert",
        "ConsoleLoginWithRoot",
        "ConsoleLoginWithIamUser",
        "BuildFailed",
        "PurgeDryRun",
        "OnboardingTimedOut",
        "MaintenanceTimedOut",
        "StaleAccessKey",
        "ResidualCost",
        "SpendProjected",
        "Drift",
        "DeadLetter",
    ];
    assert_eq!(Label::ALL.len(), design.len());
    for word in design {
        let label: Label = word.parse().unwrap();
        assert_eq!(label.as_str(), word);
        assert_eq!(
            serde_json::to_string(&label).unwrap(),
            format!("\"{word}\"")
        );
    }
    assert_eq!(Label::OnboardingCompleted.kind(), LabelKind::Activity);
    assert_eq!(Label::Drift.kind(), LabelKind::Exception);
    assert_eq!(Label::BuildStarted.kind(), LabelKind::Lifecycle);
    assert!(
        "AccountDeleted"
            .parse::<Label>()
            .unwrap_err()
            .to_string()
            .starts_with(
                "unknown label `AccountDeleted`; expected one of: AccountVended, AccountPrepared"
            )
    );
}

#[test]
fn holders_are_checked_and_masked() {
    let jane = jane();
    assert_eq!(jane.as_str(), "jane.doe@example.com");
    assert_eq!(jane.masked(), "j***@example.com");
    assert_eq!(jane.to_string(), "j***@example.com");
    assert_eq!(format!("{jane:?}"), "Holder(j***@example.com)");
    for good in [
        "a@b.co",
        "first.last+tag@sub.example.org",
        "x_y-z@ex-ample.com",
    ] {
        assert!(Holder::new(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "jane",
        "@example.com",
        "jane@",
        "jane@example",
        "jane@@example.com",
        "jane doe@example.com",
        "jane@exa_mple.com",
        ".jane@example.com",
        "ja..ne@example.com",
        "jane@-example.com",
        "o'brien@example.com",
        "jane@example..com",
    ] {
        assert!(Holder::new(bad).is_err(), "{bad:?} accepted");
    }
    let long = format!("{}@example.com", "a".repeat(65));
    assert!(Holder::new(&long).is_err());
}

#[test]
fn a_view_reads_from_tags() {
    let codec = TagCodec::default();
    let view = codec
        .decode(&tags(&[
            ("account-state", "purged"),
            ("account-since", "2025-03-01T08:00:00Z"),
            ("account-holder", "jane.doe@example.com"),
            ("account-assigned-since", "2025-02-01T08:00:00Z"),
            ("account-attempts", "2"),
            ("account-build", "preparation/spa-prepare:9f1c-42"),
            (
                "account-transaction",
                "maintenance/2025-03-01T06:00:00Z/2025-03-01T10:00:00Z",
            ),
            ("account-cooldown-until", "2025-03-04T08:00:00Z"),
            ("cost-center", "cc-42"),
            ("unrelated", "kept"),
        ]))
        .unwrap();
    assert_eq!(
        view,
        AccountView {
            state: Some(State::Purged),
            since: Some(t0()),
            holder: Some(jane()),
            assigned_since: Some(t0() - chrono::TimeDelta::days(28)),
            attempts: 2,
            build: awaited(BuildKind::Preparation, "spa-prepare:9f1c-42"),
            transaction: Some(Transaction {
                kind: TransactionKind::Maintenance,
                opened: t0() - hours(2),
                deadline: t0() + hours(2),
            }),
            cooldown_until: Some(t0() + hours(72)),
            lease_until: None,
            closing: None,
            frozen_from: None,
            snoozed_until: None,
            notice: None,
            cost_center: Some("cc-42".to_owned()),
        }
    );
    assert_eq!(codec.decode(&BTreeMap::new()), Ok(AccountView::default()));
    // a blanked holder tag means no holder
    let blank = codec.decode(&tags(&[("account-holder", "")])).unwrap();
    assert_eq!(blank.holder, None);
}

#[test]
fn a_custom_prefix_and_cost_center_key_are_used() {
    let codec = TagCodec::new("spa:", "CostCenter").unwrap();
    let view = codec
        .decode(&tags(&[
            ("spa:state", "assigned"),
            ("spa:holder", "jane.doe@example.com"),
            ("CostCenter", "R&D"),
        ]))
        .unwrap();
    assert_eq!(view.state, Some(State::Assigned));
    assert_eq!(view.cost_center.as_deref(), Some("R&D"));
    assert_eq!(codec.state_key(), "spa:state");
    assert!(codec.reserved_keys().contains("spa:transaction"));
    assert!(codec.reserved_keys().contains("spa:assigned-since"));
    assert!(codec.reserved_keys().contains("spa:cooldown-until"));
    assert!(codec.reserved_keys().contains("spa:closing"));
    assert!(codec.reserved_keys().contains("spa:frozen-from"));
    assert!(codec.reserved_keys().contains("spa:lease-until"));
    assert!(codec.reserved_keys().contains("spa:snoozed-until"));
    assert!(codec.reserved_keys().contains("spa:purge-notice"));
    assert_eq!(codec.reserved_keys().len(), 13);
}

#[test]
fn bad_prefixes_and_keys_are_refused() {
    assert!(TagCodec::new("", "cost-center").is_err());
    assert!(TagCodec::new("aws:spa-", "cost-center").is_err());
    assert!(TagCodec::new("AWS:spa-", "cost-center").is_err());
    // the longest lifecycle key, `{prefix}assigned-since`, must fit in 128 characters
    assert!(TagCodec::new(&"p".repeat(115), "cost-center").is_err());
    assert!(TagCodec::new(&"p".repeat(114), "cost-center").is_ok());
    assert!(TagCodec::new("account-", "account-assigned-since").is_err());
    assert!(TagCodec::new("spa#", "cost-center").is_err());
    assert!(TagCodec::new("account-", "").is_err());
    assert!(TagCodec::new("account-", "account-holder").is_err());
    assert_eq!(
        TagCodec::default(),
        TagCodec::new("account-", "cost-center").unwrap()
    );
}

#[test]
fn every_decoding_error_names_the_key_the_value_and_what_was_expected() {
    let codec = TagCodec::default();
    let cases = [
        (
            ("account-state", "archived"),
            "tag `account-state` = `archived`: unknown state, expected one of vended, prepared, assigned, expired, purged, quarantined, frozen",
        ),
        (
            ("account-holder", "jane"),
            "tag `account-holder` = `jane`: expected the holder's e-mail address (expected `name@domain`)",
        ),
        (
            ("account-attempts", "0"),
            "tag `account-attempts` = `0`: expected a whole number of build attempts from 1 to 999",
        ),
        (
            ("account-build", "b-1"),
            "tag `account-build` = `b-1`: expected `preparation/<build id>` or `purge/<build id>`",
        ),
        (
            ("account-transaction", "onboarding/2025-03-01T08:00:00Z"),
            "tag `account-transaction` = `onboarding/2025-03-01T08:00:00Z`: expected `onboarding|maintenance/<opened>/<deadline>` with RFC 3339 UTC instants (expected three parts separated by `/`)",
        ),
        (
            ("account-since", "yesterday"),
            "tag `account-since` = `yesterday`: expected an RFC 3339 instant such as 2025-03-01T08:00:00Z",
        ),
        (
            ("account-frozen-from", "expired"),
            "tag `account-frozen-from` = `expired`: expected the state the account was frozen in, prepared or assigned",
        ),
        (
            ("account-assigned-since", "last week"),
            "tag `account-assigned-since` = `last week`: expected the start of the assignment, an RFC 3339 instant such as 2025-03-01T08:00:00Z",
        ),
    ];
    for ((key, value), message) in cases {
        let error = codec.decode(&tags(&[(key, value)])).unwrap_err();
        assert_eq!(error.to_string(), message);
        assert_eq!(error.label(), Label::Drift);
    }
    for attempts in ["-1", "+1", "1000", "1.5", "one", " 1"] {
        assert!(
            matches!(
                codec.decode(&tags(&[("account-attempts", attempts)])),
                Err(DecodeError::MalformedAttempts { .. })
            ),
            "{attempts:?}"
        );
    }
    for build in ["purge/", "rebuild/b-1", "purge/b 1", "/b-1"] {
        assert!(
            codec.decode(&tags(&[("account-build", build)])).is_err(),
            "{build:?}"
        );
    }
    for transaction in [
        "audit/2025-03-01T08:00:00Z/2025-03-01T10:00:00Z",
        "onboarding/2025-03-01T08:00:00Z/soon",
        "onboarding/2025-03-01T10:00:00Z/2025-03-01T08:00:00Z",
        "onboarding/2025-03-01T08:00:00Z/2025-03-01T10:00:00Z/x",
    ] {
        assert!(
            codec
                .decode(&tags(&[("account-transaction", transaction)]))
                .is_err(),
            "{transaction:?}"
        );
    }
}

#[test]
fn a_malformed_assignment_start_is_a_typed_error_naming_its_key() {
    let codec = TagCodec::new("spa:", "cost-center").unwrap();
    for value in ["2025-03-01", "2025-03-01 08:00:00", "1740816000", "soon"] {
        let error = codec
            .decode(&tags(&[
                ("spa:state", "assigned"),
                ("spa:since", "2025-03-01T08:00:00Z"),
                ("spa:holder", "jane.doe@example.com"),
                ("spa:assigned-since", value),
            ]))
            .unwrap_err();
        assert_eq!(
            error,
            DecodeError::MalformedAssignedSince {
                key: "spa:assigned-since".to_owned(),
                value: value.to_owned(),
            },
            "{value:?}"
        );
        assert!(error.to_string().starts_with("tag `spa:assigned-since` = "));
        assert_eq!(error.label(), Label::Drift);
    }
    // any offset reads as the same UTC instant; spa writes UTC to the second
    let view = codec
        .decode(&tags(&[
            ("spa:holder", "jane.doe@example.com"),
            ("spa:assigned-since", "2025-03-01T09:00:00+01:00"),
        ]))
        .unwrap();
    assert_eq!(view.assigned_since, Some(t0()));
    let changes = codec.encode(&[Command::StartAssignment(t0())]);
    assert_eq!(
        changes.set.get("spa:assigned-since").map(String::as_str),
        Some("2025-03-01T08:00:00Z")
    );
}

#[test]
fn the_assignment_start_goes_with_the_holder_and_with_management() {
    let codec = TagCodec::default();
    let removed = codec.encode(&[Command::RemoveHolder]);
    assert_eq!(
        removed.remove,
        [
            "account-assigned-since".to_owned(),
            "account-holder".to_owned(),
            "account-lease-until".to_owned()
        ]
        .into()
    );
    let cleared = codec.encode(&[Command::ClearState]);
    assert!(cleared.remove.contains("account-assigned-since"));
    assert!(!cleared.remove.contains("account-holder"));
    let repaired = codec.encode(&[Command::EndAssignment]);
    assert_eq!(
        repaired.remove,
        [
            "account-assigned-since".to_owned(),
            "account-lease-until".to_owned()
        ]
        .into()
    );
    assert!(repaired.set.is_empty());
}

#[test]
fn tag_values_fit_aws_limits() {
    let far = Transaction {
        kind: TransactionKind::Maintenance,
        opened: t0(),
        deadline: t0() + chrono::TimeDelta::days(3650),
    };
    let value = TagCodec::encode_transaction(&far);
    assert!(value.len() <= 53, "{value}");
    let build = AwaitedBuild {
        kind: BuildKind::Preparation,
        id: build_id(&"x".repeat(200)),
    };
    assert!(TagCodec::encode_build(&build).len() <= 256);
    assert!(BuildId::new(&"x".repeat(201)).is_err());
}

#[test]
fn lifecycle_tags_win_over_the_policys_literal_tags() {
    let codec = TagCodec::default();
    let commands = vec![
        Command::SetState {
            state: State::Vended,
            since: t0(),
        },
        Command::RemoveTags(["account-state".to_owned()].into()),
        Command::SetTags(BTreeMap::from([(
            "account-holder".to_owned(),
            "x".to_owned(),
        )])),
    ];
    let changes = codec.encode(&commands);
    assert_eq!(
        changes.set.get("account-state").map(String::as_str),
        Some("vended")
    );
    assert_eq!(
        changes.set.get("account-holder").map(String::as_str),
        Some("x"),
        "no lifecycle command on the holder"
    );
    assert!(!changes.remove.contains("account-state"));
}

#[test]
fn tag_changes_are_disjoint_and_shrink_against_current_tags() {
    let mut changes = TagChanges::default();
    changes.set("a".to_owned(), "1".to_owned());
    changes.remove("a".to_owned());
    changes.remove("b".to_owned());
    changes.set("b".to_owned(), "2".to_owned());
    changes.set("c".to_owned(), "3".to_owned());
    assert_eq!(
        changes.set,
        BTreeMap::from([
            ("b".to_owned(), "2".to_owned()),
            ("c".to_owned(), "3".to_owned())
        ])
    );
    assert_eq!(changes.remove, ["a".to_owned()].into());
    let current = tags(&[("c", "3"), ("z", "9")]);
    let needed = changes.against(&current);
    assert_eq!(
        needed.set,
        BTreeMap::from([("b".to_owned(), "2".to_owned())])
    );
    assert!(needed.remove.is_empty());
    let mut applied = current.clone();
    changes.apply(&mut applied);
    assert_eq!(applied, tags(&[("b", "2"), ("c", "3"), ("z", "9")]));
}

#[test]
fn an_empty_lifecycle_tag_is_absent_and_a_removal_with_a_write_is_one_call() {
    let codec = TagCodec::new("spa:", "cost-center").unwrap();
    let view = codec
        .decode(&tags(&[
            ("spa:state", "assigned"),
            ("spa:since", "2025-03-01T08:00:00Z"),
            ("spa:build", ""),
            ("spa:attempts", ""),
            ("spa:transaction", ""),
            ("spa:assigned-since", ""),
        ]))
        .unwrap();
    assert_eq!(
        (
            view.build,
            view.attempts,
            view.transaction,
            view.assigned_since
        ),
        (None, 0, None, None)
    );
    assert_eq!(
        codec.decode(&tags(&[("spa:state", "")])).unwrap().state,
        None
    );

    // a write and removals: one TagResource, the lifecycle's removals as empty values
    let mut changes = TagChanges::default();
    changes.set("spa:state".into(), "assigned".into());
    changes.remove("spa:build".into());
    changes.remove("team".into());
    let folded = codec.fold(&changes);
    assert_eq!(folded.set.get("spa:build").map(String::as_str), Some(""));
    assert_eq!(
        folded.remove.iter().collect::<Vec<_>>(),
        ["team"],
        "not a lifecycle tag: removed"
    );
    // removals alone stay removals
    let mut alone = TagChanges::default();
    alone.remove("spa:build".into());
    assert_eq!(codec.fold(&alone), alone);
    // an empty tag needs no removal
    let mut again = TagChanges::default();
    again.remove("spa:build".into());
    assert!(again.against(&tags(&[("spa:build", "")])).is_empty());
}
