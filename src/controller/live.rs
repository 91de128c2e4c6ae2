//! The objects of one stack as the cluster has them, and which of them the stack owns.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::build::Object;
use crate::build::names;

/// The objects a stack owns, as the cluster has them (updated as the reconcile writes).
#[derive(Clone, Debug, Default)]
pub struct Live {
    owned: Vec<Object>,
}

impl Live {
    /// Keeps the objects the stack with `uid` owns: its controller owner reference, or, for
    /// claims kept past their stack (`retainOnDelete`), the stack's labels and no controller.
    pub fn owned_by(uid: &str, labelled: Vec<Object>) -> Live {
        let owned = labelled.into_iter().filter(|object| is_owned(uid, object)).collect();
        Live { owned }
    }

    pub fn get(&self, kind: &str, name: &str) -> Option<&Object> {
        self.owned.iter().find(|o| o.kind() == kind && o.name() == name)
    }

    pub fn objects(&self) -> &[Object] {
        &self.owned
    }

    /// Replaces (or adds) an object with what the API server returned for it.
    pub fn record(&mut self, object: Object) {
        match self.owned.iter().position(|o| o.kind() == object.kind() && o.name() == object.name()) {
            Some(index) => self.owned[index] = object,
            None => self.owned.push(object),
        }
    }

    pub fn forget(&mut self, kind: &str, name: &str) {
        self.owned.retain(|o| !(o.kind() == kind && o.name() == name));
    }
}

pub fn controller_of(object: &Object) -> Option<&OwnerReference> {
    object.metadata().owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

fn is_owned(uid: &str, object: &Object) -> bool {
    match controller_of(object) {
        Some(owner) => owner.uid == uid,
        None => {
            let labels = object.metadata().labels.as_ref();
            matches!(object, Object::PersistentVolumeClaim(_)) && labels.and_then(|l| l.get(names::MANAGED_BY)).map(String::as_str) == Some(names::OPERATOR)
        }
    }
}
