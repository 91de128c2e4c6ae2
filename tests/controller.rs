//! The controller's reconcile against an in-memory API server (tower-test): which requests
//! one reconcile makes for a new stack, an unchanged one, an invalid update, a name
//! collision and a removed service. The caches the reconcile reads are fed from the fake's
//! objects before each reconcile, as the watches would (or, to test read-your-writes, left
//! behind). The real-cluster suite (e2e/) proves the behaviour; these pin the exact requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compose_operator::api::ComposeStack;
use compose_operator::controller::cache::{Cached, Caches};
use compose_operator::controller::context::{Context, Shared};
use compose_operator::controller::metrics::Metrics;
use compose_operator::controller::reconcile;
use compose_operator::object::{Kind, Object};
use compose_operator::policy::Policy;
use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher::Event;
use serde_json::{Value, json};

/// A namespace's worth of objects, keyed by (resource plural, name).
#[derive(Default)]
struct FakeApi {
    objects: BTreeMap<(String, String), Value>,
    /// Every request, as `VERB plural/name` (and `event Reason`); an apply the API server
    /// would not store (nothing changed) is `apply (no change) plural/name`.
    requests: Vec<String>,
    revision: u64,
    /// An object whose every patch the fake refuses as invalid, as a real API server
    /// refuses what its validation rejects.
    invalid: Option<(&'static str, &'static str)>,
}

struct Target {
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn target(path: &str) -> Target {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts.iter().position(|p| *p == "namespaces").expect("namespaced request");
    Target { plural: parts[at + 2].to_string(), name: parts.get(at + 3).map(|s| s.to_string()), subresource: parts.get(at + 4).map(|s| s.to_string()) }
}

fn status_error(code: u16, reason: &str) -> (StatusCode, Value) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code});
    (StatusCode::from_u16(code).unwrap(), body)
}

impl FakeApi {
    fn with(objects: impl IntoIterator<Item = (&'static str, Value)>) -> FakeApi {
        let mut api = FakeApi::default();
        for (plural, object) in objects {
            let name = object["metadata"]["name"].as_str().unwrap().to_string();
            api.objects.insert((plural.to_string(), name), object);
        }
        api
    }

    fn handle(&mut self, method: &Method, uri: &http::Uri, body: Option<Value>) -> (StatusCode, Value) {
        let path = uri.path();
        let target = target(path);
        if method == Method::PATCH && self.invalid == Some((target.plural.as_str(), target.name.as_deref().unwrap_or_default())) {
            self.requests.push(format!("refused {}/{}", target.plural, target.name.unwrap_or_default()));
            return status_error(422, "Invalid");
        }
        if uri.query().is_some_and(|q| q.contains("dryRun=All")) {
            self.requests.push(format!("dry-run {}/{}", target.plural, target.name.unwrap_or_default()));
            return (StatusCode::OK, body.unwrap_or_default());
        }
        let key = |name: &String| (target.plural.clone(), name.clone());
        match (method.as_str(), &target.name, target.subresource.as_deref()) {
            ("GET", None, _) => {
                self.requests.push(format!("list {}", target.plural));
                let items: Vec<Value> = self.objects.iter().filter(|((plural, _), _)| *plural == target.plural).map(|(_, v)| v.clone()).collect();
                (StatusCode::OK, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}))
            }
            ("GET", Some(name), _) => {
                self.requests.push(format!("get {}/{name}", target.plural));
                match self.objects.get(&key(name)) {
                    Some(object) => (StatusCode::OK, object.clone()),
                    None => status_error(404, "NotFound"),
                }
            }
            ("PATCH", Some(_), None) if target.plural == "events" => {
                // The recorder counts a repeated event in a series.
                self.requests.push("event (repeated)".into());
                (StatusCode::OK, body.unwrap_or_default())
            }
            ("POST", None, _) if target.plural == "events" => {
                let body = body.unwrap_or_default();
                self.requests.push(format!("event {}", body["reason"].as_str().unwrap_or_default()));
                (StatusCode::CREATED, body)
            }
            ("PATCH", Some(name), Some("status")) => {
                self.requests.push(format!("status {}/{name}", target.plural));
                let mut object = self.objects.get(&key(name)).cloned().unwrap_or_else(|| json!({"metadata": {"name": name}}));
                object["status"] = body.unwrap_or_default()["status"].clone();
                self.objects.insert(key(name), object.clone());
                (StatusCode::OK, object)
            }
            ("PATCH", Some(name), None) => {
                let mut applied = body.unwrap_or_default();
                let previous = self.objects.get(&key(name)).cloned();
                if let Some(previous) = previous.as_ref().filter(|p| without_server_fields(p) == applied) {
                    self.requests.push(format!("apply (no change) {}/{name}", target.plural));
                    return (StatusCode::OK, previous.clone());
                }
                self.revision += 1;
                self.requests.push(format!("apply {}/{name}", target.plural));
                let server = |field: &str| previous.as_ref().map(|p| p["metadata"][field].clone()).filter(|v| !v.is_null());
                applied["metadata"]["resourceVersion"] = json!(self.revision.to_string());
                applied["metadata"]["uid"] = server("uid").unwrap_or_else(|| json!(format!("uid-{}", self.revision)));
                applied["metadata"]["generation"] = json!(server("generation").and_then(|g| g.as_i64()).unwrap_or(0) + 1);
                if let Some(status) = previous.as_ref().map(|p| p["status"].clone()).filter(|s| !s.is_null()) {
                    applied["status"] = status;
                }
                self.objects.insert(key(name), applied.clone());
                (StatusCode::OK, applied)
            }
            ("DELETE", Some(name), None) => {
                self.requests.push(format!("delete {}/{name}", target.plural));
                match self.objects.remove(&key(name)) {
                    Some(object) => (StatusCode::OK, object),
                    None => status_error(404, "NotFound"),
                }
            }
            other => panic!("unexpected request {other:?} {path}"),
        }
    }
}

