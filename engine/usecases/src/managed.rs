//! The managed accounts, listed from the organization without reading any tag: each
//! listed OU and its nested OUs (`units_in`, `accounts_in`: two calls an OU), plus the
//! listed accounts. Suspended and closing accounts are left out.

use std::collections::{BTreeMap, BTreeSet};

use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use crate::ports::{AccountStatus, Organization, Platform, PortError};
use spa_core::events::AccountId;

/// A managed account as the listing found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedAccount {
    /// Its id.
    pub id: AccountId,
    /// Its name, when the listing gave it (listed accounts outside listed OUs: none).
    pub name: Option<String>,
    /// Its parent, when the listing gave it.
    pub parent: Option<String>,
    /// The listed OU it was found under, then the names of the nested OUs
    /// (`ou-ab12-sandbox1/Team A`); empty for a listed account found alone.
    pub path: String,
}

/// Every managed account, once, by id. `under`: only those under this OU (or root),
/// nested OUs included; `None`: every listed OU and listed account.
pub async fn managed_accounts<P: Platform>(
    engine: &Engine<'_, P>,
    under: Option<&str>,
) -> Result<Vec<ManagedAccount>, UseCaseError> {
    let settings = engine.settings();
    let organization = engine.platform().organization();
    let starts: Vec<String> = match under {
        Some(unit) => vec![unit.to_owned()],
        None => settings
            .organizational_units
            .iter()
            .map(|ou| ou.identifier.as_str().to_owned())
            .collect(),
    };
    let mut found: BTreeMap<AccountId, ManagedAccount> = BTreeMap::new();
    let mut walked: BTreeSet<String> = BTreeSet::new();
    for start in starts {
        let mut stack = vec![(start.clone(), start)];
        while let Some((unit, path)) = stack.pop() {
            if !walked.insert(unit.clone()) {
                continue;
            }
            let context = || Context::step("list the managed accounts").cause(&unit);
            let accounts = match engine
                .retry()
                .run("accounts_in", || organization.accounts_in(&unit))
                .await
            {
                Ok(accounts) => accounts,
                Err(PortError::NotFound { .. }) => {
                    tracing::warn!(
                        unit,
                        "a listed organizational unit is not in the organization: skipped"
                    );
                    continue;
                }
                Err(error) => return Err(error).within(context),
            };
            for account in accounts {
                if account.status != AccountStatus::Active {
                    continue;
                }
                found.entry(account.id.clone()).or_insert(ManagedAccount {
                    id: account.id,
                    name: Some(account.name),
                    parent: Some(unit.clone()),
                    path: path.clone(),
                });
            }
            let units = engine
                .retry()
                .run("units_in", || organization.units_in(&unit))
                .await
                .within(context)?;
            for child in units {
                stack.push((child.id, format!("{path}/{}", child.name)));
            }
        }
    }
    if under.is_none() {
        for account in &settings.accounts {
            let Some(id) = AccountId::parse(account.identifier.as_str()) else {
                continue;
            };
            found.entry(id.clone()).or_insert(ManagedAccount {
                id,
                name: None,
                parent: None,
                path: String::new(),
            });
        }
    }
    Ok(found.into_values().collect())
}
