//! Compose networks as isolation: services reach each other only when they share a
//! network, and published ports are reachable from anywhere. Each pod carries one label
//! per network it is on, and each service gets a NetworkPolicy admitting exactly that.
//!
//! | compose                                   | membership                                          |
//! |-------------------------------------------|-----------------------------------------------------|
//! | no `networks:`, no `network_mode`         | the `default` network                               |
//! | `networks: [a, b]`                        | `a` and `b`                                         |
//! | `network_mode: bridge` / `default`        | Docker's bridge, shared only with other such services |
//! | `network_mode: none`                      | no network: nothing may connect                     |
//! | `network_mode: host`                      | the node's network; NetworkPolicies do not apply    |
//!
//! Only ingress is restricted: compose does not restrict egress either (except on
//! `internal` networks, which is reported).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value as Json;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{ComposeFile, NetworkDefinition, NetworkMode, Service};
use crate::compose::units::PortMapping;
use crate::translate::names;

/// Pod label prefix for the stack's own networks; peers are matched within the stack.
pub const NETWORK_LABEL_PREFIX: &str = "network.compose-operator.dev/";
/// Pod label prefix for `external: true` networks; peers are matched across the namespace.
pub const EXTERNAL_NETWORK_LABEL_PREFIX: &str = "external-network.compose-operator.dev/";
/// The group of `network_mode: bridge` services. `_` cannot come out of a mapped network
/// name, so no compose network can take this label.
const BRIDGE_LABEL: &str = "network.compose-operator.dev/docker_bridge";

/// One network as the translation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The pod label that marks membership.
    pub label: String,
    /// `internal: true`: no way in from outside the network.
    pub internal: bool,
    /// `external: true`: shared with other stacks of the namespace.
    pub external: bool,
}

/// Where a service's pods are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// `network_mode: host`: the node's network, out of NetworkPolicies' reach.
    Host,
    /// The networks the pods are on (possibly none, for `network_mode: none`).
    Networks(Vec<Network>),
}

impl Membership {
    /// Whether published ports can be reached from outside: compose does not publish the
    /// ports of a container whose every network is internal (or that has no network).
    pub fn published_reachable(&self) -> bool {
        match self {
            Membership::Host => true,
            Membership::Networks(networks) => networks.iter().any(|n| !n.internal),
        }
    }

    /// The pod labels that mark membership.
    pub fn labels(&self) -> BTreeMap<String, String> {
        match self {
            Membership::Host => BTreeMap::new(),
            Membership::Networks(networks) => networks.iter().map(|n| (n.label.clone(), "true".to_string())).collect(),
        }
    }
}

/// The stack's networks, planned once: every declared network plus the implicit `default`.
#[derive(Debug, Default)]
pub struct Layout {
    networks: BTreeMap<String, Network>,
}

/// Compose lets `external` and `internal` be booleans, strings (after interpolation) or,
/// for the legacy `external: {name: x}`, a mapping.
fn truthy(value: &Option<Json>) -> bool {
    match value {
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => matches!(s.as_str(), "true" | "True" | "TRUE"),
        Some(Json::Object(_)) => true,
        _ => false,
    }
}

/// The name of an external network outside the stack: `name:`, the legacy
/// `external: {name: x}`, or the key.
fn external_name<'a>(key: &'a str, definition: &'a NetworkDefinition) -> &'a str {
    let legacy = definition.external.as_ref().and_then(|e| e.get("name")).and_then(Json::as_str);
    definition.name.as_deref().or(legacy).unwrap_or(key)
}