fn without_server_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object["metadata"].as_object_mut() {
        for field in ["resourceVersion", "uid", "generation"] {
            metadata.remove(field);
        }
    }
    if let Some(object) = object.as_object_mut() {
        object.remove("status");
    }
    object
}

/// A client whose requests the fake answers, in a task of its own.
fn client(api: Arc<Mutex<FakeApi>>) -> Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap());
            let (status, value) = api.lock().unwrap().handle(&parts.method, &parts.uri, body);
            let response = Response::builder().status(status).body(Body::from(serde_json::to_vec(&value).unwrap())).unwrap();
            respond.send_response(response);
        }
    });
    Client::new(service, "default")
}

fn stack(compose: &str, status: Option<Value>) -> ComposeStack {
    let mut object = json!({
        "apiVersion": "compose-operator.dev/v1alpha1",
        "kind": "ComposeStack",
        "metadata": {"name": "shop", "namespace": "default", "uid": "stack-uid", "generation": 1},
        "spec": {"compose": compose},
    });
    if let Some(status) = status {
        object["status"] = status;
    }
    serde_json::from_value(object).unwrap()
}

/// One operator process (its caches and ledger live as long as the harness) against the fake.
struct Operator {
    api: Arc<Mutex<FakeApi>>,
    context: Arc<Context>,
}

impl Operator {
    fn new(api: &Arc<Mutex<FakeApi>>) -> Operator {
        let client = client(api.clone());
        let recorder = Recorder::new(client.clone(), Reporter { controller: "compose-operator".into(), instance: None });
        let shared = Arc::new(Shared::new(client, recorder, Policy::default(), Duration::from_secs(300), Arc::new(Metrics::default()), 4));
        Operator { api: api.clone(), context: Arc::new(Context::new(shared, Arc::new(Caches::new()))) }
    }

    /// The watches catch up: every cache relists what the fake holds.
    fn sync_caches(&self) {
        sync(&self.context.caches, &self.api.lock().unwrap());
    }

    /// Every request one reconcile sends, the caches having caught up first.
    async fn reconcile(&self, stack: ComposeStack) -> Vec<String> {
        self.sync_caches();
        self.reconcile_with_stale_caches(stack).await
    }

    /// Every request one reconcile sends, the caches as the last sync left them.
    async fn reconcile_with_stale_caches(&self, stack: ComposeStack) -> Vec<String> {
        {
            let mut api = self.api.lock().unwrap();
            api.requests.clear();
            api.objects.insert(("composestacks".into(), "shop".into()), serde_json::to_value(&stack).unwrap());
        }
        reconcile::reconcile(Arc::new(stack), self.context.clone()).await.expect("reconcile");
        self.api.lock().unwrap().requests.clone()
    }

    fn status(&self) -> Value {
        self.api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone()
    }
}

