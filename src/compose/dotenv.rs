//! `.env`-format files (the project's `.env` and `env_file:`), read as compose-go reads them:
//! `KEY=value` or `KEY: value` lines, `#` comments, an optional `export `; single-quoted
//! values are literal; double-quoted ones take `\n`, `\r` and `\`-escapes and may span
//! lines; unquoted ones end at ` #`. Double-quoted and unquoted values are interpolated
//! (`${BASE:-/srv}/data`) from the caller's variables, then from the keys set earlier in
//! the same file. A bare `KEY` takes its value from the caller's variables.
//!
//! Env files hold secrets, so errors name the line and the problem, never the text.

use super::interpolate::interpolate_str;

/// One entry: a key and its value; a bare `KEY` the caller's variables do not have is `None`.
pub type Entry = (String, Option<String>);

/// Parses `text`, interpolating with `lookup` (the caller's variables: `--var` for the
/// project's `.env`, `spec.variables` for an `env_file`), which also wins over a value the
/// file sets, as the environment wins over `.env` in docker compose.
pub fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Entry>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries: Vec<Entry> = Vec::new();
    let mut rest = text;
    let mut line = 1usize;
    loop {
        // Skip blank space and comment lines.
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        rest = trimmed;
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, after)| after);
            line += 1;
            continue;
        }
        let statement_line = line;
        let at = |problem: &str| format!("line {statement_line}: {problem}");
        let body = rest.strip_prefix("export ").map_or(rest, |r| r.trim_start_matches([' ', '\t']));
        let key_end = body.find(['=', ':', '\n']).unwrap_or(body.len());
        let key = body[..key_end].trim_end_matches([' ', '\t', '\r']);
        if key.is_empty() {
            return Err(at("a line starts with `=`; write KEY=value"));
        }
        if let Some(bad) = key.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '.')) {
            let what = if bad.is_whitespace() { "a space".to_string() } else { format!("`{bad}`") };
            return Err(at(&format!("a variable name cannot contain {what}; write KEY=value")));
        }
        let separator = body[key_end..].chars().next();
        if separator.is_none_or(|c| c == '\n') {
            // A bare KEY: the value where compose runs, if there is one.
            entries.push((key.to_string(), lookup(key)));
            rest = body.get(key_end + 1..).unwrap_or("");
            line += 1;
            continue;
        }
        let after = body[key_end + 1..].trim_start_matches([' ', '\t']);
        let (value, remaining) = value(after, &entries, lookup).map_err(|problem| at(&problem))?;
        line += after[..after.len() - remaining.len()].matches('\n').count();
        let value = lookup(key).unwrap_or(value);
        if !key.starts_with(|c: char| c.is_ascii_digit()) {
            entries.retain(|(k, _)| k != key);
            entries.push((key.to_string(), Some(value)));
        }
        // Whatever follows a closing quote on its line is a comment.
        rest = remaining.split_once('\n').map_or("", |(_, next)| next);
        line += 1;
    }
    Ok(entries)
}

/// One value and what follows it.
fn value<'t>(text: &'t str, entries: &[Entry], lookup: &dyn Fn(&str) -> Option<String>) -> Result<(String, &'t str), String> {
    let expand = |raw: &str| -> Result<String, String> {
        let known = |name: &str| lookup(name).or_else(|| entries.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.clone()));
        interpolate_str(raw, &known).map(|done| done.text)
    };
    match text.chars().next() {
        Some(quote @ ('\'' | '"')) => {
            let body = &text[1..];
            let mut escaped = false;
            let end = body.char_indices().find(|(_, c)| {
                let closes = *c == quote && !escaped;
                escaped = *c == '\\' && !escaped;
                closes
            });
            let Some((end, _)) = end else {
                return Err(format!("a {} quote is never closed", if quote == '"' { "double" } else { "single" }));
            };
            let raw = &body[..end];
            let value = if quote == '"' { expand(&unescape(raw))? } else { raw.to_string() };
            let rest = &body[end + 1..];
            let trailing = rest.split('\n').next().unwrap_or_default().trim();
            if !trailing.is_empty() && !trailing.starts_with('#') {
                return Err("text follows the closing quote; put comments after ` #`".into());
            }
            Ok((value, rest))
        }
        _ => {
            // The rest starts at the line's end, so that the caller counts that newline.
            let end = text.find('\n').unwrap_or(text.len());
            let line = text[..end].trim_end_matches('\r');
            let line = if line.starts_with('#') { "" } else { line.split(" #").next().unwrap_or(line) };
            Ok((expand(line.trim_end())?, &text[end..]))
        }
    }
}

/// `\n` and `\r` become line breaks; any other escaped character stands for itself.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Entry> {
        parse(text, &|name| (name == "FROM_OUTSIDE").then(|| "outside".to_string())).unwrap()
    }

    fn expect(key: &str, value: Option<&str>) -> Entry {
        (key.to_string(), value.map(str::to_string))
    }

    #[test]
    fn reads_the_dotenv_forms() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC='lit $X # kept'\nD=\"line\\nnext \\\"q\\\"\"\nE\nF=\nG: yaml\n";
        assert_eq!(
            read(text),
            [
                expect("A", Some("1")),
                expect("B", Some("two words")),
                expect("C", Some("lit $X # kept")),
                expect("D", Some("line\nnext \"q\"")),
                expect("E", None),
                expect("F", Some("")),
                expect("G", Some("yaml")),
            ]
        );
    }

    #[test]
    fn values_are_interpolated_from_outside_then_from_earlier_lines() {
        let text = "BASE=/srv\nDIR=${BASE:-/mnt}/data\nDATA_PATH=${ROOT:-/mnt}/app\nQUOTED=\"${FROM_OUTSIDE}-x\"\nLITERAL='${BASE}'\nFROM_OUTSIDE=ignored\nREF=$FROM_OUTSIDE\n";
        assert_eq!(
            read(text),
            [
                expect("BASE", Some("/srv")),
                expect("DIR", Some("/srv/data")),
                expect("DATA_PATH", Some("/mnt/app")),
                expect("QUOTED", Some("outside-x")),
                expect("LITERAL", Some("${BASE}")),
                expect("FROM_OUTSIDE", Some("outside")),
                expect("REF", Some("outside")),
            ]
        );
    }

    #[test]
    fn quoted_values_may_carry_comments_and_span_lines() {
        assert_eq!(read("URL='https://x' # note\nB=2"), [expect("URL", Some("https://x")), expect("B", Some("2"))]);
        assert_eq!(read("KEY=\"-----BEGIN\nabc\n-----END\"\nNEXT=1\n"), [expect("KEY", Some("-----BEGIN\nabc\n-----END")), expect("NEXT", Some("1"))]);
        assert_eq!(read("A=1\n\n\n# c\nB=2"), [expect("A", Some("1")), expect("B", Some("2"))]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let error = parse("A=1\nDB_PASSWORD hunter2\n", &|_| None).unwrap_err();
        assert_eq!(error, "line 2: a variable name cannot contain a space; write KEY=value");
        let error = parse("A=1\n\nX='hunter2\n", &|_| None).unwrap_err();
        assert!(error.starts_with("line 3:") && !error.contains("hunter2"), "{error}");
        let error = parse("X=\"hunter2\"trailing\n", &|_| None).unwrap_err();
        assert!(error.starts_with("line 1:") && !error.contains("hunter2"), "{error}");
    }
}
