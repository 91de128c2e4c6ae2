//! The Helm chart (charts/compose-operator) on the real cluster: it lints and renders, the API
//! server accepts what it renders, it installs (pods Ready under Pod Security "restricted"),
//! upgrades and uninstalls without orphans. kwok pods run nothing, so the operator binary is run
//! on the host *as the chart's ServiceAccount* (a token from `kubectl create token`, a kubeconfig
//! holding only that token): stacks reconciling proves the chart's RBAC suffices, and
//! `kubectl auth can-i` with that token shows it grants nothing more.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::config::Kubeconfig;
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::{TestNamespace, example, kubeconfig, repo_root, tool, wait};
use crate::stack;

const CRD: &str = "composestacks.compose-operator.dev";

pub(crate) fn chart_dir() -> PathBuf {
    repo_root().join("charts/compose-operator")
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs a tool of the cluster's (`harness::tool`) with the admin kubeconfig, or `kubeconfig_path`.
fn exec(name: &str, args: &[&str], stdin: Option<&str>, kubeconfig_path: Option<&Path>) -> Output {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helm");
    let mut command = tool(name);
    command
        .args(args)
        .env("KUBECONFIG", kubeconfig_path.unwrap_or(kubeconfig()))
        // Helm's own state stays out of the user's home.
        .env("HELM_CACHE_HOME", tmp.join("cache"))
        .env("HELM_CONFIG_HOME", tmp.join("config"))
        .env("HELM_DATA_HOME", tmp.join("data"))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait");
    Output {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Like [`exec`], and the command must succeed; returns its stdout.
fn must(name: &str, args: &[&str], stdin: Option<&str>) -> String {
    let started = Instant::now();
    let output = exec(name, args, stdin, None);
    assert!(output.ok, "{name} {args:?} failed:\n{}\n{}", output.stdout, output.stderr);
    eprintln!("{name} {} ({:.1}s)", args.first().copied().unwrap_or_default(), started.elapsed().as_secs_f64());
    output.stdout
}

pub(crate) fn helm(args: &[&str]) -> String {
    must("helm", args, None)
}

/// A Helm release of the test's own (the namespaces carry the process id already). Dropping it
/// uninstalls it if the test has not, so a failed test leaves no ClusterRoles behind.
pub(crate) struct Release {
    pub(crate) name: String,
    namespace: String,
}

impl Release {
    pub(crate) fn new(test: &str, namespace: &str) -> Release {
        Release { name: format!("{test}-{}", std::process::id() % 100_000), namespace: namespace.to_string() }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = exec("helm", &["uninstall", &self.name, "--namespace", &self.namespace, "--ignore-not-found"], None, None);
    }
}

/// The documents of a multi-document YAML stream, as JSON values (empty ones dropped).
fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("\n---").filter_map(|doc| serde_yaml::from_str::<serde_json::Value>(doc).ok()).filter(|doc| doc.is_object()).collect()
}

fn by_kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn container_args(deployment: &serde_json::Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"].as_array().expect("args").iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

/// `kubectl apply --dry-run=server`: the API server validates and admits every object (schemas,
/// RBAC escalation checks, namespaces existing) without storing anything.
fn server_dry_run(docs: &[&serde_json::Value]) {
    let stream: String = docs.iter().map(|d| format!("---\n{}", serde_yaml::to_string(d).unwrap())).collect();
    let out = must("kubectl", &["apply", "--dry-run=server", "-f", "-"], Some(&stream));
    let accepted = out.lines().filter(|l| l.contains("(server dry run)")).count();
    assert_eq!(accepted, docs.len(), "not every object was accepted:\n{out}");
}

/// A release namespace that enforces Pod Security "restricted": the chart's pods must pass it.
pub(crate) async fn restricted_namespace(test: &str) -> TestNamespace {
    let ns = TestNamespace::new(test).await;
    let labels = json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"});
    let namespaces: Api<Namespace> = Api::all(ns.client.clone());
    namespaces.patch(&ns.name, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": labels}}))).await.expect("label namespace");
    ns
}

/// The installed Deployment's pods are all Ready and up to date. Pods the API server refuses
/// (Pod Security "restricted", say) end the wait at once, with the server's message.
pub(crate) async fn wait_rollout(ns: &TestNamespace, name: &str, replicas: i32) -> Deployment {
    let refused = |d: &Deployment| {
        let conditions = d.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        conditions
            .into_iter()
            .find(|c| c.type_.as_deref() == Some("ReplicaFailure") && c.status.as_deref() == Some("True"))
            .map(|c| c.message.unwrap_or_default())
    };
    let deployment = wait::until(&ns.api::<Deployment>(), name, |d: &Deployment| {
        let status = d.status.clone().unwrap_or_default();
        let rolled_out = d.spec.replicas == Some(replicas)
            && status.observed_generation == d.metadata.generation
            && status.ready_replicas == Some(replicas)
            && status.updated_replicas == Some(replicas);
        rolled_out || refused(d).is_some()
    })
    .await;
    if let Some(message) = refused(&deployment) {
        panic!("the API server refused the operator's pods: {message}");
    }
    deployment
}

/// Ready and current, or a failure (Stalled) that waiting cannot fix: fail at once with its message.
pub(crate) async fn wait_ready(api: &Api<ComposeStack>, name: &str) -> ComposeStack {
    let stack = wait::until(api, name, |s: &ComposeStack| stack::ready_and_current(s) || stack::is(s, "Stalled")).await;
    if let Some(stalled) = stack::condition(&stack, "Stalled").filter(|c| c.status == "True") {
        panic!("{name} stalled: {}: {}", stalled.reason, stalled.message);
    }
    stack
}

/// A kubeconfig holding only a fresh token of the ServiceAccount (and the cluster's address and
/// CA from the admin kubeconfig): whatever uses it acts with the chart's RBAC and nothing else.
fn service_account_kubeconfig(namespace: &str, service_account: &str) -> PathBuf {
    let token = must("kubectl", &["create", "token", service_account, "-n", namespace, "--duration=1h"], None);
    let admin = Kubeconfig::read_from(kubeconfig()).expect("read kubeconfig");
    let context_name = admin.current_context.clone().expect("a current context");
    let context = admin.contexts.iter().find(|c| c.name == context_name).and_then(|c| c.context.clone()).expect("the current context");
    let cluster = admin.clusters.iter().find(|c| c.name == context.cluster).expect("the context's cluster");
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [serde_json::to_value(cluster).unwrap()],
        "users": [{"name": "chart-sa", "user": {"token": token.trim()}}],
        "contexts": [{"name": "chart-sa", "context": {"cluster": context.cluster, "user": "chart-sa", "namespace": namespace}}],
        "current-context": "chart-sa",
    });
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chart-kubeconfigs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{namespace}-{service_account}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// `kubectl auth can-i` asked with the ServiceAccount's own token (a SelfSubjectAccessReview:
/// its real username and groups, as the API server sees the operator).
fn can_i(sa_kubeconfig: &Path, args: &[&str]) -> bool {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    let output = exec("kubectl", &full, None, Some(sa_kubeconfig));
    match output.stdout.trim() {
        "yes" => true,
        "no" => false,
        other => panic!("kubectl auth can-i {args:?}: {other} {}", output.stderr),
    }
}

fn assert_can(sa: &Path, checks: &[&[&str]]) {
    for args in checks {
        assert!(can_i(sa, args), "the chart's ServiceAccount should be allowed: {args:?}");
    }
}

fn assert_cannot(sa: &Path, checks: &[&[&str]]) {
    for args in checks {
        assert!(!can_i(sa, args), "the chart's ServiceAccount must not be allowed: {args:?}");
    }
}

/// The operator binary on the host, run exactly as the chart's container runs it (its args from
/// the installed Deployment, POD_NAME/POD_NAMESPACE as the downward API sets them), but
/// authenticated only as the chart's ServiceAccount and confined to the test's namespace(s).
struct HostOperator {
    child: Child,
    log: PathBuf,
}

impl HostOperator {
    fn start(deployment: &Deployment, sa_kubeconfig: &Path, release_namespace: &str, watch: &[&str]) -> HostOperator {
        let container = &deployment.spec.template.spec.as_ref().unwrap().containers[0];
        let mut args: Vec<String> =
            container.args.clone().unwrap_or_default().into_iter().filter(|a| !a.starts_with("--metrics-addr") && !a.starts_with("--namespace")).collect();
        args.push("--metrics-addr=127.0.0.1:0".into());
        for namespace in watch {
            args.push(format!("--namespace={namespace}"));
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("operator-logs");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{release_namespace}-chart-sa.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_compose-operator"))
            .args(&args)
            .env("KUBECONFIG", sa_kubeconfig)
            .env("POD_NAMESPACE", release_namespace)
            .env("POD_NAME", "host-operator")
            .env("RUST_LOG", "info,compose_operator=debug")
            .env_remove("COMPOSE_OPERATOR_NAMESPACES")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start compose-operator run");
        eprintln!("operator as the chart's ServiceAccount: compose-operator {}", args.join(" "));
        HostOperator { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HostOperator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- operator log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}

/// A stack with one of each kind the translator writes: Deployment, StatefulSet, DaemonSet, Job,
/// Service, a ReadWriteMany PersistentVolumeClaim, a ConfigMap and a Secret (NetworkPolicies are
/// watched but not yet written by any translation).
const EVERY_KIND: &str = r#"services:
  front:
    image: nginx:1.27
    ports: ["8080:80"]
    volumes:
      - uploads:/srv/uploads
    configs:
      - source: banner
        target: /etc/banner.txt
    secrets:
      - api_token
  worker:
    image: busybox
    command: sleep infinity
    volumes:
      - uploads:/srv/uploads:ro
  store:
    image: postgres:16
    volumes:
      - store-data:/var/lib/postgresql/data
  agent:
    image: prom/node-exporter
    deploy:
      mode: global
  migrate:
    image: busybox
    command: echo done
    restart: "no"
volumes:
  store-data:
  uploads:
configs:
  banner:
    content: |
      welcome
secrets:
  api_token:
    environment: API_TOKEN
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_lints_renders_and_the_api_server_accepts_it() {
    let started = Instant::now();
    let ns = TestNamespace::new("chart-render").await;
    let watched = TestNamespace::new("chart-render-watched").await;
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let custom = [
        "--set",
        &format!("watchNamespaces={{{},{}}}", ns.name, watched.name),
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "podDisruptionBudget.enabled=true",
        "--set",
        "policy.allowPrivileged=true,policy.allowHostPaths=true,policy.allowCapabilities=true,policy.allowHostNamespaces=true,policy.allowUnsafeSysctls=true",
        "--set",
        "logFormat=human,replicaCount=3,requeueSeconds=60",
    ];

    helm(&["lint", "--strict", chart]);
    helm(&[&["lint", "--strict", chart][..], &custom].concat());

    // Default values: a ClusterRole for all namespaces, leader election, two replicas.
    let rendered = documents(&helm(&["template", "defaults", chart, "--namespace", &ns.name]));
    let deployment = by_kind(&rendered, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = container_args(deployment);
    assert!(args.contains(&"--leader-election".to_string()) && !args.iter().any(|a| a.starts_with("--namespace")), "{args:?}");
    assert_eq!(by_kind(&rendered, "ClusterRoleBinding").len(), 1);
    assert!(by_kind(&rendered, "ServiceMonitor").is_empty() && by_kind(&rendered, "PodDisruptionBudget").is_empty());
    server_dry_run(&rendered.iter().collect::<Vec<_>>());

    // Non-default values: Roles in the watched namespaces only, a --namespace flag for each.
    let rendered = documents(&helm(&[&["template", "custom", chart, "--namespace", &ns.name][..], &custom].concat()));
    let args = container_args(by_kind(&rendered, "Deployment")[0]);
    for expected in [
        "--log-format=human",
        "--requeue-seconds=60",
        "--allow-privileged",
        "--allow-host-paths",
        "--allow-capabilities",
        "--allow-host-namespaces",
        "--allow-unsafe-sysctls",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} missing from {args:?}");
    }
    for namespace in [&ns.name, &watched.name] {
        assert!(args.contains(&format!("--namespace={namespace}")), "{args:?}");
        let roles = by_kind(&rendered, "Role");
        assert!(
            roles.iter().any(|r| r["metadata"]["namespace"] == namespace.as_str() && !r["metadata"]["name"].as_str().unwrap().ends_with("leader-election"))
        );
    }
    // The one cluster-scoped grant with watchNamespaces: those namespaces' own metadata, by name.
    // (The aggregated roles for namespace users are ClusterRoles too, but bound to nobody here.)
    let bindings = by_kind(&rendered, "ClusterRoleBinding");
    assert_eq!(bindings.len(), 1, "watchNamespaces binds no ClusterRole but the namespaces' one");
    let bound = bindings[0]["roleRef"]["name"].as_str().unwrap();
    let cluster_roles = by_kind(&rendered, "ClusterRole");
    let bound_role = cluster_roles.iter().find(|r| r["metadata"]["name"] == bound).expect("the bound ClusterRole is rendered");
    let rules = bound_role["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["resources"] == json!(["namespaces"]) && r["resourceNames"].as_array().is_some_and(|n| n.len() == 2)), "{rules:?}");
    // The ServiceMonitor CRD (Prometheus Operator) is not installed here: check the object's
    // shape, and let the API server judge everything else.
    let monitor = by_kind(&rendered, "ServiceMonitor");
    assert_eq!(monitor.len(), 1);
    assert_eq!(monitor[0]["spec"]["endpoints"][0]["port"], "metrics");
    let service = by_kind(&rendered, "Service")[0];
    assert_eq!(monitor[0]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"], service["metadata"]["labels"]["app.kubernetes.io/instance"]);
    let accepted: Vec<&serde_json::Value> = rendered.iter().filter(|d| d["kind"] != "ServiceMonitor").collect();
    assert!(by_kind(&rendered, "PodDisruptionBudget").len() == 1);
    server_dry_run(&accepted);

    // Bad values fail at install time with a message naming the value.
    let bad = exec("helm", &["template", "bad", chart, "--set", "logFormat=xml"], None, None);
    assert!(!bad.ok && bad.stderr.contains("logFormat") && bad.stderr.contains("human"), "{}", bad.stderr);
    let bad = exec("helm", &["template", "bad", chart, "--set", "replicaCount=2,leaderElection.enabled=false"], None, None);
    assert!(!bad.ok && bad.stderr.contains("leaderElection.enabled"), "{}", bad.stderr);
    let bad = exec("helm", &["template", "bad", chart, "--set", "watchNamespaces={Not_A_Namespace}"], None, None);
    assert!(!bad.ok && bad.stderr.contains("watchNamespaces"), "{}", bad.stderr);
    let bad = exec("helm", &["template", "bad", chart, "--set", "replicas=2"], None, None);
    assert!(!bad.ok && bad.stderr.contains("replicas"), "a misspelt key is refused: {}", bad.stderr);
    eprintln!("chart_lints_renders_and_the_api_server_accepts_it: {:.1}s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_installs_and_its_service_account_reconciles_every_kind() {
    let started = Instant::now();
    let ns = restricted_namespace("chart-install").await;
    let stacks = TestNamespace::new("chart-install-stacks").await;
    let release = Release::new("chart-install", &ns.name);
    let name = release.name.clone();
    // The harness has installed the CRD already; Helm's crds/ only creates what is absent.
    helm(&["install", &name, chart_dir().to_str().unwrap(), "--namespace", &ns.name]);
    let fullname = format!("{name}-compose-operator");

    let crds: Api<CustomResourceDefinition> = Api::all(ns.client.clone());
    let crd = crds.get(CRD).await.expect("the CRD is installed");
    assert!(crd.status.and_then(|s| s.conditions).is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True")));
    let deployment = wait_rollout(&ns, &fullname, 2).await;
    let pod_spec = deployment.spec.template.spec.clone().unwrap();
    let service_account = pod_spec.service_account_name.clone().expect("serviceAccountName");
    ns.api::<ServiceAccount>().get(&service_account).await.expect("ServiceAccount");
    let cluster_scoped = format!("{fullname}-{}", ns.name);
    let cluster_role = Api::<ClusterRole>::all(ns.client.clone()).get(&cluster_scoped).await.expect("ClusterRole");
    let binding = Api::<ClusterRoleBinding>::all(ns.client.clone()).get(&cluster_scoped).await.expect("ClusterRoleBinding");
    assert_eq!(binding.subjects.unwrap()[0].name, service_account);
    for rule in cluster_role.rules.unwrap_or_default() {
        assert!(!rule.verbs.iter().any(|v| v == "*") && !rule.resources.unwrap_or_default().iter().any(|r| r == "*"), "no wildcards in RBAC");
    }
    ns.api::<Role>().get(&format!("{fullname}-leader-election")).await.expect("leader-election Role");
    ns.api::<RoleBinding>().get(&format!("{fullname}-leader-election")).await.expect("leader-election RoleBinding");

    // The operator, as the chart's ServiceAccount, reconciles stacks of every kind.
    let sa = service_account_kubeconfig(&ns.name, &service_account);
    let operator = HostOperator::start(&deployment, &sa, &ns.name, &[&stacks.name]);
    let lease_name = container_args_of(&deployment).iter().find_map(|a| a.strip_prefix("--lease-name=").map(String::from)).expect("--lease-name");
    stacks.apply_stack("kinds", json!({"compose": EVERY_KIND, "variables": {"API_TOKEN": "e2e-token"}})).await;
    stacks.apply_stack("microblog", json!({"compose": example("microblog"), "variables": {"SECRET_KEY": "k", "MYSQL_PASSWORD": "p"}})).await;
    let composestacks = stacks.api::<ComposeStack>();
    for stack_name in ["kinds", "microblog"] {
        wait_ready(&composestacks, stack_name).await;
    }
    stacks.api::<PersistentVolumeClaim>().get("kinds-uploads").await.expect("the shared claim kinds-uploads");
    stacks.api::<DaemonSet>().get("agent").await.expect("DaemonSet agent");
    stacks.api::<Job>().get("migrate").await.expect("Job migrate");
    stacks.api::<ConfigMap>().get("kinds-banner").await.expect("ConfigMap kinds-banner");
    stacks.api::<Secret>().get("kinds-api-token").await.expect("Secret kinds-api-token");
    // The Lease in the release namespace (create, get, patch) names the host operator.
    let lease =
        wait::until(&ns.api::<Lease>(), &lease_name, |l: &Lease| l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some("host-operator")).await;
    assert!(lease.spec.is_some());
    // Events (events.k8s.io create) from this instance.
    wait::until_true("an Event from the host operator", || async {
        let events = stacks.api::<Event>().list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
        events.iter().any(|e| e.reporting_instance.as_deref() == Some("host-operator"))
    })
    .await;

    // Suspend (scale subresource) and resume; remove services (prune: delete).
    stacks.apply_stack("kinds", json!({"compose": EVERY_KIND, "variables": {"API_TOKEN": "e2e-token"}, "suspend": true})).await;
    wait::until(&composestacks, "kinds", |s: &ComposeStack| {
        s.status.as_ref().is_some_and(|st| st.phase.as_deref() == Some("Suspended") && st.observed_generation == s.metadata.generation)
    })
    .await;
    wait::until(&stacks.api::<Deployment>(), "front", |d: &Deployment| d.spec.replicas == Some(0)).await;
    let fewer = EVERY_KIND.replace("  agent:\n    image: prom/node-exporter\n    deploy:\n      mode: global\n", "");
    stacks.apply_stack("kinds", json!({"compose": fewer, "variables": {"API_TOKEN": "e2e-token"}})).await;
    wait_ready(&composestacks, "kinds").await;
    wait::gone(&stacks.api::<DaemonSet>(), "agent").await;
    wait::until(&stacks.api::<Deployment>(), "front", |d: &Deployment| d.spec.replicas == Some(1)).await;
    let log = operator.log_text();
    assert!(!log.contains("forbidden") && !log.contains("Forbidden"), "the operator was refused something:\n{log}");

    // ... and its rights end there.
    let stacks_ns = stacks.name.as_str();
    let release_ns = ns.name.as_str();
    assert_can(
        &sa,
        &[
            &["list", "composestacks.compose-operator.dev", "--all-namespaces"],
            &["patch", "composestacks.compose-operator.dev", "--subresource=status", "-n", stacks_ns],
            &["create", "deployments.apps", "-n", stacks_ns],
            &["patch", "statefulsets.apps", "--subresource=scale", "-n", stacks_ns],
            &["delete", "jobs.batch", "-n", stacks_ns],
            &["create", "events.events.k8s.io", "-n", stacks_ns],
            &["list", "pods", "-n", stacks_ns],
            &["watch", "pods", "-n", stacks_ns],
            &["watch", "namespaces"],
            &["create", "leases.coordination.k8s.io", "-n", release_ns],
            &["patch", &format!("leases.coordination.k8s.io/{lease_name}"), "-n", release_ns],
        ],
    );
    assert_cannot(
        &sa,
        &[
            &["get", "nodes"],
            &["patch", "namespaces"],
            &["create", "pods", "-n", stacks_ns],
            &["get", "pods", "-n", stacks_ns],
            &["create", "pods/exec", "-n", stacks_ns],
            &["create", "composestacks.compose-operator.dev", "-n", stacks_ns],
            &["update", "composestacks.compose-operator.dev", "-n", stacks_ns],
            &["patch", "composestacks.compose-operator.dev", "-n", stacks_ns],
            &["delete", "composestacks.compose-operator.dev", "-n", stacks_ns],
            &["update", "deployments.apps", "-n", stacks_ns],
            &["deletecollection", "secrets", "-n", stacks_ns],
            &["create", "serviceaccounts/token", "-n", stacks_ns],
            &["impersonate", "serviceaccounts", "-n", stacks_ns],
            &["escalate", "clusterroles.rbac.authorization.k8s.io"],
            &["bind", "clusterroles.rbac.authorization.k8s.io"],
            &["create", "rolebindings.rbac.authorization.k8s.io", "-n", stacks_ns],
            &["create", "customresourcedefinitions.apiextensions.k8s.io"],
            &["get", "leases.coordination.k8s.io", "-n", stacks_ns],
            &["patch", "leases.coordination.k8s.io/someone-elses-lease", "-n", release_ns],
            &["delete", "leases.coordination.k8s.io", "-n", release_ns],
            &["create", "events", "-n", stacks_ns],
        ],
    );
    drop(operator);
    helm(&["uninstall", &name, "--namespace", &ns.name, "--wait", "--timeout", "180s"]);
    eprintln!("chart_installs_and_its_service_account_reconciles_every_kind: {:.1}s", started.elapsed().as_secs_f64());
}

fn container_args_of(deployment: &Deployment) -> Vec<String> {
    deployment.spec.template.spec.as_ref().map(|p| p.containers[0].args.clone().unwrap_or_default()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_with_watch_namespaces_confines_the_service_account() {
    let started = Instant::now();
    let ns = restricted_namespace("chart-scoped").await;
    let watched = TestNamespace::new("chart-scoped-watched").await;
    let outside = TestNamespace::new("chart-scoped-outside").await;
    let release = Release::new("chart-scoped", &ns.name);
    let name = release.name.clone();
    helm(&["install", &name, chart_dir().to_str().unwrap(), "--namespace", &ns.name, "--skip-crds", "--set", &format!("watchNamespaces={{{}}}", watched.name)]);
    let fullname = format!("{name}-compose-operator");
    let deployment = wait_rollout(&ns, &fullname, 2).await;
    assert!(container_args_of(&deployment).contains(&format!("--namespace={}", watched.name)));
    watched.api::<Role>().get(&fullname).await.expect("Role in the watched namespace");
    watched.api::<RoleBinding>().get(&fullname).await.expect("RoleBinding in the watched namespace");
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/instance={name}"));
    let bindings = Api::<ClusterRoleBinding>::all(ns.client.clone()).list(&selector).await.unwrap().items;
    // One cluster-scoped grant only: reading the watched namespaces' own metadata (their Pod
    // Security level), by name.
    assert_eq!(bindings.len(), 1, "only the namespace-metadata ClusterRoleBinding with watchNamespaces set: {bindings:?}");
    assert!(bindings[0].metadata.name.as_deref().unwrap_or_default().ends_with("-namespaces"), "{bindings:?}");
    assert!(outside.api::<Role>().list(&selector).await.unwrap().items.is_empty());

    let service_account = deployment.spec.template.spec.as_ref().unwrap().service_account_name.clone().unwrap();
    let sa = service_account_kubeconfig(&ns.name, &service_account);
    let operator = HostOperator::start(&deployment, &sa, &ns.name, &[&watched.name]);
    watched.apply_stack("redis", json!({"compose": example("redis")})).await;
    wait_ready(&watched.api::<ComposeStack>(), "redis").await;
    let log = operator.log_text();
    assert!(!log.contains("forbidden"), "the operator was refused something:\n{log}");

    let (w, o, r) = (watched.name.as_str(), outside.name.as_str(), ns.name.as_str());
    assert_can(
        &sa,
        &[
            &["list", "secrets", "-n", w],
            &["list", "composestacks.compose-operator.dev", "-n", w],
            &["create", "deployments.apps", "-n", w],
            &["get", &format!("namespaces/{w}")],
        ],
    );
    assert_cannot(
        &sa,
        &[
            &["list", "secrets", "-n", o],
            &["get", "secrets", "-n", o],
            &["list", "composestacks.compose-operator.dev", "-n", o],
            &["list", "composestacks.compose-operator.dev", "--all-namespaces"],
            &["create", "deployments.apps", "-n", o],
            &["list", "configmaps", "-n", r],
            &["get", "nodes"],
            &["list", "namespaces"],
            &["get", &format!("namespaces/{o}")],
            &["patch", &format!("namespaces/{w}")],
        ],
    );
    drop(operator);
    helm(&["uninstall", &name, "--namespace", &ns.name, "--wait", "--timeout", "180s"]);
    eprintln!("chart_with_watch_namespaces_confines_the_service_account: {:.1}s", started.elapsed().as_secs_f64());
}

/// Objects labelled as the release's, of the kinds the chart creates; `namespace` None = cluster.
async fn release_objects(client: &kube::Client, namespaces: &[&str], release: &str) -> BTreeMap<String, Vec<String>> {
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/instance={release}"));
    let names = |items: Vec<kube::api::ObjectMeta>| items.into_iter().filter_map(|m| m.name).collect::<Vec<_>>();
    let mut found = BTreeMap::new();
    macro_rules! collect {
        ($kind:ty, $api:expr) => {
            let items: Vec<$kind> = $api.list(&selector).await.map(|l| l.items).unwrap_or_default();
            let listed = names(items.into_iter().map(|o| o.metadata).collect());
            if !listed.is_empty() {
                found.entry(stringify!($kind).to_string()).or_insert_with(Vec::new).extend(listed);
            }
        };
    }
    for namespace in namespaces {
        collect!(Deployment, Api::<Deployment>::namespaced(client.clone(), namespace));
        collect!(k8s_openapi::api::apps::v1::ReplicaSet, Api::<k8s_openapi::api::apps::v1::ReplicaSet>::namespaced(client.clone(), namespace));
        collect!(k8s_openapi::api::core::v1::Pod, Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), namespace));
        collect!(k8s_openapi::api::core::v1::Service, Api::<k8s_openapi::api::core::v1::Service>::namespaced(client.clone(), namespace));
        collect!(ServiceAccount, Api::<ServiceAccount>::namespaced(client.clone(), namespace));
        collect!(Role, Api::<Role>::namespaced(client.clone(), namespace));
        collect!(RoleBinding, Api::<RoleBinding>::namespaced(client.clone(), namespace));
        collect!(PodDisruptionBudget, Api::<PodDisruptionBudget>::namespaced(client.clone(), namespace));
        collect!(ConfigMap, Api::<ConfigMap>::namespaced(client.clone(), namespace));
    }
    collect!(ClusterRole, Api::<ClusterRole>::all(client.clone()));
    collect!(ClusterRoleBinding, Api::<ClusterRoleBinding>::all(client.clone()));
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_upgrades_and_uninstalls_without_orphans() {
    let started = Instant::now();
    let ns = restricted_namespace("chart-upgrade").await;
    let later = TestNamespace::new("chart-upgrade-watched").await;
    let release = Release::new("chart-upgrade", &ns.name);
    let name = release.name.clone();
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    helm(&["install", &name, chart, "--namespace", &ns.name]);
    let fullname = format!("{name}-compose-operator");
    let before = wait_rollout(&ns, &fullname, 2).await;
    assert!(container_args_of(&before).contains(&"--log-format=json".to_string()));
    let cluster_scoped = format!("{fullname}-{}", ns.name);
    Api::<ClusterRoleBinding>::all(ns.client.clone()).get(&cluster_scoped).await.expect("ClusterRoleBinding before the upgrade");

    // Upgrade: other log format, three replicas, a PodDisruptionBudget, and from all namespaces
    // (ClusterRole) to one (Role): Helm must delete what the new values no longer render.
    helm(&[
        "upgrade",
        &name,
        chart,
        "--namespace",
        &ns.name,
        "--set",
        "logFormat=human,replicaCount=3,podDisruptionBudget.enabled=true",
        "--set",
        &format!("watchNamespaces={{{}}}", later.name),
    ]);
    let after = wait_rollout(&ns, &fullname, 3).await;
    let args = container_args_of(&after);
    assert!(args.contains(&"--log-format=human".to_string()) && args.contains(&format!("--namespace={}", later.name)), "{args:?}");
    ns.api::<PodDisruptionBudget>().get(&fullname).await.expect("PodDisruptionBudget after the upgrade");
    later.api::<Role>().get(&fullname).await.expect("Role in the newly watched namespace");
    wait::gone(&Api::<ClusterRoleBinding>::all(ns.client.clone()), &cluster_scoped).await;
    wait::gone(&Api::<ClusterRole>::all(ns.client.clone()), &cluster_scoped).await;
    let history = helm(&["history", &name, "--namespace", &ns.name, "-o", "json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&history).unwrap().as_array().map(Vec::len), Some(2));

    // Uninstall: nothing of the release is left, in its namespace, the watched one or the
    // cluster; Helm's own release records go too. The CRD stays (Helm never deletes crds/).
    helm(&["uninstall", &name, "--namespace", &ns.name, "--wait", "--timeout", "180s"]);
    let client = ns.client.clone();
    let namespaces = [ns.name.as_str(), later.name.as_str()];
    wait::until_true("no objects of the release left", || {
        let client = client.clone();
        let name = name.clone();
        async move {
            let left = release_objects(&client, &namespaces, &name).await;
            if !left.is_empty() {
                eprintln!("still there: {left:?}");
            }
            left.is_empty()
        }
    })
    .await;
    let records = ns.api::<Secret>().list(&ListParams::default().labels(&format!("owner=helm,name={name}"))).await.unwrap().items;
    assert!(records.is_empty(), "helm release records left: {:?}", records.iter().map(|s| s.metadata.name.clone()).collect::<Vec<_>>());
    Api::<CustomResourceDefinition>::all(ns.client.clone()).get(CRD).await.expect("the CRD is kept after uninstall");
    eprintln!("chart_upgrades_and_uninstalls_without_orphans: {:.1}s", started.elapsed().as_secs_f64());
}
