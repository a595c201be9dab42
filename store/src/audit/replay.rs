//! Replaying the audit log against the tables: every row of `cas`,
//! `certificates`, `revocations`, `crl_numbers` and `officers` must equal
//! the last image an audit entry recorded for it ([`super::image`]), and
//! that entry must vouch for the image (its own hash, its link to the next
//! entry, its `bound_rows` digest).
//!
//! Rows are read in key order a page at a time, each joined in the same
//! statement to its bindings (one index range per row); the entries behind
//! a page's bindings are then read at once, and finally the bound rows
//! that are gone are looked for only if fewer rows matched a binding than
//! the log has bound. Everything runs in one read transaction, so a
//! concurrent write is seen whole or not at all, and memory stays bounded
//! by a page whatever the size of the tables.
//!
//! Measured on SQLite (release, 2 shared cores): one CA with 100,000
//! certificates and 1,000,000 revocations replays in 8-14 s, three to five
//! times the cost of listing its revocations for a CRL.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use serde_json::json;

use super::image::{self, FieldDiff, Image, Rows, Table};
use super::{digest_of_entry, rows_claim, AuditRecord, ChainBreak, RawEntry, RowsDigest};
use crate::backend::{on_pool, on_tx, read_counter_tx, seq_from_db, Pool, Tx};
use crate::ca::CaId;
use crate::error::{Result, StoreError};
use crate::serial::Serial;
use crate::Store;

/// Rows and bindings read per query.
const PAGE: u32 = 5000;
/// Findings kept in a report; the rest are only counted.
const MAX_FINDINGS: usize = 1000;

/// A row the audit log does not vouch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFinding {
    pub table: Table,
    pub ca: CaId,
    /// The CA's name, if the CA is in `cas`.
    pub ca_name: Option<String>,
    /// Serial octets, CRL number (8 octets, big-endian) or empty (cas).
    pub key: Vec<u8>,
    pub problem: RowProblem,
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    /// The row differs from the image audit entry `seq` recorded for it;
    /// `fields` names the fields (empty if the images do not decode).
    Differs { seq: u64, fields: Vec<FieldDiff> },
    /// No audit entry wrote this row.
    NoEntry,
    /// Audit entry `seq` wrote this row, and the table no longer has it.
    Gone { seq: u64 },
    /// A digest column does not match the bytes it digests (certificate
    /// or CRL DER edited without its `sha256`).
    Content {
        column: &'static str,
        digest_column: &'static str,
    },
    /// The row matches its image, but the audit entry that vouches for it
    /// does not hold: the chain is broken at entry `seq`.
    EntryBroken { seq: u64, reason: ChainBreak },
}

impl fmt::Display for RowFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if Table::GLOBAL.contains(&self.table) {
            write!(
                f,
                "{} row, {}",
                self.table,
                self.table.describe_key(&self.key)
            )?;
        } else {
            write!(f, "{} row of CA ", self.table)?;
            match &self.ca_name {
                Some(name) => write!(f, "{name:?} ({})", self.ca)?,
                None => write!(f, "{} (not in cas)", self.ca)?,
            }
            if !self.key.is_empty() || self.table != Table::Cas {
                write!(f, ", {}", self.table.describe_key(&self.key))?;
            }
        }
        f.write_str(": ")?;
        match &self.problem {
            RowProblem::Differs { seq, fields } if fields.is_empty() => {
                write!(f, "differs from what audit entry {seq} recorded")
            }
            RowProblem::Differs { seq, fields } => {
                for (i, d) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{d}")?;
                }
                write!(f, " (audit entry {seq})")
            }
            RowProblem::NoEntry => f.write_str("no audit entry wrote this row"),
            RowProblem::Gone { seq } => {
                write!(
                    f,
                    "audit entry {seq} wrote this row; it is gone from the table"
                )
            }
            RowProblem::Content {
                column,
                digest_column,
            } => write!(f, "{column} does not match {digest_column}"),
            RowProblem::EntryBroken { seq, reason } => write!(
                f,
                "the audit entry vouching for it does not hold: broken at entry {seq}: {reason}"
            ),
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateReport {
    /// Rows read from the tables.
    pub rows: u64,
    /// The first findings, in table and key order.
    pub findings: Vec<RowFinding>,
    /// Findings beyond those kept.
    pub more: u64,
}

