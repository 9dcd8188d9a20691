//! The CloudFormation template model: serde structures serialized to the JSON that
//! CloudFormation reads, and the intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Sub`).
//!
//! Resources carry typed properties where spa has logic (roles, functions, rules,
//! schedules, queues, tables) and plain JSON values elsewhere; either way the template
//! is built from data, never from text.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// The template format version CloudFormation expects.
pub const FORMAT_VERSION: &str = "2010-09-09";

/// A CloudFormation template.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Template {
    /// Always [`FORMAT_VERSION`].
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: &'static str,
    /// What the stack is for.
    #[serde(rename = "Description")]
    pub description: String,
    /// Template-level metadata (what spa generated, from which settings).
    #[serde(rename = "Metadata", skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    /// Values given at deployment.
    #[serde(rename = "Parameters", skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    /// Assertions checked before any change (the management stack's region).
    #[serde(rename = "Rules", skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Value>,
    /// Named conditions.
    #[serde(rename = "Conditions", skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, Value>,
    /// The resources, by logical id.
    #[serde(rename = "Resources")]
    pub resources: BTreeMap<String, Resource>,
    /// The outputs, by name.
    #[serde(rename = "Outputs", skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Output>,
}

impl Template {
    /// An empty template.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            description: description.into(),
            metadata: BTreeMap::new(),
            parameters: BTreeMap::new(),
            rules: BTreeMap::new(),
            conditions: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Adds a resource; a logical id used twice is a bug in the synthesizer.
    pub fn add(&mut self, id: impl Into<String>, resource: Resource) -> Result<(), TemplateError> {
        let id = id.into();
        if !is_logical_id(&id) {
            return Err(TemplateError::LogicalId(id));
        }
        if self.resources.contains_key(&id) {
            return Err(TemplateError::Duplicate(id));
        }
        self.resources.insert(id, resource);
        Ok(())
    }

    /// Adds an output.
    pub fn output(&mut self, name: &str, description: &str, value: Value) {
        self.outputs.insert(
            name.to_owned(),
            Output {
                description: description.to_owned(),
                value,
            },
        );
    }

    /// The template as JSON, every object's keys in order.
    ///
    /// The order of a `serde_json` map depends on a cargo feature (`preserve_order`)
    /// that another crate of the build may turn on: the templates (and the committed
    /// copies) must not change with what else is compiled.
    pub fn to_json(&self) -> Result<Value, TemplateError> {
        serde_json::to_value(self)
            .map(sorted)
            .map_err(|e| TemplateError::Serialize(e.to_string()))
    }
}

/// `value` with the keys of every object inserted in order (sorted whatever the map type).
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        leaf => leaf,
    }
}

/// Why a template cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Two resources share a logical id.
    #[error("the logical id `{0}` is used twice")]
    Duplicate(String),
    /// A logical id that CloudFormation refuses (letters and digits only).
    #[error("`{0}` is not a logical id: letters and digits only, at most 255")]
    LogicalId(String),
    /// Properties that do not serialize.
    #[error("cannot serialize the template: {0}")]
    Serialize(String),
    /// Timeouts that do not nest (`spa_core::rules::timeouts`).
    #[error("the timeouts do not nest: {0}")]
    Timeouts(String),
}

fn is_logical_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A template parameter.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// `String`, `Number`, ...
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// What to give.
    pub description: String,
    /// The value when none is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A regular expression the value must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// The only values accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// Shown when the value is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
}

impl Parameter {
    /// A string parameter.
    pub fn string(description: impl Into<String>) -> Self {
        Self {
            kind: "String",
            description: description.into(),
            default: None,
            allowed_pattern: None,
            allowed_values: Vec::new(),
            constraint_description: None,
        }
    }

    /// With a pattern and what it means.
    pub fn pattern(mut self, pattern: &str, meaning: &str) -> Self {
        self.allowed_pattern = Some(pattern.to_owned());
        self.constraint_description = Some(meaning.to_owned());
        self
    }

    /// With a default value.
    pub fn default(mut self, value: &str) -> Self {
        self.default = Some(value.to_owned());
        self
    }

