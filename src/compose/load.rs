//! From the ComposeStack's text inputs to a typed compose model:
//! parse (budgeted) → interpolate → merge overrides → extends → drop extensions →
//! canonical (long syntax) → typed → profiles.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::canonical::canonicalize;
use super::diagnostic::{Diagnostic, Diagnostics, Path, Report, Warning};
use super::extension::EXTENSION_KEY;
use super::interpolate::interpolate_tree;
use super::merge::{merge_all, strip_resets};
use super::model::{ComposeFile, Dependency, NetworkMode, Parsed, Service};
use super::yaml::{self, Node};

use super::limits::{MAX_NETWORKS, MAX_OVERRIDES, MAX_SERVICES};

/// The compose inputs of one stack, independent of where they came from (CLI or CRD).
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    pub compose: &'a str,
    pub overrides: &'a [String],
    pub variables: &'a BTreeMap<String, String>,
    pub profiles: &'a [String],
}

/// A typed compose model plus what is needed to explain it.
#[derive(Debug)]
pub struct Loaded {
    pub file: ComposeFile,
    /// The merged tree, kept to put line/column on later errors.
    pub tree: Node,
    pub warnings: Vec<Warning>,
    /// Entries the canonical step could not read (left out of `file`): the stack is
    /// refused, with these reported beside what the translation finds.
    pub errors: Vec<Diagnostic>,
}

impl Loaded {
    pub fn locate(&self, diagnostic: Diagnostic) -> Diagnostic {
        locate(&self.tree, diagnostic)
    }
}

fn locate(tree: &Node, mut diagnostic: Diagnostic) -> Diagnostic {
    diagnostic.location = diagnostic.location.or_else(|| tree.locate(&diagnostic.path));
    diagnostic
}

pub fn load(sources: &Sources) -> Result<Loaded, Diagnostics> {
    if sources.overrides.len() > MAX_OVERRIDES {
        return Err(Diagnostics::single(Diagnostic::new(
            Path::root(),
            format!("{} override documents; at most {MAX_OVERRIDES} are accepted", sources.overrides.len()),
        )));
    }
    let mut report = Report::default();
    let lookup = |name: &str| sources.variables.get(name).cloned();
    let mut documents = Vec::new();
    for (index, text) in std::iter::once(sources.compose).chain(sources.overrides.iter().map(String::as_str)).enumerate() {
        match yaml::parse(text, index) {
            Ok(mut node) => {
                interpolate_tree(&mut node, &Path::root(), &lookup, &mut report);
                documents.push(node);
            }
            Err(diagnostic) => report.error(diagnostic),
        }
    }
    if report.has_errors() {
        return Err(report.into_diagnostics(|d| d));
    }
    let mut tree = merge_all(documents).expect("the main document is always present");
    if let Err(diagnostic) = check_service_count(&tree) {
        return Err(Diagnostics::single(diagnostic));
    }
    super::extends::resolve(&mut tree, &mut report);
    if report.has_errors() {
        return Err(report.into_diagnostics(|d| locate(&tree, d)));
    }
    let tree = strip_resets(tree);

    let mut json = tree.to_json();
    for path in strip_extensions(&mut json) {
        report.warn(&path, "x-kubernetes is read on services, their volume mounts and top-level volumes only; ignored here");
    }
    // An entry the canonical step cannot read is left out and reported; the rest goes on,
    // so that the translation's own findings are reported together with it.
    canonicalize(&mut json, &mut report);
    let canonical_errors = report.error_count();
    let file = typed(json, &mut report);
    if file.is_none() || report.error_count() > canonical_errors || report.more_errors > 0 {
        return Err(report.into_diagnostics(|d| locate(&tree, d)));
    }
    let errors = std::mem::take(&mut report.errors).into_iter().map(|d| locate(&tree, d)).collect();
    let mut loaded = Loaded { file: file.unwrap_or_default(), tree, warnings: Vec::new(), errors };
    apply_profiles(&mut loaded.file, sources.profiles);
    implied_dependencies(&mut loaded.file);
    loaded.warnings = report.into_warnings();
    Ok(loaded)
}

/// As compose-go does: a service that links to another, or shares its network, IPC or PID
/// namespace, depends on it (started first, restarted with it), unless it says otherwise.
fn implied_dependencies(file: &mut ComposeFile) {
    let names: Vec<String> = file.services.keys().cloned().collect();
    for name in names {
        let service = &file.services[&name];
        let network = service.network_mode.as_ref().and_then(Parsed::ok).and_then(|mode| match mode {
            NetworkMode::Service(name) => Some(name),
            _ => None,
        });
        let namespaces = [&service.ipc, &service.pid].into_iter().flatten().filter_map(|mode| mode.strip_prefix("service:").map(str::to_string));
        let shared = network.into_iter().chain(namespaces);
        let linked = service.links.iter().map(|link| link.service.clone());
        let targets: Vec<String> = linked.chain(shared).filter(|target| *target != name && file.services.contains_key(target)).collect();
        if let Some(service) = file.services.get_mut(&name) {
            for target in targets {
                service.depends_on.entry(target).or_insert(Dependency { restart: Some(true), implied: true, ..Dependency::default() });
            }
        }
    }
}

