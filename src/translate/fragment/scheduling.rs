//! Where pods run: swarm placement and `platform` → node affinity, topology spread and
//! pod anti-affinity; GPU reservations → extended resources.
//!
//! | compose                                        | Kubernetes                                                 |
//! |------------------------------------------------|------------------------------------------------------------|
//! | `node.labels.X == v` / `!=`                    | required node affinity `X In [v]` / `NotIn [v]`            |
//! | `engine.labels.X == v`                         | the same on the node label `X` (warning)                   |
//! | `node.hostname == h`                           | `kubernetes.io/hostname In [h]`                            |
//! | `node.platform.os` / `.arch`, `platform:`      | `kubernetes.io/os`, `kubernetes.io/arch` (amd64, arm64...) |
//! | `node.role == worker` (`!= manager`)           | `node-role.kubernetes.io/control-plane DoesNotExist`       |
//! | `node.role == manager` (`!= worker`)           | not applied (warning)                                      |
//! | `preferences: [spread: node.labels.X]`         | topology spread on `X`, maxSkew 1, ScheduleAnyway          |
//! | `max_replicas_per_node: 1`                     | required pod anti-affinity on `kubernetes.io/hostname`     |
//! | `max_replicas_per_node: N` (N > 1 < replicas)  | topology spread on hostname, maxSkew 1, DoNotSchedule (warning) |
//! | `reservations.devices` with `capabilities: [gpu]` | limit `nvidia.com/gpu: count`                           |

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, PodAntiAffinity, PodSpec, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::model::Parsed;
use crate::compose::placement::{Constraint, ConstraintAttribute, DeviceRequest, Platform};

use crate::object::WorkloadKind;
use crate::translate::context::ServiceContext;
use crate::translate::names;

pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const OS: &str = "kubernetes.io/os";
pub const ARCH: &str = "kubernetes.io/arch";
pub const CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";

pub struct SchedulingInput<'a> {
    pub context: &'a ServiceContext<'a>,
    pub kind: WorkloadKind,
    pub replicas: i32,
}

/// Sets the pod's affinity and topology spread from `deploy.placement` and `platform`.
pub fn apply(spec: &mut PodSpec, input: &SchedulingInput, report: &mut Report) {
    let &ServiceContext { service, ref path, .. } = input.context;
    let mut requirements = Vec::new();
    if let Some(platform) = service.platform.as_ref().and_then(Parsed::ok_ref) {
        requirements.extend(platform_requirements(platform, &path.key("platform"), report));
    }
    let placement_path = path.key("deploy").key("placement");
    let placement = service.deploy.as_ref().and_then(|d| d.placement.clone()).unwrap_or_default();
    for (index, constraint) in placement.constraints.iter().enumerate() {
        // Constraints of another form, attribute or role are refused by validation.
        let Some(constraint) = constraint.ok_ref() else { continue };
        requirements.extend(constraint_requirement(constraint, &placement_path.key("constraints").key(index), report));
    }
    let mut unique = Vec::new();
    for requirement in requirements {
        if !unique.contains(&requirement) {
            unique.push(requirement);
        }
    }
    let mut affinity = Affinity::default();
    if !unique.is_empty() {
        affinity.node_affinity = Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm { match_expressions: Some(unique), match_fields: None }],
            }),
            ..Default::default()
        });
    }
    let selector = LabelSelector { match_labels: Some(names::selector_labels(input.context.target.stack, input.context.name)), ..Default::default() };
    let mut spread = Vec::new();
    let global = input.kind == WorkloadKind::DaemonSet;
    for (index, preference) in placement.preferences.iter().enumerate() {
        let preference_path = placement_path.key("preferences").key(index).key("spread");
        if global {
            report.warn(&preference_path, "a global service runs on every node; spread preferences are ignored, as in swarm");
            continue;
        }
        let Some(key) = spread_key(&preference.spread, &preference_path, report) else { continue };
        spread.push(TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key,
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(selector.clone()),
            ..Default::default()
        });
    }
    if let Some(max) = &placement.max_replicas_per_node {
        let max_path = placement_path.key("max_replicas_per_node");
        match report.check(&max_path, max.as_u32()) {
            // Swarm's 0 is "no limit"; a DaemonSet already runs one pod per node.
            None | Some(0) => {}
            Some(_) if global => report.warn(&max_path, "a global service runs one pod per node already; ignored"),
            Some(1) => {
                affinity.pod_anti_affinity = Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                        label_selector: Some(selector.clone()),
                        topology_key: HOSTNAME.into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                });
            }
            // Fewer replicas than the cap can never exceed it.
            Some(max) if i64::from(input.replicas) <= i64::from(max) => {}
            Some(max) => {
                report.warn(&max_path, format!(
                    "Kubernetes has no per-node pod cap: the {} pods are spread evenly over the nodes instead (at most one more on any node than on another), which keeps every node at or under {max} while there are at least {} schedulable nodes",
                    input.replicas,
                    (input.replicas as u32).div_ceil(max)
                ));
                spread.push(TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: HOSTNAME.into(),
                    when_unsatisfiable: "DoNotSchedule".into(),
                    label_selector: Some(selector.clone()),
                    // Tainted nodes the pods cannot use must not count as empty domains.
                    node_taints_policy: Some("Honor".into()),
                    ..Default::default()
                });
            }
        }
    }
    if affinity != Affinity::default() {
        spec.affinity = Some(affinity);
    }
    if !spread.is_empty() {
        spec.topology_spread_constraints = Some(spread);
    }
}

