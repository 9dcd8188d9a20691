//! IAM policy documents, and the one list of actions for which AWS requires
//! `"Resource": "*"` (each with why): the checks refuse any other wildcard.

use serde::Serialize;
use serde_json::{Value, json};

/// The policy language version.
pub const POLICY_VERSION: &str = "2012-10-17";

/// Actions that AWS only authorizes on `"Resource": "*"` (they name no resource, or
/// the service has no resource-level permissions), with the reason. spa grants `*`
/// resources to these actions and to no other; the checks read this list.
pub const ANY_RESOURCE_ACTIONS: &[(&str, &str)] = &[
    (
        "organizations:ListRoots",
        "lists the roots of the caller's organization: the action has no resource type",
    ),
    (
        "organizations:ListAccounts",
        "lists every account of the caller's organization: the action has no resource type",
    ),
    (
        "organizations:DescribeOrganization",
        "describes the caller's organization: the action has no resource type",
    ),
    (
        "organizations:ListPolicies",
        "lists the policies of the caller's organization (the spend guard finds its freeze policy): the action has no resource type",
    ),
    (
        "organizations:CreatePolicy",
        "creates a policy in the caller's organization (the spend guard's freeze policy, the first time an account is frozen): the action has no resource type",
    ),
    (
        "ce:GetCostAndUsage",
        "Cost Explorer has no resource-level permissions",
    ),
    (
        "ce:GetCostForecast",
        "Cost Explorer has no resource-level permissions",
    ),
];

/// The justification of a `*` resource for `action`, when AWS requires one.
pub fn any_resource_reason(action: &str) -> Option<&'static str> {
    ANY_RESOURCE_ACTIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, why)| *why)
}

/// A policy document.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// Always [`POLICY_VERSION`].
    pub version: &'static str,
    /// The statements.
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    /// A document of `statements`.
    pub fn new(statement: Vec<Statement>) -> Self {
        Self {
            version: POLICY_VERSION,
            statement,
        }
    }

    /// A trust policy: `service` may assume the role, under `condition` if any.
    pub fn trust_service(service: &str, condition: Option<Value>) -> Self {
        Self::new(vec![Statement {
            principal: Some(json!({ "Service": service })),
            condition,
            ..Statement::allow(&["sts:AssumeRole"], Vec::new())
        }])
    }
}

/// One statement.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// A name for humans (letters and digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `Allow` (spa never needs `Deny`, except the TLS-only bucket policy).
    pub effect: &'static str,
    /// Who (resource and trust policies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Value>,
    /// The actions, each named (no `*`).
    pub action: Vec<String>,
    /// The resources (empty in trust policies).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Value>,
    /// Conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Statement {
    /// Allows `actions` on `resources`.
    pub fn allow(actions: &[&str], resources: Vec<Value>) -> Self {
        Self {
            sid: None,
            effect: "Allow",
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: resources,
            condition: None,
        }
    }

    /// Names the statement.
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_owned());
        self
    }

    /// For `principal` (resource policies).
    pub fn to(mut self, principal: Value) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Under `condition`.
    pub fn when(mut self, condition: Value) -> Self {
        self.condition = Some(condition);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wildcard_has_a_reason_and_names_one_action() {
        for (action, why) in ANY_RESOURCE_ACTIONS {
            assert!(action.contains(':') && !action.contains('*'), "{action}");
            assert!(why.len() > 20, "{action}: say why");
        }
        assert!(any_resource_reason("ce:GetCostAndUsage").is_some());
        assert!(any_resource_reason("s3:GetObject").is_none());
    }
}
