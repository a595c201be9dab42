//! The standalone updater's HTTP side (`ocsp-responder --updater`): on
//! the configured `listen` address, `/metrics` (the `ocsp_updater_*`
//! series, and the certificate expiry gauges of the issuers it signs for,
//! as a responder exports them) and `/health/live`, so that it is scraped and watched like the
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

use crate::issuer::Issuers;
use crate::metrics::{render_certificate_expiry, CertificateExpiry};
use crate::updater::UpdaterStats;

const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What `/metrics` shows: the updater's counters and the issuers it signs
/// for now (a reload swaps them).
#[derive(Debug, Clone)]
pub struct UpdaterMetrics {
    pub stats: Arc<UpdaterStats>,
    pub issuers: Arc<Issuers>,
}

impl UpdaterMetrics {
    /// The exposition text at `now`.
    pub fn render(&self, now: pki_core::UnixTime) -> String {
        let mut out = service_kit::exposition::Exposition::new();
        self.stats.render(&mut out);
        render_certificate_expiry(
            &mut out,
            &CertificateExpiry::of(&self.issuers.current(), now),
        );
        out.into_string()
    }
}

/// Serves until `stop`.
pub async fn serve(listener: TcpListener, metrics: UpdaterMetrics, mut stop: Stop) {
    let shutdown = async move { stop.stopped().await };
    accept_loop(
        listener,
        shutdown,
        Duration::from_secs(5),
        move |tcp, peer: SocketAddr, stop| {
            let metrics = metrics.clone();
            async move {
                let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let access = Access::begin(&mut req, peer);
                        let mut response = answer(req.method(), req.uri().path(), &metrics);
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

fn answer(method: &http::Method, path: &str, metrics: &UpdaterMetrics) -> Response<Full<Bytes>> {
    let (code, kind, body) = match (method, path) {
        (&http::Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(pki_core::UnixTime::now()),
        ),
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
