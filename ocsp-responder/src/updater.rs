//! The updater: signs every OCSP response once, through the HSM, into the
//! store's response table, where every responder reads it (Boulder's
//! ocsp-updater). One updater per deployment holds the `ocsp-updater`
//! lease; others wait as standbys and take over when it lapses, so two
//! never sign the same work.
//!
//! Each round, per issuer and configured CertID hash, in this order:
//! 1. serials named by the change feed since the last round (revoked,
//!    issued, released from hold, imported): signed at once;
//! 2. serials with no stored response yet (certificates, then revocations
//!    without a certificate);
//! 3. responses past `refresh_after` (half their validity by default),
//!    oldest first.
//!
//! Work goes in batches: one query reads the statuses of a batch, the
//! signatures run on `presign_threads` threads (one HSM session each), one
//! transaction writes the batch. A status is read after the change
//! sequence number it is stored with, so a response never carries a newer
//! sequence number than its status ([`store::StoredRead::current`]).
//!
//! Only rows the audit log vouches for are signed from: each CA's rows are
//! checked when the updater starts (one pass over the CA), each changed
//! serial's rows before it is re-signed. A CA whose rows do not hold is
//! skipped, named in the log and in `ocsp_unvouched_rows_total`, and
//! checked again every `recheck` interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pki_core::ocsp::{CertStatus, HashAlgorithm, ResponseError};
use store::{
    CaId, CertIdHash, ChangeKind, DueCursor, MissingCursor, ResponseStatus, RevocationQuery,
    Serial, Store, StoredResponse,
};
use time::OffsetDateTime;

use crate::config::Settings;
use crate::error::ResponderError;
use crate::issuer::{Issuer, Issuers, Signing};
use crate::status::Known;

/// How often the whole-CA walk for serials without a response runs again
/// after a complete one (the change feed brings new serials meanwhile).
const MISSING_RESCAN: Duration = Duration::from_secs(600);

/// The lease one updater holds while it signs.
pub const LEASE: &str = "ocsp-updater";

/// How the updater works.
#[derive(Debug, Clone)]
pub struct UpdaterSettings {
    /// Serials per batch (one status read, one write).
    pub batch: u32,
    /// Lease duration; renewed every third of it.
    pub lease: Duration,
    /// Pause between rounds that found nothing to do (a change
    /// notification cuts it short on PostgreSQL).
    pub idle: Duration,
    /// How often a CA whose rows the audit log did not vouch for is
    /// checked again.
    pub recheck: Duration,
    /// Who holds the lease (host and process id by default).
    pub holder: String,
}

impl Default for UpdaterSettings {
    fn default() -> Self {
        Self {
            batch: 1_000,
            lease: Duration::from_secs(30),
            idle: Duration::from_secs(1),
            recheck: Duration::from_secs(300),
            holder: default_holder(),
        }
    }
}

fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "host".into(), |h| h.trim().to_owned());
    format!("{host}:{}:{:x}", std::process::id(), rand_tag())
}

fn rand_tag() -> u32 {
    let mut b = [0u8; 4];
    // A tag to tell two updaters in one process apart (tests); any value
    // will do if the system RNG fails.
    let _ = aws_lc_rs::rand::fill(&mut b);
    u32::from_be_bytes(b)
}

/// Counters of one updater, for logs, `/metrics` and tests.
#[derive(Debug, Default)]
pub struct UpdaterStats {
    pub signed_changed: AtomicU64,
    pub signed_missing: AtomicU64,
    pub signed_due: AtomicU64,
    pub sign_failures: AtomicU64,
    pub rounds: AtomicU64,
    /// Rows the audit log did not vouch for (CAs or serials skipped).
    pub unvouched: AtomicU64,
    pub holds_lease: AtomicBool,
    /// Change sequence number the updater has signed up to.
    pub change_seq: AtomicU64,
}

