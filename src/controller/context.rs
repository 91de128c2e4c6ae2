//! What every reconcile shares: the client, the one Events recorder, the policy, metrics,
//! the reconcile slots, the watch-fed caches of its scope, the ledger of its writes and the
//! per-stack retry counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Recorder;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::cache::Caches;
use super::ledger::Ledger;
use super::metrics::Metrics;
use super::status::Problem;
use crate::policy::Policy;
use crate::translate::fragment::admission::PodSecurityLevel;

const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(300);

/// What the whole process shares, whichever namespaces it watches.
pub struct Shared {
    pub client: Client,
    pub recorder: Recorder,
    pub policy: Policy,
    /// How often a settled stack is looked at again, for drift no watch reports.
    pub requeue: Duration,
    pub metrics: Arc<Metrics>,
    /// `--concurrency` reconciles at once; the others wait in line, first come first served
    /// (tokio's semaphore is fair), and a stack is never in line twice (the controller
    /// deduplicates), so one busy stack cannot starve the rest.
    slots: Semaphore,
    /// Translations running at once, on the blocking pool: at most the cores there are, so
    /// a slow stack takes one core and never an async worker (lease renewal, /healthz).
    pub translations: Semaphore,
}

/// What a refusal was for: the stack's generation in a namespace enforcing this level.
type RefusedFor = (Option<i64>, PodSecurityLevel);

pub struct Context {
    pub shared: Arc<Shared>,
    pub caches: Arc<Caches>,
    pub ledger: Arc<Ledger>,
    failures: Mutex<HashMap<String, u32>>,
    /// Stacks whose generation the translation refused, with why: not translated again until
    /// the stack changes, however often its children's events wake it.
    /// Keyed also by the namespace's Pod Security level: relaxing it is a change too.
    refused: Mutex<HashMap<String, (RefusedFor, Problem)>>,
}

impl Shared {
    pub fn new(client: Client, recorder: Recorder, policy: Policy, requeue: Duration, metrics: Arc<Metrics>, concurrency: usize) -> Shared {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Shared {
            client,
            recorder,
            policy,
            requeue,
            metrics,
            slots: Semaphore::new(concurrency.max(1)),
            translations: Semaphore::new(cores.min(concurrency.max(1))),
        }
    }

    /// Waits in line for a reconcile slot, counted in the queue-depth gauge meanwhile.
    pub async fn slot(&self) -> SemaphorePermit<'_> {
        self.metrics.queued.inc();
        let permit = self.slots.acquire().await;
        self.metrics.queued.dec();
        // The semaphore is never closed.
        permit.expect("reconcile slots are never closed")
    }
}

impl Context {
    pub fn new(shared: Arc<Shared>, caches: Arc<Caches>) -> Context {
        let ledger = Arc::new(Ledger::default());
        shared.metrics.watch_caches(caches.clone(), ledger.clone());
        Context { shared, caches, ledger, failures: Mutex::new(HashMap::new()), refused: Mutex::new(HashMap::new()) }
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

    /// Why this generation of the stack (by uid) was refused, if it was.
    /// Why this generation, in a namespace enforcing this Pod Security level, was refused.
    pub fn refusal(&self, uid: &str, generation: Option<i64>, level: PodSecurityLevel) -> Option<Problem> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.get(uid).filter(|(refused_for, _)| *refused_for == (generation, level)).map(|(_, problem)| problem.clone())
    }

    /// Forgets what is held for stacks that no longer exist.
    pub fn forget_stacks_except(&self, existing: &std::collections::HashSet<(String, String)>, uids: &std::collections::HashSet<String>) {
        self.ledger.forget_stacks_except(existing);
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).retain(|uid, _| uids.contains(uid));
        let keys: std::collections::HashSet<String> = existing.iter().map(|(ns, name)| format!("{ns}/{name}")).collect();
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).retain(|key, _| keys.contains(key));
    }

    pub fn remember_refusal(&self, uid: &str, generation: Option<i64>, level: PodSecurityLevel, problem: Option<&Problem>) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        match problem {
            Some(problem) => refused.insert(uid.to_string(), ((generation, level), problem.clone())),
            None => refused.remove(uid),
        };
    }
}
