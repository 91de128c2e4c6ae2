//! Shared by the translation tests: fixtures carry their ComposeStack settings in an
//! `x-test:` extension (ignored by the translation itself, like every `x-` key).

#![allow(dead_code)]

pub mod counting;
pub mod record;
pub mod validity;

use std::collections::BTreeMap;

use compose_operator::api::{BindMounts, ComposeStackSpec};
use compose_operator::policy::Policy;
use compose_operator::translate;
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TestSettings {
    variables: BTreeMap<String, String>,
    profiles: Vec<String>,
    overrides: Vec<String>,
    policy: Option<String>,
    images: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
    binary_files: BTreeMap<String, String>,
    directories: Vec<String>,
    secret_files: Option<String>,
    bind_mounts: Option<String>,
    unpacked_paths: Vec<String>,
    /// The namespace's enforced Pod Security level: privileged, baseline or restricted.
    pod_security: Option<String>,
    deny_pod_annotations: Vec<String>,
    #[serde(rename = "networkPolicies")]
    network_policies: Option<bool>,
}

#[derive(Deserialize)]
struct WithSettings {
    #[serde(rename = "x-test", default)]
    settings: Option<TestSettings>,
}

pub fn spec_and_policy(compose: &str) -> (ComposeStackSpec, Policy) {
    let settings = serde_saphyr::from_str::<WithSettings>(compose).ok().and_then(|w| w.settings).unwrap_or_default();
    let policy = match settings.policy.as_deref() {
        Some("all") => Policy {
            allow_privileged: true,
            allow_host_paths: true,
            allow_capabilities: true,
            allow_host_namespaces: true,
            allow_unsafe_sysctls: true,
            allow_network_annotations: true,
            denied_pod_annotations: Vec::new(),
        },
        _ => Policy { denied_pod_annotations: settings.deny_pod_annotations.clone(), ..Policy::default() },
    };
    let spec = ComposeStackSpec {
        compose: compose.to_string(),
        overrides: settings.overrides,
        variables: settings.variables,
        profiles: settings.profiles,
        images: settings.images,
        files: settings.files,
        binary_files: settings.binary_files,
        directories: settings.directories,
        secret_files: settings.secret_files,
        bind_mounts: settings.bind_mounts.as_deref().map(|b| match b {
            "Drop" => BindMounts::Drop,
            "Refuse" => BindMounts::Refuse,
            _ => BindMounts::Claim,
        }),
        network_policies: settings.network_policies,
        unpacked_paths: settings.unpacked_paths,
        ..Default::default()
    };
    (spec, policy)
}

/// Where the fixture's stack lands (`x-test: {pod_security: restricted}`).
pub fn target(compose: &str) -> compose_operator::pipeline::NamespaceSettings {
    let settings = serde_saphyr::from_str::<WithSettings>(compose).ok().and_then(|w| w.settings).unwrap_or_default();
    compose_operator::pipeline::NamespaceSettings {
        pod_security: translate::fragment::admission::PodSecurityLevel::from_label(settings.pod_security.as_deref()),
    }
}

/// What `convert` prints, plus the warnings, as one reviewable text.
pub fn render(stack: &str, spec: &ComposeStackSpec, policy: &Policy) -> String {
    match compose_operator::pipeline::translate_for(stack, "default", &target(&spec.compose), spec, policy) {
        Ok(translation) => {
            let mut text = String::new();
            for warning in &translation.warnings {
                text.push_str(&format!("# warning: {warning}\n"));
            }
            for object in translation.objects() {
                text.push_str("---\n");
                // Typed, as `convert` prints it: the snapshots pin that this reads as the JSON form did.
                text.push_str(&compose_operator::yaml_writer::to_string(&object).expect("objects print as YAML"));
            }
            text
        }
        Err(errors) => format!("refused:\n{errors}\n"),
    }
}
