//! Every budget on what one stack may make the operator do, in one place.
//!
//! A ComposeStack is written by a tenant and translated by an operator that serves every
//! tenant, so each stage is bounded, not only the parser: a small document must not grow
//! into large work, memory or output at any later step. Each limit is far above what real
//! projects need (the largest public compose projects seen have around a hundred services
//! and a few dozen ports) and well below what would hurt the operator. Exceeding one
//! refuses the stack with the compose path and the limit. `docs/security.md` lists them
//! with the measurements behind them.

/// The largest compose document (each of `spec.compose` and `spec.overrides`), in bytes.
/// Real stacks are a few KiB; a ComposeStack must fit in etcd's ~1.5 MiB request anyway.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// The most override documents (`spec.overrides`).
pub const MAX_OVERRIDES: usize = 16;

/// The most services in one stack. Each becomes three to five objects.
pub const MAX_SERVICES: usize = 500;

/// The most networks a stack declares. Each becomes a label on the pods of its services and
/// a peer in their NetworkPolicies; real stacks declare a handful.
pub const MAX_NETWORKS: usize = 100;

/// The longest chain of services extending each other. Compose sets none; real projects
/// use one or two levels.
pub const MAX_EXTENDS_DEPTH: usize = 32;

/// The most YAML nodes the services may hold after `extends` copied their bases in: as
/// many as the parser accepts in one document.
pub const MAX_RESOLVED_NODES: usize = 100_000;

/// Interpolation: how deep `${A:-${B:-...}}` may nest, how long one value may become, and
/// how large all interpolated values of a document may become together.
pub const MAX_INTERPOLATION_DEPTH: usize = 10;
pub const MAX_INTERPOLATED_VALUE_BYTES: usize = 1024 * 1024;
pub const MAX_INTERPOLATED_DOCUMENT_BYTES: usize = 2 * 1024 * 1024;

/// Ports: one range (`8000-8099`), one service and the whole stack, after ranges are
/// expanded. Each port becomes a container port and a Service port.
pub const MAX_PORTS_PER_RANGE: u16 = 100;
pub const MAX_PORTS_PER_SERVICE: usize = 200;
pub const MAX_PORTS_PER_STACK: usize = 1000;

/// The most replicas of one service.
pub const MAX_REPLICAS: u32 = 10_000;

/// The most Kubernetes objects one stack becomes. The operator dry-runs, applies and
/// watches each.
pub const MAX_OBJECTS: usize = 2000;

/// The most bytes (as JSON) all objects of one stack may take together: several times what
/// a 256 KiB document with its packed files needs.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;

/// Reports: the first errors and warnings are kept, the rest counted; messages and path
/// segments are cut, since they quote tenant input and end up in status and Events.
pub const MAX_ERRORS: usize = 50;
pub const MAX_WARNINGS: usize = 100;
pub const MAX_MESSAGE_CHARS: usize = 600;
pub const MAX_SEGMENT_CHARS: usize = 80;
