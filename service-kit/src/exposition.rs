//! The Prometheus text exposition format (version 0.0.4) that `/metrics`
//! answers in: `# HELP` and `# TYPE` lines per family, then
//! `name{label="value",...} number` samples.

use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// What a metric family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A metrics page being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self {
            out: String::with_capacity(4096),
        }
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(
            self.out,
            "# HELP {name} {help}\n# TYPE {name} {}",
            kind.as_str()
        );
        self
    }

    /// One sample; label values are escaped.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Display,
    ) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A counter family with one sample and no labels.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, Kind::Counter, help)
            .sample(name, &[], value)
    }

    /// A gauge family with one sample and no labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: impl Display) -> &mut Self {
        self.family(name, Kind::Gauge, help)
            .sample(name, &[], value)
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram (its
    /// family lines written before).
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) -> &mut Self {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += h.counts[i].load(Ordering::Relaxed);
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&bound.to_string()));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = write!(self.out, "{name}_bucket");
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {count}");
        let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count)
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels.iter().copied().chain(le.map(|b| ("le", b))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// Upper bounds of the latency histogram buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// A latency histogram over [`BUCKETS`].
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
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.counter("x_total", "Things.", 3);
        e.family("y", Kind::Gauge, "Per url.")
            .sample("y", &[("url", "http://a/\"b\"\\c")], 1.5);
        let h = Histogram::default();
        h.observe(Duration::from_micros(200));
        h.observe(Duration::from_secs(2));
        e.family("lat_seconds", Kind::Histogram, "Latency.")
            .histogram("lat_seconds", &[("route", "/v1")], &h);
        let text = e.into_string();
        assert!(text.starts_with("# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"));
        assert!(
            text.contains("y{url=\"http://a/\\\"b\\\"\\\\c\"} 1.5\n"),
            "{text}"
        );
        assert!(text.contains("lat_seconds_bucket{route=\"/v1\",le=\"0.0001\"} 0\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/v1\",le=\"0.00025\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/v1\",le=\"1\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{route=\"/v1\",le=\"+Inf\"} 2\n"));
        assert!(
            text.contains("lat_seconds_sum{route=\"/v1\"} 2.0002\n"),
            "{text}"
        );
        assert!(text.contains("lat_seconds_count{route=\"/v1\"} 2\n"));
    }
}
