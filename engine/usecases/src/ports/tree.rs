//! [`TreeFile`]: where accounts and units sit, read from a `child,parent` CSV file (as an
//! operator exports it from the organization), for what runs without AWS: `spa plan
//! --tree` resolves settings through it, `spa demo` seeds the emulator's organization
//! from it. It serves the [`OrganizationTree`] port offline; the in-memory organization
//! of the tests places its accounts with the same ancestry rules ([`ancestors`]).

use std::collections::BTreeMap;

use super::{OrganizationTree, PortError};

/// AWS nests organizational units five deep under the root; with the root and the
/// account itself no chain is longer than this.
pub(crate) const MAX_DEPTH: usize = 7;

/// The parents of `id` in a child → parent map, nearest first, up to the root.
///
/// An id without a parent is `NotFound`; a chain that loops or goes deeper than AWS
/// allows is `Inconsistent`.
pub(crate) fn ancestors(
    parents: &BTreeMap<String, String>,
    id: &str,
) -> Result<Vec<String>, PortError> {
    let mut chain = Vec::new();
    let mut current = parents
        .get(id)
        .ok_or_else(|| PortError::not_in_organization(id))?;
    loop {
        if chain.len() >= MAX_DEPTH || chain.contains(current) || current == id {
            return Err(PortError::Inconsistent {
                id: id.to_owned(),
                why: format!("its ancestors loop or go deeper than {MAX_DEPTH} levels"),
            });
        }
        chain.push(current.clone());
        match parents.get(current) {
            Some(parent) => current = parent,
            None => return Ok(chain),
        }
    }
}

/// An organization's tree as a `child,parent` file describes it: each account or OU id
/// and the id of its parent OU or root. Nothing else (no names, no tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeFile {
    parents: BTreeMap<String, String>,
}

impl TreeFile {
    /// Reads a tree from CSV text with a `child,parent` header, one placement a row.
    ///
    /// Errors name `file:row` and what was expected; every bad row is reported.
    pub fn from_csv(file: &str, text: &str) -> Result<Self, Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header_ok = reader
            .headers()
            .is_ok_and(|h| h.len() == 2 && h.get(0) == Some("child") && h.get(1) == Some("parent"));
        if !header_ok {
            return Err(vec![format!(
                "{file}:1: expected the header `child,parent`"
            )]);
        }
        let mut parents = BTreeMap::new();
        let mut errors = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let row = index + 2;
            match record {
                Ok(record) => match (record.get(0), record.get(1)) {
                    (Some(child), Some(parent)) if !child.is_empty() && !parent.is_empty() => {
                        parents.insert(child.to_owned(), parent.to_owned());
                    }
                    _ => errors.push(format!(
                        "{file}:{row}: expected an account or OU id and the id of its parent OU or root"
                    )),
                },
                Err(error) => errors.push(format!("{file}:{row}: {error}")),
            }
        }
        if errors.is_empty() {
            Ok(Self { parents })
        } else {
            Err(errors)
        }
    }

    /// The parents of `id`, nearest first, up to the root (the port without a runtime).
    pub fn ancestors_of(&self, id: &str) -> Result<Vec<String>, PortError> {
        ancestors(&self.parents, id)
    }
}

impl OrganizationTree for TreeFile {
    async fn ancestors(&self, id: &str) -> Result<Vec<String>, PortError> {
        self.ancestors_of(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_tree_reads_from_csv_and_every_bad_row_is_reported() {
        let tree = TreeFile::from_csv(
            "tree.csv",
            "child,parent\nou-sand-boxes,r-root\n123456789012 , ou-sand-boxes\n",
        )
        .unwrap();
        assert_eq!(
            tree.ancestors_of("123456789012").unwrap(),
            ["ou-sand-boxes", "r-root"]
        );
        let errors =
            TreeFile::from_csv("tree.csv", "child,parent\nou-a,\nou-b,r-root\nou-c\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("tree.csv:2: expected"),
            "{}",
            errors[0]
        );
        assert!(errors[1].starts_with("tree.csv:4:"), "{}", errors[1]);
        let header = TreeFile::from_csv("tree.csv", "id,parent_id\n").unwrap_err();
        assert_eq!(header, ["tree.csv:1: expected the header `child,parent`"]);
    }

    #[test]
    fn an_unknown_id_is_not_found_and_a_loop_is_reported_not_followed() {
        let tree = TreeFile::from_csv("tree.csv", "child,parent\nou-a,ou-b\nou-b,ou-a\n").unwrap();
        assert_eq!(
            tree.ancestors_of("ou-c"),
            Err(PortError::not_in_organization("ou-c"))
        );
        let error = tree.ancestors_of("ou-a").unwrap_err();
        assert!(matches!(error, PortError::Inconsistent { .. }), "{error}");
    }
}
