//! `spa plan`: the resolved settings of every listed unit and account, offline.

use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use spa_core::settings::{Kind, MAX_FILE_BYTES, Resolved, Settings, values::format_duration};
use spa_usecases::ports::TreeFile;

#[derive(Serialize)]
struct Plan {
    environment: String,
    organizational_units: Vec<Resolved>,
    accounts: Vec<Resolved>,
}

fn plan(settings: &Settings, tree: &TreeFile) -> Plan {
    // An id missing from the tree resolves as defaults <- itself, like offline.
    let ancestors = |id: &str| tree.ancestors_of(id).unwrap_or_default();
    Plan {
        environment: settings.environment_identifier.clone(),
        organizational_units: settings
            .organizational_units
            .iter()
            .filter_map(|unit| {
                let id = unit.identifier.as_str();
                settings.resolve_ou(id, &ancestors(id))
            })
            .collect(),
        accounts: settings
            .accounts
            .iter()
            .filter_map(|account| {
                let id = account.identifier.as_str();
                settings.resolve_account(id, &ancestors(id))
            })
            .collect(),
    }
}

/// Reads the `child,parent` CSV of `--tree`, printing every error.
fn read_tree(path: &Path) -> Result<TreeFile, ExitCode> {
    let name = path.display().to_string();
    let text = spa_aws::files::read_bounded(path, MAX_FILE_BYTES).map_err(|error| {
        eprintln!("{name}: error: cannot read the organization tree: {error}");
        ExitCode::FAILURE
    })?;
    TreeFile::from_csv(&name, &text).map_err(|errors| {
        for error in &errors {
            eprintln!("{error}");
        }
        ExitCode::FAILURE
    })
}

/// Prints the plan as text or JSON.
pub fn run(path: &Path, tree: Option<&Path>, json: bool) -> ExitCode {
    let loaded = match super::load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let organization = match tree.map(read_tree).transpose() {
        Ok(organization) => organization,
        Err(code) => return code,
    };
    let offline = organization.is_none();
    let plan = plan(&loaded.settings, &organization.unwrap_or_default());
    if json {
        return match serde_json::to_string_pretty(&plan) {
            Ok(text) => super::emit(&format!("{text}\n")),
            Err(error) => {
                eprintln!("error: cannot write the plan: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let mut text = format!("environment {}", plan.environment);
    text.push_str(if offline {
        " (no --tree: units and accounts resolve without their ancestors)\n"
    } else {
        "\n"
    });
    for resolved in plan.organizational_units.iter().chain(plan.accounts.iter()) {
        // Writing to a String cannot fail.
        let _ = describe(resolved, &mut text);
    }
    super::emit(&text)
}

fn describe(r: &Resolved, out: &mut String) -> std::fmt::Result {
    let kind = match r.kind {
        Kind::Account => "account",
        Kind::OrganizationalUnit => "organizational unit",
    };
    let note = r
        .note
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    writeln!(out, "\n{kind} {}{note}", r.identifier)?;
    writeln!(out, "  from: {}", r.chain.join(" <- "))?;
    if let Some(holder) = &r.holder {
        writeln!(out, "  holder: {holder}")?;
    }
    if let Some(cost_center) = &r.cost_center {
        writeln!(
            out,
            "  cost center: {cost_center} (tag `{}`)",
            r.cost_center_tag
        )?;
    }
    let tags: Vec<String> = r
        .account_tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    writeln!(
        out,
        "  tags: {}",
        if tags.is_empty() {
            "-".to_owned()
        } else {
            tags.join(", ")
        }
    )?;
    if !r.unset_tags.is_empty() {
        writeln!(out, "  unset tags: {}", r.unset_tags.join(", "))?;
    }
    match &r.budget {
        Some(b) => {
            let thresholds: Vec<String> = b.thresholds.iter().map(|t| format!("{t}%")).collect();
            writeln!(
                out,
                "  budget: {} {} (alerts at {})",
                b.amount,
                b.currency,
                thresholds.join(", ")
            )?;
        }
        None => writeln!(out, "  budget: none")?,
    }
    for (name, build) in [("preparation", &r.preparation), ("purge", &r.purge)] {
        let state = if build.enabled { "enabled" } else { "disabled" };
        let spec = build
            .buildspec
            .as_deref()
            .map(|b| format!(", buildspec {b}"))
            .unwrap_or_default();
        let vars: Vec<String> = build
            .variables
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let vars = if vars.is_empty() {
            String::new()
        } else {
            format!(" ({})", vars.join(", "))
        };
        writeln!(out, "  {name}: {state}{spec}{vars}")?;
    }
    writeln!(out, "  max attempts: {}", r.max_attempts)?;
    if let Some(lease) = r.lease {
        writeln!(out, "  lease: {}", format_duration(&lease))?;
    }
    if let Some(cooldown) = r.cooldown {
        writeln!(out, "  cooldown: {}", format_duration(&cooldown))?;
    }
    if let Some(notice) = r.purge_notice {
        writeln!(
            out,
            "  purge notice: {} before each purge, snooze up to {}",
            format_duration(&notice.before),
            format_duration(&notice.snooze)
        )?;
    }
    if let Some(unit) = &r.suspended_unit {
        writeln!(out, "  spa close parks it in: {unit}")?;
    }
    let g = &r.guardrails;
    if g.enabled {
        let mut limits = Vec::new();
        for (what, list) in [
            ("regions", &g.allowed_regions),
            ("denied", &g.denied_actions),
            ("denied instance types", &g.denied_instance_types),
        ] {
            if !list.is_empty() {
                limits.push(format!("{what} {}", list.join(", ")));
            }
        }
        let limits = if limits.is_empty() {
            String::new()
        } else {
            format!("; {}", limits.join("; "))
        };
        writeln!(out, "  guardrails: enabled{limits}")?;
    }
    Ok(())
}
