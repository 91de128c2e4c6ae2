//! What an operator administrator allows stacks to do. Defaults are safe for clusters
//! where any tenant may create a ComposeStack: every host-reaching feature is refused.
//!
//! A plain value of the core: the command-line flags that fill it live with the commands
//! (`cli::policy_args`), so the translation does not depend on clap.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allow `privileged: true` containers.
    pub allow_privileged: bool,
    /// Allow bind mounts of host paths (become hostPath volumes).
    pub allow_host_paths: bool,
    /// Allow `cap_add` (added Linux capabilities).
    pub allow_capabilities: bool,
    /// Allow `network_mode: host`, `pid: host` and `ipc: host`.
    pub allow_host_namespaces: bool,
    /// Allow `sysctls` outside Kubernetes' safe set.
    pub allow_unsafe_sysctls: bool,
    /// Allow pod annotations and labels that change what a pod's network reaches.
    pub allow_network_annotations: bool,
    /// Refuse pod annotations and labels whose key starts with one of these prefixes,
    /// beyond the built-in list.
    pub denied_pod_annotations: Vec<String>,
}

impl Policy {
    /// The refusal of something `--<flag>` would allow.
    pub fn refusal(&self, flag: &str) -> String {
        format!("refused by the operator's policy; an administrator can allow it with --{flag}")
    }
}