/// Plans the networks. Names are checked only when NetworkPolicies are emitted, since
/// only then do they become labels.
pub fn layout(file: &ComposeFile, enabled: bool, report: &mut Report) -> Layout {
    let default = NetworkDefinition::default();
    let declared = file.networks.iter().map(|(k, d)| (k.as_str(), d));
    let implicit = (!file.networks.contains_key("default")).then_some(("default", &default));
    let mut networks = BTreeMap::new();
    let mut label_owner: BTreeMap<String, String> = BTreeMap::new();
    for (key, definition) in declared.chain(implicit) {
        let path = Path::root().key("networks").key(key);
        let internal = truthy(&definition.internal);
        let external = truthy(&definition.external);
        if external && enabled {
            report.warn(&path.key("external"), format!(
                "Kubernetes has no networks shared between stacks: `{}` joins only pods of this namespace's stacks that also use it as an external network, not containers elsewhere",
                external_name(key, definition)
            ));
        }
        if internal {
            report.warn(&path.key("internal"), "services only on internal networks get no published ports, as in compose; their egress is not blocked (NetworkPolicies here restrict ingress only)");
        }
        let label = if !enabled {
            String::new()
        } else {
            let (prefix, name) = if external { (EXTERNAL_NETWORK_LABEL_PREFIX, external_name(key, definition)) } else { (NETWORK_LABEL_PREFIX, key) };
            let Some(mapped) =
                report.check(&path, names::kubernetes_name(name).map_err(|e| format!("{e}; network names become pod labels for NetworkPolicies")))
            else {
                continue;
            };
            let label = format!("{prefix}{mapped}");
            if let Some(other) = label_owner.get(&label).filter(|_| !external) {
                report.error(
                    Diagnostic::new(path, format!("networks `{other}` and `{key}` both map to the label `{label}`"))
                        .with_hint("rename one of them; they would be one network on Kubernetes"),
                );
                continue;
            }
            label_owner.insert(label.clone(), key.to_string());
            label
        };
        networks.insert(key.to_string(), Network { label, internal, external });
    }
    if !enabled && !file.networks.is_empty() {
        report.warn(
            &Path::root().key("networks"),
            "spec.networkPolicies is false: networks do not isolate, every pod of the namespace can reach every service of the stack",
        );
    }
    Layout { networks }
}

impl Layout {
    /// The networks a service is attached to, as compose decides it.
    pub fn membership(&self, service: &Service) -> Membership {
        match service.network_mode() {
            Some(NetworkMode::Host) => Membership::Host,
            Some(NetworkMode::Bridge) => Membership::Networks(vec![Network { label: BRIDGE_LABEL.to_string(), internal: false, external: false }]),
            // `none`, and `service:` / `container:` (the service joins that one's pod): no network of the stack.
            Some(NetworkMode::None | NetworkMode::Service(_) | NetworkMode::Container(_)) => Membership::Networks(Vec::new()),
            None if service.networks.is_empty() => Membership::Networks(self.networks.get("default").cloned().into_iter().collect()),
            None => Membership::Networks(service.networks.keys().filter_map(|n| self.networks.get(n).cloned()).collect()),
        }
    }
}

