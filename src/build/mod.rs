//! Compose in, Kubernetes objects out. Pure: no I/O, no clients; the CLI prints the
//! result and the controller applies it.

pub mod configs;
pub mod container;
pub mod kubernetes;
pub mod names;
pub mod network;
pub mod object;
pub mod pod;
pub mod policy;
pub mod project_files;
pub mod scheduling;
pub mod security;
pub mod services;
pub mod volumes;
pub mod workload;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use object::Object;
pub use policy::Policy;
pub use workload::WorkloadKind;

use crate::api::ComposeStackSpec;
use crate::compose::diagnostic::{Diagnostic, Diagnostics, Path, Report, Warning};
use crate::compose::kubernetes::EXTENSION_KEY;
use crate::compose::load::{self, Sources};
use crate::compose::model::{ComposeFile, Service};
use crate::compose::units::{self, PortMapping, Protocol};
use crate::compose::validate::validate;

/// When a dependent may start, compose's `depends_on.<service>.condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyCondition {
    /// `service_started`: the workload exists and (long-running) has a ready pod.
    Started,
    /// `service_healthy`: every replica is ready.
    Healthy,
    /// `service_completed_successfully`: the one-shot Job succeeded.
    CompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_compose(self) -> &'static str {
        match self {
            DependencyCondition::Started => "service_started",
            DependencyCondition::Healthy => "service_healthy",
            DependencyCondition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The Kubernetes name of the service depended on.
    pub service: String,
    pub condition: DependencyCondition,
    /// `required: false` dependencies are started first when possible but never block.
    pub required: bool,
}

/// Everything one compose service becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePlan {
    pub compose_name: String,
    /// The Kubernetes name of the workload and its Service.
    pub name: String,
    pub kind: WorkloadKind,
    pub replicas: i32,
    pub depends_on: Vec<Dependency>,
    /// The workload first, then its Services, then its NetworkPolicy.
    pub objects: Vec<Object>,
}

impl ServicePlan {
    pub fn workload(&self) -> &Object {
        &self.objects[0]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Translation {
    pub services: Vec<ServicePlan>,
    /// Objects of the stack as a whole (shared claims).
    pub shared: Vec<Object>,
    pub warnings: Vec<Warning>,
}

impl Translation {
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.shared.iter().chain(self.services.iter().flat_map(|s| s.objects.iter()))
    }
}

/// Translates a stack. Every problem is reported together; on any error nothing is returned,
/// so a stack is never half-applied.
pub fn translate(stack: &str, namespace: &str, spec: &ComposeStackSpec, policy: &Policy) -> Result<Translation, Diagnostics> {
    let sources = Sources { compose: &spec.compose, overrides: &spec.overrides, variables: &spec.variables, profiles: &spec.profiles };
    let mut loaded = load::load(&sources)?;
    let mut report = Report::default();
    for error in std::mem::take(&mut loaded.errors) {
        report.error(error);
    }
    for warning in std::mem::take(&mut loaded.warnings) {
        report.warn(&warning.path, warning.message);
    }
    set_images(&mut loaded.file, &spec.images, &mut report);
    if stack.len() > names::MAX_NAME {
        report.error(Diagnostic::new(
            Path::root(),
            format!("the stack name `{stack}` is longer than {} characters, too long for a label value", names::MAX_NAME),
        ));
    }
    validate(&loaded.file, &mut report);
    let networks = network::layout(&loaded.file, spec.network_policies(), &mut report);
    let settings = loaded
        .file
        .services
        .iter()
        .map(|(name, service)| (name.clone(), kubernetes::settings(service, &Path::root().key("services").key(name), &mut report)))
        .collect();
    let volume_claims = volume_claims(&loaded.file, &mut report);
    let translation = Translator { stack, spec, policy, file: &loaded.file, networks, settings, volume_claims }.translate(&mut report);
    if report.has_errors() {
        return Err(report.into_diagnostics(|d| loaded.locate(d)));
    }
    let mut translation = translation;
    for object in translation.services.iter_mut().flat_map(|s| s.objects.iter_mut()).chain(translation.shared.iter_mut()) {
        object.metadata_mut().namespace = Some(namespace.to_string());
    }
    translation.warnings = report.into_warnings();
    Ok(translation)
}

/// Pod-template annotation: the fingerprint of the configs and secrets a service mounts.
pub const CONTENT_HASH: &str = "compose-operator.dev/content-hash";

/// What the stack decided once and each service reads.
#[derive(Clone, Copy)]
struct ServiceContext<'a> {
    named_volumes: &'a BTreeMap<String, volumes::NamedVolume>,
    files: &'a configs::FilePlan,
    aliases: &'a [String],
    k8s_names: &'a BTreeMap<&'a str, String>,
}

