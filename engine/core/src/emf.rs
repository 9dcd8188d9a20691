//! CloudWatch Embedded Metric Format: metrics written as one JSON log line, which
//! CloudWatch Logs turns into metrics. Cheaper than `PutMetricData` calls, and it
//! works the same against the emulator (which lacks the current CloudWatch protocol).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The namespace of spa's metrics.
pub const NAMESPACE: &str = "spa";

/// The metric of exceptions raised, one line per label with the dimensions
/// `Environment` and `Label`: the alarms "exceptions by label" read it.
pub const EXCEPTIONS: &str = "Exceptions";

/// The unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
}

impl Unit {
    const fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Metrics of one invocation, with their dimensions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    dimensions: BTreeMap<String, String>,
    values: BTreeMap<String, (f64, Unit)>,
}

impl Metrics {
    /// No metric yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dimension (`Environment`, `Function`).
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds to a metric (created at 0).
    pub fn add(&mut self, name: &str, value: f64, unit: Unit) {
        let entry = self.values.entry(name.to_owned()).or_insert((0.0, unit));
        entry.0 += value;
    }

    /// Whether no metric was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF log line, stamped `at`.
    pub fn to_line(&self, at: DateTime<Utc>) -> String {
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, (_, unit))| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [self.dimensions.keys().collect::<Vec<_>>()],
                    "Metrics": definitions,
                }]
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::String(value.clone()));
        }
        for (name, (value, _)) in &self.values {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cloudwatch_understands() {
        let mut metrics = Metrics::new()
            .dimension("Environment", "SpaDemo")
            .dimension("Function", "commands");
        metrics.add("Transitions", 1.0, Unit::Count);
        metrics.add("Transitions", 2.0, Unit::Count);
        metrics.add("Duration", 12.5, Unit::Milliseconds);
        let at = DateTime::from_timestamp(1_795_345_200, 0).unwrap_or_default();
        let line: Value = serde_json::from_str(&metrics.to_line(at)).expect("json");
        assert_eq!(line["_aws"]["Timestamp"], 1_795_345_200_000_i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "spa");
        assert_eq!(
            directive["Dimensions"],
            json!([["Environment", "Function"]])
        );
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "Transitions", "Unit": "Count"})
        );
        assert_eq!(line["Transitions"], 3.0);
        assert_eq!(line["Function"], "commands");
    }
}