impl UpdaterStats {
    /// The `ocsp_updater_*` series (in a responder's `/metrics`, or the
    /// standalone updater's).
    pub fn render(&self, out: &mut service_kit::exposition::Exposition) {
        for (name, help, v) in [
            (
                "ocsp_updater_signed_changed_total",
                "Responses the updater signed for changed statuses.",
                &self.signed_changed,
            ),
            (
                "ocsp_updater_signed_missing_total",
                "Responses the updater signed for serials without one.",
                &self.signed_missing,
            ),
            (
                "ocsp_updater_signed_due_total",
                "Responses the updater re-signed past refresh_after.",
                &self.signed_due,
            ),
            (
                "ocsp_updater_sign_failures_total",
                "Signatures the updater could not make.",
                &self.sign_failures,
            ),
            (
                "ocsp_updater_unvouched_rows_total",
                "Rows the updater did not sign from: the audit log does not vouch for them.",
                &self.unvouched,
            ),
            (
                "ocsp_updater_rounds_total",
                "Updater rounds completed.",
                &self.rounds,
            ),
        ] {
            out.counter(name, help, v.load(Ordering::Relaxed));
        }
        out.gauge(
            "ocsp_updater_lease_held",
            "1 while this updater holds the lease and signs.",
            u8::from(self.holds_lease.load(Ordering::Relaxed)),
        );
        out.gauge(
            "ocsp_updater_change_seq",
            "Store change the updater has signed up to.",
            self.change_seq.load(Ordering::Relaxed),
        );
    }

    pub fn signed(&self) -> u64 {
        self.signed_changed.load(Ordering::Relaxed)
            + self.signed_missing.load(Ordering::Relaxed)
            + self.signed_due.load(Ordering::Relaxed)
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub changed: u64,
    pub missing: u64,
    pub due: u64,
    pub failed: u64,
}

impl Round {
    pub fn total(&self) -> u64 {
        self.changed + self.missing + self.due
    }
}

/// Signs into the response table.
#[derive(Debug)]
pub struct Updater {
    store: Store,
    issuers: Arc<Issuers>,
    settings: Settings,
    config: UpdaterSettings,
    pub stats: Arc<UpdaterStats>,
    /// Per CA: vouched for, or when to check again.
    vouched: HashMap<CaId, Result<(), Instant>>,
    lease_renewed: Option<Instant>,
    /// When each (CA, hash) was last walked whole for missing responses.
    missing_scanned: HashMap<(CaId, HashAlgorithm), Instant>,
}

/// The CertID hash in the store's terms.
pub fn stored_hash(hash: HashAlgorithm) -> CertIdHash {
    match hash {
        HashAlgorithm::Sha1 => CertIdHash::Sha1,
        HashAlgorithm::Sha256 => CertIdHash::Sha256,
    }
}

impl Updater {
    pub fn new(
        store: Store,
        issuers: Vec<Arc<Issuer>>,
        settings: Settings,
        config: UpdaterSettings,
    ) -> Self {
        Self::following(store, Arc::new(Issuers::new(issuers)), settings, config)
    }

    /// An updater signing for `issuers` as they are at each round (a
    /// responder's reload swaps them).
    pub fn following(
        store: Store,
        issuers: Arc<Issuers>,
        settings: Settings,
        config: UpdaterSettings,
    ) -> Self {
        Self {
            store,
            issuers,
            settings,
            config,
            stats: Arc::new(UpdaterStats::default()),
            vouched: HashMap::new(),
            lease_renewed: None,
            missing_scanned: HashMap::new(),
        }
    }

    /// Takes or renews the lease when a third of it has passed; false when
    /// another updater holds it.
    pub async fn hold_lease(&mut self) -> Result<bool, ResponderError> {
        if let Some(at) = self.lease_renewed {
            if at.elapsed() < self.config.lease / 3 {
                return Ok(true);
            }
        }
        let held = self
            .store
            .try_lease(
                LEASE,
                &self.config.holder,
                OffsetDateTime::now_utc(),
                self.config.lease,
            )
            .await?;
        if held && self.lease_renewed.is_none() {
            tracing::info!(holder = %self.config.holder, "OCSP updater lease taken: signing");
        }
        if !held && self.lease_renewed.is_some() {
            tracing::warn!(holder = %self.config.holder, "OCSP updater lease lost: standing by");
        }
        self.lease_renewed = held.then(Instant::now);
        self.stats.holds_lease.store(held, Ordering::Relaxed);
        Ok(held)
    }

    /// Gives the lease up (on shutdown), so a standby takes over at once.
    pub async fn release(&mut self) {
        if self.lease_renewed.take().is_some() {
            let _ = self.store.release_lease(LEASE, &self.config.holder).await;
            self.stats.holds_lease.store(false, Ordering::Relaxed);
        }
    }