/// One service definition read through the whole pipeline (canonical form, typed), for
/// unit tests of the translation.
#[cfg(test)]
pub fn service_from_yaml(definition: &str) -> Service {
    let indented: String = definition.lines().map(|line| format!("    {line}\n")).collect();
    let text = format!("services:\n  it:\n{indented}");
    let variables = BTreeMap::new();
    let loaded = load(&Sources { compose: &text, overrides: &[], variables: &variables, profiles: &[] }).unwrap_or_else(|e| panic!("{e}"));
    loaded.file.services["it"].clone()
}

/// Refuses a stack with more services or networks than one operator should run as one
/// unit, before `extends` and the translation do work per service.
fn check_service_count(tree: &Node) -> Result<(), Diagnostic> {
    for (section, limit) in [("services", MAX_SERVICES), ("networks", MAX_NETWORKS)] {
        let count = tree.get(section).and_then(Node::as_map).map_or(0, <[_]>::len);
        if count > limit {
            return Err(Diagnostic::new(Path::root().key(section), format!("{count} {section}; a stack has at most {limit}"))
                .with_hint("split the project into several ComposeStacks"));
        }
    }
    Ok(())
}

/// `x-*` keys are compose extensions, allowed at the top level and in each definition.
/// `x-kubernetes` is kept on services and volumes, where the model reads it; the paths
/// where it was dropped are returned, to be reported.
fn strip_extensions(json: &mut Json) -> Vec<Path> {
    let mut dropped = Vec::new();
    let mut strip = |value: &mut Json, path: Path, keep: bool| {
        if let Json::Object(map) = value {
            if !keep && map.contains_key(EXTENSION_KEY) {
                dropped.push(path.key(EXTENSION_KEY));
            }
            map.retain(|key, _| !key.starts_with("x-") || (keep && key == EXTENSION_KEY));
        }
    };
    strip(json, Path::root(), false);
    if let Json::Object(root) = json {
        for section in ["services", "volumes", "networks", "configs", "secrets"] {
            if let Some(Json::Object(definitions)) = root.get_mut(section) {
                for (name, definition) in definitions.iter_mut() {
                    strip(definition, Path::root().key(section).key(name), matches!(section, "services" | "volumes"));
                }
            }
        }
    }
    dropped
}

/// Deserializes the document, one service at a time so that every broken service
/// is reported, not only the first.
fn typed(mut json: Json, report: &mut Report) -> Option<ComposeFile> {
    let services = match &mut json {
        Json::Object(root) => root.remove("services"),
        _ => None,
    };
    let mut file = match serde_path_to_error::deserialize::<_, ComposeFile>(json) {
        Ok(file) => Some(file),
        Err(error) => {
            report.error(diagnostic_from_serde(&Path::root(), &error));
            None
        }
    };
    match services {
        None | Some(Json::Null) => {}
        Some(Json::Object(services)) => {
            for (name, service) in services {
                let path = Path::root().key("services").key(&name);
                if service.is_null() {
                    report.error(Diagnostic::new(path, "the service is empty").with_hint("give it at least an image:"));
                    continue;
                }
                match serde_path_to_error::deserialize::<_, Service>(service) {
                    Ok(service) => {
                        if let Some(file) = &mut file {
                            file.services.insert(name, service);
                        }
                    }
                    Err(error) => report.error(diagnostic_from_serde(&path, &error)),
                }
            }
        }
        Some(_) => report.error(Diagnostic::new(Path::root().key("services"), "services must be a mapping of service names to definitions")),
    }
    file
}

fn diagnostic_from_serde(base: &Path, error: &serde_path_to_error::Error<serde_json::Error>) -> Diagnostic {
    let mut path = base.clone();
    for segment in error.path().iter() {
        path = match segment {
            serde_path_to_error::Segment::Seq { index } => path.key(index),
            serde_path_to_error::Segment::Map { key } => path.key(key),
            serde_path_to_error::Segment::Enum { variant } => path.key(variant),
            serde_path_to_error::Segment::Unknown => path,
        };
    }
    let message = error.inner().to_string();
    // serde_json appends " at line 1 column N" of the JSON it was given; that position is ours, not the user's.
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    let hint = misplaced_key_hint(&path, &message);
    let diagnostic = Diagnostic::new(path, message);
    match hint {
        Some(hint) => diagnostic.with_hint(hint),
        None => diagnostic,
    }
}

