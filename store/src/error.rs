//! The store's error type.

use crate::ca::CaId;
use crate::revocation::RevocationReason;
use crate::serial::Serial;

/// What went wrong in the store. Variants name the fact, with the context an
/// operator needs to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("unsupported database URL {url:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl { url: String },

    #[error("cannot create database directory {path}: {source}")]
    CreateDirectory {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    #[error("the database schema is at migration {have}, this binary needs {need}: run `pki store migrate URL` against the primary, then start again")]
    SchemaBehind { have: i64, need: i64 },

    #[error("no database at {url}: create the store with `pki store init URL`")]
    DatabaseMissing { url: String },

    #[error("the database at {url} has no PKI store schema")]
    NotInitialized { url: String },

    #[error("the database at {url} already has the PKI store schema (migration {version})")]
    AlreadyInitialized { url: String, version: i64 },

    #[error("no CA named {name:?}")]
    UnknownCaName { name: String },

    #[error("no CA with id {0}")]
    UnknownCa(CaId),

    #[error("a CA named {name:?} already exists")]
    CaNameTaken { name: String },

    #[error("an officer named {name:?} is already enrolled")]
    OfficerTaken { name: String },

    #[error("HSM key label {label:?} is already used by CA {name:?}")]
    KeyLabelTaken { label: String, name: String },

    #[error("invalid serial number: {reason}")]
    InvalidSerial { reason: &'static str },

    #[error("system random number generator failed")]
    RandomUnavailable,

    #[error("no free serial for CA {ca} after {attempts} random draws")]
    SerialSpaceExhausted { ca: CaId, attempts: u32 },

    #[error("serial {serial} of CA {ca} is already issued")]
    SerialAlreadyIssued { ca: CaId, serial: Serial },

    #[error("serial {serial} was never issued by CA {ca}")]
    UnknownSerial { ca: CaId, serial: Serial },

    #[error("serial {serial} of CA {ca} is already revoked ({reason}) since {revoked_at}")]
    AlreadyRevoked {
        ca: CaId,
        serial: Serial,
        reason: RevocationReason,
        revoked_at: time::OffsetDateTime,
    },

    #[error("serial {serial} of CA {ca} is not on hold")]
    NotOnHold { ca: CaId, serial: Serial },

    #[error("{count} of the imported revocations for CA {ca} are duplicates or already revoked")]
    ImportOverlap { ca: CaId, count: u64 },

    #[error("CA {ca} has no published full CRL to base a delta CRL on")]
    NoBaseCrl { ca: CaId },

    #[error("CRL number {number} of CA {ca} was never reserved")]
    CrlNumberNotReserved { ca: CaId, number: u64 },

    #[error("CRL number {number} of CA {ca} is already recorded")]
    CrlAlreadyRecorded { ca: CaId, number: u64 },

    #[error("audit log head is missing: entry {seq} is gone, refusing to append")]
    AuditHeadMissing { seq: u64 },

    #[error("stored value out of range in {table}.{column}: {value}")]
    ValueOutOfRange {
        table: &'static str,
        column: &'static str,
        value: i64,
    },

    #[error("malformed stored value in {table}.{column}: {reason}")]
    MalformedValue {
        table: &'static str,
        column: &'static str,
        reason: &'static str,
    },

    #[error("cannot encode audit details as JSON: {0}")]
    Details(#[from] serde_json::Error),

    #[error("audit details may not use the key {key:?}: the store writes it")]
    ReservedDetailsKey { key: &'static str },

    /// Rows the audit log does not vouch for; nothing may be published from
    /// them. Lists the first few.
    #[error("a database task failed: {0}")]
    Task(String),

    #[error("audit entry {seq}, which binds many rows, is being checked by another request: try again shortly")]
    EntryCheckRunning { seq: u64 },

    #[error("the audit log does not vouch for the state of {scope}: {}", crate::audit::render_findings(findings, *more))]
    Unvouched {
        scope: String,
        findings: Vec<crate::audit::RowFinding>,
        /// Findings beyond those listed.
        more: u64,
    },
}

pub(crate) type Result<T, E = StoreError> = std::result::Result<T, E>;
