//! The security keys beyond users and capabilities: `sysctls` and `group_add` (pod
//! security context, with Docker's default seccomp confinement), `security_opt` (container
//! security context) and the lifecycle hooks `post_start` / `pre_stop`.

use k8s_openapi::api::core::v1::{
    AppArmorProfile, ExecAction, Lifecycle, LifecycleHandler, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext, Sysctl,
};

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{Hook, Identity, Parsed, Service};
use crate::policy::Policy;

/// Kubernetes' safe sysctls: namespaced, isolated per pod, allowed by every kubelet.
pub const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Sysctl names may use `/` as the separator; compose writes dots.
fn is_safe_sysctl(name: &str) -> bool {
    let dotted = name.replace('/', ".");
    SAFE_SYSCTLS.contains(&dotted.as_str())
}

/// `sysctls` and `group_add` → the pod's security context, which also gets the runtime's
/// default seccomp profile.
pub fn pod_security(spec: &mut PodSpec, service: &Service, path: &Path, policy: &Policy, report: &mut Report) {
    let mut sysctls = Vec::new();
    for (name, value) in &service.sysctls {
        let sysctl_path = path.key("sysctls").key(name);
        // One without a value is refused by validation.
        let Some(value) = value else { continue };
        let ipc = ["kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."].iter().any(|prefix| name.starts_with(prefix));
        if spec.host_ipc == Some(true) && ipc {
            report.error(
                Diagnostic::new(sysctl_path, "a pod sharing the node's IPC namespace cannot set IPC sysctls (they would change the node)")
                    .with_hint("remove it, or leave the node's IPC namespace"),
            );
            continue;
        }
        if spec.host_network == Some(true) && name.starts_with("net.") {
            report.error(
                Diagnostic::new(sysctl_path, "a pod on the node's network cannot set network sysctls (they would change the node)")
                    .with_hint("remove it, or leave the node's network"),
            );
            continue;
        }
        if !is_safe_sysctl(name) {
            if !policy.allow_unsafe_sysctls {
                report.error(
                    Diagnostic::new(
                        sysctl_path,
                        format!("`{name}` is not one of Kubernetes' safe sysctls; unsafe sysctls are {}", policy.refusal("allow-unsafe-sysctls")),
                    )
                    .with_hint(format!("the safe ones are {}; an unsafe one also needs the kubelet's --allowed-unsafe-sysctls", SAFE_SYSCTLS.join(", "))),
                );
                continue;
            }
            report.warn(&sysctl_path, "not a safe sysctl: the pod starts only on nodes whose kubelet allows it (--allowed-unsafe-sysctls)");
        }
        sysctls.push(Sysctl { name: name.clone(), value: value.clone() });
    }
    let mut groups = Vec::new();
    for (index, group) in service.group_add.iter().enumerate() {
        match group.ok() {
            Some(Identity::Id(gid)) => groups.push(i64::from(gid)),
            Some(Identity::Name(name)) => {
                report.warn(&path.key("group_add").key(index), format!("`{name}` is a group name; Kubernetes needs numeric group ids; ignored"))
            }
            // An id out of range is refused by validation.
            None => {}
        }
    }
    let context = spec.security_context.get_or_insert_with(PodSecurityContext::default);
    context.sysctls = (!sysctls.is_empty()).then_some(sysctls);
    context.supplemental_groups = (!groups.is_empty()).then_some(groups);
    // Docker confines every container with its default seccomp profile unless told not
    // to; Kubernetes runs them unconfined unless asked. A container's own
    // `security_opt: seccomp:unconfined` (with the policy's consent) overrides this.
    context.seccomp_profile = Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None });
}