fn requirement(key: &str, operator: &str, values: Option<Vec<String>>) -> NodeSelectorRequirement {
    NodeSelectorRequirement { key: key.to_string(), operator: operator.to_string(), values }
}

/// The `kubernetes.io/arch` value of an architecture as Docker (uname -m) or OCI writes it.
pub fn kubernetes_arch(arch: &str) -> Option<&'static str> {
    Some(match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "arm" | "armhf" | "armel" | "armv6l" | "armv7l" => "arm",
        "i386" | "i686" | "386" | "x86" => "386",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64le" => "mips64le",
        "loong64" | "loongarch64" => "loong64",
        _ => return None,
    })
}

const ARCH_HINT: &str = "use amd64 (x86_64), arm64 (aarch64), arm, 386, ppc64le, s390x or riscv64";

/// `platform: os[/arch[/variant]]` → node requirements on os and arch. No architecture is
/// added when the compose file names none.
fn platform_requirements(platform: &Platform, path: &Path, report: &mut Report) -> Vec<NodeSelectorRequirement> {
    let os = platform.os.to_ascii_lowercase();
    if !names::is_valid_label(OS, &os) {
        report.error(Diagnostic::new(path.clone(), format!("`{os}` is not an operating system name")).with_hint("for example linux or windows"));
        return Vec::new();
    }
    let mut requirements = vec![requirement(OS, "In", Some(vec![os]))];
    if let Some(arch) = &platform.arch {
        match kubernetes_arch(arch) {
            Some(value) => requirements.push(requirement(ARCH, "In", Some(vec![value.to_string()]))),
            None => {
                report.error(Diagnostic::new(path.clone(), format!("unknown architecture `{arch}`")).with_hint(ARCH_HINT));
                return Vec::new();
            }
        }
    }
    if let (Some(arch), Some(variant)) = (&platform.arch, &platform.variant) {
        let implied = kubernetes_arch(arch) == Some("arm64") && variant.eq_ignore_ascii_case("v8");
        if !implied {
            report.warn(path, format!("nodes carry no CPU variant label: the pod may run on any {arch} node, not only {variant}"));
        }
    }
    requirements
}

