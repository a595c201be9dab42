//! RFC 6960 / RFC 5019 behaviour of a real responder on 127.0.0.1: GET and
//! POST, SHA-1 and SHA-256 CertIDs, good/revoked/unknown, several CertIDs,
//! nonces, unknown issuers, caching headers, bad input, status changes from
//! the store.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use pki_core::ocsp::x509_ocsp::{CertStatus as OcspStatus, ResponderId};
use pki_core::ocsp::{build_request, HashAlgorithm, ResponseStatus, ID_PKIX_OCSP_EXTENDED_REVOKE};
use pki_core::testing::TestCa;
use x509_cert::ext::pkix::CrlReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_revoked_unknown_over_get_and_post_with_both_hashes() {
    let mut fx = Fixture::new("statuses").await;
    let addr = fx.start(Fixture::settings()).await;
    for hash in HashAlgorithm::ALL {
        for post in [false, true] {
            let send = |der: Vec<u8>| async move {
                if post {
                    post_ocsp(addr, &der).await
                } else {
                    get_ocsp(addr, &der).await
                }
            };
            let r = send(fx.request(&fx.good, hash, None)).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/ocsp-response"));
            assert_eq!(r.ocsp_status(), ResponseStatus::Successful);
            assert!(is_good(&r.single_status(&fx)), "{hash} post={post}");
            let basic = r.basic();
            let single = &basic.tbs_response_data.responses[0];
            assert_eq!(single.cert_id, fx.cert_id(&fx.good, hash), "CertID echoed");
            assert!(single.next_update.is_some());
            assert_eq!(
                basic.tbs_response_data.responder_id,
                ResponderId::ByKey(
                    der::asn1::OctetString::new(fx.signer.key().id.as_bytes()).unwrap()
                ),
                "responder ID by key hash"
            );
            let certs = basic.certs.unwrap();
            assert_eq!(
                der::Encode::to_der(&certs[0]).unwrap(),
                fx.responder_cert,
                "delegated signer certificate in certs"
            );

            let r = send(fx.request(&fx.revoked, hash, None)).await;
            match r.single_status(&fx) {
                OcspStatus::Revoked(info) => {
                    assert_eq!(info.revocation_reason, Some(CrlReason::KeyCompromise));
                }
                other => panic!("{other:?}"),
            }

            let r = send(fx.request(&fx.unissued, hash, None)).await;
            assert!(
                matches!(r.single_status(&fx), OcspStatus::Unknown(_)),
                "unissued serial is never good"
            );
        }
    }
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5019_caching_headers_and_conditional_get() {
    let mut fx = Fixture::new("headers").await;
    let addr = fx.start(Fixture::settings()).await;
    let der = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let r = get_ocsp(addr, &der).await;
    let cc = r.header("cache-control").unwrap();
    assert!(cc.starts_with("max-age="), "{cc}");
    assert!(
        cc.ends_with(", public, no-transform, must-revalidate"),
        "{cc}"
    );
    let max_age: u64 = cc["max-age=".len()..cc.find(',').unwrap()].parse().unwrap();
    assert!(max_age > 3 * 86_400 && max_age <= 4 * 86_400, "{max_age}");
    let etag = r.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    let basic = r.basic();
    let single = &basic.tbs_response_data.responses[0];
    let expires = ocsp_responder::issuer::http_date(single.next_update.unwrap().0.to_system_time());
    assert_eq!(r.header("expires"), Some(expires.as_str()));
    let modified = ocsp_responder::issuer::http_date(single.this_update.0.to_system_time());
    assert_eq!(r.header("last-modified"), Some(modified.as_str()));

    // The same bytes again (pre-signed), and 304 for If-None-Match.
    let again = get_ocsp(addr, &der).await;
    assert_eq!(again.body, r.body);
    let path = {
        use base64::Engine as _;
        format!(
            "/{}",
            base64::engine::general_purpose::STANDARD.encode(&der)
        )
    };
    let not_modified = http(addr, "GET", &path, &[("If-None-Match", &etag)], &[]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    let other = http(addr, "GET", &path, &[("If-None-Match", "\"nope\"")], &[]).await;
    assert_eq!(other.status, 200);
    // Unpadded base64 with raw '+' and '/' in the path works too.
    let raw_path = path.trim_end_matches('=');
    let r = http(addr, "GET", raw_path, &[], &[]).await;
    assert_eq!(r.body, again.body);
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonce_is_echoed_by_live_signing_and_multiple_cert_ids_are_answered() {
    let mut fx = Fixture::new("nonce").await;
    let addr = fx.start(Fixture::settings()).await;
    let nonce = [0x5a; 32];
    let r = post_ocsp(
        addr,
        &fx.request(&fx.good, HashAlgorithm::Sha256, Some(&nonce)),
    )
    .await;
    assert!(is_good(&r.single_status(&fx)));
    assert_eq!(r.basic().nonce().unwrap().0.as_bytes(), &nonce);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("etag"), None);
    // Two requests with different nonces get different responses.
    let r2 = post_ocsp(
        addr,
        &fx.request(&fx.good, HashAlgorithm::Sha256, Some(&[1; 16])),
    )
    .await;
    assert_eq!(r2.basic().nonce().unwrap().0.as_bytes(), &[1; 16]);
    // RFC 8954: a 33-octet nonce is malformed.
    let r = post_ocsp(
        addr,
        &fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[1; 33])),
    )
    .await;
    assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest);

    let ids = [
        fx.cert_id(&fx.good, HashAlgorithm::Sha1),
        fx.cert_id(&fx.revoked, HashAlgorithm::Sha256),
        fx.cert_id(&fx.unissued, HashAlgorithm::Sha1),
    ];
    let r = post_ocsp(addr, &build_request(&ids, None).unwrap()).await;
    let basic = r.basic();
    verify_signature(&basic, &fx);
    let singles = &basic.tbs_response_data.responses;
    assert_eq!(singles.len(), 3);
    for (single, id) in singles.iter().zip(&ids) {
        assert_eq!(&single.cert_id, id);
    }
    assert!(is_good(&singles[0].cert_status));
    assert!(is_revoked(&singles[1].cert_status));
    assert!(matches!(singles[2].cert_status, OcspStatus::Unknown(_)));

    let metrics = http(addr, "GET", "/metrics", &[], &[]).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("ocsp_live_signs_total 3"), "{text}");
    assert!(
        text.contains("ocsp_requests_total{method=\"POST\",result=\"malformed_request\"} 1"),
        "{text}"
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_issuer_is_unauthorized() {
    let mut fx = Fixture::new("unauthorized").await;
    let addr = fx.start(Fixture::settings()).await;
    let stranger = TestCa::root("CN=Some Other CA");
    let leaf = stranger.leaf("CN=x", |_| {});
    let id = pki_core::ocsp::IssuerHashes::from_certificate_der(stranger.cert_der())
        .unwrap()
        .cert_id(HashAlgorithm::Sha1, leaf.serial())
        .unwrap();
    let r = get_ocsp(
        addr,
        &build_request(std::slice::from_ref(&id), None).unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.ocsp_status(), ResponseStatus::Unauthorized);
    assert_eq!(r.body, [0x30, 0x03, 0x0a, 0x01, 0x06]);
    // One known and one unknown issuer in the same request: unauthorized.
    let mixed = build_request(&[fx.cert_id(&fx.good, HashAlgorithm::Sha1), id], None).unwrap();
    assert_eq!(
        post_ocsp(addr, &mixed).await.ocsp_status(),
        ResponseStatus::Unauthorized
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unissued_serials_can_be_answered_revoked_certificate_hold() {
    let mut fx = Fixture::new("extended-revoke").await;
    let settings = ocsp_responder::Settings {
        unissued: ocsp_responder::UnissuedPolicy::Revoked,
        ..Fixture::settings()
    };
    let addr = fx.start(settings).await;
    let r = get_ocsp(addr, &fx.request(&fx.unissued, HashAlgorithm::Sha1, None)).await;
    match r.single_status(&fx) {
        OcspStatus::Revoked(info) => {
            assert_eq!(info.revocation_reason, Some(CrlReason::CertificateHold));
            assert_eq!(seconds(info.revocation_time.0.to_system_time()), 0);
        }
        other => panic!("{other:?}"),
    }
    let exts = r.basic().tbs_response_data.response_extensions.unwrap();
    assert!(exts
        .iter()
        .any(|e| e.extn_id == ID_PKIX_OCSP_EXTENDED_REVOKE));
    // Issued certificates are unaffected.
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert!(is_good(&r.single_status(&fx)));
    assert!(r.basic().tbs_response_data.response_extensions.is_none());
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_status_and_the_server_keeps_answering() {
    let mut fx = Fixture::new("bad-input").await;
    let addr = fx.start(Fixture::settings()).await;
    let good = fx.request(&fx.good, HashAlgorithm::Sha1, None);

    // Truncated DER.
    let r = post_ocsp(addr, &good[..good.len() - 3]).await;
    assert_eq!(
        (r.status, r.ocsp_status()),
        (200, ResponseStatus::MalformedRequest)
    );
    let r = get_ocsp(addr, &good[..10]).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest);
    // Oversized bodies: by Content-Length, and by a body longer than it says.
    let big = vec![0x30; 10_001];
    let r = post_ocsp(addr, &big).await;
    assert_eq!(r.status, 413);
    let r = http(
        addr,
        "POST",
        "/",
        &[
            ("Content-Type", "application/ocsp-request"),
            ("Transfer-Encoding", "chunked"),
        ],
        format!("{:x}\r\n{}\r\n0\r\n\r\n", 20_000, "0".repeat(20_000)).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 413);
    // Exactly at the cap is parsed (and malformed, being zeros).
    let r = post_ocsp(addr, &vec![0; 10_000]).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest);
    // GET too long.
    let long = format!("/{}", "A".repeat(50_000));
    assert_eq!(http(addr, "GET", &long, &[], &[]).await.status, 414);
    // Wrong or missing content type.
    let r = http(addr, "POST", "/", &[("Content-Type", "text/plain")], &good).await;
    assert_eq!(r.status, 415);
    let r = http(addr, "POST", "/", &[], &good).await;
    assert_eq!(r.status, 415);
    // Garbage base64 and broken URL escapes.
    for path in ["/!!!notbase64***", "/MEQwQjBAMD4w%ZZ", "/M", "/%"] {
        let r = http(addr, "GET", path, &[], &[]).await;
        assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest, "{path}");
    }
    // Deeply nested DER: definite and indefinite lengths.
    let mut nested = Vec::new();
    for _ in 0..3000 {
        nested.extend_from_slice(&[0x30, 0x80]);
    }
    let r = post_ocsp(addr, &nested).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest);
    let mut definite = vec![0x05, 0x00];
    for _ in 0..1000 {
        let len = definite.len();
        let mut outer = vec![0x30];
        if len < 128 {
            outer.push(len as u8);
        } else {
            outer.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        outer.extend_from_slice(&definite);
        definite = outer;
        if definite.len() > 9_000 {
            break;
        }
    }
    let r = post_ocsp(addr, &definite).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::MalformedRequest);
    // Other methods, empty GET.
    assert_eq!(http(addr, "PUT", "/", &[], &[]).await.status, 405);
    assert_eq!(http(addr, "GET", "/", &[], &[]).await.status, 404);

    // Still answering, correctly.
    let r = get_ocsp(addr, &good).await;
    assert!(is_good(&r.single_status(&fx)));
    let r = post_ocsp(addr, &good).await;
    assert!(is_good(&r.single_status(&fx)));
    let health = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(health.status, 200);
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(
        text.contains("ocsp_requests_total{method=\"POST\",result=\"too_large\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("ocsp_requests_total{method=\"POST\",result=\"unsupported_media_type\"} 2"),
        "{text}"
    );
    fx.stop().await;
}

/// Issue 19: 414 answers were not counted (or counted as `too_large`), and
/// PUT/DELETE were counted as `not_found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_too_long_and_other_methods_have_their_own_metrics() {
    let mut fx = Fixture::new("metric-labels").await;
    let addr = fx.start(Fixture::settings()).await;
    // Past what any request encodes to: the handler answers 414.
    let long = format!("/{}", "A".repeat(50_000));
    assert_eq!(http(addr, "GET", &long, &[], &[]).await.status, 414);
    // Past hyper's 65,534-byte URI limit: hyper answers 414 itself.
    let longer = format!("/{}", "A".repeat(70_000));
    assert_eq!(http(addr, "GET", &longer, &[], &[]).await.status, 414);
    for method in ["PUT", "DELETE", "PATCH"] {
        let r = http(addr, method, "/", &[], &[]).await;
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    }
    assert_eq!(http(addr, "GET", "/", &[], &[]).await.status, 404);

    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    for line in [
        "ocsp_requests_total{method=\"GET\",result=\"uri_too_long\"} 1",
        "ocsp_requests_total{method=\"other\",result=\"uri_too_long\"} 1",
        "ocsp_requests_total{method=\"GET\",result=\"too_large\"} 0",
        "ocsp_requests_total{method=\"other\",result=\"method_not_allowed\"} 3",
        "ocsp_requests_total{method=\"other\",result=\"not_found\"} 0",
        "ocsp_requests_total{method=\"GET\",result=\"not_found\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_and_new_certificates_reach_the_responder_within_seconds() {
    let mut fx = Fixture::new("propagation").await;
    let addr = fx.start(Fixture::settings()).await;
    let der = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    assert!(is_good(&get_ocsp(addr, &der).await.single_status(&fx)));
    let core = std::sync::Arc::clone(fx.running.as_ref().unwrap().core());
    let (_, version) = core.memory().versioned(0, fx.good.serial());
    let good_response = core
        .memory()
        .cached(0, HashAlgorithm::Sha1, fx.good.serial())
        .unwrap();

    fx.revoke(&fx.good, store::RevocationReason::Superseded)
        .await;
    let seen = eventually(Duration::from_secs(10), || async {
        is_revoked(&get_ocsp(addr, &der).await.single_status(&fx))
    })
    .await;
    assert!(seen, "revocation not served within 10 s");
    match get_ocsp(addr, &der).await.single_status(&fx) {
        OcspStatus::Revoked(info) => {
            assert_eq!(info.revocation_reason, Some(CrlReason::Superseded));
        }
        other => panic!("{other:?}"),
    }

    // A response signed from the old status (a re-signer or live request
    // that was in flight) is refused, and "good" is not served again.
    assert_eq!(
        core.memory().publish_if_current(
            0,
            HashAlgorithm::Sha1,
            fx.good.serial(),
            version,
            good_response
        ),
        ocsp_responder::core::PublishOutcome::Superseded
    );
    assert!(is_revoked(&get_ocsp(addr, &der).await.single_status(&fx)));

    // A certificate issued after start: good as soon as it is recorded.
    let fresh = fx.ca.leaf("CN=Fresh Citizen", |_| {});
    fx.record(&fresh).await;
    let der = fx.request(&fresh, HashAlgorithm::Sha1, None);
    let seen = eventually(Duration::from_secs(10), || async {
        is_good(&get_ocsp(addr, &der).await.single_status(&fx))
    })
    .await;
    assert!(seen, "new certificate not good within 10 s");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let mut fx = Fixture::new("health").await;
    let addr = fx.start(Fixture::settings()).await;
    assert_eq!(
        http(addr, "GET", "/health/live", &[], &[]).await.status,
        200
    );
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(
        (ready.status, ready.body.as_slice()),
        (200, &b"ready\n"[..])
    );
    get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    let m = http(addr, "GET", "/metrics", &[], &[]).await;
    assert_eq!(m.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8(m.body).unwrap();
    for line in [
        "ocsp_requests_total{method=\"GET\",result=\"cached\"} 1",
        "ocsp_cache_hits_total 1",
        "ocsp_presigned_total 2",
        "ocsp_cache_entries 2",
        "ocsp_ready 1",
        "ocsp_hsm_up 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(text.contains("ocsp_response_age_max_seconds"));
    // Answers for serials never issued are signed, not cached.
    for _ in 0..3 {
        let r = get_ocsp(addr, &fx.request(&fx.unissued, HashAlgorithm::Sha1, None)).await;
        assert!(matches!(r.single_status(&fx), OcspStatus::Unknown(_)));
    }
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(text.contains("ocsp_cache_entries 2"), "{text}");
    assert!(text.contains("ocsp_live_signs_total 3"), "{text}");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_re_signed_after_half_their_validity() {
    let mut fx = Fixture::new("refresh").await;
    let settings = ocsp_responder::Settings {
        validity: Duration::from_secs(4),
        refresh_after: Duration::from_secs(1),
        refresh_check: Duration::from_millis(200),
        ..Fixture::settings()
    };
    let addr = fx.start(settings).await;
    let der = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let first = get_ocsp(addr, &der).await;
    let first_update = first.basic().tbs_response_data.responses[0].this_update;
    let renewed = eventually(Duration::from_secs(10), || async {
        let r = get_ocsp(addr, &der).await;
        r.header("etag") != first.header("etag")
            && r.basic().tbs_response_data.responses[0].this_update != first_update
    })
    .await;
    assert!(renewed, "no re-signed response within 10 s");
    let r = get_ocsp(addr, &der).await;
    assert!(is_good(&r.single_status(&fx)));
    assert_eq!(
        r.header("content-type"),
        Some("application/ocsp-response"),
        "served from the cache, re-signed"
    );
    let m = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(!m.contains("ocsp_resigned_total 0"), "{m}");
    assert!(
        m.contains("ocsp_live_signs_total 0"),
        "no live signing needed: {m}"
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_under_a_base_path() {
    let mut fx = Fixture::new("base-path").await;
    let settings = ocsp_responder::Settings {
        base_path: "/ocsp/cnie".into(),
        ..Fixture::settings()
    };
    let addr = fx.start(settings).await;
    let der = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der)
    };
    let r = http(addr, "GET", &format!("/ocsp/cnie/{b64}"), &[], &[]).await;
    assert!(is_good(&r.single_status(&fx)));
    // Without the prefix: not an OCSP path; POST anywhere still works.
    assert_eq!(
        http(addr, "GET", &format!("/{b64}"), &[], &[]).await.status,
        404
    );
    assert_eq!(
        http(addr, "GET", &format!("/ocsp/cnie{b64}"), &[], &[])
            .await
            .status,
        404
    );
    let r = post_ocsp(addr, &der).await;
    assert!(is_good(&r.single_status(&fx)));
    assert_eq!(
        http(addr, "GET", "/health/ready", &[], &[]).await.status,
        200
    );
    fx.stop().await;
}

fn reason_of(status: &OcspStatus) -> Option<CrlReason> {
    match status {
        OcspStatus::Revoked(info) => info.revocation_reason,
        _ => None,
    }
}

/// A hold released (RFC 5280 removeFromCRL) turns the serial `good`
/// again, for cached answers and live (nonce) signing alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_hold_is_good_again() {
    let mut fx = Fixture::new("hold-release").await;
    let addr = fx.start(Fixture::settings()).await;
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let live = fx.request(&fx.good, HashAlgorithm::Sha256, Some(&[8; 32]));
    assert!(is_good(&get_ocsp(addr, &cached).await.single_status(&fx)));

    fx.revoke(&fx.good, store::RevocationReason::CertificateHold)
        .await;
    let held = eventually(Duration::from_secs(10), || async {
        reason_of(&get_ocsp(addr, &cached).await.single_status(&fx))
            == Some(CrlReason::CertificateHold)
    })
    .await;
    assert!(held, "the hold is not served within 10 s");
    let r = post_ocsp(addr, &live).await.single_status(&fx);
    assert_eq!(reason_of(&r), Some(CrlReason::CertificateHold));

    let serial = store::Serial::from_der_content(fx.good.serial()).unwrap();
    fx.store
        .unhold(fx.ca_id, &serial, &store::AuditContext::new("test"))
        .await
        .unwrap();
    let released = eventually(Duration::from_secs(10), || async {
        is_good(&get_ocsp(addr, &cached).await.single_status(&fx))
    })
    .await;
    assert!(released, "still on hold 10 s after the release");
    assert!(is_good(&post_ocsp(addr, &live).await.single_status(&fx)));
    fx.stop().await;
}

/// A bulk import of revocations (one `imported` change for the whole CA)
/// reaches the responder through its change feed: a recorded certificate
/// and a serial the store never recorded both answer `revoked`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_reaches_the_responder() {
    let mut fx = Fixture::new("bulk-import").await;
    let addr = fx.start(Fixture::settings()).await;
    let good = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let unissued = fx.request(&fx.unissued, HashAlgorithm::Sha1, None);
    assert!(is_good(&get_ocsp(addr, &good).await.single_status(&fx)));
    assert!(matches!(
        get_ocsp(addr, &unissued).await.single_status(&fx),
        OcspStatus::Unknown(_)
    ));

    let imported = |leaf: &TestCa| store::ImportedRevocation {
        serial: store::Serial::from_der_content(leaf.serial()).unwrap(),
        reason: store::RevocationReason::AffiliationChanged,
        revoked_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        invalidity_date: None,
    };
    let count = fx
        .store
        .import_revocations(
            fx.ca_id,
            &[imported(&fx.good), imported(&fx.unissued)],
            &store::AuditContext::new("migration"),
        )
        .await
        .unwrap()
        .record;
    assert_eq!(count, 2);
    let seen = eventually(Duration::from_secs(10), || async {
        is_revoked(&get_ocsp(addr, &good).await.single_status(&fx))
    })
    .await;
    assert!(seen, "the imported revocation is not served within 10 s");
    for der in [&good, &unissued] {
        let status = get_ocsp(addr, der).await.single_status(&fx);
        assert_eq!(
            reason_of(&status),
            Some(CrlReason::AffiliationChanged),
            "{status:?}"
        );
    }
    fx.stop().await;
}
