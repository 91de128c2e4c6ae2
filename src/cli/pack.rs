//! `compose-operator stack` run in a project directory: reads the files the compose
//! document refers to (bind-mounted project files and directories, `configs: file:`,
//! `env_file`) into `spec.files`, and secret files (`secrets: file:`) into a separate
//! Secret, so that a stack written for a developer's machine deploys without edits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::build::project_files;
use crate::compose::model::{ComposeFile, VolumeMount};

/// One file larger than this is not packed (a ConfigMap holds at most ~1 MiB).
const MAX_FILE_BYTES: u64 = 512 * 1024;
/// All packed files together; the ComposeStack must stay well inside etcd's object limit.
const MAX_TOTAL_BYTES: u64 = 768 * 1024;
/// A directory with more files than this is source code or data, not configuration.
const MAX_DIRECTORY_FILES: usize = 100;
/// Directories that mark source trees and dependency caches, which belong in the image.
const SOURCE_MARKERS: [&str; 5] = [".git", "node_modules", "vendor", "__pycache__", "target"];

/// What was packed, and what could not be.
#[derive(Debug, Default)]
pub struct Packed {
    pub files: BTreeMap<String, String>,
    pub binary_files: BTreeMap<String, String>,
    pub directories: Vec<String>,
    /// Secret files by their key in the Secret (see `project_files::key`).
    pub secret_files: BTreeMap<String, Vec<u8>>,
    /// Paths not packed, with the reason.
    pub skipped: Vec<String>,
    total: u64,
}

/// The project paths a compose file refers to, each once.
#[derive(Debug, Default, PartialEq)]
pub struct References {
    pub files_or_directories: Vec<String>,
    pub secrets: Vec<String>,
}

pub fn references(file: &ComposeFile) -> References {
    let mut references = References::default();
    let add = |list: &mut Vec<String>, path: &str| {
        if let Ok(normalized) = project_files::normalize(path)
            && !list.contains(&normalized)
        {
            list.push(normalized);
        }
    };
    for service in file.services.values() {
        for mount in &service.volumes {
            if let Some(source) = relative_bind_source(mount) {
                add(&mut references.files_or_directories, source);
            }
        }
        for env_file in &service.env_file {
            add(&mut references.files_or_directories, &env_file.path);
        }
    }
    for config in file.configs.values() {
        if let Some(path) = &config.file {
            add(&mut references.files_or_directories, path);
        }
    }
    for secret in file.secrets.values() {
        if let Some(path) = &secret.file {
            add(&mut references.secrets, path);
        }
    }
    references
}

fn relative_bind_source(mount: &VolumeMount) -> Option<&str> {
    let source = mount.source.as_deref().filter(|_| mount.kind == "bind")?;
    (source.starts_with('.') && !source.starts_with("..")).then_some(source)
}

pub fn pack(project: &Path, references: &References) -> Packed {
    let mut packed = Packed::default();
    for path in &references.files_or_directories {
        let full = project.join(path);
        if full.is_dir() {
            packed.directory(project, path);
        } else {
            packed.file(project, path, false);
        }
    }
    for path in &references.secrets {
        packed.file(project, path, true);
    }
    packed
}

impl Packed {
    fn file(&mut self, project: &Path, path: &str, secret: bool) {
        match read(&project.join(path)) {
            Err(reason) => self.skipped.push(format!("{path}: {reason}")),
            Ok(bytes) if !secret && self.total + bytes.len() as u64 > MAX_TOTAL_BYTES => {
                self.skipped.push(format!("{path}: the packed files would exceed {MAX_TOTAL_BYTES} bytes"));
            }
            Ok(bytes) => {
                if secret {
                    self.secret_files.insert(project_files::key(path), bytes);
                    return;
                }
                self.total += bytes.len() as u64;
                match String::from_utf8(bytes) {
                    Ok(text) => self.files.insert(path.to_string(), text),
                    Err(bytes) => self.binary_files.insert(path.to_string(), base64::engine::general_purpose::STANDARD.encode(bytes.into_bytes())),
                };
            }
        }
    }

