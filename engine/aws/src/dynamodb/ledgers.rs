//! The spend guard's ledger of each account ([`SpendLedgers`]): one item per
//! resource in the transactions table.
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `spend#<account>` | the resource's id | `body` (the entry, JSON), `changed` (the instant of the call that last changed it), `expires` = a week after it ended |
//! | `actual#<account>` | `actual` | `day` (when Cost Explorer was read), `micros` (the month so far, US dollars), `expires` = 40 days after |
//! | `prices#<list>#<region>` | `prices` | `day` (when the Price List was read), `body` (`type,usd_per_hour` lines); no expiry: a sheet stays until the next refresh replaces it |
//!
//! An account's ledger is one `Query` on its partition. An entry is written with a
//! conditional `PutItem` (absent, or changed by an earlier call): a late or repeated
//! call changes nothing. An ended entry stays a week (TTL), so that a late start of
//! the same resource does not bring it back.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use spa_core::events::AccountId;
use spa_core::spend::{Actual, Entry, KEEP_ENDED, PriceSheet};
use spa_usecases::ports::{PortError, SpendLedgers};

use super::{DynamoStore, SERVICE, epoch, instant, s, text};
use crate::error::port_error;

/// The most a price sheet's body may take in its item (DynamoDB keeps 400 KB).
const PRICES_MOST: usize = 350_000;

fn partition(account: &AccountId) -> String {
    format!("spend#{account}")
}

impl SpendLedgers for DynamoStore {
    async fn ledger(&self, account: &AccountId) -> Result<Vec<Entry>, PortError> {
        let mut entries = Vec::new();
        for item in self.partition(&partition(account)).await? {
            let key = text(&item, "sk", "spend")?;
            let body = text(&item, "body", key)?;
            let entry: Entry =
                serde_json::from_str(body).map_err(|error| PortError::Inconsistent {
                    id: format!("spend#{account}/{key}"),
                    why: format!("stored ledger entry unreadable: {error}"),
                })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn write_ledger(&self, account: &AccountId, entries: &[Entry]) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        for entry in entries {
            let body = serde_json::to_string(entry).map_err(|error| PortError::Rejected {
                service: SERVICE.into(),
                action: "PutItem".into(),
                message: format!("a ledger entry that does not write: {error}"),
            })?;
            let mut put = self
                .client
                .put_item()
                .table_name(table)
                .item("pk", s(partition(account)))
                .item("sk", s(entry.resource.id.clone()))
                .item("body", s(body))
                .item("changed", s(instant(entry.changed)))
                .condition_expression("attribute_not_exists(pk) OR #changed < :changed")
                .expression_attribute_names("#changed", "changed")
                .expression_attribute_values(":changed", s(instant(entry.changed)));
            if let Some(ended) = entry.ended {
                let keep = KEEP_ENDED.to_std().unwrap_or_default();
                put = put.item(super::TTL_ATTRIBUTE, epoch(ended, keep));
            }
            match put.send().await {
                Ok(_) => {}
                // a later call changed it already
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {}
                Err(e) => return Err(port_error(SERVICE, "PutItem", table, e)),
            }
        }
        Ok(())
    }

    async fn actual(&self, account: &AccountId) -> Result<Option<Actual>, PortError> {
        let table = &self.tables.transactions;
        let key = format!("actual#{account}");
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", s(key.clone()))
            .key("sk", s("actual"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let bad = || PortError::Inconsistent {
            id: key.clone(),
            why: "stored month so far unreadable".into(),
        };
        let day = chrono::NaiveDate::parse_from_str(text(item, "day", &key)?, "%Y-%m-%d")
            .map_err(|_| bad())?;
        let micros: i64 = item
            .get("micros")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        Ok(Some(Actual {
            day,
            amount: spa_core::events::Amount::from_micros(micros),
        }))
    }

    async fn set_actual(&self, account: &AccountId, actual: &Actual) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let read = actual
            .day
            .and_hms_opt(0, 0, 0)
            .map_or_else(chrono::Utc::now, |at| at.and_utc());
        self.client
            .put_item()
            .table_name(table)
            .item("pk", s(format!("actual#{account}")))
            .item("sk", s("actual"))
            .item("day", s(actual.day.format("%Y-%m-%d").to_string()))
            .item(
                "micros",
                aws_sdk_dynamodb::types::AttributeValue::N(actual.amount.micros().to_string()),
            )
            .item(
                super::TTL_ATTRIBUTE,
                epoch(read, std::time::Duration::from_secs(40 * 86_400)),
            )
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        Ok(())
    }

    async fn price_sheet(&self, list: &str, region: &str) -> Result<Option<PriceSheet>, PortError> {
        let table = &self.tables.transactions;
        let key = format!("prices#{list}#{region}");
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("pk", s(key.clone()))
            .key("sk", s("prices"))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "GetItem", table, e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let bad = |why: String| PortError::Inconsistent {
            id: key.clone(),
            why: format!("stored prices unreadable: {why}"),
        };
        let day = chrono::NaiveDate::parse_from_str(text(item, "day", &key)?, "%Y-%m-%d")
            .map_err(|e| bad(e.to_string()))?;
        PriceSheet::from_lines(list, region, day, text(item, "body", &key)?)
            .map(Some)
            .map_err(bad)
    }

    async fn set_price_sheet(&self, sheet: &PriceSheet) -> Result<(), PortError> {
        let table = &self.tables.transactions;
        let body = sheet.to_lines();
        // an item holds 400 KB; a region's EC2 prices are about 25 KB
        if body.len() > PRICES_MOST {
            return Err(super::rejected(
                "PutItem",
                format!(
                    "the prices of {} in {} take {} bytes, over the {PRICES_MOST} one item keeps",
                    sheet.list,
                    sheet.region,
                    body.len()
                ),
            ));
        }
        self.client
            .put_item()
            .table_name(table)
            .item("pk", s(format!("prices#{}#{}", sheet.list, sheet.region)))
            .item("sk", s("prices"))
            .item("day", s(sheet.read.format("%Y-%m-%d").to_string()))
            .item("body", s(body))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "PutItem", table, e))?;
        Ok(())
    }
}
