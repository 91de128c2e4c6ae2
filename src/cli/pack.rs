//! `compose-operator stack` run in a project directory: reads the files the compose
//! document refers to (bind-mounted project files and directories, `configs: file:`,
//! `env_file`) into `spec.files`, and secret files (`secrets: file:`) into a separate
//! Secret, so that a stack written for a developer's machine deploys without edits.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::compose::model::{ComposeFile, MountType, VolumeMount};
use crate::translate::project_files;

/// One file larger than this is not packed (a ConfigMap holds at most ~1 MiB).
const MAX_FILE_BYTES: u64 = 512 * 1024;
/// All packed files together; the ComposeStack must stay well inside etcd's object limit.
const MAX_TOTAL_BYTES: u64 = 768 * 1024;
/// A directory with more files than this is source code or data, not configuration.
const MAX_DIRECTORY_FILES: usize = 100;
/// Entries (files, directories, anything) looked at in one packed directory.
const MAX_DIRECTORY_ENTRIES: usize = 1000;
/// Levels below a packed directory; configuration trees are shallow.
const MAX_DIRECTORY_DEPTH: usize = 8;
/// Project files in one stack, all directories and files together.
const MAX_PACKED_FILES: usize = 500;
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
    /// Files and directories that exist in the project but were not packed (normalized).
    pub unpacked: Vec<String>,
    total: u64,
    count: usize,
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
    let source = mount.source.as_deref().filter(|_| mount.kind == MountType::Bind)?;
    (source.starts_with('.') && !source.starts_with("..")).then_some(source)
}

pub fn pack(project: &Path, references: &References) -> Packed {
    let mut packed = Packed::default();
    let root = match Root::new(project) {
        Ok(root) => root,
        Err(reason) => {
            let paths = references.files_or_directories.iter().chain(&references.secrets);
            packed.skipped.extend(paths.map(|path| format!("{path}: {reason}")));
            return packed;
        }
    };
    for path in &references.files_or_directories {
        let exists = match root.resolve(path) {
            Ok(Resolved::Directory(full)) => {
                packed.directory(&root, path, &full);
                true
            }
            Ok(Resolved::File(full)) => {
                packed.file(&root, path, &full, false);
                true
            }
            Err(reason) => {
                packed.skipped.push(format!("{path}: {reason}"));
                false
            }
        };
        let was_packed = packed.files.contains_key(path) || packed.binary_files.contains_key(path) || packed.directories.contains(path);
        if exists && !was_packed {
            packed.unpacked.push(path.clone());
        }
    }
    for path in &references.secrets {
        match root.resolve(path) {
            Ok(Resolved::File(full)) => packed.file(&root, path, &full, true),
            Ok(Resolved::Directory(_)) => packed.skipped.push(format!("{path}: a directory, not a secret file")),
            Err(reason) => packed.skipped.push(format!("{path}: {reason}")),
        }
    }
    packed
}

impl Packed {
    fn file(&mut self, root: &Root, path: &str, full: &Path, secret: bool) {
        if !secret && self.count >= MAX_PACKED_FILES {
            self.skipped.push(format!("{path}: more than {MAX_PACKED_FILES} project files; the rest belong in the image or on a volume"));
            return;
        }
        match root.read(full) {
            Err(reason) => self.skipped.push(format!("{path}: {reason}")),
            Ok(bytes) if !secret && self.total + bytes.len() as u64 > MAX_TOTAL_BYTES => {
                self.skipped.push(format!("{path}: the packed files would exceed {MAX_TOTAL_BYTES} bytes"));
            }
            Ok(bytes) => {
                if secret {
                    self.secret_files.insert(project_files::key(path), bytes);
                    return;
                }
                self.add(path.to_string(), bytes);
            }
        }
    }

    fn add(&mut self, path: String, bytes: Vec<u8>) {
        self.total += bytes.len() as u64;
        self.count += 1;
        match String::from_utf8(bytes) {
            Ok(text) => self.files.insert(path, text),
            Err(bytes) => self.binary_files.insert(path, base64::engine::general_purpose::STANDARD.encode(bytes.into_bytes())),
        };
    }

