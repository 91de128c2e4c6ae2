use kube::CustomResourceExt;

use crate::api::ComposeStack;

/// The CRD as checked in under `crds/` and the Helm chart.
pub fn render() -> String {
    serde_yaml::to_string(&ComposeStack::crd()).unwrap_or_default()
}