/// The NetworkPolicy of one service: its pods admit connections from pods of the stack
/// that share one of its networks (any port, as compose does), and on published target
/// ports from anywhere. `None` for host-network pods, which no NetworkPolicy governs.
pub fn policy(stack: &str, name: &str, membership: &Membership, ports: &[PortMapping]) -> Option<NetworkPolicy> {
    let Membership::Networks(networks) = membership else { return None };
    let peers: Vec<NetworkPolicyPeer> = networks
        .iter()
        .map(|network| {
            let mut labels = BTreeMap::from([(network.label.clone(), "true".to_string())]);
            if !network.external {
                labels.insert(names::STACK.to_string(), stack.to_string());
            }
            NetworkPolicyPeer { pod_selector: Some(LabelSelector { match_labels: Some(labels), ..Default::default() }), ..Default::default() }
        })
        .collect();
    let mut rules = Vec::new();
    if !peers.is_empty() {
        rules.push(NetworkPolicyIngressRule { from: Some(peers), ports: None });
    }
    let published: BTreeSet<_> = ports.iter().filter(|p| p.published.is_some()).map(|p| (p.target, p.protocol)).collect();
    if !published.is_empty() && membership.published_reachable() {
        let ports = published
            .into_iter()
            .map(|(port, protocol)| NetworkPolicyPort {
                port: Some(IntOrString::Int(i32::from(port))),
                protocol: Some(protocol.as_kubernetes().to_string()),
                end_port: None,
            })
            .collect();
        // No `from`: any source, inside or outside the cluster, as a published port is.
        rules.push(NetworkPolicyIngressRule { from: None, ports: Some(ports) });
    }
    Some(NetworkPolicy {
        metadata: ObjectMeta { name: Some(name.to_string()), labels: Some(names::object_labels(stack, Some(name))), ..Default::default() },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(names::selector_labels(stack, name)), ..Default::default() }),
            policy_types: Some(vec!["Ingress".to_string()]),
            ingress: Some(rules),
            egress: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::units::Protocol;

    fn file(yaml: &str) -> ComposeFile {
        let variables = std::collections::BTreeMap::new();
        let sources = crate::compose::load::Sources { compose: yaml, overrides: &[], variables: &variables, profiles: &[] };
        crate::compose::load::load(&sources).unwrap().file
    }

    fn port(target: u16, published: Option<u16>) -> PortMapping {
        PortMapping { target, published: published.map(|p| (p, p)), host_ip: None, protocol: Protocol::Tcp, ..Default::default() }
    }

    #[test]
    fn services_without_networks_are_on_default() {
        let file = file("services:\n  a: {image: x}\n  b: {image: x, networks: [back]}\nnetworks:\n  back:\n");
        let layout = layout(&file, true, &mut Report::default());
        assert_eq!(layout.membership(&file.services["a"]).labels().keys().collect::<Vec<_>>(), ["network.compose-operator.dev/default"]);
        assert_eq!(layout.membership(&file.services["b"]).labels().keys().collect::<Vec<_>>(), ["network.compose-operator.dev/back"]);
    }

    #[test]
    fn internal_only_services_publish_nothing() {
        let file = file(
            "services:\n  a: {image: x, networks: [secret]}\n  b: {image: x, networks: [secret, front]}\nnetworks:\n  secret: {internal: true}\n  front:\n",
        );
        let mut report = Report::default();
        let layout = layout(&file, true, &mut report);
        let a = layout.membership(&file.services["a"]);
        assert!(!a.published_reachable());
        assert!(layout.membership(&file.services["b"]).published_reachable());
        let policy = policy("s", "a", &a, &[port(80, Some(8080))]).unwrap();
        let rules = policy.spec.unwrap().ingress.unwrap();
        assert_eq!(rules.len(), 1, "only the in-network rule: {rules:?}");
        assert!(report.warnings.iter().any(|w| w.path.to_string() == "networks.secret.internal"));
    }

    #[test]
    fn published_ports_admit_any_source_on_the_target_port() {
        let file = file("services:\n  a: {image: x}\n");
        let layout = layout(&file, true, &mut Report::default());
        let policy = policy("s", "a", &layout.membership(&file.services["a"]), &[port(80, Some(8080)), port(80, Some(8081)), port(9000, None)]).unwrap();
        let rules = policy.spec.unwrap().ingress.unwrap();
        assert_eq!(rules.len(), 2);
        assert!(rules[1].from.is_none());
        let ports = rules[1].ports.as_ref().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, Some(IntOrString::Int(80)));
    }

    #[test]
    fn network_mode_none_admits_nothing_and_host_has_no_policy() {
        let file = file("services:\n  a: {image: x, network_mode: none, ports: ['80:80']}\n  h: {image: x, network_mode: host}\n");
        let layout = layout(&file, true, &mut Report::default());
        let none = layout.membership(&file.services["a"]);
        assert!(!none.published_reachable());
        assert_eq!(policy("s", "a", &none, &[port(80, Some(80))]).unwrap().spec.unwrap().ingress.unwrap(), Vec::new());
        assert_eq!(policy("s", "h", &layout.membership(&file.services["h"]), &[]), None);
    }

    #[test]
    fn external_networks_match_across_stacks_by_their_real_name() {
        let file = file("services:\n  a: {image: x, networks: [shared]}\nnetworks:\n  shared:\n    external: {name: proxy_net}\n");
        let mut report = Report::default();
        let layout = layout(&file, true, &mut report);
        let membership = layout.membership(&file.services["a"]);
        let policy = policy("s", "a", &membership, &[]).unwrap();
        let from = policy.spec.unwrap().ingress.unwrap()[0].from.clone().unwrap();
        let labels = from[0].pod_selector.as_ref().unwrap().match_labels.clone().unwrap();
        assert_eq!(labels, BTreeMap::from([("external-network.compose-operator.dev/proxy-net".to_string(), "true".to_string())]));
        assert!(report.warnings.iter().any(|w| w.path.to_string() == "networks.shared.external"));
    }

    #[test]
    fn networks_mapping_to_one_label_are_refused() {
        let file = file("services:\n  a: {image: x, networks: [front_end, front-end]}\nnetworks:\n  front_end:\n  front-end:\n");
        let mut report = Report::default();
        layout(&file, true, &mut report);
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let mut report = Report::default();
        layout(&file, false, &mut report);
        assert!(report.errors.is_empty(), "names matter only when policies are emitted");
    }
}
