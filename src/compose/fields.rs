//! Per-field checks: every value the document alone decides is well formed, reported at its
//! path with a hint, before anything is translated. What a value means on Kubernetes (a
//! label it becomes, a policy that refuses it, a file the cluster lacks) is the translation's
//! to judge; whether it is a value compose takes at all is decided here, once.
//!
//! Every [`Parsed`] field of the model is visited here; the translation reads them with
//! `Parsed::ok`, never reporting them again.

use super::diagnostic::{Diagnostic, Path, Report};
use super::model::{ComposeFile, Deploy, FileObjectDefinition, Healthcheck, MountType, Parsed, Service, VolumeMount};
use super::placement::{Constraint, ConstraintAttribute};
use super::value::ComposeText;
use super::value::is_external;

pub fn check(file: &ComposeFile, report: &mut Report) {
    for (name, service) in &file.services {
        service_fields(service, &Path::root().key("services").key(name), report);
    }
    for (section, word, definitions) in [("configs", "config", &file.configs), ("secrets", "secret", &file.secrets)] {
        for (name, definition) in definitions {
            definition_source(definition, word, &Path::root().key(section).key(name), report);
        }
    }
}

/// A config or secret that is not external names exactly one source.
fn definition_source(definition: &FileObjectDefinition, word: &str, path: &Path, report: &mut Report) {
    if is_external(&definition.external) {
        return;
    }
    let sources = [definition.content.is_some(), definition.environment.is_some(), definition.file.is_some()];
    match sources.iter().filter(|written| **written).count() {
        1 => {}
        0 => report
            .error(Diagnostic::new(path.clone(), format!("the {word} has no source")).with_hint("set one of content:, environment:, file: or external: true")),
        _ => report.error(Diagnostic::new(path.clone(), "content:, environment: and file: exclude each other").with_hint("keep one")),
    }
}

/// Reports a value that does not read, with the words or form it should take.
fn parsed<T: ComposeText>(value: Option<&Parsed<T>>, path: Path, report: &mut Report) {
    if let Some(reason) = value.and_then(Parsed::error) {
        let diagnostic = Diagnostic::new(path, reason);
        report.error(match T::HINT {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        });
    }
}

fn service_fields(service: &Service, path: &Path, report: &mut Report) {
    parsed(service.scale.as_ref(), path.key("scale"), report);
    parsed(service.restart.as_ref(), path.key("restart"), report);
    parsed(service.network_mode.as_ref(), path.key("network_mode"), report);
    parsed(service.pull_policy.as_ref(), path.key("pull_policy"), report);
    parsed(service.stop_grace_period.as_ref(), path.key("stop_grace_period"), report);
    parsed(service.shm_size.as_ref(), path.key("shm_size"), report);
    for (key, flag) in [
        ("init", &service.init),
        ("privileged", &service.privileged),
        ("read_only", &service.read_only),
        ("stdin_open", &service.stdin_open),
        ("tty", &service.tty),
    ] {
        parsed(flag.as_ref(), path.key(key), report);
    }
    parsed(service.cpus.as_ref(), path.key("cpus"), report);
    parsed(service.mem_limit.as_ref(), path.key("mem_limit"), report);
    parsed(service.mem_reservation.as_ref(), path.key("mem_reservation"), report);
    parsed(service.platform.as_ref(), path.key("platform"), report);
    parsed(service.user.as_ref(), path.key("user"), report);
    for (index, group) in service.group_add.iter().enumerate() {
        parsed(Some(group), path.key("group_add").key(index), report);
    }
    for (index, port) in service.ports.iter().enumerate() {
        parsed(Some(&port.protocol), path.key("ports").key(index).key("protocol"), report);
    }
    for (index, entry) in service.expose.iter().enumerate() {
        parsed(Some(entry), path.key("expose").key(index), report);
    }
    for (index, mount) in service.volumes.iter().enumerate() {
        mount_fields(mount, &path.key("volumes").key(index), report);
    }
    for (host, addresses) in &service.extra_hosts {
        for address in addresses {
            parsed(Some(address), path.key("extra_hosts").key(host), report);
        }
    }
    for (name, value) in &service.sysctls {
        if value.is_none() {
            report.error(Diagnostic::new(path.key("sysctls").key(name), format!("sysctl `{name}` has no value")).with_hint(format!("write `{name}=value`")));
        }
    }
    for (section, entries) in [("configs", &service.configs), ("secrets", &service.secrets)] {
        for (index, entry) in entries.iter().enumerate() {
            let mode_path = path.key(section).key(index).key("mode");
            parsed(entry.mode.as_ref(), mode_path.clone(), report);
            if let Some(mode) = entry.mode.as_ref().filter(|mode| mode.ok_ref().is_some_and(|m| m.octal_without_zero)) {
                let text = mode.text().trim();
                report.warn(&mode_path, format!("`{text}` read as octal 0{text}: written without its leading 0 it is a decimal number, which is no file mode"));
            }
        }
    }
    for (index, entry) in service.tmpfs.iter().enumerate() {
        let entry_path = path.key("tmpfs").key(index);
        if !entry.target.starts_with('/') {
            report.error(Diagnostic::new(entry_path.clone(), format!("the tmpfs target `{}` must be an absolute path in the container", entry.target)));
        }
        parsed(entry.size.as_ref(), entry_path.key("size"), report);
    }
    if let Some(deploy) = &service.deploy {
        deploy_fields(deploy, &path.key("deploy"), report);
    }
    if let Some(healthcheck) = &service.healthcheck {
        healthcheck_fields(healthcheck, &path.key("healthcheck"), report);
    }
    for (key, hooks) in [("post_start", &service.post_start), ("pre_stop", &service.pre_stop)] {
        for (index, hook) in hooks.iter().enumerate() {
            parsed(hook.privileged.as_ref(), path.key(key).key(index).key("privileged"), report);
        }
    }
    for (target, dependency) in &service.depends_on {
        parsed(Some(&dependency.condition), path.key("depends_on").key(target).key("condition"), report);
    }
}

