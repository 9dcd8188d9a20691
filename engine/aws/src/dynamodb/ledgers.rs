//! The spend guard's ledger of each account ([`SpendLedgers`]): one item per
//! resource in the transactions table.
//!
//! | `pk` | `sk` | more |
//! |---|---|---|
//! | `spend#<account>` | the resource's id | `body` (the entry, JSON), `changed` (the instant of the call that last changed it), `expires` = a week after it ended |
//! | `actual#<account>` | `actual` | `day` (when Cost Explorer was read), `micros` (the month so far, US dollars), `expires` = 40 days after |
//!
//! An account's ledger is one `Query` on its partition. An entry is written with a
//! conditional `PutItem` (absent, or changed by an earlier call): a late or repeated
//! call changes nothing. An ended entry stays a week (TTL), so that a late start of
//! the same resource does not bring it back.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use spa_core::events::AccountId;
use spa_core::spend::{Actual, Entry, KEEP_ENDED};
use spa_usecases::ports::{PortError, SpendLedgers};

use super::{DynamoStore, SERVICE, epoch, instant, s, text};
use crate::error::port_error;

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
}
