//! Faults: the HSM going away and coming back, the database going away,
//! live signing saturated. A real responder on 127.0.0.1 each time.
//!
//! Own test binary: unplugging a SoftHSM token re-initialises the module,
//! which every pool of the process notices.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use pki_core::ocsp::{HashAlgorithm, ResponseStatus};

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsm_gone_serves_cached_answers_try_later_live_and_recovers_without_restart() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("hsm-fault").await;
    let addr = fx.start(Fixture::settings()).await;
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let before = get_ocsp(addr, &cached).await;
    assert!(is_good(&before.single_status(&fx)));

    let parked = fx.unplug_hsm();
    // Pre-signed responses keep being served, byte for byte.
    let during = get_ocsp(addr, &cached).await;
    assert_eq!(during.body, before.body);
    // Live signing (nonce) says tryLater.
    let live = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[3; 32]));
    let r = post_ocsp(addr, &live).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = post_ocsp(addr, &live).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("HSM unavailable"));
    assert_eq!(
        http(addr, "GET", "/health/live", &[], &[]).await.status,
        200
    );
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(metrics.contains("ocsp_hsm_up 0"), "{metrics}");
    assert!(!metrics.contains("ocsp_hsm_errors_total 0"), "{metrics}");
    assert!(metrics.contains("ocsp_requests_total{method=\"POST\",result=\"try_later\"} 2"));

    fx.replug_hsm(&parked);
    let recovered = eventually(Duration::from_secs(15), || async {
        post_ocsp(addr, &live).await.ocsp_status() == ResponseStatus::Successful
    })
    .await;
    assert!(
        recovered,
        "live signing did not resume after the HSM came back"
    );
    let r = post_ocsp(addr, &live).await;
    assert!(is_good(&r.single_status(&fx)));
    assert_eq!(r.basic().nonce().unwrap().0.as_bytes(), &[3; 32]);
    let ready = eventually(Duration::from_secs(5), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 200
    })
    .await;
    assert!(ready);
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_gone_keeps_serving_the_last_state_and_reports_not_ready() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("db-fault").await;
    let addr = fx.start(Fixture::settings()).await;
    assert_eq!(
        http(addr, "GET", "/health/ready", &[], &[]).await.status,
        200
    );

    // The responder shares this pool: closing it takes the database away.
    fx.store.close().await;
    let not_ready = eventually(Duration::from_secs(10), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 503
    })
    .await;
    assert!(not_ready, "still ready without a database");
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert!(String::from_utf8_lossy(&ready.body).contains("database unavailable"));

    // Cached, live (nonce) and unissued answers all still work.
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert!(is_good(&r.single_status(&fx)));
    let r = post_ocsp(
        addr,
        &fx.request(&fx.revoked, HashAlgorithm::Sha256, Some(&[9; 32])),
    )
    .await;
    assert!(is_revoked(&r.single_status(&fx)));
    let r = get_ocsp(addr, &fx.request(&fx.unissued, HashAlgorithm::Sha1, None)).await;
    assert!(matches!(
        r.single_status(&fx),
        pki_core::ocsp::x509_ocsp::CertStatus::Unknown(_)
    ));
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(metrics.contains("ocsp_db_up 0"), "{metrics}");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_live_signing_answers_try_later_after_the_bounded_wait() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("saturated").await;
    let settings = ocsp_responder::Settings {
        live_concurrency: 2,
        live_wait: Duration::from_millis(100),
        ..Fixture::settings()
    };
    let addr = fx.start(settings).await;
    let live = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[4; 32]));
    // Every permit taken: live requests wait their 100 ms and give up.
    let permits = std::sync::Arc::clone(fx.running.as_ref().unwrap().live_permits());
    let held = permits.acquire_many(2).await.unwrap();
    let r = post_ocsp(addr, &live).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    // Cached answers do not need a permit.
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert!(is_good(&r.single_status(&fx)));
    drop(held);
    let r = post_ocsp(addr, &live).await;
    assert!(is_good(&r.single_status(&fx)));
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsm_gone_at_start_then_back_fills_the_cache() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("hsm-at-start").await;
    let parked = fx.unplug_hsm();
    let addr = fx.start(Fixture::settings()).await;
    // Up, not ready, nothing pre-signed: every answer would need the HSM.
    assert_eq!(
        http(addr, "GET", "/health/live", &[], &[]).await.status,
        200
    );
    assert_eq!(
        http(addr, "GET", "/health/ready", &[], &[]).await.status,
        503
    );
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let r = get_ocsp(addr, &cached).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);

    fx.replug_hsm(&parked);
    let filled = eventually(Duration::from_secs(15), || async {
        let m = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
        m.contains("ocsp_ready 1") && m.contains("ocsp_cache_entries 2")
    })
    .await;
    assert!(filled, "cache not filled after the HSM came back");
    let r = get_ocsp(addr, &cached).await;
    assert!(is_good(&r.single_status(&fx)));
    let m = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(
        m.contains("ocsp_requests_total{method=\"GET\",result=\"cached\"} 1"),
        "{m}"
    );
    fx.stop().await;
}