/// One swarm constraint → one node requirement (`None` when refused or not applied).
fn constraint_requirement(constraint: &Constraint, path: &Path, report: &mut Report) -> Option<NodeSelectorRequirement> {
    let (equal, value) = (constraint.equal, constraint.value.as_str());
    let operator = if equal { "In" } else { "NotIn" };
    let label = |key: &str, value: &str, report: &mut Report| -> Option<NodeSelectorRequirement> {
        if !names::is_valid_label(key, value) || value.is_empty() {
            report.error(Diagnostic::new(path.clone(), format!("`{key}={value}` cannot be a Kubernetes node label, so no node could match")).with_hint(
                "label keys are [prefix/]name and values at most 63 letters, digits, `-`, `_` and `.`; label the nodes with a valid value and use it here",
            ));
            return None;
        }
        Some(requirement(key, operator, Some(vec![value.to_string()])))
    };
    match constraint.attribute.ok_ref()? {
        ConstraintAttribute::NodeLabel(key) => label(key, value, report),
        ConstraintAttribute::EngineLabel(key) => {
            report.warn(
                path,
                format!("Docker engine labels do not exist on Kubernetes: the constraint applies to the node label `{key}`; label the nodes accordingly"),
            );
            label(key, value, report)
        }
        ConstraintAttribute::Hostname => label(HOSTNAME, value, report),
        ConstraintAttribute::Os => label(OS, &value.to_ascii_lowercase(), report),
        ConstraintAttribute::Arch => match kubernetes_arch(value) {
            Some(arch) => Some(requirement(ARCH, operator, Some(vec![arch.to_string()]))),
            None => {
                report.error(Diagnostic::new(path.clone(), format!("unknown architecture `{value}`")).with_hint(ARCH_HINT));
                None
            }
        },
        ConstraintAttribute::Role => match (value, equal) {
            ("worker", true) | ("manager", false) => Some(requirement(CONTROL_PLANE, "DoesNotExist", None)),
            ("manager", true) | ("worker", false) => {
                report.warn(path, "Kubernetes runs workloads off the control plane (managed clusters have no control-plane nodes to run on); not applied, so the pods may run on any node. To pin them, use node.labels or x-kubernetes nodeSelector and tolerations");
                None
            }
            // Another role is refused by validation.
            _ => None,
        },
        ConstraintAttribute::Id => {
            report.error(Diagnostic::new(path.clone(), "swarm node IDs do not exist on Kubernetes").with_hint("use node.hostname or node.labels"));
            None
        }
    }
}

fn spread_key(descriptor: &str, path: &Path, report: &mut Report) -> Option<String> {
    let key = if let Some(key) = descriptor.strip_prefix("node.labels.") {
        key
    } else if let Some(key) = descriptor.strip_prefix("engine.labels.") {
        report.warn(path, format!("Docker engine labels do not exist on Kubernetes: pods are spread over the node label `{key}`"));
        key
    } else {
        report.error(Diagnostic::new(path.clone(), format!("cannot spread over `{descriptor}`")).with_hint("spread over a node label: node.labels.<label>"));
        return None;
    };
    if !names::is_valid_label(key, "") {
        report.error(Diagnostic::new(path.clone(), format!("`{key}` cannot be a Kubernetes label key")));
        return None;
    }
    Some(key.to_string())
}

