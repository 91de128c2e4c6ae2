//! The annotations the operator writes on the objects it owns and reads back from its caches.
//! A leaf, so that the caches, the ledger and the reconcile import them in one direction.

/// The fingerprint of the desired state an object was applied from.
pub const FINGERPRINT: &str = "compose-operator.dev/fingerprint";

/// The pod-template fingerprint of a Job, whose template cannot change in place.
pub const JOB_TEMPLATE_HASH: &str = "compose-operator.dev/template-hash";
