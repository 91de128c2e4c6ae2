//! YAML for people and kubectl: what `convert`, `stack` and `crd` print.
//!
//! kubectl reads YAML with go-yaml's YAML 1.1 rules, where `Y`, `yes`, `on`, `~`, `0o17`,
//! `1_000`, `12:30`, `2024-01-01` and `<<` are not strings; other tools read YAML 1.2,
//! where some of them are. A string is therefore written plain only when it has no other
//! reading in either: it starts with a letter, `_` or `/`, holds only letters, digits,
//! spaces and `_ . / - @ = +` (and `:` not followed by a space), and is none of the words
//! YAML 1.1 reads as a boolean or null. Every other string is double-quoted, or, when it
//! spans lines, written as a literal block. Keys follow the same rule.

use std::fmt::Write;

use serde_json::Value;

/// One YAML document (no leading `---`), ending with a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            write_scalar(&mut out, scalar, 0);
            out.push('\n');
        }
    }
    out
}

/// Several documents separated by `---`.
pub fn documents<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    values.into_iter().map(to_string).collect::<Vec<_>>().join("---\n")
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n(' ', level));
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (index, (key, value)) in map.iter().enumerate() {
        // The first key of a mapping inside a list item follows the `- ` on its line.
        if index > 0 || !out.ends_with("- ") {
            indent(out, level);
        }
        write_string(out, key, level, true);
        out.push(':');
        write_value_after_key(out, value, level);
    }
}

fn write_value_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level + 2);
        }
        // kubectl's style: a list under a key is not indented further.
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, level);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, level + 2);
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, level + 2),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, level + 2);
            }
            scalar => {
                write_scalar(out, scalar, level + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection) at `level`, the indentation its block lines take.
fn write_scalar(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s, level, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
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
    use serde_json::json;

    fn reads_back(value: &Value) {
        let text = to_string(value);
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
        let text = to_string(&json!({"a": {"b": [{"c": 1, "d": "e"}, "f"]}, "g": []}));
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
