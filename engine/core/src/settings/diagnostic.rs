//! Errors and warnings about a settings file, each with its place.

use std::fmt;

use serde::Serialize;

use super::node::Pos;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is loaded, but something should be changed.
    Warning,
    /// The file cannot be loaded.
    Error,
}

/// Where in a file a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// Line and column of a YAML file (1-based).
    Text {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// Row (line of the CSV file, the header being 1) and column name of a CSV file.
    Cell {
        /// Line of the row in the file.
        row: u64,
        /// Header of the column.
        column: String,
    },
    /// The file as a whole.
    File,
}

impl From<Pos> for Place {
    fn from(pos: Pos) -> Self {
        Place::Text {
            line: pos.line,
            column: pos.column,
        }
    }
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as named by the caller (e.g. `settings.yaml`, `examples/accounts.csv`).
    pub file: String,
    /// Where in the file.
    pub place: Place,
    /// Key path such as `organizational_units[1].budget.amount`; empty when it does not apply.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(
        file: &str,
        place: impl Into<Place>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            Severity::Error,
            file,
            place.into(),
            path.into(),
            message.into(),
        )
    }

    /// A warning.
    pub fn warning(
        file: &str,
        place: impl Into<Place>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            Severity::Warning,
            file,
            place.into(),
            path.into(),
            message.into(),
        )
    }

    fn new(severity: Severity, file: &str, place: Place, path: String, message: String) -> Self {
        Self {
            severity,
            file: file.to_owned(),
            place,
            path,
            message,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error: path: message` (the GNU format editors and CI understand).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::Text { line, column } => write!(f, "{}:{line}:{column}: ", self.file)?,
            Place::Cell { row, column } => write!(f, "{}:{row}:{column}: ", self.file)?,
            Place::File => write!(f, "{}: ", self.file)?,
        }
        match self.severity {
            Severity::Error => f.write_str("error: ")?,
            Severity::Warning => f.write_str("warning: ")?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The settings could not be loaded: every error found, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.errors))]
pub struct SettingsError {
    /// Every error, in file order.
    pub errors: Vec<Diagnostic>,
    /// Warnings found on the way.
    pub warnings: Vec<Diagnostic>,
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A key path, built while walking the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    /// The path of the document root.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path followed by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    /// This path followed by a list index.
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if n == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The closest candidate to a misspelled word, if one is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_gnu_style() {
        let d = Diagnostic::error(
            "settings.yaml",
            Pos { line: 3, column: 5 },
            "organizational_units[1].budget.amount",
            "expected a number greater than 0, found `-5`",
        );
        assert_eq!(
            d.to_string(),
            "settings.yaml:3:5: error: organizational_units[1].budget.amount: expected a number greater than 0, found `-5`"
        );
        let d = Diagnostic::error(
            "accounts.csv",
            Place::Cell {
                row: 4,
                column: "Holder".to_owned(),
            },
            "",
            "expected an e-mail address, found \"bob\"",
        );
        assert_eq!(
            d.to_string(),
            "accounts.csv:4:Holder: error: expected an e-mail address, found \"bob\""
        );
    }

    #[test]
    fn key_paths() {
        let p = KeyPath::root()
            .key("organizational_units")
            .index(1)
            .key("budget")
            .key("amount");
        assert_eq!(p.to_string(), "organizational_units[1].budget.amount");
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("budjet", ["budget", "note", "purge"]),
            Some("budget")
        );
        assert_eq!(
            did_you_mean("acount_tags", ["account_tags", "unset_tags"]),
            Some("account_tags")
        );
        assert_eq!(did_you_mean("zzz", ["budget", "note"]), None);
    }
}
