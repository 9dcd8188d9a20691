//! `spa handle EVENT.json [--function NAME] [--follow]`: the handler routing of the
//! `bootstrap` binary, on one event, from the operator's machine (replay from a
//! dead-letter queue, debugging).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};
use spa_core::rules::Function;
use spa_local::Limits;
use spa_local::LocalHandler;
use spa_usecases::handle_accepted;

use super::emit;
use super::live::{self, block_on, connect, engine};
use crate::cli::Live;

/// Reads the event: a file, or standard input for `-`. Errors name the place.
fn read_event(path: &Path) -> Result<Value, ExitCode> {
    let (name, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("error: cannot read the event from standard input: {error}");
            return Err(ExitCode::FAILURE);
        }
        ("<stdin>".to_owned(), text)
    } else {
        match spa_aws::files::read_bounded(path, 1024 * 1024) {
            Ok(text) => (path.display().to_string(), text),
            Err(error) => {
                eprintln!("error: cannot read the event `{}`: {error}", path.display());
                return Err(ExitCode::FAILURE);
            }
        }
    };
    serde_json::from_str(&text).map_err(|error| {
        eprintln!(
            "{name}:{}:{}: error: expected one event as JSON: {error}",
            error.line(),
            error.column()
        );
        ExitCode::FAILURE
    })
}

/// `spa handle`.
pub fn run(
    live: &Live,
    event: &Path,
    function: Option<&str>,
    follow: bool,
    json: bool,
) -> ExitCode {
    let function = match function.map(|name| (name, Function::from_function_name(name))) {
        None => None,
        Some((_, Some(f))) => Some(f),
        Some((name, None)) => {
            let known: Vec<&str> = Function::ALL.iter().map(|f| f.as_str()).collect();
            eprintln!(
                "error: --function: `{name}` is not a function of spa (expected one of {})",
                known.join(", ")
            );
            return ExitCode::from(2);
        }
    };
    let event = match read_event(event) {
        Ok(event) => event,
        Err(code) => return code,
    };
    // the event is checked before anything is connected: a malformed event, or one for
    // another function, is told as such, never as a connection failure
    let (function, incoming) = match spa_usecases::accept(function, &event) {
        Ok(accepted) => accepted,
        Err(error) => {
            eprintln!(
                "error: {}",
                spa_core::events::redact_emails(&error.to_string())
            );
            return ExitCode::FAILURE;
        }
    };
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if follow {
        return follow_through(&loaded, function, event, json);
    }
    block_on(async {
        let platform = connect(&loaded).await?;
        // an operator's replay (a dead letter, once its cause is fixed): a cause that
        // failed for good is handled again; claims held for the function's budget
        let engine = engine(&platform, &loaded)?.replaying().for_function(function);
        let handled = handle_accepted(&engine, function, &incoming).await;
        let calls = platform.calls().total();
        let by_operation = platform.calls().snapshot();
        match handled {
            Ok(handled) => {
                let text = if json {
                    format!(
                        "{}\n",
                        json!({"function": handled.function.as_str(), "response": handled.response(),
                               "summary": handled.summary(), "api_calls": calls,
                               "api_calls_by_operation": by_operation})
                    )
                } else {
                    format!("{}: {}\n", handled.function, handled.summary())
                };
                let code = emit(&text);
                Ok(if handled.dispatched.batch_item_failures.is_empty() { code } else { ExitCode::FAILURE })
            }
            Err(error) => {
                eprintln!("error: {}", spa_core::events::redact_emails(&error.to_string()));
                Ok(ExitCode::FAILURE)
            }
        }
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// `--follow`: the event and everything it causes, through the local runtime.
fn follow_through(loaded: &live::Loaded, function: Function, event: Value, json: bool) -> ExitCode {
    let Some(endpoint) = loaded.endpoint.clone() else {
        eprintln!(
            "error: --follow runs the local runtime: give the emulator's endpoint (--endpoint-url or AWS_ENDPOINT_URL)"
        );
        return ExitCode::from(2);
    };
    block_on(async {
        let (runtime, resources) = spa_local::connect::runtime(&loaded.settings, &endpoint)
            .await
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            })?;
        runtime.deliver(function, event, "the event");
        let handler = LocalHandler::new(&loaded.settings)
            .with_buildspecs(loaded.buildspecs.clone())
            .with_engine_bus_arn(resources.bus_arn.clone());
        let mut steps = Vec::new();
        let result = runtime
            .run_until_idle(&handler, Limits::default(), |step| {
                if !json {
                    let line = match &step.result {
                        Ok(done) => format!(
                            "{} {:<14} {} => {done}",
                            step.at.format("%H:%M:%S"),
                            step.function.as_str(),
                            step.summary
                        ),
                        Err(why) => format!(
                            "{} {:<14} {} => FAILED: {why}",
                            step.at.format("%H:%M:%S"),
                            step.function.as_str(),
                            step.summary
                        ),
                    };
                    println!("{line}");
                }
                steps.push(step.clone());
            })
            .await;
        match result {
            Ok(summary) => {
                if json {
                    emit(&format!(
                        "{}\n",
                        serde_json::to_string(&summary).unwrap_or_default()
                    ));
                }
                Ok(if summary.failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Err(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}
