//! A compose project on this machine as a ComposeStack: its files read, the project files
//! it refers to packed in, its secret material split out into Secrets the stack names.
//! `convert`, `stack` and `deploy` all start here, so they agree on what a project is.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use super::input::{self, ComposeInput};
use super::pack;
use crate::api::ComposeStackSpec;
use crate::compose::diagnostic::{Path as ComposePath, Report};
use crate::compose::interpolate::interpolate_tree;
use crate::compose::load::{self, Sources};
use crate::compose::model::ComposeFile;
use crate::compose::value::is_external;
use crate::compose::yaml;
use crate::translate::{names, project_files};

/// The stack a project becomes, with the Secrets it refers to.
pub struct Project {
    pub name: String,
    pub spec: ComposeStackSpec,
    /// Secret name → its data; written beside the stack, never into it.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// What the user should know (files not packed, variables kept readable), for stderr.
    pub notes: Vec<String>,
    /// The document as loaded to find the project files, reused by the translation (moving
    /// variables into a Secret changes nothing it interpolates).
    pub loaded: Option<load::Loaded>,
}

impl ComposeInput {
    /// The project as found on disk; the controller's checks are left to the translation
    /// that follows (a document that does not load is reported there, with every error).
    pub fn project(&self) -> Result<Project, String> {
        self.project_named(None)
    }

    /// The same, named `name` when given (deploy's positional STACK) over `--name`.
    pub fn project_named(&self, name: Option<&str>) -> Result<Project, String> {
        let files = self.compose_files()?;
        let mut texts = files.paths.iter().map(|path| input::read_compose(path)).collect::<Result<Vec<_>, _>>()?;
        let compose = texts.remove(0);
        let directory = files.directory.as_path();
        let mut spec = ComposeStackSpec {
            compose,
            overrides: texts,
            variables: self.variables(directory)?,
            profiles: self.profiles.clone(),
            images: self.images.iter().cloned().collect(),
            bind_mounts: self.bind_mounts(),
            ..Default::default()
        };
        let mut notes = files.notes;
        let sources = Sources { compose: &spec.compose, overrides: &spec.overrides, variables: &spec.variables, profiles: &spec.profiles };
        let loaded = load::load(&sources).ok();
        let project_name = std::env::var("COMPOSE_PROJECT_NAME").ok();
        let in_file = loaded.as_ref().and_then(|l| l.file.name.as_deref());
        let name = input::stack_name(name.or(self.name.as_deref()), project_name.as_deref(), in_file, directory)?;
        let Some(loaded) = loaded else {
            return Ok(Project { name, spec, secrets: BTreeMap::new(), notes, loaded: None });
        };

        let mut secrets = BTreeMap::new();
        let mut references = pack::references(&loaded.file);
        for path in &self.secret_env_files {
            let normalized = project_files::normalize(path)?;
            references.files_or_directories.retain(|p| *p != normalized);
            let variables = pack::env_file(directory, &normalized)?;
            // Named after the path where it makes a name, else after its fingerprint.
            let readable = names::kubernetes_name(&project_files::key(&normalized));
            let suffix = readable.unwrap_or_else(|_| project_files::fingerprint(normalized.as_bytes())[..8].to_string());
            let secret = format!("{name}-env-{suffix}");
            secrets.insert(secret.clone(), variables.into_iter().map(|(k, v)| (k, v.into_bytes())).collect());
            spec.secret_env_files.insert(normalized, secret);
        }
        let packed = pack::pack(directory, &references);
        notes.extend(packed.skipped.iter().map(|reason| format!("not packed: {reason}")));
        spec.files = packed.files;
        spec.binary_files = packed.binary_files;
        spec.directories = packed.directories;
        spec.unpacked_paths = packed.unpacked;
        if !packed.secret_files.is_empty() {
            let secret = format!("{name}-secret-files");
            secrets.insert(secret.clone(), packed.secret_files);
            spec.secret_files = Some(secret);
        }

        let (moved, kept) = split_secret_variables(&loaded.file, &spec);
        for (variable, place) in kept {
            notes.push(format!(
                "the variable {variable} feeds a secret but is also interpolated ({place}), so its value stays in spec.variables, readable by anyone who can read the stack"
            ));
        }
        if !moved.is_empty() {
            let secret = format!("{name}-secret-variables");
            let data = moved.iter().filter_map(|variable| Some((variable.clone(), spec.variables.remove(variable)?.into_bytes()))).collect();
            secrets.insert(secret.clone(), data);
            spec.secret_variables = Some(secret);
        }
        Ok(Project { name, spec, secrets, notes, loaded: Some(loaded) })
    }

