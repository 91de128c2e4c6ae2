//! YAML for people and kubectl: what `convert`, `stack` and `crd` print.
//!
//! kubectl reads YAML with go-yaml's YAML 1.1 rules, where `Y`, `yes`, `on`, `~`, `0o17`,
//! `1_000`, `12:30`, `2024-01-01` and `<<` are not strings; other tools read YAML 1.2,
//! where some of them are. A string is therefore written plain only when it has no other
//! reading in either: it starts with a letter, `_` or `/`, holds only letters, digits,
//! spaces and `_ . / - @ = +` (and `:` not followed by a space), and is none of the words
//! YAML 1.1 reads as a boolean or null. Every other string is double-quoted, or, when it
//! spans lines, written as a literal block. Keys follow the same rule.
// Long because it is a whole serde Serializer, whose trait has a method per data type;
// the quoting rules it applies are short and sit at the top.

use std::fmt::Write;

use serde::ser::{self, Serialize};
/// One YAML document (no leading `---`), ending with a newline. Anything serde can
/// serialize: a `serde_json::Value` (its mappings in key order) or a typed object written
/// straight from its fields, with no intermediate tree (`convert` prints 700 KB that way).
/// Fails only where this printer has no form: a compound mapping key, an enum's tuple or
/// struct variant (nothing we print has either).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::new();
    value.serialize(Writer { out: &mut out, slot: Slot::Document })?;
    Ok(out)
}

/// A mapping key that is not a scalar (YAML would need a complex key, which nobody reads).
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

/// Where the value being written sits, which decides what goes before and after it.
#[derive(Clone, Copy)]
enum Slot {
    /// The whole document.
    Document,
    /// The value of a mapping key whose keys are indented by `level` (the `:` is written).
    AfterKey { level: usize },
    /// A list entry whose `- ` (written) is indented by `level`.
    ListItem { level: usize },
}

impl Slot {
    /// The indentation of a mapping's keys in this slot, and whether its first key goes on
    /// the line already started (after a list entry's `- `).
    fn mapping(self) -> (usize, bool) {
        match self {
            Slot::Document => (0, false),
            Slot::AfterKey { level } => (level + 2, false),
            Slot::ListItem { level } => (level + 2, true),
        }
    }

    /// The indentation of a list's `- `; kubectl's style does not indent a list under a key.
    fn list(self) -> usize {
        match self {
            Slot::Document => 0,
            Slot::AfterKey { level } => level,
            Slot::ListItem { level } => level + 2,
        }
    }

    /// The indentation a block scalar's lines take in this slot.
    fn scalar_level(self) -> usize {
        match self {
            Slot::Document => 0,
            Slot::AfterKey { level } | Slot::ListItem { level } => level + 2,
        }
    }
}

struct Writer<'a> {
    out: &'a mut String,
    slot: Slot,
}

impl<'a> Writer<'a> {
    /// A scalar (or an empty collection, `text` `{}` or `[]`) in this slot, with its line end.
    fn scalar(self, write: impl FnOnce(&mut String, usize)) -> Result<(), Error> {
        if let Slot::AfterKey { .. } = self.slot {
            self.out.push(' ');
        }
        write(self.out, self.slot.scalar_level());
        self.out.push('\n');
        Ok(())
    }

    fn text(self, text: &str) -> Result<(), Error> {
        self.scalar(|out, level| write_string(out, text, level, false))
    }

    fn plain(self, text: &str) -> Result<(), Error> {
        self.scalar(|out, _| out.push_str(text))
    }

    fn mapping(self) -> Mapping<'a> {
        let (level, inline_first) = self.slot.mapping();
        Mapping { out: self.out, slot: self.slot, level, inline_first, entries: 0, key: String::new() }
    }

    fn list(self) -> List<'a> {
        List { out: self.out, slot: self.slot, level: self.slot.list(), entries: 0 }
    }
}

/// A mapping being written; nothing is written before its first entry, so an empty one
/// becomes `{}` on the key's line.
struct Mapping<'a> {
    out: &'a mut String,
    slot: Slot,
    level: usize,
    inline_first: bool,
    entries: usize,
    key: String,
}

impl Mapping<'_> {
    fn entry<V: Serialize + ?Sized>(&mut self, key: &str, value: &V) -> Result<(), Error> {
        if self.entries == 0 && matches!(self.slot, Slot::AfterKey { .. }) {
            self.out.push('\n');
        }
        if self.entries > 0 || !self.inline_first {
            indent(self.out, self.level);
        }
        self.entries += 1;
        write_string(self.out, key, self.level, true);
        self.out.push(':');
        value.serialize(Writer { out: self.out, slot: Slot::AfterKey { level: self.level } })
    }

    fn finish(self) -> Result<(), Error> {
        if self.entries == 0 {
            return Writer { out: self.out, slot: self.slot }.plain("{}");
        }
        Ok(())
    }
}

