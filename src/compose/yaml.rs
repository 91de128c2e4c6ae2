//! Budgeted YAML parsing of untrusted compose documents into a tree that keeps what
//! later stages need: the `!reset` / `!override` tags of the merge rules and the
//! line/column of every node for error messages.
//!
//! serde_yaml (libyaml) was measured to exhaust >6 GB on a 205 KB alias bomb, so the
//! input goes through serde-saphyr with tight budgets and a size cap instead.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};

use super::diagnostic::{Diagnostic, Location, Path};

/// The largest compose document accepted, in bytes. Real stacks are a few KiB;
/// a ComposeStack object must fit in etcd's ~1.5 MiB anyway.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Keys in document order; compose keys are always scalars, kept as their text.
    Map(Vec<(String, Node)>),
}

/// The compose merge-rule tags a node can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeTag {
    /// `!reset`: remove the value inherited from earlier documents.
    Reset,
    /// `!override`: replace the inherited value instead of merging into it.
    Override,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub tag: Option<MergeTag>,
    pub location: Option<Location>,
}

impl Node {
    pub fn new(value: Value) -> Self {
        Node { value, tag: None, location: None }
    }

    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The node at a compose path (sequence items addressed by index), for locating errors.
    pub fn find(&self, path: &[String]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        let child = match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == first).map(|(_, v)| v),
            Value::Seq(items) => first.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }?;
        child.find(rest)
    }

    /// The nearest known location at or above `path`.
    pub fn locate(&self, path: &Path) -> Option<Location> {
        let segments = path.segments();
        (0..=segments.len()).rev().find_map(|len| self.find(&segments[..len]).and_then(|node| node.location))
    }

    /// A scalar's text as compose reads it when a string is expected (`FOO: 1` is "1").
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// How many nodes the tree holds (itself included). Recursion is safe here and in the
    /// other tree walks: the parser refuses documents nested deeper than 32 levels, and no
    /// later stage nests deeper.
    pub fn count_nodes(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count_nodes).sum(),
            Value::Map(entries) => entries.iter().map(|(_, v)| v.count_nodes()).sum(),
            _ => 0,
        }
    }

    /// Plain data for typed deserialization; tags and locations are dropped here
    /// (locations are recovered from the tree by path when something fails).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    fn with_document(mut self, document: usize) -> Self {
        if let Some(location) = &mut self.location {
            location.document = document;
        }
        match &mut self.value {
            Value::Seq(items) => {
                for item in std::mem::take(items) {
                    items.push(item.with_document(document));
                }
            }
            Value::Map(entries) => {
                for (key, value) in std::mem::take(entries) {
                    entries.push((key, value.with_document(document)));
                }
            }
            _ => {}
        }
        self
    }
}

/// Parses one compose document. `document` numbers it for locations (0 = the main file).
pub fn parse(input: &str, document: usize) -> Result<Node, Diagnostic> {
    let root = Path::root();
    if input.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::new(root, format!("the compose document is {} bytes; the limit is {MAX_INPUT_BYTES}", input.len()))
            .with_hint("split the stack into several ComposeStacks"));
    }
    let node: Node = serde_saphyr::from_str_with_options(input, options())
        .map_err(|error| Diagnostic::new(root.clone(), format!("not valid YAML: {}", first_line(&error.to_string()))))?;
    let node = node.with_document(document);
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Null => Err(Diagnostic::new(root, "the compose document is empty")),
        _ => Err(Diagnostic::new(root, "the compose document must be a mapping (services:, volumes:, ...)").at(node.location)),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

/// Budgets sized for compose files: deep enough for any real stack, far too small for a bomb.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_documents: 1,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_nodes: 100_000,
            max_events: 200_000,
            max_merge_keys: 1_000,
            max_total_scalar_bytes: MAX_INPUT_BYTES,
            max_recorded_anchor_bytes: MAX_INPUT_BYTES,
            max_recorded_anchor_events: 100_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
        // Compose (YAML 1.1 heritage) writes file modes as `0440`.
        legacy_octal_numbers: true,
        // `on`/`yes` stay strings: `restart: no` must be quoted in compose too.
        strict_booleans: true,
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Tagged<Value>>::deserialize(deserializer)?;
        let Tagged(value, tag) = spanned.value;
        let tag = match tag.as_deref() {
            Some("!reset") => Some(MergeTag::Reset),
            Some("!override") => Some(MergeTag::Override),
            _ => None,
        };
        let location = Some(Location { document: 0, line: spanned.referenced.line(), column: spanned.referenced.column() });
        Ok(Node { value, tag, location })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        // A set beside the list keeps the duplicate check linear for large mappings.
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            // Errors point at the key: for a block mapping or list its value starts a line later.
            let key_location = Location { document: 0, line: key.referenced.line(), column: key.referenced.column() };
            let key = match key.value {
                Value::String(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return Err(de::Error::custom("a mapping key is empty")),
                Value::Seq(_) | Value::Map(_) => {
                    return Err(de::Error::custom("mapping keys must be scalars"));
                }
            };
            let mut value = map.next_value::<Node>()?;
            value.location = Some(key_location);
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{}`", super::diagnostic::truncate(&key, 80))));
            }
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tags_locations_and_octal() {
        let node = parse("services:\n  web:\n    ports: !reset []\n    mode: 0440\n", 0).unwrap();
        let ports = node.find(&["services".into(), "web".into(), "ports".into()]).unwrap();
        assert_eq!(ports.tag, Some(MergeTag::Reset));
        assert_eq!(ports.location.unwrap().line, 3);
        let mode = node.find(&["services".into(), "web".into(), "mode".into()]).unwrap();
        assert_eq!(mode.value, Value::Int(288));
    }

    #[test]
    fn anchors_and_merge_keys_expand() {
        let node = parse("x-base: &base\n  image: a\nservices:\n  web:\n    <<: *base\n    ports: []\n", 0).unwrap();
        let web = node.find(&["services".into(), "web".into()]).unwrap();
        assert_eq!(web.get("image").unwrap().value, Value::String("a".into()));
    }

    /// "Billion laughs": each level is a list of ten references to the previous one.
    fn alias_bomb(levels: usize) -> String {
        let mut doc = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..levels {
            let refs = vec![format!("*l{}", level - 1); 10].join(", ");
            doc.push_str(&format!("l{level}: &l{level} [{refs}]\n"));
        }
        doc
    }

    #[test]
    fn refuses_alias_bomb_quickly() {
        let doc = alias_bomb(12);
        let started = std::time::Instant::now();
        let error = parse(&doc, 0).unwrap_err();
        // Refused in about 0.1 s (debug build, idle machine); the bound only has to tell that
        // from libyaml's minutes and gigabytes, on a shared 2-core machine under load.
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
        assert!(error.message.contains("alias") || error.message.contains("budget"), "{}", error.message);
    }

    #[test]
    fn a_few_aliases_are_fine() {
        assert!(parse(&alias_bomb(3), 0).is_ok());
    }

    #[test]
    fn refuses_deep_nesting_and_oversized_input() {
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, 0).is_err());
        let nested = format!("a: {}1{}", "[".repeat(40), "]".repeat(40));
        assert!(parse(&nested, 0).is_err());
        let big = format!("a: \"{}\"", "x".repeat(MAX_INPUT_BYTES));
        assert!(parse(&big, 0).unwrap_err().message.contains("limit"));
    }

    #[test]
    fn rejects_duplicate_keys_and_non_mappings() {
        assert!(parse("a: 1\na: 2\n", 0).is_err());
        assert!(parse("- a\n", 0).is_err());
        assert!(parse("", 0).is_err());
    }
}
