//! What a stack's pods say about a service that is not ready: a pod the scheduler cannot
//! place, a container stuck pulling or misconfigured, a crash loop, a failed Job's exit code.
//!
//! The pod cache holds a [`PodState`] per pod, not the pod: only what these explanations read.
//! A `Pod` as k8s-openapi decodes it takes ~2.4 KiB before any of its strings (its spec inline,
//! each container status 752 bytes, vectors with spare capacity); at 5,000 pods that was the
//! largest share of the operator's memory.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::translate::names;

/// A pod as far as a stuck service's explanation reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodState {
    /// Name, namespace, the stack and service labels: what the cache indexes by and the
    /// explanations name.
    pub metadata: ObjectMeta,
    /// Being deleted, or finished (phase Failed or Succeeded): its containers end for good.
    pub ending: bool,
    pub restarts: RestartPolicy,
    /// The scheduler's words, when it cannot place the pod.
    pub unschedulable: Option<String>,
    /// Init containers first, as they run.
    pub containers: Box<[ContainerFacts]>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerFacts {
    pub name: String,
    /// An init container: it ends by design, and only a failed one is run again.
    pub init: bool,
    pub restart_count: i32,
    /// Why it is waiting (`reason`, `message`), when it is.
    pub waiting: Option<(Option<String>, Option<String>)>,
    /// How it ended (exit code, `reason`), when it has.
    pub ended: Option<(i32, Option<String>)>,
}

impl From<Pod> for PodState {
    fn from(pod: Pod) -> PodState {
        let Pod { metadata, spec, status } = pod;
        let finished = status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|phase| phase == "Failed" || phase == "Succeeded");
        let ending = metadata.deletion_timestamp.is_some() || finished;
        let labels = metadata.labels.map(|labels| labels.into_iter().filter(|(key, _)| key == names::STACK || key == names::SERVICE).collect());
        let metadata = ObjectMeta { name: metadata.name, namespace: metadata.namespace, labels, ..Default::default() };
        let restarts = match spec.and_then(|spec| spec.restart_policy).as_deref() {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        };
        let Some(status) = status else { return PodState { metadata, ending, restarts, ..Default::default() } };
        let unschedulable = status
            .conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
            .map(|c| c.message.unwrap_or_else(|| "no node fits".to_string()));
        let init = status.init_container_statuses.into_iter().flatten().map(|s| ContainerFacts { init: true, ..ContainerFacts::from(s) });
        let containers = init.chain(status.container_statuses.into_iter().flatten().map(ContainerFacts::from));
        PodState { metadata, ending, restarts, unschedulable, containers: containers.collect() }
    }
}

impl From<ContainerStatus> for ContainerFacts {
    fn from(status: ContainerStatus) -> ContainerFacts {
        let state = status.state.unwrap_or_default();
        ContainerFacts {
            name: status.name,
            init: false,
            restart_count: status.restart_count,
            waiting: state.waiting.map(|w| (w.reason, w.message)),
            ended: state.terminated.map(|t| (t.exit_code, t.reason)),
        }
    }
}

impl PodState {
    fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn service(&self) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(names::SERVICE).map(String::as_str)
    }

    /// The kubelet starts this ended container again after a back-off: a crash loop. An init
    /// container that succeeded is done (a webhook's injected one, in every running pod).
    fn will_restart(&self, container: &ContainerFacts, exit_code: i32) -> bool {
        !self.ending
            && match self.restarts {
                RestartPolicy::Always => !container.init || exit_code != 0,
                RestartPolicy::OnFailure => exit_code != 0,
                RestartPolicy::Never => false,
            }
    }
}

/// Container states that will not go away by themselves, worth a person's attention.
const STUCK_REASONS: [&str; 7] =
    ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"];

