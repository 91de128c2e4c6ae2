//! Reaching a cluster the way kubectl does: `--kubeconfig` (else `$KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster service account), `--context`, and `-n` (else the
//! context's namespace, else `default`).

use std::path::PathBuf;

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::failure::Failure;

/// The CLI's own field manager: what it applies (ComposeStacks and their Secrets) is told
/// apart from the operator's objects and from a user's `kubectl apply`.
pub const FIELD_MANAGER: &str = "compose-operator-cli";

#[derive(Clone, Debug, Default, Args)]
pub struct ClusterArgs {
    /// The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// A client and the namespace the command works in.
pub struct Connection {
    pub client: Client,
    pub namespace: String,
}

impl ClusterArgs {
    pub async fn connect(&self) -> Result<Connection, Failure> {
        let options = KubeConfigOptions { context: self.context.clone(), ..Default::default() };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| Failure::Cluster(format!("cannot read the kubeconfig {}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| Failure::Cluster(format!("{}: {e}", path.display())))?
            }
            None if self.context.is_some() => {
                Config::from_kubeconfig(&options).await.map_err(|e| Failure::Cluster(format!("cannot use the kubeconfig: {e}")))?
            }
            None => Config::infer().await.map_err(|e| Failure::Cluster(format!("no cluster to talk to: {e}; set KUBECONFIG or --kubeconfig")))?,
        };
        let namespace = self.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| Failure::Cluster(format!("cannot build a client: {e}")))?;
        Ok(Connection { client, namespace })
    }
}

/// The API server's own words (`composestacks ... not found`), not the debug dump.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 404 && status.message.contains("the server could not find the requested resource") => {
            "the cluster does not know ComposeStacks: install the operator (its Helm chart) or its CRD (`compose-operator crd | kubectl apply -f -`)".into()
        }
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// The objects of one kind in `namespace` that `selector` picks.
pub async fn list<K>(client: &Client, namespace: &str, selector: &kube::api::ListParams) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    Ok(kube::Api::<K>::namespaced(client.clone(), namespace).list(selector).await?.items)
}

impl From<kube::Error> for Failure {
    fn from(error: kube::Error) -> Self {
        Failure::Cluster(describe(&error))
    }
}
