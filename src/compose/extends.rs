//! `extends` within one document: a service starts from another service's definition and
//! merges its own over it, with the same rules as `spec.overrides`. `extends: {file: …}`
//! reads another file, which a cluster cannot.

use std::collections::HashMap;

use super::diagnostic::{Diagnostic, Path, Report};
use super::merge::merge_service;
use super::yaml::{Node, Value};

/// Keys that tie a service to others, which compose does not allow in a base service.
const NOT_IN_A_BASE: [&str; 3] = ["links", "volumes_from", "depends_on"];

/// The longest chain of services extending each other. Real projects use one or two
/// levels; compose sets no limit, but a chain of thousands is only ever an attack.
pub const MAX_EXTENDS_DEPTH: usize = 32;

/// The most YAML nodes all resolved services may hold together: every extending service
/// carries a copy of its base, so a small document could otherwise grow without bound.
pub const MAX_RESOLVED_NODES: usize = 200_000;

/// What is known of one service while chains are resolved.
enum State {
    Unvisited,
    /// On the chain being walked now; meeting it again is a loop.
    OnChain,
    Resolved(Node),
    /// Refused (the error is reported once, at the service whose `extends` is wrong).
    Failed,
}

/// Replaces each extending service by the merge of its base (resolved first) and itself.
///
/// Each chain is walked with a loop, not recursion, and every service is resolved once,
/// so the work is linear in the number of services (times the size of what is merged).
pub fn resolve(tree: &mut Node, report: &mut Report) {
    let Some(Value::Map(services)) = tree.get("services").map(|s| &s.value) else {
        return;
    };
    let index: HashMap<&str, usize> = services.iter().enumerate().map(|(i, (name, _))| (name.as_str(), i)).collect();
    let mut states: Vec<State> = services.iter().map(|_| State::Unvisited).collect();
    let mut nodes = 0usize;
    for start in 0..services.len() {
        // Walk down the chain to a resolved (or base-less) service, remembering the way.
        let mut chain: Vec<usize> = Vec::new();
        let mut current = start;
        let mut failed = false;
        while matches!(states[current], State::Unvisited) {
            states[current] = State::OnChain;
            chain.push(current);
            let (name, service) = &services[current];
            let Some(extends) = service.get("extends") else { break };
            let path = Path::root().key("services").key(name).key("extends");
            match base_of(extends, &path, report) {
                None => {
                    failed = true;
                    break;
                }
                Some(base_name) => match index.get(base_name.as_str()) {
                    None => {
                        report.error(Diagnostic::new(path, format!("extends `{base_name}`, which is not a service of this document")).at(extends.location));
                        failed = true;
                        break;
                    }
                    Some(&base) => {
                        if matches!(states[base], State::OnChain) {
                            let from = chain.iter().position(|i| *i == base).unwrap_or(0);
                            let mut names: Vec<&str> = chain[from..].iter().map(|i| services[*i].0.as_str()).collect();
                            names.push(&services[base].0);
                            report.error(Diagnostic::new(path, format!("extends loops: {}", names.join(" → "))).at(extends.location));
                            failed = true;
                            break;
                        }
                        if let Some(key) = NOT_IN_A_BASE.iter().find(|key| services[base].1.get(key).is_some()) {
                            report.error(
                                Diagnostic::new(path, format!("`{base_name}` has {key}, so it cannot be extended (compose forbids it)"))
                                    .with_hint("move the dependency into the extending service")
                                    .at(extends.location),
                            );
                            failed = true;
                            break;
                        }
                        if chain.len() >= MAX_EXTENDS_DEPTH {
                            report.error(
                                Diagnostic::new(path, format!("services extend each other more than {MAX_EXTENDS_DEPTH} levels deep"))
                                    .with_hint("flatten the chain: extend a common base directly")
                                    .at(extends.location),
                            );
                            failed = true;
                            break;
                        }
                        current = base;
                    }
                },
            }
        }
        if failed || matches!(states[current], State::Failed) {
            for i in chain {
                states[i] = State::Failed;
            }
            continue;
        }
        // Resolve back up the chain: each service over its (now resolved) base.
        for i in chain.into_iter().rev() {
            let own = without_extends(&services[i].1);
            let resolved = match services[i].1.get("extends").and_then(base_name).and_then(|b| index.get(b.as_str())) {
                Some(&base) => match &states[base] {
                    State::Resolved(base) => merge_service(base.clone(), own),
                    _ => own,
                },
                None => own,
            };
            nodes = nodes.saturating_add(resolved.count_nodes());
            if nodes > MAX_RESOLVED_NODES {
                report.error(
                    Diagnostic::new(Path::root().key("services"), format!("extends makes the services larger than {MAX_RESOLVED_NODES} YAML nodes"))
                        .with_hint("extend smaller bases, or fewer times"),
                );
                return;
            }
            states[i] = State::Resolved(resolved);
        }
    }
    let resolved: Vec<(String, Node)> = services
        .iter()
        .zip(states)
        .filter_map(|((name, _), state)| match state {
            State::Resolved(node) => Some((name.clone(), node)),
            _ => None,
        })
        .collect();
    if let Value::Map(root) = &mut tree.value
        && let Some((_, services)) = root.iter_mut().find(|(k, _)| k == "services")
    {
        services.value = Value::Map(resolved);
    }
}

