//! Watch-fed caches of what the stacks own, shared by every reconcile, so that a reconcile
//! reads the cluster without a LIST.
//!
//! One watch per kind (label-selected, as the operator's objects are) feeds a cache indexed by
//! namespace and stack. What is kept is only what the operator reads: metadata for
//! ConfigMaps, Secrets, Services, NetworkPolicies and claims (their bodies, packed project
//! files among them, are never fetched: the watch asks for metadata only); workloads with
//! their status but without pod templates; pods reduced to what explains a stuck pod.
//! `managedFields` go from everything.
//!
//! The caches lag the API server by a watch event. What that means for a reconcile, and how
//! it keeps reading its own writes, is in [`super::ledger`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus, Namespace, Pod, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;

use crate::build::admission::{ENFORCE_LABEL, PodSecurityLevel};

use crate::build::names;
use crate::build::object::{Kind, Object};

/// What is kept of one owned object.
#[derive(Clone, Debug, PartialEq)]
pub enum Cached {
    /// Kinds whose body the operator never reads.
    Metadata(Kind, Box<ObjectMeta>),
    /// Workloads, whose status the operator reads; pod templates removed. (Both boxed: a
    /// metadata entry should not take a workload's size.)
    Workload(Box<Object>),
}

impl Cached {
    pub fn kind(&self) -> Kind {
        match self {
            Cached::Metadata(kind, _) => *kind,
            Cached::Workload(object) => object.kind(),
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Cached::Metadata(_, metadata) => metadata,
            Cached::Workload(object) => object.metadata(),
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The whole object, for workloads.
    pub fn workload(&self) -> Option<&Object> {
        match self {
            Cached::Workload(object) => Some(object),
            Cached::Metadata(..) => None,
        }
    }

    /// What the cache keeps of an object of a kind whose status is read.
    pub fn workload_of(object: Object) -> Cached {
        let mut object = object;
        slim_metadata(object.metadata_mut());
        match &mut object {
            Object::Deployment(d) => d.spec.template = Default::default(),
            Object::StatefulSet(s) => {
                s.spec.template = Default::default();
                s.spec.volume_claim_templates = None;
            }
            Object::DaemonSet(d) => d.spec.template = Default::default(),
            Object::Job(j) => j.spec.iter_mut().for_each(|s| s.template = Default::default()),
            _ => {}
        }
        Cached::Workload(Box::new(object))
    }

    pub fn metadata_of(kind: Kind, metadata: ObjectMeta) -> Cached {
        let mut metadata = metadata;
        slim_metadata(&mut metadata);
        Cached::Metadata(kind, Box::new(metadata))
    }
}

/// Drops what no decision reads and what costs the most memory: field ownership and
/// kubectl's copy of the last applied body.
fn slim_metadata(metadata: &mut ObjectMeta) {
    metadata.managed_fields = None;
    if let Some(annotations) = &mut metadata.annotations {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// A pod as far as [`super::progress`] reads it: its name, its service label, whether it is
/// being deleted, its restart policy and phase, the scheduler's verdict, the containers' waiting reasons, restart counts and how a
/// terminated container ended.
pub fn slim_pod(pod: Pod) -> Pod {
    let Pod { metadata, spec, status } = pod;
    let labels = metadata.labels.map(|labels| labels.into_iter().filter(|(key, _)| key == names::STACK || key == names::SERVICE).collect());
    let metadata = ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        labels,
        resource_version: metadata.resource_version,
        deletion_timestamp: metadata.deletion_timestamp,
        ..Default::default()
    };
    let ended =
        |terminated: ContainerStateTerminated| ContainerStateTerminated { exit_code: terminated.exit_code, reason: terminated.reason, ..Default::default() };
    let waiting_only = |statuses: Option<Vec<ContainerStatus>>| {
        statuses.map(|statuses| {
            statuses
                .into_iter()
                .map(|s| ContainerStatus {
                    name: s.name,
                    restart_count: s.restart_count,
                    state: s.state.map(|state| ContainerState { waiting: state.waiting, terminated: state.terminated.map(ended), ..Default::default() }),
                    ..Default::default()
                })
                .collect()
        })
    };
    let status = status.map(|status| PodStatus {
        phase: status.phase,
        conditions: status.conditions.map(|c| {
            c.into_iter().filter(|c| c.type_ == "PodScheduled").map(|c| PodCondition { last_probe_time: None, last_transition_time: None, ..c }).collect()
        }),
        container_statuses: waiting_only(status.container_statuses),
        init_container_statuses: waiting_only(status.init_container_statuses),
        ..Default::default()
    });
    // The restart policy tells an ended container that will be restarted (a crash loop) from one that is done.
    let spec = spec.map(|spec| PodSpec { restart_policy: spec.restart_policy, ..Default::default() });
    Pod { metadata, spec, status }
}

/// Anything a cache holds: it has metadata carrying the stack label.
pub trait HasMetadata {
    fn meta(&self) -> &ObjectMeta;
}

impl HasMetadata for Cached {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
}

impl HasMetadata for Pod {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

type StackKey = (String, String);

/// One watch's objects, by namespace and stack label, then name.
pub struct Cache<T> {
    inner: RwLock<Inner<T>>,
}

struct Inner<T> {
    by_stack: HashMap<StackKey, BTreeMap<String, Arc<T>>>,
    /// The stack label each held object had, by namespace and name.
    stack_of: HashMap<(String, String), String>,
    /// A relist in progress: the objects listed so far, swapped in when it ends.
    relisting: Option<Vec<T>>,
    /// The first list has completed: an absent object is really absent.
    synced: bool,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache { inner: RwLock::new(Inner { by_stack: HashMap::new(), stack_of: HashMap::new(), relisting: None, synced: false }) }
    }
}

impl<T: HasMetadata> Inner<T> {
    fn insert(&mut self, object: T) {
        // The stack label may have been changed on a live object: it is no longer where it was.
        self.remove(object.meta());
        let metadata = object.meta();
        let (Some(namespace), Some(name), Some(stack)) = (&metadata.namespace, &metadata.name, metadata.labels.as_ref().and_then(|l| l.get(names::STACK)))
        else {
            return;
        };
        let (namespace, name, stack) = (namespace.clone(), name.clone(), stack.clone());
        self.stack_of.insert((namespace.clone(), name.clone()), stack.clone());
        self.by_stack.entry((namespace, stack)).or_default().insert(name, Arc::new(object));
    }

    fn remove(&mut self, metadata: &ObjectMeta) {
        let (Some(namespace), Some(name)) = (&metadata.namespace, &metadata.name) else { return };
        let Some(stack) = self.stack_of.remove(&(namespace.clone(), name.clone())) else { return };
        let key = (namespace.clone(), stack);
        if let Some(objects) = self.by_stack.get_mut(&key) {
            objects.remove(name);
            if objects.is_empty() {
                self.by_stack.remove(&key);
            }
        }
    }
}

impl<T: HasMetadata> Cache<T> {
    /// Takes in one watch event.
    pub fn apply(&self, event: Event<T>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Apply(object) => inner.insert(object),
            Event::Delete(object) => inner.remove(object.meta()),
            Event::Init => inner.relisting = Some(Vec::new()),
            Event::InitApply(object) => inner.relisting.get_or_insert_default().push(object),
            Event::InitDone => {
                let listed = inner.relisting.take().unwrap_or_default();
                inner.by_stack.clear();
                inner.stack_of.clear();
                listed.into_iter().for_each(|object| inner.insert(object));
                inner.synced = true;
            }
        }
    }

    /// One held object, by namespace and name.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let stack = inner.stack_of.get(&(namespace.to_string(), name.to_string()))?;
        inner.by_stack.get(&(namespace.to_string(), stack.clone()))?.get(name).cloned()
    }

    /// The objects labelled as part of that stack.
    pub fn of_stack(&self, namespace: &str, stack: &str) -> Vec<Arc<T>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.by_stack.get(&(namespace.to_string(), stack.to_string())).map(|objects| objects.values().cloned().collect()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).stack_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_synced(&self) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).synced
    }
}

