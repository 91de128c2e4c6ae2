//! Kubernetes-only settings of a service: its `x-kubernetes` extension, and the kompose
//! labels that say the same things (`kompose.service.type`, `kompose.image-pull-secret`,
//! `kompose.volume.size`, `kompose.volume.storage-class-name`), so kompose users can switch.
//! `x-kubernetes` wins where both are written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, PersistentVolumeClaim, PodTemplateSpec, Service as KubeService, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::PublishedServiceType;
use crate::compose::diagnostic::{Diagnostic, Path, Report};
use crate::compose::extension::{EXTENSION_KEY, Toleration as ComposeToleration, VolumeExtension};
use crate::compose::model::{Scalar, Service};
use crate::translate::names;

pub const KOMPOSE_SERVICE_TYPE: &str = "kompose.service.type";
pub const KOMPOSE_IMAGE_PULL_SECRET: &str = "kompose.image-pull-secret";
pub const KOMPOSE_VOLUME_SIZE: &str = "kompose.volume.size";
pub const KOMPOSE_STORAGE_CLASS: &str = "kompose.volume.storage-class-name";

/// What a service asks of Kubernetes beyond compose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The type of the `<service>-published` Service, over `spec.publishedServiceType`.
    pub published_type: Option<PublishedServiceType>,
    /// `kompose.service.type: headless`: the in-stack Service has no cluster IP.
    pub headless: bool,
    pub service_annotations: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub image_pull_secrets: Vec<String>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    pub service_account_name: Option<String>,
    pub automount_service_account_token: bool,
    /// Claim settings for the named volumes this service mounts (kompose labels).
    pub claims: ClaimSettings,
}

/// Size and class of a volume's claim; unset fields fall back to `spec.volumes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimSettings {
    pub size: Option<String>,
    pub storage_class_name: Option<String>,
}

impl ClaimSettings {
    /// `self` where set, else `fallback`.
    pub fn or(&self, fallback: &ClaimSettings) -> ClaimSettings {
        ClaimSettings {
            size: self.size.clone().or_else(|| fallback.size.clone()),
            storage_class_name: self.storage_class_name.clone().or_else(|| fallback.storage_class_name.clone()),
        }
    }

    pub fn apply(&self, claim: &mut PersistentVolumeClaim) {
        let Some(spec) = claim.spec.as_mut() else { return };
        if let Some(size) = &self.size {
            spec.resources.get_or_insert_default().requests.get_or_insert_default().insert("storage".into(), Quantity(size.clone()));
        }
        if let Some(class) = &self.storage_class_name {
            spec.storage_class_name = Some(class.clone());
        }
    }
}

/// Whether `text` is a Kubernetes quantity (`10Gi`, `500M`, `1.5e3`).
pub fn is_quantity(text: &str) -> bool {
    let suffixes = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E", ""];
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let number_end = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let exponent_ok = |e: &str| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    let suffix_ok = suffixes.contains(&suffix) || suffix.strip_prefix(['e', 'E']).is_some_and(exponent_ok);
    number_ok && suffix_ok
}

fn quantity(value: &str, path: &Path, report: &mut Report) -> Option<String> {
    if is_quantity(value) {
        return Some(value.to_string());
    }
    report.error(Diagnostic::new(path.clone(), format!("`{value}` is not a Kubernetes quantity")).with_hint("for example 10Gi or 500Mi"));
    None
}

fn published_type(value: &str, path: &Path, report: &mut Report) -> Option<PublishedServiceType> {
    match value {
        "ClusterIP" => Some(PublishedServiceType::ClusterIP),
        "NodePort" => Some(PublishedServiceType::NodePort),
        "LoadBalancer" => Some(PublishedServiceType::LoadBalancer),
        other => {
            report.error(Diagnostic::new(path.clone(), format!("unknown Service type `{other}`")).with_hint("use ClusterIP, NodePort or LoadBalancer"));
            None
        }
    }
}

fn text_map(map: &BTreeMap<String, Scalar>, path: &Path, value_must_be_label: bool, report: &mut Report) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(key, value)| {
            let valid = if value_must_be_label { names::is_valid_label(key, &value.0) } else { names::is_valid_label(key, "") };
            if !valid {
                let what = if value_must_be_label { "a label (key and value)" } else { "an annotation key" };
                report.error(
                    Diagnostic::new(path.key(key), format!("`{key}` cannot be {what} on Kubernetes"))
                        .with_hint("keys are [prefix/]name, names and values at most 63 letters, digits, `-`, `_` and `.`"),
                );
                return None;
            }
            Some((key.clone(), value.0.clone()))
        })
        .collect()
}

