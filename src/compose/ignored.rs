//! Keys that load but mean nothing on Kubernetes, or nothing more than what the cluster does
//! anyway: one warning each, naming the key, so that nothing is dropped without a word.
//! Service-level keys of this kind are listed in `Service::keys_without_kubernetes_meaning`;
//! these are the ones inside mounts, ports, networks and top-level definitions.
//! tests/schema_keys.rs holds every key of the compose-spec schema to its class.

use std::collections::BTreeMap;

use super::diagnostic::{Path, Report};
use super::model::{ComposeFile, FileObjectDefinition, Port, ServiceNetwork, VolumeMount};
use super::value::is_external;

const ADDRESSING: &str = "the cluster's network plugin gives each pod its address and interface; ignored";

/// Warns about every key of `file` that the translation does not carry over.
pub fn warn(file: &ComposeFile, report: &mut Report) {
    let root = Path::root();
    if file.version.is_some() {
        report.warn(&root.key("version"), "the top-level `version` is obsolete; ignored, as docker compose does");
    }
    if file.models.is_some() {
        report.warn(&root.key("models"), "compose AI models are not supported; ignored");
    }
    for (name, service) in &file.services {
        let path = root.key("services").key(name);
        for (index, port) in service.ports.iter().enumerate() {
            port_keys(port, &path.key("ports").key(index), report);
        }
        for (index, mount) in service.volumes.iter().enumerate() {
            mount_keys(mount, &path.key("volumes").key(index), report);
        }
        for (index, entry) in service.tmpfs.iter().enumerate().filter(|(_, entry)| !entry.other_options.is_empty()) {
            report.warn(
                &path.key("tmpfs").key(index),
                format!("the options {} have no Kubernetes counterpart (an emptyDir in memory takes only a size); ignored", entry.other_options.join(", ")),
            );
        }
        for (network, attachment) in &service.networks {
            attachment_keys(attachment, &path.key("networks").key(network), report);
        }
    }
    for (name, network) in &file.networks {
        let path = root.key("networks").key(name);
        let external = is_external(&network.external);
        if network.name.is_some() && !external {
            report.warn(
                &path.key("name"),
                "the name other Docker projects join this network by; pods of other stacks reach the services by their DNS names instead; ignored",
            );
        }
        if network.driver.as_ref().and_then(|d| d.as_str()).is_some_and(|d| !matches!(d, "bridge" | "overlay")) {
            report.warn(
                &path.key("driver"),
                "a network driver is the cluster's network plugin's choice; the network only isolates, through NetworkPolicies; ignored",
            );
        }
        let addressing =
            [("driver_opts", &network.driver_opts), ("ipam", &network.ipam), ("enable_ipv4", &network.enable_ipv4), ("enable_ipv6", &network.enable_ipv6)];
        for (key, value) in addressing {
            if value.is_some() {
                report.warn(&path.key(key), "addressing is the cluster network plugin's, the same for every pod; ignored");
            }
        }
        if network.attachable.is_some() {
            report.warn(&path.key("attachable"), "containers outside the stack do not join its networks on a cluster; ignored");
        }
        labels(&network.labels, "network", &path, report);
    }
    for (name, volume) in &file.volumes {
        let path = root.key("volumes").key(name);
        if volume.name.is_some() && !is_external(&volume.external) {
            report.warn(&path.key("name"), "the Docker volume's own name; the claim is named after the stack and this key; ignored");
        }
        if volume.driver_opts.is_some() {
            report.warn(&path.key("driver_opts"), "volume driver options map to a StorageClass's parameters; set x-kubernetes.storageClassName; ignored");
        }
        labels(&volume.labels, "volume", &path, report);
    }
    for (section, definitions) in [("configs", &file.configs), ("secrets", &file.secrets)] {
        for (name, definition) in definitions {
            file_object_keys(definition, &root.key(section).key(name), report);
        }
    }
}

