//! One reconcile of one ComposeStack: translate the whole stack first (an invalid stack
//! changes nothing), refuse to touch objects it does not own, apply what `depends_on`
//! allows, prune what the stack no longer declares, then report.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use super::cluster::{Cluster, ClusterError};
use super::context::Context;
use super::events;
use super::gate;
use super::live::{Live, controller_of};
use super::progress::{Progress, pod_problem};
use super::status::{self, Assessment, Problem, holding};
use crate::api::{ComposeStack, ComposeStackStatus, FIELD_MANAGER, GROUP, ServiceStatus};
use crate::build::{self, Object, Translation, names, project_files};
use k8s_openapi::api::core::v1::Pod;

/// How soon a stack blocked by someone else's object looks again: that object's removal
/// sends no event the operator watches.
const CONFLICT_RETRY: Duration = Duration::from_secs(30);
/// The pod-template fingerprint of a Job, whose template cannot change in place.
pub const JOB_TEMPLATE_HASH: &str = "compose-operator.dev/template-hash";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
    #[error("the ComposeStack has no {0}")]
    Incomplete(&'static str),
}

/// What changed in the cluster, for Events.
#[derive(Debug, Default)]
pub struct Changes {
    pub applied: Vec<String>,
    pub pruned: Vec<String>,
}

