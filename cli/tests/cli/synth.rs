//! `spa synth` as an operator runs it: the three templates written, nothing written
//! from settings that do not load. What the templates hold is tested in `spa-deploy`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spa"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("spa runs")
}

#[test]
fn spa_synth_writes_the_three_templates() {
    let out = std::env::temp_dir().join(format!("spa-synth-{}", std::process::id()));
    let result = spa(&[
        "synth",
        "--settings",
        "settings.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    for file in ["artifacts.json", "automation.json", "management.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let template: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
        assert!(stdout.contains(file), "{stdout}");
    }
    std::fs::remove_dir_all(out).ok();
}

#[test]
fn spa_synth_refuses_settings_that_do_not_load() {
    let dir = std::env::temp_dir().join(format!("spa-synth-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("settings.yaml");
    std::fs::write(
        &bad,
        "environment_identifier: Spa\nautomation:\n  region: nowhere\n",
    )
    .unwrap();
    let result = spa(&[
        "synth",
        "--settings",
        bad.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("settings.yaml:"), "{stderr}");
    assert!(!dir.join("out").exists(), "nothing written");
    std::fs::remove_dir_all(dir).ok();
}
