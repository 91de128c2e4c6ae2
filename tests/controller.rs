//! The controller's reconcile against an in-memory API server (tower-test): which requests
//! one reconcile makes for a new stack, an unchanged one, an invalid update, a name
//! collision and a removed service. The real-cluster suite (e2e/) proves the behaviour;
//! these pin the exact writes quickly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compose_operator::api::ComposeStack;
use compose_operator::build::Policy;
use compose_operator::controller::context::Context;
use compose_operator::controller::metrics::Metrics;
use compose_operator::controller::reconcile;
use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};

/// A namespace's worth of objects, keyed by (resource plural, name).
#[derive(Default)]
struct FakeApi {
    objects: BTreeMap<(String, String), Value>,
    /// Every write, as `VERB plural/name` (and `event Reason`).
    writes: Vec<String>,
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
            self.writes.push(format!("refused {}/{}", target.plural, target.name.unwrap_or_default()));
            return status_error(422, "Invalid");
        }
        if uri.query().is_some_and(|q| q.contains("dryRun=All")) {
            self.writes.push(format!("dry-run {}/{}", target.plural, target.name.unwrap_or_default()));
            return (StatusCode::OK, body.unwrap_or_default());
        }
        let key = |name: &String| (target.plural.clone(), name.clone());
        match (method.as_str(), &target.name, target.subresource.as_deref()) {
            ("GET", None, _) => {
                let items: Vec<Value> = self.objects.iter().filter(|((plural, _), _)| *plural == target.plural).map(|(_, v)| v.clone()).collect();
                (StatusCode::OK, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}))
            }
            ("GET", Some(name), _) => match self.objects.get(&key(name)) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => status_error(404, "NotFound"),
            },
            ("POST", None, _) if target.plural == "events" => {
                let body = body.unwrap_or_default();
                self.writes.push(format!("event {}", body["reason"].as_str().unwrap_or_default()));
                (StatusCode::CREATED, body)
            }
            ("PATCH", Some(name), Some("status")) => {
                self.writes.push(format!("status {}/{name}", target.plural));
                let mut object = self.objects.get(&key(name)).cloned().unwrap_or_else(|| json!({"metadata": {"name": name}}));
                object["status"] = body.unwrap_or_default()["status"].clone();
                self.objects.insert(key(name), object.clone());
                (StatusCode::OK, object)
            }
            ("PATCH", Some(name), None) => {
                let mut applied = body.unwrap_or_default();
                let previous = self.objects.get(&key(name));
                let unchanged = previous.is_some_and(|p| without_server_fields(p) == applied);
                if !unchanged {
                    self.revision += 1;
                    self.writes.push(format!("apply {}/{name}", target.plural));
                }
                let revision = if unchanged { previous.unwrap()["metadata"]["resourceVersion"].clone() } else { json!(self.revision.to_string()) };
                applied["metadata"]["resourceVersion"] = revision;
                self.objects.insert(key(name), applied.clone());
                (StatusCode::OK, applied)
            }
            ("DELETE", Some(name), None) => {
                self.writes.push(format!("delete {}/{name}", target.plural));
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
        metadata.remove("resourceVersion");
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

async fn reconcile_once(api: &Arc<Mutex<FakeApi>>, stack: ComposeStack) -> Vec<String> {
    let client = client(api.clone());
    let recorder = Recorder::new(client.clone(), Reporter { controller: "compose-operator".into(), instance: None });
    let context = Arc::new(Context::new(client, recorder, Policy::default(), Duration::from_secs(300), Arc::new(Metrics::default())));
    {
        let mut api = api.lock().unwrap();
        api.writes.clear();
        api.objects.insert(("composestacks".into(), "shop".into()), serde_json::to_value(&stack).unwrap());
    }
    reconcile::reconcile(Arc::new(stack), context).await.expect("reconcile");
    api.lock().unwrap().writes.clone()
}

const WEB: &str = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n";

fn owner() -> Value {
    json!([{"apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack", "name": "shop", "uid": "stack-uid", "controller": true, "blockOwnerDeletion": true}])
}

#[tokio::test]
async fn a_new_stack_is_applied_in_order_and_reported() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let writes = reconcile_once(&api, stack(WEB, None)).await;
    assert_eq!(
        writes,
        [
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
        ]
    );
    let api = api.lock().unwrap();
    let deployment = &api.objects[&("deployments".to_string(), "web".to_string())];
    assert_eq!(deployment["metadata"]["ownerReferences"], owner());
    let status = &api.objects[&("composestacks".to_string(), "shop".to_string())]["status"];
    assert_eq!(status["phase"], "Reconciling");
    assert_eq!(status["observedGeneration"], 1);
}

