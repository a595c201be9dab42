//! The validation service without its transport: the current configuration
//! snapshot (swapped atomically on reload), the CRLs in force, the result
//! cache, and [`Service::validate`], which the HTTP handlers and the batch
//! pool call.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use pki_core::cache::{BoundedMap, CertCache, Lookup, VerifiedEdgeCache};
use pki_core::crl::{Crl, CrlCache, OfferError, Offered};
use pki_core::revocation::{RevocationSource, TieredRevocation};
use pki_core::{
    AlgorithmPolicy, Cert, Error, Tier, TrustStore, UnixTime, ValidatedPath, ValidationOptions,
    Validator,
};

use crate::config::{Config, ConfigError, TierConfig};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::request::{Decoded, ValidateRequest};
use crate::verdict::{CertStatus, Rendered, Verdict};

/// Builds the pki-core trust store of a list of tiers.
pub fn trust_store(tiers: &[TierConfig]) -> Result<TrustStore, pki_core::trust::TrustError> {
    let mut trust = TrustStore::new();
    for t in tiers {
        let mut tier = Tier::new(t.name.clone(), t.level);
        tier.policy_levels.clone_from(&t.policy_levels);
        tier.revocation = t.revocation.to_core();
        tier.profile = t.profile;
        trust.add_tier(tier)?;
        for a in &t.anchors {
            trust.add_anchor(&t.name, a.clone())?;
        }
    }
    Ok(trust)
}

#[derive(Debug)]
struct CachedResult {
    verdict: Arc<Rendered>,
    expires: UnixTime,
    revocation_generation: u64,
}

/// A bounded cache of whole valid verdicts, keyed by
/// [`ValidateRequest::cache_key`]. An entry is used only before its expiry (the
/// earliest notAfter / CRL nextUpdate of the path, capped by the configured
/// TTL) and while the revocation data it was computed with is in force.
#[derive(Debug)]
pub struct VerdictCache {
    entries: BoundedMap<[u8; 32], CachedResult>,
}

