use std::process::ExitCode;

use clap::Parser;
use compose_operator::cli::{self, Cli, CommandLine};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        CommandLine::Convert(args) => cli::convert::run(args),
        CommandLine::Stack(args) => cli::stack::run(args),
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
