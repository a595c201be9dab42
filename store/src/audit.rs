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
//!
//! **Rows.** An entry that writes rows of `cas`, `certificates`,
//! `revocations` or `crl_numbers` also records each row's canonical image
//! ([`image`]) in `audit_rows` under its sequence number, and carries in
//! its details `"bound_rows": {"count": N, "sha256": HEX}`, the SHA-256
//! over those bindings in (table, CA, key) order:
//!
//! ```text
//! "pki-store audit rows v1\0"
//! per binding    u8 table code, i64 CA id, u32 length + row_key, i64 row_num,
//!                u32 length + image
//! ```
//!
//! (`row_key`, `row_num`) is the row's key: (serial, 0) for certificates and
//! revocations, (empty, CRL number) for CRL numbers, (empty, 0) for a CA.
//!
//! so the images are bound into the chain like every other field.
//! [`Store::verify_audit`] checks each entry's bindings against that
//! digest; [`Store::verify_state`] replays the last image of every row
//! against the tables ([`replay`]).

mod image;
mod replay;

use aws_lc_rs::digest;
use time::OffsetDateTime;

use crate::backend::{
    hash_from_db, on_tx, read_counter_tx, seq_from_db, seq_to_db, values_list, Tx,
};
use crate::error::{Result, StoreError};
use crate::{Store, StoreTx};

use image::db_key;
pub(crate) use image::{certificate_image, crl_number_key, revocation_image, Image};
pub use image::{FieldDiff, Table};
pub(crate) use replay::render_findings;
pub use replay::{RowFinding, RowProblem, StateReport};

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

    /// The row images bound to the entry (`audit_rows`) are not the ones
    /// its `bound_rows` digest vouches for: added, removed or edited.
    #[error("the rows bound to it do not match its digest ({claimed} claimed, {found} found)")]
    RowsMismatch { claimed: u64, found: u64 },
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

