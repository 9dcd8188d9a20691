//! Buildspecs: the texts of the buildspec files the settings name, loaded with the
//! settings, and the shipped defaults for builds that name none.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::lifecycle::BuildKind;
use crate::settings::{Build, Diagnostic, Item, Place, Settings, SettingsError, Sources};

use super::FootprintError;

/// The shipped preparation buildspec (`deploy/buildspecs/prepare.yaml`).
pub const DEFAULT_PREPARE: &str = include_str!("../../../../deploy/buildspecs/prepare.yaml");
/// The shipped purge buildspec (`deploy/buildspecs/purge.yaml`).
pub const DEFAULT_PURGE: &str = include_str!("../../../../deploy/buildspecs/purge.yaml");

/// Buildspec texts by the path the settings name them with (relative to the settings
/// file), and the shipped defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buildspecs {
    files: BTreeMap<String, String>,
}

impl Buildspecs {
    /// No file: every build runs the shipped default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the text of the buildspec named `path` in the settings.
    pub fn with(mut self, path: impl Into<String>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }

    /// The paths loaded, as the settings name them.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The shipped buildspec of a build kind.
    pub fn default_for(kind: BuildKind) -> &'static str {
        match kind {
            BuildKind::Preparation => DEFAULT_PREPARE,
            BuildKind::Purge => DEFAULT_PURGE,
        }
    }

    /// The text of the buildspec named `path` (the shipped default when `None`).
    pub fn text(&self, path: Option<&str>, kind: BuildKind) -> Result<&str, FootprintError> {
        match path {
            None => Ok(Self::default_for(kind)),
            Some(path) => self.files.get(path).map(String::as_str).ok_or_else(|| {
                FootprintError::MissingBuildspec {
                    kind,
                    path: path.to_owned(),
                }
            }),
        }
    }

    /// Reads every buildspec the settings in `settings_file` name, through `sources`,
    /// at its path joined to the folder of the settings file.
    ///
    /// Absolute paths, and paths whose `..` climb out of the settings folder, are
    /// refused: settings name files that ship with them. Every problem is reported, each
    /// with the key that names the file.
    pub fn load(
        settings_file: &str,
        settings: &Settings,
        sources: &dyn Sources,
    ) -> Result<Self, SettingsError> {
        let folder = Path::new(settings_file)
            .parent()
            .unwrap_or_else(|| Path::new(""));
        let mut buildspecs = Self::new();
        let mut errors = Vec::new();
        for (key, path) in named_buildspecs(settings) {
            if buildspecs.files.contains_key(&path) {
                continue;
            }
            let error = |message: String| {
                Diagnostic::error(
                    settings_file,
                    Place::File,
                    "",
                    format!("buildspec `{path}` named at {key}: {message}"),
                )
            };
            if let Err(why) = check_relative(&path) {
                errors.push(error(why.to_owned()));
                continue;
            }
            match sources.read(&folder.join(&path)) {
                Ok(text) if text.trim().is_empty() => {
                    errors.push(error("the file is empty".into()))
                }
                Ok(text) => {
                    buildspecs.files.insert(path, text);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    errors.push(error(format!(
                        "not found (looked for `{}`)",
                        folder.join(&path).display()
                    )));
                }
                Err(e) => errors.push(error(format!("cannot be read: {e}"))),
            }
        }
        if errors.is_empty() {
            Ok(buildspecs)
        } else {
            Err(SettingsError {
                errors,
                warnings: Vec::new(),
            })
        }
    }
}

/// Every buildspec path the settings name, with the key that names it
/// (`defaults.preparation.buildspec`, `organizational_units[1].purge.buildspec`, ...),
/// in file order.
pub fn named_buildspecs(settings: &Settings) -> Vec<(String, String)> {
    let mut named = Vec::new();
    let mut add = |prefix: String, item: &Item| {
        for (kind, build) in [("preparation", &item.preparation), ("purge", &item.purge)] {
            if let Some(Build {
                buildspec: Some(path),
                ..
            }) = build
            {
                named.push((format!("{prefix}.{kind}.buildspec"), path.clone()));
            }
        }
    };
    add("defaults".to_owned(), &settings.defaults);
    for (index, unit) in settings.organizational_units.iter().enumerate() {
        add(format!("organizational_units[{index}]"), &unit.item);
    }
    for (index, account) in settings.accounts.iter().enumerate() {
        add(format!("accounts[{index}]"), &account.item);
    }
    named
}

/// A path relative to the settings folder that stays inside it.
fn check_relative(path: &str) -> Result<(), &'static str> {
    let mut depth: usize = 0;
    for component in Path::new(path).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(
                    "an absolute path is refused; name the file relative to the settings file",
                );
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or(
                    "the path leaves the folder of the settings file; keep buildspecs beside or below it",
                )?;
            }
            Component::Normal(_) => depth += 1,
        }
    }
    if depth == 0 {
        Err("expected the path of a file")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn relative_paths_stay_in_the_settings_folder() {
        assert!(check_relative("deploy/buildspecs/prepare.yaml").is_ok());
        assert!(check_relative("./a/../b.yaml").is_ok());
        assert!(check_relative("../b.yaml").is_err());
        assert!(check_relative("a/../../b.yaml").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative(".").is_err());
        assert!(check_relative("a/..").is_err());
    }

    #[test]
    fn defaults_are_shipped() {
        let specs = Buildspecs::new();
        assert!(
            specs
                .text(None, BuildKind::Purge)
                .unwrap()
                .contains("aws-nuke")
        );
        assert!(
            specs
                .text(None, BuildKind::Preparation)
                .unwrap()
                .contains("version: 0.2")
        );
        assert_eq!(
            specs.text(Some("x.yaml"), BuildKind::Purge),
            Err(FootprintError::MissingBuildspec {
                kind: BuildKind::Purge,
                path: "x.yaml".into()
            })
        );
    }
}
