//! Scale run (not part of `make test`; `make bench-e2e`): one stack of many services
//! reconciled by the operator, beside the same objects applied by kubectl with no operator,
//! on the same cluster in the same run, so the figures are a ratio rather than absolute
//! times of a noisy machine. Results go in docs/performance.md.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, tool, wait};
use crate::stack;

/// Both runs' pods must fit on the three kwok nodes (110 pods, 32 CPUs each) at once.
const SERVICES: usize = 100;

fn compose(services: usize) -> String {
    let mut text = String::from("services:\n");
    for index in 0..services {
        text.push_str(&format!(
            "  svc-{index}:\n    image: registry.example/app-{index}:1.0\n    ports: [\"{}:80\"]\n    environment:\n      PEER: svc-{}\n    deploy:\n      replicas: 1\n      resources:\n        limits: {{cpus: \"0.1\", memory: 64M}}\n",
            20000 + index,
            (index + 1) % services,
        ));
    }
    text
}

async fn all_deployments_ready(ns: &TestNamespace, count: usize) {
    let deployments = ns.api::<Deployment>();
    wait::until_true("every Deployment ready", || async {
        let list = deployments.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
        list.len() == count && list.iter().all(|d| d.status.as_ref().and_then(|s| s.ready_replicas) == d.spec.replicas)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by make bench-e2e"]
async fn scale_one_stack_of_many_services() {
    let text = compose(SERVICES);

    // Baseline: the converted objects applied by kubectl, no operator.
    let baseline = TestNamespace::new("scale-kubectl").await;
    let converted = std::process::Command::new(env!("CARGO_BIN_EXE_compose-operator"))
        .args(["convert", "-f", "-", "--name", "scale", "-n", &baseline.name, "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("convert");
    let started = Instant::now();
    let mut kubectl = tool("kubectl").args(["apply", "--server-side", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    kubectl.stdin.take().unwrap().write_all(&converted.stdout).unwrap();
    assert!(kubectl.wait().unwrap().success());
    all_deployments_ready(&baseline, SERVICES).await;
    let kubectl_time = started.elapsed();

    // The operator: from the ComposeStack's apply to Ready=True at its generation.
    let operated = TestNamespace::new("scale-operator").await;
    let _operator = Operator::start(&operated.name, &[]);
    let started = Instant::now();
    operated.apply_stack("scale", json!({"compose": text})).await;
    wait::until(&operated.api::<ComposeStack>(), "scale", stack::ready_and_current).await;
    let operator_time = started.elapsed();
    all_deployments_ready(&operated, SERVICES).await;

    let ratio = operator_time.as_secs_f64() / kubectl_time.as_secs_f64();
    println!(
        "scale: {SERVICES} services: kubectl apply -> all ready {:.1} s; operator apply -> Ready {:.1} s; ratio {ratio:.2}",
        kubectl_time.as_secs_f64(),
        operator_time.as_secs_f64()
    );
    assert!(operator_time < Duration::from_secs(600));
}