fn mount_fields(mount: &VolumeMount, path: &Path, report: &mut Report) {
    if !mount.target.starts_with('/') {
        report.error(Diagnostic::new(path.key("target"), format!("the mount target `{}` must be an absolute path in the container", mount.target)));
    }
    if mount.kind == MountType::Bind && mount.source.as_deref().is_none_or(str::is_empty) {
        report.error(Diagnostic::new(path.key("source"), "a bind mount needs a source"));
    }
    parsed(mount.read_only.as_ref(), path.key("read_only"), report);
    if let Some(bind) = &mount.bind {
        parsed(bind.create_host_path.as_ref(), path.key("bind").key("create_host_path"), report);
    }
    if let Some(tmpfs) = &mount.tmpfs {
        parsed(tmpfs.size.as_ref(), path.key("tmpfs").key("size"), report);
    }
}

fn deploy_fields(deploy: &Deploy, path: &Path, report: &mut Report) {
    parsed(deploy.mode.as_ref(), path.key("mode"), report);
    parsed(deploy.replicas.as_ref(), path.key("replicas"), report);
    parsed(deploy.endpoint_mode.as_ref(), path.key("endpoint_mode"), report);
    for (index, constraint) in deploy.placement.iter().flat_map(|p| p.constraints.iter()).enumerate() {
        constraint_fields(constraint, &path.key("placement").key("constraints").key(index), report);
    }
    if let Some(resources) = &deploy.resources {
        for (key, amounts) in [("limits", &resources.limits), ("reservations", &resources.reservations)] {
            if let Some(amounts) = amounts {
                parsed(amounts.cpus.as_ref(), path.key("resources").key(key).key("cpus"), report);
                parsed(amounts.memory.as_ref(), path.key("resources").key(key).key("memory"), report);
            }
        }
    }
    if let Some(policy) = &deploy.restart_policy {
        let path = path.key("restart_policy");
        parsed(policy.condition.as_ref(), path.key("condition"), report);
        parsed(policy.delay.as_ref(), path.key("delay"), report);
        parsed(policy.max_attempts.as_ref(), path.key("max_attempts"), report);
        parsed(policy.window.as_ref(), path.key("window"), report);
    }
    if let Some(update) = &deploy.update_config {
        let path = path.key("update_config");
        parsed(update.parallelism.as_ref(), path.key("parallelism"), report);
        parsed(update.delay.as_ref(), path.key("delay"), report);
        parsed(update.failure_action.as_ref(), path.key("failure_action"), report);
        parsed(update.monitor.as_ref(), path.key("monitor"), report);
        parsed(update.order.as_ref(), path.key("order"), report);
    }
}

/// A constraint's form, its attribute, and (for `node.role`) its value.
fn constraint_fields(constraint: &Parsed<Constraint>, path: &Path, report: &mut Report) {
    parsed(Some(constraint), path.clone(), report);
    let Some(constraint) = constraint.ok_ref() else { return };
    parsed(Some(&constraint.attribute), path.clone(), report);
    if constraint.attribute.ok_ref() == Some(&ConstraintAttribute::Role) && !matches!(constraint.value.as_str(), "manager" | "worker") {
        report.error(Diagnostic::new(path.clone(), format!("unknown node role `{}`", constraint.value)).with_hint("use manager or worker"));
    }
}

fn healthcheck_fields(healthcheck: &Healthcheck, path: &Path, report: &mut Report) {
    parsed(healthcheck.disable.as_ref(), path.key("disable"), report);
    if healthcheck.is_disabled() {
        return;
    }
    if let Err(reason) = healthcheck.command() {
        report.error(Diagnostic::new(path.key("test"), reason));
    }
    for (key, duration) in [
        ("interval", &healthcheck.interval),
        ("timeout", &healthcheck.timeout),
        ("start_period", &healthcheck.start_period),
        ("start_interval", &healthcheck.start_interval),
    ] {
        parsed(duration.as_ref(), path.key(key), report);
    }
    parsed(healthcheck.retries.as_ref(), path.key("retries"), report);
}
