//! A ComposeStack's whole way to Kubernetes objects, shared by the CLI and the controller:
//! load (`compose`: parse, interpolate, merge, canonical form) → the images the stack names
//! → validate → budget → translate (`translate`, pure) → the namespace on every object.
//! Only this module reads a `ComposeStackSpec`; the translation sees the loaded project and a
//! resolved [`Target`].

use std::collections::BTreeMap;

use crate::api::ComposeStackSpec;
use crate::compose::diagnostic::{Diagnostic, Diagnostics, Path, Report};
use crate::compose::limits::MAX_OBJECTS;
use crate::compose::load::{self, Loaded, Sources};
use crate::compose::model::ComposeFile;
use crate::compose::validate::validate;
use crate::policy::Policy;
use crate::translate::fragment::admission::PodSecurityLevel;
use crate::translate::project_files::ProjectFiles;
use crate::translate::{self, Target, Translation, names};

/// What the operator knows of the namespace a stack lands in, beyond its name.
#[derive(Clone, Debug, Default)]
pub struct NamespaceSettings {
    /// The Pod Security level the namespace enforces.
    pub pod_security: PodSecurityLevel,
}

/// Translates a stack for a namespace that enforces no Pod Security level.
pub fn translate(stack: &str, namespace: &str, spec: &ComposeStackSpec, policy: &Policy) -> Result<Translation, Diagnostics> {
    translate_for(stack, namespace, &NamespaceSettings::default(), spec, policy)
}

/// Translates a stack. Every problem is reported together; on any error nothing is returned,
/// so a stack is never half-applied.
pub fn translate_for(stack: &str, namespace: &str, settings: &NamespaceSettings, spec: &ComposeStackSpec, policy: &Policy) -> Result<Translation, Diagnostics> {
    let sources = Sources { compose: &spec.compose, overrides: &spec.overrides, variables: &spec.variables, profiles: &spec.profiles };
    translate_loaded(stack, namespace, settings, spec, policy, load::load(&sources)?)
}

/// The same, for a document loaded already from `spec` (the CLI loads it once to find the
/// project files it refers to).
pub fn translate_loaded(
    stack: &str,
    namespace: &str,
    settings: &NamespaceSettings,
    spec: &ComposeStackSpec,
    policy: &Policy,
    mut loaded: Loaded,
) -> Result<Translation, Diagnostics> {
    let mut report = Report::default();
    for error in std::mem::take(&mut loaded.errors) {
        report.error(error);
    }
    for warning in std::mem::take(&mut loaded.warnings) {
        report.warn(&warning.path, warning.message);
    }
    set_images(&mut loaded.file, &spec.images, &mut report);
    if stack.len() > names::MAX_NAME {
        report.error(Diagnostic::new(
            Path::root(),
            format!("the stack name `{stack}` is longer than {} characters, too long for a label value", names::MAX_NAME),
        ));
    }
    validate(&loaded.file, &mut report);
    if !check_object_estimate(&loaded.file, &mut report) {
        return Err(report.into_diagnostics(|d| loaded.locate(d)));
    }
    let target = target(stack, settings, spec, policy);
    let mut translation = translate::translate(&loaded.file, &target, &mut report);
    if report.has_errors() {
        return Err(report.into_diagnostics(|d| loaded.locate(d)));
    }
    for metadata in translation.metadata_mut() {
        metadata.namespace = Some(namespace.to_string());
    }
    translation.warnings = report.into_warnings();
    Ok(translation)
}

/// The project files packed into a ComposeStack, indexed; build it once per translation.
pub fn project_files(spec: &ComposeStackSpec) -> ProjectFiles<'_> {
    ProjectFiles::new(&spec.files, &spec.binary_files, &spec.directories)
}

/// What the translation reads of the ComposeStack, resolved once.
fn target<'a>(stack: &'a str, settings: &NamespaceSettings, spec: &'a ComposeStackSpec, policy: &'a Policy) -> Target<'a> {
    Target {
        stack,
        pod_security: settings.pod_security,
        policy,
        files: project_files(spec),
        variables: &spec.variables,
        secret_files: spec.secret_files.as_deref(),
        secret_variables: spec.secret_variables.as_deref(),
        secret_env_files: &spec.secret_env_files,
        unpacked_paths: &spec.unpacked_paths,
        bind_mounts: spec.bind_mounts(),
        network_policies: spec.network_policies(),
        published_service_type: spec.published_service_type(),
        volume_size: spec.volume_size(),
        storage_class_name: spec.storage_class_name(),
        retain_volumes: spec.retain_volumes(),
    }
}

