//! Which workload runs a service, and how it restarts and rolls out.
//!
//! | compose                                                   | Kubernetes                                   |
//! |-----------------------------------------------------------|----------------------------------------------|
//! | default                                                   | Deployment                                   |
//! | mounts a named volume only it uses                        | StatefulSet with a volumeClaimTemplate       |
//! | `deploy.mode: global`                                     | DaemonSet (named volumes refused)            |
//! | a one-shot task (see [`one_shot_services`])               | Job, restartPolicy Never, backoffLimit =     |
//! |                                                           | `max_attempts` (default 0)                   |

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment,
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::limits::MAX_REPLICAS;
use crate::compose::model::{ComposeFile, DependencyCondition, Deploy, DeployMode, FailureAction, Parsed, Restart, RestartCondition, Service, UpdateOrder};
use crate::compose::units;
use crate::object::{Object, WorkloadKind};
use crate::translate::context::ServiceContext;

/// How a service runs: its workload kind, replica count and restart behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    pub kind: WorkloadKind,
    pub replicas: i32,
    pub restart_policy: &'static str,
    pub backoff_limit: Option<i32>,
}

/// Why a service runs once to its end (a Job) rather than for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneShot {
    /// `deploy.mode: replicated-job`.
    JobMode,
    /// Another service waits for it with `condition: service_completed_successfully`.
    AwaitedCompletion,
    /// It asks never to be restarted and shows no sign of serving anything.
    NeverRestarted,
}

/// The service's `restart:`.
fn restart(service: &Service) -> Option<Restart> {
    service.restart.as_ref().and_then(Parsed::ok)
}

/// `deploy.restart_policy.condition`, which wins over `restart:` as in swarm.
fn restart_condition(service: &Service) -> Option<RestartCondition> {
    service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()).and_then(|p| p.condition.as_ref()).and_then(Parsed::ok)
}

/// Whether the service asks never to be restarted: `restart: "no"` or condition none.
fn never_restarted(service: &Service) -> bool {
    match restart_condition(service) {
        Some(condition) => condition == RestartCondition::None,
        None => restart(service) == Some(Restart::No),
    }
}

/// Whether the service asks to be restarted whatever happens (`restart: always`, condition any).
fn always_restarted(service: &Service) -> bool {
    match restart_condition(service) {
        Some(condition) => condition == RestartCondition::Any,
        None => matches!(restart(service), Some(Restart::Always | Restart::UnlessStopped)),
    }
}

/// The services that run once to their end, decided for the whole stack at once.
///
/// `restart: "no"` is Docker's default, so users write it on servers too, where it means
/// "do not restart my server", not "this is a task". A service is a one-shot task when it
/// says so (`replicated-job`), when a dependent waits for it to complete, or when it asks
/// never to be restarted and nothing says it serves: no ports, no healthcheck, and no
/// dependent waiting for it to start or be healthy. Any other service that asks never to
/// be restarted runs as a long-running workload, with a warning.
pub fn one_shot_services(file: &ComposeFile) -> BTreeMap<String, OneShot> {
    let mut awaited_completion = BTreeSet::new();
    let mut awaited_running = BTreeSet::new();
    for service in file.services.values() {
        for (target, dependency) in &service.depends_on {
            if dependency.condition.ok() == Some(DependencyCondition::CompletedSuccessfully) {
                awaited_completion.insert(target.as_str());
            } else {
                awaited_running.insert(target.as_str());
            }
        }
    }
    file.services
        .iter()
        .filter_map(|(name, service)| {
            let reason = match service.deploy_mode() {
                DeployMode::ReplicatedJob => OneShot::JobMode,
                DeployMode::Replicated => {
                    return one_shot_replicated(name, service, &awaited_completion, &awaited_running).map(|reason| (name.clone(), reason));
                }
                DeployMode::Global | DeployMode::GlobalJob => return None,
            };
            Some((name.clone(), reason))
        })
        .collect()
}

