//! RFC 6960 / RFC 5019 OCSP responder for the national PKI.
//!
//! Statuses come from `store` and are kept in memory; responses are
//! pre-signed through the HSM (`hsm`) and served as ready bytes; cache
//! misses and nonce requests are signed live behind a bounded semaphore.
//! The transport ([`http`]) only knows HTTP; the answers come from a stack
//! of [`source::Source`] layers (unknown issuer filter -> pre-signed cache ->
//! live signer), as in Boulder's OCSP responder.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ocsp_responder::ResponderError> {
//! let config = ocsp_responder::Config::load("ocsp.toml".as_ref())?;
//! let running = ocsp_responder::start_from_config(&config).await?;
//! println!("listening on {}", running.local_addr());
//! running.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cache;
pub mod config;
pub mod core;
pub mod delegation;
mod error;
pub mod http;
pub mod issuer;
pub mod metrics;
pub mod offline;
mod reader;
pub mod server;
pub mod signing;
pub mod source;
pub mod status;
pub mod table;
pub mod updater;
pub mod updater_http;
mod wiring;

pub use config::{Config, ResponseSource, Settings};
pub use error::ResponderError;
pub use server::{
    reload, resolve_issuers, resolve_issuers_after, start, start_with, InProcessUpdater,
    IssuerSetup, ReloadReport, Running,
};
pub use status::UnissuedPolicy;
pub use wiring::{
    issuer_setups, open_hsm_pool, read_certificate, reload_from_file, run_updater_from_config,
    start_from_config,
};
