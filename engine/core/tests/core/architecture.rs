//! What the compiler cannot see, checked on the source: the crate boundaries keep the
//! SDK out of the core, the use cases and the entry points (`spa-core` cannot even
//! name it: its dependency tree, read from `cargo tree`, has none), the core does no
//! I/O and reads no clock, and the repository stands alone (no file names what lies
//! beside it).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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
fn only_the_adapters_and_the_emulator_seeding_name_an_sdk_crate() {
    let found = offenders(
        &[
            "engine/core/src",
            "engine/usecases/src",
            "engine/aws/src",
            "engine/local/src",
            "handlers/src",
            "deploy/src",
            "cli/src",
            "features/tests",
        ],
        &[
            "engine/aws/src",
            // the local runtime on the emulator: its queue's ARN, and the seeding of its organization
            "engine/local/src/connect.rs",
            "engine/local/src/emulator.rs",
        ],
        &["aws_sdk_", "aws_config", "aws_smithy", "aws_types"],
    );
    assert!(
        found.is_empty(),
        "SDK crates named outside engine/aws:\n{}",
        found.join("\n")
    );
}

/// What `cargo tree --offline <args>` prints for the workspace.
fn cargo_tree(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline"])
        .args(args)
        .current_dir(repository())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_core_dependency_tree_has_no_sdk_no_runtime() {
    let tree = cargo_tree(&["-e", "normal", "-p", "spa-core", "--prefix", "none"]);
    assert!(tree.lines().any(|l| l.starts_with("spa-core ")), "{tree}");
    let found: Vec<&str> = tree
        .lines()
        .filter(|line| {
            [
                "aws-sdk-",
                "aws-config",
                "aws-smithy",
                "tokio ",
                "backon ",
                "reqwest ",
                "hyper ",
            ]
            .iter()
            .any(|word| line.starts_with(word))
        })
        .collect();
    assert!(found.is_empty(), "spa-core depends on: {found:?}");
}

#[test]
fn no_file_names_what_lies_beside_the_repository() {
    // Built from parts, so that this file does not name it itself.
    let beside = ["..", "/shared"].concat();
    let design = ["shared/", "DESIGN.md"].concat();
    let mut found = Vec::new();
    let mut stack = vec![repository()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(
                    name.as_ref(),
                    "target" | ".git" | ".venv" | ".tools" | "artifacts" | "corpus"
                ) {
                    stack.push(path);
                }
                continue;
            }
            let Ok(text) = fs::read_to_string(&path) else {
                continue; // not text
            };
            for (number, line) in text.lines().enumerate() {
                if line.contains(&beside) || line.contains(&design) {
                    found.push(format!("{}:{}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the repository must stand alone; these lines name what lies beside it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_does_no_io_and_reads_no_clock() {
    let found = offenders(
        &["engine/core/src"],
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

#[test]
fn no_binary_compiles_the_memory_doubles() {
    // `testing` belongs in [dev-dependencies] only: in [dependencies], the compiler
    // would build the Lambda binary or the CLI with the doubles without a word.
    let tree = cargo_tree(&["--workspace", "-e", "normal,features", "-i", "spa-usecases"]);
    assert!(tree.contains("spa-handlers"), "{tree}");
    assert!(
        !tree.contains("feature \"testing\""),
        "spa-usecases' `testing` is enabled outside dev-dependencies:\n{tree}"
    );
}

/// The modules of the pure core that each top-level module of `src` names in its
/// code (`crate::x`, or `super::x` in the module's own file), comments and tests
/// left out.
fn module_edges(
    src: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut modules = std::collections::BTreeMap::new();
    for entry in fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "tests" {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path.clone());
        }
        modules.insert(name, (path, files));
    }
    let names: Vec<String> = modules.keys().cloned().collect();
    let mut edges = std::collections::BTreeMap::new();
    for (name, (root, files)) in &modules {
        let mut named = std::collections::BTreeSet::new();
        for file in files {
            if file.file_name().is_some_and(|f| f == "tests.rs")
                || file.components().any(|c| c.as_os_str() == "tests")
            {
                continue;
            }
            let text = fs::read_to_string(file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let own_file = file == root || file.ends_with(format!("{name}/mod.rs"));
            for line in code.lines() {
                let line = line.split("//").next().unwrap_or("");
                for other in &names {
                    if other != name
                        && (line.contains(&format!("crate::{other}::"))
                            || line.contains(&format!("crate::{other}}}"))
                            || line.contains(&format!("crate::{other};"))
                            || (own_file && line.contains(&format!("super::{other}::"))))
                    {
                        named.insert(other.clone());
                    }
                }
            }
        }
        edges.insert(name.clone(), named);
    }
    edges
}

#[test]
fn the_modules_of_the_core_form_no_cycle() {
    // events reads lifecycle's states, lifecycle reads the shared vocabulary: what
    // both need lives below both, never in one of them
    let edges = module_edges(&repository().join("engine/core/src"));
    assert!(
        edges["events"].contains("lifecycle"),
        "the check sees the edges"
    );
    let mut cycles = Vec::new();
    for (from, to) in &edges {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack: Vec<Vec<String>> =
            to.iter().map(|t| vec![from.clone(), t.clone()]).collect();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            if last == from {
                cycles.push(path.join(" → "));
                break;
            }
            if !seen.insert(last.clone()) {
                continue;
            }
            for next in &edges[last] {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "module cycles in spa-core:\n{}",
        cycles.join("\n")
    );
}
