//! Signing from many threads and from tokio tasks through one pool.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use hsm::{HsmSigner, KeyLabel, KeyType, SessionPool, SignatureAlgorithm};
use pki_core::Signer;

fn signer(token: &str, key_type: KeyType, size: usize) -> HsmSigner {
    let pool = common::pool(token, size);
    let key = pool
        .generate_key(&KeyLabel::new("shared").unwrap(), key_type)
        .unwrap();
    pool.signer(key).unwrap()
}

fn check(signer: &HsmSigner, message: &[u8], signature: &[u8]) {
    let key = signer.key();
    common::verify(
        &key.spki,
        key.key_type,
        SignatureAlgorithm::default_for(key.key_type),
        message,
        signature,
    );
}

#[test]
fn threads_share_one_signer() {
    // More threads than pooled sessions: the pool opens extra sessions for
    // the burst and keeps `size` of them.
    for key_type in [KeyType::EcP256, KeyType::Ed25519] {
        let signer = Arc::new(signer(&format!("threads-{key_type}"), key_type, 2));
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let signer = Arc::clone(&signer);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        let message = format!("thread {t} message {i}");
                        let signature = signer.sign(message.as_bytes()).unwrap();
                        check(&signer, message.as_bytes(), &signature);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
}

#[test]
fn tokio_tasks_sign_with_spawn_blocking() {
    let signer = Arc::new(signer("tokio", KeyType::EcP256, 2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let signer = Arc::clone(&signer);
                tokio::spawn(async move {
                    let message = format!("OCSP response {i}").into_bytes();
                    let signer2 = Arc::clone(&signer);
                    let (message, signature) = tokio::task::spawn_blocking(move || {
                        let signature = signer2.sign(&message);
                        (message, signature)
                    })
                    .await
                    .unwrap();
                    check(&signer, &message, &signature.unwrap());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn clones_of_a_signer_work_across_threads() {
    let signer = signer("clones", KeyType::EcP384, 2);
    std::thread::scope(|scope| {
        for t in 0..2 {
            let signer = signer.clone();
            scope.spawn(move || {
                for i in 0..20 {
                    let message = [t, i];
                    let signature = signer.try_sign(&message).unwrap();
                    check(&signer, &message, &signature);
                }
            });
        }
    });
}

/// `users` threads sign `rounds` times each, all starting together, on one
/// signer of `pool`; every signature must come back and verify within 60 s
/// (a deadlock fails the test instead of hanging it).
fn burst(pool: &SessionPool, key_type: KeyType, users: usize, rounds: usize) {
    let key = pool
        .generate_key(
            &KeyLabel::new(format!("burst-{key_type}")).unwrap(),
            key_type,
        )
        .unwrap();
    let signer = Arc::new(pool.signer(key).unwrap());
    let start = Arc::new(Barrier::new(users));
    let (done, finished) = mpsc::channel();
    for t in 0..users {
        let (signer, start, done) = (Arc::clone(&signer), Arc::clone(&start), done.clone());
        std::thread::spawn(move || {
            start.wait();
            let result = (0..rounds).try_for_each(|i| {
                let message = format!("user {t} signature {i}");
                let signature = signer.try_sign(message.as_bytes())?;
                check(&signer, message.as_bytes(), &signature);
                Ok::<_, hsm::HsmError>(())
            });
            done.send((t, result)).unwrap();
        });
    }
    for _ in 0..users {
        let (t, result) = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a user still waits for a session after 60 s: deadlock");
        result.unwrap_or_else(|e| panic!("user {t}: {e}"));
    }
}

#[test]
fn a_burst_leaves_no_more_open_sessions_than_the_pool_size() {
    let pool = common::pool("burst-bound", 2);
    assert_eq!(pool.open_sessions(), 2, "opened up front");
    // RSA signatures take long enough for 8 users to overlap: the pool
    // opens extra sessions for them, and must close those afterwards.
    burst(&pool, KeyType::Rsa3072, 8, 10);
    let open = pool.open_sessions();
    assert!(
        (1..=2).contains(&open),
        "{open} sessions open after the burst"
    );
}

/// More users than sessions: none waits forever, none gets an error (the
/// pool opens a session per extra user; only a token that refuses more,
/// CKR_SESSION_COUNT, yields `PoolExhausted`), and the pool is back to
/// its size afterwards.
#[test]
fn more_users_than_sessions_all_get_a_signature() {
    let pool = common::pool("exhausted", 1);
    burst(&pool, KeyType::EcP256, 6, 30);
    assert!(pool.open_sessions() <= 1, "{pool:?}");
    // And the pool keeps working for the next single user.
    burst(&pool, KeyType::Ed25519, 1, 1);
}
