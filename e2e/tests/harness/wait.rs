//! Waiting on real objects: poll a condition until it holds or the deadline passes.
//! No fixed sleeps decide anything; the short pause between polls only paces them.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use kube::api::Api;
use serde::de::DeserializeOwned;

use super::DEADLINE;

const POLL: Duration = Duration::from_millis(250);

/// Waits until the named object exists and `ready` holds for it; returns it.
pub async fn until<K, F>(api: &Api<K>, name: &str, ready: F) -> K
where
    K: Clone + DeserializeOwned + Debug,
    F: Fn(&K) -> bool,
{
    until_within(api, name, DEADLINE, ready).await
}

pub async fn until_within<K, F>(api: &Api<K>, name: &str, deadline: Duration, ready: F) -> K
where
    K: Clone + DeserializeOwned + Debug,
    F: Fn(&K) -> bool,
{
    let started = Instant::now();
    let mut last = None;
    loop {
        match api.get_opt(name).await {
            Ok(Some(object)) if ready(&object) => return object,
            Ok(object) => last = object,
            Err(error) => eprintln!("polling {name}: {error}"),
        }
        assert!(started.elapsed() < deadline, "{name} did not reach the expected state within {deadline:?}; last seen: {last:#?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the named object is gone.
pub async fn gone<K>(api: &Api<K>, name: &str)
where
    K: Clone + DeserializeOwned + Debug,
{
    let started = Instant::now();
    while api.get_opt(name).await.ok().flatten().is_some() {
        assert!(started.elapsed() < DEADLINE, "{name} still exists after {DEADLINE:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until an arbitrary async check passes (for lists and cross-object conditions).
pub async fn until_true<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < DEADLINE, "timed out after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}
