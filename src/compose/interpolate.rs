//! `${VAR}` interpolation with the compose specification's semantics.
//!
//! The variables and the document are both user input, so the work is bounded: nesting
//! depth, the length of one interpolated string and the growth of the whole document.

use std::collections::BTreeSet;

use super::diagnostic::{Diagnostic, Path, Report};
use super::yaml::{Node, Value};

use super::limits::{
    MAX_INTERPOLATED_DOCUMENT_BYTES as MAX_TREE_BYTES, MAX_INTERPOLATED_VALUE_BYTES as MAX_OUTPUT_BYTES, MAX_INTERPOLATION_DEPTH as MAX_DEPTH,
};

/// How much of the offending text an error message quotes.
const SNIPPET_CHARS: usize = 40;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    /// Variables that were unset and became "" (each once, in order of appearance).
    pub unset: Vec<String>,
}

pub fn interpolate_str(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Interpolated, String> {
    let mut parser = Parser { lookup, unset: Vec::new(), seen: BTreeSet::new() };
    let mut out = String::new();
    parser.body(text, 0, text, true, &mut out)?;
    Ok(Interpolated { text: out, unset: parser.unset })
}

struct Parser<'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
    unset: Vec<String>,
    seen: BTreeSet<String>,
}

enum Operator {
    Default,
    Alternative,
    Required,
}

impl Parser<'_> {
    /// Interpolates `rest` into `out` up to its end or, inside a `${...}` body (depth > 0),
    /// up to the `}` closing it, and returns what follows. With `evaluate` off the text is
    /// only checked: compose leaves an unused default unevaluated (no lookups, no errors
    /// from `?`), but a malformed one is still refused here.
    fn body<'t>(&mut self, mut rest: &'t str, depth: usize, opener: &str, evaluate: bool, out: &mut String) -> Result<&'t str, String> {
        // Braces that balance inside a body are text, as in compose-go: `${A:-{"k":1}}`.
        let mut open_braces: usize = 0;
        loop {
            let special = rest.find(|c: char| c == '$' || (depth > 0 && (c == '{' || c == '}'))).unwrap_or(rest.len());
            let (literal, tail) = rest.split_at(special);
            emit(out, literal, evaluate)?;
            let mut chars = tail.chars();
            match chars.next() {
                None if depth == 0 => return Ok(tail),
                None => return Err(invalid(opener, "the `${` is never closed by `}`")),
                Some('$') => rest = self.dollar(tail, chars.as_str(), depth, evaluate, out)?,
                Some('}') if open_braces == 0 => return Ok(chars.as_str()),
                Some(brace) => {
                    open_braces = if brace == '{' { open_braces.saturating_add(1) } else { open_braces.saturating_sub(1) };
                    emit(out, if brace == '{' { "{" } else { "}" }, evaluate)?;
                    rest = chars.as_str();
                }
            }
        }
    }

    /// Handles what follows a `$`; `at` starts at the `$` itself, for messages.
    fn dollar<'t>(&mut self, at: &str, after: &'t str, depth: usize, evaluate: bool, out: &mut String) -> Result<&'t str, String> {
        if let Some(rest) = after.strip_prefix('$') {
            emit(out, "$", evaluate)?;
            return Ok(rest);
        }
        if let Some(inner) = after.strip_prefix('{') {
            return self.braced(at, inner, depth, evaluate, out);
        }
        let (name, rest) = split_name(after);
        if name.is_empty() {
            // Compose keeps a `$` that starts no variable (`$1`, `a $ b`, a trailing `$`).
            emit(out, "$", evaluate)?;
        } else if evaluate {
            self.plain(name, out)?;
        }
        Ok(rest)
    }

    fn braced<'t>(&mut self, at: &str, inner: &'t str, depth: usize, evaluate: bool, out: &mut String) -> Result<&'t str, String> {
        let (name, rest) = split_name(inner);
        if name.is_empty() {
            return Err(invalid(at, "a variable name starts with a letter or `_`"));
        }
        if let Some(rest) = rest.strip_prefix('}') {
            if evaluate {
                self.plain(name, out)?;
            }
            return Ok(rest);
        }
        let (colon, rest) = match rest.strip_prefix(':') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let mut chars = rest.chars();
        let operator = match chars.next() {
            Some('-') => Operator::Default,
            Some('+') => Operator::Alternative,
            Some('?') => Operator::Required,
            None => return Err(invalid(at, "the `${` is never closed by `}`")),
            Some(_) => {
                return Err(invalid(at, "a variable name is followed by `}`, `:-`, `-`, `:+`, `+`, `:?` or `?`"));
            }
        };
        let Some(inner) = depth.checked_add(1).filter(|inner| *inner <= MAX_DEPTH) else {
            return Err(format!("`{}` nests interpolation more than {MAX_DEPTH} levels deep", snippet(at)));
        };
        let value = if evaluate { (self.lookup)(name) } else { None };
        let set = value.is_some();
        // With `:`, an empty value counts as missing.
        let present = value.filter(|v| !(colon && v.is_empty()));
        let body = chars.as_str();
        match operator {
            Operator::Default => match present {
                Some(value) => {
                    emit(out, &value, true)?;
                    self.body(body, inner, at, false, out)
                }
                None => self.body(body, inner, at, evaluate, out),
            },
            Operator::Alternative => self.body(body, inner, at, present.is_some(), out),
            Operator::Required => {
                let mut reason = String::new();
                let rest = self.body(body, inner, at, evaluate && present.is_none(), &mut reason)?;
                match present {
                    Some(value) => emit(out, &value, true)?,
                    None if evaluate => return Err(required(name, set, &reason)),
                    None => {}
                }
                Ok(rest)
            }
        }
    }

    fn plain(&mut self, name: &str, out: &mut String) -> Result<(), String> {
        match (self.lookup)(name) {
            Some(value) => emit(out, &value, true),
            None => {
                if self.seen.insert(name.to_string()) {
                    self.unset.push(name.to_string());
                }
                Ok(())
            }
        }
    }
}

