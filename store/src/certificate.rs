//! Issued certificates and serial number allocation.

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::{certificate_image, sha256, AuditContext, Table};
use crate::backend::{from_unix, hash_from_db, numbered_list, on_pool, on_tx, unix, values_list};
use crate::ca::CaId;
use crate::change::ChangeKind;
use crate::error::{Result, StoreError};
use crate::serial::Serial;
use crate::{Recorded, Store, StoreTx};

/// Random draws before `allocate_serial` gives up. With 127-bit serials a
/// single collision is already astronomically unlikely.
const SERIAL_ATTEMPTS: u32 = 8;

/// A signed certificate to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub ca: CaId,
    pub serial: Serial,
    /// DER of the subject Name.
    pub subject_der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// DER of the whole certificate.
    pub der: Vec<u8>,
    /// Profile name from the CA configuration, e.g. `cnie-auth`.
    pub profile: String,
}

/// A stored certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub ca: CaId,
    pub serial: Serial,
    pub subject_der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub der: Vec<u8>,
    pub profile: String,
    /// SHA-256 of `der`.
    pub sha256: [u8; 32],
    pub issued_at: OffsetDateTime,
}

type Row = (Vec<u8>, Vec<u8>, i64, i64, Vec<u8>, String, Vec<u8>, i64);

