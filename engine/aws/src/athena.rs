//! [`CurCosts`]: a month's costs from a CUR 2.0 data export through Athena (for
//! large organizations, in the manner of Kubecost's cloud integration), and
//! [`CostSources`]: the organization's [`CostSource`], Athena for the monthly
//! breakdowns when the settings name a CUR table, Cost Explorer for the rest.
//!
//! One query a month ([`monthly_sql`]): the unblended cost summed by account,
//! product code, usage type, line item type and currency, `WHERE billing_period =
//! 'YYYY-MM'`. The workgroup, database and table come from the settings and are
//! checked again here (letters, digits, `_`, `-`) before they are quoted into the
//! SQL; the month is a [`Month`], printed by spa. Then:
//!
//! 1. `StartQueryExecution` (workgroup, database, output location);
//! 2. `GetQueryExecution` polled with growing pauses until SUCCEEDED, FAILED or
//!    CANCELLED; past `query_timeout`, `StopQueryExecution` and an error naming the
//!    query id and the timeout; FAILED is an error with Athena's `StateChangeReason`;
//! 3. `GetQueryResults` page by page (`NextToken`), the header row skipped, each row
//!    folded into the three breakdowns: credits and refunds (`line_item_line_item_type`
//!    `Credit`, `Refund`) only in the record-type breakdown. Services are CUR's
//!    product codes (`AmazonEC2`), not Cost Explorer's service names.

use std::time::Duration;

use aws_sdk_athena::Client;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use chrono::NaiveDate;

use super::config::AwsConfig;
use super::cost_explorer::{OneCurrency, OrganizationCosts, Sums, account_of};
use super::costs::parse_amount;
use super::error::port_error;
use spa_core::events::AccountId;
use spa_core::reports::{CostBreakdowns, DailyCost, Forecast, Month, NOT_CHARGES, PeriodCosts};
use spa_core::settings::{AthenaSource, CostSourceSettings, values::check_athena_name};
use spa_usecases::ports::{CostSource, PortError};

const SERVICE: &str = "athena";

/// The columns the query selects, in order (CUR 2.0 names).
pub const COLUMNS: [&str; 6] = [
    "line_item_usage_account_id",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_line_item_type",
    "line_item_currency_code",
    "unblended_cost",
];

/// Rows asked per `GetQueryResults` page (Athena's maximum).
const PAGE_SIZE: i32 = 1000;

/// How long to wait between two polls: from `first`, doubling, up to `longest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// The first pause.
    pub first: Duration,
    /// The longest pause.
    pub longest: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(500),
            longest: Duration::from_secs(10),
        }
    }
}

/// Why a query could not be written.
fn rejected(action: &str, message: String) -> PortError {
    PortError::Rejected {
        service: SERVICE.into(),
        action: action.into(),
        message,
    }
}

/// The SQL of `month` on `database`.`table`; a name that is not letters, digits,
/// `_` and `-` is refused (it would change the query).
pub fn monthly_sql(database: &str, table: &str, month: Month) -> Result<String, PortError> {
    for (what, name) in [("database", database), ("table", table)] {
        check_athena_name(name).map_err(|expected| {
            rejected(
                "StartQueryExecution",
                format!("the CUR {what} `{}` is not {expected}", name.escape_debug()),
            )
        })?;
    }
    Ok(format!(
        "SELECT line_item_usage_account_id, line_item_product_code, line_item_usage_type, \
         line_item_line_item_type, line_item_currency_code, \
         SUM(line_item_unblended_cost) AS unblended_cost \
         FROM \"{database}\".\"{table}\" \
         WHERE billing_period = '{month}' \
         GROUP BY 1, 2, 3, 4, 5"
    ))
}

/// CUR 2.0 through Athena.
#[derive(Debug, Clone)]
pub struct CurCosts {
    client: Client,
    source: AthenaSource,
    polling: Polling,
}

impl CurCosts {
    /// Queries in `config`'s account, in the source's region (default: `config`'s).
    pub fn new(config: &AwsConfig, source: AthenaSource) -> Self {
        let client = match &source.region {
            Some(region) => config.athena_in(region.as_str()),
            None => config.athena(),
        };
        Self::from_client(client, source)
    }

