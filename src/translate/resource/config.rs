//! Top-level `configs:` and `secrets:` → ConfigMaps and Secrets, and a service's
//! `configs:` / `secrets:` → single-file mounts.
//!
//! | source | config | secret |
//! |---|---|---|
//! | `content:` / `environment:` | ConfigMap `<stack>-<name>` | Secret `<stack>-<name>` |
//! | `file:` | ConfigMap from `spec.files` | key of the Secret `spec.secretFiles` |
//! | `external: true` | existing ConfigMap `name:` | existing Secret `name:` |
//!
//! Every ConfigMap or Secret holds the file under the key of the compose name; a service
//! mounts that one key at its target (`/<name>` for configs, `/run/secrets/<name>` for
//! secrets). Secret values are never logged nor put in status or Events.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, KeyToPath, Secret, SecretVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{FileMount, FileObjectDefinition, Service};
use crate::compose::value::is_external;
use crate::object::Object;
use crate::translate::names;
use crate::translate::project_files::{self, Content};
use crate::translate::target::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Config,
    Secret,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Config => "configs",
            Kind::Secret => "secrets",
        }
    }
}

/// Where one config's or secret's bytes come from in the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub kind: Kind,
    /// The ConfigMap or Secret.
    pub object_name: String,
    pub key: String,
    /// Of the content, when the stack owns it; a change of it rolls the pods that mount it.
    pub fingerprint: Option<String>,
}

/// What the stack's configs and secrets become.
#[derive(Debug, Default)]
pub struct FilePlan {
    pub sources: BTreeMap<(String, String), Source>,
    /// The ConfigMaps and Secrets the stack owns.
    pub objects: Vec<Object>,
    /// Declared but refused (already reported): mounts of them are not errors of their own.
    pub refused: std::collections::BTreeSet<(String, String)>,
}

pub struct PlanInput<'a> {
    pub target: &'a Target<'a>,
    pub configs: &'a BTreeMap<String, FileObjectDefinition>,
    pub secrets: &'a BTreeMap<String, FileObjectDefinition>,
}

pub fn plan(input: &PlanInput, report: &mut Report) -> FilePlan {
    let mut plan = FilePlan::default();
    for (kind, definitions) in [(Kind::Config, input.configs), (Kind::Secret, input.secrets)] {
        for (name, definition) in definitions {
            let path = Path::root().key(kind.section()).key(name);
            let key = (kind.section().to_string(), name.clone());
            match source(input, kind, name, definition, &path, &mut plan.objects, report) {
                Some(source) => {
                    plan.sources.insert(key, source);
                }
                None => {
                    plan.refused.insert(key);
                }
            }
        }
    }
    plan
}

fn source(
    input: &PlanInput,
    kind: Kind,
    name: &str,
    definition: &FileObjectDefinition,
    path: &Path,
    objects: &mut Vec<Object>,
    report: &mut Report,
) -> Option<Source> {
    let key = valid_key(name, path, report)?;
    let k8s_name = report.check(path, names::kubernetes_name(name))?;
    if definition.driver.is_some() {
        report.warn(&path.key("driver"), "secret and config drivers have no Kubernetes meaning; ignored");
    }
    let external = is_external(&definition.external);
    if external {
        let object_name = definition.name.clone().unwrap_or(k8s_name);
        return Some(Source { kind, object_name, key, fingerprint: None });
    }
    let value = match (&definition.content, &definition.environment, &definition.file) {
        (Some(content), None, None) => Value::Text(content.clone()),
        (None, Some(variable), None) => match (input.target.variables.get(variable), input.target.secret_variables) {
            (Some(value), _) => Value::Text(value.clone()),
            // The pods read the key from the Secret themselves; nothing here reads its value.
            (None, Some(secret)) => {
                let key = valid_key(variable, &path.key("environment"), report)?;
                return Some(Source { kind, object_name: secret.to_string(), key, fingerprint: None });
            }
            (None, None) => {
                report.error(
                    Diagnostic::new(path.key("environment"), format!("the variable `{variable}` is not set"))
                        .with_hint("set it in spec.variables (--var in the CLI), or in the Secret spec.secretVariables names"),
                );
                return None;
            }
        },
        (None, None, Some(file)) if kind == Kind::Secret => return secret_file_source(input, file, &path.key("file"), report),
        (None, None, Some(file)) => project_file(input, file, &path.key("file"), report)?,
        // No source, or more than one: refused by validation (`compose::fields`).
        _ => return None,
    };
    let object_name = format!("{}-{k8s_name}", input.target.stack);
    let fingerprint = project_files::fingerprint(value.bytes());
    objects.push(owned_object(input.target.stack, kind, &object_name, &key, value));
    Some(Source { kind, object_name, key, fingerprint: Some(fingerprint) })
}

/// One config's or secret's content, as the ConfigMap or Secret will hold it.
enum Value {
    Text(String),
    Binary(Vec<u8>),
}

impl Value {
    fn bytes(&self) -> &[u8] {
        match self {
            Value::Text(text) => text.as_bytes(),
            Value::Binary(bytes) => bytes,
        }
    }
}

/// `secrets: file:` reads the key of that path in the Secret `spec.secretFiles`.
fn secret_file_source(input: &PlanInput, file: &str, path: &Path, report: &mut Report) -> Option<Source> {
    let Some(secret) = input.target.secret_files else {
        report.error(
            Diagnostic::new(path.clone(), format!("the secret file `{file}` is not in the cluster"))
                .with_hint("put it in a Secret and name it in spec.secretFiles (`compose-operator stack` writes that Secret), or use external: true"),
        );
        return None;
    };
    Some(Source { kind: Kind::Secret, object_name: secret.to_string(), key: project_files::key(file), fingerprint: None })
}

