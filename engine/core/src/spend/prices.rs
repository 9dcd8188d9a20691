//! The price book: hourly prices by price list, region and type, and what spa
//! assumes for a type it has no price of (never nothing: the most expensive known
//! price of the type's family, else of its kind, and the report says so).

use std::collections::BTreeMap;

use super::Kind;
use crate::events::Amount;

/// The price sample spa ships (`prices.csv` beside this file).
const SAMPLE: &str = include_str!("prices.csv");

/// How a price was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// Listed for the type in the region.
    Listed,
    /// The type is listed in other regions only: the most expensive of them.
    OtherRegion,
    /// The type is not listed: the most expensive known price of its family.
    Family(String),
    /// Neither the type nor its family is listed: the most expensive known price of
    /// its kind.
    Kind,
}

impl Basis {
    /// What the report says of a price that is not listed; `None` when it is.
    pub fn note(&self) -> Option<String> {
        match self {
            Basis::Listed => None,
            Basis::OtherRegion => {
                Some("no price in this region: the most expensive region's".to_owned())
            }
            Basis::Family(family) => Some(format!(
                "no price for the type: the most expensive known of family {family}"
            )),
            Basis::Kind => Some(
                "no price for the type or its family: the most expensive known of its kind"
                    .to_owned(),
            ),
        }
    }
}

/// A price, an hour, in US dollars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub per_hour: Amount,
    pub basis: Basis,
}

/// The hourly prices of one price list in one region, as the Price List API last
/// gave them (`spa prices refresh`), kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceSheet {
    /// The price book's word for the list (`ec2`).
    pub list: String,
    pub region: String,
    /// The day they were read (UTC).
    pub read: chrono::NaiveDate,
    /// Type → USD an hour (an empty type: the list prices one thing).
    pub prices: Vec<(String, Amount)>,
}

impl PriceSheet {
    /// The sheet as `type,usd_per_hour` lines (what the store keeps).
    pub fn to_lines(&self) -> String {
        self.prices
            .iter()
            .map(|(type_name, price)| format!("{type_name},{price}\n"))
            .collect()
    }

    /// Reads `type,usd_per_hour` lines back.
    pub fn from_lines(
        list: &str,
        region: &str,
        read: chrono::NaiveDate,
        text: &str,
    ) -> Result<Self, String> {
        let mut prices = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (type_name, price) = line
                .split_once(',')
                .ok_or_else(|| format!("line {}: expected type,usd_per_hour", n + 1))?;
            let price = Amount::parse(price.trim())
                .filter(|p| p.micros() >= 0)
                .ok_or_else(|| format!("line {}: `{price}` is not a price", n + 1))?;
            prices.push((type_name.trim().to_owned(), price));
        }
        Ok(Self {
            list: list.to_owned(),
            region: region.to_owned(),
            read,
            prices,
        })
    }
}

/// Hourly prices: `(price list, region, type) → USD`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriceBook {
    prices: BTreeMap<(String, String, String), Amount>,
}

/// The family of a type: what comes before its last dot (`p4d` of `p4d.24xlarge`,
/// `db.r5` of `db.r5.large`, `anthropic` of `anthropic.claude-v2`).
fn family(type_name: &str) -> &str {
    type_name
        .rsplit_once('.')
        .map_or(type_name, |(family, _)| family)
}

impl PriceBook {
    /// The sample spa ships.
    pub fn sample() -> Self {
        // the sample is checked by the tests: a line that does not read is skipped
        Self::parse(SAMPLE).unwrap_or_default()
    }

    /// Reads `list,region,type,usd_per_hour` lines (`#` comments).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut prices = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [list, region, type_name, price] = fields[..] else {
                return Err(format!(
                    "line {}: expected list,region,type,usd_per_hour",
                    n + 1
                ));
            };
            let price = Amount::parse(price)
                .filter(|p| p.micros() >= 0)
                .ok_or_else(|| format!("line {}: `{price}` is not a price", n + 1))?;
            prices.insert(
                (list.to_owned(), region.to_owned(), type_name.to_owned()),
                price,
            );
        }
        Ok(Self { prices })
    }

    /// The book with the prices of `sheet` (they replace the sample's of the same
    /// list, region and type).
    pub fn with_sheet(mut self, sheet: &PriceSheet) -> Self {
        for (type_name, price) in &sheet.prices {
            self.prices.insert(
                (sheet.list.clone(), sheet.region.clone(), type_name.clone()),
                *price,
            );
        }
        self
    }

    /// Adds or replaces a price.
    pub fn insert(&mut self, kind: Kind, region: &str, type_name: &str, per_hour: Amount) {
        self.prices.insert(
            (
                kind.price_list().to_owned(),
                region.to_owned(),
                type_name.to_owned(),
            ),
            per_hour,
        );
    }

    /// The price of one `type_name` of `kind` in `region`, an hour.
    pub fn price(&self, kind: Kind, region: &str, type_name: &str) -> Priced {
        let list = kind.price_list();
        let key = (list.to_owned(), region.to_owned(), type_name.to_owned());
        if let Some(price) = self.prices.get(&key) {
            return Priced {
                per_hour: *price,
                basis: Basis::Listed,
            };
        }
        let of_list = || self.prices.iter().filter(move |((l, _, _), _)| l == list);
        let most = |basis, matching: &dyn Fn(&str) -> bool| {
            of_list()
                .filter(|((_, _, t), _)| matching(t))
                .map(|(_, price)| *price)
                .max()
                .map(|per_hour| Priced { per_hour, basis })
        };
        let family_of = family(type_name);
        most(Basis::OtherRegion, &|t| t == type_name)
            .or_else(|| {
                most(Basis::Family(family_of.to_owned()), &|t| {
                    !type_name.is_empty() && family(t) == family_of
                })
            })
            .or_else(|| most(Basis::Kind, &|_| true))
            .unwrap_or(Priced {
                per_hour: Amount::from_micros(0),
                basis: Basis::Kind,
            })
    }
}
