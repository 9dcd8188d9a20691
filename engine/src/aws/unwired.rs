//! TEMPORARY: stands in for the adapters being written (budgets, incidents, costs,
//! secrets, webhooks, mail) so that the platform compiles; removed when they land.

use chrono::{DateTime, NaiveDate, Utc};

use crate::events::AccountId;
use crate::ports::{
    BudgetChange, BudgetPlan, Budgets, Costs, Email, IncidentRequest, IncidentStatus, Incidents,
    Mail, PortError, Secret, Secrets, ServiceCost, Webhooks,
};

/// Refuses every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwired;

fn unwired<T>(what: &str) -> Result<T, PortError> {
    Err(PortError::Unavailable {
        service: what.into(),
        message: "adapter not wired yet".into(),
    })
}

impl Budgets for Unwired {
    async fn ensure_budget(
        &self,
        _: &AccountId,
        _: &BudgetPlan,
    ) -> Result<BudgetChange, PortError> {
        unwired("budgets")
    }
}
impl Incidents for Unwired {
    async fn start_incident(&self, _: &IncidentRequest) -> Result<String, PortError> {
        unwired("ssm-incidents")
    }
    async fn incident_status(&self, _: &str) -> Result<IncidentStatus, PortError> {
        unwired("ssm-incidents")
    }
    async fn add_timeline_event(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: &str,
    ) -> Result<(), PortError> {
        unwired("ssm-incidents")
    }
}
impl Costs for Unwired {
    async fn account_costs(
        &self,
        _: &AccountId,
        _: NaiveDate,
        _: NaiveDate,
    ) -> Result<Vec<ServiceCost>, PortError> {
        unwired("ce")
    }
}
impl Secrets for Unwired {
    async fn secret(&self, _: &str) -> Result<Secret, PortError> {
        unwired("secrets")
    }
}
impl Webhooks for Unwired {
    async fn post_json(&self, _: &Secret, _: &serde_json::Value) -> Result<(), PortError> {
        unwired("webhooks")
    }
}
impl Mail for Unwired {
    async fn send_email(&self, _: &Email) -> Result<String, PortError> {
        unwired("sesv2")
    }
}
