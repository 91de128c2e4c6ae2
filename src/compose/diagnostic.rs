//! Errors and warnings about a compose document, addressed by compose path.
//!
//! Both are plain values: the CLI prints them, the controller puts them in status and Events.

use std::fmt;

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
        f.write_str(&self.0.join("."))
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
        Diagnostic { path, message: message.into(), hint: None, location: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
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
        Warning { path, message: message.into() }
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
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    pub fn warn(&mut self, path: &Path, message: impl Into<String>) {
        self.warnings.push(Warning::new(path.clone(), message));
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
