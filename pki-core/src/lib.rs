//! `pki-core`: the PKI model of the national digital identity platform.
//!
//! Pure library: no I/O, no async, no HSM. It decodes certificates strictly,
//! builds and validates certification paths (RFC 5280 section 6, RFC 4158
//! path building), groups trust anchors into tiers with assurance levels,
//! checks revocation against CRLs, and defines the traits ([`Signer`],
//! [`revocation::RevocationSource`]) that the other crates implement.
#![forbid(unsafe_code)]

pub mod builder;
pub mod cache;
pub mod cert;
pub mod crl;
mod der_reader;
pub mod error;
pub mod name;
pub mod ocsp;
pub mod oid;
pub mod path;
pub mod pem;
pub mod revocation;
pub mod signature;
pub mod signer;
#[cfg(feature = "test-ca")]
pub mod testing;
pub mod time;
pub mod trust;

pub use cert::Cert;
pub use error::Error;
pub use path::{Purpose, ValidatedPath, ValidationOptions, Validator};
pub use signature::AlgorithmPolicy;
pub use signer::{SignError, Signer};
pub use time::UnixTime;
pub use trust::{AssuranceLevel, Tier, TrustStore};
