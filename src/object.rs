//! The typed Kubernetes objects a translation produces, and the one registry of their kinds.
//!
//! Every kind the operator manages is named once, in the `kinds!` table below; the `Object`
//! enum, the `Kind` and `WorkloadKind` enums, decoding, the API group/version/plural, the apply order and the
//! controller's watches (through [`Kind::visit`]) all come from it.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Writes `$callback!` over the table: kinds in the order a fresh stack applies them
/// (things pods mount and find come before the pods). Of the first group the operator
/// reads only metadata; the second are the workloads, whose status it reads, and which
/// also make the [`WorkloadKind`] enum.
macro_rules! kinds {
    ($callback:ident) => {
        $callback! {
            metadata: [ConfigMap, Secret, PersistentVolumeClaim, NetworkPolicy, Service],
            workloads: [Deployment, StatefulSet, DaemonSet, Job],
        }
    };
}

macro_rules! define_kinds {
    (metadata: [$($metadata:ident),*], workloads: [$($workload:ident),*] $(,)?) => {
        define_kinds!(@all [$($metadata,)* $($workload,)*] [$($workload,)*]);
    };
    (@all [$($kind:ident,)*] [$($workload:ident,)*]) => {
        // Every variant is a whole Kubernetes object and a stack has a few dozen at most: boxing
        // the larger ones would save nothing worth the indirection.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq)]
        pub enum Object {
            $($kind($kind),)*
        }

        /// A kind the operator creates.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($kind,)*
        }

        impl Kind {
            /// Every kind, in apply order (the order of the variants, so `Ord` sorts by it).
            pub const ALL: &[Kind] = &[$(Kind::$kind,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => <$kind as Resource>::KIND,)*
                }
            }

            /// `(group, version, plural)` of the API endpoint, `group` empty for the core API.
            pub fn endpoint(self) -> (&'static str, &'static str, &'static str) {
                match self {
                    $(Kind::$kind => (<$kind as Resource>::GROUP, <$kind as Resource>::VERSION, <$kind as Resource>::URL_PATH_SEGMENT),)*
                }
            }

            pub fn api_version(self) -> &'static str {
                match self {
                    $(Kind::$kind => <$kind as Resource>::API_VERSION,)*
                }
            }

            /// The operator reads this kind's status (workloads); of the others it reads
            /// metadata only, so their bodies (packed project files) need not be kept.
            pub fn status_is_read(self) -> bool {
                matches!(self, $(Kind::$workload)|*)
            }

            /// The kind of that name, as objects and messages spell it.
            pub fn parse(kind: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|k| k.as_str() == kind)
            }
        }

        impl Object {
            pub fn kind(&self) -> Kind {
                ObjectRef::from(self).kind()
            }

            pub fn metadata(&self) -> &ObjectMeta {
                ObjectRef::from(self).metadata()
            }

            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$kind(o) => &mut o.metadata,)*
                }
            }

            /// The object as an apply body: apiVersion and kind included, no nulls.
            pub fn to_json(&self) -> serde_json::Value {
                ObjectRef::from(self).to_json()
            }

            /// Decodes an object of that kind as the API server returns it.
            pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, serde_json::Error> {
                Ok(match kind {
                    $(Kind::$kind => Object::$kind(serde_json::from_value(value)?),)*
                })
            }
        }

        /// The object as k8s-openapi writes it (apiVersion and kind first), straight into a
        /// serializer: printing a translation needs no intermediate JSON tree.
        impl Serialize for Object {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ObjectRef::from(self).serialize(serializer)
            }
        }

        /// The kinds that run a compose service's pods: a sub-list of [`Kind`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum WorkloadKind {
            $($workload,)*
        }

        impl From<WorkloadKind> for Kind {
            fn from(kind: WorkloadKind) -> Kind {
                match kind {
                    $(WorkloadKind::$workload => Kind::$workload,)*
                }
            }
        }

        /// An object borrowed where it lies (a plan's typed fields), so that counting, sizing
        /// and printing a translation copies nothing.
        #[derive(Clone, Copy, Debug)]
        pub enum ObjectRef<'a> {
            $($kind(&'a $kind),)*
        }

        impl<'a> ObjectRef<'a> {
            pub fn kind(self) -> Kind {
                match self {
                    $(ObjectRef::$kind(_) => Kind::$kind,)*
                }
            }

            pub fn metadata(self) -> &'a ObjectMeta {
                match self {
                    $(ObjectRef::$kind(o) => &o.metadata,)*
                }
            }

            pub fn name(self) -> &'a str {
                self.metadata().name.as_deref().unwrap_or_default()
            }

            /// The object as an apply body, as [`Object::to_json`] writes it.
            pub fn to_json(self) -> serde_json::Value {
                match self {
                    $(ObjectRef::$kind(o) => typed_json(o),)*
                }
            }

            /// An owned copy, for what keeps or changes it (the controller's apply bodies).
            pub fn to_object(self) -> Object {
                match self {
                    $(ObjectRef::$kind(o) => Object::$kind(o.clone()),)*
                }
            }
        }

        impl Serialize for ObjectRef<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(ObjectRef::$kind(o) => o.serialize(serializer),)*
                }
            }
        }

        impl<'a> From<&'a Object> for ObjectRef<'a> {
            fn from(object: &'a Object) -> ObjectRef<'a> {
                match object {
                    $(Object::$kind(o) => ObjectRef::$kind(o),)*
                }
            }
        }

        $(impl<'a> From<&'a $kind> for ObjectRef<'a> {
            fn from(object: &'a $kind) -> ObjectRef<'a> {
                ObjectRef::$kind(object)
            }
        })*

        $(impl ManagedType for $kind {})*

        $(impl From<$kind> for Object {
            fn from(object: $kind) -> Object {
                Object::$kind(object)
            }
        })*

        impl Kind {
            /// Calls the visitor with the Rust type of this kind, for code that is generic over
            /// the object type (typed APIs, watches).
            pub fn visit<V: KindVisitor>(self, visitor: V) -> V::Output {
                match self {
                    $(Kind::$kind => visitor.visit::<$kind>(self),)*
                }
            }
        }
    };
}

kinds!(define_kinds);

/// What every managed type is, as generic code needs it; implemented by the kinds of the table.
pub trait ManagedType:
    Resource<Scope = k8s_openapi::NamespaceResourceScope>
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Clone
    + std::fmt::Debug
    + Serialize
    + serde::de::DeserializeOwned
    + Into<Object>
    + Send
    + Sync
    + 'static
{
}

/// Code run with the Rust type of a [`Kind`]; see [`Kind::visit`].
pub trait KindVisitor {
    type Output;
    fn visit<K: ManagedType>(self, kind: Kind) -> Self::Output;
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        Kind::from(self).as_str()
    }

    /// A workload that runs for ever, as opposed to a Job that runs to its end.
    pub fn long_running(self) -> bool {
        self != WorkloadKind::Job
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn typed_json<K: Resource + Serialize>(object: &K) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("apiVersion".into(), K::API_VERSION.into());
        map.insert("kind".into(), K::KIND.into());
    }
    value
}

impl Object {
    pub fn api_version(&self) -> &'static str {
        self.kind().api_version()
    }

    pub fn name(&self) -> &str {
        ObjectRef::from(self).name()
    }

    /// `Kind/name`, as messages name objects.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

/// A compose service runs as a Deployment unless something about it says otherwise.
impl Default for WorkloadKind {
    fn default() -> Self {
        WorkloadKind::Deployment
    }
}
