//! `extends` within one document: a service starts from another service's definition and
//! merges its own over it, with the same rules as `spec.overrides`. `extends: {file: …}`
//! reads another file, which a cluster cannot.

use super::diagnostic::{Diagnostic, Path, Report};
use super::merge::merge_service;
use super::yaml::{Node, Value};

/// Keys that tie a service to others, which compose does not allow in a base service.
const NOT_IN_A_BASE: [&str; 3] = ["links", "volumes_from", "depends_on"];

/// Replaces each extending service by the merge of its base (resolved first) and itself.
pub fn resolve(tree: &mut Node, report: &mut Report) {
    let Some(Value::Map(services)) = tree.as_map().and_then(|root| root.iter().find(|(k, _)| k == "services")).map(|(_, s)| s.value.clone()) else {
        return;
    };
    let names: Vec<String> = services.iter().map(|(name, _)| name.clone()).collect();
    let mut resolved: Vec<(String, Node)> = Vec::new();
    for name in &names {
        if let Some(node) = resolve_one(&services, name, &mut Vec::new(), report) {
            resolved.push((name.clone(), node));
        }
    }
    if let Value::Map(root) = &mut tree.value
        && let Some((_, services)) = root.iter_mut().find(|(k, _)| k == "services")
    {
        services.value = Value::Map(resolved);
    }
}

fn resolve_one(services: &[(String, Node)], name: &str, chain: &mut Vec<String>, report: &mut Report) -> Option<Node> {
    let (_, service) = services.iter().find(|(n, _)| n == name)?;
    let path = Path::root().key("services").key(name).key("extends");
    let Some(extends) = service.get("extends") else { return Some(service.clone()) };
    let base_name = match &extends.value {
        Value::String(base) => base.clone(),
        Value::Map(_) => {
            if let Some(file) = extends.get("file").and_then(Node::scalar_text) {
                report.error(
                    Diagnostic::new(path.key("file"), format!("extends reads `{file}`, another file, which a cluster cannot do"))
                        .with_hint("copy the base service into this document (or into spec.overrides) and extend it by name"),
                );
                return None;
            }
            extends.get("service").and_then(Node::scalar_text).unwrap_or_default()
        }
        _ => String::new(),
    };
    if base_name.is_empty() {
        report.error(Diagnostic::new(path, "extends names no service").with_hint("write `extends: base` or `extends: {service: base}`"));
        return None;
    }
    if chain.contains(&base_name) || base_name == name {
        report.error(Diagnostic::new(path, format!("extends loops: {} → {name} → {base_name}", chain.join(" → "))));
        return None;
    }
    let Some((_, base_definition)) = services.iter().find(|(n, _)| *n == base_name) else {
        report.error(Diagnostic::new(path, format!("extends `{base_name}`, which is not a service of this document")));
        return None;
    };
    for key in NOT_IN_A_BASE {
        if base_definition.get(key).is_some() {
            report.error(
                Diagnostic::new(path.clone(), format!("`{base_name}` has {key}, so it cannot be extended (compose forbids it)"))
                    .with_hint("move the dependency into the extending service"),
            );
            return None;
        }
    }
    chain.push(name.to_string());
    let base = resolve_one(services, &base_name, chain, report)?;
    chain.pop();
    let own = without_extends(service);
    Some(merge_service(base, own))
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
