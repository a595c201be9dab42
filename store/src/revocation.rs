//! Revocations, certificate status and the revocation listing CRLs are
//! built from.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest;
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{revocation_image, AuditContext, RowsDigest, Table};
use crate::backend::{from_unix, from_unix_opt, on_pool, on_tx, seq_from_db, seq_to_db, unix, Tx};
use crate::ca::CaId;
use crate::change::ChangeKind;
use crate::error::{Result, StoreError};
use crate::serial::Serial;
use crate::{Recorded, Store, StoreTx};

/// RFC 5280 5.3.1 `CRLReason`, less `removeFromCRL` (8), which only
/// appears in delta CRLs and is stored as the `removed_from_hold` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    pub const ALL: [Self; 9] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The ENUMERATED value.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// From the ENUMERATED value; `None` for 7 (unused), 8 (removeFromCRL)
    /// and anything else.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    pub(crate) fn from_db(code: i16) -> Result<Self> {
        u8::try_from(code)
            .ok()
            .and_then(Self::from_code)
            .ok_or(StoreError::MalformedValue {
                table: "revocations",
                column: "reason",
                reason: "not a stored CRLReason code",
            })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the RFC 5280 name, case-insensitively (`keyCompromise`,
/// `keycompromise`).
impl FromStr for RevocationReason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, UnknownReason> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownReason(s.into()))
    }
}

/// A revocation reason name that RFC 5280 does not define (or
/// `removeFromCRL`, which is not a reason to revoke).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown revocation reason {0:?}")]
pub struct UnknownReason(pub String);

/// A request to revoke one issued certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRequest {
    pub ca: CaId,
    pub serial: Serial,
    pub reason: RevocationReason,
    /// RFC 5280 5.1.2.6 revocationDate.
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 5.3.2 invalidityDate.
    pub invalidity_date: Option<OffsetDateTime>,
}

impl RevocationRequest {
    /// Revocation as of now, without invalidity date.
    pub fn new(ca: CaId, serial: Serial, reason: RevocationReason) -> Self {
        Self {
            ca,
            serial,
            reason,
            revoked_at: OffsetDateTime::now_utc(),
            invalidity_date: None,
        }
    }
}

/// One revocation of a bulk import ([`StoreTx::import_revocations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRevocation {
    pub serial: Serial,
    pub reason: RevocationReason,
    pub revoked_at: OffsetDateTime,
    pub invalidity_date: Option<OffsetDateTime>,
}

/// A stored revocation, as a CRL entry needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    pub serial: Serial,
    pub reason: RevocationReason,
    pub revoked_at: OffsetDateTime,
    pub invalidity_date: Option<OffsetDateTime>,
    /// Released from certificateHold: listed only in delta CRLs, as
    /// removeFromCRL.
    pub removed_from_hold: bool,
    /// The change that last touched this entry.
    pub change_seq: u64,
}

/// What an OCSP responder says about a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked (or on hold: reason `CertificateHold`).
    Revoked {
        reason: RevocationReason,
        revoked_at: OffsetDateTime,
        invalidity_date: Option<OffsetDateTime>,
    },
    /// Never issued by this CA: never answer `good` for it.
    Unknown,
}

/// One page of a CA's revocations, ordered by serial (keyset paging).
///
/// `full` lists the current entries (not released from hold) up to a change
/// sequence number; `delta` lists the entries changed in `(base, up_to]`,
/// including entries released from hold. Taking `up_to` from the CRL number
/// reservation gives a consistent snapshot across pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationQuery {
    pub ca: CaId,
    /// Only serials after this one (the last of the previous page).
    pub after: Option<Serial>,
    pub limit: u32,
    /// Only entries last changed at or before this change.
    pub up_to: u64,
    /// Delta listing: only entries changed after this change.
    pub changed_after: Option<u64>,
}

impl RevocationQuery {
    pub const DEFAULT_LIMIT: u32 = 10_000;

    /// All current revocations of `ca` as of change `up_to`.
    pub fn full(ca: CaId, up_to: u64) -> Self {
        Self {
            ca,
            after: None,
            limit: Self::DEFAULT_LIMIT,
            up_to,
            changed_after: None,
        }
    }

    /// Revocations of `ca` changed after `base` and at or before `up_to`.
    pub fn delta(ca: CaId, base: u64, up_to: u64) -> Self {
        Self {
            changed_after: Some(base),
            ..Self::full(ca, up_to)
        }
    }

