//! The API calls one reconcile makes, all in the stack's own namespace. Reads come from the
//! watch-fed caches ([`super::cache`]); here are the writes, and the one lookup of a name the
//! caches cannot answer (an object of someone else's).

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::cache::Cached;
use super::error::ClusterError;
use crate::api::FIELD_MANAGER;
use crate::object::{Kind, Object};

/// Where a stack's objects live: one namespace of one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    namespace: String,
}

pub fn api_resource(kind: Kind) -> ApiResource {
    let (group, version, plural) = kind.endpoint();
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind.as_str()), plural)
}

/// What the caches would keep of an object the API server returned.
fn cached(kind: Kind, object: DynamicObject) -> Result<Cached, ClusterError> {
    if !kind.status_is_read() {
        return Ok(Cached::metadata_of(kind, object.metadata));
    }
    let value = serde_json::to_value(object).map_err(|source| ClusterError::Decode { kind, source })?;
    Ok(Cached::workload_of(Object::from_json(kind, value).map_err(|source| ClusterError::Decode { kind, source })?))
}

impl Cluster {
    pub fn new(client: Client, namespace: &str) -> Cluster {
        Cluster { client, namespace: namespace.to_string() }
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &api_resource(kind))
    }

    /// The object of that kind and name, whoever owns it.
    pub async fn find(&self, kind: Kind, name: &str) -> Result<Option<Cached>, ClusterError> {
        match self.api(kind).get_metadata_opt(name).await? {
            Some(object) => Ok(Some(Cached::metadata_of(kind, object.metadata))),
            None => Ok(None),
        }
    }

    /// Server-side apply with the operator's one field manager; returns the object as stored.
    pub async fn apply(&self, object: &Object) -> Result<Cached, ClusterError> {
        self.patch(object, PatchParams::apply(FIELD_MANAGER).force()).await
    }

    /// The same apply, validated and admitted by the API server but not stored.
    pub async fn dry_run(&self, object: &Object) -> Result<(), ClusterError> {
        self.patch(object, PatchParams::apply(FIELD_MANAGER).force().dry_run()).await.map(|_| ())
    }

    async fn patch(&self, object: &Object, params: PatchParams) -> Result<Cached, ClusterError> {
        let stored = self.api(object.kind()).patch(object.name(), &params, &Patch::Apply(object.to_json())).await?;
        cached(object.kind(), stored)
    }

    /// Deletes in the background: the garbage collector removes pods and ReplicaSets after.
    pub async fn delete(&self, kind: Kind, name: &str) -> Result<(), ClusterError> {
        match self.api(kind).delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sets `spec.replicas` through the scale subresource, leaving the rest of the spec as
    /// applied, so that resuming is one apply of the same objects.
    pub async fn scale(&self, kind: Kind, name: &str, replicas: i32) -> Result<(), ClusterError> {
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        let body = serde_json::json!({"spec": {"replicas": replicas}});
        self.api(kind).patch_scale(name, &params, &Patch::Merge(&body)).await?;
        Ok(())
    }
}
