//! `/metrics`, `/healthz` and `/readyz` on the metrics address. A follower (not the
//! leader) is healthy and ready too: it stands by, and Kubernetes must not restart it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, info};

use super::metrics::Metrics;

/// What the endpoints report.
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Set once the operator has reached the API server and started (or stands by).
    pub ready: AtomicBool,
}

/// Binds the address (port 0 picks a free one) and serves until the task is dropped.
pub async fn serve(address: SocketAddr, health: Arc<Health>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address).await?;
    info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let health = health.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| respond(request, health.clone()));
                if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                    debug!(%error, "metrics connection ended");
                }
            });
        }
    }))
}

async fn respond(request: Request<Incoming>, health: Arc<Health>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match request.uri().path() {
        "/metrics" => (StatusCode::OK, health.metrics.render()),
        "/healthz" | "/livez" => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" if health.ready.load(Ordering::Relaxed) => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_string()),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    let content_type = if request.uri().path() == "/metrics" { "application/openmetrics-text; version=1.0.0; charset=utf-8" } else { "text/plain" };
    let response = Response::builder().status(status).header("content-type", content_type).body(Full::new(Bytes::from(body)));
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}
