//! A compose healthcheck → the container's probes.
//!
//! | compose `healthcheck`                     | Kubernetes                                              |
//! |-------------------------------------------|---------------------------------------------------------|
//! | `test: [CMD, ...]` / `[CMD-SHELL, "..."]` | `exec` probe (`sh -c` for CMD-SHELL)                    |
//! | `test: [NONE]`, `disable: true`           | no probes                                               |
//! | `interval`, `timeout`                     | `periodSeconds`, `timeoutSeconds` (default 30 s, rounded up) |
//! | `retries`                                 | `failureThreshold` (default 3)                          |
//! | `start_period`, `start_interval`          | a startup probe holding the others off until it succeeds |

use k8s_openapi::api::core::v1::{Container, ExecAction, Probe};

use std::time::Duration;

use crate::compose::model::{Healthcheck, Parsed};
use crate::compose::units;

/// Compose's healthcheck defaults (interval 30s, timeout 30s, retries 3).
const DEFAULT_PROBE_SECONDS: i32 = 30;
const DEFAULT_RETRIES: i32 = 3;

pub trait WithProbes {
    fn with_probes(self, healthcheck: Option<&Healthcheck>) -> Self;
}

impl WithProbes for Container {
    fn with_probes(mut self, healthcheck: Option<&Healthcheck>) -> Self {
        if let Some(probes) = healthcheck.and_then(probes) {
            self.readiness_probe = Some(probes.readiness);
            self.liveness_probe = Some(probes.liveness);
            self.startup_probe = probes.startup;
        }
        self
    }
}

struct Probes {
    readiness: Probe,
    liveness: Probe,
    startup: Option<Probe>,
}

/// A compose healthcheck gates readiness (traffic, `service_healthy`) and restarts the
/// container when it keeps failing (liveness), as the Docker engine does. `start_period`
/// becomes a startup probe, which holds the other two off until the first success.
fn probes(healthcheck: &Healthcheck) -> Option<Probes> {
    if healthcheck.is_disabled() {
        return None;
    }
    let command = healthcheck.command().ok()??;
    let seconds = |value: &Option<Parsed<Duration>>, default: i32| -> i32 {
        value.as_ref().and_then(Parsed::ok).map(|d| units::ceil_seconds(d).clamp(1, i64::from(i32::MAX)) as i32).unwrap_or(default)
    };
    let period = seconds(&healthcheck.interval, DEFAULT_PROBE_SECONDS);
    let timeout = seconds(&healthcheck.timeout, DEFAULT_PROBE_SECONDS);
    let retries = healthcheck.retries.as_ref().and_then(Parsed::ok).map(|r| r.clamp(1, 1000) as i32).unwrap_or(DEFAULT_RETRIES);
    let probe = Probe {
        exec: Some(ExecAction { command: Some(command) }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(retries),
        ..Default::default()
    };
    let startup = healthcheck.start_period.as_ref().and_then(|start| {
        let start = units::ceil_seconds(start.ok()?);
        let start_interval = seconds(&healthcheck.start_interval, 5);
        (start > 0).then(|| Probe {
            period_seconds: Some(start_interval),
            failure_threshold: Some(((start / i64::from(start_interval)) as i32).saturating_add(retries).max(1)),
            ..probe.clone()
        })
    });
    Some(Probes { readiness: probe.clone(), liveness: probe, startup })
}
