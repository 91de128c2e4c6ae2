//! Compose in, Kubernetes objects out. Pure: no I/O, no clients; the CLI prints the
//! result and the controller applies it. It reads a loaded, validated project and a resolved
//! [`Target`] (`crate::pipeline` makes both from a ComposeStack), and returns a [`Translation`]
//! (plan.rs) with every problem in the report.
//!
//! The way through, in the order of [`translate`]:
//! 1. stack-wide decisions: network membership (`resource::network_policy::layout`), each
//!    service's `x-kubernetes` settings (`extension`), one-shot services (Jobs), which named
//!    volumes are per replica or shared (`resource::claim::plan`), the ConfigMaps and Secrets
//!    of configs and secrets (`resource::config`), Kubernetes names and alias Services (`stack`);
//! 2. per compose service (`compose_service`): its container (`fragment::container`) and
//!    mounts, the pod template (`fragment::pod`, `security`, `scheduling`, `admission`), the
//!    workload (`resource::workload`), its Services (`resource::service`) and NetworkPolicy;
//!    services that share a pod (`network_mode: service:`) join it (`fragment::sidecar`);
//! 3. budgets on what came out, and names that would clash (`stack`).

pub mod bind_source;
mod compose_service;
pub mod context;
pub mod extension;
pub mod fragment;
pub mod names;
pub mod plan;
pub mod project_files;
pub mod resource;
mod stack;
pub mod target;

use std::collections::BTreeMap;

use crate::compose::diagnostic::{Path, Report};
use crate::compose::model::{ComposeFile, Service};
use crate::compose::shared_network;
use crate::object::WorkloadKind;
use fragment::volumes;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use resource::{claim, config, network_policy, workload};
use stack::{aliases, check_output_size, check_unique_names, volume_claims};

pub use plan::{Dependency, DependencyCondition, ServicePlan, Translation};
pub use target::Target;

/// Translates a loaded, validated project for its target. Errors and warnings go to `report`,
/// after those of loading and validation, so that every problem is reported together; the
/// caller decides from the report whether the translation stands.
pub fn translate(file: &ComposeFile, target: &Target, report: &mut Report) -> Translation {
    let networks = network_policy::layout(file, target.network_policies, report);
    let settings =
        file.services.iter().map(|(name, service)| (name.clone(), extension::settings(service, &Path::root().key("services").key(name), report))).collect();
    let volume_claims = volume_claims(file, report);
    let one_shot = workload::one_shot_services(file);
    let translator = Translator { target, file, networks, settings, volume_claims, one_shot };
    let translation = translator.translate(report);
    check_output_size(&translation, report);
    translation
}

/// What the stack decided once and each service reads.
#[derive(Clone, Copy)]
struct StackPlan<'a> {
    volumes: &'a claim::VolumePlan,
    files: &'a config::FilePlan,
    project_mounts: &'a volumes::ProjectMounts<'a>,
    aliases: &'a [String],
    /// The Kubernetes name of the workload that runs each compose service (its own, or,
    /// for a service sharing another's network, that one's).
    workloads: &'a BTreeMap<&'a str, String>,
}

struct Translator<'a> {
    target: &'a Target<'a>,
    file: &'a ComposeFile,
    networks: network_policy::Layout,
    /// Per compose service: its x-kubernetes settings and kompose labels.
    settings: BTreeMap<String, extension::Settings>,
    /// Per named volume: the claim settings of its own x-kubernetes.
    volume_claims: BTreeMap<String, extension::ClaimSettings>,
    one_shot: BTreeMap<String, workload::OneShot>,
}

impl Translator<'_> {
    fn translate(&self, report: &mut Report) -> Translation {
        let volumes = claim::plan(&claim::PlanInput { file: self.file, target: self.target, one_shot: &self.one_shot }, report);
        let files = config::plan(&config::PlanInput { target: self.target, configs: &self.file.configs, secrets: &self.file.secrets }, report);
        let claims: Vec<PersistentVolumeClaim> = volumes
            .volumes
            .iter()
            .filter_map(|(key, plan)| match plan {
                claim::NamedVolume::Shared { claim_name, access_mode } => {
                    let mut claim = claim::standalone_claim(self.target.stack, claim_name, access_mode, self.target);
                    claim::claim_settings(key, &volumes, self.file, &self.settings, &self.volume_claims, report).apply(&mut claim);
                    Some(claim)
                }
                _ => None,
            })
            .collect();
        let k8s_names: BTreeMap<&str, String> = self
            .file
            .services
            .keys()
            .filter_map(|name| {
                let k8s = report.check(&Path::root().key("services").key(name), names::kubernetes_name(name))?;
                Some((name.as_str(), k8s))
            })
            .collect();
        let hosts: BTreeMap<String, String> =
            shared_network::resolve(self.file).hosts.into_iter().map(|(service, host)| (service.to_string(), host.to_string())).collect();
        let workloads: BTreeMap<&str, String> = k8s_names
            .iter()
            .filter_map(|(name, k8s)| match hosts.get(*name) {
                Some(host) => Some((*name, k8s_names.get(host.as_str())?.clone())),
                None => Some((*name, k8s.clone())),
            })
            .collect();
        let aliases = aliases(self.file, &k8s_names, report);
        let project_mounts = volumes::ProjectMounts::new(self.target.stack, &self.target.files);
        let mut services = Vec::new();
        for (compose_name, service) in &self.file.services {
            let Some(name) = k8s_names.get(compose_name.as_str()) else { continue };
            let service_aliases = aliases.get(name.as_str()).map(Vec::as_slice).unwrap_or_default();
            let stack = StackPlan { volumes: &volumes, files: &files, project_mounts: &project_mounts, aliases: service_aliases, workloads: &workloads };
            if let Some(host) = hosts.get(compose_name) {
                services.extend(self.attached_plan(compose_name, host, service, &stack, report));
                continue;
            }
            let attached: Vec<(&str, &Service)> =
                hosts.iter().filter(|(_, h)| *h == compose_name).map(|(a, _)| (a.as_str(), &self.file.services[a.as_str()])).collect();
            services.extend(self.service(compose_name, name, service, &attached, &stack, report));
        }
        // Workloads first, so that a service sharing another's network finds its kind.
        let kinds: BTreeMap<String, (WorkloadKind, i32)> =
            services.iter().filter(|plan: &&ServicePlan| plan.attached_to.is_none()).map(|plan| (plan.name.clone(), (plan.kind, plan.replicas))).collect();
        for plan in services.iter_mut().filter(|plan| plan.attached_to.is_some()) {
            if let Some((kind, replicas)) = kinds.get(&plan.name) {
                plan.kind = *kind;
                plan.replicas = *replicas;
            }
        }
        let translation =
            Translation { services, claims, configs_and_secrets: files.objects.clone(), project_files: project_mounts.into_objects(), warnings: Vec::new() };
        check_unique_names(&translation, report);
        translation
    }
}
