//! `spa deploy` and `spa destroy`: the stacks of the settings' deployment, created or
//! updated through change sets that are shown and confirmed before they run.
//!
//! `spa deploy` (automation account, `automation.region`): the artifacts stack, then
//! the package uploaded to its bucket (with the buildspecs the settings name), the
//! resolved settings pushed to SSM Parameter Store, then the automation stack.
//! `spa deploy --stack management` (management account, `us-east-1`): the role spa
//! assumes and the forwarding of Organizations events. Against the emulator
//! (`--endpoint-url`), what moto cannot create is left out, and said.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;
use spa_aws::cloudformation::{
    ChangeSet, ChangeSetKind, MAX_TEMPLATE_BODY, StackEvent, StackRequest, Stacks, TemplateSource,
};
use spa_aws::metrics::ApiCalls;
use spa_aws::s3::S3Objects;
use spa_aws::ssm::SsmParameters;
use spa_aws::{AwsConfig, BaseCredentials};
use spa_core::lifecycle::BuildKind;
use spa_deploy::package::{self, Arch};
use spa_deploy::release::{object_url, settings_document};
use spa_deploy::synth::{Names, ORGANIZATIONS_REGION, Stacks as Templates, SynthOptions, Template};
use spa_deploy::synth::{automation::architecture, checks, emulator, synth};
use spa_usecases::ports::{Objects, Parameters};

use super::live::{Loaded, block_on, spinner, table};
use crate::cli::{DeployArgs, StackChoice};

