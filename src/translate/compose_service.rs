//! Everything one compose service becomes: its container (and those of the services that
//! share its pod), the pod template, the workload, its Services and NetworkPolicy, and where
//! it waits in the start order.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::ServiceContext;
use super::fragment::{admission, container, pod, scheduling, security, sidecar, volumes};
use super::resource::{claim, config, network_policy, service, workload};
use super::{StackPlan, Translator, extension, names, project_files};
use crate::compose::diagnostic::{Path, Report};
use crate::compose::model::{Parsed, Service, VolumeMount};
use crate::compose::units::{ExposedPorts, PortMapping, Protocol};
use crate::object::WorkloadKind;
use crate::translate::plan::{Dependency, ServicePlan};

/// Pod-template annotation: the fingerprint of the configs and secrets a service mounts.
pub const CONTENT_HASH: &str = "compose-operator.dev/content-hash";

/// The compose service a container is built from, and the ports it listens on.
struct ContainerOf<'a> {
    compose_name: &'a str,
    /// The container's name.
    name: &'a str,
    service: &'a Service,
    ports: &'a [PortMapping],
    expose: &'a [(u16, Protocol)],
}

/// One service's container and what it brings into its pod.
struct PodParts {
    container: Container,
    volumes: Vec<Volume>,
    /// Claim templates it needs: (volume key, claim name).
    per_replica_claims: Vec<(String, String)>,
    /// Of the configs, secrets and project files it mounts.
    fingerprints: Vec<String>,
}

