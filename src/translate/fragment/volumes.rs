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
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::BindMounts;
use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{ComposeFile, Scalar, Service, VolumeMount as ComposeMount};
use crate::compose::units;
use crate::policy::Policy;
use crate::translate::extension::{self as settings, ClaimSettings};
use crate::translate::names;
use crate::translate::project_files::{self, Content, ProjectFiles};
use crate::translate::resource::workload::OneShot;
use crate::translate::target::Target;

/// How a claimed volume (named, or a host directory) is provided, decided once per stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedVolume {
    /// Used by exactly one long-running replicated service: a claim template of its
    /// StatefulSet, so each replica has its own.
    PerReplica { claim_name: String },
    /// A standalone claim: shared by several services (ReadWriteMany), or used by one
    /// that cannot own claim templates (a Job, a DaemonSet).
    Shared { claim_name: String, access_mode: &'static str },
    /// `external: true`: a claim that already exists in the namespace.
    External { claim_name: String },
}

impl NamedVolume {
    pub fn claim_name(&self) -> &str {
        match self {
            NamedVolume::PerReplica { claim_name } | NamedVolume::Shared { claim_name, .. } | NamedVolume::External { claim_name } => claim_name,
        }
    }
}

/// Every claimed volume of the stack, by key: a named volume's name, or a host directory's
/// key (see [`directory_key`]: it holds a `/`, which no volume name can).
#[derive(Debug, Default)]
pub struct VolumePlan {
    pub volumes: BTreeMap<String, NamedVolume>,
    /// Claim size and class given on a host directory's mounts (`x-kubernetes`).
    pub directory_claims: BTreeMap<String, ClaimSettings>,
}

/// What a bind mount's source becomes, decided from the source alone (and the stack's
/// settings), the same way when the stack is planned and when each service is built.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Bind {
    /// A project file or directory in `spec.files`: a ConfigMap.
    Project,
    /// A host directory: the claim of this key.
    Claim(String),
    /// `--allow-host-paths`: the node's own directory.
    HostPath,
    /// `/etc/localtime` and friends: dropped, with the `TZ` hint.
    Timezone,
    /// `spec.bindMounts: Drop`.
    Dropped,
    /// A project path that exists but was not packed: source code the image should hold.
    Unpacked,
    /// Refused, with the reason and a hint.
    Refused(String, String),
}

/// Host paths that are never data: the Docker engine's socket, devices, kernel interfaces.
fn special_host_path(source: &str) -> Option<&'static str> {
    let path = source.trim_end_matches('/');
    if path.is_empty() || path == "/" {
        return Some("the node's whole filesystem");
    }
    if path.ends_with("docker.sock") || path.ends_with(".sock") || path.starts_with("/var/run/docker") || path.starts_with("/run/docker") {
        return Some("a socket of the host (a cluster has no Docker engine to talk to)");
    }
    for (prefix, what) in [("/dev", "a device of the host"), ("/proc", "the host's processes"), ("/sys", "the host's kernel settings")] {
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            return Some(what);
        }
    }
    None
}

fn is_timezone_file(source: &str) -> bool {
    matches!(source.trim_end_matches('/'), "/etc/localtime" | "/etc/timezone") || source.starts_with("/usr/share/zoneinfo")
}

