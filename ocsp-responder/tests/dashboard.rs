//! The Grafana dashboard (`deploy/grafana/pki-services.json`) cannot drift
//! from the code: every series a panel's PromQL reads, and every label its
//! matchers name, is in the `/metrics` of a really running responder,
//! standalone updater and validation API, scraped here. Only `up` (which
//! Prometheus makes) and the labels Prometheus adds (`job`, `instance`)
//! come from elsewhere.
#![allow(clippy::unwrap_used)]

#[path = "../../validation-api/tests/support/mod.rs"]
mod api;
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use pki_core::ocsp::HashAlgorithm;
use serde_json::Value;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/grafana/pki-services.json"
);

/// Series that Prometheus itself makes for each target.
const FROM_PROMETHEUS: &[&str] = &["up"];
/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// One vector selector: the series name and the label names its matchers
/// use.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    metric: String,
    labels: Vec<String>,
}

/// Words of PromQL that are not series names: aggregation operators,
/// set and grouping keywords, literals.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The vector selectors of a PromQL expression (as Grafana stores it:
/// `$variables` are skipped). Function calls, keywords, label lists of
/// `by (...)` and the like, strings, numbers and `[range]`s are not
/// selectors.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let skip_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    // From an opening delimiter to just past its closing one, strings
    // skipped.
    let skip_group = |mut i: usize, close: char| {
        while i < chars.len() && chars[i] != close {
            if chars[i] == '"' || chars[i] == '\'' || chars[i] == '`' {
                let q = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != q {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    let mut out: Vec<Selector> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_group(i + 1, c);
        } else if c == '[' {
            i = skip_group(i + 1, ']');
        } else if c == '$' {
            // $var, ${var}, $__rate_interval
            i += 1;
            if chars.get(i) == Some(&'{') {
                i = skip_group(i + 1, '}');
            } else {
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (ident(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if ident(c) {
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_space(i);
            if LABEL_LISTS.contains(&word.as_str()) {
                if chars.get(next) == Some(&'(') {
                    i = skip_group(next + 1, ')');
                }
            } else if KEYWORDS.contains(&word.as_str()) || chars.get(next) == Some(&'(') {
                // an operator or a function call
            } else {
                let mut labels = Vec::new();
                if chars.get(next) == Some(&'{') {
                    let end = skip_group(next + 1, '}');
                    labels = matcher_labels(&chars[next + 1..end - 1].iter().collect::<String>());
                    i = end;
                }
                out.push(Selector {
                    metric: word,
                    labels,
                });
            }
        } else if c == '{' {
            panic!("a selector without a metric name in {expr:?}");
        } else {
            i += 1;
        }
    }
    out
}

/// The label names of `a="x", b=~"y|z"`.
fn matcher_labels(inside: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut rest = inside;
    loop {
        let rest_trimmed = rest.trim_start_matches([' ', ',', '\n', '\t']);
        let Some(op) = rest_trimmed.find(['=', '!']) else {
            break;
        };
        labels.push(rest_trimmed[..op].trim().to_owned());
        // Past the quoted value.
        let after = &rest_trimmed[op..];
        let Some(open) = after.find(['"', '\'', '`']) else {
            break;
        };
        let q = after.as_bytes()[open] as char;
        let mut j = open + 1;
        let bytes = after.as_bytes();
        while j < bytes.len() && bytes[j] as char != q {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        rest = after.get(j + 1..).unwrap_or("");
    }
    labels
}

/// Series names in an exposition, each with the label names its samples
/// carry. A family declared by `# TYPE` with no sample yet counts too
/// (a histogram with its `_bucket`, `_sum` and `_count`).
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            out.entry(name.to_owned()).or_default();
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    out.entry(format!("{name}{suffix}")).or_default();
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = out.entry(line[..name_end].to_owned()).or_default();
            if line[name_end..].starts_with('{') {
                let close = line.rfind('}').unwrap();
                labels.extend(matcher_labels(&line[name_end + 1..close]));
            }
        }
    }
    out
}

/// Every `(panel title, expression)` of the dashboard, rows' panels
/// included.
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("(untitled)").to_owned();
            if p["type"] != "row" {
                let targets = p["targets"].as_array().map_or(&[][..], Vec::as_slice);
                assert!(!targets.is_empty(), "panel {title:?} has no query");
                for t in targets {
                    let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{title}: {t}"));
                    out.push((title.clone(), expr.to_owned()));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

#[test]
fn selectors_are_the_series_an_expression_reads() {
    let s = selectors(
        r#"histogram_quantile(0.95, sum by (le, route) (rate(validation_api_request_duration_seconds_bucket{route="/v1/validate"}[$__rate_interval])))"#,
    );
    assert_eq!(
        s,
        [Selector {
            metric: "validation_api_request_duration_seconds_bucket".into(),
            labels: vec!["route".into()],
        }]
    );
    let s = selectors(
        r#"sum(rate(ocsp_requests_total{result=~"try_later|internal_error", instance=~"$instance"}[5m])) / on() group_left sum(rate(ocsp_requests_total[5m])) > bool 0.01"#,
    );
    assert_eq!(
        s.iter().map(|s| s.metric.as_str()).collect::<Vec<_>>(),
        ["ocsp_requests_total", "ocsp_requests_total"]
    );
    assert_eq!(s[0].labels, ["result", "instance"]);
    let s = selectors("min by (issuer) (ocsp_ca_certificate_expiry_seconds) / 86400 < 1e3");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].metric, "ocsp_ca_certificate_expiry_seconds");
    // A misspelt name is a selector like any other: the check below fails.
    assert_eq!(selectors("ocsp_reddy == 0")[0].metric, "ocsp_reddy");
}

#[test]
fn exposition_names_and_labels() {
    let e = exposed(
        "# HELP a_total A.\n# TYPE a_total counter\na_total{result=\"x\",method=\"GET\"} 1\n# TYPE h histogram\n# TYPE g gauge\ng 2\n",
    );
    assert_eq!(
        e["a_total"].iter().map(String::as_str).collect::<Vec<_>>(),
        ["method", "result"]
    );
    assert!(e.contains_key("h_bucket") && e.contains_key("h_count") && e.contains_key("g"));
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let r = http(addr, "GET", "/metrics", &[], &[]).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_reads_series_the_services_export() {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();

    // A responder that answered a request, the standalone updater, and the
    // validation API after one validation.
    let mut fx = Fixture::new("dashboard").await;
    let responder = fx.start(Fixture::settings()).await;
    let r = get_ocsp(responder, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert_eq!(r.status, 200);
    let (mut updater_child, updater) = spawn_updater(&write_config(&fx, ""));
    let pki = api::Pki::new(None);
    let server = api::Server::start(&pki, &api::config_text("")).await;
    let (status, _) = server.validate(&pki.request(&pki.good)).await;
    assert_eq!(status, 200);
    let (status, api_metrics) = server.client.get("/metrics", None).await;
    assert_eq!(status, 200);

    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut merge = |text: &str| {
        for (name, labels) in exposed(text) {
            series.entry(name).or_default().extend(labels);
        }
    };
    merge(&scrape(responder).await);
    let from_updater = scrape(updater).await;
    assert!(from_updater.contains("ocsp_updater_lease_held"));
    merge(&from_updater);
    merge(std::str::from_utf8(&api_metrics).unwrap());

    let exprs = expressions(&dashboard);
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    let mut problems = Vec::new();
    for (title, expr) in &exprs {
        let found = selectors(expr);
        if found.is_empty() {
            problems.push(format!("{title:?}: no series in {expr:?}"));
        }
        for s in found {
            let labels = if FROM_PROMETHEUS.contains(&s.metric.as_str()) {
                None
            } else if let Some(labels) = series.get(&s.metric) {
                Some(labels)
            } else {
                problems.push(format!(
                    "{title:?}: {} is in no service's /metrics",
                    s.metric
                ));
                continue;
            };
            for l in &s.labels {
                let known = TARGET_LABELS.contains(&l.as_str())
                    || labels.is_none_or(|labels| labels.contains(l));
                if !known {
                    problems.push(format!("{title:?}: {} has no label {l}", s.metric));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "deploy/grafana/pki-services.json does not match the services:\n{}",
        problems.join("\n")
    );

    // Every family the dashboard is about is read by some panel.
    let read: BTreeSet<String> = exprs
        .iter()
        .flat_map(|(_, e)| selectors(e))
        .map(|s| s.metric)
        .collect();
    for needed in [
        "ocsp_requests_total",
        "ocsp_request_duration_seconds_bucket",
        "ocsp_hsm_up",
        "ocsp_ready",
        "ocsp_replica_lag_seconds",
        "ocsp_updater_change_seq",
        "ocsp_updater_signed_changed_total",
        "ocsp_ca_certificate_expiry_seconds",
        "ocsp_responder_certificate_expiry_seconds",
        "validation_api_crl_next_update_seconds",
        "validation_api_verdicts_total",
        "validation_api_request_duration_seconds_bucket",
        "validation_api_ready",
    ] {
        assert!(read.contains(needed), "no panel reads {needed}");
    }

    assert!(std::process::Command::new("kill")
        .arg(updater_child.id().to_string())
        .status()
        .unwrap()
        .success());
    assert!(tokio::task::block_in_place(|| updater_child.wait())
        .unwrap()
        .success());
    fx.stop().await;
}
