//! EventBridge event patterns: the subset spa's rules use, with the semantics of
//! EventBridge (a field matches when any of its values matches any matcher; every
//! field of the pattern must match; a nested object descends into the event).
//!
//! Matchers: literal strings, numbers, booleans and `null`; `{"prefix": s}`,
//! `{"suffix": s}`, `{"equals-ignore-case": s}`, `{"anything-but": literal | [literals] |
//! {"prefix": s}}`, `{"exists": bool}`. [`check`] refuses anything else, so that a
//! rule that would not work on AWS does not work here either.

use serde_json::{Map, Value};

/// Why a pattern is not one spa understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event pattern at `{path}`: {why}")]
pub struct PatternError {
    /// Where in the pattern.
    pub path: String,
    /// What is wrong.
    pub why: String,
}

/// Checks that a pattern only uses what [`matches`] implements.
pub fn check(pattern: &Value) -> Result<(), PatternError> {
    fn object(map: &Map<String, Value>, path: &str) -> Result<(), PatternError> {
        if map.is_empty() {
            return Err(PatternError {
                path: path.to_owned(),
                why: "an empty object matches nothing".to_owned(),
            });
        }
        for (key, value) in map {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match value {
                Value::Object(inner) => object(inner, &here)?,
                Value::Array(matchers) if !matchers.is_empty() => {
                    for matcher in matchers {
                        one(matcher, &here)?;
                    }
                }
                _ => {
                    return Err(PatternError {
                        path: here,
                        why: "expected a non-empty array of matchers or an object".to_owned(),
                    });
                }
            }
        }
        Ok(())
    }
    fn one(matcher: &Value, path: &str) -> Result<(), PatternError> {
        let bad = |why: &str| PatternError {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        match matcher {
            Value::Object(map) if map.len() == 1 => {
                let (key, value) = map.iter().next().ok_or_else(|| bad("empty matcher"))?;
                match (key.as_str(), value) {
                    ("prefix" | "suffix" | "equals-ignore-case", Value::String(_)) => Ok(()),
                    ("exists", Value::Bool(_)) => Ok(()),
                    ("anything-but", Value::Object(inner)) => match inner.get("prefix") {
                        Some(Value::String(_)) if inner.len() == 1 => Ok(()),
                        _ => Err(bad(
                            "anything-but takes a literal, a list or {\"prefix\": s}",
                        )),
                    },
                    ("anything-but", Value::Array(values))
                        if values.iter().all(|v| !v.is_object() && !v.is_array()) =>
                    {
                        Ok(())
                    }
                    ("anything-but", v) if !v.is_object() && !v.is_array() => Ok(()),
                    (other, _) => Err(bad(&format!("unsupported matcher `{other}`"))),
                }
            }
            Value::Object(_) => Err(bad("a matcher object has exactly one key")),
            Value::Array(_) => Err(bad("matchers do not nest arrays")),
            _ => Ok(()),
        }
    }
    match pattern {
        Value::Object(map) => object(map, ""),
        _ => Err(PatternError {
            path: String::new(),
            why: "a pattern is a JSON object".to_owned(),
        }),
    }
}

/// Whether `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(map) => map.iter().all(|(key, sub)| field(sub, event.get(key))),
        _ => false,
    }
}

fn field(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(_) => value.is_some_and(|v| v.is_object() && matches(pattern, v)),
        Value::Array(matchers) => matchers.iter().any(|m| matcher(m, value)),
        _ => false,
    }
}

/// The scalar values of a field: an array field matches through any of its elements.
fn scalars(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_object()).collect(),
        Some(Value::Object(_)) => Vec::new(),
        Some(v) => vec![v],
    }
}

fn matcher(matcher: &Value, value: Option<&Value>) -> bool {
    let values = scalars(value);
    match matcher {
        Value::Object(map) => {
            let Some((key, arg)) = map.iter().next() else {
                return false;
            };
            match (key.as_str(), arg) {
                ("exists", Value::Bool(wanted)) => {
                    let present = value.is_some_and(|v| !v.is_object() || !values.is_empty());
                    present == *wanted
                }
                ("prefix", Value::String(p)) => values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.starts_with(p.as_str()))),
                ("suffix", Value::String(p)) => values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.ends_with(p.as_str()))),
                ("equals-ignore-case", Value::String(p)) => values
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(p))),
                ("anything-but", Value::Object(inner)) => match inner.get("prefix") {
                    Some(Value::String(p)) => {
                        !values.is_empty()
                            && values
                                .iter()
                                .all(|v| v.as_str().is_none_or(|s| !s.starts_with(p.as_str())))
                    }
                    _ => false,
                },
                ("anything-but", Value::Array(excluded)) => {
                    !values.is_empty()
                        && values.iter().all(|v| !excluded.iter().any(|e| same(e, v)))
                }
                ("anything-but", excluded) => {
                    !values.is_empty() && values.iter().all(|v| !same(excluded, v))
                }
                _ => false,
            }
        }
        literal => values.iter().any(|v| same(literal, v)),
    }
}

/// Literal equality, numbers compared by value (`5` matches `5.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
