//! Where answers come from, separate from HTTP (Boulder's OCSP `Source`):
//! small layers that each answer or pass the request on.
//!
//! ```text
//! IssuerFilter  unknown issuer            -> unauthorized
//!  -> Cached    single CertID, no nonce   -> pre-signed bytes
//!   -> Live     HSM, bounded concurrency  -> signed now, or tryLater
//! ```
//!
//! Each layer holds only what it uses (Boulder: each `Source` gets its own
//! dependencies), given to it by `wiring`: the filter the issuer list, the
//! cache memory mode's statuses and responses, the live signer its threads,
//! permits, status lookup and the health it reports to.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pki_core::ocsp::{HashAlgorithm, ParsedRequest, ResponseError, ResponseStatus};
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::core::{Health, Memory, StatusLookup};
use crate::issuer::{Issuer, Issuers, Ready, Signing};
use crate::metrics::Metrics;
use crate::signing::SignerThreads;
use crate::status::UnissuedPolicy;

/// A parsed request, with its issuer once a layer has resolved it.
#[derive(Debug)]
pub struct Query {
    pub request: ParsedRequest,
    pub issuer: Option<Arc<Issuer>>,
}

impl Query {
    pub fn new(request: ParsedRequest) -> Self {
        Self {
            request,
            issuer: None,
        }
    }

    /// (issuer, CertID hash, serial) when the answer may be cached and
    /// shared: one CertID of a resolved issuer, no nonce.
    pub fn shared_key(&self) -> Option<(Arc<Issuer>, HashAlgorithm, Vec<u8>)> {
        match (
            &self.issuer,
            self.request.certs.as_slice(),
            &self.request.nonce,
        ) {
            (Some(issuer), [one], None) => Some((
                Arc::clone(issuer),
                one.hash,
                one.cert_id.serial_number.as_bytes().to_vec(),
            )),
            _ => None,
        }
    }
}

/// What a source answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A signed response from the cache.
    Cached(Ready),
    /// A response signed for this request (`cacheable`: no nonce, one
    /// CertID, signed from the status at `version`; `issued`: the serial
    /// was issued or revoked, not answered as unissued).
    Live {
        ready: Ready,
        cacheable: bool,
        version: u64,
        issued: bool,
    },
    /// An unsigned error status.
    Status(ResponseStatus),
}

/// Something that answers OCSP queries.
pub trait Source: Send + Sync + 'static {
    fn answer(&self, query: Query) -> impl Future<Output = Answer> + Send;
}

/// Resolves the issuer of every CertID; `unauthorized` when one is not
/// served here, or when one request mixes issuers (each issuer's responses
/// are signed by its own key).
#[derive(Debug)]
pub struct IssuerFilter<S> {
    /// Swapped whole on reload.
    issuers: Arc<Issuers>,
    inner: S,
}

impl<S: Source> IssuerFilter<S> {
    pub fn new(issuers: Arc<Issuers>, inner: S) -> Self {
        Self { issuers, inner }
    }
}

impl<S: Source> Source for IssuerFilter<S> {
    async fn answer(&self, mut query: Query) -> Answer {
        // This request keeps the list it started with, whatever a reload
        // swaps in meanwhile.
        let issuers = self.issuers.current();
        let mut found: Option<&Arc<Issuer>> = None;
        for cert in &query.request.certs {
            let issuer = issuers
                .iter()
                .find(|i| i.hashes.matches(&cert.cert_id).is_some());
            match (issuer, found) {
                (None, _) => return Answer::Status(ResponseStatus::Unauthorized),
                (Some(i), Some(f)) if !Arc::ptr_eq(i, f) => {
                    return Answer::Status(ResponseStatus::Unauthorized)
                }
                (Some(i), _) => found = Some(i),
            }
        }
        query.issuer = found.cloned();
        self.inner.answer(query).await
    }
}

