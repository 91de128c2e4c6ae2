//! One reconcile of one ComposeStack: translate the whole stack first (an invalid stack
//! changes nothing), refuse to touch objects it does not own, apply what `depends_on`
//! allows and what changed since the last apply, prune what the stack no longer declares,
//! then report. Reads come from the watch-fed caches: a reconcile that finds nothing changed
//! sends no request at all.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use super::annotations::{FINGERPRINT, JOB_TEMPLATE_HASH};
use super::cache::Cached;
use super::cluster::Cluster;
use super::context::Context;
use super::error::{ClusterError, Error};
use super::events::{self, Changes};
use super::gate;
use super::live::{Live, controller_of};
use super::metrics::Outcome;
use super::pods::{PodState, failed_container, pod_problem};
use super::status::{self, Assessment, MAX_MESSAGE, Problem, holding, listed_of, truncate};
use crate::api::{ComposeStack, ComposeStackStatus, FIELD_MANAGER, GROUP, ServiceStatus};
use crate::object::{Kind, Object, ObjectRef};
use crate::translate::{ServicePlan, Translation, project_files};

/// How soon a stack blocked by someone else's object looks again: that object's removal
/// sends no event the operator watches.
const CONFLICT_RETRY: Duration = Duration::from_secs(30);
/// How soon a stack looks again while the caches have not finished their first list.
const CACHES_SYNCING_RETRY: Duration = Duration::from_secs(1);
/// The log keeps this much of a refused stack's errors; the status keeps [`MAX_MESSAGE`].
const MAX_LOGGED: usize = 64 * 1024;

#[instrument(skip_all, fields(stack = %stack.name_any(), namespace = stack.namespace().unwrap_or_default()))]
pub async fn reconcile(stack: Arc<ComposeStack>, context: Arc<Context>) -> Result<Action, Error> {
    if stack.metadata.deletion_timestamp.is_some() {
        // Owner references hand the children to the garbage collector.
        return Ok(Action::await_change());
    }
    if !context.caches.synced() {
        // Before every watch has listed once, an absent object may just not be listed yet.
        return Ok(Action::requeue(CACHES_SYNCING_RETRY));
    }
    let started = Instant::now();
    let result = converge_and_report(stack, &context).await;
    let outcome = match &result {
        Ok((_, true)) => Outcome::Stalled,
        Ok((_, false)) => Outcome::Ok,
        Err(_) => Outcome::Error,
    };
    context.shared.metrics.observe_reconcile(started.elapsed(), outcome, result.as_ref().err());
    result.map(|(action, _)| action)
}

/// The next action, and whether the stack is stalled.
async fn converge_and_report(stack: Arc<ComposeStack>, context: &Context) -> Result<(Action, bool), Error> {
    let namespace = stack.namespace().ok_or(Error::Incomplete("namespace"))?;
    let cluster = Cluster::new(context.shared.client.clone(), &namespace);
    let (assessment, changes) = converge(&stack, &cluster, context).await?;

    let previous = stack.status.clone().unwrap_or_default();
    let retry = match &assessment.problem {
        Some(problem) if [Problem::INVALID_COMPOSE, Problem::TRANSLATION_FAILED].contains(&problem.reason) => Action::await_change(),
        Some(problem) if problem.reason == Problem::CONFLICT => Action::requeue(CONFLICT_RETRY),
        _ => Action::requeue(context.shared.requeue),
    };
    let stalled = assessment.problem.is_some();
    let next = status::status(&previous, stack.metadata.generation, assessment, Time(Timestamp::now()));
    events::publish(&context.shared.recorder, &stack, &previous, &next, &changes).await;
    if next != previous {
        write_status(&stack, context, &next).await?;
    }
    info!(phase = next.phase.as_deref().unwrap_or_default(), ready = next.ready_services.as_deref().unwrap_or_default(), "reconciled");
    Ok((retry, stalled))
}