/// The fixture's HSM signer behind a gate: while the gate is shut, every
/// signature blocks inside `sign`, as with an HSM that stops answering.
struct Hanging {
    inner: hsm::HsmSigner,
    shut: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Hanging {
    fn set_shut(&self, shut: bool) {
        *self.shut.lock().unwrap() = shut;
        self.opened.notify_all();
    }
}

impl pki_core::Signer for Hanging {
    fn algorithm(&self) -> x509_cert::spki::AlgorithmIdentifierOwned {
        self.inner.algorithm()
    }

    fn public_key(&self) -> x509_cert::spki::SubjectPublicKeyInfoOwned {
        self.inner.public_key()
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, pki_core::SignError> {
        let mut shut = self.shut.lock().unwrap();
        while *shut {
            shut = self.opened.wait(shut).unwrap();
        }
        drop(shut);
        self.inner.sign(tbs)
    }
}

/// A responder signing through a [`Hanging`] signer (open at first), with
/// two live permits, a 100 ms wait for one and a 300 ms signing timeout.
async fn start_hanging(name: &str) -> (Fixture, std::sync::Arc<Hanging>, std::net::SocketAddr) {
    let mut fx = Fixture::new(name).await;
    let hanging = std::sync::Arc::new(Hanging {
        inner: fx.signer.clone(),
        shut: std::sync::Mutex::new(false),
        opened: std::sync::Condvar::new(),
    });
    let settings = ocsp_responder::Settings {
        live_concurrency: 2,
        live_wait: Duration::from_millis(100),
        live_sign_timeout: Duration::from_millis(300),
        ..Fixture::settings()
    };
    let signer: std::sync::Arc<dyn pki_core::Signer> = hanging.clone();
    let addr = fx.start_with_signer(settings, signer).await;
    (fx, hanging, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsm_hanging_serves_cached_answers_try_later_live_and_recovers() {
    let _serial = one_at_a_time().await;
    let (mut fx, hanging, addr) = start_hanging("hsm-hang").await;
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let before = get_ocsp(addr, &cached).await;
    assert!(is_good(&before.single_status(&fx)));
    let live = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[5; 32]));
    assert!(is_good(&post_ocsp(addr, &live).await.single_status(&fx)));

    hanging.set_shut(true);
    // Two requests take both turns and hang in the HSM: tryLater once the
    // signature is overdue. Their signer threads stay stuck.
    let (a, b) = tokio::join!(post_ocsp(addr, &live), post_ocsp(addr, &live));
    assert_eq!(a.ocsp_status(), ResponseStatus::TryLater);
    assert_eq!(b.ocsp_status(), ResponseStatus::TryLater);
    // No turn is free now: tryLater after the bounded wait for one.
    let r = post_ocsp(addr, &live).await;
    assert_eq!(r.ocsp_status(), ResponseStatus::TryLater);
    // Pre-signed answers do not need the HSM nor a tokio worker stuck in it.
    for _ in 0..20 {
        let during = tokio::time::timeout(Duration::from_secs(5), get_ocsp(addr, &cached))
            .await
            .expect("cached answers keep flowing while the HSM hangs");
        assert_eq!(during.body, before.body);
    }
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 503);
    assert!(String::from_utf8_lossy(&ready.body).contains("HSM unavailable"));
    let metrics = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    assert!(
        metrics.contains("ocsp_requests_total{method=\"POST\",result=\"try_later\"} 3"),
        "{metrics}"
    );