    #[must_use]
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Moves past `page`; `false` when `page` was the last one.
    pub fn advance(&mut self, page: &[RevokedEntry]) -> bool {
        match page.last() {
            Some(last) if page.len() >= self.limit as usize => {
                self.after = Some(last.serial.clone());
                true
            }
            _ => false,
        }
    }
}

/// reason, revoked_at, invalidity_date
type StatusRow = (i16, i64, Option<i64>);

type EntryRow = (Vec<u8>, i16, i64, Option<i64>, bool, i64);

fn entry_from_row(r: EntryRow) -> Result<RevokedEntry> {
    Ok(RevokedEntry {
        serial: Serial::from_stored(r.0, "revocations")?,
        reason: RevocationReason::from_db(r.1)?,
        revoked_at: from_unix("revocations", "revoked_at", r.2)?,
        invalidity_date: from_unix_opt("revocations", "invalidity_date", r.3)?,
        removed_from_hold: r.4,
        change_seq: seq_from_db("revocations", "change_seq", r.5)?,
    })
}

/// How the bulk INSERT names its parameters. Everything else in the store
/// uses `$N`, which both engines accept, but SQLite resolves each `$N` by a
/// linear scan of the statement's parameter names, so binding a statement
/// with P named parameters costs O(P^2): a million-row import with 8,000-row
/// statements took minutes. Anonymous `?` parameters bind in O(P).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `($1, $3, $4, $5, $6, FALSE, $2)`: CA and change bound once (PostgreSQL).
    Numbered,
    /// `(?, ?, ?, ?, ?, FALSE, ?)`: six per row (SQLite).
    Anonymous,
}

impl Placeholders {
    /// Rows per INSERT, within SQLite's 32,766 and PostgreSQL's 65,535
    /// parameters per statement.
    fn rows_per_insert(self) -> usize {
        match self {
            Self::Numbered => 8_000,
            Self::Anonymous => 2_000,
        }
    }
}

impl StoreTx {
    async fn revocation_row(&mut self, ca: CaId, serial: &Serial) -> Result<Option<RevokedEntry>> {
        const SQL: &str = "SELECT serial, reason, revoked_at, invalidity_date, removed_from_hold, \
             change_seq FROM revocations WHERE ca_id = $1 AND serial = $2";
        let row: Option<EntryRow> = on_tx!(&mut self.tx, c => sqlx::query_as(SQL)
            .bind(ca.0)
            .bind(serial.as_bytes())
            .fetch_optional(&mut *c)
            .await?);
        row.map(entry_from_row).transpose()
    }

