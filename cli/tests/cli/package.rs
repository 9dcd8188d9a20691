//! `spa package`: the zip holds an executable `bootstrap`, an ELF binary for the chosen
//! architecture.
//!
//! Building is a cross build of the whole engine with cargo-lambda (minutes: see the
//! figures in `workbooks/deployment/README.md`), so the build tests are ignored by
//! `cargo test` and run by `make test` (x86_64, through `make package-check`) and
//! `make package-test` (both architectures), with cargo-lambda from `make package-tools`,
//! in the `dev` profile unless `SPA_PACKAGE_PROFILE` says otherwise. `make package-size`
//! builds the deployed profile ([`PROFILE`]) for x86_64, whose `bootstrap` must weigh at
//! most [`MAX_X86_64_BOOTSTRAP`] bytes (about 20 minutes from nothing on 2 cores).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spa_deploy::package::{Arch, FEATURES, PROFILE, bootstrap_of, entries};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The most an x86_64 `bootstrap` of the deployed profile may weigh, stripped (issue 15:
/// a smaller binary loads faster on a cold start).
const MAX_X86_64_BOOTSTRAP: usize = 15_000_000;

/// The profile the build tests package in: `SPA_PACKAGE_PROFILE`, else `dev`.
fn profile() -> String {
    std::env::var("SPA_PACKAGE_PROFILE").unwrap_or_else(|_| "dev".into())
}

fn package(arch: &str, out: &Path, venv: Option<&Path>) -> Output {
    let profile = profile();
    let mut command = Command::new(env!("CARGO_BIN_EXE_spa"));
    command
        .args(["package", "--arch", arch, "--profile", &profile, "--out"])
        .arg(out)
        .current_dir(repo());
    if let Some(venv) = venv {
        command.env("SPA_VENV", venv).env("PATH", "/usr/bin:/bin");
    }
    command.output().expect("spa runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spa-package-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The end of a build's output, where its error is: a CI log keeps the beginning of a
/// long failure message, and the beginning of a cross build is hundreds of
/// `Compiling` lines.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skipped = lines.len().saturating_sub(count);
    let tail = lines[skipped..].join("\n");
    if skipped == 0 {
        tail
    } else {
        format!("(the last {count} of {} lines)\n{tail}", lines.len())
    }
}

fn builds(arch: Arch) {
    let out = scratch(arch.as_str());
    let result = package(arch.as_str(), &out, None);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{stdout}\n{}",
        last_lines(&String::from_utf8_lossy(&result.stderr), 60)
    );
    let zip = std::fs::read(out.join(format!("spa-{}.zip", arch.as_str()))).unwrap();
    let bootstrap = bootstrap_of(&zip, arch).expect("an executable bootstrap for the architecture");
    assert_eq!(bootstrap.mode.map(|m| m & 0o777), Some(0o755));
    let other = if arch == Arch::Arm64 {
        Arch::X86_64
    } else {
        Arch::Arm64
    };
    assert!(bootstrap_of(&zip, other).is_err(), "not for the other one");
    assert_eq!(entries(&zip).unwrap().len(), 1, "the bootstrap only");
    assert!(stdout.contains("built in"), "{stdout}");
    if arch == Arch::X86_64 && profile() == PROFILE {
        assert!(
            bootstrap.data.len() <= MAX_X86_64_BOOTSTRAP,
            "bootstrap is {} bytes, over {MAX_X86_64_BOOTSTRAP}",
            bootstrap.data.len()
        );
    }
    std::fs::remove_dir_all(out).ok();
}

#[test]
#[ignore = "cross builds the engine with cargo-lambda (minutes): make package-check (part of make test)"]
fn x86_64_package_holds_an_x86_64_bootstrap() {
    builds(Arch::X86_64);
}

#[test]
#[ignore = "cross builds the engine with cargo-lambda (minutes), needs the aarch64 Rust standard library: make package-test"]
fn arm64_package_holds_an_arm64_bootstrap() {
    builds(Arch::Arm64);
}

#[test]
fn package_builds_by_default_the_release_profile_whose_panics_abort() {
    let help = Command::new(env!("CARGO_BIN_EXE_spa"))
        .args(["package", "--help"])
        .output()
        .expect("spa runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains(&format!("[default: {PROFILE}]")), "{help}");
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let section = manifest
        .split(&format!("\n[profile.{PROFILE}]\n"))
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap_or_else(|| panic!("no [profile.{PROFILE}] in the root Cargo.toml"));
    let settings: Vec<&str> = section
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect();
    assert!(settings.contains(&"inherits = \"release\""), "{section}");
    assert!(settings.contains(&"panic = \"abort\""), "{section}");
}

/// A stand-in for cargo-lambda in a scratch venv: it writes down its arguments and the
/// `RUSTFLAGS` it was given, and fails. What `spa package` asks of cargo-lambda, without
/// a build.
fn recorded_build(name: &str, profile: &str, rustflags: Option<&str>) -> (Vec<String>, String) {
    let venv = scratch(name);
    let bin = venv.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("cargo-lambda");
    std::fs::write(
        &tool,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\nprintf '%s' \"${RUSTFLAGS-}\" > \"$0.rustflags\"\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_spa"));
    command
        .args(["package", "--arch", "x86_64", "--profile", profile, "--out"])
        .arg(venv.join("out"))
        .current_dir(repo())
        .env("SPA_VENV", &venv)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("RUSTFLAGS");
    if let Some(flags) = rustflags {
        command.env("RUSTFLAGS", flags);
    }
    let result = command.output().expect("spa runs");
    assert_eq!(result.status.code(), Some(1), "{result:?}");
    let args = std::fs::read_to_string(bin.join("cargo-lambda.args")).unwrap();
    let flags = std::fs::read_to_string(bin.join("cargo-lambda.rustflags")).unwrap();
    std::fs::remove_dir_all(venv).ok();
    (args.lines().map(str::to_owned).collect(), flags)
}

/// `flag` followed by `value` in `args`.
fn has(args: &[String], flag: &str, value: &str) -> bool {
    args.windows(2)
        .any(|pair| pair[0] == flag && pair[1] == value)
}

#[test]
fn every_package_is_built_with_the_features_of_the_lambda_build() {
    for profile in [PROFILE, "dev"] {
        let (args, _) = recorded_build(&format!("features-{profile}"), profile, None);
        assert!(has(&args, "--features", FEATURES), "{args:?}");
        assert!(has(&args, "--package", "spa-handlers"), "{args:?}");
        assert!(has(&args, "--profile", profile), "{args:?}");
    }
}

#[test]
fn without_cargo_lambda_package_says_how_to_get_it() {
    let venv = scratch("no-venv");
    let out = scratch("no-venv-out");
    let result = package("arm64", &out, Some(&venv));
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("cannot run `cargo-lambda`") && stderr.contains("make package-tools"),
        "{stderr}"
    );
    assert!(!out.join("spa-arm64.zip").exists());
}
