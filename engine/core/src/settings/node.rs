//! A YAML document as a tree of nodes that remember where they were written.
//!
//! The file is parsed once, under budgets, into this tree; validation walks it and
//! reports every error with its line and column before anything is typed.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};

/// Largest settings file or CSV overlay accepted, in bytes (checked before parsing).
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Line and column (1-based) of a node in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where it was written.
    pub pos: Pos,
    /// The source text of a plain scalar (so `012345678901` keeps its leading zero).
    pub raw: Option<String>,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node made by the program (legacy rewrites), placed where its origin was.
    pub fn synthetic(value: Value, pos: Pos) -> Self {
        Self {
            value,
            pos,
            raw: None,
        }
    }

    /// The text of a scalar as written: strings as they are, numbers and booleans as in the file.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(self.raw.clone().unwrap_or_else(|| b.to_string())),
            Value::Int(i) => Some(self.raw.clone().unwrap_or_else(|| i.to_string())),
            Value::Float(f) => Some(self.raw.clone().unwrap_or_else(|| f.to_string())),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The value of `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// What the node is, for "found ..." in messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                format!("`{}`", self.scalar_text().unwrap_or_default())
            }
            Value::Str(s) => {
                let shown: String = s.chars().take(60).collect();
                let more = if s.chars().count() > 60 { "..." } else { "" };
                format!("{:?}", format!("{shown}{more}"))
            }
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// A parse failure: where, and what the parser said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the parser stopped, when it knows.
    pub pos: Pos,
    /// Its message.
    pub message: String,
}

/// The budgets that keep a hostile file from exhausting memory or time.
fn options() -> Options {
    let mut budget = Budget::default();
    // Settings nest 7 levels deep at most; 24 leaves room and keeps the recursive
    // deserializer far from the stack limit, even in debug builds on a 2 MiB thread stack.
    budget.max_depth = 24;
    budget.flow_nesting_limit = 24;
    budget.max_nodes = 250_000;
    budget.max_events = 1_000_000;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES);
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options.with_snippet = false;
    options.strict_booleans = true;
    options
}

/// Parses YAML text into a node tree, under budgets.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError {
            pos: Pos { line: 1, column: 1 },
            message: format!(
                "the file has {} bytes; the limit is {MAX_FILE_BYTES} bytes (4 MiB)",
                text.len()
            ),
        });
    }
    let spanned: Spanned<Raw> =
        serde_saphyr::from_str_with_options(text, options()).map_err(|error| {
            let pos = error
                .location()
                .map(|l| to_pos(&l))
                .unwrap_or(Pos { line: 1, column: 1 });
            let message = error.to_string();
            let mut message = strip_location(&message);
            if message.contains("recursion limit") || message.contains("depth") {
                message.push_str(" (settings nest at most 24 levels deep)");
            } else if message.contains("alias") || message.contains("anchor") {
                message.push_str(" (aliases may not expand the file beyond 100,000 nodes)");
            }
            ParseError {
                pos,
                message: format!("invalid YAML: {message}"),
            }
        })?;
    Ok(build(spanned, text))
}

/// saphyr appends " at line L, column C" (and alias notes); the position is given apart.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

fn to_pos(location: &serde_saphyr::Location) -> Pos {
    Pos {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX).max(1),
        column: u32::try_from(location.column()).unwrap_or(u32::MAX).max(1),
    }
}

fn build(spanned: Spanned<Raw>, text: &str) -> Node {
    let pos = to_pos(&spanned.referenced);
    let span = spanned.defined.span();
    let raw_of = || {
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        text.get(start..start.checked_add(len)?).map(str::to_owned)
    };
    let (value, raw) = match spanned.value {
        Raw::Null => (Value::Null, None),
        Raw::Bool(b) => (Value::Bool(b), raw_of()),
        Raw::Int(i) => (Value::Int(i), raw_of()),
        Raw::Float(f) => (Value::Float(f), raw_of()),
        Raw::Str(s) => (Value::Str(s), None),
        Raw::Seq(items) => (
            Value::Seq(items.into_iter().map(|i| build(i, text)).collect()),
            None,
        ),
        Raw::Map(entries) => (
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (build(k, text), build(v, text)))
                    .collect(),
            ),
            None,
        ),
    };
    Node { value, pos, raw }
}

/// What serde-saphyr hands over, each child with its location.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

/// A "billion laughs" document: nine levels of aliases, each repeating the one
/// before nine times, starting at key `first` (for the budget tests).
#[cfg(test)]
pub(super) fn billion_laughs(first: &str) -> String {
    let mut text = format!("{first}: &a [{}]\n", ["\"lol\""; 9].join(","));
    for (name, previous) in [
        ("b", "a"),
        ("c", "b"),
        ("d", "c"),
        ("e", "d"),
        ("f", "e"),
        ("g", "f"),
        ("h", "g"),
        ("i", "h"),
    ] {
        let refs = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn positions_and_raw_text() {
        let node = parse("# comment\naccount: 012345678901\nlist:\n  - 2.50\n  - yes\n").unwrap();
        let account = node.get("account").unwrap();
        assert_eq!(
            account.pos,
            Pos {
                line: 2,
                column: 10
            }
        );
        assert_eq!(account.scalar_text().as_deref(), Some("012345678901"));
        let Value::Seq(items) = &node.get("list").unwrap().value else {
            panic!()
        };
        assert_eq!(items[0].scalar_text().as_deref(), Some("2.50"));
        assert_eq!(
            items[1].value,
            Value::Str("yes".to_owned()),
            "strict booleans: `yes` stays a string"
        );
        assert_eq!(items[1].pos, Pos { line: 5, column: 5 });
    }

    #[test]
    fn billion_laughs_is_refused() {
        let text = billion_laughs("a");
        let error = parse(&text).unwrap_err();
        assert!(error.message.contains("alias"), "{error:?}");
        assert!(error.pos.line > 1);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500) + &"]".repeat(500);
        let error = parse(&text).unwrap_err();
        assert!(
            error.message.contains("limit") || error.message.contains("depth"),
            "{error:?}"
        );
    }

    #[test]
    fn oversized_text_is_refused_before_parsing() {
        let text = "a: b\n".repeat(MAX_FILE_BYTES / 5 + 1);
        let error = parse(&text).unwrap_err();
        assert!(
            error.message.contains("limit is 4194304 bytes"),
            "{error:?}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let error = parse("a: [1\nb: 2").unwrap_err();
        assert_eq!(error.pos.line, 2);
        let error = parse("a: 1\na: 2\n").unwrap_err();
        assert!(error.message.contains("duplicate"), "{error:?}");
        assert_eq!(error.pos, Pos { line: 2, column: 1 });
    }
}
