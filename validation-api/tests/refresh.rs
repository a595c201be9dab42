//! The CRL refresher against a local HTTP server on 127.0.0.1: CDPs
//! learnt, conditional requests answered 304, a new CRL picked up (and the
//! result cache invalidated), a badly signed CRL never replacing a good
//! one, failures backed off and counted.

// Test server plumbing outside #[test] fns.
#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use pki_core::testing::TestCa;
use serde_json::Value;
use support::{eventually, metric, Pki, Server};

/// What the CRL server serves for a path: status, body, ETag.
#[derive(Clone)]
struct Doc {
    status: u16,
    body: Vec<u8>,
    etag: String,
}

#[derive(Default)]
struct CrlServer {
    docs: Mutex<std::collections::HashMap<String, Doc>>,
    /// (path, If-None-Match sent, status answered)
    log: Mutex<Vec<(String, Option<String>, u16)>>,
}

impl CrlServer {
    fn set(&self, path: &str, status: u16, body: Vec<u8>, etag: &str) {
        self.docs.lock().unwrap().insert(
            path.to_owned(),
            Doc {
                status,
                body,
                etag: etag.to_owned(),
            },
        );
    }

    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let inm = req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(ToOwned::to_owned);
        let doc = self.docs.lock().unwrap().get(&path).cloned();
        let (status, resp) = match doc {
            None => (404, Response::builder().status(404).body(Full::default())),
            Some(d) if d.status != 200 => (
                d.status,
                Response::builder().status(d.status).body(Full::default()),
            ),
            Some(d) if inm.as_deref() == Some(d.etag.as_str()) => (
                304,
                Response::builder()
                    .status(304)
                    .header("etag", &d.etag)
                    .body(Full::default()),
            ),
            Some(d) => (
                200,
                Response::builder()
                    .header("etag", &d.etag)
                    .header("content-type", "application/pkix-crl")
                    .body(Full::new(Bytes::from(d.body))),
            ),
        };
        self.log.lock().unwrap().push((path, inm, status));
        resp.unwrap()
    }

    fn count(&self, path: &str, status: u16, conditional: bool) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, inm, s)| p == path && *s == status && inm.is_some() == conditional)
            .count()
    }
}

async fn start_crl_server() -> (String, Arc<CrlServer>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(CrlServer::default());
    let s = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let r = s.answer(&req);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (base, state)
}

fn config(extra_tier_lines: &str) -> String {
    // CRLs only from the network; the CNIE CA is a configured intermediate
    // so its leaves' CDPs are followed even before any path validates.
    support::config_text("")
        .replace("crls = [\"ca.crl\", \"root.crl\"]\n", extra_tier_lines)
        .replace(
            "[crl_refresh]\nenabled = false",
            "[crl_refresh]\nenabled = true\nmin_interval_seconds = 0\nmax_interval_seconds = 1\nmax_backoff_seconds = 1\ntimeout_seconds = 5",
        )
}

