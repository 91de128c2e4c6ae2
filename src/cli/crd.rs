use kube::CustomResourceExt;

use crate::api::ComposeStack;

/// The CRD as checked in under `crds/` and the Helm chart.
pub fn render() -> String {
    serde_json::to_value(ComposeStack::crd()).map(|crd| crate::yaml_writer::to_string(&crd)).unwrap_or_default()
}
