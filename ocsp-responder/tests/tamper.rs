//! Issue 19 item 3: statuses are published only from rows the audit log
//! vouches for. A revocation deleted or a certificate row edited behind the
//! store's back stops the responder's start (and so `pki presign`, which
//! loads the same way), and a change whose rows were tampered with is not
//! published: the serial is answered like an unissued one, never `good`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use ocsp_responder::core::Core;
use ocsp_responder::{resolve_issuers, IssuerSetup, ResponderError};
use store::{RevocationReason, Serial};

/// Runs SQL on the fixture's SQLite database behind the store's back.
async fn tamper(fx: &Fixture, sql: &str) -> u64 {
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(&fx.db_url).await.unwrap();
    let n = sqlx::query(sql)
        .execute(&mut c)
        .await
        .unwrap()
        .rows_affected();
    c.close().await.unwrap();
    n
}

fn setup(fx: &Fixture) -> Vec<IssuerSetup> {
    vec![IssuerSetup {
        ca_name: fx.ca_name.clone(),
        signer: Arc::new(fx.signer.clone()),
        responder_cert_der: Some(fx.responder_cert.clone()),
    }]
}

fn serial(leaf: &pki_core::testing::TestCa) -> Serial {
    Serial::from_der_content(leaf.serial()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_deleted_revocation_naming_it() {
    let fx = Fixture::new("tamper-start").await;
    assert_eq!(tamper(&fx, "DELETE FROM revocations").await, 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = ocsp_responder::start(fx.store.clone(), setup(&fx), Fixture::settings(), listener)
        .await
        .expect_err("the responder must not start");
    assert!(
        matches!(
            err,
            ResponderError::Store(store::StoreError::Unvouched { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    let row = format!(
        "revocations row of CA {:?} ({}), serial {}: audit entry",
        fx.ca_name,
        fx.ca_id,
        serial(&fx.revoked)
    );
    assert!(
        text.contains(&row) && text.contains("it is gone from the table"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_rows_are_not_published_by_the_change_feed_or_live() {
    let fx = Fixture::new("tamper-feed").await;
    let issuers = resolve_issuers(&fx.store, setup(&fx)).await.unwrap();
    let core = Arc::new(Core::new(
        fx.store.clone(),
        issuers.clone(),
        Fixture::settings(),
    ));
    core.load_statuses().await.unwrap();
    let issuer = &issuers[0];

    // Revoked, then the revocation deleted before the feed applies it: the
    // store now says `good`.
    fx.revoke(&fx.good, RevocationReason::KeyCompromise).await;
    let good = serial(&fx.good);
    let delete = format!(
        "DELETE FROM revocations WHERE serial = X'{}'",
        good.to_hex()
    );
    assert_eq!(tamper(&fx, &delete).await, 1);
    assert_eq!(
        fx.store.status(fx.ca_id, &good).await.unwrap(),
        store::CertStatus::Good
    );
    assert_eq!(core.apply_changes().await.unwrap(), 1);
    assert_eq!(
        core.memory().known(issuer.index, good.as_bytes()),
        None,
        "answered like an unissued serial, not good"
    );
    assert_eq!(core.metrics().unvouched.load(Ordering::Relaxed), 1);

    // A certificate recorded after the load and edited: the live path asks
    // the store about it, and does not believe it.
    fx.record(&fx.unissued).await;
    let edit = format!(
        "UPDATE certificates SET profile = 'forged' WHERE serial = X'{}'",
        serial(&fx.unissued).to_hex()
    );
    assert_eq!(tamper(&fx, &edit).await, 1);
    let (known, _) = core.status_for(issuer, fx.unissued.serial()).await.unwrap();
    assert_eq!(known, None);
    assert_eq!(core.metrics().unvouched.load(Ordering::Relaxed), 2);
    // Untampered, the same path answers from the store.
    tamper(&fx, "UPDATE certificates SET profile = 'cnie-auth'").await;
    let (known, _) = core.status_for(issuer, fx.unissued.serial()).await.unwrap();
    assert_eq!(known, Some(ocsp_responder::status::Known::Good));
}