    /// With the only values accepted.
    pub fn one_of(mut self, values: &[&str]) -> Self {
        self.allowed_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
}

/// A stack output.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// What it is.
    pub description: String,
    /// Its value.
    pub value: Value,
}

/// A resource: its type, properties and attributes.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    /// `AWS::Service::Type`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Created only when this condition holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Resources created before this one (besides those it references).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// `Retain` keeps data when the stack is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<&'static str>,
    /// `Retain` keeps data when the resource is replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<&'static str>,
    /// The properties.
    pub properties: Value,
}

/// Properties of one resource type.
pub trait Properties: Serialize {
    /// The resource type they belong to.
    const TYPE: &'static str;
}

impl Resource {
    /// A resource from typed properties.
    pub fn of<P: Properties>(properties: &P) -> Result<Self, TemplateError> {
        let properties = serde_json::to_value(properties)
            .map_err(|e| TemplateError::Serialize(e.to_string()))?;
        Ok(Self::raw(P::TYPE, properties))
    }

    /// A resource from JSON properties.
    pub fn raw(kind: &str, properties: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            condition: None,
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            properties,
        }
    }

    /// Kept when the stack is deleted or the resource replaced (data).
    pub fn retained(mut self) -> Self {
        self.deletion_policy = Some("Retain");
        self.update_replace_policy = Some("Retain");
        self
    }

    /// Created after `ids`.
    pub fn after(mut self, ids: &[&str]) -> Self {
        self.depends_on
            .extend(ids.iter().map(|id| (*id).to_owned()));
        self
    }

    /// Created only when `condition` holds.
    pub fn when(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self
    }
}

/// `{"Ref": id}`.
pub fn r(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attribute]}`.
pub fn att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// `{"Fn::Sub": text}`: `${AWS::Region}`, `${AWS::AccountId}`, `${AWS::Partition}`,
/// `${Parameter}`, `${Resource.Attribute}` are replaced.
pub fn sub(text: impl Into<String>) -> Value {
    json!({ "Fn::Sub": text.into() })
}

/// `{"Fn::If": [condition, then, else]}`.
pub fn if_(condition: &str, then: Value, otherwise: Value) -> Value {
    json!({ "Fn::If": [condition, then, otherwise] })
}

/// `{"Ref": "AWS::NoValue"}`: the property is left out.
pub fn no_value() -> Value {
    r("AWS::NoValue")
}

/// `key: value` tags as CloudFormation's list of `{Key, Value}`.
pub fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect()
}

/// The logical id of a name: `account-events` → `AccountEvents`.
pub fn logical(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_from_names() {
        assert_eq!(logical("account-events"), "AccountEvents");
        assert_eq!(logical("maintenance-window"), "MaintenanceWindow");
        assert_eq!(logical("sweeper"), "Sweeper");
    }

    #[test]
    fn a_logical_id_twice_or_with_a_dash_is_refused() {
        let mut template = Template::new("t");
        template
            .add("Queue", Resource::raw("AWS::SQS::Queue", json!({})))
            .ok();
        assert_eq!(
            template.add("Queue", Resource::raw("AWS::SQS::Queue", json!({}))),
            Err(TemplateError::Duplicate("Queue".into()))
        );
        assert_eq!(
            template.add("My-Queue", Resource::raw("AWS::SQS::Queue", json!({}))),
            Err(TemplateError::LogicalId("My-Queue".into()))
        );
    }

    #[test]
    fn serializes_as_cloudformation_reads_it() {
        let mut template = Template::new("spa");
        template
            .add(
                "Bucket",
                Resource::raw("AWS::S3::Bucket", json!({"BucketName": "b"})).retained(),
            )
            .ok();
        let json = template.to_json().ok();
        assert_eq!(
            json,
            Some(json!({
                "AWSTemplateFormatVersion": "2010-09-09",
                "Description": "spa",
                "Resources": {"Bucket": {
                    "Type": "AWS::S3::Bucket",
                    "DeletionPolicy": "Retain",
                    "UpdateReplacePolicy": "Retain",
                    "Properties": {"BucketName": "b"}
                }}
            }))
        );
    }
}
