//! Officers enrolled for dual control: who may hold a share of a CA
//! token's user PIN, and the public credential each share is sealed to.
//! Every enrolment is an audit entry that binds the officer's row.

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{sha256, AuditContext, Table};
use crate::backend::{from_unix, on_pool, on_tx, unix};
use crate::error::{Result, StoreError};
use crate::{Recorded, Store, StoreTx};

/// An officer to enrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOfficer {
    /// Unique name, as it appears in audit entries.
    pub name: String,
    /// `x25519` or `argon2id`.
    pub credential_kind: String,
    /// The X25519 public key (32 bytes), or the Argon2id PHC string.
    pub credential: Vec<u8>,
}

/// An enrolled officer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    pub name: String,
    pub credential_kind: String,
    pub credential: Vec<u8>,
    pub enrolled_at: OffsetDateTime,
}

type Row = (String, String, Vec<u8>, i64);

const SELECT: &str = "SELECT name, credential_kind, credential, enrolled_at FROM officers";

fn from_row(r: Row) -> Result<Officer> {
    Ok(Officer {
        name: r.0,
        credential_kind: r.1,
        credential: r.2,
        enrolled_at: from_unix("officers", "enrolled_at", r.3)?,
    })
}

impl StoreTx {
    /// Enrols an officer and appends `officer.add` to the audit log
    /// (output: the SHA-256 of the credential), binding the new row.
    pub async fn add_officer(
        &mut self,
        new: &NewOfficer,
        audit: &AuditContext,
    ) -> Result<Recorded<Officer>> {
        let taken: Option<String> = on_tx!(&mut self.tx, c => sqlx::query_scalar(
                "SELECT name FROM officers WHERE name = $1")
            .bind(&new.name)
            .fetch_optional(&mut *c)
            .await?);
        if taken.is_some() {
            return Err(StoreError::OfficerTaken {
                name: new.name.clone(),
            });
        }
        let enrolled_at = OffsetDateTime::now_utc();
        on_tx!(&mut self.tx, c => sqlx::query(
                "INSERT INTO officers (name, credential_kind, credential, enrolled_at) \
                 VALUES ($1, $2, $3, $4)")
            .bind(&new.name)
            .bind(&new.credential_kind)
            .bind(&new.credential)
            .bind(unix(enrolled_at))
            .execute(&mut *c)
            .await?
            .rows_affected());
        self.bind_row(Table::Officers, 0, new.name.as_bytes())
            .await?;
        let credential_sha256 = sha256(&new.credential);
        let entry = self
            .append_audit(&audit.record(
                "officer.add",
                vec![credential_sha256],
                json!({
                    "officer": new.name,
                    "credential_kind": new.credential_kind,
                }),
            ))
            .await?;
        Ok(Recorded {
            record: Officer {
                name: new.name.clone(),
                credential_kind: new.credential_kind.clone(),
                credential: new.credential.clone(),
                enrolled_at: from_unix("officers", "enrolled_at", unix(enrolled_at))?,
            },
            audit_seq: entry.seq,
        })
    }
}

impl Store {
    /// Enrols an officer in its own transaction (see
    /// [`StoreTx::add_officer`]).
    pub async fn add_officer(
        &self,
        new: &NewOfficer,
        audit: &AuditContext,
    ) -> Result<Recorded<Officer>> {
        let mut tx = self.begin().await?;
        let officer = tx.add_officer(new, audit).await?;
        tx.commit().await?;
        Ok(officer)
    }

    /// The officer called `name`, if enrolled.
    pub async fn officer(&self, name: &str) -> Result<Option<Officer>> {
        let sql = format!("{SELECT} WHERE name = $1");
        let row: Option<Row> =
            on_pool!(&self.pool, p => sqlx::query_as(&sql).bind(name).fetch_optional(p).await?);
        row.map(from_row).transpose()
    }

    /// Every enrolled officer, by name.
    pub async fn officers(&self) -> Result<Vec<Officer>> {
        let sql = format!("{SELECT} ORDER BY name");
        let rows: Vec<Row> = on_pool!(&self.pool, p => sqlx::query_as(&sql).fetch_all(p).await?);
        rows.into_iter().map(from_row).collect()
    }
}
