//! In-memory implementations of the ports, for tests and offline runs.

use std::collections::BTreeMap;

use super::{OrganizationTree, PortError};

/// AWS nests organizational units five deep under the root; with the root and the
/// account itself no chain is longer than this.
const MAX_DEPTH: usize = 7;

/// An organization tree held in memory: each account or OU and its parent.
#[derive(Debug, Clone, Default)]
pub struct MemoryOrganization {
    parents: BTreeMap<String, String>,
}

impl MemoryOrganization {
    /// An empty organization.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `child` (an account or OU id) under `parent` (an OU or root id).
    pub fn with_parent(mut self, child: &str, parent: &str) -> Self {
        self.set_parent(child, parent);
        self
    }

    /// Places or moves `child` under `parent`.
    pub fn set_parent(&mut self, child: &str, parent: &str) {
        self.parents.insert(child.to_owned(), parent.to_owned());
    }

    /// Reads a tree from CSV text with a `child,parent` header, one placement a row
    /// (as an operator exports it from the organization).
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
        let mut tree = Self::new();
        let mut errors = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let row = index + 2;
            match record {
                Ok(record) => match (record.get(0), record.get(1)) {
                    (Some(child), Some(parent)) if !child.is_empty() && !parent.is_empty() => {
                        tree.set_parent(child, parent);
                    }
                    _ => errors.push(format!(
                        "{file}:{row}: expected an account or OU id and the id of its parent OU or root"
                    )),
                },
                Err(error) => errors.push(format!("{file}:{row}: {error}")),
            }
        }
        if errors.is_empty() {
            Ok(tree)
        } else {
            Err(errors)
        }
    }

    /// The parents of `id`, nearest first, up to the root (the port without a runtime).
    pub fn ancestors_of(&self, id: &str) -> Result<Vec<String>, PortError> {
        let mut chain = Vec::new();
        let mut current = self
            .parents
            .get(id)
            .ok_or_else(|| PortError::NotFound { id: id.to_owned() })?;
        loop {
            if chain.len() >= MAX_DEPTH || chain.contains(current) || current == id {
                return Err(PortError::Inconsistent {
                    id: id.to_owned(),
                    why: format!("its ancestors loop or go deeper than {MAX_DEPTH} levels"),
                });
            }
            chain.push(current.clone());
            match self.parents.get(current) {
                Some(parent) => current = parent,
                None => return Ok(chain),
            }
        }
    }
}

impl OrganizationTree for MemoryOrganization {
    async fn ancestors(&self, id: &str) -> Result<Vec<String>, PortError> {
        self.ancestors_of(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn org() -> MemoryOrganization {
        MemoryOrganization::new()
            .with_parent("ou-sand-boxes", "r-root")
            .with_parent("ou-sand-team", "ou-sand-boxes")
            .with_parent("123456789012", "ou-sand-team")
    }

    #[test]
    fn ancestors_go_from_the_nearest_parent_up_to_the_root() {
        assert_eq!(
            org().ancestors_of("123456789012").unwrap(),
            ["ou-sand-team", "ou-sand-boxes", "r-root"]
        );
        assert_eq!(org().ancestors_of("ou-sand-boxes").unwrap(), ["r-root"]);
    }

    #[test]
    fn an_unknown_id_is_not_found() {
        assert_eq!(
            org().ancestors_of("210987654321"),
            Err(PortError::NotFound {
                id: "210987654321".into()
            })
        );
    }

    #[test]
    fn a_tree_reads_from_csv_and_every_bad_row_is_reported() {
        let tree = MemoryOrganization::from_csv(
            "tree.csv",
            "child,parent\nou-sand-boxes,r-root\n123456789012 , ou-sand-boxes\n",
        )
        .unwrap();
        assert_eq!(
            tree.ancestors_of("123456789012").unwrap(),
            ["ou-sand-boxes", "r-root"]
        );
        let errors =
            MemoryOrganization::from_csv("tree.csv", "child,parent\nou-a,\nou-b,r-root\nou-c\n")
                .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("tree.csv:2: expected"),
            "{}",
            errors[0]
        );
        assert!(errors[1].starts_with("tree.csv:4:"), "{}", errors[1]);
        let header = MemoryOrganization::from_csv("tree.csv", "id,parent_id\n").unwrap_err();
        assert_eq!(header, ["tree.csv:1: expected the header `child,parent`"]);
    }

    #[test]
    fn a_loop_is_reported_not_followed() {
        let looped = org().with_parent("ou-sand-boxes", "ou-sand-team");
        let error = looped.ancestors_of("123456789012").unwrap_err();
        assert!(matches!(error, PortError::Inconsistent { .. }), "{error}");
    }
}
