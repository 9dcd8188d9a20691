//! The hexagonal rule, checked on the source: no SDK crate outside `engine/src/aws`
//! (the emulator harness in `testkit` excepted), and the pure modules do no I/O and
//! read no clock.

use std::fs;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.extension().is_some_and(|e| e == "rs") {
        assert!(dir.is_file(), "{} does not exist", dir.display());
        out.push(dir.to_path_buf());
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn offenders(dirs: &[&str], skip: &[&str], words: &[&str]) -> Vec<String> {
    let root = repository();
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&root.join(dir), &mut files);
    }
    let skip: Vec<PathBuf> = skip.iter().map(|s| root.join(s)).collect();
    let mut found = Vec::new();
    for file in files {
        if skip.iter().any(|s| file.starts_with(s)) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in words {
                if code.contains(word) {
                    found.push(format!("{}:{}: {word}", file.display(), number + 1));
                }
            }
        }
    }
    found
}

#[test]
fn only_engine_aws_names_an_sdk_crate() {
    let found = offenders(
        &["engine/src", "handlers/src", "deploy/src", "features/tests"],
        &["engine/src/aws"],
        &["aws_sdk_", "aws_config", "aws_smithy", "aws_types"],
    );
    assert!(
        found.is_empty(),
        "SDK crates named outside engine/src/aws:\n{}",
        found.join("\n")
    );
}

#[test]
fn pure_modules_do_no_io_and_read_no_clock() {
    let found = offenders(
        &[
            "engine/src/settings",
            "engine/src/lifecycle",
            "engine/src/events",
            "engine/src/reports",
            "engine/src/notify",
            "engine/src/rules",
            "engine/src/emf.rs",
            "engine/src/footprint",
        ],
        &[],
        &[
            "std::fs",
            "std::net",
            "std::process",
            "tokio",
            "reqwest",
            "Utc::now",
            "SystemTime",
            "Instant::now",
            "std::env",
        ],
    );
    assert!(
        found.is_empty(),
        "I/O or clock in a pure module:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_looks_for() {
    // The words above would be found if written: the harness names the SDK.
    let found = offenders(&["testkit/src"], &[], &["aws_config"]);
    assert!(!found.is_empty());
}