impl Translator<'_> {
    /// The container of one compose service, with its mounts and what they need.
    fn pod_parts(&self, of: ContainerOf, stack: &StackPlan, report: &mut Report) -> PodParts {
        let ContainerOf { compose_name, name, service, ports, expose } = of;
        let context = ServiceContext::new(self.target, compose_name, name, service);
        let path = &context.path;
        let service_volumes =
            volumes::service_volumes(&volumes::VolumeInput { context: &context, plan: stack.volumes, project_mounts: stack.project_mounts }, report);
        let mut container = container::container(&container::ContainerInput { context: &context, ports, expose }, report);
        let service_files = config::service_files(service, path, stack.files, report);
        container.volume_mounts = container::non_empty(service_volumes.mounts.into_iter().chain(service_files.mounts).collect());
        let mut fingerprints = service_volumes.fingerprints;
        fingerprints.extend(service_files.fingerprints);
        for (key, reason) in service.keys_without_kubernetes_meaning() {
            report.warn(&path.key(key), reason);
        }
        self.warn_about_unmapped(service, path, report);
        PodParts {
            container,
            volumes: service_volumes.volumes.into_iter().chain(service_files.volumes).collect(),
            per_replica_claims: service_volumes.per_replica_claims,
            fingerprints,
        }
    }

    /// Everything one compose service becomes, with the containers of the services that
    /// share its network (`network_mode: service:<it>`) in its pod.
    pub(super) fn service(
        &self,
        compose_name: &str,
        name: &str,
        service: &Service,
        attached: &[(&str, &Service)],
        stack: &StackPlan,
        report: &mut Report,
    ) -> Option<ServicePlan> {
        let context = ServiceContext::new(self.target, compose_name, name, service);
        let path = context.path.clone();
        let membership = self.networks.membership(service);
        let mut ports = parse_ports(service, &path, report);
        if !membership.published_reachable() && ports.iter().any(|p| p.published.is_some()) {
            report.warn(&path.key("ports"), "the service is on no network that reaches outside (only internal networks, or network_mode: none), so, as in compose, its ports are not published");
            ports.iter_mut().for_each(|p| p.published = None);
        }
        let expose = exposed_ports(service);
        let mut parts = self.pod_parts(ContainerOf { compose_name, name, service, ports: &ports, expose: &expose }, stack, report);
        let mut containers = vec![parts.container];
        let mut depends_on = self.dependencies(service, &path, stack.workloads, report);
        for (attached_name, attached_service) in attached {
            let Some(container_name) = stack.workloads.get(attached_name).and_then(|_| names::kubernetes_name(attached_name).ok()) else { continue };
            let of = ContainerOf { compose_name: attached_name, name: &container_name, service: attached_service, ports: &[], expose: &[] };
            let attached_parts = self.pod_parts(of, stack, report);
            containers.push(sidecar::merge_into(&mut parts.volumes, attached_parts.container, attached_parts.volumes, &container_name));
            for claim in attached_parts.per_replica_claims {
                if !parts.per_replica_claims.contains(&claim) {
                    parts.per_replica_claims.push(claim);
                }
            }
            parts.fingerprints.extend(attached_parts.fingerprints);
            let attached_path = Path::root().key("services").key(*attached_name);
            for dependency in self.dependencies(attached_service, &attached_path, stack.workloads, report) {
                if dependency.service != name && !depends_on.iter().any(|d| d.service == dependency.service) {
                    depends_on.push(dependency);
                }
            }
        }
        let lifecycle = workload::lifecycle(service, &path, self.one_shot.get(compose_name).copied(), !parts.per_replica_claims.is_empty(), report)?;
        let mut template =
            pod::template(pod::PodInput { context: &context, containers, volumes: parts.volumes, restart_policy: lifecycle.restart_policy }, report);
        if !parts.fingerprints.is_empty() {
            // A new content changes the template, so the workload rolls its pods.
            let fingerprint = project_files::fingerprint(parts.fingerprints.join(",").as_bytes());
            let metadata = template.metadata.get_or_insert_default();
            metadata.annotations.get_or_insert_default().insert(CONTENT_HASH.to_string(), fingerprint);
        }
        security::pod_security(template.spec.get_or_insert_default(), service, &path, self.target.policy, report);
        scheduling::apply(
            template.spec.get_or_insert_default(),
            &scheduling::SchedulingInput { context: &context, kind: lifecycle.kind, replicas: lifecycle.replicas },
            report,
        );
        let network_policy = if self.target.network_policies {
            let labels = template.metadata.get_or_insert_default().labels.get_or_insert_default();
            labels.extend(membership.labels());
            let policy = network_policy::policy(self.target.stack, name, &membership, &ports);
            if policy.is_none() {
                report.warn(&path.key("network_mode"), "NetworkPolicies do not govern pods on the node's network: this service is not isolated");
            }
            policy
        } else {
            None
        };
        let settings = self.settings.get(compose_name).cloned().unwrap_or_default();
        settings.apply_to_pod(&mut template, &path, report);
        admission::guard_pod_metadata(&template, service, &path, self.target.policy, report);
        let in_pod: Vec<(&str, &Service)> = std::iter::once((compose_name, service)).chain(attached.iter().copied()).collect();
        admission::fit_pod_security(template.spec.get_or_insert_default(), self.target.pod_security, &in_pod, report);
        let creates_claims = service
            .volumes
            .iter()
            .filter_map(VolumeMount::named_source)
            .any(|v| matches!(stack.volumes.volumes.get(v), Some(claim::NamedVolume::PerReplica { .. } | claim::NamedVolume::Shared { .. })));
        if settings.claims != extension::ClaimSettings::default() && !creates_claims {
            report
                .warn(&path.key("labels"), "kompose.volume.* labels size the claims of named volumes, and this service mounts none the stack creates; ignored");
        }
        let claim_templates = parts
            .per_replica_claims
            .iter()
            .map(|(key, claim)| {
                let mut template = claim::claim(claim, "ReadWriteOnce", self.target);
                claim::claim_settings(key, stack.volumes, self.file, &self.settings, &self.volume_claims, report).apply(&mut template);
                template
            })
            .collect();
        let workload = workload::workload(
            workload::WorkloadInput {
                context: &context,
                lifecycle: &lifecycle,
                metadata: self.workload_metadata(name, service, &path, report),
                selector: names::selector_labels(self.target.stack, name),
                template,
                claim_templates,
            },
            report,
        );
        let dns_round_robin = service.dns_round_robin();
        if settings.published_type.is_some() && !ports.iter().any(|p| p.published.is_some()) {
            report.warn(
                &path,
                "a Service type is set (x-kubernetes serviceType or kompose.service.type) but no port is published, so there is no -published Service; ignored",
            );
        }
        let mut cluster_services = service::services(&service::ServiceInput {
            context: &context,
            ports: &ports,
            expose: &expose,
            dns_round_robin: dns_round_robin || settings.headless,
            published_type: settings.published_type.unwrap_or(self.target.published_service_type),
            aliases: stack.aliases,
        });
        settings.apply_to_services(&mut cluster_services);
        Some(ServicePlan {
            compose_name: compose_name.to_string(),
            name: name.to_string(),
            kind: lifecycle.kind,
            replicas: lifecycle.replicas,
            depends_on,
            workload: Some(workload),
            services: cluster_services,
            network_policy,
            attached_to: None,
        })
    }

    /// A service that shares another's network runs as a container of that one's pod: it
    /// has no objects of its own, and its status is that workload's.
    pub(super) fn attached_plan(&self, compose_name: &str, host: &str, service: &Service, stack: &StackPlan, report: &mut Report) -> Option<ServicePlan> {
        let path = Path::root().key("services").key(compose_name);
        sidecar::check_attached(service, &path, host, report);
        let name = stack.workloads.get(compose_name)?.clone();
        let depends_on = self.dependencies(service, &path, stack.workloads, report).into_iter().filter(|d| d.service != name).collect();
        Some(ServicePlan {
            compose_name: compose_name.to_string(),
            name,
            // Set from the host's plan once it is built.
            kind: WorkloadKind::Deployment,
            replicas: 0,
            depends_on,
            workload: None,
            services: Vec::new(),
            network_policy: None,
            attached_to: Some(host.to_string()),
        })
    }

    fn workload_metadata(&self, name: &str, service: &Service, path: &Path, report: &mut Report) -> ObjectMeta {
        let mut labels = names::object_labels(self.target.stack, Some(name));
        let mut annotations = BTreeMap::new();
        for (key, value) in service.deploy.iter().flat_map(|d| d.labels.iter()) {
            let value = value.clone().unwrap_or_default();
            if names::is_valid_label(key, &value) && !names::is_reserved_label(key) {
                labels.insert(key.clone(), value);
            } else if names::is_valid_annotation_key(key) {
                annotations.insert(key.clone(), value);
            } else {
                report.warn(&path.key("deploy").key("labels").key(key), names::INVALID_ANNOTATION_KEY);
            }
        }
        ObjectMeta { name: Some(name.to_string()), labels: Some(labels), annotations: (!annotations.is_empty()).then_some(annotations), ..Default::default() }
    }

    /// Compose keys that are accepted but whose translation is not written yet, reported
    /// rather than dropped.
    fn warn_about_unmapped(&self, service: &Service, path: &Path, report: &mut Report) {
        if service.deploy.as_ref().is_some_and(|deploy| deploy.rollback_config.is_some()) {
            report.warn(&path.key("deploy").key("rollback_config"), "Kubernetes rolls back only by hand (`kubectl rollout undo`); ignored");
        }
        let simple: [(&str, bool, &str); 5] = [
            ("init", service.init.is_some(), "Kubernetes has no per-container init process flag; use an image with tini or `shareProcessNamespace`; ignored"),
            ("container_name", service.container_name.is_some(), "Kubernetes names pods itself; the service name is the DNS name; ignored"),
            ("domainname", service.domainname.is_some(), "pods take the cluster's domain; ignored"),
            (
                "stop_signal",
                service.stop_signal.is_some(),
                "a per-container stop signal exists only from Kubernetes 1.33 (lifecycle.stopSignal, alpha feature ContainerStopSignals); the runtime sends the image's STOPSIGNAL (default SIGTERM), so set it in the image; ignored",
            ),
            ("links", service.links.iter().any(|link| link.alias.is_none()), "services that share a network reach each other by name without links"),
        ];
        for (key, present, reason) in simple {
            if present {
                report.warn(&path.key(key), reason);
            }
        }
    }

    /// The dependencies of a service, on the workloads that run what it depends on.
    fn dependencies(&self, service: &Service, path: &Path, workloads: &BTreeMap<&str, String>, report: &mut Report) -> Vec<Dependency> {
        service
            .depends_on
            .iter()
            .filter_map(|(target, dependency)| {
                let condition = dependency.condition.ok()?;
                if dependency.restart.is_some() && !dependency.implied {
                    report.warn(&path.key("depends_on").key(target).key("restart"), "dependents are not restarted when a dependency is updated; ignored");
                }
                Some(Dependency { service: workloads.get(target.as_str())?.clone(), condition, required: dependency.required })
            })
            .collect()
    }
}

