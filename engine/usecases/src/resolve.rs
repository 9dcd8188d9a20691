//! The resolved settings of an account or OU, with its place read from the
//! organization tree.

use crate::ports::{OrganizationTree, PortError};
use spa_core::settings::{Resolved, Settings};

/// The settings of account `id` (defaults ← every listed ancestor OU, nearest last ←
/// the account), or `None` when spa does not manage it.
pub async fn account_settings(
    settings: &Settings,
    tree: &impl OrganizationTree,
    id: &str,
) -> Result<Option<Resolved>, PortError> {
    let ancestors = tree.ancestors(id).await?;
    Ok(settings.resolve_account(id, &ancestors))
}

/// The settings of organizational unit `id`, or `None` when neither it nor an
/// ancestor is listed.
pub async fn ou_settings(
    settings: &Settings,
    tree: &impl OrganizationTree,
    id: &str,
) -> Result<Option<Resolved>, PortError> {
    let ancestors = tree.ancestors(id).await?;
    Ok(settings.resolve_ou(id, &ancestors))
}
