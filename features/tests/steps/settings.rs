//! Steps of `settings.feature`: a settings file, an organization tree, and what spa
//! resolves for an account or an organizational unit.

use std::collections::BTreeMap;
use std::time::Duration;

use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use spa_core::settings::values::{format_duration, parse_duration};
use spa_core::settings::{
    Diagnostic, Loaded, MemorySources, Place, Resolved, Settings, SettingsError, load,
};
use spa_usecases::ports::memory::MemoryOrganization;
use spa_usecases::resolve::{account_settings, ou_settings};

use super::{SpaWorld, docstring, list, rows};

/// The settings file of a scenario and what came of it.
#[derive(Debug, Default)]
pub struct SettingsFile {
    /// The file name diagnostics show (`settings.yaml` unless told).
    name: Option<String>,
    /// The YAML text, as written so far.
    text: String,
    /// What loading the text gave, once loaded.
    loaded: Option<Result<Loaded, SettingsError>>,
    /// Where accounts and OUs sit.
    organization: MemoryOrganization,
    /// The last resolution: `Some(None)` when spa does not manage the account or OU.
    resolved: Option<Option<Resolved>>,
}

impl SettingsFile {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("settings.yaml")
    }

    /// Loads the text once; later steps read the same outcome.
    fn outcome(&mut self) -> &Result<Loaded, SettingsError> {
        let name = self.name().to_owned();
        let text = &self.text;
        self.loaded
            .get_or_insert_with(|| load(&name, text, &MemorySources::new()))
    }

    /// The settings, which must have loaded.
    fn settings(&mut self) -> Settings {
        match self.outcome() {
            Ok(loaded) => loaded.settings.clone(),
            Err(error) => panic!("expected the settings to load, got:\n{error}"),
        }
    }

    fn resolved(&self) -> &Resolved {
        match &self.resolved {
            Some(Some(resolved)) => resolved,
            Some(None) => panic!("spa does not manage it: nothing was resolved"),
            None => panic!("no settings were resolved yet: resolve an account or an OU first"),
        }
    }
}

// ---------------------------------------------------------------------------- given

#[given(regex = r"^the settings (?:begin|go on) with:$")]
fn settings_text(world: &mut SpaWorld, step: &Step) {
    world.settings.text.push_str(&docstring(step));
    world.settings.loaded = None;
}

#[given(regex = r#"^the settings file "([^"]+)":$"#)]
fn settings_file(world: &mut SpaWorld, name: String, step: &Step) {
    world.settings.name = Some(name);
    world.settings.text = docstring(step);
    world.settings.loaded = None;
}

#[given("the organization:")]
fn organization(world: &mut SpaWorld, step: &Step) {
    for row in rows(step, 2) {
        world.settings.organization.set_parent(&row[0], &row[1]);
    }
}

// ----------------------------------------------------------------------------- when

#[when("the settings are loaded")]
fn settings_are_loaded(world: &mut SpaWorld) {
    world.settings.loaded = None;
    let _ = world.settings.outcome();
}

#[when(regex = r#"^the settings of (account|organizational unit) "([^"]+)" are resolved$"#)]
async fn settings_are_resolved(world: &mut SpaWorld, what: String, id: String) {
    let settings = world.settings.settings();
    let tree = &world.settings.organization;
    let resolved = if what == "account" {
        account_settings(&settings, tree, &id).await
    } else {
        ou_settings(&settings, tree, &id).await
    }
    .unwrap_or_else(|error| panic!("cannot resolve {what} `{id}`: {error}"));
    // a lifecycle step that follows runs under these settings
    if let Some(resolved) = &resolved {
        world.account.policy = resolved.policy();
    }
    world.settings.resolved = Some(resolved);
}

// ----------------------------------------------------------------------------- then

#[then("spa does not manage it")]
fn not_managed(world: &mut SpaWorld) {
    match &world.settings.resolved {
        Some(None) => {}
        Some(Some(resolved)) => panic!(
            "expected spa not to manage `{}`, but it resolves through {:?}",
            resolved.identifier, resolved.chain
        ),
        None => panic!("nothing was resolved yet"),
    }
}

