//! kompose's fixture corpus on a real cluster: every compose file that converts as a
//! project (tests/conformance/kompose.tsv, third column) is packed by the real
//! `compose-operator stack`, applied with kubectl into a namespace of its own, and waited
//! on. Its converted objects must all pass the API server's validation (server-side dry
//! run), and which stacks become Ready must match tests/conformance/kompose-ready.tsv
//! (`UPDATE_CONFORMANCE=1` rewrites it; then rerun the offline conformance test with it
//! to update docs/conformance.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compose_operator::api::ComposeStack;
use kube::api::Api;

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, repo_root, tool};

#[path = "../../tests/conformance/corpus.rs"]
mod corpus;

/// Stacks per operator process (each namespace is one controller with its watches).
const BATCH: usize = 16;
/// Generous: a batch's stacks converge in seconds here; the deadline only bounds a failure.
const SETTLE: Duration = Duration::from_secs(240);

fn compose_operator(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compose-operator")).args(args).output().expect("compose-operator")
}

fn kubectl_with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = tool("kubectl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kubectl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The files whose project outcome converts, per the checked-in expectations.
fn converting_files(root: &Path) -> Vec<(String, PathBuf)> {
    let expectations = std::fs::read_to_string(repo_root().join("tests/conformance/kompose.tsv")).expect("kompose.tsv");
    expectations
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns.get(2)?.starts_with("converts")).then(|| (columns[0].to_string(), root.join(columns[0])))
        })
        .collect()
}

fn image_args(file: &Path) -> Vec<String> {
    corpus::stand_in_images(file).into_iter().flat_map(|(service, image)| ["--image".to_string(), format!("{service}={image}")]).collect()
}

/// Validates the converted objects with the API server, then applies the packed stack.
fn deploy(file: &Path, namespace: &str) -> Result<(), String> {
    let path = file.to_str().unwrap();
    let images = image_args(file);
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut convert = vec!["convert", "-f", path, "--name", "corpus", "-n", namespace, "-o", "json"];
    convert.extend(&images);
    let converted = compose_operator(&convert);
    if !converted.status.success() {
        return Err(format!("convert: {}", String::from_utf8_lossy(&converted.stderr)));
    }
    let dry_run =
        kubectl_with_stdin(&["apply", "--server-side", "--dry-run=server", "--field-manager=compose-operator", "-n", namespace, "-f", "-"], &converted.stdout);
    if !dry_run.status.success() {
        return Err(format!("rejected by the API server: {}", String::from_utf8_lossy(&dry_run.stderr).trim()));
    }
    let mut stack = vec!["stack", "-f", path, "--name", "corpus", "-n", namespace];
    stack.extend(&images);
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
        // A pod waiting for a claim that does not exist (an `external: true` volume nobody
        // created) waits forever, and the status says so.
        _ => status
            .services
            .iter()
            .filter_map(|s| s.message.as_deref())
            .find(|m| m.contains("cannot be scheduled") && m.contains("persistentvolumeclaim") && m.contains("not found"))
            .map(|m| format!("not Ready: {m}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_projects_are_accepted_by_the_api_server_and_become_ready() {
    let root = corpus::root();
    let files = converting_files(&root);
    assert!(files.len() > 50, "expected the converting part of the corpus, found {}", files.len());
    let mut outcomes: BTreeMap<String, String> = BTreeMap::new();
    for (batch_index, batch) in files.chunks(BATCH).enumerate() {
        let mut namespaces = Vec::new();
        for index in 0..batch.len() {
            namespaces.push(TestNamespace::new(&format!("corpus-{}", batch_index * BATCH + index)).await);
        }
        let extra: Vec<String> = namespaces[1..].iter().flat_map(|ns| ["--namespace".to_string(), ns.name.clone()]).collect();
        let _operator = Operator::start(&namespaces[0].name, &extra.iter().map(String::as_str).collect::<Vec<_>>());
        let mut pending = Vec::new();
        for ((name, file), namespace) in batch.iter().zip(&namespaces) {
            match deploy(file, &namespace.name) {
                Ok(()) => pending.push((name.clone(), namespace.api::<ComposeStack>())),
                Err(reason) => {
                    outcomes.insert(name.clone(), reason.replace(['\t', '\n'], " "));
                }
            }
        }
        let started = Instant::now();
        while !pending.is_empty() && started.elapsed() < SETTLE {
            let mut still: Vec<(String, Api<ComposeStack>)> = Vec::new();
            for (name, api) in pending {
                match verdict(api.get_opt("corpus").await.ok().flatten().as_ref()) {
                    Some(outcome) => {
                        outcomes.insert(name, outcome.replace(['\t', '\n'], " "));
                    }
                    None => still.push((name, api)),
                }
            }
            pending = still;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (name, api) in pending {
            let phase = api.get_opt("corpus").await.ok().flatten().and_then(|s| s.status).map(|s| format!("{:?}: {:?}", s.phase, s.services));
            outcomes.insert(name, format!("not settled after {SETTLE:?}: {}", phase.unwrap_or_default()));
        }
    }
    let rejected: Vec<&String> = outcomes.iter().filter(|(_, o)| o.starts_with("rejected")).map(|(f, _)| f).collect();
    assert!(rejected.is_empty(), "the API server rejected converted objects of {rejected:?}: {outcomes:#?}");

    let table: String = outcomes.iter().map(|(file, outcome)| format!("{file}\t{}\n", if outcome == "Ready" { "Ready" } else { outcome })).collect();
    let expected_path = repo_root().join("tests/conformance/kompose-ready.tsv");
    if std::env::var_os("UPDATE_CONFORMANCE").is_some() {
        std::fs::write(&expected_path, &table).unwrap();
    }
    let ready =
        |text: &str| -> Vec<String> { text.lines().filter(|l| l.ends_with("\tReady")).map(|l| l.split('\t').next().unwrap_or_default().to_string()).collect() };
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(ready(&table), ready(&expected), "which corpus stacks become Ready changed; outcomes:\n{table}\nreview and rerun with UPDATE_CONFORMANCE=1");
}
