//! What a process in a translated stack observes, on the real node (e2e/README.md, "The real
//! node"): each test deploys a compose stack through the operator, waits on conditions, and
//! asserts from inside the containers (`kubectl exec`: wget, nc, stat, env, id, cat, exit
//! codes) or through the node. Without a real node each test says it was skipped (and fails
//! when the run requires one).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::chart::wait_ready;
use crate::harness::real_node::{self, ExecOutput, RealNode, busybox_image, exec, exec_until_success, placement_override, running_pod, whoami_image};
use crate::harness::{DEADLINE, TestNamespace, example, kubeconfig, operator::Operator, wait};
use crate::stack;

/// One command in a container: long enough for a slow exec, short enough that a hung
/// connection is reported as such.
const SHORT: Duration = Duration::from_secs(20);

/// A test's namespace, its real node and the operator watching the namespace.
struct Scene {
    ns: TestNamespace,
    node: RealNode,
    _operator: Operator,
}

impl Scene {
    /// `None` (after saying so) on a cluster without a real node.
    async fn start(test: &str) -> Option<Scene> {
        let ns = TestNamespace::new(test).await;
        let node = real_node::require(&ns.client, test).await?;
        let operator = Operator::start(&ns.name, &[]);
        Some(Scene { ns, node, _operator: operator })
    }

    /// Applies the stack, its compose text as written, with an override placing every service
    /// on the real node; `{busybox}` and `{whoami}` in the text name the test images.
    async fn deploy(&self, name: &str, compose: &str, spec: serde_json::Value) {
        let compose = compose.replace("{busybox}", &busybox_image()).replace("{whoami}", &whoami_image());
        let mut spec = spec;
        spec["overrides"] = json!([placement_override(&compose)]);
        spec["compose"] = json!(compose);
        self.ns.apply_stack(name, spec).await;
    }

    async fn ready(&self, name: &str) -> ComposeStack {
        wait_ready(&self.ns.api::<ComposeStack>(), name).await
    }

    async fn pod(&self, service: &str) -> String {
        running_pod(&self.ns.client, &self.ns.name, service).await
    }

    async fn exec(&self, pod: &str, argv: &[&str]) -> ExecOutput {
        exec(&self.ns.name, pod, None, argv, SHORT).await
    }

    /// The output of a command that must succeed (retried while the pod settles).
    async fn output(&self, pod: &str, argv: &[&str]) -> String {
        exec_until_success(&self.ns.name, pod, argv).await.stdout
    }
}

/// `wget` of a URL, bounded (this busybox's `wget -T` crashes on a failed connection).
fn fetch(url: &str) -> [&str; 6] {
    ["timeout", "5", "wget", "-q", "-O-", url]
}

