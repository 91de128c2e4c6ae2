//! `deploy`: the project as `stack` packs it, server-side applied (the ComposeStack and its
//! Secrets, under the CLI's own field manager), then followed through the stack's status
//! and its pods until it is Ready at the applied generation, stalls, or time runs out.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::cluster::{ClusterArgs, Connection, FIELD_MANAGER};
use super::display::{self, PlainView, ProgressView, ServiceProgress, StackProgress, TerminalView};
use super::failure::Failure;
use super::input::ComposeInput;
use super::project::{Project, manifest};
use crate::api::ComposeStack;
use crate::cli::policy_args::PolicyArgs;
use crate::controller::pods::{PodState, pod_problem};
use crate::object::WorkloadKind;
use crate::translate::names;

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The stack name (the same as --name).
    #[arg(value_name = "STACK", conflicts_with = "name")]
    pub stack: Option<String>,
    #[command(flatten)]
    pub input: ComposeInput,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The policy the operator runs with: the stack is checked against it before it is sent.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Apply and return at once, without following the stack.
    #[arg(long)]
    pub no_wait: bool,
    /// Follow the stack until it is Ready (the default; the opposite of --no-wait).
    #[arg(long, overrides_with = "no_wait", hide = true)]
    pub wait: bool,
    /// How long to wait for Ready (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How to show progress: live bars on a terminal, one line per change otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Tty,
    Plain,
}

/// `90s`, `5m`, `1h30m`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration such as 90s, 5m or 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0_u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let value: u64 = number.parse().map_err(|_| invalid())?;
        total = total.checked_add(value.checked_mul(unit).ok_or_else(invalid)?).ok_or_else(invalid)?;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

pub async fn run(args: &DeployArgs) -> Result<String, Failure> {
    let mut project = args.input.project_named(args.stack.as_deref()).map_err(Failure::Invalid)?;
    // Checked before the cluster is asked anything: an invalid project exits 1 wherever it runs.
    super::stack::checked(&mut project, args.cluster.namespace.as_deref().unwrap_or("default"), &args.policy.policy()).map_err(Failure::Invalid)?;
    let connection = args.cluster.connect().await?;
    let generation = apply(&connection, &project).await?;
    if args.no_wait {
        return Ok(format!("stack {} applied in namespace {} (generation {generation})\n", project.name, connection.namespace));
    }
    let terminal = match args.progress {
        ProgressMode::Auto => std::io::stderr().is_terminal(),
        ProgressMode::Tty => true,
        ProgressMode::Plain => false,
    };
    let mut view: Box<dyn ProgressView> = if terminal { Box::new(TerminalView::default()) } else { Box::new(PlainView::new(std::io::stdout())) };
    let outcome = follow(&connection, &project.name, generation, args.timeout, view.as_mut()).await;
    view.finish();
    let last = outcome?;
    let mut summary = format!("stack {} is Ready in namespace {} ({} services)\n", project.name, connection.namespace, last.services.len());
    let services = Api::<Service>::namespaced(connection.client.clone(), &connection.namespace)
        .list(&ListParams::default().labels(&format!("{}={}", names::STACK, project.name)))
        .await?;
    for line in display::endpoints(&services.items) {
        summary.push_str(&format!("  {line}\n"));
    }
    Ok(summary)
}