fn port_keys(port: &Port, path: &Path, report: &mut Report) {
    if port.mode == "host" {
        report.warn(
            &path.key("mode"),
            "mode: host publishes on the port of each node a task runs on; the cluster publishes it through the `-published` Service instead",
        );
    }
    if port.name.is_some() {
        report.warn(&path.key("name"), "Service ports are named `<protocol>-<port>`, unique in the stack; ignored");
    }
}

fn mount_keys(mount: &VolumeMount, path: &Path, report: &mut Report) {
    if mount.consistency.is_some() {
        report.warn(&path.key("consistency"), "a Docker Desktop file-sharing setting; ignored");
    }
    if let Some(bind) = &mount.bind {
        let path = path.key("bind");
        if bind.propagation.is_some() {
            report.warn(&path.key("propagation"), "mount propagation between a node and its pods is not a pod's choice; ignored");
        }
        if bind.selinux.is_some() {
            report.warn(&path.key("selinux"), "the container runtime relabels volumes from the pod's SELinux options, not per mount; ignored");
        }
        // The canonical form writes `create_host_path: true` for every short bind, as compose-go
        // does; only `false` (refuse a missing host path) asks something a cluster does not do.
        if bind.create_host_path.as_ref().and_then(|v| v.value().ok()) == Some(false) {
            report.warn(
                &path.key("create_host_path"),
                "what a bind mount becomes (a ConfigMap or a claim) always exists, so a missing host path is no error; ignored",
            );
        }
        if bind.recursive.is_some() {
            report.warn(&path.key("recursive"), "nested mounts of a host path are not a pod's choice; ignored");
        }
    }
    if mount.volume.as_ref().is_some_and(|v| v.nocopy.is_some()) {
        report.warn(
            &path.key("volume").key("nocopy"),
            "a Kubernetes volume never receives the image's content at its mount point: it starts empty, whatever nocopy says",
        );
    }
    if mount.tmpfs.as_ref().is_some_and(|t| t.mode.is_some()) {
        report.warn(&path.key("tmpfs").key("mode"), "the permissions of a memory-backed emptyDir cannot be set (it is world-writable); ignored");
    }
}

fn attachment_keys(attachment: &ServiceNetwork, path: &Path, report: &mut Report) {
    let keys = [
        ("ipv4_address", &attachment.ipv4_address),
        ("ipv6_address", &attachment.ipv6_address),
        ("mac_address", &attachment.mac_address),
        ("link_local_ips", &attachment.link_local_ips),
        ("interface_name", &attachment.interface_name),
        ("driver_opts", &attachment.driver_opts),
    ];
    for (key, value) in keys {
        if value.is_some() {
            report.warn(&path.key(key), ADDRESSING);
        }
    }
    for (key, value) in [("priority", &attachment.priority), ("gw_priority", &attachment.gw_priority)] {
        if value.is_some() {
            report.warn(&path.key(key), "a pod has one network interface, so there is no order between networks; ignored");
        }
    }
}

fn file_object_keys(definition: &FileObjectDefinition, path: &Path, report: &mut Report) {
    let kind = if path.segments().first().is_some_and(|s| s == "secrets") { "secret" } else { "config" };
    if definition.name.is_some() && !is_external(&definition.external) {
        report.warn(&path.key("name"), format!("the Docker {kind}'s own name; its Kubernetes object is named after the stack and this key; ignored"));
    }
    if definition.template_driver.is_some() {
        report.warn(&path.key("template_driver"), "content is taken as written; templating is not supported; ignored");
    }
    if definition.driver_opts.is_some() {
        report.warn(&path.key("driver_opts"), format!("{kind} drivers have no Kubernetes meaning; ignored"));
    }
    labels(&definition.labels, kind, path, report);
}

fn labels(labels: &BTreeMap<String, Option<String>>, kind: &str, path: &Path, report: &mut Report) {
    if !labels.is_empty() {
        report.warn(&path.key("labels"), format!("labels of the Docker {kind}; not carried to Kubernetes objects; ignored"));
    }
}
