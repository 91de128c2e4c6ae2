//! The compose document as typed data, read from its canonical form (see `canonical`):
//! only the long syntax of every field. Unknown keys are errors, as in compose itself.
//! Durations, byte sizes, CPUs, ports and the one-word keys (`choices`) are read here, once
//! ([`Parsed`]); a value that does not read is reported, with its exact path, by validation
//! (`fields`).
// Long because the compose spec has about a hundred service keys, each a typed field here;
// one file keeps every key of the model findable with one search.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value as Json;

pub use super::choices::{DependencyCondition, DeployMode, EndpointMode, FailureAction, NetworkMode, PullPolicy, Restart, RestartCondition, UpdateOrder};
use super::extension::{ServiceExtension, VolumeExtension};
pub use super::identity::{Identity, User};
use super::placement::{DeviceRequest, Placement, Platform};
use super::units::{ByteSize, ExposedPorts, FileMode, HostAddress, Millicores, Protocol};
pub use super::value::{Any, Parsed, Scalar};
use super::value::{kind_of, scalar_text};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeFile {
    /// Obsolete in the compose spec; accepted and ignored.
    #[serde(default)]
    pub version: Any,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default, deserialize_with = "nullable_map")]
    pub volumes: BTreeMap<String, VolumeDefinition>,
    #[serde(default, deserialize_with = "nullable_map")]
    pub networks: BTreeMap<String, NetworkDefinition>,
    #[serde(default)]
    pub configs: BTreeMap<String, FileObjectDefinition>,
    #[serde(default)]
    pub secrets: BTreeMap<String, FileObjectDefinition>,
    #[serde(default)]
    pub include: Any,
    #[serde(default)]
    pub models: Any,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub build: Any,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, deserialize_with = "key_values")]
    pub environment: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub env_file: Vec<EnvFile>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<Parsed<User>>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub domainname: Option<String>,
    #[serde(default, deserialize_with = "key_values")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(default, deserialize_with = "key_values")]
    pub annotations: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub ports: Vec<Port>,
    /// One `port[/protocol]` per exposed port.
    #[serde(default)]
    pub expose: Vec<Parsed<ExposedPorts>>,
    #[serde(default)]
    pub volumes: Vec<VolumeMount>,
    #[serde(default)]
    pub volumes_from: Any,
    #[serde(default)]
    pub tmpfs: Vec<TmpfsEntry>,
    #[serde(default)]
    pub shm_size: Option<Parsed<ByteSize>>,
    #[serde(default)]
    pub deploy: Option<Deploy>,
    #[serde(default)]
    pub scale: Option<Parsed<u32>>,
    #[serde(default)]
    pub restart: Option<Parsed<Restart>>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub external_links: Any,
    #[serde(default, deserialize_with = "nullable_map")]
    pub networks: BTreeMap<String, ServiceNetwork>,
    #[serde(default)]
    pub network_mode: Option<Parsed<NetworkMode>>,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub stop_grace_period: Option<Parsed<Duration>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Host name → addresses, as `extra_hosts` lists them.
    #[serde(default)]
    pub extra_hosts: BTreeMap<String, Vec<Parsed<HostAddress>>>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_opt: Vec<String>,
    #[serde(default)]
    pub init: Option<Parsed<bool>>,
    #[serde(default)]
    pub privileged: Option<Parsed<bool>>,
    #[serde(default)]
    pub read_only: Option<Parsed<bool>>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub pid: Option<String>,
    #[serde(default)]
    pub ipc: Option<String>,
    #[serde(default)]
    pub container_name: Option<String>,
    #[serde(default)]
    pub pull_policy: Option<Parsed<PullPolicy>>,
    #[serde(default)]
    pub stdin_open: Option<Parsed<bool>>,
    #[serde(default)]
    pub tty: Option<Parsed<bool>>,
    #[serde(default)]
    pub configs: Vec<FileMount>,
    #[serde(default)]
    pub secrets: Vec<FileMount>,
    // Legacy (v2) resource keys, still common in the wild.
    #[serde(default)]
    pub cpus: Option<Parsed<Millicores>>,
    #[serde(default)]
    pub mem_limit: Option<Parsed<ByteSize>>,
    #[serde(default)]
    pub mem_reservation: Option<Parsed<ByteSize>>,
    #[serde(default)]
    pub pids_limit: Option<Scalar>,
    // Keys with no Kubernetes counterpart: accepted, and reported as warnings by `translate`.
    #[serde(default)]
    pub attach: Any,
    #[serde(default)]
    pub blkio_config: Any,
    #[serde(default)]
    pub cgroup: Any,
    #[serde(default)]
    pub cgroup_parent: Any,
    #[serde(default)]
    pub cpu_count: Any,
    #[serde(default)]
    pub cpu_percent: Any,
    #[serde(default)]
    pub cpu_shares: Any,
    #[serde(default)]
    pub cpu_period: Any,
    #[serde(default)]
    pub cpu_quota: Any,
    #[serde(default)]
    pub cpu_rt_runtime: Any,
    #[serde(default)]
    pub cpu_rt_period: Any,
    #[serde(default)]
    pub cpuset: Any,
    #[serde(default)]
    pub credential_spec: Any,
    #[serde(default)]
    pub develop: Any,
    #[serde(default)]
    pub device_cgroup_rules: Any,
    #[serde(default)]
    pub devices: Any,
    #[serde(default)]
    pub driver_opts: Any,
    #[serde(default)]
    pub gpus: Any,
    #[serde(default)]
    pub group_add: Vec<Parsed<Identity>>,
    #[serde(default)]
    pub isolation: Any,
    #[serde(default)]
    pub label_file: Any,
    #[serde(default)]
    pub logging: Any,
    #[serde(default)]
    pub log_driver: Any,
    #[serde(default)]
    pub log_opt: Any,
    #[serde(default)]
    pub mac_address: Any,
    #[serde(default)]
    pub mem_swappiness: Any,
    #[serde(default)]
    pub memswap_limit: Any,
    #[serde(default)]
    pub models: Any,
    #[serde(default)]
    pub oom_kill_disable: Any,
    #[serde(default)]
    pub oom_score_adj: Any,
    #[serde(default)]
    pub platform: Option<Parsed<Platform>>,
    #[serde(default)]
    pub post_start: Vec<Hook>,
    #[serde(default)]
    pub pre_stop: Vec<Hook>,
    #[serde(default)]
    pub provider: Any,
    #[serde(default)]
    pub pull_refresh_after: Any,
    #[serde(default)]
    pub runtime: Any,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub storage_opt: Any,
    #[serde(default, deserialize_with = "key_values")]
    pub sysctls: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub ulimits: Any,
    #[serde(default)]
    pub use_api_socket: Any,
    #[serde(default)]
    pub userns_mode: Any,
    #[serde(default)]
    pub uts: Any,
    #[serde(default)]
    pub volume_driver: Any,
    /// The `x-kubernetes` extension: Kubernetes settings compose has no words for.
    #[serde(default, rename = "x-kubernetes")]
    pub x_kubernetes: Option<ServiceExtension>,
}