/// Why the first troubled pod among a service's pods is not running: unschedulable (with
/// the scheduler's words), or a container stuck pulling, misconfigured, or ended and waiting
/// to be restarted (a crash loop). The kubelet says `CrashLoopBackOff` only for the instant
/// before each restart; for the whole back-off the container shows as ended, so an ended
/// container that will be restarted is what names the loop.
pub fn pod_problem(pods: &[&PodState]) -> Option<String> {
    pods.iter().find_map(|pod| {
        let name = pod.name();
        if let Some(message) = &pod.unschedulable {
            return Some(format!("pod {name} cannot be scheduled: {message}"));
        }
        pod.containers.iter().find_map(|container| {
            if let Some((reason, message)) = &container.waiting {
                let reason = reason.as_deref().filter(|r| STUCK_REASONS.contains(r))?;
                let detail = message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                return Some(format!("pod {name}, container {}: {reason}{detail}", container.name));
            }
            let (exit_code, reason) = container.ended.as_ref().filter(|(exit_code, _)| pod.will_restart(container, *exit_code))?;
            let reason = reason.as_deref().filter(|r| *r != "Error" && *r != "Completed").map(|r| format!(", {r}")).unwrap_or_default();
            let restarts = match container.restart_count {
                0 => String::new(),
                1 => ", restarted once".to_string(),
                n => format!(", restarted {n} times"),
            };
            Some(format!("pod {name}, container {}: CrashLoopBackOff: exit code {exit_code}{reason}{restarts}", container.name))
        })
    })
}

/// What explains the pod changed (a crash loop began, a pull started failing, a back-off grew):
/// worth waking its stack, whose workload's status may say nothing new while the pod waits.
pub fn problem_changed(before: Option<&PodState>, after: &PodState) -> bool {
    before.and_then(|pod| pod_problem(&[pod])) != pod_problem(&[after])
}

