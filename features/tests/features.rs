//! The cucumber-rs runner of spa's Gherkin features (`features/features/*.feature`).
//!
//! Run by `cargo test` (`harness = false`). A failed scenario, an undefined or skipped
//! step, a parsing error or a failed hook fails the run. Its last line is the summary
//! CI counts: `cucumber: N passed, N failed, N skipped` (scenarios).
//!
//! Scenarios on the emulator (`accounts.feature`) are tagged `@serial`: moto is one
//! server for the binary, taken by one scenario at a time; the others run
//! concurrently. Each scenario's `after` hook gives the emulator back, even when a
//! failed scenario's world is kept for the report.

use cucumber::World as _;
use cucumber::writer::Stats as _;

mod steps;

pub use steps::SpaWorld;

#[tokio::main]
async fn main() {
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/features");
    let writer = SpaWorld::cucumber()
        .fail_on_skipped()
        .after(|_, _, _, _, world| {
            Box::pin(async move {
                if let Some(world) = world {
                    world.emulated.release();
                }
            })
        })
        // `cargo test -- FILTER` hands its arguments to every test binary; they are
        // libtest's, not cucumber's, so the runner takes none from the command line.
        .with_default_cli()
        .run(features)
        .await;
    let scenarios = writer.scenarios_stats();
    let failed = scenarios.failed + writer.parsing_errors() + writer.hook_errors();
    println!(
        "cucumber: {} passed, {} failed, {} skipped",
        scenarios.passed, failed, scenarios.skipped
    );
    if writer.execution_has_failed() || failed > 0 || scenarios.skipped > 0 {
        std::process::exit(1);
    }
}