/// Serves single-CertID requests without a nonce from the pre-signed cache;
/// caches what the inner source signs for such requests.
#[derive(Debug)]
pub struct Cached<S> {
    memory: Arc<Memory>,
    metrics: Arc<Metrics>,
    inner: S,
}

impl<S: Source> Cached<S> {
    pub fn new(memory: Arc<Memory>, metrics: Arc<Metrics>, inner: S) -> Self {
        Self {
            memory,
            metrics,
            inner,
        }
    }
}

impl<S: Source> Source for Cached<S> {
    async fn answer(&self, query: Query) -> Answer {
        let key = query
            .shared_key()
            .map(|(issuer, hash, serial)| (issuer.index, hash, serial));
        if let Some((issuer, hash, serial)) = &key {
            if let Some(ready) = self.memory.cached(*issuer, *hash, serial) {
                if ready.fresh_at(SystemTime::now()) {
                    self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Answer::Cached(ready);
                }
            }
        }
        self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let answer = self.inner.answer(query).await;
        if let (
            Some((issuer, hash, serial)),
            Answer::Live {
                ready,
                cacheable: true,
                version,
                issued,
            },
        ) = (&key, &answer)
        {
            // Only issued serials take a cache slot: a flood of made-up
            // serials must not fill the cache and push out real answers
            // (theirs are signed each time, behind the live semaphore).
            if !*issued {
                return answer;
            }
            self.memory
                .publish_if_current(*issuer, *hash, serial, *version, ready.clone());
        }
        answer
    }
}

/// Signs through the HSM on the signer threads, at most
/// `live_concurrency` at once; a caller waits at most `live_wait` for a
/// turn and `live_sign_timeout` for the signature, then gets `tryLater`.
#[derive(Debug)]
pub struct Live {
    settings: LiveSettings,
    statuses: StatusLookup,
    /// Live signatures in flight (queued or signing): a permit goes with
    /// each job to its signer thread and is released when the HSM answers.
    permits: Arc<Semaphore>,
    /// Table mode: unissued serials sign one at a time.
    unissued_permits: Option<Arc<Semaphore>>,
    /// Where live signatures run (`live_threads` threads, queue of
    /// `live_concurrency`).
    signers: SignerThreads,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The settings live signing reads.
#[derive(Debug, Clone, Copy)]
struct LiveSettings {
    signing: bool,
    live_wait: Duration,
    live_sign_timeout: Duration,
    validity: Duration,
    unissued: UnissuedPolicy,
}

impl Live {
    /// Starts the signer threads; `table_mode`: unissued serials sign one
    /// at a time.
    pub(crate) fn new(
        settings: &Settings,
        table_mode: bool,
        statuses: StatusLookup,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            settings: LiveSettings {
                signing: settings.signing,
                live_wait: settings.live_wait,
                live_sign_timeout: settings.live_sign_timeout,
                validity: settings.validity,
                unissued: settings.unissued,
            },
            statuses,
            permits: Arc::new(Semaphore::new(settings.live_concurrency)),
            unissued_permits: table_mode.then(|| Arc::new(Semaphore::new(1))),
            signers: SignerThreads::start(
                settings.live_threads.min(settings.live_concurrency),
                settings.live_concurrency,
            ),
            health,
            metrics,
        }
    }

    /// The permits live signatures take (one each, `live_concurrency` in
    /// all).
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }
}

