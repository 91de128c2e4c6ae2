//! The administrator's policy as command-line flags and environment variables, shared by the
//! operator (`run`) and the commands that check a stack before sending it (`convert`, `stack`,
//! `deploy`), so both read the same names.

use clap::Args;

use crate::policy::Policy;

#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct PolicyArgs {
    /// Allow `privileged: true` containers.
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_PRIVILEGED")]
    pub allow_privileged: bool,
    /// Allow bind mounts of host paths (become hostPath volumes).
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_HOST_PATHS")]
    pub allow_host_paths: bool,
    /// Allow `cap_add` (added Linux capabilities).
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_CAPABILITIES")]
    pub allow_capabilities: bool,
    /// Allow `network_mode: host`, `pid: host` and `ipc: host`.
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_HOST_NAMESPACES")]
    pub allow_host_namespaces: bool,
    /// Allow `sysctls` outside Kubernetes' safe set (the kubelet must allow them too,
    /// with --allowed-unsafe-sysctls).
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_UNSAFE_SYSCTLS")]
    pub allow_unsafe_sysctls: bool,
    /// Allow pod annotations and labels that change what a pod's network reaches (Multus
    /// networks, Calico addresses, service-mesh opt-outs; see the README).
    #[arg(long, env = "COMPOSE_OPERATOR_ALLOW_NETWORK_ANNOTATIONS")]
    pub allow_network_annotations: bool,
    /// Refuse pod annotations and labels whose key starts with this prefix, beyond the
    /// built-in list (repeatable, or comma-separated).
    #[arg(long = "deny-pod-annotation", env = "COMPOSE_OPERATOR_DENY_POD_ANNOTATIONS", value_delimiter = ',', value_name = "PREFIX")]
    pub denied_pod_annotations: Vec<String>,
}

impl PolicyArgs {
    /// The policy these flags set.
    pub fn policy(&self) -> Policy {
        // Destructured without `..`: a new flag is a compile error here until it reaches the policy.
        let PolicyArgs {
            allow_privileged,
            allow_host_paths,
            allow_capabilities,
            allow_host_namespaces,
            allow_unsafe_sysctls,
            allow_network_annotations,
            denied_pod_annotations,
        } = self.clone();
        Policy {
            allow_privileged,
            allow_host_paths,
            allow_capabilities,
            allow_host_namespaces,
            allow_unsafe_sysctls,
            allow_network_annotations,
            denied_pod_annotations,
        }
    }
}
