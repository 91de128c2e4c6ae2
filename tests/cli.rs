//! The `compose-operator` binary as users run it, and the generated files checked in
//! beside it (the CRD, the example manifests) that must not go stale.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_compose-operator"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = binary()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn checked_in_crd_matches_the_types() {
    let generated = stdout(&run(&["crd"], None));
    let checked_in = std::fs::read_to_string(repo("crds/composestack.yaml")).unwrap();
    assert!(generated == checked_in, "crds/composestack.yaml is stale: run `cargo run -- crd > crds/composestack.yaml`");
}

/// The example manifests are `compose-operator stack` of the compose files beside them.
const EXAMPLES: &[(&str, &[&str])] = &[
    ("get-started", &[]),
    ("microblog", &["--var", "SECRET_KEY=change-me", "--var", "MYSQL_PASSWORD=microblog-password"]),
    ("redis", &[]),
    ("django", &[]),
];

#[test]
fn example_manifests_match_their_compose_files() {
    for (name, extra) in EXAMPLES {
        let compose = repo(&format!("examples/compose/{name}.yaml"));
        let mut args = vec!["stack", "-f", compose.to_str().unwrap(), "--name", name];
        args.extend_from_slice(extra);
        let output = run(&args, None);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let manifest = repo(&format!("examples/{name}.yaml"));
        if std::env::var_os("UPDATE_EXAMPLES").is_some() {
            std::fs::write(&manifest, stdout(&output)).unwrap();
        }
        let checked_in = std::fs::read_to_string(&manifest).unwrap_or_default();
        assert!(stdout(&output) == checked_in, "examples/{name}.yaml is stale: run `UPDATE_EXAMPLES=1 cargo test --test cli`");
    }
}

#[test]
fn convert_prints_a_list_and_warnings_on_stderr() {
    let compose = repo("examples/compose/get-started.yaml");
    let output = run(&["convert", "-f", compose.to_str().unwrap(), "--name", "getstarted", "-n", "demo"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_saphyr::from_str(&stdout(&output)).unwrap();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "Service", "NetworkPolicy"]);
    assert_eq!(list["items"][0]["metadata"]["namespace"], "demo");
    assert_eq!(list["items"][0]["spec"]["replicas"], 5);
    assert!(stderr(&output).contains("on-failure"), "{}", stderr(&output));
}

#[test]
fn convert_reads_stdin_and_prints_json() {
    let output = run(&["convert", "-f", "-", "-o", "json"], Some("services:\n  cache:\n    image: redis\n"));
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], "cache");
    assert_eq!(list["items"][0]["metadata"]["labels"]["app.kubernetes.io/part-of"], "stack");
}

#[test]
fn invalid_input_prints_nothing_on_stdout_and_exits_1() {
    let compose = repo("tests/fixtures/invalid/misindented-restart-policy.yaml");
    let output = run(&["convert", "-f", compose.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("services.web.deploy.resources.restart_policy"), "{}", stderr(&output));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["convert"], None).status.code(), Some(2));
    assert_eq!(run(&["convert", "-f", "x.yaml", "--var", "novalue"], None).status.code(), Some(2));
}

#[test]
fn policy_flags_loosen_convert() {
    let compose = "services:\n  agent:\n    image: a\n    privileged: true\n";
    assert_eq!(run(&["convert", "-f", "-"], Some(compose)).status.code(), Some(1));
    let output = run(&["convert", "-f", "-", "--allow-privileged"], Some(compose));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("privileged: true"));
}

#[test]
fn oversized_input_is_refused_without_reading_it_all() {
    let big = format!("x-pad: \"{}\"\nservices: {{}}\n", "a".repeat(300 * 1024));
    let output = run(&["convert", "-f", "-"], Some(&big));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("limit"), "{}", stderr(&output));
}

#[test]
fn no_network_policies_flag_drops_the_policies() {
    let compose = "services:\n  cache:\n    image: redis\n";
    let with = stdout(&run(&["convert", "-f", "-"], Some(compose)));
    assert!(with.contains("kind: NetworkPolicy"), "{with}");
    let output = run(&["convert", "-f", "-", "--no-network-policies"], Some(compose));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("NetworkPolicy"));
    assert!(!stdout(&output).contains("network.compose-operator.dev"));
}