/// How the first container that ended in failure among a service's pods ended: what a failed
/// Job's own status never says (it only counts failed pods).
pub fn failed_container(pods: &[&PodState]) -> Option<String> {
    pods.iter().find_map(|pod| {
        pod.containers.iter().find_map(|container| {
            let (exit_code, reason) = container.ended.as_ref().filter(|(exit_code, _)| *exit_code != 0)?;
            let reason = reason.as_deref().filter(|r| *r != "Error").map(|r| format!(", {r}")).unwrap_or_default();
            Some(format!("pod {}, container {}: exit code {exit_code}{reason}", pod.name(), container.name))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> PodState {
        PodState::from(serde_json::from_value::<Pod>(value).unwrap())
    }

    fn with_container(name: &str, restart_policy: &str, restart_count: i32, state: serde_json::Value) -> PodState {
        pod(json!({"metadata": {"name": name}, "spec": {"containers": [], "restartPolicy": restart_policy},
                   "status": {"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": restart_count, "state": state}]}}))
    }

    #[test]
    fn a_pod_keeps_only_what_explains_it() {
        let state = pod(json!({
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {names::STACK: "s", names::SERVICE: "web", "pod-template-hash": "x"}, "managedFields": [{}]},
            "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "b"}]}], "restartPolicy": "OnFailure"},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
                       "initContainerStatuses": [{"name": "init", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                                                  "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-01-01T00:00:00Z"}}}],
                       "containerStatuses": [{"name": "web", "image": "nginx", "imageID": "", "ready": false, "restartCount": 3,
                                              "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}]}
        }));
        let labels = [(names::STACK.to_string(), "s".to_string()), (names::SERVICE.to_string(), "web".to_string())].into();
        assert_eq!(
            state,
            PodState {
                metadata: ObjectMeta { name: Some("web-1".into()), namespace: Some("ns".into()), labels: Some(labels), ..Default::default() },
                ending: false,
                restarts: RestartPolicy::OnFailure,
                unschedulable: Some("no node fits".into()),
                containers: vec![
                    ContainerFacts { name: "init".into(), init: true, restart_count: 0, waiting: None, ended: Some((0, Some("Completed".into()))) },
                    ContainerFacts { name: "web".into(), init: false, restart_count: 3, waiting: Some((Some("CrashLoopBackOff".into()), None)), ended: None },
                ]
                .into(),
            }
        );
        assert_eq!(state.service(), Some("web"));
    }

    #[test]
    fn pod_problems_name_the_pod_and_the_reason() {
        let pending = pod(json!({"metadata": {"name": "web-1"}, "status": {"conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "persistentvolumeclaim \"data\" not found"}]}}));
        let pulling = with_container("web-1", "Always", 0, json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}));
        let starting = with_container("web-1", "Always", 0, json!({"waiting": {"reason": "ContainerCreating"}}));
        assert_eq!(pod_problem(&[&starting, &pending]).as_deref(), Some("pod web-1 cannot be scheduled: persistentvolumeclaim \"data\" not found"));
        assert_eq!(pod_problem(&[&pulling]).as_deref(), Some("pod web-1, container web: ImagePullBackOff: Back-off pulling image \"x\""));
        assert_eq!(pod_problem(&[&starting]), None, "a container that is being created is not stuck");
    }

    #[test]
    fn an_ended_container_that_will_restart_is_a_crash_loop() {
        let ended = |restart_policy: &str, exit_code: i32, restart_count: i32| {
            let reason = if exit_code == 0 { "Completed" } else { "Error" };
            with_container("web-1", restart_policy, restart_count, json!({"terminated": {"exitCode": exit_code, "reason": reason}}))
        };
        assert_eq!(pod_problem(&[&ended("Always", 1, 0)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 1"));
        assert_eq!(pod_problem(&[&ended("Always", 0, 1)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 0, restarted once"));
        assert_eq!(pod_problem(&[&ended("OnFailure", 2, 4)]).as_deref(), Some("pod web-1, container web: CrashLoopBackOff: exit code 2, restarted 4 times"));
        assert_eq!(pod_problem(&[&ended("OnFailure", 0, 0)]), None, "a one-shot that completed");
        assert_eq!(pod_problem(&[&ended("Never", 3, 0)]), None, "a failed Job's pod is not restarted: failed_container names it");
        let stopping = pod(json!({"metadata": {"name": "web-1", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"containers": []},
            "status": {"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 143}}}]}}));
        assert_eq!(pod_problem(&[&stopping]), None, "a pod being deleted (a rollout, a scale-down) ends for good");
        let evicted = pod(json!({"metadata": {"name": "web-1"}, "spec": {"containers": []},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]}}));
        assert_eq!(pod_problem(&[&evicted]), None, "an evicted pod is not restarted");
        let initialised = |exit_code: i32| {
            pod(json!({"metadata": {"name": "web-1"}, "spec": {"containers": []}, "status": {
                "initContainerStatuses": [{"name": "istio-init", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                                           "state": {"terminated": {"exitCode": exit_code}}}],
                "containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}}))
        };
        assert_eq!(pod_problem(&[&initialised(0)]), None, "an init container that succeeded is done, not crash looping");
        assert_eq!(pod_problem(&[&initialised(1)]).as_deref(), Some("pod web-1, container istio-init: CrashLoopBackOff: exit code 1"));
    }

    #[test]
    fn a_pod_wakes_its_stack_only_when_its_problem_changes() {
        let running = with_container("web-1", "Always", 2, json!({"running": {}}));
        let crashed = with_container("web-1", "Always", 2, json!({"terminated": {"exitCode": 1}}));
        let crashed_again = with_container("web-1", "Always", 3, json!({"terminated": {"exitCode": 1}}));
        let looping =
            with_container("web-1", "Always", 2, json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}));
        let longer =
            with_container("web-1", "Always", 2, json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container"}}));
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
        let succeeded = with_container("migrate-a", "Never", 0, json!({"terminated": {"exitCode": 0, "reason": "Completed"}}));
        let failed = with_container("migrate-b", "Never", 0, json!({"terminated": {"exitCode": 3, "reason": "Error"}}));
        let killed = with_container("migrate-c", "Never", 0, json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}));
        let running = with_container("migrate-d", "Never", 0, json!({"running": {}}));
        assert_eq!(failed_container(&[&succeeded, &running, &failed]).as_deref(), Some("pod migrate-b, container web: exit code 3"));
        assert_eq!(failed_container(&[&killed]).as_deref(), Some("pod migrate-c, container web: exit code 137, OOMKilled"));
        assert_eq!(failed_container(&[&succeeded, &running]), None);
    }
}
