//! What the translation knows besides the compose project: the stack's name, the namespace's
//! Pod Security level, the administrator's policy, and what the stack's ComposeStack resolved
//! (packed project files, variables, Secrets it names, volume and Service settings).
//! `crate::pipeline` fills it from a ComposeStack; the translation never sees the resource.

use std::collections::BTreeMap;

use crate::api::{BindMounts, PublishedServiceType};
use crate::policy::Policy;
use crate::translate::fragment::admission::PodSecurityLevel;
use crate::translate::project_files::ProjectFiles;

pub struct Target<'a> {
    /// The stack's name: the prefix and label of everything it creates.
    pub stack: &'a str,
    /// The Pod Security level the namespace enforces.
    pub pod_security: PodSecurityLevel,
    pub policy: &'a Policy,
    /// Project files packed into the stack (`spec.files`, `binaryFiles`, `directories`).
    pub files: ProjectFiles<'a>,
    /// Values for variables that `environment:` entries name without a value.
    pub variables: &'a BTreeMap<String, String>,
    /// The Secret holding the stack's secret files (`spec.secretFiles`).
    pub secret_files: Option<&'a str>,
    /// The Secret holding secret variables (`spec.secretVariables`).
    pub secret_variables: Option<&'a str>,
    /// Env files kept in Secrets (`spec.secretEnvFiles`): project path → Secret name.
    pub secret_env_files: &'a BTreeMap<String, String>,
    /// Project paths the packer left out on purpose (`spec.unpackedPaths`).
    pub unpacked_paths: &'a [String],
    pub bind_mounts: BindMounts,
    pub network_policies: bool,
    pub published_service_type: PublishedServiceType,
    /// The size and class of claims that say nothing of their own (`spec.volumes`).
    pub volume_size: &'a str,
    pub storage_class_name: Option<&'a str>,
    /// Whether claims outlive their stack (`spec.volumes.retainOnDelete`).
    pub retain_volumes: bool,
}

#[cfg(test)]
impl<'a> Target<'a> {
    /// Stack `s` with every ComposeStack setting at its default, for unit tests.
    pub fn with_defaults(policy: &'a Policy, files: ProjectFiles<'a>) -> Target<'a> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        Target {
            stack: "s",
            pod_security: PodSecurityLevel::default(),
            policy,
            files,
            variables: &NONE,
            secret_files: None,
            secret_variables: None,
            secret_env_files: &NONE,
            unpacked_paths: &[],
            bind_mounts: BindMounts::default(),
            network_policies: true,
            published_service_type: PublishedServiceType::default(),
            volume_size: "1Gi",
            storage_class_name: None,
            retain_volumes: true,
        }
    }
}
