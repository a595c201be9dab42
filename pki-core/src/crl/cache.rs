//! The in-memory CRL cache the services keep (issue 6): pure, no I/O.
//!
//! A refresher in the service layer downloads CRLs and hands them to
//! [`CrlCache::offer`] together with the certificate whose key signs them;
//! validators use the cache as a [`RevocationSource`] through the same RFC
//! 5280 6.3 code as [`CrlSet`](super::CrlSet).
//!
//! ```
//! # #[cfg(feature = "test-ca")] {
//! use std::sync::Arc;
//! use pki_core::crl::{CrlCache, Offered};
//! use pki_core::testing::TestCa;
//! use pki_core::{AlgorithmPolicy, Cert, UnixTime};
//!
//! let ca = TestCa::root("CN=CNIE CA,C=MA");
//! let ca_cert = Arc::new(Cert::from_der(ca.cert_der()).unwrap());
//! let cache = CrlCache::new(64, AlgorithmPolicy::Default);
//! let now = UnixTime::parse_rfc3339("2025-01-01T00:00:00Z").unwrap();
//!
//! // The refresher offers what it downloaded; a bad or older CRL is refused
//! // and the cached one stays.
//! let der = ca.crl(|tpl| tpl.crl_number = Some(7));
//! assert!(matches!(cache.offer(&der, &ca_cert, now), Ok(Offered::Inserted { .. })));
//! assert!(cache.offer(&ca.crl(|tpl| tpl.crl_number = Some(6)), &ca_cert, now).is_err());
//!
//! // What to fetch again before nextUpdate (here: within 30 days).
//! for entry in cache.due_for_refresh(now, 30 * 86_400) {
//!     println!("refresh {} (urls {:?})", entry.issuer, entry.urls);
//! }
//! // `&cache` is a RevocationSource: set `ValidationOptions::revocation`.
//! # }
//! ```
//!
//! Readers never wait for a refresh: each slot is an immutable
//! `Arc<Slot>` (base CRL plus optional delta); a refreshed CRL is decoded
//! and verified outside any lock, and the write lock is held only to
//! compare CRL numbers and swap the pointer. Readers holding the previous
//! `Arc` finish with it undisturbed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use const_oid::ObjectIdentifier;
use der::Encode;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::KeyUsages;

use super::scope::{self, may_cover, CrlSource, SignerValidators};
use super::{cmp_number, Crl};
use crate::cert::{hex, Cert};
use crate::name::names_equal;
use crate::revocation::{RevocationSource, RevocationStatus};
use crate::signature::AlgorithmPolicy;
use crate::time::UnixTime;
use crate::Error;

/// Most CRL signer certificates remembered (see [`CrlCache::offer`]).
const MAX_SIGNERS: usize = 1024;

/// A cache slot's identity: the CRL issuer (DER of the name as the CRL
/// encodes it) and the scope (DER of its issuingDistributionPoint, empty
/// for a full CRL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub issuer: Vec<u8>,
    pub scope: Vec<u8>,
}

#[derive(Debug)]
struct Slot {
    base: Arc<Crl>,
    delta: Option<Arc<Crl>>,
    signer: Arc<Cert>,
    last_offered: u64,
}

#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<CacheKey, Arc<Slot>>,
    by_issuer: HashMap<Vec<u8>, Vec<CacheKey>>,
}

/// What [`CrlCache::offer`] did with a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Offered {
    /// A new slot; `evicted` is the slot dropped to stay within capacity.
    Inserted { evicted: Option<CacheKey> },
    /// A newer base CRL replaced the cached one (cRLNumber `previous`).
    Replaced { previous: Vec<u8> },
    /// A delta CRL was stored on top of its base.
    DeltaStored,
    /// The same CRL (same SHA-256) is already cached.
    Unchanged,
}

