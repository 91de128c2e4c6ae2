//! Architecture checks on the layout of `src/`, read from the source text (std only, no crates).
//!
//! The translation core (compose project in, Kubernetes objects out) should be a set of
//! modules a newcomer can read one at a time. Import cycles defeat that: modules that use
//! each other are inseparable (none can be read, tested or moved without the others). So do
//! long files with no stated reason. These tests check that no modules form an import cycle,
//! that files over 500 lines say why they are long, that `src/translate` sees only the
//! loaded project (not the custom resource's spec, not the loader), and that the API types
//! import nothing from the translation.
//!
//! The parsing is deliberately small: a lexer that drops comments and literals, the
//! `#[cfg(test)] mod` blocks dropped, and `crate::`/`super::`/`self::` paths (grouped uses
//! included) resolved to the longest module prefix that exists as a file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

/// A token (an identifier, `::`, or one punctuation character) and its 1-based line.
type Tok = (String, usize);

/// The crate root: cargo sets CARGO_MANIFEST_DIR; a standalone `rustc --test` run starts in it.
fn src_dir() -> PathBuf {
    Path::new(option_env!("CARGO_MANIFEST_DIR").unwrap_or(".")).join("src")
}

/// Every `.rs` file under `dir`, sorted so that reports are stable.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let (mut files, mut pending) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module a file defines: `compose/model.rs` and `compose/model/mod.rs` are `compose::model`.
/// `lib.rs` and `main.rs` are crate roots, not nodes of the graph (None).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    (!parts.is_empty() && parts != ["lib"] && parts != ["main"]).then(|| parts.join("::"))
}

fn is_ident(token: &str) -> bool {
    token.starts_with(|c: char| c.is_alphanumeric() || c == '_')
}

/// Splits code into tokens, dropping comments (nested `/* */` too), string, raw string and
/// char literals, so that a path in a doc comment or an error message is not a dependency.
fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize, s: &str| s.chars().enumerate().all(|(k, ch)| c.get(i + k) == Some(&ch));
    let word = |ch: &char| ch.is_alphanumeric() || *ch == '_';
    let (mut toks, mut line, mut i) = (Vec::new(), 1, 0);
    while i < c.len() {
        let start = i;
        if at(i, "//") {
            i += c[i..].iter().take_while(|&&ch| ch != '\n').count();
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < c.len() {
                depth += usize::from(at(i, "/*"));
                depth -= usize::from(at(i, "*/"));
                i += if at(i, "/*") || at(i, "*/") { 2 } else { 1 };
                if depth == 0 {
                    break;
                }
            }
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c[i] == '\'' && (at(i + 1, "\\") || at(i + 2, "'")) {
            // A char literal ('"', '\'', '\u{..}'); a lifetime ('a) has no closing quote.
            i += if at(i + 1, "\\") { 3 } else { 2 };
            i += c[i.min(c.len())..].iter().take_while(|&&ch| ch != '\'').count() + 1;
        } else if word(&c[i]) {
            let name: String = c[i..].iter().take_while(|ch| word(ch)).collect();
            i += name.chars().count();
            let hashes = c[i..].iter().take_while(|&&ch| ch == '#').count();
            if (name == "r" || name == "br") && at(i + hashes, "\"") {
                // Raw string r#"..."#: it ends at a quote followed by as many hashes.
                let close = format!("\"{}", "#".repeat(hashes));
                i = (i + hashes + 1..c.len()).find(|&k| at(k, &close)).unwrap_or(c.len()) + close.len();
            } else {
                toks.push((name, line));
            }
        } else if at(i, "::") {
            toks.push(("::".to_string(), line));
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                toks.push((c[i].to_string(), line));
            }
            i += 1;
        }
        line += c[start..i.min(c.len())].iter().filter(|&&ch| ch == '\n').count();
    }
    toks
}

/// Drops `#[cfg(test)] mod name { ... }` blocks: unit tests may reach anywhere without
/// tying the modules together.
fn without_test_modules(t: Vec<Tok>) -> Vec<Tok> {
    let (mut kept, mut i) = (Vec::new(), 0);
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    while i < t.len() {
        if t[i..].iter().take(7).map(|t| t.0.as_str()).eq(cfg_test) {
            // Other attributes and a visibility may stand between `#[cfg(test)]` and `mod x {`.
            let open = t[i..].iter().position(|t| t.0 == "{" || t.0 == ";").map(|o| i + o);
            if let Some(open) = open.filter(|&o| t[o].0 == "{" && o >= 2 && t[o - 2].0 == "mod") {
                let mut depth = 0i64;
                let close = t[open..].iter().position(|(tok, _)| {
                    depth += i64::from(tok == "{") - i64::from(tok == "}");
                    depth == 0
                });
                i = close.map_or(t.len(), |k| open + k + 1);
                continue;
            }
        }
        kept.push(t[i].clone());
        i += 1;
    }
    kept
}

