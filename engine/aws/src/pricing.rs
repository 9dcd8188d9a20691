//! [`PriceListApi`]: the [`PriceList`] port on the AWS Price List API (`GetProducts`),
//! reached in `us-east-1` (one of its three endpoints; prices of every region are
//! there).
//!
//! One query is `GetProducts` with the service code and `TERM_MATCH` filters of
//! [`spa_core::spend::price_list::query`], `FormatVersion` `aws_v1`, 100 products a
//! page, every `NextToken` followed. Only `spa prices refresh` uses it: this module is
//! spa-aws's `pricing` feature, which the CLI turns on and the Lambda `bootstrap` does
//! not link (its 15 MB budget).

use aws_sdk_pricing::Client;
use aws_sdk_pricing::types::{Filter, FilterType};

use super::config::AwsConfig;
use super::error::port_error;
use spa_core::spend::price_list::PriceQuery;
use spa_usecases::ports::{PortError, PriceList};

const SERVICE: &str = "pricing";
const ACTION: &str = "GetProducts";

/// The Price List API through `client`.
#[derive(Debug, Clone)]
pub struct PriceListApi {
    client: Client,
}

impl PriceListApi {
    /// On `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// On the Price List endpoint of `config`'s account (`us-east-1`).
    pub fn from_config(config: &AwsConfig) -> Self {
        Self::new(config.pricing())
    }
}

impl PriceList for PriceListApi {
    async fn products(&self, query: &PriceQuery) -> Result<Vec<String>, PortError> {
        let id = format!("{} in {}", query.service_code, query.region);
        let mut request = self
            .client
            .get_products()
            .service_code(query.service_code)
            .format_version("aws_v1")
            .max_results(100);
        for (field, value) in &query.filters {
            let filter = Filter::builder()
                .r#type(FilterType::TermMatch)
                .field(*field)
                .value(value)
                .build()
                .map_err(|e| PortError::Rejected {
                    service: SERVICE.into(),
                    action: ACTION.into(),
                    message: format!("the filter `{field}` cannot be made: {e}"),
                })?;
            request = request.filters(filter);
        }
        let mut pages = request.into_paginator().send();
        let mut documents = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(SERVICE, ACTION, &id, e))?;
            documents.extend(page.price_list().iter().cloned());
        }
        Ok(documents)
    }
}
