//! `spa validate`: check a settings file, the buildspec files it names, and that its
//! guardrails fit the limits of AWS Organizations.

use std::path::Path;
use std::process::ExitCode;

/// Prints a one-line summary and exits 0, or prints every error and exits 1.
pub fn run(path: &Path) -> ExitCode {
    let loaded = match super::load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let s = &loaded.settings;
    if let Err(error) = spa_aws::files::load_buildspecs(path, s) {
        return super::fail(&error);
    }
    let guardrails = match spa_core::guardrails::policies(s) {
        Ok(policies) => policies,
        Err(errors) => {
            for error in &errors {
                eprintln!("{}: error: {error}", path.display());
            }
            eprintln!(
                "{} error(s), {} warning(s)",
                errors.len(),
                loaded.warnings.len()
            );
            return ExitCode::FAILURE;
        }
    };
    let guarded = spa_core::guardrails::by_target(&guardrails).len();
    let warnings = match loaded.warnings.len() {
        0 => String::new(),
        n => format!(", {n} warning(s)"),
    };
    super::emit(&format!(
        "{}: valid; environment {}, {} organizational unit(s), {} account(s), maintenance window {}, {} guardrail policies on {guarded} unit(s) and account(s){warnings}\n",
        path.display(),
        s.environment_identifier,
        s.organizational_units.len(),
        s.accounts.len(),
        s.automation.maintenance_window,
        guardrails.len(),
    ))
}