/// Reads one path tree starting at `i`: `a::b::C`, `a::{b, c::{d, self}}`, `a::*`. Pushes
/// each leaf's segments with the line of its last segment; returns the index after the tree.
/// Open groups are an explicit stack of prefixes: no recursion, however deep the nesting.
fn parse_tree(t: &[Tok], mut i: usize, out: &mut Vec<(Vec<String>, usize)>) -> usize {
    let (mut segs, mut groups, mut line) = (Vec::new(), Vec::<Vec<String>>::new(), 0);
    while let Some((tok, at)) = t.get(i) {
        i += 1;
        if tok == "{" {
            groups.push(segs.clone());
            continue;
        }
        if is_ident(tok) {
            segs.push(tok.clone());
            line = *at;
            if t.get(i).is_some_and(|t| t.0 == "::") {
                i += 1;
                continue;
            }
        } else if tok != "*" {
            i -= 1; // `,` or `}` after a group's prefix, or a turbofish `::<`
        }
        out.push((std::mem::take(&mut segs), line));
        // In a group: skip a rename (`x as y`), close finished groups, start the next item.
        loop {
            let Some(prefix) = groups.last() else { return i };
            match t.get(i).map(|t| t.0.as_str()) {
                None => return i,
                Some(",") => {
                    segs = prefix.clone();
                    break;
                }
                Some("}") => drop(groups.pop()),
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    i
}

/// The absolute paths (from the crate root) a module's tokens refer to, with lines. Paths
/// start at `crate`/`$crate`, `super`, `self`, or a child module declared in this file
/// (`use workload::X;` in a mod.rs); a `self` inside a group (`{self, X}`) is dropped.
fn references(module: &str, t: &[Tok], children: &BTreeSet<String>) -> Vec<(Vec<String>, usize)> {
    let here: Vec<String> = module.split("::").map(String::from).collect();
    let (mut found, mut i) = (Vec::new(), 0);
    while i < t.len() {
        let after_path = i > 0 && (t[i - 1].0 == "::" || t[i - 1].0 == ".");
        let name = t[i].0.as_str();
        let root = ["crate", "super", "self"].contains(&name) || children.contains(name);
        if after_path || !root || t.get(i + 1).is_none_or(|t| t.0 != "::") {
            i += 1;
            continue;
        }
        let mut leaves = Vec::new();
        i = parse_tree(t, i, &mut leaves).max(i + 1);
        for (segs, line) in leaves {
            let (mut base, mut rest) = (here.clone(), &segs[..]);
            match segs[0].as_str() {
                "crate" => (base, rest) = (Vec::new(), &segs[1..]),
                "self" => rest = &segs[1..],
                _ => {
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                }
            }
            found.push((base.into_iter().chain(rest.iter().filter(|s| *s != "self").cloned()).collect(), line));
        }
    }
    found
}

/// Children declared with `mod x;` in a file: the declaration is not an edge, but a bare
/// `x::` path in that file names the child.
fn declared_children(t: &[Tok]) -> BTreeSet<String> {
    t.windows(3).filter(|w| w[0].0 == "mod" && w[2].0 == ";").map(|w| w[1].0.clone()).collect()
}

struct Source {
    file: String,
    module: Option<String>,
    raw: String,
    toks: Vec<Tok>,
}

impl Source {
    fn references(&self) -> Vec<(Vec<String>, usize)> {
        self.module.as_deref().map_or(Vec::new(), |m| references(m, &self.toks, &declared_children(&self.toks)))
    }
}

/// Every file of src/, read once: its text and its code tokens.
fn sources() -> Vec<Source> {
    let src = src_dir();
    let read = |path: &Path| fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (rust_files(&src).into_iter())
        .map(|path| {
            let (raw, file) = (read(&path), format!("src/{}", path.strip_prefix(&src).unwrap().display()));
            Source { file, module: module_of(&src, &path), toks: without_test_modules(tokens(&raw)), raw }
        })
        .collect()
}

/// Tarjan's strongly connected components, iterative (an explicit stack, no recursion).
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = next.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut components, mut counter) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        let mut work = if index[root] == usize::MAX { vec![(root, 0)] } else { Vec::new() };
        while let Some(&(v, edge)) = work.last() {
            if edge == 0 && index[v] == usize::MAX {
                (index[v], low[v], counter) = (counter, counter, counter + 1);
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = next[v].get(edge) {
                work.last_mut().unwrap().1 += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let split = stack.iter().rposition(|&w| w == v).unwrap();
                let component: Vec<usize> = stack.split_off(split);
                component.iter().for_each(|&w| on_stack[w] = false);
                components.push(component);
            }
        }
    }
    components
}

#[test]
fn no_import_cycles_between_modules() {
    let sources = sources();
    let mut nodes: Vec<&str> = sources.iter().filter_map(|s| s.module.as_deref()).collect();
    nodes.sort();
    // (from, to) → every (file, line) that makes the edge; a module's own items are no edge.
    let mut edges: BTreeMap<(usize, usize), Vec<(&str, usize)>> = BTreeMap::new();
    for (s, from) in sources.iter().filter_map(|s| Some((s, nodes.iter().position(|n| Some(*n) == s.module.as_deref())?))) {
        for (path, line) in s.references() {
            // The longest prefix of the path that is a module; none for the crate root.
            let to = (1..=path.len()).rev().find_map(|n| nodes.iter().position(|m| *m == path[..n].join("::")));
            if let Some(to) = to.filter(|&to| to != from) {
                edges.entry((from, to)).or_default().push((s.file.as_str(), line));
            }
        }
    }
    let mut next = vec![Vec::new(); nodes.len()];
    edges.keys().for_each(|&(from, to)| next[from].push(to));
    let mut report = String::new();
    for mut component in strongly_connected(&next).into_iter().filter(|c| c.len() > 1) {
        component.sort();
        report += &format!("\ncycle between {}:\n", component.iter().map(|&m| nodes[m]).collect::<Vec<_>>().join(", "));
        for ((from, to), places) in edges.iter().filter(|((f, t), _)| component.contains(f) && component.contains(t)) {
            let more = if places.len() > 1 { format!(" (+{} more)", places.len() - 1) } else { String::new() };
            report += &format!("  {} -> {}   {}:{}{more}\n", nodes[*from], nodes[*to], places[0].0, places[0].1);
        }
    }
    assert!(report.is_empty(), "modules that import each other (break one edge of each cycle):{report}");
}

#[test]
fn no_long_source_files_without_a_reason() {
    // The reason sits in the file's leading comments (its doc block may be a long table).
    let explained = |s: &Source| s.raw.lines().take_while(|l| l.trim_start().starts_with("//")).any(|l| l.to_lowercase().contains("long because"));
    let long = |s: &Source| s.raw.lines().count() > MAX_LINES && !explained(s);
    let unexplained: Vec<String> = sources().iter().filter(|s| long(s)).map(|s| format!("  {} ({} lines)", s.file, s.raw.lines().count())).collect();
    assert!(
        unexplained.is_empty(),
        "files over {MAX_LINES} lines need a `// Long because ...` comment among their leading comment lines:\n{}",
        unexplained.join("\n")
    );
}

#[test]
fn the_translation_sees_only_the_project() {
    let src = src_dir();
    assert!(src.join("translate").is_dir(), "src/translate does not exist: src/build has not been renamed to src/translate");
    assert!(!src.join("build").exists(), "src/build still exists: it should have been renamed to src/translate");
    let mut found = Vec::new();
    for s in sources().iter().filter(|s| s.module.as_deref().is_some_and(|m| m == "translate" || m.starts_with("translate::"))) {
        for needle in [&["ComposeStackSpec"][..], &["load", "::", "load"]] {
            if let Some(w) = s.toks.windows(needle.len()).find(|w| w.iter().map(|t| t.0.as_str()).eq(needle.iter().copied())) {
                found.push(format!("  {}:{} mentions `{}`", s.file, w[0].1, needle.concat()));
            }
        }
        // Any path to the loader, grouped (`crate::compose::{load::Sources}`) or relative, too.
        if let Some((_, line)) = s.references().into_iter().find(|(p, _)| p.starts_with(&["compose".into(), "load".into()])) {
            found.push(format!("  {}:{line} refers to `crate::compose::load`", s.file));
        }
    }
    assert!(found.is_empty(), "src/translate must see only the loaded project, not the resource spec or the loader:\n{}", found.join("\n"));
}

#[test]
fn api_imports_nothing_from_the_translation() {
    let sources = sources();
    let api = sources.iter().find(|s| s.module.as_deref() == Some("api")).expect("src/api.rs");
    let bad: Vec<String> = (api.references().into_iter())
        .filter(|(p, _)| p.first().is_some_and(|s| s == "build" || s == "translate"))
        .map(|(p, line)| format!("  src/api.rs:{line} refers to crate::{}", p.join("::")))
        .collect();
    assert!(bad.is_empty(), "the API types must not depend on the translation:\n{}", bad.join("\n"));
}
