//! The hash-chained audit log.
//!
//! Each entry carries the hash of the previous one; entry 1 carries 32 zero
//! bytes. The hash is SHA-256 over this encoding, where every variable-length
//! field is length-prefixed so no two entries encode alike:
//!
//! ```text
//! "pki-store audit v1\0"
//! seq            u64, big-endian
//! time           i64 Unix microseconds, big-endian
//! actor          u32 length, UTF-8 bytes
//! action         u32 length, UTF-8 bytes
//! inputs         u32 count, count x 32-byte SHA-256
//! outputs        u32 count, count x 32-byte SHA-256
//! details        u32 length, UTF-8 JSON text exactly as stored
//! prev_hash      32 bytes
//! ```
//!
//! The last sequence number handed out is kept in `counters`, so deleting
//! the newest entries is detected too. Someone able to rewrite the whole
//! table and that counter can rebuild a consistent chain: anchor the head
//! hash outside the database (a signed checkpoint) where that matters.

use aws_lc_rs::digest;
use time::OffsetDateTime;

use crate::backend::{hash_from_db, on_pool, on_tx, read_counter, seq_from_db, seq_to_db};
use crate::error::{Result, StoreError};
use crate::{Store, StoreTx};

const DOMAIN: &[u8] = b"pki-store audit v1\0";
const GENESIS: [u8; 32] = [0; 32];
const TABLE: &str = "audit_log";

/// SHA-256 of `data`, the identity hash used throughout the store.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// What to append: who did what, with the hashes of what went in and what
/// came out, and free-form details (stored as compact JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub actor: String,
    pub action: String,
    pub inputs_sha256: Vec<[u8; 32]>,
    pub outputs_sha256: Vec<[u8; 32]>,
    pub details: serde_json::Value,
}

/// Who is acting and on what inputs, for the store's own mutating methods,
/// which fill in the action, outputs and standard details themselves.
/// `details` (if not null) is kept under the `"extra"` key.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditContext {
    pub actor: String,
    pub inputs_sha256: Vec<[u8; 32]>,
    pub details: serde_json::Value,
}

impl AuditContext {
    pub fn new(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            inputs_sha256: Vec::new(),
            details: serde_json::Value::Null,
        }
    }

    /// Adds the SHA-256 of an input (a CSR, a ceremony file).
    #[must_use]
    pub fn with_input(mut self, sha256: [u8; 32]) -> Self {
        self.inputs_sha256.push(sha256);
        self
    }

    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub(crate) fn record(
        &self,
        action: &str,
        outputs_sha256: Vec<[u8; 32]>,
        mut details: serde_json::Value,
    ) -> AuditRecord {
        if !self.details.is_null() {
            if let Some(map) = details.as_object_mut() {
                map.insert("extra".into(), self.details.clone());
            }
        }
        AuditRecord {
            actor: self.actor.clone(),
            action: action.into(),
            inputs_sha256: self.inputs_sha256.clone(),
            outputs_sha256,
            details,
        }
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    /// Microsecond precision.
    pub time: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub inputs_sha256: Vec<[u8; 32]>,
    pub outputs_sha256: Vec<[u8; 32]>,
    /// The details JSON text exactly as hashed.
    pub details: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl AuditEntry {
    /// The chain hash of this entry's fields (see the module docs).
    pub fn compute_hash(&self) -> [u8; 32] {
        entry_hash(&EntryFields {
            seq: self.seq,
            time_us: unix_micros(self.time),
            actor: &self.actor,
            action: &self.action,
            inputs: &self.inputs_sha256,
            outputs: &self.outputs_sha256,
            details: &self.details,
            prev_hash: &self.prev_hash,
        })
    }
}

/// Why `verify` stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("audit log broken at entry {seq}: {reason}")]
    Broken { seq: u64, reason: ChainBreak },

    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is wrong with the first broken entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// The entry is not in the log; `next_found` is the entry found in its
    /// place (`None`: the log ends before the recorded head).
    #[error("entry is missing (next entry present: {next_found:?})")]
    Missing { next_found: Option<u64> },

    #[error("stored hash does not match the entry's contents")]
    HashMismatch,

    #[error("prev_hash does not match the hash of the entry before it")]
    PrevHashMismatch,

    #[error("entry is beyond the recorded head {head}")]
    BeyondHead { head: u64 },

    #[error("malformed column {column}")]
    Malformed { column: &'static str },
}

struct EntryFields<'a> {
    seq: u64,
    time_us: i64,
    actor: &'a str,
    action: &'a str,
    inputs: &'a [[u8; 32]],
    outputs: &'a [[u8; 32]],
    details: &'a str,
    prev_hash: &'a [u8; 32],
}

