//! Events on the ComposeStack, published when something happened, not on every resync:
//! writes that changed objects, and transitions into a problem or a wait.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::warn;

use super::status::holding;
use crate::api::{ComposeStack, ComposeStackStatus};

/// What changed in the cluster, for Events.
#[derive(Debug, Default)]
pub struct Changes {
    pub applied: Vec<String>,
    pub pruned: Vec<String>,
}

/// Event notes are capped by the API server (1 KiB); long lists are cut.
const MAX_NOTE: usize = 1000;

pub async fn publish(recorder: &Recorder, stack: &ComposeStack, previous: &ComposeStackStatus, next: &ComposeStackStatus, changes: &Changes) {
    let mut events = Vec::new();
    if !changes.applied.is_empty() {
        events.push(event(EventType::Normal, "Applied", format!("applied {}", changes.applied.join(", "))));
    }
    if !changes.pruned.is_empty() {
        events.push(event(EventType::Normal, "Pruned", format!("deleted {}", changes.pruned.join(", "))));
    }
    if let Some(stalled) = holding(next, "Stalled").filter(|now| holding(previous, "Stalled").is_none_or(|before| before.message != now.message)) {
        events.push(event(EventType::Warning, &stalled.reason, stalled.message.clone()));
    }
    let waits = |status: &ComposeStackStatus| -> Vec<String> {
        // Held back by `depends_on`: no workload yet, so no replica counts.
        let held_back = status.services.iter().filter(|s| s.desired_replicas.is_none());
        held_back.filter_map(|s| s.message.as_ref().filter(|m| m.starts_with("waiting for ")).map(|m| format!("{} is {m}", s.name))).collect()
    };
    let waiting = waits(next);
    if !waiting.is_empty() && waiting != waits(previous) {
        events.push(event(EventType::Normal, "Waiting", waiting.join("; ")));
    }
    let reference = stack.object_ref(&());
    for event in events {
        if let Err(error) = recorder.publish(&event, &reference).await {
            warn!(%error, reason = event.reason, "could not publish an event");
        }
    }
}

fn event(type_: EventType, reason: &str, note: String) -> Event {
    let mut note = note;
    if note.len() > MAX_NOTE {
        let cut = (0..=MAX_NOTE - 3).rev().find(|i| note.is_char_boundary(*i)).unwrap_or(0);
        note.truncate(cut);
        note.push_str("...");
    }
    Event { type_, reason: reason.to_string(), note: Some(note), action: "Reconcile".into(), secondary: None }
}
