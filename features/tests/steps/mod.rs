//! Step definitions, one module per feature area, over one world.
//!
//! The world keeps what a scenario builds up: the settings file and what it loaded
//! to, the organization tree, the tags of the one account a lifecycle scenario
//! follows, and, for the accounts feature, the organization and runtime on the
//! emulator. Steps read like an operator's words; a few parameterized steps serve many
//! scenarios.

use cucumber::gherkin::Step;

mod accounts;
mod dead_letters;
mod digest;
mod exceptions;
mod lifecycle;
mod purge_notice;
mod reports;
mod requests;
mod scans;
mod settings;
mod slack;
mod spend;

pub use accounts::Emulated;
pub use lifecycle::Account;
pub use settings::SettingsFile;

/// One scenario's state.
#[derive(Debug, Default, cucumber::World)]
pub struct SpaWorld {
    /// The settings file and what came of it.
    pub settings: SettingsFile,
    /// The account a lifecycle scenario follows, and the policy it lives under.
    pub account: Account,
    /// The organization and the engine on the emulator (`accounts.feature`).
    pub emulated: Emulated,
    /// The costs, the residual policy and the outcomes of `digest.feature`.
    pub digest: digest::Digests,
    /// The member accounts, searches and access-key scans of `scans.feature`.
    pub scans: scans::Scans,
    /// The Slack users, requests and answers of `slack.feature`.
    pub slack: slack::Slack,
    /// The command, its dead-letter queue and the archive of `dead_letters.feature`.
    pub dead: dead_letters::DeadLetters,
}

/// The docstring of a step, without the line break that follows the opening `"""`.
///
/// The Gherkin parser keeps that line break; dropping it makes line 1 of the docstring
/// line 1 of the file, so that `line:col` in diagnostics match what the reader sees.
pub fn docstring(step: &Step) -> String {
    let text = step
        .docstring()
        .unwrap_or_else(|| panic!("the step `{}` needs a docstring", step.value));
    let text = text.strip_prefix('\n').unwrap_or(text);
    format!("{}\n", text.trim_end())
}

/// The rows of a step's table without its header row, each checked to have `width` cells.
pub fn rows(step: &Step, width: usize) -> Vec<Vec<String>> {
    let table = step
        .table()
        .unwrap_or_else(|| panic!("the step `{}` needs a table", step.value));
    let rows: Vec<Vec<String>> = table.rows.iter().skip(1).cloned().collect();
    for row in &rows {
        assert_eq!(
            row.len(),
            width,
            "the table of `{}` has rows of {width} cells, found {row:?}",
            step.value
        );
    }
    rows
}

/// A comma-separated list, trimmed, without empty items.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
