//! What the cluster commands show, apart from how they learn it: pure functions from a
//! stack's progress, Services and pods to text (snapshot-tested), and the two views that
//! draw it — one plain line per change (CI logs) or live bars on a terminal (indicatif).

use crate::object::WorkloadKind;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::core::v1::Service;

/// A stack as `deploy` follows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackProgress {
    pub name: String,
    /// The generation `deploy` applied.
    pub generation: i64,
    /// The status describes that generation (the operator has seen the change).
    pub observed: bool,
    /// Ready, Reconciling, Stalled or Suspended; `None` before the operator wrote any status.
    pub phase: Option<String>,
    /// The message of the condition that holds.
    pub message: Option<String>,
    pub services: Vec<ServiceProgress>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceProgress {
    pub name: String,
    pub kind: WorkloadKind,
    /// Ready replicas (a Job: succeeded completions) out of `desired`.
    pub ready: i32,
    pub desired: i32,
    pub done: bool,
    /// What it waits for, or why its pods are stuck.
    pub detail: Option<String>,
}

impl StackProgress {
    pub fn is_ready(&self) -> bool {
        self.observed && self.phase.as_deref() == Some("Ready")
    }

    pub fn is_stalled(&self) -> bool {
        self.observed && self.phase.as_deref() == Some("Stalled")
    }

    /// One line for the stack as a whole.
    pub fn headline(&self) -> String {
        if !self.observed {
            return format!("{}: waiting for the operator to pick up generation {}", self.name, self.generation);
        }
        let done = self.services.iter().filter(|s| s.done).count();
        let phase = self.phase.as_deref().unwrap_or("Unknown");
        format!("{}: {phase}, {done}/{} services ready", self.name, self.services.len())
    }

    /// The services not ready, one line each: what a timeout or a stall reports.
    pub fn stuck(&self) -> Vec<String> {
        self.services.iter().filter(|s| !s.done).map(ServiceProgress::line).collect()
    }
}

impl ServiceProgress {
    pub fn line(&self) -> String {
        let state = if self.done { "ready".to_string() } else { self.detail.clone().unwrap_or_else(|| "not ready".into()) };
        format!("{} ({}) {}/{}: {state}", self.name, self.kind, self.ready, self.desired)
    }
}

/// The lines a plain view prints when the progress goes from `previous` to `current`: the
/// headline when it changed, and each service whose line changed. Nothing when nothing did.
pub fn plain_changes(previous: Option<&StackProgress>, current: &StackProgress) -> Vec<String> {
    let mut lines = Vec::new();
    if previous.is_none_or(|p| p.headline() != current.headline()) {
        lines.push(current.headline());
    }
    if !current.observed {
        return lines;
    }
    let before: BTreeMap<&str, String> =
        previous.filter(|p| p.observed).map(|p| p.services.iter().map(|s| (s.name.as_str(), s.line())).collect()).unwrap_or_default();
    for service in &current.services {
        let line = service.line();
        if before.get(service.name.as_str()) != Some(&line) {
            lines.push(format!("  {line}"));
        }
    }
    lines
}

/// How to reach each published port: one line per port of each `<service>-published`.
pub fn endpoints(services: &[Service]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut published: Vec<&Service> = services.iter().filter(|s| s.metadata.name.as_deref().is_some_and(|n| n.ends_with("-published"))).collect();
    published.sort_by_key(|s| s.metadata.name.clone());
    for service in published {
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let compose_service = name.trim_end_matches("-published");
        let Some(spec) = service.spec.as_ref() else { continue };
        let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
        let ingress: Vec<String> = service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|ingress| ingress.iter().filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone())).collect())
            .unwrap_or_default();
        for port in spec.ports.iter().flatten() {
            let mapping = port_mapping(port);
            let node_port = port.node_port.map(|n| format!("node port {n} on every node")).unwrap_or_default();
            let reach = match (kind, ingress.first()) {
                ("LoadBalancer", Some(address)) => format!("{address}:{}", port.port),
                ("LoadBalancer", None) => format!("no external address yet; {node_port}"),
                ("NodePort", _) => node_port,
                _ => format!("in the cluster only: kubectl port-forward service/{name} {}", port.port),
            };
            lines.push(format!("{compose_service}  {mapping}  {kind}  {reach}"));
        }
    }
    lines
}

