//! One file per part of a pod: the container (command, environment, resources), its volumes,
//! security context, scheduling, the pod template around them, containers that share a pod,
//! and the fitting of it all to the namespace's Pod Security level.

pub mod admission;
pub mod container;
pub mod pod;
pub mod probes;
pub mod scheduling;
pub mod security;
pub mod sidecar;
pub mod volumes;
