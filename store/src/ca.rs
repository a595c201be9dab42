//! Certification authorities known to the store.

use std::fmt;

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{sha256, AuditContext, Table};
use crate::backend::{from_unix, hash_from_db, on_pool, on_tx, unix};
use crate::error::{Result, StoreError};
use crate::{Recorded, Store, StoreTx};

/// The store's identifier of a CA, used as the issuer key everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaId(pub i64);

impl fmt::Display for CaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A CA to record after its ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCa {
    /// Operator-facing unique name, e.g. `cnie-citizen-ca`.
    pub name: String,
    /// DER of the certificate's subject Name.
    pub subject_der: Vec<u8>,
    /// DER of the CA certificate.
    pub cert_der: Vec<u8>,
    /// Label of the CA's private key in the HSM (unique).
    pub key_label: String,
    /// The issuing CA; `None` for a root.
    pub parent: Option<CaId>,
    /// Trust tier name, e.g. `cnie`.
    pub tier: Option<String>,
}

/// A stored CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ca {
    pub id: CaId,
    pub name: String,
    pub subject_der: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub cert_sha256: [u8; 32],
    pub key_label: String,
    pub parent: Option<CaId>,
    pub tier: Option<String>,
    pub created_at: OffsetDateTime,
}

type Row = (
    i64,
    String,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    String,
    Option<i64>,
    Option<String>,
    i64,
);

const SELECT: &str = "SELECT id, name, subject_der, cert_der, cert_sha256, key_label, parent_id, \
     tier, created_at FROM cas";

fn from_row(r: Row) -> Result<Ca> {
    Ok(Ca {
        id: CaId(r.0),
        name: r.1,
        subject_der: r.2,
        cert_der: r.3,
        cert_sha256: hash_from_db("cas", "cert_sha256", &r.4)?,
        key_label: r.5,
        parent: r.6.map(CaId),
        tier: r.7,
        created_at: from_unix("cas", "created_at", r.8)?,
    })
}

const INSERT: &str = "INSERT INTO cas (id, name, subject_der, cert_der, cert_sha256, \
     key_label, parent_id, tier, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl StoreTx {
    /// Records a CA and appends `ca.create` to the audit log (output: the
    /// certificate's SHA-256).
    pub async fn insert_ca(&mut self, new: &NewCa, audit: &AuditContext) -> Result<Recorded<Ca>> {
        let clash: Option<(String, String)> = on_tx!(&mut self.tx, c => sqlx::query_as(
                "SELECT name, key_label FROM cas WHERE name = $1 OR key_label = $2")
            .bind(&new.name)
            .bind(&new.key_label)
            .fetch_optional(&mut *c)
            .await?);
        if let Some((name, label)) = clash {
            return Err(if name == new.name {
                StoreError::CaNameTaken { name }
            } else {
                StoreError::KeyLabelTaken { label, name }
            });
        }
        let parent_name = match new.parent {
            Some(parent) => Some(self.ca_name(parent).await?),
            None => None,
        };
        let id = CaId(self.bump_counter("ca", 1).await?);
        let created_at = OffsetDateTime::now_utc();
        let cert_sha256 = sha256(&new.cert_der);
        on_tx!(&mut self.tx, c => sqlx::query(INSERT)
            .bind(id.0)
            .bind(&new.name)
            .bind(&new.subject_der)
            .bind(&new.cert_der)
            .bind(cert_sha256.as_slice())
            .bind(&new.key_label)
            .bind(new.parent.map(|p| p.0))
            .bind(new.tier.as_deref())
            .bind(unix(created_at))
            .execute(&mut *c)
            .await?
            .rows_affected());
        self.bind_row(Table::Cas, id.0, &[]).await?;
        let entry = self
            .append_audit(&audit.record(
                "ca.create",
                vec![cert_sha256],
                json!({
                    "ca": new.name,
                    "ca_id": id.0,
                    "key_label": new.key_label,
                    "parent": parent_name,
                    "tier": new.tier,
                }),
            ))
            .await?;
        Ok(Recorded {
            record: Ca {
                id,
                name: new.name.clone(),
                subject_der: new.subject_der.clone(),
                cert_der: new.cert_der.clone(),
                cert_sha256,
                key_label: new.key_label.clone(),
                parent: new.parent,
                tier: new.tier.clone(),
                created_at: from_unix("cas", "created_at", unix(created_at))?,
            },
            audit_seq: entry.seq,
        })
    }

    /// The CA's name, or `UnknownCa`.
    pub(crate) async fn ca_name(&mut self, ca: CaId) -> Result<String> {
        let name: Option<String> = on_tx!(&mut self.tx, c => sqlx::query_scalar(
                "SELECT name FROM cas WHERE id = $1")
            .bind(ca.0)
            .fetch_optional(&mut *c)
            .await?);
        name.ok_or(StoreError::UnknownCa(ca))
    }
}

impl Store {
    /// Records a CA in its own transaction (see [`StoreTx::insert_ca`]).
    pub async fn insert_ca(&self, new: &NewCa, audit: &AuditContext) -> Result<Recorded<Ca>> {
        let mut tx = self.begin().await?;
        let ca = tx.insert_ca(new, audit).await?;
        tx.commit().await?;
        Ok(ca)
    }

    /// The CA called `name`, if any.
    pub async fn ca(&self, name: &str) -> Result<Option<Ca>> {
        let sql = format!("{SELECT} WHERE name = $1");
        let row: Option<Row> =
            on_pool!(&self.pool, p => sqlx::query_as(&sql).bind(name).fetch_optional(p).await?);
        row.map(from_row).transpose()
    }

    /// The CA called `name`, or `UnknownCaName`.
    pub async fn require_ca(&self, name: &str) -> Result<Ca> {
        self.ca(name)
            .await?
            .ok_or_else(|| StoreError::UnknownCaName { name: name.into() })
    }

    /// The CA with this id, if any.
    pub async fn ca_by_id(&self, id: CaId) -> Result<Option<Ca>> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row: Option<Row> =
            on_pool!(&self.pool, p => sqlx::query_as(&sql).bind(id.0).fetch_optional(p).await?);
        row.map(from_row).transpose()
    }

    /// All CAs, in creation order.
    pub async fn cas(&self) -> Result<Vec<Ca>> {
        let sql = format!("{SELECT} ORDER BY id");
        let rows: Vec<Row> = on_pool!(&self.pool, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(from_row).collect()
    }
}
