//! `spa prices refresh [--region R]... [--json]`: the spend guard's prices read from
//! the AWS Price List API and kept in spa's store (`usecases::prices`).

use std::process::ExitCode;

use spa_aws::pricing::PriceListApi;
use spa_usecases::prices::{Refreshed, price_regions, refresh_prices};

use super::emit;
use super::live::{self, block_on, connect, engine, spinner, table};
use crate::cli::Live;

/// `spa prices refresh`.
pub fn refresh(live: &Live, regions: &[String], json: bool) -> ExitCode {
    let loaded = match live::load(live) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Some(endpoint) = &loaded.endpoint {
        // moto has no Price List API: a request there hangs until its timeout, for
        // every list, region and attempt
        eprintln!(
            "error: the emulator at {endpoint} has no AWS Price List API: the spend guard prices with the shipped sample there; run `spa prices refresh` against AWS"
        );
        return ExitCode::FAILURE;
    }
    block_on(async {
        let platform = connect(&loaded).await?;
        let engine = engine(&platform, &loaded)?;
        let regions = if regions.is_empty() {
            price_regions(&loaded.settings)
        } else {
            regions.to_vec()
        };
        let source = PriceListApi::from_config(platform.automation());
        let bar = spinner(format!(
            "reading the Price List in {} region(s)",
            regions.len()
        ));
        let refreshed = refresh_prices(&engine, &source, &regions).await;
        bar.finish_and_clear();
        let text = if json {
            let lines: Vec<serde_json::Value> = refreshed
                .iter()
                .map(|line| match &line.result {
                    Ok(count) => serde_json::json!({"list": line.list, "region": line.region, "prices": count}),
                    Err(why) => serde_json::json!({"list": line.list, "region": line.region, "kept": why}),
                })
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&lines).unwrap_or_default()
            )
        } else {
            render(&refreshed)
        };
        let code = emit(&text);
        if refreshed.iter().any(|line| line.result.is_err()) {
            eprintln!(
                "error: some prices could not be refreshed: the spend guard keeps their last prices (else the shipped sample)"
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(code)
    })
    .and_then(|r| r)
    .unwrap_or_else(|code| code)
}

/// One line per list and region: how many prices were kept, or why the last stay.
fn render(refreshed: &[Refreshed]) -> String {
    let rows: Vec<Vec<String>> = refreshed
        .iter()
        .map(|line| {
            let (prices, note) = match &line.result {
                Ok(count) => (count.to_string(), "refreshed".to_owned()),
                Err(why) => ("-".to_owned(), format!("last prices kept: {why}")),
            };
            vec![line.list.to_owned(), line.region.clone(), prices, note]
        })
        .collect();
    table(&["LIST", "REGION", "PRICES", "RESULT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_list_says_how_many_prices_were_kept_or_why_its_last_stay() {
        let refreshed = [
            Refreshed {
                list: "ec2",
                region: "eu-west-1".into(),
                result: Ok(812),
            },
            Refreshed {
                list: "rds",
                region: "eu-west-1".into(),
                result: Err("the Price List cannot be read: pricing is unavailable".into()),
            },
        ];
        let text = render(&refreshed);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("LIST"), "{text}");
        assert!(
            lines[1].starts_with("ec2")
                && lines[1].contains("812")
                && lines[1].ends_with("refreshed"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("rds")
                && lines[2].ends_with(
                    "last prices kept: the Price List cannot be read: pricing is unavailable"
                ),
            "{text}"
        );
    }
}