/// A path whose last part reads like a file name (`nginx.conf`, `app.yml`): a claim, which
/// is a directory, cannot stand in for it. `conf.d`-style directories are not files.
fn looks_like_file(path: &str) -> bool {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    match last.rsplit_once('.') {
        Some((stem, extension)) => {
            !stem.is_empty() && extension != "d" && (1..=10).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// The key of a host directory: its path as written, normalized, and always holding a `/`
/// (`./data`, `/srv/app/data`), so it never equals a named volume's name.
pub fn directory_key(source: &str) -> String {
    let trimmed = source.trim_end_matches('/');
    if source.starts_with('/') {
        let normalized = project_files::normalize(trimmed.trim_start_matches('/')).unwrap_or_else(|_| trimmed.to_string());
        return format!("/{normalized}");
    }
    match project_files::normalize(trimmed) {
        Ok(normalized) if !normalized.is_empty() => format!("./{normalized}"),
        _ if trimmed.contains('/') => trimmed.to_string(),
        _ => format!("./{trimmed}"),
    }
}

fn bind(source: &str, target: &str, resolved: &Target, policy: &Policy, files: &ProjectFiles) -> Bind {
    let absolute = source.starts_with('/');
    if let Some(what) = special_host_path(source).filter(|_| absolute) {
        if policy.allow_host_paths {
            return Bind::HostPath;
        }
        return Bind::Refused(
            format!("bind mount of `{source}`, {what}, is {}", policy.refusal("allow-host-paths")),
            "a cluster's containers do not reach into the node; remove the mount or ask an administrator".into(),
        );
    }
    if absolute && is_timezone_file(source) {
        return Bind::Timezone;
    }
    if !absolute && (files.file(source).is_some() || !files.directory(source).is_empty()) {
        return Bind::Project;
    }
    if absolute && policy.allow_host_paths {
        return Bind::HostPath;
    }
    let unpacked = !absolute
        && project_files::normalize(source)
            .is_ok_and(|path| resolved.unpacked_paths.iter().any(|u| project_files::normalize(u).as_deref() == Ok(path.as_str())));
    if unpacked && resolved.bind_mounts != BindMounts::Refuse {
        return Bind::Unpacked;
    }
    let file_like = looks_like_file(source) || looks_like_file(target);
    match resolved.bind_mounts {
        BindMounts::Drop => Bind::Dropped,
        BindMounts::Refuse if absolute => Bind::Refused(
            format!("bind mount of host path `{source}` into `{target}` is refused (spec.bindMounts: Refuse)"),
            "use a named volume, or spec.bindMounts: Claim to give the directory a claim of its own".into(),
        ),
        BindMounts::Refuse => Bind::Refused(
            format!("the project path `{source}` (mounted at `{target}`) is not in spec.files"),
            "`compose-operator stack` packs the project's files; data wants a named volume".into(),
        ),
        BindMounts::Claim if file_like && !absolute => Bind::Refused(
            format!("the project file `{source}` (mounted at `{target}`) is not in spec.files, and a claim cannot stand in for a single file"),
            "if the file exists, `compose-operator stack` packs it; if it does not, create it or remove the mount".into(),
        ),
        BindMounts::Claim if file_like => Bind::Refused(
            format!("`{source}` looks like a single host file (mounted at `{target}`), which a cluster cannot read and a claim cannot stand in for"),
            "copy the file into the project and mount it from there (`compose-operator stack` packs it), or make it a config".into(),
        ),
        BindMounts::Claim => Bind::Claim(directory_key(source)),
    }
}

/// The source of a mount when it is a named volume (not a path, not anonymous, not tmpfs).
pub fn named_source(mount: &ComposeMount) -> Option<&str> {
    (mount.kind == "volume").then_some(mount.source.as_deref()).flatten().filter(|s| !s.is_empty())
}

/// What the stack plan needs to know of the stack.
pub struct PlanInput<'a> {
    pub stack: &'a str,
    pub file: &'a ComposeFile,
    pub target: &'a Target<'a>,
    pub policy: &'a Policy,
    pub files: &'a ProjectFiles<'a>,
    pub one_shot: &'a BTreeMap<String, OneShot>,
}

/// Which services mount each named volume and host directory; decides per-replica claim
/// templates versus standalone claims, and names every claim.
pub fn plan(input: &PlanInput, report: &mut Report) -> VolumePlan {
    let PlanInput { stack, file, target, policy, files, one_shot } = *input;
    let mut users: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut directory_claims: BTreeMap<String, (ClaimSettings, Path)> = BTreeMap::new();
    let mut first_use: BTreeMap<String, Path> = BTreeMap::new();
    for (service_name, service) in &file.services {
        for (index, mount) in service.volumes.iter().enumerate() {
            let key = match (mount.kind.as_str(), mount.source.as_deref()) {
                ("volume", Some(source)) if !source.is_empty() => source.to_string(),
                ("bind", Some(source)) => match bind(source, &mount.target, target, policy, files) {
                    Bind::Claim(key) => {
                        let path = Path::root().key("services").key(service_name).key("volumes").key(index);
                        first_use.entry(key.clone()).or_insert_with(|| path.clone());
                        if let Some(extension) = &mount.x_kubernetes {
                            let claim = settings::volume_settings(extension, &path.key(crate::compose::extension::EXTENSION_KEY), report);
                            match directory_claims.get(&key) {
                                Some((existing, _)) if *existing != claim => {
                                    report.warn(&path, "another mount of this directory sizes its claim differently; the first is used")
                                }
                                Some(_) => {}
                                None => {
                                    directory_claims.insert(key.clone(), (claim, path));
                                }
                            }
                        }
                        key
                    }
                    _ => continue,
                },
                _ => continue,
            };
            let entry = users.entry(key).or_default();
            if !entry.contains(&service_name.as_str()) {
                entry.push(service_name);
            }
        }
    }
    let owns_claim_templates = |service: &str| {
        let definition = &file.services[service];
        let mode = definition.deploy.as_ref().and_then(|d| d.mode.as_deref()).unwrap_or("replicated");
        mode == "replicated" && !one_shot.contains_key(service)
    };
    let claim_for = |k8s_name: &str, services: &[&str]| match services {
        [only] if owns_claim_templates(only) => NamedVolume::PerReplica { claim_name: k8s_name.to_string() },
        [_] => NamedVolume::Shared { claim_name: format!("{stack}-{k8s_name}"), access_mode: "ReadWriteOnce" },
        _ => NamedVolume::Shared { claim_name: format!("{stack}-{k8s_name}"), access_mode: "ReadWriteMany" },
    };
    let mut plan = VolumePlan::default();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (volume, definition) in &file.volumes {
        let path = Path::root().key("volumes").key(volume);
        let Some(k8s_name) = report.check(&path, names::kubernetes_name(volume)) else { continue };
        taken.insert(k8s_name.clone());
        let external = definition.external.as_ref().is_some_and(|e| e.as_bool() == Some(true) || e.is_object());
        let services = users.get(volume.as_str()).map(Vec::as_slice).unwrap_or_default();
        let named = if external {
            NamedVolume::External { claim_name: external_claim_name(definition.name.as_deref(), &k8s_name, &path, report) }
        } else {
            let named = claim_for(&k8s_name, services);
            if services.len() > 1 {
                report.warn(
                    &path,
                    format!(
                        "shared by {}: one ReadWriteMany claim `{}`; the cluster's storage must support ReadWriteMany",
                        services.join(", "),
                        named.claim_name()
                    ),
                );
            }
            named
        };
        if definition.driver.as_ref().is_some_and(|d| d.as_str() != Some("local")) || definition.driver_opts.is_some() {
            report
                .warn(&path.key("driver"), "volume drivers map to StorageClasses; set spec.volumes.storageClassName or x-kubernetes.storageClassName; ignored");
        }
        plan.volumes.insert(volume.clone(), named);
    }
    for (key, services) in users.iter().filter(|(key, _)| key.contains('/')) {
        let k8s_name = unique_name(&readable_name(key), key, &taken);
        taken.insert(k8s_name.clone());
        let named = claim_for(&k8s_name, services);
        let path = first_use.get(key).cloned().unwrap_or_else(|| Path::root().key("services"));
        let access = match &named {
            NamedVolume::Shared { access_mode, .. } => format!("one {access_mode} claim `{}`", named.claim_name()),
            _ => format!("a claim `{k8s_name}` per replica"),
        };
        report.warn(
            &path,
            format!(
                "the host directory `{key}` (used by {}) becomes {access}, which starts empty: the data the directory held on the Docker host is not there",
                services.join(", ")
            ),
        );
        plan.volumes.insert(key.clone(), named);
    }
    plan.directory_claims = directory_claims.into_iter().map(|(key, (claim, _))| (key, claim)).collect();
    plan
}

/// An external volume's claim: compose names Docker volumes freely (`portainer_data`);
/// a claim name must be a DNS subdomain, so `_` becomes `-` and the result is checked.
fn external_claim_name(name: Option<&str>, k8s_name: &str, path: &Path, report: &mut Report) -> String {
    let Some(name) = name else { return k8s_name.to_string() };
    let mapped: String = name.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    let valid = !mapped.is_empty()
        && mapped.len() <= 253
        && mapped.split('.').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        report.error(
            Diagnostic::new(path.key("name"), format!("`{name}` cannot name a PersistentVolumeClaim"))
                .with_hint("name the existing claim with lowercase letters, digits, `-` and `.`"),
        );
        return k8s_name.to_string();
    }
    if mapped != name {
        report.warn(&path.key("name"), format!("the external volume `{name}` is looked up as the claim `{mapped}` (Kubernetes names have no `_` or capitals)"));
    }
    mapped
}

/// `/srv/app/data` → `srv-app-data`; `./data` → `data`; at most 40 characters.
fn readable_name(key: &str) -> String {
    let mut name = String::new();
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    let name: String = name.trim_matches('-').chars().take(40).collect();
    let name = name.trim_end_matches('-');
    if name.starts_with(|c: char| c.is_ascii_lowercase()) { name.to_string() } else { format!("dir-{name}").trim_end_matches('-').to_string() }
}

/// The readable name, or with a hash of the key when another volume has it already.
fn unique_name(readable: &str, key: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(readable) {
        return readable.to_string();
    }
    format!("{readable}-{}", &project_files::fingerprint(key.as_bytes())[..8])
}

/// A standalone claim of the stack.
pub fn standalone_claim(stack: &str, claim_name: &str, access_mode: &str, target: &Target) -> PersistentVolumeClaim {
    let mut claim = claim(claim_name, access_mode, target);
    claim.metadata.labels = Some(names::object_labels(stack, None));
    claim
}

pub fn claim(name: &str, access_mode: &str, target: &Target) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access_mode.to_string()]),
            storage_class_name: target.storage_class_name.map(str::to_string),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(target.volume_size.to_string()))])),
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
    /// Claimed volumes this service alone uses, by key: its StatefulSet's claim templates.
    pub per_replica_claims: Vec<(String, String)>,
    /// Fingerprints of the project files it mounts, so that a changed file rolls the pods.
    pub fingerprints: Vec<String>,
}

