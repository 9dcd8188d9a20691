//! `spa local init` and `spa demo`: the engine against the emulator.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;
use spa_aws::BaseCredentials;
use spa_aws::config::AwsConfig;
use spa_aws::metrics::ApiCalls;
use spa_core::events::{AccountId, Job, Report};
use spa_core::reports::{AccountCost, CostBreakdowns, Month, Week};
use spa_local::LocalHandler;
use spa_local::{Limits, RunSummary, Step, seed, synth};
use spa_usecases::ports::TreeFile;
use spa_usecases::ports::{Clock, Commands, Objects, Platform};
use spa_usecases::reports::{Written, run_report};
use spa_usecases::{Output, Period, ReportRun, operator};

use super::emit;
use super::live::{self, block_on, fail};
use crate::cli::Live;

fn endpoint(loaded: &live::Loaded, what: &str) -> Result<String, ExitCode> {
    loaded.endpoint.clone().ok_or_else(|| {
        eprintln!("error: {what} runs against the emulator: give its endpoint with --endpoint-url or AWS_ENDPOINT_URL (`make demo` starts one)");
        ExitCode::from(2)
    })
}

async fn emulator_config(loaded: &live::Loaded, endpoint: &str) -> AwsConfig {
    AwsConfig::load(
        loaded.settings.automation.region.as_str(),
        Some(endpoint),
        BaseCredentials::Emulator,
        ApiCalls::new(),
    )
    .await
}

