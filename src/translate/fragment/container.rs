//! One compose service → its container: image, command, environment, ports, resources,
//! health probes and security settings.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Capabilities, Container, ContainerPort, EnvFromSource, EnvVar, ResourceRequirements, SecretEnvSource, SecurityContext};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::dotenv;
use crate::compose::model::{Parsed, PullPolicy, Service, User};
use crate::compose::units::{self, PortMapping, Protocol};
use crate::compose::value::ComposeText;
use crate::translate::context::ServiceContext;
use crate::translate::fragment::admission::BASELINE_CAPABILITIES;
use crate::translate::fragment::probes::WithProbes;
use crate::translate::fragment::scheduling;
use crate::translate::fragment::security;
use crate::translate::project_files::{self, Content, ProjectFiles};

/// The service's container: its context, and the ports it listens on.
pub struct ContainerInput<'a> {
    pub context: &'a ServiceContext<'a>,
    pub ports: &'a [PortMapping],
    pub expose: &'a [(u16, Protocol)],
}

pub fn container(input: &ContainerInput, report: &mut Report) -> Container {
    let &ServiceContext { name, service, ref path, target, .. } = input.context;
    Container {
        name: name.to_string(),
        image: service.image.clone(),
        command: service.entrypoint.clone(),
        args: service.command.clone(),
        env_from: non_empty(secret_env_files(service, target.secret_env_files)),
        env: non_empty(environment(service, path, target.variables, &target.files, target.secret_env_files, report)),
        ports: non_empty(container_ports(input.ports, input.expose)),
        resources: resources(service, path, report),
        readiness_probe: None,
        liveness_probe: None,
        startup_probe: None,
        working_dir: service.working_dir.clone(),
        security_context: security_context(input, report),
        image_pull_policy: pull_policy(service, path, report),
        tty: flag(&service.tty),
        stdin: flag(&service.stdin_open),
        lifecycle: security::lifecycle(service, path, report),
        ..Default::default()
    }
    .with_probes(service.healthcheck.as_ref())
}

pub fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// A boolean key that is true: `Some(true)`, else `None` (false, unset, or unreadable).
pub fn flag(value: &Option<Parsed<bool>>) -> Option<bool> {
    value.as_ref().and_then(Parsed::ok).filter(|b| *b)
}

/// `env_file` entries (in order, later files win) under `environment:` (which wins).
/// Env files whose values are secret come from their Secrets whole (`envFrom`); `env`
/// entries (plain env files and `environment:`) win over them, as `environment:` does.
fn secret_env_files(service: &Service, secret_env_files: &BTreeMap<String, String>) -> Vec<EnvFromSource> {
    service
        .env_file
        .iter()
        .filter_map(|env_file| secret_env_file(&env_file.path, secret_env_files))
        .map(|secret| EnvFromSource { secret_ref: Some(SecretEnvSource { name: secret.to_string(), optional: None }), ..Default::default() })
        .collect()
}

fn secret_env_file<'a>(path: &str, secret_env_files: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let wanted = project_files::normalize(path).ok()?;
    secret_env_files.iter().find(|(p, _)| project_files::normalize(p).as_deref() == Ok(wanted.as_str())).map(|(_, s)| s.as_str())
}

fn environment(
    service: &Service,
    path: &Path,
    variables: &BTreeMap<String, String>,
    files: &ProjectFiles,
    secret_env_files: &BTreeMap<String, String>,
    report: &mut Report,
) -> Vec<EnvVar> {
    let mut merged: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (index, env_file) in service.env_file.iter().enumerate() {
        let file_path = path.key("env_file").key(index);
        if secret_env_file(&env_file.path, secret_env_files).is_some() {
            continue;
        }
        if let Some(format) = env_file.format.as_deref() {
            report.warn(&file_path.key("format"), format!("the `{format}` format is not known here; the file is read as a .env file"));
        }
        match files.file(&env_file.path) {
            Some(Content::Text(text)) => match dotenv::parse(text, &|name| variables.get(name).cloned()) {
                Ok(entries) => merged.extend(entries),
                Err(error) => report.error(Diagnostic::new(file_path, format!("`{}`: {error}", env_file.path))),
            },
            Some(Content::Binary(_)) => report.error(Diagnostic::new(file_path, format!("`{}` is not text", env_file.path))),
            None if env_file.required => report.error(
                Diagnostic::new(file_path, format!("the env file `{}` is not in spec.files", env_file.path))
                    .with_hint("`compose-operator stack` packs it; or move the values to environment: or spec.variables"),
            ),
            None => report.warn(&file_path, format!("the optional env file `{}` is not in spec.files; skipped", env_file.path)),
        }
    }
    merged.extend(service.environment.clone());
    merged
        .iter()
        .filter_map(|(key, value)| {
            // Kubernetes takes printable ASCII other than `=` in a variable's name.
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic() || c == ' ') || key.contains('=') {
                report.error(
                    Diagnostic::new(path.key("environment").key(key), "is not a valid environment variable name")
                        .with_hint("use printable ASCII without `=`, e.g. LETTERS_DIGITS_AND_UNDERSCORES"),
                );
                return None;
            }
            // `- KEY` without a value takes the value from where compose runs; here that is spec.variables.
            let value = value.clone().or_else(|| variables.get(key).cloned());
            if value.is_none() {
                report.warn(&path.key("environment").key(key), "has no value and is not in spec.variables; not set");
            }
            value.map(|value| EnvVar { name: key.clone(), value: Some(value), value_from: None })
        })
        .collect()
}