/// `deploy.resources.reservations.devices` → extended-resource limits. GPUs (the `gpu`
/// capability, driver `nvidia` or unset) become `nvidia.com/gpu`; anything else is reported.
pub fn device_limits(devices: &[DeviceRequest], path: &Path, report: &mut Report) -> BTreeMap<String, Quantity> {
    let mut gpus: u64 = 0;
    for (index, device) in devices.iter().enumerate() {
        let path = path.key(index);
        if !device.capabilities.iter().any(|c| c == "gpu") {
            report.warn(
                &path.key("capabilities"),
                "only GPUs (capabilities: [gpu]) map to a Kubernetes extended resource; other devices need their device plugin's resource name; ignored",
            );
            continue;
        }
        if let Some(driver) = device.driver.as_deref().filter(|d| *d != "nvidia") {
            report.warn(&path.key("driver"), format!("no known Kubernetes resource for `{driver}` GPUs (only nvidia.com/gpu); ignored"));
            continue;
        }
        let others: Vec<&str> = device.capabilities.iter().map(String::as_str).filter(|c| *c != "gpu").collect();
        if !others.is_empty() {
            report.warn(
                &path.key("capabilities"),
                format!(
                    "the NVIDIA device plugin decides the driver capabilities (set NVIDIA_DRIVER_CAPABILITIES in environment: to choose); {} ignored",
                    others.join(", ")
                ),
            );
        }
        if device.options.is_some() {
            report.warn(&path.key("options"), "driver options have no Kubernetes field; ignored");
        }
        let count = match (&device.count, device.device_ids.len()) {
            (Some(count), _) if count.0 != "all" => match report.check(&path.key("count"), count.as_u32()) {
                Some(count) => u64::from(count),
                None => continue,
            },
            (None, ids) if ids > 0 => {
                report.warn(
                    &path.key("device_ids"),
                    format!("Kubernetes cannot pick devices by ID: {ids} GPU(s) are requested, whichever the device plugin assigns"),
                );
                ids as u64
            }
            _ => {
                report.warn(&path.key("count"), "Kubernetes cannot reserve all of a node's GPUs: 1 is requested; set count to the number needed");
                1
            }
        };
        gpus += count;
    }
    if gpus == 0 {
        return BTreeMap::new();
    }
    BTreeMap::from([(NVIDIA_GPU.to_string(), Quantity(gpus.to_string()))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::value::ComposeText;

    fn constraint(text: &str) -> (Option<NodeSelectorRequirement>, Report) {
        let mut report = Report::default();
        let constraint = Constraint::parse(text).expect("a constraint");
        (constraint_requirement(&constraint, &Path::root(), &mut report), report)
    }

    #[test]
    fn constraints_map_to_node_requirements() {
        let (r, _) = constraint("node.labels.zone == east");
        assert_eq!(r, Some(requirement("zone", "In", Some(vec!["east".into()]))));
        let (r, _) = constraint("node.hostname!=node-1");
        assert_eq!(r, Some(requirement(HOSTNAME, "NotIn", Some(vec!["node-1".into()]))));
        let (r, _) = constraint("node.platform.arch == x86_64");
        assert_eq!(r, Some(requirement(ARCH, "In", Some(vec!["amd64".into()]))));
        let (r, _) = constraint("node.platform.os == Linux");
        assert_eq!(r, Some(requirement(OS, "In", Some(vec!["linux".into()]))));
        let (r, _) = constraint("node.role == worker");
        assert_eq!(r, Some(requirement(CONTROL_PLANE, "DoesNotExist", None)));
        let (r, report) = constraint("node.role == manager");
        assert_eq!((r, report.warnings.len(), report.errors.len()), (None, 1, 0));
        let (r, report) = constraint("engine.labels.disk == ssd");
        assert_eq!((r.is_some(), report.warnings.len()), (true, 1));
    }

    #[test]
    fn untranslatable_constraints_are_refused() {
        for text in ["node.id == abc", "node.labels.os == ubuntu 14.04", "node.platform.arch == vax"] {
            let (r, report) = constraint(text);
            assert!(r.is_none() && report.errors.len() == 1, "{text}: {report:?}");
        }
    }

    #[test]
    fn platform_names_os_and_arch_only_when_written() {
        let mut report = Report::default();
        let platform = |text: &str| Platform::parse(text).expect("a platform");
        let os_only = platform_requirements(&platform("linux"), &Path::root(), &mut report);
        assert_eq!(os_only, [requirement(OS, "In", Some(vec!["linux".into()]))]);
        let arm = platform_requirements(&platform("linux/arm64/v8"), &Path::root(), &mut report);
        assert_eq!(arm[1], requirement(ARCH, "In", Some(vec!["arm64".into()])));
        assert!(report.warnings.is_empty());
        platform_requirements(&platform("linux/arm/v7"), &Path::root(), &mut report);
        assert_eq!(report.warnings.len(), 1);
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn gpu_counts_add_up_and_other_devices_warn() {
        let gpu = |count: Option<&str>, ids: usize| DeviceRequest {
            capabilities: vec!["gpu".into()],
            count: count.map(|c| crate::compose::model::Scalar(c.into())),
            device_ids: (0..ids).map(|i| i.to_string()).collect(),
            ..Default::default()
        };
        let mut report = Report::default();
        let limits = device_limits(&[gpu(Some("2"), 0), gpu(None, 3), gpu(Some("all"), 0)], &Path::root(), &mut report);
        assert_eq!(limits[NVIDIA_GPU], Quantity("6".into()));
        assert_eq!(report.warnings.len(), 2);
        let tpu = DeviceRequest { capabilities: vec!["tpu".into()], ..Default::default() };
        let mut report = Report::default();
        assert!(device_limits(&[tpu], &Path::root(), &mut report).is_empty());
        assert_eq!(report.warnings.len(), 1);
    }
}