    /// Packs a directory whole, or not at all: a partial copy would hide what the image has.
    fn directory(&mut self, root: &Root, path: &str, full: &Path) {
        let found = match root.walk(full) {
            Ok(found) => found,
            Err(reason) => {
                self.skipped.push(format!("{path}/: {reason}"));
                return;
            }
        };
        let size: u64 = found.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        if self.total + size > MAX_TOTAL_BYTES {
            self.skipped.push(format!("{path}/: {size} bytes would exceed the {MAX_TOTAL_BYTES} bytes a stack carries"));
            return;
        }
        if self.count + found.len() > MAX_PACKED_FILES {
            self.skipped.push(format!("{path}/: more than {MAX_PACKED_FILES} project files in all; the rest belong in the image or on a volume"));
            return;
        }
        for (relative, bytes) in found {
            let joined = if path.is_empty() { relative } else { format!("{path}/{relative}") };
            self.add(joined, bytes);
        }
        self.directories.push(path.to_string());
    }
}

/// A project file the stack carries in a Secret (a secret env file, `.env`), read through
/// the same checks as every packed file.
pub fn read_project_file(project: &Path, path: &str) -> Result<Vec<u8>, String> {
    let root = Root::new(project)?;
    match root.resolve(path)? {
        Resolved::File(full) => root.read(&full),
        Resolved::Directory(_) => Err("a directory, not a file".into()),
    }
}

/// A secret env file's variables (a bare `KEY` has no value to keep, so it is left out).
pub fn env_file(project: &Path, path: &str) -> Result<BTreeMap<String, String>, String> {
    let bytes = read_project_file(project, path).map_err(|reason| format!("the secret env file {path}: {reason}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the secret env file {path} is not text"))?;
    let entries = crate::compose::dotenv::parse(&text, &|_| None).map_err(|e| format!("the secret env file {path}: {e}"))?;
    Ok(entries.into_iter().filter_map(|(key, value)| Some((key, value?))).collect())
}

/// The project directory, resolved once; every path read must resolve inside it.
struct Root {
    path: PathBuf,
}

enum Resolved {
    File(PathBuf),
    Directory(PathBuf),
}

/// Kernel interfaces that look like files but hold the machine's state (environment,
/// memory, devices): never project files, whatever a link says.
const SYSTEM_TREES: [&str; 3] = ["/proc", "/sys", "/dev"];

impl Root {
    fn new(project: &Path) -> Result<Root, String> {
        let path = std::fs::canonicalize(project).map_err(|e| format!("cannot resolve the project directory {} ({e})", project.display()))?;
        if SYSTEM_TREES.iter().any(|tree| path.starts_with(tree)) {
            return Err(format!("the project directory {} is a system directory", path.display()));
        }
        Ok(Root { path })
    }

    /// Follows symbolic links, then requires the target to be inside the project and to be
    /// a regular file or a directory (no devices, FIFOs, sockets, no /proc).
    fn resolve(&self, relative: &str) -> Result<Resolved, String> {
        let full = std::fs::canonicalize(self.path.join(relative)).map_err(|e| format!("cannot read it ({e})"))?;
        self.inside(&full)?;
        let metadata = std::fs::metadata(&full).map_err(|e| format!("cannot read it ({e})"))?;
        if metadata.is_dir() {
            Ok(Resolved::Directory(full))
        } else if metadata.is_file() {
            Ok(Resolved::File(full))
        } else {
            Err("not a regular file (a device, FIFO or socket)".into())
        }
    }

    fn inside(&self, full: &Path) -> Result<(), String> {
        if !full.starts_with(&self.path) || SYSTEM_TREES.iter().any(|tree| full.starts_with(tree)) {
            return Err(format!("it resolves to {}, outside the project directory; only files inside it are packed", full.display()));
        }
        Ok(())
    }

