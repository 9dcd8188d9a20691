//! Seeds an organization in the emulator from a [`SeedPlan`] (`spa demo`), once
//! [`check`] has found the emulator to be spa's (moto with the additions of
//! `scripts/moto_server.py`).
//!
//! Only for the emulator: on AWS, accounts are created by the account vending
//! process of the company, never by spa.

use aws_config::SdkConfig;
use aws_sdk_budgets::types::{ComparisonOperator, Notification, NotificationType};
use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet, Tag};

use crate::seed::{SeedPlan, Seeded};
use spa_aws::config::AwsConfig;
use spa_aws::error::port_error;
use spa_core::reports::{AccountCost, CostBreakdowns, Month};
use spa_usecases::ports::PortError;

const SERVICE: &str = "organizations";

/// How to start the emulator spa needs.
pub const START_HINT: &str = "start spa's emulator with `.venv/bin/python scripts/moto_server.py` \
(it prints its port) and pass `--endpoint-url http://127.0.0.1:<port>`, or run `make demo`";

/// The AWS-managed policy the member footprint attaches (moto holds none of them
/// unless told, and then all, slowly: spa's launcher holds this one).
const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// Why the emulator at an endpoint cannot run the demo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    /// Nothing listens there.
    #[error("nothing answers at {endpoint}: {START_HINT}")]
    Unreachable {
        /// The endpoint given.
        endpoint: String,
    },
    /// Something answers, but not with what spa needs (moto as installed, another
    /// emulator).
    #[error(
        "the emulator at {endpoint} lacks what spa needs: {}; it is not spa's emulator (moto with the additions of scripts/moto_server.py): {START_HINT}",
        missing.join("; ")
    )]
    Lacking {
        /// The endpoint given.
        endpoint: String,
        /// What it lacks, in words.
        missing: Vec<String>,
    },
}

/// Checks that the emulator at `endpoint` (which `config` points at) is spa's before
/// anything is seeded: something answers there, it holds the AWS-managed policy
/// `AdministratorAccess`, and AWS Budgets answers the subscriber operations moto
/// lacks. Read-only; one try per call (a 500 of an operation moto lacks is an
/// answer here, not a fault to retry).
pub async fn check(config: &AwsConfig, endpoint: &str) -> Result<(), EmulatorError> {
    if !answers(endpoint).await {
        return Err(EmulatorError::Unreachable {
            endpoint: endpoint.to_owned(),
        });
    }
    let config = config.with_retry(aws_config::retry::RetryConfig::disabled());
    let mut missing = Vec::new();
    let policy = config
        .iam()
        .get_policy()
        .policy_arn(ADMINISTRATOR_ACCESS)
        .send()
        .await;
    if let Err(error) = policy {
        missing.push(match port_error("iam", "GetPolicy", ADMINISTRATOR_ACCESS, error) {
            PortError::NotFound { .. } => {
                "the AWS-managed policy AdministratorAccess in IAM (the member build role attaches it)"
                    .to_owned()
            }
            other => format!("IAM GetPolicy ({other})"),
        });
    }
    let notification = Notification::builder()
        .notification_type(NotificationType::Actual)
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(80.0)
        .build();
    if let Ok(notification) = notification {
        let subscribers = config
            .budgets()
            .describe_subscribers_for_notification()
            .account_id("123456789012")
            .budget_name("spa-emulator-check")
            .notification(notification)
            .send()
            .await;
        if let Err(error) = subscribers {
            let error = port_error("budgets", "DescribeSubscribersForNotification", "", error);
            if !matches!(error, PortError::NotFound { .. }) {
                missing.push(
                    "AWS Budgets' UpdateBudget and subscriber operations (budgets are kept converged)"
                        .to_owned(),
                );
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(EmulatorError::Lacking {
            endpoint: endpoint.to_owned(),
            missing,
        })
    }
}

/// Whether something answers HTTP at `endpoint` (within 2 s).
async fn answers(endpoint: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    client.get(endpoint).send().await.is_ok()
}

/// Creates the organization (when there is none), the units and the accounts of
/// `plan`, moves each account under its unit and tags it.
pub async fn seed(config: &SdkConfig, plan: &SeedPlan) -> Result<Seeded, PortError> {
    let client = aws_sdk_organizations::Client::new(config);
    if let Err(error) = client.describe_organization().send().await {
        let error = port_error(SERVICE, "DescribeOrganization", "organization", error);
        if !matches!(error, PortError::Denied { .. } | PortError::NotFound { .. }) {
            return Err(error);
        }
        client
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "CreateOrganization", "organization", e))?;
    }
    let roots = client
        .list_roots()
        .send()
        .await
        .map_err(|e| port_error(SERVICE, "ListRoots", "organization", e))?;
    let root = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .ok_or_else(|| PortError::not_found("organization root", "the organization's root"))?
        .to_owned();
    let mut seeded = Seeded {
        root: root.clone(),
        ..Seeded::default()
    };
    for unit in &plan.units {
        let parent = match &unit.parent {
            Some(key) => seeded
                .units
                .get(key)
                .cloned()
                .ok_or_else(|| PortError::not_found("unit of the seed plan", key))?,
            None => root.clone(),
        };
        let created = client
            .create_organizational_unit()
            .parent_id(&parent)
            .name(&unit.name)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "CreateOrganizationalUnit", &unit.key, e))?;
        let id = created
            .organizational_unit()
            .and_then(|u| u.id())
            .ok_or_else(|| PortError::not_found("organizational unit", &unit.key))?;
        seeded.units.insert(unit.key.clone(), id.to_owned());
    }
    for account in &plan.accounts {
        let tags: Vec<Tag> = account
            .tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let request = client
            .create_account()
            .account_name(&account.name)
            .email(&account.email)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "CreateAccount", &account.name, e))?;
        let status = request.create_account_status();
        let request_id = status.and_then(|s| s.id()).unwrap_or_default().to_owned();
        let mut id = status.and_then(|s| s.account_id()).map(str::to_owned);
        if id.is_none() {
            let described = client
                .describe_create_account_status()
                .create_account_request_id(&request_id)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "DescribeCreateAccountStatus", &request_id, e))?;
            let status = described.create_account_status();
            if status.and_then(|s| s.state()) == Some(&CreateAccountState::Failed) {
                return Err(PortError::Rejected {
                    service: SERVICE.into(),
                    action: "CreateAccount".into(),
                    message: format!(
                        "{}: {:?}",
                        account.name,
                        status.and_then(|s| s.failure_reason())
                    ),
                });
            }
            id = status.and_then(|s| s.account_id()).map(str::to_owned);
        }
        let id = id.ok_or_else(|| PortError::not_found("created account", &account.name))?;
        if let Some(key) = &account.parent {
            let parent = seeded
                .units
                .get(key)
                .cloned()
                .ok_or_else(|| PortError::not_found("unit of the seed plan", key))?;
            client
                .move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(&parent)
                .send()
                .await
                .map_err(|e| port_error(SERVICE, "MoveAccount", &id, e))?;
        }
        if let Some(key) = &account.key {
            seeded.accounts.insert(key.clone(), id.clone());
        }
        seeded.created.push(id);
    }
    Ok(seeded)
}

