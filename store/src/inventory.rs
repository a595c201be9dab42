//! Read-only views for officers and auditors: what a CA holds, its
//! certificates one keyset page at a time, a certificate by fingerprint,
//! the audit entries that touched a certificate, and filtered pages of the
//! audit log.
//!
//! Every listing is a page ordered by its key (serial, or audit sequence
//! number) starting after the last key of the previous page, so a caller
//! streams a million rows holding one page, and each page is one indexed
//! range read: certificates by their primary key `(ca_id, serial)`, the
//! audit log by `seq`, the rows an entry wrote by `audit_rows_by_row`.

use time::OffsetDateTime;

use crate::audit::{AuditEntry, RawEntry, Row as AuditRow, Table, SELECT as AUDIT_SELECT};
use crate::backend::{
    from_unix, from_unix_opt, hash_from_db, on_pool, read_counter, seq_from_db, seq_to_db, unix,
};
use crate::ca::{Ca, CaId};
use crate::certificate::CertificateRecord;
use crate::error::{Result, StoreError};
use crate::revocation::{CertStatus, RevocationReason};
use crate::serial::Serial;
use crate::Store;

/// How many certificates of a CA are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Certificates recorded as issued by the CA.
    pub issued: u64,
    /// Issued and not revoked.
    pub good: u64,
    /// Issued and revoked for good (any reason but certificateHold).
    pub revoked: u64,
    /// Issued and on certificateHold.
    pub on_hold: u64,
    /// Revocations (on the CRL) of serials with no certificate recorded
    /// here: bulk imports of another system's revocations.
    pub revoked_unrecorded: u64,
}

/// Which certificates a listing keeps, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Good,
    /// Revoked for any reason but certificateHold.
    Revoked,
    OnHold,
}

/// One page of a CA's certificates, ordered by serial (keyset paging:
/// [`CertificateQuery::advance`] moves past a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateQuery {
    pub ca: CaId,
    /// Only serials after this one (the last of the previous page).
    pub after: Option<Serial>,
    pub limit: u32,
    pub status: Option<StatusFilter>,
    /// Only certificates recorded strictly after this time.
    pub issued_after: Option<OffsetDateTime>,
}

impl CertificateQuery {
    pub const DEFAULT_LIMIT: u32 = 1_000;

    /// Every certificate of `ca`, first page.
    pub fn new(ca: CaId) -> Self {
        Self {
            ca,
            after: None,
            limit: Self::DEFAULT_LIMIT,
            status: None,
            issued_after: None,
        }
    }

    /// Moves past `page`; `false` when `page` was the last one.
    pub fn advance(&mut self, page: &[CertificateSummary]) -> bool {
        match page.last() {
            Some(last) if page.len() >= self.limit as usize => {
                self.after = Some(last.serial.clone());
                true
            }
            _ => false,
        }
    }
}

/// A certificate as a listing shows it: everything but the DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    pub serial: Serial,
    /// DER of the subject Name.
    pub subject_der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub profile: String,
    pub sha256: [u8; 32],
    pub issued_at: OffsetDateTime,
    /// `Good` or `Revoked` (on hold: reason `CertificateHold`); never
    /// `Unknown`, the certificate is recorded.
    pub status: CertStatus,
}

/// One page of the audit log, ordered by sequence number, with filters
/// ([`AuditQuery::advance`] moves past a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries after this sequence number.
    pub after: u64,
    pub limit: u32,
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries by this actor (exact).
    pub actor: Option<String>,
    /// Only this action, or the actions under it: `certificate` matches
    /// `certificate.issue` and `certificate.revoke`.
    pub action: Option<String>,
}

impl AuditQuery {
    pub const DEFAULT_LIMIT: u32 = 1_000;

    /// The whole log, first page.
    pub fn new() -> Self {
        Self {
            after: 0,
            limit: Self::DEFAULT_LIMIT,
            since: None,
            actor: None,
            action: None,
        }
    }

    /// Moves past `page`; `false` when `page` was the last one.
    pub fn advance(&mut self, page: &[AuditEntry]) -> bool {
        match page.last() {
            Some(last) if page.len() >= self.limit as usize => {
                self.after = last.seq;
                true
            }
            _ => false,
        }
    }
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self::new()
    }
}

/// A row an audit entry wrote (bound in `audit_rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundRow {
    pub table: Table,
    pub ca: CaId,
    /// The serial, for certificates and revocations.
    pub serial: Option<Serial>,
    /// The CRL number, for CRL numbers.
    pub number: Option<u64>,
    /// The officer's name, for officers (CA id 0).
    pub officer: Option<String>,
}

