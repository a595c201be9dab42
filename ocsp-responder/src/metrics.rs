//! Counters and gauges, rendered as Prometheus text on `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use service_kit::exposition::{Exposition, Histogram, Kind};

use crate::issuer::Issuer;

/// How a request ended, the `result` label of `ocsp_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// successful, from the pre-signed cache.
    Cached,
    /// successful, signed for this request.
    Live,
    /// 304 to If-None-Match.
    NotModified,
    Malformed,
    Unauthorized,
    TryLater,
    InternalError,
    /// HTTP 413.
    TooLarge,
    /// HTTP 414: a GET whose path is longer than any request can encode
    /// to, answered by the handler or, past 65,534 bytes, by hyper itself.
    UriTooLong,
    /// HTTP 415.
    BadContentType,
    /// HTTP 404.
    NotFound,
    /// HTTP 405: a method other than GET and POST.
    MethodNotAllowed,
}

impl Outcome {
    const COUNT: usize = 12;
    const ALL: [Self; Self::COUNT] = [
        Self::Cached,
        Self::Live,
        Self::NotModified,
        Self::Malformed,
        Self::Unauthorized,
        Self::TryLater,
        Self::InternalError,
        Self::TooLarge,
        Self::UriTooLong,
        Self::BadContentType,
        Self::NotFound,
        Self::MethodNotAllowed,
    ];

    /// The `result` label, also the result code of the access line.
    pub fn label(self) -> &'static str {
        match self {
            Self::Cached => "cached",
            Self::Live => "live",
            Self::NotModified => "not_modified",
            Self::Malformed => "malformed_request",
            Self::Unauthorized => "unauthorized",
            Self::TryLater => "try_later",
            Self::InternalError => "internal_error",
            Self::TooLarge => "too_large",
            Self::UriTooLong => "uri_too_long",
            Self::BadContentType => "unsupported_media_type",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }

    /// Where the answer came from, the `source` label of
    /// `ocsp_request_duration_seconds`.
    fn source(self) -> LatencySource {
        match self {
            Self::Cached | Self::NotModified => LatencySource::Cached,
            Self::Live => LatencySource::Live,
            _ => LatencySource::Error,
        }
    }
}

/// `source` label of the latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LatencySource {
    Cached,
    Live,
    Error,
}

impl LatencySource {
    const ALL: [Self; 3] = [Self::Cached, Self::Live, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Cached => "cached",
            Self::Live => "live",
            Self::Error => "error",
        }
    }
}

/// `method` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    /// Any other method, and a request hyper refused before handing it
    /// over (its method unknown).
    Other,
}

impl Method {
    const ALL: [Self; 3] = [Self::Get, Self::Post, Self::Other];

    fn label(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; Outcome::COUNT]; 3],
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub live_signs: AtomicU64,
    /// Issuer reloads done, and refused (a check failed).
    pub reloads: AtomicU64,
    pub reloads_refused: AtomicU64,
    pub hsm_errors: AtomicU64,
    pub presigned: AtomicU64,
    pub resigned: AtomicU64,
    pub changes_applied: AtomicU64,
    pub db_errors: AtomicU64,
    /// Statuses not published because the audit log does not vouch for
    /// their rows.
    pub unvouched: AtomicU64,
    /// Unix seconds of the oldest cached thisUpdate (0 when unknown).
    pub oldest_response: AtomicU64,
    /// Table mode: reads of the response table (memory misses).
    pub table_reads: AtomicU64,
    /// Table mode: statements those reads took (batched when they queue).
    pub table_statements: AtomicU64,
    /// Table mode: statuses read from the store (and checked against the
    /// audit log) for live signing; kept statuses are not counted.
    pub live_status_reads: AtomicU64,
    /// Table mode: rows not served (signed before the serial's last
    /// change, or past nextUpdate).
    pub table_stale: AtomicU64,
    /// Milliseconds the read replica is behind (0 on a primary).
    pub replica_lag_ms: AtomicU64,
    /// The updater running in this process, if any.
    pub updater: std::sync::OnceLock<std::sync::Arc<crate::updater::UpdaterStats>>,
    /// Latency of OCSP requests, by [`Outcome::source`].
    latency: [Histogram; 3],
}

