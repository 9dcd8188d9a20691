//! `spa settings schema`: print the JSON Schema of settings files.

use std::process::ExitCode;

use spa_engine::settings::Settings;

/// Prints the schema, pretty, with a final newline (the committed `settings.schema.json`).
pub fn run() -> ExitCode {
    match serde_json::to_string_pretty(&Settings::json_schema()) {
        Ok(text) => super::emit(&format!("{text}\n")),
        Err(error) => {
            eprintln!("error: cannot write the schema: {error}");
            ExitCode::FAILURE
        }
    }
}
