//! `ls` (the stacks) and `ps` (a stack's services, or its pods): read from the ComposeStacks'
//! status and the objects they own, printed as kubectl prints tables.

use std::collections::BTreeMap;

use clap::Args;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, Service};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::cluster::{ClusterArgs, list};
use super::display::{age, port_mapping, table};
use super::failure::Failure;
use crate::api::ComposeStack;
use crate::object::WorkloadKind;
use crate::translate::names;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Stacks in every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// The stack (default: the project name of the compose file here, as `deploy` names it).
    #[arg(value_name = "STACK")]
    pub stack: Option<String>,
    /// List the pods (node, state, restarts, age) instead of the services.
    #[arg(long)]
    pub pods: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub async fn ls(args: &LsArgs) -> Result<String, Failure> {
    let connection = args.cluster.connect().await?;
    let api: Api<ComposeStack> =
        if args.all_namespaces { Api::all(connection.client.clone()) } else { Api::namespaced(connection.client.clone(), &connection.namespace) };
    let stacks = api.list(&ListParams::default()).await?.items;
    if stacks.is_empty() {
        let place = if args.all_namespaces { "any namespace".to_string() } else { format!("namespace {}", connection.namespace) };
        eprintln!("No stacks found in {place}.");
        return Ok(String::new());
    }
    Ok(stack_table(&stacks, args.all_namespaces, Timestamp::now()))
}

/// NAME, SERVICES (ready/total), STATUS, AGE — the columns of `kubectl get stack`.
pub fn stack_table(stacks: &[ComposeStack], with_namespace: bool, now: Timestamp) -> String {
    let mut rows: Vec<Vec<String>> = stacks
        .iter()
        .map(|stack| {
            let status = stack.status.clone().unwrap_or_default();
            let mut row = vec![
                stack.name_any(),
                status.ready_services.unwrap_or_else(|| "-".into()),
                status.phase.unwrap_or_else(|| "Pending".into()),
                created(stack.metadata.creation_timestamp.as_ref(), now),
            ];
            if with_namespace {
                row.insert(0, stack.namespace().unwrap_or_default());
            }
            row
        })
        .collect();
    rows.sort();
    let header: &[&str] = if with_namespace { &["NAMESPACE", "NAME", "SERVICES", "STATUS", "AGE"] } else { &["NAME", "SERVICES", "STATUS", "AGE"] };
    table(header, &rows)
}

fn created(time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>, now: Timestamp) -> String {
    time.map(|t| age(now.duration_since(t.0).unsigned_abs())).unwrap_or_else(|| "-".into())
}

pub async fn ps(args: &PsArgs) -> Result<String, Failure> {
    let name = super::input::stack_name_here(args.stack.as_deref()).map_err(Failure::Invalid)?;
    let connection = args.cluster.connect().await?;
    let client = connection.client.clone();
    let namespace = connection.namespace.as_str();
    let selector = ListParams::default().labels(&format!("{}={name}", names::STACK));
    let stack = Api::<ComposeStack>::namespaced(client.clone(), namespace).get_opt(&name).await?;
    let Some(stack) = stack else {
        return Err(Failure::Cluster(format!("no stack {name} in namespace {namespace}")));
    };
    if args.pods {
        let pods = Api::<Pod>::namespaced(client, namespace).list(&selector).await?.items;
        return Ok(pod_table(&pods, Timestamp::now()));
    }
    let (deployments, stateful_sets, daemon_sets, jobs, services) = futures::try_join!(
        list::<Deployment>(&client, namespace, &selector),
        list::<StatefulSet>(&client, namespace, &selector),
        list::<DaemonSet>(&client, namespace, &selector),
        list::<Job>(&client, namespace, &selector),
        list::<Service>(&client, namespace, &selector),
    )?;
    let mut images = BTreeMap::new();
    let templates = deployments
        .iter()
        .map(|d| (d.labels(), Some(&d.spec.template)))
        .chain(stateful_sets.iter().map(|s| (s.labels(), Some(&s.spec.template))))
        .chain(daemon_sets.iter().map(|d| (d.labels(), Some(&d.spec.template))))
        .chain(jobs.iter().map(|j| (j.labels(), j.spec.as_ref().map(|s| &s.template))));
    for (labels, template) in templates {
        if let (Some(service), Some(image)) = (labels.get(names::SERVICE), template.and_then(image_of)) {
            images.insert(service.clone(), image);
        }
    }
    Ok(service_table(&stack, &images, &services))
}

/// The image of a pod template's first container, `+N` for the others.
fn image_of(template: &PodTemplateSpec) -> Option<String> {
    let containers = &template.spec.as_ref()?.containers;
    let first = containers.first()?.image.clone()?;
    Some(if containers.len() > 1 { format!("{first} +{}", containers.len() - 1) } else { first })
}

