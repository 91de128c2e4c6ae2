//! Service mounts → pod volumes, container mounts and claims.
//!
//! A named volume used by one service becomes a volumeClaimTemplate of its StatefulSet
//! (stable storage per replica); one shared by several services becomes a standalone
//! ReadWriteMany claim; an `external` volume is an existing claim. Host paths only with
//! the policy's consent; tmpfs and shm_size are memory-backed emptyDirs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::names;
use super::object::Object;
use super::policy::Policy;
use super::project_files::{self, Content};
use crate::api::ComposeStackSpec;
use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{ComposeFile, Scalar, Service, VolumeMount as ComposeMount};
use crate::compose::units;

/// How a named volume is provided, decided once for the whole stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedVolume {
    /// Used by exactly one service: a claim template of that service's StatefulSet.
    PerReplica { claim_name: String },
    /// Used by several services: one claim they all mount.
    Shared { claim_name: String },
    /// `external: true`: a claim that already exists in the namespace.
    External { claim_name: String },
}

impl NamedVolume {
    pub fn claim_name(&self) -> &str {
        match self {
            NamedVolume::PerReplica { claim_name } | NamedVolume::Shared { claim_name } | NamedVolume::External { claim_name } => claim_name,
        }
    }
}

/// Which services mount each named volume; decides per-replica vs shared claims.
pub fn plan_named_volumes(stack: &str, file: &ComposeFile, report: &mut Report) -> BTreeMap<String, NamedVolume> {
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (service_name, service) in &file.services {
        for mount in &service.volumes {
            if let Some(source) = named_source(mount) {
                let entry = users.entry(source).or_default();
                if !entry.contains(&service_name.as_str()) {
                    entry.push(service_name);
                }
            }
        }
    }
    let mut plan = BTreeMap::new();
    for (volume, definition) in &file.volumes {
        let path = Path::root().key("volumes").key(volume);
        let Some(k8s_name) = report.check(&path, names::kubernetes_name(volume)) else { continue };
        let external = definition.external.as_ref().is_some_and(|e| e.as_bool() == Some(true) || e.is_object());
        let services = users.get(volume.as_str()).map(Vec::as_slice).unwrap_or_default();
        let named = if external {
            NamedVolume::External { claim_name: definition.name.clone().unwrap_or(k8s_name) }
        } else if services.len() > 1 {
            report.warn(
                &path,
                format!("shared by {}: one ReadWriteMany claim `{stack}-{k8s_name}`; the cluster's storage must support ReadWriteMany", services.join(", ")),
            );
            NamedVolume::Shared { claim_name: format!("{stack}-{k8s_name}") }
        } else {
            NamedVolume::PerReplica { claim_name: k8s_name }
        };
        if definition.driver.is_some() || definition.driver_opts.is_some() {
            report.warn(&path.key("driver"), "volume drivers map to StorageClasses; set spec.volumes.storageClassName; ignored");
        }
        plan.insert(volume.clone(), named);
    }
    plan
}

/// The source of a mount when it is a named volume (not a path, not anonymous, not tmpfs).
pub fn named_source(mount: &ComposeMount) -> Option<&str> {
    (mount.kind == "volume").then_some(mount.source.as_deref()).flatten().filter(|s| !s.is_empty())
}

/// A shared named volume's standalone claim.
pub fn shared_claim(stack: &str, claim_name: &str, spec: &ComposeStackSpec) -> PersistentVolumeClaim {
    let mut claim = claim(claim_name, "ReadWriteMany", spec);
    claim.metadata.labels = Some(names::object_labels(stack, None));
    claim
}

pub fn claim(name: &str, access_mode: &str, spec: &ComposeStackSpec) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access_mode.to_string()]),
            storage_class_name: spec.storage_class_name().map(str::to_string),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(spec.volume_size().to_string()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[derive(Debug, Default)]
pub struct ServiceVolumes {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Named volumes this service alone uses: its StatefulSet's claim templates.
    pub per_replica_claims: Vec<String>,
    /// ConfigMaps of the project files it bind-mounts (the same file in two services is one).
    pub project_files: Vec<Object>,
    /// Of those files' contents, so that a changed file rolls the pods.
    pub fingerprints: Vec<String>,
}

/// One parsed mount, whatever syntax it was written in.
struct Mount<'a> {
    kind: &'a str,
    source: Option<&'a str>,
    target: &'a str,
    read_only: bool,
    sub_path: Option<&'a str>,
    tmpfs_size: Option<&'a Scalar>,
}

pub struct VolumeInput<'a> {
    pub stack: &'a str,
    pub service: &'a Service,
    pub path: &'a Path,
    pub named: &'a BTreeMap<String, NamedVolume>,
    pub policy: &'a Policy,
    pub spec: &'a ComposeStackSpec,
}