/// The service's ports (canonical: one entry per port). A port Docker binds to one host
/// address is published only where that address means "everywhere": bound to a loopback
/// address it was reachable from that host alone, and bound to another address from one
/// network of that host; a cluster cannot bind a Service to either, so such a port stays
/// inside the cluster (its in-stack Service still serves it), never opened wider.
fn parse_ports(service: &Service, path: &Path, report: &mut Report) -> Vec<PortMapping> {
    let mut mappings = Vec::new();
    for (index, port) in service.ports.iter().enumerate() {
        let port_path = path.key("ports").key(index);
        let Some(protocol) = port.protocol.ok() else { continue };
        let mut published = port.published;
        if let (Some((host_port, _)), Some(address)) = (published, port.host_ip.as_deref()) {
            match address.parse::<std::net::IpAddr>() {
                Ok(ip) if ip.is_unspecified() => {}
                Ok(ip) if ip.is_loopback() => {
                    report.warn(&port_path, format!(
                        "published on {address}:{host_port}, which only that host could reach: not published outside the cluster (pods of the stack still reach it at port {})",
                        port.target
                    ));
                    published = None;
                }
                _ => {
                    report.warn(&port_path, format!(
                        "published on the host address {address}:{host_port}, which a cluster cannot bind a Service to: kept inside the cluster, not published (remove the address to publish it on the `-published` Service)"
                    ));
                    published = None;
                }
            }
        }
        mappings.push(PortMapping {
            target: port.target,
            published,
            host_ip: port.host_ip.clone(),
            protocol,
            mode: Some(port.mode.clone()),
            name: port.name.clone(),
            app_protocol: port.app_protocol.clone().filter(|app_protocol| {
                // Kubernetes takes a qualified name (`http`, `kubernetes.io/h2c`), like an annotation key.
                let valid = names::is_valid_annotation_key(app_protocol);
                if !valid {
                    report.warn(
                        &port_path.key("app_protocol"),
                        format!("`{app_protocol}` is not a protocol name Kubernetes takes (`http`, `kubernetes.io/h2c`); ignored"),
                    );
                }
                valid
            }),
        });
    }
    mappings
}

fn exposed_ports(service: &Service) -> Vec<(u16, Protocol)> {
    service.expose.iter().filter_map(Parsed::ok).flat_map(|ExposedPorts(ports)| ports).collect()
}