impl StateReport {
    /// Every row read equals what the log says, and every row the log
    /// wrote is there.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty() && self.more == 0
    }

    /// `Ok(rows)` when intact, else [`StoreError::Unvouched`] for `scope`
    /// (e.g. `CA "cnie-citizen-ca"`).
    pub fn require_intact(self, scope: impl Into<String>) -> Result<u64> {
        if self.is_intact() {
            return Ok(self.rows);
        }
        Err(StoreError::Unvouched {
            scope: scope.into(),
            findings: self.findings,
            more: self.more,
        })
    }

    /// Whether a finding names the row of `table` with this key.
    pub fn names(&self, table: Table, key: &[u8]) -> bool {
        self.findings
            .iter()
            .any(|f| f.table == table && f.key == key)
    }

    fn push(&mut self, finding: RowFinding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        } else {
            self.more += 1;
        }
    }
}

/// The findings of [`StoreError::Unvouched`], one per line.
pub(crate) fn render_findings(findings: &[RowFinding], more: u64) -> String {
    const SHOWN: usize = 10;
    let mut out = String::new();
    for finding in findings.iter().take(SHOWN) {
        out.push_str("\n  ");
        out.push_str(&finding.to_string());
    }
    let rest = (findings.len().saturating_sub(SHOWN)) as u64 + more;
    if rest > 0 {
        // Writing to a String cannot fail.
        let _ = write!(out, "\n  and {rest} more");
    }
    out
}

/// Which keys of a table to replay.
#[derive(Debug, Clone, Copy)]
enum Keys<'a> {
    All,
    One(&'a [u8]),
}

impl<'a> Keys<'a> {
    fn rows<'b>(self, after: Option<&'b [u8]>) -> Rows<'b>
    where
        'a: 'b,
    {
        match self {
            Keys::One(key) => Rows::One(key),
            Keys::All => Rows::After(after, PAGE),
        }
    }
}

/// An audit entry with the next entry's link to it and the number of
/// bindings it has: seq, at_us, actor, action, inputs, outputs, details,
/// prev_hash, hash, next prev_hash, bindings.
type EntryRow = (
    i64,
    i64,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    i64,
);

/// The entries numbered `seqs`, with their successors' links and binding
/// counts. The count takes `seq` as a range: with one baseline entry
/// binding nearly every row, PostgreSQL's statistics say any seq matches
/// them all, and `c.seq = a.seq` was a scan of the whole table (a second
/// per revoked serial's check at ten million rows).
async fn entries(tx: &mut Tx, seqs: &[i64]) -> Result<Vec<EntryRow>> {
    use std::fmt::Write as _;
    let mut sql = String::from(
        "SELECT a.seq, a.at_us, a.actor, a.action, a.inputs_sha256, a.outputs_sha256, \
         a.details, a.prev_hash, a.hash, n.prev_hash, \
         (SELECT COUNT(*) FROM audit_rows c WHERE c.seq >= a.seq AND c.seq <= a.seq) \
         FROM audit_log a LEFT JOIN audit_log n ON n.seq = a.seq + 1 WHERE a.seq IN (",
    );
    let sqlite = matches!(tx, Tx::Sqlite(_));
    for i in 0..seqs.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        if sqlite {
            // Anonymous parameters bind in O(1) each on SQLite.
            sql.push('?');
        } else {
            // Writing to a String cannot fail.
            let _ = write!(sql, "${}", i + 1);
        }
    }
    sql.push(')');
    let rows: Vec<EntryRow> = on_tx!(tx, c => {
        let mut q = sqlx::query_as(&sql);
        for seq in seqs {
            q = q.bind(*seq);
        }
        q.fetch_all(&mut *c).await?
    });
    Ok(rows)
}

/// Newest bindings of `table` for CA `ca` whose row is gone, a page at a
/// time after `after` (row_key, row_num): row_key, row_num, seq.
async fn gone(
    tx: &mut Tx,
    table: Table,
    ca: i64,
    keys: Keys<'_>,
    after: &(Vec<u8>, i64),
) -> Result<Vec<(Vec<u8>, i64, i64)>> {
    let code = table.code();
    let (which, key, num) = match keys {
        Keys::One(key) => {
            let (k, n) = image::db_key(table, key);
            ("b.row_key = $2 AND b.row_num = $3", k.to_vec(), n)
        }
        Keys::All => (
            "(b.row_key, b.row_num) > ($2, $3)",
            after.0.clone(),
            after.1,
        ),
    };
    let sql = format!(
        "SELECT b.row_key, b.row_num, b.seq FROM audit_rows b \
         WHERE b.tbl = {code} AND b.ca_id = $1 AND {which} \
         AND b.seq = (SELECT MAX(m.seq) FROM audit_rows m WHERE m.tbl = {code} \
         AND m.ca_id = b.ca_id AND m.row_key = b.row_key AND m.row_num = b.row_num) \
         AND {} ORDER BY b.row_key, b.row_num LIMIT $4",
        table.no_row(tx)
    );
    let rows: Vec<(Vec<u8>, i64, i64)> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(ca)
        .bind(key)
        .bind(num)
        .bind(i64::from(PAGE))
        .fetch_all(&mut *c)
        .await?);
    Ok(rows)
}