    /// `.env` in the project directory (as docker compose reads it), then `--var` over it.
    fn variables(&self, directory: &Path) -> Result<BTreeMap<String, String>, String> {
        let mut variables = BTreeMap::new();
        if !self.no_dotenv && directory.join(".env").exists() {
            let bytes = pack::read_project_file(directory, ".env").map_err(|reason| format!("{}: {reason}", directory.join(".env").display()))?;
            let text = String::from_utf8(bytes).map_err(|_| format!("{} is not text", directory.join(".env").display()))?;
            // `--var` stands for the shell's environment: it fills `${VAR}` in .env and wins over its values.
            let overrides: BTreeMap<String, String> = self.variables.iter().cloned().collect();
            let entries =
                crate::compose::dotenv::parse(&text, &|name| overrides.get(name).cloned()).map_err(|e| format!("{}: {e}", directory.join(".env").display()))?;
            variables.extend(entries.into_iter().filter_map(|(key, value)| Some((key, value?))));
        }
        variables.extend(self.variables.iter().cloned());
        Ok(variables)
    }
}

/// The variables that `secrets: environment:` turns into Secrets: those the compose text
/// never interpolates move into a Secret the stack names (`spec.secretVariables`), which
/// the pods read directly; the others must stay, or interpolation would change, and are
/// returned with where they are used.
fn split_secret_variables(file: &ComposeFile, spec: &ComposeStackSpec) -> (Vec<String>, Vec<(String, String)>) {
    let feeding: BTreeSet<&str> = file
        .secrets
        .values()
        .filter(|secret| !is_external(&secret.external))
        .filter_map(|secret| secret.environment.as_deref())
        .filter(|variable| spec.variables.contains_key(*variable))
        .collect();
    if feeding.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut used = interpolated_variables(spec);
    // A bare `- KEY` in `environment:` takes its value from the variables too.
    for (service, definition) in &file.services {
        for key in definition.environment.iter().filter(|(_, value)| value.is_none()).map(|(key, _)| key) {
            used.entry(key.clone()).or_insert_with(|| format!("services.{service}.environment.{key}"));
        }
    }
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    for variable in feeding {
        match used.get(variable) {
            Some(place) => kept.push((variable.to_string(), place.clone())),
            None => moved.push(variable.to_string()),
        }
    }
    (moved, kept)
}

/// Every variable the documents look up while being interpolated, with the first place
/// (the compose path of the value) — the loader's own interpolation, so defaults that are
/// never evaluated do not count.
fn interpolated_variables(spec: &ComposeStackSpec) -> BTreeMap<String, String> {
    let used: RefCell<BTreeMap<String, String>> = RefCell::default();
    let documents = std::iter::once(&spec.compose).chain(&spec.overrides);
    for (index, text) in documents.enumerate() {
        let Ok(mut node) = yaml::parse(text, index) else { continue };
        let document = if index == 0 { "the compose file".to_string() } else { format!("compose file {}", index + 1) };
        let lookup = |name: &str| {
            used.borrow_mut().entry(name.to_string()).or_insert_with(|| document.clone());
            spec.variables.get(name).cloned()
        };
        interpolate_tree(&mut node, &ComposePath::root(), &lookup, &mut Report::default());
    }
    used.into_inner()
}

impl Project {
    /// The Secrets the stack names, as manifests: in `namespace` when given, labelled as the
    /// stack's, with `owner` (the live stack) when known, so deleting it deletes them.
    pub fn secret_manifests(&self, namespace: Option<&str>, owner: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>) -> Vec<Secret> {
        self.secrets
            .iter()
            .map(|(name, data)| Secret {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: namespace.map(str::to_string),
                    labels: Some(names::object_labels(&self.name, None)),
                    owner_references: owner.map(|owner| vec![owner.clone()]),
                    ..Default::default()
                },
                type_: Some("Opaque".into()),
                data: Some(data.iter().map(|(key, bytes)| (key.clone(), ByteString(bytes.clone()))).collect()),
                ..Default::default()
            })
            .collect()
    }
}

/// A typed object as a manifest: `apiVersion` and `kind` first, as kubectl prints them.
pub fn manifest<K: kube::Resource<DynamicType = ()> + serde::Serialize>(object: &K) -> Result<serde_json::Value, String> {
    let mut value = serde_json::json!({"apiVersion": K::api_version(&()), "kind": K::kind(&())});
    let body = serde_json::to_value(object).map_err(|e| e.to_string())?;
    if let (Some(head), serde_json::Value::Object(body)) = (value.as_object_mut(), body) {
        head.extend(body.into_iter().filter(|(key, _)| key != "apiVersion" && key != "kind"));
    }
    Ok(value)
}
