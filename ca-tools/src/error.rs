//! The one error type of the `pki` officer commands.

use std::path::PathBuf;

use crate::finding::Finding;

/// Why a `pki` command refused or failed. Variants are facts with the
/// context an officer needs to act on them; none carries a PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes, over the {limit}-byte limit for this input")]
    InputTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("refusing to overwrite: {what} {name} already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("CA {ca:?} has no section in the operations config {path}")]
    CaNotConfigured { ca: String, path: PathBuf },
    #[error("profile {profile:?} is not allowed for CA {ca:?} (allowed: {allowed})")]
    ProfileNotAllowed {
        ca: String,
        profile: String,
        allowed: String,
    },
    #[error("profile {profile:?} is not defined in the operations config")]
    UnknownProfile { profile: String },
    #[error("CA {ca:?} does not allow certificateHold (set allow_hold = true in its config)")]
    HoldNotAllowed { ca: String },
    #[error("no operations config: pass --config FILE or set PKI_CONFIG")]
    NoConfig,
    #[error("certificate request {path}: {reason}")]
    BadCsr { path: PathBuf, reason: String },
    #[error("HSM key {label:?} does not match the public key in the certificate of CA {ca:?}")]
    KeyMismatch { ca: String, label: String },
    #[error("stored certificate of CA {ca:?} does not decode: {source}")]
    BadCaCertificate {
        ca: String,
        #[source]
        source: pki_core::Error,
    },
    #[error("CA {ca:?} cannot issue: {reason}")]
    IssuerUnfit { ca: String, reason: String },
    #[error("cannot renew {}: {reason}", output.display())]
    RenewRefused { output: PathBuf, reason: String },
    #[error("{what} failed {} lint check(s) {stage} signing:\n{}", findings.len(), crate::finding::render(findings))]
    Lint {
        what: String,
        stage: &'static str,
        findings: Vec<Finding>,
    },
    #[error("signed {what} does not verify after signing: {source}")]
    PostSignCheck {
        what: String,
        #[source]
        source: pki_core::Error,
    },
    #[error("who is acting? pass --actor NAME or set PKI_ACTOR: this command changes the store and its audit entry names the officer")]
    NoActor,
    #[error("no store at {url}: check the URL (--store, PKI_STORE_URL or [store] url), or create a new store with `pki store init {url}`")]
    StoreMissing { url: String },
    #[error("{url} is not a PKI store (it has no schema): create one with `pki store init {url}`")]
    StoreNotInitialized { url: String },
    #[error("refusing to initialise {url}: it is already a PKI store (schema migration {version}); `pki store migrate {url}` brings an older one up to date")]
    StoreAlreadyInitialized { url: String, version: i64 },
    #[error("the store at {url} has schema migration {have}, this pki needs {need}: back the database up, then run `pki store migrate {url}`")]
    SchemaBehind { url: String, have: i64, need: i64 },
    #[error("serial {serial} of CA {ca:?} is already revoked ({reason}) since {revoked_at}")]
    AlreadyRevoked {
        ca: String,
        serial: store::Serial,
        reason: store::RevocationReason,
        /// RFC 3339.
        revoked_at: String,
    },
    #[error("serial {serial} was never issued by CA {ca:?}")]
    NeverIssued { ca: String, serial: store::Serial },
    #[error("serial {serial} of CA {ca:?} is not on hold")]
    NotOnHold { ca: String, serial: store::Serial },
    #[error("no certificate {what} is recorded in the store")]
    CertificateNotRecorded { what: String },
    #[error("the audit log has no entry {seq} (it has {head} entries)")]
    NoAuditEntry { seq: u64, head: u64 },
    #[error("{failed} of {lines} batch line(s) failed: their output lines say why (\"status\": \"failed\"); the others are issued, and a run again issues only what is missing")]
    BatchLinesFailed { failed: u64, lines: u64 },
    #[error("officer {officer:?} is not enrolled (pki officer add)")]
    OfficerNotEnrolled { officer: String },
    #[error("officer key file {path}: {reason}")]
    OfficerKeyFile { path: PathBuf, reason: String },
    #[error("share file {path}: {reason}")]
    ShareFile { path: PathBuf, reason: String },
    #[error("the share of officer {officer:?} ({path}) was not accepted: {reason}")]
    ShareNotOpened {
        officer: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "dual control: token {token:?} needs {threshold} of the officers {} present, only {} presented a valid share; missing {} more of: {} (each passes --officer-share FILE with their key or passphrase); the HSM was not touched",
        officers.join(", "),
        if present.is_empty() { "none".to_owned() } else { present.join(", ") },
        usize::from(*threshold).saturating_sub(present.len()),
        missing.join(", ")
    )]
    QuorumShort {
        token: String,
        threshold: u8,
        officers: Vec<String>,
        present: Vec<String>,
        missing: Vec<String>,
    },
    #[error("{what} failed")]
    OfficerCrypto { what: String },
    #[error("token {token:?} requires dual control ([hsm] require_officers): the officers present pass --officer-share FILE each; the single-PIN mode is refused and the HSM was not touched")]
    OfficersRequired { token: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Hsm(#[from] hsm::HsmError),
    #[error(transparent)]
    Build(#[from] pki_core::builder::BuildError),
    #[error("DER encoding failed: {0}")]
    Der(#[from] der::Error),
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CliError {
    CliError::InvalidValue {
        field: field.into(),
        reason: reason.into(),
    }
}