/// Applies the Secrets, then the stack; returns the stack's generation as stored. The
/// Secrets get the stack as a (non-controller) owner, so deleting the stack deletes them
/// and the operator, which prunes only what it controls, leaves them alone.
async fn apply(connection: &Connection, project: &Project) -> Result<i64, Failure> {
    let client = connection.client.clone();
    let stacks: Api<ComposeStack> = Api::namespaced(client.clone(), &connection.namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &connection.namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let existing = stacks.get_opt(&project.name).await?;
    let apply_secrets = |owner: Option<OwnerReference>| {
        let secrets = secrets.clone();
        let params = params.clone();
        async move {
            for secret in project.secret_manifests(Some(&connection.namespace), owner.as_ref()) {
                secrets.patch(&secret.name_any(), &params, &Patch::Apply(manifest(&secret).map_err(Failure::Invalid)?)).await?;
            }
            Ok::<(), Failure>(())
        }
    };
    apply_secrets(existing.as_ref().and_then(secret_owner)).await?;
    let manifest = super::stack::stack_manifest(project, Some(&connection.namespace));
    let applied = stacks.patch(&project.name, &params, &Patch::Apply(&manifest)).await?;
    let owner = secret_owner(&applied);
    if existing.is_none() && !project.secrets.is_empty() {
        apply_secrets(owner.clone()).await?;
    }
    if let Some(owner) = owner {
        prune_secrets(&secrets, project, &owner.uid).await?;
    }
    Ok(applied.metadata.generation.unwrap_or(1))
}

fn secret_owner(stack: &ComposeStack) -> Option<OwnerReference> {
    let mut owner = stack.controller_owner_ref(&())?;
    owner.controller = None;
    owner.block_owner_deletion = None;
    Some(owner)
}

/// Secrets an earlier deploy wrote for this stack that it no longer refers to.
async fn prune_secrets(secrets: &Api<Secret>, project: &Project, uid: &str) -> Result<(), Failure> {
    let listed = secrets.list(&ListParams::default().labels(&format!("{}={}", names::STACK, project.name))).await?;
    for secret in listed.items {
        let ours = secret.owner_references().iter().any(|o| o.uid == uid && o.controller != Some(true));
        if ours && !project.secrets.contains_key(&secret.name_any()) {
            secrets.delete(&secret.name_any(), &DeleteParams::background()).await?;
        }
    }
    Ok(())
}

/// Watches the stack and its pods, showing each change, until the stack is Ready at
/// `generation` (Ok), Stalled there, or `timeout` passes.
pub async fn follow(connection: &Connection, name: &str, generation: i64, timeout: Duration, view: &mut dyn ProgressView) -> Result<StackProgress, Failure> {
    enum Change {
        Stack(Box<watcher::Event<ComposeStack>>),
        Pod(Box<watcher::Event<Pod>>),
    }
    let stacks: Api<ComposeStack> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let pods: Api<Pod> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let stack_changes = watcher(stacks, watcher::Config::default().fields(&format!("metadata.name={name}"))).map_ok(|e| Change::Stack(Box::new(e)));
    let pod_changes = watcher(pods, watcher::Config::default().labels(&format!("{}={name}", names::STACK))).map_ok(|e| Change::Pod(Box::new(e)));
    let mut changes = futures::stream::select(stack_changes.boxed(), pod_changes.boxed());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut stack: Option<ComposeStack> = None;
    let mut live_pods: BTreeMap<String, PodState> = BTreeMap::new();
    let mut progress = StackProgress { name: name.to_string(), generation, ..Default::default() };
    loop {
        let change = match tokio::time::timeout_at(deadline, changes.next()).await {
            Err(_) => return Err(Failure::TimedOut(timed_out(&progress, timeout))),
            Ok(None) => return Err(Failure::Cluster("the watch ended".into())),
            Ok(Some(Err(error))) => {
                // The watcher retries by itself; a persistent error (RBAC) shows up here.
                if let watcher::Error::WatchFailed(kube::Error::Api(status)) | watcher::Error::InitialListFailed(kube::Error::Api(status)) = &error
                    && status.code == 403
                {
                    return Err(Failure::Cluster(format!("{} ({})", status.message, status.code)));
                }
                continue;
            }
            Ok(Some(Ok(change))) => change,
        };
        match change {
            Change::Stack(event) => match *event {
                watcher::Event::Apply(object) | watcher::Event::InitApply(object) => stack = Some(object),
                watcher::Event::Delete(_) => return Err(Failure::Cluster(format!("the stack {name} was deleted while it was being deployed"))),
                watcher::Event::Init | watcher::Event::InitDone => {}
            },
            Change::Pod(event) => match *event {
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                    live_pods.insert(pod.name_any(), PodState::from(pod));
                }
                watcher::Event::Delete(pod) => {
                    live_pods.remove(&pod.name_any());
                }
                watcher::Event::Init => live_pods.clear(),
                watcher::Event::InitDone => {}
            },
        }
        let Some(stack) = &stack else { continue };
        let pods: Vec<&PodState> = live_pods.values().collect();
        progress = progress_of(stack, generation, &pods);
        view.show(&progress);
        if progress.is_ready() {
            return Ok(progress);
        }
        if progress.is_stalled() {
            let mut message = format!("stack {name} stalled: {}", progress.message.as_deref().unwrap_or("no reason given"));
            for line in progress.stuck() {
                message.push_str(&format!("\n  {line}"));
            }
            return Err(Failure::Stalled(message));
        }
    }
}

