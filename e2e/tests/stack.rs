//! Reading a ComposeStack's status the way GitOps tools do.

use compose_operator::api::ComposeStack;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

pub fn condition<'a>(stack: &'a ComposeStack, type_: &str) -> Option<&'a Condition> {
    stack.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

pub fn is(stack: &ComposeStack, type_: &str) -> bool {
    condition(stack, type_).is_some_and(|c| c.status == "True")
}

/// Ready=True describing the current generation: what kstatus calls Current.
pub fn ready_and_current(stack: &ComposeStack) -> bool {
    let status = stack.status.as_ref();
    status.and_then(|s| s.observed_generation) == stack.metadata.generation && is(stack, "Ready")
}

pub fn stalled_with(stack: &ComposeStack, text: &str) -> bool {
    condition(stack, "Stalled").is_some_and(|c| c.status == "True" && c.message.contains(text))
}
