//! OCSP for a hard-fail tier that names `ocsp`: responses fetched from the
//! leaf's AIA responder (a local responder on 127.0.0.1 signing with the
//! CA key through pki-core's response builder), verified, cached and used.

// Test server plumbing outside #[test] fns.
#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use pki_core::ocsp::{
    build_response, parse_request, CertStatus, RequestLimits, ResponderIdentity, SingleStatus,
};
use pki_core::revocation::RevocationReason;
use pki_core::testing::TestCa;
use serde_json::{json, Value};
use support::{b64, eventually, metric, Server};

/// Answers every request about `revoked_serial` as revoked, others good,
/// signed by `ca`; `forge` signs with another key instead.
struct Responder {
    ca: TestCa,
    impostor: TestCa,
    revoked_serial: Vec<u8>,
    forge: std::sync::atomic::AtomicBool,
    requests: AtomicUsize,
}

impl Responder {
    fn answer(&self, der: &[u8]) -> Vec<u8> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let req = parse_request(der, &RequestLimits::default()).unwrap();
        let now = SystemTime::now();
        let singles: Vec<SingleStatus> = req
            .certs
            .iter()
            .map(|c| SingleStatus {
                cert_id: c.cert_id.clone(),
                status: if c.cert_id.serial_number.as_bytes() == self.revoked_serial.as_slice() {
                    CertStatus::Revoked {
                        revoked_at: now - Duration::from_secs(60),
                        reason: Some(RevocationReason::KeyCompromise),
                    }
                } else {
                    CertStatus::Good
                },
                this_update: now - Duration::from_secs(5),
                next_update: Some(now + Duration::from_secs(3600)),
            })
            .collect();
        let key = if self.forge.load(Ordering::Relaxed) {
            self.impostor.key()
        } else {
            self.ca.key()
        };
        build_response(
            &ResponderIdentity::issuer_key(key),
            &singles,
            now - Duration::from_secs(5),
            req.nonce.as_deref(),
            key,
        )
        .unwrap()
    }
}

async fn start_responder(r: Arc<Responder>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let r = r.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let r = r.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let out = r.answer(&body);
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .header("content-type", "application/ocsp-response")
                                .body(Full::new(Bytes::from(out)))
                                .unwrap(),
                        )
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

fn code(v: &Value) -> &str {
    if v["valid"] == true {
        "valid"
    } else {
        v["error"]["code"].as_str().unwrap_or("")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_fail_tier_uses_fetched_ocsp_responses() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let pki = support::Pki::new(None);
    let ocsp_root = TestCa::root("CN=OCSP Root,C=MA");
    let leaf = |cn: &str| {
        let url = url.clone();
        ocsp_root.leaf(&format!("CN={cn},C=MA"), move |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
            t.ocsp_urls = vec![url];
        })
    };
    let good = leaf("Good Seal");
    let revoked = leaf("Revoked Seal");
    let forged = leaf("Forged Answer");
    let responder = Arc::new(Responder {
        ca: ocsp_root.clone(),
        impostor: TestCa::root("CN=OCSP Root,C=MA"),
        revoked_serial: revoked.serial().to_vec(),
        forge: std::sync::atomic::AtomicBool::new(false),
        requests: AtomicUsize::new(0),
    });
    tokio::spawn(start_responder(responder.clone(), listener));

    // The ttp tier checks OCSP only, hard-fail; its anchor is the OCSP root.
    let text = support::config_text("")
        .replace("anchors = [\"ttp-root.pem\"]\nrevocation = { methods = [\"crl\"], unavailable = \"hard-fail\" }",
                 "anchors = [\"ocsp-root.pem\"]\nrevocation = { methods = [\"ocsp\"], unavailable = \"hard-fail\" }");
    assert!(text.contains("ocsp-root.pem"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ocsp-root.pem"), ocsp_root.cert_pem()).unwrap();
    let s = Server::start_in(&pki, &text, dir).await;

    let body = |c: &TestCa| json!({"leaf": b64(c.cert_der())});
    // First answer: no response yet, hard-fail.
    let (_, v) = s.validate(&body(&good)).await;
    assert_eq!(code(&v), "revocation_status_unavailable", "{v}");
    eventually("OCSP response fetched", || {
        let s = &s;
        let b = body(&good);
        async move { code(&s.validate(&b).await.1) == "valid" }
    })
    .await;
    let (_, v) = s.validate(&body(&good)).await;
    assert_eq!(v["revocation"][0]["status"], "good", "{v}");
    assert_eq!(v["revocation"][0]["source"]["kind"], "ocsp", "{v}");
    assert_eq!(v["revocation"][0]["source"]["fresh"], true);

    // A revoked certificate: the responder says so, the API too.
    s.validate(&body(&revoked)).await;
    eventually("revocation from OCSP", || {
        let s = &s;
        let b = body(&revoked);
        async move { code(&s.validate(&b).await.1) == "revoked" }
    })
    .await;

    // A response signed by another key is refused and never used.
    responder.forge.store(true, Ordering::Relaxed);
    let (_, v) = s.validate(&body(&forged)).await;
    assert_eq!(code(&v), "revocation_status_unavailable");
    eventually("forged response rejected", || {
        let c = s.client.clone();
        async move {
            let text = String::from_utf8(c.get("/metrics", None).await.1.to_vec()).unwrap();
            metric(
                &text,
                "validation_api_ocsp_fetches_total{result=\"rejected\"}",
            ) >= 1
        }
    })
    .await;
    let (_, v) = s.validate(&body(&forged)).await;
    assert_eq!(code(&v), "revocation_status_unavailable", "{v}");
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert!(
        metric(
            &text,
            "validation_api_ocsp_fetches_total{result=\"stored\"}"
        ) >= 2
    );
}
