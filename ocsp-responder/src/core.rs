//! The state a running responder keeps up to date, and the work behind it:
//! loading statuses from the store, pre-signing, following the change feed,
//! re-signing before expiry, probing a failed HSM.
//!
//! The parts are shared by handle, each with the layers that use it
//! (Boulder's responder: every `Source` holds its own dependencies):
//!
//! - [`Health`]: readiness inputs; the live signer and the database calls
//!   report to it, `/health/ready` reads it.
//! - [`Db`]: the store behind a timeout, reporting to [`Health`]. Only the
//!   change feed ([`Core`]), the table reader ([`crate::table::Table`]) and
//!   the status lookup of live signing ([`StatusLookup`]) hold one.
//! - [`Memory`]: memory mode's statuses and pre-signed responses.
//! - [`Core`]: the background side (change feed, pre-signing, re-signing,
//!   HSM probe, replica check, reloads). No `Source` layer and no part of
//!   the HTTP transport holds it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pki_core::ocsp::HashAlgorithm;
use pki_core::SignError;
use store::audit::Table;
use store::{ChangeKind, RevocationQuery, Serial, StateReport, Store};

use crate::cache::ResponseCache;
use crate::config::{ResponseSource, Settings};
use crate::error::ResponderError;
use crate::issuer::{Issuer, Issuers, Ready, Signing};
use crate::metrics::{CertificateExpiry, GaugeSource, Gauges, Metrics};
use crate::status::{Known, StatusTable};
use crate::table::TableCache;

/// Serials read from the store per page.
const PAGE: u32 = 10_000;
/// Changes read per poll.
const CHANGES_PAGE: u32 = 1_000;

/// Readiness inputs (`/health/ready`).
#[derive(Debug)]
pub struct Health {
    /// An HSM is configured: readiness waits for it.
    signing: bool,
    cache_loaded: AtomicBool,
    hsm_ok: AtomicBool,
    db_ok: AtomicBool,
    /// The read replica is within `max_replica_lag` (true without one).
    replica_ok: AtomicBool,
}

impl Health {
    /// Nothing loaded, HSM and database not seen yet; `signing`: an HSM is
    /// configured and readiness waits for it.
    pub fn new(signing: bool) -> Self {
        Self {
            signing,
            cache_loaded: AtomicBool::new(false),
            hsm_ok: AtomicBool::new(false),
            db_ok: AtomicBool::new(false),
            replica_ok: AtomicBool::new(true),
        }
    }

    pub fn ready(&self) -> bool {
        self.cache_loaded.load(Ordering::Acquire)
            && (!self.signing || self.hsm_ok.load(Ordering::Relaxed))
            && self.db_ok.load(Ordering::Relaxed)
            && self.replica_ok.load(Ordering::Relaxed)
    }