fn container_ports(ports: &[PortMapping], expose: &[(u16, Protocol)]) -> Vec<ContainerPort> {
    let mut seen = std::collections::BTreeSet::new();
    ports
        .iter()
        .map(|p| (p.target, p.protocol))
        .chain(expose.iter().copied())
        .filter(|key| seen.insert(*key))
        .map(|(port, protocol)| ContainerPort { container_port: i32::from(port), protocol: Some(protocol.as_kubernetes().to_string()), ..Default::default() })
        .collect()
}

/// The first of the keys that is written, with its path (the deploy key wins over the legacy one).
fn written<T, const N: usize>(keys: [(&Option<Parsed<T>>, Path); N]) -> Option<(&Parsed<T>, Path)> {
    keys.into_iter().find_map(|(value, path)| Some((value.as_ref()?, path)))
}

/// An amount in its unit (millicores, bytes), with its path; 0 means "no limit" in compose.
fn amount<T: ComposeText + Into<u64>>(value: Option<(&Parsed<T>, Path)>) -> Option<(u64, Path)> {
    let (value, path) = value?;
    value.ok().map(Into::into).filter(|amount| *amount > 0).map(|amount| (amount, path))
}

/// `deploy.resources` and the legacy `cpus` / `mem_limit` / `mem_reservation` keys
/// (the deploy key wins when both are written).
fn resources(service: &Service, path: &Path, report: &mut Report) -> Option<ResourceRequirements> {
    let deploy_path = path.key("deploy").key("resources");
    let limits_path = deploy_path.key("limits");
    let reservations_path = deploy_path.key("reservations");
    let resources = service.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let limits = resources.and_then(|r| r.limits.clone()).unwrap_or_default();
    let reservations = resources.and_then(|r| r.reservations.clone()).unwrap_or_default();

    let limit_cpu = written([(&limits.cpus, limits_path.key("cpus")), (&service.cpus, path.key("cpus"))]);
    let limit_memory = written([(&limits.memory, limits_path.key("memory")), (&service.mem_limit, path.key("mem_limit"))]);
    let request_cpu = written([(&reservations.cpus, reservations_path.key("cpus"))]);
    let request_memory = written([(&reservations.memory, reservations_path.key("memory")), (&service.mem_reservation, path.key("mem_reservation"))]);
    let cpu = (amount(limit_cpu), amount(request_cpu));
    let memory = (amount(limit_memory), amount(request_memory));
    // Docker refuses a reservation above the limit too; Kubernetes refuses the pod.
    for ((limit, request), what) in [(&cpu, "CPU"), (&memory, "memory")] {
        if let (Some((limit, _)), Some((request, request_path))) = (limit, request)
            && request > limit
        {
            report.error(
                Diagnostic::new(request_path.clone(), format!("reserves more {what} than the limit allows"))
                    .with_hint("a reservation must be at most the limit; lower it, or raise the limit"),
            );
        }
    }
    let quantities = |cpu: Option<u64>, memory: Option<u64>| -> BTreeMap<String, Quantity> {
        let cpu = cpu.map(|m| ("cpu".to_string(), Quantity(units::millicores_quantity(m))));
        let memory = memory.map(|b| ("memory".to_string(), Quantity(units::bytes_quantity(b))));
        cpu.into_iter().chain(memory).collect()
    };
    let mut limit = quantities(cpu.0.map(|(m, _)| m), memory.0.map(|(b, _)| b));
    let request = quantities(cpu.1.map(|(m, _)| m), memory.1.map(|(b, _)| b));

    let pids = "per-container pid limits are a kubelet setting (podPidsLimit), not a pod field; ignored";
    if limits.pids.is_some() {
        report.warn(&limits_path.key("pids"), pids);
    }
    if service.pids_limit.is_some() {
        report.warn(&path.key("pids_limit"), pids);
    }
    // Extended resources are requested by their limit (the request follows it).
    limit.extend(scheduling::device_limits(&reservations.devices, &reservations_path.key("devices"), report));
    if !limits.devices.is_empty() {
        report.warn(&limits_path.key("devices"), "compose reserves devices under reservations.devices; ignored here");
    }
    for (amounts, amounts_path) in [(&limits, &limits_path), (&reservations, &reservations_path)] {
        if amounts.generic_resources.is_some() {
            report.warn(
                &amounts_path.key("generic_resources"),
                "swarm generic resources have no Kubernetes counterpart; reserve GPUs through reservations.devices; ignored",
            );
        }
    }
    if limit.is_empty() && request.is_empty() {
        return None;
    }
    Some(ResourceRequirements { limits: (!limit.is_empty()).then_some(limit), requests: (!request.is_empty()).then_some(request), ..Default::default() })
}

