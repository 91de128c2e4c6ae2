//! `compose-operator run`: the reconcile loop around the pure translation.
//!
//! One kube-runtime `Controller` per watched scope (all namespaces, or each `--namespace`),
//! behind optional leader election over a Lease. Per scope, one watch per kind the
//! translation produces (selected by the `managed-by` label) feeds both the caches the
//! reconciles read ([`cache`]) and the controller's triggers (a changed or deleted child
//! wakes its stack), and one watch of the stacks' pods feeds the pod cache.

pub mod annotations;
pub mod cache;
pub mod cluster;
pub mod context;
pub mod error;
pub mod events;
pub mod gate;
pub mod http;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod pods;
pub mod progress;
pub mod reconcile;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::api::ComposeStack;
use crate::cli::policy_args::PolicyArgs;
use crate::object::{Kind, KindVisitor, ManagedType};
use crate::translate::names;
use cache::{Cached, Caches};
use context::{Context, Shared};
use http::Health;
use metrics::Metrics;
use pods::PodState;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Watch only this namespace (repeatable, or comma-separated); all namespaces when unset.
    #[arg(long = "namespace", env = "COMPOSE_OPERATOR_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "COMPOSE_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// How often a settled stack is reconciled again, to repair drift no watch reports.
    #[arg(long, env = "COMPOSE_OPERATOR_REQUEUE_SECONDS", default_value_t = 300)]
    pub requeue_seconds: u64,
    /// How many stacks are reconciled at once; the others wait in line, first come first served.
    #[arg(long, env = "COMPOSE_OPERATOR_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    #[arg(long, env = "COMPOSE_OPERATOR_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Reconcile only while holding a coordination.k8s.io Lease, so several replicas are safe.
    #[arg(long, env = "COMPOSE_OPERATOR_LEADER_ELECTION")]
    pub leader_election: bool,
    #[arg(long, env = "COMPOSE_OPERATOR_LEASE_NAME", default_value = "compose-operator")]
    pub lease_name: String,
    /// The Lease's namespace; defaults to the pod's own (POD_NAMESPACE), else `default`.
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// This replica's name in the Lease and in Events; defaults to POD_NAME, else host and pid.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The lease is renewed well within its duration; a replica that dies is replaced after it.
const LEASE_SECONDS: u64 = 15;
const LEASE_GRACE_SECONDS: u64 = 5;

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// A client whose every request is counted in the metrics, by verb and resource.
pub async fn counting_client(metrics: Arc<Metrics>) -> Result<Client, String> {
    let config = kube::Config::infer().await.map_err(|e| format!("no Kubernetes client configuration: {e}"))?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| format!("the Kubernetes client configuration: {e}"))?;
    let count = tower::ServiceBuilder::new().map_request(move |request: ::http::Request<kube::client::Body>| {
        metrics.count_request(&request);
        request
    });
    Ok(builder.with_layer(&count).build())
}

pub async fn run(args: RunArgs) -> Result<(), String> {
    let metrics = Arc::new(Metrics::default());
    let client = counting_client(metrics.clone()).await?;
    let health = Arc::new(Health { metrics: metrics.clone(), ready: Default::default() });
    let server = http::serve(args.metrics_addr, health.clone()).await.map_err(|e| format!("cannot serve on {}: {e}", args.metrics_addr))?;
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let recorder = Recorder::new(client.clone(), Reporter { controller: names::OPERATOR.into(), instance: Some(identity.clone()) });
    let shared = Arc::new(Shared::new(
        client.clone(),
        recorder,
        args.policy.policy(),
        Duration::from_secs(args.requeue_seconds),
        metrics,
        usize::from(args.concurrency),
    ));
    let shutdown = shutdown_signal();

    let result = if args.leader_election {
        let namespace = args.lease_namespace.clone().unwrap_or_else(|| "default".into());
        lead(&args, client, &namespace, &identity, shared, &health, shutdown).await
    } else {
        health.ready.store(true, Ordering::Relaxed);
        run_controllers(&args.namespaces, shared, wait_for(shutdown)).await;
        Ok(())
    };
    server.abort();
    result
}