/// Why a replicated service runs once, if it does.
fn one_shot_replicated(name: &str, service: &Service, awaited_completion: &BTreeSet<&str>, awaited_running: &BTreeSet<&str>) -> Option<OneShot> {
    if awaited_completion.contains(name) && !always_restarted(service) {
        Some(OneShot::AwaitedCompletion)
    } else if never_restarted(service) && serves(service).is_none() && !awaited_running.contains(name) {
        Some(OneShot::NeverRestarted)
    } else {
        None
    }
}

/// What shows that a service serves others, for people: its first port or its healthcheck.
fn serves(service: &Service) -> Option<String> {
    if let Some(port) = service.ports.first() {
        return Some(format!("port {}", port.target));
    }
    if let Some(port) = service.expose.first() {
        return Some(format!("exposed port {}", port.text()));
    }
    service.healthcheck.as_ref().filter(|h| h.runs()).map(|_| "a healthcheck".to_string())
}

pub fn lifecycle(service: &Service, path: &Path, one_shot: Option<OneShot>, has_per_replica_claims: bool, report: &mut Report) -> Option<Lifecycle> {
    let deploy = service.deploy.clone().unwrap_or_default();
    let deploy_path = path.key("deploy");
    let replicas = replicas(service, &deploy, path, report)?;
    let restart_policy = deploy.restart_policy.clone().unwrap_or_default();
    let policy_path = deploy_path.key("restart_policy");

    let condition = restart_condition(service);
    let restart = restart(service);
    if restart.is_some() && condition.is_some() {
        report.warn(&path.key("restart"), "deploy.restart_policy is set too and takes precedence, as in swarm");
    }
    let asked_never = never_restarted(service);
    if asked_never && one_shot.is_none() {
        let source = if condition.is_some() { policy_path.key("condition") } else { path.key("restart") };
        let why = serves(service).map_or_else(|| "another service waits for it to start".to_string(), |what| format!("it serves ({what})"));
        report.warn(&source, format!(
            "never restart: {why}, so it runs as a long-running workload, which Kubernetes restarts when it exits; a task that should run once has no ports or healthcheck, or a dependent with condition service_completed_successfully"
        ));
    }
    let one_shot = one_shot.is_some();
    let on_failure = match condition {
        Some(condition) => condition == RestartCondition::OnFailure,
        None => matches!(restart, Some(Restart::OnFailure { .. })),
    };
    // Warnings name the key the user actually wrote: deploy.restart_policy wins over restart.
    let restart_source = if condition.is_some() { policy_path.key("condition") } else { path.key("restart") };
    let attempts_source = if restart_policy.max_attempts.is_some() { policy_path.key("max_attempts") } else { path.key("restart") };
    let max_attempts = restart_policy
        .max_attempts
        .as_ref()
        .and_then(Parsed::ok)
        .or(match restart {
            Some(Restart::OnFailure { max_attempts }) => max_attempts,
            _ => None,
        })
        .map(|m| m.min(1000) as i32);

    let kind = match service.deploy_mode() {
        DeployMode::Replicated if one_shot => WorkloadKind::Job,
        DeployMode::ReplicatedJob => WorkloadKind::Job,
        DeployMode::Replicated if has_per_replica_claims => WorkloadKind::StatefulSet,
        DeployMode::Replicated => WorkloadKind::Deployment,
        DeployMode::Global if has_per_replica_claims => {
            report.error(
                Diagnostic::new(deploy_path.key("mode"), "a global service cannot mount a named volume: each node's pod would need its own claim")
                    .with_hint("use a replicated service, or mark the volume `external: true` to share an existing ReadWriteMany claim"),
            );
            return None;
        }
        DeployMode::Global if one_shot => {
            report.error(
                Diagnostic::new(deploy_path.key("mode"), "a global one-shot service has no Kubernetes equivalent").with_hint("use deploy.mode: replicated-job"),
            );
            return None;
        }
        DeployMode::Global => WorkloadKind::DaemonSet,
        DeployMode::GlobalJob => {
            report.error(
                Diagnostic::new(deploy_path.key("mode"), "global-job (one run per node) has no Kubernetes equivalent")
                    .with_hint("use replicated-job with a replica count"),
            );
            return None;
        }
    };
    if kind == WorkloadKind::Job && has_per_replica_claims {
        report.error(
            Diagnostic::new(path.key("volumes"), "a one-shot service cannot own a named volume's claim")
                .with_hint("share the volume with a long-running service, or mark it external"),
        );
        return None;
    }
    if kind.long_running() {
        if on_failure {
            report.warn(&restart_source, "on-failure: Kubernetes restarts long-running containers on every exit, including exit 0");
        }
        if max_attempts.is_some() {
            report.warn(&attempts_source, "a retry limit: Kubernetes restarts long-running containers without limit (with back-off); ignored");
        }
    }
    for (key, value) in [("delay", &restart_policy.delay), ("window", &restart_policy.window)] {
        if value.is_some() {
            report.warn(&policy_path.key(key), "restart timing is the kubelet's exponential back-off; ignored");
        }
    }
    Some(Lifecycle {
        kind,
        replicas,
        restart_policy: if kind.long_running() { "Always" } else { "Never" },
        backoff_limit: (!kind.long_running()).then(|| max_attempts.unwrap_or(0)),
    })
}

