//! The conformance corpora and the projects formed from them, shared by the offline tests
//! (tests/conformance.rs) and the real-cluster ones (e2e/tests/conformance.rs).
//!
//! The corpora live outside the repository: `$COMPOSE_CONFORMANCE_DIR`, else
//! `../shared/conformance` beside the checkout, a folder holding `kompose/`, `compose-go/`
//! and `docker-compose/`. A clone without them skips the corpus tests and says so; CI sets
//! the variable, and a set variable that points nowhere fails the tests.
//!
//! How a project is formed (docs/conformance.md says the same):
//! - every compose file (`*.yml`, `*.yaml`) is a project of its own, as `docker compose -f FILE`
//!   makes it: the file's directory is the project directory, `.env` there is read, no
//!   profile is enabled; extends, include and env_file paths are the file's business;
//! - the override sets in [`OVERRIDES`], files the corpus' own tests load together, are also
//!   each one project (`-f main -f override ...`);
//! - YAML that is not a compose file is left out: Compose Bridge's expected Kubernetes and
//!   Helm output in docker-compose's `bridge/expected-*`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The corpora, by folder name under the conformance directory.
pub const CORPORA: [&str; 3] = ["kompose", "compose-go", "docker-compose"];

/// Projects of several files: a corpus, its main file, the files merged over it in order.
pub const OVERRIDES: &[(&str, &str, &[&str])] = &[
    // compose-go's cli tests load compose.yaml with this override (cli/options_test.go).
    ("compose-go", "cli-testdata/simple/compose.yaml", &["cli-testdata/simple/compose-with-overrides.yaml"]),
    // docker/compose's publish tests merge the override's env_file into the extended service.
    ("docker-compose", "publish/oci/compose.yaml", &["publish/oci/compose-override.yaml"]),
];

/// Folders whose YAML is not compose (another tool's expected output).
const NOT_COMPOSE: [&str; 2] = ["expected-helm", "expected-kubernetes"];

pub const VARIABLE: &str = "COMPOSE_CONFORMANCE_DIR";

/// The conformance directory, or `None` (with the reason printed) when it is absent and
/// nobody asked for it. A `COMPOSE_CONFORMANCE_DIR` that is not a directory panics: whoever
/// set it (CI) wants the tests run, not skipped.
pub fn root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(VARIABLE).map(PathBuf::from) {
        assert!(dir.is_dir(), "{VARIABLE}={} is not a directory; it must hold the corpora {CORPORA:?}", dir.display());
        return Some(dir);
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    if default.is_dir() {
        return Some(default);
    }
    skipped(&format!(
        "SKIPPED: the conformance corpora are not at {} and {VARIABLE} is not set; set {VARIABLE} to a folder \
         holding {} (the project's ../shared/conformance) to run these tests",
        default.display(),
        CORPORA.join("/, ") + "/",
    ));
    None
}

/// Says why a test skipped where `cargo test` shows it: straight to stderr, past the test
/// harness' capture of `eprintln!`, so a fresh clone's run says what it left out.
pub fn skipped(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{reason}");
}

/// One corpus' folder; panics when the conformance directory lacks it.
pub fn corpus_dir(root: &Path, corpus: &str) -> PathBuf {
    let dir = root.join(corpus);
    assert!(dir.is_dir(), "the conformance directory {} has no {corpus}/", root.display());
    dir
}

/// One project: the main file and its overrides, and the name it goes by in the
/// expectations files (`dir/compose.yaml`, or `dir/compose.yaml + dir/override.yaml`).
#[derive(Clone, Debug)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
    pub overrides: Vec<PathBuf>,
}

/// Every project of a corpus: its compose files alone, sorted, then its override sets.
pub fn projects(corpus_dir: &Path, corpus: &str) -> Vec<Project> {
    let mut found = Vec::new();
    collect(corpus_dir, &mut found);
    let mut projects: Vec<Project> = found.into_iter().map(|file| Project { name: relative(corpus_dir, &file), file, overrides: Vec::new() }).collect();
    for (_, main, overrides) in OVERRIDES.iter().filter(|(c, _, _)| *c == corpus) {
        let names: Vec<&str> = std::iter::once(*main).chain(overrides.iter().copied()).collect();
        projects.push(Project { name: names.join(" + "), file: corpus_dir.join(main), overrides: overrides.iter().map(|o| corpus_dir.join(o)).collect() });
    }
    projects
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if !NOT_COMPOSE.iter().any(|name| path.file_name().is_some_and(|n| n == *name)) {
                collect(&path, found);
            }
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            found.push(path);
        }
    }
}

pub fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root).unwrap_or(file).display().to_string()
}

/// `--image` for every service that has `build:` and no `image:` in any of the project's
/// files: what a pipeline that pushed the image would pass. The registry does not exist;
/// kwok never pulls.
pub fn stand_in_images(project: &Project) -> Vec<(String, String)> {
    let mut building = std::collections::BTreeMap::new();
    for file in std::iter::once(&project.file).chain(&project.overrides) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let Ok(document) = serde_saphyr::from_str::<serde_json::Value>(&text) else { continue };
        let Some(services) = document.get("services").and_then(|s| s.as_object()) else { continue };
        for (name, service) in services {
            let entry = building.entry(name.clone()).or_insert((false, false));
            entry.0 |= service.get("build").is_some();
            entry.1 |= service.get("image").is_some();
        }
    }
    building
        .into_iter()
        .filter(|(_, (build, image))| *build && !*image)
        .map(|(name, _)| {
            let image = format!("registry.invalid/corpus/{}:latest", name.to_lowercase());
            (name, image)
        })
        .collect()
}

/// The stand-in images as `convert`/`stack` arguments.
pub fn image_args(project: &Project) -> Vec<String> {
    stand_in_images(project).into_iter().flat_map(|(service, image)| ["--image".to_string(), format!("{service}={image}")]).collect()
}

/// `-f main [--override more]...` for `convert`/`stack`.
pub fn file_args(project: &Project) -> Vec<String> {
    let mut args = vec!["-f".to_string(), project.file.display().to_string()];
    for file in &project.overrides {
        args.extend(["--override".to_string(), file.display().to_string()]);
    }
    args
}