    /// Checks that the audit log vouches for every CA's rows, failing with
    /// the first CA whose rows do not hold, named (`pki presign`).
    pub async fn require_vouched(&mut self) -> Result<(), ResponderError> {
        for issuer in self.issuers.current().iter() {
            let report = self.store.verify_ca_state(issuer.ca).await?;
            if !report.is_intact() {
                self.stats.unvouched.fetch_add(
                    report.findings.len() as u64 + report.more,
                    Ordering::Relaxed,
                );
            }
            report.require_intact(format!("CA {:?}", issuer.name))?;
            self.vouched.insert(issuer.ca, Ok(()));
        }
        Ok(())
    }

    /// Checks (again, when due) that the audit log vouches for each CA's
    /// rows; returns the CAs to sign for.
    async fn vouched_issuers(&mut self) -> Result<Vec<Arc<Issuer>>, ResponderError> {
        let mut out = Vec::new();
        for issuer in self.issuers.current().iter() {
            let check = match self.vouched.get(&issuer.ca) {
                Some(Ok(())) => false,
                Some(Err(again)) => Instant::now() >= *again,
                None => true,
            };
            if check {
                let started = Instant::now();
                let report = self.store.verify_ca_state(issuer.ca).await?;
                if report.is_intact() {
                    tracing::info!(issuer = %issuer.name, secs = started.elapsed().as_secs_f64(), "the audit log vouches for the CA's rows");
                    self.vouched.insert(issuer.ca, Ok(()));
                } else {
                    for finding in &report.findings {
                        tracing::error!(issuer = %issuer.name, %finding, "not signing for a CA whose rows the audit log does not vouch for");
                    }
                    self.stats.unvouched.fetch_add(
                        report.findings.len() as u64 + report.more,
                        Ordering::Relaxed,
                    );
                    self.vouched
                        .insert(issuer.ca, Err(Instant::now() + self.config.recheck));
                }
            }
            if let Some(Ok(())) = self.vouched.get(&issuer.ca) {
                out.push(Arc::clone(issuer));
            }
        }
        Ok(out)
    }

    /// One round: changes, then missing, then due responses. Returns what
    /// it signed. Call [`Updater::hold_lease`] first.
    pub async fn round(&mut self) -> Result<Round, ResponderError> {
        let mut round = Round::default();
        if self.stats.rounds.load(Ordering::Relaxed) == 0 {
            // Changes before the first round are covered by the missing and
            // due scans; follow the feed from here.
            let seq = self.store.latest_change().await?;
            self.stats.change_seq.store(seq, Ordering::Relaxed);
        }
        let issuers = self.vouched_issuers().await?;
        self.changed(&issuers, &mut round).await?;
        for issuer in &issuers {
            for hash in self.settings.presign_hashes.clone() {
                // The full walk for serials without a response reads every
                // certificate of the CA: at the first round, then as a
                // safety net every MISSING_RESCAN; issuances and imports in
                // between arrive through the change feed.
                let key = (issuer.ca, hash);
                if self
                    .missing_scanned
                    .get(&key)
                    .is_none_or(|at| at.elapsed() >= MISSING_RESCAN)
                    && self.missing(issuer, hash, &mut round).await?
                {
                    self.missing_scanned.insert(key, Instant::now());
                }
                self.due(issuer, hash, &mut round).await?;
                // Changes first again between the long scans.
                self.changed(&issuers, &mut round).await?;
            }
        }
        self.stats.rounds.fetch_add(1, Ordering::Relaxed);
        Ok(round)
    }