/// The Pod Security level each watched namespace enforces (its
/// `pod-security.kubernetes.io/enforce` label), from a metadata watch of the namespaces.
#[derive(Default)]
pub struct NamespaceLevels {
    levels: RwLock<HashMap<String, PodSecurityLevel>>,
    /// A relist in progress: the levels listed so far, swapped in when it ends.
    relisting: RwLock<Option<HashMap<String, PodSecurityLevel>>>,
    /// The first list has completed, or reading namespaces is forbidden (then no level is
    /// known, and the API server's admission alone enforces one).
    synced: std::sync::atomic::AtomicBool,
}

impl NamespaceLevels {
    pub fn apply(&self, event: Event<PartialObjectMeta<Namespace>>) {
        let level_of = |namespace: &PartialObjectMeta<Namespace>| {
            let label = namespace.metadata.labels.as_ref().and_then(|l| l.get(ENFORCE_LABEL)).map(String::as_str);
            (namespace.metadata.name.clone().unwrap_or_default(), PodSecurityLevel::from_label(label))
        };
        let mut relisting = self.relisting.write().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => *relisting = Some(HashMap::new()),
            Event::InitApply(namespace) => {
                let (name, level) = level_of(&namespace);
                relisting.get_or_insert_default().insert(name, level);
            }
            Event::InitDone => {
                *self.levels.write().unwrap_or_else(|e| e.into_inner()) = relisting.take().unwrap_or_default();
                self.synced.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Event::Apply(namespace) => {
                let (name, level) = level_of(&namespace);
                self.levels.write().unwrap_or_else(|e| e.into_inner()).insert(name, level);
            }
            Event::Delete(namespace) => {
                self.levels.write().unwrap_or_else(|e| e.into_inner()).remove(namespace.metadata.name.as_deref().unwrap_or_default());
            }
        }
    }

