//! Reads of the response table, batched: the misses that arrive while
//! earlier reads are in flight go to the database together, as one
//! statement per (issuer, hash) ([`store::Store::ocsp_responses_of`]).
//!
//! At most [`IN_FLIGHT`] statements run at once. A miss that finds a free
//! slot is read at once, alone (no added latency when traffic is light);
//! under load the misses queue while the slots are busy and the next
//! statement takes all of them, up to [`store::MAX_READ_BATCH`]. A uniform
//! mix over millions of serials, where most requests miss, then costs the
//! database one statement per batch instead of one per request (issue 17).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use store::{CaId, CertIdHash, Serial, StoredRead};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::core::Db;
use crate::error::ResponderError;
use crate::metrics::Metrics;

/// Statements in flight at once (PostgreSQL pools hold 8 connections).
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<Option<StoredRead>, ResponderError>>;

struct Pending {
    ca: CaId,
    hash: CertIdHash,
    serial: Serial,
    reply: Reply,
}

/// The batching reader; its worker task starts on the first read.
#[derive(Debug)]
pub(crate) struct TableReader {
    db: Db,
    metrics: Arc<Metrics>,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl TableReader {
    pub(crate) fn new(db: Db, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            metrics,
            queue: OnceLock::new(),
        }
    }

    /// The stored response of one serial (as [`store::Store::ocsp_response`],
    /// through the configured timeout and health tracking).
    pub(crate) async fn read(
        &self,
        ca: CaId,
        hash: CertIdHash,
        serial: Serial,
    ) -> Result<Option<StoredRead>, ResponderError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(self.db.clone(), Arc::clone(&self.metrics), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            ca,
            hash,
            serial,
            reply,
        };
        if queue.send(pending).is_err() {
            return Err(ResponderError::TableRead("the reader has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| {
            Err(ResponderError::TableRead(
                "the reader dropped the request".into(),
            ))
        })
    }
}

/// Takes what is queued whenever a slot is free, until every sender is
/// gone.
async fn work(db: Db, metrics: Arc<Metrics>, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // The slot first: misses arriving while all are busy wait in the
        // queue and go together.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < store::MAX_READ_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let db = db.clone();
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            answer(&db, &metrics, batch).await;
            drop(slot);
        });
    }
}

/// One statement per (issuer, hash) of `batch`; each caller gets its row.
async fn answer(db: &Db, metrics: &Metrics, batch: Vec<Pending>) {
    let mut groups: HashMap<(CaId, CertIdHash), Vec<Pending>> = HashMap::new();
    for p in batch {
        // A caller that hung up needs no read.
        if !p.reply.is_closed() {
            groups.entry((p.ca, p.hash)).or_default().push(p);
        }
    }
    for ((ca, hash), group) in groups {
        let serials: Vec<&Serial> = group.iter().map(|p| &p.serial).collect();
        metrics.table_statements.fetch_add(
            serials.len().div_ceil(store::MAX_READ_BATCH) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let read = db
            .call(db.store().ocsp_responses_of(ca, hash, &serials))
            .await;
        match read {
            Ok(rows) => {
                for (p, row) in group.into_iter().zip(rows) {
                    let _ = p.reply.send(Ok(row));
                }
            }
            Err(e) => {
                let why = e.to_string();
                for p in group {
                    let _ = p.reply.send(Err(ResponderError::TableRead(why.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use der::{Decode as _, Encode as _};
    use store::{AuditContext, NewCa, ResponseStatus, Store, StoredResponse};

    use super::*;
    use crate::core::Health;

    fn serial(i: u32) -> Serial {
        Serial::from_der_content(&[0x01, (i >> 8) as u8, i as u8]).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn queued_misses_are_one_statement_and_each_gets_its_own_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/store.db", dir.path().display()))
            .await
            .unwrap();
        let ca = pki_core::testing::TestCa::root("CN=Reader Test CA,C=MA");
        let cert = x509_cert::Certificate::from_der(ca.cert_der()).unwrap();
        let ca = store
            .insert_ca(
                &NewCa {
                    name: "reader-test".into(),
                    subject_der: cert.tbs_certificate.subject.to_der().unwrap(),
                    cert_der: ca.cert_der().to_vec(),
                    key_label: "reader-test-key".into(),
                    parent: None,
                    tier: None,
                },
                &AuditContext::new("test"),
            )
            .await
            .unwrap()
            .record
            .id;
        let now = time::OffsetDateTime::now_utc();
        let rows: Vec<StoredResponse> = (0..300)
            .map(|i| StoredResponse {
                ca,
                hash: CertIdHash::Sha1,
                serial: serial(i),
                status: ResponseStatus::Good,
                status_seq: 0,
                this_update: now,
                next_update: now + time::Duration::days(1),
                der: format!("response {i}").into_bytes(),
            })
            .collect();
        store.put_ocsp_responses(&rows).await.unwrap();
        let metrics = Arc::new(Metrics::default());
        let db = Db::new(
            store,
            Duration::from_secs(10),
            Arc::new(Health::new(false)),
            Arc::clone(&metrics),
        );
        let reader = Arc::new(TableReader::new(db, Arc::clone(&metrics)));
        // On one thread, every read is queued before the worker first runs.
        // 300 stored serials, one never stored, and one of them twice.
        let wanted: Vec<u32> = (0..300).chain([300, 7]).collect();
        let tasks: Vec<_> = wanted
            .iter()
            .map(|&i| {
                let reader = Arc::clone(&reader);
                tokio::spawn(async move { reader.read(ca, CertIdHash::Sha1, serial(i)).await })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap().unwrap());
        }
        for (i, row) in wanted.iter().zip(&got) {
            if *i == 300 {
                assert!(row.is_none(), "never stored");
            } else {
                let row = row.as_ref().unwrap();
                assert_eq!(row.response.der, format!("response {i}").into_bytes());
                assert_eq!(row.response.serial, serial(*i));
            }
        }
        // All 302 were queued before the worker ran: two statements, of
        // MAX_READ_BATCH and of the rest.
        assert_eq!(
            metrics.table_statements.load(Ordering::Relaxed),
            wanted.len().div_ceil(store::MAX_READ_BATCH) as u64,
        );
    }
}