    async fn changed(
        &mut self,
        issuers: &[Arc<Issuer>],
        round: &mut Round,
    ) -> Result<(), ResponderError> {
        loop {
            let after = self.stats.change_seq.load(Ordering::Relaxed);
            let changes = self.store.changes_since(after, self.config.batch).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(());
            };
            let mut by_ca: HashMap<CaId, Vec<Serial>> = HashMap::new();
            for change in &changes {
                let Some(issuer) = issuers.iter().find(|i| i.ca == change.ca) else {
                    continue;
                };
                let serials = by_ca.entry(issuer.ca).or_default();
                match (&change.serial, change.kind) {
                    (Some(s), _) => serials.push(s.clone()),
                    (None, ChangeKind::Imported) => {
                        let mut query =
                            RevocationQuery::delta(issuer.ca, change.seq - 1, change.seq)
                                .with_limit(self.config.batch);
                        loop {
                            let page = self.store.revocations(&query).await?;
                            serials.extend(page.iter().map(|r| r.serial.clone()));
                            if !query.advance(&page) {
                                break;
                            }
                        }
                    }
                    (None, _) => {}
                }
            }
            for (ca, mut serials) in by_ca {
                let Some(issuer) = issuers.iter().find(|i| i.ca == ca).cloned() else {
                    continue;
                };
                serials.sort();
                serials.dedup();
                // Only rows the audit log vouches for.
                let mut vouched = Vec::with_capacity(serials.len());
                for serial in serials {
                    let report = self.store.verify_serial_state(ca, &serial).await?;
                    if report.is_intact() {
                        vouched.push(serial);
                    } else {
                        for finding in &report.findings {
                            tracing::error!(issuer = %issuer.name, %finding, "not signing a status the audit log does not vouch for");
                        }
                        self.stats.unvouched.fetch_add(1, Ordering::Relaxed);
                    }
                }
                for chunk in vouched.chunks(self.config.batch as usize) {
                    for hash in self.settings.presign_hashes.clone() {
                        let (ok, failed) = self.sign_batch(&issuer, hash, chunk).await?;
                        round.changed += ok;
                        round.failed += failed;
                        self.stats.signed_changed.fetch_add(ok, Ordering::Relaxed);
                    }
                }
            }
            self.stats.change_seq.store(last, Ordering::Relaxed);
            if changes.len() < self.config.batch as usize {
                return Ok(());
            }
        }
    }

    /// Signs every serial of `issuer` without a `hash` response; true when
    /// the walk got to the end.
    async fn missing(
        &self,
        issuer: &Arc<Issuer>,
        hash: HashAlgorithm,
        round: &mut Round,
    ) -> Result<bool, ResponderError> {
        let walked = self
            .walk(
                issuer,
                hash,
                Walk::Missing(MissingCursor::start()),
                &self.stats.signed_missing,
            )
            .await?;
        round.missing += walked.written;
        round.failed += walked.failed;
        // A failing HSM stops the walk: again next round.
        Ok(walked.failed == 0)
    }