#[then(regex = r"^the settings apply in this order: (.+)$")]
fn chain(world: &mut SpaWorld, order: String) {
    assert_eq!(world.settings.resolved().chain, list(&order));
}

#[then("its account tags are:")]
fn account_tags(world: &mut SpaWorld, step: &Step) {
    let expected: BTreeMap<String, String> = rows(step, 2)
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    assert_eq!(world.settings.resolved().account_tags, expected);
}

#[then(regex = r"^its (preparation|purge) variables are:$")]
fn variables(world: &mut SpaWorld, build: String, step: &Step) {
    let expected: BTreeMap<String, String> = rows(step, 2)
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let resolved = world.settings.resolved();
    let plan = if build == "preparation" {
        &resolved.preparation
    } else {
        &resolved.purge
    };
    assert_eq!(plan.variables, expected);
}

#[then(regex = r"^its (preparation|purge) is (enabled|disabled)$")]
fn build_enabled(world: &mut SpaWorld, build: String, feature: String) {
    let resolved = world.settings.resolved();
    let plan = if build == "preparation" {
        &resolved.preparation
    } else {
        &resolved.purge
    };
    assert_eq!(plan.enabled, feature == "enabled", "{build}: {plan:?}");
}

#[then(regex = r"^its budget is (\S+) ([A-Z]{3}) with alerts at (.+)$")]
fn budget(world: &mut SpaWorld, amount: f64, currency: String, thresholds: String) {
    let budget = world
        .settings
        .resolved()
        .budget
        .clone()
        .unwrap_or_else(|| panic!("expected a budget, found none"));
    let thresholds: Vec<f64> = list(&thresholds)
        .iter()
        .map(|t| {
            t.trim_end_matches('%')
                .parse()
                .unwrap_or_else(|_| panic!("`{t}` is not a percentage"))
        })
        .collect();
    assert_eq!(
        (budget.amount, budget.currency.as_str(), budget.thresholds),
        (amount, currency.as_str(), thresholds)
    );
}

#[then(regex = r#"^the settings name the holder "([^"]+)"$"#)]
fn holder_named(world: &mut SpaWorld, holder: String) {
    let resolved = world.settings.resolved();
    assert_eq!(
        resolved.holder.as_ref().map(|h| h.as_str()),
        Some(holder.as_str())
    );
}

/// `| setting | value |`: `preparation`, `purge` (enabled / disabled), `max attempts`,
/// `lease` (a duration or `none`), `budget` (ensured / none), `onboarding deadline`,
/// `maintenance deadline`, `unset tags` (a list), `tag <key>` (a value or `none`).
#[then("the lifecycle policy has:")]
fn policy(world: &mut SpaWorld, step: &Step) {
    let policy = world.settings.resolved().policy();
    let duration = |text: &str| -> Option<Duration> {
        (text != "none").then(|| parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    };
    for row in rows(step, 2) {
        let (setting, value) = (row[0].as_str(), row[1].as_str());
        let matches = match setting {
            "preparation" => policy.preparation == (value == "enabled"),
            "purge" => policy.purge == (value == "enabled"),
            "max attempts" => policy.max_attempts.to_string() == value,
            "lease" => policy.lease == duration(value),
            "budget" => policy.budget == (value == "ensured"),
            "onboarding deadline" => Some(policy.onboarding_deadline) == duration(value),
            "maintenance deadline" => Some(policy.maintenance_deadline) == duration(value),
            "unset tags" => policy.unset_tags == list(value),
            _ => match setting.strip_prefix("tag ") {
                Some(key) => {
                    policy.account_tags.get(key).map(String::as_str)
                        == (value != "none").then_some(value)
                }
                None => panic!("unknown policy setting `{setting}`"),
            },
        };
        let lease = policy.lease.as_ref().map(format_duration);
        assert!(
            matches,
            "policy {setting}: expected {value}, found {policy:?} (lease {lease:?})"
        );
    }
}

#[then(regex = r#"^the setting "([^"]+)" is "(.*)"$"#)]
fn setting_value(world: &mut SpaWorld, path: String, expected: String) {
    let settings = world.settings.settings();
    let json = serde_json::to_value(&settings).expect("settings serialize to JSON");
    let pointer = format!("/{}", path.replace('.', "/"));
    let found = json
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("no `{path}` in the loaded settings"));
    let found = found
        .as_str()
        .map_or_else(|| found.to_string(), str::to_owned);
    assert_eq!(found, expected, "{path}");
}