fn replicas(service: &Service, deploy: &Deploy, path: &Path, report: &mut Report) -> Option<i32> {
    let from_deploy = deploy.replicas.as_ref().map(Parsed::ok);
    let from_scale = service.scale.as_ref().map(Parsed::ok);
    if let (Some(Some(a)), Some(Some(b))) = (from_deploy, from_scale)
        && a != b
    {
        report.warn(&path.key("scale"), "deploy.replicas is set too and takes precedence");
    }
    let replicas = match (from_deploy, from_scale) {
        (Some(value), _) | (None, Some(value)) => value?,
        (None, None) => 1,
    };
    if replicas > MAX_REPLICAS {
        report.error(Diagnostic::new(path.key("deploy").key("replicas"), format!("{replicas} replicas is more than this operator accepts ({MAX_REPLICAS})")));
        return None;
    }
    Some(replicas as i32)
}

/// Kubernetes' default `progressDeadlineSeconds` for Deployments.
const DEFAULT_PROGRESS_DEADLINE: i32 = 600;

/// `deploy.update_config` → rolling-update parameters shared by the workload kinds.
struct Rollout {
    max_surge: Option<IntOrString>,
    max_unavailable: Option<IntOrString>,
    min_ready_seconds: Option<i32>,
    progress_deadline_seconds: Option<i32>,
}

fn rollout(deploy: Option<&Deploy>, path: &Path, report: &mut Report) -> Rollout {
    let path = path.key("deploy").key("update_config");
    let Some(update) = deploy.and_then(|d| d.update_config.as_ref()) else {
        return Rollout { max_surge: None, max_unavailable: None, min_ready_seconds: None, progress_deadline_seconds: None };
    };
    // Swarm's parallelism 0 means "all at once".
    let parallelism = match update.parallelism.as_ref().and_then(Parsed::ok).unwrap_or(1) {
        0 => IntOrString::String("100%".into()),
        n => IntOrString::Int(n.min(i32::MAX as u32) as i32),
    };
    let (max_surge, max_unavailable) = match update.order.as_ref().and_then(Parsed::ok).unwrap_or_default() {
        UpdateOrder::StopFirst => (IntOrString::Int(0), parallelism),
        UpdateOrder::StartFirst => (parallelism, IntOrString::Int(0)),
    };
    let seconds = |value: &Option<Parsed<Duration>>| value.as_ref().and_then(Parsed::ok).map(|d| units::ceil_seconds(d).min(i64::from(i32::MAX)) as i32);
    let min_ready_seconds = seconds(&update.delay).filter(|s| *s > 0);
    let monitor = seconds(&update.monitor).filter(|s| *s > 0);
    match update.failure_action.as_ref().and_then(Parsed::ok) {
        None | Some(FailureAction::Pause | FailureAction::Continue) => {}
        Some(FailureAction::Rollback) => report.warn(&path.key("failure_action"), "Kubernetes marks a stuck rollout as failed after progressDeadlineSeconds but does not roll back by itself; roll back with `kubectl rollout undo` or by reverting the stack"),
    }
    if update.max_failure_ratio.is_some() {
        report.warn(&path.key("max_failure_ratio"), "Kubernetes has no failure ratio for rollouts; ignored");
    }
    // The deadline must exceed minReadySeconds or the API server refuses the Deployment;
    // a long `delay` without `monitor` keeps the default deadline's 600 s of margin.
    let min_ready = min_ready_seconds.unwrap_or(0);
    let progress_deadline_seconds = match monitor {
        Some(monitor) => Some(monitor.max(min_ready.saturating_add(1))),
        None if min_ready >= DEFAULT_PROGRESS_DEADLINE => Some(min_ready.saturating_add(DEFAULT_PROGRESS_DEADLINE)),
        None => None,
    };
    Rollout { max_surge: Some(max_surge), max_unavailable: Some(max_unavailable), min_ready_seconds, progress_deadline_seconds }
}

