//! `x-kubernetes:`, the one extension key compose-operator reads: Kubernetes settings that
//! compose has no words for, on a service or on a top-level volume. Checked like the rest
//! of the document: unknown keys are errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::value::Scalar;

/// The extension key, kept by the loader on services and volumes.
pub const EXTENSION_KEY: &str = "x-kubernetes";

/// `services.<name>.x-kubernetes`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceExtension {
    /// ClusterIP, NodePort or LoadBalancer: the type of the `<service>-published` Service.
    #[serde(default)]
    pub service_type: Option<String>,
    /// Annotations on every Service of this compose service (e.g. load-balancer settings).
    #[serde(default)]
    pub service_annotations: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub pod_annotations: BTreeMap<String, Scalar>,
    /// Names of Secrets of type kubernetes.io/dockerconfigjson in the stack's namespace.
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// Mount the service account's token (default false, as for every stack pod).
    #[serde(default)]
    pub automount_service_account_token: Option<Scalar>,
}

/// A pod toleration, in Kubernetes' shape.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Toleration {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub value: Option<Scalar>,
    #[serde(default)]
    pub effect: Option<String>,
    #[serde(default)]
    pub toleration_seconds: Option<Scalar>,
}

/// `volumes.<name>.x-kubernetes`: the claim behind a named volume.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeExtension {
    /// Requested storage, a Kubernetes quantity such as `10Gi`.
    #[serde(default)]
    pub size: Option<Scalar>,
    #[serde(default)]
    pub storage_class_name: Option<String>,
}
