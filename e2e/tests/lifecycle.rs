//! A stack's life on a real cluster: created, scaled and updated, pruned, repaired after
//! drift, refused when invalid, blocked on a name collision, ordered by depends_on, deleted.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, example, wait};
use crate::stack;

fn deployment_ready(replicas: i32) -> impl Fn(&Deployment) -> bool {
    move |d: &Deployment| {
        let status = d.status.clone().unwrap_or_default();
        status.ready_replicas == Some(replicas) && status.updated_replicas == Some(replicas) && status.observed_generation == d.metadata.generation
    }
}

fn container_image(deployment: &Deployment) -> Option<String> {
    deployment.spec.template.spec.as_ref()?.containers.first()?.image.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_get_started_stack_becomes_ready() {
    let ns = TestNamespace::new("getstarted").await;
    let operator = Operator::start(&ns.name, &["--requeue-seconds", "5"]);
    ns.apply_stack("getstarted", json!({"compose": example("get-started")})).await;

    let stack = wait::until(&ns.api::<ComposeStack>(), "getstarted", stack::ready_and_current).await;
    let status = stack.status.clone().unwrap();
    assert_eq!(status.ready_services.as_deref(), Some("1/1"));
    assert_eq!(status.phase.as_deref(), Some("Ready"));
    assert!(!stack::is(&stack, "Reconciling") && !stack::is(&stack, "Stalled"));

    let web = wait::until(&ns.api::<Deployment>(), "web", deployment_ready(5)).await;
    let container = &web.spec.template.spec.as_ref().unwrap().containers[0];
    let limits = container.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(limits["cpu"].0, "100m");
    assert_eq!(limits["memory"].0, "50Mi");
    let published = ns.api::<Service>().get("web-published").await.unwrap();
    let port = &published.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!((port.port, port.target_port.clone()), (4000, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))));
    ns.api::<Service>().get("web").await.unwrap();

    // The operator's own status writes (Reconciling, then Ready) do not wake the stack again:
    // a stack is reconciled for a change of its spec, its children's events and its resync.
    // Once a resync has run after Ready, any such wake-up (500 ms after the write) is logged.
    let reconciled = |reason: &'static str| {
        let log = operator.log_text();
        log.lines().filter(|l| l.contains("reconciled") && l.contains(&format!("object.reason={reason}"))).count()
    };
    wait::until_true("a resync after the stack became Ready", || async { reconciled("reconciler requested retry") > 0 }).await;
    // (At most one: the creation's reconcile may find the caches still listing and retry.)
    assert!(reconciled("object updated") <= 1, "only the stack's creation woke it:\n{}", operator.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microblog_stack_orders_dependencies_and_binds_its_volume() {
    let ns = TestNamespace::new("microblog").await;
    let _operator = Operator::start(&ns.name, &[]);
    let variables = json!({"SECRET_KEY": "e2e-secret", "MYSQL_PASSWORD": "e2e-password"});
    ns.apply_stack("microblog", json!({"compose": example("microblog"), "variables": variables})).await;

    wait::until(&ns.api::<ComposeStack>(), "microblog", stack::ready_and_current).await;
    let mysql = ns.api::<StatefulSet>().get("mysql").await.unwrap();
    let claim = wait::until(&ns.api::<PersistentVolumeClaim>(), "mysql-data-mysql-0", |c: &PersistentVolumeClaim| {
        c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
    })
    .await;
    assert!(claim.metadata.name.is_some());
    let alias = ns.api::<Service>().get("dbserver").await.unwrap();
    assert_eq!(alias.spec.unwrap().selector.unwrap()["compose-operator.dev/service"], "mysql");

    let app = ns.api::<Deployment>().get("microblog").await.unwrap();
    let env = app.spec.template.spec.as_ref().unwrap().containers[0].env.clone().unwrap();
    let url = env.iter().find(|e| e.name == "DATABASE_URL").unwrap();
    assert_eq!(url.value.as_deref(), Some("mysql+pymysql://microblog:e2e-password@dbserver/microblog"));

    // depends_on: the app was created only after mysql was healthy.
    let created = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| t.clone().unwrap().0;
    let mysql_ready = ns
        .api::<k8s_openapi::api::core::v1::Pod>()
        .get("mysql-0")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .last_transition_time;
    assert!(created(&app.metadata.creation_timestamp) >= created(&mysql_ready), "the app was created before mysql was ready");
    assert!(created(&app.metadata.creation_timestamp) >= created(&mysql.metadata.creation_timestamp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_and_image_updates_roll_out() {
    let ns = TestNamespace::new("update").await;
    let _operator = Operator::start(&ns.name, &[]);
    let compose =
        |replicas: u32, tag: &str| format!("services:\n  web:\n    image: nginx:{tag}\n    deploy:\n      replicas: {replicas}\n    ports: [\"8080:80\"]\n");
    ns.apply_stack("update", json!({"compose": compose(2, "1.25")})).await;
    let stacks = ns.api::<ComposeStack>();
    let first = wait::until(&stacks, "update", stack::ready_and_current).await;

    ns.apply_stack("update", json!({"compose": compose(4, "1.27")})).await;
    let generation = first.metadata.generation.unwrap() + 1;
    // The new generation is first reported as in progress (or already done on a fast machine).
    let seen = wait::until(&stacks, "update", |s: &ComposeStack| s.status.as_ref().and_then(|s| s.observed_generation) == Some(generation)).await;
    assert!(stack::is(&seen, "Reconciling") || stack::is(&seen, "Ready"), "{:?}", seen.status);
    wait::until(&stacks, "update", stack::ready_and_current).await;
    let web = wait::until(&ns.api::<Deployment>(), "web", deployment_ready(4)).await;
    assert_eq!(container_image(&web).as_deref(), Some("nginx:1.27"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_services_are_pruned() {
    let ns = TestNamespace::new("prune").await;
    let _operator = Operator::start(&ns.name, &[]);
    let both = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n  cache:\n    image: redis\n    ports: [\"6379:6379\"]\n";
    ns.apply_stack("prune", json!({"compose": both})).await;
    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "prune", stack::ready_and_current).await;
    let web_uid = ns.api::<Deployment>().get("web").await.unwrap().metadata.uid;

    ns.apply_stack("prune", json!({"compose": "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n"})).await;
    wait::gone(&ns.api::<Deployment>(), "cache").await;
    wait::gone(&ns.api::<Service>(), "cache").await;
    wait::gone(&ns.api::<Service>(), "cache-published").await;
    wait::until(&stacks, "prune", stack::ready_and_current).await;
    assert_eq!(ns.api::<Deployment>().get("web").await.unwrap().metadata.uid, web_uid, "web was recreated");
    ns.api::<Service>().get("web-published").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reverted() {
    let ns = TestNamespace::new("drift").await;
    // No resync within the test: the watch events alone must bring the repairs.
    let _operator = Operator::start(&ns.name, &["--requeue-seconds", "3600"]);
    ns.apply_stack("drift", json!({"compose": "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n    expose: [\"80\"]\n"})).await;
    let deployments = ns.api::<Deployment>();
    wait::until(&ns.api::<ComposeStack>(), "drift", stack::ready_and_current).await;

    let hand = PatchParams::apply("someone-by-hand").force();
    let scaled = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 7}});
    deployments.patch("web", &hand, &Patch::Apply(&scaled)).await.unwrap();
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "evil:latest"}]}}}});
    deployments.patch("web", &PatchParams::default(), &Patch::Strategic(&image)).await.unwrap();
    ns.api::<Service>().delete("web", &DeleteParams::default()).await.unwrap();

    let soon = std::time::Duration::from_secs(60);
    wait::until_within(&deployments, "web", soon, |d: &Deployment| d.spec.replicas == Some(2) && container_image(d).as_deref() == Some("nginx:1.27")).await;
    wait::until_within(&ns.api::<Service>(), "web", soon, |_| true).await;
    wait::until(&deployments, "web", deployment_ready(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_update_stalls_and_leaves_the_running_stack_alone() {
    let ns = TestNamespace::new("invalid").await;
    let _operator = Operator::start(&ns.name, &[]);
    ns.apply_stack("invalid", json!({"compose": example("get-started")})).await;
    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "invalid", stack::ready_and_current).await;
    let before = ns.api::<Deployment>().get("web").await.unwrap();

    let broken = std::fs::read_to_string(crate::harness::repo_root().join("tests/fixtures/invalid/misindented-restart-policy.yaml")).unwrap();
    ns.apply_stack("invalid", json!({"compose": broken})).await;
    let stalled = wait::until(&stacks, "invalid", |s: &ComposeStack| stack::stalled_with(s, "services.web.deploy.resources.restart_policy")).await;
    assert!(!stack::is(&stalled, "Ready"));
    assert_eq!(stalled.status.as_ref().unwrap().observed_generation, stalled.metadata.generation);

    let events = ns.api::<Event>();
    wait::until_true("an InvalidCompose warning event", || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        list.items.iter().any(|e| e.reason.as_deref() == Some("InvalidCompose") && e.type_.as_deref() == Some("Warning"))
    })
    .await;
    let after = ns.api::<Deployment>().get("web").await.unwrap();
    assert_eq!(after.metadata.generation, before.metadata.generation, "the running workload was changed");
    assert_eq!(after.status.unwrap().ready_replicas, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_collision_stalls_and_leaves_the_other_object_untouched() {
    let ns = TestNamespace::new("collision").await;
    let services = ns.api::<Service>();
    let theirs: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"owner": "someone-else"}},
        "spec": {"ports": [{"port": 1234}], "selector": {"app": "theirs"}}
    }))
    .unwrap();
    let theirs = services.create(&PostParams::default(), &theirs).await.unwrap();
    let _operator = Operator::start(&ns.name, &[]);
    ns.apply_stack("collision", json!({"compose": "services:\n  web:\n    image: nginx\n    expose: [\"80\"]\n"})).await;

    wait::until(&ns.api::<ComposeStack>(), "collision", |s: &ComposeStack| stack::stalled_with(s, "Service/web")).await;
    let after = services.get("web").await.unwrap();
    assert_eq!(after.metadata.resource_version, theirs.metadata.resource_version, "the other Service was modified");
    assert!(ns.api::<Deployment>().get_opt("web").await.unwrap().is_none(), "the stack was half-applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_wait_for_a_one_shot_job_to_succeed() {
    let ns = TestNamespace::new("jobs").await;
    let _operator = Operator::start(&ns.name, &[]);
    let compose = "services:\n  migrate:\n    image: busybox\n    command: echo migrated\n    restart: \"no\"\n  app:\n    image: nginx\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n";
    ns.apply_stack("jobs", json!({"compose": compose})).await;
    let job = wait::until(&ns.api::<Job>(), "migrate", |j: &Job| j.status.as_ref().and_then(|s| s.succeeded) == Some(1)).await;
    let app = wait::until(&ns.api::<Deployment>(), "app", |_| true).await;
    let completed = job.status.unwrap().completion_time.unwrap().0;
    assert!(app.metadata.creation_timestamp.unwrap().0 >= completed, "app was created before the Job completed");
    wait::until(&ns.api::<ComposeStack>(), "jobs", stack::ready_and_current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_stack_garbage_collects_children_and_keeps_volumes() {
    let ns = TestNamespace::new("delete").await;
    let _operator = Operator::start(&ns.name, &[]);
    ns.apply_stack("delete", json!({"compose": example("django")})).await;
    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "delete", stack::ready_and_current).await;
    wait::until(&ns.api::<PersistentVolumeClaim>(), "db-data-db-0", |_| true).await;

    stacks.delete("delete", &DeleteParams::foreground()).await.unwrap();
    wait::gone(&stacks, "delete").await;
    wait::gone(&ns.api::<Deployment>(), "web").await;
    wait::gone(&ns.api::<StatefulSet>(), "db").await;
    wait::gone(&ns.api::<Service>(), "web-published").await;
    // retainOnDelete (the default) keeps the data.
    assert!(ns.api::<PersistentVolumeClaim>().get_opt("db-data-db-0").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_config_rolls_the_pods_that_mount_it() {
    let ns = TestNamespace::new("rollconfig").await;
    let _operator = Operator::start(&ns.name, &[]);
    let compose = |greeting: &str| {
        format!(
            "services:\n  web:\n    image: nginx\n    configs: [greeting]\n    secrets: [token]\nconfigs:\n  greeting:\n    content: {greeting}\nsecrets:\n  token:\n    environment: TOKEN\n"
        )
    };
    let spec = |greeting: &str| json!({"compose": compose(greeting), "variables": {"TOKEN": "t0ken"}});
    ns.apply_stack("rollconfig", spec("hello")).await;
    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "rollconfig", stack::ready_and_current).await;
    let config = ns.api::<k8s_openapi::api::core::v1::ConfigMap>().get("rollconfig-greeting").await.unwrap();
    assert_eq!(config.data.unwrap()["greeting"], "hello");
    let secret = ns.api::<k8s_openapi::api::core::v1::Secret>().get("rollconfig-token").await.unwrap();
    assert_eq!(secret.data.unwrap()["token"].0, b"t0ken");
    let hash = |d: &Deployment| {
        d.spec.template.metadata.as_ref().and_then(|m| m.annotations.as_ref()).and_then(|a| a.get("compose-operator.dev/content-hash")).cloned()
    };
    let before = ns.api::<Deployment>().get("web").await.unwrap();

    ns.apply_stack("rollconfig", spec("bonjour")).await;
    let after = wait::until(&ns.api::<Deployment>(), "web", |d: &Deployment| hash(d) != hash(&before)).await;
    assert!(after.metadata.generation > before.metadata.generation, "the pod template changed, so the Deployment rolls");
    wait::until(&ns.api::<k8s_openapi::api::core::v1::ConfigMap>(), "rollconfig-greeting", |c: &k8s_openapi::api::core::v1::ConfigMap| {
        c.data.as_ref().is_some_and(|d| d["greeting"] == "bonjour")
    })
    .await;
    wait::until(&stacks, "rollconfig", stack::ready_and_current).await;
    wait::until(&ns.api::<Deployment>(), "web", deployment_ready(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_stack_scales_to_zero_and_resumes() {
    let ns = TestNamespace::new("suspend").await;
    let _operator = Operator::start(&ns.name, &[]);
    let compose = "services:\n  web:\n    image: nginx\n    deploy: {replicas: 3}\n  agent:\n    image: busybox\n    deploy: {mode: global}\n";
    ns.apply_stack("suspend", json!({"compose": compose})).await;
    let stacks = ns.api::<ComposeStack>();
    wait::until(&stacks, "suspend", stack::ready_and_current).await;

    ns.apply_stack("suspend", json!({"compose": compose, "suspend": true})).await;
    let suspended = wait::until(&stacks, "suspend", |s: &ComposeStack| {
        s.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Suspended")
            && s.status.as_ref().and_then(|s| s.observed_generation) == s.metadata.generation
    })
    .await;
    assert!(!stack::is(&suspended, "Ready") && !stack::is(&suspended, "Reconciling") && !stack::is(&suspended, "Stalled"));
    wait::until(&ns.api::<Deployment>(), "web", |d: &Deployment| d.spec.replicas == Some(0)).await;
    wait::gone(&ns.api::<k8s_openapi::api::apps::v1::DaemonSet>(), "agent").await;

    ns.apply_stack("suspend", json!({"compose": compose})).await;
    wait::until(&stacks, "suspend", stack::ready_and_current).await;
    wait::until(&ns.api::<Deployment>(), "web", deployment_ready(3)).await;
    wait::until(&ns.api::<k8s_openapi::api::apps::v1::DaemonSet>(), "agent", |_| true).await;
}