struct Translator<'a> {
    stack: &'a str,
    spec: &'a ComposeStackSpec,
    policy: &'a Policy,
    file: &'a ComposeFile,
    networks: network::Layout,
    /// Per compose service: its x-kubernetes settings and kompose labels.
    settings: BTreeMap<String, kubernetes::Settings>,
    /// Per named volume: the claim settings of its own x-kubernetes.
    volume_claims: BTreeMap<String, kubernetes::ClaimSettings>,
}

impl Translator<'_> {
    fn translate(&self, report: &mut Report) -> Translation {
        let named_volumes = volumes::plan_named_volumes(self.stack, self.file, report);
        let files = configs::plan(
            &configs::PlanInput {
                stack: self.stack,
                configs: &self.file.configs,
                secrets: &self.file.secrets,
                variables: &self.spec.variables,
                files: self.spec.project_files(),
                secret_files: self.spec.secret_files.as_deref(),
            },
            report,
        );
        let mut shared: Vec<Object> = named_volumes
            .iter()
            .filter_map(|(volume, plan)| match plan {
                volumes::NamedVolume::Shared { claim_name } => {
                    let mut claim = volumes::shared_claim(self.stack, claim_name, self.spec);
                    self.claim_settings(volume, report).apply(&mut claim);
                    Some(Object::PersistentVolumeClaim(claim))
                }
                _ => None,
            })
            .collect();
        shared.extend(files.objects.iter().cloned());
        let k8s_names: BTreeMap<&str, String> = self
            .file
            .services
            .keys()
            .filter_map(|name| {
                let k8s = report.check(&Path::root().key("services").key(name), names::kubernetes_name(name))?;
                Some((name.as_str(), k8s))
            })
            .collect();
        let aliases = self.aliases(&k8s_names, report);
        let services: Vec<(ServicePlan, Vec<Object>)> = self
            .file
            .services
            .iter()
            .filter_map(|(compose_name, service)| {
                let name = k8s_names.get(compose_name.as_str())?;
                let service_aliases = aliases.get(name.as_str()).map(Vec::as_slice).unwrap_or_default();
                let context = ServiceContext { named_volumes: &named_volumes, files: &files, aliases: service_aliases, k8s_names: &k8s_names };
                self.service(compose_name, name, service, &context, report)
            })
            .collect();
        let (services, project_files): (Vec<ServicePlan>, Vec<Vec<Object>>) = services.into_iter().unzip();
        // Two services mounting the same project file share its ConfigMap.
        for object in project_files.into_iter().flatten() {
            if !shared.iter().any(|o| o.kind() == object.kind() && o.name() == object.name()) {
                shared.push(object);
            }
        }
        let translation = Translation { services, shared, warnings: Vec::new() };
        check_unique_names(&translation, report);
        translation
    }

    /// The service's plan, and the stack-level objects it needs (its project files).
    fn service(&self, compose_name: &str, name: &str, service: &Service, context: &ServiceContext, report: &mut Report) -> Option<(ServicePlan, Vec<Object>)> {
        let ServiceContext { named_volumes, files, aliases, k8s_names } = *context;
        let path = Path::root().key("services").key(compose_name);
        let membership = self.networks.membership(service);
        let mut ports = parse_ports(service, &path, report);
        if !membership.published_reachable() && ports.iter().any(|p| p.published.is_some()) {
            report.warn(&path.key("ports"), "the service is on no network that reaches outside (only internal networks, or network_mode: none), so, as in compose, its ports are not published");
            ports.iter_mut().for_each(|p| p.published = None);
        }
        let expose = parse_expose(service, &path, report);
        let service_volumes = volumes::service_volumes(
            &volumes::VolumeInput { stack: self.stack, service, path: &path, named: named_volumes, policy: self.policy, spec: self.spec },
            report,
        );
        let lifecycle = workload::lifecycle(service, &path, !service_volumes.per_replica_claims.is_empty(), report)?;
        let mut container = container::container(
            &container::ContainerInput {
                name,
                service,
                path: &path,
                variables: &self.spec.variables,
                policy: self.policy,
                ports: &ports,
                expose: &expose,
                files: self.spec.project_files(),
                secret_env_files: &self.spec.secret_env_files,
            },
            report,
        );
        let project_files = service_volumes.project_files;
        let mut service_files = configs::service_files(service, &path, files, report);
        service_files.fingerprints.extend(service_volumes.fingerprints);
        container.volume_mounts = container::non_empty(service_volumes.mounts.into_iter().chain(service_files.mounts).collect());
        let pod_volumes = service_volumes.volumes.into_iter().chain(service_files.volumes).collect();
        let mut template = pod::template(
            pod::PodInput {
                stack: self.stack,
                name,
                service,
                path: &path,
                policy: self.policy,
                container,
                volumes: pod_volumes,
                restart_policy: lifecycle.restart_policy,
            },
            report,
        );
        if !service_files.fingerprints.is_empty() {
            // A new content changes the template, so the workload rolls its pods.
            let fingerprint = project_files::fingerprint(service_files.fingerprints.join(",").as_bytes());
            let metadata = template.metadata.get_or_insert_default();
            metadata.annotations.get_or_insert_default().insert(CONTENT_HASH.to_string(), fingerprint);
        }
        security::pod_security(template.spec.get_or_insert_default(), service, &path, self.policy, report);
        scheduling::apply(
            template.spec.get_or_insert_default(),
            &scheduling::SchedulingInput { stack: self.stack, name, service, path: &path, kind: lifecycle.kind, replicas: lifecycle.replicas },
            report,
        );
        let network_policy = if self.spec.network_policies() {
            let labels = template.metadata.get_or_insert_default().labels.get_or_insert_default();
            labels.extend(membership.labels());
            let policy = network::policy(self.stack, name, &membership, &ports);
            if policy.is_none() {
                report.warn(&path.key("network_mode"), "NetworkPolicies do not govern pods on the node's network: this service is not isolated");
            }
            policy
        } else {
            None
        };
        for (key, reason) in service.keys_without_kubernetes_meaning() {
            report.warn(&path.key(key), reason);
        }
        self.warn_about_unmapped(service, &path, report);
        let settings = self.settings.get(compose_name).cloned().unwrap_or_default();
        settings.apply_to_pod(&mut template, &path, report);
        let owns_claims = service
            .volumes
            .iter()
            .filter_map(volumes::named_source)
            .any(|v| matches!(named_volumes.get(v), Some(volumes::NamedVolume::PerReplica { .. } | volumes::NamedVolume::Shared { .. })));
        if settings.claims != kubernetes::ClaimSettings::default() && !owns_claims {
            report
                .warn(&path.key("labels"), "kompose.volume.* labels size the claims of named volumes, and this service mounts none the stack creates; ignored");
        }
        let claim_templates = service_volumes
            .per_replica_claims
            .iter()
            .map(|claim| {
                let mut template = volumes::claim(claim, "ReadWriteOnce", self.spec);
                let volume = named_volumes.iter().find(|(_, plan)| matches!(plan, volumes::NamedVolume::PerReplica { claim_name } if claim_name == claim));
                if let Some((volume, _)) = volume {
                    self.claim_settings(volume, report).apply(&mut template);
                }
                template
            })
            .collect();
        let workload = workload::workload(
            workload::WorkloadInput {
                name,
                service,
                path: &path,
                lifecycle: &lifecycle,
                metadata: self.workload_metadata(name, service),
                selector: names::selector_labels(self.stack, name),
                template,
                claim_templates,
                retain_claims: self.spec.retain_volumes(),
            },
            report,
        );
        let dns_round_robin = service.deploy.as_ref().and_then(|d| d.endpoint_mode.as_deref()) == Some("dnsrr");
        if settings.published_type.is_some() && !ports.iter().any(|p| p.published.is_some()) {
            report.warn(
                &path,
                "a Service type is set (x-kubernetes serviceType or kompose.service.type) but no port is published, so there is no -published Service; ignored",
            );
        }
        let mut cluster_services = services::services(&services::ServiceInput {
            stack: self.stack,
            name,
            ports: &ports,
            expose: &expose,
            dns_round_robin: dns_round_robin || settings.headless,
            published_type: settings.published_type.unwrap_or_else(|| self.spec.published_service_type()),
            aliases,
        });
        settings.apply_to_services(&mut cluster_services);
        let depends_on = self.dependencies(service, &path, k8s_names, report);
        let mut objects = vec![workload];
        objects.extend(cluster_services.into_iter().map(Object::Service));
        objects.extend(network_policy.map(Object::NetworkPolicy));
        let plan = ServicePlan {
            compose_name: compose_name.to_string(),
            name: name.to_string(),
            kind: lifecycle.kind,
            replicas: lifecycle.replicas,
            depends_on,
            objects,
        };
        Some((plan, project_files))
    }

    /// A named volume's claim settings: its own x-kubernetes, else the kompose labels of
    /// the services that mount it (the first one's when they differ), else spec.volumes.
    fn claim_settings(&self, volume: &str, report: &mut Report) -> kubernetes::ClaimSettings {
        let own = self.volume_claims.get(volume).cloned().unwrap_or_default();
        let from_services: Vec<(&String, &kubernetes::ClaimSettings)> = self
            .file
            .services
            .iter()
            .filter(|(_, service)| service.volumes.iter().filter_map(volumes::named_source).any(|v| v == volume))
            .filter_map(|(name, _)| Some((name, &self.settings.get(name)?.claims)))
            .filter(|(_, claims)| **claims != kubernetes::ClaimSettings::default())
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

    fn workload_metadata(&self, name: &str, service: &Service) -> ObjectMeta {
        let mut labels = names::object_labels(self.stack, Some(name));
        let mut annotations = BTreeMap::new();
        for (key, value) in service.deploy.iter().flat_map(|d| d.labels.iter()) {
            let value = value.clone().unwrap_or_default();
            if names::is_valid_label(key, &value) && !names::is_reserved_label(key) {
                labels.insert(key.clone(), value);
            } else {
                annotations.insert(key.clone(), value);
            }
        }
        ObjectMeta { name: Some(name.to_string()), labels: Some(labels), annotations: (!annotations.is_empty()).then_some(annotations), ..Default::default() }
    }

    /// Compose keys that are accepted but whose translation is not written yet, reported
    /// rather than dropped.
    fn warn_about_unmapped(&self, service: &Service, path: &Path, report: &mut Report) {
        if let Some(deploy) = &service.deploy {
            if deploy.rollback_config.is_some() {
                report.warn(&path.key("deploy").key("rollback_config"), "Kubernetes rolls back only by hand (`kubectl rollout undo`); ignored");
            }
            if let Some(mode) = deploy.endpoint_mode.as_deref().filter(|m| !matches!(*m, "vip" | "dnsrr")) {
                report.error(Diagnostic::new(path.key("deploy").key("endpoint_mode"), format!("unknown endpoint_mode `{mode}`")).with_hint("use vip or dnsrr"));
            }
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
            ("links", service.links.iter().any(|l| !l.contains(':')), "services that share a network reach each other by name without links"),
        ];
        for (key, present, reason) in simple {
            if present {
                report.warn(&path.key(key), reason);
            }
        }
    }

    /// Alias Services per target service: `links: [db:database]` on any service and
    /// `networks.<net>.aliases` on the target itself.
    fn aliases(&self, k8s_names: &BTreeMap<&str, String>, report: &mut Report) -> BTreeMap<String, Vec<String>> {
        let mut owner_of: BTreeMap<String, (String, Path)> = BTreeMap::new();
        let mut add = |alias: &str, target: &str, path: Path, report: &mut Report| {
            let Some(target) = k8s_names.get(target) else { return };
            let Some(alias) = report.check(&path, names::kubernetes_name(alias)) else { return };
            if alias == *target {
                return;
            }
            if k8s_names.values().any(|n| *n == alias) {
                report.error(Diagnostic::new(path, format!("the alias `{alias}` is already the name of a service")));
                return;
            }
            match owner_of.get(&alias) {
                Some((owner, _)) if owner != target => report.error(Diagnostic::new(path, format!("the alias `{alias}` already names service `{owner}`"))),
                Some(_) => {}
                None => {
                    owner_of.insert(alias, (target.clone(), path));
                }
            }
        };
        for (name, service) in &self.file.services {
            let path = Path::root().key("services").key(name);
            for (index, link) in service.links.iter().enumerate() {
                if let Some((target, alias)) = link.split_once(':') {
                    add(alias, target, path.key("links").key(index), report);
                }
            }
            for (network, definition) in &service.networks {
                for (index, alias) in definition.aliases.iter().enumerate() {
                    add(alias, name, path.key("networks").key(network).key("aliases").key(index), report);
                }
            }
        }
        let mut by_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (alias, (target, _)) in owner_of {
            by_target.entry(target).or_default().push(alias);
        }
        by_target
    }

    fn dependencies(&self, service: &Service, path: &Path, k8s_names: &BTreeMap<&str, String>, report: &mut Report) -> Vec<Dependency> {
        service
            .depends_on
            .iter()
            .filter_map(|(target, dependency)| {
                let condition_path = path.key("depends_on").key(target).key("condition");
                let condition = match dependency.condition.as_str() {
                    "service_started" => DependencyCondition::Started,
                    "service_healthy" => DependencyCondition::Healthy,
                    "service_completed_successfully" => DependencyCondition::CompletedSuccessfully,
                    other => {
                        report.error(
                            Diagnostic::new(condition_path, format!("unknown condition `{other}`"))
                                .with_hint("use service_started, service_healthy or service_completed_successfully"),
                        );
                        return None;
                    }
                };
                if dependency.restart.is_some() {
                    report.warn(&path.key("depends_on").key(target).key("restart"), "dependents are not restarted when a dependency is updated; ignored");
                }
                Some(Dependency { service: k8s_names.get(target.as_str())?.clone(), condition, required: dependency.required })
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
        let Some(protocol) = report.check(&port_path.key("protocol"), Protocol::parse(&port.protocol)) else { continue };
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
            app_protocol: port.app_protocol.clone(),
        });
    }
    mappings
}