/// A capability as Kubernetes (and Pod Security admission) spells it: `CHOWN`, where Docker
/// also takes `CAP_CHOWN` and any case.
fn kubernetes_capability(capability: &str) -> String {
    let upper = capability.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").map(str::to_string).unwrap_or(upper)
}

fn security_context(input: &ContainerInput, report: &mut Report) -> Option<SecurityContext> {
    let &ServiceContext { service, ref path, target, .. } = input.context;
    let policy = target.policy;
    let mut context = SecurityContext::default();
    if flag(&service.privileged).unwrap_or(false) {
        if policy.allow_privileged {
            context.privileged = Some(true);
        } else {
            report.error(Diagnostic::new(path.key("privileged"), format!("privileged containers are {}", policy.refusal("allow-privileged"))));
        }
    }
    if !service.cap_add.is_empty() {
        // Adding back one of Docker's default capabilities (after `cap_drop: [ALL]`, a common
        // hardening) gives the container nothing Docker would not: no flag needed for those.
        let added: Vec<String> = service.cap_add.iter().map(|c| kubernetes_capability(c)).collect();
        let widening: Vec<&str> = added.iter().map(String::as_str).filter(|c| !BASELINE_CAPABILITIES.contains(c)).collect();
        if widening.is_empty() || policy.allow_capabilities {
            context.capabilities.get_or_insert_with(Capabilities::default).add = Some(added);
        } else {
            report.error(Diagnostic::new(
                path.key("cap_add"),
                format!("adding {} (beyond Docker's default capabilities) is {}", widening.join(", "), policy.refusal("allow-capabilities")),
            ));
        }
    }
    if !service.cap_drop.is_empty() {
        context.capabilities.get_or_insert_with(Capabilities::default).drop = Some(service.cap_drop.iter().map(|c| kubernetes_capability(c)).collect());
    }
    context.read_only_root_filesystem = flag(&service.read_only);
    if let Some(user) = service.user.as_ref().and_then(Parsed::ok_ref) {
        set_user(&mut context, user, &path.key("user"), report);
    }
    security::security_options(&mut context, service, path, policy, report);
    (context != SecurityContext::default()).then_some(context)
}

/// `user: uid[:gid]`. Names cannot be resolved outside the image, so the image's user
/// applies then.
fn set_user(context: &mut SecurityContext, user: &User, path: &Path, report: &mut Report) {
    if user.user.is_none() && user.group.is_none() {
        report.warn(path, "user is empty (are its variables unset?); the image's user applies");
        return;
    }
    let Some((uid, gid)) = user.ids() else {
        report.warn(path, format!("`{}` names a user or group; Kubernetes needs numeric ids (uid[:gid]), so the image's user applies", user.names().join(":")));
        return;
    };
    context.run_as_user = uid.map(i64::from);
    context.run_as_group = gid.map(i64::from);
}

fn pull_policy(service: &Service, path: &Path, report: &mut Report) -> Option<String> {
    match service.pull_policy.as_ref()?.ok()? {
        PullPolicy::Always => Some("Always".into()),
        PullPolicy::Never => Some("Never".into()),
        PullPolicy::Missing => Some("IfNotPresent".into()),
        PullPolicy::Build => {
            report.error(
                Diagnostic::new(path.key("pull_policy"), "`build` is not possible in a cluster")
                    .with_hint("push the image to a registry and use `missing` or `always`"),
            );
            None
        }
    }
}
