//! The organization `spa demo` seeds in the emulator: the units and accounts the
//! settings list, placed by a `child,parent` tree, plus generated accounts; then the
//! settings are rewritten to the ids the emulator gave (it chooses its own).

use std::collections::BTreeMap;

use spa_core::settings::Settings;
use spa_usecases::ports::TreeFile;

/// A unit to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSeed {
    /// Its id in the settings (or the tree).
    pub key: String,
    /// Its name.
    pub name: String,
    /// The key of its parent unit; `None`: the root.
    pub parent: Option<String>,
}

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSeed {
    /// Its id in the settings, when listed there.
    pub key: Option<String>,
    /// Its name.
    pub name: String,
    /// Its root e-mail address.
    pub email: String,
    /// The key of its parent unit; `None`: the root.
    pub parent: Option<String>,
    /// Tags set at creation (the holder, when known).
    pub tags: BTreeMap<String, String>,
}

/// What to create, parents before children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedPlan {
    /// Units, each after its parent.
    pub units: Vec<UnitSeed>,
    /// Accounts.
    pub accounts: Vec<AccountSeed>,
}

/// What the emulator made of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// The root id.
    pub root: String,
    /// Unit keys to the ids the emulator gave.
    pub units: BTreeMap<String, String>,
    /// Account keys (listed accounts) to the ids the emulator gave.
    pub accounts: BTreeMap<String, String>,
    /// Every created account id, in plan order.
    pub created: Vec<String>,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot seed the organization: {0}")]
pub struct SeedError(pub String);

/// The plan for `settings`: every listed unit, placed by `tree` (units it does not
/// place sit under the root); every listed account, with its holder tag; and
/// `extra` generated accounts spread over the listed units, every other one with a
/// holder (`user<n>@example.com`), the others left in the pool.
pub fn plan(
    settings: &Settings,
    tree: &TreeFile,
    extra: usize,
    holder_tag: &str,
) -> Result<SeedPlan, SeedError> {
    let listed: Vec<String> = settings
        .organizational_units
        .iter()
        .map(|u| u.identifier.as_str().to_owned())
        .collect();
    let parent_of = |key: &str| -> Option<String> {
        tree.ancestors_of(key)
            .ok()
            .and_then(|chain| chain.into_iter().next())
            .filter(|p| p.starts_with("ou-"))
    };
    // every unit of the tree an account or listed unit needs, parents first
    let mut units: Vec<UnitSeed> = Vec::new();
    let add_unit = |key: &str, units: &mut Vec<UnitSeed>| -> Result<(), SeedError> {
        let mut chain = vec![key.to_owned()];
        while let Some(parent) = chain.last().and_then(|k| parent_of(k)) {
            if chain.contains(&parent) || chain.len() > 7 {
                return Err(SeedError(format!(
                    "the tree loops or is too deep at `{parent}`"
                )));
            }
            chain.push(parent);
        }
        for key in chain.into_iter().rev() {
            if !units.iter().any(|u| u.key == key) {
                let name = settings
                    .organizational_unit(&key)
                    .and_then(|u| u.item.note.clone())
                    .unwrap_or_else(|| key.clone());
                units.push(UnitSeed {
                    parent: parent_of(&key),
                    name: name.chars().take(128).collect(),
                    key,
                });
            }
        }
        Ok(())
    };
    for key in &listed {
        add_unit(key, &mut units)?;
    }
    let mut accounts = Vec::new();
    for account in &settings.accounts {
        let key = account.identifier.as_str().to_owned();
        let parent = parent_of(&key);
        if let Some(parent) = &parent {
            add_unit(parent, &mut units)?;
        }
        let mut tags = BTreeMap::new();
        if let Some(holder) = &account.holder {
            tags.insert(holder_tag.to_owned(), holder.as_str().to_owned());
        }
        accounts.push(AccountSeed {
            name: format!("sandbox-{key}"),
            email: format!("aws+{key}@example.com"),
            key: Some(key),
            parent,
            tags,
        });
    }
    if extra > 0 && listed.is_empty() {
        return Err(SeedError(
            "generated accounts go into the listed organizational units, and the settings list none".into(),
        ));
    }
    for n in 0..extra {
        let mut tags = BTreeMap::new();
        if n % 2 == 0 {
            tags.insert(holder_tag.to_owned(), format!("user{n}@example.com"));
        }
        accounts.push(AccountSeed {
            key: None,
            name: format!("sandbox-{n:04}"),
            email: format!("aws+sandbox-{n:04}@example.com"),
            parent: Some(listed[n % listed.len()].clone()),
            tags,
        });
    }
    Ok(SeedPlan { units, accounts })
}

