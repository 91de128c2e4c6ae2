//! Records what a test's translations print, to files, when `TRANSLATION_RECORD_DIR` is set:
//! a change that must not alter any output (a refactoring) is then checked byte for byte by
//! e2e/compare-translations.sh, which records two revisions and compares the folders.
//! Without the variable nothing is written.

use std::path::PathBuf;

pub const VARIABLE: &str = "TRANSLATION_RECORD_DIR";

/// Whether this run records (so tests skip the extra rendering otherwise).
pub fn recording() -> bool {
    std::env::var_os(VARIABLE).is_some()
}

/// Writes `output` as `<dir>/<group>/<name>.txt`; `/` in the name becomes `__`.
pub fn record(group: &str, name: &str, output: &str) {
    let Some(dir) = std::env::var_os(VARIABLE).map(PathBuf::from) else { return };
    let dir = dir.join(group);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let file = dir.join(format!("{}.txt", name.replace('/', "__")));
    std::fs::write(&file, output).unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
}