fn toleration(toleration: &ComposeToleration, path: &Path, report: &mut Report) -> Option<Toleration> {
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    if !matches!(operator, "Equal" | "Exists") {
        report.error(Diagnostic::new(path.key("operator"), format!("unknown operator `{operator}`")).with_hint("use Equal or Exists"));
        return None;
    }
    if operator == "Exists" && toleration.value.is_some() {
        report.error(Diagnostic::new(path.key("value"), "a toleration with operator Exists takes no value"));
        return None;
    }
    if operator == "Equal" && toleration.key.is_none() {
        report.error(Diagnostic::new(path.key("key"), "a toleration without a key must use operator Exists"));
        return None;
    }
    let effect = toleration.effect.as_deref();
    if !matches!(effect, None | Some("NoSchedule" | "PreferNoSchedule" | "NoExecute")) {
        report.error(
            Diagnostic::new(path.key("effect"), format!("unknown effect `{}`", effect.unwrap_or_default()))
                .with_hint("use NoSchedule, PreferNoSchedule or NoExecute"),
        );
        return None;
    }
    let seconds = match &toleration.toleration_seconds {
        None => None,
        Some(_) if effect != Some("NoExecute") => {
            report.error(Diagnostic::new(path.key("tolerationSeconds"), "tolerationSeconds applies only to the NoExecute effect"));
            return None;
        }
        Some(seconds) => Some(i64::from(report.check(&path.key("tolerationSeconds"), seconds.as_u32())?)),
    };
    Some(Toleration {
        key: toleration.key.clone(),
        operator: Some(operator.to_string()),
        value: toleration.value.as_ref().map(|v| v.0.clone()),
        effect: effect.map(str::to_string),
        toleration_seconds: seconds,
    })
}

/// Reads a service's `x-kubernetes` and kompose labels.
pub fn settings(service: &Service, path: &Path, report: &mut Report) -> Settings {
    let mut settings = Settings::default();
    let label = |key: &str| service.labels.get(key).map(|v| v.clone().unwrap_or_default());
    let label_path = |key: &str| path.key("labels").key(key);

    if let Some(kind) = label(KOMPOSE_SERVICE_TYPE) {
        match kind.to_ascii_lowercase().as_str() {
            "clusterip" => settings.published_type = Some(PublishedServiceType::ClusterIP),
            "nodeport" => settings.published_type = Some(PublishedServiceType::NodePort),
            "loadbalancer" => settings.published_type = Some(PublishedServiceType::LoadBalancer),
            "headless" => settings.headless = true,
            _ => report.error(
                Diagnostic::new(label_path(KOMPOSE_SERVICE_TYPE), format!("unknown kompose service type `{kind}`"))
                    .with_hint("use clusterip, nodeport, loadbalancer or headless"),
            ),
        }
    }
    if let Some(secret) = label(KOMPOSE_IMAGE_PULL_SECRET).filter(|s| !s.is_empty()) {
        settings.image_pull_secrets.push(secret);
    }
    if let Some(size) = label(KOMPOSE_VOLUME_SIZE) {
        settings.claims.size = quantity(&size, &label_path(KOMPOSE_VOLUME_SIZE), report);
    }
    settings.claims.storage_class_name = label(KOMPOSE_STORAGE_CLASS).filter(|c| !c.is_empty());

    let Some(extension) = &service.x_kubernetes else { return settings };
    let path = path.key(EXTENSION_KEY);
    if let Some(kind) = &extension.service_type {
        let from_label = settings.published_type.is_some() || settings.headless;
        if let Some(kind) = published_type(kind, &path.key("serviceType"), report) {
            if from_label {
                report.warn(&label_path(KOMPOSE_SERVICE_TYPE), "x-kubernetes serviceType is set too and takes precedence");
            }
            settings.published_type = Some(kind);
            settings.headless = false;
        }
    }
    settings.service_annotations = text_map(&extension.service_annotations, &path.key("serviceAnnotations"), false, report);
    settings.pod_annotations = text_map(&extension.pod_annotations, &path.key("podAnnotations"), false, report);
    settings.node_selector = text_map(&extension.node_selector, &path.key("nodeSelector"), true, report);
    for (index, name) in extension.image_pull_secrets.iter().enumerate() {
        if name.trim().is_empty() {
            report.error(Diagnostic::new(path.key("imagePullSecrets").key(index), "the Secret name is empty"));
        } else if !settings.image_pull_secrets.contains(name) {
            settings.image_pull_secrets.push(name.clone());
        }
    }
    settings.tolerations =
        extension.tolerations.iter().enumerate().filter_map(|(index, t)| toleration(t, &path.key("tolerations").key(index), report)).collect();
    settings.service_account_name = extension.service_account_name.clone().filter(|n| !n.is_empty());
    settings.automount_service_account_token =
        extension.automount_service_account_token.as_ref().and_then(|a| report.check(&path.key("automountServiceAccountToken"), a.as_bool())).unwrap_or(false);
    settings
}

