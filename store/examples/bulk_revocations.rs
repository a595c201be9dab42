//! Imports N random revocations into a fresh CA, lists them back and
//! checks them against the audit log, printing the timings: the
//! release-mode counterpart of the suite's million-revocation test.
//!
//! ```text
//! cargo run --release -p store --example bulk_revocations -- [URL] [N] [CERTS]
//! ```
//!
//! URL defaults to a SQLite file in a temp directory; a `postgres://` URL
//! must name an existing, empty database. N defaults to 1,000,000
//! revocations, CERTS to 100,000 certificates recorded first.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use store::{
    AuditContext, ImportedRevocation, NewCa, NewCertificate, RevocationQuery, RevocationReason,
    Serial, Store,
};
use time::OffsetDateTime;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .next()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("sqlite://{}/bulk.db", dir.path().display()));
    let n: u32 = args.next().map_or(1_000_000, |n| n.parse().unwrap());
    let certs: u32 = args.next().map_or(100_000, |n| n.parse().unwrap());

    let store = Store::open(&url).await.unwrap();
    let actor = AuditContext::new("bench");
    let name = format!("bulk-{}", OffsetDateTime::now_utc().unix_timestamp_nanos());
    let ca = store
        .insert_ca(
            &NewCa {
                name: name.clone(),
                subject_der: vec![0x30, 0],
                cert_der: name.clone().into_bytes(),
                key_label: name,
                parent: None,
                tier: None,
            },
            &actor,
        )
        .await
        .unwrap()
        .record
        .id;
    let now = OffsetDateTime::now_utc();
    // Issued certificates (1 KiB stand-ins), recorded in one transaction.
    let t = Instant::now();
    let mut tx = store.begin().await.unwrap();
    for i in 0..certs {
        let serial = tx.allocate_serial(ca).await.unwrap();
        let mut der = vec![0x30; 1024];
        der[..4].copy_from_slice(&i.to_be_bytes());
        tx.record_certificate(
            &NewCertificate {
                ca,
                serial,
                subject_der: b"0 subject".to_vec(),
                not_before: now,
                not_after: now,
                der,
                profile: "cnie-auth".into(),
            },
            &actor,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let recorded = t.elapsed();
    let entries: Vec<_> = (0..n)
        .map(|_| ImportedRevocation {
            serial: Serial::random().unwrap(),
            reason: RevocationReason::KeyCompromise,
            revoked_at: now,
            invalidity_date: None,
        })
        .collect();

    let t = Instant::now();
    store
        .import_revocations(ca, &entries, &actor)
        .await
        .unwrap();
    let import = t.elapsed();

    let t = Instant::now();
    let as_of = store.latest_change().await.unwrap();
    let mut query = RevocationQuery::full(ca, as_of);
    let mut listed = 0usize;
    loop {
        let tp = Instant::now();
        let page = store.revocations(&query).await.unwrap();
        if listed % 200_000 == 0 {
            eprintln!("page at {listed}: {:?}", tp.elapsed());
        }
        listed += page.len();
        if !query.advance(&page) {
            break;
        }
    }
    let list = t.elapsed();
    assert_eq!(listed, entries.len());

    let t = Instant::now();
    let probes = entries.len().min(10_000);
    for e in entries.iter().take(probes) {
        store.status(ca, &e.serial).await.unwrap();
    }
    let status = t.elapsed();

    // What `pki crl generate` checks before publishing, and what
    // `pki audit verify` does.
    let t = Instant::now();
    let one = store.verify_ca_state(ca).await.unwrap();
    let ca_check = t.elapsed();
    assert!(one.is_intact());
    let t = Instant::now();
    let entries_checked = store.verify_audit().await.unwrap();
    let chain = t.elapsed();
    let t = Instant::now();
    let all = store.verify_state().await.unwrap();
    let replay = t.elapsed();
    assert!(all.is_intact());

    println!(
        "{:?}: {certs} certificates recorded in {recorded:.2?}; \
         {n} revocations imported in {import:.2?}, listed in {list:.2?} \
         ({} pages of {}); {probes} status lookups in {status:.2?}; \
         rows of the CA checked against the audit log in {ca_check:.2?}; \
         chain of {entries_checked} entries walked in {chain:.2?}, {} rows replayed in {replay:.2?}",
        store.backend(),
        listed.div_ceil(RevocationQuery::DEFAULT_LIMIT as usize),
        RevocationQuery::DEFAULT_LIMIT,
        all.rows,
    );
    store.close().await;
}