pub(crate) type Row = (
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

pub(crate) const SELECT: &str =
    "SELECT seq, at_us, actor, action, inputs_sha256, outputs_sha256, details, \
     prev_hash, hash FROM audit_log";

/// A row as stored, before any checks.
pub(crate) struct RawEntry {
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
    pub(crate) fn into_entry(self) -> Result<AuditEntry> {
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

/// The details key under which an entry vouches for the rows it wrote.
pub(crate) const BOUND_ROWS: &str = "bound_rows";
const ROWS_DOMAIN: &[u8] = b"pki-store audit rows v1\0";
/// Bindings per INSERT (6 parameters each, within SQLite's 32,766).
const BINDINGS_PER_INSERT: usize = 5_000;

/// The digest an entry carries over the row images bound to it.
pub(crate) struct RowsDigest {
    ctx: digest::Context,
    count: u64,
}

impl Default for RowsDigest {
    fn default() -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(ROWS_DOMAIN);
        Self { ctx, count: 0 }
    }
}

impl RowsDigest {
    /// Adds one binding; bindings must come in (table, CA, row_key,
    /// row_num) order.
    pub(crate) fn add(&mut self, table: i16, ca: i64, key: &[u8], num: i64, image: &[u8]) {
        // Keys and images are bounded far below 4 GiB.
        self.ctx.update(&[table as u8]);
        self.ctx.update(&ca.to_be_bytes());
        self.ctx.update(&(key.len() as u32).to_be_bytes());
        self.ctx.update(key);
        self.ctx.update(&num.to_be_bytes());
        self.ctx.update(&(image.len() as u32).to_be_bytes());
        self.ctx.update(image);
        self.count += 1;
    }

    pub(crate) fn finish(self) -> (u64, [u8; 32]) {
        let mut out = [0; 32];
        out.copy_from_slice(self.ctx.finish().as_ref());
        (self.count, out)
    }
}

/// What an entry's details say about the rows it wrote: `None` when it
/// wrote none (or predates row bindings), `Err` when the claim is malformed.
pub(crate) fn rows_claim(details: &str) -> Result<Option<(u64, [u8; 32])>, ChainBreak> {
    let malformed = ChainBreak::Malformed { column: "details" };
    let value: serde_json::Value = serde_json::from_str(details).map_err(|_| malformed.clone())?;
    let Some(claim) = value.get(BOUND_ROWS) else {
        return Ok(None);
    };
    let count = claim.get("count").and_then(serde_json::Value::as_u64);
    let digest = claim
        .get("sha256")
        .and_then(serde_json::Value::as_str)
        .and_then(unhex32);
    match (count, digest) {
        (Some(count), Some(digest)) => Ok(Some((count, digest))),
        _ => Err(malformed),
    }
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Where the next entry goes: its sequence number and the hash it links to.
#[derive(Clone, Copy)]
pub(crate) struct Link {
    pub(crate) seq: u64,
    prev_hash: [u8; 32],
}

/// One stored binding, as `audit_rows` holds it: seq, tbl, ca_id, row_key,
/// row_num, image.
pub(crate) type BindingRow = (i64, i16, i64, Vec<u8>, i64, Vec<u8>);

/// Where a walk over bindings stands: (seq, tbl, ca_id, row_key, row_num).
type BindingPos = (i64, i16, i64, Vec<u8>, i64);

const BINDING_START: BindingPos = (i64::MIN, i16::MIN, i64::MIN, Vec::new(), i64::MIN);

/// Up to `limit` bindings after `after` in (seq, table, CA, row_key,
/// row_num) order; with `only_seq`, those of entry `after.0`.
pub(crate) async fn bindings_after(
    tx: &mut Tx,
    after: &BindingPos,
    only_seq: bool,
    limit: u32,
) -> Result<Vec<BindingRow>> {
    const ALL: &str = "SELECT seq, tbl, ca_id, row_key, row_num, image FROM audit_rows \
         WHERE (seq, tbl, ca_id, row_key, row_num) > ($1, $2, $3, $4, $5) \
         ORDER BY seq, tbl, ca_id, row_key, row_num LIMIT $6";
    // The whole primary key in the lower bound, and `seq` as the upper:
    // both are index bounds whatever the statistics say. With one
    // baseline entry binding nearly every row, PostgreSQL estimates that
    // any seq matches them all: `seq = $1` may walk the by-row index, and
    // `seq >= $1 AND seq <= $1` with the row bound apart was planned as a
    // 200 ms sort per page at a million rows (EXPLAIN ANALYZE, custom
    // plan); this form is 1.4 ms.
    const ONE: &str = "SELECT seq, tbl, ca_id, row_key, row_num, image FROM audit_rows \
         WHERE (seq, tbl, ca_id, row_key, row_num) > ($1, $2, $3, $4, $5) AND seq <= $1 \
         ORDER BY seq, tbl, ca_id, row_key, row_num LIMIT $6";
    let rows: Vec<BindingRow> = on_tx!(tx, c => sqlx::query_as(if only_seq { ONE } else { ALL })
        .bind(after.0)
        .bind(after.1)
        .bind(after.2)
        .bind(after.3.as_slice())
        .bind(after.4)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?);
    Ok(rows)
}

/// Audit entries that bind many rows (imports, the upgrade baseline, CRL
/// reservations) whose rows digest this process checked and found intact,
/// and when. Entries never change; their bindings could only be altered
/// behind the store's back, which `pki audit verify` (never memoised)
/// finds. The publishing checks ([`Store::verify_ca_state`],
/// [`Store::verify_serial_state`]) trust a check for [`EntryMemo::TTL`],
/// or a hundred times as long as the check took if that is longer (a
/// ten-million-row baseline hashes in about a minute: re-checked every ten
/// minutes by every process, the checks alone would keep a core busy), so
/// that one serial vouched for by an entry binding a million rows does not
/// re-hash the million on every OCSP signature.
///
/// A check of a many-row entry runs once at a time in a process: another
/// caller meanwhile gets [`StoreError::EntryCheckRunning`] instead of
/// hashing the same million rows again, and
/// [`Store::refresh_entry_memo`] checks remembered entries again before
/// they lapse, off any request's path.
#[derive(Debug, Default)]
pub struct EntryMemo {
    /// Entry -> (checked at, trusted for).
    checked:
        std::sync::Mutex<std::collections::HashMap<i64, (std::time::Instant, std::time::Duration)>>,
    running: std::sync::Mutex<std::collections::HashSet<i64>>,
}

/// Entry `seq` being checked by this caller; others are told so until it
/// is dropped.
pub(crate) struct EntryCheck<'a> {
    memo: &'a EntryMemo,
    seq: i64,
}

impl Drop for EntryCheck<'_> {
    fn drop(&mut self) {
        self.memo
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.seq);
    }
}