/// The service control policies attached to `target` (a unit or an account):
/// `(name, content)`, as Organizations holds them (the tests and the demo read back
/// the guardrails `spa deploy --stack management` applied).
pub async fn service_control_policies(
    config: &SdkConfig,
    target: &str,
) -> Result<Vec<(String, String)>, PortError> {
    let client = aws_sdk_organizations::Client::new(config);
    let listed = client
        .list_policies_for_target()
        .target_id(target)
        .filter(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .map_err(|e| port_error(SERVICE, "ListPoliciesForTarget", target, e))?;
    let mut policies = Vec::new();
    for summary in listed.policies() {
        let Some(id) = summary.id() else { continue };
        let described = client
            .describe_policy()
            .policy_id(id)
            .send()
            .await
            .map_err(|e| port_error(SERVICE, "DescribePolicy", id, e))?;
        let policy = described.policy();
        policies.push((
            summary.name().unwrap_or_default().to_owned(),
            policy
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    Ok(policies)
}

/// Registers in the emulator at `endpoint` what Cost Explorer answers for a monthly
/// report of `month` (`spa demo`), in the account whose credentials `payer` holds (on
/// the emulator the management side runs on the base credentials): moto tracks no
/// cost and answers
/// `GetCostAndUsage` with registered results, one per distinct request, in order. The
/// organization's source asks the month by service, by usage type, by record type
/// ([`spa_aws::cost_explorer`]), then the same for the month before (the movers): those
/// three come back empty.
pub async fn register_month_costs(
    payer: &AwsConfig,
    endpoint: &str,
    month: Month,
    costs: &CostBreakdowns,
) -> Result<(), PortError> {
    let identity = aws_sdk_sts::Client::new(payer.sdk())
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| port_error("sts", "GetCallerIdentity", "caller", e))?;
    let account = identity.account().unwrap_or_default();
    let page = |month: Month, groups: &[AccountCost]| {
        let groups: Vec<serde_json::Value> = groups
            .iter()
            .map(|cost| {
                serde_json::json!({
                    "Keys": [cost.account.as_str(), cost.key],
                    "Metrics": {"UnblendedCost": {"Amount": format!("{:.2}", cost.amount), "Unit": costs.currency}},
                })
            })
            .collect();
        serde_json::json!({
            "ResultsByTime": [{
                "TimePeriod": {"Start": month.first_day().to_string(), "End": month.end().to_string()},
                "Total": {},
                "Groups": groups,
                "Estimated": false,
            }],
            "DimensionValueAttributes": [],
        })
    };
    let mut results = vec![
        page(month, &costs.by_service),
        page(month, &costs.by_usage_type),
        page(month, &costs.by_record_type),
    ];
    results.extend((0..3).map(|_| page(month.previous(), &[])));
    let url = format!(
        "{}/moto-api/static/ce/cost-and-usage-results",
        endpoint.trim_end_matches('/')
    );
    let unavailable = |message: String| PortError::Unavailable {
        service: "moto (cost-and-usage-results)".into(),
        message,
    };
    let response = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"account_id": account, "results": results}))
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("answered {}", response.status())));
    }
    Ok(())
}
