//! What the namespace and the operator's policy allow stack pods to be, against a real API
//! server's Pod Security admission: in a namespace that enforces `restricted`, the pods the
//! operator writes are admitted (the ReplicaSet creates them), and a stack asking for what the
//! level forbids stalls, naming the compose key, before anything is written.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use compose_operator::api::ComposeStack;

use crate::harness::operator::Operator;
use crate::harness::{TestNamespace, wait};
use crate::stack;

async fn enforcing(test: &str, level: &str) -> TestNamespace {
    let ns = TestNamespace::new(test).await;
    let labels = json!({"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": "latest"});
    let namespaces: Api<Namespace> = Api::all(ns.client.clone());
    namespaces.patch(&ns.name, &PatchParams::default(), &Patch::Merge(&json!({"metadata": {"labels": labels}}))).await.expect("label namespace");
    ns
}

fn stalled_with(stack: &ComposeStack, text: &str) -> bool {
    let status = stack.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Stalled")
        && status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True" && c.message.contains(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_fit_the_namespaces_pod_security_level() {
    let ns = enforcing("restricted", "restricted").await;
    let _operator = Operator::start(&ns.name, &[]);

    // An ordinary service: the operator makes its pods restricted-compliant, so Pod Security
    // admission lets the ReplicaSet create them and the stack becomes Ready.
    ns.apply_stack("web", json!({"compose": "services:\n  web:\n    image: nginx\n    user: \"101:101\"\n    ports: ['8080:80']\n"})).await;
    wait::until(&ns.api::<ComposeStack>(), "web", stack::ready_and_current).await;
    let deployment = ns.api::<Deployment>().get("web").await.unwrap();
    let pod = deployment.spec.template.spec.unwrap();
    assert_eq!(pod.security_context.and_then(|c| c.run_as_non_root), Some(true));
    let container = pod.containers[0].security_context.clone().unwrap();
    assert_eq!(container.allow_privilege_escalation, Some(false));
    assert_eq!(container.capabilities.and_then(|c| c.drop), Some(vec!["ALL".to_string()]));
    let sets = ns.api::<ReplicaSet>().list(&ListParams::default()).await.unwrap().items;
    let refused =
        sets.iter().flat_map(|s| s.status.iter().flat_map(|st| st.conditions.iter().flatten())).find(|c| c.type_.as_deref() == Some("ReplicaFailure"));
    assert!(refused.is_none(), "Pod Security admission refused the pods: {refused:?}");

    // Running as root is what restricted forbids: the stack stalls and nothing is written.
    ns.apply_stack("root", json!({"compose": "services:\n  admin:\n    image: busybox\n    user: \"0\"\n"})).await;
    let stalled = wait::until(&ns.api::<ComposeStack>(), "root", |s| stalled_with(s, "services.admin.user")).await;
    assert!(stalled_with(&stalled, "restricted"), "{:?}", stalled.status);
    assert!(ns.api::<Deployment>().get_opt("admin").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_that_lift_confinement_are_refused() {
    let ns = TestNamespace::new("guarded").await;
    let _operator = Operator::start(&ns.name, &[]);
    let compose = "services:\n  web:\n    image: nginx\n    labels:\n      container.apparmor.security.beta.kubernetes.io/web: unconfined\n";
    ns.apply_stack("guarded", json!({"compose": compose})).await;
    wait::until(&ns.api::<ComposeStack>(), "guarded", |s| stalled_with(s, "allow-privileged")).await;
    assert!(ns.api::<Deployment>().get_opt("web").await.unwrap().is_none());
}