/// Stands by until this replica holds the Lease, reconciles while it does, and stops at
/// once if it loses it (another replica may already be writing).
async fn lead(
    args: &RunArgs,
    client: Client,
    namespace: &str,
    identity: &str,
    shared: Arc<Shared>,
    health: &Health,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let manager = LeaseManagerBuilder::new(client, &args.lease_name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(LEASE_SECONDS)
        .with_grace(LEASE_GRACE_SECONDS)
        .build()
        .await
        .map_err(|e| format!("leader election: {e}"))?;
    let (mut leading, lease_task) = manager.watch().await;
    health.ready.store(true, Ordering::Relaxed);
    info!(lease = %args.lease_name, %namespace, %identity, "waiting to lead");
    let mut stop = shutdown.clone();
    let outcome = loop {
        if *leading.borrow_and_update() {
            break Ok(true);
        }
        tokio::select! {
            changed = leading.changed() => if changed.is_err() { break Err("the lease manager stopped".to_string()) },
            _ = stop.changed() => break Ok(false),
        }
    };
    let result = match outcome {
        Ok(true) => {
            info!("leading: reconciling");
            let mut lost = leading.clone();
            let lost_lease = async move {
                while lost.changed().await.is_ok() {
                    if !*lost.borrow() {
                        return;
                    }
                }
            };
            let lost_it = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = lost_it.clone();
            let stop = async move {
                tokio::select! {
                    () = wait_for(shutdown) => {},
                    () = lost_lease => flag.store(true, Ordering::Relaxed),
                }
            };
            run_controllers(&args.namespaces, shared, stop).await;
            if lost_it.load(Ordering::Relaxed) { Err("lost the lease; stopping so that only the new leader writes".to_string()) } else { Ok(()) }
        }
        Ok(false) => Ok(()),
        Err(error) => Err(error),
    };
    // Closing the channel makes the manager release the Lease, so a successor need not wait.
    drop(leading);
    match lease_task.await {
        Ok(Ok(_)) => info!("released the lease"),
        Ok(Err(error)) => warn!(%error, "releasing the lease"),
        Err(error) => warn!(%error, "the lease task failed"),
    }
    result
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "compose-operator".into());
    format!("{host}-{}", std::process::id())
}

/// SIGTERM (how Kubernetes stops a pod) or Ctrl-C flips the channel to true.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            () = terminate => {},
        }
        info!("shutting down");
        let _ = sender.send(true);
    });
    receiver
}