/// Where commonly mis-indented keys belong, to turn "unknown field" into a fix.
const HOMES: &[(&str, &str)] = &[
    ("restart_policy", "deploy"),
    ("update_config", "deploy"),
    ("rollback_config", "deploy"),
    ("placement", "deploy"),
    ("replicas", "deploy"),
    ("resources", "deploy"),
    ("mode", "deploy"),
    ("endpoint_mode", "deploy"),
    ("limits", "deploy.resources"),
    ("reservations", "deploy.resources"),
    ("memory", "deploy.resources.limits"),
    ("condition", "deploy.restart_policy"),
    ("max_attempts", "deploy.restart_policy"),
    ("aliases", "services.<name>.networks.<network>"),
    ("test", "services.<name>.healthcheck"),
    ("interval", "services.<name>.healthcheck"),
];

fn misplaced_key_hint(path: &Path, message: &str) -> Option<String> {
    if !message.starts_with("unknown field") {
        return None;
    }
    if path.segments().len() == 1 {
        return Some("compose file format v1 put services at the top level; move them under `services:`".into());
    }
    let key = path.segments().last()?;
    if let Some((_, home)) = HOMES.iter().find(|(name, _)| name == key) {
        let parent: Vec<&str> = path.segments()[..path.segments().len() - 1].iter().map(String::as_str).collect();
        let service_prefix = parent.iter().take(2).copied().collect::<Vec<_>>().join(".");
        let home = if home.starts_with("services.") { home.to_string() } else { format!("{service_prefix}.{home}") };
        if parent.join(".") != home {
            return Some(format!("`{key}` belongs under `{home}`; check its indentation"));
        }
    }
    let expected = message.split_once(", expected ")?.1;
    let candidates = expected.split('`').skip(1).step_by(2);
    candidates
        .min_by_key(|candidate| edit_distance(key, candidate))
        .filter(|candidate| edit_distance(key, candidate) <= 2)
        .map(|candidate| format!("did you mean `{candidate}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Services with `profiles:` run only when one of their profiles is enabled.
fn apply_profiles(file: &mut ComposeFile, enabled: &[String]) {
    file.services.retain(|_, service| service.profiles.is_empty() || service.profiles.iter().any(|p| enabled.contains(p)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources<'a>(compose: &'a str, overrides: &'a [String], variables: &'a BTreeMap<String, String>, profiles: &'a [String]) -> Sources<'a> {
        Sources { compose, overrides, variables, profiles }
    }

    fn load_text(text: &str) -> Result<Loaded, Diagnostics> {
        load(&sources(text, &[], &BTreeMap::new(), &[]))
    }

    #[test]
    fn misindented_restart_policy_names_path_and_home() {
        let text = "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        restart_policy:\n          condition: on-failure\n";
        let error = load_text(text).unwrap_err();
        let diagnostic = &error.0[0];
        assert_eq!(diagnostic.path.to_string(), "services.web.deploy.resources.restart_policy");
        assert!(diagnostic.hint.as_deref().unwrap().contains("belongs under `services.web.deploy`"), "{diagnostic}");
        assert_eq!(diagnostic.location.unwrap().line, 6);
    }

    #[test]
    fn misspelled_key_gets_a_suggestion_and_all_services_are_reported() {
        let text = "services:\n  a:\n    imag: x\n  b:\n    image: y\n    portz: []\n";
        let error = load_text(text).unwrap_err();
        assert_eq!(error.0.len(), 2);
        assert_eq!(error.0[0].hint.as_deref(), Some("did you mean `image`?"));
        assert_eq!(error.0[1].path.to_string(), "services.b.portz");
    }

    #[test]
    fn extensions_and_version_are_accepted() {
        let text = "version: '3.8'\nx-common: &c\n  image: redis\nservices:\n  cache:\n    <<: *c\n    x-note: hi\n";
        let loaded = load_text(text).unwrap();
        assert_eq!(loaded.file.services["cache"].image.as_deref(), Some("redis"));
    }

    #[test]
    fn profiles_filter_services() {
        let text = "services:\n  web: {image: a}\n  debug: {image: b, profiles: [dev]}\n";
        assert_eq!(load_text(text).unwrap().file.services.len(), 1);
        let profiles = vec!["dev".to_string()];
        let loaded = load(&sources(text, &[], &BTreeMap::new(), &profiles)).unwrap();
        assert_eq!(loaded.file.services.len(), 2);
    }

    #[test]
    fn too_many_overrides_are_refused() {
        let overrides = vec!["services: {}".to_string(); MAX_OVERRIDES + 1];
        assert!(load(&sources("services: {}", &overrides, &BTreeMap::new(), &[])).is_err());
    }
}
