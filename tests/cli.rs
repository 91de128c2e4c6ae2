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
    let mut child = binary().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
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
const EXAMPLES: &[(&str, &[&str])] =
    &[("get-started", &[]), ("microblog", &["--var", "SECRET_KEY=change-me", "--var", "MYSQL_PASSWORD=microblog-password"]), ("redis", &[]), ("django", &[])];

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

/// A project written for a developer's machine: a build-only service, a bind-mounted
/// config directory, an env file, a secret file, and `.env` for interpolation.
fn project(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nginx")).unwrap();
    std::fs::write(dir.join("nginx/default.conf"), "server { listen 80; }\n").unwrap();
    std::fs::write(dir.join("app.env"), "MODE=production\n").unwrap();
    std::fs::write(dir.join("db_password.txt"), "hunter2").unwrap();
    std::fs::write(dir.join("db.env"), "DB_PASSWORD=hunter3\n").unwrap();
    std::fs::write(dir.join(".env"), "TAG=1.27\n").unwrap();
    let compose = "services:\n  app:\n    build: .\n    env_file: [app.env, db.env]\n    secrets: [db_password]\n  proxy:\n    image: nginx:${TAG}\n    volumes: [./nginx:/etc/nginx/conf.d:ro]\nsecrets:\n  db_password:\n    file: ./db_password.txt\n";
    std::fs::write(dir.join("compose.yaml"), compose).unwrap();
    dir
}

#[test]
fn stack_packs_a_project_and_keeps_secrets_in_a_secret() {
    let dir = project("packed-project");
    let compose = dir.join("compose.yaml");
    let args = ["stack", "-f", compose.to_str().unwrap(), "--name", "shop", "--image", "app=registry.example/shop/app:7", "--secret-env-file", "db.env"];
    let output = run(&args, None);
    assert!(output.status.success(), "{}", stderr(&output));
    let documents: Vec<serde_json::Value> = stdout(&output).split("\n---\n").map(|d| serde_saphyr::from_str(d).unwrap()).collect();
    let [secret, env_secret, stack] = documents.as_slice() else { panic!("three documents: {documents:?}") };
    assert_eq!(env_secret["metadata"]["name"], "shop-env-db-env");
    assert_eq!(env_secret["data"]["DB_PASSWORD"], "aHVudGVyMw==");
    assert_eq!(stack["spec"]["secretEnvFiles"]["db.env"], "shop-env-db-env");
    assert!(stack["spec"]["files"].get("db.env").is_none(), "a secret env file is not in spec.files");
    assert_eq!((secret["kind"].as_str(), secret["metadata"]["name"].as_str()), (Some("Secret"), Some("shop-secret-files")));
    assert_eq!(secret["data"]["db_password.txt"], "aHVudGVyMg==");
    let spec = &stack["spec"];
    assert_eq!(spec["secretFiles"], "shop-secret-files");
    assert_eq!(spec["images"]["app"], "registry.example/shop/app:7");
    assert_eq!(spec["files"]["app.env"], "MODE=production\n");
    assert_eq!(spec["files"]["nginx/default.conf"], "server { listen 80; }\n");
    assert_eq!(spec["directories"][0], "nginx");
    assert_eq!(spec["variables"]["TAG"], "1.27", ".env beside the compose file is read");
    assert!(!stdout(&output).contains("hunter2") && !stdout(&output).contains("hunter3"), "secret material is not in plain text");

    // convert of the same project prints what the operator would apply.
    let args = ["convert", "-f", compose.to_str().unwrap(), "--name", "shop", "--image", "app=registry.example/shop/app:7", "--secret-env-file", "db.env"];
    let output = run(&args, None);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(printed.contains("secretName: shop-secret-files") && printed.contains("image: nginx:1.27"), "{printed}");
    assert!(printed.contains("envFrom:\n          - secretRef:\n              name: shop-env-db-env"), "{printed}");
    assert!(printed.contains("name: MODE") && !printed.contains("hunter3"), "{printed}");
}

#[test]
fn stack_says_what_it_could_not_pack() {
    let dir = project("unpacked-project");
    std::fs::remove_file(dir.join("app.env")).unwrap();
    let compose = dir.join("compose.yaml");
    let output = run(&["stack", "-f", compose.to_str().unwrap(), "--name", "shop", "--image", "app=a:1"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not packed: app.env: cannot read it"), "{}", stderr(&output));
    assert!(stderr(&output).contains("services.app.env_file.0: the env file `app.env` is not in spec.files"), "{}", stderr(&output));
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
