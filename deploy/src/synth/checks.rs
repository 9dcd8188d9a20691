//! The rules every synthesized template keeps, checked on the JSON CloudFormation
//! reads (so they hold whatever code produced it):
//!
//! - [`iam_wildcards`]: no `Allow` of `*` or `service:*` actions, no `NotAction` /
//!   `NotResource` allowances, and `"Resource": "*"` only for the actions of
//!   [`ANY_RESOURCE_ACTIONS`](super::iam::ANY_RESOURCE_ACTIONS);
//! - [`dead_letters`]: every asynchronous target has a dead-letter queue: rule and
//!   schedule targets, functions invoked asynchronously, queues consumed by a function,
//!   SNS subscriptions;
//! - [`public_endpoints`]: no function URL, API Gateway method or route, or function
//!   permission reachable without authentication, except the function URL of
//!   [`PUBLIC_FUNCTION`], which Slack calls and which checks Slack's signature first.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::iam::any_resource_reason;

/// The one function whose URL may be public (`AuthType: NONE`): the Slack command
/// endpoint (deployed as `<env>-slack-commands`).
pub const PUBLIC_FUNCTION: &str = "slack-commands";

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The logical id of the resource.
    pub resource: String,
    /// Which rule (`iam-wildcard`, `dead-letter`, `public-endpoint`).
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.resource, self.rule, self.message)
    }
}

/// Every rule on one template.
pub fn check(template: &Value) -> Vec<Violation> {
    let mut all = iam_wildcards(template);
    all.extend(dead_letters(template));
    all.extend(public_endpoints(template));
    all
}

fn resources(template: &Value) -> BTreeMap<&str, &Value> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn kind(resource: &Value) -> &str {
    resource.get("Type").and_then(Value::as_str).unwrap_or("")
}

fn props(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    }
}

/// Every statement under `value` (policy documents, and the `Statement` property of
/// an event bus policy).
fn statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "Statement" {
                    match item {
                        Value::Array(list) => out.extend(list.iter().cloned()),
                        Value::Object(_) => out.push(item.clone()),
                        _ => {}
                    }
                } else {
                    statements(item, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| statements(i, out)),
        _ => {}
    }
}

/// No wildcard grants but those AWS requires.
pub fn iam_wildcards(template: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    for (id, resource) in resources(template) {
        let mut list = Vec::new();
        statements(props(resource), &mut list);
        for statement in list {
            if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            let mut violation = |message: String| {
                found.push(Violation {
                    resource: id.to_owned(),
                    rule: "iam-wildcard",
                    message,
                })
            };
            if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
                violation(
                    "an Allow statement with NotAction or NotResource grants everything else"
                        .into(),
                );
            }
            let actions = strings(statement.get("Action"));
            for action in &actions {
                if action == "*" || action.ends_with(":*") {
                    violation(format!("grants every action of `{action}`"));
                }
            }
            if strings(statement.get("Resource")).iter().any(|r| r == "*") {
                for action in &actions {
                    if any_resource_reason(action).is_none() {
                        violation(format!(
                            "grants `{action}` on every resource; only the actions listed in synth::iam::ANY_RESOURCE_ACTIONS may"
                        ));
                    }
                }
            }
        }
    }
    found
}

/// The logical id a `Ref` / `Fn::GetAtt` points at.
fn target_id(value: &Value) -> Option<&str> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(id);
    }
    match value.get("Fn::GetAtt") {
        Some(Value::Array(parts)) => parts.first().and_then(Value::as_str),
        Some(Value::String(text)) => text.split('.').next(),
        _ => None,
    }
}

/// Whether `value` names a queue: a reference to an SQS queue of the template, or an
/// SQS ARN.
fn is_queue(all: &BTreeMap<&str, &Value>, value: Option<&Value>) -> bool {
    match value {
        Some(Value::String(arn)) => arn.starts_with("arn:") && arn.contains(":sqs:"),
        Some(other) => target_id(other)
            .and_then(|id| all.get(id))
            .is_some_and(|r| kind(r) == "AWS::SQS::Queue"),
        None => false,
    }
}

/// The logical id of the `dead-letters` function, whose sources are the dead-letter
/// queues themselves.
pub const DEAD_LETTERS_FUNCTION: &str = "DeadLettersFunction";

