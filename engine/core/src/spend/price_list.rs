//! What spa asks of the AWS Price List API (`GetProducts`), and how it reads what
//! comes back: one query per price list and region, each answer a page of product
//! documents (JSON text), each document a product and its terms.
//!
//! Only the price lists whose products name the type spa prices are asked: EC2
//! instances (EKS node groups are priced as their instances: Linux, shared tenancy, no
//! pre-installed software, capacity used), RDS DB instances (MySQL, single-AZ: a
//! Multi-AZ instance counts twice in the ledger) and NAT gateways (the hourly charge,
//! not the data processed). SageMaker training and Bedrock provisioned throughput keep
//! the shipped sample: their products name the type in attributes that vary between
//! services and years, and a guess would price them wrong without saying so.

use serde_json::Value;

use super::Kind;
use crate::events::Amount;

/// One `GetProducts` query: the products of one price list in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceQuery {
    /// The price book's word for the list (`ec2`, `rds`, `nat`).
    pub list: &'static str,
    /// The Price List service code (`AmazonEC2`).
    pub service_code: &'static str,
    /// `TERM_MATCH` filters: attribute name → value.
    pub filters: Vec<(&'static str, String)>,
    /// The product attribute that names the priced type (`instanceType`); none when
    /// the list prices one thing (a NAT gateway).
    pub type_attribute: Option<&'static str>,
    pub region: String,
}

/// The kinds whose prices the Price List API gives (see the module docs).
pub const QUERIED: [Kind; 3] = [Kind::Ec2Instance, Kind::DbInstance, Kind::NatGateway];

/// The query of `kind`'s price list in `region`; `None` for a kind that keeps the
/// sample.
pub fn query(kind: Kind, region: &str) -> Option<PriceQuery> {
    let region_filter = ("regionCode", region.to_owned());
    let query = |service_code, filters: &[(&'static str, &str)], type_attribute| {
        let mut all = vec![region_filter.clone()];
        all.extend(filters.iter().map(|(k, v)| (*k, (*v).to_owned())));
        PriceQuery {
            list: kind.price_list(),
            service_code,
            filters: all,
            type_attribute,
            region: region.to_owned(),
        }
    };
    Some(match kind {
        Kind::Ec2Instance | Kind::Nodegroup => query(
            "AmazonEC2",
            &[
                ("productFamily", "Compute Instance"),
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
            ],
            Some("instanceType"),
        ),
        Kind::DbInstance => query(
            "AmazonRDS",
            &[
                ("productFamily", "Database Instance"),
                ("databaseEngine", "MySQL"),
                ("deploymentOption", "Single-AZ"),
            ],
            Some("instanceType"),
        ),
        Kind::NatGateway => query("AmazonEC2", &[("productFamily", "NAT Gateway")], None),
        Kind::TrainingJob | Kind::ProvisionedThroughput => return None,
    })
}

/// Why a product document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a product of the Price List ({list}, {region}) cannot be read: {why}")]
pub struct PriceError {
    pub list: &'static str,
    pub region: String,
    pub why: String,
}

/// The type and hourly on-demand price of one product document; `None` for a
/// product without an hourly on-demand price in US dollars (a data charge, a
/// reservation) or without the type attribute.
pub fn hourly_price(
    query: &PriceQuery,
    document: &str,
) -> Result<Option<(String, Amount)>, PriceError> {
    let error = |why: String| PriceError {
        list: query.list,
        region: query.region.clone(),
        why,
    };
    let product: Value =
        serde_json::from_str(document).map_err(|e| error(format!("not JSON ({e})")))?;
    let attributes = &product["product"]["attributes"];
    let type_name = match query.type_attribute {
        Some(attribute) => match attributes[attribute].as_str() {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => return Ok(None),
        },
        None => String::new(),
    };
    let Some(terms) = product["terms"]["OnDemand"].as_object() else {
        return Ok(None);
    };
    let mut best: Option<Amount> = None;
    for term in terms.values() {
        let Some(dimensions) = term["priceDimensions"].as_object() else {
            continue;
        };
        for dimension in dimensions.values() {
            if dimension["unit"].as_str() != Some("Hrs") {
                continue;
            }
            let Some(text) = dimension["pricePerUnit"]["USD"].as_str() else {
                continue;
            };
            let price =
                usd(text).ok_or_else(|| error(format!("`{text}` is not a price in US dollars")))?;
            best = Some(best.map_or(price, |b| b.max(price)));
        }
    }
    Ok(best
        .filter(|price| price.micros() > 0)
        .map(|price| (type_name, price)))
}

/// A price of the Price List (`32.7726000000`: ten decimals) in millionths of a
/// dollar, rounded up: a price is never made lower than the list's.
fn usd(text: &str) -> Option<Amount> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kept, beyond) = frac.split_at(frac.len().min(6));
    let amount = Amount::parse(&format!("{int}.{kept}")).filter(|p| p.micros() >= 0)?;
    Some(if beyond.bytes().any(|b| b != b'0') {
        Amount::from_micros(amount.micros() + 1)
    } else {
        amount
    })
}

