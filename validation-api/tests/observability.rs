//! Logs and readiness: `--log-format json|text` on the real binary, one
//! access line per request (401, 405 and 413 included) carrying the
//! request id echoed in `x-request-id`, and `/health` answering 503 while
//! a hard-fail tier's CRL is past its nextUpdate or max age.
// Process plumbing outside #[test] fns.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use support::{eventually, Pki, Server, TOKEN};

/// The binary running on a test config, its stderr read line by line.
struct Binary {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    seen: Vec<String>,
    http: support::Http,
    _dir: tempfile::TempDir,
}

impl Binary {
    fn start(pki: &Pki, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        pki.write(dir.path());
        let config = dir.path().join("api.toml");
        std::fs::write(&config, support::config_text("")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_validation-api"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut b = Self {
            child,
            lines,
            seen: Vec::new(),
            http: support::Http::new("127.0.0.1:1".parse().unwrap()),
            _dir: dir,
        };
        let line = b.wait_for("listening on ");
        let addr = line
            .rsplit("listening on ")
            .next()
            .unwrap()
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        b.http = support::Http::new(addr);
        b
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(l.clone());
                if l.contains(needle) {
                    return l;
                }
            }
        }
        panic!("binary never logged {needle:?}: {:#?}", self.seen);
    }

    /// SIGTERM, then every line it wrote.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        assert!(self.child.wait().unwrap().success());
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(l);
        }
        self.seen
    }
}

fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    let mut r = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Full::new(Bytes::from(body))).unwrap()
}