/// Every asynchronous target has a dead-letter queue.
pub fn dead_letters(template: &Value) -> Vec<Violation> {
    let all = resources(template);
    let mut found = Vec::new();
    let mut violation = |id: &str, message: String| {
        found.push(Violation {
            resource: id.to_owned(),
            rule: "dead-letter",
            message,
        })
    };
    // functions invoked asynchronously, and whether they keep failed events
    let mut async_functions: Vec<(String, String)> = Vec::new();
    for (id, resource) in &all {
        let p = props(resource);
        match kind(resource) {
            "AWS::Events::Rule" => {
                let targets = p
                    .get("Targets")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for target in targets {
                    let dlq = target.pointer("/DeadLetterConfig/Arn");
                    if !is_queue(&all, dlq) {
                        violation(
                            id,
                            format!(
                                "the target `{}` has no dead-letter queue",
                                target.get("Id").and_then(Value::as_str).unwrap_or("?")
                            ),
                        );
                    }
                    if let Some(function) = target.get("Arn").and_then(target_id) {
                        async_functions.push((function.to_owned(), (*id).to_owned()));
                    }
                }
            }
            "AWS::Scheduler::Schedule" => {
                let dlq = p.pointer("/Target/DeadLetterConfig/Arn");
                if !is_queue(&all, dlq) {
                    violation(id, "the schedule's target has no dead-letter queue".into());
                }
                if let Some(function) = p.pointer("/Target/Arn").and_then(target_id) {
                    async_functions.push((function.to_owned(), (*id).to_owned()));
                }
            }
            "AWS::SNS::Subscription" => {
                let dlq = p.pointer("/RedrivePolicy/deadLetterTargetArn");
                if !is_queue(&all, dlq) {
                    violation(
                        id,
                        "the subscription has no dead-letter queue (RedrivePolicy)".into(),
                    );
                }
                if p.get("Protocol").and_then(Value::as_str) == Some("lambda")
                    && let Some(function) = p.get("Endpoint").and_then(target_id)
                {
                    async_functions.push((function.to_owned(), (*id).to_owned()));
                }
            }
            "AWS::Lambda::EventSourceMapping" => {
                let source = p.get("EventSourceArn").and_then(target_id);
                let queue = source
                    .and_then(|s| all.get(s))
                    .filter(|r| kind(r) == "AWS::SQS::Queue");
                // the `dead-letters` function consumes the dead-letter queues, which
                // have none of their own: their retention keeps what it fails on
                let is_dead_letter_queue =
                    p.get("FunctionName").and_then(target_id) == Some(DEAD_LETTERS_FUNCTION);
                if let Some(queue) = queue
                    && !is_dead_letter_queue
                    && !is_queue(
                        &all,
                        props(queue).pointer("/RedrivePolicy/deadLetterTargetArn"),
                    )
                {
                    violation(
                        id,
                        format!(
                            "the queue `{}` has no dead-letter queue (RedrivePolicy)",
                            source.unwrap_or("?")
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    for (function, invoker) in async_functions {
        let Some(resource) = all.get(function.as_str()) else {
            continue;
        };
        if kind(resource) != "AWS::Lambda::Function" {
            continue;
        }
        let own = is_queue(&all, props(resource).pointer("/DeadLetterConfig/TargetArn"));
        let on_failure = all.values().any(|r| {
            kind(r) == "AWS::Lambda::EventInvokeConfig"
                && props(r).get("FunctionName").and_then(target_id) == Some(function.as_str())
                && props(r)
                    .pointer("/DestinationConfig/OnFailure/Destination")
                    .is_some()
        });
        if !own && !on_failure {
            violation(
                &function,
                format!(
                    "invoked asynchronously by `{invoker}` but keeps no failed event (DeadLetterConfig or an on-failure destination)"
                ),
            );
        }
    }
    found
}

/// The `FunctionName` of the function `value` points at.
fn function_name<'a>(all: &BTreeMap<&str, &'a Value>, value: Option<&Value>) -> Option<&'a str> {
    let id = value.and_then(target_id)?;
    let resource = all.get(id)?;
    props(resource).get("FunctionName").and_then(Value::as_str)
}

fn is_public_function(name: Option<&str>) -> bool {
    name.is_some_and(|n| n == PUBLIC_FUNCTION || n.ends_with(&format!("-{PUBLIC_FUNCTION}")))
}

/// No endpoint without authentication, but the Slack command endpoint's function URL.
pub fn public_endpoints(template: &Value) -> Vec<Violation> {
    let all = resources(template);
    let mut found = Vec::new();
    for (id, resource) in &all {
        let p = props(resource);
        let auth = |key: &str| {
            p.get(key)
                .and_then(Value::as_str)
                .unwrap_or("NONE")
                .to_owned()
        };
        let problem = match kind(resource) {
            "AWS::Lambda::Url" => {
                let function = function_name(&all, p.get("TargetFunctionArn"));
                (auth("AuthType") == "NONE" && !is_public_function(function)).then(|| {
                    format!(
                        "the function URL of `{}` has AuthType NONE; only `<env>-{PUBLIC_FUNCTION}` may",
                        function.unwrap_or("?")
                    )
                })
            }
            "AWS::Lambda::Permission" => {
                let function = function_name(&all, p.get("FunctionName"));
                let principal = p.get("Principal").and_then(Value::as_str).unwrap_or("");
                // `InvokedViaFunctionUrl`: the `lambda:InvokeFunction` half of a public URL
                let url_none = p.get("FunctionUrlAuthType").and_then(Value::as_str) == Some("NONE")
                    || p.get("InvokedViaFunctionUrl").and_then(Value::as_bool) == Some(true);
                let scoped = p.get("SourceArn").is_some() || p.get("SourceAccount").is_some();
                if url_none && !is_public_function(function) {
                    Some(format!(
                        "lets anyone call the URL of `{}`; only `<env>-{PUBLIC_FUNCTION}` may be public",
                        function.unwrap_or("?")
                    ))
                } else if principal == "*" && !url_none && !scoped {
                    Some("lets any principal invoke the function".to_owned())
                } else {
                    None
                }
            }
            "AWS::ApiGateway::Method" => (auth("AuthorizationType") == "NONE"
                && p.get("HttpMethod").and_then(Value::as_str) != Some("OPTIONS"))
            .then(|| "an API Gateway method without authorization".to_owned()),
            "AWS::ApiGatewayV2::Route" => (auth("AuthorizationType") == "NONE")
                .then(|| "an API Gateway route without authorization".to_owned()),
            "AWS::ApiGatewayV2::Api" => p
                .get("Target")
                .is_some()
                .then(|| "a quick-create HTTP API has a public default route".to_owned()),
            _ => None,
        };
        if let Some(message) = problem {
            found.push(Violation {
                resource: (*id).to_owned(),
                rule: "public-endpoint",
                message,
            });
        }
    }
    found
}