/// The translation of this generation of the stack, run on the blocking pool (it is CPU work
/// whose cost the input decides), or why there is none. A refused generation is remembered,
/// so that its children's events do not translate it again and again.
async fn translated(stack: &Arc<ComposeStack>, context: &Context) -> Result<Translation, Problem> {
    let uid = stack.uid().unwrap_or_default();
    let generation = stack.metadata.generation;
    let namespace = stack.namespace().unwrap_or_default();
    let target = crate::pipeline::NamespaceSettings { pod_security: context.caches.namespaces.of(&namespace) };
    let level = target.pod_security;
    if let Some(problem) = context.refusal(&uid, generation, level) {
        return Err(problem);
    }
    let outcome = {
        let _permit = context.shared.translations.acquire().await;
        let (stack, shared) = (stack.clone(), context.shared.clone());
        tokio::task::spawn_blocking(move || crate::pipeline::translate_for(&stack.name_any(), &namespace, &target, &stack.spec, &shared.policy)).await
    };
    let result = match outcome {
        Ok(Ok(translation)) => Ok(translation),
        Ok(Err(diagnostics)) => {
            let mut errors: Vec<String> = diagnostics.0.iter().map(ToString::to_string).collect();
            warn!(errors = errors.len(), detail = %truncate(&errors.join("\n"), MAX_LOGGED), "the compose document was refused");
            // The translation keeps the first errors and ends with how many more there were.
            let uncounted = errors.last().and_then(|last| last.strip_prefix("(document): and ")?.strip_suffix(" more errors")?.parse().ok());
            if uncounted.is_some() {
                errors.pop();
            }
            const PREFIX: &str = "the compose document was not applied: ";
            let message = listed_of(&errors, uncounted.unwrap_or(0), "\n", MAX_MESSAGE - PREFIX.len());
            Err(Problem::new(Problem::INVALID_COMPOSE, format!("{PREFIX}{message}")))
        }
        Err(failure) => {
            tracing::error!(error = %failure, "the translation failed");
            let message =
                "the translation failed unexpectedly (a bug in compose-operator: the operator's log has the details); it is tried again when the stack changes";
            Err(Problem::new(Problem::TRANSLATION_FAILED, message))
        }
    };
    context.remember_refusal(&uid, generation, level, result.as_ref().err());
    result
}

/// One reconcile's view and writes: where, whose, and what it changed.
struct Pass<'a> {
    cluster: &'a Cluster,
    context: &'a Context,
    namespace: String,
    stack: String,
    uid: String,
    live: Live,
    changes: Changes,
}