impl Service {
    /// `deploy.mode`, replicated when unset (or unreadable, which validation reports).
    pub fn deploy_mode(&self) -> DeployMode {
        self.deploy.as_ref().and_then(|d| d.mode.as_ref()).and_then(Parsed::ok).unwrap_or_default()
    }

    /// `network_mode`, when set (and readable, which validation reports otherwise).
    pub fn network_mode(&self) -> Option<NetworkMode> {
        self.network_mode.as_ref().and_then(Parsed::ok)
    }

    /// `deploy.endpoint_mode` is `dnsrr`.
    pub fn dns_round_robin(&self) -> bool {
        self.deploy.as_ref().and_then(|d| d.endpoint_mode.as_ref()).and_then(Parsed::ok) == Some(EndpointMode::Dnsrr)
    }

    /// Keys that parse but mean nothing on Kubernetes, with the reason shown to the user.
    pub fn keys_without_kubernetes_meaning(&self) -> Vec<(&'static str, &'static str)> {
        let runtime_tuning = "a container-runtime setting with no Kubernetes pod field; ignored";
        let candidates: [(&'static str, &Any, &'static str); 33] = [
            ("attach", &self.attach, "log attachment is a docker compose client setting; ignored"),
            ("blkio_config", &self.blkio_config, runtime_tuning),
            ("cgroup", &self.cgroup, runtime_tuning),
            ("cgroup_parent", &self.cgroup_parent, runtime_tuning),
            ("cpu_count", &self.cpu_count, "use cpus or deploy.resources; ignored"),
            ("cpu_percent", &self.cpu_percent, "use cpus or deploy.resources; ignored"),
            ("cpu_shares", &self.cpu_shares, "relative CPU weight has no Kubernetes field; use deploy.resources.reservations.cpus; ignored"),
            ("cpu_period", &self.cpu_period, runtime_tuning),
            ("cpu_quota", &self.cpu_quota, "use cpus or deploy.resources.limits.cpus; ignored"),
            ("cpu_rt_runtime", &self.cpu_rt_runtime, runtime_tuning),
            ("cpu_rt_period", &self.cpu_rt_period, runtime_tuning),
            ("cpuset", &self.cpuset, "CPU pinning is the kubelet's CPU manager's job; ignored"),
            ("credential_spec", &self.credential_spec, "Windows credential specs are not supported; ignored"),
            ("develop", &self.develop, "compose watch is a development-time feature; ignored"),
            ("device_cgroup_rules", &self.device_cgroup_rules, runtime_tuning),
            ("devices", &self.devices, "host devices need a Kubernetes device plugin; ignored"),
            ("driver_opts", &self.driver_opts, runtime_tuning),
            ("gpus", &self.gpus, "request GPUs through deploy.resources.reservations.devices; ignored"),
            ("isolation", &self.isolation, runtime_tuning),
            ("label_file", &self.label_file, "files cannot be read from a cluster; put labels inline; ignored"),
            ("logging", &self.logging, "the cluster's log pipeline collects container output; ignored"),
            ("log_driver", &self.log_driver, "the cluster's log pipeline collects container output; ignored"),
            ("log_opt", &self.log_opt, "the cluster's log pipeline collects container output; ignored"),
            ("mac_address", &self.mac_address, "pod networking assigns addresses; ignored"),
            ("mem_swappiness", &self.mem_swappiness, runtime_tuning),
            ("memswap_limit", &self.memswap_limit, runtime_tuning),
            ("models", &self.models, "compose AI models are not supported; ignored"),
            ("oom_kill_disable", &self.oom_kill_disable, runtime_tuning),
            ("oom_score_adj", &self.oom_score_adj, "the kubelet sets OOM scores from the QoS class; ignored"),
            ("runtime", &self.runtime, "pick a RuntimeClass in the cluster instead; ignored"),
            ("storage_opt", &self.storage_opt, runtime_tuning),
            ("ulimits", &self.ulimits, "Kubernetes has no per-container ulimit field; ignored"),
            ("userns_mode", &self.userns_mode, "user namespaces are set by hostUsers in Kubernetes; ignored"),
        ];
        let more: [(&'static str, &Any, &'static str); 4] = [
            ("uts", &self.uts, runtime_tuning),
            ("volume_driver", &self.volume_driver, "volume drivers map to StorageClasses; set spec.volumes.storageClassName; ignored"),
            ("use_api_socket", &self.use_api_socket, "there is no Docker engine socket in a cluster; ignored"),
            ("pull_refresh_after", &self.pull_refresh_after, "image refresh is the kubelet's pull policy; ignored"),
        ];
        candidates.into_iter().chain(more).filter(|(_, value, _)| value.is_some()).map(|(key, _, reason)| (key, reason)).collect()
    }
}

