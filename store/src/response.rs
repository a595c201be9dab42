//! Signed OCSP responses: the durable pre-signed cache shared by every
//! responder (Boulder's `certificateStatus.ocspResponse`, in a table of its
//! own). The updater signs through the HSM and writes here in batches;
//! responders read one row per cache miss.
//!
//! Rows are derived data: each is signed, and can be signed again from the
//! certificate and revocation rows at any time, so the audit log does not
//! bind them. An upsert never replaces a response signed from a newer
//! status (`status_seq`), so an updater that read a status before a
//! revocation cannot overwrite the response signed after it.

use sqlx::QueryBuilder;
use time::OffsetDateTime;

use crate::backend::{from_unix, on_pool, seq_from_db, seq_to_db, unix, Pool};
use crate::ca::CaId;
use crate::error::{Result, StoreError};
use crate::revocation::{CertStatus, RevocationReason};
use crate::serial::Serial;
use crate::Store;

/// The CertID hash algorithm a response answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertIdHash {
    Sha1,
    Sha256,
}

impl CertIdHash {
    pub const ALL: [Self; 2] = [Self::Sha1, Self::Sha256];

    fn code(self) -> i16 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
        }
    }

    fn from_code(code: i16) -> Result<Self> {
        match code {
            1 => Ok(Self::Sha1),
            2 => Ok(Self::Sha256),
            _ => Err(StoreError::MalformedValue {
                table: "ocsp_responses",
                column: "hash_alg",
                reason: "unknown CertID hash code",
            }),
        }
    }
}

/// What a stored response says about its serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    Good,
    Revoked,
    Unknown,
}

impl ResponseStatus {
    fn code(self) -> i16 {
        match self {
            Self::Good => 0,
            Self::Revoked => 1,
            Self::Unknown => 2,
        }
    }

    fn from_code(code: i16) -> Result<Self> {
        match code {
            0 => Ok(Self::Good),
            1 => Ok(Self::Revoked),
            2 => Ok(Self::Unknown),
            _ => Err(StoreError::MalformedValue {
                table: "ocsp_responses",
                column: "status",
                reason: "unknown status code",
            }),
        }
    }
}

/// A stored response as read back, with what decides whether it may be
/// served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRead {
    pub response: StoredResponse,
    /// `change_seq` of the serial's revocation row (revoked, or released
    /// from hold), when it has one.
    pub revocation_seq: Option<u64>,
}

impl StoredRead {
    /// The response was signed from the serial's current status: no
    /// revocation or release from hold came after the status it was signed
    /// from.
    pub fn current(&self) -> bool {
        self.revocation_seq
            .is_none_or(|seq| seq <= self.response.status_seq)
    }
}

/// One signed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub ca: CaId,
    pub hash: CertIdHash,
    pub serial: Serial,
    pub status: ResponseStatus,
    /// The change sequence number the status was read at.
    pub status_seq: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// The whole `OCSPResponse`, as served.
    pub der: Vec<u8>,
}

/// Most serials one statement of [`Store::ocsp_responses_of`] reads.
pub const MAX_READ_BATCH: usize = 256;

/// Rows per INSERT statement (8 parameters each: well under SQLite's
/// 32,766 and PostgreSQL's 65,535 bind parameters).
const ROWS_PER_STATEMENT: usize = 1_000;

type Row = (i16, Vec<u8>, i16, i64, i64, i64, Vec<u8>);
/// [`Row`] and the revocation's change sequence number.
type ReadRow = (i16, Vec<u8>, i16, i64, i64, i64, Vec<u8>, Option<i64>);

const UPSERT_TAIL: &str = " ON CONFLICT (ca_id, hash_alg, serial) DO UPDATE SET \
     status = excluded.status, status_seq = excluded.status_seq, \
     this_update = excluded.this_update, next_update = excluded.next_update, \
     der = excluded.der \
     WHERE excluded.status_seq > ocsp_responses.status_seq \
        OR (excluded.status_seq = ocsp_responses.status_seq \
            AND excluded.this_update >= ocsp_responses.this_update)";