/// Why [`CrlCache::offer`] refused a CRL. The cached CRL, if any, stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    #[error("CRL does not decode: {0}")]
    Decode(Error),
    #[error("CRL issuer {crl_issuer} is not the signer's subject {signer}")]
    IssuerMismatch { crl_issuer: String, signer: String },
    #[error("the signer's keyUsage does not include cRLSign")]
    SignerLacksCrlSign,
    #[error("CRL signature rejected: {0}")]
    Signature(Error),
    #[error("CRL carries an unknown critical extension {0}")]
    UnknownCriticalExtension(ObjectIdentifier),
    #[error("CRL has no cRLNumber")]
    NoCrlNumber,
    #[error("CRL thisUpdate {this_update} is in the future")]
    NotYetValid { this_update: UnixTime },
    #[error("CRL expired at {next_update}")]
    Expired { next_update: UnixTime },
    #[error("cRLNumber {offered} is not newer than the cached {cached}")]
    NotNewer { offered: String, cached: String },
    #[error("delta CRL has no cached base CRL with the same issuer and scope")]
    DeltaWithoutBase,
    #[error("delta CRL needs base CRL number {needed} but the cached base is {cached}")]
    DeltaBaseTooNew { needed: String, cached: String },
    #[error("delta CRL is signed by another key than its base CRL")]
    DeltaSignerDiffers,
}

/// One cached slot, for the refresher and for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub key: CacheKey,
    /// The CRL issuer as RFC 4514 text.
    pub issuer: String,
    /// cRLNumber of the base CRL (hex).
    pub number: String,
    pub this_update: UnixTime,
    /// The earliest nextUpdate of base and delta.
    pub next_update: Option<UnixTime>,
    /// cRLNumber of the delta CRL (hex), if one is stored.
    pub delta_number: Option<String>,
    /// URIs of the issuingDistributionPoint (where to fetch it again).
    pub urls: Vec<String>,
    /// Seconds since nextUpdate passed (0 while current).
    pub stale_seconds: u64,
    pub revoked_entries: usize,
}

/// A bounded cache of verified CRLs keyed by issuer and distribution point.
#[derive(Debug)]
pub struct CrlCache {
    inner: RwLock<Inner>,
    capacity: usize,
    policy: AlgorithmPolicy,
    signers: RwLock<Arc<[Arc<Cert>]>>,
    validators: SignerValidators,
    seq: AtomicU64,
    /// Bumped whenever a stored CRL changes (see `RevocationSource::generation`).
    generation: AtomicU64,
}

fn number_hex(n: Option<&[u8]>) -> String {
    n.map_or_else(
        || "none".into(),
        |n| if n.is_empty() { "0".into() } else { hex(n) },
    )
}

impl CrlCache {
    /// A cache holding at most `capacity` slots (base CRL + delta each),
    /// verifying signatures under `policy`.
    pub fn new(capacity: usize, policy: AlgorithmPolicy) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            capacity: capacity.max(1),
            policy,
            signers: RwLock::new(Arc::from(Vec::new())),
            validators: SignerValidators::default(),
            seq: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |i| i.slots.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a certificate that may sign CRLs outside the paths being
    /// validated (a separate CRL signer, a CA's new key, or an
    /// intermediate such a signer's path needs). Bounded; duplicates are
    /// ignored.
    pub fn add_signer(&self, cert: Arc<Cert>) {
        if let Ok(mut s) = self.signers.write() {
            if s.iter().any(|c| c.fingerprint() == cert.fingerprint()) {
                return;
            }
            let mut v: Vec<Arc<Cert>> = s.iter().cloned().collect();
            if v.len() >= MAX_SIGNERS {
                v.remove(0);
            }
            v.push(cert);
            *s = Arc::from(v);
        }
    }