/// How many rows of `table` for CA `ca` the log has bindings for.
async fn bound_keys(tx: &mut Tx, table: Table, ca: i64) -> Result<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT DISTINCT row_key, row_num FROM audit_rows \
         WHERE tbl = {} AND ca_id = $1) k",
        table.code()
    );
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(&sql).bind(ca).fetch_one(&mut *c).await?);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A row whose image equals its newest binding's, waiting for the check of
/// the entry behind that binding.
struct Vouched {
    seq: i64,
    image: Image,
}

struct Replay {
    /// Set for the publishing checks (one CA, one serial); the full
    /// `verify_state` checks every digest itself.
    memo: Option<std::sync::Arc<super::EntryMemo>>,
    head: u64,
    report: StateReport,
    /// Verdicts on entries that bind more than one row (imports, CRL
    /// reservations), each checked once.
    multi: HashMap<i64, Option<(u64, ChainBreak)>>,
    ca_name: Option<String>,
}

impl Replay {
    async fn new(tx: &mut Tx) -> Result<Self> {
        Ok(Self {
            memo: None,
            head: seq_from_db("counters", "value", read_counter_tx(tx, "audit").await?)?,
            report: StateReport::default(),
            multi: HashMap::new(),
            ca_name: None,
        })
    }

    async fn ca(
        &mut self,
        tx: &mut Tx,
        ca: i64,
        tables: &[Table],
        keys: Keys<'_>,
        content: bool,
    ) -> Result<()> {
        const NAME: &str = "SELECT name FROM cas WHERE id = $1";
        self.ca_name =
            on_tx!(tx, c => sqlx::query_scalar(NAME).bind(ca).fetch_optional(&mut *c).await?);
        for &table in tables {
            self.table(tx, table, ca, keys, content).await?;
        }
        Ok(())
    }

    /// Every row of `table` against its newest binding (joined in one
    /// statement), the entries behind those bindings, then the bindings
    /// whose row is gone.
    async fn table(
        &mut self,
        tx: &mut Tx,
        table: Table,
        ca: i64,
        keys: Keys<'_>,
        content: bool,
    ) -> Result<()> {
        let mut after: Option<Vec<u8>> = None;
        // Rows that have a binding; fewer than the keys bound means some
        // bound rows are gone.
        let mut matched = 0u64;
        loop {
            let page =
                image::read(tx, table, ca, keys.rows(after.as_deref()), content, true).await?;
            let last = matches!(keys, Keys::One(_)) || page.len() < PAGE as usize;
            after = page.last().map(|r| r.image.key.clone());
            let mut vouched = Vec::new();
            for read in page {
                self.report.rows += 1;
                let key = &read.image.key;
                if let Some(m) = read.content {
                    self.find(
                        table,
                        ca,
                        key,
                        RowProblem::Content {
                            column: m.column,
                            digest_column: m.digest_column,
                        },
                    );
                }
                matched += u64::from(read.binding.is_some());
                match read.binding {
                    None => self.find(table, ca, key, RowProblem::NoEntry),
                    Some((seq, logged)) if logged != read.image.bytes => {
                        let fields = image::diff(table, &read.image.bytes, &logged);
                        let seq = u64::try_from(seq).unwrap_or(0);
                        self.find(table, ca, key, RowProblem::Differs { seq, fields });
                    }
                    Some((seq, _)) => vouched.push(Vouched {
                        seq,
                        image: read.image,
                    }),
                }
            }
            self.check_entries(tx, &vouched).await?;
            if last {
                break;
            }
        }
        if matches!(keys, Keys::All) && bound_keys(tx, table, ca).await? == matched {
            return Ok(());
        }
        let mut after = (Vec::new(), i64::MIN);
        loop {
            let page = gone(tx, table, ca, keys, &after).await?;
            let last = page.len() < PAGE as usize;
            for (row_key, row_num, seq) in page {
                after = (row_key.clone(), row_num);
                let key = image::key_from_db(table, row_key, row_num);
                let seq = u64::try_from(seq).unwrap_or(0);
                self.find(table, ca, &key, RowProblem::Gone { seq });
            }
            if last || matches!(keys, Keys::One(_)) {
                return Ok(());
            }
        }
    }