fn emit(out: &mut String, text: &str, evaluate: bool) -> Result<(), String> {
    if !evaluate {
        return Ok(());
    }
    if out.len().checked_add(text.len()).is_none_or(|len| len > MAX_OUTPUT_BYTES) {
        return Err(format!("interpolation makes a value longer than {MAX_OUTPUT_BYTES} bytes"));
    }
    out.push_str(text);
    Ok(())
}

/// Splits a leading `[A-Za-z_][A-Za-z0-9_]*` off `text`; the name is empty if none starts it.
fn split_name(text: &str) -> (&str, &str) {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return ("", text);
    }
    text.split_at(text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len()))
}

fn snippet(at: &str) -> String {
    match at.char_indices().nth(SNIPPET_CHARS) {
        Some((end, _)) => format!("{}...", at.split_at(end).0),
        None => at.to_string(),
    }
}

fn invalid(at: &str, reason: &str) -> String {
    format!("invalid interpolation format for `{}`: {reason}; write a literal $ as $$", snippet(at))
}

fn required(name: &str, set: bool, reason: &str) -> String {
    let state = if set { "is empty" } else { "is not set" };
    if reason.is_empty() { format!("required variable {name} {state}") } else { format!("required variable {name} {state}: {reason}") }
}

/// Interpolates every string value in the tree (never mapping keys), reporting errors at
/// the value and each unset variable once, at the first place it is used.
pub fn interpolate_tree(node: &mut Node, path: &Path, lookup: &dyn Fn(&str) -> Option<String>, report: &mut Report) {
    let mut walk = TreeWalk { lookup, report, warned: BTreeSet::new(), budget: Some(MAX_TREE_BYTES) };
    walk.visit(node, path);
}

struct TreeWalk<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    report: &'a mut Report,
    warned: BTreeSet<String>,
    /// Bytes the remaining strings may still produce; `None` once exceeded and reported.
    budget: Option<usize>,
}

