//! `spa settings schema`: print the JSON Schema of settings files.

use std::process::ExitCode;

use spa_core::settings::Settings;

/// Prints the schema as generated from the types: the committed `settings.schema.json`,
/// which `load` validates against (a test of spa-core keeps the two equal).
pub fn run() -> ExitCode {
    match Settings::json_schema_text() {
        Ok(text) => super::emit(&text),
        Err(error) => {
            eprintln!("error: cannot write the schema: {error}");
            ExitCode::FAILURE
        }
    }
}