/// `4000->80/tcp`: a Service port and where it leads, as `docker service ls` writes it.
pub fn port_mapping(port: &k8s_openapi::api::core::v1::ServicePort) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let target = match &port.target_port {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(name)) => name.clone(),
        None => port.port.to_string(),
    };
    format!("{}->{target}/{}", port.port, port.protocol.as_deref().unwrap_or("TCP").to_lowercase())
}

/// A table with columns aligned as kubectl aligns them: three spaces between columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// An age as kubectl prints it: `45s`, `5m10s`, `45m`, `5h3m`, `20h`, `3d4h`, `40d`.
pub fn age(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{minutes}m{}s", s % 60),
        s if s < 3 * 3600 => format!("{minutes}m"),
        s if s < 8 * 3600 => format!("{hours}h{}m", minutes % 60),
        s if s < 2 * 86_400 => format!("{hours}h"),
        s if s < 8 * 86_400 => format!("{days}d{}h", hours % 24),
        _ => format!("{days}d"),
    }
}

/// Where the progress of a command is drawn.
pub trait ProgressView {
    fn show(&mut self, progress: &StackProgress);
    /// Leaves the screen as a log would have it, before the final words.
    fn finish(&mut self);
}

/// One line per change, for logs and pipes.
pub struct PlainView<W: Write> {
    last: Option<StackProgress>,
    out: W,
}

impl<W: Write> PlainView<W> {
    pub fn new(out: W) -> Self {
        PlainView { last: None, out }
    }
}

impl<W: Write> ProgressView for PlainView<W> {
    fn show(&mut self, progress: &StackProgress) {
        for line in plain_changes(self.last.as_ref(), progress) {
            let _ = writeln!(self.out, "{line}");
        }
        let _ = self.out.flush();
        self.last = Some(progress.clone());
    }

    fn finish(&mut self) {}
}

/// A header line and a bar per service, redrawn in place on stderr.
pub struct TerminalView {
    multi: MultiProgress,
    header: ProgressBar,
    bars: BTreeMap<String, ProgressBar>,
}

impl Default for TerminalView {
    fn default() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        header.enable_steady_tick(Duration::from_millis(120));
        TerminalView { multi, header, bars: BTreeMap::new() }
    }
}

