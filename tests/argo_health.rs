//! The Argo CD health check (docs/argocd-health.lua) run against ComposeStack objects, as Argo CD
//! runs it: the object as a Lua table in the global `obj`, the script's returned table read for
//! `status` and `message`. Lua 5.1, the language of Argo CD's interpreter (gopher-lua).
//!
//! The objects below were written by the operator on the e2e cluster (kube-apiserver v1.36, kwok
//! nodes) and read back with `kubectl get composestack -o json`; only metadata was trimmed.
//! Needs the dev-dependency `mlua = { version = "0.12", features = ["lua51", "vendored"] }`.

use mlua::{Lua, Table, Value};
use serde_json::json;

/// The microblog example, Ready: Ready=True, observedGeneration current.
const READY: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"microblog","namespace":"stacks-a","generation":1},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:22:30Z","message":"3/3 services ready","observedGeneration":1,"reason":"Ready","status":"True","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:22:30Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:22:28Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Stalled"}],"observedGeneration":1,"phase":"Ready","readyServices":"3/3","services":[{"availableReplicas":1,"desiredReplicas":1,"kind":"Deployment","name":"elasticsearch","ready":true,"readyReplicas":1,"updatedReplicas":1},{"availableReplicas":1,"desiredReplicas":1,"kind":"Deployment","name":"microblog","ready":true,"readyReplicas":1,"updatedReplicas":1},{"availableReplicas":1,"desiredReplicas":1,"kind":"StatefulSet","name":"mysql","ready":true,"readyReplicas":1,"updatedReplicas":1}]}}"#;
/// Rolling out (pods Ready, not yet Available): Reconciling=True.
const RECONCILING: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"progress","namespace":"stacks-a","generation":3},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:25:11Z","message":"0/1 services ready; slow: 0/2 replicas available","observedGeneration":3,"reason":"Progressing","status":"False","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:27:26Z","message":"0/1 services ready; slow: 0/2 replicas available","observedGeneration":3,"reason":"Progressing","status":"True","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:27:26Z","message":"","observedGeneration":3,"reason":"Progressing","status":"False","type":"Stalled"}],"observedGeneration":3,"phase":"Reconciling","readyServices":"0/1","services":[{"availableReplicas":0,"desiredReplicas":2,"kind":"Deployment","message":"0/2 replicas available","name":"slow","ready":false,"readyReplicas":2,"updatedReplicas":2}]}}"#;
/// An invalid compose document: Stalled=True, reason InvalidCompose.
const STALLED_INVALID: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"broken","namespace":"stacks-a","generation":1},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:25:11Z","message":"the compose document was not applied: services.web.deploy.resources.restart_policy: unknown field `restart_policy`, expected `limits` or `reservations` (line 12 column 9); hint: `restart_policy` belongs under `services.web.deploy`; check its indentation","observedGeneration":1,"reason":"InvalidCompose","status":"False","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:25:11Z","message":"","observedGeneration":1,"reason":"InvalidCompose","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:25:11Z","message":"the compose document was not applied: services.web.deploy.resources.restart_policy: unknown field `restart_policy`, expected `limits` or `reservations` (line 12 column 9); hint: `restart_policy` belongs under `services.web.deploy`; check its indentation","observedGeneration":1,"reason":"InvalidCompose","status":"True","type":"Stalled"}],"observedGeneration":1,"phase":"Stalled","readyServices":"0/0"}}"#;
/// A name collision with another stack: Stalled=True, reason Conflict.
const STALLED_CONFLICT: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"django","namespace":"stacks-a","generation":1},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:22:28Z","message":"Service/web already exists and is not part of this stack (owned by ComposeStack getstarted); it was left untouched and nothing was applied. Rename the compose service or remove that object","observedGeneration":1,"reason":"Conflict","status":"False","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:22:28Z","message":"","observedGeneration":1,"reason":"Conflict","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:22:28Z","message":"Service/web already exists and is not part of this stack (owned by ComposeStack getstarted); it was left untouched and nothing was applied. Rename the compose service or remove that object","observedGeneration":1,"reason":"Conflict","status":"True","type":"Stalled"}],"observedGeneration":1,"phase":"Stalled","readyServices":"0/0"}}"#;
/// spec.suspend: phase Suspended, all three conditions False.
const SUSPENDED: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"redis","namespace":"stacks-a","generation":2},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:25:11Z","message":"spec.suspend is set: long-running workloads are scaled to zero","observedGeneration":2,"reason":"Suspended","status":"False","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:22:29Z","message":"","observedGeneration":2,"reason":"Suspended","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:22:29Z","message":"","observedGeneration":2,"reason":"Suspended","status":"False","type":"Stalled"}],"observedGeneration":2,"phase":"Suspended","readyServices":"0/1","services":[{"kind":"Deployment","name":"redis","ready":false}]}}"#;
/// Edited while the operator was stopped: generation 2, status still about generation 1 (Ready).
const STALE: &str = r#"{"apiVersion":"compose-operator.dev/v1alpha1","kind":"ComposeStack","metadata":{"name":"getstarted","namespace":"stacks-a","generation":2},"status":{"conditions":[{"lastTransitionTime":"2026-11-24T10:22:20Z","message":"1/1 services ready","observedGeneration":1,"reason":"Ready","status":"True","type":"Ready"},{"lastTransitionTime":"2026-11-24T10:22:20Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-11-24T10:22:19Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Stalled"}],"observedGeneration":1,"phase":"Ready","readyServices":"1/1","services":[{"availableReplicas":5,"desiredReplicas":5,"kind":"Deployment","name":"web","ready":true,"readyReplicas":5,"updatedReplicas":5}],"warnings":["services.web.deploy.restart_policy.condition: on-failure: Kubernetes restarts long-running containers on every exit, including exit 0"]}}"#;