    /// Decodes `der`, checks it was signed by `signer` (the CA itself or its
    /// CRL signer; its keyUsage must allow cRLSign), is current at `now`,
    /// has a cRLNumber and no unknown critical extension, then stores it:
    /// a complete CRL replaces the cached one only when its cRLNumber is
    /// higher; a delta CRL goes on top of the cached base it applies to.
    /// Validators see the old slot or the new one, never a mix.
    pub fn offer(
        &self,
        der: &[u8],
        signer: &Arc<Cert>,
        now: UnixTime,
    ) -> Result<Offered, OfferError> {
        let crl = Crl::from_der(der).map_err(OfferError::Decode)?;
        self.offer_decoded(crl, std::slice::from_ref(signer), now)
    }

    /// [`Self::offer`] for a CRL already decoded (a large one is decoded
    /// once), with candidate signers tried in turn: the first whose name,
    /// keyUsage and signature match signs it. With none, the error is the
    /// last candidate's refusal (an issuer mismatch when there is none).
    pub fn offer_decoded(
        &self,
        crl: Crl,
        signers: &[Arc<Cert>],
        now: UnixTime,
    ) -> Result<Offered, OfferError> {
        let mut refusal = None;
        let mut chosen = None;
        for candidate in signers {
            match self.check_signer(&crl, candidate) {
                Ok(()) => {
                    chosen = Some(candidate);
                    break;
                }
                Err(e) => refusal = Some(e),
            }
        }
        let Some(signer) = chosen else {
            return Err(refusal.unwrap_or_else(|| OfferError::IssuerMismatch {
                crl_issuer: crl.issuer().to_string(),
                signer: "no candidate signer".into(),
            }));
        };
        if let Some((oid, _)) = crl.unknown_critical() {
            return Err(OfferError::UnknownCriticalExtension(oid));
        }
        let Some(number) = crl.number().map(<[u8]>::to_vec) else {
            return Err(OfferError::NoCrlNumber);
        };
        if crl.this_update() > now {
            return Err(OfferError::NotYetValid {
                this_update: crl.this_update(),
            });
        }
        if let Some(next_update) = crl.next_update().filter(|n| *n < now) {
            return Err(OfferError::Expired { next_update });
        }
        let key = CacheKey {
            issuer: crl.issuer_der().to_vec(),
            scope: crl.scope_der().unwrap_or_default().to_vec(),
        };
        let crl = Arc::new(crl);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let result = {
            let mut inner = self
                .inner
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Self::store(&mut inner, self.capacity, key, crl, &number, signer, seq)
        };
        if let Ok(offered) = &result {
            if *offered != Offered::Unchanged {
                self.generation.fetch_add(1, Ordering::Release);
            }
            self.add_signer(signer.clone());
        }
        result
    }

    /// Whether `signer` signed `crl` and may sign CRLs.
    fn check_signer(&self, crl: &Crl, signer: &Cert) -> Result<(), OfferError> {
        if !names_equal(crl.issuer(), signer.subject()) {
            return Err(OfferError::IssuerMismatch {
                crl_issuer: crl.issuer().to_string(),
                signer: signer.subject_string(),
            });
        }
        if !signer.key_usage_allows(KeyUsages::CRLSign) {
            return Err(OfferError::SignerLacksCrlSign);
        }
        crl.verify_signed_by(signer, self.policy)
            .map_err(OfferError::Signature)
    }