impl ProgressView for TerminalView {
    fn show(&mut self, progress: &StackProgress) {
        self.header.set_message(progress.headline());
        let width = progress.services.iter().map(|s| s.name.len()).max().unwrap_or(0);
        // `wide_msg` cuts a long reason at the terminal's edge instead of wrapping the bars.
        let template = format!("  {{prefix:{width}}} [{{bar:20}}] {{pos}}/{{len}} {{wide_msg}}");
        let style = ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ");
        for service in &progress.services {
            let bar = self.bars.entry(service.name.clone()).or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_prefix(service.name.clone());
                bar
            });
            bar.set_style(style.clone());
            bar.set_length(service.desired.max(0) as u64);
            bar.set_position(service.ready.max(0) as u64);
            let message = if service.done { format!("{} ready", service.kind) } else { service.detail.clone().unwrap_or_default() };
            bar.set_message(message);
        }
    }

    fn finish(&mut self) {
        // Abandon, not finish: a finished bar shows full, which a stuck service is not.
        self.header.abandon();
        for bar in self.bars.values() {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, ready: i32, desired: i32, detail: Option<&str>) -> ServiceProgress {
        ServiceProgress {
            name: name.into(),
            kind: WorkloadKind::Deployment,
            ready,
            desired,
            done: ready == desired && detail.is_none(),
            detail: detail.map(Into::into),
        }
    }

    fn progress(observed: bool, phase: &str, services: Vec<ServiceProgress>) -> StackProgress {
        StackProgress { name: "getstarted".into(), generation: 2, observed, phase: Some(phase.into()), message: None, services }
    }

    /// A rollout as a CI log shows it: one line per change, nothing repeated.
    #[test]
    fn plain_view_prints_each_change_once() {
        let steps = [
            progress(false, "Ready", vec![service("web", 5, 5, None)]),
            progress(
                true,
                "Reconciling",
                vec![
                    service("web", 0, 3, Some("rolling out: 0/3 replicas updated")),
                    service("redis", 0, 1, Some("waiting for the controller to observe generation 1")),
                ],
            ),
            progress(true, "Reconciling", vec![service("web", 0, 3, Some("rolling out: 0/3 replicas updated")), service("redis", 1, 1, None)]),
            progress(true, "Reconciling", vec![service("web", 0, 3, Some("rolling out: 0/3 replicas updated")), service("redis", 1, 1, None)]),
            progress(
                true,
                "Reconciling",
                vec![service("web", 2, 3, Some("pod web-1 cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu.")), service("redis", 1, 1, None)],
            ),
            progress(true, "Ready", vec![service("web", 3, 3, None), service("redis", 1, 1, None)]),
        ];
        let mut out = Vec::new();
        let mut view = PlainView::new(&mut out);
        for step in &steps {
            view.show(step);
        }
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @r"
        getstarted: waiting for the operator to pick up generation 2
        getstarted: Reconciling, 0/2 services ready
          web (Deployment) 0/3: rolling out: 0/3 replicas updated
          redis (Deployment) 0/1: waiting for the controller to observe generation 1
        getstarted: Reconciling, 1/2 services ready
          redis (Deployment) 1/1: ready
          web (Deployment) 2/3: pod web-1 cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu.
        getstarted: Ready, 2/2 services ready
          web (Deployment) 3/3: ready
        ");
    }

    #[test]
    fn endpoints_say_how_to_reach_each_published_port() {
        let service = |name: &str, kind: &str, ingress: serde_json::Value| -> Service {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "spec": {"type": kind, "ports": [{"port": 4000, "targetPort": 80, "protocol": "TCP", "nodePort": 31000}]},
                "status": {"loadBalancer": {"ingress": ingress}},
            }))
            .unwrap()
        };
        let services = [
            service("web-published", "LoadBalancer", serde_json::json!([])),
            service("api-published", "LoadBalancer", serde_json::json!([{"ip": "203.0.113.7"}])),
            service("admin-published", "NodePort", serde_json::json!([])),
            service("web", "ClusterIP", serde_json::json!([])),
        ];
        insta::assert_snapshot!(endpoints(&services).join("\n"), @r"
        admin  4000->80/tcp  NodePort  node port 31000 on every node
        api  4000->80/tcp  LoadBalancer  203.0.113.7:4000
        web  4000->80/tcp  LoadBalancer  no external address yet; node port 31000 on every node
        ");
    }

    #[test]
    fn tables_and_ages_read_like_kubectl() {
        let rows = vec![vec!["getstarted".into(), "1/1".into(), "Ready".into()], vec!["db".into(), "0/12".into(), "Stalled".into()]];
        insta::assert_snapshot!(table(&["NAME", "SERVICES", "STATUS"], &rows), @r"
        NAME         SERVICES   STATUS
        getstarted   1/1        Ready
        db           0/12       Stalled
        ");
        let ages: Vec<String> = [5, 119, 310, 3000, 4 * 3600 + 120, 30 * 3600, 3 * 86_400 + 7200, 40 * 86_400].map(|s| age(Duration::from_secs(s))).to_vec();
        assert_eq!(ages, ["5s", "119s", "5m10s", "50m", "4h2m", "30h", "3d2h", "40d"]);
    }
}