async fn converge(stack: &Arc<ComposeStack>, cluster: &Cluster, context: &Context) -> Result<(Assessment, Changes), Error> {
    let uid = stack.uid().ok_or(Error::Incomplete("uid"))?;
    let translation = match translated(stack, context).await {
        Ok(translation) => translation,
        Err(problem) => return Ok((Assessment { problem: Some(problem), ..Default::default() }, Changes::default())),
    };
    let warnings = translation.warnings.iter().map(ToString::to_string).collect();
    let mut pass = Pass::new(stack, cluster, context, uid);

    if stack.spec.suspended() {
        pass.suspend().await?;
        let services =
            translation.services.iter().map(|plan| ServiceStatus { name: plan.compose_name.clone(), kind: plan.kind, ..Default::default() }).collect();
        return Ok((Assessment { services: Some(services), warnings: Some(warnings), suspended: true, problem: None }, pass.changes));
    }

    let mut owner = stack.controller_owner_ref(&()).ok_or(Error::Incomplete("uid"))?;
    // Foreground deletion of the stack then waits for its children.
    owner.block_owner_deletion = Some(true);
    let desired = desired_objects(&translation, &owner, stack.spec.retain_volumes());
    let waiting = gate::waiting(&translation.services, &pass.live);
    let held_back: BTreeSet<(Kind, &str)> =
        translation.services.iter().filter(|plan| waiting.contains_key(&plan.name)).flat_map(ServicePlan::object_names).collect();
    let writes: Vec<&Object> = desired.iter().filter(|o| !held_back.contains(&(o.kind(), o.name())) && pass.needs_write(o)).collect();
    // Only names about to be written are looked up: a service held back by depends_on would
    // otherwise be looked up on every pass while it waits.
    if let Some(conflict) = pass.find_conflict(&writes).await? {
        let problem = Problem::new(Problem::CONFLICT, conflict);
        return Ok((Assessment { problem: Some(problem), warnings: Some(warnings), ..Default::default() }, pass.changes));
    }
    if needs_dry_run(stack) {
        // The API server judges every object before the first write, so a stack it would
        // refuse halfway is not half-applied.
        for object in writes.iter().filter(|o| pass.live.get(o.kind(), o.name()).is_none() || o.kind() != Kind::Job) {
            match cluster.dry_run(object).await {
                Ok(()) => {}
                Err(error) if error.is_permanent() => {
                    return Ok((Assessment { problem: Some(rejected(object, &error)), warnings: Some(warnings), ..Default::default() }, pass.changes));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    for object in writes {
        if let Err(problem) = pass.write(object).await? {
            return Ok((Assessment { problem: Some(problem), warnings: Some(warnings), ..Default::default() }, pass.changes));
        }
    }
    pass.prune(&desired, stack.spec.retain_volumes()).await?;
    let desired_names: BTreeSet<(Kind, &str)> = desired.iter().map(|o| (o.kind(), o.name())).collect();
    context.ledger.retain(&pass.namespace, &pass.stack, |kind, name| desired_names.contains(&(kind, name)));

    let mut services = Vec::new();
    let mut problem = None;
    for plan in &translation.services {
        let not_yet =
            |message: &str| ServiceStatus { name: plan.compose_name.clone(), kind: plan.kind, message: Some(message.to_string()), ..Default::default() };
        let workload = pass.live.get(plan.kind.into(), &plan.name).and_then(Cached::workload);
        services.push(match (waiting.get(&plan.name), workload) {
            (Some(reason), _) => not_yet(reason),
            (None, Some(workload)) => {
                let progress = workload.progress.clone();
                if let (None, Some(failure)) = (&problem, &progress.failure) {
                    let exit =
                        failed_container(&pass.pods_of(&plan.name).iter().map(Arc::as_ref).collect::<Vec<_>>()).map(|e| format!(" ({e})")).unwrap_or_default();
                    let message = format!("{}: {failure}{exit}; change the stack or delete the Job to run it again", plan.compose_name);
                    problem = Some(Problem::new(Problem::JOB_FAILED, message));
                }
                progress.into_status(&plan.compose_name, plan.kind)
            }
            (None, None) => not_yet("being created"),
        });
    }
    pass.explain_with_pods(&translation, &mut services);
    Ok((Assessment { services: Some(services), warnings: Some(warnings), problem, suspended: false }, pass.changes))
}

/// The translation as apply bodies: owned by the stack (claims only when they go with it),
/// in the order pods need them, Jobs fingerprinted by template, every object by its whole
/// desired state.
fn desired_objects(translation: &Translation, owner: &OwnerReference, retain_claims: bool) -> Vec<Object> {
    let mut objects: Vec<Object> = translation.objects().map(ObjectRef::to_object).collect();
    for object in &mut objects {
        let is_retained_claim = object.kind() == Kind::PersistentVolumeClaim && retain_claims;
        if !is_retained_claim {
            object.metadata_mut().owner_references = Some(vec![owner.clone()]);
        }
        if let Object::Job(job) = object {
            let fingerprint = project_files::fingerprint(serde_json::to_string(&job.spec).unwrap_or_default().as_bytes());
            job.metadata.annotations.get_or_insert_default().insert(JOB_TEMPLATE_HASH.into(), fingerprint);
        }
        let fingerprint = project_files::fingerprint(serde_json::to_string(&object.to_json()).unwrap_or_default().as_bytes());
        object.metadata_mut().annotations.get_or_insert_default().insert(FINGERPRINT.into(), fingerprint);
    }
    objects.sort_by_key(Object::kind);
    objects
}

fn annotation<'a>(metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

impl<'a> Pass<'a> {
    fn new(stack: &ComposeStack, cluster: &'a Cluster, context: &'a Context, uid: String) -> Pass<'a> {
        let (namespace, name) = (stack.namespace().unwrap_or_default(), stack.name_any());
        let labelled = context.caches.of_stack(&namespace, &name);
        let shown: BTreeSet<(Kind, &str, &str)> = labelled.iter().map(|o| (o.kind(), o.name(), o.metadata().uid.as_deref().unwrap_or_default())).collect();
        context.ledger.settle(&namespace, &name, |kind, name, uid| shown.contains(&(kind, name, uid)));
        let live = Live::owned_by(&uid, labelled.clone(), |object| context.ledger.is_deleted(&namespace, &name, object));
        Pass { cluster, context, namespace, stack: name, uid, live, changes: Changes::default() }
    }

    /// The first desired object whose name is taken by an object the stack does not own. Only
    /// names the caches do not show as ours are looked up.
    async fn find_conflict(&self, writes: &[&Object]) -> Result<Option<String>, ClusterError> {
        for object in writes {
            let (kind, name) = (object.kind(), object.name());
            if self.live.get(kind, name).is_some()
                || self.live.is_going(kind, name)
                || self.context.ledger.applied_by_us(&self.namespace, &self.stack, kind, name)
            {
                continue;
            }
            let Some(existing) = self.cluster.find(kind, name).await? else { continue };
            let owner = match controller_of(&existing) {
                // Ours, applied by an earlier pass; the cache has not seen it yet.
                Some(owner) if owner.uid == self.uid => continue,
                Some(owner) => format!("{} {}", owner.kind, owner.name),
                None => "no controller".to_string(),
            };
            return Ok(Some(format!(
                "{} already exists and is not part of this stack (owned by {owner}); it was left untouched and nothing was applied. Rename the compose service or remove that object",
                object.reference()
            )));
        }
        Ok(None)
    }

    /// The object differs from what the cluster has, as far as the caches and the ledger know.
    fn needs_write(&self, object: &Object) -> bool {
        let (kind, name) = (object.kind(), object.name());
        if self.live.is_going(kind, name) {
            // Deleted by us; its deletion event brings the next pass, which re-creates it.
            return false;
        }
        let Some(existing) = self.live.get(kind, name) else { return true };
        if kind == Kind::Job {
            // A Job's template cannot change and a finished Job must not rerun: only a changed
            // template makes a difference (the Job is then deleted and created again).
            return annotation(existing.metadata(), JOB_TEMPLATE_HASH) != annotation(object.metadata(), JOB_TEMPLATE_HASH);
        }
        let fingerprint = annotation(object.metadata(), FINGERPRINT).unwrap_or_default();
        !self.context.ledger.unchanged(&self.namespace, &self.stack, existing, fingerprint)
    }

    /// Applies one object (a changed Job: deletes it, to be created again once gone), or says
    /// why the API server will never take it.
    async fn write(&mut self, object: &Object) -> Result<Result<(), Problem>, ClusterError> {
        let (kind, name) = (object.kind(), object.name());
        let existing = self.live.get(kind, name).cloned();
        if let (Kind::Job, Some(existing)) = (kind, &existing) {
            self.cluster.delete(kind, name).await?;
            self.context.ledger.record_delete(&self.namespace, &self.stack, existing);
            self.live.forget(kind, name);
            self.changes.pruned.push(format!("{} (changed; recreated)", object.reference()));
            return Ok(Ok(()));
        }
        match self.cluster.apply(object).await {
            Ok(stored) => {
                let fingerprint = annotation(object.metadata(), FINGERPRINT).unwrap_or_default();
                // An apply the API server did not store keeps the version the cache or the
                // ledger already knew.
                let known = existing.as_ref().and_then(|o| o.metadata().resource_version.clone());
                let new_version = self.context.ledger.record_apply(&self.namespace, &self.stack, &stored, fingerprint);
                if new_version && stored.metadata().resource_version != known {
                    debug!(object = %object.reference(), "applied a change");
                    self.changes.applied.push(object.reference());
                }
                self.live.record(stored);
                Ok(Ok(()))
            }
            Err(error) if error.is_permanent() => Ok(Err(rejected(object, &error))),
            Err(error) => Err(error),
        }
    }

    /// Deletes what the stack owns but no longer declares; a workload whose kind changed goes too.
    async fn prune(&mut self, desired: &[Object], retain_claims: bool) -> Result<(), ClusterError> {
        let wanted: BTreeSet<(Kind, &str)> = desired.iter().map(|o| (o.kind(), o.name())).collect();
        let unwanted: Vec<Cached> = self
            .live
            .objects()
            .filter(|o| !wanted.contains(&(o.kind(), o.name())))
            // Claims hold data: none goes while retainOnDelete is set, nor one kept earlier (it
            // carries no owner reference, whatever the setting is now).
            .filter(|o| o.kind() != Kind::PersistentVolumeClaim || (!retain_claims && controller_of(o).is_some()))
            .cloned()
            .collect();
        for object in unwanted {
            self.delete(&object, format!("{}/{}", object.kind(), object.name())).await?;
        }
        Ok(())
    }

    async fn delete(&mut self, object: &Cached, note: String) -> Result<(), ClusterError> {
        self.cluster.delete(object.kind(), object.name()).await?;
        self.context.ledger.record_delete(&self.namespace, &self.stack, object);
        self.live.forget(object.kind(), object.name());
        self.changes.pruned.push(note);
        Ok(())
    }

    /// Scales Deployments and StatefulSets to zero and removes DaemonSets (they cannot scale);
    /// Jobs run to their end. Resuming applies the stack as usual.
    async fn suspend(&mut self) -> Result<(), ClusterError> {
        let workloads: Vec<Cached> = self.live.objects().filter(|o| o.workload().is_some()).cloned().collect();
        for object in workloads {
            let reference = format!("{}/{}", object.kind(), object.name());
            let replicas = match object.kind() {
                Kind::Deployment | Kind::StatefulSet => object.workload().and_then(|w| w.replicas),
                Kind::DaemonSet => {
                    self.delete(&object, format!("{reference} (suspended)")).await?;
                    continue;
                }
                _ => continue,
            };
            if replicas != Some(0) {
                self.cluster.scale(object.kind(), object.name(), 0).await?;
                self.changes.applied.push(format!("{reference} scaled to 0 (suspended)"));
            }
        }
        Ok(())
    }

    /// The pods of one service (by its Kubernetes name), from the pod cache.
    fn pods_of(&self, service: &str) -> Vec<Arc<PodState>> {
        let mut pods = self.context.caches.pods.of_stack(&self.namespace, &self.stack);
        pods.retain(|p| p.service() == Some(service));
        pods
    }

    /// Adds to each service that is not ready what its pods say, when one is stuck (a pod the
    /// scheduler cannot place, an image that cannot be pulled, a crash loop), from the pod cache.
    fn explain_with_pods(&self, translation: &Translation, services: &mut [ServiceStatus]) {
        if services.iter().all(|s| s.ready || s.desired_replicas.is_none()) {
            return;
        }
        // The stack's pods by service, once: not a pass over all of them per unready service.
        let pods = self.context.caches.pods.of_stack(&self.namespace, &self.stack);
        let mut by_service: HashMap<&str, Vec<&PodState>> = HashMap::new();
        for pod in &pods {
            if let Some(service) = pod.service() {
                by_service.entry(service).or_default().push(pod);
            }
        }
        for (plan, status) in translation.services.iter().zip(services.iter_mut()).filter(|(_, s)| !s.ready && s.desired_replicas.is_some()) {
            if let Some(problem) = by_service.get(plan.name.as_str()).and_then(|pods| pod_problem(pods)) {
                status.message = Some(truncate(
                    &match status.message.take() {
                        Some(message) => format!("{message}; {problem}"),
                        None => problem,
                    },
                    status::MAX_ITEM,
                ));
            }
        }
    }
}

fn rejected(object: &Object, error: &ClusterError) -> Problem {
    warn!(object = %object.reference(), %error, "the API server refused an object");
    Problem::new(Problem::REJECTED, format!("the API server refused {}: {error}", object.reference()))
}

/// Worth a dry run of what is written: the spec changed since the last status, or the API
/// server refused the last attempt (a stalled Job or a name conflict say nothing of that).
fn needs_dry_run(stack: &ComposeStack) -> bool {
    let status = stack.status.as_ref();
    let refused = status.and_then(|s| holding(s, "Stalled")).is_some_and(|c| c.reason == Problem::REJECTED);
    status.and_then(|s| s.observed_generation) != stack.metadata.generation || refused
}

async fn write_status(stack: &ComposeStack, context: &Context, status: &ComposeStackStatus) -> Result<(), Error> {
    let api: Api<ComposeStack> = Api::namespaced(context.shared.client.clone(), &stack.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "ComposeStack",
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&stack.name_any(), &params, &Patch::Apply(&body)).await.map_err(Error::Status)?;
    Ok(())
}