#[tokio::test]
async fn an_unchanged_stack_writes_nothing() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    reconcile_once(&api, stack(WEB, None)).await;
    let status = api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone();
    let writes = reconcile_once(&api, stack(WEB, Some(status))).await;
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn an_invalid_update_changes_no_object_and_stalls() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    reconcile_once(&api, stack(WEB, None)).await;
    let status = api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone();
    let broken = "services:\n  web:\n    image: nginx\n    deploy:\n      resources:\n        restart_policy: {condition: on-failure}\n";
    let writes = reconcile_once(&api, stack(broken, Some(status))).await;
    assert_eq!(writes, ["event InvalidCompose", "status composestacks/shop"]);
    let api = api.lock().unwrap();
    let status = &api.objects[&("composestacks".to_string(), "shop".to_string())]["status"];
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap();
    assert_eq!(stalled["status"], "True");
    assert!(stalled["message"].as_str().unwrap().contains("services.web.deploy.resources.restart_policy"), "{stalled}");
}

#[tokio::test]
async fn a_name_taken_by_someone_else_blocks_every_write() {
    let theirs =
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-published", "namespace": "default", "resourceVersion": "7"}, "spec": {}});
    let api = Arc::new(Mutex::new(FakeApi::with([("services", theirs)])));
    let writes = reconcile_once(&api, stack(WEB, None)).await;
    assert_eq!(writes, ["event Conflict", "status composestacks/shop"]);
    let api = api.lock().unwrap();
    let status = &api.objects[&("composestacks".to_string(), "shop".to_string())]["status"];
    assert_eq!(status["phase"], "Stalled");
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap();
    assert!(stalled["message"].as_str().unwrap().starts_with("Service/web-published already exists"), "{stalled}");
}

#[tokio::test]
async fn a_removed_service_is_pruned_and_the_rest_left_alone() {
    let both = "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n  cache:\n    image: redis\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    reconcile_once(&api, stack(both, None)).await;
    let writes = reconcile_once(&api, stack(WEB, None)).await;
    assert_eq!(
        writes,
        [
            "dry-run networkpolicies/web",
            "dry-run services/web",
            "dry-run services/web-published",
            "dry-run deployments/web",
            "delete networkpolicies/cache",
            "delete services/cache",
            "delete deployments/cache",
            "event Pruned",
            "status composestacks/shop"
        ]
    );
}

#[tokio::test]
async fn dependents_are_held_back_until_their_dependency_is_healthy() {
    let compose = "services:\n  app:\n    image: a\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: b\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let writes = reconcile_once(&api, stack(compose, None)).await;
    assert_eq!(
        writes,
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
    api.lock().unwrap().objects.get_mut(&("deployments".to_string(), "db".to_string())).unwrap()["metadata"]["generation"] = json!(1);
    let writes = reconcile_once(&api, stack(compose, None)).await;
    assert!(writes.contains(&"apply deployments/app".to_string()), "{writes:?}");
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
    let api = api.lock().unwrap();
    assert_eq!(api.objects[&("composestacks".to_string(), "shop".to_string())]["status"]["phase"], "Stalled");
}

#[tokio::test]
async fn a_changed_job_is_recreated_and_an_unchanged_one_left_alone() {
    let job = |command: &str| format!("services:\n  migrate:\n    image: m\n    command: {command}\n    restart: \"no\"\n");
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let writes = reconcile_once(&api, stack(&job("migrate"), None)).await;
    assert!(writes.contains(&"apply jobs/migrate".to_string()), "{writes:?}");
    let status = api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone();
    let writes = reconcile_once(&api, stack(&job("migrate"), Some(status))).await;
    assert!(writes.is_empty(), "an unchanged Job is not touched: {writes:?}");

    // A Job's template cannot change in place: the old one goes first, the new one follows.
    let writes = reconcile_once(&api, stack(&job("migrate --again"), None)).await;
    assert!(writes.contains(&"delete jobs/migrate".to_string()) && !writes.contains(&"apply jobs/migrate".to_string()), "{writes:?}");
    let writes = reconcile_once(&api, stack(&job("migrate --again"), None)).await;
    assert!(writes.contains(&"apply jobs/migrate".to_string()), "{writes:?}");
}

#[tokio::test]
async fn a_failed_job_stalls_the_stack_once() {
    let compose = "services:\n  migrate:\n    image: m\n    restart: \"no\"\n";
    let api = Arc::new(Mutex::new(FakeApi::default()));
    reconcile_once(&api, stack(compose, None)).await;
    api.lock().unwrap().objects.get_mut(&("jobs".to_string(), "migrate".to_string())).unwrap()["status"] =
        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
    let status = api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone();
    let writes = reconcile_once(&api, stack(compose, Some(status))).await;
    assert_eq!(writes, ["event JobFailed", "status composestacks/shop"]);
    let status = api.lock().unwrap().objects[&("composestacks".to_string(), "shop".to_string())]["status"].clone();
    assert_eq!(status["phase"], "Stalled");
    let stalled = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Stalled").unwrap().clone();
    assert!(stalled["message"].as_str().unwrap().starts_with("migrate: the job failed: BackoffLimitExceeded"), "{stalled}");
    let writes = reconcile_once(&api, stack(compose, Some(status))).await;
    assert!(writes.is_empty(), "the same failure is neither re-announced nor re-written: {writes:?}");
}
