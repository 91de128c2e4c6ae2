//! What a bind mount's source becomes (a project file, a claimed host directory, a hostPath,
//! nothing, or a refusal), decided from the source and the stack's settings alone. The claim
//! plan decides it once per mount (`resource::claim::VolumePlan::binds`); pods read that.

use crate::api::BindMounts;
use crate::policy::Policy;
use crate::translate::project_files::{self, ProjectFiles};
use crate::translate::target::Target;

/// What a bind mount's source becomes, decided from the source alone (and the stack's
/// settings), the same way when the stack is planned and when each service is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    /// A project file or directory in `spec.files`: a ConfigMap.
    Project,
    /// A host directory: the claim of this key.
    Claim(String),
    /// `--allow-host-paths`: the node's own directory.
    HostPath,
    /// `/etc/localtime` and friends: dropped, with the `TZ` hint.
    Timezone,
    /// `spec.bindMounts: Drop`.
    Dropped,
    /// A project path that exists but was not packed: source code the image should hold.
    Unpacked,
    /// Refused, with the reason and a hint.
    Refused(String, String),
}

/// Host paths that are never data: the Docker engine's socket, devices, kernel interfaces.
fn special_host_path(source: &str) -> Option<&'static str> {
    let path = source.trim_end_matches('/');
    if path.is_empty() || path == "/" {
        return Some("the node's whole filesystem");
    }
    if path.ends_with("docker.sock") || path.ends_with(".sock") || path.starts_with("/var/run/docker") || path.starts_with("/run/docker") {
        return Some("a socket of the host (a cluster has no Docker engine to talk to)");
    }
    for (prefix, what) in [("/dev", "a device of the host"), ("/proc", "the host's processes"), ("/sys", "the host's kernel settings")] {
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            return Some(what);
        }
    }
    None
}

fn is_timezone_file(source: &str) -> bool {
    matches!(source.trim_end_matches('/'), "/etc/localtime" | "/etc/timezone") || source.starts_with("/usr/share/zoneinfo")
}

/// A path whose last part reads like a file name (`nginx.conf`, `app.yml`): a claim, which
/// is a directory, cannot stand in for it. `conf.d`-style directories are not files.
fn looks_like_file(path: &str) -> bool {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    match last.rsplit_once('.') {
        Some((stem, extension)) => {
            !stem.is_empty() && extension != "d" && (1..=10).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// The key of a host directory: its path as written, normalized, and always holding a `/`
/// (`./data`, `/srv/app/data`), so it never equals a named volume's name.
pub fn directory_key(source: &str) -> String {
    let trimmed = source.trim_end_matches('/');
    if source.starts_with('/') {
        let normalized = project_files::normalize(trimmed.trim_start_matches('/')).unwrap_or_else(|_| trimmed.to_string());
        return format!("/{normalized}");
    }
    match project_files::normalize(trimmed) {
        Ok(normalized) if !normalized.is_empty() => format!("./{normalized}"),
        _ if trimmed.contains('/') => trimmed.to_string(),
        _ => format!("./{trimmed}"),
    }
}

pub fn bind(source: &str, target: &str, resolved: &Target, policy: &Policy, files: &ProjectFiles) -> Bind {
    let absolute = source.starts_with('/');
    if let Some(what) = special_host_path(source).filter(|_| absolute) {
        if policy.allow_host_paths {
            return Bind::HostPath;
        }
        return Bind::Refused(
            format!("bind mount of `{source}`, {what}, is {}", policy.refusal("allow-host-paths")),
            "a cluster's containers do not reach into the node; remove the mount or ask an administrator".into(),
        );
    }
    if absolute && is_timezone_file(source) {
        return Bind::Timezone;
    }
    if !absolute && (files.file(source).is_some() || !files.directory(source).is_empty()) {
        return Bind::Project;
    }
    if absolute && policy.allow_host_paths {
        return Bind::HostPath;
    }
    let unpacked = !absolute
        && project_files::normalize(source)
            .is_ok_and(|path| resolved.unpacked_paths.iter().any(|u| project_files::normalize(u).as_deref() == Ok(path.as_str())));
    if unpacked && resolved.bind_mounts != BindMounts::Refuse {
        return Bind::Unpacked;
    }
    let file_like = looks_like_file(source) || looks_like_file(target);
    match resolved.bind_mounts {
        BindMounts::Drop => Bind::Dropped,
        BindMounts::Refuse if absolute => Bind::Refused(
            format!("bind mount of host path `{source}` into `{target}` is refused (spec.bindMounts: Refuse)"),
            "use a named volume, or spec.bindMounts: Claim to give the directory a claim of its own".into(),
        ),
        BindMounts::Refuse => Bind::Refused(
            format!("the project path `{source}` (mounted at `{target}`) is not in spec.files"),
            "`compose-operator stack` packs the project's files; data wants a named volume".into(),
        ),
        BindMounts::Claim if file_like && !absolute => Bind::Refused(
            format!("the project file `{source}` (mounted at `{target}`) is not in spec.files, and a claim cannot stand in for a single file"),
            "if the file exists, `compose-operator stack` packs it; if it does not, create it or remove the mount".into(),
        ),
        BindMounts::Claim if file_like => Bind::Refused(
            format!("`{source}` looks like a single host file (mounted at `{target}`), which a cluster cannot read and a claim cannot stand in for"),
            "copy the file into the project and mount it from there (`compose-operator stack` packs it), or make it a config".into(),
        ),
        BindMounts::Claim => Bind::Claim(directory_key(source)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn directory_keys() {
        assert_eq!(directory_key("./data/"), "./data");
        assert_eq!(directory_key("data"), "./data");
        assert_eq!(directory_key("/srv//app/./data"), "/srv/app/data");
        assert_eq!(directory_key("../shared"), "../shared");
    }

    #[test]
    fn what_a_host_path_becomes() {
        let (text, binary) = (BTreeMap::from([("conf/app.conf".to_string(), "x".to_string())]), BTreeMap::new());
        let directories = ["conf".to_string()];
        let files = ProjectFiles::new(&text, &binary, &directories);
        let policy = Policy::default();
        let resolved = Target::with_defaults(&policy, ProjectFiles::new(&text, &binary, &directories));
        let plan = |source: &str, target: &str| bind(source, target, &resolved, &policy, &files);
        assert_eq!(plan("./conf", "/etc/app"), Bind::Project);
        assert_eq!(plan("/srv/app/data", "/var/lib/app"), Bind::Claim("/srv/app/data".into()));
        assert_eq!(plan("./data", "/data"), Bind::Claim("./data".into()));
        assert_eq!(plan("/etc/nginx/conf.d", "/etc/nginx/conf.d"), Bind::Claim("/etc/nginx/conf.d".into()));
        assert_eq!(plan("/etc/localtime", "/etc/localtime"), Bind::Timezone);
        assert!(matches!(plan("/var/run/docker.sock", "/var/run/docker.sock"), Bind::Refused(..)));
        assert!(matches!(plan("/dev/dri", "/dev/dri"), Bind::Refused(..)));
        assert!(matches!(plan("./missing.conf", "/etc/app.conf"), Bind::Refused(message, _) if message.contains("single file")));
        let allowed = Policy { allow_host_paths: true, ..Default::default() };
        assert_eq!(bind("/srv/data", "/data", &resolved, &allowed, &files), Bind::HostPath);
        let drop = Target { bind_mounts: BindMounts::Drop, ..Target::with_defaults(&policy, ProjectFiles::new(&text, &binary, &directories)) };
        assert_eq!(bind("./src", "/app", &drop, &policy, &files), Bind::Dropped);
    }
}
