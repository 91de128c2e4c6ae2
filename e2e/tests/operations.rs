//! Operating the operator: crashes, two replicas with leader election, how Flux's kstatus
//! judges a stack, and plain kubectl.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, example, repo_root, tool, wait};
use crate::stack;

fn many_services(count: usize) -> String {
    let mut compose = String::from("services:\n");
    for index in 0..count {
        compose.push_str(&format!("  svc-{index}:\n    image: nginx\n    expose: [\"80\"]\n"));
    }
    compose
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_reconcile_the_operator_converges_after_restart() {
    let ns = TestNamespace::new("crash").await;
    let mut operator = Operator::start(&ns.name, &[]);
    ns.apply_stack("crash", json!({"compose": many_services(20)})).await;
    let deployments = ns.api::<Deployment>();
    // Kill it as soon as it has started writing, so the stack is half-applied.
    wait::until_true("the first objects", || async { !deployments.list(&ListParams::default()).await.unwrap().items.is_empty() }).await;
    operator.kill();

    let _restarted = Operator::start(&ns.name, &[]);
    wait::until(&ns.api::<ComposeStack>(), "crash", stack::ready_and_current).await;
    let names: Vec<String> = deployments.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|d| d.metadata.name).collect();
    assert_eq!(names.len(), 20, "{names:?}");
    let services = ns.api::<Service>().list(&ListParams::default()).await.unwrap().items;
    assert_eq!(services.len(), 20, "duplicated or lost Services");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_elect_one_leader_and_fail_over() {
    let ns = TestNamespace::new("leader").await;
    let lease_args = ["--leader-election", "--lease-namespace", &ns.name, "--lease-name", "compose-operator"];
    let mut first = Operator::start(&ns.name, &lease_args);
    let leases = ns.api::<Lease>();
    let holder = |l: &Lease| l.spec.as_ref().and_then(|s| s.holder_identity.clone()).filter(|h| !h.is_empty());
    let lease = wait::until(&leases, "compose-operator", |l: &Lease| holder(l).is_some()).await;
    let first_holder = holder(&lease).unwrap();
    let second = Operator::start(&ns.name, &lease_args);

    ns.apply_stack("leader", json!({"compose": example("redis")})).await;
    wait::until(&ns.api::<ComposeStack>(), "leader", stack::ready_and_current).await;
    // Exactly one replica reconciles: the follower never logs a reconcile.
    let follower_log = second.log_text();
    assert!(!follower_log.contains("reconciled"), "the follower reconciled:\n{follower_log}");

    first.kill();
    let lease = wait::until(&leases, "compose-operator", |l: &Lease| holder(l).is_some_and(|h| h != first_holder)).await;
    assert!(holder(&lease).is_some());
    // The new leader picks up changes.
    ns.apply_stack("leader", json!({"compose": example("redis").replace("redis:7-alpine", "redis:7.4-alpine")})).await;
    wait::until(&ns.api::<Deployment>(), "redis", |d: &Deployment| {
        d.spec.template.spec.as_ref().and_then(|s| s.containers[0].image.clone()).as_deref() == Some("redis:7.4-alpine")
    })
    .await;
    drop(second);
}

/// `e2e/tools/kstatus`: sigs.k8s.io/cli-utils' kstatus, the library Flux judges health with,
/// reading the live object from the cluster as Flux does.
fn kstatus(namespace: &str, name: &str) -> serde_json::Value {
    let output = tool("kstatus")
        .args(["-o", "json", "compose-operator.dev/v1alpha1", "composestacks", namespace, name])
        .output()
        .expect("the kstatus checker (built by e2e/build-tools.sh) on PATH");
    assert!(output.status.success(), "kstatus: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("kstatus prints one JSON line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kstatus_reports_current_in_progress_and_failed() {
    let ns = TestNamespace::new("kstatus").await;
    let _operator = Operator::start(&ns.name, &[]);
    let stacks = ns.api::<ComposeStack>();
    ns.apply_stack("health", json!({"compose": example("get-started")})).await;
    wait::until(&stacks, "health", stack::ready_and_current).await;
    assert_eq!(kstatus(&ns.name, "health")["status"], "Current");

    // minReadySeconds of an hour: pods are Ready but not yet Available, so the rollout is in
    // progress. (The service is not called `web`: that name belongs to the first stack here.)
    ns.apply_stack(
        "progress",
        json!({"compose": "services:\n  slow:\n    image: nginx\n    deploy:\n      replicas: 2\n      update_config:\n        delay: 1h\n"}),
    )
    .await;
    wait::until(&stacks, "progress", |s: &ComposeStack| s.status.as_ref().and_then(|s| s.observed_generation) == s.metadata.generation).await;
    assert_eq!(kstatus(&ns.name, "progress")["status"], "InProgress");

    let broken = std::fs::read_to_string(repo_root().join("tests/fixtures/invalid/misindented-restart-policy.yaml")).unwrap();
    ns.apply_stack("broken", json!({"compose": broken})).await;
    wait::until(&stacks, "broken", |s: &ComposeStack| stack::is(s, "Stalled")).await;
    assert_eq!(kstatus(&ns.name, "broken")["status"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_examples_and_shows_printer_columns() {
    // get-started and django both have a service `web`: in one namespace the second stack
    // would stall on the name collision, so each example gets a namespace, as in `make demo`.
    let examples = ["get-started", "microblog", "redis", "django"];
    let mut namespaces = Vec::new();
    for example in examples {
        namespaces.push(TestNamespace::new(&format!("kubectl-{example}")).await);
    }
    let extra: Vec<String> = namespaces[1..].iter().flat_map(|ns| ["--namespace".to_string(), ns.name.clone()]).collect();
    let _operator = Operator::start(&namespaces[0].name, &extra.iter().map(String::as_str).collect::<Vec<_>>());
    let kubectl = |args: &[&str]| {
        let output = tool("kubectl").args(args).output().expect("kubectl");
        assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    for (example, ns) in examples.iter().zip(&namespaces) {
        let manifest = repo_root().join(format!("examples/{example}.yaml"));
        kubectl(&["apply", "-n", &ns.name, "-f", manifest.to_str().unwrap()]);
    }
    for (example, ns) in examples.iter().zip(&namespaces) {
        wait::until(&ns.api::<ComposeStack>(), example, stack::ready_and_current).await;
    }
    let table = kubectl(&["get", "stack", "-n", &namespaces[1].name]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("READY") && header.contains("STATUS") && header.contains("AGE"), "{table}");
    let microblog = table.lines().find(|l| l.starts_with("microblog")).unwrap();
    assert!(microblog.contains("3/3") && microblog.contains("Ready"), "{table}");
}

/// Issue 12: a tenant's hostile or oversized stack beside a healthy one. The healthy stack
/// converges, the poisoned ones are Stalled with short messages (or applied, when merely
/// large), the refused one is not translated again and again, and the operator process
/// never exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_stack_neither_stops_the_operator_nor_its_neighbours() {
    let ns = TestNamespace::new("poison").await;
    let mut operator = Operator::start(&ns.name, &[]);
    // ~120 KB of invalid entries: thousands of errors (in under 500 services, the most a stack
    // may have, so that each is reported rather than the count).
    let mut invalid = String::from("services:\n");
    let mut index = 0;
    while invalid.len() < 120_000 {
        invalid.push_str(&format!("  s{index}:\n    image: x\n    ports: [\"not-a-port-{index}\"]\n"));
        for key in 0..10 {
            invalid.push_str(&format!("    no_such_key_{key}: {index}\n"));
        }
        index += 1;
    }
    // Large but valid: one service with 5,000 environment variables (~190 KB).
    let mut large = String::from("services:\n  big:\n    image: nginx\n    environment:\n");
    for index in 0..5000 {
        large.push_str(&format!("      VARIABLE_{index}: \"value-{index}-abcdefgh\"\n"));
    }
    ns.apply_stack("invalid", json!({"compose": invalid})).await;
    ns.apply_stack("large", json!({"compose": large})).await;
    ns.apply_stack("healthy", json!({"compose": example("get-started")})).await;

    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "healthy", stack::ready_and_current).await;
    let stalled = wait::until(&stacks, "invalid", |s: &ComposeStack| stack::is(s, "Stalled")).await;
    let message = &stack::condition(&stalled, "Stalled").unwrap().message;
    assert!(message.len() <= 4096 && message.contains(" more"), "{} bytes: {message}", message.len());
    let status_size = serde_json::to_string(&stalled.status).unwrap().len();
    assert!(status_size < 16 * 1024, "the status is {status_size} bytes");
    wait::until(&stacks, "large", stack::ready_and_current).await;

    assert!(operator.is_running(), "the operator exited:\n{}", operator.log_text());
    let refusals = operator.log_text().lines().filter(|l| l.contains("the compose document was refused")).count();
    assert_eq!(refusals, 1, "the refused generation was translated again");
}
