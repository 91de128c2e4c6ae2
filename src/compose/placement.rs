//! Typed forms of the compose keys that decide where a service runs and what hardware it
//! reserves: `deploy.placement` and `deploy.resources.reservations.devices`.

use serde::Deserialize;

use super::value::{Any, Scalar};

/// `deploy.placement`, as swarm reads it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `node.labels.zone == east`, `node.role != manager`, ...; all must hold.
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(default)]
    pub preferences: Vec<Preference>,
    #[serde(default)]
    pub max_replicas_per_node: Option<Scalar>,
}

/// `- spread: node.labels.zone`: spread tasks evenly over the label's values.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    pub spread: String,
}

/// One entry of `deploy.resources.reservations.devices`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub driver: Option<String>,
    /// A number or `all`.
    #[serde(default)]
    pub count: Option<Scalar>,
    #[serde(default)]
    pub device_ids: Vec<String>,
    #[serde(default)]
    pub options: Any,
}