async fn wait_for(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn run_controllers(namespaces: &[String], shared: Arc<Shared>, stop: impl std::future::Future<Output = ()> + Send + 'static) {
    let stop = futures::FutureExt::shared(Box::pin(stop));
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() { vec![None] } else { namespaces.iter().map(|n| Some(n.as_str())).collect() };
    let controllers = scopes.into_iter().map(|scope| {
        let stop = stop.clone();
        run_controller(scope, shared.clone(), stop)
    });
    futures::future::join_all(controllers).await;
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn map_event<A, B>(event: watcher::Event<A>, f: impl Fn(A) -> B) -> watcher::Event<B> {
    match event {
        watcher::Event::Apply(object) => watcher::Event::Apply(f(object)),
        watcher::Event::Delete(object) => watcher::Event::Delete(f(object)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(object) => watcher::Event::InitApply(f(object)),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// Adds the watch of one owned kind to the controller: each event goes into the kind's cache,
/// then the object it touched (as metadata, all the trigger reads) wakes its owning stack.
struct Owns<'a> {
    controller: Controller<ComposeStack>,
    client: &'a Client,
    namespace: Option<&'a str>,
    caches: Arc<Caches>,
}

impl KindVisitor for Owns<'_> {
    type Output = Controller<ComposeStack>;

    fn visit<K: ManagedType>(self, kind: Kind) -> Controller<ComposeStack> {
        let ours = watcher::Config::default().labels(&format!("{}={}", names::MANAGED_BY, names::OPERATOR));
        let caches = self.caches;
        let feed = move |event: watcher::Event<Cached>| {
            let touched: Vec<PartialObjectMeta<K>> = match &event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o) => vec![o.metadata().clone().into_request_partial::<K>()],
                watcher::Event::Init | watcher::Event::InitDone => vec![],
            };
            caches.of(kind).apply(event);
            futures::stream::iter(touched.into_iter().map(Ok))
        };
        let triggers = if kind.status_is_read() {
            watcher(scoped::<K>(self.client, self.namespace), ours)
                .default_backoff()
                .map_ok(move |event| feed(map_event(event, |object| Cached::workload_of(object.into()))))
                .try_flatten()
                .boxed()
        } else {
            // Metadata only: the bodies never cross the wire.
            watcher(scoped::<PartialObjectMeta<K>>(self.client, self.namespace), ours)
                .default_backoff()
                .map_ok(move |event| feed(map_event(event, |object| Cached::metadata_of(kind, object.metadata))))
                .try_flatten()
                .boxed()
        };
        self.controller.owns_stream(triggers)
    }
}

async fn run_controller(namespace: Option<&str>, shared: Arc<Shared>, stop: impl std::future::Future<Output = ()> + Send + Sync + 'static) {
    let client = shared.client.clone();
    let caches = Arc::new(Caches::new());
    let context = Arc::new(Context::new(shared.clone(), caches.clone()));
    // The stacks' store keeps no field ownership and no kubectl copy of the last applied stack
    // (nothing reads them; at a thousand stacks they are megabytes). A stack is reconciled when
    // its spec changes (its generation), not when its status does: the status is this
    // operator's own write, and reconciling on it would run every stack once more after each
    // of its status changes for nothing.
    let (stacks, writer) = kube::runtime::reflector::store();
    let stack_changes = kube::runtime::reflector(
        writer,
        watcher(scoped::<ComposeStack>(&client, namespace), watcher::Config::default()).default_backoff().modify(|stack| {
            cache::slim_stack_metadata(&mut stack.metadata);
        }),
    )
    .applied_objects()
    .predicate_filter(kube::runtime::predicates::generation, Default::default());
    let mut controller = Controller::for_stream(stack_changes, stacks)
        // Bursts of child status updates (pods becoming ready one by one) become one reconcile.
        .with_config(controller::Config::default().debounce(Duration::from_millis(500)));
    shared.metrics.watch_stacks(controller.store());
    info!(scope = namespace.unwrap_or("all namespaces"), "watching ComposeStacks");
    for kind in Kind::ALL {
        controller = kind.visit(Owns { controller, client: &client, namespace, caches: caches.clone() });
    }
    // Pods explain stuck services. Their workloads' status wakes the stack for readiness; a pod
    // wakes it only when what explains it changes (a crash loop's back-off, a failing pull),
    // which the workload's status does not show.
    let pods = watcher(scoped::<Pod>(&client, namespace), watcher::Config::default().labels(names::STACK)).default_backoff().filter_map({
        let caches = caches.clone();
        move |event| {
            let woken = match event {
                Ok(event) => {
                    let event = map_event(event, PodState::from);
                    let woken = match &event {
                        watcher::Event::Apply(pod) => {
                            let before =
                                caches.pods.get(pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default());
                            // The trigger needs only the pod's name, namespace and stack label.
                            pods::problem_changed(before.as_deref(), pod).then(|| Pod { metadata: pod.metadata.clone(), ..Default::default() })
                        }
                        _ => None,
                    };
                    caches.pods.apply(event);
                    woken.map(Ok)
                }
                Err(error) => {
                    warn!(%error, "watching pods");
                    None
                }
            };
            futures::future::ready(woken)
        }
    });
    // The Pod Security level each namespace enforces, which the translation fits pods to.
    let levels = {
        let api: Api<PartialObjectMeta<Namespace>> = Api::all(client.clone());
        let config = match namespace {
            Some(namespace) => watcher::Config::default().fields(&format!("metadata.name={namespace}")),
            None => watcher::Config::default(),
        };
        let caches = caches.clone();
        tokio::spawn(watcher(api, config).default_backoff().for_each(move |event| {
            match event {
                Ok(event) => caches.namespaces.apply(event),
                Err(error) => {
                    let forbidden = matches!(&error, watcher::Error::InitialListFailed(kube::Error::Api(status)) | watcher::Error::WatchFailed(kube::Error::Api(status)) if status.code == 403);
                    if forbidden && !caches.namespaces.is_synced() {
                        warn!(%error, "may not read namespaces: stack pods are not fitted to the namespaces' Pod Security levels (grant get, list, watch on namespaces)");
                        caches.namespaces.give_up();
                    } else if !forbidden {
                        warn!(%error, "watching namespaces (for their Pod Security level)");
                    }
                }
            }
            futures::future::ready(())
        }))
    };
    let controller = controller.watches_stream(pods, |pod: Pod| {
        let stack = pod.labels().get(names::STACK).cloned();
        stack.map(|stack| kube::runtime::reflector::ObjectRef::new(&stack).within(&pod.namespace().unwrap_or_default()))
    });
    let sweeper = tokio::spawn(sweep_deleted_stacks(controller.store(), context.clone()));
    controller
        .graceful_shutdown_on(stop)
        .run(reconcile_in_turn, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                match error {
                    controller::Error::ReconcilerFailed(error, object) => warn!(stack = %object, %error, "reconcile failed; retrying with back-off"),
                    other => error!(error = %other, "controller"),
                }
            }
        })
        .await;
    levels.abort();
    sweeper.abort();
}

/// Now and then, forgets what the ledger and the refusals hold for stacks that are gone.
async fn sweep_deleted_stacks(store: kube::runtime::reflector::Store<ComposeStack>, context: Arc<Context>) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        let stacks = store.state();
        let existing = stacks.iter().map(|s| (s.namespace().unwrap_or_default(), s.name_any())).collect();
        let uids = stacks.iter().filter_map(|s| s.uid()).collect();
        context.forget_stacks_except(&existing, &uids);
    }
}

/// Waits in line for a slot, then reconciles.
async fn reconcile_in_turn(stack: Arc<ComposeStack>, context: Arc<Context>) -> Result<Action, error::Error> {
    let key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    let _slot = context.shared.slot().await;
    context.shared.metrics.in_flight.inc();
    let result = reconcile::reconcile(stack, context.clone()).await;
    context.shared.metrics.in_flight.dec();
    let action = result?;
    context.succeeded(&key);
    Ok(action)
}

fn error_policy(stack: Arc<ComposeStack>, _error: &error::Error, context: Arc<Context>) -> Action {
    let key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    Action::requeue(context.retry_after_failure(&key))
}
