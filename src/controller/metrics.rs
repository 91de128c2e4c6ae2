//! Prometheus metrics: reconciles by result, their duration, stacks by phase, API errors.

use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::cluster::ClusterError;
use super::reconcile::{Changes, Error};
use super::status::{Assessment, Phase, phase_of};
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

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    stacks: Family<PhaseLabel, Gauge>,
    api_errors: Family<CodeLabel, Counter>,
    /// The controllers' caches of ComposeStacks, counted by phase when scraped.
    stores: Mutex<Vec<Store<ComposeStack>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("compose_operator");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register("reconciles", "Reconciles by result: ok, stalled (needs a change to the stack) or error (retried)", reconciles.clone());
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register("reconcile_duration_seconds", "Time one reconcile took", duration.clone());
        let stacks = Family::<PhaseLabel, Gauge>::default();
        registry.register("stacks", "ComposeStacks by phase: Ready, Reconciling, Stalled, Suspended", stacks.clone());
        let api_errors = Family::<CodeLabel, Counter>::default();
        registry.register("api_errors", "Kubernetes API errors met while reconciling, by HTTP code", api_errors.clone());
        Metrics { registry, reconciles, duration, stacks, api_errors, stores: Mutex::new(Vec::new()) }
    }
}

impl Metrics {
    pub fn watch_stacks(&self, store: Store<ComposeStack>) {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).push(store);
    }

    pub fn observe_reconcile(&self, took: Duration, result: &Result<(Assessment, Changes), Error>) {
        self.duration.observe(took.as_secs_f64());
        let label = match result {
            Ok((assessment, _)) if assessment.problem.is_some() => "stalled",
            Ok(_) => "ok",
            Err(error) => {
                let code = match error {
                    Error::Cluster(ClusterError::Api(kube::Error::Api(status))) | Error::Status(kube::Error::Api(status)) => status.code.to_string(),
                    _ => "other".to_string(),
                };
                self.api_errors.get_or_create(&CodeLabel { code }).inc();
                "error"
            }
        };
        self.reconciles.get_or_create(&ResultLabel { result: label }).inc();
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
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
