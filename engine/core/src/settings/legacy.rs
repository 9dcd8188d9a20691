//! Settings written for the original Python SPA: renamed keys are moved to their spa
//! spelling, with one warning each, so that SPA users can move over.
//!
//! The rewrite works on the node tree, so a moved value keeps its line and column.

use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::node::{Node, Pos, Value};
use super::values::format_duration;

/// What becomes of one SPA key.
enum Fate {
    /// Moved to this dotted path.
    Move(&'static str),
    /// Moved, and seconds become a duration.
    MoveSeconds(&'static str),
    /// Moved, and the log level is written the spa way.
    MoveLogLevel(&'static str),
    /// A webhook: a reference moves to this path; a literal URL is dropped.
    MoveSecret(&'static str),
    /// Dropped, with this reason.
    Drop(&'static str),
}

/// (section, SPA key, fate)
const RENAMES: &[(&str, &str, Fate)] = &[
    (
        "automation",
        "maintenance_window_expression",
        Fate::Move("automation.maintenance_window"),
    ),
    (
        "automation",
        "role_arn_to_manage_accounts",
        Fate::Move("automation.management_role_arn"),
    ),
    (
        "automation",
        "role_name_to_manage_codebuild",
        Fate::Move("automation.member_role_name"),
    ),
    (
        "automation",
        "verbosity",
        Fate::MoveLogLevel("automation.log_level"),
    ),
    (
        "automation",
        "cockpit_markdown_text",
        Fate::Drop("spa has no CloudWatch cockpit; remove it"),
    ),
    (
        "metering",
        "activities_datastore",
        Fate::Move("metering.activities_table"),
    ),
    (
        "metering",
        "activities_ttl_in_seconds",
        Fate::MoveSeconds("metering.activities_ttl"),
    ),
    (
        "metering",
        "transactions_datastore",
        Fate::Move("metering.transactions_table"),
    ),
    (
        "metering",
        "transactions_ttl_in_seconds",
        Fate::MoveSeconds("metering.transactions_ttl"),
    ),
    (
        "metering",
        "shadows_datastore",
        Fate::Drop("spa keeps no shadows: the state lives in account tags; remove it"),
    ),
    (
        "metering",
        "shadows_ttl_in_seconds",
        Fate::Drop("spa keeps no shadows: the state lives in account tags; remove it"),
    ),
    (
        "worker",
        "preparation_buildspec_template_file",
        Fate::Move("defaults.preparation.buildspec"),
    ),
    (
        "worker",
        "purge_buildspec_template_file",
        Fate::Move("defaults.purge.buildspec"),
    ),
    (
        "features",
        "with_tag_prefix",
        Fate::Move("automation.tag_prefix"),
    ),
    (
        "features",
        "with_cost_management_tag",
        Fate::Move("automation.cost_center_tag"),
    ),
    (
        "features",
        "with_arm_architecture",
        Fate::Move("features.arm_architecture"),
    ),
    ("features", "with_csv_files", Fate::Move("accounts_csv")),
    (
        "features",
        "with_cost_email_recipients",
        Fate::Move("reporting.recipients"),
    ),
    (
        "features",
        "with_origin_email_recipient",
        Fate::Move("notifications.email_sender"),
    ),
    (
        "features",
        "with_email_subscriptions_on_alerts",
        Fate::Move("notifications.email_recipients"),
    ),
    (
        "features",
        "with_microsoft_webhook_on_alerts",
        Fate::MoveSecret("notifications.teams_webhook"),
    ),
    (
        "features",
        "with_response_plan_arn",
        Fate::Move("features.response_plan_arn"),
    ),
    (
        "features",
        "with_cost_extra_currencies",
        Fate::Drop(
            "spa needs the rate of each currency; write `reporting.extra_currencies: {EUR: 0.92}`",
        ),
    ),
    (
        "features",
        "with_end_user_documents",
        Fate::Drop("spa does not publish end-user documents; remove it"),
    ),
    (
        "reporting",
        "costs_markdown_template",
        Fate::Move("reporting.email_template"),
    ),
];

/// Rewrites SPA spellings in `root`; returns warnings, and errors for conflicts.
pub fn upgrade(root: &mut Node, file: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !matches!(root.value, Value::Map(_)) {
        return out;
    }
    for section in ["automation", "metering", "worker", "features", "reporting"] {
        let Some(entries) = section_entries(root, section) else {
            continue;
        };
        let mut moved = Vec::new();
        let mut kept = Vec::new();
        for (key, value) in std::mem::take(entries) {
            let name = key.scalar_text().unwrap_or_default();
            match RENAMES.iter().find(|(s, k, _)| *s == section && *k == name) {
                Some((_, _, fate)) => moved.push((key, value, name, fate)),
                None => kept.push((key, value)),
            }
        }
        let unknown_worker_keys = section == "worker" && !kept.is_empty();
        if let Some(entries) = section_entries(root, section) {
            *entries = kept;
        }
        for (key, value, name, fate) in moved {
            let old = format!("{section}.{name}");
            apply(root, file, key, value, &old, fate, &mut out);
        }
        if section == "worker" && !unknown_worker_keys {
            remove_key(root, "worker");
        }
    }
    if let Some(key) = find_key(root, "worker") {
        out.push(Diagnostic::error(
            file,
            key.pos,
            "worker",
            "`worker` is the SPA spelling; its keys `preparation_buildspec_template_file` and `purge_buildspec_template_file` move to `defaults.preparation.buildspec` and `defaults.purge.buildspec`, and no other key is known there",
        ));
    }
    upgrade_ou_list(root, file, &mut out);
    out
}

fn apply(
    root: &mut Node,
    file: &str,
    key: Node,
    value: Node,
    old: &str,
    fate: &Fate,
    out: &mut Vec<Diagnostic>,
) {
    let pos = key.pos;
    let (target, value) = match fate {
        Fate::Drop(why) => {
            out.push(Diagnostic::warning(
                file,
                pos,
                "",
                format!("`{old}` is an SPA setting that spa ignores: {why}"),
            ));
            return;
        }
        Fate::Move(target) => (*target, value),
        Fate::MoveSeconds(target) => (*target, seconds_to_duration(value)),
        Fate::MoveLogLevel(target) => (*target, log_level(value)),
        Fate::MoveSecret(target) => {
            let literal = matches!(&value.value, Value::Str(s) if !s.starts_with("ssm:") && !s.starts_with("secretsmanager:"));
            if literal {
                out.push(Diagnostic::warning(
                    file,
                    pos,
                    "",
                    format!(
                        "`{old}` is the SPA spelling and holds a webhook URL, which spa never reads from the file; store the URL in SSM Parameter Store (SecureString) or Secrets Manager and write `{target}: ssm:/spa/teams-webhook`; the URL is ignored"
                    ),
                ));
                return;
            }
            (*target, value)
        }
    };
    if matches!(value.value, Value::Null) {
        out.push(Diagnostic::warning(
            file,
            pos,
            "",
            format!("`{old}` is the SPA spelling; write `{target}` (empty here, so ignored)"),
        ));
        return;
    }
    let segments: Vec<&str> = target.split('.').collect();
    if let Some(existing) = lookup(root, &segments) {
        out.push(Diagnostic::error(
            file,
            pos,
            "",
            format!("`{old}` is the SPA spelling of `{target}`, which is also set (line {}); keep only `{target}`", existing.pos.line),
        ));
        return;
    }
    out.push(Diagnostic::warning(
        file,
        pos,
        "",
        format!("`{old}` is the SPA spelling; write `{target}`"),
    ));
    insert(root, &segments, value, pos);
}

fn seconds_to_duration(value: Node) -> Node {
    match value.value {
        Value::Int(seconds) if seconds >= 0 => {
            let text = format_duration(&Duration::from_secs(seconds.unsigned_abs()));
            Node::synthetic(Value::Str(text), value.pos)
        }
        _ => value,
    }
}

fn log_level(value: Node) -> Node {
    match &value.value {
        Value::Str(s) => {
            let level = match s.to_ascii_uppercase().as_str() {
                "CRITICAL" | "ERROR" => "error",
                "WARNING" | "WARN" => "warn",
                "INFO" => "info",
                "DEBUG" => "debug",
                _ => return value,
            };
            Node::synthetic(Value::Str(level.to_owned()), value.pos)
        }
        _ => value,
    }
}

/// SPA's oldest form listed units as bare ids: `organizational_units: [ou-1234]`.
fn upgrade_ou_list(root: &mut Node, file: &str, out: &mut Vec<Diagnostic>) {
    let Value::Map(entries) = &mut root.value else {
        return;
    };
    let Some((_, units)) = entries
        .iter_mut()
        .find(|(k, _)| k.scalar_text().as_deref() == Some("organizational_units"))
    else {
        return;
    };
    let Value::Seq(items) = &mut units.value else {
        return;
    };
    for item in items.iter_mut() {
        if let Value::Str(id) = &item.value {
            out.push(Diagnostic::warning(
                file,
                item.pos,
                "",
                format!(
                    "a bare organizational unit id is the SPA spelling; write `- identifier: {id}`"
                ),
            ));
            let key = Node::synthetic(Value::Str("identifier".to_owned()), item.pos);
            let value = item.clone();
            *item = Node::synthetic(Value::Map(vec![(key, value)]), item.pos);
        }
    }
}

fn section_entries<'a>(root: &'a mut Node, section: &str) -> Option<&'a mut Vec<(Node, Node)>> {
    let Value::Map(entries) = &mut root.value else {
        return None;
    };
    let (_, node) = entries
        .iter_mut()
        .find(|(k, _)| k.scalar_text().as_deref() == Some(section))?;
    match &mut node.value {
        Value::Map(inner) => Some(inner),
        _ => None,
    }
}

fn find_key<'a>(root: &'a Node, name: &str) -> Option<&'a Node> {
    let Value::Map(entries) = &root.value else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.scalar_text().as_deref() == Some(name))
        .map(|(k, _)| k)
}

