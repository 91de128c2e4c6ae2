//! What a stack's pods may be, beyond the compose keys: pod annotations and labels that
//! change a pod's confinement or network (guarded by the operator's policy), and the Pod
//! Security level the namespace enforces.
//!
//! Runtimes, network plugins and meshes read some annotations as instructions: an AppArmor
//! annotation of `unconfined` lifts the confinement that `security_opt` may not lift
//! without `--allow-privileged`, a Multus annotation attaches a pod to another network. A
//! tenant writes them as compose `labels:`, `annotations:` or `x-kubernetes.podAnnotations`,
//! so every pod label and annotation is checked against [`GUARDED`] and the prefixes an
//! administrator adds with `--deny-pod-annotation`.

use k8s_openapi::api::core::v1::{Capabilities, PodSpec, PodTemplateSpec, SecurityContext};

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::extension::EXTENSION_KEY;
use crate::compose::model::{Identity, Parsed, Service};
use crate::policy::Policy;
use crate::translate::fragment::security::SAFE_SYSCTLS;

/// Which policy flag lets a guarded annotation through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Confinement (AppArmor, seccomp, runtime options): `--allow-privileged`.
    Confinement,
    /// What the pod is attached to or bypasses (extra networks, chosen addresses, mesh
    /// opt-outs): `--allow-network-annotations`.
    Network,
}

/// Annotation and label keys (exact, or a prefix when they end in `/` or `.`) that change
/// a pod's confinement or network.
pub const GUARDED: &[(&str, Guard)] = &[
    ("container.apparmor.security.beta.kubernetes.io/", Guard::Confinement),
    ("seccomp.security.alpha.kubernetes.io/pod", Guard::Confinement),
    ("container.seccomp.security.alpha.kubernetes.io/", Guard::Confinement),
    ("io.kubernetes.cri-o.", Guard::Confinement),
    ("io.kubernetes.cri.", Guard::Confinement),
    ("io.katacontainers.", Guard::Confinement),
    ("k8s.v1.cni.cncf.io/", Guard::Network),
    ("v1.multus-cni.io/", Guard::Network),
    ("cni.projectcalico.org/", Guard::Network),
    ("ovn.kubernetes.io/", Guard::Network),
    ("k8s.ovn.org/", Guard::Network),
    ("sidecar.istio.io/", Guard::Network),
    ("traffic.sidecar.istio.io/", Guard::Network),
    ("linkerd.io/inject", Guard::Network),
    ("config.linkerd.io/", Guard::Network),
];

fn matches(key: &str, pattern: &str) -> bool {
    if pattern.ends_with('/') || pattern.ends_with('.') { key.starts_with(pattern) } else { key == pattern }
}

/// The guard of `key`, if any: built in, or denied by the administrator (no flag allows those).
fn guard_of<'p>(key: &str, policy: &'p Policy) -> Option<Result<Guard, &'p str>> {
    if let Some(denied) = policy.denied_pod_annotations.iter().find(|prefix| !prefix.is_empty() && key.starts_with(prefix.as_str())) {
        return Some(Err(denied));
    }
    GUARDED.iter().find(|(pattern, _)| matches(key, pattern)).map(|(_, guard)| Ok(*guard))
}

/// Refuses pod labels and annotations that would change the pod's confinement or network
/// unless the policy allows them, naming where the service wrote each.
pub fn guard_pod_metadata(template: &PodTemplateSpec, service: &Service, path: &Path, policy: &Policy, report: &mut Report) {
    let Some(metadata) = &template.metadata else { return };
    let keys = metadata.annotations.iter().flatten().chain(metadata.labels.iter().flatten()).map(|(key, _)| key);
    let mut reported = std::collections::BTreeSet::new();
    for key in keys {
        if !reported.insert(key) {
            continue;
        }
        let refusal = match guard_of(key, policy) {
            None => continue,
            Some(Ok(Guard::Confinement)) if policy.allow_privileged => continue,
            Some(Ok(Guard::Network)) if policy.allow_network_annotations => continue,
            Some(Ok(Guard::Confinement)) => format!("changes how the pod is confined, which is {}", policy.refusal("allow-privileged")),
            Some(Ok(Guard::Network)) => format!("changes what the pod's network reaches, which is {}", policy.refusal("allow-network-annotations")),
            Some(Err(prefix)) => format!("is refused by the operator's policy (--deny-pod-annotation {prefix})"),
        };
        let origin = if service.labels.contains_key(key) {
            path.key("labels").key(key)
        } else if service.annotations.contains_key(key) {
            path.key("annotations").key(key)
        } else {
            path.key(EXTENSION_KEY).key("podAnnotations").key(key)
        };
        report.error(
            Diagnostic::new(origin, format!("the pod annotation `{key}` {refusal}")).with_hint("remove it; the operator sets the pod's confinement itself"),
        );
    }
}

/// The Pod Security Standards level a namespace enforces
/// (`pod-security.kubernetes.io/enforce`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodSecurityLevel {
    #[default]
    Privileged,
    Baseline,
    Restricted,
}

/// The namespace label that names the enforced level.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

