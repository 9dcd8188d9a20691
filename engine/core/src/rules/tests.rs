use serde_json::{Value, json};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../../../../fixtures/events/", $name)))
            .expect("json")
    };
}

#[test]
fn every_consumed_event_reaches_its_function() {
    // the fixtures' builds run in projects named `spa-...`: environment `spa`
    let rules = automation_rules("spa", "123456789012");
    let account = Function::AccountEvents;
    for (file, event, function) in [
        (
            "create",
            fixture!("organizations-create-account-result.json"),
            account,
        ),
        ("move", fixture!("organizations-move-account.json"), account),
        ("tag", fixture!("organizations-tag-resource.json"), account),
        (
            "untag",
            fixture!("organizations-untag-resource.json"),
            account,
        ),
        (
            "close",
            fixture!("organizations-close-account.json"),
            account,
        ),
        (
            "build",
            fixture!("codebuild-build-state-change.json"),
            Function::BuildEvents,
        ),
        (
            "root",
            fixture!("signin-console-login-root.json"),
            Function::SignIns,
        ),
        (
            "user",
            fixture!("signin-console-login-iam-user.json"),
            Function::SignIns,
        ),
        (
            "role",
            fixture!("signin-console-login-assumed-role.json"),
            Function::SignIns,
        ),
        (
            "run",
            fixture!("ec2-run-instances.json"),
            Function::SpendEvents,
        ),
        (
            "terminate",
            fixture!("ec2-terminate-instances.json"),
            Function::SpendEvents,
        ),
    ] {
        assert_eq!(route(&rules, &event), vec![function], "{file}");
    }
}

#[test]
fn what_spa_does_not_react_to_goes_nowhere() {
    let rules = automation_rules("spa", "123456789012");
    let mut build = fixture!("codebuild-build-state-change.json");
    build["detail"]["build-status"] = json!("IN_PROGRESS");
    assert!(route(&rules, &build).is_empty(), "a build still running");
    let mut other = fixture!("codebuild-build-state-change.json");
    other["detail"]["project-name"] = json!("team-ci");
    assert!(
        route(&rules, &other).is_empty(),
        "a build of another project"
    );
    let mut elsewhere = fixture!("codebuild-build-state-change.json");
    elsewhere["detail"]["project-name"] = json!("spa-prepare");
    assert!(
        route(&automation_rules("SpaProd", "123456789012"), &elsewhere).is_empty(),
        "a build of another environment"
    );
    let mut call = fixture!("organizations-tag-resource.json");
    call["detail"]["eventName"] = json!("ListAccounts");
    assert!(route(&rules, &call).is_empty(), "a read-only call");
    assert!(route(&rules, &fixture!("scheduler-maintenance-window.json")).is_empty());
    let own =
        json!({"source": "spa", "detail-type": "AccountVended", "detail": {"environment": "spa"}});
    assert!(
        route(&rules, &own).is_empty(),
        "spa never routes its own events back"
    );
}

#[test]
fn spa_events_are_taken_from_the_automation_account_only() {
    let rules = automation_rules("spa", "123456789012");
    let event = |account: &str| {
        json!({"source": "spa", "account": account, "detail-type": "AccountQuarantined",
               "detail": {"environment": "spa"}})
    };
    assert_eq!(
        route(&rules, &event("123456789012")),
        vec![Function::Exceptions]
    );
    assert!(
        route(&rules, &event("444444444444")).is_empty(),
        "a member account put it on the bus"
    );
    assert_eq!(
        forwarded_sources(&rules),
        [
            "aws.bedrock",
            "aws.codebuild",
            "aws.ec2",
            "aws.eks",
            "aws.organizations",
            "aws.rds",
            "aws.sagemaker",
            "aws.signin"
        ],
        "what other accounts may put on the bus: never `spa`"
    );
}

#[test]
fn the_rules_only_use_supported_matchers_and_fit_aws_names() {
    for rule in automation_rules("SpaDemo-with-a-rather-long-environment", "123456789012") {
        check(&rule.pattern).expect("supported");
        assert!(rule.name.len() <= 64, "{}", rule.name);
    }
}

#[test]
fn matchers_follow_eventbridge() {
    let event = json!({"a": "Hello", "n": 5, "list": ["x", "y"], "o": {"b": null}});
    let yes = |p: Value| assert!(matches(&p, &event), "{p}");
    let no = |p: Value| assert!(!matches(&p, &event), "{p}");
    yes(json!({"a": ["Hello"]}));
    no(json!({"a": ["hello"]}));
    yes(json!({"a": [{"equals-ignore-case": "hello"}]}));
    yes(json!({"a": [{"prefix": "He"}], "n": [5.0]}));
    yes(json!({"a": [{"suffix": "llo"}]}));
    yes(json!({"list": ["y"]}));
    yes(json!({"o": {"b": [null]}}));
    yes(json!({"missing": [{"exists": false}]}));
    no(json!({"a": [{"exists": false}]}));
    yes(json!({"a": [{"exists": true}]}));
    yes(json!({"a": [{"anything-but": ["Bye", "Ciao"]}]}));
    no(json!({"a": [{"anything-but": "Hello"}]}));
    no(json!({"a": [{"anything-but": {"prefix": "He"}}]}));
    no(json!({"missing": [{"anything-but": "x"}]}));
    no(json!({"o": ["b"]}));
    no(json!({"a": {"b": ["x"]}}));
}

#[test]
fn unsupported_patterns_are_refused_with_their_place() {
    let error = check(&json!({"detail": {"n": [{"numeric": [">", 0]}]}})).expect_err("refused");
    assert_eq!(error.path, "detail.n");
    assert!(error.why.contains("numeric"), "{error}");
    assert!(check(&json!({"a": []})).is_err());
    assert!(check(&json!({"a": "x"})).is_err());
    assert!(check(&json!([])).is_err());
}

#[test]
fn functions_are_found_by_their_deployed_name() {
    for function in Function::ALL {
        let name = function.deployed_name("SpaDemo");
        assert_eq!(Function::from_function_name(&name), Some(function));
        assert_eq!(
            Function::from_function_name(function.as_str()),
            Some(function)
        );
    }
    assert_eq!(Function::from_function_name("SpaDemo-reports"), None);
}
