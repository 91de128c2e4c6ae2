//! The conformance corpora and our fixtures against a real API server.
//!
//! - Every corpus project that converts (tests/conformance/<corpus>.tsv, third column) is
//!   packed by the real `compose-operator stack`, applied with kubectl into a namespace of its
//!   own, and waited on; which stacks become Ready must match
//!   tests/conformance/<corpus>-ready.tsv.
//! - Every fixture (tests/fixtures/convert/*.yaml) and every corpus project that converts is
//!   dry-run with `kubectl apply --dry-run=server -f -` in the YAML `convert` prints, so that
//!   kubectl's YAML 1.1 reading (`value: yes` is a bool there) is part of the test. The
//!   refusals must match tests/conformance/dry-run.tsv, which the issue wants empty.
//!
//! `UPDATE_CONFORMANCE=1` rewrites the records; then rerun the offline conformance test with
//! it to update docs/conformance.md.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose_operator::api::ComposeStack;
use compose_operator::cli::convert::{self, Output};

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, repo_root, tool};

#[path = "../../tests/conformance/corpus.rs"]
mod corpus;
#[path = "../../tests/support/mod.rs"]
mod support;

use corpus::Project;

/// Stacks per operator process (each namespace is one controller with its watches).
const BATCH: usize = 16;
/// Generous: a batch's stacks converge in seconds here; the deadline only bounds a failure.
const SETTLE: Duration = Duration::from_secs(240);

fn updating() -> bool {
    std::env::var_os("UPDATE_CONFORMANCE").is_some()
}

fn compose_operator(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compose-operator")).args(args).output().expect("compose-operator")
}

