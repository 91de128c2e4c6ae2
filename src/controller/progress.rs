//! How far a live workload is, read from its status the way `kubectl rollout status` and
//! kstatus read it: counts only mean something once the workload's controller has observed
//! the current generation.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ServiceStatus;
use crate::object::{Object, WorkloadKind};

/// The state of one service's workload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub desired: Option<i32>,
    pub ready_replicas: Option<i32>,
    pub updated: Option<i32>,
    pub available: Option<i32>,
    pub active: Option<i32>,
    pub succeeded: Option<i32>,
    pub failed: Option<i32>,
    /// Every replica updated, ready and available at the current generation; a Job: complete.
    pub ready: bool,
    /// At least one pod is ready (compose's `service_started` for a long-running service).
    pub started: bool,
    /// A Job that failed for good.
    pub failure: Option<String>,
    /// Why not ready, for people.
    pub message: Option<String>,
}

impl Progress {
    pub fn of(workload: &Object) -> Progress {
        match workload {
            Object::Deployment(deployment) => deployment_progress(deployment),
            Object::StatefulSet(set) => stateful_set_progress(set),
            Object::DaemonSet(set) => daemon_set_progress(set),
            Object::Job(job) => job_progress(job),
            _ => Progress::default(),
        }
    }

    pub fn into_status(self, name: &str, kind: WorkloadKind) -> ServiceStatus {
        ServiceStatus {
            name: name.to_string(),
            kind,
            desired_replicas: self.desired,
            ready_replicas: self.ready_replicas,
            updated_replicas: self.updated,
            available_replicas: self.available,
            active: self.active,
            succeeded: self.succeeded,
            failed: self.failed,
            ready: self.ready,
            message: self.failure.or(self.message),
        }
    }
}

/// The workload's controller has not caught up with the latest spec yet.
fn unobserved(metadata: &ObjectMeta, observed_generation: Option<i64>) -> Option<String> {
    let generation = metadata.generation?;
    (observed_generation.unwrap_or(0) < generation).then(|| format!("waiting for the controller to observe generation {generation}"))
}

/// Replica counts in the order rollouts reach them.
struct Counts {
    desired: i32,
    /// Pods that exist, old and new; more than desired while old ones terminate.
    current: i32,
    updated: i32,
    ready: i32,
    available: i32,
}

fn replicated(metadata: &ObjectMeta, observed_generation: Option<i64>, counts: Counts) -> Progress {
    let Counts { desired, current, updated, ready, available } = counts;
    let message = unobserved(metadata, observed_generation).or_else(|| {
        if updated < desired {
            Some(format!("rolling out: {updated}/{desired} replicas updated"))
        } else if current > desired {
            Some(format!("rolling out: {} old replicas terminating", current - desired))
        } else if ready < desired {
            Some(format!("{ready}/{desired} replicas ready"))
        } else if available < desired {
            Some(format!("{available}/{desired} replicas available"))
        } else {
            None
        }
    });
    Progress {
        desired: Some(desired),
        ready_replicas: Some(ready),
        updated: Some(updated),
        available: Some(available),
        ready: message.is_none(),
        started: ready > 0 || desired == 0,
        message,
        ..Progress::default()
    }
}

fn deployment_progress(deployment: &Deployment) -> Progress {
    let status = deployment.status.clone().unwrap_or_default();
    let desired = deployment.spec.replicas.unwrap_or(1);
    let mut progress = replicated(
        &deployment.metadata,
        status.observed_generation,
        Counts {
            desired,
            current: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
        },
    );
    let stuck = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_.as_deref() == Some("Progressing") && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if let (false, Some(stuck)) = (progress.ready, stuck) {
        progress.message = Some(format!("rollout stuck: {}", stuck.message.unwrap_or_else(|| "progress deadline exceeded".into())));
    }
    progress
}

fn stateful_set_progress(set: &StatefulSet) -> Progress {
    let status = set.status.clone().unwrap_or_default();
    let desired = set.spec.replicas.unwrap_or(1);
    let mut progress = replicated(
        &set.metadata,
        status.observed_generation,
        Counts {
            desired,
            current: status.replicas,
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
        },
    );
    // The controller moves currentRevision only when every pod runs the new revision.
    if progress.ready && status.update_revision.is_some() && status.current_revision != status.update_revision {
        progress.ready = false;
        progress.message = Some("rolling out: moving to the new revision".into());
    }
    progress
}