    /// Reads a resolved regular file, at most `MAX_FILE_BYTES` of it whatever its size claims.
    fn read(&self, full: &Path) -> Result<Vec<u8>, String> {
        let file = std::fs::File::open(full).map_err(|e| format!("cannot read it ({e})"))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read it ({e})"))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!("over {MAX_FILE_BYTES} bytes; files that large belong in the image or on a volume"));
        }
        Ok(bytes)
    }

    /// Every file under a directory, depth-first with an explicit stack: at most
    /// `MAX_DIRECTORY_DEPTH` levels, `MAX_DIRECTORY_ENTRIES` entries looked at and
    /// `MAX_DIRECTORY_FILES` files, whatever the file system holds. A link inside is followed
    /// only to a file inside the project.
    fn walk(&self, directory: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut found = Vec::new();
        let mut pending = vec![(directory.to_path_buf(), String::new(), 0_usize)];
        let mut seen_entries = 0_usize;
        while let Some((path, relative, depth)) = pending.pop() {
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(&path).map_err(|e| format!("cannot read it ({e})"))? {
                seen_entries += 1;
                if seen_entries > MAX_DIRECTORY_ENTRIES {
                    return Err(format!("more than {MAX_DIRECTORY_ENTRIES} entries: source code or data, which belong in the image or on a volume"));
                }
                entries.push(entry.map_err(|e| format!("cannot read it ({e})"))?);
            }
            entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
            for entry in entries {
                let name = entry.file_name();
                if SOURCE_MARKERS.iter().any(|marker| name == *marker) {
                    return Err(format!("it holds {}, so it looks like source code: the image should hold it (spec.bindMounts: Drop)", name.to_string_lossy()));
                }
                let name = name.to_string_lossy().into_owned();
                let child = if relative.is_empty() { name } else { format!("{relative}/{name}") };
                let kind = entry.file_type().map_err(|e| format!("{child}: cannot read it ({e})"))?;
                if kind.is_dir() {
                    if depth + 1 >= MAX_DIRECTORY_DEPTH {
                        return Err(format!("{child}: more than {MAX_DIRECTORY_DEPTH} directory levels"));
                    }
                    pending.push((entry.path(), child, depth + 1));
                    continue;
                }
                let target = if kind.is_symlink() {
                    let target = std::fs::canonicalize(entry.path()).map_err(|e| format!("{child}: cannot read it ({e})"))?;
                    self.inside(&target).map_err(|reason| format!("{child}: {reason}"))?;
                    if !std::fs::metadata(&target).is_ok_and(|m| m.is_file()) {
                        return Err(format!("{child}: a link to something other than a regular file"));
                    }
                    target
                } else if kind.is_file() {
                    entry.path()
                } else {
                    return Err(format!("{child}: not a regular file (a device, FIFO or socket)"));
                };
                found.push((child.clone(), self.read(&target).map_err(|reason| format!("{child}: {reason}"))?));
                if found.len() > MAX_DIRECTORY_FILES {
                    return Err(format!("more than {MAX_DIRECTORY_FILES} files: source code or data, which belong in the image or on a volume"));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
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

    /// However deep or wide the file system is, the walk stops at its bounds (no recursion).
    #[test]
    fn directories_are_walked_within_bounds() {
        let dir = std::env::temp_dir().join(format!("compose-operator-pack-bounds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let deep = (0..MAX_DIRECTORY_DEPTH + 2).fold(dir.join("deep"), |path, level| path.join(level.to_string()));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("f"), "x").unwrap();
        std::fs::create_dir_all(dir.join("wide")).unwrap();
        for index in 0..=MAX_DIRECTORY_ENTRIES {
            std::fs::create_dir(dir.join(format!("wide/{index}"))).unwrap();
        }
        let references = References { files_or_directories: vec!["deep".into(), "wide".into()], secrets: vec![] };
        let packed = pack(&dir, &references);
        assert!(packed.files.is_empty() && packed.directories.is_empty(), "{packed:?}");
        assert!(packed.skipped[0].contains(&format!("more than {MAX_DIRECTORY_DEPTH} directory levels")), "{:?}", packed.skipped);
        assert!(packed.skipped[1].contains(&format!("more than {MAX_DIRECTORY_ENTRIES} entries")), "{:?}", packed.skipped);
        let _ = std::fs::remove_dir_all(dir);
    }
}