const RESERVE: &str = "INSERT INTO serials (ca_id, serial, allocated_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const INSERT: &str = "INSERT INTO certificates (ca_id, serial, subject_der, not_before, \
     not_after, der, profile, sha256, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl StoreTx {
    /// Allocates a fresh random serial ([`Serial::random`]) for `ca`,
    /// reserved so no later allocation returns it again; retries on
    /// collision.
    pub async fn allocate_serial(&mut self, ca: CaId) -> Result<Serial> {
        self.allocate_serial_with(ca, Serial::random).await
    }

    pub(crate) async fn allocate_serial_with(
        &mut self,
        ca: CaId,
        mut draw: impl FnMut() -> Result<Serial>,
    ) -> Result<Serial> {
        self.ca_name(ca).await?;
        for _ in 0..SERIAL_ATTEMPTS {
            let serial = draw()?;
            if self.reserve_serial(ca, &serial).await? {
                return Ok(serial);
            }
        }
        Err(StoreError::SerialSpaceExhausted {
            ca,
            attempts: SERIAL_ATTEMPTS,
        })
    }

    /// [`StoreTx::allocate_serial`] for `n` serials at once, in one
    /// statement per thousand (batch issuance); in allocation order.
    pub async fn allocate_serials(&mut self, ca: CaId, n: usize) -> Result<Vec<Serial>> {
        self.allocate_serials_with(ca, n, Serial::random).await
    }

    pub(crate) async fn allocate_serials_with(
        &mut self,
        ca: CaId,
        n: usize,
        mut draw: impl FnMut() -> Result<Serial>,
    ) -> Result<Vec<Serial>> {
        self.ca_name(ca).await?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..SERIAL_ATTEMPTS {
            let want = n - out.len();
            if want == 0 {
                return Ok(out);
            }
            let draws = (0..want.min(1000))
                .map(|_| draw())
                .collect::<Result<Vec<_>>>()?;
            // A serial already reserved, recorded or revoked (imports) is
            // left out; the rest come back.
            let sql = format!(
                "INSERT INTO serials (ca_id, serial, allocated_at) \
                 SELECT v.column1, v.column2, v.column3 FROM (VALUES {}) v \
                 WHERE NOT EXISTS (SELECT 1 FROM revocations r \
                 WHERE r.ca_id = v.column1 AND r.serial = v.column2) \
                 ON CONFLICT DO NOTHING RETURNING serial",
                values_list(&self.tx, draws.len(), 3)
            );
            let now = unix(OffsetDateTime::now_utc());
            let got: Vec<Vec<u8>> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_scalar(&sql);
                for serial in &draws {
                    q = q.bind(ca.0).bind(serial.as_bytes()).bind(now);
                }
                q.fetch_all(&mut *c).await?
            });
            let got: std::collections::HashSet<Vec<u8>> = got.into_iter().collect();
            out.extend(draws.into_iter().filter(|s| got.contains(s.as_bytes())));
        }
        if out.len() == n {
            return Ok(out);
        }
        Err(StoreError::SerialSpaceExhausted {
            ca,
            attempts: SERIAL_ATTEMPTS,
        })
    }

    /// Reserves a given serial for `ca`; `false` if it was already
    /// allocated, recorded or revoked (also imported revocations).
    pub async fn reserve_serial(&mut self, ca: CaId, serial: &Serial) -> Result<bool> {
        const SQL: &str = "INSERT INTO serials (ca_id, serial, allocated_at) \
             SELECT $1, $2, $3 WHERE NOT EXISTS \
             (SELECT 1 FROM revocations WHERE ca_id = $1 AND serial = $2) \
             ON CONFLICT DO NOTHING";
        let done = on_tx!(&mut self.tx, c => sqlx::query(SQL)
            .bind(ca.0)
            .bind(serial.as_bytes())
            .bind(unix(OffsetDateTime::now_utc()))
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records an issued certificate and appends `certificate.issue` to the
    /// audit log (output: the certificate's SHA-256). The serial need not
    /// have been allocated here (imports), but must not be recorded yet.
    pub async fn record_certificate(
        &mut self,
        new: &NewCertificate,
        audit: &AuditContext,
    ) -> Result<Recorded<CertificateRecord>> {
        let ca_name = self.ca_name(new.ca).await?;
        let exists: Option<i64> = on_tx!(&mut self.tx, c => sqlx::query_scalar(
                "SELECT ca_id FROM certificates WHERE ca_id = $1 AND serial = $2")
            .bind(new.ca.0)
            .bind(new.serial.as_bytes())
            .fetch_optional(&mut *c)
            .await?);
        if exists.is_some() {
            return Err(StoreError::SerialAlreadyIssued {
                ca: new.ca,
                serial: new.serial.clone(),
            });
        }
        let now = OffsetDateTime::now_utc();
        let digest = sha256(&new.der);
        on_tx!(&mut self.tx, c => {
            sqlx::query(RESERVE)
                .bind(new.ca.0)
                .bind(new.serial.as_bytes())
                .bind(unix(now))
                .execute(&mut *c)
                .await?;
            sqlx::query(INSERT)
                .bind(new.ca.0)
                .bind(new.serial.as_bytes())
                .bind(&new.subject_der)
                .bind(unix(new.not_before))
                .bind(unix(new.not_after))
                .bind(&new.der)
                .bind(&new.profile)
                .bind(digest.as_slice())
                .bind(unix(now))
                .execute(&mut *c)
                .await?;
        });
        self.record_change(new.ca, Some(&new.serial), ChangeKind::Issued, now)
            .await?;
        self.bind_row(Table::Certificates, new.ca.0, new.serial.as_bytes())
            .await?;
        let entry = self
            .append_audit(&audit.record(
                "certificate.issue",
                vec![digest],
                json!({
                    "ca": ca_name,
                    "serial": new.serial.to_hex(),
                    "profile": new.profile,
                    "not_before": unix(new.not_before),
                    "not_after": unix(new.not_after),
                }),
            ))
            .await?;
        Ok(Recorded {
            record: CertificateRecord {
                ca: new.ca,
                serial: new.serial.clone(),
                subject_der: new.subject_der.clone(),
                not_before: from_unix("certificates", "not_before", unix(new.not_before))?,
                not_after: from_unix("certificates", "not_after", unix(new.not_after))?,
                der: new.der.clone(),
                profile: new.profile.clone(),
                sha256: digest,
                issued_at: from_unix("certificates", "issued_at", unix(now))?,
            },
            audit_seq: entry.seq,
        })
    }
}

impl StoreTx {
    /// [`StoreTx::record_certificate`] for many certificates of one CA, each
    /// with its own `certificate.issue` audit entry binding its row, in a
    /// handful of statements for the lot (batch issuance). Each row's image
    /// is made from the values written rather than read back, as the
    /// revocation import does. Returns each entry's sequence number, in
    /// order.
    pub async fn record_certificates(
        &mut self,
        ca: CaId,
        certs: &[(NewCertificate, AuditContext)],
    ) -> Result<Vec<u64>> {
        if certs.is_empty() {
            return Ok(Vec::new());
        }
        let ca_name = self.ca_name(ca).await?;
        if let Some((other, _)) = certs.iter().find(|(c, _)| c.ca != ca) {
            return Err(StoreError::UnknownCa(other.ca));
        }
        let serials: Vec<&Serial> = certs.iter().map(|(c, _)| &c.serial).collect();
        for chunk in serials.chunks(500) {
            let sql = format!(
                "SELECT serial FROM certificates WHERE ca_id = $1 AND serial IN ({})",
                numbered_list(2, chunk.len())
            );
            let found: Option<Vec<u8>> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_scalar(&sql).bind(ca.0);
                for serial in chunk {
                    q = q.bind(serial.as_bytes());
                }
                q.fetch_optional(&mut *c).await?
            });
            if let Some(serial) = found {
                return Err(StoreError::SerialAlreadyIssued {
                    ca,
                    serial: Serial::from_stored(serial, "certificates")?,
                });
            }
        }
        let now = OffsetDateTime::now_utc();
        let digests: Vec<[u8; 32]> = certs.iter().map(|(c, _)| sha256(&c.der)).collect();
        for (chunk, digests) in certs.chunks(1000).zip(digests.chunks(1000)) {
            let sql = format!(
                "INSERT INTO serials (ca_id, serial, allocated_at) VALUES {} ON CONFLICT DO NOTHING",
                values_list(&self.tx, chunk.len(), 3)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                for (new, _) in chunk {
                    q = q.bind(ca.0).bind(new.serial.as_bytes()).bind(unix(now));
                }
                q.execute(&mut *c).await?;
            });
            let sql = format!(
                "INSERT INTO certificates (ca_id, serial, subject_der, not_before, not_after, \
                 der, profile, sha256, issued_at) VALUES {}",
                values_list(&self.tx, chunk.len(), 9)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(&sql);
                for ((new, _), digest) in chunk.iter().zip(digests) {
                    q = q
                        .bind(ca.0)
                        .bind(new.serial.as_bytes())
                        .bind(&new.subject_der)
                        .bind(unix(new.not_before))
                        .bind(unix(new.not_after))
                        .bind(&new.der)
                        .bind(&new.profile)
                        .bind(digest.as_slice())
                        .bind(unix(now));
                }
                q.execute(&mut *c).await?;
            });
        }
        self.record_changes(ca, &serials, ChangeKind::Issued, now)
            .await?;
        let entries: Vec<_> = certs
            .iter()
            .zip(&digests)
            .map(|((new, audit), digest)| {
                let image = certificate_image(
                    ca.0,
                    new.serial.as_bytes(),
                    sha256(&new.subject_der),
                    unix(new.not_before),
                    unix(new.not_after),
                    &new.profile,
                    *digest,
                    unix(now),
                );
                let record = audit.record(
                    "certificate.issue",
                    vec![*digest],
                    json!({
                        "ca": ca_name,
                        "serial": new.serial.to_hex(),
                        "profile": new.profile,
                        "not_before": unix(new.not_before),
                        "not_after": unix(new.not_after),
                    }),
                );
                (record, vec![image])
            })
            .collect();
        let sealed = self.append_audit_many(&entries).await?;
        Ok(sealed.into_iter().map(|e| e.seq).collect())
    }

    /// The serials that answered these issuance requests of `ca`
    /// (`issuance_requests`, migration 0004), as (request digest, serial).
    /// An index, not vouched state: check each against its certificate.
    pub async fn answered_requests(
        &mut self,
        ca: CaId,
        requests: &[[u8; 32]],
    ) -> Result<Vec<([u8; 32], Serial)>> {
        let mut found = Vec::new();
        // Bounded statements whatever the batch: 500 digests per query.
        for chunk in requests.chunks(500) {
            let sql = format!(
                "SELECT request_sha256, serial FROM issuance_requests \
                 WHERE ca_id = $1 AND request_sha256 IN ({})",
                numbered_list(2, chunk.len())
            );
            let rows: Vec<(Vec<u8>, Vec<u8>)> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_as(&sql).bind(ca.0);
                for digest in chunk {
                    q = q.bind(digest.as_slice());
                }
                q.fetch_all(&mut *c).await?
            });
            for (digest, serial) in rows {
                found.push((
                    hash_from_db("issuance_requests", "request_sha256", &digest)?,
                    Serial::from_stored(serial, "issuance_requests")?,
                ));
            }
        }
        Ok(found)
    }

    /// Records that each serial answers its issuance request of `ca`;
    /// returns the requests recorded now. A request answered already (by
    /// a run that committed first) is left as it was and not returned.
    pub async fn answer_requests(
        &mut self,
        ca: CaId,
        answers: &[([u8; 32], &Serial)],
    ) -> Result<std::collections::HashSet<[u8; 32]>> {
        let mut recorded = std::collections::HashSet::with_capacity(answers.len());
        for chunk in answers.chunks(1000) {
            let sql = format!(
                "INSERT INTO issuance_requests (ca_id, request_sha256, serial) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING request_sha256",
                values_list(&self.tx, chunk.len(), 3)
            );
            let rows: Vec<Vec<u8>> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_scalar(&sql);
                for (request, serial) in chunk {
                    q = q.bind(ca.0).bind(request.as_slice()).bind(serial.as_bytes());
                }
                q.fetch_all(&mut *c).await?
            });
            for digest in rows {
                recorded.insert(hash_from_db(
                    "issuance_requests",
                    "request_sha256",
                    &digest,
                )?);
            }
        }
        Ok(recorded)
    }
}

