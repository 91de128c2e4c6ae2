//! compose-operator: docker-compose stacks as a Kubernetes custom resource.
//!
//! `compose` reads and checks compose documents, `translate` turns them into Kubernetes
//! objects (pure), `controller` applies them and reports status, `cli` wires it up.

pub mod api;
pub mod cli;
pub mod compose;
pub mod controller;
pub mod object;
pub mod pipeline;
pub mod policy;
pub mod translate;
pub mod yaml_writer;
