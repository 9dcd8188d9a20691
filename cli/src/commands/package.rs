//! `spa package`: builds the `bootstrap` binary for Lambda (`provided.al2023`) with
//! cargo-lambda (from PyPI, in `.venv`: it brings zig, so no system cross toolchain is
//! needed) and zips it, `bootstrap` with mode 0755.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use spa_deploy::package::{self, Arch};

/// Where cargo-lambda is: `SPA_VENV/bin`, `.venv/bin`, else the `PATH`.
fn cargo_lambda() -> PathBuf {
    let venv = std::env::var_os("SPA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv"));
    let candidate = venv.join("bin").join("cargo-lambda");
    if candidate.is_file() {
        // absolute: build scripts run elsewhere and find zig through the PATH
        std::fs::canonicalize(&candidate).unwrap_or(candidate)
    } else {
        PathBuf::from("cargo-lambda")
    }
}

/// Builds and zips; prints the zip's path and size. `profile`: `lambda-release`
/// ([`package::PROFILE`], what is deployed: the release profile with `panic = "abort"`)
/// or another cargo profile (`dev` builds faster, for tests); every profile with the
/// features of [`package::FEATURES`]. `release` is passed as cargo-lambda's
/// `--release`, which adds its own defaults (`panic = "abort"` unless the profile says
/// otherwise, a `target-cpu`); any other profile is built as it is written.
pub fn run(arch: Arch, out: &Path, profile: &str) -> ExitCode {
    let build_dir = out.join("build");
    let tool = cargo_lambda();
    // cargo-lambda finds zig beside itself when it comes from PyPI
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = tool.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut joined = std::ffi::OsString::from(bin.as_os_str());
        joined.push(":");
        joined.push(&path);
        path = joined;
    }
    let mut command = Command::new(&tool);
    command
        .env("PATH", path)
        .args([
            "lambda",
            "build",
            "--package",
            "spa-handlers",
            "--bin",
            package::BOOTSTRAP,
            "--features",
            package::FEATURES,
        ])
        .args(["--target", arch.rust_target()])
        .arg("--lambda-dir")
        .arg(&build_dir);
    if profile == "release" {
        command.arg("--release");
    } else {
        command.args(["--profile", profile]);
    }
    eprintln!(
        "building bootstrap for {} ({profile}) with {}",
        arch.as_str(),
        tool.display()
    );
    let started = std::time::Instant::now();
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!(
                "error: cargo-lambda failed ({status}): its own error is above (when it says the crate `std` cannot be found for {}, add the target's standard library: `rustup target add {}`)",
                arch.rust_target(),
                arch.rust_target()
            );
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!(
                "error: cannot run `{}`: {error}; install it with `make package-tools` (pip install cargo-lambda into .venv)",
                tool.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let binary = build_dir.join(package::BOOTSTRAP).join(package::BOOTSTRAP);
    let bytes = match std::fs::read(&binary) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", binary.display());
            return ExitCode::FAILURE;
        }
    };
    let zip = match package::zip(&bytes, &[]).and_then(|zip| {
        package::bootstrap_of(&zip, arch)?;
        Ok(zip)
    }) {
        Ok(zip) => zip,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let path = out.join(format!("spa-{}.zip", arch.as_str()));
    if let Err(error) = std::fs::write(&path, &zip) {
        eprintln!("error: cannot write `{}`: {error}", path.display());
        return ExitCode::FAILURE;
    }
    super::emit(&format!(
        "{}: bootstrap for {} ({profile}), {} bytes zipped ({} bytes binary), built in {} s\n",
        path.display(),
        arch.as_str(),
        zip.len(),
        bytes.len(),
        started.elapsed().as_secs()
    ))
}