/// The base a service's `extends` names, or `None` after reporting why it names none.
fn base_of(extends: &Node, path: &Path, report: &mut Report) -> Option<String> {
    if let Some(file) = extends.get("file").and_then(Node::scalar_text) {
        let location = extends.get("file").and_then(|f| f.location).or(extends.location);
        report.error(
            Diagnostic::new(path.key("file"), format!("extends reads `{file}`, another file, which a cluster cannot do"))
                .with_hint("copy the base service into this document (or into spec.overrides) and extend it by name")
                .at(location),
        );
        return None;
    }
    let name = base_name(extends).unwrap_or_default();
    if name.is_empty() {
        report.error(
            Diagnostic::new(path.clone(), "extends names no service").with_hint("write `extends: base` or `extends: {service: base}`").at(extends.location),
        );
        return None;
    }
    Some(name)
}

/// `extends: base` or `extends: {service: base}`.
fn base_name(extends: &Node) -> Option<String> {
    match &extends.value {
        Value::String(base) => Some(base.clone()),
        Value::Map(_) => extends.get("service").and_then(Node::scalar_text),
        _ => None,
    }
}

fn without_extends(service: &Node) -> Node {
    let mut own = service.clone();
    if let Value::Map(entries) = &mut own.value {
        entries.retain(|(key, _)| key != "extends");
    }
    own
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    fn resolved(text: &str) -> Result<serde_json::Value, String> {
        let mut tree = parse(text, 0).unwrap();
        let mut report = Report::default();
        resolve(&mut tree, &mut report);
        match report.errors.first() {
            Some(error) => Err(error.to_string()),
            None => Ok(tree.to_json()["services"].clone()),
        }
    }

    #[test]
    fn a_service_extends_another_with_the_merge_rules() {
        let services = resolved(
            "services:\n  base: {image: app, environment: [A=1, B=2], ports: ['80:80'], command: [run]}\n  web:\n    extends: base\n    environment: {B: '3'}\n    ports: ['443:443']\n    command: [serve]\n  worker:\n    extends: {service: web}\n    image: app-worker\n",
        )
        .unwrap();
        assert_eq!(
            services["web"],
            serde_json::json!({"image": "app", "environment": {"A": "1", "B": "3"}, "ports": ["80:80", "443:443"], "command": ["serve"]})
        );
        assert_eq!(services["worker"]["image"], "app-worker");
        assert_eq!(services["worker"]["ports"], serde_json::json!(["80:80", "443:443"]));
    }

    #[test]
    fn other_files_loops_and_bases_with_dependencies_are_refused() {
        assert!(resolved("services:\n  a: {extends: {file: common.yml, service: b}}\n").unwrap_err().contains("another file"));
        assert!(resolved("services:\n  a: {extends: b, image: x}\n  b: {extends: a, image: y}\n").unwrap_err().contains("loops"));
        assert!(resolved("services:\n  a: {extends: b}\n  b: {image: y, depends_on: [c]}\n  c: {image: z}\n").unwrap_err().contains("cannot be extended"));
        assert!(resolved("services:\n  a: {extends: nope}\n").unwrap_err().contains("not a service"));
    }
}