    fn find(&mut self, table: Table, ca: i64, key: &[u8], problem: RowProblem) {
        self.report.push(RowFinding {
            table,
            ca: CaId(ca),
            ca_name: self.ca_name.clone(),
            key: key.to_vec(),
            problem,
        });
    }

    /// Whether the entries behind `vouched` hold: each entry's own hash,
    /// the next entry's link to it, and its `bound_rows` digest against
    /// its bindings. One entry per row, not the whole chain
    /// ([`Store::verify_audit`] walks that).
    async fn check_entries(&mut self, tx: &mut Tx, vouched: &[Vouched]) -> Result<()> {
        // Entries this process checked lately (publishing checks only)
        // need no second look, not even the count of their bindings.
        if let Some(memo) = &self.memo {
            for v in vouched {
                if !self.multi.contains_key(&v.seq) && memo.holds(v.seq) {
                    self.multi.insert(v.seq, None);
                }
            }
        }
        let mut seqs: Vec<i64> = vouched
            .iter()
            .map(|v| v.seq)
            .filter(|s| !self.multi.contains_key(s))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        let mut verdicts: HashMap<i64, Option<(u64, ChainBreak)>> = HashMap::new();
        if !seqs.is_empty() {
            for entry in entries(tx, &seqs).await? {
                let seq = entry.0;
                let verdict = self.entry_verdict(tx, entry, vouched).await?;
                verdicts.insert(seq, verdict);
            }
        }
        for v in vouched {
            let verdict = match self.multi.get(&v.seq).or_else(|| verdicts.get(&v.seq)) {
                Some(verdict) => verdict.clone(),
                // No such entry in the log.
                None => Some((
                    u64::try_from(v.seq).unwrap_or(0),
                    ChainBreak::Missing { next_found: None },
                )),
            };
            if let Some((seq, reason)) = verdict {
                let (table, ca) = (v.image.table, v.image.ca);
                self.find(
                    table,
                    ca,
                    &v.image.key,
                    RowProblem::EntryBroken { seq, reason },
                );
            }
        }
        Ok(())
    }

    async fn entry_verdict(
        &mut self,
        tx: &mut Tx,
        row: EntryRow,
        vouched: &[Vouched],
    ) -> Result<Option<(u64, ChainBreak)>> {
        let (db_seq, next_prev, found) = (row.0, row.9, u64::try_from(row.10).unwrap_or(0));
        let seq = u64::try_from(db_seq).unwrap_or(0);
        if seq > self.head {
            return Ok(Some((seq, ChainBreak::BeyondHead { head: self.head })));
        }
        let raw = RawEntry {
            seq: db_seq,
            at_us: row.1,
            actor: row.2,
            action: row.3,
            inputs: row.4,
            outputs: row.5,
            details: row.6,
            prev_hash: row.7,
            hash: row.8,
        };
        let Ok(entry) = raw.into_entry() else {
            return Ok(Some((seq, ChainBreak::Malformed { column: "hashes" })));
        };
        if entry.compute_hash() != entry.hash {
            return Ok(Some((seq, ChainBreak::HashMismatch)));
        }
        match next_prev {
            Some(next_prev) if next_prev[..] != entry.hash[..] => {
                return Ok(Some((seq + 1, ChainBreak::PrevHashMismatch)));
            }
            None if seq < self.head => {
                return Ok(Some((seq + 1, ChainBreak::Missing { next_found: None })));
            }
            _ => {}
        }
        let (claimed, want) = match rows_claim(&entry.details) {
            Ok(Some(claim)) => claim,
            Ok(None) => (0, [0; 32]),
            Err(reason) => return Ok(Some((seq, reason))),
        };
        let mismatch = Some((seq, ChainBreak::RowsMismatch { claimed, found }));
        if claimed != found {
            return Ok(mismatch);
        }
        if found == 1 {
            // Its one binding is the row's newest, whose image is the row's.
            let Some(v) = vouched.iter().find(|v| v.seq == db_seq) else {
                return Ok(mismatch);
            };
            let (key, num) = image::db_key(v.image.table, &v.image.key);
            let mut digest = RowsDigest::default();
            digest.add(v.image.table.code(), v.image.ca, key, num, &v.image.bytes);
            return Ok((digest.finish() != (1, want))
                .then_some((seq, ChainBreak::RowsMismatch { claimed, found })));
        }
        if self.memo.as_ref().is_some_and(|m| m.holds(db_seq)) {
            self.multi.insert(db_seq, None);
            return Ok(None);
        }
        // One check of a many-row entry at a time in this process.
        let _check = self
            .memo
            .as_ref()
            .map(|m| m.begin_check(db_seq))
            .transpose()?;
        let started = std::time::Instant::now();
        let verdict = (digest_of_entry(tx, seq).await? != (claimed, want))
            .then_some((seq, ChainBreak::RowsMismatch { claimed, found }));
        if let (None, Some(memo)) = (&verdict, &self.memo) {
            memo.record(db_seq, started.elapsed());
        }
        self.multi.insert(db_seq, verdict.clone());
        Ok(verdict)
    }
}

