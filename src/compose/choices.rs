//! The keys whose value is one word (or a word and an argument) of a set compose fixes: a
//! restart policy, a deploy mode, a rollout order, a pull policy, a network mode. Each reads
//! once, when the document is loaded (as a [`Parsed`](super::value::Parsed) value), so the
//! translation matches on an enum; a word outside the set is reported by validation
//! (`fields`), with the words that are in it.

use super::value::ComposeText;

/// `restart:`, docker compose's restart policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    UnlessStopped,
    OnFailure { max_attempts: Option<u32> },
}

impl ComposeText for Restart {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use \"no\", always, on-failure[:N] or unless-stopped");
    fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':').unwrap_or((text, "")) {
            ("no", "") => Ok(Restart::No),
            ("always", "") => Ok(Restart::Always),
            ("unless-stopped", "") => Ok(Restart::UnlessStopped),
            ("on-failure", count) => Ok(Restart::OnFailure { max_attempts: count.parse().ok() }),
            _ => Err(format!("unknown restart policy `{text}`")),
        }
    }
}

/// `deploy.restart_policy.condition`, in swarm's words; docker compose also takes the
/// `restart:` words there, and so do we.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartCondition {
    /// `none` (or `no`).
    None,
    OnFailure,
    /// `any` (or `always`, `unless-stopped`).
    Any,
}

impl ComposeText for RestartCondition {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use none, on-failure or any (or no, always, unless-stopped)");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "none" | "no" => Ok(RestartCondition::None),
            "on-failure" => Ok(RestartCondition::OnFailure),
            "any" | "always" | "unless-stopped" => Ok(RestartCondition::Any),
            other => Err(format!("unknown condition `{other}`")),
        }
    }
}

/// When a dependent may start, compose's `depends_on.<service>.condition`; the controller's
/// start order reads it from the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyCondition {
    /// `service_started`: the workload exists and (long-running) has a ready pod.
    Started,
    /// `service_healthy`: every replica is ready.
    Healthy,
    /// `service_completed_successfully`: the one-shot Job succeeded.
    CompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_compose(self) -> &'static str {
        match self {
            DependencyCondition::Started => "service_started",
            DependencyCondition::Healthy => "service_healthy",
            DependencyCondition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

impl ComposeText for DependencyCondition {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use service_started, service_healthy or service_completed_successfully");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "service_started" => Ok(DependencyCondition::Started),
            "service_healthy" => Ok(DependencyCondition::Healthy),
            "service_completed_successfully" => Ok(DependencyCondition::CompletedSuccessfully),
            other => Err(format!("unknown condition `{other}`")),
        }
    }
}

/// `deploy.mode`: how many tasks swarm runs, and whether they run once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeployMode {
    #[default]
    Replicated,
    Global,
    ReplicatedJob,
    GlobalJob,
}

impl ComposeText for DeployMode {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use replicated, global or replicated-job");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "replicated" => Ok(DeployMode::Replicated),
            "global" => Ok(DeployMode::Global),
            "replicated-job" => Ok(DeployMode::ReplicatedJob),
            "global-job" => Ok(DeployMode::GlobalJob),
            other => Err(format!("unknown mode `{other}`")),
        }
    }
}

/// `deploy.endpoint_mode`: a virtual IP, or DNS round robin over the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

impl ComposeText for EndpointMode {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use vip or dnsrr");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "vip" => Ok(EndpointMode::Vip),
            "dnsrr" => Ok(EndpointMode::Dnsrr),
            other => Err(format!("unknown endpoint_mode `{other}`")),
        }
    }
}

/// `deploy.update_config.order`: stop an old task before its replacement starts, or after.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateOrder {
    #[default]
    StopFirst,
    StartFirst,
}

impl ComposeText for UpdateOrder {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use stop-first or start-first");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "stop-first" => Ok(UpdateOrder::StopFirst),
            "start-first" => Ok(UpdateOrder::StartFirst),
            other => Err(format!("unknown order `{other}`")),
        }
    }
}

/// `deploy.update_config.failure_action`: what swarm does when an update fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

impl ComposeText for FailureAction {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use pause, continue or rollback");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "pause" => Ok(FailureAction::Pause),
            "continue" => Ok(FailureAction::Continue),
            "rollback" => Ok(FailureAction::Rollback),
            other => Err(format!("unknown failure_action `{other}`")),
        }
    }
}

/// `pull_policy`: when the image is pulled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// `always`, and the refresh periods `daily` and `weekly`, which a kubelet cannot keep.
    Always,
    Never,
    /// `missing` (or `if_not_present`).
    Missing,
    /// `build`: build the image instead of pulling it.
    Build,
}

impl ComposeText for PullPolicy {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use always, never, missing or if_not_present");
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "always" | "daily" | "weekly" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            "missing" | "if_not_present" => Ok(PullPolicy::Missing),
            "build" => Ok(PullPolicy::Build),
            other => Err(format!("unknown pull policy `{other}`")),
        }
    }
}

/// `network_mode`: whose network the container is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// `bridge` (or `default`): Docker's default bridge.
    Bridge,
    /// The node's network.
    Host,
    None,
    /// `service:<name>`: the network of another service's container.
    Service(String),
    /// `container:<name>`: the network of a container, which here can only be a service's
    /// (by its name or `container_name`).
    Container(String),
}

impl NetworkMode {
    /// The service (or container) whose network this one shares, if it shares one.
    pub fn shared_with(&self) -> Option<&str> {
        match self {
            NetworkMode::Service(name) | NetworkMode::Container(name) => Some(name),
            _ => None,
        }
    }
}

impl ComposeText for NetworkMode {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("use bridge, host, none, or service:<name> to share another service's network");
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("service:") {
            return Ok(NetworkMode::Service(name.to_string()));
        }
        if let Some(name) = text.strip_prefix("container:") {
            return Ok(NetworkMode::Container(name.to_string()));
        }
        match text {
            "bridge" | "default" => Ok(NetworkMode::Bridge),
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            other => Err(format!("unknown network_mode `{other}`")),
        }
    }
}