impl Source for Live {
    async fn answer(&self, query: Query) -> Answer {
        let Some(issuer) = query.issuer else {
            return Answer::Status(ResponseStatus::Unauthorized);
        };
        let settings = &self.settings;
        if !settings.signing {
            // No HSM here: the updater has not signed this one yet.
            return Answer::Status(ResponseStatus::TryLater);
        }
        let mut entries = Vec::with_capacity(query.request.certs.len());
        let mut extended_revoke = false;
        let mut version = 0;
        let mut issued = true;
        for cert in &query.request.certs {
            // A store that does not answer is not "never issued".
            let Ok((known, v)) = self
                .statuses
                .status_for(&issuer, cert.cert_id.serial_number.as_bytes())
                .await
            else {
                return Answer::Status(ResponseStatus::TryLater);
            };
            version = v;
            let status = if let Some(k) = known {
                k.cert_status()
            } else {
                issued = false;
                let (status, ext) = settings.unissued.status();
                extended_revoke |= ext;
                status
            };
            entries.push((cert.cert_id.clone(), status));
        }
        let cacheable = entries.len() == 1 && query.request.nonce.is_none();
        // Unissued serials (made up, in a flood) sign one at a time in
        // table mode, where their answers are cached only briefly.
        let _unissued_turn = match (&self.unissued_permits, issued) {
            (Some(permits), false) => {
                match tokio::time::timeout(settings.live_wait, Arc::clone(permits).acquire_owned())
                    .await
                {
                    Ok(Ok(p)) => Some(p),
                    _ => return Answer::Status(ResponseStatus::TryLater),
                }
            }
            _ => None,
        };
        // The HSM's turn, once the statuses are in hand: a permit held
        // across database reads would leave the HSM idle meanwhile. No
        // timer when a permit is free at once (the common case).
        let permit = if let Ok(p) = Arc::clone(&self.permits).try_acquire_owned() {
            p
        } else {
            let wait = Arc::clone(&self.permits).acquire_owned();
            let Ok(Ok(p)) = tokio::time::timeout(settings.live_wait, wait).await else {
                return Answer::Status(ResponseStatus::TryLater);
            };
            p
        };
        let nonce = query.request.nonce;
        let validity = settings.validity;
        let (reply, signed) = tokio::sync::oneshot::channel();
        let (health, metrics) = (Arc::clone(&self.health), Arc::clone(&self.metrics));
        let job = Box::new(move || {
            let result = issuer.sign(&Signing {
                entries: &entries,
                nonce: nonce.as_deref(),
                extended_revoke,
                validity,
                cacheable,
            });
            health.note_sign(&metrics, &result);
            // The permit is held until the HSM answers, even when the
            // caller gave up: a hung HSM cannot collect more jobs than
            // there are threads.
            drop(permit);
            let _ = reply.send(result);
        });
        if let Err(refused) = self.signers.submit(job) {
            tracing::error!(?refused, "live signing job not queued");
            return Answer::Status(ResponseStatus::TryLater);
        }
        let result = match tokio::time::timeout(settings.live_sign_timeout, signed).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Answer::Status(ResponseStatus::InternalError),
            Err(_) => {
                tracing::warn!(
                    after = ?settings.live_sign_timeout,
                    "live signature not back in time; the HSM may hang"
                );
                // Not ready until a signature succeeds again (this one,
                // when it comes back, or the probe's).
                self.health.hsm_hangs(&self.metrics);
                return Answer::Status(ResponseStatus::TryLater);
            }
        };
        match result {
            Ok(ready) => {
                self.metrics.live_signs.fetch_add(1, Ordering::Relaxed);
                Answer::Live {
                    ready,
                    cacheable,
                    version,
                    issued,
                }
            }
            Err(ResponseError::Signing(e)) => {
                tracing::warn!(error = %e, "live signing failed");
                Answer::Status(ResponseStatus::TryLater)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot build response");
                Answer::Status(ResponseStatus::InternalError)
            }
        }
    }
}

/// The standard stack: filter -> cache -> live.
pub type Standard = IssuerFilter<Cached<Live>>;

/// The table stack: filter -> memory cache and response table -> live.
pub type FromTable = IssuerFilter<crate::table::Table<Live>>;

/// The stack a responder runs, by `[responses] source` (built by
/// `wiring`).
#[derive(Debug)]
pub enum Stack {
    Memory(Standard),
    Table(FromTable),
}

impl Source for Stack {
    async fn answer(&self, query: Query) -> Answer {
        match self {
            Self::Memory(s) => s.answer(query).await,
            Self::Table(s) => s.answer(query).await,
        }
    }
}