#[then("the settings load without warnings")]
fn load_clean(world: &mut SpaWorld) {
    let warnings = loaded(world).warnings;
    assert!(
        warnings.is_empty(),
        "unexpected warnings:\n{}",
        render(&warnings)
    );
}

#[then(regex = r"^the settings load with (\d+) warnings?$")]
fn load_with_warnings(world: &mut SpaWorld, count: usize) {
    let warnings = loaded(world).warnings;
    assert_eq!(warnings.len(), count, "warnings:\n{}", render(&warnings));
}

#[then(regex = r"^loading fails with (\d+) errors?$")]
fn load_fails(world: &mut SpaWorld, count: usize) {
    let errors = errors(world);
    assert_eq!(errors.len(), count, "errors:\n{}", render(&errors));
}

/// `| at | key path | message |`: the errors in file order, each at `line:col`, on its
/// key path, its message containing the text given.
#[then("the errors read:")]
fn errors_read(world: &mut SpaWorld, step: &Step) {
    let errors = errors(world);
    let rows = rows(step, 3);
    assert_eq!(errors.len(), rows.len(), "errors:\n{}", render(&errors));
    for (row, error) in rows.iter().zip(&errors) {
        assert!(
            shows(error, "error", row),
            "expected an error {row:?}, found:\n{error}"
        );
    }
}

/// `| at | key path | message |`: each row is one of the warnings.
#[then("the warnings include:")]
fn warnings_include(world: &mut SpaWorld, step: &Step) {
    let warnings = match world.settings.outcome() {
        Ok(loaded) => loaded.warnings.clone(),
        Err(error) => error.warnings.clone(),
    };
    for row in rows(step, 3) {
        assert!(
            warnings.iter().any(|w| shows(w, "warning", &row)),
            "no warning {row:?} among:\n{}",
            render(&warnings)
        );
    }
}

/// The errors exactly as `spa validate` prints them, one a line.
#[then("the user reads:")]
fn user_reads(world: &mut SpaWorld, step: &Step) {
    let shown = match world.settings.outcome() {
        Ok(loaded) => panic!(
            "expected errors, the settings loaded (warnings:\n{})",
            render(&loaded.warnings)
        ),
        Err(error) => error.to_string(),
    };
    assert_eq!(format!("{shown}\n"), docstring(step));
}

fn loaded(world: &mut SpaWorld) -> Loaded {
    match world.settings.outcome() {
        Ok(loaded) => loaded.clone(),
        Err(error) => panic!("expected the settings to load, got:\n{error}"),
    }
}

fn errors(world: &mut SpaWorld) -> Vec<Diagnostic> {
    match world.settings.outcome() {
        Ok(_) => panic!("expected the settings to fail to load, they loaded"),
        Err(error) => error.errors.clone(),
    }
}

/// Whether `diagnostic` is at `row[0]` (`line:col`), on key path `row[1]`, and says `row[2]`,
/// as the user reads it: `file:line:col: severity: path: message`.
fn shows(diagnostic: &Diagnostic, severity: &str, row: &[String]) -> bool {
    let (at, path, message) = (&row[0], &row[1], &row[2]);
    let place = match &diagnostic.place {
        Place::Text { line, column } => format!("{line}:{column}"),
        other => format!("{other:?}"),
    };
    let prefix = if path.is_empty() {
        format!("{}:{at}: {severity}: ", diagnostic.file)
    } else {
        format!("{}:{at}: {severity}: {path}: ", diagnostic.file)
    };
    let shown = diagnostic.to_string();
    place == *at
        && diagnostic.path == *path
        && shown.starts_with(&prefix)
        && diagnostic.message.contains(message.as_str())
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
