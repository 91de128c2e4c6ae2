//! The real node: what behaviour tests need to run a stack's containers for real.
//!
//! A real node is a Ready Node labelled `compose-operator.dev/e2e-node=real`; `e2e/cluster.sh up
//! --real-nodes 1` starts one (tainted `compose-operator.dev/e2e-node=real:NoSchedule`, so only
//! pods that ask for it land there), and on any other cluster (kind, a cloud cluster) labelling
//! and tainting a node the same way opts it in. Tests get there with [`place_on_real_node`] or [`placement_override`], use
//! [`busybox_image`], and look from inside the containers with [`exec`].
//!
//! Without a real node, tests call [`require`] and return early, unless
//! `COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE=1` (what `e2e/run-tests.sh` sets when it started one),
//! where a missing node is a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams};

use super::{DEADLINE, kubeconfig, tool};

pub const LABEL: &str = "compose-operator.dev/e2e-node";
pub const VALUE: &str = "real";

/// The image behaviour tests run: a static busybox whose applets are on PATH (`e2e/README.md`
/// lists them). On another cluster, `COMPOSE_OPERATOR_E2E_BUSYBOX_IMAGE` names a public image
/// with the same applets, e.g. `docker.io/library/busybox:1.37`.
pub fn busybox_image() -> String {
    std::env::var("COMPOSE_OPERATOR_E2E_BUSYBOX_IMAGE").unwrap_or_else(|_| "e2e.local/busybox:1".to_string())
}

/// An HTTP server on port 80 that answers with its hostname (the pod's name): `e2e.local/whoami:1`,
/// or `COMPOSE_OPERATOR_E2E_WHOAMI_IMAGE` on another cluster, e.g. `docker.io/traefik/whoami:v1.10`
/// (its answer holds `Hostname: <pod>`).
pub fn whoami_image() -> String {
    std::env::var("COMPOSE_OPERATOR_E2E_WHOAMI_IMAGE").unwrap_or_else(|_| "e2e.local/whoami:1".to_string())
}

/// The local real node's network details, when the cluster is `e2e/cluster.sh`'s.
#[derive(Clone, Debug)]
pub struct LocalNode {
    /// The network namespace that is the node (`ip netns exec`/`nsenter --net=/run/netns/...`).
    pub netns: String,
    /// The node's InternalIP: NodePorts and hostPorts answer there, from this machine.
    pub address: String,
    pub pod_cidr: String,
}

#[derive(Clone, Debug)]
pub struct RealNode {
    pub name: String,
    /// Present when the cluster is the local one, whose node this machine can reach.
    pub local: Option<LocalNode>,
}

/// The cluster's Ready real node, if it has one.
pub async fn find(client: &Client) -> Option<RealNode> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default().labels(&format!("{LABEL}={VALUE}"))).await.ok()?;
    let node = list
        .items
        .into_iter()
        .find(|node| node.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")))?;
    Some(RealNode { name: node.metadata.name.unwrap_or_default(), local: local_node() })
}

/// The real node, or `None` after saying why the test does nothing; panics instead when the
/// run promised a real node (`COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE=1`).
pub async fn require(client: &Client, test: &str) -> Option<RealNode> {
    let node = find(client).await;
    if node.is_none() {
        assert!(
            std::env::var("COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE").as_deref() != Ok("1"),
            "{test}: the cluster has no Ready node labelled {LABEL}={VALUE}, and this run requires one"
        );
        eprintln!("{test}: skipped, the cluster has no Ready node labelled {LABEL}={VALUE} (e2e/cluster.sh up --real-nodes 1)");
    }
    node
}

/// `<state>/node/env`, written by e2e/real-node.sh next to the kubeconfig.
fn local_node() -> Option<LocalNode> {
    let env = std::fs::read_to_string(kubeconfig().parent()?.join("node/env")).ok()?;
    let value = |key: &str| env.lines().find_map(|line| line.strip_prefix(&format!("{key}="))).map(str::to_string);
    Some(LocalNode { netns: value("netns")?, address: value("node_ip")?, pod_cidr: value("pod_cidr")? })
}

/// The `x-kubernetes` placement that puts a service's pods on the real node.
pub fn placement() -> serde_json::Value {
    serde_json::json!({
        "nodeSelector": {LABEL: VALUE},
        "tolerations": [{"key": LABEL, "operator": "Equal", "value": VALUE, "effect": "NoSchedule"}],
    })
}

/// The compose document with every service placed on the real node (its `x-kubernetes`
/// nodeSelector and tolerations set, other `x-kubernetes` keys kept). Printed as JSON, where
/// every string is quoted: YAML printed by serde_yaml leaves `1_000` or `0x1F` bare, which
/// compose (and the operator) then read as numbers. To keep a compose text exactly as written,
/// pass [`placement_override`] in `spec.overrides` instead.
pub fn place_on_real_node(compose: &str) -> String {
    let mut document: serde_json::Value = serde_yaml::from_str(compose).expect("compose YAML");
    let placement = placement();
    if let Some(services) = document.get_mut("services").and_then(|s| s.as_object_mut()) {
        for service in services.values_mut() {
            let Some(service) = service.as_object_mut() else { continue };
            let extension = service.entry("x-kubernetes").or_insert_with(|| serde_json::json!({}));
            if let (Some(extension), Some(placement)) = (extension.as_object_mut(), placement.as_object()) {
                for (key, value) in placement {
                    extension.insert(key.clone(), value.clone());
                }
            }
        }
    }
    serde_json::to_string_pretty(&document).expect("compose JSON")
}