/// Waits until `argv` in the pod prints something containing `expected`; panics with the last
/// output at the deadline.
async fn until_output_contains(namespace: &str, pod: &str, container: Option<&str>, argv: &[&str], expected: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let output = exec(namespace, pod, container, argv, SHORT).await;
        if output.stdout.contains(expected) {
            return output.stdout;
        }
        assert!(started.elapsed() < DEADLINE, "{argv:?} in {namespace}/{pod} never printed {expected:?} within {DEADLINE:?}; last: {output:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn pod_status(pod: &Pod) -> k8s_openapi::api::core::v1::PodStatus {
    pod.status.clone().unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod_status(pod).conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// When the pod's first container last started.
fn container_started(pod: &Pod) -> Timestamp {
    let statuses = pod_status(pod).container_statuses.unwrap_or_default();
    let running = statuses.first().and_then(|s| s.state.as_ref()?.running.clone()).expect("a running container");
    running.started_at.expect("startedAt").0
}

async fn service_message(ns: &TestNamespace, stack_name: &str, service: &str) -> Option<String> {
    let stack = ns.api::<ComposeStack>().get(stack_name).await.ok()?;
    stack.status?.services.into_iter().find(|s| s.name == service)?.message
}

// 1. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reaches_web_by_name_link_alias_and_network_alias() {
    let Some(scene) = Scene::start("beh-names").await else { return };
    let compose = r#"
configs:
  page:
    content: "served-from-a-config"
services:
  web:
    image: {busybox}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    expose: ["80"]
    configs:
      - source: page
        target: /www/index.html
    networks:
      default:
        aliases: [frontend]
    stop_grace_period: 1s
  client:
    image: {busybox}
    command: ["sleep", "86400"]
    links: ["web:website"]
    stop_grace_period: 1s
"#;
    scene.deploy("names", compose, json!({})).await;
    scene.ready("names").await;
    let client = scene.pod("client").await;
    for name in ["web", "website", "frontend"] {
        let page = scene.output(&client, &fetch(&format!("http://{name}:80/"))).await;
        assert_eq!(page, "served-from-a-config", "http://{name}/ answers with the config's content");
    }
    // Each name is a Service of the stack, selecting web's pods.
    for alias in ["website", "frontend"] {
        let service = scene.ns.api::<Service>().get(alias).await.unwrap();
        assert_eq!(service.spec.unwrap().selector.unwrap()["compose-operator.dev/service"], "web", "{alias}");
    }
}

// 2. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_healthcheck_holds_back_its_service_healthy_dependent() {
    let Some(scene) = Scene::start("beh-health").await else { return };
    // Healthy once /tmp/healthy exists, which only the test creates. start_period makes it a
    // startup probe, so the failing check keeps the pod unready without restarting it.
    let compose = r#"
services:
  db:
    image: {busybox}
    command: ["sleep", "86400"]
    healthcheck:
      test: ["CMD-SHELL", "cat /tmp/healthy"]
      interval: 1s
      timeout: 2s
      retries: 1
      start_period: 10m
      start_interval: 1s
    stop_grace_period: 1s
  app:
    image: {busybox}
    command: ["sleep", "86400"]
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 1s
"#;
    scene.deploy("health", compose, json!({})).await;
    let ns = &scene.ns;
    let pods = ns.api::<Pod>();
    let db_pods = ListParams::default().labels("compose-operator.dev/service=db");
    // The probe has run and failed (an Unhealthy event for a db pod)...
    let events = ns.api::<Event>();
    wait::until_true("a failed probe of db", || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        list.items.iter().any(|e| e.reason.as_deref() == Some("Unhealthy") && e.involved_object.name.as_deref().is_some_and(|n| n.starts_with("db-")))
    })
    .await;
    // ...so db runs but is not ready, the stack is not Ready, and app has not started.
    let db = pods.list(&db_pods).await.unwrap().items;
    assert_eq!(db.len(), 1);
    assert_eq!(pod_status(&db[0]).phase.as_deref(), Some("Running"));
    assert!(!is_ready(&db[0]), "db is ready although its healthcheck fails");
    let app_pods = ListParams::default().labels("compose-operator.dev/service=app");
    assert!(pods.list(&app_pods).await.unwrap().items.is_empty(), "app started before db was healthy");
    let stack = ns.api::<ComposeStack>().get("health").await.unwrap();
    assert!(!stack::is(&stack, "Ready"), "{:?}", stack.status);
    let waiting = service_message(ns, "health", "app").await.unwrap_or_default();
    assert!(waiting.contains("db"), "app's status says what it waits for: {waiting:?}");

    // The check passes once the file exists; only then does app start.
    let db_pod = db[0].metadata.name.clone().unwrap();
    let healthy_from = Timestamp::now();
    let made = scene.exec(&db_pod, &["sh", "-c", "echo ok > /tmp/healthy"]).await;
    assert!(made.success(), "{made:?}");
    scene.ready("health").await;
    let db = pods.get(&db_pod).await.unwrap();
    let ready_at = pod_status(&db).conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap().last_transition_time.unwrap().0;
    let app = pods.get(&scene.pod("app").await).await.unwrap();
    let app_started = container_started(&app);
    // Kubernetes' times have whole seconds.
    assert!(ready_at.as_second() >= healthy_from.as_second(), "db became ready ({ready_at}) before its check could pass ({healthy_from})");
    assert!(app_started >= ready_at, "app started at {app_started}, before db's first successful probe made it ready at {ready_at}");
}

// 3. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_environment_argv_user_and_read_only_reach_the_process_exactly() {
    let Some(scene) = Scene::start("beh-process").await else { return };
    // The entrypoint records its argv (one per line) and working directory on the tmpfs, the
    // only writable place.
    let compose = r#"
configs:
  app_conf:
    content: "conf-content"
secrets:
  token:
    content: "s3cret"