fn sync(caches: &Caches, api: &FakeApi) {
    for kind in Kind::ALL {
        let cache = caches.of(*kind);
        cache.apply(Event::Init);
        for ((plural, _), value) in &api.objects {
            if plural == kind.endpoint().2 {
                let object = Object::from_json(*kind, value.clone()).unwrap();
                let cached = if kind.status_is_read() { Cached::workload_of(object) } else { Cached::metadata_of(*kind, object.metadata().clone()) };
                cache.apply(Event::InitApply(cached));
            }
        }
        cache.apply(Event::InitDone);
    }
    caches.pods.apply(Event::Init);
    caches.pods.apply(Event::InitDone);
    // No namespace of the fake enforces a Pod Security level.
    caches.namespaces.apply(Event::Init);
    caches.namespaces.apply(Event::InitDone);
}

/// The requests that change something (not the lookups).
fn writes(requests: Vec<String>) -> Vec<String> {
    requests.into_iter().filter(|r| !r.starts_with("get ")).collect()
}

/// A fresh operator process: one reconcile's writes.
async fn reconcile_once(api: &Arc<Mutex<FakeApi>>, stack: ComposeStack) -> Vec<String> {
    writes(Operator::new(api).reconcile(stack).await)
}

const WEB: &str = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n";

fn owner() -> Value {
    json!([{"apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack", "name": "shop", "uid": "stack-uid", "controller": true, "blockOwnerDeletion": true}])
}

fn object(api: &Arc<Mutex<FakeApi>>, plural: &str, name: &str) -> Option<Value> {
    api.lock().unwrap().objects.get(&(plural.to_string(), name.to_string())).cloned()
}

#[tokio::test]
async fn a_new_stack_is_applied_in_order_and_reported() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let requests = Operator::new(&api).reconcile(stack(WEB, None)).await;
    assert_eq!(
        requests,
        [
            "get networkpolicies/web",
            "get services/web",
            "get services/web-published",
            "get deployments/web",
            "dry-run networkpolicies/web",
            "dry-run services/web",
            "dry-run services/web-published",
            "dry-run deployments/web",
            "apply networkpolicies/web",
            "apply services/web",
            "apply services/web-published",
            "apply deployments/web",
            "event Applied",
            "status composestacks/shop"
        ],
        "one lookup per new name (someone else's object?), no list"
    );
    let deployment = object(&api, "deployments", "web").unwrap();
    assert_eq!(deployment["metadata"]["ownerReferences"], owner());
    assert!(deployment["metadata"]["annotations"]["compose-operator.dev/fingerprint"].is_string());
    let status = object(&api, "composestacks", "shop").unwrap()["status"].clone();
    assert_eq!(status["phase"], "Reconciling");
    assert_eq!(status["observedGeneration"], 1);
}

#[tokio::test]
async fn a_resync_that_finds_nothing_changed_sends_nothing() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(WEB, None)).await;
    // The Deployment controller reports progress: status only, the generation stays.
    {
        let mut api = api.lock().unwrap();
        api.revision += 1;
        let revision = api.revision.to_string();
        let deployment = api.objects.get_mut(&("deployments".to_string(), "web".to_string())).unwrap();
        deployment["status"] = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1});
        deployment["metadata"]["resourceVersion"] = json!(revision);
    }
    let requests = operator.reconcile(stack(WEB, Some(operator.status()))).await;
    assert_eq!(requests, ["status composestacks/shop"], "the stack became ready: only its status is written");
    for _ in 0..3 {
        let requests = operator.reconcile(stack(WEB, Some(operator.status()))).await;
        assert!(requests.is_empty(), "no apply, no list, no lookup, no status: {requests:?}");
    }
}

#[tokio::test]
async fn after_a_restart_each_object_is_applied_once_and_then_left_alone() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    Operator::new(&api).reconcile(stack(WEB, None)).await;
    let restarted = Operator::new(&api);
    let status = Operator::new(&api).status();
    let requests = restarted.reconcile(stack(WEB, Some(status.clone()))).await;
    assert_eq!(
        requests,
        [
            "apply (no change) networkpolicies/web",
            "apply (no change) services/web",
            "apply (no change) services/web-published",
            "apply (no change) deployments/web"
        ],
        "the new process does not know the objects are as it would apply them"
    );
    assert!(restarted.reconcile(stack(WEB, Some(status))).await.is_empty());
}

