//! Prometheus counters and histograms, rendered as text on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// A fixed-bucket latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

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

/// Appends the per-client concurrency gauges: requests holding a slot
/// and the limit, for each `(client, in flight, limit)`.
pub fn render_in_flight(o: &mut String, clients: &[(&str, usize, usize)]) {
    o.push_str("# HELP validation_api_client_in_flight Requests of a client holding one of its concurrency slots.\n# TYPE validation_api_client_in_flight gauge\n");
    for (name, n, _) in clients {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            o,
            "validation_api_client_in_flight{{client=\"{name}\"}} {n}"
        );
    }
    o.push_str("# HELP validation_api_client_max_concurrent Concurrency limit of a client.\n# TYPE validation_api_client_max_concurrent gauge\n");
    for (name, _, limit) in clients {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            o,
            "validation_api_client_max_concurrent{{client=\"{name}\"}} {limit}"
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

    /// Renders the Prometheus text exposition format. `edges` is the
    /// verified-edge cache's (hits, misses); `now` Unix seconds.
    pub fn render(
        &self,
        edges: (u64, u64),
        result_entries: usize,
        crls: &[pki_core::crl::EntryInfo],
        now: u64,
    ) -> String {
        let mut o = String::new();
        o.push_str("# HELP validation_api_requests_total HTTP requests by route and status.\n# TYPE validation_api_requests_total counter\n");
        {
            for ((route, status), n) in self.requests.snapshot() {
                let _ = writeln!(
                    o,
                    "validation_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        o.push_str("# HELP validation_api_verdicts_total Validation verdicts by outcome (valid or error code).\n# TYPE validation_api_verdicts_total counter\n");
        {
            for (code, n) in self.verdicts.snapshot() {
                let _ = writeln!(o, "validation_api_verdicts_total{{outcome=\"{code}\"}} {n}");
            }
        }
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = write!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            );
        };
        counter(
            &mut o,
            "validation_api_unauthorized_total",
            "Requests refused with 401.",
            self.unauthorized.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "validation_api_concurrency_rejected_total",
            "Requests refused with 429 (per-client concurrency limit).",
            self.concurrency_rejected.load(Ordering::Relaxed),
        );
        let hits = self.result_cache_hits.load(Ordering::Relaxed);
        let misses = self.result_cache_misses.load(Ordering::Relaxed);
        counter(
            &mut o,
            "validation_api_result_cache_hits_total",
            "Validations answered from the result cache.",
            hits,
        );
        counter(
            &mut o,
            "validation_api_result_cache_misses_total",
            "Validations not in the result cache.",
            misses,
        );
        counter(
            &mut o,
            "validation_api_edge_cache_hits_total",
            "Signature checks skipped thanks to the verified-edge cache.",
            edges.0,
        );
        counter(
            &mut o,
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
        let _ = write!(
            o,
            "# HELP validation_api_cache_hit_ratio Hit ratio since start.\n# TYPE validation_api_cache_hit_ratio gauge\nvalidation_api_cache_hit_ratio{{cache=\"result\"}} {}\nvalidation_api_cache_hit_ratio{{cache=\"edge\"}} {}\n",
            ratio(hits, misses),
            ratio(edges.0, edges.1)
        );
        let _ = write!(
            o,
            "# HELP validation_api_result_cache_entries Entries in the result cache.\n# TYPE validation_api_result_cache_entries gauge\nvalidation_api_result_cache_entries {result_entries}\n"
        );
        let _ = write!(
            o,
            "# HELP validation_api_config_reloads_total Config reloads by result.\n# TYPE validation_api_config_reloads_total counter\nvalidation_api_config_reloads_total{{result=\"ok\"}} {}\nvalidation_api_config_reloads_total{{result=\"rejected\"}} {}\n",
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed)
        );
        o.push_str("# HELP validation_api_crl_fetches_total CRL downloads by result.\n# TYPE validation_api_crl_fetches_total counter\n");
        if let Ok(m) = self.crl_fetches.lock() {
            for (r, n) in m.iter() {
                let _ = writeln!(o, "validation_api_crl_fetches_total{{result=\"{r}\"}} {n}");
            }
        }
        o.push_str("# HELP validation_api_ocsp_fetches_total OCSP fetches by result.\n# TYPE validation_api_ocsp_fetches_total counter\n");
        for (r, n) in self.ocsp_fetches.snapshot() {
            let _ = writeln!(o, "validation_api_ocsp_fetches_total{{result=\"{r}\"}} {n}");
        }
        o.push_str("# HELP validation_api_crl_stale_seconds Seconds past nextUpdate of the CRL held for a distribution point (0 while fresh; seconds since start of tracking when none is held).\n# TYPE validation_api_crl_stale_seconds gauge\n");
        o.push_str("# HELP validation_api_crl_last_success_timestamp_seconds Last successful fetch of a distribution point.\n# TYPE validation_api_crl_last_success_timestamp_seconds gauge\n");
        if let Ok(m) = self.crl_feeds.lock() {
            for (url, g) in m.iter() {
                let url = url.replace('\\', "\\\\").replace('"', "\\\"");
                let stale = if g.next_update == 0 {
                    now.saturating_sub(g.last_success)
                } else {
                    now.saturating_sub(g.next_update)
                };
                let _ = writeln!(
                    o,
                    "validation_api_crl_stale_seconds{{url=\"{url}\"}} {stale}"
                );
                let _ = writeln!(
                    o,
                    "validation_api_crl_last_success_timestamp_seconds{{url=\"{url}\"}} {}",
                    g.last_success
                );
                let _ = writeln!(
                    o,
                    "validation_api_crl_consecutive_failures{{url=\"{url}\"}} {}",
                    g.consecutive_failures
                );
            }
        }
        o.push_str("# HELP validation_api_crl_cache_stale_seconds Seconds since nextUpdate of each cached CRL passed (0 while current).\n# TYPE validation_api_crl_cache_stale_seconds gauge\n");
        for e in crls {
            let issuer = e.issuer.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                o,
                "validation_api_crl_cache_stale_seconds{{issuer=\"{issuer}\",number=\"{}\"}} {}",
                e.number, e.stale_seconds
            );
        }
        let _ = write!(
            o,
            "# HELP validation_api_crl_cache_entries CRLs held.\n# TYPE validation_api_crl_cache_entries gauge\nvalidation_api_crl_cache_entries {}\n",
            crls.len()
        );
        o.push_str("# HELP validation_api_request_duration_seconds Latency of validation requests.\n# TYPE validation_api_request_duration_seconds histogram\n");
        self.validate_latency.render(
            &mut o,
            "validation_api_request_duration_seconds",
            "route=\"/v1/validate\"",
        );
        self.batch_latency.render(
            &mut o,
            "validation_api_request_duration_seconds",
            "route=\"/v1/validate/batch\"",
        );
        o
    }
}