impl Metrics {
    pub fn request(&self, method: Method, outcome: Outcome) {
        self.requests[method as usize][outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Time to answer one OCSP request (health and metrics requests are
    /// not OCSP requests).
    pub fn observe_latency(&self, outcome: Outcome, took: std::time::Duration) {
        self.latency[outcome.source() as usize].observe(took);
    }

    pub fn count(&self, method: Method, outcome: Outcome) -> u64 {
        self.requests[method as usize][outcome.index()].load(Ordering::Relaxed)
    }

    pub fn set_oldest(&self, t: Option<SystemTime>) {
        let secs = t
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        self.oldest_response.store(secs, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = Exposition::new();
        out.family(
            "ocsp_requests_total",
            Kind::Counter,
            "OCSP HTTP requests by method and result.",
        );
        for m in Method::ALL {
            for o in Outcome::ALL {
                out.sample(
                    "ocsp_requests_total",
                    &[("method", m.label()), ("result", o.label())],
                    self.count(m, o),
                );
            }
        }
        for (name, help, v) in [
            (
                "ocsp_cache_hits_total",
                "Answers from the pre-signed cache.",
                &self.cache_hits,
            ),
            (
                "ocsp_cache_misses_total",
                "Requests the cache could not answer.",
                &self.cache_misses,
            ),
            (
                "ocsp_live_signs_total",
                "Responses signed for a request.",
                &self.live_signs,
            ),
            (
                "ocsp_reloads_total",
                "Issuer reloads (SIGHUP or a changed file) that took effect.",
                &self.reloads,
            ),
            (
                "ocsp_reloads_refused_total",
                "Issuer reloads refused: a check failed, the running issuers stayed.",
                &self.reloads_refused,
            ),
            (
                "ocsp_hsm_errors_total",
                "Signatures the HSM failed.",
                &self.hsm_errors,
            ),
            (
                "ocsp_presigned_total",
                "Responses pre-signed at start and on changes.",
                &self.presigned,
            ),
            (
                "ocsp_resigned_total",
                "Responses re-signed before expiry.",
                &self.resigned,
            ),
            (
                "ocsp_changes_applied_total",
                "Store changes applied.",
                &self.changes_applied,
            ),
            (
                "ocsp_db_errors_total",
                "Failed or timed-out database calls.",
                &self.db_errors,
            ),
            (
                "ocsp_unvouched_statuses_total",
                "Statuses not published: their store rows differ from the audit log.",
                &self.unvouched,
            ),
            (
                "ocsp_table_reads_total",
                "Reads of the store's response table (memory cache misses).",
                &self.table_reads,
            ),
            (
                "ocsp_table_statements_total",
                "Statements those reads took: misses that queue are read together.",
                &self.table_statements,
            ),
            (
                "ocsp_live_status_reads_total",
                "Statuses read from the store and checked against the audit log for live signing.",
                &self.live_status_reads,
            ),
            (
                "ocsp_table_stale_total",
                "Stored responses not served: signed before the serial's last change, or expired.",
                &self.table_stale,
            ),
        ] {
            out.counter(name, help, v.load(Ordering::Relaxed));
        }
        out.family(
            "ocsp_request_duration_seconds",
            Kind::Histogram,
            "Time to answer an OCSP request, by source: the pre-signed cache or table (and 304s), a live signature, or an error answer.",
        );
        for source in LatencySource::ALL {
            out.histogram(
                "ocsp_request_duration_seconds",
                &[("source", source.label())],
                &self.latency[source as usize],
            );
        }
        out.gauge(
            "ocsp_replica_lag_seconds",
            "How far the read replica's replay is behind (0 on a primary or SQLite).",
            self.replica_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        if let Some(u) = self.updater.get() {
            u.render(&mut out);
        }
        let oldest = self.oldest_response.load(Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let age = if oldest == 0 {
            0
        } else {
            now.saturating_sub(oldest)
        };
        out.gauge(
            "ocsp_response_age_max_seconds",
            "Age of the oldest cached response.",
            age,
        );
        out.gauge(
            "ocsp_cache_entries",
            "Responses in the cache.",
            gauges.cache_entries,
        );
        out.gauge(
            "ocsp_known_serials",
            "Serials with a known status.",
            gauges.known_serials,
        );
        out.gauge(
            "ocsp_change_seq",
            "Last store change applied.",
            gauges.change_seq,
        );
        out.gauge(
            "ocsp_ready",
            "1 when ready to serve.",
            u8::from(gauges.ready),
        );
        out.gauge(
            "ocsp_hsm_up",
            "1 when the last signature worked.",
            u8::from(gauges.hsm_up),
        );
        out.gauge(
            "ocsp_db_up",
            "1 when the last database call worked.",
            u8::from(gauges.db_up),
        );
        render_certificate_expiry(&mut out, &gauges.certificates);
        out.into_string()
    }
}

/// Seconds left before one issuer's certificates expire (negative once
/// expired).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateExpiry {
    /// The CA's name (the `issuer` label).
    pub issuer: String,
    /// The CA certificate.
    pub ca_secs: i64,
    /// The certificate responses are signed under: the delegated responder
    /// certificate, or the CA certificate when the CA key signs.
    pub responder_secs: i64,
}

impl CertificateExpiry {
    /// Each of `issuers`' CA and responder certificates, at `now`: what a
    /// responder and a standalone updater export alike.
    pub fn of(issuers: &[Arc<Issuer>], now: pki_core::UnixTime) -> Vec<Self> {
        issuers
            .iter()
            .map(|i| Self {
                issuer: i.name.clone(),
                ca_secs: i.expiry.ca_not_after.0.saturating_sub(now.0),
                responder_secs: i
                    .expiry
                    .responder_not_after
                    .unwrap_or(i.expiry.ca_not_after)
                    .0
                    .saturating_sub(now.0),
            })
            .collect()
    }
}

/// The `ocsp_ca_certificate_expiry_seconds` and
/// `ocsp_responder_certificate_expiry_seconds` families, one sample per
/// issuer (the responder's `/metrics` and the standalone updater's).
pub fn render_certificate_expiry(out: &mut Exposition, certificates: &[CertificateExpiry]) {
    out.family(
        "ocsp_ca_certificate_expiry_seconds",
        Kind::Gauge,
        "Seconds until the CA certificate's notAfter, per issuer answered for (negative: expired).",
    );
    for c in certificates {
        out.sample(
            "ocsp_ca_certificate_expiry_seconds",
            &[("issuer", &c.issuer)],
            c.ca_secs,
        );
    }
    out.family(
        "ocsp_responder_certificate_expiry_seconds",
        Kind::Gauge,
        "Seconds until the notAfter of the certificate responses are signed under (the delegated responder certificate, or the CA's), per issuer.",
    );
    for c in certificates {
        out.sample(
            "ocsp_responder_certificate_expiry_seconds",
            &[("issuer", &c.issuer)],
            c.responder_secs,
        );
    }
}

/// Point-in-time values rendered with the counters.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub cache_entries: usize,
    pub known_serials: usize,
    pub change_seq: u64,
    pub ready: bool,
    pub hsm_up: bool,
    pub db_up: bool,
    /// Per issuer, in the order answered for.
    pub certificates: Vec<CertificateExpiry>,
}

/// Where the point-in-time values of `/metrics` are read when scraped
/// (the transport's only view of the responder's state).
pub trait GaugeSource: Send + Sync + std::fmt::Debug {
    fn gauges(&self) -> Gauges;
}
