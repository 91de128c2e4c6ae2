use std::process::ExitCode;

use clap::FromArgMatches;
use compose_operator::cli::{self, Cli, CommandLine, Failure};

fn main() -> ExitCode {
    // Installed as `kubectl-compose`, the binary is the kubectl plugin `kubectl compose`.
    let invoked = cli::invoked_name(std::env::args_os().next().as_deref());
    let matches = cli::command(invoked).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let result = match cli.command {
        CommandLine::Run(args) => return run_controller(args),
        CommandLine::Convert(args) => cli::convert::run(&args).map_err(Failure::Invalid),
        CommandLine::Stack(args) => cli::stack::run(&args).map_err(Failure::Invalid),
        CommandLine::Crd => Ok(cli::crd::render()),
        CommandLine::Completion(args) => Ok(cli::docs::completion(&args, cli::command(invoked))),
        CommandLine::Man(args) => cli::docs::man(&args, cli::command(invoked)).map_err(Failure::Invalid),
        CommandLine::Deploy(args) => on_runtime(cli::deploy::run(&args)),
        CommandLine::Ls(args) => on_runtime(cli::inspect::ls(&args)),
        CommandLine::Ps(args) => on_runtime(cli::inspect::ps(&args)),
        CommandLine::Logs(args) => on_runtime(cli::logs::run(&args)),
        CommandLine::Rm(args) => on_runtime(cli::remove::run(&args)),
    };
    match result {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("error: {}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// The cluster commands are async (kube's client); one runtime per invocation.
fn on_runtime(command: impl std::future::Future<Output = Result<String, Failure>>) -> Result<String, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Cluster(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(command)
}

fn run_controller(args: compose_operator::controller::RunArgs) -> ExitCode {
    compose_operator::controller::init_logging(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(compose_operator::controller::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stopped");
            ExitCode::FAILURE
        }
    }
}
