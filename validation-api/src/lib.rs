//! HTTP JSON validation service for the identity broker.
//!
//! `POST /v1/validate` answers "is this chain valid now, in which trust
//! tier, at which assurance level?" with the path, per-certificate
//! revocation status and, on failure, a stable error code naming the
//! certificate at fault. Configuration is one strict TOML file
//! ([`config`]); it reloads on SIGHUP or when the file changes
//! ([`reload`]); CRLs are fetched ahead of nextUpdate ([`refresh`]).
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod ocsp;
pub mod openapi_examples;
pub mod readiness;
pub mod refresh;
pub mod reload;
pub mod request;
pub mod server;
pub mod service;
pub mod tls;
pub mod verdict;

pub use config::Config;
pub use error::ApiError;
pub use server::{start_from_config, Running, StartError};
pub use service::Service;
