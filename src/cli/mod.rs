//! The `compose-operator` command line: `run` (the controller); `convert`, `stack` and `crd`
//! (offline); `deploy`, `ls`, `ps`, `logs` and `rm` (the swarm workflow against a cluster,
//! through ComposeStacks only: the CLI never creates workloads itself); `completion`, `man`.
//! Installed as `kubectl-compose` it is also a kubectl plugin (`kubectl compose ps`).

pub mod cluster;
pub mod convert;
pub mod crd;
pub mod deploy;
pub mod display;
pub mod docs;
pub mod failure;
pub mod input;
pub mod inspect;
pub mod logs;
pub mod pack;
pub mod policy_args;
pub mod project;
pub mod remove;
pub mod stack;

use clap::{Parser, Subcommand};

pub use failure::Failure;

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
    /// Apply a compose project as a ComposeStack and follow it until it is Ready (`docker stack deploy`).
    Deploy(deploy::DeployArgs),
    /// List the stacks, with services ready, status and age (`docker stack ls`).
    Ls(inspect::LsArgs),
    /// List a stack's services, or with --pods its pods (`docker service ls`, `docker stack ps`).
    Ps(inspect::PsArgs),
    /// Print the logs of a stack's pods, prefixed by service (`docker compose logs`).
    Logs(logs::LogsArgs),
    /// Delete a stack and everything it created; claims too with --volumes (`docker stack rm`).
    Rm(remove::RmArgs),
    /// Print the ComposeStack CustomResourceDefinition.
    Crd,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(docs::CompletionArgs),
    /// Write the man pages (one per command) into a directory.
    Man(docs::ManArgs),
}

/// The name the binary was started as decides how it presents itself: `kubectl-compose`
/// (a kubectl plugin) is `kubectl compose` in help, errors and completions.
pub fn invoked_name(argv0: Option<&std::ffi::OsStr>) -> &'static str {
    let file = argv0.and_then(|a| std::path::Path::new(a).file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if file.starts_with("kubectl-compose") { "kubectl compose" } else { "compose-operator" }
}

/// The clap definition under the name it was invoked as.
pub fn command(invoked: &'static str) -> clap::Command {
    let command = <Cli as clap::CommandFactory>::command();
    if invoked == "compose-operator" { command } else { command.name("kubectl-compose").bin_name(invoked).display_name(invoked) }
}
