//! The swarm workflow on the command line (`deploy`, `ls`, `ps`, `logs`, `rm`, and the
//! `kubectl compose` plugin) against the real cluster and a real operator, checked against
//! what kubectl and the API say.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret, Service};
use kube::api::ListParams;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{DEADLINE, TestNamespace, example, kubeconfig, repo_root, tool, wait};
use crate::stack;

/// A project directory of the test's own, holding `compose.yaml`.
fn project(name: &str, compose: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-projects").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(dir.join("compose.yaml"), compose).expect("compose.yaml");
    dir
}

/// The CLI as a user runs it in the project directory, with the cluster's kubeconfig; it
/// must finish within the harness deadline (a hang is a failure, not a stuck suite).
async fn cli(dir: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_compose-operator"));
    command.current_dir(dir).args(args).env("KUBECONFIG", kubeconfig()).env_remove("COMPOSE_FILE").env_remove("COMPOSE_PROJECT_NAME");
    command.kill_on_drop(true);
    tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("compose-operator {args:?} did not finish within {DEADLINE:?}"))
        .expect("run")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn kubectl(args: &[&str]) -> String {
    let output = tool("kubectl").args(args).output().expect("kubectl");
    assert!(output.status.success(), "kubectl {args:?}: {}", text(&output.stderr));
    text(&output.stdout)
}

