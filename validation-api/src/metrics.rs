//! Prometheus counters and histograms, rendered as text on `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use service_kit::exposition::{Exposition, Histogram, Kind};

/// Counters by label: the common case (the label exists) takes a shared
/// lock and one atomic add.
#[derive(Debug)]
struct Counters<K: Ord>(RwLock<BTreeMap<K, AtomicU64>>);

impl<K: Ord> Default for Counters<K> {
    fn default() -> Self {
        Self(RwLock::new(BTreeMap::new()))
    }
}

impl<K: Ord + Copy> Counters<K> {
    fn inc(&self, k: K) {
        if let Ok(m) = self.0.read() {
            if let Some(c) = m.get(&k) {
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut m) = self.0.write() {
            m.entry(k).or_default().fetch_add(1, Ordering::Relaxed);
        }
    }

    fn get(&self, k: &K) -> u64 {
        self.0
            .read()
            .map_or(0, |m| m.get(k).map_or(0, |c| c.load(Ordering::Relaxed)))
    }

    fn snapshot(&self) -> Vec<(K, u64)> {
        self.0.read().map_or_else(
            |_| Vec::new(),
            |m| {
                m.iter()
                    .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
                    .collect()
            },
        )
    }
}

/// State of one CRL distribution point, for the staleness gauges.
#[derive(Debug, Clone, Default)]
pub struct CrlFeedGauge {
    /// Unix seconds of the last successful fetch (200 or 304), 0 if never.
    pub last_success: u64,
    /// nextUpdate of the CRL held, 0 if none.
    pub next_update: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
}

/// Writes the per-client concurrency gauges: requests holding a slot
/// and the limit, for each `(client, in flight, limit)`.
pub fn render_in_flight(o: &mut Exposition, clients: &[(&str, usize, usize)]) {
    o.family(
        "validation_api_client_in_flight",
        Kind::Gauge,
        "Requests of a client holding one of its concurrency slots.",
    );
    for (name, n, _) in clients {
        o.sample("validation_api_client_in_flight", &[("client", name)], n);
    }
    o.family(
        "validation_api_client_max_concurrent",
        Kind::Gauge,
        "Concurrency limit of a client.",
    );
    for (name, _, limit) in clients {
        o.sample(
            "validation_api_client_max_concurrent",
            &[("client", name)],
            limit,
        );
    }
}

/// Every metric the service exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) -> count.
    requests: Counters<(&'static str, u16)>,
    /// `valid` or error code -> count.
    verdicts: Counters<&'static str>,
    pub unauthorized: AtomicU64,
    pub concurrency_rejected: AtomicU64,
    pub result_cache_hits: AtomicU64,
    pub result_cache_misses: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// Requests answered, by result of the CRL fetch: 200, 304, error.
    crl_fetches: Mutex<BTreeMap<&'static str, u64>>,
    /// OCSP fetches by result: stored, rejected, error.
    ocsp_fetches: Counters<&'static str>,
    crl_feeds: Mutex<BTreeMap<String, CrlFeedGauge>>,
    pub validate_latency: Histogram,
    pub batch_latency: Histogram,
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        self.requests.inc((route, status));
    }

    pub fn verdict(&self, outcome: &'static str) {
        self.verdicts.inc(outcome);
    }

    /// Count of verdicts with this outcome (`valid` or an error code).
    pub fn verdict_count(&self, outcome: &'static str) -> u64 {
        self.verdicts.get(&outcome)
    }

    pub fn crl_fetch(&self, result: &'static str) {
        if let Ok(mut m) = self.crl_fetches.lock() {
            *m.entry(result).or_default() += 1;
        }
    }

    pub fn ocsp_fetch(&self, result: &'static str) {
        self.ocsp_fetches.inc(result);
    }

    pub fn crl_feed(&self, url: &str, g: CrlFeedGauge) {
        if let Ok(mut m) = self.crl_feeds.lock() {
            m.insert(url.to_owned(), g);
        }
    }