/// A compose override (for `spec.overrides`) placing every service of `compose` on the real
/// node; the compose text itself is left as written.
pub fn placement_override(compose: &str) -> String {
    let document: serde_json::Value = serde_yaml::from_str(compose).expect("compose YAML");
    let services = document.get("services").and_then(|s| s.as_object()).map(|s| s.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let placed: serde_json::Map<String, serde_json::Value> =
        services.into_iter().map(|name| (name, serde_json::json!({"x-kubernetes": placement()}))).collect();
    serde_json::json!({"services": placed}).to_string()
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct ExecOutput {
    /// The exit code; `None` when it was killed at the deadline or by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// `kubectl exec` of `argv` in the pod's first (or named) container; killed at the deadline.
pub async fn exec(namespace: &str, pod: &str, container: Option<&str>, argv: &[&str], deadline: Duration) -> ExecOutput {
    let mut args = vec!["exec", "--namespace", namespace, pod];
    if let Some(container) = container {
        args.extend(["--container", container]);
    }
    args.push("--");
    args.extend(argv);
    let mut kubectl = tool("kubectl");
    kubectl.args(&args);
    run_with_deadline(kubectl, deadline).await
}

/// A command in the local real node's network namespace (as the node itself, not as a pod).
pub async fn in_node_netns(node: &LocalNode, argv: &[&str], deadline: Duration) -> ExecOutput {
    let mut command = std::process::Command::new("nsenter");
    command.arg(format!("--net=/run/netns/{}", node.netns)).arg("--").args(argv);
    run_with_deadline(command, deadline).await
}

async fn run_with_deadline(command: std::process::Command, deadline: Duration) -> ExecOutput {
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().expect("spawn command");
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(output)) => ExecOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Ok(Err(error)) => ExecOutput { code: None, stdout: String::new(), stderr: error.to_string() },
        Err(_) => ExecOutput { code: None, stdout: String::new(), stderr: format!("killed after {deadline:?}") },
    }
}

/// Runs `argv` in the pod until it succeeds (the pod may still be starting, a name may not
/// resolve yet); panics with the last output at [`DEADLINE`].
pub async fn exec_until_success(namespace: &str, pod: &str, argv: &[&str]) -> ExecOutput {
    let started = Instant::now();
    loop {
        let output = exec(namespace, pod, None, argv, Duration::from_secs(30)).await;
        if output.success() {
            return output;
        }
        assert!(started.elapsed() < DEADLINE, "{argv:?} in {namespace}/{pod} did not succeed within {DEADLINE:?}; last: {output:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The name of a Running, Ready pod of a compose service (label `compose-operator.dev/service`).
pub async fn running_pod(client: &Client, namespace: &str, service: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("compose-operator.dev/service={service}");
    let started = Instant::now();
    loop {
        if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await
            && let Some(pod) = list.items.into_iter().find(|pod| {
                pod.metadata.deletion_timestamp.is_none()
                    && pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
        {
            return pod.metadata.name.unwrap_or_default();
        }
        assert!(started.elapsed() < DEADLINE, "no Ready pod of service {service} in {namespace} within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A plain pod on the real node that belongs to no stack (a shell to run commands from outside
/// a stack, or outside its namespace); returns once it runs.
pub async fn plain_pod(client: &Client, namespace: &str, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut spec = placement();
    spec["containers"] = serde_json::json!([{"name": "sh", "image": busybox_image(), "command": ["sleep", "86400"]}]);
    spec["terminationGracePeriodSeconds"] = serde_json::json!(1);
    let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": spec})).expect("a pod");
    pods.create(&kube::api::PostParams::default(), &pod).await.expect("create a plain pod");
    super::wait::until(&pods, name, |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
    name.to_string()
}

/// The node's InternalIP, where NodePorts answer.
pub async fn node_address(client: &Client, node: &str) -> String {
    let node = Api::<Node>::all(client.clone()).get(node).await.expect("get the real node");
    let addresses = node.status.and_then(|s| s.addresses).unwrap_or_default();
    addresses.into_iter().find(|a| a.type_ == "InternalIP").map(|a| a.address).expect("the node has an InternalIP")
}

/// Imports an image tarball (docker-archive or OCI) into the local real node's containerd.
pub fn load_image(path: &std::path::Path) {
    let status = std::process::Command::new("bash")
        .arg(super::repo_root().join("e2e/cluster.sh"))
        .arg("load-image")
        .arg(path)
        .env("COMPOSE_OPERATOR_CLUSTER_DIR", kubeconfig().parent().unwrap_or(std::path::Path::new(".")))
        .status()
        .expect("run e2e/cluster.sh load-image");
    assert!(status.success(), "e2e/cluster.sh load-image {} failed", path.display());
}

/// The operator's image built by `make image` (`e2e/image.sh operator`): its name and the
/// docker-archive to load, or `None` when it was not built.
pub fn operator_image() -> Option<(String, PathBuf)> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| super::repo_root().join("target"));
    let oci = target.join("oci");
    let name = std::fs::read_to_string(oci.join("compose-operator.name")).ok()?;
    let archive = oci.join("compose-operator.tar");
    archive.is_file().then(|| (name.trim().to_string(), archive))
}
