//! CRL numbers and published CRLs.

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{crl_number_key, sha256, AuditContext, Table};
use crate::backend::{
    from_unix, from_unix_opt, hash_from_db, on_pool, on_tx, seq_from_db, seq_to_db, unix,
};
use crate::ca::CaId;
use crate::error::{Result, StoreError};
use crate::{Recorded, Store, StoreTx};

/// Full CRL or delta CRL (RFC 5280 5.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrlKind {
    Full,
    Delta,
}

impl CrlKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Delta => "delta",
        }
    }

    fn from_db(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(Self::Full),
            "delta" => Ok(Self::Delta),
            _ => Err(StoreError::MalformedValue {
                table: "crl_numbers",
                column: "kind",
                reason: "neither full nor delta",
            }),
        }
    }
}

/// The full CRL a delta CRL is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlBase {
    /// RFC 5280 5.2.4 BaseCRLNumber, for the delta CRL indicator.
    pub number: u64,
    /// The change sequence number the base CRL was built at.
    pub as_of_change: u64,
}

/// A reserved CRL number and the snapshot to build the CRL from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlReservation {
    pub ca: CaId,
    /// RFC 5280 5.2.3 CRLNumber: monotonically increasing per CA, shared by
    /// full and delta CRLs.
    pub number: u64,
    pub kind: CrlKind,
    /// List revocations up to this change ([`crate::RevocationQuery`]).
    pub as_of_change: u64,
    /// For a delta CRL: the newest published full CRL.
    pub base: Option<CrlBase>,
}

/// A signed CRL to record against its reserved number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCrl {
    pub ca: CaId,
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub der: Vec<u8>,
}

/// A published CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRecord {
    pub ca: CaId,
    pub number: u64,
    pub kind: CrlKind,
    pub base_number: Option<u64>,
    pub as_of_change: u64,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub der: Vec<u8>,
    pub sha256: [u8; 32],
}

const BUMP: &str = "UPDATE cas SET crl_counter = crl_counter + 1 WHERE id = $1 \
     RETURNING crl_counter";
const AS_OF: &str = "SELECT value FROM counters WHERE name = 'change'";
const INSERT: &str = "INSERT INTO crl_numbers (ca_id, number, kind, base_number, \
     as_of_change, reserved_at) VALUES ($1, $2, $3, $4, $5, $6)";
const UPDATE: &str = "UPDATE crl_numbers SET this_update = $3, next_update = $4, \
     der = $5, sha256 = $6 WHERE ca_id = $1 AND number = $2 AND der IS NULL \
     RETURNING kind, base_number, as_of_change";

impl StoreTx {
    /// Reserves the next CRL number of `ca` and appends `crl.reserve` to
    /// the audit log (it binds the new `crl_numbers` row and the CA's
    /// bumped counter). Atomic and monotonic: the number comes from a
    /// per-CA counter bumped under the write lock, so concurrent callers
    /// get distinct, increasing numbers. A delta CRL needs a published full
    /// CRL (`NoBaseCrl` otherwise).
    pub async fn next_crl_number(
        &mut self,
        ca: CaId,
        kind: CrlKind,
        audit: &AuditContext,
    ) -> Result<CrlReservation> {
        let ca_name = self.ca_name(ca).await?;
        let base = match kind {
            CrlKind::Full => None,
            CrlKind::Delta => {
                const SQL: &str = "SELECT number, as_of_change FROM crl_numbers \
                     WHERE ca_id = $1 AND kind = 'full' AND der IS NOT NULL \
                     ORDER BY number DESC LIMIT 1";
                let row: Option<(i64, i64)> = on_tx!(&mut self.tx, c => sqlx::query_as(SQL)
                    .bind(ca.0)
                    .fetch_optional(&mut *c)
                    .await?);
                let (number, as_of) = row.ok_or(StoreError::NoBaseCrl { ca })?;
                Some(CrlBase {
                    number: seq_from_db("crl_numbers", "number", number)?,
                    as_of_change: seq_from_db("crl_numbers", "as_of_change", as_of)?,
                })
            }
        };
        let (number, as_of): (i64, i64) = on_tx!(&mut self.tx, c => {
            let number: i64 = sqlx::query_scalar(BUMP).bind(ca.0).fetch_one(&mut *c).await?;
            let as_of: i64 = sqlx::query_scalar(AS_OF).fetch_one(&mut *c).await?;
            sqlx::query(INSERT)
                .bind(ca.0)
                .bind(number)
                .bind(kind.as_str())
                .bind(base.map(|b| seq_to_db(b.number)))
                .bind(as_of)
                .bind(unix(OffsetDateTime::now_utc()))
                .execute(&mut *c)
                .await?;
            (number, as_of)
        });
        self.bind_row(Table::Cas, ca.0, &[]).await?;
        self.bind_row(Table::CrlNumbers, ca.0, &crl_number_key(number))
            .await?;
        self.append_audit(&audit.record(
            "crl.reserve",
            Vec::new(),
            json!({
                "ca": ca_name,
                "number": number,
                "kind": kind.as_str(),
                "base_number": base.map(|b| b.number),
                "as_of_change": as_of,
            }),
        ))
        .await?;
        Ok(CrlReservation {
            ca,
            number: seq_from_db("cas", "crl_counter", number)?,
            kind,
            as_of_change: seq_from_db("counters", "value", as_of)?,
            base,
        })
    }

