//! `logs`: the logs of a stack's pods, one stream per container through kube's log API,
//! merged as lines arrive and prefixed `service-N |` (coloured per service on a terminal),
//! like `docker compose logs`. With `-f` a pod watcher adds the pods a rollout creates and
//! the containers that restart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use futures::stream::{BoxStream, SelectAll};
use futures::{AsyncBufReadExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::watcher;

use super::cluster::{ClusterArgs, describe};
use super::deploy::parse_duration;
use super::failure::Failure;
use crate::translate::names;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The stack.
    #[arg(value_name = "STACK")]
    pub stack: String,
    /// Only these compose services (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep streaming, including pods that start later (a rollout's new pods).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines from the end of each container's log (default: all).
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Only lines newer than this (`10m`, `1h`).
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Start each line with the time Kubernetes recorded for it.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// No colours, even on a terminal (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// What one container's stream yields: its lines, then how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Line { label: String, text: String },
    Ended { label: String, error: Option<String> },
}

/// One source's lines tagged with its label, ending with `Ended` (carrying the error that
/// stopped it, if any): the unit the merge interleaves.
pub fn labelled<S>(label: String, lines: S) -> BoxStream<'static, Piece>
where
    S: Stream<Item = Result<String, String>> + Send + 'static,
{
    futures::stream::unfold(Some((label, lines.boxed())), |state| async move {
        let (label, mut lines) = state?;
        match lines.next().await {
            Some(Ok(text)) => Some((Piece::Line { label: label.clone(), text }, Some((label, lines)))),
            Some(Err(error)) => Some((Piece::Ended { label, error: Some(error) }, None)),
            None => Some((Piece::Ended { label, error: None }, None)),
        }
    })
    .boxed()
}

/// The `service-N` names of pods: N is the smallest number free in that service when the pod
/// is first seen, and is freed when it goes, so a rollout of 5 replicas keeps `web-1`..`web-5`.
#[derive(Debug, Default)]
pub struct Labels {
    taken: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Labels {
    pub fn label(&mut self, service: &str, pod: &str) -> String {
        let pods = self.taken.entry(service.to_string()).or_default();
        if let Some(number) = pods.get(pod) {
            return format!("{service}-{number}");
        }
        let used: BTreeSet<usize> = pods.values().copied().collect();
        let number = (1..).find(|n| !used.contains(n)).unwrap_or(1);
        pods.insert(pod.to_string(), number);
        format!("{service}-{number}")
    }

    pub fn forget(&mut self, service: &str, pod: &str) {
        if let Some(pods) = self.taken.get_mut(service) {
            pods.remove(pod);
        }
    }
}

/// Writes merged lines: the label padded to the widest seen so far, a colour per service.
pub struct Printer {
    colours: bool,
    width: usize,
    palette: BTreeMap<String, anstyle::Style>,
}

const PALETTE: [anstyle::AnsiColor; 6] = [
    anstyle::AnsiColor::Cyan,
    anstyle::AnsiColor::Yellow,
    anstyle::AnsiColor::Green,
    anstyle::AnsiColor::Magenta,
    anstyle::AnsiColor::Blue,
    anstyle::AnsiColor::Red,
];

impl Printer {
    pub fn new(colours: bool) -> Printer {
        Printer { colours, width: 0, palette: BTreeMap::new() }
    }

    pub fn line(&mut self, label: &str, text: &str) -> String {
        self.width = self.width.max(label.len());
        let width = self.width;
        if !self.colours {
            return format!("{label:<width$} | {text}");
        }
        let service = label.rsplit_once('-').map_or(label, |(service, _)| service).to_string();
        let count = self.palette.len();
        let style = *self.palette.entry(service).or_insert_with(|| PALETTE[count % PALETTE.len()].on_default());
        format!("{style}{label:<width$} |{style:#} {text}")
    }
}

/// A container's log as lines, through kube's log API.
fn container_lines(api: Api<Pod>, pod: String, params: LogParams) -> impl Stream<Item = Result<String, String>> {
    let container = params.container.clone().unwrap_or_default();
    futures::stream::once(async move { api.log_stream(&pod, &params).await.map_err(|e| format!("pod {pod}, container {container}: {}", describe(&e))) })
        .map_ok(|reader| Box::pin(reader).lines().map_err(|e| e.to_string()))
        .try_flatten()
}

/// The containers of a pod that have started (a log exists), with their restart counts.
fn started_containers(pod: &Pod) -> Vec<(String, i32)> {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
    statuses
        .into_iter()
        .filter(|c| c.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some()))
        .map(|c| (c.name, c.restart_count))
        .collect()
}

