use clap::Args;
use kube::api::ObjectMeta;

use super::input::ComposeInput;
use crate::api::{ComposeStack, ComposeStackSpec};
use crate::build::{self, Policy};

#[derive(Debug, Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub input: ComposeInput,
    /// Put the manifest in this namespace (default: none, so `kubectl -n` decides).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// Wraps the compose file in a ComposeStack, after checking that the operator (with its
/// default policy) would accept it, so a broken stack never reaches the cluster.
pub fn run(args: &StackArgs) -> Result<String, String> {
    let spec = ComposeStackSpec {
        compose: args.input.read_compose()?,
        overrides: args.input.read_overrides()?,
        variables: args.input.variables(),
        profiles: args.input.profiles.clone(),
        ..Default::default()
    };
    let name = args.input.stack_name();
    let translation = build::translate(&name, args.namespace.as_deref().unwrap_or("default"), &spec, &Policy::default()).map_err(|e| e.to_string())?;
    for warning in &translation.warnings {
        eprintln!("warning: {warning}");
    }
    let stack = ComposeStack {
        metadata: ObjectMeta { name: Some(name), namespace: args.namespace.clone(), ..Default::default() },
        spec,
        status: None,
    };
    serde_yaml::to_string(&stack).map_err(|e| e.to_string())
}
