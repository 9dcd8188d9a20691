//! A template cut down to the resource types moto's CloudFormation creates, for the
//! smoke test: what moto lacks is left out, with every resource that refers to it,
//! and listed.

use std::collections::BTreeSet;

use serde_json::Value;

/// The resource types of spa's templates that moto's CloudFormation creates (moto
/// 5.2: `CloudFormationModel` subclasses, and `AWS::Organizations::Policy`, which
/// `scripts/moto_server.py` adds).
pub const MOTO_TYPES: &[&str] = &[
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::Organizations::Policy",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SSM::Parameter",
];

/// A resource left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// Its logical id.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// `unsupported by moto`, or `refers to <id>`.
    pub why: String,
}

/// The template without what moto cannot create, and what was left out.
pub fn for_moto(template: &Value) -> (Value, Vec<LeftOut>) {
    let mut template = template.clone();
    let mut left_out = Vec::new();
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return (template, left_out);
    };
    let mut removed: BTreeSet<String> = BTreeSet::new();
    for (id, resource) in resources.iter() {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if !MOTO_TYPES.contains(&kind) {
            removed.insert(id.clone());
            left_out.push(LeftOut {
                id: id.clone(),
                kind: kind.to_owned(),
                why: "unsupported by moto".into(),
            });
        }
    }
    loop {
        let more: Vec<(String, String, String)> = resources
            .iter()
            .filter(|(id, _)| !removed.contains(*id))
            .filter_map(|(id, resource)| {
                references(resource)
                    .into_iter()
                    .find(|r| removed.contains(r))
                    .map(|r| {
                        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
                        (id.clone(), kind.to_owned(), r)
                    })
            })
            .collect();
        if more.is_empty() {
            break;
        }
        for (id, kind, reference) in more {
            removed.insert(id.clone());
            left_out.push(LeftOut {
                id,
                kind,
                why: format!("refers to {reference}"),
            });
        }
    }
    resources.retain(|id, _| !removed.contains(id));
    if let Some(outputs) = template.get_mut("Outputs").and_then(Value::as_object_mut) {
        outputs.retain(|_, output| references(output).iter().all(|r| !removed.contains(r)));
    }
    (template, left_out)
}

/// The logical ids (and parameters) a value refers to.
pub fn references(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("Ref", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(id) = parts.first().and_then(Value::as_str) {
                            out.insert(id.to_owned());
                        }
                    }
                    ("Fn::Sub", Value::String(text)) => sub_references(text, out),
                    ("DependsOn", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("DependsOn", Value::Array(ids)) => {
                        out.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => collect(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

fn sub_references(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.starts_with('!') && !name.starts_with("AWS::") {
            out.insert(name.split('.').next().unwrap_or(name).to_owned());
        }
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_out_the_unsupported_and_what_refers_to_them() {
        let template = json!({"Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"Target": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}}},
            "Alarm": {"Type": "AWS::SNS::Topic", "Properties": {"Name": {"Fn::Sub": "${Schedule.Arn}-${AWS::Region}"}}},
            "Role": {"Type": "AWS::IAM::Role", "DependsOn": ["Alarm"], "Properties": {}},
            "Kept": {"Type": "AWS::IAM::Role", "Properties": {"X": {"Fn::Sub": "${Queue.Arn}"}}},
        }, "Outputs": {
            "Gone": {"Value": {"Ref": "Role"}},
            "Here": {"Value": {"Ref": "Kept"}},
        }});
        let (filtered, left_out) = for_moto(&template);
        let mut kept: Vec<&String> = filtered["Resources"].as_object().unwrap().keys().collect();
        kept.sort();
        assert_eq!(kept, ["Kept", "Queue"]);
        let why: Vec<(&str, &str)> = left_out
            .iter()
            .map(|l| (l.id.as_str(), l.why.as_str()))
            .collect();
        assert_eq!(
            why,
            [
                ("Schedule", "unsupported by moto"),
                ("Alarm", "refers to Schedule"),
                ("Role", "refers to Alarm"),
            ]
        );
        assert_eq!(
            filtered["Outputs"],
            json!({"Here": {"Value": {"Ref": "Kept"}}})
        );
    }
}
