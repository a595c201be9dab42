//! Table mode: the updater signs each response once into the store's
//! response table; responders read it through their memory cache, serve
//! the same bytes, and never serve a response signed before the serial's
//! last revocation.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, get_ocsp, http, is_good, is_revoked, Fixture};
use ocsp_responder::updater::{Updater, UpdaterSettings};
use ocsp_responder::{InProcessUpdater, IssuerSetup, ResponseSource, Running, Settings};
use pki_core::ocsp::x509_ocsp::CertStatus as OcspStatus;
use pki_core::ocsp::{HashAlgorithm, ResponseStatus};
use store::{CertIdHash, RevocationReason, Serial};
use tokio::net::TcpListener;

fn table_settings() -> Settings {
    Settings {
        source: ResponseSource::Table,
        ..Fixture::settings()
    }
}

fn setup(fx: &Fixture) -> Vec<IssuerSetup> {
    vec![IssuerSetup {
        ca_name: fx.ca_name.clone(),
        signer: Arc::new(fx.signer.clone()),
        responder_cert_der: Some(fx.responder_cert.clone()),
    }]
}

fn updater_settings() -> UpdaterSettings {
    UpdaterSettings {
        idle: Duration::from_millis(100),
        ..UpdaterSettings::default()
    }
}

async fn updater(fx: &Fixture) -> Updater {
    let issuers = ocsp_responder::resolve_issuers(&fx.store, setup(fx))
        .await
        .unwrap();
    Updater::new(
        fx.store.clone(),
        issuers,
        table_settings(),
        updater_settings(),
    )
}

async fn responder(fx: &Fixture, with_updater: bool) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ocsp_responder::start_with(
        fx.store.clone(),
        setup(fx),
        table_settings(),
        listener,
        with_updater.then(|| InProcessUpdater {
            primary: fx.store.clone(),
            settings: updater_settings(),
        }),
    )
    .await
    .unwrap()
}

async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn status_at(fx: &Fixture, addr: SocketAddr, leaf: &pki_core::testing::TestCa) -> OcspStatus {
    let r = get_ocsp(addr, &fx.request(leaf, HashAlgorithm::Sha1, None)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.ocsp_status(), ResponseStatus::Successful);
    r.single_status(fx)
}

