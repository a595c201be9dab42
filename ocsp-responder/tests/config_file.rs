//! The configuration-file paths: `start_from_config` (what the binary
//! runs), offline pre-signing (`pki presign`), and the binary's refusal of
//! a bad configuration.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use ocsp_responder::offline::Presigner;
use ocsp_responder::Config;
use pki_core::ocsp::{decode_response, HashAlgorithm, ResponseStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responder_starts_from_a_config_file() {
    let fx = Fixture::new("from-config").await;
    let config = Config::load(&write_config(&fx, "")).unwrap();
    let running = ocsp_responder::start_from_config(&config).await.unwrap();
    let addr = running.local_addr();
    // Both configured hashes are pre-signed for both certificates, after
    // readiness (in the background).
    assert!(
        eventually(std::time::Duration::from_secs(10), || async {
            String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body)
                .unwrap()
                .contains("ocsp_presigned_total 4")
        })
        .await
    );
    for hash in HashAlgorithm::ALL {
        let r = get_ocsp(addr, &fx.request(&fx.good, hash, None)).await;
        assert!(is_good(&r.single_status(&fx)));
    }
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(metrics.contains("ocsp_cache_hits_total 2"), "{metrics}");
    assert!(
        metrics.contains("ocsp_request_duration_seconds_count{source=\"cached\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ocsp_request_duration_seconds_bucket{source=\"live\",le=\"+Inf\"} 0\n")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_presign_fills_the_response_table() {
    let fx = Fixture::new("offline").await;
    let config = Config::load(&write_config(&fx, "")).unwrap();
    let mut presigner = Presigner::open(&config).await.unwrap();
    let count = std::sync::atomic::AtomicU64::new(0);
    let summary = presigner
        .run(&|n| {
            count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .await
        .unwrap();
    // Two certificates, two configured hashes.
    assert_eq!((summary.written, summary.failed), (4, 0));
    assert_eq!(count.into_inner(), 4);
    let stored = |leaf: &pki_core::testing::TestCa, hash: store::CertIdHash| {
        let serial = store::Serial::from_der_content(leaf.serial()).unwrap();
        let store = fx.store.clone();
        let ca = fx.ca_id;
        async move {
            store
                .ocsp_response(ca, hash, &serial)
                .await
                .unwrap()
                .unwrap()
                .response
                .der
        }
    };
    let good = decode_response(&stored(&fx.good, store::CertIdHash::Sha256).await).unwrap();
    assert_eq!(good.status, ResponseStatus::Successful);
    let basic = good.basic.unwrap();
    verify_signature(&basic, &fx);
    let single = &basic.tbs_response_data.responses[0];
    assert_eq!(single.cert_id, fx.cert_id(&fx.good, HashAlgorithm::Sha256));
    assert!(is_good(&single.cert_status));
    let revoked = decode_response(&stored(&fx.revoked, store::CertIdHash::Sha1).await)
        .unwrap()
        .basic
        .unwrap();
    assert!(is_revoked(
        &revoked.tbs_response_data.responses[0].cert_status
    ));
    // A second run has nothing left to sign.
    let again = presigner.run(&|_| {}).await.unwrap();
    assert_eq!(again.written, 0);
}

fn run_binary(config: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_rejects_unknown_keys_and_missing_files() {
    let fx = Fixture::new("binary").await;
    let path = write_config(&fx, "listne = \"x\"");
    let (code, stderr) = run_binary(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `listne`"), "{stderr}");
    let (code, stderr) = run_binary(&fx.dir.join("missing.toml"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read configuration"), "{stderr}");
}

/// `ocsp-responder --updater`: signs every response into the table, serves
/// its metrics on `listen`, stops on SIGTERM (exit 0) giving the lease up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_updater_binary_fills_the_table_and_serves_its_metrics() {
    let fx = Fixture::new("updater-bin").await;
    let path = write_config(&fx, "");
    let (mut child, addr) = spawn_updater(&path);
    // Two certificates, two hashes.
    let signed = eventually(std::time::Duration::from_secs(20), || async {
        String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body)
            .unwrap()
            .contains("ocsp_updater_signed_missing_total 4")
    })
    .await;
    assert!(signed, "the updater signed what was missing");
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(metrics.contains("ocsp_updater_lease_held 1"), "{metrics}");
    assert_eq!(
        http(addr, "GET", "/health/live", &[], &[]).await.status,
        200
    );
    assert_eq!(http(addr, "GET", "/other", &[], &[]).await.status, 404);
    let good = store::Serial::from_der_content(fx.good.serial()).unwrap();
    assert!(fx
        .store
        .ocsp_response(fx.ca_id, store::CertIdHash::Sha256, &good)
        .await
        .unwrap()
        .is_some());
    // SIGTERM: clean exit, lease given up.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::block_in_place(|| child.wait()).unwrap();
    assert!(status.success(), "{status}");
    assert!(fx
        .store
        .try_lease(
            "ocsp-updater",
            "next",
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(30)
        )
        .await
        .unwrap());
}

/// A responder never creates or migrates a store: a mistyped path is an
/// error that says how to create one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_is_refused_not_created() {
    let fx = Fixture::new("no-store").await;
    let path = write_config(&fx, "");
    let missing = fx.dir.join("typo/pki.db");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&fx.db_url, &format!("sqlite://{}", missing.display()));
    std::fs::write(&path, text).unwrap();
    let (code, stderr) = run_binary(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("pki store init"), "{stderr}");
    assert!(!missing.exists() && !missing.parent().unwrap().exists());
}