impl EntryMemo {
    /// Claims the check of entry `seq`; `EntryCheckRunning` while another
    /// caller checks it.
    pub(crate) fn begin_check(&self, seq: i64) -> Result<EntryCheck<'_>> {
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(seq);
        if fresh {
            Ok(EntryCheck { memo: self, seq })
        } else {
            Err(StoreError::EntryCheckRunning {
                seq: u64::try_from(seq).unwrap_or(0),
            })
        }
    }

    /// Remembered entries past half their trust, or all of them.
    pub(crate) fn due(&self, all: bool) -> Vec<i64> {
        let mut seqs: Vec<i64> = self
            .checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, (at, trust))| all || at.elapsed() >= *trust / 2)
            .map(|(seq, _)| *seq)
            .collect();
        seqs.sort_unstable();
        seqs
    }

    pub(crate) fn forget(&self, seq: i64) {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&seq);
    }

    pub const TTL: std::time::Duration = std::time::Duration::from_secs(600);
    /// A check is trusted at least this many times as long as it took.
    const TRUST_PER_CHECK: u32 = 100;
    /// Entries remembered at most (the oldest checks are forgotten).
    const CAPACITY: usize = 4096;

    pub(crate) fn holds(&self, seq: i64) -> bool {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&seq)
            .is_some_and(|(at, trust)| at.elapsed() < *trust)
    }

    /// Entry `seq` found intact by a check that took `took`.
    pub(crate) fn record(&self, seq: i64, took: std::time::Duration) {
        let mut map = self
            .checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::CAPACITY {
            map.retain(|_, (at, trust)| at.elapsed() < *trust);
            if map.len() >= Self::CAPACITY {
                map.clear();
            }
        }
        let trust = Self::TTL.max(took.saturating_mul(Self::TRUST_PER_CHECK));
        map.insert(seq, (std::time::Instant::now(), trust));
    }
}