#[tokio::test]
async fn signed_once_and_every_responder_serves_the_same_bytes() {
    let fx = Fixture::new("table-same-bytes").await;
    let mut up = updater(&fx).await;
    assert!(up.hold_lease().await.unwrap());
    let round = up.round().await.unwrap();
    // Two recorded certificates, one configured hash (SHA-1).
    assert_eq!((round.missing, round.failed), (2, 0), "{round:?}");
    assert_eq!(up.round().await.unwrap().total(), 0, "nothing left to sign");
    let good = Serial::from_der_content(fx.good.serial()).unwrap();
    let stored = fx
        .store
        .ocsp_response(fx.ca_id, CertIdHash::Sha1, &good)
        .await
        .unwrap()
        .unwrap();

    let a = responder(&fx, false).await;
    let b = responder(&fx, false).await;
    let request = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let from_a = get_ocsp(a.local_addr(), &request).await;
    let from_b = get_ocsp(b.local_addr(), &request).await;
    assert_eq!(from_a.status, 200);
    assert!(is_good(&from_a.single_status(&fx)));
    assert_eq!(from_a.body, stored.response.der, "the stored bytes");
    assert_eq!(from_a.body, from_b.body, "one set of bytes");
    let etag = from_a.header("etag").unwrap().to_owned();
    assert_eq!(from_b.header("etag"), Some(etag.as_str()));
    let path = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&request);
        format!(
            "/{}",
            b64.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        )
    };
    let again = http(
        b.local_addr(),
        "GET",
        &path,
        &[("If-None-Match", &etag)],
        &[],
    )
    .await;
    assert_eq!(again.status, 304, "A's ETag holds at B");
    assert!(is_revoked(
        &status_at(&fx, a.local_addr(), &fx.revoked).await
    ));
    // One table read per responder and key; then memory.
    for _ in 0..5 {
        get_ocsp(a.local_addr(), &request).await;
    }
    assert_eq!(metric(a.local_addr(), "ocsp_table_reads_total").await, 2);
    assert_eq!(metric(a.local_addr(), "ocsp_live_signs_total").await, 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn ready_at_once_and_what_the_table_lacks_is_signed_live() {
    let fx = Fixture::new("table-ready").await;
    // Nothing signed yet, no updater: ready, answers live.
    let r = responder(&fx, false).await;
    let addr = r.local_addr();
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    assert!(is_good(&status_at(&fx, addr, &fx.good).await));
    assert!(is_revoked(&status_at(&fx, addr, &fx.revoked).await));
    // A serial never issued is never good, and its answer is cached
    // briefly apart from the real ones.
    let unknown = |s: &OcspStatus| matches!(s, OcspStatus::Unknown(_));
    assert!(unknown(&status_at(&fx, addr, &fx.unissued).await));
    assert!(unknown(&status_at(&fx, addr, &fx.unissued).await));
    assert_eq!(metric(addr, "ocsp_live_signs_total").await, 3);
    r.shutdown().await;
}

#[tokio::test]
async fn a_revocation_is_never_hidden_by_an_older_stored_response() {
    let fx = Fixture::new("table-revoke").await;
    let mut up = updater(&fx).await;
    assert!(up.hold_lease().await.unwrap());
    up.round().await.unwrap();
    let r = responder(&fx, false).await;
    let addr = r.local_addr();
    assert!(is_good(&status_at(&fx, addr, &fx.good).await));
    // Revoked while no updater runs: the stored "good" is older than the
    // revocation; the feed evicts it and the responder signs live.
    fx.revoke(&fx.good, RevocationReason::KeyCompromise).await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            is_revoked(&status_at(&fx, addr, &fx.good).await)
        })
        .await,
        "revoked within 2 s"
    );
    r.shutdown().await;
    // A new responder (nothing in memory, the feed starting after the
    // revocation) still never serves the stored "good".
    let fresh = responder(&fx, false).await;
    assert!(is_revoked(
        &status_at(&fx, fresh.local_addr(), &fx.good).await
    ));
    assert!(metric(fresh.local_addr(), "ocsp_table_stale_total").await >= 1);
    // The updater re-signs it from the feed.
    let round = up.round().await.unwrap();
    assert_eq!(round.changed, 1, "{round:?}");
    let good = Serial::from_der_content(fx.good.serial()).unwrap();
    let stored = fx
        .store
        .ocsp_response(fx.ca_id, CertIdHash::Sha1, &good)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.current());
    assert_eq!(stored.response.status, store::ResponseStatus::Revoked);
    fresh.shutdown().await;
}

#[tokio::test]
async fn the_in_process_updater_fills_the_table_and_follows_revocations() {
    let fx = Fixture::new("table-updater").await;
    let r = responder(&fx, true).await;
    let addr = r.local_addr();
    let good = Serial::from_der_content(fx.good.serial()).unwrap();
    let store = fx.store.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (store, good) = (store.clone(), good.clone());
            async move {
                store
                    .ocsp_response(fx.ca_id, CertIdHash::Sha1, &good)
                    .await
                    .unwrap()
                    .is_some()
            }
        })
        .await,
        "the updater signs what is missing"
    );
    assert_eq!(metric(addr, "ocsp_updater_lease_held").await, 1);
    // A second updater waits: the lease is taken.
    let mut standby = updater(&fx).await;
    assert!(!standby.hold_lease().await.unwrap());
    fx.revoke(&fx.good, RevocationReason::Superseded).await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            is_revoked(&status_at(&fx, addr, &fx.good).await)
        })
        .await
    );
    assert!(
        eventually(Duration::from_secs(5), || {
            let (store, good) = (store.clone(), good.clone());
            async move {
                store
                    .ocsp_response(fx.ca_id, CertIdHash::Sha1, &good)
                    .await
                    .unwrap()
                    .is_some_and(|r| {
                        r.current() && r.response.status == store::ResponseStatus::Revoked
                    })
            }
        })
        .await,
        "the updater re-signs the revoked status"
    );
    // Shutdown gives the lease up: the standby takes over at once.
    r.shutdown().await;
    assert!(standby.hold_lease().await.unwrap());
}