services:
  probe:
    image: {busybox}
    user: "1000:1000"
    read_only: true
    tmpfs: ["/scratch"]
    working_dir: /scratch
    entrypoint: ["sh", "-c", "printf '%s\n' \"$$0\" \"$$@\" > argv; pwd > pwd; exec sleep 86400", "argv0"]
    command: ["plain", "with space", "yes", "on", "0x1F", "1_000", "${GREETING}", "$$literal"]
    environment:
      - YES_VALUE=yes
      - ON_VALUE=on
      - HEX=0x1F
      - UNDERSCORED=1_000
      - OCTAL=0755
      - EMPTY=
      - INTERPOLATED=${GREETING:-unset}-and-${MISSING:-default}
    configs:
      - source: app_conf
        target: /etc/app/app.conf
        mode: 0440
        uid: "1000"
        gid: "1000"
    secrets:
      - source: token
        target: /run/secrets/token
        mode: 0444
    stop_grace_period: 1s
  mapped:
    image: {busybox}
    command: ["sleep", "86400"]
    environment:
      MAP_YES: yes
      MAP_ON: on
      MAP_QUOTED: "0x1F"
      MAP_HEX: 0x1F
      MAP_UNDERSCORED: 1_000
      MAP_FLOAT: 1.50
    stop_grace_period: 1s
"#;
    scene.deploy("process", compose, json!({"variables": {"GREETING": "hello world"}})).await;
    scene.ready("process").await;
    let pod = scene.pod("probe").await;

    let argv = scene.output(&pod, &["cat", "/scratch/argv"]).await;
    assert_eq!(argv.lines().collect::<Vec<_>>(), ["argv0", "plain", "with space", "yes", "on", "0x1F", "1_000", "hello world", "$literal"]);
    assert_eq!(scene.output(&pod, &["cat", "/scratch/pwd"]).await.trim(), "/scratch", "working_dir");

    let env = scene.output(&pod, &["env"]).await;
    let env: BTreeSet<&str> = env.lines().collect();
    for expected in ["YES_VALUE=yes", "ON_VALUE=on", "HEX=0x1F", "UNDERSCORED=1_000", "OCTAL=0755", "EMPTY=", "INTERPOLATED=hello world-and-default"] {
        assert!(env.contains(expected), "{expected} in the environment: {env:?}");
    }

    // Unquoted map values are YAML scalars, read as compose-go reads them (YAML 1.2
    // booleans, so `yes`/`on` stay words; numbers in their decimal form), then passed as
    // strings that kubectl and the API server keep as they are.
    let mapped = scene.pod("mapped").await;
    let env = scene.output(&mapped, &["env"]).await;
    let env: BTreeSet<&str> = env.lines().collect();
    for expected in ["MAP_YES=yes", "MAP_ON=on", "MAP_QUOTED=0x1F", "MAP_HEX=31", "MAP_UNDERSCORED=1000", "MAP_FLOAT=1.5"] {
        assert!(env.contains(expected), "{expected} in the environment: {env:?}");
    }

    assert_eq!(scene.output(&pod, &["id", "-u"]).await.trim(), "1000");
    assert_eq!(scene.output(&pod, &["id", "-g"]).await.trim(), "1000");
    assert!(scene.output(&pod, &["id"]).await.starts_with("uid=1000(user) gid=1000(user)"));

    // read_only: the root filesystem refuses writes; the tmpfs takes them.
    let refused = scene.exec(&pod, &["sh", "-c", "echo x > /home/user/file"]).await;
    assert!(!refused.success() && refused.stderr.contains("Read-only file system"), "{refused:?}");
    let written = scene.exec(&pod, &["sh", "-c", "echo x > /scratch/file && cat /scratch/file"]).await;
    assert!(written.success() && written.stdout.trim() == "x", "{written:?}");
    let mount = scene.output(&pod, &["cat", "/proc/mounts"]).await;
    assert!(mount.lines().any(|l| l.split_whitespace().nth(1) == Some("/scratch") && l.starts_with("tmpfs ")), "/scratch is a tmpfs: {mount}");

    // The compose mode lands; uid/gid cannot (the translation warns): the files are root's.
    let stat = ["stat", "-L", "-c", "%a %u %g"];
    assert_eq!(scene.output(&pod, &[&stat[..], &["/etc/app/app.conf"]].concat()).await.trim(), "440 0 0");
    assert_eq!(scene.output(&pod, &[&stat[..], &["/run/secrets/token"]].concat()).await.trim(), "444 0 0");
    assert_eq!(scene.output(&pod, &["cat", "/run/secrets/token"]).await, "s3cret");
    let unreadable = scene.exec(&pod, &["cat", "/etc/app/app.conf"]).await;
    assert!(!unreadable.success() && unreadable.stderr.contains("Permission denied"), "uid 1000 is neither the owner nor in the group: {unreadable:?}");
    let stack = scene.ns.api::<ComposeStack>().get("process").await.unwrap();
    let warnings = stack.status.unwrap().warnings;
    assert!(warnings.iter().any(|w| w.contains("uid") && w.contains("cannot set a mounted file's owner")), "{warnings:?}");
}

