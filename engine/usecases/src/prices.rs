//! Prices from the AWS Price List API for the spend guard.
//!
//! [`refresh_prices`] (`spa prices refresh`) asks the Price List API for the hourly
//! on-demand prices of the lists it gives ([`price_list::QUERIED`]: EC2 instances and
//! the node groups priced as them, RDS DB instances, NAT gateways) in every region
//! holders may act in ([`price_regions`]), and keeps each list and region as one
//! sheet in the store. A query that fails, answers nothing, or answers a product that
//! cannot be read keeps the last sheet: prices are never lost to a failure, and never
//! replaced by a partial answer.
//!
//! [`price_book`] is what the spend guard prices with: the shipped sample, with the
//! sheets of the lists and regions of what runs laid over it (one store read each,
//! only those the ledger needs). A store that cannot be read leaves the sample (a
//! warning): a price is never nothing.
//!
//! The Price List client is not in the Lambda `bootstrap` (its 15 MB budget): the
//! functions read the sheets, the operator's `spa` refreshes them (prices change a
//! few times a year).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::context::Engine;
use crate::ports::{Platform, PriceList, SpendLedgers};
use spa_core::settings::Settings;
use spa_core::spend::price_list::{self, QUERIED};
use spa_core::spend::{Entry, PriceBook, PriceSheet};

/// What the refresh of one price list in one region did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The price book's word for the list (`ec2`).
    pub list: &'static str,
    pub region: String,
    /// How many prices were kept, or why the last sheet stays.
    pub result: Result<usize, String>,
}

/// The regions whose prices the spend guard needs: every region of a guardrails
/// allow-list (the defaults', a unit's, an account's), and the automation region
/// (where the guard watches when no allow-list says), each once, sorted.
pub fn price_regions(settings: &Settings) -> Vec<String> {
    let mut regions = BTreeSet::new();
    regions.insert(settings.automation.region.as_str().to_owned());
    let items = std::iter::once(&settings.defaults)
        .chain(settings.organizational_units.iter().map(|unit| &unit.item))
        .chain(settings.accounts.iter().map(|account| &account.item));
    for item in items {
        let allowed = item
            .guardrails
            .as_ref()
            .and_then(|guardrails| guardrails.allowed_regions.as_ref());
        for region in allowed.into_iter().flatten() {
            regions.insert(region.as_str().to_owned());
        }
    }
    regions.into_iter().collect()
}

/// Reads the prices of every queried list in each of `regions` from `source` and
/// keeps each in the store (see the module docs); one line per list and region.
pub async fn refresh_prices<P: Platform, L: PriceList>(
    engine: &Engine<'_, P>,
    source: &L,
    regions: &[String],
) -> Vec<Refreshed> {
    let store = engine.platform().store();
    let today = engine.now().date_naive();
    let mut refreshed = Vec::new();
    for region in regions {
        let mut asked = BTreeSet::new();
        for kind in QUERIED {
            let Some(query) = price_list::query(kind, region) else {
                continue;
            };
            if !asked.insert(query.list) {
                continue;
            }
            let result = async {
                let documents = engine
                    .retry()
                    .run("read the Price List", || source.products(&query))
                    .await
                    .map_err(|error| format!("the Price List cannot be read: {error}"))?;
                let prices = price_list::hourly_prices(&query, &documents)
                    .map_err(|error| error.to_string())?;
                if prices.is_empty() {
                    return Err(format!(
                        "the Price List answered no hourly price ({} products)",
                        documents.len()
                    ));
                }
                let sheet = PriceSheet {
                    list: query.list.to_owned(),
                    region: region.clone(),
                    read: today,
                    prices,
                };
                engine
                    .retry()
                    .run("keep the prices", || store.set_price_sheet(&sheet))
                    .await
                    .map_err(|error| format!("the prices cannot be kept: {error}"))?;
                Ok(sheet.prices.len())
            }
            .await;
            match &result {
                Ok(count) => {
                    tracing::info!(list = query.list, region, count, "prices kept");
                }
                Err(why) => {
                    tracing::warn!(list = query.list, region, why, "the last prices are kept");
                }
            }
            refreshed.push(Refreshed {
                list: query.list,
                region: region.clone(),
                result,
            });
        }
    }
    refreshed
}

/// The price book of `ledger` at `at`: the sample, with the kept sheets of the lists
/// and regions of what runs laid over it (see the module docs).
pub(crate) async fn price_book<P: Platform>(
    engine: &Engine<'_, P>,
    ledger: &[Entry],
    at: DateTime<Utc>,
) -> PriceBook {
    let store = engine.platform().store();
    let needed: BTreeSet<(&'static str, &str)> = ledger
        .iter()
        .filter(|entry| entry.alive(at))
        .filter_map(|entry| {
            let resource = &entry.resource;
            price_list::query(resource.kind, &resource.region)
                .map(|query| (query.list, resource.region.as_str()))
        })
        .collect();
    let mut book = PriceBook::sample();
    for (list, region) in needed {
        match store.price_sheet(list, region).await {
            Ok(Some(sheet)) => book = book.with_sheet(&sheet),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(list, region, %error, "the kept prices cannot be read: the sample prices");
            }
        }
    }
    book
}