/// A JSON value as Argo CD hands it to Lua: objects and arrays become tables (arrays 1-based),
/// numbers are Lua numbers (floats in 5.1), null is nil.
fn to_lua(lua: &Lua, value: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let table = lua.create_table()?;
            for (index, item) in items.iter().enumerate() {
                table.set(index + 1, to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
        serde_json::Value::Object(fields) => {
            let table = lua.create_table()?;
            for (key, field) in fields {
                table.set(key.as_str(), to_lua(lua, field)?)?;
            }
            Value::Table(table)
        }
    })
}

fn script() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/argocd-health.lua")).expect("docs/argocd-health.lua")
}

/// (status, message) as Argo CD would show them.
fn health(object: &serde_json::Value) -> (String, String) {
    let lua = Lua::new();
    lua.globals().set("obj", to_lua(&lua, object).unwrap()).unwrap();
    let hs: Table = lua.load(script()).set_name("argocd-health.lua").eval().unwrap_or_else(|e| panic!("the health check failed on {object}: {e}"));
    let status: String = hs.get("status").expect("hs.status");
    let message: String = hs.get("message").expect("hs.message");
    assert!(["Healthy", "Progressing", "Degraded", "Suspended"].contains(&status.as_str()), "not an Argo CD health status: {status}");
    (status, message)
}

fn parse(fixture: &str) -> serde_json::Value {
    serde_json::from_str(fixture).expect("fixture JSON")
}

#[test]
fn a_ready_current_stack_is_healthy() {
    let (status, message) = health(&parse(READY));
    assert_eq!(status, "Healthy");
    assert_eq!(message, "Ready: 3/3 services ready");
}

#[test]
fn a_rolling_out_stack_is_progressing() {
    let (status, message) = health(&parse(RECONCILING));
    assert_eq!(status, "Progressing");
    assert!(message.starts_with("Progressing: 0/1 services ready") && message.contains("replicas available"), "{message}");
}

#[test]
fn a_stalled_stack_is_degraded_with_the_reason() {
    let (status, message) = health(&parse(STALLED_INVALID));
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("InvalidCompose: the compose document was not applied"), "{message}");
    let (status, message) = health(&parse(STALLED_CONFLICT));
    assert_eq!(status, "Degraded");
    assert!(message.starts_with("Conflict: Service/web already exists"), "{message}");
}

#[test]
fn a_suspended_stack_is_suspended() {
    let (status, message) = health(&parse(SUSPENDED));
    assert_eq!(status, "Suspended");
    assert!(message.contains("spec.suspend is set"), "{message}");
}

#[test]
fn a_status_about_an_older_generation_is_progressing() {
    // Ready=True, but about generation 1 of a generation-2 spec.
    let (status, message) = health(&parse(STALE));
    assert_eq!(status, "Progressing");
    assert_eq!(message, "Waiting for compose-operator to observe generation 2");
    // Stalled about an older spec is not Degraded: the new spec may well fix it.
    let mut fixed = parse(STALLED_INVALID);
    fixed["metadata"]["generation"] = json!(2);
    assert_eq!(health(&fixed).0, "Progressing");
    // So is a suspension not yet observed, or a status without observedGeneration.
    let mut resumed = parse(SUSPENDED);
    resumed["metadata"]["generation"] = json!(3);
    assert_eq!(health(&resumed).0, "Progressing");
    let mut unobserved = parse(READY);
    unobserved["status"].as_object_mut().unwrap().remove("observedGeneration");
    assert_eq!(health(&unobserved).0, "Progressing");
}

#[test]
fn a_stack_without_status_is_progressing() {
    let created = json!({
        "apiVersion": "compose-operator.dev/v1alpha1",
        "kind": "ComposeStack",
        "metadata": {"name": "new", "namespace": "default", "generation": 1},
        "spec": {"compose": "services:\n  web:\n    image: nginx\n"},
    });
    assert_eq!(health(&created), ("Progressing".to_string(), "Waiting for compose-operator to report a status".to_string()));
    let mut empty = created.clone();
    empty["status"] = json!({});
    assert_eq!(health(&empty).0, "Progressing");
    let mut null_status = created;
    null_status["status"] = serde_json::Value::Null;
    assert_eq!(health(&null_status).0, "Progressing");
}

#[test]
fn conditions_decide_when_the_phase_is_missing() {
    // Only the conditions (kstatus' contract), no phase: Ready=True is Healthy, none True waits.
    let mut ready = parse(READY);
    ready["status"].as_object_mut().unwrap().remove("phase");
    assert_eq!(health(&ready).0, "Healthy");
    let mut nothing_true = parse(READY);
    for condition in nothing_true["status"]["conditions"].as_array_mut().unwrap() {
        condition["status"] = json!("False");
    }
    nothing_true["status"].as_object_mut().unwrap().remove("phase");
    assert_eq!(health(&nothing_true).0, "Progressing");
    let mut unknown = parse(READY);
    unknown["status"]["conditions"] = json!([]);
    assert_eq!(health(&unknown).0, "Progressing");
    // Objects without metadata.generation (some API servers' dry runs) are judged on conditions.
    let mut no_generation = parse(READY);
    no_generation["metadata"].as_object_mut().unwrap().remove("generation");
    assert_eq!(health(&no_generation).0, "Healthy");
}
