//! The compose service being translated: what every part of its translation reads, passed
//! as one value instead of the same five fields in every builder's input.

use super::target::Target;
use crate::compose::diagnostic::Path;
use crate::compose::model::Service;

pub struct ServiceContext<'a> {
    /// The stack: its name, policy, packed files, variables and settings.
    pub target: &'a Target<'a>,
    /// The service's key under `services:`.
    pub compose_name: &'a str,
    /// The Kubernetes name of what is built: the workload, or, for a service that runs in
    /// another's pod, its container.
    pub name: &'a str,
    pub service: &'a Service,
    /// `services.<compose_name>`: where its errors and warnings point.
    pub path: Path,
}

impl<'a> ServiceContext<'a> {
    pub fn new(target: &'a Target<'a>, compose_name: &'a str, name: &'a str, service: &'a Service) -> ServiceContext<'a> {
        ServiceContext { target, compose_name, name, service, path: Path::root().key("services").key(compose_name) }
    }
}
