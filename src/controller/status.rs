//! The status GitOps tools read: kstatus conditions (`Ready`, `Reconciling`, `Stalled`),
//! `observedGeneration`, and one entry per compose service.
//!
//! kstatus (Flux, `kubectl wait`, cli-utils) treats `Reconciling=True` as in progress and
//! `Stalled=True` as failed, so exactly one of Ready/Reconciling/Stalled is True. Transition
//! times move only when a condition's status changes, so an unchanged stack computes an
//! identical status and nothing is written.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{ComposeStackStatus, ServiceStatus};

/// A condition message is at most this long (bytes); the full detail goes to the log. The
/// whole status stays far below the API server's request limit (3 MiB) and etcd's (1.5 MiB).
pub const MAX_MESSAGE: usize = 4096;
/// Lists in messages (errors, services not ready) show this many, then "and K more".
pub const MAX_LISTED: usize = 20;
/// `status.warnings` keeps this many warnings, each at most [`MAX_ITEM`] bytes.
pub const MAX_WARNINGS: usize = 50;
pub const MAX_ITEM: usize = 512;

/// Cuts `text` to at most `max` bytes at a character boundary, saying it was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const CUT: &str = " [...]";
    let end = (0..=max.saturating_sub(CUT.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    format!("{}{CUT}", &text[..end])
}

/// The first items joined by `separator`, as many as fit in `max` bytes (at most
/// [`MAX_LISTED`]), then "and K more".
pub fn listed(items: &[String], separator: &str, max: usize) -> String {
    listed_of(items, 0, separator, max)
}

/// [`listed`] of items that were already cut short: `uncounted` more were not even kept.
pub fn listed_of(items: &[String], uncounted: usize, separator: &str, max: usize) -> String {
    let mut text = String::new();
    for (index, item) in items.iter().enumerate().take(MAX_LISTED) {
        let rest = items.len() - index + uncounted;
        let more = if rest > 1 { format!("{separator}and {} more", rest - 1) } else { String::new() };
        let piece = if index == 0 { item.clone() } else { format!("{separator}{item}") };
        if text.len() + piece.len() + more.len() > max {
            if index == 0 {
                // Even the first does not fit: it is cut, and the count says the rest.
                return format!("{}{separator}and {} more", truncate(item, max.saturating_sub(more.len() + 16)), rest - 1);
            }
            return format!("{text}{separator}and {rest} more");
        }
        text.push_str(&piece);
    }
    let more = items.len().saturating_sub(MAX_LISTED) + uncounted;
    if more > 0 {
        text.push_str(&format!("{separator}and {more} more"));
    }
    text
}

/// Warnings as `status.warnings` keeps them: the first [`MAX_WARNINGS`], each cut to
/// [`MAX_ITEM`] bytes, then one saying how many more there were.
pub fn bounded_warnings(warnings: Vec<String>) -> Vec<String> {
    let total = warnings.len();
    let mut kept: Vec<String> = warnings.into_iter().take(MAX_WARNINGS).map(|w| truncate(&w, MAX_ITEM)).collect();
    if total > kept.len() {
        kept.push(format!("and {} more warnings (see `compose-operator convert`)", total - kept.len()));
    }
    kept
}

/// Something only a change by the user can fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase, as condition reasons and Event reasons are.
    pub reason: &'static str,
    pub message: String,
}

impl Problem {
    pub const INVALID_COMPOSE: &'static str = "InvalidCompose";
    pub const CONFLICT: &'static str = "Conflict";
    pub const REJECTED: &'static str = "Rejected";
    pub const JOB_FAILED: &'static str = "JobFailed";
    /// The translation itself failed (a bug): reported rather than crashing the operator.
    pub const TRANSLATION_FAILED: &'static str = "TranslationFailed";

    /// A problem with a message bounded to [`MAX_MESSAGE`].
    pub fn new(reason: &'static str, message: impl AsRef<str>) -> Problem {
        Problem { reason, message: truncate(message.as_ref(), MAX_MESSAGE) }
    }
}

