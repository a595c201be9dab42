//! The `pki` command line: what PKI officers and auditors run.
//!
//! `main.rs` only parses arguments; each subcommand lives in its own module
//! so tests can call it directly.
#![forbid(unsafe_code)]

pub mod validate;