/// Every CA id with a row or a binding, in order (rows whose CA is not in
/// `cas` included).
async fn ca_ids(tx: &mut Tx, bindings: bool) -> Result<Vec<i64>> {
    const ROWS: &str = "SELECT id FROM cas UNION SELECT ca_id FROM certificates \
         UNION SELECT ca_id FROM revocations UNION SELECT ca_id FROM crl_numbers";
    let sql = if bindings {
        format!("{ROWS} UNION SELECT ca_id FROM audit_rows ORDER BY 1")
    } else {
        format!("{ROWS} ORDER BY 1")
    };
    let ids: Vec<i64> = on_tx!(tx, c => sqlx::query_scalar(&sql).fetch_all(&mut *c).await?);
    Ok(ids)
}

impl Store {
    /// Replays the audit log against every row of `cas`, `certificates`,
    /// `revocations` and `crl_numbers` (per CA), then of `officers` (once),
    /// and checks each certificate's and
    /// CRL's DER against its `sha256`: names every row that differs from
    /// the last image the log recorded for it (and which fields), every row
    /// no entry wrote, every row an entry wrote that is gone, and rows whose
    /// vouching entry does not hold. Reads everything: run it with
    /// [`Store::verify_audit`], which walks the chain itself.
    pub async fn verify_state(&self) -> Result<StateReport> {
        let mut tx = self.begin_read().await?;
        let mut replay = Replay::new(&mut tx).await?;
        for ca in ca_ids(&mut tx, true).await? {
            replay.ca(&mut tx, ca, &Table::ALL, Keys::All, true).await?;
        }
        replay.ca_name = None;
        for table in Table::GLOBAL {
            replay.table(&mut tx, table, 0, Keys::All, true).await?;
        }
        tx.rollback().await?;
        Ok(replay.report)
    }

    /// [`Store::verify_state`] for the rows of one CA only (its `cas` row,
    /// certificates, revocations and CRL numbers), without reading the
    /// certificate and CRL DER: what must hold before publishing a CRL or
    /// OCSP responses for the CA. Costs one pass over the CA's rows and
    /// their newest bindings; each vouching entry is checked on its own
    /// (hash, link to the next entry, rows digest), not the whole chain.
    pub async fn verify_ca_state(&self, ca: CaId) -> Result<StateReport> {
        let mut tx = self.begin_read().await?;
        let mut replay = Replay::new(&mut tx).await?;
        replay.memo = Some(std::sync::Arc::clone(&self.entry_memo));
        replay
            .ca(&mut tx, ca.0, &Table::ALL, Keys::All, false)
            .await?;
        tx.rollback().await?;
        Ok(replay.report)
    }

    /// [`Store::verify_ca_state`] for the certificate and revocation rows
    /// of one serial: what must hold before publishing its status.
    pub async fn verify_serial_state(&self, ca: CaId, serial: &Serial) -> Result<StateReport> {
        let mut tx = self.begin_read().await?;
        let mut replay = Replay::new(&mut tx).await?;
        replay.memo = Some(std::sync::Arc::clone(&self.entry_memo));
        replay
            .ca(
                &mut tx,
                ca.0,
                &[Table::Certificates, Table::Revocations],
                Keys::One(serial.as_bytes()),
                false,
            )
            .await?;
        tx.rollback().await?;
        Ok(replay.report)
    }