    /// The decision and the pointer swap, under the write lock: no decoding
    /// or signature checks happen here.
    fn store(
        inner: &mut Inner,
        capacity: usize,
        key: CacheKey,
        crl: Arc<Crl>,
        number: &[u8],
        signer: &Arc<Cert>,
        seq: u64,
    ) -> Result<Offered, OfferError> {
        let existing = inner.slots.get(&key).cloned();
        match (crl.delta_base().map(<[u8]>::to_vec), existing) {
            (None, None) => {
                let evicted = if inner.slots.len() >= capacity {
                    Self::evict_oldest(inner)
                } else {
                    None
                };
                inner
                    .by_issuer
                    .entry(key.issuer.clone())
                    .or_default()
                    .push(key.clone());
                inner.slots.insert(
                    key,
                    Arc::new(Slot {
                        base: crl,
                        delta: None,
                        signer: signer.clone(),
                        last_offered: seq,
                    }),
                );
                Ok(Offered::Inserted { evicted })
            }
            (None, Some(slot)) => {
                let cached = slot.base.number().unwrap_or_default();
                if slot.base.fingerprint() == crl.fingerprint() {
                    Self::touch(inner, &key, &slot, seq);
                    return Ok(Offered::Unchanged);
                }
                if !cmp_number(number, cached).is_gt() {
                    return Err(OfferError::NotNewer {
                        offered: number_hex(Some(number)),
                        cached: number_hex(Some(cached)),
                    });
                }
                // Keep the delta only while it still applies to the new base.
                let delta = slot.delta.clone().filter(|d| {
                    d.number().is_some_and(|n| cmp_number(n, number).is_gt())
                        && d.delta_base()
                            .is_some_and(|b| cmp_number(b, number).is_le())
                        && slot.signer.spki_hash() == signer.spki_hash()
                });
                let previous = cached.to_vec();
                inner.slots.insert(
                    key,
                    Arc::new(Slot {
                        base: crl,
                        delta,
                        signer: signer.clone(),
                        last_offered: seq,
                    }),
                );
                Ok(Offered::Replaced { previous })
            }
            (Some(_), None) => Err(OfferError::DeltaWithoutBase),
            (Some(base_needed), Some(slot)) => {
                let base_number = slot.base.number().unwrap_or_default();
                if cmp_number(&base_needed, base_number).is_gt() {
                    return Err(OfferError::DeltaBaseTooNew {
                        needed: number_hex(Some(&base_needed)),
                        cached: number_hex(Some(base_number)),
                    });
                }
                if slot.signer.spki_hash() != signer.spki_hash() {
                    return Err(OfferError::DeltaSignerDiffers);
                }
                if let Some(d) = &slot.delta {
                    if d.fingerprint() == crl.fingerprint() {
                        Self::touch(inner, &key, &slot, seq);
                        return Ok(Offered::Unchanged);
                    }
                }
                let newest = slot
                    .delta
                    .as_ref()
                    .and_then(|d| d.number())
                    .unwrap_or(base_number);
                if !cmp_number(number, newest).is_gt() {
                    return Err(OfferError::NotNewer {
                        offered: number_hex(Some(number)),
                        cached: number_hex(Some(newest)),
                    });
                }
                inner.slots.insert(
                    key,
                    Arc::new(Slot {
                        base: slot.base.clone(),
                        delta: Some(crl),
                        signer: slot.signer.clone(),
                        last_offered: seq,
                    }),
                );
                Ok(Offered::DeltaStored)
            }
        }
    }

    /// A re-offered, unchanged CRL counts as fresh for eviction.
    fn touch(inner: &mut Inner, key: &CacheKey, slot: &Slot, seq: u64) {
        inner.slots.insert(
            key.clone(),
            Arc::new(Slot {
                base: slot.base.clone(),
                delta: slot.delta.clone(),
                signer: slot.signer.clone(),
                last_offered: seq,
            }),
        );
    }

    fn evict_oldest(inner: &mut Inner) -> Option<CacheKey> {
        let key = inner
            .slots
            .iter()
            .min_by_key(|(_, s)| s.last_offered)
            .map(|(k, _)| k.clone())?;
        inner.slots.remove(&key);
        if let Some(list) = inner.by_issuer.get_mut(&key.issuer) {
            list.retain(|k| *k != key);
            if list.is_empty() {
                inner.by_issuer.remove(&key.issuer);
            }
        }
        Some(key)
    }

    /// The cached base CRL and delta of a slot.
    pub fn get(&self, key: &CacheKey) -> Option<(Arc<Crl>, Option<Arc<Crl>>)> {
        let inner = self.inner.read().ok()?;
        inner
            .slots
            .get(key)
            .map(|s| (s.base.clone(), s.delta.clone()))
    }

