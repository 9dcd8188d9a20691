//! The settings file: schema, loading with `file:line:col` errors, resolution, CSV overlays,
//! JSON Schema.
//!
//! Loading is pure: [`load`] takes the text of the file and its name, and reads the CSV
//! overlays it names through [`Sources`] (`crate::files` reads the file system).
//!
//! 1. the text is parsed once, under budgets, into a tree of nodes with positions;
//! 2. SPA spellings are rewritten, one warning each (`legacy.rs`);
//! 3. the tree is validated against the JSON Schema of [`Settings`], collecting every
//!    error (unknown keys with a suggestion, types, values, semantic checks);
//! 4. cross-field checks (duplicate identifiers, channels without their secret);
//! 5. only a clean tree is typed into [`Settings`]; then CSV overlays apply.

mod diagnostic;
mod legacy;
mod node;
pub(crate) mod overlay;
mod resolve;
mod schema;
mod sources;
mod validate;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

pub use diagnostic::{Diagnostic, Place, SettingsError, Severity};
pub use node::MAX_FILE_BYTES;
pub use resolve::{
    Budget, BuildPlan, DEFAULT_MAX_ATTEMPTS, DEFAULT_THRESHOLDS, Guardrails, Kind, NO_DRY_RUN,
    PURGE_MODE, Requests, Resolved, SpendGuard,
};
pub use schema::{
    Account, AccountId, AthenaName, AthenaSource, Automation, Bucket, BudgetSpec, Build, Channel,
    CostSourceSettings, Currency, Email, Feature, Features, GuardrailsSpec, IamAction,
    InstanceType, Item, LogLevel, Metering, Notifications, OrganizationalUnit, OuId, Percent,
    PurgeNotice, Rate, Region, ReportSchedules, Reporting, RequestsSpec, ResidualCost, RoleArn,
    RoleName, Route, Routes, S3Url, Schedule, SecretRef, Settings, SpendAction, SpendGuardSpec,
    SpendMeasure, SpendThreshold,
};
pub use sources::{MemorySources, Sources};
pub use values::{format_duration, parse_duration};

use diagnostic::KeyPath;
use node::{Node, Value};

/// Settings that loaded, and the warnings met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The settings, CSV overlays applied.
    pub settings: Settings,
    /// Warnings (SPA spellings, ignored keys, budgets without amount).
    pub warnings: Vec<Diagnostic>,
}

impl Settings {
    /// The JSON Schema of the settings file, for editors and for validation.
    ///
    /// Every object with named keys refuses other keys (`additionalProperties: false`).
    pub fn json_schema() -> Json {
        let mut schema = schemars::schema_for!(Settings).to_value();
        close_objects(&mut schema);
        schema
    }

    /// Loads settings from the text of a file. See [`load`].
    pub fn load(file: &str, text: &str, sources: &dyn Sources) -> Result<Loaded, SettingsError> {
        load(file, text, sources)
    }
}

