//! The command-line grammar (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spa_core::events::AccountId;

/// spa keeps personal sandbox AWS accounts sustainable across an AWS Organization.
#[derive(Debug, Parser)]
#[command(name = "spa", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a settings file; print every error as `file:line:col: error: ...`.
    ///
    /// Exit 0 with a one-line summary (and warnings) when the file is valid, 1 otherwise.
    Validate {
        /// The settings file; CSV overlays it names are read beside it.
        #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
        settings: PathBuf,
    },
    /// Work with the settings format.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Show the resolved settings of every listed organizational unit and account, offline.
    ///
    /// Without the live OU tree, an organizational unit resolves as defaults <- unit, and
    /// an account as defaults <- account: the units an account sits in are not known
    /// offline, so what a listed ancestor unit would add is not shown.
    Plan {
        /// The settings file; CSV overlays it names are read beside it.
        #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
        settings: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Where units and accounts sit: a CSV file with a `child,parent` header, one
        /// placement a row. Without it, each resolves as defaults <- itself.
        #[arg(long, value_name = "FILE")]
        tree: Option<PathBuf>,
    },
    /// Write the CloudFormation templates of the deployment (artifacts, automation,
    /// management-account stacks), checked against spa's rules.
    Synth {
        /// The settings file; CSV overlays it names are read beside it.
        #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
        settings: PathBuf,
        /// Where to write the templates.
        #[arg(long, value_name = "DIR", default_value = "target/templates")]
        out: PathBuf,
        /// Also the functions whose handlers are being written (budget-alerts, exceptions).
        #[arg(long, hide = true)]
        upcoming: bool,
    },
    /// Build the `bootstrap` binary for Lambda with cargo-lambda and zip it
    /// (`<out>/spa-<arch>.zip`, what `spa deploy` uploads).
    Package {
        /// The Lambda architecture (`features.arm_architecture` says which is deployed).
        #[arg(long, value_enum, default_value = "arm64")]
        arch: ArchChoice,
        /// Where to write the zip.
        #[arg(long, value_name = "DIR", default_value = "target/lambda")]
        out: PathBuf,
        /// The cargo profile: `lambda-release` is deployed (the release profile; a
        /// panic ends the process); `dev` builds faster, for tests.
        #[arg(long, value_name = "PROFILE", default_value = spa_deploy::package::PROFILE)]
        profile: String,
    },
    /// Deploy the stacks through change sets: shows each change set and asks before
    /// executing it (unless --yes), uploads the package, pushes the resolved settings to
    /// SSM Parameter Store, and waits with progress.
    Deploy(DeployArgs),
    /// Delete the stacks (tables, buckets and the settings parameter are kept).
    Destroy {
        #[command(flatten)]
        live: Live,
        /// Which stacks: `automation` (automation and artifacts stacks) or `management`.
        #[arg(long, value_enum, default_value = "automation")]
        stack: StackChoice,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(long, short)]
        yes: bool,
    },
    /// The managed accounts, live: id, name, OU path, state, holder, since.
    Status {
        #[command(flatten)]
        live: Live,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The costs of the organization, or of one account: yesterday, the last 7 days,
    /// the month to date and last month against the period before of the same
    /// length, and the top services (and accounts) of the month, as the daily digest
    /// tells them in chat.
    Costs {
        #[command(flatten)]
        live: Live,
        /// Of this account only.
        #[arg(long, value_name = "ACCOUNT", value_parser = account_id)]
        account: Option<AccountId>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find EC2 instances by id, private IPv4 address or instance ARN in every managed
    /// account and enabled region, in parallel (`features.find_concurrency` at once,
    /// `features.find_timeout` per call). Accounts or regions that did not answer are
    /// listed under the table; exit 1 when nothing was found, 2 when the query is not one.
    Find {
        #[command(flatten)]
        live: Live,
        /// `i-0123456789abcdef0`, `10.0.1.23` or `arn:aws:ec2:<region>:<account>:instance/i-...`.
        #[arg(value_name = "QUERY")]
        query: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The spend guard's prices.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Scan the managed accounts.
    Scan {
        #[command(subcommand)]
        command: ScanCommand,
    },
    /// Look for drift: missing or unknown state tags, lifecycle tags on unmanaged
    /// accounts, accounts stuck past their deadline. Exit 1 when something is found.
    Check {
        #[command(flatten)]
        live: Live,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Expire assigned accounts now (as the maintenance window does): purge, then prepare.
    Expire {
        #[command(flatten)]
        live: Live,
        #[command(flatten)]
        bulk: Bulk,
    },
    /// Re-vend accounts (quarantined, or unmanaged in a managed unit): prepare them again.
    Reset {
        #[command(flatten)]
        live: Live,
        #[command(flatten)]
        bulk: Bulk,
    },
    /// End the assignment of accounts: their holder gives them back; they are purged
    /// and return to the pool.
    Release {
        #[command(flatten)]
        live: Live,
        #[command(flatten)]
        bulk: Bulk,
    },
    /// Close an account for good: its holder's assignment ends, a last purge, then AWS
    /// Organizations closes it (or it moves to the settings' `suspended_unit`); its
    /// history stays (`spa events list --account`). Asks first, unless --yes.
    #[command(group = clap::ArgGroup::new("closed").required(true).args(["account", "holder"]))]
    Close {
        #[command(flatten)]
        live: Live,
        /// The account id.
        account: Option<String>,
        /// Every account this person holds (a holder who leaves), instead of one account.
        #[arg(long, value_name = "EMAIL")]
        holder: Option<String>,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Apply in this process instead of sending the command to the queue.
        #[arg(long)]
        direct: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Freeze an account, as the spend guard does: a deny-all-but-read service control
    /// policy holds it, its data kept, an incident is opened with the reason, the
    /// holder is told. Only a prepared or assigned account is frozen.
    Freeze {
        #[command(flatten)]
        live: Live,
        /// The account id.
        account: String,
        /// Why, for the incident and the account's history.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Unfreeze accounts: the freeze policy is detached and each goes back to the state
    /// it was frozen in (an assigned account whose holder tag went is purged).
    Unfreeze {
        #[command(flatten)]
        live: Live,
        #[command(flatten)]
        bulk: Bulk,
    },
    /// Put the next purge of an assigned account off, once, by at most its
    /// `purge_notice.snooze` (the holder asks from the pre-purge notice): the
    /// maintenance window leaves it alone and the sweeper purges it when the snooze
    /// ends. Exit 1 when refused (said why), 2 on bad input.
    Snooze {
        #[command(flatten)]
        live: Live,
        /// The account id.
        account: String,
        /// How long (`2d`, `36h`); default: the most the settings allow.
        #[arg(long, value_name = "DURATION")]
        by: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Assign a prepared account of the pool to a person.
    Assign {
        #[command(flatten)]
        live: Live,
        /// The account id.
        account: String,
        /// The e-mail address of the holder.
        #[arg(long, value_name = "EMAIL")]
        holder: String,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The Slack slash command.
    Slack {
        #[command(subcommand)]
        command: SlackCommand,
    },
    /// Run the handler routing on one event, locally (replay from a DLQ, debugging).
    Handle {
        #[command(flatten)]
        live: Live,
        /// The event: a JSON file as Lambda receives it, or `-` for standard input.
        event: PathBuf,
        /// The function that receives it (account-events, build-events, sign-ins,
        /// commands, scheduler, budget-alerts, exceptions, slack-commands,
        /// dead-letters); by default, found from the event's shape. An archived dead
        /// letter (a bare account command or budget alert) is handed over as its
        /// queue would.
        #[arg(long, value_name = "NAME")]
        function: Option<String>,
        /// Route every event it causes through the local runtime, builds included,
        /// until nothing is pending.
        #[arg(long)]
        follow: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a report now, as the schedule does: to the reports bucket (and the cost
    /// report mailed to FinOps), or with `--out DIR` to files under DIR, sending nothing.
    ///
    /// Costs and activities take `--month YYYY-MM` (default: the month before); the
    /// inventory, a snapshot of the accounts as they are now, takes `--week YYYY-Www`
    /// (default: the current ISO week), which names its file.
    Report {
        #[command(flatten)]
        live: Live,
        /// Which report.
        #[arg(value_enum)]
        report: ReportKind,
        /// The month reported (costs, activities).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<spa_core::reports::Month>,
        /// The ISO week the inventory is named after.
        #[arg(long, value_name = "YYYY-Www", conflicts_with = "month")]
        week: Option<spa_core::reports::Week>,
        /// Write the files under this folder (same relative keys) instead of the
        /// bucket; nothing is mailed.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Recent activities of the accounts.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The local runtime, against the emulator.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Run the lifecycle end to end against the emulator: seed an organization from
    /// the settings, on-board its accounts, run a maintenance window.
    Demo {
        #[command(flatten)]
        live: Live,
        /// Where the listed units and accounts sit: a `child,parent` CSV file.
        #[arg(long, value_name = "FILE", default_value = "examples/organization.csv")]
        tree: PathBuf,
        /// Generated accounts, spread over the listed units, besides the listed ones.
        #[arg(long, value_name = "N", default_value_t = 6)]
        accounts: usize,
        /// Print a JSON summary instead of the timeline and table.
        #[arg(long)]
        json: bool,
    },
}

/// Where spa finds its settings and AWS.
#[derive(Debug, Clone, Args)]
pub struct Live {
    /// The settings file; CSV overlays it names are read beside it.
    #[arg(long, short, value_name = "FILE", default_value = "settings.yaml")]
    pub settings: PathBuf,
    /// Talk to this endpoint instead of AWS (the emulator: `http://127.0.0.1:5000`).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// Which accounts a bulk action is for, and how.
///
/// The target is one of: account ids, `--ou`, `--all` (a group of those three only:
/// the options that say how combine with any of them).
#[derive(Debug, Clone, Args)]
#[group(skip)]
#[command(group = clap::ArgGroup::new("target").required(true).multiple(false))]
pub struct Bulk {
    /// Account ids.
    #[arg(group = "target")]
    pub accounts: Vec<String>,
    /// Every managed account of this organizational unit, nested units included.
    #[arg(long, value_name = "OU", group = "target")]
    pub ou: Option<String>,
    /// Every managed account.
    #[arg(long, group = "target")]
    pub all: bool,
    /// Show what would be done to each account, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Apply in this process instead of sending one command per account to the queue.
    #[arg(long)]
    pub direct: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `spa scan` scans.
#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// The access keys and console passwords of every managed account's IAM users,
    /// through the member role: active keys older than
    /// `features.stale_access_key_age`, or unused (never used: since their creation)
    /// for longer than `features.unused_access_key_age`, and users with a console
    /// password. Prints a table (account, user, key masked, age, last used, finding);
    /// raises nothing unless `--raise`. Exit 1 when something is found or an account
    /// could not be read.
    Keys {
        #[command(flatten)]
        live: Live,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also raise `StaleAccessKey` for each account with findings, as the
        /// scheduled scan does (once per account and day: a scheduled scan the same
        /// day raises nothing twice).
        #[arg(long)]
        raise: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Read the hourly on-demand prices of EC2 instances (and the EKS node groups
    /// priced as them), RDS DB instances and NAT gateways from the AWS Price List API,
    /// in every region holders may act in (the guardrails' allow-lists and the
    /// automation region) unless `--region` says, and keep them in spa's store, where
    /// the spend guard prices with them. A list that cannot be read keeps its last
    /// prices (else the shipped sample). Needs `pricing:GetProducts`. Exit 1 when a
    /// list could not be refreshed.
    Refresh {
        #[command(flatten)]
        live: Live,
        /// Only this region (repeat for more).
        #[arg(long = "region", value_name = "REGION", value_parser = region)]
        regions: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// An AWS region, for clap (`eu-west-1`): the settings' own check.
fn region(text: &str) -> Result<String, String> {
    spa_core::settings::values::check_region(text)
        .map(|()| text.to_owned())
        .map_err(|expected| format!("`{text}` is not {expected}"))
}

/// The reports of `spa report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// Monthly cost reports (CSV and Excel, summary and per cost center), mailed to FinOps.
    Costs,
    /// The inventory of accounts (weekly).
    Inventory,
    /// Monthly activities per cost center.
    Activities,
}

/// An account id, for clap: 12 digits.
fn account_id(text: &str) -> Result<AccountId, String> {
    AccountId::parse(text).ok_or_else(|| {
        format!(
            "`{text}` is not an account id: expected {}",
            AccountId::EXPECTED
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The most recent activities, newest first.
    List {
        #[command(flatten)]
        live: Live,
        /// Of this account only.
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Create in the emulator the engine's own resources (tables, bus, bucket, queues), idempotently.
    Init {
        #[command(flatten)]
        live: Live,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlackCommand {
    /// Serve the slash command endpoint on 127.0.0.1 (for tests, or through a tunnel):
    /// the handler of the deployed function URL. `SLACK_SIGNING_SECRET`, when set,
    /// stands in for `notifications.slack_signing_secret`.
    Serve {
        #[command(flatten)]
        live: Live,
        /// The local port (0: any free port, printed).
        #[arg(long, value_name = "N")]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print the JSON Schema of settings files (for editors: `# yaml-language-server: $schema=...`).
    Schema,
}

/// Which stacks a deployment is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StackChoice {
    /// The automation account: the artifacts stack, then the automation stack.
    Automation,
    /// The management account (us-east-1): the role spa assumes, the forwarding rule.
    Management,
}

/// A Lambda architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchChoice {
    /// Graviton.
    Arm64,
    /// Intel and AMD.
    #[value(name = "x86_64")]
    X86_64,
}

/// Whether the automation stack creates Incident Manager's replication set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplicationSet {
    /// First on-boarding: the stack creates it.
    Create,
    /// The account has one already.
    Existing,
}

impl ReplicationSet {
    /// As the template's parameter takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationSet::Create => "create",
            ReplicationSet::Existing => "existing",
        }
    }
}

/// What `spa deploy` needs.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub live: Live,
    /// Which stacks: `automation` (automation account) or `management` (management
    /// account, us-east-1; run with its credentials).
    #[arg(long, value_enum, default_value = "automation")]
    pub stack: StackChoice,
    /// The package made by `spa package`; default `target/lambda/spa-<arch>.zip`.
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,
    /// The id of the organization (`o-...`): its accounts may put events on the bus.
    #[arg(long, value_name = "ID", env = "SPA_ORGANIZATION_ID")]
    pub organization_id: Option<String>,
    /// `create` the Incident Manager replication set, or use the `existing` one.
    #[arg(long, value_enum, default_value = "create")]
    pub incident_replication_set: ReplicationSet,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parses(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn a_bulk_target_combines_with_the_options_that_say_how() {
        for line in [
            "spa expire --all --dry-run",
            "spa reset --ou ou-ab12-sandbox1 --dry-run --json",
            "spa release --all --yes --direct",
            "spa expire 111111111111 222222222222 --yes",
            "spa unfreeze 111111111111 --yes",
            "spa freeze 111111111111 --reason spending --dry-run",
        ] {
            assert!(parses(line).is_ok(), "{line}: {:?}", parses(line).err());
        }
    }

    #[test]
    fn a_report_takes_a_month_or_a_week_in_their_shape() {
        for line in [
            "spa report costs --month 2026-10",
            "spa report activities --month 2026-10 --out /tmp/reports",
            "spa report inventory --week 2026-W47 --json",
            "spa report costs",
        ] {
            assert!(parses(line).is_ok(), "{line}: {:?}", parses(line).err());
        }
        for (line, expected) in [
            ("spa report costs --month 2026-13", "expected YYYY-MM"),
            ("spa report costs --month 10/2026", "expected YYYY-MM"),
            ("spa report inventory --week 2026-47", "expected YYYY-Www"),
            ("spa report salaries", "invalid value 'salaries'"),
            (
                "spa report inventory --week 2026-W47 --month 2026-10",
                "cannot be used with",
            ),
        ] {
            let error = parses(line).expect_err(line).to_string();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn costs_take_one_account_id_or_none() {
        for line in [
            "spa costs",
            "spa costs --json",
            "spa costs --account 111111111111 --json",
        ] {
            assert!(parses(line).is_ok(), "{line}: {:?}", parses(line).err());
        }
        let Ok(Cli {
            command: Command::Costs { account, .. },
        }) = parses("spa costs --account 111111111111")
        else {
            panic!("`spa costs --account` does not parse as costs");
        };
        assert_eq!(
            account.as_ref().map(AccountId::as_str),
            Some("111111111111")
        );
        for bad in ["1234", "11111111111a", "alice"] {
            let error = parses(&format!("spa costs --account {bad}"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains(&format!("invalid value '{bad}' for '--account <ACCOUNT>'"))
                    && error.contains("is not an account id: expected"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn a_bulk_action_needs_exactly_one_target() {
        for line in [
            "spa expire --dry-run",
            "spa expire --all --ou ou-ab12-sandbox1",
            "spa reset 111111111111 --all",
        ] {
            assert!(parses(line).is_err(), "{line} was accepted");
        }
    }
}
