use kube::CustomResourceExt;

use crate::api::ComposeStack;

/// The CRD as checked in under `crds/` and the Helm chart.
pub fn render() -> String {
    serde_json::to_value(ComposeStack::crd()).ok().and_then(|crd| crate::yaml_writer::to_string(&crd).ok()).unwrap_or_default()
}
