//! Scale run (not part of `make test`; `make bench-e2e`): many stacks, each in a namespace of
//! its own, reconciled by one operator watching all namespaces, beside the same objects applied
//! by `kubectl apply --server-side` with no operator, on the same cluster in the same run, so
//! the figures are ratios rather than absolute times of a noisy machine. Results go in
//! docs/performance.md.
//!
//! Parameters (environment): `SCALE_STACKS` (200), `SCALE_SERVICES` per stack (5: db with a
//! named volume so a StatefulSet, cache, api → db `service_healthy` and cache, web → api
//! `service_healthy`, worker → api; more are plain extras), `SCALE_ROUNDS` (2),
//! `SCALE_STEADY_SECONDS` (60), `SCALE_DEADLINE_SECONDS` per wait (1800), `SCALE_UNORDERED`
//! (1; 0 skips step 2 below, for runs the cluster can only just hold). Each round times:
//! 1. kubectl: the objects `convert` prints, applied by 16 kubectl processes at once, until
//!    every workload is ready;
//! 2. the operator, the same stacks with their `depends_on` removed (the order is then the
//!    operator's own, as for kubectl);
//! 3. the operator, the stacks as written: the difference to 2 is what the dependency chain
//!    costs.
//!
//! Then, nothing changing, with `--requeue-seconds 20`: the API server's own request count
//! (`apiserver_request_total`, every client) over the steady-state window, and the
//! operator's share from its metrics; and the operator's peak RSS. Everything stops by itself:
//! each wait has a deadline, after which the run reports how far it got and fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{client, install_crd, tool};

/// Baseline objects are relabelled so the operator's watches (label-selected) never see them.
const BASELINE_LABEL_PREFIX: &str = "scale-baseline.example";
const POLL: Duration = Duration::from_secs(5);

fn parameter(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Parameters {
    stacks: usize,
    services: usize,
    rounds: usize,
    unordered: bool,
    steady: Duration,
    deadline: Duration,
}

/// The benchmark stack of `services` services, with or without its `depends_on`.
fn compose(services: usize, with_dependencies: bool) -> String {
    let dependencies = |text: &str| if with_dependencies { text.to_string() } else { String::new() };
    let mut text = String::from("services:\n");
    let mut defined = 0;
    let mut push = |block: String| {
        if defined < services {
            text.push_str(&block);
            defined += 1;
        }
    };
    push("  db:\n    image: registry.example/db:1\n    volumes: [\"data:/var/lib/db\"]\n".into());
    push("  cache:\n    image: registry.example/cache:1\n".into());
    push(format!(
        "  api:\n    image: registry.example/api:1\n    environment: {{DB: db, CACHE: cache}}\n{}",
        dependencies("    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_started}\n")
    ));
    push(format!(
        "  web:\n    image: registry.example/web:1\n    ports: [\"8080:80\"]\n{}",
        dependencies("    depends_on:\n      api: {condition: service_healthy}\n")
    ));
    push(format!("  worker:\n    image: registry.example/worker:1\n{}", dependencies("    depends_on: [api]\n")));
    for extra in 5..services {
        push(format!("  extra-{extra}:\n    image: registry.example/extra:1\n"));
    }
    if services > 0 {
        text.push_str("volumes:\n  data: {}\n");
    }
    text
}

async fn create_namespaces(client: &Client, names: &[String]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"scale-run": "true"}}})).unwrap();
        namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
    }
}

async fn delete_namespaces(client: &Client, names: &[String]) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let _ = namespaces.delete(name, &DeleteParams::background()).await;
    }
}