pub async fn run(args: &LogsArgs) -> Result<String, Failure> {
    let connection = args.cluster.connect().await?;
    let pods: Api<Pod> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let selector = format!("{}={}", names::STACK, args.stack);
    let wanted = |pod: &Pod| {
        let service = pod.labels().get(names::SERVICE).cloned().unwrap_or_default();
        (args.services.is_empty() || args.services.contains(&service)).then_some(service)
    };
    let base = LogParams {
        follow: args.follow,
        tail_lines: args.tail,
        since_seconds: args.since.map(|d| d.as_secs() as i64),
        timestamps: args.timestamps,
        ..Default::default()
    };
    let colours = !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let mut printer = Printer::new(colours);
    let mut labels = Labels::default();
    let mut merged: SelectAll<BoxStream<'static, Piece>> = SelectAll::new();
    // (pod uid, container) → the restart count its stream started at.
    let mut streaming: BTreeMap<(String, String), i32> = BTreeMap::new();
    let (mut lines, mut failures) = (0_usize, Vec::new());
    // Only containers that started have a log; following, the others are picked up when
    // they start, otherwise they are named on stderr.
    let mut start = |pod: &Pod, merged: &mut SelectAll<BoxStream<'static, Piece>>, labels: &mut Labels| {
        let Some(service) = wanted(pod) else { return };
        let containers = started_containers(pod);
        let several = pod.spec.as_ref().is_some_and(|s| s.containers.len() > 1);
        if !args.follow {
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into());
            for container in pod.spec.iter().flat_map(|s| &s.containers).filter(|c| !containers.iter().any(|(name, _)| *name == c.name)) {
                let label = labels.label(&service, &pod.name_any());
                eprintln!("{label}: no logs yet: pod {} is {phase}, container {} has not started", pod.name_any(), container.name);
            }
        }
        for (container, restarts) in containers {
            let key = (pod.uid().unwrap_or_else(|| pod.name_any()), container.clone());
            if streaming.get(&key).is_some_and(|&at| at >= restarts) {
                continue;
            }
            streaming.insert(key, restarts);
            let pod_label = labels.label(&service, &pod.name_any());
            let label = if several && container != service { format!("{pod_label}/{container}") } else { pod_label };
            let params = LogParams { container: Some(container), ..base.clone() };
            merged.push(labelled(label, container_lines(pods.clone(), pod.name_any(), params)));
        }
    };
    let mut listed = pods.list(&ListParams::default().labels(&selector)).await?.items;
    listed.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    for pod in &listed {
        start(pod, &mut merged, &mut labels);
    }
    let mut watch = if args.follow { Some(watcher(pods.clone(), watcher::Config::default().labels(&selector)).boxed()) } else { None };
    let mut stdout = std::io::stdout().lock();
    loop {
        let piece = if let Some(watch) = watch.as_mut() {
            tokio::select! {
                piece = merged.next(), if !merged.is_empty() => piece,
                event = watch.next() => {
                    match event {
                        Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => start(&pod, &mut merged, &mut labels),
                        Some(Ok(watcher::Event::Delete(pod))) => {
                            if let Some(service) = wanted(&pod) {
                                labels.forget(&service, &pod.name_any());
                            }
                        }
                        Some(Ok(_)) | Some(Err(_)) => {}
                        None => return Err(Failure::Cluster("the pod watch ended".into())),
                    }
                    continue;
                }
            }
        } else {
            merged.next().await
        };
        match piece {
            // Following, an empty merge only means no container is streaming right now.
            None if watch.is_some() => continue,
            None => break,
            Some(Piece::Line { label, text }) => {
                lines += 1;
                let _ = writeln!(stdout, "{}", printer.line(&label, &text));
            }
            Some(Piece::Ended { label, error: Some(error) }) => {
                eprintln!("{label}: no logs: {error}");
                failures.push(error);
            }
            Some(Piece::Ended { error: None, .. }) => {}
        }
    }
    if lines == 0 && !failures.is_empty() && failures.len() == streaming.len() {
        return Err(Failure::Cluster(format!("no container of stack {} gave logs ({} tried)", args.stack, failures.len())));
    }
    if streaming.is_empty() {
        eprintln!("stack {} has no pods in namespace {}", args.stack, connection.namespace);
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(lines: &[&str], error: Option<&str>) -> impl Stream<Item = Result<String, String>> + Send + 'static {
        let items: Vec<Result<String, String>> = lines.iter().map(|l| Ok(l.to_string())).chain(error.map(|e| Err(e.to_string()))).collect();
        futures::stream::iter(items)
    }

    /// Lines from several containers interleave as they come, each source's in order, each
    /// source ending once (with its error, if any); nothing is lost.
    #[tokio::test]
    async fn merging_keeps_each_source_in_order_and_reports_how_each_ended() {
        let mut merged = SelectAll::new();
        merged.push(labelled("web-1".into(), source(&["a1", "a2", "a3"], None)));
        merged.push(labelled("web-2".into(), source(&["b1"], Some("pod web-x: container is waiting to start"))));
        let late = futures::stream::iter(vec![Ok("c1".to_string())]).then(|line| async {
            tokio::task::yield_now().await;
            line
        });
        merged.push(labelled("db-1".into(), late));
        let pieces: Vec<Piece> = merged.collect().await;
        let of = |label: &str| -> Vec<Piece> {
            pieces.iter().filter(|p| matches!(p, Piece::Line { label: l, .. } | Piece::Ended { label: l, .. } if l == label)).cloned().collect()
        };
        let line = |label: &str, text: &str| Piece::Line { label: label.into(), text: text.into() };
        let ended = |label: &str, error: Option<&str>| Piece::Ended { label: label.into(), error: error.map(Into::into) };
        assert_eq!(of("web-1"), [line("web-1", "a1"), line("web-1", "a2"), line("web-1", "a3"), ended("web-1", None)]);
        assert_eq!(of("web-2"), [line("web-2", "b1"), ended("web-2", Some("pod web-x: container is waiting to start"))]);
        assert_eq!(of("db-1"), [line("db-1", "c1"), ended("db-1", None)]);
        assert_eq!(pieces.len(), 8);
        let label = |piece: &Piece| match piece {
            Piece::Line { label, .. } | Piece::Ended { label, .. } => label.clone(),
        };
        assert_ne!(label(&pieces[0]), label(&pieces[1]), "sources interleave rather than drain one after the other: {pieces:?}");
    }

    #[test]
    fn labels_number_pods_per_service_and_reuse_freed_numbers() {
        let mut labels = Labels::default();
        assert_eq!(labels.label("web", "web-a"), "web-1");
        assert_eq!(labels.label("web", "web-b"), "web-2");
        assert_eq!(labels.label("db", "db-0"), "db-1");
        assert_eq!(labels.label("web", "web-a"), "web-1", "stable for a pod");
        labels.forget("web", "web-a");
        assert_eq!(labels.label("web", "web-c"), "web-1", "a rollout's new pod takes the freed number");
    }

    #[test]
    fn printer_pads_labels_and_colours_per_service() {
        let mut plain = Printer::new(false);
        assert_eq!(plain.line("db-1", "ready"), "db-1 | ready");
        assert_eq!(plain.line("web-10", "GET /"), "web-10 | GET /");
        assert_eq!(plain.line("db-1", "ok"), "db-1   | ok");
        let mut coloured = Printer::new(true);
        let web = coloured.line("web-1", "x");
        let db = coloured.line("db-1", "y");
        assert!(web.starts_with("\u{1b}[36m") && web.ends_with("|\u{1b}[0m x"), "{web:?}");
        assert!(db.starts_with("\u{1b}[33m"), "a second service, a second colour: {db:?}");
        assert_eq!(coloured.line("web-2", "z")[..5], web[..5], "one colour per service");
    }
}
