//! The background CRL refresher (issue 6, item 2): downloads the CRLs of
//! the distribution points the service knows about (CDPs of configured
//! intermediates and of validated paths, plus `crl_refresh.urls`) over
//! plain HTTP, with conditional requests (`If-None-Match` /
//! `If-Modified-Since`), ahead of nextUpdate, backing off exponentially
//! on failure. Downloads go through pki-core's `CrlCache::offer`: a CRL
//! that does not parse, is not signed by a known CA or is not newer than
//! the one held never replaces it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pki_core::crl::{Crl, OfferError, Offered};
use pki_core::UnixTime;

use crate::config::CrlRefreshConfig;
use crate::metrics::CrlFeedGauge;
use crate::service::{Feed, Service};

/// Why one download did not produce a usable CRL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: timed out after {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: body over {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {error}")]
    BadCrl { url: String, error: pki_core::Error },
    /// The CRL cache refused it (signature, issuer, not newer, expired...).
    #[error("{url}: {error}")]
    Refused { url: String, error: OfferError },
}

/// What a fetch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// A new CRL was installed.
    Installed,
    /// 304, or the same CRL again: the held CRL is current.
    NotModified,
}

/// thisUpdate and nextUpdate of the CRL last accepted from a URL.
type Held = (UnixTime, Option<UnixTime>);

#[derive(Debug)]
struct FeedState {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    next_fetch: Instant,
    failures: u32,
    last_success: u64,
    held: Option<Held>,
}

/// The refresher: one HTTP client, the conditional-request state of each
/// distribution point.
#[derive(Debug)]
pub struct Refresher {
    svc: Arc<Service>,
    client: Client<HttpConnector, Empty<Bytes>>,
    state: HashMap<String, FeedState>,
}

impl Refresher {
    pub fn new(svc: Arc<Service>) -> Self {
        let mut conn = HttpConnector::new();
        conn.enforce_http(true);
        conn.set_connect_timeout(Some(Duration::from_secs(10)));
        Self {
            svc,
            client: Client::builder(TokioExecutor::new()).build(conn),
            state: HashMap::new(),
        }
    }