#[tokio::test]
async fn a_child_deleted_or_edited_by_someone_else_is_put_back() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(WEB, None)).await;
    let status = operator.status();
    assert!(operator.reconcile(stack(WEB, Some(status.clone()))).await.is_empty(), "the watches have shown every object");
    // Deleted: the name is anyone's again, so it is looked up before it is taken.
    api.lock().unwrap().objects.remove(&("services".to_string(), "web-published".to_string()));
    let requests = operator.reconcile(stack(WEB, Some(status.clone()))).await;
    assert_eq!(requests, ["get services/web-published", "apply services/web-published", "event (repeated)"]);

    // Scaled by hand: the spec changes, so does the generation.
    {
        let mut api = api.lock().unwrap();
        api.revision += 1;
        let revision = api.revision.to_string();
        let deployment = api.objects.get_mut(&("deployments".to_string(), "web".to_string())).unwrap();
        deployment["spec"]["replicas"] = json!(5);
        deployment["metadata"]["generation"] = json!(2);
        deployment["metadata"]["resourceVersion"] = json!(revision);
    }
    let requests = operator.reconcile(stack(WEB, Some(status))).await;
    assert_eq!(requests.iter().filter(|r| r.starts_with("apply ")).collect::<Vec<_>>(), ["apply deployments/web"], "{requests:?}");
    assert_eq!(object(&api, "deployments", "web").unwrap()["spec"]["replicas"], 1);
}

#[tokio::test]
async fn objects_just_applied_are_ours_before_the_cache_shows_them() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(WEB, None)).await;
    // The watch events of those applies have not arrived: the caches are still empty.
    let requests = operator.reconcile_with_stale_caches(stack(WEB, Some(operator.status()))).await;
    assert!(requests.iter().all(|r| r.starts_with("apply (no change) ")), "no lookup, no conflict, nothing stored: {requests:?}");
    assert_eq!(operator.status()["phase"], "Reconciling");
}

#[tokio::test]
async fn an_invalid_update_changes_no_object_and_stalls_once() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(WEB, None)).await;
    let broken = "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        restart_policy: {condition: on-failure}\n";
    let mut update = stack(broken, Some(operator.status()));
    update.metadata.generation = Some(2);
    let requests = operator.reconcile(update.clone()).await;
    assert_eq!(requests, ["event InvalidCompose", "status composestacks/shop"]);
    let status = operator.status();
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap().clone();
    assert_eq!(stalled["status"], "True");
    assert!(stalled["message"].as_str().unwrap().contains("services.web.deploy.resources.restart_policy"), "{stalled}");
    update.status = serde_json::from_value(status).unwrap();
    assert!(operator.reconcile(update).await.is_empty(), "woken again (a child's event), the same refusal sends nothing");
}

#[tokio::test]
async fn a_name_taken_by_someone_else_blocks_every_write() {
    let theirs =
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-published", "namespace": "default", "resourceVersion": "7"}, "spec": {}});
    let api = Arc::new(Mutex::new(FakeApi::with([("services", theirs)])));
    let writes = reconcile_once(&api, stack(WEB, None)).await;
    assert_eq!(writes, ["event Conflict", "status composestacks/shop"]);
    let status = object(&api, "composestacks", "shop").unwrap()["status"].clone();
    assert_eq!(status["phase"], "Stalled");
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap().clone();
    assert!(stalled["message"].as_str().unwrap().starts_with("Service/web-published already exists"), "{stalled}");
}

#[tokio::test]
async fn a_removed_service_is_pruned_and_the_rest_left_alone() {
    let both = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n  cache:\n    image: redis\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(both, None)).await;
    let mut update = stack(WEB, Some(operator.status()));
    update.metadata.generation = Some(2);
    let requests = operator.reconcile(update.clone()).await;
    assert_eq!(requests, ["delete networkpolicies/cache", "delete services/cache", "delete deployments/cache", "event Pruned", "status composestacks/shop"]);
    // The watch has not reported the deletions yet: nothing is deleted twice.
    update.status = serde_json::from_value(operator.status()).unwrap();
    assert!(operator.reconcile_with_stale_caches(update).await.is_empty());
}

