//! Where answers come from, separate from HTTP (Boulder's OCSP `Source`):
//! small layers that each answer or pass the request on.
//!
//! ```text
//! IssuerFilter  unknown issuer            -> unauthorized
//!  -> Cached    single CertID, no nonce   -> pre-signed bytes
//!   -> Live     HSM, bounded concurrency  -> signed now, or tryLater
//! ```

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use pki_core::ocsp::{HashAlgorithm, ParsedRequest, ResponseError, ResponseStatus};

use crate::core::Core;
use crate::issuer::{Issuer, Ready, Signing};

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
    Cached(Arc<Ready>),
    /// A response signed for this request (`cacheable`: no nonce, one
    /// CertID, signed from the status at `version`; `issued`: the serial
    /// was issued or revoked, not answered as unissued).
    Live {
        ready: Arc<Ready>,
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
    core: Arc<Core>,
    inner: S,
}

impl<S: Source> IssuerFilter<S> {
    pub fn new(core: Arc<Core>, inner: S) -> Self {
        Self { core, inner }
    }
}

impl<S: Source> Source for IssuerFilter<S> {
    async fn answer(&self, mut query: Query) -> Answer {
        // This request keeps the list it started with, whatever a reload
        // swaps in meanwhile.
        let issuers = self.core.issuers();
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
    core: Arc<Core>,
    inner: S,
}

impl<S: Source> Cached<S> {
    pub fn new(core: Arc<Core>, inner: S) -> Self {
        Self { core, inner }
    }
}

impl<S: Source> Source for Cached<S> {
    async fn answer(&self, query: Query) -> Answer {
        let key = query
            .shared_key()
            .map(|(issuer, hash, serial)| (issuer.index, hash, serial));
        if let Some((issuer, hash, serial)) = &key {
            if let Some(ready) = self.core.cache.get(*issuer, *hash, serial) {
                if ready.fresh_at(SystemTime::now()) {
                    self.core.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Answer::Cached(ready);
                }
            }
        }
        self.core
            .metrics
            .cache_misses
            .fetch_add(1, Ordering::Relaxed);
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
            self.core
                .publish_if_current(*issuer, *hash, serial, *version, Arc::clone(ready));
        }
        answer
    }
}

/// Signs through the HSM on the signer threads, at most
/// `live_concurrency` at once; a caller waits at most `live_wait` for a
/// turn and `live_sign_timeout` for the signature, then gets `tryLater`.
#[derive(Debug)]
pub struct Live {
    core: Arc<Core>,
}

impl Live {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

impl Source for Live {
    async fn answer(&self, query: Query) -> Answer {
        let Some(issuer) = query.issuer else {
            return Answer::Status(ResponseStatus::Unauthorized);
        };
        let core = &self.core;
        if !core.settings.signing {
            // No HSM here: the updater has not signed this one yet.
            return Answer::Status(ResponseStatus::TryLater);
        }
        // No timer when a permit is free at once (the common case).
        let permit = if let Ok(p) = Arc::clone(&core.live_permits).try_acquire_owned() {
            p
        } else {
            let wait = Arc::clone(&core.live_permits).acquire_owned();
            let Ok(Ok(p)) = tokio::time::timeout(core.settings.live_wait, wait).await else {
                return Answer::Status(ResponseStatus::TryLater);
            };
            p
        };
        let mut entries = Vec::with_capacity(query.request.certs.len());
        let mut extended_revoke = false;
        let mut version = 0;
        let mut issued = true;
        for cert in &query.request.certs {
            let (known, v) = core
                .status_for(&issuer, cert.cert_id.serial_number.as_bytes())
                .await;
            version = v;
            let status = if let Some(k) = known {
                k.cert_status()
            } else {
                issued = false;
                let (status, ext) = core.settings.unissued.status();
                extended_revoke |= ext;
                status
            };
            entries.push((cert.cert_id.clone(), status));
        }
        let cacheable = entries.len() == 1 && query.request.nonce.is_none();
        // Unissued serials (made up, in a flood) sign one at a time in
        // table mode, where their answers are cached only briefly.
        let _unissued_turn = if !issued && core.table.is_some() {
            match tokio::time::timeout(
                core.settings.live_wait,
                Arc::clone(&core.unissued_permits).acquire_owned(),
            )
            .await
            {
                Ok(Ok(p)) => Some(p),
                _ => return Answer::Status(ResponseStatus::TryLater),
            }
        } else {
            None
        };
        let nonce = query.request.nonce;
        let validity = core.settings.validity;
        let (reply, signed) = tokio::sync::oneshot::channel();
        let job_core = Arc::clone(core);
        let job = Box::new(move || {
            let result = issuer.sign(&Signing {
                entries: &entries,
                nonce: nonce.as_deref(),
                extended_revoke,
                validity,
                cacheable,
            });
            job_core.note_sign(&result);
            // The permit is held until the HSM answers, even when the
            // caller gave up: a hung HSM cannot collect more jobs than
            // there are threads.
            drop(permit);
            let _ = reply.send(result);
        });
        if let Err(refused) = core.signers.submit(job) {
            tracing::error!(?refused, "live signing job not queued");
            return Answer::Status(ResponseStatus::TryLater);
        }
        let result = match tokio::time::timeout(core.settings.live_sign_timeout, signed).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Answer::Status(ResponseStatus::InternalError),
            Err(_) => {
                tracing::warn!(
                    after = ?core.settings.live_sign_timeout,
                    "live signature not back in time; the HSM may hang"
                );
                core.metrics.hsm_errors.fetch_add(1, Ordering::Relaxed);
                // Not ready until a signature succeeds again (this one,
                // when it comes back, or the probe's).
                core.health.hsm_ok.store(false, Ordering::Relaxed);
                return Answer::Status(ResponseStatus::TryLater);
            }
        };
        match result {
            Ok(ready) => {
                core.metrics.live_signs.fetch_add(1, Ordering::Relaxed);
                Answer::Live {
                    ready: Arc::new(ready),
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

pub fn standard(core: &Arc<Core>) -> Standard {
    IssuerFilter::new(
        Arc::clone(core),
        Cached::new(Arc::clone(core), Live::new(Arc::clone(core))),
    )
}

/// The table stack: filter -> memory cache and response table -> live.
pub type FromTable = IssuerFilter<crate::table::Table<Live>>;

pub fn from_table(core: &Arc<Core>) -> FromTable {
    IssuerFilter::new(
        Arc::clone(core),
        crate::table::Table::new(Arc::clone(core), Live::new(Arc::clone(core))),
    )
}

/// The stack a responder runs, by `[responses] source`.
#[derive(Debug)]
pub enum Stack {
    Memory(Standard),
    Table(FromTable),
}

impl Stack {
    pub fn for_core(core: &Arc<Core>) -> Self {
        if core.table.is_some() {
            Self::Table(from_table(core))
        } else {
            Self::Memory(standard(core))
        }
    }
}

impl Source for Stack {
    async fn answer(&self, query: Query) -> Answer {
        match self {
            Self::Memory(s) => s.answer(query).await,
            Self::Table(s) => s.answer(query).await,
        }
    }
}
