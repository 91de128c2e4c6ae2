//! What this process last wrote to each object, so that a reconcile sends only what changed
//! and reads its own writes through caches that lag by a watch event.
//!
//! Every apply body carries [`FINGERPRINT`], a hash of the desired state. After an apply the
//! ledger keeps what the API server answered: the object's uid, `resourceVersion` and
//! `generation`. An object needs no request when the cache shows it with our fingerprint and
//! unchanged since our apply: the same `resourceVersion`, or, for workloads (whose status the
//! cluster rewrites all the time), the same `generation`, which moves only with the spec. So
//! a resync that finds nothing changed sends nothing, and an object someone else edited
//! (scaled by hand, image changed) or deleted is applied again on the watch event that says so.
//!
//! Read-your-writes, case by case (the caches may not have seen a write yet):
//! - applied, not in the cache yet: it is applied again (an idempotent apply the API server
//!   does not store), and the name lookup for foreign objects is skipped, since the ledger
//!   knows the object is ours;
//! - applied, the cache still shows the version before: applied again, the same way;
//! - deleted (pruned, or a Job whose template changed), the cache still shows it: the ledger
//!   remembers the uid, and the cache's copy is treated as gone for pruning (no second delete)
//!   and as still there for re-creating (a Job is re-created only once the watch has seen the
//!   old one go, as the old lists guaranteed).
//!
//! After a restart the ledger is empty, so the first reconcile of each stack applies every
//! object once (as every resync did before), which also repairs what drifted meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;

use super::cache::Cached;
use crate::object::Kind;

use super::annotations::FINGERPRINT;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// `seen`: the cache has shown the object since (so its absence now is a deletion).
    Applied {
        fingerprint: String,
        uid: String,
        resource_version: String,
        generation: Option<i64>,
        seen: bool,
    },
    Deleted {
        uid: String,
    },
}

type StackKey = (String, String);
/// One stack's objects, by kind and name.
type Entries = HashMap<(Kind, String), Entry>;

/// Per stack (namespace, name), per object (kind, name).
#[derive(Default)]
pub struct Ledger {
    stacks: Mutex<HashMap<StackKey, Entries>>,
}

fn fingerprint_of(cached: &Cached) -> Option<&str> {
    cached.metadata().annotations.as_ref()?.get(FINGERPRINT).map(String::as_str)
}

impl Ledger {
    fn with<R>(&self, namespace: &str, stack: &str, f: impl FnOnce(&mut Entries) -> R) -> R {
        let mut stacks = self.stacks.lock().unwrap_or_else(|e| e.into_inner());
        f(stacks.entry((namespace.to_string(), stack.to_string())).or_default())
    }

    /// The cached object is as we last applied it, from a desired state with `fingerprint`.
    pub fn unchanged(&self, namespace: &str, stack: &str, live: &Cached, fingerprint: &str) -> bool {
        if fingerprint_of(live) != Some(fingerprint) {
            return false;
        }
        let metadata = live.metadata();
        self.with(namespace, stack, |entries| match entries.get(&(live.kind(), live.name().to_string())) {
            Some(Entry::Applied { fingerprint: applied, uid, resource_version, generation, .. }) => {
                applied == fingerprint
                    && metadata.uid.as_ref() == Some(uid)
                    && (metadata.resource_version.as_ref() == Some(resource_version)
                        || (live.kind().status_is_read() && generation.is_some() && metadata.generation == *generation))
            }
            _ => false,
        })
    }

    /// We wrote this object and the cache has not shown it since: it is ours, not someone
    /// else's (once shown and gone again, it was deleted, and the name is anyone's).
    pub fn applied_by_us(&self, namespace: &str, stack: &str, kind: Kind, name: &str) -> bool {
        self.with(namespace, stack, |entries| matches!(entries.get(&(kind, name.to_string())), Some(Entry::Applied { seen: false, .. })))
    }

    /// Records what the API server stored for an apply; false when the ledger already had
    /// that version (an apply repeated because the cache had not caught up).
    pub fn record_apply(&self, namespace: &str, stack: &str, stored: &Cached, fingerprint: &str) -> bool {
        let metadata = stored.metadata();
        let uid = metadata.uid.clone().unwrap_or_default();
        let resource_version = metadata.resource_version.clone().unwrap_or_default();
        self.with(namespace, stack, |entries| {
            let key = (stored.kind(), stored.name().to_string());
            let (known, seen) = match entries.get(&key) {
                Some(Entry::Applied { uid: u, resource_version: v, seen, .. }) => (*u == uid && *v == resource_version, *seen && *u == uid),
                _ => (false, false),
            };
            let entry = Entry::Applied { fingerprint: fingerprint.to_string(), uid, resource_version, generation: metadata.generation, seen };
            entries.insert(key, entry);
            !known
        })
    }

    /// Records the deletion of the object the cache shows.
    pub fn record_delete(&self, namespace: &str, stack: &str, deleted: &Cached) {
        let entry = Entry::Deleted { uid: deleted.metadata().uid.clone().unwrap_or_default() };
        self.with(namespace, stack, |entries| entries.insert((deleted.kind(), deleted.name().to_string()), entry));
    }