/// tbl, ca_id, row_key, row_num of `audit_rows`
type BindingRow = (i16, i64, Vec<u8>, i64);

/// serial, subject_der, not_before, not_after, profile, sha256, issued_at,
/// reason, revoked_at, invalidity_date
type SummaryRow = (
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    String,
    Vec<u8>,
    i64,
    Option<i16>,
    Option<i64>,
    Option<i64>,
);

fn summary_from_row(r: SummaryRow) -> Result<CertificateSummary> {
    let status = match (r.7, r.8) {
        (Some(reason), Some(at)) => CertStatus::Revoked {
            reason: reason_from_db(reason)?,
            revoked_at: from_unix("revocations", "revoked_at", at)?,
            invalidity_date: from_unix_opt("revocations", "invalidity_date", r.9)?,
        },
        _ => CertStatus::Good,
    };
    Ok(CertificateSummary {
        serial: Serial::from_stored(r.0, "certificates")?,
        subject_der: r.1,
        not_before: from_unix("certificates", "not_before", r.2)?,
        not_after: from_unix("certificates", "not_after", r.3)?,
        profile: r.4,
        sha256: hash_from_db("certificates", "sha256", &r.5)?,
        issued_at: from_unix("certificates", "issued_at", r.6)?,
        status,
    })
}

fn reason_from_db(code: i16) -> Result<RevocationReason> {
    u8::try_from(code)
        .ok()
        .and_then(RevocationReason::from_code)
        .ok_or(StoreError::ValueOutOfRange {
            table: "revocations",
            column: "reason",
            value: i64::from(code),
        })
}

/// The revocation that decides a certificate's status: the current entry,
/// not one released from hold.
const LISTED: &str = "SELECT c.serial, c.subject_der, c.not_before, c.not_after, c.profile, \
     c.sha256, c.issued_at, r.reason, r.revoked_at, r.invalidity_date \
     FROM certificates c LEFT JOIN revocations r \
     ON r.ca_id = c.ca_id AND r.serial = c.serial AND r.removed_from_hold = FALSE \
     WHERE c.ca_id = $1 AND c.serial > $2";

/// RFC 5280 5.3.1 certificateHold, the hold flag in `revocations.reason`.
fn hold_code() -> i16 {
    i16::from(RevocationReason::CertificateHold.code())
}

/// A statement with optional filters: each fragment's `?` becomes the
/// next `$N`, and the caller binds the values in the same order.
struct Numbered {
    sql: String,
    next: usize,
}

impl Numbered {
    fn new(sql: &str, next: usize) -> Self {
        Self {
            sql: sql.to_owned(),
            next,
        }
    }

    fn push(&mut self, fragment: &str) {
        self.sql
            .push_str(&fragment.replace('?', &format!("${}", self.next)));
        self.next += 1;
    }

    fn raw(&mut self, fragment: &str) {
        self.sql.push_str(fragment);
    }
}

/// Audit entries listed per certificate at most: a certificate is issued
/// once and revoked or held a few times.
const MAX_ENTRIES_PER_CERTIFICATE: u32 = 1_000;

impl Store {
    /// How many certificates of `ca` are in each status, now.
    pub async fn status_counts(&self, ca: CaId) -> Result<StatusCounts> {
        const ISSUED: &str = "SELECT COUNT(*), COUNT(r.reason), \
             COALESCE(SUM(CASE WHEN r.reason = $2 THEN 1 ELSE 0 END), 0) \
             FROM certificates c LEFT JOIN revocations r \
             ON r.ca_id = c.ca_id AND r.serial = c.serial AND r.removed_from_hold = FALSE \
             WHERE c.ca_id = $1";
        const UNRECORDED: &str = "SELECT COUNT(*) FROM revocations r \
             WHERE r.ca_id = $1 AND r.removed_from_hold = FALSE AND NOT EXISTS \
             (SELECT 1 FROM certificates c WHERE c.ca_id = r.ca_id AND c.serial = r.serial)";
        let ((issued, listed, held), unrecorded): ((i64, i64, i64), i64) = on_pool!(&self.pool, p => {
            let counts = sqlx::query_as(ISSUED)
                .bind(ca.0)
                .bind(hold_code())
                .fetch_one(p)
                .await?;
            let unrecorded = sqlx::query_scalar(UNRECORDED).bind(ca.0).fetch_one(p).await?;
            (counts, unrecorded)
        });
        let count = |value| seq_from_db("certificates", "count", value);
        let (issued, listed, on_hold) = (count(issued)?, count(listed)?, count(held)?);
        Ok(StatusCounts {
            issued,
            good: issued.saturating_sub(listed),
            revoked: listed.saturating_sub(on_hold),
            on_hold,
            revoked_unrecorded: count(unrecorded)?,
        })
    }

