//! `network_mode: service:<name>` (or `container:<name>`): a service that shares another's
//! network stack, as an app behind a VPN or proxy container does. Kubernetes shares a
//! network namespace only inside one pod, so such a service becomes a container of the
//! other service's pod: same replicas, same node, `localhost` between them, reachable
//! through the other service's name and ports (as on Docker, where it has no name and no
//! ports of its own).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Volume};

use crate::compose::diagnostic::{Path, Report};
use crate::compose::model::Service;

/// What a service running in another's pod cannot have of its own, warned (its ports are
/// refused by validation, `compose::shared_network`).
pub fn check_attached(service: &Service, path: &Path, host: &str, report: &mut Report) {
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