pub fn service_volumes(input: &VolumeInput, report: &mut Report) -> ServiceVolumes {
    let VolumeInput { service, path, named, policy, .. } = *input;
    let mut result = ServiceVolumes::default();
    for (index, mount) in service.volumes.iter().enumerate() {
        let mount_path = path.key("volumes").key(index);
        let Some(mount) = parse_mount(mount, &mount_path, report) else { continue };
        match (mount.kind, mount.source) {
            ("bind", Some(source)) if !source.starts_with('/') => project_mount(input, &mut result, &mount, source, &mount_path, report),
            _ => add_mount(&mut result, &mount, &mount_path, named, policy, report),
        }
    }
    for (index, entry) in service.tmpfs.iter().enumerate() {
        let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
        let size = options.split(',').find_map(|o| o.strip_prefix("size="));
        let size = size.map(|s| Scalar(s.to_string()));
        let mount = Mount { kind: "tmpfs", source: None, target, read_only: false, sub_path: None, tmpfs_size: size.as_ref() };
        add_mount(&mut result, &mount, &path.key("tmpfs").key(index), named, policy, report);
    }
    if let Some(size) = &service.shm_size {
        let mount = Mount { kind: "tmpfs", source: None, target: "/dev/shm", read_only: false, sub_path: None, tmpfs_size: Some(size) };
        add_mount(&mut result, &mount, &path.key("shm_size"), named, policy, report);
    }
    result
}

fn parse_mount<'a>(mount: &'a ComposeMount, path: &Path, report: &mut Report) -> Option<Mount<'a>> {
    let read_only = mount.read_only.as_ref().and_then(|r| report.check(&path.key("read_only"), r.as_bool())).unwrap_or(false);
    Some(Mount {
        kind: mount.kind.as_str(),
        source: mount.source.as_deref(),
        target: mount.target.as_str(),
        read_only,
        sub_path: mount.volume.as_ref().and_then(|v| v.subpath.as_deref()),
        tmpfs_size: mount.tmpfs.as_ref().and_then(|t| t.size.as_ref()),
    })
}

fn add_mount(result: &mut ServiceVolumes, mount: &Mount, path: &Path, named: &BTreeMap<String, NamedVolume>, policy: &Policy, report: &mut Report) {
    if !mount.target.starts_with('/') {
        report.error(Diagnostic::new(path.clone(), format!("the mount target `{}` must be an absolute path in the container", mount.target)));
        return;
    }
    let index = result.volumes.len();
    let (volume_name, source) = match (mount.kind, mount.source) {
        ("volume", Some(source)) if !source.is_empty() => {
            let Some(plan) = named.get(source) else {
                report.error(
                    Diagnostic::new(path.clone(), format!("volume `{source}` is not declared under the top-level `volumes:`"))
                        .with_hint(format!("add `volumes: {{{source}: {{}}}}` at the top level")),
                );
                return;
            };
            if let NamedVolume::PerReplica { claim_name } = plan {
                if !result.per_replica_claims.contains(claim_name) {
                    result.per_replica_claims.push(claim_name.clone());
                }
                // The StatefulSet supplies this volume from its claim template of the same name.
                push_mount(result, claim_name, mount);
                return;
            }
            let claim = plan.claim_name().to_string();
            (
                names::kubernetes_name(source).unwrap_or_else(|_| format!("volume-{index}")),
                Volume { persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim, read_only: None }), ..Default::default() },
            )
        }
        ("volume", _) => (format!("anonymous-{index}"), Volume { empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }),
        ("tmpfs", _) => {
            let size_limit = mount
                .tmpfs_size
                .and_then(|s| report.check(&path.key("size"), units::parse_bytes(&s.0)))
                .filter(|b| *b > 0)
                .map(|b| Quantity(units::bytes_quantity(b)));
            let name = if mount.target == "/dev/shm" { "shm".to_string() } else { format!("tmpfs-{index}") };
            (name, Volume { empty_dir: Some(EmptyDirVolumeSource { medium: Some("Memory".into()), size_limit, ..Default::default() }), ..Default::default() })
        }
        ("bind", Some(source)) => {
            if !policy.allow_host_paths {
                report.error(
                    Diagnostic::new(
                        path.clone(),
                        format!("bind mount of host path `{source}` into `{}` is {}", mount.target, policy.refusal("allow-host-paths")),
                    )
                    .with_hint("host paths are not portable across nodes: bake the files into the image, or use a named volume"),
                );
                return;
            }
            (format!("host-{index}"), Volume { host_path: Some(HostPathVolumeSource { path: source.to_string(), type_: None }), ..Default::default() })
        }
        (kind, _) => {
            report.error(Diagnostic::new(path.key("type"), format!("volume type `{kind}` is not supported")).with_hint("use volume, bind or tmpfs"));
            return;
        }
    };
    if result.volumes.iter().any(|v| v.name == volume_name) {
        // The same named volume mounted at two targets: one pod volume, two mounts.
        push_mount(result, &volume_name, mount);
        return;
    }
    result.volumes.push(Volume { name: volume_name.clone(), ..source });
    push_mount(result, &volume_name, mount);
}