// 4. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_volumes_and_host_directories_keep_data_across_pods_and_stacks() {
    let Some(scene) = Scene::start("beh-volumes").await else { return };
    let compose = r#"
services:
  keeper:
    image: {busybox}
    command: ["sleep", "86400"]
    volumes:
      - data:/data
      - /srv/app/data:/srv
    stop_grace_period: 1s
volumes:
  data:
"#;
    let spec = json!({"volumes": {"retainOnDelete": true, "size": "1Gi"}});
    scene.deploy("volumes", compose, spec.clone()).await;
    scene.ready("volumes").await;
    let first = scene.pod("keeper").await;
    let token = format!("token-{}", std::process::id());
    let write = format!("echo {token} > /data/token && echo {token} > /srv/token");
    assert!(scene.exec(&first, &["sh", "-c", &write]).await.success());
    let read = ["cat", "/data/token", "/srv/token"];
    let both = format!("{token}\n{token}\n");

    // The pod goes; its replacement mounts the same claims.
    let pods = scene.ns.api::<Pod>();
    let uid = pods.get(&first).await.unwrap().metadata.uid;
    pods.delete(&first, &DeleteParams::default()).await.unwrap();
    wait::until_true("a new keeper pod", || async {
        let pod = scene.pod("keeper").await;
        pods.get(&pod).await.is_ok_and(|p| p.metadata.uid != uid)
    })
    .await;
    let second = scene.pod("keeper").await;
    assert_eq!(scene.output(&second, &read).await, both, "the data outlives the pod");

    // The stack goes; with retainOnDelete its claims stay, and the stack deployed again finds the data.
    let claims = scene.ns.api::<PersistentVolumeClaim>();
    let names: Vec<String> = claims.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(names.len(), 2, "one claim for the named volume, one for the host directory: {names:?}");
    scene.ns.api::<ComposeStack>().delete("volumes", &DeleteParams::default()).await.unwrap();
    wait::gone(&scene.ns.api::<StatefulSet>(), "keeper").await;
    wait::gone(&pods, &second).await;
    for name in &names {
        let claim = claims.get(name).await.unwrap();
        assert!(claim.metadata.deletion_timestamp.is_none(), "{name} is being deleted");
    }
    scene.deploy("volumes", compose, spec).await;
    scene.ready("volumes").await;
    let third = scene.pod("keeper").await;
    assert_eq!(scene.output(&third, &read).await, both, "the data outlives the stack");
}

// 5. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_services_gate_dependents_and_a_failed_one_stalls_with_its_exit_code() {
    let Some(scene) = Scene::start("beh-jobs").await else { return };
    let gated = r#"
services:
  migrate:
    image: {busybox}
    command: ["sh", "-c", "echo migrated"]
    restart: "no"
  app:
    image: {busybox}
    command: ["sleep", "86400"]
    depends_on:
      migrate:
        condition: service_completed_successfully
    stop_grace_period: 1s
"#;
    let failing = r#"
services:
  fail:
    image: {busybox}
    command: ["sh", "-c", "echo failing; exit 3"]
    restart: "no"
"#;
    scene.deploy("gated", gated, json!({})).await;
    scene.deploy("failing", failing, json!({})).await;

    scene.ready("gated").await;
    let job = scene.ns.api::<Job>().get("migrate").await.unwrap();
    let completed = job.status.and_then(|s| s.completion_time).expect("the Job completed").0;
    let app = scene.ns.api::<Pod>().get(&scene.pod("app").await).await.unwrap();
    let app_started = container_started(&app);
    assert!(app_started >= completed, "app started at {app_started}, before migrate completed at {completed}");
    let log = crate::harness::tool("kubectl").args(["logs", "-n", &scene.ns.name, "job/migrate"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "migrated");

    let stalled = wait::until(&scene.ns.api::<ComposeStack>(), "failing", |s: &ComposeStack| stack::is(s, "Stalled")).await;
    let condition = stack::condition(&stalled, "Stalled").unwrap();
    assert_eq!(condition.reason, "JobFailed", "{condition:?}");
    assert!(condition.message.contains("container fail: exit code 3"), "the status names the exit code: {}", condition.message);
}

