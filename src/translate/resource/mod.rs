//! One file per kind of object a translation emits: each takes what the service or stack
//! decided and returns the object (or, for configs and secrets, the objects and the mounts
//! that use them).

pub mod claim;
pub mod config;
pub mod network_policy;
pub mod service;
pub mod workload;
