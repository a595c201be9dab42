//! The pool recovers from lost sessions, a lost login, a re-initialised
//! module and a token directory that disappears and comes back, without a
//! process restart.
//!
//! Its own test binary: these tests re-initialise the module, which every
//! pool in the process notices. They run one at a time.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hsm::cryptoki::session::UserType;
use hsm::{HsmError, HsmSigner, KeyLabel, KeyType, SessionPool, SignatureAlgorithm};
use pki_core::{SignError, Signer};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

fn token_dirs() -> HashSet<PathBuf> {
    std::fs::read_dir(common::softhsm().token_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// A pool on a fresh token, its P-256 signer, and the token's directory.
fn setup(name: &str) -> (SessionPool, HsmSigner, PathBuf) {
    let before = token_dirs();
    let pool = common::pool(name, 2);
    let after = token_dirs();
    let mut new: Vec<_> = after.difference(&before).cloned().collect();
    assert_eq!(new.len(), 1, "one new token directory");
    let key = pool
        .generate_key(&KeyLabel::new("ocsp").unwrap(), KeyType::EcP256)
        .unwrap();
    let signer = pool.signer(key).unwrap();
    sign_ok(&signer);
    (pool, signer, new.remove(0))
}

fn sign_ok(signer: &HsmSigner) {
    let signature = signer.sign(b"tbs").unwrap();
    common::verify(
        &signer.key().spki,
        KeyType::EcP256,
        SignatureAlgorithm::default_for(KeyType::EcP256),
        b"tbs",
        &signature,
    );
}

/// Signs until it works again, for at most `limit`.
fn recovers_within(signer: &HsmSigner, limit: Duration) {
    let start = Instant::now();
    loop {
        match signer.try_sign(b"tbs") {
            Ok(_) => break,
            Err(err) if start.elapsed() < limit => {
                assert!(
                    matches!(
                        err,
                        HsmError::TokenNotFound { .. } | HsmError::SessionLost { .. }
                    ),
                    "{err:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => panic!("no recovery after {limit:?}: {err}"),
        }
    }
    sign_ok(signer);
}

#[test]
fn logout_behind_the_pool_is_repaired() {
    let _serial = one_at_a_time();
    let (pool, signer, _) = setup("logout");
    // Logging out one session logs out every session of the process.
    let pkcs11 = pool.hsm().pkcs11();
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| {
            pkcs11
                .get_token_info(*s)
                .is_ok_and(|t| t.label() == "logout")
        })
        .unwrap();
    let raw = pkcs11.open_ro_session(slot).unwrap();
    let _ = raw.login(UserType::User, Some(&common::user_pin_auth()));
    raw.logout().unwrap();
    drop(raw);
    // The next signature logs in again and finds the key again by itself.
    sign_ok(&signer);
    sign_ok(&signer);
}

#[test]
fn all_sessions_closed_by_module_reinitialisation() {
    let _serial = one_at_a_time();
    let (pool, signer, _) = setup("reinit");
    let (_, other, _) = setup("reinit-bystander");
    // C_Finalize closes every session of every pool; handles from before
    // must not be used (nor closed) again.
    pool.hsm().reinitialize().unwrap();
    sign_ok(&signer);
    sign_ok(&other);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let signer = signer.clone();
            std::thread::spawn(move || (0..50).for_each(|_| sign_ok(&signer)))
        })
        .collect();
    pool.hsm().reinitialize().unwrap();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn token_directory_removed_then_restored() {
    let _serial = one_at_a_time();
    let (_pool, signer, dir) = setup("unplugged");
    let (_, bystander, _) = setup("unplugged-bystander");
    // Outside the token directory: SoftHSM would find it again there.
    let parked = dir
        .parent()
        .and_then(|tokens| tokens.parent())
        .unwrap()
        .join("parked-token");
    std::fs::rename(&dir, &parked).unwrap();

    // A clear error, reported as "unavailable, retry later" to pki-core.
    let err = signer.try_sign(b"tbs").unwrap_err();
    assert!(matches!(err, HsmError::SessionLost { .. }), "{err:?}");
    let err = Signer::sign(&signer, b"tbs");
    assert!(matches!(err, Err(SignError::Unavailable(_))), "{err:?}");
    // Still gone: the pool looks again (re-initialising the module once
    // its backoff allows) and says the token is not there.
    std::thread::sleep(Duration::from_millis(300));
    let err = signer.try_sign(b"tbs").unwrap_err();
    assert!(matches!(err, HsmError::TokenNotFound { .. }), "{err:?}");
    // Other tokens keep working meanwhile.
    sign_ok(&bystander);

    std::fs::rename(&parked, &dir).unwrap();
    recovers_within(&signer, Duration::from_secs(10));
    sign_ok(&bystander);
}

#[test]
fn token_deleted_and_recreated() {
    let _serial = one_at_a_time();
    let (pool, signer, dir) = setup("recreated");
    let old_key = signer.key().clone();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(signer.try_sign(b"tbs").is_err());
    // Let the pool notice the token is gone and re-initialise the module.
    std::thread::sleep(Duration::from_millis(300));
    let err = signer.try_sign(b"tbs").unwrap_err();
    assert!(matches!(err, HsmError::TokenNotFound { .. }), "{err:?}");

    // An operator re-creates the token and a key under the same labels.
    common::token("recreated");
    let label = KeyLabel::new("ocsp").unwrap();
    let new_key = pool.generate_key(&label, KeyType::EcP256).unwrap();
    assert_ne!(new_key.id, old_key.id);
    // The old signer's key is gone for good: a clear error, not a hang.
    let err = signer.try_sign(b"tbs").unwrap_err();
    assert!(matches!(err, HsmError::KeyNotFound { .. }), "{err:?}");
    // The pool itself reconnected: a signer for the new key works.
    let found = pool.find_key(&label).unwrap();
    assert_eq!(found, new_key);
    sign_ok(&pool.signer(found).unwrap());
}

/// The whole token directory goes away (every token at once) and comes
/// back: SoftHSM's C_Initialize fails while it is gone, so the module stays
/// uninitialised for a while ("not initialized" from C_GetSlotList). The
/// pool keeps re-initialising the module, with backoff, and recovers by
/// itself; the token is found again by label.
#[test]
fn whole_token_directory_gone_then_back() {
    let _serial = one_at_a_time();
    let (pool, signer, _) = setup("whole-dir");
    let tokens = common::softhsm().token_dir().to_owned();
    let parked = tokens.with_file_name("parked-tokens");
    std::fs::rename(&tokens, &parked).unwrap();
    assert!(signer.try_sign(b"tbs").is_err());
    // While it is gone the module cannot be initialised: every attempt
    // fails, none panics, and each says what is wrong.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        let err = signer.try_sign(b"tbs").unwrap_err();
        assert!(
            matches!(
                err,
                HsmError::TokenNotFound { .. }
                    | HsmError::SessionLost { .. }
                    | HsmError::ModuleLoad { .. }
                    | HsmError::Pkcs11 { .. }
            ),
            "{err:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::rename(&parked, &tokens).unwrap();
    let start = Instant::now();
    while signer.try_sign(b"tbs").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "no recovery 40 s after the token directory came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sign_ok(&signer);
    // The pool is whole again: a key lookup by label works too.
    pool.find_key(&KeyLabel::new("ocsp").unwrap()).unwrap();
}

/// A session dies while the module lives (closed behind the pool's back,
/// as `C_CloseAllSessions` or another component's `C_CloseSession` would):
/// the next signature notices `CKR_SESSION_HANDLE_INVALID`, drops that
/// session and signs on a fresh one, with no error to the caller.
#[test]
fn session_closed_behind_the_pool_is_replaced() {
    let _serial = one_at_a_time();
    let (pool, signer, _) = setup("closed");
    let pkcs11 = pool.hsm().pkcs11();
    // cryptoki offers neither C_CloseAllSessions nor a session from a raw
    // handle. SoftHSM numbers sessions 1, 2, ... afresh after each
    // C_Initialize, lowest free number first: sessions opened in one
    // initialisation carry the numbers the pool gets in the next, and
    // closing them closes the pool's.
    pool.hsm().reinitialize().unwrap();
    let slot = common::slot_of("closed");
    let stale: Vec<_> = (0..4)
        .map(|_| pkcs11.open_ro_session(slot).unwrap())
        .collect();
    let numbers: Vec<_> = stale
        .iter()
        .map(hsm::cryptoki::session::Session::handle)
        .collect();
    pool.hsm().reinitialize().unwrap();
    sign_ok(&signer);
    assert_eq!(pool.open_sessions(), 1, "{pool:?}");
    for session in stale {
        let _ = session.close();
    }
    // The pool's session is gone: its number is free again.
    let probe = pkcs11.open_ro_session(slot).unwrap();
    assert!(numbers.contains(&probe.handle()), "{numbers:?}");
    drop(probe);

    sign_ok(&signer);
    sign_ok(&signer);
    assert_eq!(pool.open_sessions(), 1, "{pool:?}");
}

/// Issue 19 item 1: the token comes back in another slot. SoftHSM 2.6
/// puts a token initialised while the module runs in the free slot
/// (numbered 0, 1, ...), and at the next C_Initialize gives it a slot id
/// derived from its serial number (`softhsm2-util --show-slots` shows the
/// same): a token directory that goes away and comes back is found under
/// another slot id. The pool finds it again by label.
#[test]
fn token_back_under_another_slot_id() {
    let _serial = one_at_a_time();
    let (pool, signer, dir) = setup("moving");
    let before = common::slot_of("moving");
    let parked = dir
        .parent()
        .and_then(|tokens| tokens.parent())
        .unwrap()
        .join("parked-moving");
    std::fs::rename(&dir, &parked).unwrap();
    assert!(signer.try_sign(b"tbs").is_err());
    std::fs::rename(&parked, &dir).unwrap();
    recovers_within(&signer, Duration::from_secs(10));
    let after = common::slot_of("moving");
    assert_ne!(after, before, "the token kept its slot id: nothing tested");
    pool.find_key(&KeyLabel::new("ocsp").unwrap()).unwrap();
}