fn close_objects(schema: &mut Json) {
    match schema {
        Json::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".to_owned(), Json::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Json::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Loads settings from `text`, the content of the file named `file`.
///
/// CSV overlays are read through `sources`, at their path joined to the folder of `file`.
/// On failure, every error of the file is returned, not only the first.
pub fn load(file: &str, text: &str, sources: &dyn Sources) -> Result<Loaded, SettingsError> {
    let fail = |errors: Vec<Diagnostic>, warnings: Vec<Diagnostic>| {
        Err(SettingsError { errors, warnings })
    };
    let mut root = match node::parse(text) {
        Ok(root) => root,
        Err(error) => {
            return fail(
                vec![Diagnostic::error(file, error.pos, "", error.message)],
                Vec::new(),
            );
        }
    };
    match &root.value {
        Value::Map(_) => {}
        Value::Null => {
            return fail(
                vec![Diagnostic::error(
                    file,
                    root.pos,
                    "",
                    "the file is empty; expected a mapping with at least `environment_identifier` and `automation`",
                )],
                Vec::new(),
            );
        }
        _ => {
            let found = root.describe();
            return fail(
                vec![Diagnostic::error(
                    file,
                    root.pos,
                    "",
                    format!("expected a mapping of settings at the top level, found {found}"),
                )],
                Vec::new(),
            );
        }
    }

    let (mut errors, mut warnings): (Vec<_>, Vec<_>) = legacy::upgrade(&mut root, file)
        .into_iter()
        .partition(Diagnostic::is_error);

    let schema = Settings::json_schema();
    let mut validator = validate::Validator::new(&schema, file);
    let json = validator.check(&root, &schema, &KeyPath::root());
    errors.append(&mut validator.errors);
    cross_checks(&root, file, &mut errors, &mut warnings);

    let json = match json {
        Some(json) if errors.is_empty() => json,
        _ => {
            sort(&mut errors);
            sort(&mut warnings);
            return fail(errors, warnings);
        }
    };
    let mut settings: Settings = match serde_json::from_value(json) {
        Ok(settings) => settings,
        Err(error) => {
            let message = format!(
                "the settings passed validation but could not be typed ({error}); please report this"
            );
            return fail(
                vec![Diagnostic::error(file, root.pos, "", message)],
                warnings,
            );
        }
    };

    let folder = Path::new(file).parent().unwrap_or_else(|| Path::new(""));
    let csv_nodes: Vec<&Node> = match root.get("accounts_csv").map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    for (index, name) in settings.accounts_csv.clone().iter().enumerate() {
        let path = folder.join(name);
        let shown = path.display().to_string();
        let place = csv_nodes.get(index).map_or(root.pos, |n| n.pos);
        match sources.read(&path) {
            Ok(text) => errors.extend(overlay::overlay(&shown, &text, &mut settings.accounts)),
            Err(error) => errors.push(Diagnostic::error(
                file,
                place,
                KeyPath::root().key("accounts_csv").index(index).to_string(),
                format!("cannot read the CSV overlay `{shown}`: {error}"),
            )),
        }
    }
    lifecycle_tag_checks(&root, &settings, file, &mut errors);
    build_warnings(&root, file, &mut warnings);
    budget_warnings(&root, &settings, file, &mut warnings);
    spend_guard_warnings(&root, &settings, file, &mut warnings);
    sort(&mut errors);
    sort(&mut warnings);
    if errors.is_empty() {
        Ok(Loaded { settings, warnings })
    } else {
        fail(errors, warnings)
    }
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| (&a.file, &a.place).cmp(&(&b.file, &b.place)));
}

/// Every item of accounts' settings with its place: defaults, each unit, each account.
fn items_with_places(root: &Node) -> Vec<(KeyPath, &Node)> {
    let mut places: Vec<(KeyPath, &Node)> = Vec::new();
    if let Some(defaults) = root.get("defaults") {
        places.push((KeyPath::root().key("defaults"), defaults));
    }
    for section in ["organizational_units", "accounts"] {
        if let Some(Value::Seq(items)) = root.get(section).map(|n| &n.value) {
            for (index, item) in items.iter().enumerate() {
                places.push((KeyPath::root().key(section).index(index), item));
            }
        }
    }
    places
}

/// A `suspended_unit` is outside the managed units: an account `spa close` parks
/// there would otherwise be vended again.
fn suspended_units_unmanaged(root: &Node, file: &str, errors: &mut Vec<Diagnostic>) {
    let listed: Vec<String> = match root.get("organizational_units").map(|n| &n.value) {
        Some(Value::Seq(units)) => units
            .iter()
            .filter_map(|unit| unit.get("identifier").and_then(Node::scalar_text))
            .collect(),
        _ => Vec::new(),
    };
    for (path, item) in items_with_places(root) {
        let Some(node) = item.get("suspended_unit") else {
            continue;
        };
        if let Some(unit) = node.scalar_text().filter(|unit| listed.contains(unit)) {
            errors.push(Diagnostic::error(
                file,
                node.pos,
                path.key("suspended_unit").to_string(),
                format!("`{unit}` is a managed unit (listed under organizational_units): an account parked there would be vended again; name a unit outside the managed ones"),
            ));
        }
    }
}

/// The message of a Slack user id that is not one.
const NOT_A_SLACK_USER: &str = "a Slack user id (`U0123ABCD`), never an e-mail address: an address comes from a Slack profile, and a profile is not who the person is";

/// Slack user ids of a list, each checked where it is.
fn slack_user_ids(list: &Node, path: &KeyPath, file: &str, errors: &mut Vec<Diagnostic>) {
    let Value::Seq(items) = &list.value else {
        return;
    };
    for (n, item) in items.iter().enumerate() {
        let fine = match &item.value {
            Value::Str(text) => is_slack_user_id(text),
            _ => false,
        };
        if !fine {
            errors.push(Diagnostic::error(
                file,
                item.pos,
                path.index(n).to_string(),
                NOT_A_SLACK_USER,
            ));
        }
    }
}

/// `requests` anywhere: approvers are Slack user ids, and requests come through the
/// slash command, which must be served.
fn requests_checks(
    root: &Node,
    file: &str,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    let commands = root
        .get("features")
        .and_then(|f| f.get("slack_commands"))
        .is_some_and(|n| n.scalar_text().as_deref() == Some("true"));
    for (path, item) in items_with_places(root) {
        let Some(requests) = item.get("requests") else {
            continue;
        };
        let path = path.key("requests");
        if let Some(approvers) = requests.get("approvers") {
            slack_user_ids(approvers, &path.key("approvers"), file, errors);
        }
        if let Some(feature) = requests.get("feature")
            && feature.scalar_text().as_deref() == Some("enabled")
            && !commands
        {
            warnings.push(Diagnostic::warning(
                file,
                feature.pos,
                path.key("feature").to_string(),
                "requests come through the Slack slash command, and `features.slack_commands` is not true: nobody can ask",
            ));
        }
    }
}

/// Checks across fields, on the tree so that errors keep their place.
fn cross_checks(
    root: &Node,
    file: &str,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    for section in ["organizational_units", "accounts"] {
        let Some(Value::Seq(items)) = root.get(section).map(|n| &n.value) else {
            continue;
        };
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            let Some(id_node) = item.get("identifier") else {
                continue;
            };
            let Some(id) = id_node.scalar_text() else {
                continue;
            };
            if let Some(line) = seen.get(&id) {
                let path = KeyPath::root().key(section).index(index).key("identifier");
                errors.push(Diagnostic::error(file, id_node.pos, path.to_string(), format!("duplicate identifier `{id}` (first listed on line {line}); list each one once")));
            } else {
                seen.insert(id, id_node.pos.line);
            }
        }
    }

    suspended_units_unmanaged(root, file, errors);
    requests_checks(root, file, errors, warnings);

    let notifications = root.get("notifications");
    let has = |key: &str| {
        notifications
            .and_then(|n| n.get(key))
            .is_some_and(|n| !matches!(n.value, Value::Null))
    };
    let has_recipients = notifications
        .and_then(|n| n.get("email_recipients"))
        .is_some_and(|n| matches!(&n.value, Value::Seq(items) if !items.is_empty()));
    if let Some(Value::Map(routes)) = notifications
        .and_then(|n| n.get("routes"))
        .map(|n| &n.value)
    {
        for (label, route) in routes {
            let Some(Value::Seq(channels)) = route.get("channels").map(|n| &n.value) else {
                continue;
            };
            let label = label.scalar_text().unwrap_or_default();
            for (index, channel) in channels.iter().enumerate() {
                let path = KeyPath::root()
                    .key("notifications")
                    .key("routes")
                    .key(&label)
                    .key("channels")
                    .index(index)
                    .to_string();
                let needs = match channel.scalar_text().as_deref() {
                    Some("slack") if !has("slack_webhook") => Some("`notifications.slack_webhook`"),
                    Some("teams") if !has("teams_webhook") => Some("`notifications.teams_webhook`"),
                    Some("email") if !has("email_sender") => Some("`notifications.email_sender`"),
                    Some("email") if !has_recipients => Some("`notifications.email_recipients`"),
                    _ => None,
                };
                if let Some(needs) = needs {
                    errors.push(Diagnostic::error(
                        file,
                        channel.pos,
                        path,
                        format!("this channel needs {needs}, which is not set"),
                    ));
                }
            }
        }
    }

    let features = root.get("features");
    let on = |key: &str| {
        features
            .and_then(|f| f.get(key))
            .filter(|n| n.value == Value::Bool(true))
    };
    if let Some(node) = on("slack_commands")
        && features
            .and_then(|f| f.get("slack_team_id"))
            .is_none_or(|n| matches!(n.value, Value::Null))
    {
        errors.push(Diagnostic::error(
            file,
            node.pos,
            "features.slack_commands",
            "the Slack slash command needs `features.slack_team_id` (the workspace whose members may ask, `T0123ABCD`), which is not set",
        ));
    }
    if let Some(node) = on("slack_commands")
        && !has("slack_signing_secret")
    {
        errors.push(Diagnostic::error(
            file,
            node.pos,
            "features.slack_commands",
            "the Slack slash command needs `notifications.slack_signing_secret`, which is not set",
        ));
    }
    if let Some(admins) = features.and_then(|f| f.get("slack_admins")) {
        let path = KeyPath::root().key("features").key("slack_admins");
        slack_user_ids(admins, &path, file, errors);
    }
    if let Some(node) = on("incident_manager")
        && features
            .and_then(|f| f.get("response_plan_arn"))
            .is_none_or(|n| matches!(n.value, Value::Null))
    {
        warnings.push(Diagnostic::warning(file, node.pos, "features.incident_manager", "no `features.response_plan_arn`: spa opens incidents with the response plan it deploys"));
    }
    if let Some(node) = features.and_then(|f| f.get("cost_link_expiry"))
        && let Value::Str(text) = &node.value
        && values::parse_duration(text).is_ok_and(|d| d > MAX_PRESIGNED_LINK)
    {
        errors.push(Diagnostic::error(
            file,
            node.pos,
            "features.cost_link_expiry",
            "a presigned S3 link lives at most 7d: a duration up to 7d",
        ));
    }
}