    /// Checks again the many-row entries the publishing checks trust
    /// ([`crate::EntryMemo`]) once past half their trust (`all`: every
    /// one), so that they never lapse on a request's path: at ten million
    /// rows an entry takes a minute to hash. An entry that no longer holds is forgotten
    /// (the next publishing check then names it). Returns (checked,
    /// failed). Run it in the background every few minutes.
    pub async fn refresh_entry_memo(&self, all: bool) -> Result<(usize, usize)> {
        let due = self.entry_memo.due(all);
        if due.is_empty() {
            return Ok((0, 0));
        }
        let mut tx = self.begin_read().await?;
        let mut replay = Replay::new(&mut tx).await?;
        let mut failed = 0;
        let rows = entries(&mut tx, &due).await?;
        let found: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
        for row in rows {
            let seq = row.0;
            // A publishing check of it is running: that one records it.
            let Ok(_check) = self.entry_memo.begin_check(seq) else {
                continue;
            };
            // No memo in this replay: the entry is hashed again.
            let started = std::time::Instant::now();
            if replay.entry_verdict(&mut tx, row, &[]).await?.is_none() {
                self.entry_memo.record(seq, started.elapsed());
            } else {
                self.entry_memo.forget(seq);
                failed += 1;
            }
        }
        for seq in &due {
            if !found.contains(seq) {
                self.entry_memo.forget(*seq);
                failed += 1;
            }
        }
        tx.rollback().await?;
        Ok((due.len(), failed))
    }

    /// Migration 0002 left a marker when the database already had rows:
    /// binds every current row to one `store.baseline` audit entry, in the
    /// same transaction that clears the marker. From then on the log
    /// vouches for those rows as they were found at the upgrade.
    pub(crate) async fn bind_baseline(&self) -> Result<()> {
        const PENDING: &str = "SELECT value FROM counters WHERE name = 'audit_baseline'";
        let pending: Option<i64> =
            on_pool!(&self.pool, p => sqlx::query_scalar(PENDING).fetch_optional(p).await?);
        if pending != Some(1) {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        // Again under the write lock: another process may have done it.
        let pending: Option<i64> = on_tx!(&mut tx.tx, c => sqlx::query_scalar(PENDING)
            .fetch_optional(&mut *c)
            .await?);
        if pending != Some(1) {
            return Ok(());
        }
        let link = tx.next_audit_link().await?;
        let mut digest = RowsDigest::default();
        let mut per_table = serde_json::Map::new();
        let cas = ca_ids(&mut tx.tx, false).await?;
        for table in Table::ALL {
            let mut count = 0u64;
            for &ca in &cas {
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let page = image::read(
                        &mut tx.tx,
                        table,
                        ca,
                        Rows::After(after.as_deref(), PAGE),
                        false,
                        false,
                    )
                    .await?;
                    let full = page.len() == PAGE as usize;
                    after = page.last().map(|r| r.image.key.clone());
                    let images: Vec<_> = page.into_iter().map(|r| r.image).collect();
                    count += images.len() as u64;
                    tx.write_bindings(link.seq, &images, &mut digest).await?;
                    if !full {
                        break;
                    }
                }
            }
            per_table.insert(table.name().into(), count.into());
        }
        let record = AuditRecord {
            actor: "store:migration-0002".into(),
            action: "store.baseline".into(),
            inputs_sha256: Vec::new(),
            outputs_sha256: Vec::new(),
            details: json!({
                "note": "rows written before the audit log bound rows, vouched for as found at the upgrade",
                "rows": per_table,
            }),
        };
        tx.write_audit_entry(link, &record, Some(digest.finish()))
            .await?;
        on_tx!(&mut tx.tx, c => sqlx::query(
                "UPDATE counters SET value = 0 WHERE name = 'audit_baseline'")
            .execute(&mut *c)
            .await?
            .rows_affected());
        tx.commit().await?;
        self.analyze_after_bulk().await
    }

    /// After a bulk write (the baseline binding, an import), fresh
    /// statistics for the tables the checks join: PostgreSQL otherwise
    /// plans with the old row counts until autovacuum comes by, and a plan
    /// made for a near-empty `audit_rows` walks all of it per row (a
    /// 1M-row CA's check took 690 s instead of 12 s in the scale bench).
    pub(crate) async fn analyze_after_bulk(&self) -> Result<()> {
        if let Pool::Postgres(p) = &self.pool {
            sqlx::query("ANALYZE audit_rows, certificates, revocations")
                .execute(p)
                .await?;
        }
        Ok(())
    }
}