#[tokio::test]
async fn a_responder_without_an_hsm_serves_the_table_and_says_try_later_otherwise() {
    let fx = Fixture::new("table-no-hsm").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let no_hsm = ocsp_responder::issuer::NoHsm::for_certificate(&fx.responder_cert).unwrap();
    let running = ocsp_responder::start_with(
        fx.store.clone(),
        vec![IssuerSetup {
            ca_name: fx.ca_name.clone(),
            signer: Arc::new(no_hsm),
            responder_cert_der: Some(fx.responder_cert.clone()),
        }],
        Settings {
            signing: false,
            ..table_settings()
        },
        listener,
        None,
    )
    .await
    .unwrap();
    let addr = running.local_addr();
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 200, "ready without an HSM");
    // Nothing signed yet: tryLater, never a made-up answer.
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    // The updater (elsewhere, with the HSM) signs; now served.
    let mut up = updater(&fx).await;
    assert!(up.hold_lease().await.unwrap());
    up.round().await.unwrap();
    assert!(is_good(&status_at(&fx, addr, &fx.good).await));
    // A nonce request needs a live signature: tryLater.
    let nonce = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[7; 32]));
    let r = common::post_ocsp(addr, &nonce).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    assert_eq!(
        http(addr, "GET", "/health/ready", &[], &[]).await.status,
        200,
        "failed signatures do not make it unready"
    );
    running.shutdown().await;
}

/// Table mode: a hold, then its release, each reach the served answer
/// (the updater re-signs the status into the table; the responder drops
/// its copy on the change).
#[tokio::test]
async fn a_released_hold_is_good_again_from_the_table() {
    let fx = Fixture::new("table-hold").await;
    let r = responder(&fx, true).await;
    let addr = r.local_addr();
    assert!(is_good(&status_at(&fx, addr, &fx.good).await));
    fx.revoke(&fx.good, RevocationReason::CertificateHold).await;
    let held = eventually(Duration::from_secs(10), || async {
        matches!(
            status_at(&fx, addr, &fx.good).await,
            OcspStatus::Revoked(info)
                if info.revocation_reason
                    == Some(x509_cert::ext::pkix::CrlReason::CertificateHold)
        )
    })
    .await;
    assert!(held, "the hold is not served within 10 s");
    let good = Serial::from_der_content(fx.good.serial()).unwrap();
    fx.store
        .unhold(fx.ca_id, &good, &store::AuditContext::new("test"))
        .await
        .unwrap();
    let released = eventually(Duration::from_secs(10), || async {
        is_good(&status_at(&fx, addr, &fx.good).await)
    })
    .await;
    assert!(released, "still on hold 10 s after the release");
    r.shutdown().await;
}

/// Table mode: a bulk import (one CA-wide change) reaches the served
/// answer through the updater and the responder's change feed.
#[tokio::test]
async fn a_bulk_import_is_served_from_the_table() {
    let fx = Fixture::new("table-import").await;
    let r = responder(&fx, true).await;
    let addr = r.local_addr();
    assert!(is_good(&status_at(&fx, addr, &fx.good).await));
    let imported = store::ImportedRevocation {
        serial: Serial::from_der_content(fx.good.serial()).unwrap(),
        reason: RevocationReason::AffiliationChanged,
        revoked_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        invalidity_date: None,
    };
    fx.store
        .import_revocations(
            fx.ca_id,
            &[imported],
            &store::AuditContext::new("migration"),
        )
        .await
        .unwrap();
    let seen = eventually(Duration::from_secs(10), || async {
        matches!(
            status_at(&fx, addr, &fx.good).await,
            OcspStatus::Revoked(info)
                if info.revocation_reason
                    == Some(x509_cert::ext::pkix::CrlReason::AffiliationChanged)
        )
    })
    .await;
    assert!(seen, "the imported revocation is not served within 10 s");
    r.shutdown().await;
}

