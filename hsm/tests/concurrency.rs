//! Signing from many threads and from tokio tasks through one pool.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use hsm::{HsmSigner, KeyLabel, KeyType, SignatureAlgorithm};
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