/// One published or exposed port, in the long syntax (ranges are expanded already).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub target: u16,
    /// A port, or a host range Docker picks a free port from (`8000-8010`).
    #[serde(default, deserialize_with = "port_range")]
    pub published: Option<(u16, u16)>,
    #[serde(default)]
    pub host_ip: Option<String>,
    pub protocol: Parsed<Protocol>,
    pub mode: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub app_protocol: Option<String>,
}

/// One `env_file:` entry: `- path` or `- {path, required, format}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    pub path: String,
    #[serde(default = "EnvFile::required_by_default")]
    pub required: bool,
    #[serde(default)]
    pub format: Option<String>,
}

impl EnvFile {
    fn required_by_default() -> bool {
        true
    }
}

/// A service's `configs:` / `secrets:` entry: `{source, target, uid, gid, mode}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMount {
    pub source: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub uid: Option<Scalar>,
    #[serde(default)]
    pub gid: Option<Scalar>,
    /// Octal in compose files (`0440`), read as a number by the YAML layer.
    #[serde(default)]
    pub mode: Option<Parsed<FileMode>>,
}

/// One entry of a service's `volumes:`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeMount {
    #[serde(rename = "type")]
    pub kind: MountType,
    #[serde(default)]
    pub source: Option<String>,
    pub target: String,
    #[serde(default)]
    pub read_only: Option<Parsed<bool>>,
    #[serde(default)]
    pub consistency: Any,
    #[serde(default)]
    pub bind: Option<BindOptions>,
    #[serde(default)]
    pub volume: Option<VolumeOptions>,
    #[serde(default)]
    pub tmpfs: Option<TmpfsOptions>,
    #[serde(default)]
    pub image: Any,
    /// The `x-kubernetes` extension: the claim a host directory becomes.
    #[serde(default, rename = "x-kubernetes")]
    pub x_kubernetes: Option<VolumeExtension>,
}

