//! `spa synth`: writes the CloudFormation templates of the settings' deployment, after
//! checking that they keep spa's rules (no wildcard grants, dead-letter queues, no
//! public endpoint).

use std::path::Path;
use std::process::ExitCode;

use spa_deploy::synth::{SynthOptions, checks, synth};

/// Writes `artifacts.json`, `automation.json`, `management.json` in `out`; exit 1 when
/// the settings do not load or a template breaks a rule.
pub fn run(settings: &Path, out: &Path, options: SynthOptions) -> ExitCode {
    let loaded = match super::load(settings) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let stacks = match synth(&loaded.settings, options) {
        Ok(stacks) => stacks,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::create_dir_all(out) {
        eprintln!("error: cannot create `{}`: {error}", out.display());
        return ExitCode::FAILURE;
    }
    let mut summary = String::new();
    let mut broken = 0;
    for (file, template) in stacks.files() {
        let json = match template.to_json() {
            Ok(json) => json,
            Err(error) => {
                eprintln!("error: {file}: {error}");
                return ExitCode::FAILURE;
            }
        };
        for violation in checks::check(&json) {
            eprintln!("{file}: error: {violation}");
            broken += 1;
        }
        let text = match serde_json::to_string_pretty(&json) {
            Ok(text) => text + "\n",
            Err(error) => {
                eprintln!("error: {file}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let path = out.join(file);
        if let Err(error) = std::fs::write(&path, &text) {
            eprintln!("error: cannot write `{}`: {error}", path.display());
            return ExitCode::FAILURE;
        }
        summary.push_str(&format!(
            "{}: {} resources, {} bytes\n",
            path.display(),
            template.resources.len(),
            text.len()
        ));
    }
    if broken > 0 {
        eprintln!(
            "{broken} rule(s) broken: the templates were written for inspection, do not deploy them"
        );
        return ExitCode::FAILURE;
    }
    super::emit(&summary)
}