/// Waits until `ready()` reports `total` of `total`, printing progress; panics at the deadline
/// with how far it got.
async fn until_all<F, Fut>(what: &str, total: usize, deadline: Duration, ready: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let started = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let count = ready().await;
        if count >= total {
            return started.elapsed();
        }
        if last_print.elapsed() > Duration::from_secs(30) {
            eprintln!("scale: {what}: {count}/{total} after {:.0} s", started.elapsed().as_secs_f64());
            last_print = Instant::now();
        }
        assert!(started.elapsed() < deadline, "scale: {what}: only {count}/{total} after {deadline:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Just the fields a readiness count reads: decoding whole workloads and stacks thousands at a
/// time every poll would take a core from the cluster under test.
#[derive(serde::Deserialize)]
struct Listed {
    items: Vec<ListedItem>,
}

#[derive(serde::Deserialize)]
struct ListedItem {
    metadata: ListedMetadata,
    #[serde(default)]
    spec: Option<ListedSpec>,
    #[serde(default)]
    status: Option<ListedStatus>,
}

#[derive(serde::Deserialize)]
struct ListedMetadata {
    generation: Option<i64>,
}

#[derive(serde::Deserialize)]
struct ListedSpec {
    replicas: Option<i32>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedStatus {
    ready_replicas: Option<i32>,
    observed_generation: Option<i64>,
    #[serde(default)]
    conditions: Vec<ListedCondition>,
}

#[derive(serde::Deserialize)]
struct ListedCondition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

async fn list_minimal(client: &Client, path: &str) -> Vec<ListedItem> {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    match client.request_text(request).await {
        Ok(text) => serde_json::from_str::<Listed>(&text).map(|l| l.items).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn ready_baseline_workloads(client: &Client) -> usize {
    let selector = format!("labelSelector={BASELINE_LABEL_PREFIX}/managed-by%3Dcompose-operator");
    let mut ready = 0;
    for kind in ["deployments", "statefulsets"] {
        let items = list_minimal(client, &format!("/apis/apps/v1/{kind}?{selector}")).await;
        ready += items.iter().filter(|i| i.status.as_ref().and_then(|s| s.ready_replicas) == i.spec.as_ref().and_then(|s| s.replicas)).count();
    }
    ready
}

async fn ready_stacks(client: &Client, run: &str) -> usize {
    let items = list_minimal(client, &format!("/apis/compose-operator.dev/v1alpha1/composestacks?labelSelector=scale-run%3D{run}")).await;
    items
        .iter()
        .filter(|stack| {
            let Some(status) = &stack.status else { return false };
            status.observed_generation == stack.metadata.generation && status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .count()
}

/// The converted objects of every stack, relabelled, applied by 16 kubectl processes at once.
async fn kubectl_baseline(client: &Client, p: &Parameters, namespaces: &[String]) -> Duration {
    let text = compose(p.services, true);
    let mut bodies = Vec::new();
    for namespace in namespaces {
        let converted = std::process::Command::new(env!("CARGO_BIN_EXE_compose-operator"))
            .args(["convert", "-f", "-", "--name", "bench", "-n", namespace, "-o", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(text.as_bytes())?;
                child.wait_with_output()
            })
            .expect("convert");
        assert!(converted.status.success());
        let relabelled = String::from_utf8(converted.stdout)
            .unwrap()
            .replace("\"app.kubernetes.io/managed-by\"", &format!("\"{BASELINE_LABEL_PREFIX}/managed-by\""))
            .replace("\"compose-operator.dev/stack\"", &format!("\"{BASELINE_LABEL_PREFIX}/stack\""));
        bodies.push(relabelled);
    }
    let started = Instant::now();
    let chunks: Vec<Vec<String>> = bodies.chunks(bodies.len().div_ceil(16).max(1)).map(<[String]>::to_vec).collect();
    let appliers: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                for body in chunk {
                    let mut kubectl = tool("kubectl").args(["apply", "--server-side", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
                    kubectl.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
                    assert!(kubectl.wait().unwrap().success(), "kubectl apply failed");
                }
            })
        })
        .collect();
    for applier in appliers {
        applier.join().expect("kubectl applier");
    }
    until_all("kubectl: workloads ready", namespaces.len() * p.services, p.deadline, || ready_baseline_workloads(client)).await;
    started.elapsed()
}

/// The stacks applied as users would (one server-side apply each), until every one is Ready.
async fn operator_run(client: &Client, p: &Parameters, namespaces: &[String], run: &str, with_dependencies: bool) -> Duration {
    let text = compose(p.services, with_dependencies);
    let started = Instant::now();
    for namespace in namespaces {
        let body = json!({
            "apiVersion": "compose-operator.dev/v1alpha1",
            "kind": "ComposeStack",
            "metadata": {"name": "bench", "labels": {"scale-run": run}},
            "spec": {"compose": text},
        });
        Api::<ComposeStack>::namespaced(client.clone(), namespace)
            .patch("bench", &PatchParams::apply("e2e-user").force(), &Patch::Apply(&body))
            .await
            .expect("apply stack");
    }
    until_all(&format!("{run}: stacks Ready"), namespaces.len(), p.deadline, || ready_stacks(client, run)).await;
    started.elapsed()
}

/// `apiserver_request_total` summed by verb, from the API server's own metrics (watches are
/// long-running and counted once each, so they are left out).
fn apiserver_requests() -> BTreeMap<String, f64> {
    let output = tool("kubectl").args(["get", "--raw", "/metrics"]).output().expect("kubectl get --raw /metrics");
    let mut by_verb = sum_by(&String::from_utf8_lossy(&output.stdout), "apiserver_request_total{", "verb");
    by_verb.remove("WATCH");
    by_verb
}

/// The operator's /metrics text (empty if it cannot be read).
fn operator_metrics(operator: &Operator) -> String {
    use std::io::{Read, Write};
    let log = operator.log_text();
    let Some(address) = log.lines().find_map(|l| l.split("address=").nth(1).map(|a| a.split_whitespace().next().unwrap_or_default().to_string())) else {
        return String::new();
    };
    let Ok(mut stream) = std::net::TcpStream::connect(&address) else { return String::new() };
    let _ = stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes());
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body
}

/// The operator's own `compose_operator_api_requests_total`, summed by verb.
fn operator_requests(operator: &Operator) -> BTreeMap<String, f64> {
    sum_by(&operator_metrics(operator), "compose_operator_api_requests_total{", "verb")
}

/// A Prometheus text's samples of one metric (`prefix` up to its `{`), summed by one label.
fn sum_by(text: &str, prefix: &str, label: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    let key = format!("{label}=\"");
    for line in text.lines().filter(|l| l.starts_with(prefix)) {
        let Some(value) = line.split(key.as_str()).nth(1).and_then(|rest| rest.split('"').next()) else { continue };
        let Some(sample) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else { continue };
        *sums.entry(value.to_string()).or_default() += sample;
    }
    sums
}

/// The CPU time the process has used (user and system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after.iter().map(|(verb, value)| (verb.clone(), value - before.get(verb).copied().unwrap_or(0.0))).filter(|(_, v)| *v > 0.0).collect()
}

/// A memory figure of the process from /proc (`VmHWM` peak, `VmRSS` now), in MiB.
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by make bench-e2e"]
async fn scale_many_stacks() {
    let p = Parameters {
        stacks: parameter("SCALE_STACKS", 200) as usize,
        services: parameter("SCALE_SERVICES", 5) as usize,
        rounds: parameter("SCALE_ROUNDS", 2) as usize,
        unordered: parameter("SCALE_UNORDERED", 1) == 1,
        steady: Duration::from_secs(parameter("SCALE_STEADY_SECONDS", 60)),
        deadline: Duration::from_secs(parameter("SCALE_DEADLINE_SECONDS", 1800)),
    };
    let client = client().await;
    install_crd(&client).await;
    let suffix = std::process::id() % 100_000;
    println!("scale: {} stacks x {} services, {} rounds", p.stacks, p.services, p.rounds);
    for round in 1..=p.rounds {
        let names = |variant: &str| (0..p.stacks).map(|i| format!("s{suffix}-{round}{variant}-{i}")).collect::<Vec<_>>();
        let (baseline, unordered, ordered) = (names("k"), names("u"), names("o"));

        create_namespaces(&client, &baseline).await;
        let kubectl_time = kubectl_baseline(&client, &p, &baseline).await;

        let operator = Operator::start_all(&["--requeue-seconds", "20"]);
        let unordered: Vec<String> = if p.unordered { unordered } else { Vec::new() };
        create_namespaces(&client, &unordered).await;
        let unordered_time = if p.unordered { Some(operator_run(&client, &p, &unordered, &format!("{suffix}-{round}u"), false).await) } else { None };
        create_namespaces(&client, &ordered).await;
        let ordered_time = operator_run(&client, &p, &ordered, &format!("{suffix}-{round}o"), true).await;
        let kubectl_seconds = kubectl_time.as_secs_f64();
        let unordered_text = match unordered_time {
            Some(time) => format!("operator, no depends_on -> Ready {:.1} s (ratio {:.2}); ", time.as_secs_f64(), time.as_secs_f64() / kubectl_seconds),
            None => String::new(),
        };
        let chain = unordered_time.map(|time| format!("; the chain costs {:.2}", (ordered_time.as_secs_f64() - time.as_secs_f64()) / kubectl_seconds));
        println!(
            "scale: round {round}: kubectl -> all ready {kubectl_seconds:.1} s; {unordered_text}operator, with depends_on -> Ready {:.1} s (ratio {:.2}{})",
            ordered_time.as_secs_f64(),
            ordered_time.as_secs_f64() / kubectl_seconds,
            chain.unwrap_or_default(),
        );

        // Let the last watch events settle, then count a quiet window.
        tokio::time::sleep(Duration::from_secs(25)).await;
        let (server_before, ours_before) = (apiserver_requests(), operator_requests(&operator));
        let window = Instant::now();
        tokio::time::sleep(p.steady).await;
        let (server_after, ours_after) = (apiserver_requests(), operator_requests(&operator));
        let minutes = window.elapsed().as_secs_f64() / 60.0;
        let per_minute = |d: BTreeMap<String, f64>| {
            let text = d.into_iter().map(|(verb, n)| format!("{verb} {:.0}", n / minutes)).collect::<Vec<_>>().join(", ");
            if text.is_empty() { "none".to_string() } else { text }
        };
        let since_start: f64 = ours_after.values().sum();
        let server = delta(&server_before, &server_after);
        let total: f64 = server.values().sum();
        println!(
            "scale: round {round}: steady state ({} stacks Ready, --requeue-seconds 20), per minute: API server, every client: {:.0} ({}); the operator's own: {} (of {since_start:.0} since it started)",
            unordered.len() + ordered.len(),
            total / minutes,
            per_minute(server),
            per_minute(delta(&ours_before, &ours_after)),
        );
        println!(
            "scale: round {round}: operator peak RSS {:.1} MiB, {:.1} MiB at the end of the quiet window",
            memory_mib(operator.pid(), "VmHWM:"),
            memory_mib(operator.pid(), "VmRSS:")
        );
        let reconciles = sum_by(&operator_metrics(&operator), "compose_operator_reconciles_total{", "result");
        println!(
            "scale: round {round}: operator CPU {:.1} s since it started; reconciles: {}",
            cpu_seconds(operator.pid()),
            reconciles.iter().map(|(result, n)| format!("{result} {n:.0}")).collect::<Vec<_>>().join(", ")
        );
        assert!(operator.log_text().lines().all(|l| !l.contains("panicked")), "the operator panicked");
        if round == p.rounds {
            // The cluster goes with the run; nothing to clean for a next round.
            break;
        }
        for names in [&baseline, &unordered, &ordered] {
            delete_namespaces(&client, names).await;
        }
        // The next round starts from a quiet cluster: wait (bounded) for the stacks to go,
        // with the operator still running to let them go.
        let stacks: Api<ComposeStack> = Api::all(client.clone());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(600)
            && stacks.list(&ListParams::default()).await.is_ok_and(|l| l.items.iter().any(|s| s.name_any() == "bench"))
        {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        drop(operator);
    }
}