// 6. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_is_restarted_and_the_status_names_the_crash_loop() {
    let Some(scene) = Scene::start("beh-crash").await else { return };
    let compose = r#"
services:
  crasher:
    image: {busybox}
    command: ["sh", "-c", "echo starting; sleep 1; exit 1"]
    stop_grace_period: 1s
"#;
    scene.deploy("crash", compose, json!({})).await;
    let pods = scene.ns.api::<Pod>();
    let selector = ListParams::default().labels("compose-operator.dev/service=crasher");
    wait::until_true("crasher restarted twice", || async {
        let list = pods.list(&selector).await.unwrap().items;
        list.iter().flat_map(|p| pod_status(p).container_statuses.unwrap_or_default()).any(|c| c.restart_count >= 2)
    })
    .await;
    let crashed = pods.list(&selector).await.unwrap().items.remove(0);
    let last = pod_status(&crashed).container_statuses.unwrap()[0].last_state.clone().and_then(|s| s.terminated).expect("the last run ended");
    assert_eq!(last.exit_code, 1);
    // Named from the ended container, with its exit code and how often it was restarted.
    wait::until_true("the stack's status naming CrashLoopBackOff, the exit code and the restarts", || async {
        service_message(&scene.ns, "crash", "crasher").await.is_some_and(|m| m.contains("container crasher: CrashLoopBackOff: exit code 1, restarted"))
    })
    .await;
}

// 7. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_isolate_and_only_published_ports_reach_outside_the_namespace() {
    let Some(scene) = Scene::start("beh-networks").await else { return };
    let server = |page: &str| format!(r#"["sh", "-c", "echo {page} > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]"#);
    let compose = format!(
        r#"
services:
  front_web:
    image: {{busybox}}
    command: {front}
    expose: ["80"]
    networks: [front]
    stop_grace_period: 1s
  back_web:
    image: {{busybox}}
    command: {back}
    expose: ["80"]
    networks: [back]
    stop_grace_period: 1s
  public:
    image: {{busybox}}
    command: {public}
    ports: ["8080:80"]
    networks: [front]
    stop_grace_period: 1s
  loopback:
    image: {{busybox}}
    command: {loopback}
    ports: ["127.0.0.1:8081:80"]
    networks: [front]
    stop_grace_period: 1s
  client:
    image: {{busybox}}
    command: ["sleep", "86400"]
    networks: [front]
    stop_grace_period: 1s
networks:
  front:
  back:
"#,
        front = server("front"),
        back = server("back"),
        public = server("public"),
        loopback = server("loopback"),
    );
    scene.deploy("networks", &compose, json!({"publishedServiceType": "NodePort"})).await;
    scene.ready("networks").await;
    let ns = &scene.ns.name;
    let client = scene.pod("client").await;

    // A shared network connects; different networks do not.
    assert_eq!(scene.output(&client, &fetch("http://front-web/")).await.trim(), "front");
    assert_eq!(scene.output(&client, &fetch("http://loopback/")).await.trim(), "loopback", "the loopback-bound port's target, in the stack");
    let across = scene.exec(&client, &fetch("http://back-web/")).await;
    assert!(!across.success() && !across.stdout.contains("back"), "front reached back: {across:?}");

    // Outside the namespace: the published port through the node answers; the loopback-bound
    // one has no published Service, and its in-stack Service keeps outsiders out.
    let services = scene.ns.api::<Service>();
    let published = services.get("public-published").await.unwrap().spec.unwrap();
    assert_eq!(published.type_.as_deref(), Some("NodePort"));
    let node_port = published.ports.unwrap()[0].node_port.expect("a node port");
    assert!(services.get_opt("loopback-published").await.unwrap().is_none(), "127.0.0.1:8081:80 is not published");
    let elsewhere = TestNamespace::new("beh-networks-out").await;
    let outsider = real_node::plain_pod(&elsewhere.client, &elsewhere.name, "outsider").await;
    let address = real_node::node_address(&scene.ns.client, &scene.node.name).await;
    let through_node = format!("http://{address}:{node_port}/");
    let page = until_output_contains(&elsewhere.name, &outsider, None, &fetch(&through_node), "public").await;
    assert_eq!(page.trim(), "public");
    let in_stack = format!("http://loopback.{ns}.svc.cluster.local/");
    let kept_out = exec(&elsewhere.name, &outsider, None, &fetch(&in_stack), SHORT).await;
    assert!(!kept_out.success() && !kept_out.stdout.contains("loopback"), "a pod of another namespace reached the loopback-bound port: {kept_out:?}");
    // (The same outsider reaches published ports' targets on the in-stack Service: the refusal
    // above is the NetworkPolicy's, not a broken name.)
    let open = format!("http://public.{ns}.svc.cluster.local/");
    assert_eq!(until_output_contains(&elsewhere.name, &outsider, None, &fetch(&open), "public").await.trim(), "public");
    if let Some(local) = &scene.node.local {
        // And from this machine, as a browser on the host would.
        let from_host = http_get(&local.address, node_port).await;
        assert!(from_host.ends_with("public\n"), "{from_host:?}");
    }
}

