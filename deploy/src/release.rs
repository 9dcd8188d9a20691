//! What `spa deploy` hands the functions besides the code: the resolved settings
//! document pushed to SSM Parameter Store, and where templates too large to send
//! inline are uploaded.

use spa_core::settings::{Bucket, MemorySources, Settings};

use crate::synth::Names;

/// The settings the functions read (`SPA_SETTINGS=ssm:/<env>/settings`), as JSON (a
/// YAML document the loader reads like the file):
///
/// - CSV overlays already applied (`accounts_csv` emptied: the functions have no files
///   but the buildspecs in their package);
/// - `reporting.bucket` set to the bucket the stack creates when the settings name none;
/// - `features.response_plan_arn` set to the stack's plan when Incident Manager is on
///   and the settings name none.
///
/// The document is loaded back before it is returned: a document the functions could
/// not load is an error here, not at their cold start.
pub fn settings_document(settings: &Settings, names: &Names) -> Result<String, String> {
    let mut resolved = settings.clone();
    resolved.accounts_csv.clear();
    if resolved.reporting.bucket.is_none() {
        resolved.reporting.bucket = Some(Bucket(names.reports_bucket.clone()));
    }
    if resolved.features.incident_manager && resolved.features.response_plan_arn.is_none() {
        resolved.features.response_plan_arn = Some(format!(
            "arn:aws:ssm-incidents::{}:response-plan/{}",
            settings.automation.account_id.as_str(),
            names.response_plan
        ));
    }
    let text = serde_json::to_string_pretty(&resolved).map_err(|e| e.to_string())?;
    let name = format!("ssm:{}", names.settings_parameter);
    let loaded = spa_core::settings::load(&name, &text, &MemorySources::new()).map_err(|e| {
        format!(
            "the resolved settings would not load in the functions:\n{}",
            e.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    if loaded.settings != resolved {
        return Err("the resolved settings load back different from what was resolved".into());
    }
    Ok(text)
}

/// The virtual-hosted URL of an object, as CloudFormation's `TemplateURL` takes it.
pub fn object_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_document_loads_back_with_the_overlays_applied_and_the_gaps_filled() {
        let mut settings = crate::synth::tests::settings();
        let names = Names::new(&settings);
        let with_csv = settings.accounts.len();
        assert!(!settings.accounts_csv.is_empty());
        let text = settings_document(&settings, &names).unwrap();
        let loaded = spa_core::settings::load("ssm", &text, &MemorySources::new())
            .unwrap()
            .settings;
        assert_eq!(
            loaded.accounts.len(),
            with_csv,
            "the CSV rows travel as accounts"
        );
        assert!(loaded.accounts_csv.is_empty());
        assert_eq!(loaded.environment_identifier, "SpaDemo");

        settings.reporting.bucket = None;
        settings.features.response_plan_arn = None;
        let names = Names::new(&settings);
        let text = settings_document(&settings, &names).unwrap();
        let loaded = spa_core::settings::load("ssm", &text, &MemorySources::new())
            .unwrap()
            .settings;
        assert_eq!(
            loaded.reporting.bucket.map(|b| b.0),
            Some("spademo-reports-123456789012-eu-west-1".to_owned())
        );
        assert_eq!(
            loaded.features.response_plan_arn.as_deref(),
            Some("arn:aws:ssm-incidents::123456789012:response-plan/spademo-spa")
        );
    }

    #[test]
    fn template_urls_are_virtual_hosted() {
        assert_eq!(
            object_url("b", "eu-west-1", "templates/x.json"),
            "https://b.s3.eu-west-1.amazonaws.com/templates/x.json"
        );
    }
}
