//! Reading a compose file and the flags that stand in for a ComposeStack's spec.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::compose::yaml::MAX_INPUT_BYTES;

#[derive(Debug, Args)]
pub struct ComposeInput {
    /// The compose file, or `-` for standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// More compose files merged over the first, in order (like `docker compose -f a -f b`).
    #[arg(long = "override", value_name = "FILE")]
    pub overrides: Vec<PathBuf>,
    /// The stack name; default: the file's directory name, or `stack`.
    #[arg(long)]
    pub name: Option<String>,
    /// A `${VAR}` value, like a line of a .env file.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_variable)]
    pub variables: Vec<(String, String)>,
    /// Enable a compose profile.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
}

fn parse_variable(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

impl ComposeInput {
    pub fn read_compose(&self) -> Result<String, String> {
        read(&self.file)
    }

    pub fn read_overrides(&self) -> Result<Vec<String>, String> {
        self.overrides.iter().map(|path| read(path)).collect()
    }

    pub fn variables(&self) -> BTreeMap<String, String> {
        self.variables.iter().cloned().collect()
    }

    /// The directory's name, as compose names a project, mapped to a Kubernetes name.
    pub fn stack_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let directory = if self.file == Path::new("-") {
            None
        } else {
            std::fs::canonicalize(&self.file).ok().and_then(|p| p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()))
        };
        directory
            .and_then(|d| crate::build::names::kubernetes_name(&d).ok())
            .unwrap_or_else(|| "stack".to_string())
    }
}

/// Reads at most one byte more than the limit, so an oversized file is refused
/// without being read whole.
fn read(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    let limit = (MAX_INPUT_BYTES + 1) as u64;
    let result = if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_string(&mut text))
    };
    result.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text)
}
