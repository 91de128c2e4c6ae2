use std::collections::BTreeMap;

use clap::Args;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use super::input::{ComposeInput, ProjectSpec};
use crate::api::ComposeStack;
use crate::build::{self, Policy, names};

#[derive(Debug, Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub input: ComposeInput,
    /// Put the manifest in this namespace (default: none, so `kubectl -n` decides).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Wraps the compose project in a ComposeStack (project files packed in, secret files in a
/// Secret beside it), after checking that the operator with its default policy would accept
/// it, so a broken stack never reaches the cluster.
pub fn run(args: &StackArgs) -> Result<String, String> {
    let ProjectSpec { spec, secret_files, env_secrets, skipped } = args.input.project_spec()?;
    let name = args.input.stack_name();
    for reason in &skipped {
        eprintln!("not packed: {reason}");
    }
    let secret = |secret_name: String, data: BTreeMap<String, Vec<u8>>| Secret {
        metadata: ObjectMeta {
            name: Some(secret_name),
            namespace: args.namespace.clone(),
            labels: Some(names::object_labels(&name, None)),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data.into_iter().map(|(key, bytes)| (key, ByteString(bytes))).collect()),
        ..Default::default()
    };
    let env_secrets =
        env_secrets.into_iter().map(|(secret_name, variables)| secret(secret_name, variables.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()));
    let secrets: Vec<Secret> = spec.secret_files.clone().map(|secret_name| secret(secret_name, secret_files)).into_iter().chain(env_secrets).collect();
    let translation = build::translate(&name, args.namespace.as_deref().unwrap_or("default"), &spec, &Policy::default()).map_err(|e| e.to_string())?;
    for warning in &translation.warnings {
        eprintln!("warning: {warning}");
    }
    if !spec.files.is_empty() || !spec.binary_files.is_empty() {
        eprintln!("packed {} project files into spec.files", spec.files.len() + spec.binary_files.len());
    }
    let stack = ComposeStack { metadata: ObjectMeta { name: Some(name), namespace: args.namespace.clone(), ..Default::default() }, spec, status: None };
    let mut output = String::new();
    for secret in secrets {
        // The Secrets first: the stack refers to them, and `kubectl apply -f -` applies in order.
        let mut value = serde_json::to_value(&secret).map_err(|e| e.to_string())?;
        value["apiVersion"] = "v1".into();
        value["kind"] = "Secret".into();
        output.push_str(&crate::yaml_writer::to_string(&value));
        output.push_str("---\n");
    }
    output.push_str(&crate::yaml_writer::to_string(&serde_json::to_value(&stack).map_err(|e| e.to_string())?));
    Ok(output)
}