/// `spa local init`.
pub fn init(live: &Live) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let endpoint = match endpoint(&loaded, "spa local init") {
        Ok(endpoint) => endpoint,
        Err(code) => return code,
    };
    block_on(async {
        let config = emulator_config(&loaded, &endpoint).await;
        match spa_local::connect::init(&config, &loaded.settings).await {
            Ok(resources) => Ok(emit(&format!(
                "tables: {}\nbus: {}\ncommand queue: {}\nbucket: {}\n",
                resources.tables.join(", "),
                resources.bus_arn,
                resources.queue_url,
                resources
                    .bucket
                    .as_deref()
                    .unwrap_or("(none: reporting.bucket is not set)")
            ))),
            Err(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// Prints what stopped the demo, exit 1.
fn stopped(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn print_step(step: &Step) {
    let (mark, text) = match &step.result {
        Ok(done) => ("=>", done.clone()),
        Err(why) => ("=> FAILED:", why.clone()),
    };
    println!(
        "  {} {:<14} {} {mark} {text}",
        step.at.format("%H:%M:%S%.3f"),
        step.function.as_str(),
        step.summary
    );
}

/// `spa demo`.
pub fn demo(live: &Live, tree: &Path, accounts: usize, json: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let endpoint = match endpoint(&loaded, "spa demo") {
        Ok(endpoint) => endpoint,
        Err(code) => return code,
    };
    let tree_text = match spa_aws::files::read_bounded(tree, 4 * 1024 * 1024) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read the tree `{}`: {error}", tree.display());
            return ExitCode::FAILURE;
        }
    };
    let organization = match TreeFile::from_csv(&tree.display().to_string(), &tree_text) {
        Ok(organization) => organization,
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            return ExitCode::FAILURE;
        }
    };
    let holder_tag = format!("{}holder", loaded.settings.automation.tag_prefix);
    let plan = match seed::plan(&loaded.settings, &organization, accounts, &holder_tag) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    block_on(async {
        let config = emulator_config(&loaded, &endpoint).await;
        // what spa needs of the emulator, said before anything is seeded
        spa_local::emulator::check(&config, &endpoint)
            .await
            .map_err(stopped)?;
        let say = |text: String| {
            if !json {
                println!("{text}");
            }
        };
        say(format!(
            "Seeding the emulator at {endpoint}: {} unit(s), {} account(s)",
            plan.units.len(),
            plan.accounts.len()
        ));
        let seeded = spa_local::emulator::seed(config.sdk(), &plan)
            .await
            .map_err(|e| {
                eprintln!("error: cannot seed the organization: {e}");
                ExitCode::FAILURE
            })?;
        let mut settings = seed::remap(&loaded.settings, &seeded);
        if settings.features.incident_manager {
            // the emulator has no Incident Manager: exceptions still go to chat and e-mail
            settings.features.incident_manager = false;
            say("Incident Manager is off in the demo (the emulator lacks it)".to_owned());
        }
        // chat: a local server stands in for Slack (webhooks, Web API, response URLs) and Teams
        let chat = wiremock::MockServer::start().await;
        let slack_api = format!("{}/api/", chat.uri());
        let (runtime, resources) = spa_local::connect::runtime_with_slack(&settings, &endpoint, &slack_api)
            .await
            .map_err(stopped)?;
        // Organizations events come from the management account: the one the settings name
        let management = settings
            .automation
            .management_role_arn
            .account()
            .ok_or(ExitCode::FAILURE)?;
        let now = runtime.platform().clock().now();
        for id in &seeded.created {
            let Some(account) = AccountId::parse(id) else {
                continue;
            };
            let event = synth::create_account_result(
                &format!("demo-created-{id}"),
                &management,
                &account,
                now,
            );
            runtime.inject(event, format!("CreateAccountResult {id}"));
        }
        let handler = LocalHandler::new(&settings)
            .with_buildspecs(loaded.buildspecs.clone())
            .with_engine_bus_arn(resources.bus_arn.clone());
        let limits = Limits {
            poll_interval: std::time::Duration::from_millis(50),
            ..Limits::default()
        };
        let mut steps: Vec<Step> = Vec::new();
        let mut record = |step: &Step| {
            if !json {
                print_step(step);
            }
            steps.push(step.clone());
        };
        say("\nOn-boarding: accounts created in managed units".to_owned());
        let onboarding = runtime.run_until_idle(&handler, limits, &mut record).await;
        let onboarding: RunSummary = onboarding.map_err(stopped)?;
        say("\nMaintenance window: assigned accounts are purged and prepared again".to_owned());
        runtime.fire(Job::MaintenanceWindow, runtime.platform().clock().now());
        let maintenance = runtime
            .run_until_idle(&handler, limits, &mut record)
            .await
            .map_err(stopped)?;
        let engine = spa_usecases::Engine::new(runtime.platform(), &settings)
            .map_err(fail)?
            .with_buildspecs(loaded.buildspecs.clone());
        let lines = operator::status(&engine).await.map_err(fail)?;
        say("\nPre-purge notice: a dry run of the next purge, its list summarized for the holder by e-mail; the holder snoozes the purge".to_owned());
        let notice = match notice_candidate(&engine, &lines).await.map_err(|e| live::port_failed(&e))? {
            Some(candidate) => {
                let command = spa_core::events::AccountCommand::new(
                    &format!("demo-notice-{}", candidate.account),
                    &settings.environment_identifier,
                    candidate.account.clone(),
                    spa_core::events::Action::Sweep,
                    candidate.due,
                    "demo",
                );
                runtime
                    .platform()
                    .commands()
                    .send(&[command])
                    .await
                    .map_err(|e| live::port_failed(&e))?;
                // the dry run starts; moto runs no buildspec, so the demo writes the
                // list where the buildspec would before the build's end comes back
                let mut run = runtime
                    .run_pending(&handler, limits, &mut record)
                    .await
                    .map_err(stopped)?;
                let key = spa_core::notify::preview::list_key(
                    &settings.reporting.exceptions_prefix,
                    &candidate.account,
                    candidate.purge,
                );
                engine
                    .platform()
                    .objects()
                    .put(&key, DEMO_PREVIEW.as_bytes().to_vec(), "text/plain")
                    .await
                    .map_err(|e| live::port_failed(&e))?;
                let ended = runtime
                    .run_until_idle(&handler, limits, &mut record)
                    .await
                    .map_err(stopped)?;
                run.handled += ended.handled;
                run.failed += ended.failed;
                run.builds_started += ended.builds_started;
                let snoozed = spa_usecases::snooze(
                    &engine,
                    &candidate.account,
                    None,
                    spa_usecases::Snoozer::Holder(candidate.holder.clone()),
                )
                .await
                .map_err(fail)?;
                let id = &candidate.account;
                say(format!(
                    "  {id}: its holder {} was told the purge of {} and what it deletes (s3://{}/{key})",
                    candidate.holder.masked(),
                    candidate.purge.format("%Y-%m-%d %H:%M UTC"),
                    bucket_of(&settings)
                ));
                let until = match &snoozed {
                    spa_usecases::SnoozeOutcome::Snoozed { until, .. } => {
                        say(format!(
                            "  {id}: the holder snoozed it until {} (`spa status` shows it)",
                            until.format("%Y-%m-%d %H:%M UTC")
                        ));
                        Some(*until)
                    }
                    spa_usecases::SnoozeOutcome::Refused(why) => {
                        say(format!("  {id}: the snooze was refused: {why}"));
                        None
                    }
                };
                Some((candidate, until, run))
            }
            None => {
                say("  no assigned account has a purge notice: nothing to show".to_owned());
                None
            }
        };
        let lines = operator::status(&engine).await.map_err(fail)?;
        say("\nExceptions: the root user signs in, a budget is exceeded; chat and e-mail are told".to_owned());
        chat_sink(&chat, runtime.inner().automation(), &settings)
            .await
            .map_err(|e| live::port_failed(&e))?;
        let mut exceptions = RunSummary::default();
        if let Some(line) = lines.iter().find(|l| l.state == "assigned") {
            let at = runtime.platform().clock().now();
            let id = &line.account;
            let login = synth::root_console_login(&format!("demo-root-{id}"), id, "203.0.113.10", at);
            runtime.inject(login, format!("root signs in to {id}"));
            budget_alert(&runtime, &resources, &settings, id)
                .await
                .map_err(|e| live::port_failed(&e))?;
            exceptions = runtime
                .run_until_idle(&handler, limits, &mut record)
                .await
                .map_err(stopped)?;
        }
        say("\nSpend guard: a holder starts four p4d.24xlarge; the account is frozen within the minute".to_owned());
        let frozen = spend_guard(&engine, &runtime, &lines)
            .await
            .map_err(|e| live::port_failed(&e))?;
        let spending = match &frozen {
            Some(id) => {
                let at = runtime.platform().clock().now();
                let call = synth::run_instances(&format!("demo-spend-{id}"), id, "p4d.24xlarge", 4, at);
                runtime.inject(call, format!("{id} starts 4 p4d.24xlarge"));
                let run = runtime
                    .run_until_idle(&handler, limits, &mut record)
                    .await
                    .map_err(stopped)?;
                let config = runtime.inner().automation().sdk().clone();
                let policies = spa_local::emulator::service_control_policies(&config, id.as_str())
                    .await
                    .map_err(|e| live::port_failed(&e))?;
                let names: Vec<&str> = policies.iter().map(|(n, _)| n.as_str()).collect();
                say(format!(
                    "  {id}: policies attached {}; `spa unfreeze {id}` gives it back",
                    names.join(", ")
                ));
                run
            }
            None => {
                say("  no assigned account has its spend guard on: nothing to show".to_owned());
                RunSummary::default()
            }
        };
        say("\nRequests: an engineer asks for an account with /spa request, the unit's approver clicks Approve in Slack".to_owned());
        let (requested, requesting) = match super::demo_requests::approver(&settings) {
            Some(approver) => {
                super::demo_requests::mount_slack(&chat, &approver).await;
                if let Some(reference) = &settings.notifications.slack_bot_token {
                    spa_aws::secrets::store_secret(
                        runtime.inner().automation(),
                        reference.as_str(),
                        super::demo_requests::BOT_TOKEN,
                    )
                    .await
                    .map_err(|e| live::port_failed(&e))?;
                }
                let requested = super::demo_requests::request_and_approve(&engine, &chat, &approver)
                    .await
                    .map_err(|e| {
                        eprintln!("error: the request stage failed: {e}");
                        ExitCode::FAILURE
                    })?;
                match &requested.account {
                    Some(account) => say(format!(
                        "  {account} given to {} once {approver} approved; they read: {}",
                        spa_core::events::redact_emails(super::demo_requests::REQUESTER.1),
                        requested.told.as_deref().unwrap_or_default().lines().next().unwrap_or_default()
                    )),
                    None => say("  no account was given (no free pool account?)".to_owned()),
                }
                // the assignment's event: the welcome e-mail
                let run = runtime
                    .run_until_idle(&handler, limits, &mut record)
                    .await
                    .map_err(stopped)?;
                (requested, run)
            }
            None => {
                say("  no unit opens requests with an approver: nothing to show".to_owned());
                (super::demo_requests::Requested::default(), RunSummary::default())
            }
        };
        let lines = operator::status(&engine).await.map_err(fail)?;
        say("\nFinOps: last month's cost reports (Cost Explorer's answers registered in the emulator), mailed to FinOps; this week's inventory".to_owned());
        let today = runtime.platform().clock().now().date_naive();
        let reports = finops(&engine, runtime.inner().automation(), &endpoint, &lines, today)
            .await
            .map_err(stopped)?;
        let files: Vec<&Written> = reports.iter().flat_map(|r| &r.files).collect();
        let mailed: Vec<&String> = reports.iter().flat_map(|r| &r.mailed).collect();
        for file in &files {
            say(format!("  {} ({} bytes)", file.key, file.bytes));
        }
        for note in reports.iter().flat_map(|r| &r.notes) {
            say(format!("  note: {note}"));
        }
        let received = chat.received_requests().await.unwrap_or_default();
        let posted = |channel: &str| {
            received
                .iter()
                .filter(|r| r.url.path() == format!("/{channel}"))
                .count()
        };
        let (slack, teams) = (posted("slack"), posted("teams"));
        let mut per_state: BTreeMap<String, usize> = BTreeMap::new();
        for line in &lines {
            *per_state.entry(line.state.clone()).or_default() += 1;
        }
        let noticing = notice
            .as_ref()
            .map(|(_, _, run)| run.clone())
            .unwrap_or_default();
        let failed = onboarding.failed
            + maintenance.failed
            + noticing.failed
            + exceptions.failed
            + spending.failed
            + requesting.failed;
        if json {
            let summary = json!({
                "accounts": lines.len(),
                "accounts_per_state": per_state,
                "builds_started": onboarding.builds_started + maintenance.builds_started + noticing.builds_started,
                "events_handled": onboarding.handled + maintenance.handled + noticing.handled + exceptions.handled + spending.handled + requesting.handled,
                "frozen": frozen.as_ref().map(AccountId::as_str),
                "requested": requested.account.as_ref().map(AccountId::as_str),
                "notice": notice.as_ref().map(|(candidate, until, _)| json!({
                    "account": candidate.account.as_str(),
                    "purge": candidate.purge,
                    "snoozed_until": until,
                })),
                "chat": { "slack": slack, "teams": teams },
                "reports": { "files": files.len(), "mailed": mailed.len() },
                "events_failed": failed,
                "events_published": onboarding.events_published + maintenance.events_published,
                "commands_sent": onboarding.commands_sent + maintenance.commands_sent,
                "api_calls": runtime.inner().calls().total(),
            });
            emit(&format!("{summary}\n"));
        } else {
            println!("\nAccounts now");
            print!("{}", super::operate::status_table(&lines));
            let states: Vec<String> = per_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
            println!(
                "\nChat received {slack} Slack message(s) and {teams} Teams card(s) (a local webhook server stands in for them; e-mails went through the emulator's SES)"
            );
            println!(
                "{} report file(s) in s3://{}, the cost summary mailed to {}",
                files.len(),
                bucket_of(&settings),
                mailed
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "\n{} events handled ({} failed), {} builds started, {} API calls: {}",
                onboarding.handled
                    + maintenance.handled
                    + noticing.handled
                    + exceptions.handled
                    + spending.handled
                    + requesting.handled,
                failed,
                onboarding.builds_started + maintenance.builds_started + noticing.builds_started,
                runtime.inner().calls().total(),
                states.join(", ")
            );
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// What the demo's dry run "lists": what a holder might have left in a sandbox (moto
/// runs no buildspec, so the demo writes it where the purge buildspec would).
const DEMO_PREVIEW: &str = "\
us-east-1 - EC2Instance - i-0a1b2c3d4e5f60001 - [Name: \"notebook\"] - would remove
us-east-1 - EC2Instance - i-0a1b2c3d4e5f60002 - [] - would remove
us-east-1 - EC2Volume - vol-0a1b2c3d4e5f60003 - [] - would remove
eu-west-1 - S3Bucket - s3://experiments-2026 - [] - would remove
global - IAMRole - SpaDemo-CodeBuildRole - [] - filtered by config
";

/// The account whose holder the demo tells of its next purge.
struct NoticeCandidate {
    account: AccountId,
    holder: spa_core::lifecycle::Holder,
    /// When its notice is due (the dry run starts then).
    due: chrono::DateTime<chrono::Utc>,
    /// The purge it announces.
    purge: chrono::DateTime<chrono::Utc>,
}

/// The last assigned account whose settings give its holder a purge notice.
async fn notice_candidate<P: Platform>(
    engine: &spa_usecases::Engine<'_, P>,
    lines: &[operator::StatusLine],
) -> Result<Option<NoticeCandidate>, spa_usecases::ports::PortError> {
    use spa_usecases::ports::{Organization, OrganizationTree};
    let organization = engine.platform().organization();
    let now = engine.now();
    for line in lines.iter().rev().filter(|l| l.state == "assigned") {
        let ancestors: Vec<String> = organization.ancestors(line.account.as_str()).await?;
        let Some(resolved) = engine
            .settings()
            .resolve_account(line.account.as_str(), &ancestors)
            .filter(|resolved| resolved.purge_notice.is_some())
        else {
            continue;
        };
        let tags = organization.tags(&line.account).await?;
        let Ok(view) = engine.codec().decode(&tags) else {
            continue;
        };
        if let (Some(holder), Some((due, purge))) = (
            view.holder.clone(),
            view.notice_due(now, &resolved.policy()),
        ) {
            return Ok(Some(NoticeCandidate {
                account: line.account.clone(),
                holder,
                due: due.max(now),
                purge,
            }));
        }
    }
    Ok(None)
}

/// The assigned account whose spend guard is on, for the demo's freeze.
async fn spend_guard<P: Platform>(
    engine: &spa_usecases::Engine<'_, P>,
    runtime: &spa_local::Runtime<spa_aws::Connected>,
    lines: &[operator::StatusLine],
) -> Result<Option<AccountId>, spa_usecases::ports::PortError> {
    use spa_usecases::ports::OrganizationTree;
    for line in lines.iter().filter(|l| l.state == "assigned") {
        let ancestors: Vec<String> = runtime
            .platform()
            .organization()
            .ancestors(line.account.as_str())
            .await?;
        let guarded = engine
            .settings()
            .resolve_account(line.account.as_str(), &ancestors)
            .is_some_and(|resolved| resolved.spend_guard.enabled);
        if guarded {
            return Ok(Some(line.account.clone()));
        }
    }
    Ok(None)
}

/// The demo's chat: a local HTTP server that records what it receives (Slack answers
/// 200 `ok`, Teams 202), its URLs kept where the settings' webhook references say.
async fn chat_sink(
    server: &wiremock::MockServer,
    automation: &AwsConfig,
    settings: &spa_core::settings::Settings,
) -> Result<(), spa_usecases::ports::PortError> {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    for (channel, status, body) in [("slack", 200, "ok"), ("teams", 202, "")] {
        Mock::given(method("POST"))
            .and(path(format!("/{channel}")))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(server)
            .await;
    }
    let notifications = &settings.notifications;
    for (reference, channel) in [
        (notifications.slack_webhook.as_ref(), "slack"),
        (notifications.teams_webhook.as_ref(), "teams"),
    ] {
        if let Some(reference) = reference {
            let url = format!("{}/{channel}", server.uri());
            spa_aws::secrets::store_secret(automation, reference.as_str(), &url).await?;
        }
    }
    Ok(())
}

/// An AWS Budgets alert on the account's own topic, received from the central queue
/// and handed to the `budget-alerts` function as its event source mapping would.
async fn budget_alert(
    runtime: &spa_local::Runtime<spa_aws::Connected>,
    resources: &spa_local::connect::LocalResources,
    settings: &spa_core::settings::Settings,
    account: &AccountId,
) -> Result<(), spa_usecases::ports::PortError> {
    let member = runtime.inner().member_config(account).await?;
    let member = AwsConfig::from_sdk(&member, ApiCalls::new());
    let environment = settings.environment_identifier.as_str();
    let topic = spa_core::footprint::member_budget_topic_arn(
        "aws",
        settings.automation.region.as_str(),
        account,
        environment,
    );
    let budget = format!("{environment}-Budget");
    let now = runtime.platform().clock().now();
    let (subject, message) =
        synth::budget_alert_message(account, &budget, "400.00", "412.37", "500.00", now);
    spa_aws::sns::publish(&member, &topic, &subject, &message).await?;
    let event = spa_aws::sqs::receive_as_lambda_event(
        runtime.inner().automation(),
        &resources.budget_alerts_queue_url,
        &resources.budget_alerts_queue_arn,
    )
    .await?;
    if let Some(event) = event {
        runtime.deliver(
            spa_core::rules::Function::BudgetAlerts,
            event,
            format!("budget alert of {account}"),
        );
    }
    Ok(())
}

/// The demo's FinOps stage: last month's costs of the accounts (made up, a few
/// services each, tax, one credit) registered as Cost Explorer's answers in the
/// emulator, the monthly cost reports run as their schedule would (files in the
/// reports bucket, the summary mailed to FinOps), then this week's inventory.
async fn finops<P: Platform>(
    engine: &spa_usecases::Engine<'_, P>,
    payer: &AwsConfig,
    endpoint: &str,
    lines: &[operator::StatusLine],
    today: chrono::NaiveDate,
) -> Result<Vec<ReportRun>, String> {
    let month = Month::of(today).previous();
    let mut costs = CostBreakdowns {
        currency: "USD".to_owned(),
        ..CostBreakdowns::default()
    };
    let cost = |account: &AccountId, key: &str, amount: f64| AccountCost {
        account: account.clone(),
        key: key.to_owned(),
        amount: (amount * 100.0).round() / 100.0,
    };
    for (i, line) in lines.iter().enumerate() {
        let n = i as f64;
        let mut usage = 0.0;
        for (service, usage_type, amount) in [
            (
                "Amazon Elastic Compute Cloud - Compute",
                "EU-BoxUsage:t3.micro",
                40.0 + 7.5 * n,
            ),
            (
                "Amazon Simple Storage Service",
                "EU-TimedStorage-ByteHrs",
                3.2 + 0.8 * n,
            ),
            ("AWS Lambda", "EU-Request", 0.45),
        ] {
            costs.by_service.push(cost(&line.account, service, amount));
            costs
                .by_usage_type
                .push(cost(&line.account, usage_type, amount));
            usage += amount;
        }
        costs
            .by_record_type
            .push(cost(&line.account, "Usage", usage));
        costs
            .by_record_type
            .push(cost(&line.account, "Tax", usage * 0.2));
        if i == 0 {
            costs
                .by_record_type
                .push(cost(&line.account, "Credit", -10.0));
        }
    }
    // on the emulator the management side (Cost Explorer) runs on the base credentials
    spa_local::emulator::register_month_costs(payer, endpoint, month, &costs)
        .await
        .map_err(|e| e.to_string())?;
    let mut runs = Vec::new();
    for (report, period) in [
        (Report::Costs, Period::Month(month)),
        (Report::Inventory, Period::Week(Week::of(today))),
    ] {
        let run = run_report(engine, report, period, &mut Output::Bucket)
            .await
            .map_err(|e| e.to_string())?;
        runs.push(run);
    }
    Ok(runs)
}

fn bucket_of(settings: &spa_core::settings::Settings) -> String {
    settings
        .reporting
        .bucket
        .as_ref()
        .map(|b| b.as_str().to_owned())
        .unwrap_or_default()
}
