//! The Price List API (`GetProducts`), which moto lacks: with `aws-smithy-mocks` on
//! the exact requests (service code, `TERM_MATCH` filters, format, page size, the
//! next page's token), and the errors a person reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_pricing::operation::get_products::{GetProductsError, GetProductsOutput};
use aws_sdk_pricing::types::FilterType;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use spa_aws::pricing::PriceListApi;
use spa_core::spend::Kind;
use spa_core::spend::price_list::query;
use spa_usecases::ports::{PortError, PriceList};

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn filtered(request: &aws_sdk_pricing::operation::get_products::GetProductsInput) -> bool {
    let filters = request.filters();
    let has = |field: &str, value: &str| {
        filters.iter().any(|f| {
            f.r#type() == &FilterType::TermMatch && f.field() == field && f.value() == value
        })
    };
    request.service_code() == Some("AmazonEC2")
        && request.format_version() == Some("aws_v1")
        && request.max_results() == Some(100)
        && has("regionCode", "eu-west-1")
        && has("productFamily", "Compute Instance")
        && has("operatingSystem", "Linux")
        && has("tenancy", "Shared")
        && has("preInstalledSw", "NA")
        && has("capacitystatus", "Used")
        && filters.len() == 6
}

#[tokio::test]
async fn every_page_of_the_query_is_read_with_its_filters() {
    let first = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| filtered(r) && r.next_token().is_none())
        .then_output(|| {
            GetProductsOutput::builder()
                .price_list(r#"{"product": 1}"#)
                .price_list(r#"{"product": 2}"#)
                .next_token("page-2")
                .format_version("aws_v1")
                .build()
        });
    let second = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(|r| filtered(r) && r.next_token() == Some("page-2"))
        .then_output(|| {
            GetProductsOutput::builder()
                .price_list(r#"{"product": 3}"#)
                .build()
        });
    let client = mock_client!(aws_sdk_pricing, RuleMode::Sequential, &[&first, &second]);
    let query = query(Kind::Ec2Instance, "eu-west-1").unwrap();
    let documents = PriceListApi::new(client).products(&query).await.unwrap();
    assert_eq!(
        documents,
        [
            r#"{"product": 1}"#,
            r#"{"product": 2}"#,
            r#"{"product": 3}"#
        ]
    );
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_worth_a_retry_and_a_refusal_says_what_was_missing() {
    let throttled = mock!(aws_sdk_pricing::Client::get_products).then_error(|| {
        GetProductsError::ThrottlingException(
            aws_sdk_pricing::types::error::ThrottlingException::builder()
                .message("Rate exceeded")
                .meta(meta("ThrottlingException", "Rate exceeded"))
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_pricing, RuleMode::Sequential, &[&throttled]);
    let query = query(Kind::DbInstance, "us-east-1").unwrap();
    let error = PriceListApi::new(client)
        .products(&query)
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Unavailable { .. }), "{error:?}");

    let denied = mock!(aws_sdk_pricing::Client::get_products).then_error(|| {
        GetProductsError::generic(meta(
            "AccessDeniedException",
            "User is not authorized to perform: pricing:GetProducts",
        ))
    });
    let client = mock_client!(aws_sdk_pricing, RuleMode::Sequential, &[&denied]);
    let error = PriceListApi::new(client)
        .products(&query)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("pricing:GetProducts"), "{text}");
    assert!(!text.contains("ErrorMetadata"), "no SDK Debug dump: {text}");
}
