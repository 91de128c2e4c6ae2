//! What can go wrong in a reconcile, apart from the stack itself (that is a status, not an
//! error): here, not in the reconcile, so metrics and events can name errors without
//! importing the reconcile that uses them.

use crate::object::Kind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
    #[error("the ComposeStack has no {0}")]
    Incomplete(&'static str),
}

impl Error {
    /// A low-cardinality label for metrics: the API server's HTTP code, or what failed.
    pub fn metric_label(&self) -> String {
        match self {
            Error::Cluster(ClusterError::Api(kube::Error::Api(status))) | Error::Status(kube::Error::Api(status)) => status.code.to_string(),
            Error::Cluster(ClusterError::Api(_)) | Error::Status(_) => "transport".into(),
            Error::Cluster(ClusterError::Decode { .. }) => "decode".into(),
            Error::Incomplete(_) => "incomplete".into(),
        }
    }
}

/// An API call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{}", describe(.0))]
    Api(#[from] kube::Error),
    #[error("{kind} from the API server could not be read: {source}")]
    Decode { kind: Kind, source: serde_json::Error },
}

impl ClusterError {
    /// The API server refused the object itself (invalid, forbidden, immutable field): retrying
    /// the same object cannot help, the stack has to change.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClusterError::Api(kube::Error::Api(status)) => matches!(status.code, 400 | 403 | 404 | 405 | 413 | 415 | 422),
            ClusterError::Api(_) => false,
            ClusterError::Decode { .. } => true,
        }
    }
}

/// The API server's own words (`Deployment.apps "web" is invalid: ...`), not the debug dump.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}
