//! Prometheus metrics: reconciles by result and their duration, the reconcile queue, stacks
//! by phase, API requests by verb and resource (every request the process sends, counted in
//! the client), and the size of the watch-fed caches.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use kube::client::Body;
use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::cache::Caches;
use super::error::Error;
use super::ledger::Ledger;
use super::status::{Phase, phase_of};
use crate::api::ComposeStack;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    verb: &'static str,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// How a reconcile ended, for the `reconciles` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Needs a change to the stack.
    Stalled,
    /// Retried with back-off.
    Error,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    stacks: Family<PhaseLabel, Gauge>,
    api_errors: Family<CodeLabel, Counter>,
    requests: Family<RequestLabel, Counter>,
    /// Reconciles waiting for a slot (`--concurrency`).
    pub queued: Gauge,
    pub in_flight: Gauge,
    cached: Family<KindLabel, Gauge>,
    remembered: Gauge,
    /// The controllers' caches of ComposeStacks, counted by phase when scraped.
    stores: Mutex<Vec<Store<ComposeStack>>>,
    caches: Mutex<Vec<(Arc<Caches>, Arc<Ledger>)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("compose_operator");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register("reconciles", "Reconciles by result: ok, stalled (needs a change to the stack) or error (retried)", reconciles.clone());
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register("reconcile_duration_seconds", "Time one reconcile took, from getting a slot to its status", duration.clone());
        let stacks = Family::<PhaseLabel, Gauge>::default();
        registry.register("stacks", "ComposeStacks by phase: Ready, Reconciling, Stalled, Suspended", stacks.clone());
        let api_errors = Family::<CodeLabel, Counter>::default();
        registry.register("api_errors", "Kubernetes API errors met while reconciling, by HTTP code", api_errors.clone());
        let requests = Family::<RequestLabel, Counter>::default();
        registry.register(
            "api_requests",
            "Requests sent to the API server by verb (get, list, watch, apply, dry_run, patch, create, delete, update) and resource",
            requests.clone(),
        );
        let queued = Gauge::default();
        registry.register("reconcile_queue_depth", "Stacks due for a reconcile and waiting for one of the --concurrency slots", queued.clone());
        let in_flight = Gauge::default();
        registry.register("reconciles_in_flight", "Reconciles running now", in_flight.clone());
        let cached = Family::<KindLabel, Gauge>::default();
        registry.register("cached_objects", "Objects held in the watch-fed caches, by kind", cached.clone());
        let remembered = Gauge::default();
        registry.register("ledger_objects", "Objects whose last apply the operator remembers (to send only changes)", remembered.clone());
        Metrics {
            registry,
            reconciles,
            duration,
            stacks,
            api_errors,
            requests,
            queued,
            in_flight,
            cached,
            remembered,
            stores: Mutex::new(Vec::new()),
            caches: Mutex::new(Vec::new()),
        }
    }
}