    /// Records a signed CRL under its reserved number and appends
    /// `crl.publish` to the audit log (output: the CRL's SHA-256).
    pub async fn record_crl(
        &mut self,
        crl: &NewCrl,
        audit: &AuditContext,
    ) -> Result<Recorded<CrlRecord>> {
        let ca_name = self.ca_name(crl.ca).await?;
        let digest = sha256(&crl.der);
        let row: Option<(String, Option<i64>, i64)> = on_tx!(&mut self.tx, c => sqlx::query_as(UPDATE)
            .bind(crl.ca.0)
            .bind(seq_to_db(crl.number))
            .bind(unix(crl.this_update))
            .bind(crl.next_update.map(unix))
            .bind(&crl.der)
            .bind(digest.as_slice())
            .fetch_optional(&mut *c)
            .await?);
        let Some((kind, base_number, as_of)) = row else {
            let exists: Option<i64> = on_tx!(&mut self.tx, c => sqlx::query_scalar(
                    "SELECT ca_id FROM crl_numbers WHERE ca_id = $1 AND number = $2")
                .bind(crl.ca.0)
                .bind(seq_to_db(crl.number))
                .fetch_optional(&mut *c)
                .await?);
            return Err(if exists.is_some() {
                StoreError::CrlAlreadyRecorded {
                    ca: crl.ca,
                    number: crl.number,
                }
            } else {
                StoreError::CrlNumberNotReserved {
                    ca: crl.ca,
                    number: crl.number,
                }
            });
        };
        let kind = CrlKind::from_db(&kind)?;
        self.bind_row(
            Table::CrlNumbers,
            crl.ca.0,
            &crl_number_key(seq_to_db(crl.number)),
        )
        .await?;
        let entry = self
            .append_audit(&audit.record(
                "crl.publish",
                vec![digest],
                json!({
                    "ca": ca_name,
                    "number": crl.number,
                    "kind": kind.as_str(),
                    "base_number": base_number,
                    "this_update": unix(crl.this_update),
                    "next_update": crl.next_update.map(unix),
                }),
            ))
            .await?;
        Ok(Recorded {
            record: CrlRecord {
                ca: crl.ca,
                number: crl.number,
                kind,
                base_number: base_number
                    .map(|n| seq_from_db("crl_numbers", "base_number", n))
                    .transpose()?,
                as_of_change: seq_from_db("crl_numbers", "as_of_change", as_of)?,
                this_update: from_unix("crl_numbers", "this_update", unix(crl.this_update))?,
                next_update: from_unix_opt(
                    "crl_numbers",
                    "next_update",
                    crl.next_update.map(unix),
                )?,
                der: crl.der.clone(),
                sha256: digest,
            },
            audit_seq: entry.seq,
        })
    }
}

type Row = (
    i64,
    String,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

impl Store {
    /// Reserves a CRL number in its own transaction (see
    /// [`StoreTx::next_crl_number`]).
    pub async fn next_crl_number(
        &self,
        ca: CaId,
        kind: CrlKind,
        audit: &AuditContext,
    ) -> Result<CrlReservation> {
        let mut tx = self.begin().await?;
        let r = tx.next_crl_number(ca, kind, audit).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Records a CRL in its own transaction (see [`StoreTx::record_crl`]).
    pub async fn record_crl(
        &self,
        crl: &NewCrl,
        audit: &AuditContext,
    ) -> Result<Recorded<CrlRecord>> {
        let mut tx = self.begin().await?;
        let r = tx.record_crl(crl, audit).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// The newest published CRL of `ca` of this kind.
    pub async fn latest_crl(&self, ca: CaId, kind: CrlKind) -> Result<Option<CrlRecord>> {
        const SQL: &str = "SELECT number, kind, base_number, as_of_change, this_update, \
             next_update, der, sha256 FROM crl_numbers \
             WHERE ca_id = $1 AND kind = $2 AND der IS NOT NULL ORDER BY number DESC LIMIT 1";
        let row: Option<Row> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(ca.0)
            .bind(kind.as_str())
            .fetch_optional(p)
            .await?);
        let Some((number, kind, base, as_of, this_update, next_update, der, digest)) = row else {
            return Ok(None);
        };
        let missing = |column| StoreError::MalformedValue {
            table: "crl_numbers",
            column,
            reason: "missing on a published CRL",
        };
        Ok(Some(CrlRecord {
            ca,
            number: seq_from_db("crl_numbers", "number", number)?,
            kind: CrlKind::from_db(&kind)?,
            base_number: base
                .map(|n| seq_from_db("crl_numbers", "base_number", n))
                .transpose()?,
            as_of_change: seq_from_db("crl_numbers", "as_of_change", as_of)?,
            this_update: from_unix(
                "crl_numbers",
                "this_update",
                this_update.ok_or_else(|| missing("this_update"))?,
            )?,
            next_update: from_unix_opt("crl_numbers", "next_update", next_update)?,
            der: der.ok_or_else(|| missing("der"))?,
            sha256: hash_from_db(
                "crl_numbers",
                "sha256",
                &digest.ok_or_else(|| missing("sha256"))?,
            )?,
        }))
    }
}