    /// Packs a directory whole, or not at all: a partial copy would hide what the image has.
    fn directory(&mut self, project: &Path, path: &str) {
        let mut found = Vec::new();
        if let Err(reason) = walk(&project.join(path), Path::new(""), &mut found) {
            self.skipped.push(format!("{path}/: {reason}"));
            return;
        }
        let size: u64 = found.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        if self.total + size > MAX_TOTAL_BYTES {
            self.skipped.push(format!("{path}/: {size} bytes would exceed the {MAX_TOTAL_BYTES} bytes a stack carries"));
            return;
        }
        for (relative, bytes) in found {
            let joined = if path.is_empty() { relative.display().to_string() } else { format!("{path}/{}", relative.display()) };
            self.total += bytes.len() as u64;
            match String::from_utf8(bytes) {
                Ok(text) => self.files.insert(joined, text),
                Err(bytes) => self.binary_files.insert(joined, base64::engine::general_purpose::STANDARD.encode(bytes.into_bytes())),
            };
        }
        self.directories.push(path.to_string());
    }
}

/// A secret env file's variables (a bare `KEY` has no value to keep, so it is left out).
pub fn env_file(project: &Path, path: &str) -> Result<BTreeMap<String, String>, String> {
    let bytes = read(&project.join(path)).map_err(|reason| format!("the secret env file {path}: {reason}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the secret env file {path} is not text"))?;
    let entries = crate::compose::dotenv::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(entries.into_iter().filter_map(|(key, value)| Some((key, value?))).collect())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read it ({e})"))?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes; files over {MAX_FILE_BYTES} bytes belong in the image or on a volume", metadata.len()));
    }
    std::fs::read(path).map_err(|e| format!("cannot read it ({e})"))
}

fn walk(directory: &Path, relative: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(directory).map_err(|e| format!("cannot read it ({e})"))?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if SOURCE_MARKERS.iter().any(|marker| name == *marker) {
            return Err(format!("it holds {}, so it looks like source code: the image should hold it (spec.bindMounts: Drop)", name.to_string_lossy()));
        }
        let path = entry.path();
        let relative = relative.join(&name);
        if path.is_dir() {
            walk(&path, &relative, found)?;
        } else {
            found.push((relative.clone(), read(&path).map_err(|reason| format!("{}: {reason}", relative.display()))?));
        }
        if found.len() > MAX_DIRECTORY_FILES {
            return Err(format!("more than {MAX_DIRECTORY_FILES} files: source code or data, which belong in the image or on a volume"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("compose-operator-pack-{}-{}", std::process::id(), line!()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf/sub")).unwrap();
        std::fs::create_dir_all(dir.join("src/.git")).unwrap();
        std::fs::write(dir.join("conf/a.conf"), "a").unwrap();
        std::fs::write(dir.join("conf/sub/logo.bin"), [0xff, 0xfe, 0x00]).unwrap();
        std::fs::write(dir.join("password.txt"), "hunter2").unwrap();
        std::fs::write(dir.join("src/main.py"), "print()").unwrap();
        dir
    }

    #[test]
    fn packs_files_directories_and_secrets_and_says_what_it_skipped() {
        let dir = project();
        let references = References { files_or_directories: vec!["conf".into(), "src".into(), "missing.env".into()], secrets: vec!["password.txt".into()] };
        let packed = pack(&dir, &references);
        assert_eq!(packed.files, BTreeMap::from([("conf/a.conf".to_string(), "a".to_string())]));
        assert_eq!(packed.binary_files, BTreeMap::from([("conf/sub/logo.bin".to_string(), "//4A".to_string())]));
        assert_eq!(packed.directories, ["conf"]);
        assert_eq!(packed.secret_files, BTreeMap::from([("password.txt".to_string(), b"hunter2".to_vec())]));
        assert_eq!(packed.skipped.len(), 2, "{:?}", packed.skipped);
        assert!(packed.skipped[0].starts_with("src/: it holds .git"), "{:?}", packed.skipped);
        assert!(packed.skipped[1].starts_with("missing.env: cannot read it"), "{:?}", packed.skipped);
        let _ = std::fs::remove_dir_all(dir);
    }
}
