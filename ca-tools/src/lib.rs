//! The `pki` command line: what PKI officers and auditors run.
//!
//! `main.rs` only parses arguments; each subcommand lives in its own module
//! so tests can call it directly:
//!
//! - [`ceremony`]: root, intermediate and OCSP signer key ceremonies;
//! - [`issue`]: certificates under the configured [`profile`]s;
//! - [`revoke`]: revocation and release from hold;
//! - [`crl`]: full and delta CRLs;
//! - [`audit`]: verification of the hash-chained audit log;
//! - [`token`]: SoftHSM2 tokens for the demo and development;
//! - [`validate`]: the offline path validator.
//!
//! Every certificate is checked by [`lint`] before it is signed and again
//! after, and every change is recorded in the `store` with its audit entry.
#![forbid(unsafe_code)]

pub mod audit;
pub mod ceremony;
pub mod config;
pub mod crl;
pub mod csr;
pub mod error;
pub mod issue;
pub mod keystore;
pub mod lint;
pub mod presign;
pub mod profile;
pub mod publish;
pub mod report;
pub mod revoke;
pub mod token;
pub mod validate;

pub use error::{CliError, Result};