/// S3 refuses presigned URLs valid longer than this.
const MAX_PRESIGNED_LINK: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// The tag prefix and cost-center key make a valid tag codec, and no item sets or
/// removes a tag that the lifecycle owns (its state, holder, build...): spa would
/// fight itself over that tag.
fn lifecycle_tag_checks(
    root: &Node,
    settings: &Settings,
    file: &str,
    errors: &mut Vec<Diagnostic>,
) {
    let automation = root.get("automation");
    let codec = match crate::lifecycle::TagCodec::new(
        &settings.automation.tag_prefix,
        &settings.automation.cost_center_tag,
    ) {
        Ok(codec) => codec,
        Err(error) => {
            let key = if error.value == settings.automation.tag_prefix {
                "tag_prefix"
            } else {
                "cost_center_tag"
            };
            let place = automation
                .and_then(|a| a.get(key))
                .or(automation)
                .map_or(root.pos, |n| n.pos);
            errors.push(Diagnostic::error(
                file,
                place,
                format!("automation.{key}"),
                error.to_string(),
            ));
            return;
        }
    };
    let reserved = codec.reserved_keys();
    let mut items: Vec<(KeyPath, &Node)> = Vec::new();
    if let Some(defaults) = root.get("defaults") {
        items.push((KeyPath::root().key("defaults"), defaults));
    }
    for section in ["organizational_units", "accounts"] {
        if let Some(Value::Seq(list)) = root.get(section).map(|n| &n.value) {
            for (index, item) in list.iter().enumerate() {
                items.push((KeyPath::root().key(section).index(index), item));
            }
        }
    }
    for (path, item) in items {
        let mut keys: Vec<(KeyPath, &Node, String)> = Vec::new();
        if let Some(Value::Map(tags)) = item.get("account_tags").map(|n| &n.value) {
            for (key, _) in tags {
                if let Some(text) = key.scalar_text() {
                    keys.push((path.clone().key("account_tags").key(&text), key, text));
                }
            }
        }
        if let Some(Value::Seq(unset)) = item.get("unset_tags").map(|n| &n.value) {
            for (index, key) in unset.iter().enumerate() {
                if let Some(text) = key.scalar_text() {
                    keys.push((path.clone().key("unset_tags").index(index), key, text));
                }
            }
        }
        for (key_path, node, text) in keys {
            if reserved.contains(&text) {
                errors.push(Diagnostic::error(
                    file,
                    node.pos,
                    key_path.to_string(),
                    format!("`{text}` is a lifecycle tag that spa sets itself (tag prefix `{}`); choose another key", codec.prefix()),
                ));
            }
        }
    }
}

