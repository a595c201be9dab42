//! The HSM's own signing rate, the reference for the responder's: a raw
//! PKCS#11 `C_Sign` loop with nothing around it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hsm::cryptoki::mechanism::Mechanism;
use hsm::cryptoki::object::{Attribute, ObjectClass};
use hsm::cryptoki::session::UserType;
use hsm::cryptoki::types::AuthPin;
use hsm::softhsm::SoftHsm;

/// Raw `C_Sign` loop on the P-256 private key `key_id` of token `token`:
/// `threads` sessions of their own, logged in with `pin`, SHA-256 of 300
/// bytes on the host then `CKM_ECDSA`, for `duration`. Signatures per
/// second.
pub fn raw_sign_rate(
    softhsm: &SoftHsm,
    token: &str,
    pin: &str,
    key_id: &[u8],
    threads: usize,
    duration: Duration,
) -> f64 {
    let pkcs11 = softhsm.hsm().pkcs11();
    let slot = pkcs11
        .get_slots_with_token()
        .expect("SoftHSM lists its slots")
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).is_ok_and(|t| t.label() == token))
        .expect("the bench initialised the token");
    let total = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let total = &total;
            scope.spawn(move || {
                let session = pkcs11.open_ro_session(slot).expect("a session opens");
                // Already logged in (the token's login is shared by its
                // sessions) is fine.
                let _ = session.login(UserType::User, Some(&AuthPin::new(pin.into())));
                let key = session
                    .find_objects(&[
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::Id(key_id.to_vec()),
                    ])
                    .expect("C_FindObjects works")[0];
                let tbs = [0x5au8; 300];
                let end = Instant::now() + duration;
                let mut n = 0;
                while Instant::now() < end {
                    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &tbs);
                    std::hint::black_box(
                        session
                            .sign(&Mechanism::Ecdsa, key, hash.as_ref())
                            .expect("the P-256 key signs"),
                    );
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}