/// One mount as the pod needs it.
struct Mount<'a> {
    kind: &'a str,
    source: Option<&'a str>,
    target: &'a str,
    read_only: bool,
    sub_path: Option<&'a str>,
    tmpfs_size: Option<&'a Scalar>,
}

pub struct VolumeInput<'a> {
    pub service: &'a Service,
    pub path: &'a Path,
    pub plan: &'a VolumePlan,
    pub policy: &'a Policy,
    pub target: &'a Target<'a>,
    pub files: &'a ProjectFiles<'a>,
    pub project_mounts: &'a ProjectMounts<'a>,
}

pub fn service_volumes(input: &VolumeInput, report: &mut Report) -> ServiceVolumes {
    let VolumeInput { service, path, .. } = *input;
    let mut result = ServiceVolumes::default();
    // Targets of bind mounts that are dropped, and of those served, for the volumes nested in them.
    let mut dropped_targets: Vec<&str> = Vec::new();
    let mut served_targets: Vec<&str> = Vec::new();
    let mut warned_timezone = false;
    for (index, compose_mount) in service.volumes.iter().enumerate() {
        let mount_path = path.key("volumes").key(index);
        let read_only = compose_mount.read_only.as_ref().and_then(|r| report.check(&mount_path.key("read_only"), r.as_bool())).unwrap_or(false);
        let mount = Mount {
            kind: compose_mount.kind.as_str(),
            source: compose_mount.source.as_deref().filter(|s| !s.is_empty()),
            target: compose_mount.target.as_str(),
            read_only,
            sub_path: compose_mount.volume.as_ref().and_then(|v| v.subpath.as_deref()),
            tmpfs_size: compose_mount.tmpfs.as_ref().and_then(|t| t.size.as_ref()),
        };
        if !mount.target.starts_with('/') {
            report.error(Diagnostic::new(mount_path.key("target"), format!("the mount target `{}` must be an absolute path in the container", mount.target)));
            continue;
        }
        match (mount.kind, mount.source) {
            ("bind", Some(source)) => match bind(source, mount.target, input.target, input.policy, input.files) {
                Bind::Project => {
                    served_targets.push(mount.target);
                    input.project_mounts.mount(&mut result, &mount, source, &mount_path, report);
                }
                Bind::Claim(key) => {
                    served_targets.push(mount.target);
                    claimed_mount(&mut result, &mount, &key, &mount_path, input.plan, report);
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
            ("bind", None) => report.error(Diagnostic::new(mount_path.key("source"), "a bind mount needs a source")),
            ("volume", Some(_)) => claimed_mount(&mut result, &mount, mount.source.unwrap_or_default(), &mount_path, input.plan, report),
            ("volume", None) => {
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
            ("tmpfs", _) => tmpfs(&mut result, &mount, format!("tmpfs-{index}"), &mount_path, report),
            (kind, _) => {
                report.error(Diagnostic::new(mount_path.key("type"), format!("volume type `{kind}` is not supported")).with_hint("use volume, bind or tmpfs"))
            }
        }
    }
    for (index, entry) in service.tmpfs.iter().enumerate() {
        let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
        let size = options.split(',').find_map(|o| o.strip_prefix("size=")).map(|s| Scalar(s.to_string()));
        let mount = Mount { kind: "tmpfs", source: None, target, read_only: false, sub_path: None, tmpfs_size: size.as_ref() };
        let entry_path = path.key("tmpfs").key(index);
        if !target.starts_with('/') {
            report.error(Diagnostic::new(entry_path, format!("the tmpfs target `{target}` must be an absolute path in the container")));
            continue;
        }
        tmpfs(&mut result, &mount, format!("tmpfs-t{index}"), &entry_path, report);
    }
    if let Some(size) = &service.shm_size {
        let mount = Mount { kind: "tmpfs", source: None, target: "/dev/shm", read_only: false, sub_path: None, tmpfs_size: Some(size) };
        tmpfs(&mut result, &mount, "shm".into(), &path.key("shm_size"), report);
    }
    result
}

/// Whether `path` is `parent` or below it.
fn is_inside(path: &str, parent: &str) -> bool {
    let parent = parent.trim_end_matches('/');
    path == parent || path.strip_prefix(parent).is_some_and(|rest| rest.starts_with('/'))
}

/// A mount of a named volume or host directory: its claim template or standalone claim.
fn claimed_mount(result: &mut ServiceVolumes, mount: &Mount, key: &str, path: &Path, plan: &VolumePlan, report: &mut Report) {
    let Some(named) = plan.volumes.get(key) else {
        report.error(
            Diagnostic::new(path.clone(), format!("volume `{key}` is not declared under the top-level `volumes:`"))
                .with_hint(format!("add `volumes: {{{key}: {{}}}}` at the top level")),
        );
        return;
    };
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

fn tmpfs(result: &mut ServiceVolumes, mount: &Mount, name: String, path: &Path, report: &mut Report) {
    let size_limit =
        mount.tmpfs_size.and_then(|s| report.check(&path.key("size"), units::parse_bytes(&s.0))).filter(|b| *b > 0).map(|b| Quantity(units::bytes_quantity(b)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_keys_and_names() {
        assert_eq!(directory_key("./data/"), "./data");
        assert_eq!(directory_key("data"), "./data");
        assert_eq!(directory_key("/srv//app/./data"), "/srv/app/data");
        assert_eq!(directory_key("../shared"), "../shared");
        assert_eq!(readable_name("/srv/app/data"), "srv-app-data");
        assert_eq!(readable_name("./data"), "data");
        assert_eq!(readable_name("/1"), "dir-1");
        assert!(readable_name(&format!("/{}", "a".repeat(100))).len() <= 40);
        let taken = BTreeSet::from(["data".to_string()]);
        assert_eq!(unique_name("data", "./data", &taken).len(), "data-".len() + 8);
    }

    #[test]
    fn what_a_host_path_becomes() {
        let (text, binary) = (BTreeMap::from([("conf/app.conf".to_string(), "x".to_string())]), BTreeMap::new());
        let directories = ["conf".to_string()];
        let files = ProjectFiles::new(&text, &binary, &directories);
        let policy = Policy::default();
        let resolved = Target::with_defaults(&policy, ProjectFiles::new(&text, &binary, &directories));
        let plan = |source: &str, target: &str| bind(source, target, &resolved, &policy, &files);
        assert_eq!(plan("./conf", "/etc/app"), Bind::Project);
        assert_eq!(plan("/srv/app/data", "/var/lib/app"), Bind::Claim("/srv/app/data".into()));
        assert_eq!(plan("./data", "/data"), Bind::Claim("./data".into()));
        assert_eq!(plan("/etc/nginx/conf.d", "/etc/nginx/conf.d"), Bind::Claim("/etc/nginx/conf.d".into()));
        assert_eq!(plan("/etc/localtime", "/etc/localtime"), Bind::Timezone);
        assert!(matches!(plan("/var/run/docker.sock", "/var/run/docker.sock"), Bind::Refused(..)));
        assert!(matches!(plan("/dev/dri", "/dev/dri"), Bind::Refused(..)));
        assert!(matches!(plan("./missing.conf", "/etc/app.conf"), Bind::Refused(message, _) if message.contains("single file")));
        let allowed = Policy { allow_host_paths: true, ..Default::default() };
        assert_eq!(bind("/srv/data", "/data", &resolved, &allowed, &files), Bind::HostPath);
        let drop = Target { bind_mounts: BindMounts::Drop, ..Target::with_defaults(&policy, ProjectFiles::new(&text, &binary, &directories)) };
        assert_eq!(bind("./src", "/app", &drop, &policy, &files), Bind::Dropped);
    }
}