impl Metrics {
    pub fn watch_stacks(&self, store: Store<ComposeStack>) {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).push(store);
    }

    pub fn watch_caches(&self, caches: Arc<Caches>, ledger: Arc<Ledger>) {
        self.caches.lock().unwrap_or_else(|e| e.into_inner()).push((caches, ledger));
    }

    pub fn observe_reconcile(&self, took: Duration, outcome: Outcome, error: Option<&Error>) {
        self.duration.observe(took.as_secs_f64());
        if let Some(error) = error {
            self.api_errors.get_or_create(&CodeLabel { code: error.metric_label() }).inc();
        }
        let result = match outcome {
            Outcome::Ok => "ok",
            Outcome::Stalled => "stalled",
            Outcome::Error => "error",
        };
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
    }

    /// Counts one request the client is about to send.
    pub fn count_request(&self, request: &Request<Body>) {
        let apply = request.headers().get(http::header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/apply-patch"));
        let (verb, resource) = classify(request.method().as_str(), request.uri().path(), request.uri().query().unwrap_or_default(), apply);
        self.requests.get_or_create(&RequestLabel { verb, resource }).inc();
    }

    /// Requests counted so far with that verb (all resources), for tests and summaries.
    pub fn requests_with_verb(&self, verb: &str) -> u64 {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text.lines()
            .filter(|line| line.starts_with("compose_operator_api_requests_total{") && line.contains(&format!("verb=\"{verb}\"")))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut counts = [0_i64; Phase::ALL.len()];
        for store in self.stores.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for stack in store.state() {
                if let Some(phase) = stack.status.as_ref().and_then(phase_of) {
                    counts[Phase::ALL.iter().position(|p| *p == phase).unwrap_or_default()] += 1;
                }
            }
        }
        for (phase, count) in Phase::ALL.iter().zip(counts) {
            self.stacks.get_or_create(&PhaseLabel { phase: phase.as_str() }).set(count);
        }
        let mut remembered = 0;
        let mut sizes: std::collections::BTreeMap<&'static str, usize> = Default::default();
        for (caches, ledger) in self.caches.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for (kind, size) in caches.sizes() {
                *sizes.entry(kind).or_default() += size;
            }
            remembered += ledger.len();
        }
        for (kind, size) in sizes {
            self.cached.get_or_create(&KindLabel { kind }).set(size as i64);
        }
        self.remembered.set(remembered as i64);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// `(verb, resource)` of a request to the Kubernetes API, from its method, path and query:
/// `GET .../namespaces/ns/deployments?watch=true` is `("watch", "deployments")`; `apply`:
/// the body is a server-side apply patch.
pub fn classify(method: &str, path: &str, query: &str, apply: bool) -> (&'static str, String) {
    let rest = path.strip_prefix("/api/v1/").or_else(|| path.strip_prefix("/apis/").and_then(|p| p.splitn(3, '/').nth(2))).unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let segments = match segments.as_slice() {
        ["namespaces", _namespace, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named) = match segments {
        [plural] => (plural.to_string(), false),
        [plural, _name] => (plural.to_string(), true),
        [plural, _name, sub, ..] => (format!("{plural}/{sub}"), true),
        [] => (path.to_string(), false),
    };
    let has = |key: &str| query.split('&').any(|pair| pair == format!("{key}=true") || pair == format!("{key}=1") || pair.starts_with(&format!("{key}=All")));
    let verb = match (method, named) {
        ("GET", false) if has("watch") => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("PATCH", _) if has("dryRun") => "dry_run",
        ("PATCH", _) if apply => "apply",
        ("PATCH", _) => "patch",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        _ => "other",
    };
    (verb, resource)
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn requests_are_named_by_verb_and_resource() {
        assert_eq!(
            classify("GET", "/apis/apps/v1/namespaces/a/deployments", "labelSelector=x&watch=true&timeoutSeconds=290", false),
            ("watch", "deployments".into())
        );
        assert_eq!(classify("GET", "/api/v1/namespaces/a/configmaps", "labelSelector=x", false), ("list", "configmaps".into()));
        assert_eq!(classify("GET", "/api/v1/configmaps", "watch=1", false), ("watch", "configmaps".into()));
        assert_eq!(classify("GET", "/api/v1/namespaces/a/services/web", "", false), ("get", "services".into()));
        assert_eq!(
            classify("PATCH", "/apis/apps/v1/namespaces/a/deployments/web", "fieldManager=x&force=true&dryRun=All", true),
            ("dry_run", "deployments".into())
        );
        assert_eq!(
            classify("PATCH", "/apis/compose-operator.dev/v1alpha1/namespaces/a/composestacks/s/status", "fieldManager=x", false),
            ("patch", "composestacks/status".into())
        );
        assert_eq!(classify("PATCH", "/apis/apps/v1/namespaces/a/deployments/web", "fieldManager=x&force=true", true), ("apply", "deployments".into()));
        assert_eq!(classify("DELETE", "/apis/batch/v1/namespaces/a/jobs/m", "", false), ("delete", "jobs".into()));
        assert_eq!(classify("POST", "/apis/events.k8s.io/v1/namespaces/a/events", "", false), ("create", "events".into()));
        assert_eq!(classify("GET", "/api/v1/namespaces/a", "", false), ("get", "namespaces".into()));
    }
}
