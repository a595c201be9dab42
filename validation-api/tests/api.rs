//! The HTTP API end to end: the real server on 127.0.0.1, real chains from
//! the pki-core test CA.

mod support;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{b64, eventually, metric, Pki, Server, OTHER_TOKEN, TOKEN};

async fn server() -> (Pki, Server) {
    let pki = Pki::new(None);
    let s = Server::start(&pki, &support::config_text("")).await;
    (pki, s)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_chain_reports_tier_level_path_and_revocation() {
    let (pki, s) = server().await;
    let (st, h, v) = s
        .client
        .post_json("/v1/validate", Some(TOKEN), &pki.request(&pki.good))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["tier"], "cnie");
    assert_eq!(v["level"], "high");
    let path = v["path"].as_array().unwrap();
    assert_eq!(path.len(), 3);
    assert_eq!(path[0]["subject"], "CN=Amina Good,C=MA");
    assert_eq!(
        path[0]["sha256"],
        support::hex(&pki_core::cert::sha256(pki.good.cert_der()))
    );
    assert_eq!(
        path[2]["sha256"],
        support::hex(&pki_core::cert::sha256(pki.root.cert_der()))
    );
    let rev = v["revocation"].as_array().unwrap();
    assert_eq!(rev.len(), 2, "leaf and CA, not the anchor");
    for r in rev {
        assert_eq!(r["status"], "good");
        assert_eq!(r["source"]["kind"], "crl");
        assert_eq!(r["source"]["fresh"], true);
        assert!(r["source"]["age_seconds"].as_u64().unwrap() > 0);
    }
    assert_eq!(
        rev[0]["source"]["sha256"],
        support::hex(&pki_core::cert::sha256(&pki.ca_crl))
    );
    assert_eq!(v["valid_policies"], json!([support::CNIE_POLICY]));
    assert_eq!(h["x-result-cache"], "miss");

    // The same request again comes from the result cache, same answer.
    let (st, h, v2) = s
        .client
        .post_json("/v1/validate", Some(TOKEN), &pki.request(&pki.good))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["x-result-cache"], "hit");
    assert_eq!(v2["path"], v["path"]);

    // With `at`, never cached; in another encoding (PEM), a miss but the
    // same answer.
    let mut at = pki.request(&pki.good);
    at["at"] = json!("2030-01-01T00:00:00Z");
    for _ in 0..2 {
        let (_, h, v3) = s.client.post_json("/v1/validate", Some(TOKEN), &at).await;
        assert_eq!(h["x-result-cache"], "miss");
        assert_eq!(v3["validated_at"], "2030-01-01T00:00:00Z");
    }
    let pem = json!({"leaf": pki.good.cert_pem(), "intermediates": [b64(pki.ca.cert_der())]});
    let (_, h, v4) = s.client.post_json("/v1/validate", Some(TOKEN), &pem).await;
    assert_eq!(h["x-result-cache"], "miss");
    assert_eq!(v4["path"], v["path"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_input_is_accepted() {
    let (pki, s) = server().await;
    let body = json!({"leaf": pki.good.cert_pem(), "intermediates": [pki.ca.cert_pem()], "purpose": "client-auth"});
    let (st, v) = s.validate(&body).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["valid"], true, "{v}");
}

/// Every verdict error code the API can produce for a well-formed request,
/// with the certificate it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verdict_error_code() {
    let (pki, s) = server().await;
    let ca = b64(pki.ca.cert_der());
    let cases: Vec<(&str, Value, Option<usize>)> = vec![
        ("revoked", pki.request(&pki.revoked), Some(0)),
        (
            "issuer_not_found",
            json!({"leaf": b64(pki.foreign.cert_der())}),
            Some(0),
        ),
        ("expired", pki.request(&pki.expired), Some(0)),
        ("signature_invalid", pki.request(&pki.bad_sig), Some(0)),
        (
            "not_yet_valid",
            json!({"leaf": b64(pki.good.cert_der()), "intermediates": [ca], "at": "2019-06-01T00:00:00Z"}),
            Some(0),
        ),
        (
            "assurance_level_too_low",
            json!({"leaf": b64(pki.simple.cert_der()), "required_level": "substantial"}),
            None,
        ),
        ("no_assurance_policy", pki.request(&pki.no_policy), None),
        (
            "peer_name_mismatch",
            json!({"leaf": b64(pki.good.cert_der()), "intermediates": [ca], "peer_name": "someone.else@cnie.example.ma"}),
            Some(0),
        ),
        (
            "extended_key_usage_not_allowed",
            json!({"leaf": b64(pki.good.cert_der()), "intermediates": [ca], "purpose": "codeSigning"}),
            Some(0),
        ),
        (
            "revocation_status_unavailable",
            json!({"leaf": b64(pki.ttp.cert_der())}),
            Some(0),
        ),
    ];
    for (want, body, index) in cases {
        let (st, v) = s.validate(&body).await;
        assert_eq!(st, StatusCode::OK, "{want}: {v}");
        assert_eq!(v["valid"], false, "{want}: {v}");
        assert_eq!(code(&v), want, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.is_empty());
        if let Some(i) = index {
            assert_eq!(v["error"]["certificate"]["index"], i, "{want}: {v}");
            let subject = v["error"]["certificate"]["subject"].as_str().unwrap();
            assert!(
                msg.contains(subject),
                "{want}: message names {subject}: {msg}"
            );
        }
        let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
        assert!(
            metric(
                &text,
                &format!("validation_api_verdicts_total{{outcome=\"{want}\"}}")
            ) >= 1,
            "{want} counted"
        );
    }
    // The revoked leaf's status says why and when.
    let (_, v) = s.validate(&pki.request(&pki.revoked)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keyCompromise"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_fail_and_unchecked_tiers() {
    let (pki, s) = server().await;
    // simple: no revocation checking, level low.
    let (st, v) = s
        .validate(&json!({"leaf": b64(pki.simple.cert_der())}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["tier"], "simple");
    assert_eq!(v["level"], "low");
    assert_eq!(v["revocation"], json!([]));
    // required_level below the tier's is fine.
    let (_, v) = s
        .validate(&json!({"leaf": b64(pki.simple.cert_der()), "required_level": "low"}))
        .await;
    assert_eq!(v["valid"], true, "{v}");
}

/// Malformed requests: 400/413/415 with a JSON error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors() {
    let (pki, s) = server().await;
    let c = &s.client;
    let post = |body: Vec<u8>, ct: Option<&'static str>| {
        let c = c.clone();
        async move {
            let (st, _, b) = c
                .raw(Method::POST, "/v1/validate", Some(TOKEN), ct, body)
                .await;
            (
                st,
                serde_json::from_slice::<Value>(&b).expect("JSON error body"),
            )
        }
    };
    let j = |v: Value| serde_json::to_vec(&v).unwrap();
    let cases: Vec<(StatusCode, &str, Vec<u8>, Option<&'static str>)> = vec![
        (
            StatusCode::BAD_REQUEST,
            "bad_json",
            b"{not json".to_vec(),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_json",
            j(json!({"leaf": "x", "surprise": 1})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_json",
            j(json!({"intermediates": []})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_encoding",
            j(json!({"leaf": "!!not base64!!"})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_der",
            j(json!({"leaf": b64(&[0x30, 0x03, 0x02, 0x01])})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_pem",
            j(json!({"leaf": "-----BEGIN CERTIFICATE-----\nAAAA\n"})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_der",
            j(json!({"leaf": b64(pki.good.cert_der()), "intermediates": [b64(b"\x30\x00")]})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_field",
            j(json!({"leaf": b64(pki.good.cert_der()), "purpose": "flying"})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_field",
            j(json!({"leaf": b64(pki.good.cert_der()), "at": "yesterday"})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_field",
            j(json!({"leaf": b64(pki.good.cert_der()), "required_level": "extreme"})),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "bad_field",
            j(
                json!({"leaf": b64(pki.good.cert_der()), "policy": {"initial_policy_set": ["not.an.oid"]}}),
            ),
            Some("application/json"),
        ),
        (
            StatusCode::BAD_REQUEST,
            "too_many_intermediates",
            j(
                json!({"leaf": b64(pki.good.cert_der()), "intermediates": vec![b64(pki.ca.cert_der()); 33]}),
            ),
            Some("application/json"),
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            j(pki.request(&pki.good)),
            Some("text/plain"),
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            j(pki.request(&pki.good)),
            None,
        ),
    ];
    for (status, want, body, ct) in cases {
        let (st, v) = post(body, ct).await;
        assert_eq!(st, status, "{want}: {v}");
        assert_eq!(code(&v), want, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // Declared length over the cap: refused before the body is read (raw
    // socket: a client still writing the body may see the connection
    // closed under it, which is the point).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let head = format!("POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tcp.read_to_end(&mut buf),
        )
        .await;
        let text = String::from_utf8_lossy(&buf);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(text.contains("\"code\":\"body_too_large\""), "{text}");
    }
    // Field named for intermediates.
    let (_, v) = post(
        j(json!({"leaf": b64(pki.good.cert_der()), "intermediates": [b64(pki.ca.cert_der()), b64(b"\x30\x00")]})),
        Some("application/json"),
    )
    .await;
    assert_eq!(v["error"]["field"], "intermediates[1]");
    // Unknown route: JSON 404.
    let (st, v) = c.get_json("/v2/nothing", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(code(&v), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_too_large_without_content_length() {
    // A chunked body over the cap is cut off while streaming.
    let (_pki, s) = server().await;
    // Nine 8 KiB chunks pass the 64 KiB cap; the sender then stays open
    // and idle, so the client is reading, not writing, when the 413 comes.
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    for _ in 0..9 {
        let frame = hyper::body::Frame::data(bytes::Bytes::from(vec![b' '; 8192]));
        tx.send(Ok(frame)).await.unwrap();
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = http::Request::post(format!("http://{}/v1/validate", s.addr))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(ChannelBody(rx))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    drop(tx);
}

struct ChannelBody(
    tokio::sync::mpsc::Receiver<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>,
);

impl hyper::body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        self.0.poll_recv(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_401_and_counted() {
    let (pki, s) = server().await;
    let body = pki.request(&pki.good);
    for token in [None, Some("wrong-token"), Some("")] {
        let (st, h, v) = s.client.post_json("/v1/validate", token, &body).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(code(&v), "unauthorized");
        assert_eq!(h["www-authenticate"], "Bearer");
    }
    let (st, _) = s.client.get("/v1/tiers", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Both configured clients get in.
    for t in [TOKEN, OTHER_TOKEN] {
        let (st, _, v) = s.client.post_json("/v1/validate", Some(t), &body).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    // /health, /metrics and /openapi.json are open.
    assert_eq!(s.client.get("/health", None).await.0, StatusCode::OK);
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert_eq!(
        metric(&text, "validation_api_unauthorized_total"),
        4,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "validation_api_requests_total{route=\"/v1/validate\",status=\"401\"}"
        ) >= 3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_results_keep_request_order() {
    let (pki, s) = server().await;
    let leaves = [
        &pki.good,
        &pki.revoked,
        &pki.expired,
        &pki.foreign,
        &pki.simple,
    ];
    let mut items: Vec<Value> = Vec::new();
    let mut want: Vec<&str> = Vec::new();
    for i in 0..40 {
        let leaf = leaves[i % leaves.len()];
        items.push(pki.request(leaf));
        want.push(match i % leaves.len() {
            0 | 4 => "valid",
            1 => "revoked",
            2 => "expired",
            _ => "issuer_not_found",
        });
    }
    items.insert(7, json!({"leaf": "%%%"}));
    want.insert(7, "bad_encoding");
    let (st, _, v) = s
        .client
        .post_json(
            "/v1/validate/batch",
            Some(TOKEN),
            &json!({ "items": items }),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), want.len());
    for (i, (r, w)) in results.iter().zip(&want).enumerate() {
        let got = if r["valid"] == true { "valid" } else { code(r) };
        assert_eq!(got, *w, "item {i}: {r}");
    }
    assert_eq!(results[7]["status"], 400);
    assert_eq!(results[0]["path"][0]["subject"], "CN=Amina Good,C=MA");
    assert_eq!(results[4]["tier"], "simple");

    // Over the configured maximum (50): 413.
    let many: Vec<Value> = (0..51).map(|_| pki.request(&pki.good)).collect();
    let (st, _, v) = s
        .client
        .post_json("/v1/validate/batch", Some(TOKEN), &json!({ "items": many }))
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&v), "batch_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiers_health_and_metrics() {
    let (pki, s) = server().await;
    let (st, v) = s.client.get_json("/v1/tiers", Some(TOKEN)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["generation"], 1);
    let tiers = v["tiers"].as_array().unwrap();
    let names: Vec<&str> = tiers.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cnie", "simple", "ttp"]);
    assert_eq!(tiers[0]["level"], "high");
    assert_eq!(tiers[0]["policy_levels"][support::CNIE_POLICY], "high");
    assert_eq!(tiers[0]["revocation"]["unavailable"], "hard-fail");
    assert_eq!(
        tiers[0]["anchors"][0]["sha256"],
        support::hex(&pki_core::cert::sha256(pki.root.cert_der()))
    );
    let (st, v) = s.client.get_json("/health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "ok");

    for _ in 0..3 {
        s.validate(&pki.request(&pki.good)).await;
    }
    let (st, body) = s.client.get("/metrics", None).await;
    assert_eq!(st, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(
        metric(&text, "validation_api_result_cache_hits_total"),
        2,
        "{text}"
    );
    assert_eq!(metric(&text, "validation_api_result_cache_misses_total"), 1);
    assert_eq!(
        metric(&text, "validation_api_verdicts_total{outcome=\"valid\"}"),
        3
    );
    assert_eq!(
        metric(
            &text,
            "validation_api_request_duration_seconds_count{route=\"/v1/validate\"}"
        ),
        3
    );
    assert!(metric(&text, "validation_api_edge_cache_misses_total") >= 1);
    assert_eq!(
        metric(
            &text,
            "validation_api_requests_total{route=\"/v1/validate\",status=\"200\"}"
        ),
        3
    );
    assert!(text.contains("validation_api_cache_hit_ratio{cache=\"result\"}"));
    assert_eq!(
        metric(&text, "validation_api_crl_cache_entries"),
        2,
        "{text}"
    );
    assert!(text.contains("validation_api_crl_cache_stale_seconds{issuer=\"CN=Test CNIE CA,O=Kingdom of Morocco,C=MA\",number=\"01\"} 0"), "{text}");
    // Seconds until the CA's CRL's nextUpdate (the test CA's notAfter).
    let left = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("validation_api_crl_next_update_seconds{issuer=\"CN=Test CNIE CA,O=Kingdom of Morocco,C=MA\",number=\"01\"} ")
        })
        .unwrap_or_else(|| panic!("no nextUpdate gauge in {text}"))
        .parse::<i64>()
        .unwrap();
    let next_update = pki_core::crl::Crl::from_der(&pki.ca_crl)
        .unwrap()
        .next_update()
        .unwrap();
    let expected = next_update.0 - pki_core::UnixTime::now().0;
    assert!((left - expected).abs() <= 5, "{left} vs {expected}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_their_own_answers() {
    let (pki, s) = server().await;
    let pki = std::sync::Arc::new(pki);
    let mut tasks = Vec::new();
    for t in 0..16 {
        let c = s.client.clone();
        let pki = pki.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let (leaf, want) = match (t + i) % 3 {
                    0 => (&pki.good, "valid"),
                    1 => (&pki.revoked, "revoked"),
                    _ => (&pki.foreign, "issuer_not_found"),
                };
                let (st, _, v) = c
                    .post_json("/v1/validate", Some(TOKEN), &pki.request(leaf))
                    .await;
                assert_eq!(st, StatusCode::OK);
                let got = if v["valid"] == true {
                    "valid"
                } else {
                    code(&v)
                };
                assert_eq!(got, want, "{v}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert_eq!(
        metric(
            &text,
            "validation_api_requests_total{route=\"/v1/validate\",status=\"200\"}"
        ),
        240
    );
}

/// Reload on file change: a good new config is swapped in, a bad one is
/// rejected and the old one keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_old_config_on_error() {
    let (pki, s) = server().await;
    let tiers = |c: support::Http| async move { c.get_json("/v1/tiers", Some(TOKEN)).await.1 };
    // A good change: drop the simple tier.
    let good = support::config_text("").replace(
        "[[tiers]]\nname = \"simple\"\nlevel = \"low\"\nanchors = [\"simple-root.pem\"]\nrevocation = { methods = [], unavailable = \"soft-fail\" }\n",
        "",
    );
    assert_ne!(good, support::config_text(""));
    std::fs::write(&s.config_path, &good).unwrap();
    eventually("generation 2", || {
        let c = s.client.clone();
        async move { tiers(c).await["generation"] == 2 }
    })
    .await;
    let (_, v) = s
        .validate(&json!({"leaf": b64(pki.simple.cert_der())}))
        .await;
    assert_eq!(code(&v), "issuer_not_found", "simple tier gone: {v}");

    // Bad changes: each rejected, generation stays 2, service still answers.
    let bad = [
        good.replace("batch_max = 50", "batch_max = 50\nbogus_key = 1"),
        good.replace(
            "anchors = [\"ttp-root.pem\"]",
            "anchors = [\"missing.pem\"]",
        ),
        good.clone()
            + "\n[[tiers]]\nname = \"cnie\"\nlevel = \"low\"\nanchors = [\"ttp-root.pem\"]\n",
    ];
    for (i, b) in bad.iter().enumerate() {
        std::fs::write(&s.config_path, b).unwrap();
        let want = (i + 1) as u64;
        eventually("reload rejected", || {
            let c = s.client.clone();
            async move {
                let text = String::from_utf8(c.get("/metrics", None).await.1.to_vec()).unwrap();
                metric(
                    &text,
                    "validation_api_config_reloads_total{result=\"rejected\"}",
                ) >= want
            }
        })
        .await;
        assert_eq!(tiers(s.client.clone()).await["generation"], 2);
        let (st, v) = s.validate(&pki.request(&pki.good)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["valid"], true, "{v}");
    }
    // Direct reload reports the reason.
    let err = s.svc.reload().unwrap_err().to_string();
    assert!(err.contains("tier \"cnie\" is defined twice"), "{err}");
}

/// Requests in flight during a reload finish; none is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_drops_nothing() {
    let (pki, s) = server().await;
    let pki = std::sync::Arc::new(pki);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = s.client.clone();
        let pki = pki.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000 {
                let (st, _, v) = c
                    .post_json("/v1/validate", Some(TOKEN), &pki.request(&pki.good))
                    .await;
                assert_eq!(st, StatusCode::OK);
                assert_eq!(v["valid"], true, "{v}");
                n += 1;
            }
            n
        }));
    }
    for g in 2..=6u64 {
        s.svc.reload().expect("reload");
        assert_eq!(s.svc.snapshot().generation, g);
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        assert!(t.await.unwrap() > 0);
    }
}

/// Every route of the router is described in /openapi.json, every $ref
/// resolves, and the document is OpenAPI 3.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_endpoint() {
    let (_pki, s) = server().await;
    let (st, doc) = s.client.get_json("/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["info"]["title"].is_string());
    for (path, method) in [
        ("/v1/validate", "post"),
        ("/v1/validate/batch", "post"),
        ("/v1/tiers", "get"),
        ("/health", "get"),
        ("/health/ready", "get"),
        ("/health/live", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} described");
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} has 200"
        );
        // And the route really exists (not 404) on the server.
        let m = if method == "post" {
            Method::POST
        } else {
            Method::GET
        };
        let (st, _, _) = s
            .client
            .raw(
                m,
                path,
                Some(TOKEN),
                Some("application/json"),
                b"{}".to_vec(),
            )
            .await;
        assert_ne!(st, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        doc["paths"].as_object().unwrap().len(),
        8,
        "no undocumented extra"
    );
    for code in ["400", "401", "413", "415"] {
        assert!(
            doc["paths"]["/v1/validate"]["post"]["responses"][code].is_object(),
            "{code}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "ValidateRequest",
        "Verdict",
        "BatchResponse",
        "TiersResponse",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(s), "{s}");
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect("local ref");
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// Error codes are enums in /openapi.json: the refused-request codes
/// (`ErrorDetail.code`, every code docs/api.md lists) and the verdict and
/// finding codes (pki-core's `Error::code()`, read from its source so a
/// new code there cannot be missed here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_error_codes_are_enums() {
    let (_pki, s) = server().await;
    let (_, doc) = s.client.get_json("/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("an enum: {v}"))
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        schemas["ErrorDetail"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let api_codes = strings(&schemas["ErrorCode"]["enum"]);
    for c in [
        "bad_json",
        "bad_encoding",
        "bad_der",
        "bad_pem",
        "too_large",
        "bad_field",
        "too_many_intermediates",
        "unauthorized",
        "body_too_large",
        "batch_too_large",
        "body_timeout",
        "unsupported_media_type",
        "too_many_requests",
        "not_found",
        "method_not_allowed",
        "internal",
    ] {
        assert!(api_codes.iter().any(|x| x == c), "{c} in {api_codes:?}");
    }
    for (schema, field) in [("VerdictError", "code"), ("FindingInfo", "code")] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], "#/components/schemas/VerdictCode",
            "{schema}.{field}"
        );
    }
    let mut verdict_codes = strings(&schemas["VerdictCode"]["enum"]);
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pki-core/src/error.rs"
    ))
    .unwrap();
    let body = &source[source.find("pub fn code(&self)").unwrap()..];
    let body = &body[..body.find("\n    }\n").unwrap()];
    let mut core_codes: Vec<String> = body
        .split("=> \"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect();
    assert!(core_codes.len() > 30, "{core_codes:?}");
    verdict_codes.sort();
    core_codes.sort();
    assert_eq!(verdict_codes, core_codes, "VERDICT_CODES against pki-core");
}

/// A method the path does not have: 405 with the JSON error body and the
/// methods it has in `Allow`, before authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_not_allowed_has_the_json_error_body() {
    let (_pki, s) = server().await;
    for (method, path, token, allow) in [
        (Method::GET, "/v1/validate", Some(TOKEN), "POST"),
        (Method::GET, "/v1/validate", None, "POST"),
        (Method::PUT, "/v1/validate/batch", Some(TOKEN), "POST"),
        (Method::DELETE, "/v1/tiers", Some(TOKEN), "GET"),
        (Method::POST, "/health", None, "GET"),
    ] {
        let (st, h, body) = s
            .client
            .raw(method.clone(), path, token, None, Vec::new())
            .await;
        assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(h["content-type"], "application/json", "{method} {path}");
        assert!(
            h["allow"].to_str().unwrap().contains(allow),
            "{method} {path}: {:?}",
            h["allow"]
        );
        let v: Value = serde_json::from_slice(&body).expect("JSON error body");
        assert_eq!(code(&v), "method_not_allowed", "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(path), "{message}");
    }
    let (_, metrics) = s.client.get("/metrics", None).await;
    let text = String::from_utf8(metrics.to_vec()).unwrap();
    assert_eq!(
        metric(
            &text,
            "validation_api_requests_total{route=\"/v1/validate\",status=\"405\"}"
        ),
        2,
        "{text}"
    );
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Reads from `tcp` until the end of a response head (`\r\n\r\n`) and
/// returns it. The server sends nothing after a `100 Continue` head until
/// the body arrives, so nothing past the head is consumed.
async fn read_head(tcp: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        // A hang guard, not a timed assertion.
        let n = tokio::time::timeout(std::time::Duration::from_secs(60), tcp.read(&mut buf))
            .await
            .expect("response head within 60 s")
            .expect("read");
        assert!(
            n > 0,
            "connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(head).expect("ASCII head")
}

/// Sends the head of a `/v1/validate` request of `len` body bytes with
/// `Expect: 100-continue` and holds the body back. hyper answers
/// `100 Continue` only when the handler starts reading the body, which is
/// after the request took its client's slot: once this returns, the slot
/// is held for certain, until the body is sent.
async fn hold_slot(addr: std::net::SocketAddr, token: &str, len: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("send the head");
    let answer = read_head(&mut tcp).await;
    assert!(
        answer.starts_with("HTTP/1.1 100 "),
        "slot taken and body awaited, got {answer:?}"
    );
    tcp
}

/// A client over its `max_concurrent` (4 for "bank") gets 429 while its
/// slots are held by requests whose bodies are still arriving; other
/// clients are not affected, and the slots come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_concurrency_limit_is_429() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new(None);
    // The held requests wait for their bodies well past any scheduling
    // delay of a busy machine.
    let s = Server::start(&pki, &support::config_text("body_timeout_seconds = 600")).await;
    let body = pki.request(&pki.good);
    let json = serde_json::to_vec(&body).unwrap();
    let in_flight = |text: &str, client: &str| {
        metric(
            text,
            &format!("validation_api_client_in_flight{{client=\"{client}\"}}"),
        )
    };
    // The bank's four slots, each held for certain (no polling, no race
    // with the probe below).
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(hold_slot(s.addr, OTHER_TOKEN, json.len()).await);
    }
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert_eq!(in_flight(&text, "bank"), 4, "{text}");
    assert_eq!(
        metric(
            &text,
            "validation_api_client_max_concurrent{client=\"bank\"}"
        ),
        4
    );

    // A fifth concurrent request of the bank is refused at once.
    let (st, _, v) = s
        .client
        .post_json("/v1/validate", Some(OTHER_TOKEN), &body)
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(code(&v), "too_many_requests");
    let (st, _, _) = s.client.post_json("/v1/validate", Some(TOKEN), &body).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the broker is not limited by the bank's slots"
    );
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert_eq!(
        metric(&text, "validation_api_concurrency_rejected_total"),
        1
    );
    assert_eq!(in_flight(&text, "bank"), 4, "the refusal took no slot");
    assert_eq!(in_flight(&text, "broker"), 0);

    // Finish the held requests: their bodies arrive, they are answered.
    for mut tcp in held {
        tcp.write_all(&json).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            tcp.read_to_end(&mut answer),
        )
        .await
        .expect("answer within 60 s")
        .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }
    // Each slot was given back before its answer was written.
    let text = String::from_utf8(s.client.get("/metrics", None).await.1.to_vec()).unwrap();
    assert_eq!(in_flight(&text, "bank"), 0, "slots released");
    let (st, _, _) = s
        .client
        .post_json("/v1/validate", Some(OTHER_TOKEN), &body)
        .await;
    assert_eq!(st, StatusCode::OK, "slots released");
}

/// Slow clients: a connection that never sends its headers is closed, a
/// body that stops arriving gets 408 body_timeout; others are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new(None);
    let s = Server::start(
        &pki,
        &support::config_text("header_timeout_seconds = 0.5\nbody_timeout_seconds = 0.5"),
    )
    .await;
    let limit = std::time::Duration::from_secs(15);
    // Silent connection: closed by the server.
    let mut silent = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, silent.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "server closed the silent connection");
    // Body announced but never finished: 408.
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!("POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"leaf\"");
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(limit, slow.read(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    // A normal client meanwhile.
    let (st, v) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["valid"], true);
}

/// A tier's `profile`: findings are reported under `rfc5280` (the default
/// outside server-auth) and are errors under `strict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_profile_turns_findings_into_errors() {
    let pki = Pki::new(None);
    let no_aki = pki.simple_root.leaf("CN=Third Party Seal,C=MA", |t| {
        t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        t.authority_key_id = pki_core::builder::AuthorityKeyId::Absent;
    });
    let body = json!({"leaf": b64(no_aki.cert_der())});
    let s = Server::start(&pki, &support::config_text("")).await;
    let (st, v) = s.validate(&body).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["profile"], "rfc5280");
    assert_eq!(v["findings"][0]["rule"], "RFC 5280 4.2.1.1", "{v}");
    assert_eq!(v["findings"][0]["index"], 0);
    assert_eq!(v["findings"][0]["code"], "bad_extension");
    drop(s);
    let strict = support::config_text("").replace(
        "name = \"simple\"\nlevel = \"low\"",
        "name = \"simple\"\nlevel = \"low\"\nprofile = \"strict\"",
    );
    assert!(strict.contains("profile = \"strict\""));
    let s = Server::start(&pki, &strict).await;
    let (_, v) = s.validate(&body).await;
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(code(&v), "bad_extension", "{v}");
    // A conforming leaf of the same tier stays valid under strict.
    let (_, v) = s
        .validate(&json!({"leaf": b64(pki.simple.cert_der())}))
        .await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["profile"], "strict");
}

/// The OpenAPI schema says what the server accepts: `leaf` is non-empty,
/// `max_intermediates` an integer from 0 to 16 (`2.0` is one, as JSON
/// Schema reads it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_and_server_agree_on_leaf_and_max_intermediates() {
    let (pki, s) = server().await;
    let (_, doc) = s.client.get_json("/openapi.json", None).await;
    let props = &doc["components"]["schemas"]["ValidateRequest"]["properties"];
    assert_eq!(props["leaf"]["minLength"], 1, "{props}");
    assert_eq!(props["max_intermediates"]["maximum"], 16, "{props}");
    assert_eq!(props["max_intermediates"]["minimum"], 0, "{props}");
    let mut body = pki.request(&pki.good);
    body["max_intermediates"] = json!(2.0);
    let (st, v) = s.validate(&body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    body["max_intermediates"] = json!(2.5);
    assert_eq!(s.validate(&body).await.0, StatusCode::BAD_REQUEST);
    body["max_intermediates"] = json!(17);
    assert_eq!(s.validate(&body).await.0, StatusCode::BAD_REQUEST);
    let (st, _) = s.validate(&json!({"leaf": ""})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

/// The shape of a JSON value: object keys (recursively) and value types,
/// arrays by their first element.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => json!([a.first().map_or(Value::Null, shape)]),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// /openapi.json carries the examples captured from the demo (request and
/// answers of every JSON endpoint), and each example has the shape of
/// the answer this server really gives to the same kind of request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_examples_are_real_answers() {
    use validation_api::openapi_examples as ex;
    let (pki, s) = server().await;
    let (_, doc) = s.client.get_json("/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    for (schema, first) in [
        ("ValidateRequest", ex::validate_request()),
        ("BatchRequest", ex::batch_request()),
        ("Verdict", ex::verdict_valid()),
        ("BatchResponse", ex::batch_response()),
        ("TiersResponse", ex::tiers_response()),
        ("Health", ex::health_ok()),
        ("ErrorBody", ex::error_unauthorized()),
    ] {
        assert_eq!(schemas[schema]["examples"][0], first, "{schema} example");
    }
    let validate = &doc["paths"]["/v1/validate"]["post"];
    let json = |v: &Value| v["content"]["application/json"].clone();
    assert_eq!(
        json(&validate["requestBody"])["examples"]["amina"]["value"],
        ex::validate_request()
    );
    let ok = json(&validate["responses"]["200"]);
    assert_eq!(ok["examples"]["valid"]["value"], ex::verdict_valid());
    assert_eq!(ok["examples"]["revoked"]["value"], ex::verdict_revoked());
    assert_eq!(
        json(&validate["responses"]["400"])["examples"]["bad_der"]["value"],
        ex::error_bad_der()
    );
    assert_eq!(
        json(&validate["responses"]["401"])["example"],
        ex::error_unauthorized()
    );
    let batch = &doc["paths"]["/v1/validate/batch"]["post"];
    assert_eq!(json(&batch["requestBody"])["example"], ex::batch_request());
    assert_eq!(
        json(&batch["responses"]["200"])["example"],
        ex::batch_response()
    );
    let tiers = &doc["paths"]["/v1/tiers"]["get"]["responses"]["200"];
    assert_eq!(json(tiers)["example"], ex::tiers_response());
    for path in ["/health", "/health/ready"] {
        let r = &doc["paths"][path]["get"]["responses"];
        assert_eq!(json(&r["200"])["example"], ex::health_ok(), "{path}");
        assert_eq!(json(&r["503"])["example"], ex::health_not_ready(), "{path}");
    }

    // The same exchanges on this server have the examples' shapes.
    let (_, good) = s.validate(&pki.request(&pki.good)).await;
    assert_eq!(shape(&good), shape(&ex::verdict_valid()));
    let (_, revoked) = s.validate(&pki.request(&pki.revoked)).await;
    assert_eq!(shape(&revoked), shape(&ex::verdict_revoked()));
    let (_, _, batch) = s
        .client
        .post_json(
            "/v1/validate/batch",
            Some(TOKEN),
            &json!({"items": [pki.request(&pki.good), pki.request(&pki.revoked)]}),
        )
        .await;
    assert_eq!(shape(&batch), shape(&ex::batch_response()));
    // policy_levels is a map keyed by OIDs: its keys are data, not fields.
    let (_, mut tiers) = s.client.get_json("/v1/tiers", Some(TOKEN)).await;
    let mut tiers_ex = ex::tiers_response();
    for t in [&mut tiers, &mut tiers_ex] {
        t["tiers"] = json!([t["tiers"][0]]);
        t["tiers"][0]["policy_levels"] = json!({});
    }
    assert_eq!(shape(&tiers), shape(&tiers_ex));
    let (_, mut health) = s.client.get_json("/health", None).await;
    health["reasons"] = json!([]);
    assert_eq!(shape(&health), shape(&ex::health_ok()));
    let (st, _, unauthorized) = s
        .client
        .post_json("/v1/validate", None, &pki.request(&pki.good))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorized, ex::error_unauthorized());
    let (st, bad_der) = s
        .validate(&json!({"leaf": "bm90IGEgY2VydGlmaWNhdGU="}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(bad_der, ex::error_bad_der());
    let (st, bad_json) = s
        .validate(&json!({"leaf": "x", "purpos": "clientAuth"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(bad_json, ex::error_bad_json());
}

/// What the schema refuses in a batch item (a level outside the enum, an
/// OID off the pattern, `max_intermediates` over 16, an `at` that is not
/// a `date-time`) refuses the batch
/// whole, naming the item, as a schema validator would; a certificate that
/// does not decode is still refused per item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_off_the_schema_refuse_the_batch() {
    let (pki, s) = server().await;
    let off_schema = [
        ("required_level", json!("medium"), "items[1].required_level"),
        ("max_intermediates", json!(17), "items[1].max_intermediates"),
        ("purpose", json!("clientauth"), "items[1].purpose"),
        ("at", json!("2030-01-01 00:00:00Z"), "items[1].at"),
    ];
    for (field, value, named) in off_schema {
        let mut bad = pki.request(&pki.good);
        bad[field] = value;
        let body = json!({"items": [pki.request(&pki.good), bad]});
        let (st, _, v) = s
            .client
            .post_json("/v1/validate/batch", Some(TOKEN), &body)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{field}: {v}");
        assert_eq!(code(&v), "bad_field", "{v}");
        assert_eq!(v["error"]["field"], named, "{v}");
    }
    for oid in ["", "1.2", "1.02.3", "3.1.1", "1.40.1", "2.16.504.123456789"] {
        let mut bad = pki.request(&pki.good);
        bad["policy"] = json!({ "initial_policy_set": [oid] });
        let (st, v) = s.validate(&bad).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{oid:?}: {v}");
        assert_eq!(v["error"]["field"], "policy.initial_policy_set", "{oid:?}");
    }
    let body = json!({"items": [{"leaf": "%%%"}]});
    let (st, _, v) = s
        .client
        .post_json("/v1/validate/batch", Some(TOKEN), &body)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["error"]["code"], "bad_encoding");
}
