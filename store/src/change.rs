//! The change feed: what changed since sequence number N.
//!
//! Responders poll [`Store::changes_since`] (SQLite) or LISTEN on
//! [`CHANGES_CHANNEL`] (PostgreSQL; the payload is the newest sequence
//! number as decimal text, sent on commit) and then call `changes_since`.
//! Sequence numbers are handed out under the store's write lock, so they
//! become visible in commit order: a poller that saw N will never later find
//! a change numbered below N.

use std::fmt;

use time::OffsetDateTime;

use crate::backend::{
    from_unix, on_pool, on_tx, read_counter, seq_from_db, seq_to_db, unix, values_list, Tx,
};
use crate::ca::CaId;
use crate::error::{Result, StoreError};
use crate::serial::Serial;
use crate::{Store, StoreTx};

/// PostgreSQL NOTIFY channel carrying new change sequence numbers.
pub const CHANGES_CHANNEL: &str = "pki_changes";

/// What happened to a serial (or to a whole CA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A certificate was recorded: `unknown` becomes `good`.
    Issued,
    Revoked,
    /// Removed from hold: `revoked` becomes `good`.
    Unheld,
    /// Revocations were imported in bulk; `serial` is `None`: reload the CA.
    Imported,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Revoked => "revoked",
            Self::Unheld => "unheld",
            Self::Imported => "imported",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "issued" => Self::Issued,
            "revoked" => Self::Revoked,
            "unheld" => Self::Unheld,
            "imported" => Self::Imported,
            _ => return None,
        })
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub ca: CaId,
    /// `None` for CA-wide changes ([`ChangeKind::Imported`]).
    pub serial: Option<Serial>,
    pub kind: ChangeKind,
    pub at: OffsetDateTime,
}

type Row = (i64, i64, Option<Vec<u8>>, String, i64);

const INSERT: &str =
    "INSERT INTO changes (seq, ca_id, serial, kind, at) VALUES ($1, $2, $3, $4, $5)";

impl StoreTx {
    /// Appends a change in this transaction and, on PostgreSQL, queues a
    /// NOTIFY on [`CHANGES_CHANNEL`] (delivered at commit).
    /// [`StoreTx::record_change`] for many serials of one CA at once; the
    /// sequence number of the last.
    pub(crate) async fn record_changes(
        &mut self,
        ca: CaId,
        serials: &[&Serial],
        kind: ChangeKind,
        at: OffsetDateTime,
    ) -> Result<u64> {
        let n = i64::try_from(serials.len()).unwrap_or(i64::MAX);
        let last = self.bump_counter("change", n).await?;
        let mut seq = last - n;
        for chunk in serials.chunks(1000) {
            let sql = format!(
                "INSERT INTO changes (seq, ca_id, serial, kind, at) VALUES {}",
                values_list(&self.tx, chunk.len(), 5)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                for serial in chunk {
                    seq += 1;
                    q = q
                        .bind(seq)
                        .bind(ca.0)
                        .bind(serial.as_bytes())
                        .bind(kind.as_str())
                        .bind(unix(at));
                }
                q.execute(&mut *c).await?;
            });
        }
        if let Tx::Postgres(t) = &mut self.tx {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(last.to_string())
                .execute(&mut **t)
                .await?;
        }
        seq_from_db("changes", "seq", last)
    }

    pub(crate) async fn record_change(
        &mut self,
        ca: CaId,
        serial: Option<&Serial>,
        kind: ChangeKind,
        at: OffsetDateTime,
    ) -> Result<u64> {
        let seq = self.bump_counter("change", 1).await?;
        on_tx!(&mut self.tx, c => sqlx::query(INSERT)
            .bind(seq)
            .bind(ca.0)
            .bind(serial.map(Serial::as_bytes))
            .bind(kind.as_str())
            .bind(unix(at))
            .execute(&mut *c)
            .await?
            .rows_affected());
        if let Tx::Postgres(t) = &mut self.tx {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(seq.to_string())
                .execute(&mut **t)
                .await?;
        }
        seq_from_db("changes", "seq", seq)
    }
}

impl Store {
    /// Up to `limit` changes with sequence number greater than `after`,
    /// oldest first. Start from 0.
    pub async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<Change>> {
        const SQL: &str =
            "SELECT seq, ca_id, serial, kind, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2";
        let rows: Vec<Row> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(seq_to_db(after))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|(seq, ca, serial, kind, at)| {
                Ok(Change {
                    seq: seq_from_db("changes", "seq", seq)?,
                    ca: CaId(ca),
                    serial: serial
                        .map(|s| Serial::from_stored(s, "changes"))
                        .transpose()?,
                    kind: ChangeKind::parse(&kind).ok_or(StoreError::MalformedValue {
                        table: "changes",
                        column: "kind",
                        reason: "unknown change kind",
                    })?,
                    at: from_unix("changes", "at", at)?,
                })
            })
            .collect()
    }

    /// The newest change sequence number (0 when nothing has changed).
    pub async fn latest_change(&self) -> Result<u64> {
        seq_from_db(
            "counters",
            "value",
            read_counter(&self.pool, "change").await?,
        )
    }
}

/// PostgreSQL `LISTEN` on [`CHANGES_CHANNEL`] (see [`Store::listen_changes`]).
#[derive(Debug)]
pub struct ChangeListener(sqlx::postgres::PgListener);

impl ChangeListener {
    /// Waits for the next notification and returns its payload, the newest
    /// change sequence number. The connection is re-established by sqlx
    /// after a failure (notifications sent meanwhile are lost: poll
    /// [`Store::changes_since`] as well).
    pub async fn recv(&mut self) -> Result<u64> {
        let n = self.0.recv().await?;
        n.payload().parse().map_err(|_| StoreError::MalformedValue {
            table: "pg_notify",
            column: CHANGES_CHANNEL,
            reason: "payload is not a change sequence number",
        })
    }
}

impl Store {
    /// On PostgreSQL, a listener for new change sequence numbers; `None` on
    /// SQLite (poll [`Store::changes_since`]).
    pub async fn listen_changes(&self) -> Result<Option<ChangeListener>> {
        let Some(pool) = self.pg_pool() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(Some(ChangeListener(listener)))
    }
}