    /// Revokes an issued certificate and appends `certificate.revoke` to the
    /// audit log. A certificate on hold may be revoked for good (any other
    /// reason); one released from hold may be revoked again.
    pub async fn revoke(
        &mut self,
        req: &RevocationRequest,
        audit: &AuditContext,
    ) -> Result<Recorded<RevokedEntry>> {
        let ca_name = self.ca_name(req.ca).await?;
        let issued: Option<i64> = on_tx!(&mut self.tx, c => sqlx::query_scalar(
                "SELECT ca_id FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(req.ca.0)
            .bind(req.serial.as_bytes())
            .fetch_optional(&mut *c)
            .await?);
        if issued.is_none() {
            return Err(StoreError::UnknownSerial {
                ca: req.ca,
                serial: req.serial.clone(),
            });
        }
        let existing = self.revocation_row(req.ca, &req.serial).await?;
        let previous = match &existing {
            None => None,
            Some(e) if e.removed_from_hold => Some("removedFromHold"),
            Some(e)
                if e.reason == RevocationReason::CertificateHold
                    && req.reason != RevocationReason::CertificateHold =>
            {
                Some("certificateHold")
            }
            Some(e) => {
                return Err(StoreError::AlreadyRevoked {
                    ca: req.ca,
                    serial: req.serial.clone(),
                    reason: e.reason,
                    revoked_at: e.revoked_at,
                })
            }
        };
        let seq = self
            .record_change(
                req.ca,
                Some(&req.serial),
                ChangeKind::Revoked,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let sql = if existing.is_none() {
            "INSERT INTO revocations (ca_id, serial, reason, revoked_at, invalidity_date, \
             removed_from_hold, change_seq) VALUES ($1, $2, $3, $4, $5, FALSE, $6)"
        } else {
            "UPDATE revocations SET reason = $3, revoked_at = $4, invalidity_date = $5, \
             removed_from_hold = FALSE, change_seq = $6 WHERE ca_id = $1 AND serial = $2"
        };
        on_tx!(&mut self.tx, c => sqlx::query(sql)
            .bind(req.ca.0)
            .bind(req.serial.as_bytes())
            .bind(i16::from(req.reason.code()))
            .bind(unix(req.revoked_at))
            .bind(req.invalidity_date.map(unix))
            .bind(seq_to_db(seq))
            .execute(&mut *c)
            .await?
            .rows_affected());
        self.bind_row(Table::Revocations, req.ca.0, req.serial.as_bytes())
            .await?;
        let entry = self
            .append_audit(&audit.record(
                "certificate.revoke",
                Vec::new(),
                json!({
                    "ca": ca_name,
                    "serial": req.serial.to_hex(),
                    "reason": req.reason.as_str(),
                    "revoked_at": unix(req.revoked_at),
                    "invalidity_date": req.invalidity_date.map(unix),
                    "previous": previous,
                    "change": seq,
                }),
            ))
            .await?;
        Ok(Recorded {
            record: RevokedEntry {
                serial: req.serial.clone(),
                reason: req.reason,
                revoked_at: from_unix("revocations", "revoked_at", unix(req.revoked_at))?,
                invalidity_date: from_unix_opt(
                    "revocations",
                    "invalidity_date",
                    req.invalidity_date.map(unix),
                )?,
                removed_from_hold: false,
                change_seq: seq,
            },
            audit_seq: entry.seq,
        })
    }

    /// Releases a certificate from hold (RFC 5280 removeFromCRL) and appends
    /// `certificate.unhold` to the audit log.
    pub async fn unhold(
        &mut self,
        ca: CaId,
        serial: &Serial,
        audit: &AuditContext,
    ) -> Result<Recorded<RevokedEntry>> {
        let ca_name = self.ca_name(ca).await?;
        let Some(mut entry) = self
            .revocation_row(ca, serial)
            .await?
            .filter(|e| e.reason == RevocationReason::CertificateHold && !e.removed_from_hold)
        else {
            return Err(StoreError::NotOnHold {
                ca,
                serial: serial.clone(),
            });
        };
        let seq = self
            .record_change(
                ca,
                Some(serial),
                ChangeKind::Unheld,
                OffsetDateTime::now_utc(),
            )
            .await?;
        on_tx!(&mut self.tx, c => sqlx::query(
                "UPDATE revocations SET removed_from_hold = TRUE, change_seq = $3 \
                 WHERE ca_id = $1 AND serial = $2")
            .bind(ca.0)
            .bind(serial.as_bytes())
            .bind(seq_to_db(seq))
            .execute(&mut *c)
            .await?
            .rows_affected());
        self.bind_row(Table::Revocations, ca.0, serial.as_bytes())
            .await?;
        let audit = self
            .append_audit(&audit.record(
                "certificate.unhold",
                Vec::new(),
                json!({ "ca": ca_name, "serial": serial.to_hex(), "change": seq }),
            ))
            .await?;
        entry.removed_from_hold = true;
        entry.change_seq = seq;
        Ok(Recorded {
            record: entry,
            audit_seq: audit.seq,
        })
    }

    /// Inserts many revocations at once (migration from a previous CA
    /// system, load tests): one change of kind [`ChangeKind::Imported`] and
    /// one `revocations.import` audit entry whose input is the SHA-256 of
    /// the imported list (sorted by serial). Serials need not be recorded certificates. Fails
    /// with `ImportOverlap`, importing nothing, if any serial is repeated or
    /// already revoked. Returns the number of rows inserted.
    pub async fn import_revocations(
        &mut self,
        ca: CaId,
        entries: &[ImportedRevocation],
        audit: &AuditContext,
    ) -> Result<Recorded<u64>> {
        let ca_name = self.ca_name(ca).await?;
        let seq = self
            .record_change(ca, None, ChangeKind::Imported, OffsetDateTime::now_utc())
            .await?;
        // Inserting in serial order appends to the primary-key B-tree
        // instead of scattering a million random keys, and leaves the rows
        // in the order CRL listing reads them.
        let mut sorted: Vec<&ImportedRevocation> = entries.iter().collect();
        sorted.sort_unstable_by(|a, b| a.serial.cmp(&b.serial));
        let mut list_hash = digest::Context::new(&digest::SHA256);
        for e in &sorted {
            let serial = e.serial.as_bytes();
            list_hash.update(&[serial.len() as u8]);
            list_hash.update(serial);
            list_hash.update(&[e.reason.code()]);
            list_hash.update(&unix(e.revoked_at).to_be_bytes());
            list_hash.update(&e.invalidity_date.map_or(i64::MIN, unix).to_be_bytes());
        }
        let style = match self.tx {
            Tx::Sqlite(_) => Placeholders::Anonymous,
            Tx::Postgres(_) => Placeholders::Numbered,
        };
        let (ca_id, change) = (ca.0, seq_to_db(seq));
        let mut inserted = 0u64;
        let rows_per_insert = style.rows_per_insert();
        let mut sql = String::new();
        for chunk in sorted.chunks(rows_per_insert) {
            if sql.is_empty() || chunk.len() != rows_per_insert {
                sql = import_sql(chunk.len(), style);
            }
            inserted += on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                if style == Placeholders::Numbered {
                    q = q.bind(ca_id).bind(change);
                }
                for e in chunk {
                    if style == Placeholders::Anonymous {
                        q = q.bind(ca_id);
                    }
                    q = q
                        .bind(e.serial.as_bytes())
                        .bind(i16::from(e.reason.code()))
                        .bind(unix(e.revoked_at))
                        .bind(e.invalidity_date.map(unix));
                    if style == Placeholders::Anonymous {
                        q = q.bind(change);
                    }
                }
                q.execute(&mut *c).await?.rows_affected()
            });
        }
        let total = entries.len() as u64;
        if inserted != total {
            return Err(StoreError::ImportOverlap {
                ca,
                count: total - inserted,
            });
        }
        let mut digest = [0; 32];
        digest.copy_from_slice(list_hash.finish().as_ref());
        let mut audit = audit.clone();
        audit.inputs_sha256.push(digest);
        // Every imported row is bound to the entry. Too many to read back:
        // their images come from the values just inserted, in serial order
        // (the bindings' order), a statement's worth at a time.
        let link = self.next_audit_link().await?;
        let mut rows = RowsDigest::default();
        for chunk in sorted.chunks(rows_per_insert) {
            let images: Vec<_> = chunk
                .iter()
                .map(|e| {
                    revocation_image(
                        ca_id,
                        e.serial.as_bytes(),
                        i16::from(e.reason.code()),
                        unix(e.revoked_at),
                        e.invalidity_date.map(unix),
                        change,
                    )
                })
                .collect();
            self.write_bindings(link.seq, &images, &mut rows).await?;
        }
        let entry = self
            .write_audit_entry(
                link,
                &audit.record(
                    "revocations.import",
                    Vec::new(),
                    json!({ "ca": ca_name, "count": total, "change": seq }),
                ),
                Some(rows.finish()),
            )
            .await?;
        Ok(Recorded {
            record: inserted,
            audit_seq: entry.seq,
        })
    }
}

