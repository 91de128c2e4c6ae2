//! What every reconcile shares: the client, the one Events recorder, the policy, metrics
//! and the per-stack retry counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;

use super::metrics::Metrics;
use crate::build::Policy;

const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(300);

pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub policy: Policy,
    /// How often a settled stack is looked at again, for drift no watch reports.
    pub requeue: Duration,
    pub metrics: Arc<Metrics>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, recorder: Recorder, policy: Policy, requeue: Duration, metrics: Arc<Metrics>) -> Context {
        Context { client, recorder, policy, requeue, metrics, failures: Mutex::new(HashMap::new()) }
    }

    /// The delay before retrying a stack that failed `n` times in a row: 2s, 4s, 8s… up to 5 min.
    pub fn retry_after_failure(&self, stack: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(stack.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        FIRST_RETRY.saturating_mul(1_u32 << (*count - 1).min(8)).min(LONGEST_RETRY)
    }

    pub fn succeeded(&self, stack: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(stack);
    }
}