/// Refuses, before any per-service work, a stack whose object count alone is over the
/// budget: four objects a service at most, one a link or network alias, config, secret
/// or volume. Says whether the stack is within it.
fn check_object_estimate(file: &ComposeFile, report: &mut Report) -> bool {
    let aliases: usize = file.services.values().map(|s| s.links.len() + s.networks.values().map(|n| n.aliases.len()).sum::<usize>()).sum();
    let estimate = 4 * file.services.len() + aliases + file.configs.len() + file.secrets.len() + file.volumes.len();
    if estimate > MAX_OBJECTS {
        report.error(
            Diagnostic::new(
                Path::root().key("services"),
                format!("the stack would become about {estimate} Kubernetes objects; at most {MAX_OBJECTS} are accepted"),
            )
            .with_hint("split the project into several ComposeStacks"),
        );
        return false;
    }
    true
}

/// `spec.images`: the image a pipeline pushed, set over (or instead of) `image:`.
fn set_images(file: &mut ComposeFile, images: &BTreeMap<String, String>, report: &mut Report) {
    for (service, image) in images {
        let path = Path::root().key("spec").key("images").key(service);
        match file.services.get_mut(service) {
            Some(_) if image.trim().is_empty() => report.error(Diagnostic::new(path, "the image is empty")),
            Some(definition) => definition.image = Some(image.clone()),
            None => report.warn(&path, "there is no such service in the stack (or its profile is not enabled); ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::project_files::ProjectFiles;

    /// Each value compose could not take, one per case: loading or validation reports it, at
    /// its path, and the translation does not report it again (one place per check).
    #[test]
    fn each_unreadable_value_is_reported_once_by_validation() {
        let cases = [
            ("scale: many", "scale"),
            ("restart: sometimes", "restart"),
            ("network_mode: sideways", "network_mode"),
            ("pull_policy: hourly", "pull_policy"),
            ("stop_grace_period: 10 minutes", "stop_grace_period"),
            ("shm_size: huge", "shm_size"),
            ("init: maybe", "init"),
            ("privileged: maybe", "privileged"),
            ("read_only: maybe", "read_only"),
            ("stdin_open: maybe", "stdin_open"),
            ("tty: maybe", "tty"),
            ("cpus: lots", "cpus"),
            ("mem_limit: huge", "mem_limit"),
            ("mem_reservation: huge", "mem_reservation"),
            ("ports: [{target: 80, protocol: pigeon}]", "ports.0"),
            ("expose: ['80/pigeon']", "expose.0"),
            ("volumes: [{type: tmpfs, target: /t, read_only: maybe}]", "volumes.0.read_only"),
            ("volumes: [{type: tmpfs, target: /t, tmpfs: {size: huge}}]", "volumes.0.tmpfs.size"),
            ("volumes: [{type: bind, source: ./x, target: /x, bind: {create_host_path: maybe}}]", "volumes.0.bind.create_host_path"),
            ("volumes: [{type: tmpfs, target: t}]", "volumes.0.target"),
            ("tmpfs: ['/t:size=huge']", "tmpfs.0.size"),
            ("tmpfs: ['t:size=1m']", "tmpfs.0"),
            ("deploy: {mode: sideways}", "deploy.mode"),
            ("deploy: {replicas: many}", "deploy.replicas"),
            ("deploy: {endpoint_mode: anycast}", "deploy.endpoint_mode"),
            ("deploy: {resources: {limits: {cpus: lots}}}", "deploy.resources.limits.cpus"),
            ("deploy: {resources: {limits: {memory: huge}}}", "deploy.resources.limits.memory"),
            ("deploy: {resources: {reservations: {cpus: lots}}}", "deploy.resources.reservations.cpus"),
            ("deploy: {resources: {reservations: {memory: huge}}}", "deploy.resources.reservations.memory"),
            ("deploy: {restart_policy: {condition: sometimes}}", "deploy.restart_policy.condition"),
            ("deploy: {restart_policy: {delay: 5x}}", "deploy.restart_policy.delay"),
            ("deploy: {restart_policy: {max_attempts: many}}", "deploy.restart_policy.max_attempts"),
            ("deploy: {restart_policy: {window: 5x}}", "deploy.restart_policy.window"),
            ("deploy: {update_config: {parallelism: many}}", "deploy.update_config.parallelism"),
            ("deploy: {update_config: {delay: 5x}}", "deploy.update_config.delay"),
            ("deploy: {update_config: {failure_action: panic}}", "deploy.update_config.failure_action"),
            ("deploy: {update_config: {monitor: 5x}}", "deploy.update_config.monitor"),
            ("deploy: {update_config: {order: random}}", "deploy.update_config.order"),
            ("healthcheck: {test: [CMD, true], disable: maybe}", "healthcheck.disable"),
            ("healthcheck: {test: [FOO, bar]}", "healthcheck.test"),
            ("healthcheck: {test: [CMD, true], interval: 5x}", "healthcheck.interval"),
            ("healthcheck: {test: [CMD, true], timeout: 5x}", "healthcheck.timeout"),
            ("healthcheck: {test: [CMD, true], retries: many}", "healthcheck.retries"),
            ("healthcheck: {test: [CMD, true], start_period: 5x}", "healthcheck.start_period"),
            ("healthcheck: {test: [CMD, true], start_period: 5s, start_interval: 5x}", "healthcheck.start_interval"),
            ("post_start: [{command: [x], privileged: maybe}]", "post_start.0.privileged"),
            ("pre_stop: [{command: [x], privileged: maybe}]", "pre_stop.0.privileged"),
            ("depends_on: {other: {condition: eventually}}", "depends_on.other.condition"),
            ("extra_hosts: ['db:10.0.0.300']", "extra_hosts.db"),
            ("platform: linux//", "platform"),
            ("user: '1000:99999999999'", "user"),
            ("group_add: ['-1']", "group_add.0"),
            ("deploy: {placement: {constraints: [zone=east]}}", "deploy.placement.constraints.0"),
            ("deploy: {placement: {constraints: [baz != qux]}}", "deploy.placement.constraints.0"),
            ("deploy: {placement: {constraints: [node.role == boss]}}", "deploy.placement.constraints.0"),
            ("sysctls: [net.core.somaxconn]", "sysctls.net.core.somaxconn"),
            ("volumes: [{type: bind, target: /x}]", "volumes.0.source"),
            ("volumes: ['data:/data']", "volumes.0"),
            ("configs: [missing]", "configs.0"),
            ("secrets: [missing]", "secrets.0"),
            ("configs: [{source: settings, mode: '0999'}]", "configs.0.mode"),
            ("network_mode: 'service:nowhere'", "network_mode"),
            ("{network_mode: 'service:other', ports: ['80']}", "ports"),
        ];
        let (no_files, no_binary) = (BTreeMap::new(), BTreeMap::new());
        let policy = Policy::default();
        let target = Target::with_defaults(&policy, ProjectFiles::new(&no_files, &no_binary, &[]));
        for (snippet, key) in cases {
            let definition = match snippet.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                // `{a: x, b: y}`: several keys of the service, one per line.
                Some(keys) => keys.split(", ").map(|key| format!("    {key}\n")).collect::<String>(),
                None => format!("    {snippet}\n"),
            };
            let text = format!("services:\n  it:\n    image: x\n{definition}  other:\n    image: x\nconfigs:\n  settings: {{content: x}}\n");
            let variables = BTreeMap::new();
            let loaded = load::load(&load::Sources { compose: &text, overrides: &[], variables: &variables, profiles: &[] })
                .unwrap_or_else(|e| panic!("{snippet}: {e}"));
            let path = format!("services.it.{key}");
            let mut validated = Report { errors: loaded.errors.clone(), ..Report::default() };
            validate(&loaded.file, &mut validated);
            let found: Vec<String> = validated.errors.iter().map(|e| e.path.to_string()).collect();
            assert_eq!(found, vec![path.clone()], "{snippet}: loading and validation");
            let mut translated = Report::default();
            translate::translate(&loaded.file, &target, &mut translated);
            assert!(!translated.errors.iter().any(|e| e.path.to_string() == path), "{snippet}: the translation reports it again: {:?}", translated.errors);
        }
    }
}
