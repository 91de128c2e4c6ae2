//! Service mounts → pod volumes, container mounts and claims.
//!
//! | compose mount                                      | Kubernetes                                               |
//! |----------------------------------------------------|----------------------------------------------------------|
//! | named volume used by one long-running service      | a volumeClaimTemplate of its StatefulSet (per replica)   |
//! | named volume shared by services, or used by a Job or DaemonSet | one standalone claim (ReadWriteMany when shared)   |
//! | `external: true` volume                            | the existing claim `name:` (mapped to a valid name)      |
//! | bind of a project file or directory in `spec.files`| a ConfigMap, mounted read-only                           |
//! | bind of another host directory (`/srv/data`, `./data` not packed) | a claim per distinct source, like a named volume (`spec.bindMounts: Claim`, the default); it starts empty |
//! | bind of the Docker socket, a device, `/proc`, `/sys` | refused (a hostPath only with `--allow-host-paths`)    |
//! | bind of `/etc/localtime` or `/etc/timezone`        | dropped: set `TZ` instead                                |
//! | anonymous volume, tmpfs, `shm_size`                | emptyDir (memory-backed for tmpfs)                       |
//!
//! Docker fills an empty volume from the image on first use; a claim or emptyDir starts
//! empty. That matters for anonymous volumes inside a bind mount (`./app:/app` plus
//! `/app/node_modules`), which is reported.

use std::cell::RefCell;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath, PersistentVolumeClaimVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{MountType, Parsed};
use crate::compose::units::{self, ByteSize};
use crate::translate::bind_source::{Bind, bind};
use crate::translate::context::ServiceContext;
use crate::translate::names;
use crate::translate::project_files::{self, Content, ProjectFiles};
use crate::translate::resource::claim::{NamedVolume, VolumePlan};

#[derive(Debug, Default)]
pub struct ServiceVolumes {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Claimed volumes this service alone uses, by key: its StatefulSet's claim templates.
    pub per_replica_claims: Vec<(String, String)>,
    /// Fingerprints of the project files it mounts, so that a changed file rolls the pods.
    pub fingerprints: Vec<String>,
}

/// The type of the tmpfs mounts the short `tmpfs:` list and `shm_size` make.
static TMPFS: MountType = MountType::Tmpfs;

/// One mount as the pod needs it.
struct Mount<'a> {
    kind: &'a MountType,
    source: Option<&'a str>,
    target: &'a str,
    read_only: bool,
    sub_path: Option<&'a str>,
    tmpfs_size: Option<&'a Parsed<ByteSize>>,
}

pub struct VolumeInput<'a> {
    pub context: &'a ServiceContext<'a>,
    pub plan: &'a VolumePlan,
    pub project_mounts: &'a ProjectMounts<'a>,
}