    // The HSM answers again: the stuck signatures finish, their turns come
    // back, live signing resumes without a restart.
    hanging.set_shut(false);
    let recovered = eventually(Duration::from_secs(15), || async {
        post_ocsp(addr, &live).await.ocsp_status() == ResponseStatus::Successful
    })
    .await;
    assert!(
        recovered,
        "live signing did not resume after the HSM answered"
    );
    let r = post_ocsp(addr, &live).await;
    assert!(is_good(&r.single_status(&fx)));
    assert_eq!(r.basic().nonce().unwrap().0.as_bytes(), &[5; 32]);
    let ready = eventually(Duration::from_secs(5), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 200
    })
    .await;
    assert!(ready);
    fx.stop().await;
}

/// The fixture's HSM signer, failing as a removed token (mode 1) or
/// panicking as a buggy module binding (mode 2) on demand; counts its
/// panics.
struct Faulty {
    inner: hsm::HsmSigner,
    mode: std::sync::atomic::AtomicU8,
    panics: std::sync::atomic::AtomicU32,
}

impl Faulty {
    fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }
}

impl pki_core::Signer for Faulty {
    fn algorithm(&self) -> x509_cert::spki::AlgorithmIdentifierOwned {
        self.inner.algorithm()
    }

    fn public_key(&self) -> x509_cert::spki::SubjectPublicKeyInfoOwned {
        self.inner.public_key()
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, pki_core::SignError> {
        match self.mode.load(std::sync::atomic::Ordering::SeqCst) {
            1 => Err(pki_core::SignError::Unavailable("token removed".into())),
            2 => {
                self.panics
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                panic!("signer bug (injected by the test)")
            }
            _ => self.inner.sign(tbs),
        }
    }
}

/// A probe whose signer panics must not stop later probes: once the HSM
/// answers again, readiness and live signing come back by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hsm_probe_does_not_stop_later_probes() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("hsm-panic").await;
    let faulty = std::sync::Arc::new(Faulty {
        inner: fx.signer.clone(),
        mode: std::sync::atomic::AtomicU8::new(0),
        panics: std::sync::atomic::AtomicU32::new(0),
    });
    let signer: std::sync::Arc<dyn pki_core::Signer> = faulty.clone();
    let addr = fx.start_with_signer(Fixture::settings(), signer).await;
    let live = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[7; 32]));
    assert!(is_good(&post_ocsp(addr, &live).await.single_status(&fx)));

    // The token goes away: a live request fails and readiness drops.
    faulty.set(1);
    let r = post_ocsp(addr, &live).await;
    assert_ne!(r.ocsp_status(), ResponseStatus::Successful);
    let not_ready = eventually(Duration::from_secs(5), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 503
    })
    .await;
    assert!(not_ready, "readiness did not report the HSM down");

    // Probes (every 200 ms here) now panic inside the signer: wait until
    // three have, so each later one ran after an earlier one panicked.
    faulty.set(2);
    let panicked = eventually(Duration::from_secs(10), || async {
        faulty.panics.load(std::sync::atomic::Ordering::SeqCst) >= 3
    })
    .await;
    assert!(
        panicked,
        "no probe ran after one panicked ({} panics)",
        faulty.panics.load(std::sync::atomic::Ordering::SeqCst)
    );

    // The HSM is back: the next probe succeeds and readiness returns.
    faulty.set(0);
    let ready = eventually(Duration::from_secs(5), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 200
    })
    .await;
    assert!(ready, "no probe ran after one panicked");
    assert!(is_good(&post_ocsp(addr, &live).await.single_status(&fx)));
    fx.stop().await;
}