/// A mount's `type`, decided once when the document is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountType {
    Volume,
    Bind,
    Tmpfs,
    /// `npipe`, `cluster`, `image` or anything else: the translation refuses it by name.
    Other(String),
}

impl MountType {
    pub fn as_str(&self) -> &str {
        match self {
            MountType::Volume => "volume",
            MountType::Bind => "bind",
            MountType::Tmpfs => "tmpfs",
            MountType::Other(other) => other,
        }
    }
}

impl<'de> Deserialize<'de> for MountType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "volume" => MountType::Volume,
            "bind" => MountType::Bind,
            "tmpfs" => MountType::Tmpfs,
            other => MountType::Other(other.to_string()),
        })
    }
}

impl VolumeMount {
    /// The named volume this mounts, if it mounts one (not a path, not anonymous, not tmpfs).
    pub fn named_source(&self) -> Option<&str> {
        (self.kind == MountType::Volume).then_some(self.source.as_deref()).flatten().filter(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindOptions {
    #[serde(default)]
    pub propagation: Option<String>,
    #[serde(default)]
    pub create_host_path: Option<Parsed<bool>>,
    #[serde(default)]
    pub selinux: Option<String>,
    #[serde(default)]
    pub recursive: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    #[serde(default)]
    pub nocopy: Any,
    #[serde(default)]
    pub subpath: Option<String>,
}

/// One entry of `links:`: `service[:alias]`, the service linked to and the extra name it is
/// reached by.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub service: String,
    pub alias: Option<String>,
}

impl<'de> Deserialize<'de> for Link {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.split_once(':') {
            Some((service, alias)) => Link { service: service.to_string(), alias: Some(alias.to_string()) },
            None => Link { service: text, alias: None },
        })
    }
}

/// One entry of a service's `tmpfs:` list: `target[:option,option...]`, as Docker's
/// `--tmpfs` takes it. Of the options only `size=` has a Kubernetes meaning (the emptyDir's
/// limit); the others are kept to be named in a warning.
#[derive(Clone, Debug, PartialEq)]
pub struct TmpfsEntry {
    pub target: String,
    pub size: Option<Parsed<ByteSize>>,
    pub other_options: Vec<String>,
}

