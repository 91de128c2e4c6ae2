//! How far a live workload is, read from its status the way `kubectl rollout status` and
//! kstatus read it: counts only mean something once the workload's controller has observed
//! the current generation.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ServiceStatus;
use crate::build::Object;

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

    pub fn into_status(self, name: &str, kind: &str) -> ServiceStatus {
        ServiceStatus {
            name: name.to_string(),
            kind: kind.to_string(),
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

/// Container states that will not go away by themselves, worth a person's attention.
const STUCK_REASONS: [&str; 7] =
    ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"];

/// Why the first troubled pod among a service's pods is not running: unschedulable (with
/// the scheduler's words), or a container stuck pulling, misconfigured, or ended and waiting
/// to be restarted (a crash loop).
pub fn pod_problem(pods: &[&Pod]) -> Option<String> {
    pods.iter().find_map(|pod| {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let status = pod.status.as_ref()?;
        let unschedulable =
            status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"));
        if let Some(condition) = unschedulable {
            return Some(format!("pod {name} cannot be scheduled: {}", condition.message.as_deref().unwrap_or("no node fits")));
        }
        let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        containers.filter_map(|c| Some((c, c.state.as_ref()?))).find_map(|(container, state)| {
            if let Some(waiting) = &state.waiting {
                let reason = waiting.reason.as_deref().filter(|r| STUCK_REASONS.contains(r))?;
                let detail = waiting.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                return Some(format!("pod {name}, container {}: {reason}{detail}", container.name));
            }
            let ended = state.terminated.as_ref().filter(|ended| will_restart(pod, ended))?;
            let reason = ended.reason.as_deref().filter(|r| *r != "Error" && *r != "Completed").map(|r| format!(", {r}")).unwrap_or_default();
            let restarts = match container.restart_count {
                0 => String::new(),
                1 => ", restarted once".to_string(),
                n => format!(", restarted {n} times"),
            };
            Some(format!("pod {name}, container {}: CrashLoopBackOff: exit code {}{reason}{restarts}", container.name, ended.exit_code))
        })
    })
}

/// The kubelet starts this ended container again after a back-off: a crash loop. The kubelet
/// says `CrashLoopBackOff` only for the instant before each restart; for the whole back-off the
/// container shows as terminated, so that is what names the loop.
fn will_restart(pod: &Pod, ended: &ContainerStateTerminated) -> bool {
    let finished = pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|phase| phase == "Failed" || phase == "Succeeded");
    if pod.metadata.deletion_timestamp.is_some() || finished {
        return false;
    }
    match pod.spec.as_ref().and_then(|spec| spec.restart_policy.as_deref()).unwrap_or("Always") {
        "Always" => true,
        "OnFailure" => ended.exit_code != 0,
        _ => false,
    }
}

/// What explains the pod changed (a crash loop began, a pull started failing, a back-off grew):
/// worth waking its stack, whose workload's status may say nothing new while the pod waits.
pub fn problem_changed(before: Option<&Pod>, after: &Pod) -> bool {
    before.and_then(|pod| pod_problem(&[pod])) != pod_problem(&[after])
}

/// How the first container that ended in failure among a service's pods ended: what a failed
/// Job's own status never says (it only counts failed pods).
pub fn failed_container(pods: &[&Pod]) -> Option<String> {
    pods.iter().find_map(|pod| {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let status = pod.status.as_ref()?;
        let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        containers.filter_map(|c| Some((&c.name, c.state.as_ref()?.terminated.as_ref()?))).find(|(_, ended)| ended.exit_code != 0).map(|(container, ended)| {
            let reason = ended.reason.as_deref().filter(|r| *r != "Error").map(|r| format!(", {r}")).unwrap_or_default();
            format!("pod {name}, container {container}: exit code {}{reason}", ended.exit_code)
        })
    })
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
    use crate::build::object::Kind;
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
    fn pod_problems_name_the_pod_and_the_reason() {
        let pod = |status: serde_json::Value| -> Pod { serde_json::from_value(json!({"metadata": {"name": "web-1"}, "status": status})).unwrap() };
        let pending = pod(
            json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "persistentvolumeclaim \"data\" not found"}]}),
        );
        let pulling = pod(json!({"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                                  "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}));
        let starting = pod(json!({"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(pod_problem(&[&starting, &pending]).as_deref(), Some("pod web-1 cannot be scheduled: persistentvolumeclaim \"data\" not found"));
        assert_eq!(pod_problem(&[&pulling]).as_deref(), Some("pod web-1, container web: ImagePullBackOff: Back-off pulling image \"x\""));
        assert_eq!(pod_problem(&[&starting]), None, "a container that is being created is not stuck");
    }

    #[test]
    fn an_ended_container_that_will_restart_is_a_crash_loop() {
        let pod = |restart_policy: &str, exit_code: i32, restart_count: i32| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "web-1"}, "spec": {"containers": [], "restartPolicy": restart_policy},
                "status": {"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": restart_count,
                           "state": {"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" }}}}]}}))
            .unwrap()
        };
        assert_eq!(pod_problem(&[&pod("Always", 1, 0)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 1"));
        assert_eq!(pod_problem(&[&pod("Always", 0, 1)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 0, restarted once"));
        assert_eq!(pod_problem(&[&pod("OnFailure", 2, 4)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 2, restarted 4 times"));
        assert_eq!(pod_problem(&[&pod("OnFailure", 0, 0)]), None, "a one-shot that completed");
        assert_eq!(pod_problem(&[&pod("Never", 3, 0)]), None, "a failed Job's pod is not restarted: failed_container names it");
        let mut stopping = pod("Always", 143, 0);
        stopping.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()));
        assert_eq!(pod_problem(&[&stopping]), None, "a pod being deleted (a rollout, a scale-down) ends for good");
        let mut evicted = pod("Always", 137, 0);
        evicted.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(pod_problem(&[&evicted]), None, "an evicted pod is not restarted");
    }

    #[test]
    fn a_pod_wakes_its_stack_only_when_its_problem_changes() {
        let pod = |state: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "web-1"}, "status": {"containerStatuses": [
                {"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 2, "state": state}]}}))
            .unwrap()
        };
        let running = pod(json!({"running": {}}));
        let crashed = pod(json!({"terminated": {"exitCode": 1}}));
        let looping = pod(json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}));
        let longer = pod(json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}}));
        let mut crashed_again = crashed.clone();
        crashed_again.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].restart_count = 3;
        assert!(!problem_changed(None, &running), "a new pod that runs");
        assert!(problem_changed(Some(&running), &crashed), "an exit: the back-off begins, and the pod says so only now");
        assert!(problem_changed(Some(&crashed), &crashed_again), "another crash");
        assert!(problem_changed(Some(&crashed), &looping));
        assert!(!problem_changed(Some(&looping), &looping.clone()));
        assert!(problem_changed(Some(&looping), &longer));
        assert!(problem_changed(Some(&looping), &running), "the problem went away");
        assert!(problem_changed(None, &looping));
    }

    #[test]
    fn a_failed_container_is_named_with_its_exit_code() {
        let pod = |name: &str, state: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": name}, "status": {"containerStatuses": [
                {"name": "migrate", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": state}]}}))
            .unwrap()
        };
        let succeeded = pod("migrate-a", json!({"terminated": {"exitCode": 0, "reason": "Completed"}}));
        let failed = pod("migrate-b", json!({"terminated": {"exitCode": 3, "reason": "Error"}}));
        let killed = pod("migrate-c", json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}));
        let running = pod("migrate-d", json!({"running": {}}));
        assert_eq!(failed_container(&[&succeeded, &running, &failed]).as_deref(), Some("pod migrate-b, container migrate: exit code 3"));
        assert_eq!(failed_container(&[&killed]).as_deref(), Some("pod migrate-c, container migrate: exit code 137, OOMKilled"));
        assert_eq!(failed_container(&[&succeeded, &running]), None);
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