impl Store {
    /// The stored response for (issuer, CertID hash, serial) and the
    /// change sequence number of the serial's revocation row, if any: one
    /// read of two primary keys. A response whose `status_seq` is below
    /// that number predates the serial's last revocation or release from
    /// hold and must not be served ([`StoredRead::current`]).
    pub async fn ocsp_response(
        &self,
        ca: CaId,
        hash: CertIdHash,
        serial: &Serial,
    ) -> Result<Option<StoredRead>> {
        const SQL: &str = "SELECT r.hash_alg, r.serial, r.status, r.status_seq, r.this_update, \
             r.next_update, r.der, v.change_seq FROM ocsp_responses r \
             LEFT JOIN revocations v ON v.ca_id = r.ca_id AND v.serial = r.serial \
             WHERE r.ca_id = $1 AND r.hash_alg = $2 AND r.serial = $3";
        let row: Option<ReadRow> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
                .bind(ca.0)
                .bind(hash.code())
                .bind(serial.as_bytes())
                .fetch_optional(p)
                .await?);
        row.map(|r| {
            Ok(StoredRead {
                response: response_from_row(ca, (r.0, r.1, r.2, r.3, r.4, r.5, r.6))?,
                revocation_seq: r
                    .7
                    .map(|v| seq_from_db("revocations", "change_seq", v))
                    .transpose()?,
            })
        })
        .transpose()
    }

    /// [`Store::ocsp_response`] for several serials of one issuer and
    /// hash in one statement (a responder's concurrent cache misses), in
    /// the order given; a statement per [`MAX_READ_BATCH`] serials.
    pub async fn ocsp_responses_of(
        &self,
        ca: CaId,
        hash: CertIdHash,
        serials: &[&Serial],
    ) -> Result<Vec<Option<StoredRead>>> {
        if serials.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = std::collections::HashMap::with_capacity(serials.len());
        for chunk in serials.chunks(MAX_READ_BATCH) {
            let rows: Vec<ReadRow> = on_pool!(&self.pool, p => {
                let mut q = QueryBuilder::new(
                    "SELECT r.hash_alg, r.serial, r.status, r.status_seq, r.this_update, \
                     r.next_update, r.der, v.change_seq FROM ocsp_responses r \
                     LEFT JOIN revocations v ON v.ca_id = r.ca_id AND v.serial = r.serial \
                     WHERE r.ca_id = ",
                );
                q.push_bind(ca.0)
                    .push(" AND r.hash_alg = ")
                    .push_bind(hash.code())
                    .push(" AND r.serial IN (");
                let mut list = q.separated(", ");
                for s in chunk {
                    list.push_bind(s.as_bytes());
                }
                q.push(")");
                q.build_query_as().fetch_all(p).await?
            });
            for r in rows {
                let read = StoredRead {
                    response: response_from_row(ca, (r.0, r.1, r.2, r.3, r.4, r.5, r.6))?,
                    revocation_seq: r
                        .7
                        .map(|v| seq_from_db("revocations", "change_seq", v))
                        .transpose()?,
                };
                found.insert(read.response.serial.as_bytes().to_vec(), read);
            }
        }
        Ok(serials
            .iter()
            .map(|s| found.get(s.as_bytes()).cloned())
            .collect())
    }

    /// The status of each of `serials` under `ca` (as [`Store::status`],
    /// two queries for the whole slice), in the order given.
    pub async fn statuses_of(&self, ca: CaId, serials: &[Serial]) -> Result<Vec<CertStatus>> {
        let mut revoked = std::collections::HashMap::new();
        let mut issued = std::collections::HashSet::new();
        match &self.pool {
            Pool::Postgres(p) => {
                // One array parameter instead of an IN list per chunk.
                let all: Vec<&[u8]> = serials.iter().map(Serial::as_bytes).collect();
                let rows: Vec<(Vec<u8>, i16, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT serial, reason, revoked_at, invalidity_date FROM revocations \
                     WHERE removed_from_hold = FALSE AND ca_id = $1 AND serial = ANY($2)",
                )
                .bind(ca.0)
                .bind(&all)
                .fetch_all(p)
                .await?;
                for (serial, reason, at, invalidity) in rows {
                    revoked.insert(serial, revoked_status(reason, at, invalidity)?);
                }
                let rows: Vec<Vec<u8>> = sqlx::query_scalar(
                    "SELECT serial FROM certificates WHERE ca_id = $1 AND serial = ANY($2)",
                )
                .bind(ca.0)
                .bind(&all)
                .fetch_all(p)
                .await?;
                issued.extend(rows);
            }
            Pool::Sqlite(p) => {
                // IN lists, a statement per chunk.
                for chunk in serials.chunks(ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::new(
                        "SELECT serial, reason, revoked_at, invalidity_date FROM revocations \
                         WHERE removed_from_hold = FALSE AND ca_id = ",
                    );
                    q.push_bind(ca.0).push(" AND serial IN (");
                    let mut list = q.separated(", ");
                    for s in chunk {
                        list.push_bind(s.as_bytes());
                    }
                    q.push(")");
                    let rows: Vec<(Vec<u8>, i16, i64, Option<i64>)> =
                        q.build_query_as().fetch_all(p).await?;
                    for (serial, reason, at, invalidity) in rows {
                        revoked.insert(serial, revoked_status(reason, at, invalidity)?);
                    }
                    let mut q = QueryBuilder::new("SELECT serial FROM certificates WHERE ca_id = ");
                    q.push_bind(ca.0).push(" AND serial IN (");
                    let mut list = q.separated(", ");
                    for s in chunk {
                        list.push_bind(s.as_bytes());
                    }
                    q.push(")");
                    let rows: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(p).await?;
                    issued.extend(rows);
                }
            }
        }
        Ok(serials
            .iter()
            .map(|s| {
                revoked.get(s.as_bytes()).cloned().unwrap_or_else(|| {
                    if issued.contains(s.as_bytes()) {
                        CertStatus::Good
                    } else {
                        CertStatus::Unknown
                    }
                })
            })
            .collect())
    }

    /// Writes `responses` in one transaction, a statement per thousand
    /// rows. A row replaces the stored one unless that one was signed from
    /// a newer status (or, from the same status, later). Returns the rows
    /// written.
    pub async fn put_ocsp_responses(&self, responses: &[StoredResponse]) -> Result<u64> {
        if responses.is_empty() {
            return Ok(0);
        }
        let mut written = 0;
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                for chunk in responses.chunks(ROWS_PER_STATEMENT) {
                    let mut q = upsert(chunk);
                    written += q.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                // One statement of eight arrays, whatever the count: no
                // VALUES list of thousands of parameters to bind and plan
                // for every batch.
                const SQL: &str = "INSERT INTO ocsp_responses (ca_id, hash_alg, serial, \
                     status, status_seq, this_update, next_update, der) \
                     SELECT * FROM UNNEST($1::bigint[], $2::smallint[], $3::bytea[], \
                       $4::smallint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bytea[])";
                let column =
                    |f: fn(&StoredResponse) -> i64| responses.iter().map(f).collect::<Vec<i64>>();
                let bytes = |f: for<'r> fn(&'r StoredResponse) -> &'r [u8]| {
                    responses.iter().map(f).collect::<Vec<&[u8]>>()
                };
                let mut tx = p.begin().await?;
                written += sqlx::query(&format!("{SQL}{UPSERT_TAIL}"))
                    .bind(column(|r| r.ca.0))
                    .bind(
                        responses
                            .iter()
                            .map(|r| r.hash.code())
                            .collect::<Vec<i16>>(),
                    )
                    .bind(bytes(|r| r.serial.as_bytes()))
                    .bind(
                        responses
                            .iter()
                            .map(|r| r.status.code())
                            .collect::<Vec<i16>>(),
                    )
                    .bind(column(|r| seq_to_db(r.status_seq)))
                    .bind(column(|r| unix(r.this_update)))
                    .bind(column(|r| unix(r.next_update)))
                    .bind(bytes(|r| r.der.as_slice()))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
            }
        }
        Ok(written)
    }

    /// Up to `limit` serials of `ca` (certificates recorded, then
    /// revocations without a certificate, e.g. imported) after `after` in
    /// serial order that have no stored response for `hash`: what the
    /// updater signs first. Each page costs an index walk from `after`.
    pub async fn serials_without_response(
        &self,
        ca: CaId,
        hash: CertIdHash,
        from: MissingCursor,
        limit: u32,
    ) -> Result<(Vec<Serial>, Option<MissingCursor>)> {
        const CERTS: &str = "SELECT c.serial FROM certificates c \
             WHERE c.ca_id = $1 AND c.serial > $2 AND NOT EXISTS (SELECT 1 FROM ocsp_responses r \
               WHERE r.ca_id = c.ca_id AND r.hash_alg = $3 AND r.serial = c.serial) \
             ORDER BY c.serial LIMIT $4";
        // Revoked certificates are the first walk's: this one takes only
        // revocations without a certificate (imported), so that a walk
        // that reads ahead of its writes meets each serial once.
        const REVOKED: &str = "SELECT v.serial FROM revocations v \
             WHERE v.ca_id = $1 AND v.serial > $2 AND NOT EXISTS (SELECT 1 FROM ocsp_responses r \
               WHERE r.ca_id = v.ca_id AND r.hash_alg = $3 AND r.serial = v.serial) \
             AND NOT EXISTS (SELECT 1 FROM certificates c \
               WHERE c.ca_id = v.ca_id AND c.serial = v.serial) \
             ORDER BY v.serial LIMIT $4";
        let (sql, after, table) = match &from {
            MissingCursor::Certificates(after) => (CERTS, after, "certificates"),
            MissingCursor::Revocations(after) => (REVOKED, after, "revocations"),
        };
        let after = after.as_ref().map_or(&[][..], Serial::as_bytes);
        let rows: Vec<Vec<u8>> = on_pool!(&self.pool, p => sqlx::query_scalar(sql)
            .bind(ca.0)
            .bind(after)
            .bind(hash.code())
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        let serials = rows
            .into_iter()
            .map(|s| Serial::from_stored(s, table))
            .collect::<Result<Vec<_>>>()?;
        let next = if serials.len() as u64 == u64::from(limit) {
            let last = serials.last().cloned();
            Some(match from {
                MissingCursor::Certificates(_) => MissingCursor::Certificates(last),
                MissingCursor::Revocations(_) => MissingCursor::Revocations(last),
            })
        } else {
            match from {
                MissingCursor::Certificates(_) => Some(MissingCursor::Revocations(None)),
                MissingCursor::Revocations(_) => None,
            }
        };
        Ok((serials, next))
    }

    /// Up to `limit` serials of `ca` whose `hash` response was produced
    /// before `before`, oldest first (then in serial order), after
    /// `after`: what the updater re-signs. Returns the cursor after the
    /// page when the page is full.
    pub async fn responses_due(
        &self,
        ca: CaId,
        hash: CertIdHash,
        before: OffsetDateTime,
        after: Option<&DueCursor>,
        limit: u32,
    ) -> Result<(Vec<Serial>, Option<DueCursor>)> {
        const SQL: &str = "SELECT serial, this_update FROM ocsp_responses \
             WHERE ca_id = $1 AND hash_alg = $2 AND this_update < $3 \
               AND (this_update, serial) > ($4, $5) \
             ORDER BY this_update, serial LIMIT $6";
        let (from_time, from_serial) = after.map_or((i64::MIN, &[][..]), |c| {
            (c.this_update, c.serial.as_bytes())
        });
        let rows: Vec<(Vec<u8>, i64)> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(ca.0)
            .bind(hash.code())
            .bind(unix(before))
            .bind(from_time)
            .bind(from_serial)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        let full = rows.len() as u64 == u64::from(limit);
        let last_time = rows.last().map(|r| r.1);
        let serials = rows
            .into_iter()
            .map(|(s, _)| Serial::from_stored(s, "ocsp_responses"))
            .collect::<Result<Vec<_>>>()?;
        let next = match (full, serials.last(), last_time) {
            (true, Some(serial), Some(this_update)) => Some(DueCursor {
                this_update,
                serial: serial.clone(),
            }),
            _ => None,
        };
        Ok((serials, next))
    }

    /// The oldest thisUpdate among `ca`'s stored responses (an index read).
    pub async fn oldest_response(&self, ca: CaId) -> Result<Option<OffsetDateTime>> {
        const SQL: &str = "SELECT MIN(this_update) FROM ocsp_responses WHERE ca_id = $1";
        let t: Option<i64> = on_pool!(&self.pool, p => sqlx::query_scalar(SQL)
            .bind(ca.0)
            .fetch_one(p)
            .await?);
        t.map(|t| from_unix("ocsp_responses", "this_update", t))
            .transpose()
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl`:
    /// true when `holder` holds it afterwards (it was free, expired, or
    /// already `holder`'s).
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        const SQL: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4";
        let until = now + ttl;
        let n = on_pool!(&self.pool, p => sqlx::query(SQL)
            .bind(name)
            .bind(holder)
            .bind(unix(until))
            .bind(unix(now))
            .execute(p)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Gives the lease up if `holder` has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM leases WHERE name = $1 AND holder = $2";
        on_pool!(&self.pool, p => sqlx::query(SQL)
            .bind(name)
            .bind(holder)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// On a PostgreSQL streaming replica, how far its replay is behind:
    /// zero when it has replayed everything it received, else the age of
    /// the last transaction it replayed. `None` on a primary or on SQLite.
    pub async fn replica_lag(&self) -> Result<Option<std::time::Duration>> {
        const SQL: &str = "SELECT pg_is_in_recovery(), \
             COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), TRUE), \
             COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8, 0)";
        let Pool::Postgres(p) = &self.pool else {
            return Ok(None);
        };
        let (recovering, caught_up, age): (bool, bool, f64) =
            sqlx::query_as(SQL).fetch_one(p).await?;
        if !recovering {
            return Ok(None);
        }
        let secs = if caught_up { 0.0 } else { age.max(0.0) };
        Ok(Some(std::time::Duration::from_secs_f64(secs)))
    }
}

/// A revocation row's status.
fn revoked_status(reason: i16, at: i64, invalidity: Option<i64>) -> Result<CertStatus> {
    Ok(CertStatus::Revoked {
        reason: RevocationReason::from_db(reason)?,
        revoked_at: from_unix("revocations", "revoked_at", at)?,
        invalidity_date: invalidity
            .map(|t| from_unix("revocations", "invalidity_date", t))
            .transpose()?,
    })
}

/// Where [`Store::serials_without_response`] goes on: certificates first,
/// then revocations, each in serial order after the serial given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingCursor {
    Certificates(Option<Serial>),
    Revocations(Option<Serial>),
}

/// Where [`Store::responses_due`] goes on: after this (thisUpdate,
/// serial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCursor {
    this_update: i64,
    serial: Serial,
}

impl MissingCursor {
    pub fn start() -> Self {
        Self::Certificates(None)
    }
}

fn upsert<'a, DB>(chunk: &'a [StoredResponse]) -> QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i16: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = QueryBuilder::new(
        "INSERT INTO ocsp_responses (ca_id, hash_alg, serial, status, status_seq, \
         this_update, next_update, der) ",
    );
    q.push_values(chunk, |mut b, r| {
        b.push_bind(r.ca.0)
            .push_bind(r.hash.code())
            .push_bind(r.serial.as_bytes())
            .push_bind(r.status.code())
            .push_bind(seq_to_db(r.status_seq))
            .push_bind(unix(r.this_update))
            .push_bind(unix(r.next_update))
            .push_bind(r.der.as_slice());
    });
    q.push(UPSERT_TAIL);
    q
}

fn response_from_row(ca: CaId, r: Row) -> Result<StoredResponse> {
    Ok(StoredResponse {
        ca,
        hash: CertIdHash::from_code(r.0)?,
        serial: Serial::from_stored(r.1, "ocsp_responses")?,
        status: ResponseStatus::from_code(r.2)?,
        status_seq: seq_from_db("ocsp_responses", "status_seq", r.3)?,
        this_update: from_unix("ocsp_responses", "this_update", r.4)?,
        next_update: from_unix("ocsp_responses", "next_update", r.5)?,
        der: r.6,
    })
}
