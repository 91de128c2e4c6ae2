//! Reading a compose file and the flags that stand in for a ComposeStack's spec.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use super::pack;
use crate::api::{BindMounts, ComposeStackSpec};
use crate::compose::load::{self, Sources};
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
    /// The image of a service (`web=registry.example/app:1.2`), set over or instead of its
    /// `image:`; how a pipeline hands its freshly pushed image to the stack.
    #[arg(long = "image", value_name = "SERVICE=IMAGE", value_parser = parse_image)]
    pub images: Vec<(String, String)>,
    /// Drop bind mounts of project directories that cannot be packed (source code the image
    /// already holds) instead of refusing the stack.
    #[arg(long)]
    pub drop_bind_mounts: bool,
    /// An env file whose values are secret: it goes into a Secret of its own (one key per
    /// variable) printed by `stack` beside the stack, not into spec.files. Repeatable.
    #[arg(long = "secret-env-file", value_name = "PATH")]
    pub secret_env_files: Vec<String>,
    /// Do not read `.env` beside the compose file (docker compose reads it for `${VAR}`).
    #[arg(long)]
    pub no_dotenv: bool,
}

fn parse_variable(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

fn parse_image(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{text}` is not SERVICE=IMAGE"))
}

/// The spec a compose project on this machine becomes, with the project files it refers to
/// packed in, and the secret files that must travel in the Secret `spec.secretFiles` names.
pub struct ProjectSpec {
    pub spec: ComposeStackSpec,
    /// The content of the Secret `spec.secretFiles`, by key.
    pub secret_files: BTreeMap<String, Vec<u8>>,
    /// The Secrets of `spec.secretEnvFiles`: name → variables.
    pub env_secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Referenced paths that could not be packed, with the reason.
    pub skipped: Vec<String>,
}

impl ComposeInput {
    pub fn read_compose(&self) -> Result<String, String> {
        read(&self.file)
    }

    pub fn read_overrides(&self) -> Result<Vec<String>, String> {
        self.overrides.iter().map(|path| read(path)).collect()
    }

    /// `.env` beside the compose file (as docker compose reads it), then `--var` over it.
    pub fn variables(&self) -> Result<BTreeMap<String, String>, String> {
        let mut variables = BTreeMap::new();
        let dotenv = self.project_directory().join(".env");
        if !self.no_dotenv && dotenv.is_file() {
            let text = std::fs::read_to_string(&dotenv).map_err(|e| format!("cannot read {}: {e}", dotenv.display()))?;
            // `--var` stands for the shell's environment: it fills `${VAR}` in .env and wins over its values.
            let overrides: BTreeMap<String, String> = self.variables.iter().cloned().collect();
            let entries = crate::compose::dotenv::parse(&text, &|name| overrides.get(name).cloned()).map_err(|e| format!("{}: {e}", dotenv.display()))?;
            variables.extend(entries.into_iter().filter_map(|(key, value)| Some((key, value?))));
        }
        variables.extend(self.variables.iter().cloned());
        Ok(variables)
    }

    /// Where relative paths in the compose file start: its directory (the current one for stdin).
    pub fn project_directory(&self) -> PathBuf {
        match self.file.parent() {
            Some(parent) if self.file != Path::new("-") && !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The ComposeStack spec for this project, files packed; the controller's checks are
    /// left to the translation that follows.
    pub fn project_spec(&self) -> Result<ProjectSpec, String> {
        let mut spec = ComposeStackSpec {
            compose: self.read_compose()?,
            overrides: self.read_overrides()?,
            variables: self.variables()?,
            profiles: self.profiles.clone(),
            images: self.images.iter().cloned().collect(),
            bind_mounts: self.drop_bind_mounts.then_some(BindMounts::Drop),
            ..Default::default()
        };
        let sources = Sources { compose: &spec.compose, overrides: &spec.overrides, variables: &spec.variables, profiles: &spec.profiles };
        // A document that does not load is reported by the translation, with every error.
        let Ok(loaded) = load::load(&sources) else {
            return Ok(ProjectSpec { spec, secret_files: BTreeMap::new(), env_secrets: BTreeMap::new(), skipped: Vec::new() });
        };
        let mut references = pack::references(&loaded.file);
        let mut env_secrets = BTreeMap::new();
        for path in &self.secret_env_files {
            let normalized = crate::build::project_files::normalize(path)?;
            references.files_or_directories.retain(|p| *p != normalized);
            let variables = pack::env_file(&self.project_directory(), &normalized)?;
            // Named after the path where it makes a name, else after its fingerprint.
            let readable = crate::build::names::kubernetes_name(&crate::build::project_files::key(&normalized));
            let suffix = readable.unwrap_or_else(|_| crate::build::project_files::fingerprint(normalized.as_bytes())[..8].to_string());
            let secret = format!("{}-env-{suffix}", self.stack_name());
            env_secrets.insert(secret.clone(), variables);
            spec.secret_env_files.insert(normalized, secret);
        }
        let packed = pack::pack(&self.project_directory(), &references);
        spec.files = packed.files;
        spec.binary_files = packed.binary_files;
        spec.directories = packed.directories;
        if !packed.secret_files.is_empty() {
            spec.secret_files = Some(format!("{}-secret-files", self.stack_name()));
        }
        Ok(ProjectSpec { spec, secret_files: packed.secret_files, env_secrets, skipped: packed.skipped })
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
        directory.and_then(|d| crate::build::names::kubernetes_name(&d).ok()).unwrap_or_else(|| "stack".to_string())
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
