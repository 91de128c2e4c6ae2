//! The compose files a command reads, found and named the way `docker compose` finds and
//! names a project, and the flags that stand in for the rest of a ComposeStack's spec.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::compose::yaml::MAX_INPUT_BYTES;

/// What compose looks for in the working directory and its parents, in compose-go's order.
pub const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
/// Merged over a default file found beside it, as compose does.
pub const DEFAULT_OVERRIDES: [&str; 4] = ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml"];

#[derive(Debug, Args)]
pub struct ComposeInput {
    /// A compose file, or `-` for standard input; repeat to merge files in order (like `docker
    /// compose -f a -f b`). Default: `$COMPOSE_FILE`, else compose.yaml, compose.yml,
    /// docker-compose.yml or docker-compose.yaml in this directory or the nearest parent that
    /// has one (with its compose.override.yaml beside it).
    #[arg(short = 'f', long = "file", visible_short_alias = 'c', visible_alias = "compose-file", alias = "override", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The stack name; default: `$COMPOSE_PROJECT_NAME`, the compose file's top-level `name:`,
    /// else the project directory's name (lower-cased, `_` and `.` as `-`).
    #[arg(long, visible_short_alias = 'p', visible_alias = "project-name")]
    pub name: Option<String>,
    /// A `${VAR}` value, like a line of a .env file.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_variable)]
    pub variables: Vec<(String, String)>,
    /// Enable a compose profile (repeatable; default: `$COMPOSE_PROFILES`, comma-separated).
    #[arg(long = "profile", env = "COMPOSE_PROFILES", value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// The image of a service (`web=registry.example/app:1.2`), set over or instead of its
    /// `image:`; how a pipeline hands its freshly pushed image to the stack.
    #[arg(long = "image", value_name = "SERVICE=IMAGE", value_parser = parse_image)]
    pub images: Vec<(String, String)>,
    /// What bind mounts of host directories and unpacked project paths become: `claim` (a
    /// PersistentVolumeClaim each, starting empty; the default), `drop` (source code the
    /// image already holds) or `refuse` (spec.bindMounts).
    #[arg(long, value_enum, value_name = "MODE")]
    pub bind_mounts: Option<BindMountsArg>,
    /// The same as `--bind-mounts drop`.
    #[arg(long, conflicts_with = "bind_mounts")]
    pub drop_bind_mounts: bool,
    /// An env file whose values are secret: it goes into a Secret of its own (one key per
    /// variable) written beside the stack, not into spec.files. Repeatable.
    #[arg(long = "secret-env-file", value_name = "PATH")]
    pub secret_env_files: Vec<String>,
    /// Do not read `.env` beside the compose file (docker compose reads it for `${VAR}`).
    #[arg(long)]
    pub no_dotenv: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BindMountsArg {
    Claim,
    Drop,
    Refuse,
}

impl ComposeInput {
    /// `spec.bindMounts` as the flags say (unset: the operator's default, claims).
    pub fn bind_mounts(&self) -> Option<crate::api::BindMounts> {
        use crate::api::BindMounts;
        match (self.bind_mounts, self.drop_bind_mounts) {
            (_, true) | (Some(BindMountsArg::Drop), _) => Some(BindMounts::Drop),
            (Some(BindMountsArg::Refuse), _) => Some(BindMounts::Refuse),
            (Some(BindMountsArg::Claim), _) => Some(BindMounts::Claim),
            (None, false) => None,
        }
    }
}

fn parse_variable(text: &str) -> Result<(String, String), String> {
    // The value may be a password: the message names the key only.
    let (key, value) = text.split_once('=').ok_or_else(|| format!("`{}` is not KEY=VALUE", text.chars().take(40).collect::<String>()))?;
    Ok((key.to_string(), value.to_string()))
}

fn parse_image(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{text}` is not SERVICE=IMAGE"))
}

/// The compose files of one project, in merge order, and where its relative paths start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeFiles {
    pub paths: Vec<PathBuf>,
    /// The first file's directory (the working directory for standard input).
    pub directory: PathBuf,
    /// Said on stderr: which default file was picked when several were there.
    pub notes: Vec<String>,
}

/// The environment compose reads, passed in so that discovery is testable without
/// changing the process's own.
pub struct Environment<'a> {
    pub working_directory: &'a Path,
    pub compose_file: Option<&'a str>,
    pub path_separator: Option<&'a str>,
}

impl Environment<'_> {
    pub fn with_process<T>(then: impl FnOnce(&Environment) -> T) -> Result<T, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
        let compose_file = std::env::var("COMPOSE_FILE").ok().filter(|v| !v.is_empty());
        let separator = std::env::var("COMPOSE_PATH_SEPARATOR").ok().filter(|v| !v.is_empty());
        Ok(then(&Environment { working_directory: &cwd, compose_file: compose_file.as_deref(), path_separator: separator.as_deref() }))
    }
}

impl ComposeInput {
    pub fn compose_files(&self) -> Result<ComposeFiles, String> {
        Environment::with_process(|environment| discover(&self.files, environment))?
    }
}

/// `-f` as given; else `COMPOSE_FILE`; else the first default file in the working directory
/// or the nearest parent holding one, plus its override file.
pub fn discover(given: &[PathBuf], environment: &Environment) -> Result<ComposeFiles, String> {
    let cwd = environment.working_directory;
    let from_variable: Vec<PathBuf> = environment
        .compose_file
        .map(|list| list.split(environment.path_separator.unwrap_or(":")).filter(|p| !p.is_empty()).map(|p| cwd.join(p)).collect())
        .unwrap_or_default();
    let mut notes = Vec::new();
    let paths = if !given.is_empty() {
        given.to_vec()
    } else if !from_variable.is_empty() {
        from_variable
    } else {
        let mut found = None;
        // A loop over the path's ancestors: as deep as the path, never recursion.
        for directory in cwd.ancestors() {
            let candidates: Vec<&str> = DEFAULT_FILES.into_iter().filter(|name| directory.join(name).is_file()).collect();
            if let Some(first) = candidates.first() {
                if candidates.len() > 1 {
                    notes.push(format!("found {} in {}; using {first}", candidates.join(", "), directory.display()));
                }
                let mut paths = vec![directory.join(first)];
                paths.extend(DEFAULT_OVERRIDES.into_iter().map(|name| directory.join(name)).find(|path| path.is_file()));
                found = Some(paths);
                break;
            }
        }
        found.ok_or_else(|| format!("no compose file: none of {} in {} or a parent directory; name one with -f", DEFAULT_FILES.join(", "), cwd.display()))?
    };
    if paths.iter().filter(|p| p.as_path() == Path::new("-")).count() > 1 {
        return Err("standard input (`-f -`) can be read once".into());
    }
    let directory = match paths[0].parent() {
        _ if paths[0] == Path::new("-") => cwd.to_path_buf(),
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => cwd.to_path_buf(),
    };
    Ok(ComposeFiles { paths, directory, notes })
}

/// The stack name as compose picks a project name: `--name`, `COMPOSE_PROJECT_NAME`, the
/// file's `name:`, the project directory's name. A name the user gave must be a valid one;
/// the directory's is normalised as compose does (lower case, only `a-z0-9_-`), then mapped.
pub fn stack_name(flag: Option<&str>, variable: Option<&str>, in_file: Option<&str>, directory: &Path) -> Result<String, String> {
    let given = [(flag, "--name"), (variable, "COMPOSE_PROJECT_NAME"), (in_file, "the compose file's `name:`")];
    if let Some((name, source)) = given.into_iter().find_map(|(name, source)| Some((name.filter(|n| !n.is_empty())?, source))) {
        return crate::translate::names::kubernetes_name(name).map_err(|e| format!("the stack name from {source}: {e}"));
    }
    let directory_name = std::fs::canonicalize(directory).ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
    let normalised: String = directory_name.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')).collect();
    let normalised = normalised.trim_start_matches(['_', '-']);
    Ok(crate::translate::names::kubernetes_name(normalised).unwrap_or_else(|_| "stack".to_string()))
}

/// The stack a command names, else the project in the working directory as `deploy` names
/// it (like `docker compose ps` in a project directory).
pub fn stack_name_here(given: Option<&str>) -> Result<String, String> {
    if let Some(name) = given {
        return Ok(name.to_string());
    }
    let files =
        Environment::with_process(|environment| discover(&[], environment))?.map_err(|e| format!("name the stack, or run this in a compose project: {e}"))?;
    let text = read_compose(&files.paths[0])?;
    let in_file = crate::compose::yaml::parse(&text, 0).ok().and_then(|node| node.to_json().get("name")?.as_str().map(str::to_string));
    let variable = std::env::var("COMPOSE_PROJECT_NAME").ok();
    stack_name(None, variable.as_deref(), in_file.as_deref(), &files.directory)
}

/// Reads at most one byte more than the limit, so an oversized file is refused
/// without being read whole.
pub fn read_compose(path: &Path) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("compose-operator-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("My_Project/sub/deeper")).unwrap();
        dir.join("My_Project")
    }

    fn env(cwd: &Path) -> Environment<'_> {
        Environment { working_directory: cwd, compose_file: None, path_separator: None }
    }

    #[test]
    fn finds_the_default_file_in_the_nearest_parent_with_its_override() {
        let project = temp("parents");
        std::fs::write(project.join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(project.join("compose.yaml"), "services: {}\n").unwrap();
        std::fs::write(project.join("compose.override.yaml"), "services: {}\n").unwrap();
        let found = discover(&[], &env(&project.join("sub/deeper"))).unwrap();
        assert_eq!(found.paths, [project.join("compose.yaml"), project.join("compose.override.yaml")]);
        assert_eq!(found.directory, project);
        assert_eq!(found.notes.len(), 1, "two default files: the one used is named");
        let _ = std::fs::remove_dir_all(project.parent().unwrap());
    }

    #[test]
    fn given_files_then_compose_file_then_nothing() {
        let project = temp("given");
        let given = [PathBuf::from("a/base.yaml"), PathBuf::from("over.yaml")];
        let found = discover(&given, &env(&project)).unwrap();
        assert_eq!((found.paths.as_slice(), found.directory.as_path()), (given.as_slice(), Path::new("a")));
        let variable = Environment { working_directory: &project, compose_file: Some("x.yaml;y.yaml"), path_separator: Some(";") };
        assert_eq!(discover(&[], &variable).unwrap().paths, [project.join("x.yaml"), project.join("y.yaml")]);
        let error = discover(&[], &env(&project.join("sub"))).unwrap_err();
        assert!(error.contains("no compose file") && error.contains("-f"), "{error}");
        assert_eq!(discover(&[PathBuf::from("-")], &env(&project)).unwrap().directory, project);
        let _ = std::fs::remove_dir_all(project.parent().unwrap());
    }

    #[test]
    fn names_like_compose_project_names() {
        let project = temp("names");
        assert_eq!(stack_name(Some("shop"), Some("env"), Some("file"), &project).unwrap(), "shop");
        assert_eq!(stack_name(None, Some("from_env"), Some("file"), &project).unwrap(), "from-env");
        assert_eq!(stack_name(None, None, Some("in.file"), &project).unwrap(), "in-file");
        assert_eq!(stack_name(None, None, None, &project).unwrap(), "my-project", "the directory, normalised");
        assert!(stack_name(Some("9lives"), None, None, &project).unwrap_err().contains("--name"));
        assert_eq!(stack_name(None, None, None, &project.join("sub/deeper/..")).unwrap(), "sub");
        let _ = std::fs::remove_dir_all(project.parent().unwrap());
    }
}
