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
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, stdin, &[])
}

/// The binary run in `dir`, with `env` set and the compose variables of the test's own
/// environment removed, so that what the test says is all it gets.
fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = binary();
    command.current_dir(dir).args(args).envs(env.iter().copied());
    for variable in ["COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "COMPOSE_PATH_SEPARATOR", "KUBECONFIG"] {
        if !env.iter().any(|(name, _)| *name == variable) {
            command.env_remove(variable);
        }
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Written from a thread while the output is read (a large input cannot block on a full
    // pipe); a command may refuse and exit before reading it all, so a broken pipe is no error.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_string();
        std::thread::spawn(move || {
            use std::io::Write;
            match pipe.write_all(input.as_bytes()) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing the command's stdin: {error}"),
                _ => {}
            }
        })
    });
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    if let Some(writer) = writer {
        writer.join().expect("the stdin writer");
    }
    output
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
    // Standard input has no directory of its own: the working directory names the project.
    let dir = scratch("Piped_Project");
    let output = run_in(&dir, &["convert", "-f", "-", "-o", "json"], Some("services:\n  cache:\n    image: redis\n"), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], "cache");
    assert_eq!(list["items"][0]["metadata"]["labels"]["app.kubernetes.io/part-of"], "piped-project");
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
    assert_eq!(run(&["convert", "--no-such-flag"], None).status.code(), Some(2));
    assert_eq!(run(&["convert", "-f", "x.yaml", "--var", "novalue"], None).status.code(), Some(2));
    assert_eq!(run(&["deploy", "--timeout", "soon"], None).status.code(), Some(2));
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

/// An empty directory of the test's own under cargo's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    let [env_secret, secret, stack] = documents.as_slice() else { panic!("three documents: {documents:?}") };
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

/// Like `docker compose`: without -f the nearest compose.yaml up the tree, with its
/// compose.override.yaml merged over it, named after its directory.
#[test]
fn finds_and_names_the_project_like_docker_compose() {
    let dir = scratch("Found_Project");
    std::fs::create_dir_all(dir.join("src/deep")).unwrap();
    std::fs::write(dir.join("compose.yaml"), "services:\n  web:\n    image: nginx:1.27\n").unwrap();
    std::fs::write(dir.join("compose.override.yaml"), "services:\n  web:\n    deploy: {replicas: 3}\n").unwrap();
    let output = run_in(&dir.join("src/deep"), &["convert"], None, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(printed.contains("replicas: 3") && printed.contains("app.kubernetes.io/part-of: found-project"), "{printed}");

    let named = run_in(&dir, &["stack"], None, &[("COMPOSE_PROJECT_NAME", "from_env")]);
    assert!(stdout(&named).contains("name: from-env"), "{}", stderr(&named));
    std::fs::write(dir.join("other.yaml"), "name: in-file\nservices:\n  web:\n    image: nginx:1.28\n").unwrap();
    std::fs::write(dir.join("scale.yaml"), "services:\n  web:\n    deploy: {replicas: 2}\n").unwrap();
    // -c and --override are -f by other names; files merge in the order given.
    for args in [["stack", "-c", "other.yaml", "-c", "scale.yaml"], ["stack", "-f", "other.yaml", "--override", "scale.yaml"]] {
        let output = run_in(&dir, &args, None, &[]);
        let printed = stdout(&output);
        assert!(printed.contains("name: in-file") && printed.contains("replicas: 2") && !printed.contains("replicas: 3"), "{args:?}: {printed}");
    }
    let from_variable = run_in(&dir, &["convert"], None, &[("COMPOSE_FILE", "other.yaml:scale.yaml")]);
    assert!(stdout(&from_variable).contains("image: nginx:1.28") && stdout(&from_variable).contains("replicas: 2"), "{}", stderr(&from_variable));

    let empty = scratch("no-project");
    let output = run_in(&empty, &["convert"], None, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no compose file") && stderr(&output).contains("compose.yaml"), "{}", stderr(&output));
}

/// Issue 9.5: `stack` and `deploy` check against the policy the user says the operator
/// has, and the refusal names a flag they accept.
#[test]
fn stack_takes_the_policy_flags_it_names_in_its_errors() {
    let compose = "services:\n  agent:\n    image: a\n    privileged: true\n";
    let refused = run(&["stack", "-f", "-", "--name", "agent"], Some(compose));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("--allow-privileged"), "{}", stderr(&refused));
    let allowed = run(&["stack", "-f", "-", "--name", "agent", "--allow-privileged"], Some(compose));
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("privileged: true"));
    let deploy_help = stdout(&run(&["deploy", "--help"], None));
    assert!(deploy_help.contains("--allow-privileged") && deploy_help.contains("--allow-host-paths"), "{deploy_help}");
}

