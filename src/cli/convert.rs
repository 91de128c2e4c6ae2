use clap::{Args, ValueEnum};

use super::input::ComposeInput;
use crate::api::PublishedServiceType;
use crate::cli::policy_args::PolicyArgs;
use crate::translate;

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
    pub policy: PolicyArgs,
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

/// Translates and prints a `kind: List`; warnings and errors go to stderr. The Secrets the
/// stack refers to (secret files, secret env files, secret variables) come first in the
/// List: `stack` and `deploy` write them beside the ComposeStack, the operator only reads them.
pub fn run(args: &ConvertArgs) -> Result<String, String> {
    let mut project = args.input.project()?;
    project.spec.published_service_type = Some(args.published_service_type.into());
    project.spec.network_policies = args.no_network_policies.then_some(false);
    let translation = super::stack::checked(&mut project, &args.namespace, &args.policy.policy())?;
    let secrets = project.secret_manifests(Some(&args.namespace), None);
    let secrets = secrets.iter().map(super::project::manifest).collect::<Result<Vec<_>, _>>()?;
    print(secrets, &translation, args.output)
}

/// The Secrets and objects as the `kind: List` `convert` prints (the e2e suite dry-runs
/// exactly this text). The objects are written straight from their typed fields, as
/// k8s-openapi orders them (`apiVersion` and `kind` first, then the fields in name order):
/// building a JSON tree of 2,000 objects first cost more than the translation itself.
pub fn print(secrets: Vec<serde_json::Value>, translation: &translate::Translation, output: Output) -> Result<String, String> {
    let list = List { api_version: "v1", items: Items { secrets, translation }, kind: "List" };
    Ok(match output {
        Output::Json => serde_json::to_string_pretty(&list).map_err(|e| e.to_string())? + "\n",
        Output::Yaml => crate::yaml_writer::to_string(&list).map_err(|e| e.to_string())?,
    })
}

/// A `kind: List`, its keys in the order a JSON tree sorts them.
#[derive(serde::Serialize)]
struct List<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    items: Items<'a>,
    kind: &'static str,
}

/// The Secrets, then the translated objects.
struct Items<'a> {
    secrets: Vec<serde_json::Value>,
    translation: &'a translate::Translation,
}

impl serde::Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut items = serializer.serialize_seq(None)?;
        for secret in &self.secrets {
            items.serialize_element(secret)?;
        }
        for object in self.translation.objects() {
            items.serialize_element(&object)?;
        }
        items.end()
    }
}