/// A list being written; an empty one becomes `[]`.
struct List<'a> {
    out: &'a mut String,
    slot: Slot,
    level: usize,
    entries: usize,
}

impl List<'_> {
    fn entry<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), Error> {
        if self.entries == 0 && !matches!(self.slot, Slot::Document) {
            // After a key or a list entry's `- `, the list starts on the next line.
            self.out.push('\n');
        }
        self.entries += 1;
        indent(self.out, self.level);
        self.out.push_str("- ");
        value.serialize(Writer { out: self.out, slot: Slot::ListItem { level: self.level } })
    }

    fn finish(self) -> Result<(), Error> {
        if self.entries == 0 {
            return Writer { out: self.out, slot: self.slot }.plain("[]");
        }
        Ok(())
    }
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n(' ', level));
}

/// `serialize_<small>` for numbers written as their wider type is.
macro_rules! widened_to {
    ($($method:ident: $type:ty => $wider:ident),* $(,)?) => {$(
        fn $method(self, v: $type) -> Result<(), Error> {
            self.$wider(v.into())
        }
    )*};
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = List<'a>;
    type SerializeTuple = List<'a>;
    type SerializeTupleStruct = List<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = Mapping<'a>;
    type SerializeStruct = Mapping<'a>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.plain(if v { "true" } else { "false" })
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.plain(&v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.plain(&v.to_string())
    }
    widened_to! {
        serialize_i8: i8 => serialize_i64, serialize_i16: i16 => serialize_i64, serialize_i32: i32 => serialize_i64,
        serialize_u8: u8 => serialize_u64, serialize_u16: u16 => serialize_u64, serialize_u32: u32 => serialize_u64,
        serialize_f32: f32 => serialize_f64,
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        // JSON has no NaN or infinity; serde_json writes them as null, and so do we.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.plain(&number(&n)),
            None => self.plain("null"),
        }
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut list = self.list();
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut list, byte)?;
        }
        list.finish()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.plain("null")
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _name: &'static str, _index: u32, variant: &'static str, value: &T) -> Result<(), Error> {
        let mut mapping = self.mapping();
        mapping.entry(variant, value)?;
        mapping.finish()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<List<'a>, Error> {
        Ok(self.list())
    }
    fn serialize_tuple(self, _len: usize) -> Result<List<'a>, Error> {
        Ok(self.list())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<List<'a>, Error> {
        Ok(self.list())
    }
    fn serialize_tuple_variant(self, _name: &'static str, _index: u32, variant: &'static str, _len: usize) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error(format!("the tuple variant {variant} has no YAML form here")))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Mapping<'a>, Error> {
        Ok(self.mapping())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Mapping<'a>, Error> {
        Ok(self.mapping())
    }
    fn serialize_struct_variant(self, _name: &'static str, _index: u32, variant: &'static str, _len: usize) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error(format!("the struct variant {variant} has no YAML form here")))
    }
}

/// The compound traits a list or a mapping answers to, each forwarding to `entry`.
macro_rules! forward_compound {
    ($($trait:ident for $type:ident: $method:ident($($key:ident: $key_type:ty,)?);)*) => {$(
        impl ser::$trait for $type<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: $key_type,)? value: &T) -> Result<(), Error> {
                self.entry($($key,)? value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

forward_compound! {
    SerializeSeq for List: serialize_element();
    SerializeTuple for List: serialize_element();
    SerializeTupleStruct for List: serialize_field();
    SerializeStruct for Mapping: serialize_field(key: &'static str,);
}

impl ser::SerializeMap for Mapping<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = key.serialize(KeyWriter)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = std::mem::take(&mut self.key);
        self.entry(&key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// A mapping key as text: strings, numbers, booleans; nothing compound.
struct KeyWriter;

/// `serialize_<type>` for keys of types whose text is their `Display`.
macro_rules! key_as_text {
    ($($method:ident: $type:ty),* $(,)?) => {$(
        fn $method(self, v: $type) -> Result<String, Error> {
            Ok(v.to_string())
        }
    )*};
}

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_string())
    }
    key_as_text! {
        serialize_bool: bool, serialize_char: char, serialize_f32: f32, serialize_f64: f64,
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<String, Error> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result<String, Error> {
        Err(not_a_key())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key())
    }
}

fn not_a_key() -> Error {
    Error("a mapping key must be a string, a number or a boolean".to_string())
}

/// A float keeps a `.` before its exponent: YAML 1.1 reads `1e100` as a string.
fn number(n: &serde_json::Number) -> String {
    let text = n.to_string();
    if n.is_f64() && !text.contains('.') {
        match text.find(['e', 'E']) {
            Some(at) => format!("{}.0{}", &text[..at], &text[at..]),
            None => format!("{text}.0"),
        }
    } else {
        text
    }
}

fn write_string(out: &mut String, text: &str, level: usize, key: bool) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else if !key && literal_block_fits(text) {
        write_literal_block(out, text, level);
    } else {
        write_double_quoted(out, text);
    }
}

/// Words YAML 1.1 (go-yaml, kubectl) reads as booleans or null, compared without case.
const SPECIAL_WORDS: [&str; 13] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf", "infinity"];

/// Whether `text` reads back as this same string in every YAML reader when written plain.
pub fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    // A leading `-` is a sequence entry only before a space; `-c` and `--name` are words.
    let after_dashes = text.trim_start_matches('-');
    let option_like = first == '-' && after_dashes.len() < text.len() && after_dashes.starts_with(|c: char| c.is_ascii_alphabetic());
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/' || option_like) {
        return false;
    }
    if text.ends_with([' ', ':']) || text.contains(": ") || text.contains(" #") {
        return false;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '-' | '@' | '=' | '+' | ':');
    if !text.chars().all(allowed) {
        return false;
    }
    !SPECIAL_WORDS.iter().any(|word| text.eq_ignore_ascii_case(word))
}