fn entry_hash(f: &EntryFields<'_>) -> [u8; 32] {
    fn len(ctx: &mut digest::Context, n: usize) {
        // Fields are bounded far below 4 GiB (database text and row limits).
        ctx.update(&(n as u32).to_be_bytes());
    }
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(&f.seq.to_be_bytes());
    ctx.update(&f.time_us.to_be_bytes());
    for text in [f.actor, f.action] {
        len(&mut ctx, text.len());
        ctx.update(text.as_bytes());
    }
    for hashes in [f.inputs, f.outputs] {
        len(&mut ctx, hashes.len());
        for h in hashes {
            ctx.update(h);
        }
    }
    len(&mut ctx, f.details.len());
    ctx.update(f.details.as_bytes());
    ctx.update(f.prev_hash);
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn unix_micros(t: OffsetDateTime) -> i64 {
    // i64 microseconds cover +-292,000 years; OffsetDateTime's range is
    // +-9999 years.
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn concat(hashes: &[[u8; 32]]) -> Vec<u8> {
    hashes.concat()
}

fn split(bytes: &[u8]) -> Option<Vec<[u8; 32]>> {
    if bytes.len() % 32 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0; 32];
                h.copy_from_slice(c);
                h
            })
            .collect(),
    )
}

type Row = (
    i64,
    i64,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
    Vec<u8>,
    Vec<u8>,
);

const SELECT: &str = "SELECT seq, at_us, actor, action, inputs_sha256, outputs_sha256, details, \
     prev_hash, hash FROM audit_log";

/// A row as stored, before any checks.
struct RawEntry {
    seq: i64,
    at_us: i64,
    actor: String,
    action: String,
    inputs: Vec<u8>,
    outputs: Vec<u8>,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl From<Row> for RawEntry {
    fn from(r: Row) -> Self {
        Self {
            seq: r.0,
            at_us: r.1,
            actor: r.2,
            action: r.3,
            inputs: r.4,
            outputs: r.5,
            details: r.6,
            prev_hash: r.7,
            hash: r.8,
        }
    }
}

impl RawEntry {
    fn into_entry(self) -> Result<AuditEntry> {
        let malformed = |column| StoreError::MalformedValue {
            table: TABLE,
            column,
            reason: "not a list of SHA-256 values",
        };
        let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.at_us) * 1000)
            .map_err(|_| StoreError::ValueOutOfRange {
                table: TABLE,
                column: "at_us",
                value: self.at_us,
            })?;
        Ok(AuditEntry {
            seq: seq_from_db(TABLE, "seq", self.seq)?,
            time,
            actor: self.actor,
            action: self.action,
            inputs_sha256: split(&self.inputs).ok_or_else(|| malformed("inputs_sha256"))?,
            outputs_sha256: split(&self.outputs).ok_or_else(|| malformed("outputs_sha256"))?,
            details: self.details,
            prev_hash: hash_from_db(TABLE, "prev_hash", &self.prev_hash)?,
            hash: hash_from_db(TABLE, "hash", &self.hash)?,
        })
    }
}