impl Store {
    /// Allocates a serial in its own transaction (see
    /// [`StoreTx::allocate_serial`]).
    pub async fn allocate_serial(&self, ca: CaId) -> Result<Serial> {
        let mut tx = self.begin().await?;
        let serial = tx.allocate_serial(ca).await?;
        tx.commit().await?;
        Ok(serial)
    }

    /// Records a certificate in its own transaction (see
    /// [`StoreTx::record_certificate`]).
    pub async fn record_certificate(
        &self,
        new: &NewCertificate,
        audit: &AuditContext,
    ) -> Result<Recorded<CertificateRecord>> {
        let mut tx = self.begin().await?;
        let record = tx.record_certificate(new, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Up to `limit` serials recorded for `ca` after `after`, in bytewise
    /// order (keyset paging: pass the last serial of the previous page), for
    /// OCSP responders loading every status at start.
    pub async fn issued_serials(
        &self,
        ca: CaId,
        after: Option<&Serial>,
        limit: u32,
    ) -> Result<Vec<Serial>> {
        const SQL: &str = "SELECT serial FROM certificates WHERE ca_id = $1 AND serial > $2 \
             ORDER BY serial LIMIT $3";
        let after = after.map_or(&[][..], Serial::as_bytes);
        let rows: Vec<Vec<u8>> = on_pool!(&self.pool, p => sqlx::query_scalar(SQL)
            .bind(ca.0)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?);
        rows.into_iter()
            .map(|s| Serial::from_stored(s, "certificates"))
            .collect()
    }

    /// The certificate `serial` issued by `ca`, if recorded.
    pub async fn certificate(
        &self,
        ca: CaId,
        serial: &Serial,
    ) -> Result<Option<CertificateRecord>> {
        const SQL: &str = "SELECT serial, subject_der, not_before, not_after, der, profile, \
             sha256, issued_at FROM certificates WHERE ca_id = $1 AND serial = $2";
        let row: Option<Row> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(ca.0)
            .bind(serial.as_bytes())
            .fetch_optional(p)
            .await?);
        row.map(|r| {
            Ok(CertificateRecord {
                ca,
                serial: Serial::from_stored(r.0, "certificates")?,
                subject_der: r.1,
                not_before: from_unix("certificates", "not_before", r.2)?,
                not_after: from_unix("certificates", "not_after", r.3)?,
                der: r.4,
                profile: r.5,
                sha256: hash_from_db("certificates", "sha256", &r.6)?,
                issued_at: from_unix("certificates", "issued_at", r.7)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::NewCa;

    #[tokio::test]
    async fn allocation_retries_on_collision() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let ca = store
            .insert_ca(
                &NewCa {
                    name: "ca".into(),
                    subject_der: vec![0x30, 0],
                    cert_der: vec![0x30, 0],
                    key_label: "ca-key".into(),
                    parent: None,
                    tier: None,
                },
                &AuditContext::new("test"),
            )
            .await
            .unwrap()
            .record
            .id;
        let a = Serial::from_hex("0A").unwrap();
        let b = Serial::from_hex("0B").unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(tx.reserve_serial(ca, &a).await.unwrap());
        let mut draws = vec![b.clone(), a.clone(), a.clone()];
        let got = tx
            .allocate_serial_with(ca, || Ok(draws.pop().unwrap()))
            .await
            .unwrap();
        assert_eq!(got, b);
        let err = tx
            .allocate_serial_with(ca, || Ok(a.clone()))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::SerialSpaceExhausted { attempts: 8, .. }
        ));

        // In bulk: a reserved serial (A, B) and a revoked one (R, imported
        // without a certificate) are drawn again; fresh ones come back in
        // order.
        let revoked = Serial::from_hex("0E").unwrap();
        tx.import_revocations(
            ca,
            &[crate::ImportedRevocation {
                serial: revoked.clone(),
                reason: crate::RevocationReason::KeyCompromise,
                revoked_at: time::OffsetDateTime::UNIX_EPOCH,
                invalidity_date: None,
            }],
            &AuditContext::new("test"),
        )
        .await
        .unwrap();
        let (fresh1, fresh2) = (
            Serial::from_hex("0C").unwrap(),
            Serial::from_hex("0D").unwrap(),
        );
        // Drawn in this order, two at a time, then one.
        let mut draws = [
            a.clone(),
            b.clone(),
            revoked,
            fresh1.clone(),
            fresh2.clone(),
        ]
        .into_iter();
        let got = tx
            .allocate_serials_with(ca, 2, || Ok(draws.next().unwrap()))
            .await
            .unwrap();
        assert_eq!(got, [fresh1.clone(), fresh2]);
        let err = tx
            .allocate_serials_with(ca, 1, || Ok(fresh1.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::SerialSpaceExhausted { .. }));
    }
}