/// A multi-line string reads back exactly from a literal block when no line is only
/// spaces (those would be taken as indentation), the first line does not start with a
/// space (that would need an indentation indicator), and there are no control characters
/// but newlines and tabs.
fn literal_block_fits(text: &str) -> bool {
    text.contains('\n')
        && !text.trim_end_matches('\n').is_empty()
        && !text.starts_with([' ', '\t', '\n'])
        && text.chars().all(|c| c == '\n' || c == '\t' || !needs_escape(c))
        && text.split('\n').all(|line| line.is_empty() || !line.chars().all(|c| c == ' ' || c == '\t'))
}

fn write_literal_block(out: &mut String, text: &str, level: usize) {
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    let level = level.max(2);
    let lines: Vec<&str> = body.split('\n').collect();
    for line in &lines {
        out.push('\n');
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
    }
    // With `|+` the trailing newlines are content: write them as empty lines.
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;
    use serde_json::json;

    fn reads_back(value: &Value) {
        let text = to_string(value).unwrap();
        let back: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, value, "\n{text}");
    }

    #[test]
    fn strings_other_readers_take_for_something_else_are_quoted() {
        for text in [
            "Y",
            "y",
            "yes",
            "No",
            "ON",
            "off",
            "True",
            "false",
            "~",
            "null",
            "NULL",
            "0o17",
            "0x1F",
            "1_000",
            ".inf",
            "-.Inf",
            ".nan",
            "2024-01-01",
            "12:30",
            "<<",
            "=",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "@x",
            "!tag",
            "&a",
            "*a",
            "%x",
            "`x",
            "[x]",
            "{x}",
            "|",
            ">",
            "?",
            "-",
            "- x",
            "123",
            "1.5",
            "1e3",
            "+1",
            "0",
            "#x",
        ] {
            let mut out = String::new();
            write_string(&mut out, text, 0, false);
            assert!(out.starts_with('"'), "{text:?} was written {out}");
        }
        for text in ["nginx", "nginx:1.25", "app.kubernetes.io/name", "/var/lib/data", "a b c", "web-1", "KEY=value", "yesterday", "only", "-c", "--name"] {
            assert!(is_plain_safe(text), "{text:?}");
        }
    }

    #[test]
    fn documents_read_back() {
        reads_back(&json!({"apiVersion": "v1", "kind": "List", "items": [
            {"metadata": {"name": "x", "labels": {"on": "Y", "a": "yes"}}, "data": {"k": "line1\nline2\n", "empty": "", "n": "\n\n", "t": "a\tb\n  c"}},
            {"spec": {"containers": [{"args": ["-c", "echo hi"], "ports": [{"containerPort": 80}]}], "empty": {}, "none": []}},
            {"float": 1e100, "neg": -2.5, "bool": true, "null": null, "nested": [[1, 2], [], {}]}
        ]}));
        reads_back(&json!({"compose": "services:\n  web:\n    image: nginx\n\n\n", "x": "no newline\nat end"}));
    }

    #[test]
    fn layout_follows_kubectl() {
        let text = to_string(&json!({"a": {"b": [{"c": 1, "d": "e"}, "f"]}, "g": []})).unwrap();
        assert_eq!(text, "a:\n  b:\n  - c: 1\n    d: e\n  - f\ng: []\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_string_reads_back(key in "\\PC{0,12}", value in "(\\PC|\n|\t| ){0,40}") {
            reads_back(&json!({ key: value }));
        }
    }
}