/// `security_opt` → the container's security context (given with privileges and
/// capabilities already set).
pub fn security_options(context: &mut SecurityContext, service: &Service, path: &Path, policy: &Policy, report: &mut Report) {
    for (index, option) in service.security_opt.iter().enumerate() {
        let option_path = path.key("security_opt").key(index);
        let split = option.find([':', '=']).map(|at| (&option[..at], Some(&option[at + 1..])));
        let (key, value) = split.unwrap_or((option.as_str(), None));
        let unconfined = |what: &str, report: &mut Report| -> bool {
            if policy.allow_privileged {
                return true;
            }
            report.error(
                Diagnostic::new(option_path.clone(), format!("running without {what} confinement is {}", policy.refusal("allow-privileged")))
                    .with_hint("remove it: most images run under the container runtime's default profile"),
            );
            false
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => no_new_privileges(context, service, &option_path, report),
            ("no-new-privileges", Some("false")) => {}
            ("seccomp", Some("unconfined")) => {
                if unconfined("seccomp", report) {
                    context.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None });
                }
            }
            ("seccomp", Some(file)) if !file.is_empty() => report.warn(&option_path, format!(
                "the seccomp profile `{file}` is a file a cluster cannot read (Kubernetes loads profiles from the node's kubelet directory); the cluster's default applies"
            )),
            ("apparmor", Some("unconfined")) => {
                if unconfined("AppArmor", report) {
                    context.app_armor_profile = Some(AppArmorProfile { type_: "Unconfined".into(), localhost_profile: None });
                }
            }
            ("apparmor", Some("docker-default")) => context.app_armor_profile = Some(AppArmorProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            // A named profile must be loaded on the node, as Docker needs it loaded on the host.
            ("apparmor", Some(profile)) if !profile.is_empty() => {
                context.app_armor_profile = Some(AppArmorProfile { type_: "Localhost".into(), localhost_profile: Some(profile.to_string()) });
            }
            ("label", _) => report.warn(&option_path, "SELinux labels are not translated (Kubernetes' seLinuxOptions are restricted by Pod Security); the runtime's default label applies; ignored"),
            _ => report.warn(&option_path, format!("`{option}` has no Kubernetes equivalent; ignored")),
        }
    }
}

/// `no-new-privileges` → `allowPrivilegeEscalation: false`, which Kubernetes refuses
/// next to `privileged` or CAP_SYS_ADMIN (both can escalate anyway).
fn no_new_privileges(context: &mut SecurityContext, service: &Service, path: &Path, report: &mut Report) {
    let sys_admin = service.cap_add.iter().any(|c| {
        let c = c.to_ascii_uppercase();
        c == "ALL" || c.trim_start_matches("CAP_") == "SYS_ADMIN"
    });
    if context.privileged == Some(true) || sys_admin {
        report.warn(path, "a privileged container or one with CAP_SYS_ADMIN can always gain privileges; Kubernetes refuses allowPrivilegeEscalation: false next to them; ignored");
        return;
    }
    context.allow_privilege_escalation = Some(false);
}

/// `post_start` / `pre_stop` → exec lifecycle hooks. Kubernetes runs one command per hook
/// in the container as it is: the first entry is used, the rest reported.
pub fn lifecycle(service: &Service, path: &Path, report: &mut Report) -> Option<Lifecycle> {
    let post_start = hook(&service.post_start, &path.key("post_start"), report);
    let pre_stop = hook(&service.pre_stop, &path.key("pre_stop"), report);
    (post_start.is_some() || pre_stop.is_some()).then_some(Lifecycle { post_start, pre_stop, ..Default::default() })
}