impl<'de> Deserialize<'de> for TmpfsEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (target, options) = text.split_once(':').unwrap_or((&text, ""));
        let mut entry = TmpfsEntry { target: target.to_string(), size: None, other_options: Vec::new() };
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option.strip_prefix("size=") {
                Some(size) if entry.size.is_none() => entry.size = Some(Parsed::new(size)),
                _ => entry.other_options.push(option.to_string()),
            }
        }
        Ok(entry)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsOptions {
    #[serde(default)]
    pub size: Option<Parsed<ByteSize>>,
    #[serde(default)]
    pub mode: Any,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    #[serde(default)]
    pub mode: Option<Parsed<DeployMode>>,
    #[serde(default)]
    pub replicas: Option<Parsed<u32>>,
    #[serde(default, deserialize_with = "key_values")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(default)]
    pub update_config: Option<UpdateConfig>,
    #[serde(default)]
    pub rollback_config: Any,
    #[serde(default)]
    pub placement: Option<Placement>,
    #[serde(default)]
    pub endpoint_mode: Option<Parsed<EndpointMode>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub limits: Option<ResourceAmounts>,
    #[serde(default)]
    pub reservations: Option<ResourceAmounts>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    #[serde(default)]
    pub cpus: Option<Parsed<Millicores>>,
    #[serde(default)]
    pub memory: Option<Parsed<ByteSize>>,
    #[serde(default)]
    pub pids: Option<Scalar>,
    #[serde(default)]
    pub devices: Vec<DeviceRequest>,
    #[serde(default)]
    pub generic_resources: Any,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    #[serde(default)]
    pub condition: Option<Parsed<RestartCondition>>,
    #[serde(default)]
    pub delay: Option<Parsed<Duration>>,
    #[serde(default)]
    pub max_attempts: Option<Parsed<u32>>,
    #[serde(default)]
    pub window: Option<Parsed<Duration>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    #[serde(default)]
    pub parallelism: Option<Parsed<u32>>,
    #[serde(default)]
    pub delay: Option<Parsed<Duration>>,
    #[serde(default)]
    pub failure_action: Option<Parsed<FailureAction>>,
    #[serde(default)]
    pub monitor: Option<Parsed<Duration>>,
    #[serde(default)]
    pub max_failure_ratio: Any,
    #[serde(default)]
    pub order: Option<Parsed<UpdateOrder>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `[CMD, ...]`, `[CMD-SHELL, "..."]` or `[NONE]`.
    #[serde(default)]
    pub test: Option<Vec<String>>,
    #[serde(default)]
    pub interval: Option<Parsed<Duration>>,
    #[serde(default)]
    pub timeout: Option<Parsed<Duration>>,
    #[serde(default)]
    pub retries: Option<Parsed<u32>>,
    #[serde(default)]
    pub start_period: Option<Parsed<Duration>>,
    #[serde(default)]
    pub start_interval: Option<Parsed<Duration>>,
    #[serde(default)]
    pub disable: Option<Parsed<bool>>,
}

impl Healthcheck {
    /// Whether the healthcheck runs: a test other than `NONE`, and not `disable: true`.
    pub fn runs(&self) -> bool {
        !self.is_disabled() && self.test.as_ref().is_some_and(|t| t.first().is_some_and(|w| w != "NONE"))
    }

    /// `disable: true`.
    pub fn is_disabled(&self) -> bool {
        self.disable.as_ref().and_then(Parsed::ok).unwrap_or(false)
    }

    /// The command the check runs, as docker runs it: `CMD` and its arguments, or `CMD-SHELL`
    /// and a line for `sh -c`; none for `NONE` or no test. A list of another form is an error
    /// (validation reports it).
    pub fn command(&self) -> Result<Option<Vec<String>>, &'static str> {
        match self.test.as_deref().map(<[String]>::split_first) {
            None => Ok(None),
            Some(Some((kind, rest))) if kind == "CMD" && !rest.is_empty() => Ok(Some(rest.to_vec())),
            Some(Some((kind, rest))) if kind == "CMD-SHELL" && !rest.is_empty() => Ok(Some(vec!["sh".into(), "-c".into(), rest.join(" ")])),
            Some(Some((kind, _))) if kind == "NONE" => Ok(None),
            _ => Err("a healthcheck test list starts with CMD, CMD-SHELL or NONE, followed by the command"),
        }
    }
}

