//! The standalone updater's HTTP side (`ocsp-responder --updater`): on
//! the configured `listen` address, `/metrics` (the `ocsp_updater_*`
//! series) and `/health/live`, so that it is scraped and watched like the
//! responders. It answers nothing else (404).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use service_kit::access::Access;
use service_kit::{accept_loop, serve_http1, Stop};
use tokio::net::TcpListener;

use crate::updater::UpdaterStats;

const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `stop`.
pub async fn serve(listener: TcpListener, stats: Arc<UpdaterStats>, mut stop: Stop) {
    let shutdown = async move { stop.stopped().await };
    accept_loop(
        listener,
        shutdown,
        Duration::from_secs(5),
        move |tcp, peer: SocketAddr, stop| {
            let stats = Arc::clone(&stats);
            async move {
                let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let stats = Arc::clone(&stats);
                    async move {
                        let access = Access::begin(&mut req, peer);
                        let mut response = answer(req.method(), req.uri().path(), &stats);
                        access.finish(&mut response);
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = serve_http1(TokioIo::new(tcp), peer, svc, HEADER_TIMEOUT, stop).await;
            }
        },
    )
    .await;
}

fn answer(method: &http::Method, path: &str, stats: &UpdaterStats) -> Response<Full<Bytes>> {
    let (code, kind, body) = match (method, path) {
        (&http::Method::GET, "/metrics") => {
            let mut out = service_kit::exposition::Exposition::new();
            stats.render(&mut out);
            (
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                out.into_string(),
            )
        }
        (&http::Method::GET, "/health/live") => {
            (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the updater serves /metrics and /health/live only\n".into(),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = http::HeaderValue::from_str(kind) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}
