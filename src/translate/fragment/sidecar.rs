//! `network_mode: service:<name>` (or `container:<name>`): a service that shares another's
//! network stack, as an app behind a VPN or proxy container does. Kubernetes shares a
//! network namespace only inside one pod, so such a service becomes a container of the
//! other service's pod: same replicas, same node, `localhost` between them, reachable
//! through the other service's name and ports (as on Docker, where it has no name and no
//! ports of its own).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Volume};

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{ComposeFile, Service};

/// The service a `network_mode` names, if it names one.
fn shared_with(service: &Service) -> Option<&str> {
    service.network_mode.as_ref()?.ok_ref()?.shared_with()
}

/// For every service that shares another's network, the service whose pod runs it,
/// following chains (`a` → `b` → `c` puts `a` and `b` in `c`'s pod). Broken references and
/// loops are reported; such services get no host (and are refused by the report).
pub fn hosts(file: &ComposeFile, report: &mut Report) -> BTreeMap<String, String> {
    let mut hosts = BTreeMap::new();
    for (name, service) in &file.services {
        let Some(first) = shared_with(service) else { continue };
        let path = Path::root().key("services").key(name).key("network_mode");
        let mut seen = BTreeSet::from([name.as_str()]);
        let mut current = first;
        let host = loop {
            // `container:` names a container; compose lets a service set container_name.
            let target = file
                .services
                .get_key_value(current)
                .map(|(k, _)| k.as_str())
                .or_else(|| file.services.iter().find(|(_, s)| s.container_name.as_deref() == Some(current)).map(|(k, _)| k.as_str()));
            let Some(target) = target else {
                report.error(
                    Diagnostic::new(path.clone(), format!("shares the network of `{current}`, which is not a service of this stack"))
                        .with_hint("name a service of the stack, or remove network_mode"),
                );
                break None;
            };
            if !seen.insert(target) {
                report.error(Diagnostic::new(path.clone(), format!("network_mode loops back to `{target}`")));
                break None;
            }
            match shared_with(&file.services[target]) {
                Some(next) => current = next,
                None => break Some(target),
            }
        };
        if let Some(host) = host {
            hosts.insert(name.clone(), host.to_string());
        }
    }
    hosts
}

/// What a service running in another's pod cannot have of its own, reported.
pub fn check_attached(service: &Service, path: &Path, host: &str, report: &mut Report) {
    if !service.ports.is_empty() || !service.expose.is_empty() {
        report.error(
            Diagnostic::new(path.key("ports"), format!("it shares the network of `{host}`, so its ports are `{host}`'s (Docker refuses them here too)"))
                .with_hint(format!("publish the ports on `{host}`")),
        );
    }
    let pod_level: [(&str, bool); 8] = [
        ("deploy", service.deploy.as_ref().is_some_and(|d| d.replicas.is_some() || d.placement.is_some() || d.mode.is_some())),
        ("scale", service.scale.is_some()),
        ("hostname", service.hostname.is_some()),
        ("dns", !service.dns.is_empty() || !service.dns_search.is_empty()),
        ("extra_hosts", !service.extra_hosts.is_empty()),
        ("networks", !service.networks.is_empty()),
        ("sysctls", !service.sysctls.is_empty()),
        ("restart", service.restart.is_some()),
    ];
    for (key, present) in pod_level {
        if present {
            report.warn(&path.key(key), format!("runs in `{host}`'s pod, which decides this; ignored"));
        }
    }
    report.warn(
        &path.key("network_mode"),
        format!("runs as a container of `{host}`'s pod: same replicas and node, `localhost` between them, reached through `{host}`"),
    );
}

/// Adds an attached container's volumes to the pod's, renaming those whose names are taken
/// by a different volume (the same claim mounted by both is one volume), and returns the
/// container with its mounts renamed to match.
pub fn merge_into(pod_volumes: &mut Vec<Volume>, mut container: Container, volumes: Vec<Volume>, container_name: &str) -> Container {
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    for volume in volumes {
        match pod_volumes.iter().find(|v| v.name == volume.name) {
            Some(existing) if *existing == volume => {}
            Some(_) => {
                // A short suffix keeps the name within the 63 characters of a volume name.
                let name = format!("{}-{}", volume.name, &crate::translate::project_files::fingerprint(container_name.as_bytes())[..6]);
                renamed.insert(volume.name.clone(), name.clone());
                pod_volumes.push(Volume { name, ..volume });
            }
            None => pod_volumes.push(volume),
        }
    }
    for mount in container.volume_mounts.iter_mut().flatten() {
        if let Some(name) = renamed.get(&mount.name) {
            mount.name = name.clone();
        }
    }
    container
}
