//! What a translation returns: per compose service its workload, Services and NetworkPolicy
//! and its place in the start order; for the stack its shared claims, config and secret
//! objects and packed project files. Named fields, so that a new kind of output is a new
//! field every consumer sees, not a position in a list.

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compose::diagnostic::Warning;
use crate::object::{Kind, Object, ObjectRef, WorkloadKind};

pub use crate::compose::model::DependencyCondition;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The Kubernetes name of the service depended on.
    pub service: String,
    pub condition: DependencyCondition,
    /// `required: false` dependencies are started first when possible but never block.
    pub required: bool,
}

/// Everything one compose service becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePlan {
    pub compose_name: String,
    /// The Kubernetes name of the workload and its Service.
    pub name: String,
    pub kind: WorkloadKind,
    pub replicas: i32,
    pub depends_on: Vec<Dependency>,
    /// The Deployment, StatefulSet, DaemonSet or Job; none for a service that runs in
    /// another's pod.
    pub workload: Option<Object>,
    /// Its in-stack Service, the `-published` one, alias Services.
    pub services: Vec<Service>,
    pub network_policy: Option<NetworkPolicy>,
    /// The compose service whose pod runs this one (`network_mode: service:<it>`); `name`
    /// and `kind` are then that workload's.
    pub attached_to: Option<String>,
}

impl ServicePlan {
    /// The workload first, then its Services, then its NetworkPolicy: the order they are applied in.
    pub fn objects(&self) -> impl Iterator<Item = ObjectRef<'_>> {
        let services = self.services.iter().map(ObjectRef::from);
        self.workload.iter().map(ObjectRef::from).chain(services).chain(self.network_policy.iter().map(ObjectRef::from))
    }

    /// The kind and name of each object, without copying them.
    pub fn object_names(&self) -> impl Iterator<Item = (Kind, &str)> {
        let services = self.services.iter().map(|s| (Kind::Service, s.metadata.name.as_deref().unwrap_or_default()));
        let policy = self.network_policy.iter().map(|p| (Kind::NetworkPolicy, p.metadata.name.as_deref().unwrap_or_default()));
        self.workload.iter().map(|w| (w.kind(), w.name())).chain(services).chain(policy)
    }

    /// Every object's metadata, to set what all of them share (the namespace).
    pub fn metadata_mut(&mut self) -> impl Iterator<Item = &mut ObjectMeta> {
        let services = self.services.iter_mut().map(|s| &mut s.metadata);
        self.workload.iter_mut().map(Object::metadata_mut).chain(services).chain(self.network_policy.iter_mut().map(|p| &mut p.metadata))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Translation {
    pub services: Vec<ServicePlan>,
    /// Claims of named volumes that several services mount.
    pub claims: Vec<PersistentVolumeClaim>,
    /// The ConfigMaps and Secrets of configs, secrets and env files.
    pub configs_and_secrets: Vec<Object>,
    /// The ConfigMaps of project files and directories mounted into pods.
    pub project_files: Vec<ConfigMap>,
    pub warnings: Vec<Warning>,
}

impl Translation {
    /// Every object, in the order a fresh stack applies them (what pods mount first),
    /// borrowed: [`ObjectRef::to_object`] copies one.
    pub fn objects(&self) -> impl Iterator<Item = ObjectRef<'_>> {
        let claims = self.claims.iter().map(ObjectRef::from);
        let project_files = self.project_files.iter().map(ObjectRef::from);
        claims.chain(self.configs_and_secrets.iter().map(ObjectRef::from)).chain(project_files).chain(self.services.iter().flat_map(ServicePlan::objects))
    }

    pub fn object_count(&self) -> usize {
        let per_service: usize =
            self.services.iter().map(|s| usize::from(s.workload.is_some()) + s.services.len() + usize::from(s.network_policy.is_some())).sum();
        self.claims.len() + self.configs_and_secrets.len() + self.project_files.len() + per_service
    }

    /// Every object's metadata, to set what all of them share (the namespace).
    pub fn metadata_mut(&mut self) -> impl Iterator<Item = &mut ObjectMeta> {
        let claims = self.claims.iter_mut().map(|c| &mut c.metadata);
        let files = self.configs_and_secrets.iter_mut().map(Object::metadata_mut);
        let project_files = self.project_files.iter_mut().map(|c| &mut c.metadata);
        claims.chain(files).chain(project_files).chain(self.services.iter_mut().flat_map(ServicePlan::metadata_mut))
    }
}