/// A bind mount of a project file or directory, served from `spec.files` as a ConfigMap.
fn project_mount(input: &VolumeInput, result: &mut ServiceVolumes, mount: &Mount, source: &str, path: &Path, report: &mut Report) {
    if !mount.target.starts_with('/') {
        report.error(Diagnostic::new(path.clone(), format!("the mount target `{}` must be an absolute path in the container", mount.target)));
        return;
    }
    let Ok(normalized) = project_files::normalize(source) else {
        report.error(
            Diagnostic::new(path.clone(), format!("`{source}` points outside the project directory"))
                .with_hint("mount a path inside the project, or use a named volume"),
        );
        return;
    };
    let files = input.spec.project_files();
    let (entries, single_file): (Vec<(String, Content)>, bool) = match files.file(source) {
        Some(content) => (vec![(normalized.rsplit('/').next().unwrap_or(&normalized).to_string(), content)], true),
        None => (files.directory(source), false),
    };
    if entries.is_empty() {
        if input.spec.drops_bind_mounts() {
            report
                .warn(path, format!("`{source}` is not in spec.files; dropped (spec.bindMounts: Drop), so `{}` holds what the image has there", mount.target));
        } else {
            report.error(
                Diagnostic::new(path.clone(), format!("the project path `{source}` (mounted at `{}`) is not in spec.files", mount.target))
                    .with_hint("`compose-operator stack` packs project files into spec.files; data wants a named volume; source code the image already holds can be dropped with spec.bindMounts: Drop"),
            );
        }
        return;
    }
    let mut data = BTreeMap::new();
    let mut binary_data = BTreeMap::new();
    let mut items = Vec::new();
    let mut size = 0;
    for (relative, content) in &entries {
        let key = project_files::key(relative);
        size += content.byte_len();
        match content {
            Content::Text(text) => {
                data.insert(key.clone(), text.to_string());
            }
            Content::Binary(_) => match content.bytes() {
                Some(bytes) => {
                    binary_data.insert(key.clone(), bytes);
                }
                None => {
                    report.error(Diagnostic::new(path.clone(), format!("spec.binaryFiles[{relative}] is not valid base64")));
                    return;
                }
            },
        }
        items.push(KeyToPath { key, path: relative.clone(), ..Default::default() });
    }
    if size > project_files::MAX_OBJECT_BYTES {
        report.error(
            Diagnostic::new(path.clone(), format!("`{source}` holds {size} bytes; a ConfigMap takes at most {}", project_files::MAX_OBJECT_BYTES))
                .with_hint("bake large files into the image, or put them on a named volume"),
        );
        return;
    }
    if !mount.read_only {
        report.warn(path, format!("`{source}` is mounted read-only: project files are served from a ConfigMap, and writes would not reach the project anyway"));
    }
    let object_name = project_files_object_name(input.stack, &normalized);
    let fingerprint = project_files::fingerprint(format!("{data:?}{binary_data:?}").as_bytes());
    let config_map = ConfigMap {
        metadata: ObjectMeta { name: Some(object_name.clone()), labels: Some(names::object_labels(input.stack, None)), ..Default::default() },
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary_data.is_empty()).then_some(binary_data),
        ..Default::default()
    };
    let volume_name = format!("project-{}", result.volumes.len());
    result.volumes.push(Volume {
        name: volume_name.clone(),
        config_map: Some(ConfigMapVolumeSource { name: object_name, items: Some(items.clone()), ..Default::default() }),
        ..Default::default()
    });
    let sub_path = single_file.then(|| items[0].key.clone());
    result.mounts.push(VolumeMount { name: volume_name, mount_path: mount.target.to_string(), read_only: Some(true), sub_path, ..Default::default() });
    result.project_files.push(Object::ConfigMap(config_map));
    result.fingerprints.push(fingerprint);
}

/// `<stack>-files-<path>-<hash>`: readable, and distinct for paths that read alike.
fn project_files_object_name(stack: &str, normalized: &str) -> String {
    let mut readable: String = normalized.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while readable.contains("--") {
        readable = readable.replace("--", "-");
    }
    let readable: String = readable.trim_matches('-').chars().take(100).collect();
    let hash = &project_files::fingerprint(normalized.as_bytes())[..8];
    let readable = readable.trim_end_matches('-');
    if readable.is_empty() { format!("{stack}-files-{hash}") } else { format!("{stack}-files-{readable}-{hash}") }
}

fn push_mount(result: &mut ServiceVolumes, volume_name: &str, mount: &Mount) {
    result.mounts.push(VolumeMount {
        name: volume_name.to_string(),
        mount_path: mount.target.to_string(),
        read_only: mount.read_only.then_some(true),
        sub_path: mount.sub_path.map(str::to_string),
        ..Default::default()
    });
}