    async fn due(
        &self,
        issuer: &Arc<Issuer>,
        hash: HashAlgorithm,
        round: &mut Round,
    ) -> Result<(), ResponderError> {
        let before = OffsetDateTime::from(
            SystemTime::now()
                .checked_sub(self.settings.refresh_after)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let walked = self
            .walk(
                issuer,
                hash,
                Walk::Due {
                    before,
                    after: None,
                },
                &self.stats.signed_due,
            )
            .await?;
        round.due += walked.written;
        round.failed += walked.failed;
        Ok(())
    }

    /// Signs every page of `start`, three batches at a time: while one is
    /// signed on `presign_threads` threads, the next page and its statuses
    /// are read and the batch before is written. The HSM then waits for
    /// the database only when the database is slower than the HSM (on one
    /// machine, where both share the cores, they still compete for them).
    /// Stops after the first batch with a failed signature; what was
    /// signed is written whatever happens.
    async fn walk(
        &self,
        issuer: &Arc<Issuer>,
        hash: HashAlgorithm,
        start: Walk,
        counter: &AtomicU64,
    ) -> Result<Walked, ResponderError> {
        let read = |walk: Walk| {
            tokio::spawn(prepare(
                self.store.clone(),
                issuer.ca,
                stored_hash(hash),
                walk,
                self.config.batch,
            ))
        };
        let mut reading = Some(read(start));
        let mut writing: Option<tokio::task::JoinHandle<Result<u64, store::StoreError>>> = None;
        let mut walked = Walked::default();
        let result: Result<(), ResponderError> = async {
            while let Some(page) = reading.take() {
                let (batch, next) = page.await.map_err(|e| background(&e))??;
                reading = next.map(read);
                let Some(batch) = batch else {
                    continue;
                };
                let signed = self.sign_jobs(issuer, hash, batch).await?;
                let failed = signed.failed;
                walked.failed += failed;
                if let Some(previous) = writing.take() {
                    let n = previous.await.map_err(|e| background(&e))??;
                    counter.fetch_add(n, Ordering::Relaxed);
                    walked.written += n;
                }
                let store = self.store.clone();
                let rows = signed.rows;
                writing = Some(tokio::spawn(async move {
                    store.put_ocsp_responses(&rows).await
                }));
                if failed > 0 {
                    break;
                }
            }
            Ok(())
        }
        .await;
        if let Some(page) = reading {
            page.abort();
        }
        if let Some(last) = writing {
            let n = last.await.map_err(|e| background(&e))??;
            counter.fetch_add(n, Ordering::Relaxed);
            walked.written += n;
        }
        result.map(|()| walked)
    }

    /// Reads the statuses of `serials`, signs one response each on
    /// `presign_threads` threads, writes them in one transaction. Returns
    /// (written, failed).
    async fn sign_batch(
        &self,
        issuer: &Arc<Issuer>,
        hash: HashAlgorithm,
        serials: &[Serial],
    ) -> Result<(u64, u64), ResponderError> {
        let batch = read_statuses(&self.store, issuer.ca, serials.to_vec()).await?;
        let signed = self.sign_jobs(issuer, hash, batch).await?;
        let written = self.store.put_ocsp_responses(&signed.rows).await?;
        Ok((written, signed.failed))
    }

    /// Signs `batch` on `presign_threads` threads; failures are counted
    /// and the first is logged.
    async fn sign_jobs(
        &self,
        issuer: &Arc<Issuer>,
        hash: HashAlgorithm,
        batch: Batch,
    ) -> Result<Signed, ResponderError> {
        let threads = self.settings.presign_threads.max(1);
        let issuer_job = Arc::clone(issuer);
        let settings = self.settings.clone();
        let signed = tokio::task::spawn_blocking(move || {
            sign_all(
                &issuer_job,
                hash,
                &batch.jobs,
                batch.seq,
                &settings,
                threads,
            )
        })
        .await
        .map_err(|e| background(&e))?;
        let failed = signed.iter().filter(|r| r.is_err()).count() as u64;
        if let Some(Err(e)) = signed.iter().find(|r| r.is_err()) {
            tracing::warn!(issuer = %issuer.name, error = %e, failed, "signing responses failed");
            self.stats_failed(failed);
        }
        Ok(Signed {
            rows: signed.into_iter().filter_map(Result::ok).collect(),
            failed,
        })
    }

    fn stats_failed(&self, n: u64) {
        self.stats.sign_failures.fetch_add(n, Ordering::Relaxed);
    }

    /// Rounds until shutdown: sign while holding the lease, stand by
    /// otherwise. Database errors are logged and retried after `idle`.
    pub async fn run(mut self, mut stop: service_kit::Stop) {
        // The audit entries behind changed serials stay checked, off the
        // signing path.
        let memo = tokio::spawn(crate::core::refresh_audit_memo(self.store.clone()));
        let mut listener = match self.store.listen_changes().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for changes; polling only");
                None
            }
        };
        loop {
            let mut busy = false;
            match self.hold_lease().await {
                Ok(true) => match self.round().await {
                    Ok(round) => {
                        busy = round.total() > 0;
                        if busy {
                            tracing::info!(
                                changed = round.changed,
                                missing = round.missing,
                                due = round.due,
                                failed = round.failed,
                                "OCSP responses signed"
                            );
                        }
                        if round.failed > 0 {
                            busy = false;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "updater round failed; retrying"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot reach the lease; retrying"),
            }
            if busy {
                if stop.is_stopping() {
                    break;
                }
                continue;
            }
            tokio::select! {
                () = stop.stopped() => break,
                () = tokio::time::sleep(self.config.idle) => {}
                () = next_notification(&mut listener) => {}
            }
        }
        memo.abort();
        self.release().await;
        tracing::info!("OCSP updater stopped");
    }
}

/// Where a walk over an issuer's serials reads its next page.
#[derive(Debug, Clone)]
enum Walk {
    /// Serials without a response.
    Missing(MissingCursor),
    /// Responses produced before `before`, oldest first.
    Due {
        before: OffsetDateTime,
        after: Option<DueCursor>,
    },
}

/// Serials to sign, with their statuses and the change sequence number
/// read before them.
#[derive(Debug)]
struct Batch {
    jobs: Vec<(Serial, Option<Known>)>,
    seq: u64,
}

/// A batch signed: the rows to write and how many signatures failed.
#[derive(Debug)]
struct Signed {
    rows: Vec<StoredResponse>,
    failed: u64,
}

/// What a walk did.
#[derive(Debug, Default, Clone, Copy)]
struct Walked {
    written: u64,
    failed: u64,
}

fn background(e: &tokio::task::JoinError) -> ResponderError {
    ResponderError::Background(e.to_string())
}

/// Reads the page `walk` names and its statuses: the batch (None if the
/// page is empty) and where the walk goes on.
async fn prepare(
    store: Store,
    ca: CaId,
    hash: CertIdHash,
    walk: Walk,
    limit: u32,
) -> Result<(Option<Batch>, Option<Walk>), ResponderError> {
    let (serials, next) = match walk {
        Walk::Missing(from) => {
            let (serials, next) = store
                .serials_without_response(ca, hash, from, limit)
                .await?;
            (serials, next.map(Walk::Missing))
        }
        Walk::Due { before, after } => {
            let (serials, next) = store
                .responses_due(ca, hash, before, after.as_ref(), limit)
                .await?;
            (
                serials,
                next.map(|c| Walk::Due {
                    before,
                    after: Some(c),
                }),
            )
        }
    };
    if serials.is_empty() {
        return Ok((None, next));
    }
    Ok((Some(read_statuses(&store, ca, serials).await?), next))
}

/// The statuses of `serials`, read after the change sequence number they
/// are stored with: a response never carries a newer sequence number than
/// its status.
async fn read_statuses(
    store: &Store,
    ca: CaId,
    serials: Vec<Serial>,
) -> Result<Batch, ResponderError> {
    let seq = store.latest_change().await?;
    let statuses = store.statuses_of(ca, &serials).await?;
    Ok(Batch {
        jobs: serials
            .into_iter()
            .zip(statuses.iter().map(Known::from_store))
            .collect(),
        seq,
    })
}

async fn next_notification(listener: &mut Option<store::ChangeListener>) {
    match listener {
        Some(l) => {
            if l.recv().await.is_err() {
                // Interrupted: the idle timer polls meanwhile.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Why one response was not signed.
#[derive(Debug, thiserror::Error)]
pub enum SignFailure {
    #[error("serial does not fit a CertID: {0}")]
    CertId(#[source] pki_core::ocsp::CertIdError),
    #[error(transparent)]
    Response(pki_core::ocsp::ResponseError),
}

/// Signs one response per job on `threads` threads, in job order.
fn sign_all(
    issuer: &Issuer,
    hash: HashAlgorithm,
    jobs: &[(Serial, Option<Known>)],
    seq: u64,
    settings: &Settings,
    threads: usize,
) -> Vec<Result<StoredResponse, SignFailure>> {
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(serial, known)| {
                            sign_one(issuer, hash, serial, *known, seq, settings)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(SignFailure::Response(ResponseError::Signing(
                        pki_core::SignError::Failed("signer thread panicked".into()),
                    )))]
                })
            })
            .collect()
    })
}

/// Signs the response for one serial from its status.
pub fn sign_one(
    issuer: &Issuer,
    hash: HashAlgorithm,
    serial: &Serial,
    known: Option<Known>,
    seq: u64,
    settings: &Settings,
) -> Result<StoredResponse, SignFailure> {
    let (status, extended_revoke) = match known {
        Some(k) => (k.cert_status(), false),
        None => settings.unissued.status(),
    };
    let cert_id = issuer
        .hashes
        .cert_id(hash, serial.as_bytes())
        .map_err(SignFailure::CertId)?;
    let entries = [(cert_id, status)];
    let ready = issuer
        .sign(&Signing {
            entries: &entries,
            nonce: None,
            extended_revoke,
            validity: settings.validity,
            cacheable: true,
        })
        .map_err(SignFailure::Response)?;
    Ok(StoredResponse {
        ca: issuer.ca,
        hash: stored_hash(hash),
        serial: serial.clone(),
        status: match (known, status) {
            (Some(Known::Good), _) => ResponseStatus::Good,
            (_, CertStatus::Revoked { .. }) => ResponseStatus::Revoked,
            _ => ResponseStatus::Unknown,
        },
        status_seq: seq,
        this_update: OffsetDateTime::from(ready.this_update()),
        next_update: OffsetDateTime::from(ready.next_update()),
        der: ready.der().to_vec(),
    })
}
