//! The conformance corpus, shared by the offline test (tests/conformance.rs) and the
//! real-cluster one (e2e/tests/conformance.rs).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    std::env::var_os("COMPOSE_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/kompose"))
}

/// Every compose file below `dir`, sorted.
pub fn compose_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    collect(dir, &mut found);
    found
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, found);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            found.push(path);
        }
    }
}

pub fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root).unwrap_or(file).display().to_string()
}

/// `--image` for every service that has `build:` and no `image:`: what a pipeline that
/// pushed the image would pass. The registry does not exist; kwok never pulls.
pub fn stand_in_images(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let Ok(document) = serde_saphyr::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    let Some(services) = document.get("services").and_then(|s| s.as_object()) else { return Vec::new() };
    services
        .iter()
        .filter(|(_, service)| service.get("build").is_some() && service.get("image").is_none())
        .map(|(name, _)| (name.clone(), format!("registry.invalid/corpus/{}:latest", name.to_lowercase())))
        .collect()
}
