//! Kubernetes Services that give compose's networking its names:
//! `<service>` for in-stack DNS (`db:3306` works as in compose), `<service>-published`
//! for published ports, and one Service per link or network alias.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::PublishedServiceType;
use crate::compose::units::{PortMapping, Protocol};
use crate::translate::context::ServiceContext;
use crate::translate::names;

pub struct ServiceInput<'a> {
    pub context: &'a ServiceContext<'a>,
    pub ports: &'a [PortMapping],
    pub expose: &'a [(u16, Protocol)],
    /// `deploy.endpoint_mode: dnsrr`: DNS returns pod addresses, no virtual IP.
    pub dns_round_robin: bool,
    pub published_type: PublishedServiceType,
    pub aliases: &'a [String],
}

fn port_name(port: u16, protocol: Protocol) -> String {
    format!("{}-{port}", protocol.as_compose())
}

fn service(input: &ServiceInput, name: &str, spec: ServiceSpec) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(names::object_labels(input.context.target.stack, Some(input.context.name))),
            ..Default::default()
        },
        spec: Some(ServiceSpec { selector: Some(names::selector_labels(input.context.target.stack, input.context.name)), ..spec }),
        ..Default::default()
    }
}

/// The in-cluster ports: every target port and exposed port, once each.
fn cluster_ports(input: &ServiceInput) -> Vec<ServicePort> {
    let mut seen = std::collections::BTreeSet::new();
    // The first `app_protocol` given for a target port (ports: long syntax).
    let mut app_protocols: BTreeMap<(u16, Protocol), &str> = BTreeMap::new();
    for port in input.ports {
        if let Some(app_protocol) = port.app_protocol.as_deref() {
            app_protocols.entry((port.target, port.protocol)).or_insert(app_protocol);
        }
    }
    input
        .ports
        .iter()
        .map(|p| (p.target, p.protocol))
        .chain(input.expose.iter().copied())
        .filter(|key| seen.insert(*key))
        .map(|(port, protocol)| ServicePort {
            name: Some(port_name(port, protocol)),
            port: i32::from(port),
            target_port: Some(IntOrString::Int(i32::from(port))),
            protocol: Some(protocol.as_kubernetes().to_string()),
            app_protocol: app_protocols.get(&(port, protocol)).map(|a| a.to_string()),
            ..Default::default()
        })
        .collect()
}

/// A service without known ports still gets a name: a headless Service resolves to its pods.
fn cluster_spec(input: &ServiceInput) -> ServiceSpec {
    let ports = cluster_ports(input);
    let headless = ports.is_empty() || input.dns_round_robin;
    ServiceSpec {
        type_: Some("ClusterIP".into()),
        cluster_ip: headless.then(|| "None".to_string()),
        ports: (!ports.is_empty()).then_some(ports),
        // Headless names must resolve before pods are ready, like compose DNS does.
        publish_not_ready_addresses: headless.then_some(true),
        ..Default::default()
    }
}

pub fn services(input: &ServiceInput) -> Vec<Service> {
    let mut result = vec![service(input, input.context.name, cluster_spec(input))];
    let mut published: BTreeMap<(u16, Protocol), ServicePort> = BTreeMap::new();
    for port in input.ports {
        if let Some((host_port, _)) = port.published {
            published.entry((host_port, port.protocol)).or_insert_with(|| ServicePort {
                name: Some(port_name(host_port, port.protocol)),
                port: i32::from(host_port),
                target_port: Some(IntOrString::Int(i32::from(port.target))),
                protocol: Some(port.protocol.as_kubernetes().to_string()),
                app_protocol: port.app_protocol.clone(),
                ..Default::default()
            });
        }
    }
    if !published.is_empty() {
        let spec = ServiceSpec { type_: Some(input.published_type.as_str().to_string()), ports: Some(published.into_values().collect()), ..Default::default() };
        result.push(service(input, &names::published_service_name(input.context.name), spec));
    }
    for alias in input.aliases {
        result.push(service(input, alias, cluster_spec(input)));
    }
    result
}