    /// Runs forever: fetches every due distribution point, then sleeps
    /// until the next one is due or a new one is learnt.
    pub async fn run(mut self) {
        loop {
            let cfg = self.svc.snapshot().config.crl_refresh.clone();
            let mut wake = Instant::now() + Duration::from_secs(60);
            if cfg.enabled {
                for feed in self.svc.feeds() {
                    let due = self
                        .state
                        .get(&feed.url)
                        .is_none_or(|s| s.next_fetch <= Instant::now());
                    if due {
                        let _ = self.refresh(&feed, &cfg).await;
                    }
                    if let Some(s) = self.state.get(&feed.url) {
                        wake = wake.min(s.next_fetch);
                    }
                }
            }
            let sleep = wake.saturating_duration_since(Instant::now());
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.svc.feeds_changed.notified() => {}
            }
        }
    }

    /// Fetches one distribution point now, installs what it got, and
    /// schedules the next fetch.
    pub async fn refresh(
        &mut self,
        feed: &Feed,
        cfg: &CrlRefreshConfig,
    ) -> Result<Fetched, FetchError> {
        let result = self.fetch(feed, cfg).await;
        let now = UnixTime::now();
        let state = self.state.entry(feed.url.clone()).or_insert_with(new_state);
        let held = state.held;
        let delay = match &result {
            Ok(_) => {
                state.failures = 0;
                state.last_success = now.unsigned_secs();
                schedule(held, now, cfg)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                tracing::warn!(failures = state.failures, "CRL refresh failed: {e}");
                let base = cfg.min_interval_seconds.max(1);
                let exp = base.saturating_mul(1u64 << state.failures.min(20).saturating_sub(1));
                Duration::from_secs(exp.min(cfg.max_backoff_seconds.max(base)))
            }
        };
        state.next_fetch = Instant::now() + delay;
        self.svc.metrics.crl_fetch(match &result {
            Ok(Fetched::Installed) => "installed",
            Ok(Fetched::NotModified) => "not_modified",
            Err(FetchError::BadCrl { .. } | FetchError::Refused { .. }) => "rejected",
            Err(_) => "error",
        });
        self.svc.metrics.crl_feed(
            &feed.url,
            CrlFeedGauge {
                last_success: state.last_success,
                next_update: held.and_then(|(_, n)| n).map_or(0, UnixTime::unsigned_secs),
                consecutive_failures: state.failures,
            },
        );
        result
    }

    async fn fetch(&mut self, feed: &Feed, cfg: &CrlRefreshConfig) -> Result<Fetched, FetchError> {
        let url = feed.url.clone();
        let transport = |reason: String| FetchError::Transport {
            url: url.clone(),
            reason,
        };
        let mut req = Request::get(feed.url.as_str());
        if let Some(s) = self.state.get(&feed.url).filter(|s| s.held.is_some()) {
            if let Some(e) = &s.etag {
                req = req.header(IF_NONE_MATCH, e.clone());
            }
            if let Some(m) = &s.last_modified {
                req = req.header(IF_MODIFIED_SINCE, m.clone());
            }
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| transport(e.to_string()))?;
        let timeout = Duration::from_secs(cfg.timeout_seconds);
        let work = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = resp.status();
            let etag = resp.headers().get(ETAG).cloned();
            let last_modified = resp.headers().get(LAST_MODIFIED).cloned();
            if status == StatusCode::NOT_MODIFIED {
                return Ok((status, etag, last_modified, Bytes::new()));
            }
            if status != StatusCode::OK {
                return Err(FetchError::Status {
                    url: url.clone(),
                    status: status.as_u16(),
                });
            }
            let body = Limited::new(resp.into_body(), cfg.max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge {
                            url: url.clone(),
                            limit: cfg.max_bytes,
                        }
                    } else {
                        transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok((status, etag, last_modified, body))
        };
        let (status, etag, last_modified, body) = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| FetchError::Timeout {
                url: url.clone(),
                seconds: cfg.timeout_seconds,
            })??;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        // Parsing and verifying a large CRL takes a while: not on the
        // async workers.
        let svc = self.svc.clone();
        let issuer = feed.issuer.clone();
        let u = url.clone();
        let (offered, held) = tokio::task::spawn_blocking(move || {
            let crl = Crl::from_der(&body).map_err(|error| FetchError::BadCrl {
                url: u.clone(),
                error,
            })?;
            let mut signers = svc.known_issuers(crl.issuer_der());
            if pki_core::name::names_equal(issuer.subject(), crl.issuer())
                && !signers
                    .iter()
                    .any(|s| s.fingerprint() == issuer.fingerprint())
            {
                signers.push(issuer);
            }
            let held = (crl.this_update(), crl.next_update());
            svc.offer_crl(crl, &signers)
                .map(|o| (o, held))
                .map_err(|error| FetchError::Refused { url: u, error })
        })
        .await
        .map_err(|e| transport(e.to_string()))??;
        let s = self.state.entry(url).or_insert_with(new_state);
        s.etag = etag;
        s.last_modified = last_modified;
        s.held = Some(held);
        Ok(if offered == Offered::Unchanged {
            Fetched::NotModified
        } else {
            Fetched::Installed
        })
    }
}

fn new_state() -> FeedState {
    FeedState {
        etag: None,
        last_modified: None,
        next_fetch: Instant::now(),
        failures: 0,
        last_success: 0,
        held: None,
    }
}

/// When to fetch again after a success: `ahead_fraction` of the CRL's
/// validity window before its nextUpdate, within the configured bounds.
fn schedule(held: Option<Held>, now: UnixTime, cfg: &CrlRefreshConfig) -> Duration {
    let min = cfg.min_interval_seconds;
    let max = cfg.max_interval_seconds.max(min);
    let secs = match held.and_then(|(this, next)| next.map(|n| (this, n))) {
        Some((this, next)) => {
            let window = next.seconds_since(this);
            let ahead = (window as f64 * cfg.ahead_fraction) as u64;
            next.seconds_since(now).saturating_sub(ahead)
        }
        None => max,
    };
    Duration::from_secs(secs.clamp(min, max))
}
