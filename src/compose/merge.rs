//! `spec.overrides`: later documents merged over earlier ones with the compose-spec merge
//! rules (what `docker compose -f a.yaml -f b.yaml` does).
//!
//! - mappings merge key by key;
//! - `command`, `entrypoint` and `healthcheck.test` are replaced whole;
//! - `environment`, `labels`, `sysctls` and `annotations` merge by key, whichever syntax
//!   (list or mapping) each side uses; `extra_hosts`, `depends_on` and `networks` too when
//!   one side is a mapping (two lists are appended: a host may have an IPv4 and an IPv6);
//! - `volumes`, `secrets` and `configs` of a service merge by mount target;
//! - every other list (`ports`, `expose`, `dns`, `cap_add`, …) is appended without duplicates;
//! - `!reset` removes the inherited value, `!override` replaces it instead of merging.

use std::collections::{HashMap, HashSet};

use super::canonical;
use super::yaml::{MergeTag, Node, Value};

/// Merges every document over the first, in order, and applies `!reset` wherever it is left.
/// `!reset` tags left in the result are kept for `extends`, which resolves after the merge
/// (a service can reset what its base gives it); [`strip_resets`] removes them after that.
pub fn merge_all(documents: impl IntoIterator<Item = Node>) -> Option<Node> {
    let mut documents = documents.into_iter();
    let first = documents.next()?;
    Some(documents.fold(first, |base, overlay| merge(base, overlay, &mut Vec::new())))
}

/// `!reset` with nothing under it to reset still means "not set".
pub fn strip_resets(node: Node) -> Node {
    without_resets(node)
}

/// One service's definition merged over another's (`extends`), with the service rules.
pub fn merge_service(base: Node, overlay: Node) -> Node {
    let mut path = vec!["services".to_string(), "_".to_string()];
    without_resets(merge(base, overlay, &mut path))
}

