//! OCSP for tiers whose revocation policy names `ocsp` (issue 6 item 3,
//! service side): responses are fetched from the responder URLs in the
//! certificates' authorityInfoAccess (http:// only), verified and cached
//! by pki-core's `OcspCache` until nextUpdate, and consulted through
//! `TieredRevocation`. Fetches run in the background: a validation that
//! finds no current response (or one close to its nextUpdate) queues one,
//! so under hard-fail the first request for a certificate fails with
//! `revocation_status_unavailable` and the following ones see the answer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pki_core::ocsp::verify::RequestOptions;
use pki_core::ocsp::{OcspCache, OcspKey, OcspRequest, VerifyOptions};
use pki_core::{Cert, UnixTime};

use crate::service::Service;

/// Largest OCSP response read.
const MAX_RESPONSE: usize = 64 * 1024;

/// One certificate whose status should be fetched.
#[derive(Debug, Clone)]
pub struct Job {
    pub cert: Arc<Cert>,
    pub issuer: Arc<Cert>,
    pub url: String,
}

/// The queue between validations and the fetcher: bounded, and each
/// certificate at most once in it.
#[derive(Debug)]
pub struct Queue {
    tx: tokio::sync::mpsc::Sender<Job>,
    rx: Mutex<Option<tokio::sync::mpsc::Receiver<Job>>>,
    pending: Mutex<HashSet<OcspKey>>,
    capacity: usize,
}

impl Queue {
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
            pending: Mutex::new(HashSet::new()),
            capacity: capacity.max(1),
        }
    }

    /// Queues a fetch for `cert` unless one is pending or the queue is full.
    pub fn push(&self, cert: &Arc<Cert>, issuer: &Arc<Cert>) {
        let Some(url) = pki_core::ocsp::verify::responder_urls(cert)
            .into_iter()
            .find(|u| u.starts_with("http://") && u.parse::<http::Uri>().is_ok())
        else {
            return;
        };
        let key = OcspKey::for_cert(cert, issuer);
        let Ok(mut p) = self.pending.lock() else {
            return;
        };
        if p.len() >= self.capacity || !p.insert(key) {
            return;
        }
        let job = Job {
            cert: cert.clone(),
            issuer: issuer.clone(),
            url,
        };
        if self.tx.try_send(job).is_err() {
            p.remove(&key);
        }
    }

    fn done(&self, job: &Job) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&OcspKey::for_cert(&job.cert, &job.issuer));
        }
    }
}

/// Whether `cache` lacks a response for `cert` usable now and for the next
/// `ahead` seconds.
pub fn needs_fetch(
    cache: &OcspCache,
    cert: &Cert,
    issuer: &Cert,
    now: UnixTime,
    ahead: u64,
) -> bool {
    let key = OcspKey::for_cert(cert, issuer);
    cache
        .get(&key, now)
        .is_none_or(|r| r.valid_until < now.plus(ahead))
}

/// Why a fetch produced nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {error}")]
    Refused {
        url: String,
        error: pki_core::ocsp::OcspError,
    },
}

/// Runs the queue: one POST per job, the answer offered to the cache.
#[derive(Debug)]
pub struct Fetcher {
    svc: Arc<Service>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Fetcher {
    pub fn new(svc: Arc<Service>) -> Self {
        let mut conn = HttpConnector::new();
        conn.enforce_http(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        Self {
            svc,
            client: Client::builder(TokioExecutor::new()).build(conn),
        }
    }

    /// Runs until the service is dropped. Only one fetcher per service.
    pub async fn run(self) {
        let Some(mut rx) = self
            .svc
            .ocsp_queue()
            .rx
            .lock()
            .ok()
            .and_then(|mut r| r.take())
        else {
            tracing::error!("OCSP fetcher already running");
            return;
        };
        while let Some(job) = rx.recv().await {
            let r = self.fetch(&job).await;
            self.svc.metrics.ocsp_fetch(match &r {
                Ok(()) => "stored",
                Err(FetchError::Refused { .. }) => "rejected",
                Err(_) => "error",
            });
            if let Err(e) = r {
                tracing::warn!("OCSP fetch failed: {e}");
            }
            self.svc.ocsp_queue().done(&job);
        }
    }

    /// Fetches and caches the status of one certificate.
    pub async fn fetch(&self, job: &Job) -> Result<(), FetchError> {
        let url = job.url.clone();
        let transport = |reason: String| FetchError::Transport {
            url: url.clone(),
            reason,
        };
        let req = OcspRequest::new(&job.cert, &job.issuer, &RequestOptions::default())
            .map_err(|e| transport(e.to_string()))?;
        let timeout = Duration::from_secs(self.svc.snapshot().config.ocsp.timeout_seconds);
        let http_req = Request::post(job.url.as_str())
            .header(CONTENT_TYPE, "application/ocsp-request")
            .body(Full::new(Bytes::from(req.der().to_vec())))
            .map_err(|e| transport(e.to_string()))?;
        let body = tokio::time::timeout(timeout, async {
            let resp = self
                .client
                .request(http_req)
                .await
                .map_err(|e| transport(e.to_string()))?;
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status {
                    url: url.clone(),
                    status: resp.status().as_u16(),
                });
            }
            Limited::new(resp.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .map_err(|e| transport(e.to_string()))
        })
        .await
        .map_err(|_| transport(format!("timed out after {timeout:?}")))??;
        let mut opts = VerifyOptions::at(UnixTime::now());
        opts.max_size = MAX_RESPONSE;
        self.svc
            .ocsp_cache()
            .offer(&body, &job.cert, &job.issuer, req.nonce(), &opts)
            .map(|_| ())
            .map_err(|error| FetchError::Refused { url, error })
    }
}
