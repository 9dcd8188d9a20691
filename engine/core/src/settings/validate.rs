//! Validation of a node tree against the JSON Schema derived from the typed settings.
//!
//! The walk never stops at the first error: every error of the file is collected,
//! and a JSON value is built alongside for serde to type once the file is clean.
//! Supported keywords: `$ref`, `type`, `properties`, `required`,
//! `additionalProperties`, `propertyNames`, `items`, `anyOf`/`oneOf`, `const`, `enum`,
//! `minimum`, `maximum`, `exclusiveMinimum`, `minLength`, `maxLength`, and spa's own
//! `x-spa-check` that names a semantic check of [`super::values`].

use serde_json::{Map, Value as Json};

use super::diagnostic::{Diagnostic, KeyPath, did_you_mean};
use super::node::{Node, Value};
use super::values;

/// Walks a node tree against a schema.
pub struct Validator<'a> {
    root: &'a Json,
    file: &'a str,
    /// Errors found so far.
    pub errors: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    /// A validator for `file` against the root schema `root`.
    pub fn new(root: &'a Json, file: &'a str) -> Self {
        Self {
            root,
            file,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, node: &Node, path: &KeyPath, message: String) {
        self.errors.push(Diagnostic::error(
            self.file,
            node.pos,
            path.to_string(),
            message,
        ));
    }

    fn resolve(&self, mut schema: &'a Json) -> &'a Json {
        for _ in 0..32 {
            match schema
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                Some(name) => match self.root.get("$defs").and_then(|d| d.get(name)) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    /// Checks `node` against `schema`; returns the JSON value to type, or `None` after an error.
    pub fn check(&mut self, node: &Node, schema: &'a Json, path: &KeyPath) -> Option<Json> {
        let schema = self.resolve(schema);
        if let Some(choices) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            return self.check_choice(node, choices, path);
        }
        if let Some(allowed) = schema.get("enum").and_then(Json::as_array) {
            let words: Vec<&str> = allowed.iter().filter_map(Json::as_str).collect();
            return self.check_words(node, &words, path);
        }
        if let Some(word) = schema.get("const").and_then(Json::as_str) {
            return self.check_words(node, &[word], path);
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
            _ => return Some(to_json(node)),
        };
        if matches!(node.value, Value::Null) {
            if types.contains(&"null") {
                return Some(Json::Null);
            }
            self.error(
                node,
                path,
                format!(
                    "expected {}, found nothing (null)",
                    expected(schema, &types)
                ),
            );
            return None;
        }
        let kind = types
            .iter()
            .copied()
            .find(|t| *t != "null")
            .unwrap_or("null");
        match (kind, &node.value) {
            ("object", Value::Map(entries)) => self.check_object(node, entries, schema, path),
            ("array", Value::Seq(items)) => {
                let item_schema = schema.get("items");
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (index, item) in items.iter().enumerate() {
                    let value = match item_schema {
                        Some(s) => self.check(item, s, &path.index(index)),
                        None => Some(to_json(item)),
                    };
                    match value {
                        Some(value) => out.push(value),
                        None => ok = false,
                    }
                }
                ok.then_some(Json::Array(out))
            }
            ("string", Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) => {
                let text = node.scalar_text().unwrap_or_default();
                self.check_string(node, &text, schema, path)
                    .then_some(Json::String(text))
            }
            ("integer", Value::Int(i)) => self
                .check_range(node, *i as f64, schema, &types, path)
                .then(|| Json::from(*i)),
            ("number", Value::Int(i)) => self
                .check_range(node, *i as f64, schema, &types, path)
                .then(|| Json::from(*i)),
            ("number", Value::Float(f)) if f.is_finite() => self
                .check_range(node, *f, schema, &types, path)
                .then(|| serde_json::Number::from_f64(*f).map(Json::Number))
                .flatten(),
            ("boolean", Value::Bool(b)) => Some(Json::Bool(*b)),
            _ => {
                let found = node.describe();
                self.error(
                    node,
                    path,
                    format!("expected {}, found {found}", expected(schema, &types)),
                );
                None
            }
        }
    }

    fn check_choice(&mut self, node: &Node, choices: &'a [Json], path: &KeyPath) -> Option<Json> {
        let resolved: Vec<&'a Json> = choices.iter().map(|c| self.resolve(c)).collect();
        let words: Vec<&str> = resolved
            .iter()
            .filter_map(|c| c.get("const").and_then(Json::as_str))
            .collect();
        if !words.is_empty() && words.len() == resolved.len() {
            return self.check_words(node, &words, path);
        }
        let is_null = |c: &&Json| c.get("type").and_then(Json::as_str) == Some("null");
        if matches!(node.value, Value::Null) && resolved.iter().any(is_null) {
            return Some(Json::Null);
        }
        let mut others: Vec<&'a Json> = resolved.iter().copied().filter(|c| !is_null(c)).collect();
        // the form of the node's own kind first: its errors are the ones to report
        // (`cost_source: {athena: ...}` is told about athena, not about `cost_explorer`)
        let kind = match node.value {
            Value::Map(_) => "object",
            Value::Seq(_) => "array",
            _ => "string",
        };
        others.sort_by_key(|c| c.get("type").and_then(Json::as_str) != Some(kind));
        if let [only] = others.as_slice() {
            return self.check(node, only, path);
        }
        let before = self.errors.len();
        let mut first_errors = None;
        for choice in &others {
            let value = self.check(node, choice, path);
            let errors: Vec<Diagnostic> = self.errors.drain(before..).collect();
            if errors.is_empty() {
                return value;
            }
            first_errors.get_or_insert(errors);
        }
        if let Some(errors) = first_errors {
            self.errors.extend(errors);
        } else {
            self.error(
                node,
                path,
                format!("found {}, which matches no allowed form", node.describe()),
            );
        }
        None
    }

    fn check_words(&mut self, node: &Node, words: &[&str], path: &KeyPath) -> Option<Json> {
        let text = match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => node.scalar_text(),
            _ => None,
        };
        if let Some(text) = &text
            && words.contains(&text.as_str())
        {
            return Some(Json::String(text.clone()));
        }
        let list = words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = text
            .as_deref()
            .and_then(|t| did_you_mean(t, words.iter().copied()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        self.error(
            node,
            path,
            format!("expected one of {list}, found {}{hint}", node.describe()),
        );
        None
    }

    fn check_object(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        schema: &'a Json,
        path: &KeyPath,
    ) -> Option<Json> {
        let properties = schema.get("properties").and_then(Json::as_object);
        let additional = schema.get("additionalProperties");
        let names = schema.get("propertyNames");
        let mut out = Map::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key.scalar_text() else {
                self.error(
                    key,
                    path,
                    format!("expected a key that is a word, found {}", key.describe()),
                );
                ok = false;
                continue;
            };
            let child_path = path.key(&name);
            if let Some(names) = names
                && self.check(key, names, &child_path).is_none()
            {
                ok = false;
                continue;
            }
            let child_schema = match properties.and_then(|p| p.get(&name)) {
                Some(s) => s,
                None => match additional {
                    Some(s @ Json::Object(_)) => s,
                    Some(Json::Bool(true)) => {
                        out.insert(name, to_json(value));
                        continue;
                    }
                    _ => {
                        let known: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        let message = match did_you_mean(&name, known.iter().copied()) {
                            Some(close) => format!("unknown key `{name}`; did you mean `{close}`?"),
                            None => format!(
                                "unknown key `{name}`; expected one of {}",
                                known
                                    .iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        self.error(key, path, message);
                        ok = false;
                        continue;
                    }
                },
            };
            match self.check(value, child_schema, &child_path) {
                Some(v) => {
                    out.insert(name, v);
                }
                None => ok = false,
            }
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for name in required.iter().filter_map(Json::as_str) {
                if !out.contains_key(name)
                    && !entries
                        .iter()
                        .any(|(k, _)| k.scalar_text().as_deref() == Some(name))
                {
                    let what = properties
                        .and_then(|p| p.get(name))
                        .map(|s| expected_of(self, s))
                        .unwrap_or_else(|| "a value".to_owned());
                    let at = if path.to_string().is_empty() {
                        "the top level".to_owned()
                    } else {
                        format!("`{path}`")
                    };
                    self.error(
                        node,
                        path,
                        format!("missing key `{name}` in {at}: expected {what}"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Json::Object(out))
    }

    fn check_string(&mut self, node: &Node, text: &str, schema: &Json, path: &KeyPath) -> bool {
        if let Some(kind) = values::looks_like_secret(text) {
            self.error(
                node,
                path,
                format!(
                    "this looks like {kind}: secrets never go in the settings file; store it in SSM Parameter Store (SecureString) or Secrets Manager and write its reference here, e.g. `ssm:/spa/webhook` or `secretsmanager:spa/webhook`"
                ),
            );
            return false;
        }
        let count = text.chars().count() as u64;
        let min = schema.get("minLength").and_then(Json::as_u64);
        let max = schema.get("maxLength").and_then(Json::as_u64);
        if min.is_some_and(|m| count < m) || max.is_some_and(|m| count > m) {
            let range = match (min, max) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => String::new(),
            };
            self.error(
                node,
                path,
                format!(
                    "expected a text of {range} characters, found {} characters",
                    count
                ),
            );
            return false;
        }
        let Some(check) = schema.get("x-spa-check").and_then(Json::as_str) else {
            return true;
        };
        let result = run_check(check, text);
        match result {
            Ok(()) => true,
            Err(expected) => {
                self.error(
                    node,
                    path,
                    format!("expected {expected}, found {}", node.describe()),
                );
                false
            }
        }
    }

    fn check_range(
        &mut self,
        node: &Node,
        value: f64,
        schema: &Json,
        types: &[&str],
        path: &KeyPath,
    ) -> bool {
        let min = schema.get("minimum").and_then(Json::as_f64);
        let max = schema.get("maximum").and_then(Json::as_f64);
        let above = schema.get("exclusiveMinimum").and_then(Json::as_f64);
        let bad = min.is_some_and(|m| value < m)
            || max.is_some_and(|m| value > m)
            || above.is_some_and(|m| value <= m);
        if bad {
            self.error(
                node,
                path,
                format!(
                    "expected {}, found {}",
                    expected(schema, types),
                    node.describe()
                ),
            );
        }
        !bad
    }
}

fn run_check(check: &str, text: &str) -> Result<(), String> {
    use super::schema::check as c;
    match check {
        c::ACCOUNT_ID => values::check_account_id(text),
        c::OU_ID => values::check_ou_id(text),
        c::DURATION => values::parse_duration(text).map(|_| ()),
        c::NOTICE_BEFORE => values::check_notice_before(text),
        c::SNOOZE => values::check_snooze(text),
        c::SCHEDULE => values::check_schedule(text),
        c::EMAIL => values::check_email(text),
        c::SECRET => values::check_secret_ref(text),
        c::CURRENCY => values::check_currency(text),
        c::REGION => values::check_region(text),
        c::ROLE_ARN => values::check_role_arn(text),
        c::ROLE_NAME => values::check_role_name(text),
        c::BUCKET => values::check_bucket(text),
        c::ENVIRONMENT => values::check_environment(text),
        c::ATHENA_NAME => values::check_athena_name(text),
        c::S3_URL => values::check_s3_url(text),
        c::IAM_ACTION => values::check_iam_action(text),
        c::INSTANCE_TYPE => values::check_instance_type(text),
        _ => Ok(()),
    }
}

fn expected_of(validator: &Validator<'_>, schema: &Json) -> String {
    let schema = validator.resolve(schema);
    let types: Vec<&str> = match schema.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => vec![],
    };
    expected(schema, &types)
}

/// "expected ..." for a schema. A semantic check says it best: it is asked about a
/// value (NUL) that every check refuses, and its refusal is the phrase.
fn expected(schema: &Json, types: &[&str]) -> String {
    if let Some(check) = schema.get("x-spa-check").and_then(Json::as_str)
        && let Err(expected) = run_check(check, "\u{0}")
    {
        return expected;
    }
    let kind = types
        .iter()
        .copied()
        .find(|t| *t != "null")
        .unwrap_or("null");
    let min = schema.get("minimum").and_then(Json::as_f64);
    let max = schema.get("maximum").and_then(Json::as_f64);
    let above = schema.get("exclusiveMinimum").and_then(Json::as_f64);
    let bounds = match (min, max, above) {
        (_, _, Some(a)) => format!(" greater than {a}"),
        (Some(a), Some(b), _) => format!(" from {a} to {b}"),
        (Some(a), None, _) if a != 0.0 || kind == "number" => format!(" of at least {a}"),
        (None, Some(b), _) => format!(" of at most {b}"),
        _ => String::new(),
    };
    match kind {
        "object" if schema.get("properties").is_some() => "a mapping of keys".to_owned(),
        "object" => "a mapping (key: value)".to_owned(),
        "array" => "a list".to_owned(),
        "string" => "a text".to_owned(),
        "integer" if min == Some(0.0) && max.is_none() && above.is_none() => {
            "a whole number of at least 0".to_owned()
        }
        "integer" => format!("a whole number{bounds}"),
        "number" => format!("a number{bounds}"),
        "boolean" => "`true` or `false`".to_owned(),
        _ => "a value".to_owned(),
    }
}

/// A node as JSON, without schema (for free-form values).
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.scalar_text()?, to_json(v))))
                .collect(),
        ),
    }
}
