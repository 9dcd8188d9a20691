//! One module per command; each returns the process exit code.

use std::process::ExitCode;

use spa_core::settings::{Diagnostic, Loaded, SettingsError};

use crate::cli::{
    ArchChoice, Cli, Command, EventsCommand, LocalCommand, PricesCommand, ScanCommand,
    SettingsCommand, SlackCommand,
};
use spa_core::events::Action;

mod costs;
mod demo_requests;
mod deploy;
mod find;
mod handle;
mod live;
mod local;
mod operate;
mod package;
mod plan;
mod prices;
mod report;
mod schema;
mod slack;
mod synth;
mod validate;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { settings } => validate::run(&settings),
        Command::Settings {
            command: SettingsCommand::Schema,
        } => schema::run(),
        Command::Plan {
            settings,
            json,
            tree,
        } => plan::run(&settings, tree.as_deref(), json),
        Command::Synth {
            settings,
            out,
            upcoming,
        } => synth::run(
            &settings,
            &out,
            spa_deploy::synth::SynthOptions { upcoming },
        ),
        Command::Package { arch, out, profile } => package::run(
            match arch {
                ArchChoice::Arm64 => spa_deploy::package::Arch::Arm64,
                ArchChoice::X86_64 => spa_deploy::package::Arch::X86_64,
            },
            &out,
            &profile,
        ),
        Command::Deploy(args) => deploy::deploy(&args),
        Command::Destroy { live, stack, yes } => {
            deploy::destroy(&live.settings, live.endpoint_url, stack, yes)
        }
        Command::Status { live, json } => operate::status(&live, json),
        Command::Costs {
            live,
            account,
            json,
        } => costs::run(&live, account.as_ref(), json),
        Command::Find { live, query, json } => find::find(&live, &query, json),
        Command::Prices {
            command:
                PricesCommand::Refresh {
                    live,
                    regions,
                    json,
                },
        } => prices::refresh(&live, &regions, json),
        Command::Scan {
            command: ScanCommand::Keys { live, json, raise },
        } => find::scan_keys(&live, json, raise),
        Command::Check { live, json } => operate::check(&live, json),
        Command::Expire { live, bulk } => operate::bulk(&live, &bulk, Action::Expire),
        Command::Reset { live, bulk } => operate::bulk(&live, &bulk, Action::Reset),
        Command::Release { live, bulk } => operate::bulk(&live, &bulk, Action::Release),
        Command::Unfreeze { live, bulk } => operate::bulk(&live, &bulk, Action::Unfreeze),
        Command::Snooze {
            live,
            account,
            by,
            json,
        } => operate::snooze(&live, &account, by.as_deref(), json),
        Command::Freeze {
            live,
            account,
            reason,
            dry_run,
            json,
        } => operate::freeze(&live, &account, &reason, dry_run, json),
        Command::Close {
            live,
            account,
            holder,
            dry_run,
            yes,
            direct,
            json,
        } => {
            let bulk = crate::cli::Bulk {
                accounts: account.into_iter().collect(),
                ou: None,
                all: false,
                dry_run,
                yes,
                direct,
                json,
            };
            operate::close(&live, &bulk, holder.as_deref())
        }
        Command::Assign {
            live,
            account,
            holder,
            dry_run,
            json,
        } => operate::assign(&live, &account, &holder, dry_run, json),
        Command::Slack {
            command: SlackCommand::Serve { live, port },
        } => slack::serve(&live, port),
        Command::Handle {
            live,
            event,
            function,
            follow,
            json,
        } => handle::run(&live, &event, function.as_deref(), follow, json),
        Command::Report {
            live,
            report,
            month,
            week,
            out,
            json,
        } => report::run(&live, report, month, week, out.as_ref(), json),
        Command::Events {
            command:
                EventsCommand::List {
                    live,
                    account,
                    limit,
                    json,
                },
        } => operate::events(&live, account.as_deref(), limit, json),
        Command::Local {
            command: LocalCommand::Init { live },
        } => local::init(&live),
        Command::Demo {
            live,
            tree,
            accounts,
            json,
        } => local::demo(&live, &tree, accounts, json),
    }
}

/// Loads settings, printing warnings; on failure prints every error and gives exit 1.
pub(crate) fn load(path: &std::path::Path) -> Result<Loaded, ExitCode> {
    match spa_aws::files::load_settings(path) {
        Ok(loaded) => {
            print_all(&loaded.warnings);
            Ok(loaded)
        }
        Err(error) => Err(fail(&error)),
    }
}

/// Prints every error and warning of `error`, sorted, and gives exit 1.
pub(crate) fn fail(error: &SettingsError) -> ExitCode {
    let SettingsError { errors, warnings } = error;
    let mut all: Vec<&Diagnostic> = errors.iter().chain(warnings.iter()).collect();
    all.sort_by(|a, b| (&a.file, &a.place).cmp(&(&b.file, &b.place)));
    for diagnostic in all {
        eprintln!("{diagnostic}");
    }
    eprintln!("{} error(s), {} warning(s)", errors.len(), warnings.len());
    ExitCode::FAILURE
}

/// Writes `text` to stdout; a closed pipe (`spa plan | head`) is not an error.
pub(crate) fn emit(text: &str) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write the output: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_all(diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("{diagnostic}");
    }
}
