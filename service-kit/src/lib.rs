//! What the two HTTP services, `ocsp-responder` and `validation-api`, have
//! in common, written once:
//!
//! - [`accept`]: the accept loop, HTTP/1.1 on each connection, and a
//!   graceful drain with a time limit on shutdown; [`accept::Tasks`] runs a
//!   service's server and background work and stops them together;
//! - [`access`]: the request id (`x-request-id`) and one access log line
//!   per request;
//! - [`log`]: `--log-format text|json` for the binaries;
//! - [`exposition`]: the Prometheus text writer behind `/metrics`;
//! - [`config_file`]: strict TOML configuration files;
//! - [`pin`]: where an HSM PIN comes from (`pin_env` or `pin_file`).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accept;
pub mod access;
pub mod config_file;
pub mod exposition;
pub mod log;
pub mod pin;

pub use accept::{accept_loop, serve_http1, shutdown_signal, Stop, Tasks};
pub use access::{RequestId, ResultCode};
pub use config_file::ConfigFileError;
pub use exposition::{Exposition, Histogram};
pub use log::{LogArgs, LogFormat};
pub use pin::PinSource;
