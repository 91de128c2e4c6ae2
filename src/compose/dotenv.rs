//! `.env`-format files (compose's `env_file`): `KEY=value` lines, `#` comments, optional
//! `export `, single quotes literal, double quotes with `\n`, `\"` and `\\` escapes.

/// The entries in file order; a bare `KEY` has no value (compose takes it from where it runs).
pub fn parse(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (line, None),
        };
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!("line {}: `{line}` is not KEY=value", number + 1));
        }
        let value = value.map(|v| unquote(v).map_err(|e| format!("line {}: {e}", number + 1))).transpose()?;
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

fn unquote(value: &str) -> Result<String, String> {
    if let Some(inner) = value.strip_prefix('\'') {
        return inner.strip_suffix('\'').map(str::to_string).ok_or_else(|| "unclosed single quote".to_string());
    }
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(|| "unclosed double quote".to_string())?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                },
                (c, false) => out.push(c),
            }
        }
        return Ok(out);
    }
    // Unquoted: a ` #` starts a comment.
    Ok(value.split(" #").next().unwrap_or(value).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dotenv_forms() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC='lit $X # kept'\nD=\"line\\nnext \\\"q\\\"\"\nE\nF=\n";
        let parsed = parse(text).unwrap();
        let expect = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
        assert_eq!(
            parsed,
            [
                expect("A", Some("1")),
                expect("B", Some("two words")),
                expect("C", Some("lit $X # kept")),
                expect("D", Some("line\nnext \"q\"")),
                expect("E", None),
                expect("F", Some(""))
            ]
        );
    }

    #[test]
    fn refuses_broken_lines() {
        assert!(parse("A B=1").unwrap_err().contains("line 1"));
        assert!(parse("X='open").is_err());
    }
}