    /// Queries with `client` (tests).
    pub fn from_client(client: Client, source: AthenaSource) -> Self {
        Self {
            client,
            source,
            polling: Polling::default(),
        }
    }

    /// The same with other pauses between polls.
    pub fn with_polling(mut self, polling: Polling) -> Self {
        self.polling = polling;
        self
    }

    /// Starts the query of `month`; its id.
    async fn start(&self, month: Month) -> Result<String, PortError> {
        const ACTION: &str = "StartQueryExecution";
        let workgroup = self.source.workgroup.as_str();
        check_athena_name(workgroup).map_err(|expected| {
            rejected(
                ACTION,
                format!(
                    "the workgroup `{}` is not {expected}",
                    workgroup.escape_debug()
                ),
            )
        })?;
        let sql = monthly_sql(
            self.source.database.as_str(),
            self.source.table.as_str(),
            month,
        )?;
        let output = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(self.source.database.as_str())
                    .build(),
            )
            .result_configuration(
                ResultConfiguration::builder()
                    .output_location(self.source.output_location.as_str())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| port_error(SERVICE, ACTION, workgroup, e))?;
        output
            .query_execution_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| PortError::Inconsistent {
                id: month.to_string(),
                why: "Athena started the query without giving its id".to_owned(),
            })
    }

    /// Polls the query until it ends; stops it past the timeout.
    async fn wait(&self, id: &str) -> Result<(), PortError> {
        const ACTION: &str = "GetQueryExecution";
        let timeout = self.source.query_timeout;
        let started = tokio::time::Instant::now();
        let mut pause = self.polling.first;
        loop {
            let output = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, ACTION, id, e))?;
            let status = output.query_execution().and_then(|q| q.status());
            let reason = status
                .and_then(|s| s.state_change_reason())
                .unwrap_or("no reason given");
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => return Ok(()),
                Some(QueryExecutionState::Failed) => {
                    return Err(rejected(
                        ACTION,
                        format!("the CUR query {id} failed: {reason}"),
                    ));
                }
                Some(QueryExecutionState::Cancelled) => {
                    return Err(rejected(
                        ACTION,
                        format!("the CUR query {id} was cancelled: {reason}"),
                    ));
                }
                _ => {}
            }
            let elapsed = started.elapsed();
            if elapsed >= timeout {
                let stopped = self
                    .client
                    .stop_query_execution()
                    .query_execution_id(id)
                    .send()
                    .await;
                let how = match stopped {
                    Ok(_) => "stopped".to_owned(),
                    Err(e) => format!(
                        "and could not be stopped ({})",
                        port_error(SERVICE, "StopQueryExecution", id, e)
                    ),
                };
                return Err(PortError::Unavailable {
                    service: SERVICE.into(),
                    message: format!(
                        "the CUR query {id} did not finish within the query timeout of {}: {how}",
                        spa_core::settings::values::format_duration(&timeout)
                    ),
                });
            }
            tokio::time::sleep(pause.min(timeout - elapsed)).await;
            pause = (pause * 2).min(self.polling.longest);
        }
    }

    /// Reads every page of the query's results into the breakdowns.
    async fn results(&self, id: &str) -> Result<CostBreakdowns, PortError> {
        const ACTION: &str = "GetQueryResults";
        let mut currency = OneCurrency::default();
        let mut by_service = Sums::default();
        let mut by_usage_type = Sums::default();
        let mut by_record_type = Sums::default();
        let mut token: Option<String> = None;
        let mut first_page = true;
        let mut seen = std::collections::HashSet::new();
        loop {
            let output = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .max_results(PAGE_SIZE)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| port_error(SERVICE, ACTION, id, e))?;
            let rows = output.result_set().map(|r| r.rows()).unwrap_or_default();
            let skip = usize::from(first_page);
            first_page = false;
            for row in rows.iter().skip(skip) {
                let cells: Vec<&str> = row
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().unwrap_or_default())
                    .collect();
                let [account, service, usage_type, record_type, unit, amount] = cells[..] else {
                    return Err(PortError::Inconsistent {
                        id: id.to_owned(),
                        why: format!(
                            "a row of the CUR query has {} columns, expected {}",
                            cells.len(),
                            COLUMNS.len()
                        ),
                    });
                };
                if amount.is_empty() {
                    continue; // SUM of nothing
                }
                let account_id: AccountId = account_of(account)?;
                let value = parse_amount(amount, record_type, account)?;
                currency.check(
                    if unit.is_empty() { "USD" } else { unit },
                    record_type,
                    account,
                )?;
                by_record_type.add(account_id.clone(), record_type, value);
                if !NOT_CHARGES.contains(&record_type) {
                    by_service.add(account_id.clone(), service, value);
                    by_usage_type.add(account_id, usage_type, value);
                }
            }
            match output.next_token().filter(|t| !t.is_empty()) {
                Some(next) if !seen.insert(next.to_owned()) => {
                    return Err(PortError::Inconsistent {
                        id: id.to_owned(),
                        why: format!("Athena gave the page token `{next}` twice"),
                    });
                }
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(CostBreakdowns {
            currency: currency.into_code(),
            by_service: by_service.into_costs(),
            by_usage_type: by_usage_type.into_costs(),
            by_record_type: by_record_type.into_costs(),
        })
    }

    /// The month's costs from the CUR table.
    pub async fn monthly_costs(&self, month: Month) -> Result<CostBreakdowns, PortError> {
        let id = self.start(month).await?;
        self.wait(&id).await?;
        self.results(&id).await
    }
}