/// The number of bindings of entry `seq` and their digest.
pub(crate) async fn digest_of_entry(tx: &mut Tx, seq: u64) -> Result<(u64, [u8; 32])> {
    const PAGE: u32 = 5000;
    let mut digest = RowsDigest::default();
    let mut after: BindingPos = (seq_to_db(seq), i16::MIN, i64::MIN, Vec::new(), i64::MIN);
    loop {
        let page = bindings_after(tx, &after, true, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for (_, table, ca, key, num, image) in &page {
            digest.add(*table, *ca, key, *num, image);
        }
        match page.into_iter().last() {
            Some((seq, table, ca, key, num, _)) if full => after = (seq, table, ca, key, num),
            _ => return Ok(digest.finish()),
        }
    }
}

impl StoreTx {
    /// Reads the row back as stored and binds its image to the next audit
    /// entry of this transaction.
    pub(crate) async fn bind_row(&mut self, table: Table, ca: i64, key: &[u8]) -> Result<()> {
        let read =
            image::read(&mut self.tx, table, ca, image::Rows::One(key), false, false).await?;
        self.bound.extend(read.into_iter().map(|r| r.image));
        Ok(())
    }

    /// Appends an entry to the audit log in this transaction.
    pub async fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry> {
        let mut images = std::mem::take(&mut self.bound);
        // The last image of a row written twice wins.
        images.reverse();
        images.sort_by(|a, b| a.order().cmp(&b.order()));
        images.dedup_by(|later, first| {
            (later.table, later.ca, &later.key) == (first.table, first.ca, &first.key)
        });
        let link = self.next_audit_link().await?;
        let rows = if images.is_empty() {
            None
        } else {
            let mut digest = RowsDigest::default();
            self.write_bindings(link.seq, &images, &mut digest).await?;
            Some(digest.finish())
        };
        self.write_audit_entry(link, record, rows).await
    }

    /// Appends one entry per record, each binding its own row images (given
    /// as written, not read back: for bulk writes such as batch issuance),
    /// with a handful of statements for the lot.
    pub(crate) async fn append_audit_many(
        &mut self,
        entries: &[(AuditRecord, Vec<Image>)],
    ) -> Result<Vec<AuditEntry>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
        let mut link = self.next_audit_links(n).await?;
        let mut sealed = Vec::with_capacity(entries.len());
        let mut bindings = Vec::new();
        for (record, images) in entries {
            let mut images: Vec<&Image> = images.iter().collect();
            images.sort_by(|a, b| a.order().cmp(&b.order()));
            let rows = if images.is_empty() {
                None
            } else {
                let mut digest = RowsDigest::default();
                for image in &images {
                    let (key, num) = db_key(image.table, &image.key);
                    digest.add(image.table.code(), image.ca, key, num, &image.bytes);
                    bindings.push((link.seq, *image));
                }
                Some(digest.finish())
            };
            let entry = sealed_entry(link, record, rows)?;
            link = Link {
                seq: entry.seq + 1,
                prev_hash: entry.hash,
            };
            sealed.push(entry);
        }
        self.insert_audit_entries(&sealed).await?;
        self.insert_bindings(&bindings).await?;
        Ok(sealed)
    }

    /// Takes the next sequence number (under the write lock) and the hash
    /// of the entry before it.
    pub(crate) async fn next_audit_link(&mut self) -> Result<Link> {
        self.next_audit_links(1).await
    }

    /// Takes the next `n` sequence numbers (under the write lock): the link
    /// of the first.
    async fn next_audit_links(&mut self, n: i64) -> Result<Link> {
        let seq = self.bump_counter("audit", n).await? - n + 1;
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
        Ok(Link {
            seq: seq_from_db(TABLE, "seq", seq)?,
            prev_hash,
        })
    }

    /// Stores row images under entry `seq`, adding them to `digest`; they
    /// must come in (table, CA, key) order.
    pub(crate) async fn write_bindings(
        &mut self,
        seq: u64,
        images: &[Image],
        digest: &mut RowsDigest,
    ) -> Result<()> {
        for image in images {
            let (key, num) = db_key(image.table, &image.key);
            digest.add(image.table.code(), image.ca, key, num, &image.bytes);
        }
        let rows: Vec<(u64, &Image)> = images.iter().map(|image| (seq, image)).collect();
        self.insert_bindings(&rows).await
    }

    /// Inserts bindings (entry seq, row image) into `audit_rows`, in
    /// statements of [`BINDINGS_PER_INSERT`] rows.
    async fn insert_bindings(&mut self, rows: &[(u64, &Image)]) -> Result<()> {
        for chunk in rows.chunks(BINDINGS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO audit_rows (seq, tbl, ca_id, row_key, row_num, image) VALUES {}",
                values_list(&self.tx, chunk.len(), 6)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                for (seq, image) in chunk {
                    let (key, num) = db_key(image.table, &image.key);
                    q = q
                        .bind(seq_to_db(*seq))
                        .bind(image.table.code())
                        .bind(image.ca)
                        .bind(key)
                        .bind(num)
                        .bind(&image.bytes);
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Writes the entry at `link`; with `rows` (count, digest), its details
    /// vouch for the bindings written under its number.
    pub(crate) async fn write_audit_entry(
        &mut self,
        link: Link,
        record: &AuditRecord,
        rows: Option<(u64, [u8; 32])>,
    ) -> Result<AuditEntry> {
        let entry = sealed_entry(link, record, rows)?;
        self.insert_audit_entries(std::slice::from_ref(&entry))
            .await?;
        Ok(entry)
    }

    /// Inserts sealed entries ([`sealed_entry`]), in one statement per
    /// thousand.
    pub(crate) async fn insert_audit_entries(&mut self, entries: &[AuditEntry]) -> Result<()> {
        for chunk in entries.chunks(1000) {
            let sql = format!(
                "INSERT INTO audit_log (seq, at_us, actor, action, inputs_sha256, \
                 outputs_sha256, details, prev_hash, hash) VALUES {}",
                values_list(&self.tx, chunk.len(), 9)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q
                        .bind(seq_to_db(e.seq))
                        .bind(unix_micros(e.time))
                        .bind(&e.actor)
                        .bind(&e.action)
                        .bind(concat(&e.inputs_sha256))
                        .bind(concat(&e.outputs_sha256))
                        .bind(&e.details)
                        .bind(e.prev_hash.as_slice())
                        .bind(e.hash.as_slice());
                }
                q.execute(&mut *c).await?;
            });
        }
        Ok(())
    }
}

/// The entry at `link` for `record`, hashed and ready to insert; with
/// `rows` (count, digest), its details vouch for the bindings written under
/// its number.
pub(crate) fn sealed_entry(
    link: Link,
    record: &AuditRecord,
    rows: Option<(u64, [u8; 32])>,
) -> Result<AuditEntry> {
    let mut details = record.details.clone();
    if details.get(BOUND_ROWS).is_some() {
        return Err(StoreError::ReservedDetailsKey { key: BOUND_ROWS });
    }
    if let Some((count, digest)) = rows {
        let claim = serde_json::json!({ "count": count, "sha256": image::hex(&digest) });
        match details.as_object_mut() {
            Some(map) => {
                map.insert(BOUND_ROWS.into(), claim);
            }
            None => {
                details = serde_json::json!({ "details": details, BOUND_ROWS: claim });
            }
        }
    }
    let details = serde_json::to_string(&details)?;
    let Link { seq, prev_hash } = link;
    let now = OffsetDateTime::now_utc();
    let time_us = unix_micros(now);
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
    Ok(AuditEntry {
        seq,
        time: OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_us) * 1000).unwrap_or(now),
        actor: record.actor.clone(),
        action: record.action.clone(),
        inputs_sha256: record.inputs_sha256.clone(),
        outputs_sha256: record.outputs_sha256.clone(),
        details,
        prev_hash,
        hash,
    })
}

