//! The responder's error type: what stops it from starting or running.

use std::path::PathBuf;

/// Why the responder could not start (or a background task failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponderError {
    #[error(transparent)]
    ConfigFile(#[from] service_kit::ConfigFileError),
    #[error("invalid configuration {path}: {reason}")]
    ConfigInvalid { path: PathBuf, reason: String },
    #[error("cannot read responder certificate {path}: {source}")]
    CertificateRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("responder certificate {path} is not a PEM or DER certificate: {reason}")]
    CertificateInvalid { path: PathBuf, reason: String },
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("database call timed out after {0:?}")]
    StoreTimeout(std::time::Duration),
    #[error("HSM: {0}")]
    Hsm(#[from] hsm::HsmError),
    #[error("issuer {ca:?}: CA certificate in the store does not decode: {source}")]
    IssuerCertificate {
        ca: String,
        #[source]
        source: der::Error,
    },
    #[error("issuer {ca:?}: {source}")]
    ResponderIdentity {
        ca: String,
        #[source]
        source: pki_core::ocsp::ResponseError,
    },
    #[error("issuer {ca:?}: responder certificate refused: {check}")]
    ResponderRefused {
        ca: String,
        check: crate::delegation::ResponderCheck,
    },
    #[error("issuer {ca:?} cannot be added by a reload: {reason}; restart the responder")]
    ReloadNeedsRestart { ca: String, reason: &'static str },
    #[error("issuer {ca:?} is configured twice")]
    DuplicateIssuer { ca: String },
    #[error("pre-signing for issuer {ca:?} failed: {source}")]
    Presign {
        ca: String,
        #[source]
        source: pki_core::ocsp::ResponseError,
    },
    #[error("an OCSP updater holds the {lease:?} lease and is signing these responses; wait for it or stop it")]
    UpdaterRunning { lease: &'static str },
    #[error("reading the response table failed: {0}")]
    TableRead(String),
    #[error("background task failed: {0}")]
    Background(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