fn remove_key(root: &mut Node, name: &str) {
    if let Value::Map(entries) = &mut root.value {
        entries.retain(|(k, _)| k.scalar_text().as_deref() != Some(name));
    }
}

fn lookup<'a>(node: &'a Node, segments: &[&str]) -> Option<&'a Node> {
    let (first, rest) = segments.split_first()?;
    let child = node.get(first)?;
    if rest.is_empty() {
        Some(child)
    } else {
        lookup(child, rest)
    }
}

fn insert(node: &mut Node, segments: &[&str], value: Node, pos: Pos) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if matches!(node.value, Value::Null) {
        node.value = Value::Map(Vec::new());
    }
    let Value::Map(entries) = &mut node.value else {
        return;
    };
    if rest.is_empty() {
        entries.push((Node::synthetic(Value::Str((*first).to_owned()), pos), value));
        return;
    }
    let index = match entries
        .iter()
        .position(|(k, _)| k.scalar_text().as_deref() == Some(*first))
    {
        Some(index) => index,
        None => {
            entries.push((
                Node::synthetic(Value::Str((*first).to_owned()), pos),
                Node::synthetic(Value::Map(Vec::new()), pos),
            ));
            entries.len() - 1
        }
    };
    if let Some((_, child)) = entries.get_mut(index) {
        insert(child, rest, value, pos);
    }
}
