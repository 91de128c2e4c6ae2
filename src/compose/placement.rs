//! Typed forms of the compose keys that decide where a service runs and what hardware it
//! reserves: `deploy.placement` and `deploy.resources.reservations.devices`.

use serde::Deserialize;

use super::value::{Any, ComposeText, Parsed, Scalar};

/// `deploy.placement`, as swarm reads it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `node.labels.zone == east`, `node.role != manager`, ...; all must hold.
    #[serde(default)]
    pub constraints: Vec<Parsed<Constraint>>,
    #[serde(default)]
    pub preferences: Vec<Preference>,
    #[serde(default)]
    pub max_replicas_per_node: Option<Scalar>,
}

/// One placement constraint: `attribute == value` or `attribute != value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub attribute: Parsed<ConstraintAttribute>,
    /// `==` (else `!=`).
    pub equal: bool,
    pub value: String,
}

impl ComposeText for Constraint {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("for example node.labels.zone == east");
    fn parse(text: &str) -> Result<Self, String> {
        let (attribute, equal, value) = match (text.split_once("=="), text.split_once("!=")) {
            (Some((a, v)), _) => (a, true, v),
            (None, Some((a, v))) => (a, false, v),
            (None, None) => return Err(format!("`{text}` is not `attribute == value` or `attribute != value`")),
        };
        Ok(Constraint { attribute: Parsed::new(attribute.trim()), equal, value: value.trim().to_string() })
    }
}

/// What a constraint tests, among the node attributes swarm knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintAttribute {
    NodeLabel(String),
    EngineLabel(String),
    Hostname,
    Os,
    Arch,
    /// `manager` or `worker`.
    Role,
    Id,
}

impl ComposeText for ConstraintAttribute {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use node.labels.<label>, node.hostname, node.role, node.platform.os, node.platform.arch or engine.labels.<label>");
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(key) = text.strip_prefix("node.labels.") {
            return Ok(ConstraintAttribute::NodeLabel(key.to_string()));
        }
        if let Some(key) = text.strip_prefix("engine.labels.") {
            return Ok(ConstraintAttribute::EngineLabel(key.to_string()));
        }
        match text {
            "node.hostname" => Ok(ConstraintAttribute::Hostname),
            "node.platform.os" => Ok(ConstraintAttribute::Os),
            "node.platform.arch" => Ok(ConstraintAttribute::Arch),
            "node.role" => Ok(ConstraintAttribute::Role),
            "node.id" => Ok(ConstraintAttribute::Id),
            other => Err(format!("unknown constraint attribute `{other}`")),
        }
    }
}

/// `platform: os[/arch[/variant]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

impl ComposeText for Platform {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("for example linux/amd64 or linux/arm64");
    fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(format!("`{text}` is not os[/arch[/variant]]"));
        }
        let part = |index: usize| parts.get(index).map(|p| p.to_string());
        Ok(Platform { os: parts[0].to_string(), arch: part(1), variant: part(2) })
    }
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
