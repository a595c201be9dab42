//! The `pki` command line: what PKI officers and auditors run.
//!
//! `main.rs` only parses arguments; each subcommand lives in its own module
//! so tests can call it directly:
//!
//! - [`ceremony`]: root, intermediate and OCSP signer key ceremonies;
//! - [`issue`]: certificates under the configured [`profile`]s, one at a
//!   time or in personalisation [`batch`]es;
//! - [`revoke`]: revocation and release from hold;
//! - [`crl`]: full and delta CRLs;
//! - [`audit`]: the hash-chained audit log: verify, list, show;
//! - [`ca`], [`cert`]: the inventory: CAs, certificates, their status;
//! - [`database`]: `pki store init` and `migrate`, and how every command
//!   opens the store (never creating or migrating it);
//! - [`officer`]: dual control: officers enrolled, the token PIN split
//!   k-of-n among them, their shares required by CA-key operations;
//! - [`token`]: SoftHSM2 tokens for the demo and development;
//! - [`validate`]: the offline path validator.
//!
//! Every certificate is checked by [`lint`] before it is signed and again
//! after, and every change is recorded in the `store` with its audit entry.
#![forbid(unsafe_code)]

pub mod audit;
pub mod batch;
pub mod ca;
pub mod ceremony;
pub mod cert;
pub mod config;
pub mod crl;
pub mod csr;
pub mod database;
pub mod error;
pub mod finding;
pub mod issue;
pub mod keystore;
pub mod lint;
pub mod officer;
pub mod presign;
pub mod profile;
pub mod publish;
pub mod report;
pub mod revoke;
pub mod token;
pub mod validate;

pub use error::{CliError, Result};