pub struct WorkloadInput<'a> {
    pub context: &'a ServiceContext<'a>,
    pub lifecycle: &'a Lifecycle,
    pub metadata: ObjectMeta,
    pub selector: BTreeMap<String, String>,
    pub template: PodTemplateSpec,
    pub claim_templates: Vec<PersistentVolumeClaim>,
}

pub fn workload(input: WorkloadInput, report: &mut Report) -> Object {
    let WorkloadInput { context, lifecycle, metadata, selector, template, claim_templates } = input;
    let &ServiceContext { name, service, ref path, target, .. } = context;
    // `spec.volumes.retainOnDelete`: whether claims outlive their StatefulSet.
    let retain_claims = target.retain_volumes;
    let selector = LabelSelector { match_labels: Some(selector), ..Default::default() };
    let rollout = rollout(service.deploy.as_ref(), path, report);
    match lifecycle.kind {
        WorkloadKind::Deployment => Object::Deployment(Deployment {
            metadata,
            spec: DeploymentSpec {
                replicas: Some(lifecycle.replicas),
                selector,
                template,
                min_ready_seconds: rollout.min_ready_seconds,
                progress_deadline_seconds: rollout.progress_deadline_seconds,
                strategy: rollout.max_unavailable.is_some().then(|| DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment { max_surge: rollout.max_surge, max_unavailable: rollout.max_unavailable }),
                }),
                ..Default::default()
            },
            ..Default::default()
        }),
        WorkloadKind::StatefulSet => {
            if rollout.max_surge.as_ref().is_some_and(|s| *s != IntOrString::Int(0)) {
                report.warn(
                    &path.key("deploy").key("update_config").key("order"),
                    "StatefulSet pods keep their identity and storage, so they are replaced one at a time, stop-first",
                );
            }
            Object::StatefulSet(StatefulSet {
                metadata,
                spec: StatefulSetSpec {
                    replicas: Some(lifecycle.replicas),
                    service_name: Some(name.to_string()),
                    selector,
                    template,
                    volume_claim_templates: Some(claim_templates),
                    persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                        when_deleted: Some(if retain_claims { "Retain" } else { "Delete" }.to_string()),
                        // Scaling down keeps data, as removing a swarm task keeps its volume.
                        when_scaled: Some("Retain".to_string()),
                    }),
                    min_ready_seconds: rollout.min_ready_seconds,
                    ..Default::default()
                },
                ..Default::default()
            })
        }
        WorkloadKind::DaemonSet => Object::DaemonSet(DaemonSet {
            metadata,
            spec: DaemonSetSpec {
                selector,
                template,
                min_ready_seconds: rollout.min_ready_seconds,
                update_strategy: rollout.max_unavailable.is_some().then(|| DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDaemonSet { max_surge: rollout.max_surge, max_unavailable: rollout.max_unavailable }),
                }),
                ..Default::default()
            },
            ..Default::default()
        }),
        WorkloadKind::Job => Object::Job(Job {
            metadata,
            spec: Some(JobSpec {
                completions: Some(lifecycle.replicas),
                parallelism: Some(lifecycle.replicas),
                backoff_limit: lifecycle.backoff_limit,
                template,
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}
