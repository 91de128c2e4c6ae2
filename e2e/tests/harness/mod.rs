//! The real-cluster test harness.
//!
//! The cluster is the one `KUBECONFIG` points at, when it answers (kind, a cloud cluster),
//! otherwise the local control plane from `e2e/cluster.sh` (built from Go modules, kwok nodes),
//! started on first use and left running for the next run. Each test gets its own namespace
//! and its own operator process (the real binary, restricted to that namespace), whose log is
//! printed when the test fails.

#![allow(dead_code)]

pub mod operator;
pub mod real_node;
pub mod wait;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResourceExt, ResourceExt};

use compose_operator::api::ComposeStack;

/// Generous: these machines are shared and noisy; a wait ends as soon as its condition holds.
pub const DEADLINE: Duration = Duration::from_secs(180);

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The kubeconfig of the cluster under test, starting the local one if needed.
pub fn kubeconfig() -> &'static PathBuf {
    static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();
    KUBECONFIG.get_or_init(|| {
        if let Some(path) = std::env::var_os("KUBECONFIG").map(PathBuf::from)
            && path.is_file()
        {
            return path;
        }
        let script = repo_root().join("e2e/cluster.sh");
        let status = Command::new("bash").arg(&script).arg("up").status().expect("run e2e/cluster.sh up");
        assert!(status.success(), "e2e/cluster.sh up failed; see its logs");
        let output = Command::new("bash").arg(&script).arg("env").output().expect("run e2e/cluster.sh env");
        let env = String::from_utf8_lossy(&output.stdout);
        let path = env.lines().find_map(|line| line.strip_prefix("export KUBECONFIG=")).expect("cluster.sh env prints export KUBECONFIG=...");
        PathBuf::from(path.trim().trim_matches('"').trim_matches('\''))
    })
}

/// A command-line tool of the cluster's (kubectl, helm, kstatus): the one e2e/build-tools.sh
/// built when it is there, else whatever PATH has (a user's own cluster and tools).
pub fn tool(name: &str) -> Command {
    static BIN_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let bin_dir = BIN_DIR.get_or_init(|| {
        let output = Command::new("bash").arg(repo_root().join("e2e/build-tools.sh")).arg("--print-bin-dir").output().ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        dir.is_dir().then_some(dir)
    });
    let program = bin_dir.as_ref().map(|dir| dir.join(name)).filter(|path| path.is_file()).unwrap_or_else(|| PathBuf::from(name));
    let mut command = Command::new(program);
    command.env("KUBECONFIG", kubeconfig());
    command
}

pub async fn client() -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig()).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kubeconfig");
    Client::try_from(config).expect("client")
}

/// Installs (server-side applies) the CRD from the types, once per test binary, and waits
/// until the API server serves it.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = ComposeStack::crd();
    crds.patch(&crd.name_any(), &PatchParams::apply("compose-operator-e2e").force(), &Patch::Apply(&crd)).await.expect("apply CRD");
    wait::until(&crds, &crd.name_any(), |crd: &CustomResourceDefinition| {
        crd.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
    })
    .await;
}

/// A namespace of one test's own, deleted when the test ends (also on failure).
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
}

impl TestNamespace {
    pub async fn new(test: &str) -> TestNamespace {
        let client = client().await;
        install_crd(&client).await;
        let suffix = std::process::id() % 100_000;
        let name = format!("e2e-{test}-{suffix}");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
        TestNamespace { name, client }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Applies a ComposeStack as a user would (server-side apply, the user's field manager).
    pub async fn apply_stack(&self, name: &str, spec: serde_json::Value) -> ComposeStack {
        let body = serde_json::json!({
            "apiVersion": "compose-operator.dev/v1alpha1",
            "kind": "ComposeStack",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.api::<ComposeStack>().patch(name, &PatchParams::apply("e2e-user").force(), &Patch::Apply(&body)).await.expect("apply stack")
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Cleanup must not depend on the test's runtime, which may be unwinding: a thread
        // with a runtime of its own deletes the namespace (and so everything in it).
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let namespaces: Api<Namespace> = Api::all(client().await);
                namespaces.delete(&name, &DeleteParams::background()).await.ok()
            })
        })
        .join();
    }
}

/// A compose example from `examples/compose/`.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(format!("examples/compose/{name}.yaml"))).expect("example")
}