/// One row per compose service: NAME, KIND, IMAGE, REPLICAS (ready/desired), PORTS, MESSAGE.
pub fn service_table(stack: &ComposeStack, images: &BTreeMap<String, String>, services: &[Service]) -> String {
    let status = stack.status.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = status
        .services
        .iter()
        .map(|service| {
            let ready = if service.kind == WorkloadKind::Job { service.succeeded } else { service.ready_replicas };
            let replicas = format!("{}/{}", ready.unwrap_or(0), service.desired_replicas.unwrap_or(0));
            let published = names::published_service_name(&service.name);
            let ports = services.iter().find(|s| s.metadata.name.as_deref() == Some(published.as_str())).map(ports_of).unwrap_or_default();
            let message = if service.ready { String::new() } else { service.message.clone().unwrap_or_default() };
            vec![service.name.clone(), service.kind.to_string(), images.get(&service.name).cloned().unwrap_or_default(), replicas, ports, message]
        })
        .collect();
    table(&["NAME", "KIND", "IMAGE", "REPLICAS", "PORTS", "MESSAGE"], &rows)
}

/// Every port of a published Service, comma-separated.
fn ports_of(service: &Service) -> String {
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports.into_iter().flatten().map(port_mapping).collect::<Vec<_>>().join(",")
}

/// NAME, SERVICE, NODE, STATE, RESTARTS, AGE — `docker stack ps`, in kubectl's words.
pub fn pod_table(pods: &[Pod], now: Timestamp) -> String {
    let mut rows: Vec<Vec<String>> = pods
        .iter()
        .map(|pod| {
            let status = pod.status.clone().unwrap_or_default();
            let containers = status.container_statuses.clone().unwrap_or_default();
            let restarts: i32 = containers.iter().map(|c| c.restart_count).sum();
            vec![
                pod.name_any(),
                pod.labels().get(names::SERVICE).cloned().unwrap_or_default(),
                pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_else(|| "<none>".into()),
                pod_state(pod),
                restarts.to_string(),
                created(pod.metadata.creation_timestamp.as_ref(), now),
            ]
        })
        .collect();
    rows.sort_by(|a, b| (&a[1], &a[0]).cmp(&(&b[1], &b[0])));
    table(&["NAME", "SERVICE", "NODE", "STATE", "RESTARTS", "AGE"], &rows)
}

/// The STATUS kubectl shows: Terminating, a container's waiting or terminated reason, else the phase.
fn pod_state(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    let reason = containers.filter_map(|c| c.state.as_ref()).find_map(|state| {
        let waiting = state.waiting.as_ref().and_then(|w| w.reason.clone());
        waiting.or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()).filter(|r| r != "Completed"))
    });
    reason.or(status.phase).unwrap_or_else(|| "Unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn ls_and_ps_tables() {
        let stack: ComposeStack = serde_json::from_value(json!({
            "apiVersion": "compose-operator.dev/v1alpha1", "kind": "ComposeStack",
            "metadata": {"name": "shop", "namespace": "prod", "creationTimestamp": "2026-01-01T00:15:00Z"},
            "spec": {"compose": ""},
            "status": {"phase": "Reconciling", "readyServices": "1/2", "services": [
                {"name": "web", "kind": "Deployment", "desiredReplicas": 3, "readyReplicas": 1, "ready": false, "message": "1/3 replicas ready"},
                {"name": "migrate", "kind": "Job", "desiredReplicas": 1, "succeeded": 1, "ready": true},
            ]},
        }))
        .unwrap();
        insta::assert_snapshot!(stack_table(std::slice::from_ref(&stack), true, now()), @r"
        NAMESPACE   NAME   SERVICES   STATUS        AGE
        prod        shop   1/2        Reconciling   45m
        ");
        let published: Service = serde_json::from_value(json!({
            "metadata": {"name": "web-published"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 4000, "targetPort": 80, "protocol": "TCP"}, {"port": 53, "targetPort": 53, "protocol": "UDP"}]},
        }))
        .unwrap();
        let images = BTreeMap::from([("web".to_string(), "nginx:1.27".to_string()), ("migrate".to_string(), "app:7 +1".to_string())]);
        insta::assert_snapshot!(service_table(&stack, &images, &[published]), @r"
        NAME      KIND         IMAGE        REPLICAS   PORTS                     MESSAGE
        web       Deployment   nginx:1.27   1/3        4000->80/tcp,53->53/udp   1/3 replicas ready
        migrate   Job          app:7 +1     1/1
        ");
    }

    #[test]
    fn ps_pods_table() {
        let pod = |name: &str, service: &str, node: Option<&str>, status: serde_json::Value| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"compose-operator.dev/service": service}, "creationTimestamp": "2026-01-01T00:59:30Z"},
                "spec": {"containers": [{"name": service}], "nodeName": node},
                "status": status,
            }))
            .unwrap()
        };
        let pods = [
            pod(
                "web-7c9-b",
                "web",
                Some("node-1"),
                json!({"phase": "Running", "containerStatuses": [{"name": "web", "image": "", "imageID": "", "ready": true, "restartCount": 2, "state": {"running": {}}}]}),
            ),
            pod("web-7c9-a", "web", None, json!({"phase": "Pending"})),
            pod(
                "db-0",
                "db",
                Some("node-2"),
                json!({"phase": "Pending", "containerStatuses": [{"name": "db", "image": "", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
            ),
        ];
        insta::assert_snapshot!(pod_table(&pods, now()), @r"
        NAME        SERVICE   NODE     STATE              RESTARTS   AGE
        db-0        db        node-2   ImagePullBackOff   0          30s
        web-7c9-a   web       <none>   Pending            0          30s
        web-7c9-b   web       node-1   Running            2          30s
        ");
    }
}