    /// Every slot with its freshness at `now`.
    pub fn entries(&self, now: UnixTime) -> Vec<EntryInfo> {
        let slots: Vec<(CacheKey, Arc<Slot>)> = match self.inner.read() {
            Ok(inner) => inner
                .slots
                .iter()
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        slots
            .into_iter()
            .map(|(key, s)| {
                let next_update = [
                    s.base.next_update(),
                    s.delta.as_ref().and_then(|d| d.next_update()),
                ]
                .into_iter()
                .flatten()
                .min();
                let urls = s
                    .base
                    .issuing_distribution_point()
                    .and_then(|i| i.distribution_point.as_ref())
                    .map(|dp| match dp {
                        DistributionPointName::FullName(names) => names
                            .iter()
                            .filter_map(|n| match n {
                                GeneralName::UniformResourceIdentifier(u) => {
                                    Some(u.as_str().to_owned())
                                }
                                _ => None,
                            })
                            .collect(),
                        DistributionPointName::NameRelativeToCRLIssuer(_) => Vec::new(),
                    })
                    .unwrap_or_default();
                EntryInfo {
                    key,
                    issuer: s.base.issuer().to_string(),
                    number: number_hex(s.base.number()),
                    this_update: s.base.this_update(),
                    next_update,
                    delta_number: s.delta.as_ref().map(|d| number_hex(d.number())),
                    urls,
                    stale_seconds: next_update.map_or(0, |n| now.seconds_since(n)),
                    revoked_entries: s.base.len(),
                }
            })
            .collect()
    }

    /// Slots whose nextUpdate is less than `lead_seconds` away from `now`
    /// (or already past): what the refresher fetches next, soonest first.
    pub fn due_for_refresh(&self, now: UnixTime, lead_seconds: u64) -> Vec<EntryInfo> {
        let mut due: Vec<EntryInfo> = self
            .entries(now)
            .into_iter()
            .filter(|e| e.next_update.is_some_and(|n| n <= now.plus(lead_seconds)))
            .collect();
        due.sort_by_key(|e| e.next_update);
        due
    }
}

impl CrlSource for CrlCache {
    fn candidates(&self, cert: &Cert, out: &mut Vec<Arc<Crl>>) {
        let Ok(inner) = self.inner.read() else {
            return;
        };
        let mut push = |s: &Slot| {
            out.push(s.base.clone());
            if let Some(d) = &s.delta {
                out.push(d.clone());
            }
        };
        let mut found = false;
        let mut by_der = |der: &[u8]| {
            for key in inner.by_issuer.get(der).into_iter().flatten() {
                if let Some(s) = inner.slots.get(key) {
                    push(s);
                    found = true;
                }
            }
        };
        if let Some((der, _)) = super::parse::cert_names_der(cert) {
            by_der(der);
        }
        // Indirect CRLs: the cRLIssuer names of the distribution points.
        if let Some(cdp) = &cert.extensions().crl_distribution_points {
            for dp in &cdp.0 {
                for n in dp.crl_issuer.iter().flatten() {
                    if let GeneralName::DirectoryName(d) = n {
                        if let Ok(der) = d.to_der() {
                            by_der(&der);
                        }
                    }
                }
            }
        }
        if !found {
            // Same name under RFC 5280 7.1 but encoded differently.
            for s in inner.slots.values() {
                if may_cover(&s.base, cert) {
                    push(s);
                }
            }
        }
    }
    fn signers(&self) -> Arc<[Arc<Cert>]> {
        self.signers
            .read()
            .map_or_else(|_| Arc::from(Vec::new()), |s| s.clone())
    }
    fn validators(&self) -> &SignerValidators {
        &self.validators
    }
    fn policy(&self) -> AlgorithmPolicy {
        self.policy
    }
    fn allow_unnumbered(&self) -> bool {
        false
    }
}

impl RevocationSource for CrlCache {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        scope::status(self, path, index, time, false)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