    /// The cached object is one we deleted: the watch has not yet reported it gone.
    pub fn is_deleted(&self, namespace: &str, stack: &str, live: &Cached) -> bool {
        self.with(namespace, stack, |entries| match entries.get(&(live.kind(), live.name().to_string())) {
            Some(Entry::Deleted { uid }) => live.metadata().uid.as_ref() == Some(uid),
            _ => false,
        })
    }

    /// Brings the ledger up to what the cache shows (`shown(kind, name, uid)`): a deletion it
    /// no longer shows is settled; an apply it shows is marked seen, and one seen before and
    /// gone now was deleted by someone else, so it is forgotten.
    pub fn settle(&self, namespace: &str, stack: &str, shown: impl Fn(Kind, &str, &str) -> bool) {
        self.with(namespace, stack, |entries| {
            entries.retain(|(kind, name), entry| match entry {
                Entry::Deleted { uid } => shown(*kind, name, uid),
                Entry::Applied { uid, seen, .. } => {
                    let now = shown(*kind, name, uid);
                    let deleted = *seen && !now;
                    *seen |= now;
                    !deleted
                }
            })
        });
    }

    /// Forgets the applies of objects the stack no longer declares (deletions stay until
    /// settled).
    pub fn retain(&self, namespace: &str, stack: &str, keep: impl Fn(Kind, &str) -> bool) {
        self.with(namespace, stack, |entries| entries.retain(|(kind, name), entry| matches!(entry, Entry::Deleted { .. }) || keep(*kind, name)));
    }

    /// Forgets every stack but those listed (the ones that still exist).
    pub fn forget_stacks_except(&self, existing: &std::collections::HashSet<StackKey>) {
        self.stacks.lock().unwrap_or_else(|e| e.into_inner()).retain(|key, _| existing.contains(key));
    }

    /// Objects remembered, for metrics.
    pub fn len(&self) -> usize {
        self.stacks.lock().unwrap_or_else(|e| e.into_inner()).values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cached(kind: Kind, rv: &str, generation: Option<i64>, fingerprint: &str) -> Cached {
        let metadata = serde_json::from_value(json!({"name": "web", "uid": "u1", "resourceVersion": rv, "generation": generation,
            "annotations": {FINGERPRINT: fingerprint}}))
        .unwrap();
        match kind {
            Kind::Deployment => Cached::workload_of(crate::object::Object::from_json(kind, json!({"metadata": metadata})).unwrap()),
            _ => Cached::metadata_of(kind, metadata),
        }
    }

    #[test]
    fn an_object_is_unchanged_only_as_we_left_it() {
        let ledger = Ledger::default();
        let service = cached(Kind::Service, "5", None, "f1");
        assert!(!ledger.unchanged("ns", "s", &service, "f1"), "nothing is known after a start: apply once");
        ledger.record_apply("ns", "s", &service, "f1");
        assert!(ledger.unchanged("ns", "s", &service, "f1"));
        assert!(!ledger.unchanged("ns", "s", &service, "f2"), "the desired state changed");
        assert!(!ledger.unchanged("ns", "s", &cached(Kind::Service, "6", None, "f1"), "f1"), "someone else wrote it");

        let deployment = cached(Kind::Deployment, "10", Some(3), "f1");
        ledger.record_apply("ns", "s", &deployment, "f1");
        assert!(ledger.unchanged("ns", "s", &cached(Kind::Deployment, "11", Some(3), "f1"), "f1"), "a status update is no change");
        assert!(!ledger.unchanged("ns", "s", &cached(Kind::Deployment, "12", Some(4), "f1"), "f1"), "a spec edit (scaled by hand) is");
    }

    #[test]
    fn a_deletion_is_remembered_until_the_cache_sees_it() {
        let ledger = Ledger::default();
        let job = cached(Kind::Job, "5", Some(1), "f1");
        ledger.record_delete("ns", "s", &job);
        assert!(ledger.is_deleted("ns", "s", &job));
        ledger.settle("ns", "s", |_, _, _| true);
        assert!(ledger.is_deleted("ns", "s", &job), "the cache still shows it");
        ledger.settle("ns", "s", |_, _, _| false);
        assert!(!ledger.is_deleted("ns", "s", &job));
    }

    #[test]
    fn an_apply_is_ours_until_the_cache_has_shown_it_and_lost_it() {
        let ledger = Ledger::default();
        let service = cached(Kind::Service, "5", None, "f1");
        assert!(ledger.record_apply("ns", "s", &service, "f1"));
        assert!(!ledger.record_apply("ns", "s", &service, "f1"), "the same version again");
        ledger.settle("ns", "s", |_, _, _| false);
        assert!(ledger.applied_by_us("ns", "s", Kind::Service, "web"), "not in the cache yet");
        ledger.settle("ns", "s", |_, _, _| true);
        ledger.settle("ns", "s", |_, _, _| false);
        assert!(!ledger.applied_by_us("ns", "s", Kind::Service, "web"), "deleted by someone else");
    }
}
