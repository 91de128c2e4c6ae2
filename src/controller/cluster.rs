//! The API calls one reconcile makes, all in the stack's own namespace.

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::live::Live;
use crate::api::FIELD_MANAGER;
use crate::build::names;
use crate::build::object::{KINDS, Object};

/// Where a stack's objects live: one namespace of one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    namespace: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{}", describe(.0))]
    Api(#[from] kube::Error),
    #[error("{kind} from the API server could not be read: {source}")]
    Decode { kind: String, source: serde_json::Error },
}

impl ClusterError {
    /// The API server refused the object itself (invalid, forbidden, immutable field): retrying
    /// the same object cannot help, the stack has to change.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClusterError::Api(kube::Error::Api(status)) => matches!(status.code, 400 | 403 | 404 | 405 | 413 | 415 | 422),
            ClusterError::Api(_) => false,
            ClusterError::Decode { .. } => true,
        }
    }
}

/// The API server's own words (`Deployment.apps "web" is invalid: ...`), not the debug dump.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

pub fn api_resource(kind: &str) -> ApiResource {
    let (group, version) = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" => ("apps", "v1"),
        "Job" => ("batch", "v1"),
        "NetworkPolicy" => ("networking.k8s.io", "v1"),
        _ => ("", "v1"),
    };
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

fn decode(kind: &str, object: DynamicObject) -> Result<Object, ClusterError> {
    let value = serde_json::to_value(object).map_err(|source| ClusterError::Decode { kind: kind.into(), source })?;
    Object::from_json(kind, value).map_err(|source| ClusterError::Decode { kind: kind.into(), source })
}

impl Cluster {
    pub fn new(client: Client, namespace: &str) -> Cluster {
        Cluster { client, namespace: namespace.to_string() }
    }

    fn api(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &api_resource(kind))
    }

    /// Everything the stack owns: one label-selected list per kind, all nine at once.
    pub async fn owned(&self, stack: &str, uid: &str) -> Result<Live, ClusterError> {
        let selector = ListParams::default().labels(&format!("{}={stack}", names::STACK));
        let lists = KINDS.map(|kind| {
            let selector = &selector;
            async move { self.api(kind).list(selector).await.map(|list| (kind, list.items)) }
        });
        let mut labelled = Vec::new();
        for (kind, items) in futures::future::try_join_all(lists).await? {
            for object in items {
                labelled.push(decode(kind, object)?);
            }
        }
        Ok(Live::owned_by(uid, labelled))
    }

    /// The stack's pods (they carry its labels from the pod templates).
    pub async fn pods(&self, stack: &str) -> Result<Vec<Pod>, ClusterError> {
        let selector = ListParams::default().labels(&format!("{}={stack}", names::STACK));
        Ok(Api::<Pod>::namespaced(self.client.clone(), &self.namespace).list(&selector).await?.items)
    }

    /// The object of that kind and name, whoever owns it.
    pub async fn find(&self, kind: &str, name: &str) -> Result<Option<Object>, ClusterError> {
        match self.api(kind).get_opt(name).await? {
            Some(object) => Ok(Some(decode(kind, object)?)),
            None => Ok(None),
        }
    }

    /// Server-side apply with the operator's one field manager; returns the object as stored.
    pub async fn apply(&self, object: &Object) -> Result<Object, ClusterError> {
        self.patch(object, PatchParams::apply(FIELD_MANAGER).force()).await
    }

    /// The same apply, validated and admitted by the API server but not stored.
    pub async fn dry_run(&self, object: &Object) -> Result<Object, ClusterError> {
        self.patch(object, PatchParams::apply(FIELD_MANAGER).force().dry_run()).await
    }

    async fn patch(&self, object: &Object, params: PatchParams) -> Result<Object, ClusterError> {
        let stored = self.api(object.kind()).patch(object.name(), &params, &Patch::Apply(object.to_json())).await?;
        decode(object.kind(), stored)
    }

    /// Deletes in the background: the garbage collector removes pods and ReplicaSets after.
    pub async fn delete(&self, kind: &str, name: &str) -> Result<(), ClusterError> {
        match self.api(kind).delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sets `spec.replicas` through the scale subresource, leaving the rest of the spec as
    /// applied, so that resuming is one apply of the same objects.
    pub async fn scale(&self, kind: &str, name: &str, replicas: i32) -> Result<(), ClusterError> {
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        let body = serde_json::json!({"spec": {"replicas": replicas}});
        self.api(kind).patch_scale(name, &params, &Patch::Merge(&body)).await?;
        Ok(())
    }
}