    /// Reading namespaces is forbidden (an RBAC of an older chart): go on without levels.
    pub fn give_up(&self) {
        self.synced.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The level the namespace enforces; `privileged` (none) for one not seen.
    pub fn of(&self, namespace: &str) -> PodSecurityLevel {
        self.levels.read().unwrap_or_else(|e| e.into_inner()).get(namespace).copied().unwrap_or_default()
    }
}

/// The caches of one watched scope (all namespaces, or one).
pub struct Caches {
    owned: HashMap<Kind, Cache<Cached>>,
    pub pods: Cache<Pod>,
    pub namespaces: NamespaceLevels,
}

impl Caches {
    pub fn new() -> Caches {
        Caches { owned: Kind::ALL.iter().map(|kind| (*kind, Cache::default())).collect(), pods: Cache::default(), namespaces: NamespaceLevels::default() }
    }

    pub fn of(&self, kind: Kind) -> &Cache<Cached> {
        &self.owned[&kind]
    }

    /// Every object labelled as part of the stack, of every kind.
    pub fn of_stack(&self, namespace: &str, stack: &str) -> Vec<Arc<Cached>> {
        Kind::ALL.iter().flat_map(|kind| self.of(*kind).of_stack(namespace, stack)).collect()
    }

    /// Every watch has delivered its first complete list.
    pub fn synced(&self) -> bool {
        Kind::ALL.iter().all(|kind| self.of(*kind).is_synced()) && self.pods.is_synced() && self.namespaces.is_synced()
    }

    /// Objects held, by kind (and `Pod`), for metrics.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        let mut sizes: Vec<(&'static str, usize)> = Kind::ALL.iter().map(|kind| (kind.as_str(), self.of(*kind).len())).collect();
        sizes.push(("Pod", self.pods.len()));
        sizes
    }
}

impl Default for Caches {
    fn default() -> Self {
        Caches::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config_map(name: &str, stack: &str) -> Cached {
        let metadata: ObjectMeta = serde_json::from_value(json!({"name": name, "namespace": "ns", "labels": {names::STACK: stack},
            "managedFields": [{"manager": "x"}], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}}))
        .unwrap();
        Cached::metadata_of(Kind::ConfigMap, metadata)
    }

    #[test]
    fn objects_are_found_by_stack_and_a_relist_replaces_them() {
        let cache = Cache::default();
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(config_map("a", "shop")));
        cache.apply(Event::InitApply(config_map("b", "blog")));
        assert!(cache.of_stack("ns", "shop").is_empty(), "nothing is visible before the list completes");
        cache.apply(Event::InitDone);
        assert_eq!(cache.of_stack("ns", "shop").iter().map(|c| c.name().to_string()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(cache.len(), 2);
        let kept = &cache.of_stack("ns", "shop")[0];
        assert_eq!(kept.metadata().managed_fields, None);
        assert_eq!(kept.metadata().annotations.as_ref().unwrap().keys().collect::<Vec<_>>(), ["keep"]);

        cache.apply(Event::Apply(config_map("a", "blog")));
        assert!(cache.of_stack("ns", "shop").is_empty(), "a relabelled object moves");
        assert_eq!(cache.of_stack("ns", "blog").len(), 2);
        cache.apply(Event::Delete(config_map("b", "blog")));
        assert_eq!(cache.len(), 1);

        cache.apply(Event::Init);
        cache.apply(Event::InitDone);
        assert!(cache.is_empty(), "what a relist does not list is gone");
    }

    #[test]
    fn a_pod_keeps_only_what_explains_it() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {names::STACK: "s", names::SERVICE: "web", "pod-template-hash": "x"}, "managedFields": [{}]},
            "spec": {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "b"}]}], "restartPolicy": "Always"},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
                       "containerStatuses": [{"name": "web", "image": "nginx", "imageID": "", "ready": false, "restartCount": 3,
                                              "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                                             {"name": "once", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                                              "state": {"terminated": {"exitCode": 3, "reason": "Error", "startedAt": "2024-01-01T00:00:00Z", "containerID": "x"}}}]}
        }))
        .unwrap();
        let slim = slim_pod(pod);
        assert_eq!(
            serde_json::to_value(&slim).unwrap(),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "ns", "labels": {names::STACK: "s", names::SERVICE: "web"}},
                   "spec": {"containers": [], "restartPolicy": "Always"},
                   "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
                              "containerStatuses": [{"name": "web", "image": "", "imageID": "", "ready": false, "restartCount": 3,
                                                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                                                    {"name": "once", "image": "", "imageID": "", "ready": false, "restartCount": 0,
                                                     "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}})
        );
    }
}