fn daemon_set_progress(set: &DaemonSet) -> Progress {
    let status = set.status.clone().unwrap_or_default();
    replicated(
        &set.metadata,
        status.observed_generation,
        Counts {
            desired: status.desired_number_scheduled,
            current: status.current_number_scheduled,
            updated: status.updated_number_scheduled.unwrap_or(0),
            ready: status.number_ready,
            available: status.number_available.unwrap_or(0),
        },
    )
}

fn job_progress(job: &Job) -> Progress {
    let status = job.status.clone().unwrap_or_default();
    let conditions = status.conditions.unwrap_or_default();
    let holds = |type_: &str| conditions.iter().find(|c| c.type_ == type_ && c.status == "True");
    let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    let succeeded = status.succeeded.unwrap_or(0);
    let failure = holds("Failed").map(|c| format!("the job failed: {}", c.message.clone().or_else(|| c.reason.clone()).unwrap_or_default()));
    let complete = holds("Complete").is_some();
    let message = (!complete && failure.is_none()).then(|| format!("{succeeded}/{completions} completions"));
    Progress {
        desired: Some(completions),
        active: Some(status.active.unwrap_or(0)),
        succeeded: Some(succeeded),
        failed: Some(status.failed.unwrap_or(0)),
        ready: complete,
        started: true,
        failure,
        message,
        ..Progress::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;
    use serde_json::json;

    fn deployment(generation: i64, status: serde_json::Value) -> Object {
        Object::from_json(
            Kind::Deployment,
            json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": 3, "selector": {}, "template": {}}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn a_deployment_is_ready_only_when_every_replica_is_updated_ready_and_available() {
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3});
        assert!(Progress::of(&deployment(2, done.clone())).ready);
        let stale = Progress::of(&deployment(3, done));
        assert_eq!(stale.message.as_deref(), Some("waiting for the controller to observe generation 3"));
        let rolling = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3});
        assert_eq!(Progress::of(&deployment(2, rolling)).message.as_deref(), Some("rolling out: 1 old replicas terminating"));
        let starting = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 1});
        let starting = Progress::of(&deployment(2, starting));
        assert_eq!((starting.ready, starting.started, starting.message.as_deref()), (false, true, Some("1/3 replicas ready")));
        let unavailable = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 0});
        assert_eq!(Progress::of(&deployment(2, unavailable)).message.as_deref(), Some("0/3 replicas available"));
    }

    #[test]
    fn a_stateful_set_mid_revision_is_not_ready() {
        let set = |current: &str| {
            Object::from_json(
                Kind::StatefulSet,
                json!({"metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 2, "selector": {}, "serviceName": "db", "template": {}},
                       "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2,
                                  "currentReplicas": 2, "currentRevision": current, "updateRevision": "b"}}),
            )
            .unwrap()
        };
        assert!(Progress::of(&set("b")).ready);
        assert!(!Progress::of(&set("a")).ready);
    }

    #[test]
    fn jobs_complete_or_fail() {
        let job = |conditions: serde_json::Value, succeeded: i32| {
            Object::from_json(
                Kind::Job,
                json!({"metadata": {"name": "m"}, "spec": {"template": {}}, "status": {"succeeded": succeeded, "conditions": conditions}}),
            )
            .unwrap()
        };
        assert!(Progress::of(&job(json!([{"type": "Complete", "status": "True"}]), 1)).ready);
        let failed = Progress::of(&job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]), 0));
        assert_eq!(failed.failure.as_deref(), Some("the job failed: BackoffLimitExceeded"));
        let running = Progress::of(&job(json!([]), 0));
        assert_eq!((running.ready, running.message.as_deref()), (false, Some("0/1 completions")));
    }

    #[test]
    fn a_daemon_set_on_no_nodes_is_ready() {
        let set = Object::from_json(
            Kind::DaemonSet,
            json!({"metadata": {"name": "agent", "generation": 1}, "spec": {"selector": {}, "template": {}},
                   "status": {"observedGeneration": 1, "desiredNumberScheduled": 0, "currentNumberScheduled": 0, "numberReady": 0, "numberMisscheduled": 0}}),
        )
        .unwrap();
        assert!(Progress::of(&set).ready);
    }
}
