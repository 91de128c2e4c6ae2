//! Claims: which named volumes and host directories a stack claims, how (a claim template
//! per replica, one standalone claim, an existing claim), and under which names; and the
//! PersistentVolumeClaims themselves. See fragment/volumes.rs for the mapping table.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{ComposeFile, DeployMode, MountType, VolumeMount as ComposeMount};
use crate::compose::value::is_external;
use crate::translate::bind_source::{Bind, bind};
use crate::translate::extension::{self as settings, ClaimSettings};
use crate::translate::names;
use crate::translate::project_files::{self};
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
    /// What each bind mount's source becomes, by compose service and mount index: decided
    /// here once, and read when each service's pod is built.
    pub binds: BTreeMap<(String, usize), Bind>,
    /// Claim size and class given on a host directory's mounts (`x-kubernetes`).
    pub directory_claims: BTreeMap<String, ClaimSettings>,
}

/// What the stack plan needs to know of the stack.
pub struct PlanInput<'a> {
    pub file: &'a ComposeFile,
    pub target: &'a Target<'a>,
    pub one_shot: &'a BTreeMap<String, OneShot>,
}

/// Which services mount each named volume and host directory; decides per-replica claim
/// templates versus standalone claims, and names every claim.
pub fn plan(input: &PlanInput, report: &mut Report) -> VolumePlan {
    let PlanInput { file, target, one_shot } = *input;
    let (stack, policy, files) = (target.stack, target.policy, &target.files);
    let mut plan = VolumePlan::default();
    let mut users: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut directory_claims: BTreeMap<String, (ClaimSettings, Path)> = BTreeMap::new();
    let mut first_use: BTreeMap<String, Path> = BTreeMap::new();
    for (service_name, service) in &file.services {
        for (index, mount) in service.volumes.iter().enumerate() {
            let key = match (&mount.kind, mount.source.as_deref()) {
                (MountType::Volume, Some(source)) if !source.is_empty() => source.to_string(),
                (MountType::Bind, Some(source)) => {
                    match plan.binds.entry((service_name.clone(), index)).or_insert_with(|| bind(source, &mount.target, target, policy, files)).clone() {
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
                    }
                }
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
        definition.deploy_mode() == DeployMode::Replicated && !one_shot.contains_key(service)
    };
    let claim_for = |k8s_name: &str, services: &[&str]| match services {
        [only] if owns_claim_templates(only) => NamedVolume::PerReplica { claim_name: k8s_name.to_string() },
        [_] => NamedVolume::Shared { claim_name: format!("{stack}-{k8s_name}"), access_mode: "ReadWriteOnce" },
        _ => NamedVolume::Shared { claim_name: format!("{stack}-{k8s_name}"), access_mode: "ReadWriteMany" },
    };
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for (volume, definition) in &file.volumes {
        let path = Path::root().key("volumes").key(volume);
        let Some(k8s_name) = report.check(&path, names::kubernetes_name(volume)) else { continue };
        taken.insert(k8s_name.clone());
        let external = is_external(&definition.external);
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
        if definition.driver.as_ref().is_some_and(|d| d.as_str() != Some("local")) {
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

/// A claimed volume's settings. A named volume's: its own x-kubernetes, else the kompose
/// labels of the services that mount it (the first one's when they differ), else
/// spec.volumes. A host directory's: the x-kubernetes of its mounts.
pub fn claim_settings(
    volume: &str,
    plan: &VolumePlan,
    file: &ComposeFile,
    service_settings: &BTreeMap<String, settings::Settings>,
    volume_claims: &BTreeMap<String, ClaimSettings>,
    report: &mut Report,
) -> ClaimSettings {
    if volume.contains('/') {
        return plan.directory_claims.get(volume).cloned().unwrap_or_default();
    }
    let own = volume_claims.get(volume).cloned().unwrap_or_default();
    let from_services: Vec<(&String, &ClaimSettings)> = file
        .services
        .iter()
        .filter(|(_, service)| service.volumes.iter().filter_map(ComposeMount::named_source).any(|v| v == volume))
        .filter_map(|(name, _)| Some((name, &service_settings.get(name)?.claims)))
        .filter(|(_, claims)| **claims != ClaimSettings::default())
        .collect();
    if let Some((first, claims)) = from_services.first() {
        if let Some((other, _)) = from_services.iter().find(|(_, c)| c != claims) {
            report.warn(
                &Path::root().key("volumes").key(volume),
                format!("services {first} and {other} give different kompose.volume.* labels for this shared volume; {first}'s are used"),
            );
        }
        return own.or(claims);
    }
    own
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names() {
        assert_eq!(readable_name("/srv/app/data"), "srv-app-data");
        assert_eq!(readable_name("./data"), "data");
        assert_eq!(readable_name("/1"), "dir-1");
        assert!(readable_name(&format!("/{}", "a".repeat(100))).len() <= 40);
        let taken = BTreeSet::from(["data".to_string()]);
        assert_eq!(unique_name("data", "./data", &taken).len(), "data-".len() + 8);
    }
}