/// A revocation that arrives while the HSM hangs: the certificate's
/// pre-signed "good" response stops being served within the signing
/// timeout (live requests get tryLater), the change feed keeps going, and
/// the revoked status is served once the HSM answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_during_an_hsm_hang_stops_the_stale_good_answer() {
    let _serial = one_at_a_time().await;
    let (mut fx, hanging, addr) = start_hanging("hsm-hang-revoke").await;
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let before = get_ocsp(addr, &cached).await;
    assert!(is_good(&before.single_status(&fx)));

    hanging.set_shut(true);
    fx.revoke(&fx.good, store::RevocationReason::KeyCompromise)
        .await;
    let stale_gone = eventually(Duration::from_secs(5), || async {
        get_ocsp(addr, &cached).await.body != before.body
    })
    .await;
    assert!(stale_gone, "the pre-signed good answer is still served");
    let during = get_ocsp(addr, &cached).await;
    assert_eq!(during.ocsp_status(), ResponseStatus::TryLater);
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 503);
    // Other pre-signed answers keep flowing.
    let other = fx.request(&fx.revoked, HashAlgorithm::Sha1, None);
    assert!(is_revoked(&get_ocsp(addr, &other).await.single_status(&fx)));

    hanging.set_shut(false);
    let revoked = eventually(Duration::from_secs(15), || async {
        let r = get_ocsp(addr, &cached).await;
        r.ocsp_status() == ResponseStatus::Successful && is_revoked(&r.single_status(&fx))
    })
    .await;
    assert!(
        revoked,
        "the revocation is not served after the HSM came back"
    );
    fx.stop().await;
}

/// Issue 19: the whole SoftHSM token directory goes away for a while under
/// load (C_Initialize fails meanwhile, C_GetSlotList says "not
/// initialized") and comes back: cached answers are served throughout,
/// live signing answers tryLater, and it comes back by itself, without a
/// restart, as the pool re-initialises the module with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_token_directory_gone_under_load_recovers_without_restart() {
    let _serial = one_at_a_time().await;
    let mut fx = Fixture::new("hsm-whole-dir").await;
    let addr = fx.start(Fixture::settings()).await;
    let cached = fx.request(&fx.good, HashAlgorithm::Sha1, None);
    let before = get_ocsp(addr, &cached).await;
    assert!(is_good(&before.single_status(&fx)));
    let live = fx.request(&fx.good, HashAlgorithm::Sha1, Some(&[5; 32]));
    assert_eq!(
        post_ocsp(addr, &live).await.ocsp_status(),
        ResponseStatus::Successful
    );

    // Load: cached GETs and live POSTs all along.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, cached, live, body) = (
            stop.clone(),
            cached.clone(),
            live.clone(),
            before.body.clone(),
        );
        tokio::spawn(async move {
            let (mut served, mut statuses) = (0u32, std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = get_ocsp(addr, &cached).await;
                assert_eq!(
                    r.body, body,
                    "a cached answer changed while the HSM was away"
                );
                served += 1;
                statuses.insert(format!("{:?}", post_ocsp(addr, &live).await.ocsp_status()));
            }
            (served, statuses)
        })
    };

    let parked = Fixture::unplug_all_tokens();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let during = post_ocsp(addr, &live).await;
    assert_eq!(during.ocsp_status(), ResponseStatus::TryLater);
    let ready = http(addr, "GET", "/health/ready", &[], &[]).await;
    assert_eq!(ready.status, 503);
    Fixture::replug_all_tokens(&parked);

    let recovered = eventually(Duration::from_secs(45), || async {
        post_ocsp(addr, &live).await.ocsp_status() == ResponseStatus::Successful
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (served, statuses) = load.await.unwrap();
    assert!(
        recovered,
        "live signing did not resume after the token directory came back"
    );
    assert!(
        served > 10,
        "the cached answer was served under load ({served})"
    );
    assert!(statuses.contains("TryLater"), "{statuses:?}");
    let r = post_ocsp(addr, &live).await;
    assert!(is_good(&r.single_status(&fx)));
    let ready = eventually(Duration::from_secs(10), || async {
        http(addr, "GET", "/health/ready", &[], &[]).await.status == 200
    })
    .await;
    assert!(ready, "readiness did not come back");
    fx.stop().await;
}