/// One `post_start` / `pre_stop` entry: a command run in the container.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub command: Vec<String>,
    #[serde(default)]
    pub user: Option<Scalar>,
    #[serde(default)]
    pub privileged: Option<Parsed<bool>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default, deserialize_with = "key_values")]
    pub environment: BTreeMap<String, Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default = "Dependency::default_condition")]
    pub condition: Parsed<DependencyCondition>,
    #[serde(default = "Dependency::default_required")]
    pub required: bool,
    #[serde(default)]
    pub restart: Option<bool>,
    /// Added by the loader for `links` and `network_mode: service:`, not written by the user.
    #[serde(skip)]
    pub implied: bool,
}

impl Dependency {
    fn default_condition() -> Parsed<DependencyCondition> {
        Parsed::new("service_started")
    }

    fn default_required() -> bool {
        true
    }
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency { condition: Self::default_condition(), required: true, restart: None, implied: false }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ipv4_address: Any,
    #[serde(default)]
    pub ipv6_address: Any,
    #[serde(default)]
    pub link_local_ips: Any,
    #[serde(default)]
    pub mac_address: Any,
    #[serde(default)]
    pub driver_opts: Any,
    #[serde(default)]
    pub priority: Any,
    #[serde(default)]
    pub gw_priority: Any,
    #[serde(default)]
    pub interface_name: Any,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDefinition {
    #[serde(default)]
    pub driver: Any,
    #[serde(default)]
    pub driver_opts: Any,
    #[serde(default)]
    pub external: Any,
    #[serde(default, deserialize_with = "key_values")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub name: Option<String>,
    /// The `x-kubernetes` extension: the claim's size and class.
    #[serde(default, rename = "x-kubernetes")]
    pub x_kubernetes: Option<VolumeExtension>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDefinition {
    #[serde(default)]
    pub driver: Any,
    #[serde(default)]
    pub driver_opts: Any,
    #[serde(default)]
    pub attachable: Any,
    #[serde(default)]
    pub enable_ipv4: Any,
    #[serde(default)]
    pub enable_ipv6: Any,
    #[serde(default)]
    pub ipam: Any,
    #[serde(default)]
    pub internal: Any,
    #[serde(default)]
    pub external: Any,
    #[serde(default, deserialize_with = "key_values")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileObjectDefinition {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub external: Any,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "key_values")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub driver: Any,
    #[serde(default)]
    pub driver_opts: Any,
    #[serde(default)]
    pub template_driver: Any,
}

/// `published: "8080"` or a host range `"8000-8010"`, as the canonical form writes it.
fn port_range<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<(u16, u16)>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => super::units::parse_port_range(&text).map(Some).map_err(de::Error::custom),
    }
}

/// `KEY: value` mappings that compose also accepts as `["KEY=value", "KEY"]` lists.
/// A key without a value is `None` (compose then reads it from the environment).
fn key_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    match Json::deserialize(deserializer)? {
        Json::Null => Ok(BTreeMap::new()),
        Json::Object(map) => map
            .into_iter()
            .map(|(key, value)| match value {
                Json::Null => Ok((key, None)),
                other => scalar_text(&other)
                    .map(|text| (key.clone(), Some(text)))
                    .ok_or_else(|| de::Error::custom(format!("the value of `{key}` must be a string or number, found {}", kind_of(&other)))),
            })
            .collect(),
        Json::Array(items) => items
            .into_iter()
            .map(|item| {
                let text =
                    scalar_text(&item).ok_or_else(|| de::Error::custom(format!("list items must be \"KEY=value\" strings, found {}", kind_of(&item))))?;
                Ok(match text.split_once('=') {
                    Some((key, value)) => (key.to_string(), Some(value.to_string())),
                    None => (text, None),
                })
            })
            .collect(),
        other => Err(de::Error::custom(format!("expected a mapping or a list of \"KEY=value\", found {}", kind_of(&other)))),
    }
}

/// Top-level `volumes: {data: }` — an empty definition is written as null.
fn nullable_map<'de, D, T>(deserializer: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    // Deserializing `Option<T>` in place (not through an intermediate JSON value) keeps the
    // path of an error inside a definition, e.g. `volumes.data.x-kubernetes.sizes`.
    let map = Option::<BTreeMap<String, Option<T>>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(map.into_iter().map(|(name, definition)| (name, definition.unwrap_or_default())).collect())
}
