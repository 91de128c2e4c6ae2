//! Errors and warnings about a compose document, addressed by compose path.
//!
//! Both are plain values: the CLI prints them, the controller puts them in status and Events.
//!
//! Both are built from untrusted text, so both are bounded: a message quotes at most
//! [`MAX_MESSAGE_CHARS`] characters and a path segment at most [`MAX_SEGMENT_CHARS`], and a
//! [`Report`] keeps the first [`MAX_ERRORS`] errors and [`MAX_WARNINGS`] warnings and counts
//! the rest. A document of 120 KB of broken entries then explains itself in a few KiB
//! instead of megabytes that no status write could carry.

use std::fmt;

pub use super::limits::{MAX_ERRORS, MAX_MESSAGE_CHARS, MAX_SEGMENT_CHARS, MAX_WARNINGS};

/// `text` cut to at most `limit` characters, with an ellipsis when something was cut.
pub fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// A dotted compose path such as `services.web.deploy.resources.limits.memory`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(Vec<String>);

impl Path {
    pub fn root() -> Self {
        Path(Vec::new())
    }

    pub fn key(&self, segment: impl fmt::Display) -> Self {
        let mut segments = self.0.clone();
        segments.push(segment.to_string());
        Path(segments)
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (index, segment) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            f.write_str(&truncate(segment, MAX_SEGMENT_CHARS))?;
        }
        Ok(())
    }
}

/// Where in which input document a node was written. `document` 0 is `spec.compose`,
/// 1.. are `spec.overrides` in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub document: usize,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.document == 0 {
            write!(f, "line {} column {}", self.line, self.column)
        } else {
            write!(f, "override {} line {} column {}", self.document, self.line, self.column)
        }
    }
}

/// Something in the compose document that stops the whole stack from being applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: Path,
    pub message: String,
    pub hint: Option<String>,
    pub location: Option<Location>,
}

impl Diagnostic {
    pub fn new(path: Path, message: impl Into<String>) -> Self {
        Diagnostic { path, message: bounded(message.into()), hint: None, location: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(bounded(hint.into()));
        self
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = self.location.or(location);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(location) = &self.location {
            write!(f, " ({location})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

/// All the reasons a compose document was refused, reported together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn single(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

fn bounded(text: String) -> String {
    if text.len() <= MAX_MESSAGE_CHARS { text } else { truncate(&text, MAX_MESSAGE_CHARS) }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Something that was translated with a loss the user should know about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    pub path: Path,
    pub message: String,
}

impl Warning {
    pub fn new(path: Path, message: impl Into<String>) -> Self {
        Warning { path, message: bounded(message.into()) }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects diagnostics and warnings as a document is processed, so that several
/// problems are reported together instead of stopping at the first.
#[derive(Debug, Default)]
pub struct Report {
    /// The first [`MAX_ERRORS`] errors.
    pub errors: Vec<Diagnostic>,
    /// The first [`MAX_WARNINGS`] warnings.
    pub warnings: Vec<Warning>,
    /// Errors past [`MAX_ERRORS`], counted, not kept.
    pub more_errors: usize,
    /// Warnings past [`MAX_WARNINGS`], counted, not kept.
    pub more_warnings: usize,
}

impl Report {
    pub fn error(&mut self, diagnostic: Diagnostic) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(diagnostic);
        } else {
            self.more_errors += 1;
        }
    }

    pub fn warn(&mut self, path: &Path, message: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning::new(path.clone(), message));
        } else {
            self.more_warnings += 1;
        }
    }

    /// Every error met, kept or only counted.
    pub fn error_count(&self) -> usize {
        self.errors.len() + self.more_errors
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors as one refusal, each given its location by `locate`, in the order they were
    /// written in the documents (stack-wide ones, which have no place, first), ending with how
    /// many more there were. Document order, not the order of the stages that found them, so
    /// that which stage checks a key never changes what a user reads first.
    pub fn into_diagnostics(self, locate: impl Fn(Diagnostic) -> Diagnostic) -> Diagnostics {
        let mut all: Vec<Diagnostic> = self.errors.into_iter().map(locate).collect();
        all.sort_by_key(|diagnostic| diagnostic.location);
        if self.more_errors > 0 {
            all.push(Diagnostic::new(Path::root(), format!("and {} more errors", self.more_errors)));
        }
        Diagnostics(all)
    }

    /// The warnings, sorted and without repeats, ending with how many more there were.
    pub fn into_warnings(self) -> Vec<Warning> {
        let mut warnings = self.warnings;
        warnings.sort();
        warnings.dedup();
        if self.more_warnings > 0 {
            warnings.push(Warning::new(Path::root(), format!("and {} more warnings", self.more_warnings)));
        }
        warnings
    }

    /// Turns a parse of one field into an `Option`, recording the failure.
    pub fn check<T>(&mut self, path: &Path, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(Diagnostic::new(path.clone(), message));
                None
            }
        }
    }
}
