//! How a command fails: the exit codes scripts and CI pipelines rely on. A leaf, so that every
//! command can return it without importing the command line that dispatches to them.

/// Why a command failed, and the exit code that says so to a script or CI pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 1: the compose project was refused (nothing was sent to the cluster).
    Invalid(String),
    /// 3: the cluster could not be reached, or refused a request (RBAC, missing CRD, not found).
    Cluster(String),
    /// 4: the operator stalled the stack (invalid for its policy, a name conflict, refused by
    /// the API server, a failed Job): only a change of the stack can help.
    Stalled(String),
    /// 5: the stack was not Ready (or not gone) before `--timeout`.
    TimedOut(String),
}

/// Exit codes: 0 fine, 1 the input was refused, 2 usage (clap's own), 3 the cluster, 4 the
/// stack stalled, 5 timed out. README.md documents them; CI pipelines rely on them.
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_CLUSTER: u8 = 3;
pub const EXIT_STALLED: u8 = 4;
pub const EXIT_TIMED_OUT: u8 = 5;

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => EXIT_INVALID,
            Failure::Cluster(_) => EXIT_CLUSTER,
            Failure::Stalled(_) => EXIT_STALLED,
            Failure::TimedOut(_) => EXIT_TIMED_OUT,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Invalid(message) | Failure::Cluster(message) | Failure::Stalled(message) | Failure::TimedOut(message) => message,
        }
    }
}
