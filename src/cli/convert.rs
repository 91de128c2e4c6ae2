use clap::{Args, ValueEnum};
use serde::Serialize;

use super::input::{ComposeInput, ProjectSpec};
use crate::api::PublishedServiceType;
use crate::build::{self, Policy};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: ComposeInput,
    /// The namespace the objects are meant for.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The Service type for published ports.
    #[arg(long, value_enum, default_value = "load-balancer")]
    pub published_service_type: ServiceType,
    /// Emit no NetworkPolicies (`spec.networkPolicies: false`): compose networks then do not isolate.
    #[arg(long)]
    pub no_network_policies: bool,
    #[command(flatten)]
    pub policy: Policy,
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ServiceType {
    LoadBalancer,
    NodePort,
    ClusterIp,
}

impl From<ServiceType> for PublishedServiceType {
    fn from(value: ServiceType) -> Self {
        match value {
            ServiceType::LoadBalancer => PublishedServiceType::LoadBalancer,
            ServiceType::NodePort => PublishedServiceType::NodePort,
            ServiceType::ClusterIp => PublishedServiceType::ClusterIP,
        }
    }
}

/// Translates and prints a `kind: List`; warnings and errors go to stderr.
pub fn run(args: &ConvertArgs) -> Result<String, String> {
    // The secret files travel in the Secret `stack` prints; convert only refers to it.
    let ProjectSpec { mut spec, skipped, .. } = args.input.project_spec()?;
    spec.published_service_type = Some(args.published_service_type.into());
    spec.network_policies = args.no_network_policies.then_some(false);
    for reason in &skipped {
        eprintln!("not packed: {reason}");
    }
    let translation = build::translate(&args.input.stack_name(), &args.namespace, &spec, &args.policy).map_err(|e| e.to_string())?;
    for warning in &translation.warnings {
        eprintln!("warning: {warning}");
    }
    let list = List { api_version: "v1", items: translation.objects().collect(), kind: "List" };
    let printed = match args.output {
        Output::Json => serde_json::to_string_pretty(&list).map_err(|e| e.to_string())? + "\n",
        Output::Yaml => serde_yaml::to_string(&list).map_err(|e| e.to_string())?,
    };
    // The process ends once this is printed: freeing every object one by one first is work
    // the exit does anyway (measurable on large stacks; docs/performance.md).
    std::mem::forget(translation);
    Ok(printed)
}

/// A `kind: List`, serialized from the typed objects directly (no JSON tree in between),
/// keys in the order `kubectl` and the JSON tree printed them.
#[derive(Serialize)]
struct List<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    items: Vec<&'a build::Object>,
    kind: &'static str,
}
