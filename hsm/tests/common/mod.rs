//! Test fixtures against a real SoftHSM2 module.
//!
//! `SOFTHSM2_CONF` is process-wide and read at `C_Initialize`, so each test
//! process gets one SoftHSM directory (under Cargo's target tmp dir, never
//! a token outside it) and each test its own token in it, by label. Under
//! nextest every test is its own process and so gets its own directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use hsm::softhsm::SoftHsm;
use hsm::{Hash, KeyType, Pin, PoolConfig, SessionPool, SignatureAlgorithm, TokenLabel};
use spki::SubjectPublicKeyInfoOwned;

pub const USER_PIN: &str = "user-pin-4711";
pub const SO_PIN: &str = "so-pin-0815";

struct Bed {
    _dir: tempfile::TempDir,
    softhsm: SoftHsm,
}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hsm-softhsm");
        std::fs::create_dir_all(&root).unwrap();
        sweep_old_runs(&root);
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&root)
            .unwrap();
        let softhsm = SoftHsm::open(dir.path()).unwrap();
        Bed { _dir: dir, softhsm }
    })
}

/// Statics are never dropped, so each test process leaves its directory
/// behind: remove those older than an hour.
fn sweep_old_runs(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn softhsm() -> &'static SoftHsm {
    &bed().softhsm
}

pub fn user_pin() -> Pin {
    Pin::new(USER_PIN).unwrap()
}

/// A fresh token labelled `name` in this process's SoftHSM directory.
pub fn token(name: &str) -> TokenLabel {
    let label = TokenLabel::new(name).unwrap();
    softhsm()
        .init_token(&label, &Pin::new(SO_PIN).unwrap(), &user_pin())
        .unwrap();
    label
}

/// A fresh token and a pool of `size` sessions on it.
pub fn pool(name: &str, size: usize) -> SessionPool {
    let label = token(name);
    let config = PoolConfig {
        size,
        reinit_backoff: Duration::from_millis(200),
    };
    SessionPool::new(softhsm().hsm(), label, user_pin(), config).unwrap()
}

/// Every algorithm a key type can sign with.
pub fn algorithms(key_type: KeyType) -> Vec<SignatureAlgorithm> {
    let hashes = [Hash::Sha256, Hash::Sha384, Hash::Sha512];
    match key_type {
        KeyType::EcP256 | KeyType::EcP384 => {
            hashes.into_iter().map(SignatureAlgorithm::Ecdsa).collect()
        }
        KeyType::Rsa3072 | KeyType::Rsa4096 => hashes
            .into_iter()
            .flat_map(|h| {
                [
                    SignatureAlgorithm::RsaPkcs1(h),
                    SignatureAlgorithm::RsaPss(h),
                ]
            })
            .collect(),
        KeyType::Ed25519 => vec![SignatureAlgorithm::Ed25519],
        other => panic!("no algorithms listed for {other}"),
    }
}

/// Verifies `signature` over `message` with aws-lc-rs against the exported
/// public key.
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    key_type: KeyType,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) {
    let verifier: &'static dyn VerificationAlgorithm = match (key_type, algorithm) {
        (KeyType::EcP256, SignatureAlgorithm::Ecdsa(Hash::Sha256)) => &sig::ECDSA_P256_SHA256_ASN1,
        (KeyType::EcP256, SignatureAlgorithm::Ecdsa(Hash::Sha384)) => &sig::ECDSA_P256_SHA384_ASN1,
        (KeyType::EcP256, SignatureAlgorithm::Ecdsa(Hash::Sha512)) => &sig::ECDSA_P256_SHA512_ASN1,
        (KeyType::EcP384, SignatureAlgorithm::Ecdsa(Hash::Sha256)) => &sig::ECDSA_P384_SHA256_ASN1,
        (KeyType::EcP384, SignatureAlgorithm::Ecdsa(Hash::Sha384)) => &sig::ECDSA_P384_SHA384_ASN1,
        (KeyType::EcP384, SignatureAlgorithm::Ecdsa(Hash::Sha512)) => &sig::ECDSA_P384_SHA512_ASN1,
        (_, SignatureAlgorithm::RsaPkcs1(Hash::Sha256)) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (_, SignatureAlgorithm::RsaPkcs1(Hash::Sha384)) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (_, SignatureAlgorithm::RsaPkcs1(Hash::Sha512)) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (_, SignatureAlgorithm::RsaPss(Hash::Sha256)) => &sig::RSA_PSS_2048_8192_SHA256,
        (_, SignatureAlgorithm::RsaPss(Hash::Sha384)) => &sig::RSA_PSS_2048_8192_SHA384,
        (_, SignatureAlgorithm::RsaPss(Hash::Sha512)) => &sig::RSA_PSS_2048_8192_SHA512,
        (KeyType::Ed25519, SignatureAlgorithm::Ed25519) => &sig::ED25519,
        other => panic!("no verifier for {other:?}"),
    };
    UnparsedPublicKey::new(verifier, spki.subject_public_key.raw_bytes())
        .verify(message, signature)
        .unwrap_or_else(|_| panic!("{algorithm} signature by {key_type} key does not verify"));
}

pub fn user_pin_auth() -> hsm::cryptoki::types::AuthPin {
    hsm::cryptoki::types::AuthPin::new(USER_PIN.into())
}

/// The slot that holds the token labelled `label` now.
pub fn slot_of(label: &str) -> hsm::cryptoki::slot::Slot {
    let pkcs11 = softhsm().hsm().pkcs11();
    pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).is_ok_and(|t| t.label() == label))
        .unwrap_or_else(|| panic!("no token labelled {label:?}"))
}
