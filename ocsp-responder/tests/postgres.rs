//! PostgreSQL: revocations reach the responder through LISTEN/NOTIFY on
//! `pki_changes`, well before the (here, one-minute) poll would see them.
//! Runs a throwaway PostgreSQL 15 (the store suite's server helper); fails,
//! never skips, when the server binaries are missing.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../store/tests/backends/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::time::Duration;

use common::*;
use pki_core::ocsp::x509_ocsp::CertStatus as OcspStatus;
use pki_core::ocsp::HashAlgorithm;
use x509_cert::ext::pkix::CrlReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_arrives_by_notify_on_postgres() {
    let server = tokio::task::spawn_blocking(pg::PgServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.create_database("ocsp_notify").await;
    let mut fx = Fixture::with_database("postgres", Some(url.clone())).await;
    let settings = ocsp_responder::Settings {
        poll_interval: Duration::from_secs(60),
        ..Fixture::settings()
    };
    let addr = fx.start(settings).await;
    let der = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    assert!(is_good(&get_ocsp(addr, &der).await.single_status(&fx)));
    // The first poll tick ran at start; the next is a minute away. Wait
    // until the responder's LISTEN is in place (its session shows it), so
    // the revocation can only arrive by NOTIFY.
    let listening = eventually(Duration::from_secs(10), || {
        let url = url.clone();
        async move {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            n > 0
        }
    })
    .await;
    assert!(listening, "the responder never issued LISTEN");

    fx.revoke(&fx.good, store::RevocationReason::CessationOfOperation)
        .await;
    let seen = eventually(Duration::from_secs(10), || async {
        is_revoked(&get_ocsp(addr, &der).await.single_status(&fx))
    })
    .await;
    assert!(seen, "revocation not served within 10 s without polling");
    match get_ocsp(addr, &der).await.single_status(&fx) {
        OcspStatus::Revoked(info) => {
            assert_eq!(
                info.revocation_reason,
                Some(CrlReason::CessationOfOperation)
            );
        }
        other => panic!("{other:?}"),
    }
    fx.stop().await;
    fx.store.close().await;
    drop(server);
}