fn import_sql(rows: usize, style: Placeholders) -> String {
    use fmt::Write as _;
    let mut sql = String::from(
        "INSERT INTO revocations (ca_id, serial, reason, revoked_at, invalidity_date, \
         removed_from_hold, change_seq) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        match style {
            Placeholders::Anonymous => sql.push_str("(?, ?, ?, ?, ?, FALSE, ?)"),
            Placeholders::Numbered => {
                let p = 3 + i * 4;
                // Writing to a String cannot fail.
                let _ = write!(
                    sql,
                    "($1, ${p}, ${}, ${}, ${}, FALSE, $2)",
                    p + 1,
                    p + 2,
                    p + 3
                );
            }
        }
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

impl Store {
    /// Revokes in its own transaction; when this returns `Ok` the revocation
    /// and its audit entry are committed (see [`StoreTx::revoke`]).
    pub async fn revoke(
        &self,
        req: &RevocationRequest,
        audit: &AuditContext,
    ) -> Result<Recorded<RevokedEntry>> {
        let mut tx = self.begin().await?;
        let entry = tx.revoke(req, audit).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Releases from hold in its own transaction (see [`StoreTx::unhold`]).
    pub async fn unhold(
        &self,
        ca: CaId,
        serial: &Serial,
        audit: &AuditContext,
    ) -> Result<Recorded<RevokedEntry>> {
        let mut tx = self.begin().await?;
        let entry = tx.unhold(ca, serial, audit).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Bulk import in its own transaction (see
    /// [`StoreTx::import_revocations`]).
    pub async fn import_revocations(
        &self,
        ca: CaId,
        entries: &[ImportedRevocation],
        audit: &AuditContext,
    ) -> Result<Recorded<u64>> {
        let mut tx = self.begin().await?;
        let n = tx.import_revocations(ca, entries, audit).await?;
        tx.commit().await?;
        if entries.len() >= 10_000 {
            self.analyze_after_bulk().await?;
        }
        Ok(n)
    }

    /// The status of `serial` under `ca`.
    pub async fn status(&self, ca: CaId, serial: &Serial) -> Result<CertStatus> {
        const REVOKED: &str = "SELECT reason, revoked_at, invalidity_date FROM revocations \
             WHERE ca_id = $1 AND serial = $2 AND removed_from_hold = FALSE";
        const ISSUED: &str = "SELECT ca_id FROM certificates WHERE ca_id = $1 AND serial = $2";
        let (revoked, issued): (Option<StatusRow>, Option<i64>) = on_pool!(&self.pool, p => {
            let revoked = sqlx::query_as(REVOKED)
                .bind(ca.0)
                .bind(serial.as_bytes())
                .fetch_optional(p)
                .await?;
            let issued = if revoked.is_none() {
                sqlx::query_scalar(ISSUED)
                    .bind(ca.0)
                    .bind(serial.as_bytes())
                    .fetch_optional(p)
                    .await?
            } else {
                None
            };
            (revoked, issued)
        });
        Ok(match (revoked, issued) {
            (Some((reason, at, invalidity)), _) => CertStatus::Revoked {
                reason: RevocationReason::from_db(reason)?,
                revoked_at: from_unix("revocations", "revoked_at", at)?,
                invalidity_date: from_unix_opt("revocations", "invalidity_date", invalidity)?,
            },
            (None, Some(_)) => CertStatus::Good,
            (None, None) => CertStatus::Unknown,
        })
    }

    /// One page of revocations (see [`RevocationQuery`]).
    pub async fn revocations(&self, query: &RevocationQuery) -> Result<Vec<RevokedEntry>> {
        const FULL: &str = "SELECT serial, reason, revoked_at, invalidity_date, \
             removed_from_hold, change_seq FROM revocations \
             WHERE ca_id = $1 AND serial > $2 AND change_seq <= $3 AND removed_from_hold = FALSE \
             ORDER BY serial LIMIT $4";
        const DELTA: &str = "SELECT serial, reason, revoked_at, invalidity_date, \
             removed_from_hold, change_seq FROM revocations \
             WHERE ca_id = $1 AND serial > $2 AND change_seq <= $3 AND change_seq > $5 \
             ORDER BY serial LIMIT $4";
        let after = query.after.as_ref().map_or(&[][..], Serial::as_bytes);
        let rows: Vec<EntryRow> = on_pool!(&self.pool, p => {
            let q = sqlx::query_as(if query.changed_after.is_some() { DELTA } else { FULL })
                .bind(query.ca.0)
                .bind(after)
                .bind(seq_to_db(query.up_to))
                .bind(i64::from(query.limit));
            let q = match query.changed_after {
                Some(base) => q.bind(seq_to_db(base)),
                None => q,
            };
            q.fetch_all(p).await?
        });
        rows.into_iter().map(entry_from_row).collect()
    }

    /// How many entries a full CRL of `ca` as of change `up_to` lists.
    pub async fn count_revocations(&self, ca: CaId, up_to: u64) -> Result<u64> {
        const SQL: &str = "SELECT COUNT(*) FROM revocations \
             WHERE ca_id = $1 AND change_seq <= $2 AND removed_from_hold = FALSE";
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar(SQL)
            .bind(ca.0)
            .bind(seq_to_db(up_to))
            .fetch_one(p)
            .await?);
        seq_from_db("revocations", "count", n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for r in RevocationReason::ALL {
            assert_eq!(RevocationReason::from_code(r.code()), Some(r));
            assert_eq!(r.as_str().parse::<RevocationReason>(), Ok(r));
        }
        assert_eq!(RevocationReason::from_code(7), None);
        assert_eq!(RevocationReason::from_code(8), None);
        assert!("removeFromCRL".parse::<RevocationReason>().is_err());
        assert_eq!("KEYCOMPROMISE".parse(), Ok(RevocationReason::KeyCompromise));
    }

    #[test]
    fn import_statement_shape() {
        assert_eq!(
            import_sql(2, Placeholders::Numbered),
            "INSERT INTO revocations (ca_id, serial, reason, revoked_at, invalidity_date, \
             removed_from_hold, change_seq) VALUES ($1, $3, $4, $5, $6, FALSE, $2), \
             ($1, $7, $8, $9, $10, FALSE, $2) ON CONFLICT DO NOTHING"
        );
        assert!(import_sql(2, Placeholders::Anonymous).ends_with(
            "VALUES (?, ?, ?, ?, ?, FALSE, ?), (?, ?, ?, ?, ?, FALSE, ?) ON CONFLICT DO NOTHING"
        ));
    }
}
