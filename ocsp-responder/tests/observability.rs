//! Logs: `--log-format json|text` on the binary, and one access line per
//! request (a 405 and a 413 included) whose request id is the one in the
//! response's `x-request-id` header.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use pki_core::ocsp::HashAlgorithm;
use serde_json::Value;

/// Log lines written by this test process, as the binary writes them to
/// stderr with `--log-format json`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's subscriber: the binary's JSON format into memory.
fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let w = logs.clone();
        assert!(service_kit::log::init(
            service_kit::LogFormat::Json,
            move || w.clone(),
            false,
            Some("info"),
        ));
        logs
    })
}

/// Every line parsed as JSON (a line that is not fails the test).
fn json_lines(logs: &Captured) -> Vec<Value> {
    let bytes = logs.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn access_line(lines: &[Value], id: &str) -> Value {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "access" && l["request_id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "one access line for {id}: {lines:#?}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_an_access_line_with_the_echoed_request_id() {
    let logs = captured();
    let mut fx = Fixture::new("access-log").await;
    let addr = fx.start(Fixture::settings()).await;
    let b64 = |der: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let get = format!("/{}", b64(&fx.request(&fx.good, HashAlgorithm::Sha1, None)));
    let ok = http(
        addr,
        "GET",
        &get,
        &[("X-Request-Id", "relying-party-42")],
        &[],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-request-id"), Some("relying-party-42"));
    let put = http(addr, "PUT", "/", &[("x-request-id", "put-1")], &[]).await;
    assert_eq!(
        (put.status, put.header("x-request-id")),
        (405, Some("put-1"))
    );
    let big = http(
        addr,
        "POST",
        "/",
        &[
            ("content-type", "application/ocsp-request"),
            ("x-request-id", "big-1"),
        ],
        &vec![0x30; 20_000],
    )
    .await;
    assert_eq!(big.status, 413);
    // No id, or one that is not sane: the responder makes one.
    let fresh = http(addr, "GET", "/health/ready", &[], &[]).await;
    let made = fresh.header("x-request-id").unwrap().to_owned();
    let odd = http(addr, "GET", "/nowhere", &[("x-request-id", "a b")], &[]).await;
    let replaced = odd.header("x-request-id").unwrap().to_owned();
    assert_ne!(replaced, "a b");
    fx.stop().await;

    let lines = json_lines(logs);
    let line = access_line(&lines, "relying-party-42");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 200);
    assert_eq!(line["result"], "cached");
    assert_eq!(line["path"].as_str(), Some(get.as_str()));
    assert!(line["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(line["latency_us"].is_u64());
    for (id, method, status, result) in [
        ("put-1", "PUT", 405, "method_not_allowed"),
        ("big-1", "POST", 413, "too_large"),
        (made.as_str(), "GET", 200, "-"),
        (replaced.as_str(), "GET", 200, "malformed_request"),
    ] {
        let line = access_line(&lines, id);
        assert_eq!(
            (
                line["method"].as_str(),
                line["status"].as_u64(),
                line["result"].as_str()
            ),
            (Some(method), Some(status), Some(result)),
            "{line}"
        );
    }
    // The responder's own lines are JSON too.
    assert!(lines
        .iter()
        .any(|l| l["message"] == "OCSP responder listening"));
}

fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary's lines: JSON objects with `--log-format json`, plain text
/// (no ANSI colours) when stderr is not a terminal.
#[test]
fn binary_log_formats() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let (code, stderr) = run_binary(&["--log-format", "json", "--config", missing]);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(message.contains("cannot read configuration"), "{message}");
    assert!(lines[0]["timestamp"].is_string());

    let (code, stderr) = run_binary(&["--config", missing]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("ERROR") && stderr.contains("cannot read configuration"));
    assert!(!stderr.contains('\u{1b}'), "ANSI codes in {stderr:?}");

    let (code, stderr) = run_binary(&["--log-format", "xml", "--config", missing]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("possible values: text, json"), "{stderr}");
}