/// Issue 9.6: convert's List holds the Secrets its pods mount, so `convert | kubectl apply`
/// works, and stderr says where they come from.
#[test]
fn convert_includes_the_secrets_its_pods_mount() {
    let dir = project("convert-secrets");
    let compose = dir.join("compose.yaml");
    let output = run(&["convert", "-f", compose.to_str().unwrap(), "--name", "shop", "--image", "app=a:1", "--secret-env-file", "db.env"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_saphyr::from_str(&stdout(&output)).unwrap();
    let secrets: Vec<&serde_json::Value> = list["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "Secret").collect();
    let names: Vec<&str> = secrets.iter().map(|s| s["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shop-env-db-env", "shop-secret-files"]);
    assert_eq!(secrets[1]["data"]["db_password.txt"], "aHVudGVyMg==");
    assert_eq!(secrets[1]["metadata"]["namespace"], "default");
    assert!(stderr(&output).contains("the Secret shop-secret-files"), "{}", stderr(&output));
}

/// Issue 12: packing follows no link out of the project and reads no special file, so a
/// repository cannot make the runner's environment part of the stack.
#[test]
fn packing_stays_inside_the_project() {
    let dir = scratch("hostile-project");
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/app.conf"), "ok\n").unwrap();
    std::fs::write(dir.join("inside.conf"), "inside\n").unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.join("link")).unwrap();
    std::os::unix::fs::symlink("inside.conf", dir.join("alias.conf")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("conf/host")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(dir.join("pipe")).status().unwrap();
    assert!(fifo.success());
    let compose = "services:\n  web:\n    image: nginx\n    configs: [c, ok]\n    volumes: [./conf:/etc/app:ro]\n    env_file: [pipe]\nconfigs:\n  c:\n    file: ./link\n  ok:\n    file: ./alias.conf\n";
    std::fs::write(dir.join("compose.yaml"), compose).unwrap();
    let output = run_in(&dir, &["stack", "--name", "hostile"], None, &[("LEAK_CANARY", "canary-7f3a")]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(!stdout(&output).contains("canary-7f3a") && !errors.contains("canary-7f3a"), "the environment leaked");
    assert!(errors.contains("not packed: link: it resolves to /proc/"), "{errors}");
    assert!(errors.contains("not packed: conf/: host: it resolves to /etc/hostname, outside the project directory"), "{errors}");
    assert!(errors.contains("not packed: pipe: not a regular file"), "{errors}");
    // What stays inside is packed, links included.
    std::fs::write(dir.join("compose.yaml"), "services:\n  web:\n    image: nginx\n    configs: [ok]\nconfigs:\n  ok:\n    file: ./alias.conf\n").unwrap();
    let output = run_in(&dir, &["stack", "--name", "hostile"], None, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("alias.conf: |\n      inside"), "{}", stdout(&output));
}

/// Issue 12: variables that feed `secrets: environment:` go into a Secret the stack names
/// (spec.secretVariables) and the pods mount it from there; the ComposeStack holds no value.
#[test]
fn secret_variables_stay_out_of_the_stack() {
    let dir = scratch("secret-variables");
    std::fs::write(dir.join(".env"), "TAG=1.27\nDB_PASSWORD=hunter2\nAPI_TOKEN=t0ken\n").unwrap();
    let compose = "services:\n  web:\n    image: nginx:${TAG}\n    secrets: [db, api]\n    environment:\n      TOKEN_COPY: ${API_TOKEN}\nsecrets:\n  db:\n    environment: DB_PASSWORD\n  api:\n    environment: API_TOKEN\n";
    std::fs::write(dir.join("compose.yaml"), compose).unwrap();
    let output = run_in(&dir, &["stack", "--name", "shop"], None, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let documents: Vec<serde_json::Value> = stdout(&output).split("\n---\n").map(|d| serde_saphyr::from_str(d).unwrap()).collect();
    let [secret, stack] = documents.as_slice() else { panic!("two documents: {documents:?}") };
    assert_eq!(secret["metadata"]["name"], "shop-secret-variables");
    assert_eq!(secret["data"]["DB_PASSWORD"], "aHVudGVyMg==");
    assert_eq!(stack["spec"]["secretVariables"], "shop-secret-variables");
    assert_eq!(stack["spec"]["variables"]["TAG"], "1.27");
    assert!(stack["spec"]["variables"].get("DB_PASSWORD").is_none(), "{stack}");
    assert!(!stdout(&output).contains("hunter2"));
    // API_TOKEN is also interpolated into the environment: it must stay, and stderr says so.
    assert_eq!(stack["spec"]["variables"]["API_TOKEN"], "t0ken");
    assert!(stderr(&output).contains("API_TOKEN feeds a secret but is also interpolated"), "{}", stderr(&output));

    let converted = run_in(&dir, &["convert", "--name", "shop"], None, &[]);
    assert!(converted.status.success(), "{}", stderr(&converted));
    let printed = stdout(&converted);
    assert!(printed.contains("secretName: shop-secret-variables") && printed.contains("key: DB_PASSWORD"), "{printed}");
    assert!(printed.contains("mountPath: /run/secrets/db"), "{printed}");
}

/// Issue 12: a broken `.env` line is named by its number; the line (a password) is not shown.
#[test]
fn env_file_errors_do_not_print_values() {
    let dir = scratch("broken-dotenv");
    std::fs::write(dir.join(".env"), "OK=1\nDB_PASSWORD hunter2\n").unwrap();
    std::fs::write(dir.join("secret.env"), "TOKEN secret-token\n").unwrap();
    std::fs::write(dir.join("compose.yaml"), "services:\n  web:\n    image: nginx\n").unwrap();
    let output = run_in(&dir, &["stack"], None, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(".env: line 2"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("hunter2"), "{}", stderr(&output));
    let output = run_in(&dir, &["stack", "--no-dotenv", "--secret-env-file", "secret.env"], None, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("secret.env: line 1") && !stderr(&output).contains("secret-token"), "{}", stderr(&output));
    let output = run(&["convert", "-f", "-", "--var", "PASSWORD hunter2"], Some("services: {}\n"));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_and_man_pages_come_from_the_command_definition() {
    let bash = run(&["completion", "bash"], None);
    assert!(bash.status.success(), "{}", stderr(&bash));
    assert!(stdout(&bash).contains("deploy") && stdout(&bash).contains("--kubeconfig"), "the completion knows the commands");
    let dir = scratch("man");
    let output = run(&["man", dir.to_str().unwrap()], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let deploy = std::fs::read_to_string(dir.join("compose-operator-deploy.1")).unwrap();
    assert!(deploy.contains("\\-\\-timeout") || deploy.contains("--timeout"), "{deploy}");
    assert!(stdout(&output).contains("compose-operator-logs.1"));
}

/// Installed as `kubectl-compose`, the binary presents itself as `kubectl compose`.
#[test]
fn answers_to_its_kubectl_plugin_name() {
    let dir = scratch("plugin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_compose-operator"), dir.join("kubectl-compose")).unwrap();
    let output = Command::new(dir.join("kubectl-compose")).arg("--help").output().unwrap();
    assert!(output.status.success());
    assert!(stdout(&output).contains("Usage: kubectl compose"), "{}", stdout(&output));
    let completion = Command::new(dir.join("kubectl-compose")).args(["completion", "zsh"]).output().unwrap();
    assert!(stdout(&completion).contains("kubectl-compose"), "{}", stdout(&completion));
}

/// The exit codes a pipeline gates on, without a cluster: an invalid project is refused
/// (1) before anything is sent; an unreachable cluster is 3.
#[test]
fn deploy_exit_codes_without_a_cluster() {
    let dir = scratch("deploy-offline");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u, namespace: team}}}}]\ncurrent-context: x\n"
    );
    std::fs::write(dir.join("kubeconfig"), kubeconfig).unwrap();
    let broken = repo("tests/fixtures/invalid/misindented-restart-policy.yaml");
    let args = ["deploy", "-c", broken.to_str().unwrap(), "--kubeconfig", "kubeconfig", "--timeout", "10s"];
    let invalid = run_in(&dir, &args, None, &[]);
    assert_eq!(invalid.status.code(), Some(1), "{}", stderr(&invalid));
    assert!(stderr(&invalid).contains("services.web.deploy.resources.restart_policy"), "{}", stderr(&invalid));
    let good = repo("examples/compose/redis.yaml");
    let unreachable = run_in(&dir, &["deploy", "-c", good.to_str().unwrap(), "--kubeconfig", "kubeconfig", "--timeout", "10s"], None, &[]);
    assert_eq!(unreachable.status.code(), Some(3), "{}", stderr(&unreachable));
    let listed = run_in(&dir, &["ls", "--kubeconfig", "kubeconfig"], None, &[]);
    assert_eq!(listed.status.code(), Some(3), "{}", stderr(&listed));
}
