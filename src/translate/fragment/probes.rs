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

use crate::compose::diagnostic::{Diagnostic, Path, Report};
use std::time::Duration;

use crate::compose::model::{Healthcheck, Parsed};
use crate::compose::units;

/// Compose's healthcheck defaults (interval 30s, timeout 30s, retries 3).
const DEFAULT_PROBE_SECONDS: i32 = 30;
const DEFAULT_RETRIES: i32 = 3;

pub trait WithProbes {
    fn with_probes(self, healthcheck: Option<&Healthcheck>, path: &Path, report: &mut Report) -> Self;
}

impl WithProbes for Container {
    fn with_probes(mut self, healthcheck: Option<&Healthcheck>, path: &Path, report: &mut Report) -> Self {
        if let Some(probes) = healthcheck.and_then(|h| probes(h, path, report)) {
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
fn probes(healthcheck: &Healthcheck, path: &Path, report: &mut Report) -> Option<Probes> {
    if healthcheck.disable.as_ref().and_then(|d| report.check(&path.key("disable"), d.value())).unwrap_or(false) {
        return None;
    }
    let test_path = path.key("test");
    let command = match healthcheck.test.as_deref()?.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => vec!["sh".into(), "-c".into(), rest.join(" ")],
        Some((kind, _)) if kind == "NONE" => return None,
        _ => {
            report.error(Diagnostic::new(test_path, "a healthcheck test list starts with CMD, CMD-SHELL or NONE, followed by the command"));
            return None;
        }
    };
    let seconds = |value: &Option<Parsed<Duration>>, key: &str, default: i32, report: &mut Report| -> i32 {
        value
            .as_ref()
            .and_then(|v| report.check(&path.key(key), v.value()))
            .map(|d| units::ceil_seconds(d).clamp(1, i64::from(i32::MAX)) as i32)
            .unwrap_or(default)
    };
    let period = seconds(&healthcheck.interval, "interval", DEFAULT_PROBE_SECONDS, report);
    let timeout = seconds(&healthcheck.timeout, "timeout", DEFAULT_PROBE_SECONDS, report);
    let retries =
        healthcheck.retries.as_ref().and_then(|r| report.check(&path.key("retries"), r.value())).map(|r| r.clamp(1, 1000) as i32).unwrap_or(DEFAULT_RETRIES);
    let probe = Probe {
        exec: Some(ExecAction { command: Some(command) }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(retries),
        ..Default::default()
    };
    let startup = healthcheck.start_period.as_ref().and_then(|start| {
        let start = units::ceil_seconds(report.check(&path.key("start_period"), start.value())?);
        let start_interval = seconds(&healthcheck.start_interval, "start_interval", 5, report);
        (start > 0).then(|| Probe {
            period_seconds: Some(start_interval),
            failure_threshold: Some(((start / i64::from(start_interval)) as i32).saturating_add(retries).max(1)),
            ..probe.clone()
        })
    });
    Some(Probes { readiness: probe.clone(), liveness: probe, startup })
}