impl PodSecurityLevel {
    /// The level a namespace label names; an unknown value is enforced as restricted by the
    /// API server, so it is read as restricted here too.
    pub fn from_label(value: Option<&str>) -> PodSecurityLevel {
        match value {
            None | Some("privileged") => PodSecurityLevel::Privileged,
            Some("baseline") => PodSecurityLevel::Baseline,
            Some(_) => PodSecurityLevel::Restricted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

/// Capabilities the baseline level lets a container add: Docker's default set, which a
/// container has unless it drops them.
pub const BASELINE_CAPABILITIES: [&str; 13] =
    ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];

/// Fits a finished pod to the namespace's enforced level: what the level forbids and the
/// compose file asks for is refused with the compose key that asked; under `restricted`
/// the pod is made compliant (non-root, no privilege escalation, capabilities dropped),
/// with a warning of what that changes. `containers` pairs each container with the
/// service that defined it (a pod holds several when services share a network).
pub fn fit_pod_security(spec: &mut PodSpec, level: PodSecurityLevel, containers: &[(&str, &Service)], report: &mut Report) {
    if level == PodSecurityLevel::Privileged {
        return;
    }
    let forbidden = |report: &mut Report, path: Path, what: &str| {
        report.error(
            Diagnostic::new(path, format!("{what}, which the namespace's Pod Security level `{}` forbids", level.as_str()))
                .with_hint("remove it, or deploy the stack into a namespace whose level allows it"),
        );
    };
    let host_path = |name: &str| Path::root().key("services").key(name);
    let Some(&(first, _)) = containers.first() else { return };
    for (flag, key) in [(spec.host_network, "network_mode"), (spec.host_pid, "pid"), (spec.host_ipc, "ipc")] {
        if flag == Some(true) {
            forbidden(report, host_path(first).key(key), "it shares the node's namespaces");
        }
    }
    if spec.volumes.iter().flatten().any(|v| v.host_path.is_some()) {
        forbidden(report, host_path(first).key("volumes"), "it mounts a directory of the node");
    }
    let pod_context = spec.security_context.get_or_insert_default();
    if pod_context.seccomp_profile.as_ref().is_some_and(|p| p.type_ == "Unconfined") {
        forbidden(report, host_path(first).key("security_opt"), "it runs without seccomp confinement");
    }
    for sysctl in pod_context.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&sysctl.name.replace('/', ".").as_str()) {
            forbidden(report, host_path(first).key("sysctls").key(&sysctl.name), "it sets an unsafe sysctl");
        }
    }
    let restricted = level == PodSecurityLevel::Restricted;
    if restricted {
        pod_context.run_as_non_root = Some(true);
    }
    for (container, (name, service)) in spec.containers.iter_mut().zip(containers) {
        let path = host_path(name);
        let context = container.security_context.get_or_insert_default();
        fit_container(context, level, &path, service, report);
    }
    if restricted {
        let unknown_user: Vec<&str> =
            spec.containers.iter().filter(|c| c.security_context.as_ref().and_then(|s| s.run_as_user).is_none()).map(|c| c.name.as_str()).collect();
        let mut warning = String::from(
            "the namespace enforces the restricted Pod Security level: the pod runs as non-root, without privilege escalation and with every capability dropped; images that run as root or need capabilities (to chown, or to switch users) will not start",
        );
        if !unknown_user.is_empty() {
            warning.push_str(&format!("; set `user:` to a numeric non-root uid for {}", unknown_user.join(", ")));
        }
        report.warn(&host_path(first), warning);
    }
}

fn fit_container(context: &mut SecurityContext, level: PodSecurityLevel, path: &Path, service: &Service, report: &mut Report) {
    let forbidden = |report: &mut Report, path: Path, what: &str| {
        report.error(
            Diagnostic::new(path, format!("{what}, which the namespace's Pod Security level `{}` forbids", level.as_str()))
                .with_hint("remove it, or deploy the stack into a namespace whose level allows it"),
        );
    };
    if context.privileged == Some(true) {
        forbidden(report, path.key("privileged"), "it is privileged");
    }
    if context.seccomp_profile.as_ref().is_some_and(|p| p.type_ == "Unconfined") || context.app_armor_profile.as_ref().is_some_and(|p| p.type_ == "Unconfined")
    {
        forbidden(report, path.key("security_opt"), "it runs unconfined");
    }
    let normalize = |cap: &String| cap.to_ascii_uppercase().trim_start_matches("CAP_").to_string();
    let added: Vec<String> = context.capabilities.iter().flat_map(|c| c.add.iter().flatten()).map(normalize).collect();
    let allowed: &[&str] = if level == PodSecurityLevel::Restricted { &["NET_BIND_SERVICE"] } else { &BASELINE_CAPABILITIES };
    if let Some(capability) = added.iter().find(|c| !allowed.contains(&c.as_str())) {
        forbidden(report, path.key("cap_add"), &format!("it adds the capability {capability}"));
    }
    if level == PodSecurityLevel::Restricted {
        if context.run_as_user == Some(0) {
            forbidden(report, path.key("user"), "it runs as root (uid 0)");
        }
        if service.user.as_ref().and_then(Parsed::ok_ref).is_some_and(|u| u.user == Some(Identity::Name("root".into()))) {
            forbidden(report, path.key("user"), "it runs as root");
        }
        context.allow_privilege_escalation = Some(false);
        let capabilities = context.capabilities.get_or_insert_with(Capabilities::default);
        capabilities.drop = Some(vec!["ALL".to_string()]);
    }
}
