//! Certificate, revocation and audit database (SQLite default, PostgreSQL).
//!
//! One schema (`migrations/`) and one set of SQL statements serve both
//! backends; [`Store::open`] picks the driver from the URL:
//!
//! ```no_run
//! # async fn demo() -> Result<(), store::StoreError> {
//! let store = store::Store::open("sqlite://var/pki.db").await?;
//! let ca = store.ca("cnie-citizen-ca").await?;
//! # Ok(()) }
//! ```
//!
//! Every write runs in one transaction that also appends its entry to the
//! hash-chained audit log ([`audit`]), so a revocation and its audit record
//! commit together or not at all. Writes are serialised by a store-wide write
//! lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL a row lock on the audit head):
//! the audit chain cannot fork and change sequence numbers become visible in
//! commit order.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod audit;
mod backend;
pub mod ca;
pub mod certificate;
pub mod change;
pub mod crl;
mod error;
pub mod inventory;
pub mod officer;
pub mod response;
pub mod revocation;
pub mod serial;

pub use audit::{
    sha256, AuditContext, AuditEntry, AuditError, AuditRecord, ChainBreak, EntryMemo, FieldDiff,
    RowFinding, RowProblem, StateReport,
};
pub use backend::{Backend, Migrated, Schema, Store, StoreTx};
pub use ca::{Ca, CaId, NewCa};
pub use certificate::{CertificateRecord, NewCertificate};
pub use change::{Change, ChangeKind, ChangeListener, CHANGES_CHANNEL};
pub use crl::{CrlBase, CrlKind, CrlRecord, CrlReservation, NewCrl};
pub use error::StoreError;
pub use inventory::{
    AuditQuery, BoundRow, CertificateQuery, CertificateSummary, StatusCounts, StatusFilter,
};
pub use officer::{NewOfficer, Officer};
pub use response::{
    CertIdHash, DueCursor, MissingCursor, ResponseStatus, StoredRead, StoredResponse,
    MAX_READ_BATCH,
};
pub use revocation::{
    CertStatus, ImportedRevocation, RevocationQuery, RevocationReason, RevocationRequest,
    RevokedEntry, UnknownReason,
};
pub use serial::Serial;

/// A stored row together with the sequence number of the audit entry that
/// was appended in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<T> {
    pub record: T,
    pub audit_seq: u64,
}