#[instrument(skip_all, fields(stack = %stack.name_any(), namespace = stack.namespace().unwrap_or_default()))]
pub async fn reconcile(stack: Arc<ComposeStack>, context: Arc<Context>) -> Result<Action, Error> {
    if stack.metadata.deletion_timestamp.is_some() {
        // Owner references hand the children to the garbage collector.
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let namespace = stack.namespace().ok_or(Error::Incomplete("namespace"))?;
    let cluster = Cluster::new(context.client.clone(), &namespace);
    let result = converge(&stack, &cluster, &context).await;
    context.metrics.observe_reconcile(started.elapsed(), &result);
    let (assessment, changes) = result?;

    let previous = stack.status.clone().unwrap_or_default();
    let retry = match &assessment.problem {
        Some(problem) if problem.reason == Problem::INVALID_COMPOSE => Action::await_change(),
        Some(problem) if problem.reason == Problem::CONFLICT => Action::requeue(CONFLICT_RETRY),
        _ => Action::requeue(context.requeue),
    };
    let next = status::status(&previous, stack.metadata.generation, assessment, Time(Timestamp::now()));
    events::publish(&context.recorder, &stack, &previous, &next, &changes).await;
    if next != previous {
        write_status(&stack, &context, &next).await?;
    }
    info!(phase = next.phase.as_deref().unwrap_or_default(), ready = next.ready_services.as_deref().unwrap_or_default(), "reconciled");
    Ok(retry)
}

async fn converge(stack: &ComposeStack, cluster: &Cluster, context: &Context) -> Result<(Assessment, Changes), Error> {
    let name = stack.name_any();
    let namespace = stack.namespace().unwrap_or_default();
    let uid = stack.uid().ok_or(Error::Incomplete("uid"))?;
    let translation = match build::translate(&name, &namespace, &stack.spec, &context.policy) {
        Ok(translation) => translation,
        Err(errors) => {
            let problem = Problem { reason: Problem::INVALID_COMPOSE, message: format!("the compose document was not applied: {errors}") };
            return Ok((Assessment { problem: Some(problem), ..Default::default() }, Changes::default()));
        }
    };
    let warnings = translation.warnings.iter().map(ToString::to_string).collect();
    let mut live = cluster.owned(&name, &uid).await?;
    let mut changes = Changes::default();

    if stack.spec.suspended() {
        suspend(cluster, &live, &mut changes).await?;
        let services = translation
            .services
            .iter()
            .map(|plan| ServiceStatus { name: plan.compose_name.clone(), kind: plan.kind.as_str().into(), ..Default::default() })
            .collect();
        return Ok((Assessment { services: Some(services), warnings: Some(warnings), suspended: true, problem: None }, changes));
    }

    let mut owner = stack.controller_owner_ref(&()).ok_or(Error::Incomplete("uid"))?;
    // Foreground deletion of the stack then waits for its children.
    owner.block_owner_deletion = Some(true);
    let desired = desired_objects(&translation, &owner, stack.spec.retain_volumes());
    if let Some(conflict) = find_conflict(cluster, &desired, &live).await? {
        let problem = Problem { reason: Problem::CONFLICT, message: conflict };
        return Ok((Assessment { problem: Some(problem), warnings: Some(warnings), ..Default::default() }, changes));
    }

    let waiting = gate::waiting(&translation.services, &live);
    let held_back: BTreeSet<(&str, &str)> = translation
        .services
        .iter()
        .filter(|plan| waiting.contains_key(&plan.name))
        .flat_map(|plan| plan.objects.iter().map(|o| (o.kind(), o.name())))
        .collect();
    let released: Vec<&Object> = desired.iter().filter(|o| !held_back.contains(&(o.kind(), o.name()))).collect();
    if needs_dry_run(stack) {
        // The API server judges every object before the first write, so a stack it would
        // refuse halfway is not half-applied.
        for object in released.iter().filter(|o| !(matches!(o, Object::Job(_)) && live.get("Job", o.name()).is_some())) {
            match cluster.dry_run(object).await {
                Ok(_) => {}
                Err(error) if error.is_permanent() => {
                    return Ok((Assessment { problem: Some(rejected(object, &error)), warnings: Some(warnings), ..Default::default() }, changes));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    for object in released {
        if let Err(problem) = apply_one(cluster, object, &mut live, &mut changes).await? {
            return Ok((Assessment { problem: Some(problem), warnings: Some(warnings), ..Default::default() }, changes));
        }
    }
    prune(cluster, &desired, &mut live, stack.spec.retain_volumes(), &mut changes).await?;

    let mut services = Vec::new();
    let mut problem = None;
    for plan in &translation.services {
        let not_yet = |message: &str| ServiceStatus {
            name: plan.compose_name.clone(),
            kind: plan.kind.as_str().into(),
            message: Some(message.to_string()),
            ..Default::default()
        };
        services.push(match (waiting.get(&plan.name), live.get(plan.kind.as_str(), &plan.name)) {
            (Some(reason), _) => not_yet(reason),
            (None, Some(workload)) => {
                let progress = Progress::of(workload);
                if let (None, Some(failure)) = (&problem, &progress.failure) {
                    let message = format!("{}: {failure}; change the stack or delete the Job to run it again", plan.compose_name);
                    problem = Some(Problem { reason: Problem::JOB_FAILED, message });
                }
                progress.into_status(&plan.compose_name, plan.kind.as_str())
            }
            (None, None) => not_yet("being created"),
        });
    }
    explain_with_pods(cluster, &name, &translation, &mut services).await?;
    Ok((Assessment { services: Some(services), warnings: Some(warnings), problem, suspended: false }, changes))
}

/// The translation as apply bodies: owned by the stack (claims only when they go with it),
/// in the order pods need them, Jobs fingerprinted.
fn desired_objects(translation: &Translation, owner: &OwnerReference, retain_claims: bool) -> Vec<Object> {
    let mut objects: Vec<Object> = translation.objects().cloned().collect();
    for object in &mut objects {
        let is_retained_claim = matches!(object, Object::PersistentVolumeClaim(_)) && retain_claims;
        if !is_retained_claim {
            object.metadata_mut().owner_references = Some(vec![owner.clone()]);
        }
        if let Object::Job(job) = object {
            let fingerprint = project_files::fingerprint(serde_json::to_string(&job.spec).unwrap_or_default().as_bytes());
            job.metadata.annotations.get_or_insert_default().insert(JOB_TEMPLATE_HASH.into(), fingerprint);
        }
    }
    objects.sort_by_key(Object::kind_rank);
    objects
}

/// The first desired object whose name is taken by an object the stack does not own.
async fn find_conflict(cluster: &Cluster, desired: &[Object], live: &Live) -> Result<Option<String>, ClusterError> {
    for object in desired {
        if live.get(object.kind(), object.name()).is_some() {
            continue;
        }
        if let Some(existing) = cluster.find(object.kind(), object.name()).await? {
            let owner = match controller_of(&existing) {
                Some(owner) => format!("{} {}", owner.kind, owner.name),
                None => "no controller".to_string(),
            };
            return Ok(Some(format!(
                "{} already exists and is not part of this stack (owned by {owner}); it was left untouched and nothing was applied. Rename the compose service or remove that object",
                object.reference()
            )));
        }
    }
    Ok(None)
}

/// Applies one object, or says why the API server will never take it.
async fn apply_one(cluster: &Cluster, object: &Object, live: &mut Live, changes: &mut Changes) -> Result<Result<(), Problem>, ClusterError> {
    let existing = live.get(object.kind(), object.name());
    if let (Object::Job(_), Some(existing)) = (object, existing) {
        let hash = |o: &Object| o.metadata().annotations.as_ref().and_then(|a| a.get(JOB_TEMPLATE_HASH)).cloned();
        if hash(existing) == hash(object) {
            // A Job's template cannot change and a finished Job must not rerun: leave it.
            return Ok(Ok(()));
        }
        // Recreated once the garbage collector has removed it (its deletion wakes us).
        cluster.delete("Job", object.name()).await?;
        live.forget("Job", object.name());
        changes.pruned.push(format!("{} (changed; recreated)", object.reference()));
        return Ok(Ok(()));
    }
    let before = existing.and_then(|o| o.metadata().resource_version.clone());
    match cluster.apply(object).await {
        Ok(stored) => {
            if stored.metadata().resource_version != before {
                debug!(object = %object.reference(), "applied a change");
                changes.applied.push(object.reference());
            }
            live.record(stored);
            Ok(Ok(()))
        }
        Err(error) if error.is_permanent() => Ok(Err(rejected(object, &error))),
        Err(error) => Err(error),
    }
}

/// Adds to each service that is not ready what its pods say, when one is stuck (a pod the
/// scheduler cannot place, an image that cannot be pulled, a crash loop). One list call.
async fn explain_with_pods(cluster: &Cluster, stack: &str, translation: &Translation, services: &mut [ServiceStatus]) -> Result<(), ClusterError> {
    if services.iter().all(|s| s.ready || s.desired_replicas.is_none()) {
        return Ok(());
    }
    let pods = cluster.pods(stack).await?;
    for (plan, status) in translation.services.iter().zip(services.iter_mut()).filter(|(_, s)| !s.ready && s.desired_replicas.is_some()) {
        let own: Vec<&Pod> = pods.iter().filter(|p| p.metadata.labels.as_ref().and_then(|l| l.get(names::SERVICE)) == Some(&plan.name)).collect();
        if let Some(problem) = pod_problem(&own) {
            status.message = Some(match status.message.take() {
                Some(message) => format!("{message}; {problem}"),
                None => problem,
            });
        }
    }
    Ok(())
}

fn rejected(object: &Object, error: &ClusterError) -> Problem {
    warn!(object = %object.reference(), %error, "the API server refused an object");
    Problem { reason: Problem::REJECTED, message: format!("the API server refused {}: {error}", object.reference()) }
}

/// Worth a dry run of every object: the spec changed since the last status, or the API
/// server refused the last attempt (a stalled Job or a name conflict say nothing of that).
fn needs_dry_run(stack: &ComposeStack) -> bool {
    let status = stack.status.as_ref();
    let refused = status.and_then(|s| holding(s, "Stalled")).is_some_and(|c| c.reason == Problem::REJECTED);
    status.and_then(|s| s.observed_generation) != stack.metadata.generation || refused
}

/// Deletes what the stack owns but no longer declares; a workload whose kind changed goes too.
async fn prune(cluster: &Cluster, desired: &[Object], live: &mut Live, retain_claims: bool, changes: &mut Changes) -> Result<(), ClusterError> {
    let wanted: BTreeSet<(&str, &str)> = desired.iter().map(|o| (o.kind(), o.name())).collect();
    let unwanted: Vec<(&'static str, String)> = live
        .objects()
        .iter()
        .filter(|o| !wanted.contains(&(o.kind(), o.name())))
        // Claims hold data: none goes while retainOnDelete is set, nor one kept earlier (it
        // carries no owner reference, whatever the setting is now).
        .filter(|o| !matches!(o, Object::PersistentVolumeClaim(_)) || (!retain_claims && controller_of(o).is_some()))
        .map(|o| (o.kind(), o.name().to_string()))
        .collect();
    for (kind, name) in unwanted {
        cluster.delete(kind, &name).await?;
        live.forget(kind, &name);
        changes.pruned.push(format!("{kind}/{name}"));
    }
    Ok(())
}

/// Scales Deployments and StatefulSets to zero and removes DaemonSets (they cannot scale);
/// Jobs run to their end. Resuming applies the stack as usual.
async fn suspend(cluster: &Cluster, live: &Live, changes: &mut Changes) -> Result<(), ClusterError> {
    for object in live.objects() {
        let replicas = match object {
            Object::Deployment(d) => d.spec.replicas,
            Object::StatefulSet(s) => s.spec.replicas,
            Object::DaemonSet(_) => {
                cluster.delete("DaemonSet", object.name()).await?;
                changes.pruned.push(format!("{} (suspended)", object.reference()));
                continue;
            }
            _ => continue,
        };
        if replicas != Some(0) {
            cluster.scale(object.kind(), object.name(), 0).await?;
            changes.applied.push(format!("{} scaled to 0 (suspended)", object.reference()));
        }
    }
    Ok(())
}

async fn write_status(stack: &ComposeStack, context: &Context, status: &ComposeStackStatus) -> Result<(), Error> {
    let api: Api<ComposeStack> = Api::namespaced(context.client.clone(), &stack.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "ComposeStack",
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&stack.name_any(), &params, &Patch::Apply(&body)).await.map_err(Error::Status)?;
    Ok(())
}
