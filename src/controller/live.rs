//! The objects of one stack as the caches show them, which of them the stack owns, and
//! which the reconcile itself has deleted but the watch has not yet reported gone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::cache::Cached;
use crate::object::Kind;
use crate::translate::names;

/// The objects a stack owns (updated as the reconcile writes).
#[derive(Clone, Debug, Default)]
pub struct Live {
    owned: BTreeMap<(Kind, String), Arc<Cached>>,
    /// Deleted by us; the cache still shows them.
    going: BTreeSet<(Kind, String)>,
}

impl Live {
    /// Keeps the objects the stack with `uid` owns: its controller owner reference, or, for
    /// claims kept past their stack (`retainOnDelete`), the stack's labels and no controller.
    /// Those `deleted` says this process deleted are kept apart as going.
    pub fn owned_by(uid: &str, labelled: Vec<Arc<Cached>>, deleted: impl Fn(&Cached) -> bool) -> Live {
        let mut live = Live::default();
        for object in labelled.into_iter().filter(|object| is_owned(uid, object)) {
            let key = (object.kind(), object.name().to_string());
            if deleted(&object) {
                live.going.insert(key);
            } else {
                live.owned.insert(key, object);
            }
        }
        live
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&Cached> {
        self.owned.get(&(kind, name.to_string())).map(Arc::as_ref)
    }

    /// Deleted by this reconcile or an earlier one, and not yet gone from the cache.
    pub fn is_going(&self, kind: Kind, name: &str) -> bool {
        self.going.contains(&(kind, name.to_string()))
    }

    pub fn objects(&self) -> impl Iterator<Item = &Cached> {
        self.owned.values().map(Arc::as_ref)
    }

    /// Replaces (or adds) an object with what the API server returned for it.
    pub fn record(&mut self, object: Cached) {
        self.owned.insert((object.kind(), object.name().to_string()), Arc::new(object));
    }

    pub fn forget(&mut self, kind: Kind, name: &str) {
        self.owned.remove(&(kind, name.to_string()));
        self.going.insert((kind, name.to_string()));
    }
}

pub fn controller_of(object: &Cached) -> Option<&OwnerReference> {
    object.metadata().owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

fn is_owned(uid: &str, object: &Cached) -> bool {
    match controller_of(object) {
        Some(owner) => owner.uid == uid,
        None => {
            let labels = object.metadata().labels.as_ref();
            object.kind() == Kind::PersistentVolumeClaim && labels.and_then(|l| l.get(names::MANAGED_BY)).map(String::as_str) == Some(names::OPERATOR)
        }
    }
}
