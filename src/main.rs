use std::process::ExitCode;

use clap::Parser;
use compose_operator::cli::{self, Cli, CommandLine};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        CommandLine::Run(args) => return run_controller(args),
        CommandLine::Convert(args) => cli::convert::run(&args),
        CommandLine::Stack(args) => cli::stack::run(&args),
        CommandLine::Crd => Ok(cli::crd::render()),
    };
    match result {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli::EXIT_INVALID as u8)
        }
    }
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
