//! `spa deploy` and `spa destroy` against the emulator, as an operator runs them:
//! change sets shown and confirmed (or refused without a terminal), the package and
//! the settings uploaded, stacks created, left alone when nothing changed, deleted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use spa_aws::AwsConfig;
use spa_aws::cloudformation::Stacks;
use spa_aws::metrics::ApiCalls;
use spa_aws::ssm::SsmParameters;
use spa_deploy::package;
use spa_usecases::ports::Parameters;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spa(args: &[&str], endpoint: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spa"));
    command
        .args(args)
        .current_dir(repo())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SPA_ORGANIZATION_ID")
        .stdin(Stdio::null());
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    command.output().expect("spa runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A package whose `bootstrap` has the ELF header of a `machine` executable.
fn fake_package(name: &str, machine: u16) -> PathBuf {
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    elf.extend(3u16.to_le_bytes());
    elf.extend(machine.to_le_bytes());
    elf.extend([0; 44]);
    let dir = std::env::temp_dir().join(format!("spa-deploy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spa-arm64.zip");
    std::fs::write(&path, package::zip(&elf, &[]).unwrap()).unwrap();
    path
}

const ARM64: u16 = 0xB7;
const X86_64: u16 = 0x3E;
const ORG: &str = "o-a1b2c3d4e5";

async fn config(endpoint: &str, region: &str) -> AwsConfig {
    AwsConfig::load(
        region,
        Some(endpoint),
        spa_aws::BaseCredentials::Emulator,
        ApiCalls::new(),
    )
    .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn deploy_creates_the_stacks_then_changes_nothing_then_destroy_deletes_them() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    let zip = fake_package("full", ARM64);
    let deploy = [
        "deploy",
        "--zip",
        zip.to_str().unwrap(),
        "--organization-id",
        ORG,
        "--yes",
    ];
    let out = spa(&deploy, Some(&endpoint));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("SpaDemo-artifacts: create, 1 change(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ACTION  RESOURCE"),
        "the change set as a table: {stdout}"
    );
    assert!(
        stdout.contains("SpaDemo-automation: CREATE_COMPLETE"),
        "{stdout}"
    );
    assert!(stdout.contains("settings: /SpaDemo/settings"), "{stdout}");
    assert!(
        stderr.contains("SpaDemo-automation: the emulator lacks")
            && stderr.contains("AWS::Scheduler::Schedule"),
        "what moto cannot create is said: {stderr}"
    );

    // the functions' settings: in SSM, loadable without the CSV file
    let settings = runtime().block_on(async {
        let config = config(&endpoint, "eu-west-1").await;
        SsmParameters::new(config.ssm())
            .get("/SpaDemo/settings")
            .await
            .unwrap()
    });
    let loaded = spa_core::settings::load(
        "ssm:/SpaDemo/settings",
        &settings,
        &spa_core::settings::MemorySources::new(),
    )
    .unwrap();
    assert_eq!(loaded.settings.environment_identifier, "SpaDemo");
    assert!(loaded.settings.accounts_csv.is_empty());

    // the same deployment again: nothing to change, nothing asked
    let out = spa(&deploy, Some(&endpoint));
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("SpaDemo-artifacts: no change"), "{stdout}");
    assert!(stdout.contains("SpaDemo-automation: no change"), "{stdout}");

    let out = spa(&["destroy", "--yes"], Some(&endpoint));
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("SpaDemo-automation: deleted"), "{stdout}");
    assert!(stdout.contains("SpaDemo-artifacts: deleted"), "{stdout}");
    assert!(stdout.contains("kept: the tables"), "{stdout}");
    let out = spa(&["destroy", "--yes"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("nothing to delete"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn without_a_terminal_deploy_and_destroy_want_yes_and_change_nothing() {
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    let zip = fake_package("refused", ARM64);
    let out = spa(
        &[
            "deploy",
            "--zip",
            zip.to_str().unwrap(),
            "--organization-id",
            ORG,
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("create the stack SpaDemo-artifacts: confirm with --yes"),
        "{}",
        text(&out.stderr)
    );
    let exists = runtime().block_on(async {
        let config = config(&endpoint, "eu-west-1").await;
        Stacks::new(&config)
            .describe("SpaDemo-artifacts")
            .await
            .unwrap()
    });
    assert_eq!(exists, None, "the refused change set left no stack");

    let out = spa(
        &[
            "deploy",
            "--zip",
            zip.to_str().unwrap(),
            "--organization-id",
            ORG,
            "--yes",
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = spa(&["destroy"], Some(&endpoint));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("confirm with --yes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_package_for_the_wrong_architecture_is_refused_before_any_call() {
    let zip = fake_package("x86", X86_64);
    let out = spa(
        &[
            "deploy",
            "--zip",
            zip.to_str().unwrap(),
            "--organization-id",
            ORG,
            "--yes",
        ],
        Some("http://127.0.0.1:9"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "`bootstrap` is an ELF binary for machine 0x3e, not a Linux arm64 executable"
        ) && stderr.contains("features.arm_architecture asks for arm64"),
        "{stderr}"
    );
    let out = spa(
        &[
            "deploy",
            "--zip",
            "/nonexistent/spa.zip",
            "--organization-id",
            ORG,
            "--yes",
        ],
        Some("http://127.0.0.1:9"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("spa package --arch arm64"),
        "{}",
        text(&out.stderr)
    );
    let out = spa(
        &["deploy", "--zip", zip.to_str().unwrap(), "--yes"],
        Some("http://127.0.0.1:9"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--organization-id is needed"),
        "{}",
        text(&out.stderr)
    );
}

/// The shipped settings with the unit ids the emulator gave, in a folder of their own
/// beside links to what they name (buildspecs, CSV overlay).
fn settings_with_units(name: &str, units: &std::collections::BTreeMap<String, String>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spa-deploy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for linked in ["deploy", "examples"] {
        let link = dir.join(linked);
        if !link.exists() {
            std::os::unix::fs::symlink(repo().join(linked), link).unwrap();
        }
    }
    let mut text = std::fs::read_to_string(repo().join("settings.yaml")).unwrap();
    for (listed, given) in units {
        text = text.replace(listed.as_str(), given);
    }
    let path = dir.join("settings.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_management_stack_deploys_in_us_east_1_with_the_guardrails() {
    use spa_usecases::ports::TreeFile;
    let scenario = spa_testkit::scenario();
    let endpoint = scenario.endpoint();
    // the organization the guardrails attach to: the shipped units, nested as listed
    let shipped = spa_aws::files::load_settings(&repo().join("settings.yaml"))
        .unwrap()
        .settings;
    let tree =
        TreeFile::from_csv("tree", "child,parent\nou-ab12-datateam,ou-ab12-sandbox1\n").unwrap();
    let plan = spa_local::seed::plan(&shipped, &tree, 0, "account-holder").unwrap();
    let sdk = runtime().block_on(scenario.sdk_config());
    let seeded = runtime()
        .block_on(spa_local::emulator::seed(&sdk, &plan))
        .unwrap();
    let sandbox = seeded.units["ou-ab12-sandbox1"].clone();
    let datateam = seeded.units["ou-ab12-datateam"].clone();
    let settings = settings_with_units("guardrails", &seeded.units);
    let settings_arg = settings.to_str().unwrap();

    let out = spa(
        &[
            "deploy",
            "--stack",
            "management",
            "--settings",
            settings_arg,
            "--organization-id",
            ORG,
            "--yes",
        ],
        Some(&endpoint),
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("SpaDemo-management: CREATE_COMPLETE"),
        "{stdout}"
    );
    let state = runtime().block_on(async {
        let config = config(&endpoint, "us-east-1").await;
        Stacks::new(&config)
            .describe("SpaDemo-management")
            .await
            .unwrap()
    });
    assert!(state.is_some(), "in us-east-1");

    // Organizations holds the policies the settings make, attached where they say
    let remapped = spa_local::seed::remap(&shipped, &seeded);
    let expected = spa_core::guardrails::policies(&remapped).unwrap();
    let held = |target: &str| {
        runtime()
            .block_on(spa_local::emulator::service_control_policies(&sdk, target))
            .unwrap()
    };
    let mut on_sandbox = held(&sandbox);
    let names: Vec<&str> = on_sandbox.iter().map(|(n, _)| n.as_str()).collect();
    // FullAWSAccess stays: spa's policies only deny
    assert_eq!(
        names,
        [
            "FullAWSAccess",
            "SpaDemo-Guardrails",
            &format!("SpaDemo-Limits-{sandbox}")
        ]
    );
    on_sandbox.remove(0);
    for (name, content) in &on_sandbox {
        let policy = expected.iter().find(|p| &p.name == name).unwrap();
        assert_eq!(content, &policy.content, "{name}: the bytes synth made");
        assert!(content.len() <= spa_core::guardrails::MAX_POLICY_CHARACTERS);
    }
    assert!(
        on_sandbox[1]
            .1
            .contains("\"aws:RequestedRegion\":[\"eu-west-1\",\"us-east-1\"]")
    );
    // the nested unit has the protection of its own, its parent's limits by inheritance
    let on_datateam: Vec<String> = held(&datateam).into_iter().map(|(n, _)| n).collect();
    assert_eq!(on_datateam, ["FullAWSAccess", "SpaDemo-Guardrails"]);

    let out = spa(
        &[
            "destroy",
            "--stack",
            "management",
            "--settings",
            settings_arg,
            "--yes",
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("SpaDemo-management: deleted"));
    let left: Vec<String> = held(&sandbox).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        left,
        ["FullAWSAccess"],
        "detached and deleted with the stack"
    );
}
