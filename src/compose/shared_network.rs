//! `network_mode: service:<name>` (or `container:<name>`): whose network each service ends up
//! on, following chains (`a` → `b` → `c` puts `a` and `b` on `c`'s network). Decided once for
//! the project: validation reports the broken references, loops and ports that Docker
//! refuses too, and the translation runs each such service in its host's pod.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Diagnostic, Path};
use super::model::{ComposeFile, Service};

/// For each service that shares another's network, the service at the end of its chain, or
/// why there is none.
pub struct SharedNetworks<'a> {
    pub hosts: BTreeMap<&'a str, &'a str>,
    pub problems: Vec<Diagnostic>,
}

/// The service (or container) a service's `network_mode` names, if it names one.
fn shared_with(service: &Service) -> Option<&str> {
    service.network_mode.as_ref()?.ok_ref()?.shared_with()
}

/// Follows every chain. Each walk visits a service at most once, so a project of n services
/// takes at most n² steps (n is at most `MAX_SERVICES`).
pub fn resolve(file: &ComposeFile) -> SharedNetworks<'_> {
    // `container:` names a container; compose lets a service set container_name.
    let by_container_name: BTreeMap<&str, &str> =
        file.services.iter().filter_map(|(name, service)| Some((service.container_name.as_deref()?, name.as_str()))).collect();
    let service_named = |reference: &str| file.services.get_key_value(reference).map(|(k, _)| k.as_str()).or_else(|| by_container_name.get(reference).copied());
    let mut hosts = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, service) in &file.services {
        let Some(first) = shared_with(service) else { continue };
        let path = Path::root().key("services").key(name).key("network_mode");
        let mut seen = BTreeSet::from([name.as_str()]);
        let mut current = first;
        let host = loop {
            let Some(target) = service_named(current) else {
                problems.push(
                    Diagnostic::new(path.clone(), format!("shares the network of `{current}`, which is not a service of this stack"))
                        .with_hint("name a service of the stack, or remove network_mode"),
                );
                break None;
            };
            if !seen.insert(target) {
                problems.push(Diagnostic::new(path.clone(), format!("network_mode loops back to `{target}`")));
                break None;
            }
            match shared_with(&file.services[target]) {
                Some(next) => current = next,
                None => break Some(target),
            }
        };
        if let Some(host) = host {
            if !service.ports.is_empty() || !service.expose.is_empty() {
                problems.push(
                    Diagnostic::new(
                        Path::root().key("services").key(name).key("ports"),
                        format!("it shares the network of `{host}`, so its ports are `{host}`'s (Docker refuses them here too)"),
                    )
                    .with_hint(format!("publish the ports on `{host}`")),
                );
            }
            hosts.insert(name.as_str(), host);
        }
    }
    SharedNetworks { hosts, problems }
}