    /// Writes every metric. `edges` is the verified-edge cache's (hits,
    /// misses); `now` Unix seconds.
    pub fn render(
        &self,
        o: &mut Exposition,
        edges: (u64, u64),
        result_entries: usize,
        crls: &[pki_core::crl::EntryInfo],
        now: u64,
    ) {
        o.family(
            "validation_api_requests_total",
            Kind::Counter,
            "HTTP requests by route and status.",
        );
        for ((route, status), n) in self.requests.snapshot() {
            o.sample(
                "validation_api_requests_total",
                &[("route", route), ("status", &status.to_string())],
                n,
            );
        }
        o.family(
            "validation_api_verdicts_total",
            Kind::Counter,
            "Validation verdicts by outcome (valid or error code).",
        );
        for (code, n) in self.verdicts.snapshot() {
            o.sample("validation_api_verdicts_total", &[("outcome", code)], n);
        }
        o.counter(
            "validation_api_unauthorized_total",
            "Requests refused with 401.",
            self.unauthorized.load(Ordering::Relaxed),
        );
        o.counter(
            "validation_api_concurrency_rejected_total",
            "Requests refused with 429 (per-client concurrency limit).",
            self.concurrency_rejected.load(Ordering::Relaxed),
        );
        let hits = self.result_cache_hits.load(Ordering::Relaxed);
        let misses = self.result_cache_misses.load(Ordering::Relaxed);
        o.counter(
            "validation_api_result_cache_hits_total",
            "Validations answered from the result cache.",
            hits,
        );
        o.counter(
            "validation_api_result_cache_misses_total",
            "Validations not in the result cache.",
            misses,
        );
        o.counter(
            "validation_api_edge_cache_hits_total",
            "Signature checks skipped thanks to the verified-edge cache.",
            edges.0,
        );
        o.counter(
            "validation_api_edge_cache_misses_total",
            "Signature edges not in the verified-edge cache.",
            edges.1,
        );
        let ratio = |h: u64, m: u64| {
            if h + m == 0 {
                0.0
            } else {
                h as f64 / (h + m) as f64
            }
        };
        o.family(
            "validation_api_cache_hit_ratio",
            Kind::Gauge,
            "Hit ratio since start.",
        )
        .sample(
            "validation_api_cache_hit_ratio",
            &[("cache", "result")],
            ratio(hits, misses),
        )
        .sample(
            "validation_api_cache_hit_ratio",
            &[("cache", "edge")],
            ratio(edges.0, edges.1),
        );
        o.gauge(
            "validation_api_result_cache_entries",
            "Entries in the result cache.",
            result_entries,
        );
        o.family(
            "validation_api_config_reloads_total",
            Kind::Counter,
            "Config reloads by result.",
        )
        .sample(
            "validation_api_config_reloads_total",
            &[("result", "ok")],
            self.reloads_ok.load(Ordering::Relaxed),
        )
        .sample(
            "validation_api_config_reloads_total",
            &[("result", "rejected")],
            self.reloads_failed.load(Ordering::Relaxed),
        );
        o.family(
            "validation_api_crl_fetches_total",
            Kind::Counter,
            "CRL downloads by result.",
        );
        if let Ok(m) = self.crl_fetches.lock() {
            for (r, n) in m.iter() {
                o.sample("validation_api_crl_fetches_total", &[("result", r)], n);
            }
        }
        o.family(
            "validation_api_ocsp_fetches_total",
            Kind::Counter,
            "OCSP fetches by result.",
        );
        for (r, n) in self.ocsp_fetches.snapshot() {
            o.sample("validation_api_ocsp_fetches_total", &[("result", r)], n);
        }
        // Each family's samples together (the format wants them grouped).
        let feeds: Vec<(String, CrlFeedGauge)> = self
            .crl_feeds
            .lock()
            .map(|m| m.iter().map(|(u, g)| (u.clone(), g.clone())).collect())
            .unwrap_or_default();
        o.family("validation_api_crl_stale_seconds", Kind::Gauge, "Seconds past nextUpdate of the CRL held for a distribution point (0 while fresh; seconds since start of tracking when none is held).");
        for (url, g) in &feeds {
            let stale = if g.next_update == 0 {
                now.saturating_sub(g.last_success)
            } else {
                now.saturating_sub(g.next_update)
            };
            o.sample("validation_api_crl_stale_seconds", &[("url", url)], stale);
        }
        o.family(
            "validation_api_crl_last_success_timestamp_seconds",
            Kind::Gauge,
            "Last successful fetch of a distribution point.",
        );
        for (url, g) in &feeds {
            o.sample(
                "validation_api_crl_last_success_timestamp_seconds",
                &[("url", url)],
                g.last_success,
            );
        }
        o.family(
            "validation_api_crl_consecutive_failures",
            Kind::Gauge,
            "Failed fetches of a distribution point since its last success.",
        );
        for (url, g) in &feeds {
            o.sample(
                "validation_api_crl_consecutive_failures",
                &[("url", url)],
                g.consecutive_failures,
            );
        }
        o.family(
            "validation_api_crl_cache_stale_seconds",
            Kind::Gauge,
            "Seconds since nextUpdate of each cached CRL passed (0 while current).",
        );
        for e in crls {
            o.sample(
                "validation_api_crl_cache_stale_seconds",
                &[("issuer", &e.issuer), ("number", &e.number)],
                e.stale_seconds,
            );
        }
        o.family(
            "validation_api_crl_next_update_seconds",
            Kind::Gauge,
            "Seconds until the nextUpdate of each cached CRL (negative once past; CRLs without nextUpdate are not listed).",
        );
        let now_signed = i64::try_from(now).unwrap_or(i64::MAX);
        for e in crls {
            if let Some(next) = e.next_update {
                o.sample(
                    "validation_api_crl_next_update_seconds",
                    &[("issuer", &e.issuer), ("number", &e.number)],
                    next.0.saturating_sub(now_signed),
                );
            }
        }
        o.gauge("validation_api_crl_cache_entries", "CRLs held.", crls.len());
        o.family(
            "validation_api_request_duration_seconds",
            Kind::Histogram,
            "Latency of validation requests.",
        )
        .histogram(
            "validation_api_request_duration_seconds",
            &[("route", "/v1/validate")],
            &self.validate_latency,
        )
        .histogram(
            "validation_api_request_duration_seconds",
            &[("route", "/v1/validate/batch")],
            &self.batch_latency,
        );
    }
}