async fn raw_entries(tx: &mut Tx, after: u64, limit: u32) -> Result<Vec<RawEntry>> {
    let sql = format!("{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2");
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(seq_to_db(after))
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?);
    Ok(rows.into_iter().map(RawEntry::from).collect())
}

/// The bindings of the whole log in (seq, table, CA, key) order, a page at
/// a time, walked alongside the entries.
struct BindingCursor {
    page: std::collections::VecDeque<BindingRow>,
    after: BindingPos,
    done: bool,
}

impl BindingCursor {
    const PAGE: u32 = 5000;

    fn new() -> Self {
        Self {
            page: std::collections::VecDeque::new(),
            after: BINDING_START,
            done: false,
        }
    }

    async fn peek_seq(&mut self, tx: &mut Tx) -> Result<Option<i64>> {
        if self.page.is_empty() && !self.done {
            let page = bindings_after(tx, &self.after, false, Self::PAGE).await?;
            self.done = page.len() < Self::PAGE as usize;
            if let Some(last) = page.last() {
                self.after = (last.0, last.1, last.2, last.3.clone(), last.4);
            }
            self.page = page.into();
        }
        Ok(self.page.front().map(|b| b.0))
    }

    fn pop(&mut self) -> Option<BindingRow> {
        self.page.pop_front()
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
        let mut tx = self.begin_read().await?;
        let raw = raw_entries(&mut tx, after, limit).await?;
        tx.rollback().await?;
        raw.into_iter().map(RawEntry::into_entry).collect()
    }