/// The organization's costs: CUR 2.0 through Athena for the monthly breakdowns when
/// configured, Cost Explorer for everything else.
#[derive(Debug, Clone)]
pub struct CostSources {
    explorer: OrganizationCosts,
    cur: Option<CurCosts>,
}

impl CostSources {
    /// The sources of `settings`: Cost Explorer with `management`'s credentials,
    /// Athena with `automation`'s (where the CUR export is queried).
    pub fn new(
        management: &AwsConfig,
        automation: &AwsConfig,
        settings: &CostSourceSettings,
    ) -> Self {
        let cur = match settings {
            CostSourceSettings::CostExplorer => None,
            CostSourceSettings::Athena(source) => Some(CurCosts::new(automation, source.clone())),
        };
        Self::from_parts(OrganizationCosts::new(management), cur)
    }

    /// From its parts (tests).
    pub fn from_parts(explorer: OrganizationCosts, cur: Option<CurCosts>) -> Self {
        Self { explorer, cur }
    }

    /// Whether monthly costs come from Athena.
    pub fn uses_athena(&self) -> bool {
        self.cur.is_some()
    }
}

impl CostSource for CostSources {
    async fn monthly_costs(&self, month: Month) -> Result<CostBreakdowns, PortError> {
        match &self.cur {
            Some(cur) => cur.monthly_costs(month).await,
            None => self.explorer.monthly_costs(month).await,
        }
    }

    async fn period_costs(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        account: Option<&AccountId>,
    ) -> Result<PeriodCosts, PortError> {
        self.explorer.period_costs(start, end, account).await
    }

    async fn daily_costs(
        &self,
        accounts: &[AccountId],
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DailyCost>, PortError> {
        self.explorer.daily_costs(accounts, start, end).await
    }

    async fn forecast(
        &self,
        month: Month,
        today: NaiveDate,
    ) -> Result<Option<Forecast>, PortError> {
        self.explorer.forecast(month, today).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month() -> Month {
        "2026-10".parse().expect("month")
    }

    #[test]
    fn the_sql_reads_one_billing_period_of_the_named_table() {
        let sql = monthly_sql("cur_db", "cur-2", month()).expect("sql");
        assert!(sql.contains("FROM \"cur_db\".\"cur-2\""), "{sql}");
        assert!(sql.contains("WHERE billing_period = '2026-10'"), "{sql}");
        assert!(sql.contains("SUM(line_item_unblended_cost)"), "{sql}");
        for column in &COLUMNS[..5] {
            assert!(sql.contains(column), "{column}: {sql}");
        }
    }

    #[test]
    fn the_sql_refuses_names_that_would_change_it() {
        for (database, table) in [
            ("cur\"; DROP TABLE x; --", "t"),
            ("db", "t' OR '1'='1"),
            ("db", ""),
            ("db.other", "t"),
            ("db", "t\n"),
        ] {
            let error = monthly_sql(database, table, month()).expect_err(table);
            assert!(
                matches!(&error, PortError::Rejected { message, .. } if message.contains("is not an Athena name")),
                "{error:?}"
            );
        }
    }
}