#[tokio::test]
async fn a_walk_of_many_pages_signs_each_serial_once() {
    let fx = Fixture::new("table-pages").await;
    let issuers = ocsp_responder::resolve_issuers(&fx.store, setup(&fx))
        .await
        .unwrap();
    // One serial a page: the updater reads the next page while it signs
    // one and writes the one before.
    let mut up = Updater::new(
        fx.store.clone(),
        issuers,
        Settings {
            refresh_after: Duration::ZERO,
            ..table_settings()
        },
        UpdaterSettings {
            batch: 1,
            ..updater_settings()
        },
    );
    assert!(up.hold_lease().await.unwrap());
    let first = up.round().await.unwrap();
    assert_eq!((first.missing, first.failed), (2, 0), "{first:?}");
    let signed_at = |leaf: &pki_core::testing::TestCa| {
        let serial = Serial::from_der_content(leaf.serial()).unwrap();
        let store = fx.store.clone();
        let ca = fx.ca_id;
        async move {
            store
                .ocsp_response(ca, CertIdHash::Sha1, &serial)
                .await
                .unwrap()
                .unwrap()
                .response
                .this_update
        }
    };
    let before = (signed_at(&fx.good).await, signed_at(&fx.revoked).await);
    // Due once their thisUpdate (whole seconds) is in the past.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let again = up.round().await.unwrap();
    assert_eq!(
        (again.missing, again.due, again.failed),
        (0, 2, 0),
        "{again:?}"
    );
    assert!(signed_at(&fx.good).await > before.0);
    assert!(signed_at(&fx.revoked).await > before.1);
    assert!(is_revoked(
        &status_at(&fx, responder(&fx, false).await.local_addr(), &fx.revoked).await
    ));
}

#[tokio::test]
async fn live_answers_keep_a_status_until_the_serial_changes() {
    let fx = Fixture::new("table-live-status").await;
    // No updater: every request with a nonce is signed live.
    let r = responder(&fx, false).await;
    let addr = r.local_addr();
    let with_nonce = |n: u8| fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[n; 16]));
    for n in 0..3 {
        let answer = common::post_ocsp(addr, &with_nonce(n)).await;
        assert!(is_good(&answer.single_status(&fx)));
    }
    assert_eq!(
        metric(addr, "ocsp_live_status_reads_total").await,
        1,
        "the status is read and checked once"
    );
    fx.revoke(&fx.good, RevocationReason::KeyCompromise).await;
    let mut revoked = false;
    for n in 10..200u8 {
        let answer = common::post_ocsp(addr, &with_nonce(n)).await;
        if is_revoked(&answer.single_status(&fx)) {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(revoked, "the change feed drops the kept status");
    assert!(metric(addr, "ocsp_live_status_reads_total").await >= 2);
    r.shutdown().await;
}

#[tokio::test]
async fn a_slow_audit_check_cut_short_by_the_timeout_still_completes() {
    let fx = Fixture::new("table-slow-check").await;
    // One audit entry binding 30,000 imported revocations: checking it
    // hashes them all, longer than this responder's database timeout.
    let now = time::OffsetDateTime::now_utc();
    let imported: Vec<store::ImportedRevocation> = (0..30_000u32)
        .map(|i| store::ImportedRevocation {
            serial: Serial::from_der_content(&[0x55, (i >> 16) as u8, (i >> 8) as u8, i as u8])
                .unwrap(),
            reason: RevocationReason::Superseded,
            revoked_at: now - time::Duration::hours(1),
            invalidity_date: None,
        })
        .collect();
    fx.store
        .import_revocations(fx.ca_id, &imported, &store::AuditContext::new("migration"))
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = ocsp_responder::start_with(
        fx.store.clone(),
        setup(&fx),
        Settings {
            db_timeout: Duration::from_millis(30),
            ..table_settings()
        },
        listener,
        None,
    )
    .await
    .unwrap();
    let addr = r.local_addr();
    let hashes = fx.hashes();
    let serial = imported[12_345].serial.as_bytes().to_vec();
    // Live signing (a nonce, nothing in the table): tryLater while the
    // check runs, never a wrong answer, then revoked once the check is
    // done (core::tests shows a check cut short goes on to the end).
    let mut answers = Vec::new();
    let mut revoked = false;
    for n in 0..600u16 {
        let nonce = [n.to_be_bytes(), [7; 2]].concat();
        let request = pki_core::ocsp::build_request(
            &[hashes.cert_id(HashAlgorithm::Sha1, &serial).unwrap()],
            Some(&[nonce.as_slice(); 4].concat()),
        )
        .unwrap();
        let answer = common::post_ocsp(addr, &request).await;
        let status = answer.ocsp_status();
        if status == ResponseStatus::Successful {
            assert!(is_revoked(&answer.single_status(&fx)));
            revoked = true;
            break;
        }
        answers.push(status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked, "never answered: {answers:?}");
    assert!(
        answers.iter().all(|s| *s == ResponseStatus::TryLater),
        "{answers:?}"
    );
    r.shutdown().await;
}