    /// Walks the whole chain from entry 1, in one consistent snapshot, and
    /// returns the number of entries, or the first broken entry: an edited
    /// row (hash mismatch), a deleted row (gap, or missing tail up to the
    /// recorded head), a reordered or re-linked row (prev_hash mismatch),
    /// row images added to, removed from or edited in `audit_rows` (rows
    /// mismatch). Whether the tables still hold those rows is
    /// [`Store::verify_state`]'s question.
    pub async fn verify_audit(&self) -> Result<u64, AuditError> {
        let mut tx = self.begin_read().await?;
        let verdict = walk(&mut tx).await;
        tx.rollback().await?;
        verdict
    }
}

async fn walk(tx: &mut Tx) -> Result<u64, AuditError> {
    const PAGE: u32 = 5000;
    let head = seq_from_db("counters", "value", read_counter_tx(tx, "audit").await?)?;
    let mut bindings = BindingCursor::new();
    let mut expected: u64 = 1;
    let mut prev_hash = GENESIS;
    loop {
        let page = raw_entries(tx, expected - 1, PAGE).await?;
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
            // Bindings of no entry before this one are orphans.
            let db_seq = seq_to_db(seq);
            if let Some(orphan) = bindings.peek_seq(tx).await?.filter(|s| *s < db_seq) {
                let orphan = u64::try_from(orphan).unwrap_or(0);
                return Err(broken(
                    orphan,
                    ChainBreak::RowsMismatch {
                        claimed: 0,
                        found: 1,
                    },
                ));
            }
            let claim = rows_claim(&entry.details).map_err(|reason| broken(seq, reason))?;
            let mut digest = RowsDigest::default();
            while bindings.peek_seq(tx).await? == Some(db_seq) {
                if let Some((_, table, ca, key, num, image)) = bindings.pop() {
                    digest.add(table, ca, &key, num, &image);
                }
            }
            let (found, got) = digest.finish();
            let (claimed, want) = claim.unwrap_or((0, RowsDigest::default().finish().1));
            if (claimed, want) != (found, got) {
                return Err(broken(seq, ChainBreak::RowsMismatch { claimed, found }));
            }
            prev_hash = entry.hash;
            expected += 1;
        }
        if !full {
            break;
        }
    }
    if let Some(orphan) = bindings.peek_seq(tx).await? {
        let orphan = u64::try_from(orphan).unwrap_or(0);
        return Err(broken(
            orphan,
            ChainBreak::RowsMismatch {
                claimed: 0,
                found: 1,
            },
        ));
    }
    let count = expected - 1;
    if count < head {
        return Err(broken(expected, ChainBreak::Missing { next_found: None }));
    }
    if count > head {
        return Err(broken(head + 1, ChainBreak::BeyondHead { head }));
    }
    Ok(count)
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

#[cfg(test)]
mod memo_tests {
    use super::*;

    #[test]
    fn one_check_of_an_entry_at_a_time() {
        let memo = EntryMemo::default();
        let first = memo.begin_check(5).unwrap();
        assert!(matches!(
            memo.begin_check(5),
            Err(StoreError::EntryCheckRunning { seq: 5 })
        ));
        assert!(memo.begin_check(6).is_ok(), "another entry");
        drop(first);
        assert!(memo.begin_check(5).is_ok(), "free again once dropped");
    }
}