fn parse_expose(service: &Service, path: &Path, report: &mut Report) -> Vec<(u16, Protocol)> {
    service.expose.iter().enumerate().filter_map(|(index, entry)| report.check(&path.key("expose").key(index), units::parse_expose(entry))).flatten().collect()
}

/// `spec.images`: the image a pipeline pushed, set over (or instead of) `image:`.
fn set_images(file: &mut ComposeFile, images: &BTreeMap<String, String>, report: &mut Report) {
    for (service, image) in images {
        let path = Path::root().key("spec").key("images").key(service);
        match file.services.get_mut(service) {
            Some(_) if image.trim().is_empty() => report.error(Diagnostic::new(path, "the image is empty")),
            Some(definition) => definition.image = Some(image.clone()),
            None => report.warn(&path, "there is no such service in the stack (or its profile is not enabled); ignored"),
        }
    }
}

/// The claim settings of each named volume's own `x-kubernetes`.
fn volume_claims(file: &ComposeFile, report: &mut Report) -> BTreeMap<String, kubernetes::ClaimSettings> {
    file.volumes
        .iter()
        .filter_map(|(name, definition)| {
            let path = Path::root().key("volumes").key(name);
            let extension = definition.x_kubernetes.as_ref()?;
            let external = definition.external.as_ref().is_some_and(|e| e.as_bool() == Some(true) || e.is_object());
            if external {
                report.warn(&path.key(EXTENSION_KEY), "an external volume's claim exists already, with its own size and class; ignored");
                return None;
            }
            Some((name.clone(), kubernetes::volume_settings(extension, &path, report)))
        })
        .collect()
}

/// Two objects of one kind with one name would overwrite each other.
fn check_unique_names(translation: &Translation, report: &mut Report) {
    let mut seen = std::collections::BTreeSet::new();
    for object in translation.objects() {
        if !seen.insert((object.kind(), object.name().to_string())) {
            report.error(
                Diagnostic::new(Path::root().key("services"), format!("two parts of the stack would both create {} `{}`", object.kind(), object.name()))
                    .with_hint("rename one of the services, aliases or volumes"),
            );
        }
    }
}
