//! Watch-fed caches of what the stacks own, shared by every reconcile, so that a reconcile
//! reads the cluster without a LIST.
//!
//! One watch per kind (label-selected, as the operator's objects are) feeds a cache indexed by
//! namespace and stack. What is kept is only what the operator reads: metadata for
//! ConfigMaps, Secrets, Services, NetworkPolicies and claims (their bodies, packed project
//! files among them, are never fetched: the watch asks for metadata only); workloads as their
//! progress; pods as what explains a stuck pod ([`super::pods::PodState`]). Of metadata, only
//! what a decision reads is kept.
//!
//! The caches lag the API server by a watch event. What that means for a reconcile, and how
//! it keeps reading its own writes, is in [`super::ledger`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;

use super::annotations::{FINGERPRINT, JOB_TEMPLATE_HASH};
use super::pods::PodState;
use super::progress::Progress;
use crate::translate::fragment::admission::{ENFORCE_LABEL, PodSecurityLevel};

use crate::object::{Kind, Object};
use crate::translate::names;

/// What is kept of one owned object.
#[derive(Clone, Debug, PartialEq)]
pub enum Cached {
    /// Kinds whose body the operator never reads.
    Metadata(Kind, Box<ObjectMeta>),
    /// Workloads, whose status the operator reads. (Both boxed: a metadata entry should not
    /// take a workload's size.)
    Workload(Box<Workload>),
}

/// What is kept of a workload: how far it is, read from its status as it arrives, and the
/// replicas its spec asks for (suspending reads them). The object itself (its pod template,
/// 2.8 KiB as decoded before any of its strings) is not kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub kind: Kind,
    pub metadata: ObjectMeta,
    pub progress: Progress,
    pub replicas: Option<i32>,
}

impl Cached {
    pub fn kind(&self) -> Kind {
        match self {
            Cached::Metadata(kind, _) => *kind,
            Cached::Workload(workload) => workload.kind,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Cached::Metadata(_, metadata) => metadata,
            Cached::Workload(workload) => &workload.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    pub fn workload(&self) -> Option<&Workload> {
        match self {
            Cached::Workload(workload) => Some(workload),
            Cached::Metadata(..) => None,
        }
    }

    /// What the cache keeps of an object of a kind whose status is read.
    pub fn workload_of(mut object: Object) -> Cached {
        let progress = Progress::of(&object);
        let replicas = match &object {
            Object::Deployment(d) => d.spec.replicas,
            Object::StatefulSet(s) => s.spec.replicas,
            _ => None,
        };
        let kind = object.kind();
        let metadata = kept_metadata(std::mem::take(object.metadata_mut()));
        Cached::Workload(Box::new(Workload { kind, metadata, progress, replicas }))
    }

    pub fn metadata_of(kind: Kind, metadata: ObjectMeta) -> Cached {
        Cached::Metadata(kind, Box::new(kept_metadata(metadata)))
    }
}

/// The labels a decision reads: the stack's (the caches' index) and `managed-by` (a claim
/// kept past its stack is recognised by it).
const READ_LABELS: [&str; 2] = [names::STACK, names::MANAGED_BY];
/// The annotations a decision reads: what an object was applied from.
const READ_ANNOTATIONS: [&str; 2] = [FINGERPRINT, JOB_TEMPLATE_HASH];

/// Of an owned object's metadata, what the reconcile reads: name, namespace, uid, versions,
/// the controller's owner reference, and the labels and annotations above. The rest (field
/// ownership, kubectl's copy of the last applied body, the translation's descriptive labels)
/// is most of its size, and at thousands of objects most of the caches'.
fn kept_metadata(metadata: ObjectMeta) -> ObjectMeta {
    let kept = |map: Option<BTreeMap<String, String>>, keys: &[&str]| {
        let kept: BTreeMap<String, String> = map.into_iter().flatten().filter(|(key, _)| keys.contains(&key.as_str())).collect();
        (!kept.is_empty()).then_some(kept)
    };
    let controller = metadata.owner_references.into_iter().flatten().find(|r| r.controller == Some(true));
    ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resource_version: metadata.resource_version,
        generation: metadata.generation,
        owner_references: controller.map(|r| vec![r]),
        labels: kept(metadata.labels, &READ_LABELS),
        annotations: kept(metadata.annotations, &READ_ANNOTATIONS),
        ..Default::default()
    }
}

/// Drops from a stack what no decision reads and what costs the most memory: field ownership
/// and kubectl's copy of the last applied body.
pub fn slim_stack_metadata(metadata: &mut ObjectMeta) {
    metadata.managed_fields = None;
    if let Some(annotations) = &mut metadata.annotations {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
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

impl HasMetadata for PodState {
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
    pub pods: Cache<PodState>,
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
        let metadata: ObjectMeta = serde_json::from_value(json!({"name": name, "namespace": "ns", "uid": "u", "resourceVersion": "7",
            "labels": {names::STACK: stack, "app.kubernetes.io/name": "x"}, "creationTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": "o"},
                                {"apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack", "name": stack, "uid": "s", "controller": true}],
            "managedFields": [{"manager": "x"}], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", FINGERPRINT: "f"}}))
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
        assert_eq!(
            serde_json::to_value(kept.metadata()).unwrap(),
            json!({"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7", "labels": {names::STACK: "shop"}, "annotations": {FINGERPRINT: "f"},
                   "ownerReferences": [{"apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack", "name": "shop", "uid": "s", "controller": true}]}),
            "only what a decision reads is kept"
        );

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
    fn a_workload_is_kept_as_its_progress_and_replicas() {
        let deployment = Object::from_json(
            Kind::Deployment,
            json!({"metadata": {"name": "web", "generation": 2, "labels": {names::STACK: "shop"}},
                   "spec": {"replicas": 3, "selector": {}, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
                   "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 1}}),
        )
        .unwrap();
        let progress = Progress::of(&deployment);
        let cached = Cached::workload_of(deployment);
        let workload = cached.workload().unwrap();
        assert_eq!((workload.kind, workload.replicas, &workload.progress), (Kind::Deployment, Some(3), &progress));
        assert_eq!(cached.metadata().generation, Some(2));
    }
}