pub fn service_volumes(input: &VolumeInput, report: &mut Report) -> ServiceVolumes {
    let &ServiceContext { compose_name, service, ref path, target, .. } = input.context;
    let mut result = ServiceVolumes::default();
    // Targets of bind mounts that are dropped, and of those served, for the volumes nested in them.
    let mut dropped_targets: Vec<&str> = Vec::new();
    let mut served_targets: Vec<&str> = Vec::new();
    let mut warned_timezone = false;
    for (index, compose_mount) in service.volumes.iter().enumerate() {
        let mount_path = path.key("volumes").key(index);
        let read_only = compose_mount.read_only.as_ref().and_then(Parsed::ok).unwrap_or(false);
        let mount = Mount {
            kind: &compose_mount.kind,
            source: compose_mount.source.as_deref().filter(|s| !s.is_empty()),
            target: compose_mount.target.as_str(),
            read_only,
            sub_path: compose_mount.volume.as_ref().and_then(|v| v.subpath.as_deref()),
            tmpfs_size: compose_mount.tmpfs.as_ref().and_then(|t| t.size.as_ref()),
        };
        match (mount.kind, mount.source) {
            (MountType::Bind, Some(source)) => match input
                .plan
                .binds
                .get(&(compose_name.to_string(), index))
                .cloned()
                .unwrap_or_else(|| bind(source, mount.target, target, target.policy, &target.files))
            {
                Bind::Project => {
                    served_targets.push(mount.target);
                    input.project_mounts.mount(&mut result, &mount, source, &mount_path, report);
                }
                Bind::Claim(key) => {
                    served_targets.push(mount.target);
                    claimed_mount(&mut result, &mount, &key, input.plan);
                }
                Bind::HostPath => {
                    served_targets.push(mount.target);
                    let volume = Volume { host_path: Some(HostPathVolumeSource { path: source.to_string(), type_: None }), ..Default::default() };
                    add_volume(&mut result, format!("host-{index}"), volume, &mount);
                }
                Bind::Timezone => {
                    if !warned_timezone {
                        report.warn(
                            &mount_path,
                            format!("`{source}` (the host's time zone) is not mounted: set the TZ environment variable, e.g. TZ=Europe/Berlin"),
                        );
                        warned_timezone = true;
                    }
                }
                Bind::Unpacked => {
                    dropped_targets.push(mount.target);
                    report.warn(&mount_path, format!(
                        "`{source}` is in the project but was not packed (too large, or tool directories such as .git or node_modules): dropped, so `{}` holds what the image has there; bake it into the image if the image lacks it",
                        mount.target
                    ));
                }
                Bind::Dropped => {
                    dropped_targets.push(mount.target);
                    report.warn(
                        &mount_path,
                        format!("`{source}` is not in spec.files; dropped (spec.bindMounts: Drop), so `{}` holds what the image has there", mount.target),
                    );
                }
                Bind::Refused(message, hint) => report.error(Diagnostic::new(mount_path, message).with_hint(hint)),
            },
            // Refused by validation.
            (MountType::Bind, None) => {}
            (MountType::Volume, Some(_)) => claimed_mount(&mut result, &mount, mount.source.unwrap_or_default(), input.plan),
            (MountType::Volume, None) => {
                let inside = |targets: &[&str]| targets.iter().any(|t| is_inside(mount.target, t));
                if inside(&dropped_targets) {
                    report.warn(
                        &mount_path,
                        format!("`{}` is inside a dropped bind mount: not mounted either, so it holds what the image has there, as on Docker", mount.target),
                    );
                    continue;
                }
                if inside(&served_targets) {
                    report.warn(&mount_path, format!(
                        "`{}` is an anonymous volume inside a bind mount: Docker fills it from the image, Kubernetes starts it empty, so what the image has at `{}` is hidden; drop the bind mount (spec.bindMounts: Drop) to keep the image's content",
                        mount.target, mount.target
                    ));
                }
                let volume = Volume { empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() };
                add_volume(&mut result, format!("anonymous-{index}"), volume, &mount);
            }
            (MountType::Tmpfs, _) => tmpfs(&mut result, &mount, format!("tmpfs-{index}")),
            (kind, _) => report.error(
                Diagnostic::new(mount_path.key("type"), format!("volume type `{}` is not supported", kind.as_str())).with_hint("use volume, bind or tmpfs"),
            ),
        }
    }
    for (index, entry) in service.tmpfs.iter().enumerate() {
        let mount = Mount { kind: &TMPFS, source: None, target: &entry.target, read_only: false, sub_path: None, tmpfs_size: entry.size.as_ref() };
        tmpfs(&mut result, &mount, format!("tmpfs-t{index}"));
    }
    if let Some(size) = &service.shm_size {
        let mount = Mount { kind: &TMPFS, source: None, target: "/dev/shm", read_only: false, sub_path: None, tmpfs_size: Some(size) };
        tmpfs(&mut result, &mount, "shm".into());
    }
    result
}

/// Whether `path` is `parent` or below it.
fn is_inside(path: &str, parent: &str) -> bool {
    let parent = parent.trim_end_matches('/');
    path == parent || path.strip_prefix(parent).is_some_and(|rest| rest.starts_with('/'))
}

/// A mount of a named volume or host directory: its claim template or standalone claim.
fn claimed_mount(result: &mut ServiceVolumes, mount: &Mount, key: &str, plan: &VolumePlan) {
    // Undeclared volumes are refused by validation, volumes with no Kubernetes name by the plan.
    let Some(named) = plan.volumes.get(key) else { return };
    if let NamedVolume::PerReplica { claim_name } = named {
        if !result.per_replica_claims.iter().any(|(_, name)| name == claim_name) {
            result.per_replica_claims.push((key.to_string(), claim_name.clone()));
        }
        // The StatefulSet supplies this volume from its claim template of the same name.
        push_mount(result, claim_name, mount);
        return;
    }
    let claim_name = named.claim_name().to_string();
    let volume =
        Volume { persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim_name.clone(), read_only: None }), ..Default::default() };
    add_volume(result, claim_name, volume, mount);
}