/// `feature` defaults to disabled, as in SPA (a purge is destructive: it runs only
/// when asked). Say so when `defaults` leaves it unsaid, since the consequence is easy
/// to miss: accounts ready without a baseline, or handed back without a purge.
fn build_warnings(root: &Node, file: &str, warnings: &mut Vec<Diagnostic>) {
    let defaults = root.get("defaults");
    for (build, consequence) in [
        (
            "preparation",
            "accounts become ready without a baseline build",
        ),
        ("purge", "expired accounts are handed back without a purge"),
    ] {
        let stated = defaults
            .and_then(|d| d.get(build))
            .and_then(|b| b.get("feature"))
            .is_some();
        if !stated {
            let place = defaults
                .and_then(|d| d.get(build))
                .or(defaults)
                .map_or(root.pos, |n| n.pos);
            warnings.push(Diagnostic::warning(
                file,
                place,
                format!("defaults.{build}.feature"),
                format!("not set, so {build} is disabled wherever a unit or account does not enable it: {consequence}; write `feature: enabled` or `feature: disabled`"),
            ));
        }
    }
    let purge = defaults.and_then(|d| d.get("purge"));
    let enabled = purge
        .and_then(|p| p.get("feature"))
        .and_then(Node::scalar_text)
        .is_some_and(|f| f == "enabled");
    let mode_stated = purge
        .and_then(|p| p.get("variables"))
        .and_then(|v| v.get(PURGE_MODE))
        .is_some();
    if enabled && !mode_stated {
        let place = purge.map_or(root.pos, |n| n.pos);
        warnings.push(Diagnostic::warning(
            file,
            place,
            format!("defaults.purge.variables.{PURGE_MODE}"),
            format!("not set, so every purge is a dry run: it deletes nothing, and the account is quarantined (PurgeDryRun) instead of being handed on; write `{PURGE_MODE}: {NO_DRY_RUN}` to purge, or `{PURGE_MODE}: --dry-run` to rehearse"),
        ));
    }
}