/// What one reconcile found, before it is put into conditions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assessment {
    /// `None` keeps the services of the previous status (the stack could not be read).
    pub services: Option<Vec<ServiceStatus>>,
    /// `None` keeps the previous warnings.
    pub warnings: Option<Vec<String>>,
    pub problem: Option<Problem>,
    pub suspended: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Ready,
    Reconciling,
    Stalled,
    Suspended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ready => "Ready",
            Phase::Reconciling => "Reconciling",
            Phase::Stalled => "Stalled",
            Phase::Suspended => "Suspended",
        }
    }

    pub const ALL: [Phase; 4] = [Phase::Ready, Phase::Reconciling, Phase::Stalled, Phase::Suspended];
}

/// The new status; `now` is only used for conditions that change status.
pub fn status(previous: &ComposeStackStatus, generation: Option<i64>, assessment: Assessment, now: Time) -> ComposeStackStatus {
    let services = assessment.services.unwrap_or_else(|| previous.services.clone());
    let warnings = assessment.warnings.map(bounded_warnings).unwrap_or_else(|| previous.warnings.clone());
    let ready_count = services.iter().filter(|s| s.ready).count();
    let summary = format!("{ready_count}/{} services ready", services.len());

    let (phase, reason, message) = if let Some(problem) = &assessment.problem {
        (Phase::Stalled, problem.reason, truncate(&problem.message, MAX_MESSAGE))
    } else if assessment.suspended {
        (Phase::Suspended, "Suspended", "spec.suspend is set: long-running workloads are scaled to zero".to_string())
    } else if ready_count == services.len() {
        (Phase::Ready, "Ready", summary)
    } else {
        let pending: Vec<String> =
            services.iter().filter(|s| !s.ready).map(|s| format!("{}: {}", s.name, s.message.as_deref().unwrap_or("not ready"))).collect();
        (Phase::Reconciling, "Progressing", truncate(&format!("{summary}; {}", listed(&pending, "; ", MAX_MESSAGE)), MAX_MESSAGE))
    };
    let states = [("Ready", phase == Phase::Ready), ("Reconciling", phase == Phase::Reconciling), ("Stalled", phase == Phase::Stalled)];
    let conditions = states
        .into_iter()
        .map(|(type_, holds)| {
            let status = if holds { "True" } else { "False" };
            let last_transition_time =
                previous.conditions.iter().find(|c| c.type_ == type_ && c.status == status).map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
            Condition {
                type_: type_.to_string(),
                status: status.to_string(),
                // The reason of the current state explains why each condition is what it is.
                reason: reason.to_string(),
                message: if holds || type_ == "Ready" { message.clone() } else { String::new() },
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect();
    ComposeStackStatus {
        observed_generation: generation,
        conditions,
        phase: Some(phase.as_str().to_string()),
        ready_services: Some(format!("{ready_count}/{}", services.len())),
        services,
        warnings,
    }
}

/// The phase a status shows, for metrics.
pub fn phase_of(status: &ComposeStackStatus) -> Option<Phase> {
    let phase = status.phase.as_deref()?;
    Phase::ALL.into_iter().find(|p| p.as_str() == phase)
}

/// The message of a condition that holds, e.g. the Stalled reason the last status gave.
pub fn holding<'a>(status: &'a ComposeStackStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn service(name: &str, ready: bool) -> ServiceStatus {
        ServiceStatus {
            name: name.into(),
            kind: crate::object::WorkloadKind::Deployment,
            ready,
            message: (!ready).then(|| "1/2 replicas ready".into()),
            ..Default::default()
        }
    }

    fn assess(services: Vec<ServiceStatus>) -> Assessment {
        Assessment { services: Some(services), warnings: Some(vec![]), ..Default::default() }
    }

    fn holds(status: &ComposeStackStatus) -> Vec<&str> {
        status.conditions.iter().filter(|c| c.status == "True").map(|c| c.type_.as_str()).collect()
    }

    #[test]
    fn exactly_one_of_ready_reconciling_stalled_holds() {
        let ready = status(&Default::default(), Some(1), assess(vec![service("web", true)]), at(1));
        assert_eq!((holds(&ready), ready.phase.as_deref(), ready.ready_services.as_deref()), (vec!["Ready"], Some("Ready"), Some("1/1")));
        let rolling = status(&Default::default(), Some(1), assess(vec![service("web", true), service("db", false)]), at(1));
        assert_eq!(holds(&rolling), vec!["Reconciling"]);
        assert_eq!(rolling.conditions[1].message, "1/2 services ready; db: 1/2 replicas ready");
        let problem = Problem { reason: Problem::INVALID_COMPOSE, message: "services.web: bad".into() };
        let stalled = status(&ready, Some(2), Assessment { problem: Some(problem), ..Default::default() }, at(2));
        assert_eq!(holds(&stalled), vec!["Stalled"]);
        assert_eq!(stalled.services, ready.services, "the services of the running stack are still reported");
        assert!(stalled.conditions.iter().all(|c| c.observed_generation == Some(2)));
    }

    #[test]
    fn transition_times_move_only_on_transitions() {
        let first = status(&Default::default(), Some(1), assess(vec![service("web", false)]), at(1));
        let again = status(&first, Some(1), assess(vec![service("web", false)]), at(50));
        assert_eq!(first, again, "an unchanged stack gives an identical status");
        let ready = status(&again, Some(1), assess(vec![service("web", true)]), at(60));
        let time_of = |s: &ComposeStackStatus, t: &str| s.conditions.iter().find(|c| c.type_ == t).unwrap().last_transition_time.clone();
        assert_eq!(time_of(&ready, "Ready"), at(60));
        assert_eq!(time_of(&ready, "Stalled"), at(1), "Stalled stayed False");
    }

    #[test]
    fn messages_and_warnings_are_bounded() {
        let many: Vec<ServiceStatus> = (0..500).map(|i| ServiceStatus { message: Some("x".repeat(300)), ..service(&format!("s{i}"), false) }).collect();
        let rolling = status(&Default::default(), Some(1), Assessment { warnings: Some(vec!["w".repeat(2000); 80]), ..assess(many) }, at(1));
        let message = &rolling.conditions[1].message;
        assert!(message.len() <= MAX_MESSAGE && message.starts_with("0/500 services ready; s0: xxx"), "{}", message.len());
        assert_eq!(rolling.warnings.len(), MAX_WARNINGS + 1);
        assert!(rolling.warnings.iter().all(|w| w.len() <= MAX_ITEM));
        assert_eq!(rolling.warnings[MAX_WARNINGS], "and 30 more warnings (see `compose-operator convert`)");
        let items: Vec<String> = (0..30).map(|i| format!("e{i}")).collect();
        assert_eq!(listed(&items[..3], "; ", 100), "e0; e1; e2");
        assert!(listed(&items, "\n", 1000).ends_with("e19\nand 10 more"));
        let long: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(1000))).collect();
        let text = listed(&long, "\n", 4096);
        assert!(text.len() <= 4096 && text.contains("\n3x") && text.ends_with("x\nand 6 more"), "{text}");
        assert!(listed(&long[..1], "\n", 100).len() <= 100);
        assert_eq!(truncate("éééééé", 8), "é [...]");
        assert_eq!(listed_of(&items[..2], 40, "; ", 100), "e0; e1; and 40 more");
    }

    #[test]
    fn a_suspended_stack_is_neither_ready_nor_in_progress() {
        let suspended = status(&Default::default(), Some(3), Assessment { suspended: true, ..assess(vec![service("web", false)]) }, at(1));
        assert!(holds(&suspended).is_empty());
        assert_eq!(suspended.phase.as_deref(), Some("Suspended"));
    }
}