/// The rows of a table without its header, each split on whitespace (kubectl's and ours).
fn rows(table: &str) -> Vec<Vec<String>> {
    table.lines().skip(1).map(|line| line.split_whitespace().map(str::to_string).collect()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_scales_refuses_invalid_files_and_agrees_with_kubectl() {
    let ns = TestNamespace::new("cli-deploy").await;
    let _operator = Operator::start(&ns.name, &[]);
    let dir = project("getstarted", &example("get-started"));

    // The README's get-started stack: Ready with 5/5, and how to reach port 4000.
    let first = cli(&dir, &["deploy", "getstarted", "-n", &ns.name, "--timeout", "3m"]).await;
    let out = text(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{}", text(&first.stderr));
    assert!(out.contains("web (Deployment) 5/5: ready"), "{out}");
    assert!(out.contains("stack getstarted is Ready"), "{out}");
    let published = ns.api::<Service>().get("web-published").await.unwrap();
    let node_port = published.spec.unwrap().ports.unwrap()[0].node_port.unwrap();
    assert!(out.contains(&format!("web  4000->80/tcp  LoadBalancer  no external address yet; node port {node_port} on every node")), "{out}");
    let stack = ns.api::<ComposeStack>().get("getstarted").await.unwrap();
    assert!(
        stack.metadata.managed_fields.iter().flatten().any(|f| f.manager.as_deref() == Some("compose-operator-cli")),
        "applied with the CLI's field manager"
    );
    assert_eq!(ns.api::<Deployment>().get("web").await.unwrap().status.unwrap().ready_replicas, Some(5));

    // Edit replicas and deploy again: it scales, like swarm.
    std::fs::write(dir.join("compose.yaml"), example("get-started").replace("replicas: 5", "replicas: 3")).unwrap();
    let scaled = cli(&dir, &["deploy", "getstarted", "-n", &ns.name, "--timeout", "3m"]).await;
    assert_eq!(scaled.status.code(), Some(0), "{}\n{}", text(&scaled.stdout), text(&scaled.stderr));
    assert!(text(&scaled.stdout).contains("web (Deployment) 3/3: ready"), "{}", text(&scaled.stdout));
    let web = ns.api::<Deployment>().get("web").await.unwrap();
    assert_eq!((web.spec.replicas, web.status.as_ref().unwrap().ready_replicas), (Some(3), Some(3)));

    // An invalid file exits 1 naming the compose path, and the running stack is left alone.
    let stack_before = ns.api::<ComposeStack>().get("getstarted").await.unwrap();
    std::fs::copy(repo_root().join("tests/fixtures/invalid/misindented-restart-policy.yaml"), dir.join("compose.yaml")).unwrap();
    let invalid = cli(&dir, &["deploy", "getstarted", "-n", &ns.name]).await;
    assert_eq!(invalid.status.code(), Some(1), "{}", text(&invalid.stderr));
    assert!(text(&invalid.stderr).contains("services.web.deploy.resources.restart_policy"), "{}", text(&invalid.stderr));
    let stack_after = ns.api::<ComposeStack>().get("getstarted").await.unwrap();
    assert_eq!(stack_after.metadata.generation, stack_before.metadata.generation, "the stack was changed");
    assert_eq!(ns.api::<Deployment>().get("web").await.unwrap().metadata.generation, web.metadata.generation);

    // ls, ps and ps --pods say what kubectl says.
    let ls = cli(&dir, &["ls", "-n", &ns.name]).await;
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    let kubectl_stacks = rows(&kubectl(&["get", "stack", "-n", &ns.name]));
    let ours = rows(&text(&ls.stdout));
    assert_eq!(ours.len(), 1, "{}", text(&ls.stdout));
    assert_eq!(ours[0][..3], kubectl_stacks[0][..3], "NAME, ready services and status, as `kubectl get stack` shows them");
    assert_eq!(ours[0][..3], ["getstarted", "1/1", "Ready"]);
    let all = text(&cli(&dir, &["ls", "-A"]).await.stdout);
    assert!(all.lines().any(|l| l.starts_with(&ns.name) && l.contains("getstarted")), "{all}");

    let ps = cli(&dir, &["ps", "getstarted", "-n", &ns.name]).await;
    assert!(ps.status.success(), "{}", text(&ps.stderr));
    let services = rows(&text(&ps.stdout));
    assert_eq!(services, [["web", "Deployment", "docker/getting-started:latest", "3/3", "4000->80/tcp"]], "{}", text(&ps.stdout));
    let ready = kubectl(&["get", "deployment", "web", "-n", &ns.name, "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}"]);
    assert_eq!(services[0][3], ready);

    let pods = cli(&dir, &["ps", "getstarted", "--pods", "-n", &ns.name]).await;
    assert!(pods.status.success(), "{}", text(&pods.stderr));
    let mut ours: Vec<(String, String, String)> = rows(&text(&pods.stdout)).into_iter().map(|r| (r[0].clone(), r[2].clone(), r[3].clone())).collect();
    let selector = "-lcompose-operator.dev/stack=getstarted";
    let theirs =
        kubectl(&["get", "pods", "-n", &ns.name, selector, "--no-headers", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase"]);
    let mut theirs: Vec<(String, String, String)> =
        theirs.lines().map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>()).map(|r| (r[0].clone(), r[1].clone(), r[2].clone())).collect();
    ours.sort();
    theirs.sort();
    // A scale-down's terminating pods may still be listed by one and gone for the other:
    // compare the Running ones.
    ours.retain(|p| p.2 == "Running");
    theirs.retain(|p| p.2 == "Running");
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 3);

    // The kubectl plugin: `kubectl compose ps` through the plugin name on PATH.
    let plugins = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kubectl-plugins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&plugins);
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_compose-operator"), plugins.join("kubectl-compose")).unwrap();
    let path = format!("{}:{}", plugins.display(), std::env::var("PATH").unwrap_or_default());
    let plugin = tool("kubectl").args(["compose", "ps", "getstarted", "-n", &ns.name]).env("PATH", path).output().expect("kubectl compose");
    assert!(plugin.status.success(), "kubectl compose ps: {}", text(&plugin.stderr));
    assert_eq!(text(&plugin.stdout), text(&ps.stdout), "the plugin prints what the binary prints");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_of_an_unschedulable_stack_times_out_with_the_stuck_reason() {
    let ns = TestNamespace::new("cli-stuck").await;
    let _operator = Operator::start(&ns.name, &[]);
    // Each kwok node has 32 CPUs: a pod asking for 64 never schedules.
    let compose = "services:\n  greedy:\n    image: nginx\n    deploy:\n      resources:\n        reservations:\n          cpus: \"64\"\n";
    let dir = project("stuck", compose);
    let started = Instant::now();
    let output = cli(&dir, &["deploy", "stuck", "-n", &ns.name, "--timeout", "40s"]).await;
    let errors = text(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "stdout:\n{}\nstderr:\n{errors}", text(&output.stdout));
    assert!(started.elapsed() >= Duration::from_secs(40), "it waited the whole timeout");
    assert!(errors.contains("was not Ready within 40s"), "{errors}");
    assert!(errors.contains("greedy (Deployment) 0/1") && errors.contains("cannot be scheduled") && errors.contains("Insufficient cpu"), "{errors}");

    // logs, against what the API says of a pod that has no node (kwok's pods never have
    // logs; asking for a scheduled one would send the API server looking for a kubelet at
    // the fake node's address): it ends at once and says which container has no log yet.
    let logs = cli(&dir, &["logs", "stuck", "-n", &ns.name, "--tail", "5"]).await;
    let errors = text(&logs.stderr);
    assert_eq!(logs.status.code(), Some(0), "{errors}");
    assert!(text(&logs.stdout).is_empty());
    assert!(errors.contains("greedy-1: no logs yet: pod greedy-") && errors.contains("is Pending, container greedy has not started"), "{errors}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_keeps_claims_unless_asked_to_remove_volumes() {
    let ns = TestNamespace::new("cli-rm").await;
    let _operator = Operator::start(&ns.name, &[]);
    let dir = project("django", &example("django"));
    std::fs::write(dir.join("db_password.txt"), "s3cret").unwrap();
    let with_secret = format!("{}secrets:\n  db_password:\n    file: ./db_password.txt\n", example("django"));
    std::fs::write(dir.join("compose.yaml"), with_secret.replace("    depends_on:\n", "    secrets: [db_password]\n    depends_on:\n")).unwrap();
    let deployed = cli(&dir, &["deploy", "django", "-n", &ns.name, "--timeout", "3m"]).await;
    assert_eq!(deployed.status.code(), Some(0), "{}\n{}", text(&deployed.stdout), text(&deployed.stderr));
    let claims = ns.api::<PersistentVolumeClaim>();
    wait::until(&claims, "db-data-db-0", |_| true).await;
    let secret = ns.api::<Secret>().get("django-secret-files").await.unwrap();
    assert_eq!(secret.data.unwrap()["db_password.txt"].0, b"s3cret");

    let removed = cli(&dir, &["rm", "django", "-n", &ns.name, "--wait", "--timeout", "3m"]).await;
    assert_eq!(removed.status.code(), Some(0), "{}\n{}", text(&removed.stdout), text(&removed.stderr));
    assert!(text(&removed.stdout).contains("everything is gone"), "{}", text(&removed.stdout));
    let selector = ListParams::default().labels("compose-operator.dev/stack=django");
    assert!(ns.api::<Pod>().list(&selector).await.unwrap().items.is_empty());
    assert!(ns.api::<Deployment>().get_opt("web").await.unwrap().is_none());
    assert!(ns.api::<StatefulSet>().get_opt("db").await.unwrap().is_none());
    assert!(ns.api::<Secret>().get_opt("django-secret-files").await.unwrap().is_none(), "the CLI's Secret goes with the stack");
    assert!(claims.get_opt("db-data-db-0").await.unwrap().is_some(), "claims are kept without --volumes");

    let again = cli(&dir, &["deploy", "django", "-n", &ns.name, "--timeout", "3m"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    wait::until(&ns.api::<ComposeStack>(), "django", stack::ready_and_current).await;
    let removed = cli(&dir, &["rm", "django", "-n", &ns.name, "--volumes", "--wait", "--timeout", "3m"]).await;
    assert_eq!(removed.status.code(), Some(0), "{}\n{}", text(&removed.stdout), text(&removed.stderr));
    assert!(claims.list(&selector).await.unwrap().items.is_empty(), "--volumes removes the claims");
    let missing = cli(&dir, &["rm", "django", "-n", &ns.name]).await;
    assert_eq!(missing.status.code(), Some(3), "removing a stack that is not there: {}", text(&missing.stderr));
}