const INSERT: &str = "INSERT INTO audit_log (seq, at_us, actor, action, inputs_sha256, \
     outputs_sha256, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl StoreTx {
    /// Appends an entry to the audit log in this transaction.
    pub async fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry> {
        let details = serde_json::to_string(&record.details)?;
        let seq = self.bump_counter("audit", 1).await?;
        let prev_hash = if seq == 1 {
            GENESIS
        } else {
            const SQL: &str = "SELECT hash FROM audit_log WHERE seq = $1";
            let prev: Option<Vec<u8>> = on_tx!(&mut self.tx, c => sqlx::query_scalar(SQL)
                .bind(seq - 1)
                .fetch_optional(&mut *c)
                .await?);
            let prev = prev.ok_or(StoreError::AuditHeadMissing {
                seq: (seq - 1) as u64,
            })?;
            hash_from_db(TABLE, "hash", &prev)?
        };
        let now = OffsetDateTime::now_utc();
        let time_us = unix_micros(now);
        let seq = seq_from_db(TABLE, "seq", seq)?;
        let hash = entry_hash(&EntryFields {
            seq,
            time_us,
            actor: &record.actor,
            action: &record.action,
            inputs: &record.inputs_sha256,
            outputs: &record.outputs_sha256,
            details: &details,
            prev_hash: &prev_hash,
        });
        on_tx!(&mut self.tx, c => sqlx::query(INSERT)
            .bind(seq_to_db(seq))
            .bind(time_us)
            .bind(&record.actor)
            .bind(&record.action)
            .bind(concat(&record.inputs_sha256))
            .bind(concat(&record.outputs_sha256))
            .bind(&details)
            .bind(prev_hash.as_slice())
            .bind(hash.as_slice())
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(AuditEntry {
            seq,
            time: OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_us) * 1000)
                .unwrap_or(now),
            actor: record.actor.clone(),
            action: record.action.clone(),
            inputs_sha256: record.inputs_sha256.clone(),
            outputs_sha256: record.outputs_sha256.clone(),
            details,
            prev_hash,
            hash,
        })
    }
}

impl Store {
    /// Appends one entry in its own transaction.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEntry> {
        let mut tx = self.begin().await?;
        let entry = tx.append_audit(record).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Up to `limit` entries with `seq > after`, in order.
    pub async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.raw_entries(after, limit)
            .await?
            .into_iter()
            .map(RawEntry::into_entry)
            .collect()
    }

    async fn raw_entries(&self, after: u64, limit: u32) -> Result<Vec<RawEntry>> {
        let sql = format!("{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<Row> = on_pool!(&self.pool, p => sqlx::query_as(&sql)
            .bind(seq_to_db(after))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(RawEntry::from).collect())
    }

    /// Walks the whole chain from entry 1 and returns the number of entries,
    /// or the first broken entry: an edited row (hash mismatch), a deleted
    /// row (gap, or missing tail up to the recorded head), a reordered or
    /// re-linked row (prev_hash mismatch).
    pub async fn verify_audit(&self) -> Result<u64, AuditError> {
        const PAGE: u32 = 5000;
        let mut expected: u64 = 1;
        let mut prev_hash = GENESIS;
        loop {
            let page = self.raw_entries(expected - 1, PAGE).await?;
            let full = page.len() == PAGE as usize;
            for raw in page {
                let seq = u64::try_from(raw.seq).unwrap_or(0);
                if seq != expected {
                    return Err(broken(
                        expected,
                        ChainBreak::Missing {
                            next_found: Some(seq),
                        },
                    ));
                }
                let Ok(entry) = raw.into_entry() else {
                    return Err(broken(seq, ChainBreak::Malformed { column: "hashes" }));
                };
                if entry.prev_hash != prev_hash {
                    return Err(broken(seq, ChainBreak::PrevHashMismatch));
                }
                if entry.compute_hash() != entry.hash {
                    return Err(broken(seq, ChainBreak::HashMismatch));
                }
                prev_hash = entry.hash;
                expected += 1;
            }
            if !full {
                break;
            }
        }
        let count = expected - 1;
        let head = seq_from_db(
            "counters",
            "value",
            read_counter(&self.pool, "audit").await?,
        )?;
        if count < head {
            return Err(broken(expected, ChainBreak::Missing { next_found: None }));
        }
        if count > head {
            return Err(broken(head + 1, ChainBreak::BeyondHead { head }));
        }
        Ok(count)
    }
}

fn broken(seq: u64, reason: ChainBreak) -> AuditError {
    AuditError::Broken { seq, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(actor: &'a str, action: &'a str, details: &'a str) -> EntryFields<'a> {
        EntryFields {
            seq: 1,
            time_us: 0,
            actor,
            action,
            inputs: &[],
            outputs: &[],
            details,
            prev_hash: &GENESIS,
        }
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Moving bytes between adjacent fields changes the hash.
        let a = entry_hash(&fields("ab", "c", "{}"));
        let b = entry_hash(&fields("a", "bc", "{}"));
        assert_ne!(a, b);
        let one_in = EntryFields {
            inputs: &[[1; 32]],
            ..fields("x", "y", "{}")
        };
        let one_out = EntryFields {
            outputs: &[[1; 32]],
            ..fields("x", "y", "{}")
        };
        assert_ne!(entry_hash(&one_in), entry_hash(&one_out));
    }

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 "abc".
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf],);
    }
}
