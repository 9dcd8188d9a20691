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

    fn chain(&self, id: &str) -> Result<Vec<String>, PortError> {
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
        self.chain(id)
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
            org().chain("123456789012").unwrap(),
            ["ou-sand-team", "ou-sand-boxes", "r-root"]
        );
        assert_eq!(org().chain("ou-sand-boxes").unwrap(), ["r-root"]);
    }

    #[test]
    fn an_unknown_id_is_not_found() {
        assert_eq!(
            org().chain("210987654321"),
            Err(PortError::NotFound {
                id: "210987654321".into()
            })
        );
    }

    #[test]
    fn a_loop_is_reported_not_followed() {
        let looped = org().with_parent("ou-sand-boxes", "ou-sand-team");
        let error = looped.chain("123456789012").unwrap_err();
        assert!(matches!(error, PortError::Inconsistent { .. }), "{error}");
    }
}