impl Settings {
    /// Pod-level settings: annotations, pull secrets, node selector, tolerations, account.
    pub fn apply_to_pod(&self, template: &mut PodTemplateSpec, path: &Path, report: &mut Report) {
        if !self.pod_annotations.is_empty() {
            let annotations = template.metadata.get_or_insert_default().annotations.get_or_insert_default();
            for (key, value) in &self.pod_annotations {
                if annotations.get(key).is_some_and(|old| old != value) {
                    report.warn(&path.key(EXTENSION_KEY).key("podAnnotations").key(key), "replaces the annotation the service's labels or annotations give");
                }
                annotations.insert(key.clone(), value.clone());
            }
        }
        let spec = template.spec.get_or_insert_default();
        if !self.image_pull_secrets.is_empty() {
            spec.image_pull_secrets = Some(self.image_pull_secrets.iter().map(|name| LocalObjectReference { name: name.clone() }).collect());
        }
        if !self.node_selector.is_empty() {
            spec.node_selector = Some(self.node_selector.clone());
        }
        if !self.tolerations.is_empty() {
            spec.tolerations = Some(self.tolerations.clone());
        }
        if let Some(account) = &self.service_account_name {
            spec.service_account_name = Some(account.clone());
        }
        if self.automount_service_account_token {
            spec.automount_service_account_token = Some(true);
        }
    }

    pub fn apply_to_services(&self, services: &mut [KubeService]) {
        if self.service_annotations.is_empty() {
            return;
        }
        for service in services {
            service.metadata.annotations.get_or_insert_default().extend(self.service_annotations.clone());
        }
    }
}

/// A top-level volume's `x-kubernetes`.
pub fn volume_settings(extension: &VolumeExtension, path: &Path, report: &mut Report) -> ClaimSettings {
    let path = path.key(EXTENSION_KEY);
    ClaimSettings {
        size: extension.size.as_ref().and_then(|s| quantity(&s.0, &path.key("size"), report)),
        storage_class_name: extension.storage_class_name.clone().filter(|c| !c.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for good in ["10Gi", "500Mi", "1", "1.5G", "100m", "1e3", "+2Ki", "0.5"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "10 Gi", "10GB", "Gi", "1.2.3", ".", "1e", "-1Gi", "ten"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    fn service(yaml: &str) -> Service {
        crate::compose::load::service_from_yaml(yaml)
    }

    #[test]
    fn extension_wins_over_kompose_labels() {
        let web = service(
            "image: x\nlabels: {kompose.service.type: nodeport, kompose.image-pull-secret: regcred}\nx-kubernetes:\n  serviceType: LoadBalancer\n  imagePullSecrets: [regcred, other]\n",
        );
        let mut report = Report::default();
        let settings = settings(&web, &Path::root(), &mut report);
        assert_eq!(settings.published_type, Some(PublishedServiceType::LoadBalancer));
        assert_eq!(settings.image_pull_secrets, ["regcred", "other"]);
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn tolerations_are_checked() {
        let web = service(
            "image: x\nx-kubernetes:\n  tolerations:\n    - {key: gpu, operator: Exists, effect: NoSchedule}\n    - {key: a, operator: Exists, value: b}\n    - {key: a, value: b, effect: NoSchedule, tolerationSeconds: 30}\n    - {operator: Maybe}\n",
        );
        let mut report = Report::default();
        let settings = settings(&web, &Path::root(), &mut report);
        assert_eq!(settings.tolerations.len(), 1);
        assert_eq!(report.errors.len(), 3, "{:?}", report.errors);
    }

    #[test]
    fn claim_settings_fall_back_field_by_field() {
        let volume = ClaimSettings { size: Some("10Gi".into()), storage_class_name: None };
        let service = ClaimSettings { size: Some("1Gi".into()), storage_class_name: Some("fast".into()) };
        assert_eq!(volume.or(&service), ClaimSettings { size: Some("10Gi".into()), storage_class_name: Some("fast".into()) });
    }
}
