use clap::Args;

use super::input::ComposeInput;
use super::project::{Project, manifest};
use crate::api::ComposeStack;
use crate::cli::policy_args::PolicyArgs;
use crate::policy::Policy;
use crate::translate::Translation;
use kube::api::ObjectMeta;

#[derive(Debug, Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub input: ComposeInput,
    /// Put the manifest in this namespace (default: none, so `kubectl -n` decides).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// The policy the operator runs with: the stack is checked against it.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Wraps the compose project in a ComposeStack (project files packed in, secret material in
/// Secrets beside it), after checking that the operator with the given policy would accept
/// it, so a broken stack never reaches the cluster.
pub fn run(args: &StackArgs) -> Result<String, String> {
    let mut project = args.input.project()?;
    checked(&mut project, args.namespace.as_deref().unwrap_or("default"), &args.policy.policy())?;
    let mut output = String::new();
    // The Secrets first: the stack refers to them, and `kubectl apply -f -` applies in order.
    for secret in project.secret_manifests(args.namespace.as_deref(), None) {
        output.push_str(&crate::yaml_writer::to_string(&manifest(&secret)?).map_err(|e| e.to_string())?);
        output.push_str("---\n");
    }
    let stack = serde_json::to_value(stack_manifest(&project, args.namespace.as_deref())).map_err(|e| e.to_string())?;
    output.push_str(&crate::yaml_writer::to_string(&stack).map_err(|e| e.to_string())?);
    Ok(output)
}

pub fn stack_manifest(project: &Project, namespace: Option<&str>) -> ComposeStack {
    let metadata = ObjectMeta { name: Some(project.name.clone()), namespace: namespace.map(str::to_string), ..Default::default() };
    ComposeStack { metadata, spec: project.spec.clone(), status: None }
}

/// Translates the project as the operator would, printing what the user should know on
/// stderr; the errors, when it would refuse it.
pub fn checked(project: &mut Project, namespace: &str, policy: &Policy) -> Result<Translation, String> {
    for note in &project.notes {
        eprintln!("{note}");
    }
    let target = crate::pipeline::NamespaceSettings::default();
    let translation = match project.loaded.take() {
        Some(loaded) => crate::pipeline::translate_loaded(&project.name, namespace, &target, &project.spec, policy, loaded),
        None => crate::pipeline::translate(&project.name, namespace, &project.spec, policy),
    };
    let translation = translation.map_err(|e| e.to_string())?;
    for warning in &translation.warnings {
        eprintln!("warning: {warning}");
    }
    let packed = project.spec.files.len() + project.spec.binary_files.len();
    if packed > 0 {
        eprintln!("packed {packed} project files into spec.files");
    }
    for (secret, data) in &project.secrets {
        eprintln!("the Secret {secret} holds {} secret value(s) the stack refers to", data.len());
    }
    Ok(translation)
}