fn code(v: &Value) -> &str {
    if v["valid"] == true {
        "valid"
    } else {
        v["error"]["code"].as_str().unwrap_or("")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresher_follows_cdps_with_conditional_requests() {
    let (base, crls) = start_crl_server().await;
    let pki = Pki::new(Some(&base));
    let now = SystemTime::now();
    let root_crl = pki.root.crl(|t| t.this_update = now);
    let empty_ca_crl = pki.ca.crl(|t| t.this_update = now);
    crls.set("/root.crl", 200, root_crl, "\"r1\"");
    crls.set("/ca.crl", 200, empty_ca_crl, "\"c1\"");

    let s = Server::start(&pki, &config("")).await;

    // The revoked citizen is not on the first CRL: valid once both CRLs
    // are in (hard-fail until then).
    eventually("both CRLs fetched, chain valid", || {
        let s = &s;
        let pki = &pki;
        async move { code(&s.validate(&pki.request(&pki.revoked)).await.1) == "valid" }
    })
    .await;
    let (_, v) = s.validate(&pki.request(&pki.revoked)).await;
    assert_eq!(v["revocation"][0]["status"], "good", "{v}");
    assert_eq!(v["revocation"][0]["source"]["kind"], "crl");

    // Later fetches are conditional and answered 304.
    eventually("a 304 for each CRL", || {
        let c = crls.clone();
        async move { c.count("/ca.crl", 304, true) >= 1 && c.count("/root.crl", 304, true) >= 1 }
    })
    .await;

    // A new CRL revoking the citizen replaces the old one, and the cached
    // valid verdict is not served any more.
    let rev = pki
        .revoked
        .revocation()
        .with_reason(pki_core::revocation::RevocationReason::KeyCompromise);
    let later = now;
    let revoking = pki.ca.crl(|t| {
        t.this_update = later;
        t.crl_number = Some(2);
        t.revoked.push(rev);
    });
    crls.set("/ca.crl", 200, revoking, "\"c2\"");
    eventually("revocation picked up", || {
        let s = &s;
        let pki = &pki;
        async move { code(&s.validate(&pki.request(&pki.revoked)).await.1) == "revoked" }
    })
    .await;

    // A CRL signed by another key (same issuer name, newer) is rejected,
    // the good one stays.
    let impostor = TestCa::root("CN=Test CNIE CA,O=Kingdom of Morocco,C=MA");
    let forged = impostor.crl(|t| {
        t.this_update = later;
        t.crl_number = Some(3);
    });
    crls.set("/ca.crl", 200, forged, "\"c3\"");
    eventually("forged CRL rejected", || {
        let c = s.client.clone();
        async move {
            let text = String::from_utf8(c.get("/metrics", None).await.1.to_vec()).unwrap();
            metric(
                &text,
                "validation_api_crl_fetches_total{result=\"rejected\"}",
            ) >= 1
        }
    })
    .await;
    assert_eq!(
        code(&s.validate(&pki.request(&pki.revoked)).await.1),
        "revoked"
    );
    assert_eq!(code(&s.validate(&pki.request(&pki.good)).await.1), "valid");

    // Server errors: counted, retried with backoff, CRL kept.
    crls.set("/ca.crl", 500, Vec::new(), "");
    let url = format!("{base}/ca.crl");
    eventually("failures counted", || {
        let c = s.client.clone();
        let url = url.clone();
        async move {
            let text = String::from_utf8(c.get("/metrics", None).await.1.to_vec()).unwrap();
            metric(
                &text,
                &format!("validation_api_crl_consecutive_failures{{url=\"{url}\"}}"),
            ) >= 2
        }
    })
    .await;
    assert_eq!(
        code(&s.validate(&pki.request(&pki.revoked)).await.1),
        "revoked"
    );
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert!(
        text.contains(&format!(
            "validation_api_crl_stale_seconds{{url=\"{url}\"}} 0"
        )),
        "{text}"
    );
}

/// Hard-fail tier, CRL server down from the start: the path is refused
/// with revocation_status_unavailable naming the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cdp_under_hard_fail() {
    let (base, crls) = start_crl_server().await;
    let pki = Pki::new(Some(&base));
    crls.set("/root.crl", 503, Vec::new(), "");
    crls.set("/ca.crl", 503, Vec::new(), "");
    let s = Server::start(&pki, &config("")).await;
    let (_, v) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(code(&v), "revocation_status_unavailable", "{v}");
    eventually("both CDPs tried", || {
        let c = crls.clone();
        async move { c.count("/ca.crl", 503, false) >= 1 && c.count("/root.crl", 503, false) >= 1 }
    })
    .await;
    let (_, v) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(code(&v), "revocation_status_unavailable", "{v}");
}

/// A reload starts from an empty verdict cache (a verdict reached under
/// the old trust anchors is never served under the new ones) and
/// registers the CRL feeds the new configuration names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_drops_cached_verdicts_and_registers_new_feeds() {
    let pki = Pki::new(None);
    // No file watching: only the explicit reload below reloads.
    let text = support::config_text("").replace("watch_seconds = 0.1", "watch_seconds = 0");
    let s = Server::start(&pki, &text).await;
    for _ in 0..2 {
        let (_, v) = s.validate(&pki.request(&pki.good)).await;
        assert_eq!(code(&v), "valid", "{v}");
    }
    assert_eq!(s.svc.snapshot().results.len(), 1, "the verdict is cached");
    let extra = "http://127.0.0.1:9/extra.crl";
    assert!(s.svc.feeds().iter().all(|f| f.url != extra));

    // The CNIE tier goes; a CRL URL comes.
    let start = text.find("[[tiers]]\nname = \"cnie\"").unwrap();
    let end = text.find("[[tiers]]\nname = \"simple\"").unwrap();
    let new = format!("{}{}", &text[..start], &text[end..]).replace(
        "[crl_refresh]\nenabled = false",
        &format!("[crl_refresh]\nenabled = false\nurls = [\"{extra}\"]"),
    );
    std::fs::write(&s.config_path, new).unwrap();
    assert_eq!(s.svc.reload().unwrap(), 2);

    assert!(s.svc.snapshot().results.is_empty());
    let (_, v) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(
        code(&v),
        "issuer_not_found",
        "a cached verdict survived: {v}"
    );
    assert!(
        s.svc.feeds().iter().any(|f| f.url == extra),
        "{:?}",
        s.svc.feeds().iter().map(|f| &f.url).collect::<Vec<_>>()
    );
}
