//! PKCS#11 HSM access: module, sessions, keys, signers.
//!
//! Every private key of the PKI lives in a PKCS#11 token and never leaves
//! it. This crate is the only one that links `cryptoki`:
//!
//! - [`Hsm`]: the module (shared library), one context per process and
//!   path, initialised with OS locking, finalised when dropped;
//! - [`SessionPool`]: logged-in sessions on a token found by
//!   [`TokenLabel`], key generation and lookup, reconnection after a token
//!   or module failure;
//! - [`HsmSigner`]: a [`pki_core::Signer`] returning X.509-ready
//!   signatures for ECDSA P-256/P-384, RSA-3072/4096 (PKCS#1 v1.5 and PSS)
//!   and Ed25519;
//! - [`softhsm`]: a SoftHSM2 directory and fresh tokens for tests and the
//!   demo.
//!
//! ```no_run
//! use hsm::{Hsm, KeyLabel, KeyType, Pin, TokenLabel};
//! use pki_core::Signer;
//!
//! let hsm = Hsm::from_env()?; // PKCS11_MODULE, default SoftHSM2
//! let pool = hsm.pool(TokenLabel::new("ocsp")?, Pin::from_env("HSM_PIN")?)?;
//! let key = pool.generate_key(&KeyLabel::new("ocsp-2025")?, KeyType::EcP256)?;
//! let signer = pool.signer(key)?;
//! let signature = signer.sign(b"tbs DER")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod key;
mod module;
mod pin;
mod pool;
mod signer;
pub mod softhsm;
mod token;

pub use error::{HsmError, Result};
pub use key::{KeyId, KeyInfo, KeyLabel, KeyProtection, KeyType};
pub use module::{module_path_from_env, Hsm, DEFAULT_MODULE, MODULE_ENV};
pub use pin::Pin;
pub use pool::{PoolConfig, SessionPool};
pub use signer::{ecdsa_raw_to_der, Hash, HsmSigner, SignatureAlgorithm};
pub use token::TokenLabel;

/// The `cryptoki` version this crate is built on, for raw access through
/// [`Hsm::pkcs11`] (benches, diagnostics).
pub use cryptoki;
