//! The real node's infrastructure (e2e/README.md, "The real node"): containers really run,
//! cluster DNS and Services carry traffic, NetworkPolicies are enforced, pods cannot reach
//! anything outside the cluster, and the operator runs in-cluster from its own image, installed
//! by its chart. Each test returns early (saying so) on a cluster without a real node, and fails
//! instead when the run requires one (`e2e/run-tests.sh` with a real node).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::chart::{Release, chart_dir, helm, restricted_namespace, wait_ready, wait_rollout};
use crate::harness::real_node::{self, busybox_image, exec, exec_until_success, in_node_netns, place_on_real_node, running_pod};
use crate::harness::{TestNamespace, operator::Operator, repo_root, wait};
use crate::stack;

const SHORT: Duration = Duration::from_secs(20);

/// `web` serves a page over HTTP on port 80; `client` only sleeps, to run commands in.
fn web_and_client() -> String {
    let image = busybox_image();
    place_on_real_node(&format!(
        r#"
services:
  web:
    image: {image}
    command: ["sh", "-c", "echo hello-from-web > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    expose: ["80"]
  client:
    image: {image}
    command: ["sleep", "86400"]
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_reach_the_cluster_and_nothing_outside_it() {
    let ns = TestNamespace::new("real-egress").await;
    let Some(node) = real_node::require(&ns.client, "pods_reach_the_cluster_and_nothing_outside_it").await else { return };
    let Some(local) = node.local.clone() else {
        eprintln!("pods_reach_the_cluster_and_nothing_outside_it: skipped, the real node is not this machine's");
        return;
    };
    let _operator = Operator::start(&ns.name, &[]);
    ns.apply_stack("egress", json!({"compose": web_and_client()})).await;
    wait_ready(&ns.api::<ComposeStack>(), "egress").await;
    let client = running_pod(&ns.client, &ns.name, "client").await;
    let pod = ns.api::<Pod>().get(&client).await.unwrap();
    assert_eq!(pod.spec.as_ref().and_then(|s| s.node_name.as_deref()), Some(node.name.as_str()), "the client runs on the real node");

    // In the cluster: the Service by its compose name (cluster DNS, kube-proxy), and by its
    // fully qualified name.
    let page = exec_until_success(&ns.name, &client, &["wget", "-q", "-O-", "http://web/"]).await;
    assert_eq!(page.stdout.trim(), "hello-from-web");
    let fqdn = format!("http://web.{}.svc.cluster.local/", ns.name);
    exec_until_success(&ns.name, &client, &["wget", "-q", "-O-", &fqdn]).await;
    // Cluster DNS answers cluster names only: nothing is forwarded to the machine's resolver.
    let outside_name = exec(&ns.name, &client, None, &["nslookup", "example.com"], SHORT).await;
    assert!(!outside_name.success() && outside_name.stdout.contains("REFUSED"), "cluster DNS must refuse example.com: {outside_name:?}");

    // Outside the cluster: an address on an interface of the test's own in the node's namespace,
    // with a server the node itself reaches; a pod's connection there is dropped by the rule.
    let outside = "10.253.0.1";
    let interface = "co-e2e-out";
    // (A veth pair: the kernel here has no dummy driver.)
    let setup = format!(
        "ip link add {interface} type veth peer name {interface}-p && ip addr add {outside}/32 dev {interface} && ip link set {interface}-p up && ip link set {interface} up"
    );
    let setup = in_node_netns(&local, &["sh", "-c", &setup], SHORT).await;
    assert!(setup.success(), "the test's interface: {setup:?}");
    let _cleanup = scopeguard_interface(local.clone(), interface);
    let mut server = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", local.netns))
        .args(["--", "busybox", "nc", "-ll", "-p", "8099", "-e", "echo", "outside-answers"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a server in the node's namespace (busybox-static)");
    let from_node = wait_for_node_reaches(&local, outside).await;
    let counter_before = egress_drops(&local).await;
    let from_pod = exec(&ns.name, &client, None, &["timeout", "5", "nc", outside, "8099"], SHORT).await;
    let _ = server.kill();
    let _ = server.wait();
    assert!(from_node.contains("outside-answers"), "the node reaches the outside server: {from_node}");
    assert!(!from_pod.stdout.contains("outside-answers"), "a pod reached an address outside the cluster: {from_pod:?}");
    assert!(egress_drops(&local).await > counter_before, "the egress rule's counter did not move: the connection failed for another reason");

    // NetworkPolicy enforcement: a pod outside the stack cannot connect to `web`.
    let outsider = real_node::plain_pod(&ns.client, &ns.name, "outsider").await;
    let blocked = exec(&ns.name, &outsider, None, &["timeout", "5", "wget", "-q", "-O-", "http://web/"], SHORT).await;
    assert!(!blocked.success(), "the stack's NetworkPolicy admits only the stack's pods: {blocked:?}");
    let allowed = exec(&ns.name, &client, None, &["wget", "-q", "-O-", "http://web/"], SHORT).await;
    assert!(allowed.success(), "the stack's own client still connects: {allowed:?}");
}

/// Deletes the test's dummy interface from the node's namespace when the test ends.
fn scopeguard_interface(node: real_node::LocalNode, interface: &'static str) -> impl Drop {
    struct Guard(real_node::LocalNode, &'static str);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = std::process::Command::new("nsenter").arg(format!("--net=/run/netns/{}", self.0.netns)).args(["--", "ip", "link", "del", self.1]).status();
        }
    }
    Guard(node, interface)
}

async fn wait_for_node_reaches(node: &real_node::LocalNode, address: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let output = in_node_netns(node, &["busybox", "nc", address, "8099"], SHORT).await;
        if output.stdout.contains("outside-answers") || started.elapsed() > SHORT {
            return format!("{}{}", output.stdout, output.stderr);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Packets the egress rule has dropped so far.
async fn egress_drops(node: &real_node::LocalNode) -> u64 {
    let output = in_node_netns(node, &["nft", "list", "table", "ip", "compose-operator-egress"], SHORT).await;
    assert!(output.success(), "nft list: {output:?}");
    output.stdout.lines().find_map(|line| line.split("counter packets ").nth(1)?.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

#[test]
fn the_operator_image_describes_what_the_dockerfile_does() {
    let Some((_, _)) = real_node::operator_image() else {
        assert!(std::env::var("COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE").as_deref() != Ok("1"), "target/oci has no operator image (make image)");
        eprintln!("the_operator_image_describes_what_the_dockerfile_does: skipped, no image in target/oci (make image)");
        return;
    };
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
    let config = oci_config(&target.join("oci/compose-operator"));
    let dockerfile = final_stage(&std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap());
    let config = &config["config"];
    assert_eq!(config["User"], json!(dockerfile.user), "USER");
    assert_eq!(config["Entrypoint"], json!(dockerfile.entrypoint), "ENTRYPOINT");
    assert_eq!(config["Cmd"], json!(dockerfile.cmd), "CMD");
    let ports: Vec<String> = config["ExposedPorts"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    assert_eq!(ports, dockerfile.exposed, "EXPOSE");
    let labels = config["Labels"].as_object().cloned().unwrap_or_default();
    let labels: Vec<(String, String)> = labels.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect();
    assert_eq!(labels, dockerfile.labels, "LABEL");
}

/// The image config of the one image in an OCI image layout.
fn oci_config(layout: &std::path::Path) -> serde_json::Value {
    let read = |digest: &str| -> serde_json::Value {
        let path = layout.join("blobs").join(digest.replacen(':', "/", 1));
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    };
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json")).unwrap();
    let manifest = read(index["manifests"][0]["digest"].as_str().expect("a manifest"));
    read(manifest["config"]["digest"].as_str().expect("a config"))
}

#[derive(Debug, Default)]
struct FinalStage {
    user: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    exposed: Vec<String>,
    labels: Vec<(String, String)>,
}

/// The image-describing instructions of the Dockerfile's last stage (line continuations joined;
/// exec-form JSON arrays; `LABEL k="v" ...`), sorted as an image config sorts them.
fn final_stage(dockerfile: &str) -> FinalStage {
    let joined = dockerfile.replace("\\\n", " ");
    let last = joined.rsplit("\nFROM ").next().unwrap_or_default();
    let mut stage = FinalStage::default();
    for line in last.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let (instruction, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match instruction {
            "USER" => stage.user = rest.to_string(),
            "ENTRYPOINT" => stage.entrypoint = serde_json::from_str(rest).expect("exec-form ENTRYPOINT"),
            "CMD" => stage.cmd = serde_json::from_str(rest).expect("exec-form CMD"),
            "EXPOSE" => stage.exposed.extend(rest.split_whitespace().map(|p| if p.contains('/') { p.to_string() } else { format!("{p}/tcp") })),
            "LABEL" => {
                let words = shell_words::split(rest).expect("LABEL quoting");
                stage.labels.extend(words.iter().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())));
            }
            _ => {}
        }
    }
    stage.exposed.sort();
    stage.labels.sort();
    stage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_runs_the_operator_image_in_cluster() {
    let ns = restricted_namespace("real-chart").await;
    let Some(node) = real_node::require(&ns.client, "the_chart_runs_the_operator_image_in_cluster").await else { return };
    let Some((image, archive)) = real_node::operator_image() else {
        assert!(std::env::var("COMPOSE_OPERATOR_E2E_REQUIRE_REAL_NODE").as_deref() != Ok("1"), "target/oci has no operator image (make image)");
        eprintln!("the_chart_runs_the_operator_image_in_cluster: skipped, no image in target/oci (make image)");
        return;
    };
    if node.local.is_some() {
        real_node::load_image(&archive);
    }
    let stacks = TestNamespace::new("real-chart-stacks").await;
    let (repository, tag) = image.rsplit_once(':').expect("image name:tag");
    let release = Release::new("real-chart", &ns.name);
    let placement = real_node::placement();
    let values = json!({
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "watchNamespaces": [stacks.name],
        "nodeSelector": placement["nodeSelector"],
        "tolerations": placement["tolerations"],
        "logFormat": "human",
    });
    let values_file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-values.json", release.name));
    std::fs::write(&values_file, values.to_string()).unwrap();
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let values_arg = values_file.to_str().unwrap();
    helm(&["install", &release.name, chart, "--namespace", &ns.name, "--skip-crds", "--values", values_arg]);
    let fullname = format!("{}-compose-operator", release.name);
    let deployment = wait_rollout(&ns, &fullname, 2).await;
    let service_account = deployment.spec.template.spec.as_ref().and_then(|s| s.service_account_name.clone()).expect("serviceAccountName");
    let pods = ns.api::<Pod>().list(&ListParams::default().labels("app.kubernetes.io/name=compose-operator")).await.unwrap().items;
    for pod in &pods {
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some(node.name.as_str()), "the operator runs on the real node");
        assert_eq!(spec.service_account_name.as_deref(), Some(service_account.as_str()));
        assert_eq!(spec.containers[0].image.as_deref(), Some(image.as_str()));
    }

    // A stack whose pods really run, reconciled by the in-cluster operator. `client` asks for a
    // capability, which the chart's default policy refuses.
    stacks.apply_stack("served", json!({"compose": add_cap(&web_and_client())})).await;
    let composestacks = stacks.api::<ComposeStack>();
    let refused = wait::until(&composestacks, "served", |s: &ComposeStack| stack::is(s, "Stalled")).await;
    assert!(stack::condition(&refused, "Stalled").is_some_and(|c| c.message.contains("cap_add") || c.reason == "Rejected"), "{:?}", refused.status);

    // helm upgrade allows capabilities; the new operator pods pick the value up.
    helm(&["upgrade", &release.name, chart, "--namespace", &ns.name, "--skip-crds", "--values", values_arg, "--set", "policy.allowCapabilities=true"]);
    wait_rollout(&ns, &fullname, 2).await;
    // Still Stalled from the old operators until a new one reconciles it.
    wait::until(&composestacks, "served", stack::ready_and_current).await;
    let client = running_pod(&stacks.client, &stacks.name, "client").await;
    let page = exec_until_success(&stacks.name, &client, &["wget", "-q", "-O-", "http://web/"]).await;
    assert_eq!(page.stdout.trim(), "hello-from-web");

    // The leader's pod goes; the other replica takes the Lease and reconciling continues.
    let leases = ns.api::<Lease>();
    let lease_name = fullname.clone();
    let leader = wait::until(&leases, &lease_name, |l: &Lease| l.spec.as_ref().and_then(|s| s.holder_identity.as_ref()).is_some_and(|h| !h.is_empty()))
        .await
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap();
    ns.api::<Pod>().delete(&leader, &DeleteParams::default()).await.expect("delete the leader's pod");
    wait::until(&leases, &lease_name, |l: &Lease| l.spec.as_ref().and_then(|s| s.holder_identity.as_ref()).is_some_and(|h| !h.is_empty() && *h != leader))
        .await;
    let changed = web_and_client().replace("hello-from-web", "hello-after-failover");
    stacks.apply_stack("served", json!({"compose": add_cap(&changed)})).await;
    wait_ready(&composestacks, "served").await;
    let web_page = || async {
        let client = running_pod(&stacks.client, &stacks.name, "client").await;
        exec(&stacks.name, &client, None, &["wget", "-q", "-O-", "http://web/"], SHORT).await.stdout.contains("hello-after-failover")
    };
    wait::until_true("the new page served after the failover", web_page).await;
    helm(&["uninstall", &release.name, "--namespace", &ns.name, "--wait", "--timeout", "180s"]);
}

/// `client` with `cap_add: [NET_ADMIN]`.
fn add_cap(compose: &str) -> String {
    let mut document: serde_json::Value = serde_yaml::from_str(compose).unwrap();
    document["services"]["client"]["cap_add"] = json!(["NET_ADMIN"]);
    serde_yaml::to_string(&document).unwrap()
}