/// Every hourly price of an answer, the highest where a type comes twice (a product
/// per usage type); products that cannot be read are errors, not skipped.
pub fn hourly_prices(
    query: &PriceQuery,
    documents: &[String],
) -> Result<Vec<(String, Amount)>, PriceError> {
    let mut prices: std::collections::BTreeMap<String, Amount> = Default::default();
    for document in documents {
        if let Some((type_name, price)) = hourly_price(query, document)? {
            let entry = prices.entry(type_name).or_insert(price);
            *entry = (*entry).max(price);
        }
    }
    Ok(prices.into_iter().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spend::PriceSheet;

    /// A product document as `GetProducts` gives it (abridged: the attributes and
    /// terms spa reads, a reservation beside the on-demand term).
    fn ec2(type_name: &str, usd: &str) -> String {
        serde_json::json!({
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {"instanceType": type_name, "regionCode": "us-east-1", "operatingSystem": "Linux", "tenancy": "Shared"},
                "sku": "SKU1"
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {"SKU1.JRTCKXETXF": {"priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "beginRange": "0", "endRange": "Inf",
                    "description": format!("${usd} per On Demand Linux {type_name} Instance Hour"),
                    "pricePerUnit": {"USD": usd}
                }}, "offerTermCode": "JRTCKXETXF"}},
                "Reserved": {"SKU1.4NA7Y494T4": {"priceDimensions": {"SKU1.4NA7Y494T4.6YS6EN2CT7": {
                    "unit": "Hrs", "pricePerUnit": {"USD": "1.0000000000"}
                }}}}
            }
        })
        .to_string()
    }

    fn query_of(kind: Kind) -> PriceQuery {
        query(kind, "us-east-1").unwrap_or_else(|| panic!("{kind} is queried"))
    }

    #[test]
    fn the_queries_name_the_region_and_what_is_priced() {
        let ec2 = query_of(Kind::Ec2Instance);
        assert_eq!((ec2.list, ec2.service_code), ("ec2", "AmazonEC2"));
        assert!(
            ec2.filters
                .contains(&("regionCode", "us-east-1".to_owned()))
        );
        assert!(ec2.filters.contains(&("capacitystatus", "Used".to_owned())));
        assert_eq!(
            query_of(Kind::Nodegroup),
            ec2,
            "node groups are priced as EC2"
        );
        let rds = query_of(Kind::DbInstance);
        assert_eq!((rds.list, rds.service_code), ("rds", "AmazonRDS"));
        assert_eq!(query_of(Kind::NatGateway).type_attribute, None);
        assert_eq!(query(Kind::TrainingJob, "us-east-1"), None);
        assert_eq!(query(Kind::ProvisionedThroughput, "us-east-1"), None);
        for kind in QUERIED {
            assert!(query(kind, "eu-west-1").is_some());
        }
    }

    #[test]
    fn the_on_demand_hourly_price_is_read_rounded_up_to_the_millionth() {
        let q = query_of(Kind::Ec2Instance);
        let read = hourly_price(&q, &ec2("p4d.24xlarge", "32.7726000000")).unwrap();
        assert_eq!(
            read,
            Some(("p4d.24xlarge".to_owned(), Amount::parse("32.7726").unwrap()))
        );
        let read = hourly_price(&q, &ec2("t3.nano", "0.0052000001")).unwrap();
        assert_eq!(read.map(|(_, p)| p.micros()), Some(5201));
        // a free product (a reservation's upfront line, a host) prices nothing
        assert_eq!(
            hourly_price(&q, &ec2("t3.nano", "0.0000000000")).unwrap(),
            None
        );
    }

    #[test]
    fn a_product_without_the_type_or_an_hourly_term_is_skipped_and_bad_text_is_an_error() {
        let q = query_of(Kind::Ec2Instance);
        let no_type = r#"{"product": {"attributes": {}}, "terms": {"OnDemand": {}}}"#;
        assert_eq!(hourly_price(&q, no_type).unwrap(), None);
        let per_gb = r#"{"product": {"attributes": {"instanceType": "t3.nano"}}, "terms": {"OnDemand": {"a": {"priceDimensions": {"b": {"unit": "GB", "pricePerUnit": {"USD": "0.09"}}}}}}}"#;
        assert_eq!(hourly_price(&q, per_gb).unwrap(), None);
        let error = hourly_price(&q, "<html>").unwrap_err();
        assert!(
            error.to_string().starts_with(
                "a product of the Price List (ec2, us-east-1) cannot be read: not JSON"
            ),
            "{error}"
        );
        let bad = ec2("t3.nano", "-1");
        let error = hourly_price(&q, &bad).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("`-1` is not a price in US dollars"),
            "{error}"
        );
    }

    #[test]
    fn a_nat_gateway_is_priced_under_the_empty_type_and_a_type_twice_keeps_its_highest() {
        let nat = query_of(Kind::NatGateway);
        let hourly = r#"{"product": {"productFamily": "NAT Gateway", "attributes": {"usagetype": "NatGateway-Hours"}}, "terms": {"OnDemand": {"a": {"priceDimensions": {"b": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0450000000"}}}}}}}"#;
        let bytes = r#"{"product": {"productFamily": "NAT Gateway", "attributes": {"usagetype": "NatGateway-Bytes"}}, "terms": {"OnDemand": {"a": {"priceDimensions": {"b": {"unit": "GB", "pricePerUnit": {"USD": "0.0450000000"}}}}}}}"#;
        let prices = hourly_prices(&nat, &[hourly.to_owned(), bytes.to_owned()]).unwrap();
        assert_eq!(prices, [(String::new(), Amount::parse("0.045").unwrap())]);
        let q = query_of(Kind::Ec2Instance);
        let prices =
            hourly_prices(&q, &[ec2("m5.large", "0.096"), ec2("m5.large", "0.1")]).unwrap();
        assert_eq!(
            prices,
            [("m5.large".to_owned(), Amount::parse("0.1").unwrap())]
        );
    }

    #[test]
    fn a_sheet_replaces_the_samples_price_and_survives_the_store() {
        let sheet = PriceSheet {
            list: "ec2".into(),
            region: "us-east-1".into(),
            read: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
            prices: vec![
                ("p4d.24xlarge".into(), Amount::parse("21.9576").unwrap()),
                ("x9.huge".into(), Amount::parse("99.5").unwrap()),
            ],
        };
        let back =
            PriceSheet::from_lines("ec2", "us-east-1", sheet.read, &sheet.to_lines()).unwrap();
        assert_eq!(back, sheet);
        let book = super::super::PriceBook::sample().with_sheet(&sheet);
        let priced = book.price(Kind::Ec2Instance, "us-east-1", "p4d.24xlarge");
        assert_eq!(priced.per_hour, Amount::parse("21.9576").unwrap());
        // the sample's other prices stay
        let t3 = book.price(Kind::Ec2Instance, "us-east-1", "t3.micro");
        assert_eq!(t3.per_hour, Amount::parse("0.0104").unwrap());
        let error =
            PriceSheet::from_lines("ec2", "us-east-1", sheet.read, "t3.micro;0.01").unwrap_err();
        assert_eq!(error, "line 1: expected type,usd_per_hour");
    }
}