fn timed_out(progress: &StackProgress, timeout: Duration) -> String {
    let name = &progress.name;
    if !progress.observed {
        return format!(
            "stack {name} was not Ready within {timeout:?}: the operator never reported on generation {} (is it running, and watching this namespace?)",
            progress.generation
        );
    }
    let mut message = format!("stack {name} was not Ready within {timeout:?}: {}", progress.message.as_deref().unwrap_or("still reconciling"));
    for line in progress.stuck() {
        message.push_str(&format!("\n  {line}"));
    }
    message
}

/// The stack's progress toward `generation`: its status, with the pods' own stuck reasons
/// (unschedulable, image pull, crash loop) where the status has not caught up with them yet.
pub fn progress_of(stack: &ComposeStack, generation: i64, pods: &[&PodState]) -> StackProgress {
    let status = stack.status.clone().unwrap_or_default();
    let observed = status.observed_generation.is_some_and(|g| g >= generation);
    let message = status.conditions.iter().find(|c| c.status == "True").map(|c| c.message.clone()).filter(|m| !m.is_empty());
    let services = status
        .services
        .iter()
        .map(|service| {
            let job = service.kind == WorkloadKind::Job;
            let ready = if job { service.succeeded } else { service.ready_replicas };
            let own: Vec<&PodState> = pods.iter().copied().filter(|p| p.service() == Some(service.name.as_str())).collect();
            let stuck = (!service.ready).then(|| pod_problem(&own)).flatten();
            let detail = match (stuck, &service.message) {
                (Some(stuck), Some(message)) if !message.contains(&stuck) => Some(format!("{message}; {stuck}")),
                (Some(stuck), None) => Some(stuck),
                (_, message) => message.clone(),
            };
            ServiceProgress {
                name: service.name.clone(),
                kind: service.kind,
                ready: ready.unwrap_or(0),
                desired: service.desired_replicas.unwrap_or(0),
                done: service.ready,
                detail: detail.filter(|_| !service.ready),
            }
        })
        .collect();
    StackProgress { name: stack.name_any(), generation, observed, phase: status.phase.clone(), message, services }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl_timeouts() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("5m3").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn progress_reads_the_status_at_the_generation_and_the_pods_stuck_reasons() {
        let stack: ComposeStack = serde_json::from_value(serde_json::json!({
            "apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack",
            "metadata": {"name": "shop", "generation": 3},
            "spec": {"compose": ""},
            "status": {
                "observedGeneration": 3, "phase": "Reconciling",
                "conditions": [{"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "1/2 services ready; web: 0/2 replicas ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "services": [
                    {"name": "web", "kind": "Deployment", "desiredReplicas": 2, "readyReplicas": 0, "ready": false, "message": "0/2 replicas ready"},
                    {"name": "migrate", "kind": "Job", "desiredReplicas": 1, "succeeded": 1, "ready": true},
                ],
            },
        }))
        .unwrap();
        let pending: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-abc", "labels": {"compose-operator.dev/service": "web"}},
            "status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]},
        }))
        .unwrap();
        let progress = progress_of(&stack, 3, &[&PodState::from(pending)]);
        assert!(progress.observed && !progress.is_ready() && !progress.is_stalled());
        assert_eq!(
            progress.stuck(),
            ["web (Deployment) 0/2: 0/2 replicas ready; pod web-abc cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."]
        );
        assert_eq!((progress.services[1].ready, progress.services[1].done), (1, true));
        assert!(!progress_of(&stack, 4, &[]).observed, "a newer generation than the status describes");
    }
}
