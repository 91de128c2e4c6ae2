//! Files of the compose project carried in the ComposeStack (`spec.files`,
//! `spec.binaryFiles`): what bind mounts of project files, `configs: file:` and `env_file`
//! read, since a cluster has no project directory.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use k8s_openapi::ByteString;

/// ConfigMaps (and all objects) must stay under etcd's ~1.5 MiB request limit; this leaves room.
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;

/// One file's content as stored in the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content<'a> {
    Text(&'a str),
    /// Base64, as given in `spec.binaryFiles`.
    Binary(&'a str),
}

impl Content<'_> {
    pub fn byte_len(&self) -> usize {
        match self {
            Content::Text(text) => text.len(),
            Content::Binary(base64) => base64.len() / 4 * 3,
        }
    }

    pub fn bytes(&self) -> Option<ByteString> {
        match self {
            Content::Text(text) => Some(ByteString(text.as_bytes().to_vec())),
            Content::Binary(base64) => base64::engine::general_purpose::STANDARD.decode(base64.trim()).ok().map(ByteString),
        }
    }
}

/// The project's files by normalized path, indexed once per translation: a stack may
/// carry thousands of small files, and every mount and env file looks one up.
#[derive(Clone, Debug, Default)]
pub struct ProjectFiles<'a> {
    files: BTreeMap<String, Content<'a>>,
    /// Directories packed whole, normalized.
    directories: BTreeSet<String>,
}

impl<'a> ProjectFiles<'a> {
    pub fn new(text: &'a BTreeMap<String, String>, binary: &'a BTreeMap<String, String>, directories: &[String]) -> Self {
        let text = text.iter().map(|(path, content)| (path, Content::Text(content.as_str())));
        let binary = binary.iter().map(|(path, content)| (path, Content::Binary(content.as_str())));
        let files = text.chain(binary).filter_map(|(path, content)| Some((normalize(path).ok()?, content))).collect();
        let directories = directories.iter().filter_map(|d| normalize(d).ok()).collect();
        ProjectFiles { files, directories }
    }

    /// The file at a project-relative path, as written in the compose file (`./nginx.conf`).
    pub fn file(&self, path: &str) -> Option<Content<'a>> {
        self.files.get(&normalize(path).ok()?).copied()
    }

    /// Every file below a directory packed whole, with its path relative to that directory;
    /// nothing for a directory that was not packed.
    pub fn directory(&self, path: &str) -> Vec<(String, Content<'a>)> {
        let Ok(directory) = normalize(path) else { return Vec::new() };
        if !self.directories.contains(&directory) {
            return Vec::new();
        }
        let prefix = if directory.is_empty() { String::new() } else { format!("{directory}/") };
        self.files
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .map(|(path, content)| (path[prefix.len()..].to_string(), *content))
            .collect()
    }
}

/// `./a/./b/../c` → `a/c`. Absolute paths and paths that climb out of the project are not
/// project files.
pub fn normalize(path: &str) -> Result<String, String> {
    if path.starts_with('/') || path.starts_with('~') {
        return Err(format!("`{path}` is not relative to the project directory"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("`{path}` points outside the project directory"));
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// A project path as a ConfigMap/Secret key (`[-._a-zA-Z0-9]+`): `/` becomes `__`, anything
/// else outside the alphabet `_`. `compose-operator stack` names secret-file keys this way.
pub fn key(path: &str) -> String {
    let normalized = normalize(path).unwrap_or_else(|_| path.to_string());
    normalized
        .split('/')
        .map(|part| part.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') { c } else { '_' }).collect::<String>())
        .collect::<Vec<_>>()
        .join("__")
}

/// FNV-1a, hex: stable across Rust releases (std's hasher is not), so fingerprints put on
/// objects do not change when the operator is rebuilt.
pub fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_kept_inside_the_project() {
        assert_eq!(normalize("./nginx/./conf/../nginx.conf").unwrap(), "nginx/nginx.conf");
        assert_eq!(normalize("./").unwrap(), "");
        assert!(normalize("../secret").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("~/x").is_err());
    }

    #[test]
    fn keys_are_valid_configmap_keys() {
        assert_eq!(key("./secrets/db password.txt"), "secrets__db_password.txt");
        assert_eq!(key("a.b"), "a.b");
    }

    #[test]
    fn files_and_directories_are_found_by_normalized_path() {
        let text = BTreeMap::from([("./conf/a.conf".to_string(), "a".to_string()), ("conf/sub/b.conf".to_string(), "b".to_string())]);
        let binary = BTreeMap::from([("conf/logo.png".to_string(), "iVBORw0KGgo=".to_string())]);
        let directories = ["conf/".to_string()];
        let files = ProjectFiles::new(&text, &binary, &directories);
        assert_eq!(files.file("conf/a.conf"), Some(Content::Text("a")));
        assert_eq!(files.file("./conf/../conf/sub/b.conf"), Some(Content::Text("b")));
        let mut directory: Vec<String> = files.directory("./conf").into_iter().map(|(path, _)| path).collect();
        directory.sort();
        assert_eq!(directory, ["a.conf", "logo.png", "sub/b.conf"]);
        assert!(files.directory("conf/sub").is_empty(), "not packed whole");
        assert_eq!(files.file("conf/logo.png").unwrap().bytes().unwrap().0[..4], [0x89, b'P', b'N', b'G']);
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(fingerprint(b""), "cbf29ce484222325");
        assert_eq!(fingerprint(b"a"), "af63dc4c8601ec8c");
    }
}