impl TreeWalk<'_> {
    fn visit(&mut self, node: &mut Node, path: &Path) {
        let location = node.location;
        match &mut node.value {
            Value::String(text) => {
                let Some(budget) = self.budget else { return };
                let done = match interpolate_str(text, self.lookup) {
                    Ok(done) => done,
                    Err(message) => {
                        self.report.error(Diagnostic::new(path.clone(), message).at(location));
                        return;
                    }
                };
                for name in done.unset {
                    let message = format!("variable `{name}` is not set; using an empty string");
                    if self.warned.insert(name) {
                        self.report.warn(path, message);
                    }
                }
                self.budget = budget.checked_sub(done.text.len());
                if self.budget.is_none() {
                    let message = format!("interpolation makes the document larger than {MAX_TREE_BYTES} bytes");
                    self.report.error(Diagnostic::new(path.clone(), message).at(location));
                    return;
                }
                *text = done.text;
            }
            Value::Seq(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    self.visit(item, &path.key(index));
                }
            }
            Value::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    self.visit(value, &path.key(key));
                }
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::diagnostic::Location;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db".to_string()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("5432".to_string()),
            "DOLLAR" => Some("$HOST".to_string()),
            _ => None,
        }
    }

    fn text(input: &str) -> String {
        interpolate_str(input, &env).unwrap().text
    }

    fn error(input: &str) -> String {
        interpolate_str(input, &env).unwrap_err()
    }

    #[test]
    fn plain_variables() {
        assert_eq!(text("$HOST:${PORT}"), "db:5432");
        assert_eq!(text("x${HOST}y$HOST-z"), "xdbydb-z");
        assert_eq!(text("$HOST_1"), "");
        assert_eq!(text("${EMPTY}"), "");
        assert_eq!(text("é$HOST€"), "édb€");
    }

    #[test]
    fn unset_variables_become_empty_and_are_listed_once() {
        let done = interpolate_str("$NOPE ${NOPE} $ALSO ${EMPTY}", &env).unwrap();
        assert_eq!(done.text, "   ");
        assert_eq!(done.unset, ["NOPE", "ALSO"]);
        let done = interpolate_str("${NOPE:-x} ${NOPE-x} ${NOPE:+x} ${NOPE+x}", &env).unwrap();
        assert!(done.unset.is_empty());
    }

    #[test]
    fn defaults() {
        assert_eq!(text("${HOST:-x}"), "db");
        assert_eq!(text("${EMPTY:-x}"), "x");
        assert_eq!(text("${NOPE:-x}"), "x");
        assert_eq!(text("${HOST-x}"), "db");
        assert_eq!(text("${EMPTY-x}"), "");
        assert_eq!(text("${NOPE-x}"), "x");
        assert_eq!(text("${NOPE-}"), "");
        assert_eq!(text("${NOPE:-a b:c-d}"), "a b:c-d");
    }

    #[test]
    fn alternatives() {
        assert_eq!(text("${HOST:+alt}"), "alt");
        assert_eq!(text("${EMPTY:+alt}"), "");
        assert_eq!(text("${NOPE:+alt}"), "");
        assert_eq!(text("${HOST+alt}"), "alt");
        assert_eq!(text("${EMPTY+alt}"), "alt");
        assert_eq!(text("${NOPE+alt}"), "");
    }

    #[test]
    fn required_variables() {
        assert_eq!(text("${HOST:?x}"), "db");
        assert_eq!(text("${HOST?x}"), "db");
        assert_eq!(text("${EMPTY?x}"), "");
        assert_eq!(error("${DB_PASSWORD:?please set it}"), "required variable DB_PASSWORD is not set: please set it");
        assert_eq!(error("${DB_PASSWORD?please set it}"), "required variable DB_PASSWORD is not set: please set it");
        assert_eq!(error("${EMPTY:?needed}"), "required variable EMPTY is empty: needed");
        assert_eq!(error("${NOPE?}"), "required variable NOPE is not set");
        assert_eq!(error("${NOPE:?set it to ${HOST}}"), "required variable NOPE is not set: set it to db");
    }

    #[test]
    fn nesting() {
        assert_eq!(text("${NOPE:-${OTHER:-x}}"), "x");
        assert_eq!(text("${NOPE:-${HOST:-x}}"), "db");
        assert_eq!(text("${NOPE:-$PORT}"), "5432");
        assert_eq!(text("${HOST:+${PORT}/${NOPE:-y}}"), "5432/y");
        assert_eq!(text(r#"${NOPE:-{"a":{"b":1}}}"#), r#"{"a":{"b":1}}"#);
        assert_eq!(text(r#"${HOST:-{"a":1}}!"#), "db!");
        // An unused branch is not evaluated: no error, no unset variable.
        let done = interpolate_str("${HOST:-${MISSING:?boom}$UNSET}", &env).unwrap();
        assert_eq!(done.text, "db");
        assert!(done.unset.is_empty());
    }

    #[test]
    fn dollars() {
        assert_eq!(text("$$"), "$");
        assert_eq!(text("$$HOST"), "$HOST");
        assert_eq!(text("$$$HOST"), "$db");
        assert_eq!(text("${NOPE:-$$}"), "$");
        assert_eq!(text("$"), "$");
        assert_eq!(text("a $ b"), "a $ b");
        assert_eq!(text("$1 $- $}"), "$1 $- $}");
        assert_eq!(text("cost: 5$"), "cost: 5$");
        assert_eq!(text("{}}{"), "{}}{");
        // A value is never interpolated again.
        assert_eq!(text("$DOLLAR"), "$HOST");
    }

    #[test]
    fn invalid_formats() {
        for input in ["${", "${HOST", "${1A}", "${}", "${-x}", "${HOST:x}", "${HOST:}", "${NOPE:-x", "${A:-{x}", "${A:-${B}"] {
            assert!(error(input).contains("invalid interpolation format"), "{input:?}: {}", error(input));
        }
        assert!(error("${1A}").contains("`${1A}`"));
        assert!(error("${HOST:-${1}}").contains("invalid interpolation format"));
        let long = format!("${{{}", "x".repeat(100));
        assert!(error(&long).len() < 200);
    }

    #[test]
    fn depth_is_limited() {
        let nested = |levels: usize| format!("{}x{}", "${NOPE:-".repeat(levels), "}".repeat(levels));
        assert_eq!(text(&nested(MAX_DEPTH)), "x");
        assert!(error(&nested(MAX_DEPTH + 1)).contains("levels deep"));
        assert!(error(&nested(100_000)).contains("levels deep"));
    }

    #[test]
    fn output_is_limited() {
        let big = |name: &str| (name == "BIG").then(|| "x".repeat(300 * 1024));
        assert_eq!(interpolate_str("$BIG$BIG$BIG", &big).unwrap().text.len(), 900 * 1024);
        let message = interpolate_str("$BIG$BIG$BIG$BIG", &big).unwrap_err();
        assert!(message.contains("longer than"), "{message}");
        assert!(interpolate_str("${NOPE?$BIG$BIG$BIG$BIG}", &big).unwrap_err().contains("longer than"));
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::new(Value::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    fn string(text: &str) -> Node {
        Node::new(Value::String(text.to_string()))
    }

    #[test]
    fn tree_interpolates_values_and_reports_paths() {
        let location = Location { document: 0, line: 7, column: 3 };
        let mut bad = string("${DB_PASSWORD:?needed}");
        bad.location = Some(location);
        let mut tree = map(vec![(
            "services",
            map(vec![(
                "web",
                map(vec![
                    ("image", string("app:${TAG:-latest}")),
                    ("environment", map(vec![("DB_HOST", string("$UNSET_HOST")), ("$HOST", string("$HOST"))])),
                    ("ports", Node::new(Value::Seq(vec![string("${UNSET_HOST}:80"), string("$PORT"), bad]))),
                    ("replicas", Node::new(Value::Int(2))),
                ]),
            )]),
        )]);
        let mut report = Report::default();
        interpolate_tree(&mut tree, &Path::root(), &env, &mut report);

        let web = Path::root().key("services").key("web");
        assert_eq!(tree.find(web.key("image").segments()).unwrap().value, Value::String("app:latest".into()));
        let environment = tree.find(web.key("environment").segments()).unwrap();
        assert_eq!(environment.get("$HOST").unwrap().value, Value::String("db".into()));
        assert_eq!(tree.find(web.key("ports").key(0).segments()).unwrap().value, Value::String(":80".into()));
        assert_eq!(tree.find(web.key("ports").key(1).segments()).unwrap().value, Value::String("5432".into()));

        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].path.to_string(), "services.web.environment.DB_HOST");
        assert_eq!(report.warnings[0].message, "variable `UNSET_HOST` is not set; using an empty string");
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].path.to_string(), "services.web.ports.2");
        assert_eq!(report.errors[0].message, "required variable DB_PASSWORD is not set: needed");
        assert_eq!(report.errors[0].location, Some(location));
    }

    #[test]
    fn tree_growth_is_limited() {
        let big = |name: &str| (name == "BIG").then(|| "x".repeat(512 * 1024));
        let items = (0..20).map(|_| string("$BIG")).collect();
        let mut tree = map(vec![("x-many", Node::new(Value::Seq(items)))]);
        let mut report = Report::default();
        interpolate_tree(&mut tree, &Path::root(), &big, &mut report);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].message.contains("larger than"));
        assert_eq!(report.errors[0].path.to_string(), "x-many.4", "2 MiB hold four values of 512 KiB");
    }

    proptest! {
        #[test]
        fn never_panics(input in any::<String>()) {
            let _ = interpolate_str(&input, &env);
        }

        #[test]
        fn never_panics_on_dollar_heavy_text(input in "[$${}:?+\\-A-Z_0-9a ]{0,40}") {
            let _ = interpolate_str(&input, &env);
        }

        #[test]
        fn text_without_dollars_is_unchanged(input in "[^$]*") {
            let done = interpolate_str(&input, &env).unwrap();
            prop_assert_eq!(done.text, input);
            prop_assert!(done.unset.is_empty());
        }
    }
}