fn access_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "access" && l["request_id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "one access line for {id} in {lines:#?}");
    found[0]
}

#[test]
fn json_logs_have_an_access_line_per_request_with_the_echoed_id() {
    let pki = Pki::new(None);
    let bin = Binary::start(&pki, &["--log-format", "json"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let json_body = serde_json::to_vec(&pki.request(&pki.good)).unwrap();
    let auth = format!("Bearer {TOKEN}");
    let send = |req| rt.block_on(bin.http.send(req));
    let ct = ("content-type", "application/json");

    let (st, h, _) = send(request(
        Method::POST,
        "/v1/validate",
        &[ct, ("x-request-id", "broker-401")],
        json_body.clone(),
    ));
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(h["x-request-id"], "broker-401");
    let (st, h, _) = send(request(
        Method::POST,
        "/v1/validate",
        &[ct, ("authorization", &auth), ("x-request-id", "broker-200")],
        json_body,
    ));
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-request-id"], "broker-200");
    let revoked = serde_json::to_vec(&pki.request(&pki.revoked)).unwrap();
    let (st, _, _) = send(request(
        Method::POST,
        "/v1/validate",
        &[
            ct,
            ("authorization", &auth),
            ("x-request-id", "broker-revoked"),
        ],
        revoked,
    ));
    assert_eq!(st, StatusCode::OK);
    // Declared length over the cap: refused before the body is read, on a
    // raw socket (a client still writing the body could see the
    // connection closed under it).
    let head = rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(bin.http.addr())
            .await
            .unwrap();
        let head = format!(
            "POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nX-Request-Id: broker-413\r\n\
             Content-Length: 70000\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).into_owned()
    });
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("x-request-id: broker-413"), "{head}");
    let (st, h, _) = send(request(
        Method::GET,
        "/v1/validate",
        &[("authorization", &auth)],
        Vec::new(),
    ));
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    let made = h["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 24, "a generated id: {made}");

    let lines: Vec<Value> = bin
        .stop()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l:?}")))
        .collect();
    let line = access_line(&lines, "broker-401");
    assert_eq!(line["status"], 401);
    assert_eq!(line["result"], "unauthorized");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/v1/validate");
    assert!(line["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(line["latency_us"].is_u64());
    assert!(line["timestamp"].is_string());
    let line = access_line(&lines, "broker-200");
    assert_eq!(
        (line["status"].as_u64(), line["result"].as_str()),
        (Some(200), Some("valid"))
    );
    let line = access_line(&lines, "broker-revoked");
    assert_eq!(
        (line["status"].as_u64(), line["result"].as_str()),
        (Some(200), Some("revoked"))
    );
    let line = access_line(&lines, "broker-413");
    assert_eq!(
        (line["status"].as_u64(), line["result"].as_str()),
        (Some(413), Some("body_too_large"))
    );
    let line = access_line(&lines, &made);
    assert_eq!(
        (
            line["status"].as_u64(),
            line["method"].as_str(),
            line["result"].as_str()
        ),
        (Some(405), Some("GET"), Some("method_not_allowed"))
    );
    assert!(lines.iter().any(|l| l["message"] == "shutting down"));
}

#[test]
fn text_logs_carry_no_ansi_codes_off_a_terminal() {
    let pki = Pki::new(None);
    let bin = Binary::start(&pki, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (st, _, _) = rt.block_on(bin.http.send(request(
        Method::GET,
        "/v1/tiers",
        &[("x-request-id", "plain-1")],
        Vec::new(),
    )));
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let lines = bin.stop();
    let all = lines.join("\n");
    assert!(!all.contains('\u{1b}'), "ANSI codes in {all:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request_id=\"plain-1\"") && l.contains("status=401")),
        "{all}"
    );
}

/// The support config with the CNIE CRLs read from `ca-test.crl` and
/// `root-test.crl` (written by the test; `Pki::write` would overwrite
/// `ca.crl` and `root.crl`).
fn config_with_ca_crl(extra_revocation: &str) -> String {
    let text = support::config_text("").replace(
        "crls = [\"ca.crl\", \"root.crl\"]",
        "crls = [\"ca-test.crl\", \"root-test.crl\"]",
    );
    // The cnie tier is the first hard-fail tier in the file.
    text.replacen(
        "revocation = { methods = [\"crl\"], unavailable = \"hard-fail\" }",
        &format!(
            "revocation = {{ methods = [\"crl\"], unavailable = \"hard-fail\"{extra_revocation} }}"
        ),
        1,
    )
}

async fn health(s: &Server) -> (StatusCode, Value) {
    s.client.get_json("/health", None).await
}

/// Ready while the CNIE CA's CRL is current, 503 naming the tier and the CA
/// once its nextUpdate passes (validations fail closed meanwhile), ready
/// again when a current CRL is loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_crls_of_hard_fail_tiers() {
    let pki = Pki::new(None);
    let now = std::time::SystemTime::now();
    let short = pki.ca.crl(|t| {
        t.this_update = now - Duration::from_secs(1);
        t.next_update = Some(now + Duration::from_secs(3));
        t.crl_number = Some(5);
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca-test.crl"), &short).unwrap();
    std::fs::write(
        dir.path().join("root-test.crl"),
        pki.root.crl(|t| t.this_update = now),
    )
    .unwrap();
    let s = Server::start_in(&pki, &config_with_ca_crl(""), dir).await;

    let (st, v) = health(&s).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["reasons"], serde_json::json!([]));
    assert_eq!(s.validate(&pki.request(&pki.good)).await.1["valid"], true);

    eventually("503 once nextUpdate passed", || async {
        health(&s).await.0 == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let (_, v) = health(&s).await;
    assert_eq!(v["status"], "not_ready");
    let reason = v["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("\"cnie\"")
            && reason.contains("CN=Test CNIE CA")
            && reason.contains("nextUpdate"),
        "{reason}"
    );
    let (st, ready) = s.client.get_json("/health/ready", None).await;
    assert_eq!(
        (st, &ready["reasons"]),
        (StatusCode::SERVICE_UNAVAILABLE, &v["reasons"])
    );
    let (st, _) = s.client.get("/health/live", None).await;
    assert_eq!(st, StatusCode::OK, "alive all the same");
    let (_, verdict) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(
        verdict["error"]["code"], "revocation_status_unavailable",
        "{verdict}"
    );
    let (_, metrics) = s.client.get("/metrics", None).await;
    assert!(String::from_utf8_lossy(&metrics).contains("validation_api_ready 0\n"));

    let fresh = pki.ca.crl(|t| {
        t.this_update = std::time::SystemTime::now();
        t.crl_number = Some(6);
    });
    std::fs::write(s.dir.path().join("ca-test.crl"), &fresh).unwrap();
    let svc = s.svc.clone();
    tokio::task::spawn_blocking(move || svc.reload())
        .await
        .unwrap()
        .unwrap();
    let (st, v) = health(&s).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(s.validate(&pki.request(&pki.good)).await.1["valid"], true);
}

/// A CRL file that expired before the start is not loaded, and still makes
/// its hard-fail tier not ready; a CRL older than the tier's
/// max_age_seconds does too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_too_old_crl_files_are_not_ready() {
    let pki = Pki::new(None);
    let now = std::time::SystemTime::now();
    for (crl, extra, want) in [
        (
            pki.ca.crl(|t| {
                t.this_update = now - Duration::from_secs(7_200);
                t.next_update = Some(now - Duration::from_secs(3_600));
            }),
            "",
            "nextUpdate",
        ),
        (
            pki.ca
                .crl(|t| t.this_update = now - Duration::from_secs(7_200)),
            ", max_age_seconds = 3600",
            "over max_age_seconds 3600",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca-test.crl"), &crl).unwrap();
        std::fs::write(
            dir.path().join("root-test.crl"),
            pki.root.crl(|t| t.this_update = now),
        )
        .unwrap();
        let s = Server::start_in(&pki, &config_with_ca_crl(extra), dir).await;
        let (st, v) = health(&s).await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        let reasons = v["reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 1, "{v}");
        assert!(reasons[0].as_str().unwrap().contains(want), "{v}");
    }
}