/// What a deployment needs, loaded and checked before anything is called.
struct Plan {
    loaded: Loaded,
    templates: Templates,
    emulated: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// Loads the settings, synthesizes and checks the templates.
fn prepare(settings: &Path, endpoint: Option<String>) -> Result<Plan, ExitCode> {
    let live = crate::cli::Live {
        settings: settings.to_path_buf(),
        endpoint_url: endpoint,
    };
    let loaded = super::live::load(&live)?;
    let templates = synth(&loaded.settings, SynthOptions::default()).map_err(fail)?;
    let mut broken = 0;
    for (file, template) in templates.files() {
        let json = template.to_json().map_err(fail)?;
        for violation in checks::check(&json) {
            eprintln!("{file}: error: {violation}");
            broken += 1;
        }
    }
    if broken > 0 {
        return Err(fail(format!("{broken} rule(s) broken: nothing deployed")));
    }
    let emulated = loaded.endpoint.is_some();
    Ok(Plan {
        loaded,
        templates,
        emulated,
    })
}

async fn config(region: &str, endpoint: Option<&str>) -> AwsConfig {
    let credentials = if endpoint.is_some() {
        BaseCredentials::Emulator
    } else {
        BaseCredentials::Ambient
    };
    AwsConfig::load(region, endpoint, credentials, ApiCalls::new()).await
}

/// The template as sent: cut down to what moto creates against the emulator.
fn body(template: &Template, emulated: bool, stack: &str) -> Result<Value, ExitCode> {
    let json = template.to_json().map_err(fail)?;
    if !emulated {
        return Ok(json);
    }
    let (json, left_out) = emulator::for_moto(&json);
    if !left_out.is_empty() {
        let mut kinds: Vec<&str> = left_out.iter().map(|l| l.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        eprintln!(
            "{stack}: the emulator lacks {} resource(s), left out: {}",
            left_out.len(),
            kinds.join(", ")
        );
    }
    Ok(json)
}

/// The change set as a table.
fn changes_table(change_set: &ChangeSet) -> String {
    let rows: Vec<Vec<String>> = change_set
        .changes
        .iter()
        .map(|c| {
            vec![
                c.action.clone(),
                c.logical_id.clone(),
                c.resource_type.clone(),
                c.replacement.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["ACTION", "RESOURCE", "TYPE", "REPLACEMENT"], &rows)
}

/// Asks before changing AWS; refuses without a terminal unless `--yes`.
fn confirm(question: &str, yes: bool) -> Result<(), ExitCode> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("error: {question}: confirm with --yes (standard input is not a terminal)");
        return Err(ExitCode::from(2));
    }
    eprint!("{question}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        eprintln!("nothing done");
        Err(ExitCode::FAILURE)
    }
}

/// Reports events on a spinner; failures are printed as they come.
fn reporter(bar: &indicatif::ProgressBar, stack: &str) -> impl FnMut(&StackEvent) + Send {
    let bar = bar.clone();
    let stack = stack.to_owned();
    move |event: &StackEvent| {
        let line = format!(
            "{stack}: {} {}{}",
            event.logical_id,
            event.status,
            event
                .reason
                .as_deref()
                .filter(|_| event.status.ends_with("_FAILED"))
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        if event.status.ends_with("_FAILED") {
            bar.println(&line);
        }
        bar.set_message(line);
    }
}

/// Plans, shows, confirms and executes one stack. `Ok(false)`: nothing to change.
async fn apply(stacks: &Stacks, request: &StackRequest, yes: bool) -> Result<bool, ExitCode> {
    let bar = spinner(format!("planning {}", request.name));
    let planned = stacks.plan(request).await;
    bar.finish_and_clear();
    let Some(change_set) = planned.map_err(fail)? else {
        println!("{}: no change", request.name);
        return Ok(false);
    };
    let verb = match change_set.kind {
        ChangeSetKind::Create => "create",
        ChangeSetKind::Update => "update",
    };
    println!(
        "{}: {verb}, {} change(s)\n{}",
        request.name,
        change_set.changes.len(),
        changes_table(&change_set)
    );
    if let Err(code) = confirm(&format!("{verb} the stack {}", request.name), yes) {
        if let Err(error) = stacks.discard(&change_set).await {
            eprintln!("warning: the change set was not deleted: {error}");
        }
        return Err(code);
    }
    let bar = spinner(format!("{}: {verb}", request.name));
    let mut progress = reporter(&bar, &request.name);
    let result = stacks.execute(&change_set, &mut progress).await;
    bar.finish_and_clear();
    let state = result.map_err(fail)?;
    println!("{}: {}", request.name, state.status);
    Ok(true)
}

fn request(
    name: &str,
    template: TemplateSource,
    parameters: &[(&str, &str)],
    tags: &BTreeMap<String, String>,
) -> StackRequest {
    StackRequest {
        name: name.to_owned(),
        template,
        parameters: parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        tags: tags.clone(),
    }
}

/// The package to upload: the zip given, its `bootstrap` checked for the settings'
/// architecture, with the buildspecs the settings name.
fn package_for(plan: &Plan, zip: &Path) -> Result<Vec<u8>, ExitCode> {
    let arch = Arch::parse(architecture(&plan.loaded.settings)).unwrap_or(Arch::Arm64);
    let bytes = std::fs::read(zip).map_err(|e| {
        fail(format!(
            "cannot read the package `{}`: {e} (make it with `spa package --arch {}`)",
            zip.display(),
            arch.as_str()
        ))
    })?;
    package::bootstrap_of(&bytes, arch).map_err(|e| {
        fail(format!(
            "{}: {e} (features.arm_architecture asks for {})",
            zip.display(),
            arch.as_str()
        ))
    })?;
    let buildspecs = &plan.loaded.buildspecs;
    let files: Vec<(String, Vec<u8>)> = buildspecs
        .paths()
        .filter_map(|p| {
            buildspecs
                .text(Some(p), BuildKind::Preparation)
                .ok()
                .map(|t| (p.to_owned(), t.as_bytes().to_vec()))
        })
        .collect();
    package::with_files(&bytes, &files).map_err(fail)
}

/// `spa deploy`.
pub fn deploy(args: &DeployArgs) -> ExitCode {
    let plan = match prepare(
        &args.live.settings,
        args.live.endpoint_url.clone().filter(|e| !e.is_empty()),
    ) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let result = block_on(async {
        match args.stack {
            StackChoice::Automation => deploy_automation(&plan, args).await,
            StackChoice::Management => deploy_management(&plan, args).await,
        }
    });
    match result {
        Ok(Ok(())) => {
            // the functions price with what `spa prices refresh` kept (the Price List
            // client is not in their package): refreshed with each deployment
            if args.stack == StackChoice::Automation
                && !plan.emulated
                && plan.loaded.settings.spend_guard_anywhere()
            {
                println!("the spend guard is on: its prices are read from the AWS Price List");
                if super::prices::refresh(&args.live, &[], false) != ExitCode::SUCCESS {
                    eprintln!(
                        "warning: the deployment is done, but some prices keep their last (or the shipped sample's): run `spa prices refresh` again"
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Ok(Err(code)) | Err(code) => code,
    }
}

async fn deploy_automation(plan: &Plan, args: &DeployArgs) -> Result<(), ExitCode> {
    let settings = &plan.loaded.settings;
    let names: &Names = &plan.templates.names;
    let region = settings.automation.region.as_str();
    let endpoint = plan.loaded.endpoint.as_deref();
    let organization = args
        .organization_id
        .as_deref()
        .ok_or_else(|| fail("--organization-id is needed for the automation stack (the organization whose accounts may put events on the bus)"))?;
    let zip_path = args.zip.clone().unwrap_or_else(|| {
        Path::new("target/lambda").join(format!("spa-{}.zip", architecture(settings)))
    });
    let zip = package_for(plan, &zip_path)?;
    let config = config(region, endpoint).await;
    let stacks = Stacks::new(&config).with_polling(poll(plan.emulated), Duration::from_secs(3600));
    let tags = spa_deploy::synth::automation::tags(settings);

    let artifacts = body(
        &plan.templates.artifacts,
        plan.emulated,
        &names.artifacts_stack,
    )?;
    apply(
        &stacks,
        &request(
            &names.artifacts_stack,
            TemplateSource::Body(artifacts.to_string()),
            &[],
            &tags,
        ),
        args.yes,
    )
    .await?;

    let objects = S3Objects::new(config.s3(), &names.artifacts_bucket);
    let key = package::content_key(&zip);
    let size = zip.len();
    let bar = spinner(format!("uploading the package ({size} bytes)"));
    let uploaded = objects.put(&key, zip, "application/zip").await;
    bar.finish_and_clear();
    uploaded.map_err(fail)?;
    println!(
        "package: s3://{}/{key} ({size} bytes)",
        names.artifacts_bucket
    );

    let document = settings_document(settings, names).map_err(fail)?;
    SsmParameters::new(config.ssm())
        .put(&names.settings_parameter, &document)
        .await
        .map_err(fail)?;
    println!(
        "settings: {} ({} bytes)",
        names.settings_parameter,
        document.len()
    );

    let automation = body(
        &plan.templates.automation,
        plan.emulated,
        &names.automation_stack,
    )?;
    let text = automation.to_string();
    let template = if text.len() > MAX_TEMPLATE_BODY {
        let template_key = format!(
            "templates/{}-{}.json",
            names.automation_stack,
            package::content_key(text.as_bytes())
                .trim_start_matches("bootstrap/")
                .trim_end_matches(".zip")
        );
        objects
            .put(&template_key, text.into_bytes(), "application/json")
            .await
            .map_err(fail)?;
        TemplateSource::Url(object_url(&names.artifacts_bucket, region, &template_key))
    } else {
        TemplateSource::Body(text)
    };
    let mut parameters = vec![
        ("ArtifactBucket", names.artifacts_bucket.as_str()),
        ("ArtifactKey", key.as_str()),
        ("OrganizationId", organization),
    ];
    if settings.features.incident_manager {
        parameters.push((
            "IncidentReplicationSet",
            args.incident_replication_set.as_str(),
        ));
    }
    apply(
        &stacks,
        &request(&names.automation_stack, template, &parameters, &tags),
        args.yes,
    )
    .await?;
    Ok(())
}

async fn deploy_management(plan: &Plan, args: &DeployArgs) -> Result<(), ExitCode> {
    let names = &plan.templates.names;
    let organization = args
        .organization_id
        .as_deref()
        .ok_or_else(|| fail("--organization-id is needed for the management stack"))?;
    let config = config(ORGANIZATIONS_REGION, plan.loaded.endpoint.as_deref()).await;
    let stacks = Stacks::new(&config).with_polling(poll(plan.emulated), Duration::from_secs(3600));
    let mut template = body(
        &plan.templates.management,
        plan.emulated,
        &names.management_stack,
    )?;
    if plan.emulated
        && let Some(map) = template.as_object_mut()
    {
        // moto does not evaluate the region assertion
        map.remove("Rules");
    }
    let tags = spa_deploy::synth::automation::tags(&plan.loaded.settings);
    apply(
        &stacks,
        &request(
            &names.management_stack,
            TemplateSource::Body(template.to_string()),
            &[("OrganizationId", organization)],
            &tags,
        ),
        args.yes,
    )
    .await?;
    Ok(())
}

fn poll(emulated: bool) -> Duration {
    if emulated {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    }
}

/// `spa destroy`: deletes the stacks; tables and buckets are kept.
pub fn destroy(
    settings: &Path,
    endpoint: Option<String>,
    stack: StackChoice,
    yes: bool,
) -> ExitCode {
    let plan = match prepare(settings, endpoint.filter(|e| !e.is_empty())) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let names = &plan.templates.names;
    let (region, stack_names) = match stack {
        StackChoice::Automation => (
            plan.loaded.settings.automation.region.as_str().to_owned(),
            vec![
                names.automation_stack.clone(),
                names.artifacts_stack.clone(),
            ],
        ),
        StackChoice::Management => (
            ORGANIZATIONS_REGION.to_owned(),
            vec![names.management_stack.clone()],
        ),
    };
    let result = block_on(async {
        let config = config(&region, plan.loaded.endpoint.as_deref()).await;
        let stacks =
            Stacks::new(&config).with_polling(poll(plan.emulated), Duration::from_secs(3600));
        let mut present = Vec::new();
        for name in &stack_names {
            if stacks.describe(name).await.map_err(fail)?.is_some() {
                present.push(name.clone());
            }
        }
        if present.is_empty() {
            println!(
                "nothing to delete: no stack {} in {region}",
                stack_names.join(", ")
            );
            return Ok(());
        }
        confirm(
            &format!(
                "delete the stack(s) {} in {region} (tables, buckets and the settings parameter are kept)",
                present.join(", ")
            ),
            yes,
        )?;
        for name in &present {
            let bar = spinner(format!("{name}: delete"));
            let mut progress = reporter(&bar, name);
            let deleted = stacks.delete(name, &mut progress).await;
            bar.finish_and_clear();
            deleted.map_err(fail)?;
            println!("{name}: deleted");
        }
        if stack == StackChoice::Automation {
            println!(
                "kept: the tables, the buckets {} and {}, the parameter {} (see workbooks/deployment/removal.md)",
                names.reports_bucket, names.artifacts_bucket, names.settings_parameter
            );
        }
        Ok(())
    });
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(code)) | Err(code) => code,
    }
}
