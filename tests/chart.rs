//! The Helm chart and the GitOps docs against the crate they ship: no cluster, no helm needed.
//! (e2e/tests/chart.rs lints, renders and installs the chart on the real cluster.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

const CHART: &str = "charts/compose-operator";

#[test]
fn the_chart_ships_the_checked_in_crd() {
    let top = read("crds/composestack.yaml");
    let chart = read(&format!("{CHART}/crds/composestack.yaml"));
    assert!(
        top == chart,
        "{CHART}/crds/composestack.yaml differs from crds/composestack.yaml; after `make crds`, run\n  cp crds/composestack.yaml {CHART}/crds/composestack.yaml"
    );
}

#[test]
fn the_chart_crd_is_what_the_binary_prints() {
    let output = Command::new(env!("CARGO_BIN_EXE_compose-operator")).arg("crd").output().expect("run compose-operator crd");
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout) == read(&format!("{CHART}/crds/composestack.yaml")),
        "the chart's CRD is stale: cargo run -q -- crd > crds/composestack.yaml && cp crds/composestack.yaml {CHART}/crds/"
    );
}

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart: serde_yaml::Value = serde_yaml::from_str(&read(&format!("{CHART}/Chart.yaml"))).expect("Chart.yaml is YAML");
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    assert_eq!(chart["name"].as_str(), Some("compose-operator"));
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "Chart.yaml appVersion must follow Cargo.toml's version (and bump the chart's version with it)"
    );
    assert!(chart["kubeVersion"].as_str().is_some_and(|v| v.starts_with(">=")), "Chart.yaml needs a kubeVersion constraint");
}

/// Every key of values.yaml is declared in values.schema.json (whose objects forbid unknown
/// keys), so the defaults themselves validate and every documented value is checked.
#[test]
fn every_default_value_is_in_the_schema() {
    let values: serde_json::Value = serde_yaml::from_str(&read(&format!("{CHART}/values.yaml"))).expect("values.yaml is YAML");
    let schema: serde_json::Value = serde_json::from_str(&read(&format!("{CHART}/values.schema.json"))).expect("values.schema.json is JSON");
    fn resolve<'a>(root: &'a serde_json::Value, node: &'a serde_json::Value) -> &'a serde_json::Value {
        match node.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix("#/definitions/")) {
            Some(name) => &root["definitions"][name],
            None => node,
        }
    }
    fn walk(root: &serde_json::Value, schema: &serde_json::Value, value: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        let schema = resolve(root, schema);
        let Some(object) = value.as_object() else { return };
        let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else { return };
        for (key, child) in object {
            let path = format!("{path}.{key}");
            match properties.get(key) {
                Some(child_schema) => walk(root, child_schema, child, &path, missing),
                None => missing.push(path),
            }
        }
    }
    let mut missing = Vec::new();
    walk(&schema, &schema, &values, "", &mut missing);
    assert!(missing.is_empty(), "values.yaml keys missing from values.schema.json: {missing:?}");
}

/// Every flag the chart passes to `compose-operator run` exists (a renamed flag would crash the
/// pods, which the kwok cluster in the e2e suite cannot notice: nothing runs there).
#[test]
fn the_chart_passes_only_flags_the_binary_knows() {
    let help = Command::new(env!("CARGO_BIN_EXE_compose-operator")).args(["run", "--help"]).output().expect("run compose-operator run --help");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let template = read(&format!("{CHART}/templates/deployment.yaml"));
    let flags: BTreeSet<&str> =
        template.lines().filter_map(|line| line.trim().strip_prefix("- --")).map(|flag| flag.split(['=', ' ']).next().unwrap_or_default()).collect();
    assert!(flags.len() >= 8, "expected the chart's flags in deployment.yaml, found {flags:?}");
    for flag in flags {
        assert!(help.contains(&format!("--{flag}")), "the chart passes --{flag}, which `compose-operator run` does not accept");
    }
}

/// The other way round: every policy flag of the binary can be set from the chart, so a new
/// one cannot be forgotten in values.yaml.
#[test]
fn every_policy_flag_has_a_chart_value() {
    let help = Command::new(env!("CARGO_BIN_EXE_compose-operator")).args(["run", "--help"]).output().expect("run compose-operator run --help");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let policy_flags: BTreeSet<&str> = help.split_whitespace().filter(|word| word.starts_with("--allow-")).map(|word| word.trim_end_matches(',')).collect();
    assert!(policy_flags.len() >= 5, "expected the policy flags in `run --help`, found {policy_flags:?}");
    let template = read(&format!("{CHART}/templates/deployment.yaml"));
    for flag in policy_flags {
        assert!(template.contains(&format!("- {flag}")), "`compose-operator run {flag}` cannot be set from the chart");
    }
}

/// docs/gitops.md shows the Argo CD health check verbatim: the copy people paste is the file
/// that tests/argo_health.rs runs.
#[test]
fn the_gitops_doc_embeds_the_tested_health_check() {
    let lua = read("docs/argocd-health.lua");
    let doc = read("docs/gitops.md");
    let indented: String = lua.lines().map(|line| if line.is_empty() { "\n".to_string() } else { format!("    {line}\n") }).collect();
    assert!(doc.contains(&indented), "docs/gitops.md must contain docs/argocd-health.lua verbatim, indented by four spaces under the argocd-cm key");
}
