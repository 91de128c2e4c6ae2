//! The `compose-operator` command line: `run` (the controller), `convert`, `stack`, `crd`.

pub mod convert;
pub mod crd;
pub mod input;
pub mod pack;
pub mod stack;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "compose-operator", version, about = "Run docker-compose stacks on Kubernetes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: CommandLine,
}

#[derive(Debug, Subcommand)]
pub enum CommandLine {
    /// Run the controller: reconcile ComposeStacks into workloads, Services and volumes.
    Run(crate::controller::RunArgs),
    /// Print the Kubernetes objects a compose file becomes, exactly as the controller applies them.
    Convert(convert::ConvertArgs),
    /// Print a ComposeStack manifest wrapping a compose file, ready for `kubectl apply -f -`.
    Stack(stack::StackArgs),
    /// Print the ComposeStack CustomResourceDefinition.
    Crd,
}

/// Exit codes: 0 fine, 1 the input was refused, 2 usage (clap's own).
pub const EXIT_INVALID: i32 = 1;
