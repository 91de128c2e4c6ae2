//! The reference loader: e2e/tools/compose-oracle (compose-spec/compose-go, what `docker
//! compose config` is built on), built and cached by e2e/build-oracle.sh.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value as Json;

use super::corpus::{Project, skipped};

pub const VARIABLE: &str = "COMPOSE_ORACLE";

/// The oracle binary: `$COMPOSE_ORACLE` (which must exist: CI sets it to have the test run),
/// else the one e2e/build-oracle.sh built, else `None` with the reason printed.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(VARIABLE).map(PathBuf::from) {
        assert!(path.is_file(), "{VARIABLE}={} is not a file; build it with `bash e2e/build-oracle.sh`", path.display());
        return Some(path);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/build-oracle.sh");
    let printed = Command::new("bash").arg(&script).arg("--print-path").output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&printed.stdout).trim());
    if path.is_file() {
        return Some(path);
    }
    skipped(&format!(
        "SKIPPED: the compose-go oracle is not built ({} is missing); build it with `bash e2e/build-oracle.sh` \
         (Go and the Go module proxy) or point {VARIABLE} at it to run the differential test",
        path.display()
    ));
    None
}

/// What compose-go makes of a project: `Ok(project JSON)` or `Err(its error)`.
pub fn load(oracle: &PathBuf, project: &Project) -> Result<Json, String> {
    let mut command = Command::new(oracle);
    command.env_clear();
    command.arg(&project.file);
    command.args(&project.overrides);
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", oracle.display()));
    let verdict: Json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the oracle printed no verdict for {} ({e}): {}", project.name, String::from_utf8_lossy(&output.stderr)));
    match (verdict.get("project"), verdict.get("error")) {
        (Some(project), _) => Ok(project.clone()),
        (None, Some(error)) => Err(error.as_str().unwrap_or_default().to_string()),
        _ => panic!("the oracle's verdict for {} has neither project nor error: {verdict}", project.name),
    }
}
