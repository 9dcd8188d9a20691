//! Reading the files a settings file names (CSV overlays), behind a trait so that
//! `settings` stays free of I/O. The file-system implementation is `crate::files`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Reads the files that a settings file refers to.
pub trait Sources {
    /// The whole text of `path` (already joined to the settings file's folder).
    fn read(&self, path: &Path) -> Result<String, io::Error>;
}

/// Files held in memory, for tests and for callers that fetched them already.
#[derive(Debug, Clone, Default)]
pub struct MemorySources {
    files: BTreeMap<PathBuf, String>,
}

impl MemorySources {
    /// No file at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl Sources for MemorySources {
    fn read(&self, path: &Path) -> Result<String, io::Error> {
        self.files.get(path).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such file: {}", path.display()),
            )
        })
    }
}
