//! The `ComposeStack` custom resource: a compose document plus how to run it here.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::object::WorkloadKind;

pub const GROUP: &str = "compose-operator.dev";
pub const FIELD_MANAGER: &str = "compose-operator";

/// A docker-compose / swarm stack, reconciled into Kubernetes workloads, Services and volumes.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "compose-operator.dev",
    version = "v1alpha1",
    kind = "ComposeStack",
    namespaced,
    status = "ComposeStackStatus",
    shortname = "stack",
    shortname = "stacks",
    category = "all",
    doc = "A docker-compose / swarm stack that compose-operator runs as Kubernetes workloads, Services and volumes.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.readyServices","description":"ready/total compose services"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase","description":"Ready, Reconciling, Stalled or Suspended"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ComposeStackSpec {
    /// The compose document (docker-compose.yaml / a swarm stack file), as text.
    #[schemars(length(max = 262144))]
    pub compose: String,

    /// More compose documents merged over `compose`, in order, with the compose-spec merge
    /// rules (like `docker compose -f base.yaml -f override.yaml`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,

    /// Values for `${VAR}` interpolation, like a `.env` file next to the compose file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,

    /// Enabled compose profiles; services with `profiles:` run only when one is listed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,

    /// The Service type for published ports (`ports: ["8080:80"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_service_type: Option<PublishedServiceType>,

    /// Reproduce compose's network isolation with one NetworkPolicy per service (default
    /// true): pods admit connections only from pods of the stack that share a compose
    /// network with them, plus their published ports from anywhere. Egress stays open.
    /// Enforced only where the cluster's network plugin implements NetworkPolicies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policies: Option<bool>,

    /// Defaults for the PersistentVolumeClaims behind named volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<VolumeDefaults>,

    /// Scale long-running workloads to zero and stop applying changes until unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// Images by compose service name, setting or replacing `image:` (like kustomize's
    /// `images:`). A service with only `build:` runs once it has an entry here; this is how
    /// a CI pipeline hands its freshly pushed image to a GitOps repository.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,

    /// Project files by path relative to the compose file (`nginx/nginx.conf`), as UTF-8
    /// text: what bind mounts of project files and directories, `configs: file:` and
    /// `env_file` read, since a cluster has no project directory. `compose-operator stack`
    /// fills it in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,

    /// Like `files`, for binary files, base64-encoded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_files: BTreeMap<String, String>,

    /// Project directories packed whole into `files`/`binaryFiles`: a bind mount of one of
    /// these is served as a directory. Any other directory is not in the stack (a partial
    /// copy would hide what the image has there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<String>,

    /// A Secret in the stack's namespace holding the project's secret files (`secrets:
    /// file:`), one key per file: its path with `/` written `__` (`secrets/db.txt` →
    /// `secrets__db.txt`). Secret material never goes into the ComposeStack itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_files: Option<String>,

    /// Env files whose values are secret, by project path: the Secret (in the stack's
    /// namespace) holding one key per variable, passed whole to the container (`envFrom`).
    /// `compose-operator stack --secret-env-file PATH` writes those Secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_env_files: BTreeMap<String, String>,

    /// A Secret in the stack's namespace whose keys are variables (`DB_PASSWORD`) that
    /// `secrets: <name>: environment: VAR` reads when `variables` has no such key: the pods
    /// mount the key straight from that Secret, so secret values stay out of the ComposeStack.
    /// `compose-operator stack` and `deploy` move the variables that feed secrets there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_variables: Option<String>,

    /// Project paths that exist in the project but were not packed (too large, or holding
    /// `.git`, `node_modules` and the like); `compose-operator stack` lists them. A bind mount
    /// of one is source code the image should hold: it is dropped with a warning (refused
    /// with `bindMounts: Refuse`), never given an empty claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpacked_paths: Vec<String>,

    /// What bind mounts of host directories become when they are not project files in
    /// `files` (data directories such as `/srv/app/data:/var/lib/app` or `./data:/data`):
    /// `Claim` (default) a PersistentVolumeClaim per distinct source, which starts empty;
    /// `Drop` nothing, with a warning, for images that already hold the content (source
    /// code mounted for live reload); `Refuse` the stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_mounts: Option<BindMounts>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum BindMounts {
    #[default]
    Claim,
    Drop,
    Refuse,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum PublishedServiceType {
    #[default]
    LoadBalancer,
    NodePort,
    ClusterIP,
}

impl PublishedServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishedServiceType::LoadBalancer => "LoadBalancer",
            PublishedServiceType::NodePort => "NodePort",
            PublishedServiceType::ClusterIP => "ClusterIP",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeDefaults {
    /// Requested size of each volume's claim (default `1Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// StorageClass of the claims; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Keep claims (and their data) when a volume or the whole stack is removed (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_on_delete: Option<bool>,
}

impl ComposeStackSpec {
    pub fn published_service_type(&self) -> PublishedServiceType {
        self.published_service_type.unwrap_or_default()
    }

    pub fn network_policies(&self) -> bool {
        self.network_policies.unwrap_or(true)
    }

    pub fn volume_size(&self) -> &str {
        self.volumes.as_ref().and_then(|v| v.size.as_deref()).unwrap_or("1Gi")
    }

    pub fn storage_class_name(&self) -> Option<&str> {
        self.volumes.as_ref().and_then(|v| v.storage_class_name.as_deref())
    }

    pub fn retain_volumes(&self) -> bool {
        self.volumes.as_ref().and_then(|v| v.retain_on_delete).unwrap_or(true)
    }

    pub fn suspended(&self) -> bool {
        self.suspend.unwrap_or(false)
    }

    pub fn bind_mounts(&self) -> BindMounts {
        self.bind_mounts.unwrap_or_default()
    }
}

/// What the operator last observed and did, in the shape kstatus (Flux, Argo CD) reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComposeStackStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// One word for humans and the STATUS column: Ready, Reconciling, Stalled or Suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `ready/total` compose services, for the READY column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_services: Option<String>,
    /// Per compose service: its workload and how far it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceStatus>,
    /// Things translated with a loss (ignored keys, approximations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The compose service name.
    pub name: String,
    /// Deployment, StatefulSet, DaemonSet or Job.
    pub kind: WorkloadKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Job pods: active, succeeded, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i32>,
    /// Whether this service is up to date and ready (or, for a Job, complete).
    pub ready: bool,
    /// Why not, e.g. `waiting for db: service_healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