fn kubectl_with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = tool("kubectl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kubectl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The projects whose project outcome converts, per the checked-in expectations, by corpus.
fn converting_projects(root: &Path) -> Vec<(String, Project)> {
    let mut found = Vec::new();
    for corpus in corpus::CORPORA {
        let dir = corpus::corpus_dir(root, corpus);
        let expectations = std::fs::read_to_string(repo_root().join(format!("tests/conformance/{corpus}.tsv"))).expect("corpus expectations");
        let converting: Vec<&str> = expectations
            .lines()
            .filter_map(|line| line.split('\t').nth(2).filter(|c| c.starts_with("converts")).map(|_| line.split('\t').next().unwrap()))
            .collect();
        for project in corpus::projects(&dir, corpus) {
            if converting.contains(&project.name.as_str()) {
                found.push((corpus.to_string(), project));
            }
        }
    }
    found
}

fn convert_args(project: &Project, namespace: &str, output: &str) -> Vec<String> {
    let mut args = vec!["convert".to_string()];
    args.extend(corpus::file_args(project));
    args.extend(["--name", "corpus", "-n", namespace, "-o", output].map(String::from));
    args.extend(corpus::image_args(project));
    args
}

/// Validates the converted objects with the API server, then applies the packed stack.
fn deploy(project: &Project, namespace: &str) -> Result<(), String> {
    let converted = compose_operator(&convert_args(project, namespace, "json"));
    if !converted.status.success() {
        return Err(format!("convert: {}", String::from_utf8_lossy(&converted.stderr)));
    }
    let dry_run =
        kubectl_with_stdin(&["apply", "--server-side", "--dry-run=server", "--field-manager=compose-operator", "-n", namespace, "-f", "-"], &converted.stdout);
    if !dry_run.status.success() {
        return Err(format!("rejected by the API server: {}", String::from_utf8_lossy(&dry_run.stderr).trim()));
    }
    let mut stack = vec!["stack".to_string()];
    stack.extend(corpus::file_args(project));
    stack.extend(["--name", "corpus", "-n", namespace].map(String::from));
    stack.extend(corpus::image_args(project));
    let manifest = compose_operator(&stack);
    if !manifest.status.success() {
        return Err(format!("stack: {}", String::from_utf8_lossy(&manifest.stderr)));
    }
    let applied = kubectl_with_stdin(&["apply", "--server-side", "-n", namespace, "-f", "-"], &manifest.stdout);
    if !applied.status.success() {
        return Err(format!("apply: {}", String::from_utf8_lossy(&applied.stderr).trim()));
    }
    Ok(())
}

/// `Ready`, or what the stack says instead once the batch has settled or the deadline passed.
fn verdict(stack: Option<&ComposeStack>) -> Option<String> {
    let stack = stack?;
    let status = stack.status.as_ref()?;
    let current = status.observed_generation == stack.metadata.generation;
    match status.phase.as_deref() {
        Some("Ready") if current => Some("Ready".into()),
        Some("Stalled") if current => {
            let message = status.conditions.iter().find(|c| c.type_ == "Stalled").map(|c| c.message.clone()).unwrap_or_default();
            Some(format!("Stalled: {message}"))
        }
        // Some waits never end here, and the status says so: settle on them rather than on
        // the deadline.
        _ => status
            .services
            .iter()
            .filter_map(|s| s.message.as_deref())
            .find(|m| waits_forever(m, &status.services))
            .map(|m| format!("not Ready: {}", without_pod_names(m))),
    }
}

/// `pod web-78b654c48b-knppb` as `a pod`: the record must not change with every run.
/// The scheduler's own account ("0/4 nodes are available: ...") depends on the cluster's
/// nodes (kwok only, or with a real node): the record keeps what it says of the pod, up to
/// that point.
fn without_pod_names(message: &str) -> String {
    let message = match message.find(": 0/") {
        Some(at) => &message[..at],
        None => message,
    };
    let mut words = message.split(' ').peekable();
    let mut out = Vec::new();
    while let Some(word) = words.next() {
        if word == "pod" && words.peek().is_some_and(|next| next.matches('-').count() >= 2) {
            words.next();
            out.push("a pod");
        } else {
            out.push(word);
        }
    }
    out.join(" ")
}

/// A pod that needs a claim nobody creates (an `external: true` volume) or a node kwok does
/// not have (`platform: linux/386`), or a service waiting for a long-running one to complete.
fn waits_forever(message: &str, services: &[compose_operator::api::ServiceStatus]) -> bool {
    let unschedulable = message.contains("cannot be scheduled")
        && ((message.contains("persistentvolumeclaim") && message.contains("not found")) || message.contains("didn't match Pod's node affinity/selector"));
    let awaited = message.strip_prefix("waiting for ").and_then(|rest| rest.strip_suffix(": service_completed_successfully"));
    let never_completes = awaited.is_some_and(|name| services.iter().any(|s| s.name == name && s.kind != compose_operator::object::WorkloadKind::Job));
    unschedulable || never_completes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_projects_are_accepted_by_the_api_server_and_become_ready() {
    let Some(root) = corpus::root() else { return };
    let projects = converting_projects(&root);
    assert!(projects.len() > 50, "expected the converting part of the corpora, found {}", projects.len());
    let mut outcomes: BTreeMap<(String, String), String> = BTreeMap::new();
    for (batch_index, batch) in projects.chunks(BATCH).enumerate() {
        let mut namespaces = Vec::new();
        for index in 0..batch.len() {
            namespaces.push(TestNamespace::new(&format!("corpus-{}", batch_index * BATCH + index)).await);
        }
        let extra: Vec<String> = namespaces[1..].iter().flat_map(|ns| ["--namespace".to_string(), ns.name.clone()]).collect();
        let _operator = Operator::start(&namespaces[0].name, &extra.iter().map(String::as_str).collect::<Vec<_>>());
        let mut pending = Vec::new();
        for ((corpus, project), namespace) in batch.iter().zip(&namespaces) {
            let key = (corpus.clone(), project.name.clone());
            match deploy(project, &namespace.name) {
                Ok(()) => pending.push((key, namespace.api::<ComposeStack>())),
                Err(reason) => {
                    outcomes.insert(key, reason.replace(['\t', '\n'], " "));
                }
            }
        }
        let started = Instant::now();
        while !pending.is_empty() && started.elapsed() < SETTLE {
            let mut still = Vec::new();
            for (key, api) in pending {
                match verdict(api.get_opt("corpus").await.ok().flatten().as_ref()) {
                    Some(outcome) => {
                        outcomes.insert(key, outcome.replace(['\t', '\n'], " "));
                    }
                    None => still.push((key, api)),
                }
            }
            pending = still;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (key, api) in pending {
            let phase = api.get_opt("corpus").await.ok().flatten().and_then(|s| s.status).map(|s| format!("{:?}: {:?}", s.phase, s.services));
            outcomes.insert(key, format!("not settled after {SETTLE:?}: {}", phase.unwrap_or_default()));
        }
    }
    let rejected: Vec<&(String, String)> = outcomes.iter().filter(|(_, o)| o.starts_with("rejected")).map(|(f, _)| f).collect();
    assert!(rejected.is_empty(), "the API server rejected converted objects of {rejected:?}: {outcomes:#?}");

    let ready =
        |text: &str| -> Vec<String> { text.lines().filter(|l| l.ends_with("\tReady")).map(|l| l.split('\t').next().unwrap_or_default().to_string()).collect() };
    let mut changed = Vec::new();
    for corpus in corpus::CORPORA {
        let table: String = outcomes.iter().filter(|((c, _), _)| c == corpus).map(|((_, name), outcome)| format!("{name}\t{outcome}\n")).collect();
        let expected_path = repo_root().join(format!("tests/conformance/{corpus}-ready.tsv"));
        if updating() {
            std::fs::write(&expected_path, &table).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if ready(&table) != ready(&expected) {
            changed.push(format!("{corpus}:\n{table}"));
        }
    }
    assert!(changed.is_empty(), "which corpus stacks become Ready changed; outcomes:\n{}\nreview and rerun with UPDATE_CONFORMANCE=1", changed.join("\n"));
}

/// The API server's verdict on a YAML text, `None` when it accepts every object.
fn dry_run_yaml(yaml: &[u8], namespace: &str) -> Option<String> {
    let output = kubectl_with_stdin(&["apply", "--dry-run=server", "-n", namespace, "-f", "-"], yaml);
    if output.status.success() {
        return None;
    }
    let message = String::from_utf8_lossy(&output.stderr).replace(namespace, "<namespace>");
    Some(message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_yaml_is_accepted_by_the_api_server() {
    let namespace = TestNamespace::new("dry-run").await;
    let mut refusals: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;

    // Our fixtures, with the settings they carry (x-test), printed as `convert` prints them.
    let mut fixtures: Vec<_> = std::fs::read_dir(repo_root().join("tests/fixtures/convert")).unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    for fixture in fixtures.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(fixture).unwrap();
        let (spec, policy) = support::spec_and_policy(&text);
        let source = format!("fixtures/{}", fixture.file_name().unwrap().to_string_lossy());
        let Ok(translation) = compose_operator::pipeline::translate("fixture", &namespace.name, &spec, &policy) else { continue };
        let yaml = convert::print(Vec::new(), &translation, Output::Yaml).unwrap();
        checked += 1;
        if let Some(message) = dry_run_yaml(yaml.as_bytes(), &namespace.name) {
            refusals.insert(source, message);
        }
    }

    // Every corpus project that converts, through the real CLI.
    let root = corpus::root();
    if let Some(root) = &root {
        for (corpus, project) in converting_projects(root) {
            let converted = compose_operator(&convert_args(&project, &namespace.name, "yaml"));
            let source = format!("{corpus}/{}", project.name);
            assert!(converted.status.success(), "{source} converts per the expectations, but: {}", String::from_utf8_lossy(&converted.stderr));
            checked += 1;
            if let Some(message) = dry_run_yaml(&converted.stdout, &namespace.name) {
                refusals.insert(source, message);
            }
        }
    }
    assert!(checked > 20, "expected the fixtures at least, dry-ran {checked}");

    let table: String = refusals.iter().map(|(source, message)| format!("{source}\t{}\n", message.replace('\t', " "))).collect();
    let expected_path = repo_root().join("tests/conformance/dry-run.tsv");
    if updating() {
        std::fs::write(&expected_path, &table).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    // Without the corpora only the fixtures' records can be compared.
    let sources = |text: &str| -> Vec<String> {
        text.lines().map(|l| l.split('\t').next().unwrap_or_default().to_string()).filter(|s| root.is_some() || s.starts_with("fixtures/")).collect()
    };
    assert_eq!(
        sources(&table),
        sources(&expected),
        "the API server's refusals of converted YAML changed (tests/conformance/dry-run.tsv); now:\n{table}\nreview and rerun with UPDATE_CONFORMANCE=1"
    );
}
