//! The typed Kubernetes objects a translation produces.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

// Every variant is a whole Kubernetes object and a stack has a few dozen at most: boxing
// the larger ones would save nothing worth the indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
    Job(Job),
    Service(Service),
    PersistentVolumeClaim(PersistentVolumeClaim),
    ConfigMap(ConfigMap),
    Secret(Secret),
    NetworkPolicy(NetworkPolicy),
}

/// Kinds the operator creates, in the order a fresh stack applies them: things pods
/// mount and find come before the pods.
pub const KINDS: [&str; 9] = ["ConfigMap", "Secret", "PersistentVolumeClaim", "NetworkPolicy", "Service", "Deployment", "StatefulSet", "DaemonSet", "Job"];

macro_rules! each_object {
    ($object:expr, $inner:ident => $body:expr) => {
        match $object {
            Object::Deployment($inner) => $body,
            Object::StatefulSet($inner) => $body,
            Object::DaemonSet($inner) => $body,
            Object::Job($inner) => $body,
            Object::Service($inner) => $body,
            Object::PersistentVolumeClaim($inner) => $body,
            Object::ConfigMap($inner) => $body,
            Object::Secret($inner) => $body,
            Object::NetworkPolicy($inner) => $body,
        }
    };
}

fn typed_json<K: Resource + Serialize>(object: &K) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("apiVersion".into(), K::API_VERSION.into());
        map.insert("kind".into(), K::KIND.into());
    }
    value
}

impl Object {
    pub fn kind(&self) -> &'static str {
        fn kind_of<K: Resource>(_: &K) -> &'static str {
            K::KIND
        }
        each_object!(self, o => kind_of(o))
    }

    pub fn api_version(&self) -> &'static str {
        fn api_version_of<K: Resource>(_: &K) -> &'static str {
            K::API_VERSION
        }
        each_object!(self, o => api_version_of(o))
    }

    pub fn metadata(&self) -> &ObjectMeta {
        each_object!(self, o => &o.metadata)
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        each_object!(self, o => &mut o.metadata)
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object as an apply body: apiVersion and kind included, no nulls.
    pub fn to_json(&self) -> serde_json::Value {
        each_object!(self, o => typed_json(o))
    }

    /// Decodes an object of one of [`KINDS`] as the API server returns it.
    pub fn from_json(kind: &str, value: serde_json::Value) -> Result<Object, serde_json::Error> {
        use serde::de::Error;
        Ok(match kind {
            "Deployment" => Object::Deployment(serde_json::from_value(value)?),
            "StatefulSet" => Object::StatefulSet(serde_json::from_value(value)?),
            "DaemonSet" => Object::DaemonSet(serde_json::from_value(value)?),
            "Job" => Object::Job(serde_json::from_value(value)?),
            "Service" => Object::Service(serde_json::from_value(value)?),
            "PersistentVolumeClaim" => Object::PersistentVolumeClaim(serde_json::from_value(value)?),
            "ConfigMap" => Object::ConfigMap(serde_json::from_value(value)?),
            "Secret" => Object::Secret(serde_json::from_value(value)?),
            "NetworkPolicy" => Object::NetworkPolicy(serde_json::from_value(value)?),
            other => return Err(serde_json::Error::custom(format!("compose-operator does not manage {other}"))),
        })
    }

    /// `Kind/name`, as messages name objects.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// Position in [`KINDS`], for ordering writes.
    pub fn kind_rank(&self) -> usize {
        KINDS.iter().position(|k| *k == self.kind()).unwrap_or(KINDS.len())
    }
}
