//! `spa settings schema`: print the JSON Schema of settings files.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde_json::Value;
use spa_core::settings::Settings;

/// Prints the schema, pretty, keys sorted, with a final newline (the committed
/// `settings.schema.json`).
///
/// Keys are sorted here because the order of a `serde_json` map depends on a cargo
/// feature (`preserve_order`) that another crate of the build may turn on: the file
/// must not change with what else is compiled.
pub fn run() -> ExitCode {
    match serde_json::to_string_pretty(&sorted(&Settings::json_schema())) {
        Ok(text) => super::emit(&format!("{text}\n")),
        Err(error) => {
            eprintln!("error: cannot write the schema: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The same JSON with every object's keys in order, whatever the map type.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Sorted<'a> {
    Object(BTreeMap<&'a str, Sorted<'a>>),
    Array(Vec<Sorted<'a>>),
    Leaf(&'a Value),
}

fn sorted(value: &Value) -> Sorted<'_> {
    match value {
        Value::Object(map) => {
            Sorted::Object(map.iter().map(|(k, v)| (k.as_str(), sorted(v))).collect())
        }
        Value::Array(items) => Sorted::Array(items.iter().map(sorted).collect()),
        leaf => Sorted::Leaf(leaf),
    }
}