/// A budget block that leaves out the amount, with no amount in `defaults`, ensures no budget.
fn budget_warnings(root: &Node, settings: &Settings, file: &str, warnings: &mut Vec<Diagnostic>) {
    if settings
        .defaults
        .budget
        .as_ref()
        .is_some_and(|b| b.amount.is_some())
    {
        return;
    }
    for section in ["defaults", "organizational_units", "accounts"] {
        let items: Vec<(KeyPath, &Node)> = match root.get(section).map(|n| &n.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (KeyPath::root().key(section).index(i), n))
                .collect(),
            Some(Value::Map(_)) => root
                .get(section)
                .map(|n| vec![(KeyPath::root().key(section), n)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for (path, item) in items {
            if let Some(budget) = item.get("budget")
                && matches!(budget.value, Value::Map(_))
                && budget.get("amount").is_none()
            {
                warnings.push(Diagnostic::warning(
                    file,
                    budget.pos,
                    path.key("budget").to_string(),
                    "no `amount` here nor in `defaults.budget`: no budget is ensured unless an ancestor organizational unit sets one",
                ));
            }
        }
    }
}

/// A spend guard turned on where no region allow-list says where holders may act: its
/// forwarding rule then watches the automation region only (CloudTrail's calls reach
/// EventBridge in their own region), and a holder may spend unseen elsewhere. Each
/// item that turns the guard on is resolved alone (defaults ← the item): an allow-list
/// inherited from a unit the tree nests it under is not seen here.
fn spend_guard_warnings(
    root: &Node,
    settings: &Settings,
    file: &str,
    warnings: &mut Vec<Diagnostic>,
) {
    let enables = |node: &Node| {
        node.get("spend_guard")
            .and_then(|guard| guard.get("feature"))
            .filter(|feature| matches!(&feature.value, Value::Str(word) if word == "enabled"))
            .map(|feature| feature.pos)
    };
    let message = "the spend guard is on without `guardrails.allowed_regions`: it watches the calls of the automation region only, and holders may spend unseen elsewhere; list the regions holders may use";
    let mut check = |path: KeyPath, node: &Node, unguarded: bool| {
        let Some(pos) = enables(node) else { return };
        if unguarded {
            warnings.push(Diagnostic::warning(
                file,
                pos,
                path.key("spend_guard").key("feature").to_string(),
                message,
            ));
        }
    };
    if let Some(defaults) = root.get("defaults") {
        let regions = settings
            .defaults
            .guardrails
            .as_ref()
            .and_then(|g| g.allowed_regions.as_ref())
            .is_some_and(|regions| !regions.is_empty());
        check(KeyPath::root().key("defaults"), defaults, !regions);
    }
    for (section, ids) in [
        (
            "organizational_units",
            settings
                .organizational_units
                .iter()
                .map(|unit| unit.identifier.as_str().to_owned())
                .collect::<Vec<_>>(),
        ),
        (
            "accounts",
            settings
                .accounts
                .iter()
                .map(|account| account.identifier.as_str().to_owned())
                .collect(),
        ),
    ] {
        let Some(Value::Seq(items)) = root.get(section).map(|n| &n.value) else {
            continue;
        };
        for (index, (node, id)) in items.iter().zip(ids).enumerate() {
            let resolved = if section == "accounts" {
                settings.resolve_account(&id, &[])
            } else {
                settings.resolve_ou(&id, &[])
            };
            let unguarded = resolved
                .is_some_and(|r| r.spend_guard.enabled && r.guardrails.allowed_regions.is_empty());
            check(KeyPath::root().key(section).index(index), node, unguarded);
        }
    }
}

/// A Slack user id: `U` or `W` and upper-case letters or digits.
fn is_slack_user_id(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && text.len() >= 3
        && text.len() <= 24
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