impl VerdictCache {
    /// At most `capacity` verdicts (rounded up to a multiple of 16); 0
    /// caches nothing. Oldest insertions are evicted first.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BoundedMap::new(capacity),
        }
    }

    fn get(&self, key: &[u8; 32], now: UnixTime, generation: u64) -> Option<Arc<Rendered>> {
        self.entries.lookup(key, |e| {
            if now < e.expires && e.revocation_generation == generation {
                Lookup::Hit(e.verdict.clone())
            } else {
                Lookup::Miss
            }
        })
    }

    fn insert(&self, key: [u8; 32], entry: CachedResult) {
        self.entries.insert(key, entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything derived from one configuration. Replaced whole on reload.
#[derive(Debug)]
pub struct Snapshot {
    pub config: Config,
    /// 1 for the config loaded at start, +1 per successful reload.
    pub generation: u64,
    pub validator: Validator,
    /// Intermediates named in the config, offered to every path build.
    pub known_intermediates: Vec<Arc<Cert>>,
    pub results: VerdictCache,
    pub access: crate::auth::Access,
}

impl Snapshot {
    fn build(config: Config, generation: u64) -> Result<Self, ConfigError> {
        let trust = trust_store(&config.tiers)?;
        let validator = Validator::with_cache(trust, VerifiedEdgeCache::new(config.cache.edges));
        let known_intermediates = config
            .tiers
            .iter()
            .flat_map(|t| t.intermediates.iter().cloned())
            .collect();
        Ok(Self {
            results: VerdictCache::new(config.cache.results),
            access: crate::auth::Access::new(&config.auth),
            validator,
            known_intermediates,
            generation,
            config,
        })
    }

    fn static_crls(&self) -> impl Iterator<Item = &crate::config::CrlFile> {
        self.config.tiers.iter().flat_map(|t| t.crls.iter())
    }
}

/// A CRL distribution point the refresher should follow: the URL and the
/// certificate that should have signed what it serves.
#[derive(Debug, Clone)]
pub struct Feed {
    pub url: String,
    pub issuer: Arc<Cert>,
}

/// The running service.
#[derive(Debug)]
pub struct Service {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Every verified CRL, from files and downloads (pki-core's bounded
    /// cache: keyed by issuer and distribution point, swapped atomically,
    /// a CRL that fails verification never replaces a good one).
    crl_cache: Arc<CrlCache>,
    /// Verified OCSP responses, until their nextUpdate.
    ocsp_cache: Arc<pki_core::ocsp::OcspCache>,
    ocsp_queue: crate::ocsp::Queue,
    /// The tier-aware source the validator consults (CRL and OCSP caches
    /// behind each tier's revocation policy).
    revocation: TieredRevocation,
    certs: CertCache,
    /// Distribution points learnt from validated paths and the config.
    feeds: Mutex<BTreeMap<String, Feed>>,
    pub feeds_changed: tokio::sync::Notify,
    pub metrics: Metrics,
    pool: rayon::ThreadPool,
    reload_lock: Mutex<()>,
}

impl Service {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let threads = config.batch_threads;
        let certs = CertCache::new(config.cache.intermediates);
        let snap = Snapshot::build(config, 1)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("validate-{i}"))
            .build()
            .map_err(|_| ConfigError::BadValue {
                field: "batch_threads",
                expected: "a thread count this machine can start",
            })?;
        let crl_cache = Arc::new(CrlCache::new(
            snap.config.cache.crls.max(1),
            AlgorithmPolicy::Default,
        ));
        let source: Arc<dyn RevocationSource> = crl_cache.clone();
        let ocsp_cache = Arc::new(pki_core::ocsp::OcspCache::new(
            snap.config.ocsp.cache.max(1),
        ));
        let ocsp_source: Arc<dyn RevocationSource> = ocsp_cache.clone();
        let ocsp_queue = crate::ocsp::Queue::new(snap.config.ocsp.queue);
        let s = Self {
            snapshot: RwLock::new(Arc::new(snap)),
            revocation: TieredRevocation::new()
                .with_crl(source)
                .with_ocsp(ocsp_source),
            ocsp_cache,
            ocsp_queue,
            crl_cache,
            certs,
            feeds: Mutex::new(BTreeMap::new()),
            feeds_changed: tokio::sync::Notify::new(),
            metrics: Metrics::default(),
            pool,
            reload_lock: Mutex::new(()),
        };
        s.offer_static_crls()?;
        s.register_config_feeds();
        Ok(s)
    }

    /// The configuration in force. Requests keep the snapshot they started
    /// with, so a reload never changes a request half-way.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Grows whenever a cached CRL changes: results computed under an
    /// older generation are not reused.
    pub fn revocation_generation(&self) -> u64 {
        self.revocation.generation()
    }

    pub fn crl_cache(&self) -> &CrlCache {
        &self.crl_cache
    }

    pub fn ocsp_cache(&self) -> &pki_core::ocsp::OcspCache {
        &self.ocsp_cache
    }

    pub fn ocsp_queue(&self) -> &crate::ocsp::Queue {
        &self.ocsp_queue
    }

    /// Queues OCSP fetches for the certificates of a validated path whose
    /// status was unknown or comes from an OCSP response near its end,
    /// when the reached tier consults OCSP.
    fn queue_ocsp(&self, snap: &Snapshot, path: &ValidatedPath) {
        use pki_core::revocation::StatusSource;
        use pki_core::trust::RevocationMethod;
        let ocsp = &snap.config.ocsp;
        let tier = snap.validator.trust().tier(path.tier);
        if !ocsp.enabled || !tier.revocation.methods.contains(&RevocationMethod::Ocsp) {
            return;
        }
        let now = UnixTime::now();
        for (i, status) in path.revocation.iter().enumerate() {
            let (cert, issuer) = (&path.certs[i], &path.certs[i + 1]);
            let fetch = match status.source() {
                None => true,
                Some(StatusSource::Ocsp { .. }) => crate::ocsp::needs_fetch(
                    &self.ocsp_cache,
                    cert,
                    issuer,
                    now,
                    ocsp.ahead_seconds,
                ),
                Some(StatusSource::Crl { .. }) => false,
            };
            if fetch {
                self.ocsp_queue.push(cert, issuer);
            }
        }
    }

    /// Loads the config file again and swaps it in. On any error the
    /// running configuration stays.
    pub fn reload(&self) -> Result<u64, ConfigError> {
        let _serial = self
            .reload_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.snapshot();
        let result = Config::load(&old.config.path).and_then(|c| {
            if c.listen != old.config.listen {
                tracing::warn!(
                    "listen address changed to {}; it takes effect on restart",
                    c.listen
                );
            }
            let snap = Snapshot::build(c, old.generation + 1)?;
            // Checked before the swap: a CRL file no known CA signed
            // rejects the new config.
            for file in snap.static_crls() {
                self.offer_file_crl(&snap, &file.path, &file.der)?;
            }
            Ok(snap)
        });
        match result {
            Ok(snap) => {
                let generation = snap.generation;
                {
                    let mut g = self
                        .snapshot
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *g = Arc::new(snap);
                }
                self.register_config_feeds();
                self.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(generation, "configuration reloaded");
                Ok(generation)
            }
            Err(e) => {
                self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!("configuration reload rejected, keeping the old one: {e}");
                Err(e)
            }
        }
    }

    fn offer_static_crls(&self) -> Result<(), ConfigError> {
        let snap = self.snapshot();
        for file in snap.static_crls() {
            self.offer_file_crl(&snap, &file.path, &file.der)?;
        }
        Ok(())
    }

    /// Offers a CRL from a config file. Refused when no known CA signed it;
    /// an expired or older one is only logged (the service must start even
    /// when a CRL file is stale; hard-fail tiers then fail closed).
    fn offer_file_crl(
        &self,
        snap: &Snapshot,
        path: &std::path::Path,
        der: &[u8],
    ) -> Result<(), ConfigError> {
        let offered = Crl::from_der(der)
            .map_err(OfferError::Decode)
            .and_then(|crl| {
                let signers = issuers_with_subject(snap, crl.issuer_der());
                self.offer_crl(crl, &signers)
            });
        match offered {
            Ok(_) => Ok(()),
            Err(
                e @ (OfferError::Expired { .. }
                | OfferError::NotYetValid { .. }
                | OfferError::NotNewer { .. }),
            ) => {
                tracing::warn!("CRL {}: not loaded: {e}", path.display());
                Ok(())
            }
            Err(e) => Err(ConfigError::BadCrl {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// Offers a decoded CRL to the cache, trying each candidate signer; the
    /// first that verifies decides. With no candidate, the refusal says so.
    pub fn offer_crl(&self, crl: Crl, signers: &[Arc<Cert>]) -> Result<Offered, OfferError> {
        if signers.is_empty() {
            return Err(OfferError::IssuerMismatch {
                crl_issuer: crl.issuer().to_string(),
                signer: "none of the anchors or configured intermediates (list the issuing CA in the tier's `intermediates`)".into(),
            });
        }
        self.crl_cache.offer_decoded(crl, signers, UnixTime::now())
    }

    /// Distribution points to follow.
    pub fn feeds(&self) -> Vec<Feed> {
        self.feeds
            .lock()
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default()
    }

    fn register_config_feeds(&self) {
        let snap = self.snapshot();
        let mut anchors_and_cas: Vec<Arc<Cert>> = snap
            .validator
            .trust()
            .anchors()
            .iter()
            .map(|a| a.cert.clone())
            .collect();
        anchors_and_cas.extend(snap.known_intermediates.iter().cloned());
        // Configured intermediates point at their issuer's CRL.
        for c in &snap.known_intermediates {
            if let Some(issuer) = anchors_and_cas.iter().find(|i| {
                i.fingerprint() != c.fingerprint()
                    && pki_core::name::names_equal(i.subject(), c.issuer())
            }) {
                self.register_cdps(c, issuer);
            }
        }
        // Explicit URLs: the refresher checks each download against every
        // known CA named as the CRL's issuer; the feed's own issuer is only
        // a first candidate, so any anchor will do here.
        for url in &snap.config.crl_refresh.urls {
            if let Some(first) = anchors_and_cas.first() {
                self.add_feed(url, first);
            }
        }
    }

    fn add_feed(&self, url: &str, issuer: &Arc<Cert>) {
        let max = self.snapshot().config.crl_refresh.max_urls;
        let Ok(mut f) = self.feeds.lock() else {
            return;
        };
        if f.contains_key(url) || f.len() >= max {
            return;
        }
        f.insert(
            url.to_owned(),
            Feed {
                url: url.to_owned(),
                issuer: issuer.clone(),
            },
        );
        drop(f);
        self.feeds_changed.notify_one();
    }

    /// Records the http:// CRL distribution points of `cert`, whose CRL
    /// `issuer` signs.
    fn register_cdps(&self, cert: &Cert, issuer: &Arc<Cert>) {
        use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
        let Some(cdp) = &cert.extensions().crl_distribution_points else {
            return;
        };
        for dp in &cdp.0 {
            if dp.crl_issuer.is_some() {
                continue; // indirect CRLs are not used by pki-core
            }
            let Some(DistributionPointName::FullName(names)) = &dp.distribution_point else {
                continue;
            };
            for n in names {
                if let GeneralName::UniformResourceIdentifier(u) = n {
                    let url = u.as_str();
                    if url.starts_with("http://") && url.parse::<http::Uri>().is_ok() {
                        self.add_feed(url, issuer);
                    }
                }
            }
        }
    }

    /// Known issuer certificates (anchors and configured intermediates)
    /// whose subject is the DER name `name_der`.
    pub fn known_issuers(&self, name_der: &[u8]) -> Vec<Arc<Cert>> {
        issuers_with_subject(&self.snapshot(), name_der)
    }

    /// Known issuer certificates (anchors and configured intermediates)
    /// whose subject is the issuer of `child`, found on the issuer's
    /// encoding in `child`.
    pub fn known_issuers_of(&self, child: &Cert) -> Vec<Arc<Cert>> {
        issuers_of(&self.snapshot(), child)
    }

    /// Decodes and validates one request. `Ok` carries the verdict (valid
    /// or not) and whether it came from the result cache.
    pub fn validate(&self, req: &ValidateRequest) -> Result<(Arc<Rendered>, bool), ApiError> {
        let decoded = req.decode()?;
        self.validate_decoded(&decoded)
    }

    pub fn validate_decoded(&self, d: &Decoded) -> Result<(Arc<Rendered>, bool), ApiError> {
        if let Some(v) = self.cached(d) {
            return Ok((v, true));
        }
        Ok((self.compute(d)?, false))
    }

    /// The cached verdict for a request without `at`, if there is a live one.
    pub fn cached(&self, d: &Decoded) -> Option<Arc<Rendered>> {
        self.cached_key(d.key?)
    }

    /// [`Service::cached`] straight from the request, before any decoding.
    pub fn cached_request(&self, req: &ValidateRequest) -> Option<Arc<Rendered>> {
        self.cached_key(req.cache_key()?)
    }

    fn cached_key(&self, key: [u8; 32]) -> Option<Arc<Rendered>> {
        let snap = self.snapshot();
        let hit = snap
            .results
            .get(&key, UnixTime::now(), self.revocation_generation());
        if let Some(v) = &hit {
            self.metrics
                .result_cache_hits
                .fetch_add(1, Ordering::Relaxed);
            self.metrics.verdict(v.outcome());
        } else {
            self.metrics
                .result_cache_misses
                .fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Validates without looking at the result cache, and caches a valid
    /// verdict for a request without `at`.
    pub fn compute(&self, d: &Decoded) -> Result<Arc<Rendered>, ApiError> {
        let snap = self.snapshot();
        let now = UnixTime::now();
        let generation = self.revocation_generation();
        let (verdict, expires) = self.run(&snap, d, d.at.unwrap_or(now))?;
        let verdict = Arc::new(Rendered::new(verdict));
        self.metrics.verdict(verdict.outcome());
        if let (Some(key), Some(expires)) = (d.key, expires) {
            let cap = now.plus(snap.config.cache.result_ttl_seconds);
            snap.results.insert(
                key,
                CachedResult {
                    verdict: verdict.clone(),
                    expires: expires.min(cap),
                    revocation_generation: generation,
                },
            );
        }
        Ok(verdict)
    }

    /// Validates; returns the verdict and, for a valid one, until when it
    /// may be reused.
    fn run(
        &self,
        snap: &Snapshot,
        d: &Decoded,
        time: UnixTime,
    ) -> Result<(Verdict, Option<UnixTime>), ApiError> {
        let leaf = match Cert::from_der(&d.leaf) {
            Ok(c) => Arc::new(c),
            Err(e) if is_encoding_error(&e) => {
                return Err(ApiError::BadCertificate {
                    field: "leaf".into(),
                    error: e,
                })
            }
            Err(e) => {
                let e = e.at_index(0);
                return Ok((Verdict::invalid(&e, None, time), None));
            }
        };
        let mut candidates =
            Vec::with_capacity(d.intermediates.len() + snap.known_intermediates.len());
        for (i, der) in d.intermediates.iter().enumerate() {
            let c = self
                .certs
                .get_or_decode(der)
                .map_err(|e| ApiError::BadCertificate {
                    field: format!("intermediates[{i}]"),
                    error: e,
                })?;
            candidates.push(c);
        }
        candidates.extend(snap.known_intermediates.iter().cloned());

        let mut opts = ValidationOptions::at(time);
        opts.purpose = d.purpose;
        opts.peer_name = d.peer_name.as_ref().map(|(_, p)| p.clone());
        opts.max_intermediates = d.max_intermediates;
        opts.policy = d.policy.clone();
        opts.required_level = d.required_level;
        opts.revocation = Some(&self.revocation);
        // Each tier's own policy decides about unknown status.
        opts.require_revocation = false;

        match snap.validator.validate(&leaf, &candidates, &opts) {
            Ok(path) => {
                for w in path.certs.windows(2) {
                    self.register_cdps(&w[0], &w[1]);
                }
                self.queue_ocsp(snap, &path);
                Ok(accepted(
                    &path,
                    time,
                    snap.validator.trust().tier(path.tier).revocation.max_age,
                ))
            }
            Err(e) => {
                if let Error::RevocationStatusUnavailable { .. } = e {
                    // Under hard-fail no path validates until the CRL is
                    // here: learn the distribution points of certificates
                    // issued by known CAs (anchors, configured intermediates).
                    for c in std::iter::once(&leaf).chain(candidates.iter()) {
                        for issuer in self.known_issuers_of(c) {
                            if issuer.fingerprint() != c.fingerprint() {
                                self.register_cdps(c, &issuer);
                                if snap.config.ocsp.enabled && any_tier_uses_ocsp(snap) {
                                    self.ocsp_queue.push(c, &issuer);
                                }
                            }
                        }
                    }
                }
                let cert = e
                    .index()
                    .and_then(|i| guess_cert(&leaf, &candidates, snap.validator.trust(), i));
                Ok((
                    Verdict::invalid(&e, cert.as_ref().map(|(i, c)| (*i, c)), time),
                    None,
                ))
            }
        }
    }

    /// Validates a batch on the rayon pool; results in request order.
    /// Blocks: call from `spawn_blocking` or a plain thread.
    pub fn validate_batch(
        &self,
        items: &[ValidateRequest],
    ) -> Vec<Result<(Arc<Rendered>, bool), ApiError>> {
        use rayon::prelude::*;
        self.pool
            .install(|| items.par_iter().map(|r| self.validate(r)).collect())
    }

    /// Why the service is not ready now; empty when it is
    /// ([`crate::readiness`]).
    pub fn not_ready_reasons(&self) -> Vec<String> {
        let now = UnixTime::now();
        crate::readiness::reasons(
            &self.snapshot().config.tiers,
            &self.crl_cache.entries(now),
            now,
        )
    }

    /// Metrics text, with the cache figures of the current snapshot.
    pub fn render_metrics(&self) -> String {
        let snap = self.snapshot();
        let now = UnixTime::now();
        let mut o = service_kit::Exposition::new();
        let crls = self.crl_cache.entries(now);
        self.metrics.render(
            &mut o,
            snap.validator.edge_cache().stats(),
            snap.results.len(),
            &crls,
            now.unsigned_secs(),
        );
        crate::metrics::render_in_flight(&mut o, &snap.access.in_flight());
        let ready = crate::readiness::reasons(&snap.config.tiers, &crls, now).is_empty();
        o.gauge(
            "validation_api_ready",
            "1 when ready (no hard-fail tier holds a CRL past its nextUpdate or max age).",
            u8::from(ready),
        );
        o.into_string()
    }
}

fn any_tier_uses_ocsp(snap: &Snapshot) -> bool {
    snap.validator.trust().tiers().iter().any(|t| {
        t.revocation
            .methods
            .contains(&pki_core::trust::RevocationMethod::Ocsp)
    })
}

/// Anchors and configured intermediates whose subject is the DER name
/// `name` (RFC 5280 7.1 comparison).
fn issuers_with_subject(snap: &Snapshot, name: &[u8]) -> Vec<Arc<Cert>> {
    let mut out: Vec<Arc<Cert>> = snap
        .validator
        .trust()
        .anchors_with_subject(name)
        .into_iter()
        .map(|a| a.cert.clone())
        .collect();
    out.extend(
        snap.known_intermediates
            .iter()
            .filter(|c| pki_core::name::names_der_equal(c.subject_der(), name))
            .cloned(),
    );
    out
}

/// Anchors and configured intermediates whose subject is the issuer of
/// `child`, found on the issuer's encoding in `child`.
fn issuers_of(snap: &Snapshot, child: &Cert) -> Vec<Arc<Cert>> {
    issuers_with_subject(snap, child.issuer_der())
}

fn is_encoding_error(e: &Error) -> bool {
    matches!(
        e,
        Error::BadDer { .. } | Error::BadPem(_) | Error::TooLarge { .. }
    )
}

/// The certificate at `index` of the path the builder was most likely
/// trying: follow issuer names from the leaf through the candidates, then
/// the anchors. Only used to name the certificate in an error message.
fn guess_cert(
    leaf: &Arc<Cert>,
    candidates: &[Arc<Cert>],
    trust: &TrustStore,
    index: usize,
) -> Option<(usize, Arc<Cert>)> {
    let mut cur = leaf.clone();
    for _ in 0..index.min(pki_core::path::MAX_PATH_LEN) {
        let next = candidates
            .iter()
            .find(|c| {
                c.fingerprint() != cur.fingerprint()
                    && pki_core::name::names_equal(c.subject(), cur.issuer())
            })
            .cloned()
            .or_else(|| trust.anchors_issuing(&cur).next().map(|a| a.cert.clone()))?;
        cur = next;
    }
    Some((index, cur))
}

/// The verdict of a path pki-core accepted (it already applied the
/// reached tier's revocation policy), and until when it may be reused: the
/// earliest notAfter of the path, nextUpdate of the statuses used and,
/// when the tier bounds a status's age, thisUpdate + `max_age` of each
/// good status ([`ValidatedPath::reusable_until`], the rule pki-core's
/// result cache uses too; the configured TTL is applied by the caller).
fn accepted(
    path: &ValidatedPath,
    time: UnixTime,
    max_age: Option<u64>,
) -> (Verdict, Option<UnixTime>) {
    let expires = path.reusable_until(time, max_age, u64::MAX);
    let statuses = path
        .revocation
        .iter()
        .enumerate()
        .map(|(i, s)| CertStatus::new(i, s, time))
        .collect();
    (Verdict::valid(path, statuses, time), Some(expires))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use base64::Engine as _;
    use pki_core::testing::TestCa;

    use super::*;

    fn b64(d: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(d)
    }

    /// Issuers looked up on a certificate's issuer encoding are those found
    /// by name: anchors and configured intermediates alike.
    #[test]
    fn issuers_of_a_certificate_match_issuers_by_name() {
        let root = TestCa::root("CN=Lookup Root,O=Kingdom of Morocco,C=MA");
        let ca = root.intermediate("CN=Lookup CA,O=Kingdom of Morocco,C=MA", |_| {});
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), root.cert_pem()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
        let text = "listen = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = true\n[crl_refresh]\nenabled = false\n[[tiers]]\nname = \"t\"\nlevel = \"low\"\nanchors = [\"root.pem\"]\nintermediates = [\"ca.pem\"]\nrevocation = { methods = [], unavailable = \"soft-fail\" }\n";
        let cfg = Config::from_toml(text, &dir.path().join("c.toml"), dir.path()).unwrap();
        let svc = Service::new(cfg).unwrap();
        let snap = svc.snapshot();
        let fps = |v: Vec<Arc<Cert>>| v.iter().map(|c| *c.fingerprint()).collect::<Vec<_>>();
        let cert = |t: &TestCa| Cert::from_der(t.cert_der()).unwrap();
        let foreign = TestCa::root("CN=Elsewhere,C=FR");
        for (child, expected) in [
            (cert(&ca.leaf("CN=Of CA,C=MA", |_| {})), vec![cert(&ca)]),
            (
                cert(&root.leaf("CN=Of Root,C=MA", |_| {})),
                vec![cert(&root)],
            ),
            (cert(&ca), vec![cert(&root)]),
            (cert(&foreign.leaf("CN=Foreign,C=FR", |_| {})), vec![]),
        ] {
            let expected: Vec<Arc<Cert>> = expected.into_iter().map(Arc::new).collect();
            assert_eq!(fps(issuers_of(&snap, &child)), fps(expected));
            let reencoded = x509_cert::der::Encode::to_der(child.issuer()).unwrap();
            assert_eq!(
                fps(issuers_of(&snap, &child)),
                fps(issuers_with_subject(&snap, &reencoded))
            );
        }
    }

    /// A cached verdict lasts until the earliest of notAfter, CRL
    /// nextUpdate and, under the tier's max_age, thisUpdate + max_age.
    #[test]
    fn cached_verdict_expires_with_the_status_age_limit() {
        let now = SystemTime::now();
        let issued = now - Duration::from_secs(100);
        let root = TestCa::root("CN=Age Root,C=MA");
        let leaf = root.leaf("CN=Age Leaf,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        });
        let crl = root.crl(|t| t.this_update = issued);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("root.pem"), root.cert_pem()).unwrap();
        std::fs::write(dir.path().join("root.crl"), &crl).unwrap();
        let text = "listen = \"127.0.0.1:0\"\n[cache]\nresult_ttl_seconds = 86400\n[auth]\nallow_anonymous = true\n[crl_refresh]\nenabled = false\n[[tiers]]\nname = \"t\"\nlevel = \"high\"\nanchors = [\"root.pem\"]\ncrls = [\"root.crl\"]\nrevocation = { methods = [\"crl\"], unavailable = \"hard-fail\", max_age_seconds = 3600 }\n";
        let cfg = Config::from_toml(text, &dir.path().join("c.toml"), dir.path()).unwrap();
        let svc = Service::new(cfg).unwrap();
        let req: ValidateRequest =
            serde_json::from_value(serde_json::json!({"leaf": b64(leaf.cert_der())})).unwrap();
        let (v, hit) = svc.validate(&req).unwrap();
        assert!(v.valid && !hit, "{:?}", v.error);
        let key = req.cache_key().unwrap();
        let this_update = UnixTime::from_system(issued);
        let generation = svc.revocation_generation();
        let snap = svc.snapshot();
        let at = |secs: u64| snap.results.get(&key, this_update.plus(secs), generation);
        assert!(at(3_000).is_some(), "still within max_age");
        assert!(at(3_601).is_none(), "past thisUpdate + max_age");
        assert!(svc.validate(&req).unwrap().1, "served from the cache now");
    }
}