/// How a value at some path combines with the value it overrides.
#[derive(Debug, PartialEq, Eq)]
enum Rule {
    /// Mappings merge, scalars are replaced, lists append without duplicates.
    Default,
    /// The later value wins whole.
    Replace,
    /// Lists are read as mappings (`KEY=VALUE`, `host:ip`, `name`), then merged by key.
    ByKey(Separator),
    /// List items with the same mount target replace each other.
    ByTarget(MountKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Separator {
    /// `KEY=VALUE` (environment, labels, sysctls, annotations).
    Equals,
    /// `host:ip` or `host=ip` (extra_hosts).
    ColonOrEquals,
    /// Bare names (depends_on, networks, links are names): each item is a key with no value.
    NameOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MountKind {
    /// `source:target[:mode]` or `{target: …}`.
    Volume,
    /// `source` or `{source: …, target: …}`; the default target derives from the source.
    File,
}

/// The rule for the value at `path` (a path into the compose document).
fn rule(path: &[String]) -> Rule {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["services", _, field] => match *field {
            "command" | "entrypoint" => Rule::Replace,
            "environment" | "labels" | "annotations" | "sysctls" => Rule::ByKey(Separator::Equals),
            "extra_hosts" => Rule::ByKey(Separator::ColonOrEquals),
            "depends_on" | "networks" => Rule::ByKey(Separator::NameOnly),
            "volumes" => Rule::ByTarget(MountKind::Volume),
            "secrets" | "configs" => Rule::ByTarget(MountKind::File),
            _ => Rule::Default,
        },
        ["services", _, "healthcheck", "test"] => Rule::Replace,
        ["services", _, "deploy", "labels"] | ["services", _, "build", "args"] => Rule::ByKey(Separator::Equals),
        [_, _, "labels"] => Rule::ByKey(Separator::Equals),
        _ => Rule::Default,
    }
}

fn merge(base: Node, overlay: Node, path: &mut Vec<String>) -> Node {
    if overlay.tag == Some(MergeTag::Override) {
        return Node { tag: None, ..overlay };
    }
    let rule = rule(path);
    if rule == Rule::Replace {
        return overlay;
    }
    let location = overlay.location.or(base.location);
    let value = match (base.value, overlay.value) {
        // An empty override (`web:`) changes nothing.
        (base, Value::Null) => base,
        (Value::Map(base), Value::Map(overlay)) => Value::Map(merge_maps(base, overlay, path)),
        (Value::Map(base), Value::Seq(overlay)) => {
            let Rule::ByKey(separator) = rule else { return Node { value: Value::Seq(overlay), tag: None, location } };
            Value::Map(merge_maps(base, list_to_map(overlay, separator), path))
        }
        (Value::Seq(base), Value::Map(overlay)) => {
            let Rule::ByKey(separator) = rule else { return Node { value: Value::Map(overlay), tag: None, location } };
            Value::Map(merge_maps(list_to_map(base, separator), overlay, path))
        }
        // Keys are unique in these lists: a later `A=2` replaces `A=1`.
        (Value::Seq(base), Value::Seq(overlay)) if rule == Rule::ByKey(Separator::Equals) => {
            Value::Map(merge_maps(list_to_map(base, Separator::Equals), list_to_map(overlay, Separator::Equals), path))
        }
        (Value::Seq(base), Value::Seq(overlay)) => Value::Seq(match rule {
            Rule::ByTarget(kind) => merge_by_target(base, overlay, kind),
            // A host may be listed twice on purpose (IPv4 and IPv6), and names are names.
            _ => append_unique(base, overlay),
        }),
        (_, overlay) => overlay,
    };
    Node { value, tag: None, location }
}

/// Merges `overlay` into `base` key by key. An index of `base` keeps this linear: a
/// tenant's mapping of thousands of keys must not cost millions of comparisons.
fn merge_maps(base: Vec<(String, Node)>, overlay: Vec<(String, Node)>, path: &mut Vec<String>) -> Vec<(String, Node)> {
    let mut merged: Vec<Option<(String, Node)>> = base.into_iter().map(Some).collect();
    let mut position: HashMap<String, usize> = merged.iter().enumerate().filter_map(|(i, e)| Some((e.as_ref()?.0.clone(), i))).collect();
    for (key, value) in overlay {
        let existing = position.get(&key).copied();
        if value.tag == Some(MergeTag::Reset) {
            if let Some(index) = existing {
                merged[index] = None;
                position.remove(&key);
            }
            continue;
        }
        match existing {
            Some(index) => {
                if let Some((_, slot)) = merged[index].as_mut() {
                    let previous = std::mem::replace(slot, Node::new(Value::Null));
                    path.push(key);
                    *slot = merge(previous, value, path);
                    path.pop();
                }
            }
            None => {
                position.insert(key.clone(), merged.len());
                merged.push(Some((key, value)));
            }
        }
    }
    merged.into_iter().flatten().collect()
}

/// `["A=1", "B"]` → `{A: "1", B: null}`; items that are not strings are kept under their
/// text so that the typed model reports them with their own error. A repeated key takes
/// the later value.
fn list_to_map(items: Vec<Node>, separator: Separator) -> Vec<(String, Node)> {
    let mut entries: Vec<(String, Node)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for item in items {
        let Some(text) = item.scalar_text() else { continue };
        let split = match separator {
            Separator::Equals => text.split_once('='),
            Separator::ColonOrEquals => text.split_once('=').or_else(|| text.split_once(':')),
            Separator::NameOnly => None,
        };
        let (key, value) = match split {
            Some((key, value)) => (key.to_string(), Value::String(value.to_string())),
            None => (text, Value::Null),
        };
        let node = Node { value, tag: None, location: item.location };
        match position.get(&key) {
            Some(&index) => entries[index].1 = node,
            None => {
                position.insert(key.clone(), entries.len());
                entries.push((key, node));
            }
        }
    }
    entries
}

fn append_unique(mut base: Vec<Node>, overlay: Vec<Node>) -> Vec<Node> {
    let mut seen: HashSet<String> = base.iter().map(|item| item.to_json().to_string()).collect();
    for item in overlay {
        if seen.insert(item.to_json().to_string()) {
            base.push(item);
        }
    }
    base
}

/// A later mount at the same target replaces the earlier one, in its place.
fn merge_by_target(mut base: Vec<Node>, overlay: Vec<Node>, kind: MountKind) -> Vec<Node> {
    let mut position: HashMap<String, usize> = base.iter().enumerate().filter_map(|(i, item)| Some((mount_target(item, kind)?, i))).collect();
    for item in overlay {
        match mount_target(&item, kind) {
            Some(target) => match position.get(&target) {
                Some(&index) => base[index] = item,
                None => {
                    position.insert(target, base.len());
                    base.push(item);
                }
            },
            None => base.push(item),
        }
    }
    base
}

fn mount_target(item: &Node, kind: MountKind) -> Option<String> {
    let text = |node: &Node| node.scalar_text();
    match (&item.value, kind) {
        (Value::Map(_), MountKind::Volume) => item.get("target").and_then(text),
        (Value::Map(_), MountKind::File) => item.get("target").or_else(|| item.get("source")).and_then(text),
        // The one reading of the short syntax (canonical.rs); an entry that does not read
        // merges as itself, and the canonical step refuses it.
        (Value::String(short), MountKind::Volume) => Some(canonical::short_volume_target(short).unwrap_or_else(|| short.clone())),
        (Value::String(short), MountKind::File) => Some(short.clone()),
        _ => None,
    }
}

/// `!reset` in a document with nothing under it to reset still means "not set".
fn without_resets(mut node: Node) -> Node {
    match &mut node.value {
        Value::Map(entries) => {
            let kept =
                std::mem::take(entries).into_iter().filter(|(_, value)| value.tag != Some(MergeTag::Reset)).map(|(key, value)| (key, without_resets(value)));
            *entries = kept.collect();
        }
        Value::Seq(items) => {
            let kept = std::mem::take(items).into_iter().filter(|item| item.tag != Some(MergeTag::Reset)).map(without_resets);
            *items = kept.collect();
        }
        _ => {}
    }
    node.tag = None;
    node
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    fn merged(documents: &[&str]) -> serde_json::Value {
        let nodes = documents.iter().enumerate().map(|(index, text)| parse(text, index).unwrap());
        strip_resets(merge_all(nodes).unwrap()).to_json()
    }

    fn service(documents: &[&str]) -> serde_json::Value {
        merged(documents)["services"]["web"].clone()
    }

    #[test]
    fn mappings_merge_and_scalars_are_replaced() {
        let web = service(&["services: {web: {image: a, deploy: {replicas: 2, mode: replicated}}}", "services: {web: {image: b, deploy: {replicas: 3}}}"]);
        assert_eq!(web, serde_json::json!({"image": "b", "deploy": {"replicas": 3, "mode": "replicated"}}));
    }

    #[test]
    fn commands_and_healthcheck_test_are_replaced() {
        let web = service(&[
            "services: {web: {command: [a, b], entrypoint: [x], healthcheck: {test: [CMD, a], retries: 2}}}",
            "services: {web: {command: [c], entrypoint: y, healthcheck: {test: [CMD, b]}}}",
        ]);
        assert_eq!(web["command"], serde_json::json!(["c"]));
        assert_eq!(web["entrypoint"], serde_json::json!("y"));
        assert_eq!(web["healthcheck"], serde_json::json!({"test": ["CMD", "b"], "retries": 2}));
    }

    #[test]
    fn key_value_lists_merge_by_key_whatever_the_syntax() {
        let web = service(&[
            "services: {web: {environment: [A=1, B=2, C], labels: {x: '1'}, extra_hosts: ['db:10.0.0.1']}}",
            "services: {web: {environment: {B: '3'}, labels: [y=2], extra_hosts: ['db=10.0.0.2', 'cache:::1']}}",
        ]);
        assert_eq!(web["environment"], serde_json::json!({"A": "1", "B": "3", "C": null}));
        let lists = service(&["services: {web: {environment: [A=1, B=2]}}", "services: {web: {environment: [B=3]}}"]);
        assert_eq!(lists["environment"], serde_json::json!({"A": "1", "B": "3"}));
        assert_eq!(web["labels"], serde_json::json!({"x": "1", "y": "2"}));
        assert_eq!(web["extra_hosts"], serde_json::json!(["db:10.0.0.1", "db=10.0.0.2", "cache:::1"]));
        let mixed = service(&["services: {web: {extra_hosts: ['db:10.0.0.1']}}", "services: {web: {extra_hosts: {db: 10.0.0.2}}}"]);
        assert_eq!(mixed["extra_hosts"], serde_json::json!({"db": "10.0.0.2"}));
    }

    #[test]
    fn depends_on_and_networks_merge_across_syntaxes() {
        let web = service(&[
            "services: {web: {depends_on: [db], networks: [front]}}",
            "services: {web: {depends_on: {cache: {condition: service_healthy}}, networks: {back: {aliases: [w]}}}}",
        ]);
        assert_eq!(web["depends_on"], serde_json::json!({"db": null, "cache": {"condition": "service_healthy"}}));
        assert_eq!(web["networks"], serde_json::json!({"front": null, "back": {"aliases": ["w"]}}));
    }

    #[test]
    fn other_lists_append_without_duplicates() {
        let web = service(&["services: {web: {ports: ['80:80'], dns: [1.1.1.1]}}", "services: {web: {ports: ['80:80', '443:443'], dns: [8.8.8.8]}}"]);
        assert_eq!(web["ports"], serde_json::json!(["80:80", "443:443"]));
        assert_eq!(web["dns"], serde_json::json!(["1.1.1.1", "8.8.8.8"]));
    }

    #[test]
    fn mounts_merge_by_target() {
        let web = service(&[
            "services: {web: {volumes: ['data:/data', '/cache'], secrets: [token, {source: key, target: /k}]}}",
            "services: {web: {volumes: [{type: volume, source: other, target: /data}, 'logs:/logs:ro'], secrets: [{source: key2, target: /k}]}}",
        ]);
        assert_eq!(web["volumes"], serde_json::json!([{"type": "volume", "source": "other", "target": "/data"}, "/cache", "logs:/logs:ro"]));
        assert_eq!(web["secrets"], serde_json::json!(["token", {"source": "key2", "target": "/k"}]));
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let web = service(&[
            "services: {web: {ports: ['80:80'], environment: {A: '1'}, dns: [1.1.1.1]}}",
            "services: {web: {ports: !reset [], environment: !override {B: '2'}, dns: !reset null, cap_add: !reset []}}",
        ]);
        assert_eq!(web, serde_json::json!({"environment": {"B": "2"}}));
    }

    #[test]
    fn reset_in_the_main_document_means_unset() {
        assert_eq!(service(&["services: {web: {image: a, ports: !reset ['80:80']}}"]), serde_json::json!({"image": "a"}));
    }

    #[test]
    fn empty_override_changes_nothing_and_new_services_are_added() {
        let all = merged(&["services: {web: {image: a}}", "services: {web: , worker: {image: b}}"]);
        assert_eq!(all["services"], serde_json::json!({"web": {"image": "a"}, "worker": {"image": "b"}}));
    }

    #[test]
    fn top_level_definitions_merge_and_their_labels_merge_by_key() {
        let all = merged(&["volumes: {data: {labels: [a=1]}}", "volumes: {data: {labels: {b: '2'}, driver: local}}"]);
        assert_eq!(all["volumes"]["data"], serde_json::json!({"labels": {"a": "1", "b": "2"}, "driver": "local"}));
    }
}
