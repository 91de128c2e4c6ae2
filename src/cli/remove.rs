//! `rm`: deletes a ComposeStack; Kubernetes' garbage collector removes what it owns (the
//! operator's objects and the CLI's Secrets). Claims outlive it (`retainOnDelete`) unless
//! `--volumes`, like `docker compose down -v`.

use std::time::Duration;

use clap::Args;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, ListParams};

use super::cluster::{ClusterArgs, list};
use super::deploy::parse_duration;
use super::failure::Failure;
use crate::api::ComposeStack;
use crate::translate::names;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The stack (default: the project name of the compose file here).
    #[arg(value_name = "STACK")]
    pub stack: Option<String>,
    /// Delete the stack's PersistentVolumeClaims too, and with them its data.
    #[arg(long)]
    pub volumes: bool,
    /// Wait until the stack's objects and pods are gone.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub async fn run(args: &RmArgs) -> Result<String, Failure> {
    let name = super::input::stack_name_here(args.stack.as_deref()).map_err(Failure::Invalid)?;
    let connection = args.cluster.connect().await?;
    let client = connection.client.clone();
    let namespace = connection.namespace.as_str();
    let stacks: Api<ComposeStack> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("{}={name}", names::STACK));
    let existed = match stacks.delete(&name, &DeleteParams::background()).await {
        Ok(_) => true,
        Err(kube::Error::Api(status)) if status.code == 404 => false,
        Err(error) => return Err(error.into()),
    };
    // Secrets `stack | kubectl apply` wrote have no owner for the garbage collector to follow.
    let stack_secrets = ListParams::default().labels(&format!("{}={name},{}={}", names::STACK, names::MANAGED_BY, names::OPERATOR));
    Api::<Secret>::namespaced(client.clone(), namespace).delete_collection(&DeleteParams::background(), &stack_secrets).await?;
    let mut said = if existed { format!("stack {name} deleted from namespace {namespace}\n") } else { format!("no stack {name} in namespace {namespace}\n") };
    if args.volumes {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
        let deleted = claims.delete_collection(&DeleteParams::background(), &selector).await?;
        let count = deleted.left().map(|list| list.items.len());
        said.push_str(&match count {
            Some(count) => format!("{count} claim(s) deleted, with their data\n"),
            None => "claims deleted, with their data\n".to_string(),
        });
    }
    if !existed && !args.volumes {
        return Err(Failure::Cluster(said.trim_end().to_string()));
    }
    if args.wait {
        let deadline = tokio::time::Instant::now() + args.timeout;
        while let Some(left) = remaining(&client, namespace, &name, &selector, args.volumes).await? {
            if tokio::time::Instant::now() >= deadline {
                return Err(Failure::TimedOut(format!("{said}still there after {:?}: {left}", args.timeout)));
            }
            // Deletion has no single object to watch (the stack is gone first); poll the lists.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        said.push_str("everything is gone\n");
    }
    Ok(said)
}

/// What of the stack is still there, e.g. `2 pods, 1 Deployment`; `None` when nothing is.
async fn remaining(client: &kube::Client, namespace: &str, name: &str, selector: &ListParams, claims: bool) -> Result<Option<String>, Failure> {
    let stack = Api::<ComposeStack>::namespaced(client.clone(), namespace).get_opt(name).await?.map_or(0, |_| 1);
    let counts = futures::try_join!(
        count::<Pod>(client, namespace, selector),
        count::<Deployment>(client, namespace, selector),
        count::<StatefulSet>(client, namespace, selector),
        count::<DaemonSet>(client, namespace, selector),
        count::<Job>(client, namespace, selector),
        count::<Service>(client, namespace, selector),
        count::<ConfigMap>(client, namespace, selector),
        count::<Secret>(client, namespace, selector),
    )?;
    let claims = if claims { count::<PersistentVolumeClaim>(client, namespace, selector).await? } else { 0 };
    let (pods, deployments, stateful_sets, daemon_sets, jobs, services, config_maps, secrets) = counts;
    let named = [
        (stack, "ComposeStack"),
        (pods, "pods"),
        (deployments, "Deployments"),
        (stateful_sets, "StatefulSets"),
        (daemon_sets, "DaemonSets"),
        (jobs, "Jobs"),
        (services, "Services"),
        (config_maps, "ConfigMaps"),
        (secrets, "Secrets"),
        (claims, "claims"),
    ];
    let left: Vec<String> = named.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    Ok((!left.is_empty()).then(|| left.join(", ")))
}

async fn count<K>(client: &kube::Client, namespace: &str, selector: &ListParams) -> Result<usize, kube::Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    Ok(list::<K>(client, namespace, selector).await?.len())
}