/// `configs: file:` reads `spec.files` (or `spec.binaryFiles`).
fn project_file(input: &PlanInput, file: &str, path: &Path, report: &mut Report) -> Option<Value> {
    let Some(content) = input.target.files.file(file) else {
        report.error(
            Diagnostic::new(path.clone(), format!("the file `{file}` is not in spec.files"))
                .with_hint("`compose-operator stack` packs project files into spec.files; or use content: or external: true"),
        );
        return None;
    };
    let bytes = content.bytes().filter(|_| content.byte_len() <= project_files::MAX_OBJECT_BYTES);
    let Some(bytes) = bytes else {
        report.error(Diagnostic::new(path.clone(), format!("`{file}` is larger than {} bytes or not valid base64", project_files::MAX_OBJECT_BYTES)));
        return None;
    };
    Some(match content {
        Content::Text(text) => Value::Text(text.to_string()),
        Content::Binary(_) => Value::Binary(bytes.0),
    })
}

fn valid_key(name: &str, path: &Path, report: &mut Report) -> Option<String> {
    let valid = !name.is_empty() && name.len() <= 253 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        report.error(Diagnostic::new(path.clone(), format!("`{name}` cannot be a file key: use letters, digits, `-`, `.` and `_`")));
        return None;
    }
    Some(name.to_string())
}

fn owned_object(stack: &str, kind: Kind, name: &str, key: &str, value: Value) -> Object {
    let metadata = ObjectMeta { name: Some(name.to_string()), labels: Some(names::object_labels(stack, None)), ..Default::default() };
    let key = key.to_string();
    match (kind, value) {
        (Kind::Secret, value) => {
            let data = BTreeMap::from([(key, ByteString(value.bytes().to_vec()))]);
            Object::Secret(Secret { metadata, data: Some(data), type_: Some("Opaque".into()), ..Default::default() })
        }
        (Kind::Config, Value::Text(text)) => Object::ConfigMap(ConfigMap { metadata, data: Some(BTreeMap::from([(key, text)])), ..Default::default() }),
        (Kind::Config, Value::Binary(bytes)) => {
            Object::ConfigMap(ConfigMap { metadata, binary_data: Some(BTreeMap::from([(key, ByteString(bytes))])), ..Default::default() })
        }
    }
}

/// A service's config and secret mounts.
#[derive(Debug, Default)]
pub struct ServiceFiles {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Fingerprints of the owned contents it mounts, for the pod template's annotation.
    pub fingerprints: Vec<String>,
}

pub fn service_files(service: &Service, path: &Path, plan: &FilePlan, report: &mut Report) -> ServiceFiles {
    let mut result = ServiceFiles::default();
    for (kind, entries) in [(Kind::Config, &service.configs), (Kind::Secret, &service.secrets)] {
        for (index, entry) in entries.iter().enumerate() {
            let entry_path = path.key(kind.section()).key(index);
            let key = (kind.section().to_string(), entry.source.clone());
            if plan.refused.contains(&key) {
                continue;
            }
            // Undeclared ones are refused by validation.
            let Some(source) = plan.sources.get(&key) else { continue };
            mount(&mut result, source, entry, &entry_path, report);
        }
    }
    result
}

fn mount(result: &mut ServiceFiles, source: &Source, entry: &FileMount, path: &Path, report: &mut Report) {
    for (key, value) in [("uid", &entry.uid), ("gid", &entry.gid)] {
        if value.is_some() {
            report
                .warn(&path.key(key), "Kubernetes cannot set a mounted file's owner; it belongs to root, readable per mode (use group_add or user: to match)");
        }
    }
    // Unset, compose mounts configs and secrets world-readable, read-only (0444); a volume's
    // own default would be 0644.
    let mode = entry.mode.as_ref().map_or(Some(DEFAULT_FILE_MODE), |mode| mode.ok().map(|mode| mode.mode));
    let target = entry.target.as_deref();
    let target = match (source.kind, target) {
        (Kind::Config, None) => format!("/{}", entry.source),
        (Kind::Secret, None) => format!("/run/secrets/{}", entry.source),
        (_, Some(target)) if target.starts_with('/') => target.to_string(),
        (Kind::Secret, Some(relative)) => format!("/run/secrets/{relative}"),
        (Kind::Config, Some(relative)) => format!("/{relative}"),
    };
    let prefix = match source.kind {
        Kind::Config => "config",
        Kind::Secret => "secret",
    };
    let volume_name = format!("{prefix}-{}", result.volumes.len());
    let items = Some(vec![KeyToPath { key: source.key.clone(), path: source.key.clone(), mode, ..Default::default() }]);
    let volume = match source.kind {
        Kind::Config => Volume {
            name: volume_name.clone(),
            config_map: Some(ConfigMapVolumeSource { name: source.object_name.clone(), items, ..Default::default() }),
            ..Default::default()
        },
        Kind::Secret => Volume {
            name: volume_name.clone(),
            secret: Some(SecretVolumeSource { secret_name: Some(source.object_name.clone()), items, ..Default::default() }),
            ..Default::default()
        },
    };
    result.volumes.push(volume);
    result.mounts.push(VolumeMount { name: volume_name, mount_path: target, sub_path: Some(source.key.clone()), read_only: Some(true), ..Default::default() });
    result.fingerprints.extend(source.fingerprint.clone());
}

/// The mode compose gives a config or secret file that says none (0444).
const DEFAULT_FILE_MODE: i32 = 0o444;