    /// The last CRL number reserved for `ca` (0: none yet).
    pub async fn crl_counter(&self, ca: CaId) -> Result<u64> {
        const SQL: &str = "SELECT crl_counter FROM cas WHERE id = $1";
        let value: Option<i64> =
            on_pool!(&self.pool, p => sqlx::query_scalar(SQL).bind(ca.0).fetch_optional(p).await?);
        seq_from_db(
            "cas",
            "crl_counter",
            value.ok_or(StoreError::UnknownCa(ca))?,
        )
    }

    /// `ca` and its issuers up to its root, `ca` first.
    pub async fn ca_chain(&self, ca: &Ca) -> Result<Vec<Ca>> {
        // Parents are recorded before their children (a foreign key), so
        // the walk ends; the bound guards against a hand-edited cycle.
        const MAX_DEPTH: usize = 16;
        let mut chain = vec![ca.clone()];
        while let Some(parent) = chain.last().and_then(|c| c.parent) {
            if chain.len() > MAX_DEPTH {
                return Err(StoreError::MalformedValue {
                    table: "cas",
                    column: "parent_id",
                    reason: "the chain of parents is longer than 16 CAs",
                });
            }
            chain.push(
                self.ca_by_id(parent)
                    .await?
                    .ok_or(StoreError::UnknownCa(parent))?,
            );
        }
        Ok(chain)
    }