/// A plain HTTP/1.0 GET from this process (the machine, outside the cluster); the whole answer.
async fn http_get(address: &str, port: i32) -> String {
    let target = format!("{address}:{port}");
    let get = {
        let target = target.clone();
        move || -> std::io::Result<String> {
            use std::io::{Read, Write};
            let address = target.parse().map_err(std::io::Error::other)?;
            let mut stream = std::net::TcpStream::connect_timeout(&address, SHORT)?;
            stream.set_read_timeout(Some(SHORT))?;
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        }
    };
    tokio::task::spawn_blocking(get).await.unwrap().unwrap_or_else(|e| panic!("GET http://{target}/: {e}"))
}

// 8. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_sees_its_memory_limit_and_cpu_quota() {
    let Some(scene) = Scene::start("beh-limits").await else { return };
    let compose = r#"
services:
  limited:
    image: {busybox}
    command: ["sleep", "86400"]
    deploy:
      resources:
        limits:
          cpus: "0.5"
          memory: 64M
    stop_grace_period: 1s
"#;
    scene.deploy("limits", compose, json!({})).await;
    scene.ready("limits").await;
    let pod = scene.pod("limited").await;
    // cgroup v2 has one file per limit at the container's root; v1 one hierarchy per controller.
    let v2 = scene.exec(&pod, &["cat", "/sys/fs/cgroup/memory.max"]).await;
    let (memory, quota, period) = if v2.success() {
        let cpu = scene.output(&pod, &["cat", "/sys/fs/cgroup/cpu.max"]).await;
        let (quota, period) = cpu.trim().split_once(' ').map(|(q, p)| (q.to_string(), p.to_string())).expect("cpu.max: QUOTA PERIOD");
        (v2.stdout, quota, period)
    } else {
        (
            scene.output(&pod, &["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]).await,
            scene.output(&pod, &["cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]).await,
            scene.output(&pod, &["cat", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"]).await,
        )
    };
    assert_eq!(memory.trim(), (64 * 1024 * 1024).to_string(), "64M is 64 MiB");
    let (quota, period): (u64, u64) = (quota.trim().parse().unwrap(), period.trim().parse().unwrap());
    assert_eq!(quota * 2, period, "cpus 0.5 is half of each period");
}

// 9. ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_get_started_stack_answers_on_its_published_port_from_several_replicas() {
    let Some(scene) = Scene::start("beh-getstarted").await else { return };
    scene.deploy("getstarted", &example("get-started"), json!({"images": {"web": whoami_image()}})).await;
    scene.ready("getstarted").await;
    let web: Vec<String> = scene
        .ns
        .api::<Pod>()
        .list(&ListParams::default().labels("compose-operator.dev/service=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(web.len(), 5, "{web:?}");
    let published = scene.ns.api::<Service>().get("web-published").await.unwrap().spec.unwrap();
    let port = &published.ports.unwrap()[0];
    assert_eq!(port.port, 4000);
    let node_port = port.node_port.expect("a node port (LoadBalancer Services have one)");

    // From outside the namespace, through the node, as a browser would reach port 4000.
    let elsewhere = TestNamespace::new("beh-getstarted-out").await;
    let browser = real_node::plain_pod(&elsewhere.client, &elsewhere.name, "browser").await;
    let address = real_node::node_address(&scene.ns.client, &scene.node.name).await;
    let url = format!("http://{address}:{node_port}/");
    let mut answered_by = BTreeSet::new();
    let started = std::time::Instant::now();
    while answered_by.len() < 2 {
        let answer = exec(&elsewhere.name, &browser, None, &fetch(&url), SHORT).await;
        if let Some(pod) = web.iter().find(|pod| answer.stdout.contains(pod.as_str())) {
            answered_by.insert(pod.clone());
        }
        assert!(started.elapsed() < DEADLINE, "requests to {url} reached {answered_by:?} only; last answer: {answer:?}");
    }
}

// 10. -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_mode_service_sidecar_reaches_its_host_on_localhost() {
    let Some(scene) = Scene::start("beh-sidecar").await else { return };
    let compose = r#"
services:
  vpn:
    image: {busybox}
    command: ["nc", "-ll", "-p", "9000", "-e", "echo", "vpn-answers"]
    stop_grace_period: 1s
  app:
    image: {busybox}
    command: ["sleep", "86400"]
    network_mode: "service:vpn"
"#;
    scene.deploy("sidecar", compose, json!({})).await;
    scene.ready("sidecar").await;
    let vpn = scene.pod("vpn").await;
    let pod = scene.ns.api::<Pod>().get(&vpn).await.unwrap();
    let containers: Vec<String> = pod.spec.unwrap().containers.into_iter().map(|c| c.name).collect();
    assert_eq!(containers, ["vpn", "app"], "app is a container of vpn's pod");
    let answer = until_output_contains(&scene.ns.name, &vpn, Some("app"), &["timeout", "5", "nc", "127.0.0.1", "9000"], "vpn-answers").await;
    assert_eq!(answer.trim(), "vpn-answers");
    let app_pods = ListParams::default().labels("compose-operator.dev/service=app");
    assert!(scene.ns.api::<Pod>().list(&app_pods).await.unwrap().items.is_empty(), "app has no pod of its own");
}

// 11. -----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_streams_prefixed_lines_across_a_rollout() {
    let Some(scene) = Scene::start("beh-logs").await else { return };
    let counter = |round: &str| {
        format!(
            r#"
services:
  counter:
    image: {{busybox}}
    command: ["sh", "-c", "i=0; while :; do i=$$((i+1)); echo \"$$ROUND count $$i\"; sleep 1; done"]
    environment:
      ROUND: {round}
    stop_grace_period: 1s
"#
        )
    };
    scene.deploy("counting", &counter("round-1"), json!({})).await;
    scene.ready("counting").await;

    let mut follower = Follower(
        std::process::Command::new(env!("CARGO_BIN_EXE_compose-operator"))
            .args(["logs", "counting", "-f", "-n", &scene.ns.name])
            .env("KUBECONFIG", kubeconfig())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start compose-operator logs -f"),
    );
    // A thread reads the stream line by line; the test takes each line with a deadline.
    let (sender, receiver) = std::sync::mpsc::channel();
    let stdout = follower.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let next_line = |seen: &mut Vec<String>| -> String {
        let line = receiver.recv_timeout(DEADLINE).unwrap_or_else(|e| panic!("no log line within {DEADLINE:?} ({e}); so far: {seen:#?}"));
        seen.push(line.clone());
        line
    };

    // Lines of the running pod, prefixed with the service and its replica number.
    let mut counts = 0;
    while counts < 3 {
        let line = tokio::task::block_in_place(|| next_line(&mut seen));
        let (prefix, text) = line.split_once(" | ").unwrap_or_else(|| panic!("not `service-N | text`: {line:?}"));
        assert_eq!(prefix.trim_end(), "counter-1", "{line:?}");
        if text.starts_with("round-1 count ") {
            counts += 1;
        }
    }
    // A change of the stack replaces the pod; the same stream goes on with the new pod's lines.
    scene.deploy("counting", &counter("round-2"), json!({})).await;
    while !tokio::task::block_in_place(|| next_line(&mut seen)).contains("| round-2 count ") {}
    // A pod's environment cannot change: `round-2` lines come from a new pod (the old one may
    // still be running beside it while the rollout surges), followed by the same stream.
    drop(follower);
    let round_two = seen.iter().filter(|l| l.contains("| round-2 count ")).count();
    assert!(round_two >= 1 && seen.iter().all(|l| l.starts_with("counter-")), "{seen:#?}");
}

/// `logs -f`, killed when the test is done with it (also when it fails).
struct Follower(std::process::Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