/// The settings with the ids of `seeded` in place of the listed ones.
pub fn remap(settings: &Settings, seeded: &Seeded) -> Settings {
    let mut settings = settings.clone();
    for unit in &mut settings.organizational_units {
        if let Some(id) = seeded.units.get(unit.identifier.as_str()) {
            unit.identifier.0 = id.clone();
        }
    }
    for account in &mut settings.accounts {
        if let Some(id) = seeded
            .accounts
            .get(account.identifier.as_str())
            .and_then(|id| spa_core::events::AccountId::parse(id))
        {
            account.identifier = id;
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> (Settings, TreeFile) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let loaded =
            spa_aws::files::load_settings(std::path::Path::new(&format!("{root}/settings.yaml")))
                .expect("the example settings load");
        let csv =
            std::fs::read_to_string(format!("{root}/examples/organization.csv")).expect("tree");
        let tree = TreeFile::from_csv("organization.csv", &csv).expect("tree parses");
        (loaded.settings, tree)
    }

    #[test]
    fn the_example_seeds_nested_units_listed_accounts_and_a_pool() {
        let (settings, tree) = example();
        let plan = plan(&settings, &tree, 4, "account-holder").expect("plan");
        let units: Vec<(&str, Option<&str>)> = plan
            .units
            .iter()
            .map(|u| (u.key.as_str(), u.parent.as_deref()))
            .collect();
        assert_eq!(
            units,
            vec![
                ("ou-ab12-sandbox1", None),
                ("ou-ab12-datateam", Some("ou-ab12-sandbox1"))
            ]
        );
        let carol = plan
            .accounts
            .iter()
            .find(|a| a.key.as_deref() == Some("444444444444"))
            .expect("listed by the CSV overlay");
        assert_eq!(carol.parent.as_deref(), Some("ou-ab12-datateam"));
        assert_eq!(carol.tags["account-holder"], "carol@example.com");
        let bob = plan
            .accounts
            .iter()
            .find(|a| a.key.as_deref() == Some("222222222222"))
            .expect("bob");
        assert_eq!(bob.parent, None, "under the root, managed because listed");
        let generated: Vec<bool> = plan
            .accounts
            .iter()
            .filter(|a| a.key.is_none())
            .map(|a| a.tags.contains_key("account-holder"))
            .collect();
        assert_eq!(
            generated,
            vec![true, false, true, false],
            "every other one waits in the pool"
        );
    }

    #[test]
    fn settings_follow_the_ids_the_emulator_gave() {
        let (settings, _) = example();
        let seeded = Seeded {
            units: BTreeMap::from([("ou-ab12-sandbox1".into(), "ou-r00t-zzzzzzzz".into())]),
            accounts: BTreeMap::from([("111111111111".into(), "987654321098".into())]),
            ..Seeded::default()
        };
        let remapped = remap(&settings, &seeded);
        assert!(remapped.organizational_unit("ou-r00t-zzzzzzzz").is_some());
        assert!(remapped.organizational_unit("ou-ab12-sandbox1").is_none());
        assert!(remapped.account("987654321098").is_some());
        assert!(
            remapped.organizational_unit("ou-ab12-datateam").is_some(),
            "unmapped ids stay"
        );
    }

    #[test]
    fn generated_accounts_need_a_listed_unit() {
        let (mut settings, tree) = example();
        settings.organizational_units.clear();
        let error = plan(&settings, &tree, 3, "account-holder").expect_err("nowhere to put them");
        assert!(error.to_string().contains("list none"), "{error}");
    }
}
