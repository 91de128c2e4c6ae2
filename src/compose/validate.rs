//! Checks that span services: images, references between services, dependency cycles,
//! and compose features a cluster cannot honour; then each field's own (`fields`).

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Diagnostic, Path, Report};
use super::model::{ComposeFile, Service};
use super::{fields, ignored, shared_network};

pub fn validate(file: &ComposeFile, report: &mut Report) {
    ignored::warn(file, report);
    if file.include.is_some() {
        report.error(
            Diagnostic::new(Path::root().key("include"), "include reads other files, which a cluster cannot do")
                .with_hint("inline the included services, or list the documents in spec.overrides"),
        );
    }
    if file.services.is_empty() {
        report.error(Diagnostic::new(Path::root().key("services"), "the stack has no services").with_hint("add at least one service under services:"));
    }
    for (name, service) in &file.services {
        let path = Path::root().key("services").key(name);
        if service.provider.is_some() {
            report.error(
                Diagnostic::new(
                    path.key("provider"),
                    "a provider service is run by docker compose on its host, outside any container; a cluster cannot run it",
                )
                .with_hint("set up what the provider provides separately, and give its address to the services in environment:"),
            );
        } else {
            image_and_build(service, &path, report);
        }
        if service.volumes_from.is_some() {
            report.error(
                Diagnostic::new(path.key("volumes_from"), "containers in different pods cannot share volumes this way")
                    .with_hint("mount the same named volume in both services"),
            );
        }
        if service.external_links.is_some() {
            report.warn(&path.key("external_links"), "containers outside the stack are not reachable by name; ignored");
        }
        for dependency in service.depends_on.keys() {
            if !file.services.contains_key(dependency) {
                report.error(Diagnostic::new(
                    path.key("depends_on").key(dependency),
                    format!("depends on `{dependency}`, which is not a service of this stack (or its profile is not enabled)"),
                ));
            }
        }
        for (index, link) in service.links.iter().enumerate() {
            let target = &link.service;
            if !file.services.contains_key(target) {
                report.error(Diagnostic::new(path.key("links").key(index), format!("links to `{target}`, which is not a service of this stack")));
            }
        }
        for network in service.networks.keys() {
            if !file.networks.contains_key(network) && network != "default" {
                report
                    .error(Diagnostic::new(path.key("networks").key(network), format!("network `{network}` is not declared under the top-level `networks:`")));
            }
        }
        for (index, mount) in service.volumes.iter().enumerate() {
            if let Some(volume) = mount.named_source().filter(|volume| !file.volumes.contains_key(*volume)) {
                report.error(
                    Diagnostic::new(path.key("volumes").key(index), format!("volume `{volume}` is not declared under the top-level `volumes:`"))
                        .with_hint(format!("add `volumes: {{{volume}: {{}}}}` at the top level")),
                );
            }
        }
        for (section, word, entries, definitions) in
            [("configs", "config", &service.configs, &file.configs), ("secrets", "secret", &service.secrets, &file.secrets)]
        {
            for (index, entry) in entries.iter().enumerate().filter(|(_, entry)| !definitions.contains_key(&entry.source)) {
                report.error(Diagnostic::new(
                    path.key(section).key(index),
                    format!("{word} `{}` is not declared under the top-level `{section}:`", entry.source),
                ));
            }
        }
    }
    if let Some(cycle) = dependency_cycle(file) {
        report.error(Diagnostic::new(Path::root().key("services").key(&cycle[0]).key("depends_on"), format!("dependency cycle: {}", cycle.join(" → "))));
    }
    for problem in shared_network::resolve(file).problems {
        report.error(problem);
    }
    fields::check(file, report);
}

/// A cycle in `depends_on`, as the list of services around it, if there is one.
fn dependency_cycle(file: &ComposeFile) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = file
        .services
        .iter()
        .map(|(name, service)| (name.as_str(), service.depends_on.keys().map(String::as_str).filter(|d| file.services.contains_key(*d)).collect()))
        .collect();
    let mut finished = BTreeSet::new();
    for start in edges.keys() {
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut on_path: Vec<&str> = vec![start];
        while let Some((node, next)) = stack.last_mut() {
            let children = &edges[*node];
            if let Some(child) = children.get(*next).copied() {
                *next += 1;
                if let Some(position) = on_path.iter().position(|n| *n == child) {
                    let mut cycle: Vec<String> = on_path[position..].iter().map(|s| s.to_string()).collect();
                    cycle.push(child.to_string());
                    return Some(cycle);
                }
                if !finished.contains(child) {
                    stack.push((child, 0));
                    on_path.push(child);
                }
            } else {
                finished.insert(*node);
                stack.pop();
                on_path.pop();
            }
        }
    }
    None
}

/// A service needs an image; `build:` alone cannot run in a cluster.
fn image_and_build(service: &Service, path: &Path, report: &mut Report) {
    match (&service.image, &service.build) {
        (Some(image), _) if image.trim().is_empty() => report.error(Diagnostic::new(path.key("image"), "the image is empty")),
        (Some(_), Some(_)) => report.warn(&path.key("build"), "the cluster pulls `image`; build is ignored"),
        (Some(_), None) => {}
        (None, Some(_)) => report.error(Diagnostic::new(path.key("build"), "build is not supported in a cluster").with_hint("push an image and set image:")),
        (None, None) => report.error(Diagnostic::new(path.key("image"), "the service has no image").with_hint("set image: to a pullable image reference")),
    }
}