    /// Why the responder is not ready (empty when it is).
    pub fn not_ready(&self) -> Vec<&'static str> {
        let mut why = Vec::new();
        if !self.cache_loaded.load(Ordering::Relaxed) {
            why.push("cache loading");
        }
        if self.signing && !self.hsm_ok.load(Ordering::Relaxed) {
            why.push("HSM unavailable");
        }
        if !self.db_ok.load(Ordering::Relaxed) {
            why.push("database unavailable");
        }
        if !self.replica_ok.load(Ordering::Relaxed) {
            why.push("read replica lags behind");
        }
        why
    }

    /// The last signature or probe worked.
    pub fn hsm_ok(&self) -> bool {
        self.hsm_ok.load(Ordering::Relaxed)
    }

    /// The last database call worked.
    pub fn db_ok(&self) -> bool {
        self.db_ok.load(Ordering::Relaxed)
    }

    /// What readiness waited for is in memory.
    pub(crate) fn set_loaded(&self) {
        self.cache_loaded.store(true, Ordering::Release);
    }

    /// Records the outcome of a signature for health and metrics.
    pub(crate) fn note_sign<T>(
        &self,
        metrics: &Metrics,
        result: &Result<T, pki_core::ocsp::ResponseError>,
    ) {
        if !self.signing {
            return;
        }
        match result {
            Ok(_) => self.hsm_ok.store(true, Ordering::Relaxed),
            Err(pki_core::ocsp::ResponseError::Signing(_)) => {
                self.hsm_ok.store(false, Ordering::Relaxed);
                metrics.hsm_errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }

    /// A signature did not come back in time: counted, and not ready until
    /// one succeeds again.
    pub(crate) fn hsm_hangs(&self, metrics: &Metrics) {
        metrics.hsm_errors.fetch_add(1, Ordering::Relaxed);
        self.hsm_ok.store(false, Ordering::Relaxed);
    }
}

/// The store behind the configured timeout; every call reports to
/// [`Health`] and counts its failures.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    store: Store,
    timeout: Duration,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl Db {
    pub(crate) fn new(
        store: Store,
        timeout: Duration,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            timeout,
            health,
            metrics,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// As [`Db::call`], but the call runs in a task of its own that the
    /// timeout does not cancel: for checks whose work is kept when they
    /// complete (the audit memo), which a request's timeout would
    /// otherwise cut short again on every request.
    pub(crate) async fn call_detached<T: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = Result<T, store::StoreError>> + Send + 'static,
    ) -> Result<T, ResponderError> {
        let task = tokio::spawn(call);
        self.call(async move {
            task.await
                .unwrap_or_else(|e| Err(store::StoreError::Task(e.to_string())))
        })
        .await
    }

    /// Runs a database call with the configured timeout, tracking health.
    pub(crate) async fn call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, store::StoreError>>,
    ) -> Result<T, ResponderError> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ResponderError::Store(e)),
            Err(_) => Err(ResponderError::StoreTimeout(self.timeout)),
        };
        self.health.db_ok.store(result.is_ok(), Ordering::Relaxed);
        if result.is_err() {
            self.metrics.db_errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// Memory mode: every status, and the pre-signed responses (empty in
/// table mode).
#[derive(Debug)]
pub struct Memory {
    statuses: StatusTable,
    cache: ResponseCache,
    /// Held while a status changes and while a response is checked against
    /// its status version and cached, so a response signed from an old
    /// status can never replace the one signed after a change.
    publish: std::sync::Mutex<()>,
}

impl Memory {
    /// Room for `capacity` pre-signed responses.
    pub fn new(capacity: usize) -> Self {
        Self {
            statuses: StatusTable::default(),
            cache: ResponseCache::new(capacity),
            publish: std::sync::Mutex::new(()),
        }
    }

    fn publish_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.publish
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The status held for `serial` of the issuer at index `issuer`.
    pub fn known(&self, issuer: u32, serial: &[u8]) -> Option<Known> {
        self.statuses.get(issuer, serial)
    }

    /// The status held and its version.
    pub fn versioned(&self, issuer: u32, serial: &[u8]) -> (Option<Known>, u64) {
        self.statuses.versioned(issuer, serial)
    }

    /// The pre-signed response held for (issuer, hash, serial).
    pub fn cached(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Option<Ready> {
        self.cache.get(issuer, hash, serial)
    }

    /// Caches `ready` for (issuer, hash, serial) if the serial's status is
    /// still at `version` (the one `ready` was signed from).
    pub fn publish_if_current(
        &self,
        issuer: u32,
        hash: HashAlgorithm,
        serial: &[u8],
        version: u64,
        ready: Ready,
    ) -> PublishOutcome {
        let _publishing = self.publish_lock();
        if self.statuses.versioned(issuer, serial).1 != version {
            return PublishOutcome::Superseded;
        }
        if self.cache.put(issuer, hash, serial, ready) {
            PublishOutcome::Cached
        } else {
            PublishOutcome::Full
        }
    }

    /// Drops the pre-signed responses of the issuer at index `issuer`.
    pub(crate) fn clear_issuer(&self, issuer: u32) {
        self.cache.clear_issuer(issuer);
    }

    /// Changes a status (under the publish lock).
    fn set_status(&self, issuer: u32, serial: &[u8], known: Option<Known>, version: u64) {
        let _publishing = self.publish_lock();
        self.statuses.set(issuer, serial, known, version);
    }
}

/// Table mode: the store did not answer (an error, or the configured
/// timeout), so the status is not known either way. Never answered as
/// "not issued": that would sign `unknown` (or `revoked`, under the
/// extended-revoke policy) for a certificate that may be good, and table
/// mode keeps unissued answers a minute, in front of the table. Live
/// signing answers tryLater instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUnavailable;

/// Where live signing finds the status to sign: memory mode's status table
/// (the store asked only about serials it does not know), or the store
/// (table mode).
#[derive(Debug, Clone)]
pub(crate) struct StatusLookup {
    db: Db,
    /// `None` in table mode.
    memory: Option<Arc<Memory>>,
    /// Table mode: statuses read lately, so that requests with a nonce
    /// for one serial do not each read and verify it again.
    table: Option<Arc<TableCache>>,
}

impl StatusLookup {
    /// The status to answer for `serial` of `issuer` and its version, from
    /// the table; the store is asked only about serials the table does not
    /// know (newly issued), and only while it answers.
    pub(crate) async fn status_for(
        &self,
        issuer: &Issuer,
        serial: &[u8],
    ) -> Result<(Option<Known>, u64), StoreUnavailable> {
        let Some(memory) = &self.memory else {
            return self.status_from_store(issuer, serial).await;
        };
        let (known, version) = memory.statuses.versioned(issuer.index, serial);
        if known.is_some() || version != 0 {
            return Ok((known, version));
        }
        let Ok(parsed) = Serial::from_der_content(serial) else {
            return Ok((None, 0));
        };
        // Memory mode holds every status as of the last change applied: a
        // serial it does not hold is answered as not issued while the
        // store is away (tests/faults.rs), as it was before the store was
        // asked at all.
        if !self.db.health.db_ok() {
            return Ok((None, 0));
        }
        let db = &self.db;
        let Ok(status) = db.call(db.store.status(issuer.ca, &parsed)).await else {
            return Ok((None, 0));
        };
        let Some(known) = Known::from_store(&status) else {
            return Ok((None, 0));
        };
        // Rows the audit log does not vouch for are answered like an
        // unissued serial, never from the rows.
        match db.call_detached(verify(db, issuer, parsed)).await {
            Ok(report) if report.is_intact() => {}
            Ok(report) => {
                refuse(&db.metrics, issuer, &report);
                return Ok((None, 0));
            }
            Err(_) => return Ok((None, 0)),
        }
        {
            let _publishing = memory.publish_lock();
            memory
                .statuses
                .set_if_absent(issuer.index, serial, known, 0);
        }
        Ok(memory.statuses.versioned(issuer.index, serial))
    }

    /// Table mode: the status of `serial` from the store and the change
    /// sequence number read before it (its version); `(None, 0)` when it
    /// is not issued or when the audit log does not vouch for its rows;
    /// [`StoreUnavailable`] when the store does not answer. Nothing is kept
    /// in memory.
    async fn status_from_store(
        &self,
        issuer: &Issuer,
        serial: &[u8],
    ) -> Result<(Option<Known>, u64), StoreUnavailable> {
        if let Some(kept) = self
            .table
            .as_ref()
            .and_then(|t| t.status(issuer.index, serial))
        {
            return Ok((Some(kept.0), kept.1));
        }
        let Ok(parsed) = Serial::from_der_content(serial) else {
            return Ok((None, 0));
        };
        let db = &self.db;
        db.metrics.live_status_reads.fetch_add(1, Ordering::Relaxed);
        let version = db
            .call(db.store.latest_change())
            .await
            .map_err(|_| StoreUnavailable)?;
        let status = db
            .call(db.store.status(issuer.ca, &parsed))
            .await
            .map_err(|_| StoreUnavailable)?;
        let Some(known) = Known::from_store(&status) else {
            return Ok((None, version));
        };
        match db.call_detached(verify(db, issuer, parsed)).await {
            Ok(report) if report.is_intact() => {
                if let Some(table) = &self.table {
                    table.keep_status(issuer.index, serial, known, version);
                }
                Ok((Some(known), version))
            }
            Ok(report) => {
                refuse(&db.metrics, issuer, &report);
                Ok((None, 0))
            }
            Err(_) => Err(StoreUnavailable),
        }
    }
}

/// The audit check of one serial's rows, as a task of its own.
fn verify(
    db: &Db,
    issuer: &Issuer,
    serial: Serial,
) -> impl std::future::Future<Output = Result<StateReport, store::StoreError>> + Send + 'static {
    let (store, ca) = (db.store.clone(), issuer.ca);
    async move { store.verify_serial_state(ca, &serial).await }
}

/// Logs and counts the rows of `report` whose statuses are not published.
fn refuse(metrics: &Metrics, issuer: &Issuer, report: &StateReport) {
    for finding in &report.findings {
        tracing::error!(
            issuer = %issuer.name,
            %finding,
            "not publishing a status the audit log does not vouch for"
        );
    }
    let count = report.findings.len() as u64 + report.more;
    metrics.unvouched.fetch_add(count, Ordering::Relaxed);
}

/// The background side of a responder: follows the store's change feed
/// into [`Memory`] or the [`TableCache`], pre-signs and re-signs, probes a
/// failed HSM, checks the read replica, swaps issuers on reload.
#[derive(Debug)]
pub struct Core {
    /// Swapped whole on reload ([`Core::issuers`] for the list now).
    issuer_list: Arc<Issuers>,
    memory: Arc<Memory>,
    /// Table mode (`[responses] source = "table"`): responses come from the
    /// store's response table through this cache; `memory` stays empty.
    table: Option<Arc<TableCache>>,
    db: Db,
    lookup: StatusLookup,
    settings: Settings,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    /// Last store change applied.
    change_seq: AtomicU64,
    /// Pre-signing met HSM failures: run it again once the HSM is back.
    presign_pending: AtomicBool,
    /// A probe signature is running (see [`Core::probe_hsm`]).
    probing: AtomicBool,
    /// Background re-signing or pre-signing is running (one at a time, so
    /// a hung HSM holds one such job at most).
    bulk_signing: AtomicBool,
}

impl Core {
    pub fn new(store: Store, issuers: Vec<Arc<Issuer>>, settings: Settings) -> Self {
        let table_mode = settings.source == ResponseSource::Table;
        let metrics = Arc::new(Metrics::default());
        let health = Arc::new(Health::new(settings.signing));
        let db = Db::new(
            store,
            settings.db_timeout,
            Arc::clone(&health),
            Arc::clone(&metrics),
        );
        let memory = Arc::new(Memory::new(if table_mode {
            0
        } else {
            settings.cache_capacity
        }));
        let table = table_mode.then(|| {
            Arc::new(TableCache::new(
                settings.cache_capacity,
                settings.refresh_after,
            ))
        });
        let lookup = StatusLookup {
            db: db.clone(),
            memory: (!table_mode).then(|| Arc::clone(&memory)),
            table: table.clone(),
        };
        Self {
            issuer_list: Arc::new(Issuers::new(issuers)),
            memory,
            table,
            db,
            lookup,
            settings,
            metrics,
            health,
            change_seq: AtomicU64::new(0),
            presign_pending: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            bulk_signing: AtomicBool::new(false),
        }
    }

    /// The issuer list (swapped whole on reload), for the issuer filter
    /// and an in-process updater.
    pub fn issuer_list(&self) -> &Arc<Issuers> {
        &self.issuer_list
    }

    /// Memory mode's statuses and pre-signed responses (empty in table
    /// mode).
    pub fn memory(&self) -> &Arc<Memory> {
        &self.memory
    }

    /// Table mode's memory cache.
    pub fn table(&self) -> Option<&Arc<TableCache>> {
        self.table.as_ref()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store, for the table reader and reloads.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Where live signing finds statuses.
    pub(crate) fn lookup(&self) -> &StatusLookup {
        &self.lookup
    }

    /// The status live signing would answer for `serial` of `issuer`, and
    /// its version ([`StatusLookup`]), or [`StoreUnavailable`].
    pub async fn status_for(
        &self,
        issuer: &Issuer,
        serial: &[u8],
    ) -> Result<(Option<Known>, u64), StoreUnavailable> {
        self.lookup.status_for(issuer, serial).await
    }

    /// Table mode: follows the feed from the store's last change (the
    /// table read checks each row against the serial's revocation,
    /// whatever happened before).
    pub(crate) async fn follow_from_now(&self) -> Result<(), ResponderError> {
        let seq = self.db.call(self.db.store.latest_change()).await?;
        self.change_seq.store(seq, Ordering::Relaxed);
        Ok(())
    }

    /// Measures the read replica's lag and updates readiness.
    pub async fn check_replica(&self) {
        if self.db.store.backend() != store::Backend::Postgres {
            // SQLite has no replicas (and asking it nothing would count as
            // a working database).
            return;
        }
        if let Ok(lag) = self.db.call(self.db.store.replica_lag()).await {
            {
                let lag = lag.unwrap_or_default();
                self.metrics.replica_lag_ms.store(
                    u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                let ok = lag <= self.settings.max_replica_lag;
                if !ok && self.health.replica_ok.load(Ordering::Relaxed) {
                    tracing::warn!(
                        lag_secs = lag.as_secs_f64(),
                        bound_secs = self.settings.max_replica_lag.as_secs_f64(),
                        "read replica lags behind: not ready"
                    );
                }
                self.health.replica_ok.store(ok, Ordering::Relaxed);
            }
        }
    }

    /// Seconds to expiry of each issuer's CA and responder certificates.
    pub fn certificate_expiry(&self, now: pki_core::UnixTime) -> Vec<CertificateExpiry> {
        CertificateExpiry::of(&self.issuers(), now)
    }

    /// The issuers answered for now; a reload swaps the list, the caller
    /// keeps the one it took.
    pub fn issuers(&self) -> Arc<Vec<Arc<Issuer>>> {
        self.issuer_list.current()
    }

    fn issuer_of_ca(&self, ca: store::CaId) -> Option<Arc<Issuer>> {
        self.issuers().iter().find(|i| i.ca == ca).cloned()
    }

    /// The issuer at `index` (statuses and caches are keyed by index).
    fn issuer_at(issuers: &[Arc<Issuer>], index: u32) -> Option<&Arc<Issuer>> {
        issuers.iter().find(|i| i.index == index)
    }

    fn set_status(&self, issuer: u32, serial: &[u8], known: Option<Known>, version: u64) {
        self.memory.set_status(issuer, serial, known, version);
    }

    fn refuse(&self, issuer: &Issuer, report: &StateReport) {
        refuse(&self.metrics, issuer, report);
    }

    /// Signs the response for one (issuer, hash, serial) from the table and
    /// puts it in the cache; blocking.
    fn sign_cached(&self, issuer: &Issuer, hash: HashAlgorithm, serial: &[u8]) -> SignOutcome {
        let (known, version) = self.memory.statuses.versioned(issuer.index, serial);
        let (status, extended_revoke) = match known {
            Some(k) => (k.cert_status(), false),
            None => self.settings.unissued.status(),
        };
        let Ok(cert_id) = issuer.hashes.cert_id(hash, serial) else {
            return SignOutcome::Skipped;
        };
        let entries = [(cert_id, status)];
        let result = issuer.sign(&Signing {
            entries: &entries,
            nonce: None,
            extended_revoke,
            validity: self.settings.validity,
            cacheable: true,
        });
        self.health.note_sign(&self.metrics, &result);
        match result {
            Ok(ready) => {
                match self
                    .memory
                    .publish_if_current(issuer.index, hash, serial, version, ready)
                {
                    PublishOutcome::Cached => SignOutcome::Cached,
                    PublishOutcome::Full => SignOutcome::Full,
                    PublishOutcome::Superseded => SignOutcome::Skipped,
                }
            }
            Err(e) => SignOutcome::Failed(e),
        }
    }

    /// Loads every issued and revoked serial of every issuer from the store
    /// into the status table. Returns the change sequence the load is
    /// consistent with (changes after it are applied by the feed).
    ///
    /// First each issuer's rows are replayed against the audit log
    /// ([`Store::verify_ca_state`], one pass over the rows this load reads
    /// anyway): a row the log does not vouch for stops the load, named, so
    /// neither the responder nor `pki presign` publishes from it.
    pub async fn load_statuses(&self) -> Result<u64, ResponderError> {
        let issuers = self.issuers();
        for issuer in issuers.iter() {
            // Not under `db_timeout`: it reads every row of the CA.
            let report = self.db.store.verify_ca_state(issuer.ca).await?;
            if !report.is_intact() {
                self.metrics.unvouched.fetch_add(1, Ordering::Relaxed);
            }
            report.require_intact(format!("CA {:?}", issuer.name))?;
        }
        let seq = self.db.call(self.db.store.latest_change()).await?;
        for issuer in issuers.iter() {
            let mut after: Option<Serial> = None;
            loop {
                let page = self
                    .db
                    .call(
                        self.db
                            .store
                            .issued_serials(issuer.ca, after.as_ref(), PAGE),
                    )
                    .await?;
                for s in &page {
                    self.set_status(issuer.index, s.as_bytes(), Some(Known::Good), seq);
                }
                if page.len() < PAGE as usize {
                    break;
                }
                after = page.last().cloned();
            }
            let mut query = RevocationQuery::full(issuer.ca, seq).with_limit(PAGE);
            loop {
                let page = self.db.call(self.db.store.revocations(&query)).await?;
                for r in &page {
                    let known = Known::Revoked {
                        revoked_at: SystemTime::from(r.revoked_at),
                        reason: pki_core::revocation::RevocationReason::from_code(r.reason.code()),
                    };
                    self.set_status(issuer.index, r.serial.as_bytes(), Some(known), seq);
                }
                if !query.advance(&page) {
                    break;
                }
            }
            tracing::info!(
                issuer = %issuer.name,
                serials = self.memory.statuses.count_of(issuer.index),
                "statuses loaded"
            );
        }
        self.change_seq.store(seq, Ordering::Relaxed);
        Ok(seq)
    }

    /// Pre-signs a response for every known serial and every configured
    /// hash, on `presign_threads` blocking threads, with a progress log.
    pub async fn presign_all(self: &Arc<Self>) -> PresignReport {
        let entries = self.memory.statuses.entries();
        let hashes = self.settings.presign_hashes.clone();
        let total = entries.len() * hashes.len();
        let threads = self.settings.presign_threads.max(1);
        let start = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let chunk = entries.len().div_ceil(threads).max(1);
        let entries = Arc::new(entries);
        let mut tasks = Vec::new();
        for t in 0..threads {
            let core = Arc::clone(self);
            let entries = Arc::clone(&entries);
            let hashes = hashes.clone();
            let done = Arc::clone(&done);
            let failed = Arc::clone(&failed);
            tasks.push(tokio::task::spawn_blocking(move || {
                let from = (t * chunk).min(entries.len());
                let to = ((t + 1) * chunk).min(entries.len());
                let issuers = core.issuers();
                for (idx, serial, _) in &entries[from..to] {
                    let Some(issuer) = Self::issuer_at(&issuers, *idx) else {
                        continue;
                    };
                    for hash in &hashes {
                        match core.sign_cached(issuer, *hash, serial) {
                            SignOutcome::Cached => {
                                core.metrics.presigned.fetch_add(1, Ordering::Relaxed);
                            }
                            SignOutcome::Full | SignOutcome::Skipped => {}
                            SignOutcome::Failed(e) => {
                                if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                                    tracing::warn!(error = %e, "pre-signing failed");
                                }
                            }
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if total >= 10 && n % (total as u64 / 10).max(1) == 0 {
                            tracing::info!(done = n, total, "pre-signing");
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let report = PresignReport {
            total,
            failed: failed.load(Ordering::Relaxed) as usize,
            elapsed: start.elapsed(),
        };
        tracing::info!(
            total,
            failed = report.failed,
            cached = self.memory.cache.len(),
            secs = report.elapsed.as_secs_f64(),
            "pre-signing done"
        );
        self.presign_pending
            .store(report.failed > 0, Ordering::Relaxed);
        report
    }

    /// Applies changes after the last applied sequence number; returns how
    /// many.
    pub async fn apply_changes(self: &Arc<Self>) -> Result<usize, ResponderError> {
        let mut applied = 0;
        loop {
            let after = self.change_seq.load(Ordering::Relaxed);
            let changes = self
                .db
                .call(self.db.store.changes_since(after, CHANGES_PAGE))
                .await?;
            for change in &changes {
                self.apply_change(change).await?;
                self.change_seq.store(change.seq, Ordering::Relaxed);
                self.metrics.changes_applied.fetch_add(1, Ordering::Relaxed);
                applied += 1;
            }
            if changes.len() < CHANGES_PAGE as usize {
                return Ok(applied);
            }
        }
    }

    async fn apply_change(self: &Arc<Self>, change: &store::Change) -> Result<(), ResponderError> {
        let Some(issuer) = self.issuer_of_ca(change.ca) else {
            return Ok(());
        };
        let table_mode = self.table.is_some();
        let serials: Vec<Serial> = match (&change.serial, change.kind) {
            (Some(s), _) => vec![s.clone()],
            (None, ChangeKind::Imported) => {
                // A bulk import: re-read this CA's revocations (those of
                // this import only, in table mode).
                let mut out = Vec::new();
                let mut query = if table_mode {
                    RevocationQuery::delta(issuer.ca, change.seq - 1, change.seq)
                } else {
                    RevocationQuery::full(issuer.ca, change.seq)
                }
                .with_limit(PAGE);
                loop {
                    let page = self.db.call(self.db.store.revocations(&query)).await?;
                    out.extend(page.iter().map(|r| r.serial.clone()));
                    if !query.advance(&page) {
                        break;
                    }
                }
                out
            }
            (None, _) => Vec::new(),
        };
        if let Some(table) = &self.table {
            // Forget what this responder holds; the table read joins the
            // revocation row, and the updater signs the new status.
            for serial in serials {
                table
                    .changed(issuer.index, serial.as_bytes(), change.seq)
                    .await;
            }
            return Ok(());
        }
        // The rows behind the new statuses must be as the audit log wrote
        // them: the serial's own rows, or the whole CA after an import.
        let report = match (&change.serial, change.kind) {
            (Some(s), _) => {
                self.db
                    .call(self.db.store.verify_serial_state(issuer.ca, s))
                    .await?
            }
            (None, ChangeKind::Imported) => self.db.store.verify_ca_state(issuer.ca).await?,
            (None, _) => StateReport::default(),
        };
        self.refuse(&issuer, &report);
        for serial in serials {
            if report.more > 0
                || report.names(Table::Revocations, serial.as_bytes())
                || report.names(Table::Certificates, serial.as_bytes())
            {
                // Answered like an unissued serial (never `good`) until the
                // rows are put right and change again.
                self.set_status(issuer.index, serial.as_bytes(), None, change.seq);
                self.drop_stale(&issuer, serial.as_bytes());
                continue;
            }
            let status = self
                .db
                .call(self.db.store.status(issuer.ca, &serial))
                .await?;
            self.set_status(
                issuer.index,
                serial.as_bytes(),
                Known::from_store(&status),
                change.seq,
            );
            self.resign_now(&issuer, serial.as_bytes().into()).await;
        }
        Ok(())
    }

    /// Replaces the cached responses of one serial at once. The stale
    /// responses are dropped instead (live requests then answer, tryLater
    /// while the HSM is out, rather than the old status being served) when
    /// signing fails, when the HSM is already known to be out, and when the
    /// signature is not back within `live_sign_timeout`: a hung HSM must
    /// not hold up the change feed, nor leave a revoked certificate's
    /// "good" response in the cache. They are signed again once the HSM is
    /// back (pre-signing pending).
    async fn resign_now(self: &Arc<Self>, issuer: &Arc<Issuer>, serial: Box<[u8]>) {
        if !self.health.hsm_ok.load(Ordering::Relaxed) {
            self.drop_stale(issuer, &serial);
            return;
        }
        let core = Arc::clone(self);
        let job_issuer = Arc::clone(issuer);
        let job_serial = serial.clone();
        let job = tokio::task::spawn_blocking(move || {
            let (issuer, serial) = (job_issuer, job_serial);
            for hash in HashAlgorithm::ALL {
                let configured = core.settings.presign_hashes.contains(&hash);
                let present = core.memory.cache.get(issuer.index, hash, &serial).is_some();
                if !configured && !present {
                    continue;
                }
                match core.sign_cached(&issuer, hash, &serial) {
                    SignOutcome::Cached => {
                        core.metrics.presigned.fetch_add(1, Ordering::Relaxed);
                    }
                    SignOutcome::Failed(e) => {
                        tracing::warn!(error = %e, issuer = %issuer.name, "re-signing a changed status failed; dropped the stale response");
                        core.memory.cache.remove(issuer.index, hash, &serial);
                    }
                    SignOutcome::Full | SignOutcome::Skipped => {}
                }
            }
        });
        if tokio::time::timeout(self.settings.live_sign_timeout, job)
            .await
            .is_err()
        {
            tracing::warn!(
                after = ?self.settings.live_sign_timeout,
                issuer = %issuer.name,
                "re-signing a changed status is not back in time; the HSM may hang: dropped the stale responses"
            );
            self.health.hsm_hangs(&self.metrics);
            self.drop_stale(issuer, &serial);
        }
    }

    /// Drops every cached response of `serial` and asks for pre-signing
    /// once the HSM is back. (A signature still running may publish a
    /// response afterwards: it was signed from the current status.)
    fn drop_stale(&self, issuer: &Issuer, serial: &[u8]) {
        for hash in HashAlgorithm::ALL {
            self.memory.cache.remove(issuer.index, hash, serial);
        }
        self.presign_pending.store(true, Ordering::Relaxed);
    }

    /// Re-signs every cached response older than `refresh_after`.
    pub async fn refresh_due(self: &Arc<Self>) -> usize {
        let cutoff = SystemTime::now()
            .checked_sub(self.settings.refresh_after)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let (keys, oldest) = self.memory.cache.older_than(cutoff);
        self.metrics.set_oldest(oldest);
        if keys.is_empty() {
            return 0;
        }
        let total = keys.len();
        tracing::info!(total, "re-signing responses past half their validity");
        let core = Arc::clone(self);
        let done = tokio::task::spawn_blocking(move || {
            let mut done = 0;
            let issuers = core.issuers();
            for (n, (idx, hash, serial)) in keys.iter().enumerate() {
                let Some(issuer) = Self::issuer_at(&issuers, *idx) else {
                    continue;
                };
                match core.sign_cached(issuer, *hash, serial) {
                    SignOutcome::Cached => {
                        core.metrics.resigned.fetch_add(1, Ordering::Relaxed);
                        done += 1;
                    }
                    // The old response stays until its nextUpdate.
                    SignOutcome::Failed(e) => {
                        tracing::warn!(error = %e, done, total, "re-signing stopped");
                        break;
                    }
                    SignOutcome::Full | SignOutcome::Skipped => {}
                }
                if total >= 10 && (n + 1) % (total / 10).max(1) == 0 {
                    tracing::info!(done = n + 1, total, "re-signing");
                }
            }
            done
        })
        .await
        .unwrap_or(0);
        let (_, oldest) = self.memory.cache.older_than(SystemTime::UNIX_EPOCH);
        self.metrics.set_oldest(oldest);
        done
    }

    /// One probe signature (used while the HSM is marked down). Waits at
    /// most `live_sign_timeout`; while a probe hangs in the HSM no other
    /// is started, so a hung HSM holds at most one blocking thread here.
    pub async fn probe_hsm(self: &Arc<Self>) {
        let Some(issuer) = self.issuers().first().cloned() else {
            return;
        };
        if !self.settings.signing {
            return;
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let core = Arc::clone(self);
        let probe = tokio::task::spawn_blocking(move || {
            // Cleared however the probe ends, a panic in the signer
            // included: otherwise no probe would ever start again.
            let _done = ClearOnDrop(&core.probing);
            let ok = issuer.signer.sign(b"ocsp-responder HSM probe");
            core.health.hsm_ok.store(ok.is_ok(), Ordering::Relaxed);
            if let Err(SignError::Unavailable(_) | SignError::Failed(_)) = ok {
                core.metrics.hsm_errors.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _ = tokio::time::timeout(self.settings.live_sign_timeout, probe).await;
    }
}

impl GaugeSource for Core {
    fn gauges(&self) -> Gauges {
        Gauges {
            cache_entries: self.table.as_ref().map_or(self.memory.cache.len(), |t| {
                usize::try_from(t.len()).unwrap_or(usize::MAX)
            }),
            known_serials: self.memory.statuses.len(),
            change_seq: self.change_seq.load(Ordering::Relaxed),
            ready: self.health.ready(),
            hsm_up: self.health.hsm_ok(),
            db_up: self.health.db_ok(),
            certificates: self.certificate_expiry(pki_core::UnixTime::now()),
        }
    }
}

/// Runs a bulk signing job (re-signing, pre-signing) off the background
/// loop, unless one is running: the loop keeps applying changes and
/// probing while the HSM works, or hangs.
fn spawn_bulk<F, Fut>(core: &Arc<Core>, job: F)
where
    F: FnOnce(Arc<Core>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if core.bulk_signing.swap(true, Ordering::AcqRel) {
        return;
    }
    let running = job(Arc::clone(core));
    let core = Arc::clone(core);
    tokio::spawn(async move {
        let _done = ClearOnDrop(&core.bulk_signing);
        running.await;
    });
}

/// Sets its flag back to `false` when dropped (unwinding included).
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What [`Memory::publish_if_current`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    Cached,
    /// The cache is full (existing keys are still replaced).
    Full,
    /// The status changed while the response was being signed.
    Superseded,
}

enum SignOutcome {
    Cached,
    /// Signed but the cache is full.
    Full,
    /// Serial not encodable as a CertID, or its status changed meanwhile.
    Skipped,
    Failed(pki_core::ocsp::ResponseError),
}

/// Pre-signs every known response in the background (one bulk job, as
/// re-signing is), after the responder is ready.
pub fn spawn_presign(core: &Arc<Core>) {
    spawn_bulk(core, |c| async move {
        let report = c.presign_all().await;
        if report.total > 0 && report.failed == report.total {
            tracing::warn!("no response could be pre-signed: the HSM is unavailable; live requests get tryLater until it is back");
        }
    });
}

/// How pre-signing went.
#[derive(Debug, Clone, Copy, Default)]
pub struct PresignReport {
    pub total: usize,
    pub failed: usize,
    pub elapsed: Duration,
}

/// The background loops: change feed, re-signing, HSM probe. Ends when
/// shutdown begins.
/// How often the audit memo's remembered entries are looked at.
const MEMO_REFRESH: Duration = Duration::from_secs(60);

/// Keeps the store's audit memo warm ([`store::EntryMemo`]), off every
/// request's path. Once after start, it checks the entries that vouch for
/// each issuer's first certificate: among them the upgrade or bulk-load
/// baseline binding every row at once, which takes seconds to hash at a
/// million rows and a minute at ten million (a live request's database
/// timeout would cut that check short every time). Then, every minute, it
/// checks again each remembered entry past half its trust, so that none
/// lapses under a request.
pub async fn keep_audit_memo(core: Arc<Core>, mut shutdown: service_kit::Stop) {
    let store = core.db.store().clone();
    for issuer in core.issuers().iter() {
        let warm = async {
            let Some(serial) = store.issued_serials(issuer.ca, None, 1).await?.pop() else {
                return Ok::<_, store::StoreError>(());
            };
            let started = std::time::Instant::now();
            let report = store.verify_serial_state(issuer.ca, &serial).await?;
            tracing::info!(
                issuer = %issuer.name,
                secs = started.elapsed().as_secs_f64(),
                intact = report.is_intact(),
                "audit entries behind the issuer's rows checked"
            );
            Ok(())
        };
        tokio::select! {
            () = shutdown.stopped() => return,
            done = warm => if let Err(e) = done {
                tracing::warn!(issuer = %issuer.name, error = %e, "cannot check the audit entries behind the issuer's rows yet");
            },
        }
    }
    tokio::select! {
        () = shutdown.stopped() => {}
        () = refresh_audit_memo(store) => {}
    }
}

/// Every minute, checks again the audit entries `store` remembers past
/// half their trust ([`store::Store::refresh_entry_memo`]: trust lasts ten
/// minutes, or a hundred times as long as the check took); never returns.
pub async fn refresh_audit_memo(store: store::Store) {
    let mut tick = tokio::time::interval(MEMO_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.refresh_entry_memo(false).await {
            Ok((0, _)) => {}
            Ok((checked, 0)) => tracing::debug!(checked, "audit entries checked again"),
            Ok((checked, failed)) => tracing::error!(
                checked,
                failed,
                "audit entries no longer hold: their rows are not published until the log vouches for them"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot check the audit entries again"),
        }
    }
}

pub async fn run_background(core: Arc<Core>, mut shutdown: service_kit::Stop) {
    let mut poll = tokio::time::interval(core.settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refresh = tokio::time::interval(core.settings.refresh_check);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probe = tokio::time::interval(core.settings.hsm_probe);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // PostgreSQL: LISTEN as well, so changes arrive without waiting for
    // the next poll. The poll stays: notifications sent while the listener
    // reconnects are lost.
    let mut listener = match core.db.store.listen_changes().await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for changes; polling only");
            None
        }
    };
    let mut listen_paused_until: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.stopped() => return,
            notified = next_notification(&mut listener, listen_paused_until) => {
                match notified {
                    Ok(seq) if seq > core.change_seq.load(Ordering::Relaxed) => {
                        listen_paused_until = None;
                        if let Err(e) = core.apply_changes().await {
                            tracing::warn!(error = %e, "change feed unavailable");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // Listen again after a poll interval (sqlx reconnects
                        // on the next recv), without holding up the other
                        // branches meanwhile: the wait is in the branch's
                        // own future, not here.
                        tracing::warn!(error = %e, "change notifications interrupted");
                        listen_paused_until =
                            Some(tokio::time::Instant::now() + core.settings.poll_interval);
                    }
                }
            }
            _ = poll.tick() => {
                if let Err(e) = core.apply_changes().await {
                    tracing::warn!(error = %e, "change feed unavailable; serving the last loaded state");
                }
                core.check_replica().await;
            }
            _ = refresh.tick() => {
                if core.table.is_none() && core.health.hsm_ok.load(Ordering::Relaxed) {
                    spawn_bulk(&core, |c| async move {
                        c.refresh_due().await;
                    });
                }
            }
            _ = probe.tick() => {
                if !core.health.hsm_ok.load(Ordering::Relaxed) {
                    core.probe_hsm().await;
                }
                if core.table.is_none()
                    && core.health.hsm_ok.load(Ordering::Relaxed)
                    && core.presign_pending.load(Ordering::Relaxed)
                {
                    spawn_bulk(&core, |c| async move {
                        tracing::info!("HSM available again: pre-signing what failed before");
                        c.presign_all().await;
                    });
                }
            }
        }
    }
}

async fn next_notification(
    listener: &mut Option<store::ChangeListener>,
    paused_until: Option<tokio::time::Instant>,
) -> Result<u64, store::StoreError> {
    if let Some(at) = paused_until {
        tokio::time::sleep_until(at).await;
    }
    match listener {
        Some(l) => l.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_detached_call_goes_on_after_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/s.db", dir.path().display()))
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let db = Db::new(
            store,
            Duration::from_millis(10),
            Arc::new(Health::new(false)),
            Arc::clone(&metrics),
        );
        let done = Arc::new(AtomicBool::new(false));
        let slow = |done: Arc<AtomicBool>| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            done.store(true, Ordering::Relaxed);
            Ok::<_, store::StoreError>(())
        };
        // A plain call is cancelled with its timeout...
        assert!(matches!(
            db.call(slow(Arc::clone(&done))).await,
            Err(ResponderError::StoreTimeout(_))
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!done.load(Ordering::Relaxed));
        // ...a detached one answers the caller as late, and finishes.
        assert!(matches!(
            db.call_detached(slow(Arc::clone(&done))).await,
            Err(ResponderError::StoreTimeout(_))
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(done.load(Ordering::Relaxed));
    }
}