fn tmpfs(result: &mut ServiceVolumes, mount: &Mount, name: String) {
    let size_limit = mount.tmpfs_size.and_then(Parsed::ok).map(u64::from).filter(|b| *b > 0).map(|b| Quantity(units::bytes_quantity(b)));
    let volume = Volume { empty_dir: Some(EmptyDirVolumeSource { medium: Some("Memory".into()), size_limit, ..Default::default() }), ..Default::default() };
    add_volume(result, name, volume, mount);
}

/// Adds the pod volume (once: the same claim mounted at two targets is one volume) and
/// the container's mount of it.
fn add_volume(result: &mut ServiceVolumes, name: String, source: Volume, mount: &Mount) {
    if !result.volumes.iter().any(|v| v.name == name) {
        result.volumes.push(Volume { name: name.clone(), ..source });
    }
    push_mount(result, &name, mount);
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

/// The ConfigMaps that serve bind-mounted project files and directories, each built once
/// however many services mount it (a directory of 1 MiB mounted by 500 services is one
/// object, and is read once).
pub struct ProjectMounts<'a> {
    stack: &'a str,
    files: &'a ProjectFiles<'a>,
    built: RefCell<BTreeMap<String, Option<Built>>>,
}

/// One source's ConfigMap and how a pod mounts it.
#[derive(Clone)]
struct Built {
    object: ConfigMap,
    items: Vec<KeyToPath>,
    single_file: bool,
    fingerprint: String,
}

impl<'a> ProjectMounts<'a> {
    pub fn new(stack: &'a str, files: &'a ProjectFiles<'a>) -> Self {
        ProjectMounts { stack, files, built: RefCell::new(BTreeMap::new()) }
    }

    /// Every ConfigMap built, in source order.
    pub fn into_objects(self) -> Vec<ConfigMap> {
        self.built.into_inner().into_values().flatten().map(|built| built.object).collect()
    }

    fn mount(&self, result: &mut ServiceVolumes, mount: &Mount, source: &str, path: &Path, report: &mut Report) {
        let Ok(normalized) = project_files::normalize(source) else {
            report.error(
                Diagnostic::new(path.clone(), format!("`{source}` points outside the project directory"))
                    .with_hint("mount a path inside the project, or use a named volume"),
            );
            return;
        };
        let built = self.built.borrow_mut().entry(normalized.clone()).or_insert_with(|| self.build(source, &normalized, path, report)).clone();
        let Some(built) = built else { return };
        if !mount.read_only {
            report.warn(
                path,
                format!("`{source}` is mounted read-only: project files are served from a ConfigMap, and writes would not reach the project anyway"),
            );
        }
        let volume_name = format!("project-{}", result.volumes.len());
        result.volumes.push(Volume {
            name: volume_name.clone(),
            config_map: Some(ConfigMapVolumeSource {
                name: built.object.metadata.name.clone().unwrap_or_default(),
                items: Some(built.items.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let sub_path = built.single_file.then(|| built.items[0].key.clone());
        result.mounts.push(VolumeMount { name: volume_name, mount_path: mount.target.to_string(), read_only: Some(true), sub_path, ..Default::default() });
        result.fingerprints.push(built.fingerprint);
    }

    fn build(&self, source: &str, normalized: &str, path: &Path, report: &mut Report) -> Option<Built> {
        let (entries, single_file): (Vec<(String, Content)>, bool) = match self.files.file(source) {
            Some(content) => (vec![(normalized.rsplit('/').next().unwrap_or(normalized).to_string(), content)], true),
            None => (self.files.directory(source), false),
        };
        let size: usize = entries.iter().map(|(_, content)| content.byte_len()).sum();
        if size > project_files::MAX_OBJECT_BYTES {
            report.error(
                Diagnostic::new(path.clone(), format!("`{source}` holds {size} bytes; a ConfigMap takes at most {}", project_files::MAX_OBJECT_BYTES))
                    .with_hint("bake large files into the image, or put them on a named volume"),
            );
            return None;
        }
        let mut data = BTreeMap::new();
        let mut binary_data = BTreeMap::new();
        let mut items = Vec::new();
        for (relative, content) in &entries {
            let key = project_files::key(relative);
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
                        return None;
                    }
                },
            }
            items.push(KeyToPath { key, path: relative.clone(), ..Default::default() });
        }
        let fingerprint = project_files::fingerprint(format!("{data:?}{binary_data:?}").as_bytes());
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(project_files_object_name(self.stack, normalized)),
                labels: Some(names::object_labels(self.stack, None)),
                ..Default::default()
            },
            data: (!data.is_empty()).then_some(data),
            binary_data: (!binary_data.is_empty()).then_some(binary_data),
            ..Default::default()
        };
        Some(Built { object, items, single_file, fingerprint })
    }
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
