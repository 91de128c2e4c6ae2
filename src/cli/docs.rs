//! Shell completions and man pages, generated from the clap definition so they never
//! disagree with the commands (clap_complete, clap_mangen).

use std::path::PathBuf;

use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write `compose-operator.1`, `compose-operator-deploy.1`, ...
    #[arg(value_name = "DIRECTORY")]
    pub directory: PathBuf,
}

/// The completion script for the command as it was invoked (`kubectl-compose` too:
/// `cli::command` names it).
pub fn completion(args: &CompletionArgs, mut command: clap::Command) -> String {
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// One page for the command and one per subcommand; returns the files written.
pub fn man(args: &ManArgs, command: clap::Command) -> Result<String, String> {
    std::fs::create_dir_all(&args.directory).map_err(|e| format!("cannot create {}: {e}", args.directory.display()))?;
    clap_mangen::generate_to(command, &args.directory).map_err(|e| format!("cannot write the man pages into {}: {e}", args.directory.display()))?;
    let mut written: Vec<String> = std::fs::read_dir(&args.directory)
        .map_err(|e| e.to_string())?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".1"))
        .collect();
    written.sort();
    Ok(written.iter().map(|name| format!("{}\n", args.directory.join(name).display())).collect())
}