    /// One page of certificates (see [`CertificateQuery`]).
    pub async fn certificate_page(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<CertificateSummary>> {
        let mut sql = Numbered::new(LISTED, 4);
        if query.issued_after.is_some() {
            sql.push(" AND c.issued_at > ?");
        }
        let hold = match query.status {
            None => false,
            Some(StatusFilter::Good) => {
                sql.raw(" AND r.reason IS NULL");
                false
            }
            Some(StatusFilter::Revoked) => {
                sql.push(" AND r.reason IS NOT NULL AND r.reason <> ?");
                true
            }
            Some(StatusFilter::OnHold) => {
                sql.push(" AND r.reason = ?");
                true
            }
        };
        sql.raw(" ORDER BY c.serial LIMIT $3");
        let after = query.after.as_ref().map_or(&[][..], Serial::as_bytes);
        let rows: Vec<SummaryRow> = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as(&sql.sql)
                .bind(query.ca.0)
                .bind(after)
                .bind(i64::from(query.limit));
            if let Some(t) = query.issued_after {
                q = q.bind(unix(t));
            }
            if hold {
                q = q.bind(hold_code());
            }
            q.fetch_all(p).await?
        });
        rows.into_iter().map(summary_from_row).collect()
    }

    /// The recorded certificate whose DER has this SHA-256, with its CA.
    pub async fn certificate_by_sha256(
        &self,
        sha256: &[u8; 32],
    ) -> Result<Option<CertificateRecord>> {
        const SQL: &str = "SELECT ca_id, serial, subject_der, not_before, not_after, der, \
             profile, sha256, issued_at FROM certificates WHERE sha256 = $1";
        type Row = (
            i64,
            Vec<u8>,
            Vec<u8>,
            i64,
            i64,
            Vec<u8>,
            String,
            Vec<u8>,
            i64,
        );
        let row: Option<Row> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(sha256.as_slice())
            .fetch_optional(p)
            .await?);
        row.map(|r| {
            Ok(CertificateRecord {
                ca: CaId(r.0),
                serial: Serial::from_stored(r.1, "certificates")?,
                subject_der: r.2,
                not_before: from_unix("certificates", "not_before", r.3)?,
                not_after: from_unix("certificates", "not_after", r.4)?,
                der: r.5,
                profile: r.6,
                sha256: hash_from_db("certificates", "sha256", &r.7)?,
                issued_at: from_unix("certificates", "issued_at", r.8)?,
            })
        })
        .transpose()
    }

    /// The audit entries that wrote the certificate or revocation row of
    /// `serial` under `ca` (issuance, revocation, hold and release, a
    /// baseline binding), oldest first, at most 1,000.
    pub async fn audit_entries_for_certificate(
        &self,
        ca: CaId,
        serial: &Serial,
    ) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "{AUDIT_SELECT} WHERE seq IN (SELECT seq FROM audit_rows \
             WHERE tbl IN ($1, $2) AND ca_id = $3 AND row_key = $4 AND row_num = 0) \
             ORDER BY seq LIMIT $5"
        );
        let rows: Vec<AuditRow> = on_pool!(&self.pool, p => sqlx::query_as(&sql)
            .bind(Table::Certificates.code())
            .bind(Table::Revocations.code())
            .bind(ca.0)
            .bind(serial.as_bytes())
            .bind(i64::from(MAX_ENTRIES_PER_CERTIFICATE))
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|r| RawEntry::from(r).into_entry())
            .collect()
    }

    /// One page of the audit log (see [`AuditQuery`]).
    pub async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut sql = Numbered::new(&format!("{AUDIT_SELECT} WHERE seq > $1"), 3);
        if query.since.is_some() {
            sql.push(" AND at_us >= ?");
        }
        if query.actor.is_some() {
            sql.push(" AND actor = ?");
        }
        // `certificate` matches itself and `certificate.*`: compare the
        // prefix rather than LIKE, whose wildcards and case rules differ
        // between the engines.
        let prefix = query.action.as_ref().map(|a| format!("{a}."));
        if query.action.is_some() {
            sql.push(" AND (action = ?");
            sql.push(" OR substr(action, 1, ?)");
            sql.push(" = ?)");
        }
        sql.raw(" ORDER BY seq LIMIT $2");
        let since_us = query
            .since
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MIN));
        let prefix_len = prefix
            .as_ref()
            .map(|p| i32::try_from(p.chars().count()).unwrap_or(i32::MAX));
        let rows: Vec<AuditRow> = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as(&sql.sql)
                .bind(seq_to_db(query.after))
                .bind(i64::from(query.limit));
            if let Some(us) = since_us {
                q = q.bind(us);
            }
            if let Some(actor) = &query.actor {
                q = q.bind(actor);
            }
            if let (Some(action), Some(prefix), Some(len)) = (&query.action, &prefix, prefix_len) {
                q = q.bind(action).bind(len).bind(prefix);
            }
            q.fetch_all(p).await?
        });
        rows.into_iter()
            .map(|r| RawEntry::from(r).into_entry())
            .collect()
    }

    /// The sequence number of the newest audit entry (0: none yet).
    pub async fn audit_head(&self) -> Result<u64> {
        seq_from_db(
            "counters",
            "value",
            read_counter(&self.pool, "audit").await?,
        )
    }

    /// Audit entry `seq`, if the log has it.
    pub async fn audit_entry(&self, seq: u64) -> Result<Option<AuditEntry>> {
        let sql = format!("{AUDIT_SELECT} WHERE seq = $1");
        let row: Option<AuditRow> = on_pool!(&self.pool, p => sqlx::query_as(&sql)
            .bind(seq_to_db(seq))
            .fetch_optional(p)
            .await?);
        row.map(|r| RawEntry::from(r).into_entry()).transpose()
    }

    /// The first `limit` rows audit entry `seq` wrote, in binding order,
    /// and how many it wrote in all.
    pub async fn audit_bound_rows(&self, seq: u64, limit: u32) -> Result<(Vec<BoundRow>, u64)> {
        const ROWS: &str = "SELECT tbl, ca_id, row_key, row_num FROM audit_rows WHERE seq = $1 \
             ORDER BY tbl, ca_id, row_key, row_num LIMIT $2";
        const COUNT: &str = "SELECT COUNT(*) FROM audit_rows WHERE seq = $1";
        let (rows, total): (Vec<BindingRow>, i64) = on_pool!(&self.pool, p => {
            let rows = sqlx::query_as(ROWS)
                .bind(seq_to_db(seq))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            let total = sqlx::query_scalar(COUNT).bind(seq_to_db(seq)).fetch_one(p).await?;
            (rows, total)
        });
        let rows = rows
            .into_iter()
            .map(|(tbl, ca, key, num)| {
                let table = Table::ALL
                    .into_iter()
                    .chain(Table::GLOBAL)
                    .find(|t| t.code() == tbl)
                    .ok_or(StoreError::ValueOutOfRange {
                        table: "audit_rows",
                        column: "tbl",
                        value: i64::from(tbl),
                    })?;
                let keyed = matches!(table, Table::Certificates | Table::Revocations);
                let officer =
                    (table == Table::Officers).then(|| String::from_utf8_lossy(&key).into_owned());
                Ok(BoundRow {
                    officer,
                    table,
                    ca: CaId(ca),
                    serial: if keyed {
                        Some(Serial::from_stored(key, "audit_rows")?)
                    } else {
                        None
                    },
                    number: if table == Table::CrlNumbers {
                        Some(seq_from_db("audit_rows", "row_num", num)?)
                    } else {
                        None
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, seq_from_db("audit_rows", "count", total)?))
    }
}
