//! The national topology on one machine: a PostgreSQL primary, a streaming
//! replica made with `pg_basebackup`, one updater writing to the primary,
//! two responders reading the replica. Each step is an assertion:
//! a revocation reaches both responders; killing the updater keeps them
//! serving; killing a responder loses nothing; a replica that lags past the
//! bound makes a responder not-ready; stopping the replica makes them
//! not-ready while they keep serving what they hold.
//!
//! Runs throwaway PostgreSQL 15 servers (the store suite's helper); fails,
//! never skips, when the server binaries are missing.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../store/tests/backends/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, get_ocsp, http, is_good, is_revoked, Fixture};
use ocsp_responder::updater::{Updater, UpdaterSettings};
use ocsp_responder::{IssuerSetup, ResponseSource, Running, Settings};
use pki_core::ocsp::x509_ocsp::CertStatus as OcspStatus;
use pki_core::ocsp::{HashAlgorithm, ResponseStatus};
use store::{CertIdHash, RevocationReason, Serial, Store};
use tokio::net::TcpListener;

fn settings() -> Settings {
    Settings {
        source: ResponseSource::Table,
        max_replica_lag: Duration::from_secs(5),
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

async fn responder(fx: &Fixture, replica_url: &str) -> Running {
    let replica = Store::open_read(replica_url).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ocsp_responder::start_with(replica, setup(fx), settings(), listener, None)
        .await
        .unwrap()
}

async fn status(fx: &Fixture, addr: SocketAddr, leaf: &pki_core::testing::TestCa) -> OcspStatus {
    let r = get_ocsp(addr, &fx.request(leaf, HashAlgorithm::Sha1, None)).await;
    assert_eq!(r.status, 200);
    r.single_status(fx)
}

async fn ready(addr: SocketAddr) -> (u16, String) {
    let r = http(addr, "GET", "/health/ready", &[], &[]).await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_replica_updater_and_two_responders() {
    let t0 = Instant::now();
    let step = |what: &str| println!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());
    let primary = tokio::task::spawn_blocking(pg::PgServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = primary.create_database("topology").await;
    let fx = Fixture::with_database("topology", Some(url)).await;
    let mut replica = {
        let primary_ref = &primary;
        tokio::task::block_in_place(|| pg::PgServer::replica_of(primary_ref))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let replica_url = replica.url("topology");
    step("replica streaming");

    // The updater writes to the primary.
    let issuers = ocsp_responder::resolve_issuers(&fx.store, setup(&fx))
        .await
        .unwrap();
    let updater = Updater::new(
        fx.store.clone(),
        issuers,
        settings(),
        UpdaterSettings {
            idle: Duration::from_millis(100),
            ..UpdaterSettings::default()
        },
    );
    let updater_stats = Arc::clone(&updater.stats);
    let updater_tasks = {
        let mut t = service_kit::Tasks::new(Duration::from_secs(5));
        t.spawn(updater.run(t.stop_signal()));
        t
    };

    // Two responders read the replica, ready at once.
    let a = responder(&fx, &replica_url).await;
    let b = responder(&fx, &replica_url).await;
    for r in [&a, &b] {
        assert_eq!(ready(r.local_addr()).await.0, 200);
    }
    // The updater's responses reach the replica and both responders serve
    // those bytes.
    let good = Serial::from_der_content(fx.good.serial()).unwrap();
    let replica_store = Store::open_read(&replica_url).await.unwrap();
    assert!(
        eventually(Duration::from_secs(20), || {
            let (s, good) = (replica_store.clone(), good.clone());
            async move {
                s.ocsp_response(fx.ca_id, CertIdHash::Sha1, &good)
                    .await
                    .unwrap()
                    .is_some()
            }
        })
        .await,
        "the updater's response replicated"
    );
    let request = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let (from_a, from_b) = (
        get_ocsp(a.local_addr(), &request).await,
        get_ocsp(b.local_addr(), &request).await,
    );
    assert!(is_good(&from_a.single_status(&fx)));
    assert_eq!(from_a.body, from_b.body, "one set of bytes");

    step("both responders serve the updater's bytes");
    // 1. A revocation on the primary reaches both responders.
    let revoked_at = Instant::now();
    fx.revoke(&fx.good, RevocationReason::KeyCompromise).await;
    for r in [&a, &b] {
        let addr = r.local_addr();
        assert!(
            eventually(Duration::from_secs(5), || async {
                is_revoked(&status(&fx, addr, &fx.good).await)
            })
            .await,
            "revocation not visible at {addr}"
        );
    }
    println!(
        "revocation visible at both responders after {:?}",
        revoked_at.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            updater_stats
                .signed_changed
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 1
        })
        .await,
        "the updater re-signed the revoked status"
    );

    step("revocation visible, re-signed");
    // 2. Killing the updater keeps both responders serving.
    updater_tasks.shutdown().await;
    for r in [&a, &b] {
        assert!(is_revoked(&status(&fx, r.local_addr(), &fx.good).await));
        assert!(is_revoked(&status(&fx, r.local_addr(), &fx.revoked).await));
        assert_eq!(
            ready(r.local_addr()).await.0,
            200,
            "no updater needed to serve"
        );
    }

    step("updater stopped, responders serving");
    // 3. Killing a responder loses nothing: a new one serves the same.
    a.shutdown().await;
    let c = responder(&fx, &replica_url).await;
    assert!(is_revoked(&status(&fx, c.local_addr(), &fx.good).await));
    let (from_b, from_c) = (
        get_ocsp(
            b.local_addr(),
            &fx.request(&fx.revoked, HashAlgorithm::Sha1, None),
        )
        .await,
        get_ocsp(
            c.local_addr(),
            &fx.request(&fx.revoked, HashAlgorithm::Sha1, None),
        )
        .await,
    );
    assert_eq!(from_b.body, from_c.body, "the stored bytes again");

    step("responder replaced");

    // 4. A replica that stops replaying: a responder bound to 1 s of lag
    // reports not-ready, with the lag in /metrics, and ready once it
    // catches up.
    let lagging = {
        let replica_store = Store::open_read(&replica_url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let strict = Settings {
            max_replica_lag: Duration::from_secs(1),
            ..settings()
        };
        ocsp_responder::start_with(replica_store, setup(&fx), strict, listener, None)
            .await
            .unwrap()
    };
    let admin = |sql: &'static str| {
        let url = replica.url("topology");
        async move {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    };
    admin("SELECT pg_wal_replay_pause()").await;
    fx.record(&fx.unissued).await;
    let addr = lagging.local_addr();
    assert!(
        eventually(Duration::from_secs(15), || async {
            ready(addr).await.0 == 503
        })
        .await,
        "ready with a replica that stopped replaying"
    );
    assert!(ready(addr).await.1.contains("read replica lags behind"));
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    let lag: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ocsp_replica_lag_seconds ")?.parse().ok())
        .unwrap();
    assert!(lag > 1.0, "{lag}");
    admin("SELECT pg_wal_replay_resume()").await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            ready(addr).await.0 == 200
        })
        .await,
        "not ready after the replica caught up"
    );
    lagging.shutdown().await;
    step("replica lag: not ready, then ready");
    // 5. Stopping the replica: not ready, still serving what they hold.
    tokio::task::block_in_place(|| replica.stop()).unwrap();
    for r in [&b, &c] {
        let addr = r.local_addr();
        assert!(
            eventually(Duration::from_secs(10), || async {
                ready(addr).await.0 == 503
            })
            .await,
            "still ready without its replica"
        );
        assert!(ready(addr).await.1.contains("database unavailable"));
        assert!(
            is_revoked(&status(&fx, addr, &fx.revoked).await),
            "cached answers still served"
        );
        // What it does not hold (a SHA-256 CertID nobody asked for), with
        // its database gone: tryLater, never signed as if the serial had
        // never been issued (that would say `unknown` for a good
        // certificate, and keep saying it a minute).
        let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha256, None)).await;
        assert_eq!(
            r.ocsp_status(),
            ResponseStatus::TryLater,
            "an issued serial answered without its database"
        );
    }
    step("replica stopped: not ready, serving");
    // The replica back: ready again.
    tokio::task::block_in_place(|| replica.launch()).unwrap();
    for r in [&b, &c] {
        let addr = r.local_addr();
        assert!(
            eventually(Duration::from_secs(20), || async {
                ready(addr).await.0 == 200
            })
            .await,
            "not ready again after the replica came back"
        );
    }
    step("ready again");
    b.shutdown().await;
    c.shutdown().await;
    replica_store.close().await;
    fx.store.close().await;
    drop(replica);
    drop(primary);
}