#[tokio::test]
async fn dependents_are_held_back_until_their_dependency_is_healthy() {
    let compose = "services:\n  app:\n    image: a\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: b\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    let requests = writes(operator.reconcile(stack(compose, None)).await);
    assert_eq!(
        requests,
        [
            "dry-run networkpolicies/db",
            "dry-run services/db",
            "dry-run deployments/db",
            "apply networkpolicies/db",
            "apply services/db",
            "apply deployments/db",
            "event Applied",
            "event Waiting",
            "status composestacks/shop"
        ]
    );
    // The Deployment controller reports db ready; the next reconcile releases app.
    api.lock().unwrap().objects.get_mut(&("deployments".to_string(), "db".to_string())).unwrap()["status"] =
        json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1});
    let requests = operator.reconcile(stack(compose, Some(operator.status()))).await;
    assert!(requests.contains(&"apply deployments/app".to_string()), "{requests:?}");
    assert!(!requests.iter().any(|r| r.ends_with("/db")), "db is as applied: {requests:?}");
}

#[tokio::test]
async fn an_object_the_api_server_refuses_stops_the_stack_before_any_write() {
    let api = Arc::new(Mutex::new(FakeApi { invalid: Some(("deployments", "web")), ..Default::default() }));
    let writes = reconcile_once(&api, stack(WEB, None)).await;
    assert_eq!(
        writes,
        [
            "dry-run networkpolicies/web",
            "dry-run services/web",
            "dry-run services/web-published",
            "refused deployments/web",
            "event Rejected",
            "status composestacks/shop"
        ]
    );
    assert_eq!(object(&api, "composestacks", "shop").unwrap()["status"]["phase"], "Stalled");
}

#[tokio::test]
async fn a_changed_job_is_recreated_once_the_old_one_is_gone_and_an_unchanged_one_left_alone() {
    let job = |command: &str| format!("services:\n  migrate:\n    image: m\n    command: {command}\n    restart: \"no\"\n");
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    let requests = operator.reconcile(stack(&job("migrate"), None)).await;
    assert!(requests.contains(&"apply jobs/migrate".to_string()), "{requests:?}");
    let requests = operator.reconcile(stack(&job("migrate"), Some(operator.status()))).await;
    assert!(requests.is_empty(), "an unchanged Job is not touched: {requests:?}");

    // A Job's template cannot change in place: the old one goes first, the new one follows
    // once the watch has seen it go (not before, and it is not deleted twice meanwhile).
    let requests = writes(operator.reconcile(stack(&job("migrate --again"), None)).await);
    assert!(requests.contains(&"delete jobs/migrate".to_string()) && !requests.iter().any(|r| r.starts_with("apply")), "{requests:?}");
    let requests = writes(operator.reconcile_with_stale_caches(stack(&job("migrate --again"), None)).await);
    assert!(!requests.iter().any(|r| r.ends_with("jobs/migrate")), "{requests:?}");
    let requests = writes(operator.reconcile(stack(&job("migrate --again"), None)).await);
    assert!(requests.contains(&"apply jobs/migrate".to_string()), "{requests:?}");
}

#[tokio::test]
async fn a_failed_job_stalls_the_stack_once() {
    let compose = "services:\n  migrate:\n    image: m\n    restart: \"no\"\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(compose, None)).await;
    api.lock().unwrap().objects.get_mut(&("jobs".to_string(), "migrate".to_string())).unwrap()["status"] =
        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
    let requests = operator.reconcile(stack(compose, Some(operator.status()))).await;
    assert_eq!(requests, ["event JobFailed", "status composestacks/shop"]);
    let status = operator.status();
    assert_eq!(status["phase"], "Stalled");
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap().clone();
    assert!(stalled["message"].as_str().unwrap().starts_with("migrate: the job failed: BackoffLimitExceeded"), "{stalled}");
    let requests = operator.reconcile(stack(compose, Some(status))).await;
    assert!(requests.is_empty(), "the same failure is neither re-announced nor re-written: {requests:?}");
}

#[tokio::test]
async fn thousands_of_errors_make_a_short_status() {
    let mut compose = String::from("services:\n");
    for index in 0..450 {
        compose.push_str(&format!("  s{index}:\n    image: x\n"));
        for key in 0..8 {
            compose.push_str(&format!("    no_such_key_{key}: {index}\n"));
        }
    }
    assert!(compose.len() > 80_000);
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let operator = Operator::new(&api);
    operator.reconcile(stack(&compose, None)).await;
    let status = operator.status();
    let size = serde_json::to_string(&status).unwrap().len();
    assert!(size < 16 * 1024, "the status is {size} bytes");
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap().clone();
    assert!(stalled["message"].as_str().unwrap().contains(" more"), "{stalled}");
}
