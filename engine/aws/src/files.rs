//! The file-system side of settings: [`FileSources`] reads the files a settings file
//! names, [`load_settings`] reads the settings file itself and [`load_buildspecs`] the
//! buildspecs it names; all refuse files over [`MAX_FILE_BYTES`] before reading them
//! whole.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use spa_core::footprint::Buildspecs;
use spa_core::settings::{
    Diagnostic, Loaded, MAX_FILE_BYTES, Place, Settings, SettingsError, Sources,
};

/// Reads files from the file system, up to [`MAX_FILE_BYTES`] each.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSources;

impl Sources for FileSources {
    fn read(&self, path: &Path) -> Result<String, io::Error> {
        read_bounded(path, MAX_FILE_BYTES)
    }
}

/// Reads a UTF-8 text file of at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: usize) -> Result<String, io::Error> {
    let file = File::open(path)?;
    let too_large = |size: u64| {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "the file has {size} bytes; the limit is {limit} bytes ({} MiB)",
                limit / (1024 * 1024)
            ),
        )
    };
    let size = file.metadata()?.len();
    if size > limit as u64 {
        return Err(too_large(size));
    }
    // The size may change between the check and the read: never read past the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
}

/// Reads and loads the settings file at `path`; CSV overlays are read beside it.
pub fn load_settings(path: &Path) -> Result<Loaded, SettingsError> {
    let name = path.display().to_string();
    let text = read_bounded(path, MAX_FILE_BYTES).map_err(|error| SettingsError {
        errors: vec![Diagnostic::error(
            &name,
            Place::File,
            "",
            format!("cannot read the settings file: {error}"),
        )],
        warnings: Vec::new(),
    })?;
    spa_core::settings::load(&name, &text, &FileSources)
}

/// Reads every buildspec file the settings at `path` name (relative to the folder of
/// `path`); a missing file, or a path that is absolute or leaves that folder, is an
/// error naming the key (`defaults.preparation.buildspec`). See [`Buildspecs::load`].
pub fn load_buildspecs(path: &Path, settings: &Settings) -> Result<Buildspecs, SettingsError> {
    Buildspecs::load(&path.display().to_string(), settings, &FileSources)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("spa-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn refuses_files_over_the_budget() {
        let dir = scratch("big");
        let path = dir.join("big.csv");
        std::fs::write(&path, vec![b'a'; 2048]).unwrap();
        let error = read_bounded(&path, 1024).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert!(
            error
                .to_string()
                .contains("the file has 2048 bytes; the limit is 1024 bytes"),
            "{error}"
        );
        assert_eq!(read_bounded(&path, 4096).unwrap().len(), 2048);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_settings_file_is_one_clear_error() {
        let error = load_settings(Path::new("/nonexistent/settings.yaml")).unwrap_err();
        assert_eq!(error.errors.len(), 1);
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/settings.yaml: error: cannot read the settings file:"),
            "{error}"
        );
    }

    #[test]
    fn overlays_are_read_beside_the_settings_file() {
        let dir = scratch("overlay");
        std::fs::write(
            dir.join("accounts.csv"),
            "Account,Note\n123456789012,from csv\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("settings.yaml"),
            "environment_identifier: Spa\nautomation:\n  account_id: '123456789012'\n  region: eu-west-1\n  maintenance_window: rate(7 days)\n  management_role_arn: arn:aws:iam::123456789012:role/Spa\naccounts_csv: [accounts.csv]\n",
        )
        .unwrap();
        let loaded = load_settings(&dir.join("settings.yaml")).unwrap();
        assert_eq!(
            loaded.settings.accounts[0].item.note.as_deref(),
            Some("from csv")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shipped_settings_name_buildspecs_that_exist() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../settings.yaml");
        let loaded = load_settings(&path).unwrap();
        let specs = load_buildspecs(&path, &loaded.settings).unwrap();
        assert_eq!(
            specs.paths().collect::<Vec<_>>(),
            [
                "deploy/buildspecs/prepare.yaml",
                "deploy/buildspecs/purge.yaml"
            ]
        );
    }

    #[test]
    fn missing_buildspec_is_one_clear_error() {
        let dir = scratch("buildspec");
        std::fs::write(
            dir.join("settings.yaml"),
            "environment_identifier: Spa\nautomation:\n  account_id: '123456789012'\n  region: eu-west-1\n  maintenance_window: rate(7 days)\n  management_role_arn: arn:aws:iam::123456789012:role/Spa\ndefaults:\n  preparation:\n    feature: enabled\n    buildspec: x.yaml\n",
        )
        .unwrap();
        let path = dir.join("settings.yaml");
        let loaded = load_settings(&path).unwrap();
        let error = load_buildspecs(&path, &loaded.settings).unwrap_err();
        assert_eq!(error.errors.len(), 1);
        assert_eq!(
            error.to_string(),
            format!(
                "{}: error: buildspec `x.yaml` named at defaults.preparation.buildspec: not found (looked for `{}`)",
                path.display(),
                dir.join("x.yaml").display()
            )
        );
        std::fs::write(dir.join("x.yaml"), "version: 0.2\n").unwrap();
        assert!(load_buildspecs(&path, &loaded.settings).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
