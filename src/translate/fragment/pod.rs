//! The pod template around a service's container: names, labels, DNS, hosts, grace
//! period, volumes and the safe defaults every stack pod gets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, HostAlias, PodDNSConfig, PodDNSConfigOption, PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::{NetworkMode, Parsed, Service};
use crate::compose::units::{self, HostAddress};
use crate::policy::Policy;
use crate::translate::context::ServiceContext;
use crate::translate::names;

pub struct PodInput<'a> {
    pub context: &'a ServiceContext<'a>,
    /// The service's container first, then those of services sharing its network.
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    pub restart_policy: &'static str,
}

pub fn template(input: PodInput, report: &mut Report) -> PodTemplateSpec {
    let &ServiceContext { name, service, ref path, target, .. } = input.context;
    let (stack, policy) = (target.stack, target.policy);
    let mut labels = names::object_labels(stack, Some(name));
    let mut annotations = BTreeMap::new();
    for (section, entries) in [("labels", &service.labels), ("annotations", &service.annotations)] {
        for (key, value) in entries {
            let value = value.clone().unwrap_or_default();
            if !names::is_valid_annotation_key(key) {
                report.warn(&path.key(section).key(key), names::INVALID_ANNOTATION_KEY);
                continue;
            }
            if section == "labels" && names::is_valid_label(key, &value) && !names::is_reserved_label(key) {
                labels.insert(key.clone(), value.clone());
            }
            annotations.insert(key.clone(), value);
        }
    }
    let (hostname, subdomain) = hostname(service, path, report);
    let mut spec = PodSpec {
        containers: input.containers,
        volumes: (!input.volumes.is_empty()).then_some(input.volumes),
        restart_policy: Some(input.restart_policy.to_string()),
        hostname,
        subdomain,
        host_aliases: host_aliases(service, path, report),
        dns_config: dns_config(service),
        termination_grace_period_seconds: service.stop_grace_period.as_ref().and_then(Parsed::ok).map(units::ceil_seconds),
        // Compose containers do not see other services as FOO_PORT=tcp://... variables;
        // Kubernetes' service links would inject them and break images that read e.g. REDIS_PORT.
        enable_service_links: Some(false),
        // Compose applications do not talk to the Kubernetes API; no token unless asked for.
        automount_service_account_token: Some(false),
        ..Default::default()
    };
    host_namespaces(&mut spec, service, path, policy, report);
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), annotations: (!annotations.is_empty()).then_some(annotations), ..Default::default() }),
        spec: Some(spec),
    }
}

/// `hostname:` as a pod's `hostname` (and `subdomain`), which must be DNS labels: a
/// fully qualified `mail.example.com` keeps its first label (the pod's domain is the
/// cluster's), `my_db` becomes `my-db`; what cannot be mapped is refused.
fn hostname(service: &Service, path: &Path, report: &mut Report) -> (Option<String>, Option<String>) {
    let Some(written) = service.hostname.as_deref().filter(|h| !h.is_empty()) else { return (None, None) };
    let path = path.key("hostname");
    let first = written.split('.').next().unwrap_or(written);
    let mapped: String = first.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    if !names::is_dns_label(&mapped) {
        report.error(
            Diagnostic::new(path, format!("`{written}` cannot be a pod's host name"))
                .with_hint("use letters, digits and `-`, at most 63, starting and ending with a letter or digit"),
        );
        return (None, None);
    }
    if mapped != written {
        report.warn(&path, format!("the pod's host name is `{mapped}`: Kubernetes host names are single DNS labels (the domain is the cluster's)"));
    }
    (Some(mapped), None)
}

/// `extra_hosts` entries grouped by address, as hostAliases wants them. Docker's
/// `host-gateway` (the host's own address) has no fixed address in a cluster.
fn host_aliases(service: &Service, path: &Path, report: &mut Report) -> Option<Vec<HostAlias>> {
    let mut by_ip: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (host, ips) in &service.extra_hosts {
        let host_path = path.key("extra_hosts").key(host);
        for address in ips.iter().filter_map(Parsed::ok) {
            match address {
                HostAddress::Ip(ip) => by_ip.entry(ip.to_string()).or_default().push(host.clone()),
                HostAddress::HostGateway => report.warn(&host_path, format!(
                    "`{host}` → host-gateway (the Docker host's address) has no counterpart in a cluster: not added; reach services on the node through a Service instead"
                )),
            }
        }
    }
    let aliases: Vec<HostAlias> = by_ip.into_iter().map(|(ip, hostnames)| HostAlias { ip, hostnames: Some(hostnames) }).collect();
    (!aliases.is_empty()).then_some(aliases)
}

/// Extra resolvers and search domains are added to the cluster's DNS (dnsPolicy stays
/// ClusterFirst), so stack service names keep resolving.
fn dns_config(service: &Service) -> Option<PodDNSConfig> {
    if service.dns.is_empty() && service.dns_search.is_empty() && service.dns_opt.is_empty() {
        return None;
    }
    let options = service
        .dns_opt
        .iter()
        .map(|option| {
            let (name, value) = option.split_once(':').map_or((option.as_str(), None), |(n, v)| (n, Some(v.to_string())));
            PodDNSConfigOption { name: Some(name.to_string()), value }
        })
        .collect::<Vec<_>>();
    Some(PodDNSConfig {
        nameservers: (!service.dns.is_empty()).then(|| service.dns.clone()),
        searches: (!service.dns_search.is_empty()).then(|| service.dns_search.clone()),
        options: (!options.is_empty()).then_some(options),
    })
}

fn host_namespaces(spec: &mut PodSpec, service: &Service, path: &Path, policy: &Policy, report: &mut Report) {
    let host = |key: &str, on_host: bool, report: &mut Report| -> bool {
        if on_host && !policy.allow_host_namespaces {
            report.error(Diagnostic::new(path.key(key), format!("sharing the node's namespace is {}", policy.refusal("allow-host-namespaces"))));
        }
        on_host && policy.allow_host_namespaces
    };
    let network_mode = service.network_mode();
    spec.host_network = host("network_mode", network_mode == Some(NetworkMode::Host), report).then_some(true);
    spec.host_pid = host("pid", service.pid.as_deref() == Some("host"), report).then_some(true);
    spec.host_ipc = host("ipc", service.ipc.as_deref() == Some("host"), report).then_some(true);
    if network_mode == Some(NetworkMode::None) {
        report.warn(&path.key("network_mode"), "pods always have a network in Kubernetes: its NetworkPolicy admits no connections (unless spec.networkPolicies is false), but it can still connect out");
    }
    for (key, value) in [("pid", service.pid.as_deref()), ("ipc", service.ipc.as_deref())] {
        if let Some(value) = value.filter(|v| *v != "host") {
            report.warn(&path.key(key), format!("`{value}` has no Kubernetes equivalent; ignored"));
        }
    }
}