fn hook(hooks: &[Hook], path: &Path, report: &mut Report) -> Option<LifecycleHandler> {
    let first = hooks.first()?;
    for index in 1..hooks.len() {
        report.warn(&path.key(index), "Kubernetes runs one command per hook: only the first runs; ignored (combine them, e.g. sh -c 'a && b')");
    }
    let first_path = path.key(0);
    let notes: [(&str, bool, &str); 4] = [
        ("user", first.user.is_some(), "hooks run as the container's user; ignored"),
        ("privileged", first.privileged.as_ref().and_then(Parsed::ok) == Some(true), "hooks run with the container's privileges; ignored"),
        ("working_dir", first.working_dir.is_some(), "hooks run in the container's working directory; ignored"),
        ("environment", !first.environment.is_empty(), "hooks see the container's environment only; ignored"),
    ];
    for (key, present, reason) in notes {
        if present {
            report.warn(&first_path.key(key), reason);
        }
    }
    let command = first.command.clone();
    if command.is_empty() {
        report.error(Diagnostic::new(first_path.key("command"), "the hook command is empty"));
        return None;
    }
    Some(LifecycleHandler { exec: Some(ExecAction { command: Some(command) }), ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(yaml: &str) -> Service {
        crate::compose::load::service_from_yaml(yaml)
    }

    #[test]
    fn sysctls_are_safe_or_allowed() {
        let web = service("image: x\nsysctls: {net.ipv4.tcp_syncookies: 1, net.core.somaxconn: 1024}\n");
        let mut spec = PodSpec::default();
        let mut report = Report::default();
        pod_security(&mut spec, &web, &Path::root(), &Policy::default(), &mut report);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(spec.security_context.unwrap().sysctls.unwrap().len(), 1);
        let mut spec = PodSpec::default();
        let mut report = Report::default();
        pod_security(&mut spec, &web, &Path::root(), &Policy { allow_unsafe_sysctls: true, ..Default::default() }, &mut report);
        assert!(report.errors.is_empty());
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(spec.security_context.unwrap().sysctls.unwrap().len(), 2);
        assert!(is_safe_sysctl("net/ipv4/tcp_syncookies"));
    }

    #[test]
    fn host_network_pods_cannot_set_network_sysctls() {
        let web = service("image: x\nsysctls: {net.ipv4.tcp_syncookies: 1, kernel.shm_rmid_forced: 1}\n");
        let mut spec = PodSpec { host_network: Some(true), ..Default::default() };
        let mut report = Report::default();
        pod_security(&mut spec, &web, &Path::root(), &Policy::default(), &mut report);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(spec.security_context.unwrap().sysctls.unwrap()[0].name, "kernel.shm_rmid_forced");
    }

    #[test]
    fn security_options_map_or_warn() {
        let web = service("image: x\nsecurity_opt: ['no-new-privileges:true', 'apparmor=my-profile', 'label:type:svirt_t', 'seccomp:unconfined']\n");
        let mut context = SecurityContext::default();
        let mut report = Report::default();
        security_options(&mut context, &web, &Path::root(), &Policy::default(), &mut report);
        assert_eq!(context.allow_privilege_escalation, Some(false));
        assert_eq!(context.app_armor_profile.unwrap().localhost_profile.as_deref(), Some("my-profile"));
        assert_eq!((report.errors.len(), report.warnings.len()), (1, 1));
        let mut context = SecurityContext { privileged: Some(true), ..Default::default() };
        let mut report = Report::default();
        security_options(&mut context, &web, &Path::root(), &Policy { allow_privileged: true, ..Default::default() }, &mut report);
        assert_eq!(context.allow_privilege_escalation, None);
        assert_eq!(context.seccomp_profile.unwrap().type_, "Unconfined");
    }

    #[test]
    fn the_first_hook_runs_and_the_rest_are_reported() {
        let web = service("image: x\npost_start:\n  - command: echo a b\n    user: root\n  - command: [echo, c]\npre_stop:\n  - command: [nginx, -s, quit]\n");
        let mut report = Report::default();
        let lifecycle = lifecycle(&web, &Path::root(), &mut report).unwrap();
        assert_eq!(lifecycle.post_start.unwrap().exec.unwrap().command.unwrap(), ["echo", "a", "b"]);
        assert_eq!(lifecycle.pre_stop.unwrap().exec.unwrap().command.unwrap(), ["nginx", "-s", "quit"]);
        assert_eq!(report.warnings.len(), 2);
    }
}
