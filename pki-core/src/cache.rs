//! Caches of the validator, all bounded and sharded so threads rarely
//! contend:
//!
//! - [`BoundedMap`]: the bounded, sharded, oldest-first-evicting map with
//!   hit/miss counters that every cache here (and the OCSP response cache
//!   and the validation API's verdict cache) is built on;
//! - [`VerifiedEdgeCache`]: (issuer key, certificate) pairs whose signature
//!   has been checked, so a later validation sharing intermediates skips the
//!   signature verification;
//! - [`CertCache`]: intermediates decoded once, with their parsed keys;
//! - [`ResultCache`]: whole validation results, reused until the earliest
//!   notAfter, CRL or OCSP nextUpdate involved, or until a revocation
//!   source changes.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::cert::Cert;
use crate::name::PeerName;
use crate::path::{Purpose, ValidatedPath, ValidationOptions, Validator};
use crate::signature::AlgorithmPolicy;
use crate::time::UnixTime;
use crate::Error;

/// Shards of every [`BoundedMap`].
pub const SHARDS: usize = 16;

/// A map bounded to `cap` entries, evicting the oldest insertion first,
/// where removing an entry is O(1): the insertion queue keeps (key,
/// sequence) pairs and skips those whose entry is gone or was re-inserted
/// since, and is compacted when stale pairs pile up. One shard of a
/// [`BoundedMap`].
#[derive(Debug)]
pub(crate) struct FifoMap<K, V> {
    map: HashMap<K, (u64, V)>,
    order: VecDeque<(K, u64)>,
    seq: u64,
    cap: usize,
}

impl<K: Hash + Eq + Copy, V> FifoMap<K, V> {
    /// A map of at most `cap` entries; 0 stores nothing.
    #[cfg(test)]
    pub(crate) fn new(cap: usize) -> Self {
        Self::with_hasher(cap, RandomState::new())
    }

    /// The same, hashing with `hasher` (shards share one).
    pub(crate) fn with_hasher(cap: usize, hasher: RandomState) -> Self {
        Self {
            map: HashMap::with_hasher(hasher),
            order: VecDeque::new(),
            seq: 0,
            cap,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(_, v)| v)
    }

    /// Inserts or replaces (a replaced entry counts as newly inserted).
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.cap == 0 {
            return;
        }
        self.seq += 1;
        self.map.insert(key, (self.seq, value));
        self.order.push_back((key, self.seq));
        while self.map.len() > self.cap {
            let Some((k, seq)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|(s, _)| *s == seq) {
                self.map.remove(&k);
            }
        }
        if self.order.len() > 2 * self.cap + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, seq)| map.get(k).is_some_and(|(s, _)| s == seq));
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(_, v)| v)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.map.retain(|_, (_, v)| keep(v));
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

/// A key of a [`BoundedMap`]: which shard it lives in (taken modulo
/// [`SHARDS`]). Keys are digests or random serials, so a few of their
/// octets spread them evenly without hashing again.
pub trait ShardKey: Hash + Eq + Copy {
    fn shard(&self) -> usize;
}

impl ShardKey for [u8; 32] {
    fn shard(&self) -> usize {
        usize::from(self[0])
    }
}

/// What a [`BoundedMap::lookup`] callback makes of the entry it found.
#[derive(Debug)]
pub enum Lookup<R> {
    /// A hit, answering this.
    Hit(R),
    /// A miss; the entry stays (say, not valid yet at the time asked).
    Miss,
    /// A miss; the entry is dropped (expired, or computed under data no
    /// longer in force).
    Stale,
}

/// A map bounded to `capacity` entries, split over [`SHARDS`] mutexes so
/// threads rarely contend, each shard evicting its oldest insertion first
/// (a replaced entry counts as newly inserted); removal is O(1), lookups
/// do not allocate, and hits and misses are counted.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    shards: Box<[Mutex<FifoMap<K, V>>]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: ShardKey, V> BoundedMap<K, V> {
    /// At most `capacity` entries, rounded up to a multiple of [`SHARDS`];
    /// 0 stores nothing.
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        // One random SipHash key for all shards (a fresh one per shard
        // costs a thread-local access each and buys nothing).
        let hasher = RandomState::new();
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FifoMap::with_hasher(per_shard, hasher.clone())))
                .collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<FifoMap<K, V>> {
        &self.shards[key.shard() % SHARDS]
    }

    /// Runs `f` on the (locked) shard holding `key`; `None` if the lock is
    /// poisoned. Counts nothing.
    pub(crate) fn with_shard<R>(
        &self,
        key: &K,
        f: impl FnOnce(&mut FifoMap<K, V>) -> R,
    ) -> Option<R> {
        self.shard(key).lock().ok().map(|mut s| f(&mut s))
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Looks `key` up and lets `f` judge the entry under the shard's lock,
    /// counting a hit or a miss (an absent key is a miss).
    pub fn lookup<R>(&self, key: &K, f: impl FnOnce(&V) -> Lookup<R>) -> Option<R> {
        let found = self
            .with_shard(key, |s| match f(s.get(key)?) {
                Lookup::Hit(r) => Some(r),
                Lookup::Miss => None,
                Lookup::Stale => {
                    s.remove(key);
                    None
                }
            })
            .flatten();
        self.count(found.is_some());
        found
    }

    /// Whether `key` is present, counting a hit or a miss.
    pub fn contains(&self, key: &K) -> bool {
        self.lookup(key, |_| Lookup::Hit(())).is_some()
    }

    /// A copy of the value for `key`, counting a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        self.lookup(key, |v| Lookup::Hit(v.clone()))
    }

    /// Inserts or replaces; the shard's oldest insertion goes when full.
    pub fn insert(&self, key: K, value: V) {
        self.with_shard(&key, |s| s.insert(key, value));
    }

    /// Removes and returns the value for `key`.
    pub fn remove(&self, key: &K) -> Option<V> {
        self.with_shard(key, |s| s.remove(key)).flatten()
    }

    /// Keeps only the values `keep` accepts; returns how many were dropped.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) -> usize {
        let mut dropped = 0;
        for s in &self.shards {
            if let Ok(mut s) = s.lock() {
                let before = s.len();
                s.retain(&mut keep);
                dropped += before - s.len();
            }
        }
        dropped
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for s in &self.shards {
            if let Ok(mut s) = s.lock() {
                s.clear();
            }
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// A bounded set of verified edges: certificates whose signature was
/// checked under an issuer certificate's key. Oldest entries are evicted
/// first.
///
/// An edge is keyed on the certificate's [`Cert::signed_content_key`] (its
/// TBS digest, computed for the signature check anyway) and records the
/// issuer certificate's own content key, the algorithm policy and a keyed
/// 64-bit tag of the signature bits (SipHash under a random key of this
/// cache), so nothing is hashed for the cache alone but the signature's
/// tag. A hit needs all four to match: the same TBS under another issuer,
/// policy or signature is checked afresh (and a certificate whose
/// signature was altered after it was verified is refused). Edges are tied
/// to the issuer certificate rather than its bare key: a cross-certified
/// issuer re-verifies the edges below it once.
#[derive(Debug)]
pub struct VerifiedEdgeCache {
    edges: BoundedMap<[u8; 32], EdgeProof>,
    tags: RandomState,
}

/// What a cached edge was verified with; see [`VerifiedEdgeCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EdgeProof {
    issuer: [u8; 32],
    signature_tag: u64,
    policy: AlgorithmPolicy,
}

impl VerifiedEdgeCache {
    /// A cache holding at most `capacity` edges (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            edges: BoundedMap::new(capacity.max(1)),
            tags: RandomState::new(),
        }
    }

    fn proof(&self, issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) -> EdgeProof {
        EdgeProof {
            issuer: issuer.signed_content_key(),
            signature_tag: self.tags.hash_one(cert.signature()),
            policy,
        }
    }

    /// Whether `cert` is known to be signed by `issuer`'s key under `policy`.
    pub fn contains(&self, issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) -> bool {
        let proof = self.proof(issuer, cert, policy);
        self.holds(&cert.signed_content_key(), &proof)
    }

    fn holds(&self, key: &[u8; 32], proof: &EdgeProof) -> bool {
        self.edges
            .lookup(key, |p| {
                if p == proof {
                    Lookup::Hit(())
                } else {
                    Lookup::Miss
                }
            })
            .is_some()
    }

    /// Records a verified edge (one already cached keeps its place in the
    /// eviction order).
    pub fn insert(&self, issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) {
        let proof = self.proof(issuer, cert, policy);
        self.record(cert.signed_content_key(), proof);
    }

    /// Adds an edge by key unless present with the same proof (keeping its
    /// eviction place); another proof for the key replaces the old one.
    fn record(&self, key: [u8; 32], proof: EdgeProof) {
        self.edges.with_shard(&key, |s| {
            if s.get(&key) != Some(&proof) {
                s.insert(key, proof);
            }
        });
    }

    /// `true` at once when the edge is cached; otherwise the answer of
    /// `verify`, recording the edge when it is `true`.
    pub fn contains_or_verify<E>(
        &self,
        issuer: &Cert,
        cert: &Cert,
        policy: AlgorithmPolicy,
        verify: impl FnOnce() -> Result<bool, E>,
    ) -> Result<bool, E> {
        let key = cert.signed_content_key();
        let proof = self.proof(issuer, cert, policy);
        if self.holds(&key, &proof) {
            return Ok(true);
        }
        let ok = verify()?;
        if ok {
            self.record(key, proof);
        }
        Ok(ok)
    }

    /// Forgets every edge (say, after a key compromise is suspected).
    pub fn clear(&self) {
        self.edges.clear();
    }

    /// Number of cached edges.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        self.edges.stats()
    }
}

impl Default for VerifiedEdgeCache {
    fn default() -> Self {
        Self::new(65_536)
    }
}

/// A bounded cache of decoded certificates keyed by the SHA-256 of their
/// DER, so that intermediates sent again and again are decoded once and
/// keep their parsed public key.
#[derive(Debug)]
pub struct CertCache {
    certs: BoundedMap<[u8; 32], Arc<Cert>>,
}

impl CertCache {
    /// A cache of at most `capacity` certificates (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            certs: BoundedMap::new(capacity.max(1)),
        }
    }

    /// The decoded certificate for `der`, decoding and caching it on a miss.
    pub fn get_or_decode(&self, der: &[u8]) -> Result<Arc<Cert>, crate::Error> {
        let key = crate::cert::sha256(der);
        if let Some(c) = self.certs.get(&key) {
            return Ok(c);
        }
        let cert = Arc::new(Cert::from_der(der)?);
        self.certs.insert(key, cert.clone());
        Ok(cert)
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        self.certs.stats()
    }
}

impl Default for CertCache {
    fn default() -> Self {
        Self::new(4_096)
    }
}

/// What a validation answer depends on besides the time and the state of
/// the revocation sources: SHA-256 over the trust configuration
/// ([`crate::TrustStore::config_digest`], which covers tiers, levels,
/// policy maps and revocation policies), the chain as given (leaf, then the
/// intermediates in order: the pool order can change which path is found),
/// and every [`ValidationOptions`] field but the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResultKey([u8; 32]);

impl ShardKey for ResultKey {
    fn shard(&self) -> usize {
        usize::from(self.0[0])
    }
}

impl ResultKey {
    pub fn new(
        validator: &Validator,
        leaf: &Cert,
        intermediates: &[Arc<Cert>],
        opts: &ValidationOptions<'_>,
    ) -> Self {
        // Fixed-size fields as they are, variable-size ones length-prefixed,
        // so the encoding is injective; kept short (SHA-256 costs about
        // 100 ns per 64-byte block here) and hashed in one call, since this
        // runs on every cache hit.
        let p = &opts.policy;
        let mut b: Vec<u8> = Vec::with_capacity(160 + 32 * intermediates.len());
        b.extend_from_slice(validator.trust().config_digest());
        b.extend_from_slice(leaf.fingerprint());
        b.extend_from_slice(&(intermediates.len() as u32).to_be_bytes());
        for c in intermediates {
            b.extend_from_slice(c.fingerprint());
        }
        let purpose = Purpose::ALL
            .iter()
            .position(|x| *x == opts.purpose)
            .unwrap_or(usize::MAX);
        let mut flags = 0u8;
        for (bit, on) in [
            p.initial_explicit_policy,
            p.initial_policy_mapping_inhibit,
            p.initial_any_policy_inhibit,
            opts.revocation.is_some(),
            opts.require_revocation,
            opts.algorithm_policy == AlgorithmPolicy::Legacy,
        ]
        .into_iter()
        .enumerate()
        {
            flags |= u8::from(on) << bit;
        }
        let level = opts.required_level.map_or(0, |l| 1 + l as u8);
        let usages = opts
            .required_key_usage
            .iter()
            .fold(0u16, |acc, u| acc | der::flagset::FlagSet::from(*u).bits());
        b.extend_from_slice(&[purpose as u8, flags, level]);
        b.extend_from_slice(&usages.to_be_bytes());
        b.extend_from_slice(&(opts.max_intermediates as u32).to_be_bytes());
        b.extend_from_slice(&(opts.budget.signatures as u32).to_be_bytes());
        b.extend_from_slice(&(opts.budget.candidates as u32).to_be_bytes());
        let mut var = |tag: u8, bytes: &[u8]| {
            b.push(tag);
            b.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            b.extend_from_slice(bytes);
        };
        match &opts.peer_name {
            None => {}
            Some(PeerName::Dns(d)) => var(1, d.as_bytes()),
            Some(PeerName::Ip(IpAddr::V4(ip))) => var(2, &ip.octets()),
            Some(PeerName::Ip(IpAddr::V6(ip))) => var(2, &ip.octets()),
            Some(PeerName::Email(e)) => var(3, e.as_bytes()),
        }
        for oid in &p.initial_policy_set {
            var(4, oid.as_bytes());
        }
        Self(crate::cert::sha256(&b))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[derive(Debug)]
struct ResultEntry {
    path: Arc<ValidatedPath>,
    validated_at: UnixTime,
    /// Last second at which the answer still holds (inclusive).
    valid_until: UnixTime,
    /// The revocation sources' generation the answer was computed under.
    generation: u64,
}

/// Whole [`ValidatedPath`] results, keyed by [`ResultKey`].
///
/// An entry answers a request at time `t` when `validated_at <= t <=
/// valid_until` and the revocation source's
/// [`generation`](crate::revocation::RevocationSource::generation) is the
/// one it was computed under. `valid_until` is the earliest of: every
/// certificate's notAfter, every CRL's and OCSP response's nextUpdate,
/// thisUpdate plus the tier's revocation `max_age` for good statuses, and
/// `validated_at` plus the cache's maximum TTL (which bounds answers built
/// on sources without nextUpdate and soft-fail answers).
///
/// Only successful validations are cached. A failure is not: the path
/// builder reports the most informative of several candidates' failures,
/// and another candidate may have failed for a reason that passes later
/// (not yet valid, revoked on hold, status unavailable), so no failure is
/// known to be deterministic from the reported error alone.
///
/// Known limit: a CRL entry whose revocation date lies after the
/// validation time counts as good then, and the cached answer is not cut at
/// that date; such entries are not issued by this platform's CAs.
#[derive(Debug)]
pub struct ResultCache {
    entries: BoundedMap<ResultKey, ResultEntry>,
    max_ttl: u64,
}

impl ResultCache {
    /// At most `capacity` results (rounded up to a multiple of 16), each
    /// reused for at most `max_ttl` seconds.
    pub fn new(capacity: usize, max_ttl: u64) -> Self {
        Self {
            entries: BoundedMap::new(capacity.max(1)),
            max_ttl,
        }
    }

    /// Validates through the cache: a current entry is returned as is;
    /// otherwise `validator` runs and a success is stored.
    pub fn validate(
        &self,
        validator: &Validator,
        leaf: &Arc<Cert>,
        intermediates: &[Arc<Cert>],
        opts: &ValidationOptions<'_>,
    ) -> Result<Arc<ValidatedPath>, Error> {
        let key = ResultKey::new(validator, leaf, intermediates, opts);
        // Read before validating: a change during validation leaves the
        // entry with an old generation, so it is never served.
        let generation = opts
            .revocation
            .map_or(0, crate::revocation::RevocationSource::generation);
        if let Some(hit) = self.get(&key, opts.time, generation) {
            return Ok(hit);
        }
        let path = Arc::new(validator.validate(leaf, intermediates, opts)?);
        let until = self.valid_until(validator, &path, opts.time);
        self.insert(key, path.clone(), opts.time, until, generation);
        Ok(path)
    }

    /// The cached answer for `key` at `time` under revocation generation
    /// `generation`, counting a hit or a miss. Entries that no longer hold
    /// are dropped.
    pub fn get(
        &self,
        key: &ResultKey,
        time: UnixTime,
        generation: u64,
    ) -> Option<Arc<ValidatedPath>> {
        self.entries.lookup(key, |e| {
            if e.generation == generation && e.validated_at <= time && time <= e.valid_until {
                Lookup::Hit(e.path.clone())
            } else if e.generation != generation || time > e.valid_until {
                // Expired or computed under other revocation data: never
                // again useful (times only move forward for "now"
                // validations).
                Lookup::Stale
            } else {
                Lookup::Miss
            }
        })
    }

    /// Stores `path`, validated at `validated_at` under revocation
    /// generation `generation`, as holding until `valid_until` (inclusive).
    /// Oldest entries are evicted first.
    pub fn insert(
        &self,
        key: ResultKey,
        path: Arc<ValidatedPath>,
        validated_at: UnixTime,
        valid_until: UnixTime,
        generation: u64,
    ) {
        if valid_until < validated_at {
            return;
        }
        let entry = ResultEntry {
            path,
            validated_at,
            valid_until,
            generation,
        };
        self.entries.insert(key, entry);
    }

    /// The last second at which `path`, validated at `time`, still holds:
    /// see the type's documentation.
    pub fn valid_until(
        &self,
        validator: &Validator,
        path: &ValidatedPath,
        time: UnixTime,
    ) -> UnixTime {
        let max_age = validator.trust().tier(path.tier).revocation.max_age;
        path.reusable_until(time, max_age, self.max_ttl)
    }

    /// Number of cached results (expired ones included until looked up).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (for example after reloading the configuration).
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// (hits, misses) since creation, for the hit-rate metric.
    pub fn stats(&self) -> (u64, u64) {
        self.entries.stats()
    }
}

impl Default for ResultCache {
    /// 65,536 results, each reused for at most an hour.
    fn default() -> Self {
        Self::new(65_536, 3_600)
    }
}

#[cfg(test)]
mod tests {
    use super::{BoundedMap, FifoMap, Lookup, SHARDS};

    #[cfg(feature = "test-ca")]
    #[test]
    fn contains_or_verify_records_only_verified_edges() {
        use crate::signature::AlgorithmPolicy::Default as P;
        let root = crate::testing::TestCa::root("CN=Edge Root,C=MA");
        let r = crate::Cert::from_der(root.cert_der()).unwrap();
        let l = crate::Cert::from_der(root.leaf("CN=e.example.ma", |_| {}).cert_der()).unwrap();
        let c = super::VerifiedEdgeCache::new(16);
        assert_eq!(
            c.contains_or_verify(&r, &l, P, || Ok::<_, ()>(false)),
            Ok(false)
        );
        assert!(!c.contains(&r, &l, P));
        assert_eq!(
            c.contains_or_verify(&r, &l, P, || Ok::<_, ()>(true)),
            Ok(true)
        );
        assert!(c.contains(&r, &l, P));
        assert_eq!(c.contains_or_verify(&r, &l, P, || Err(())), Ok(true));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn bounded_map_splits_its_capacity_over_the_shards() {
        // 2 entries per shard; keys 0, 16, 32, ... share shard 0.
        let m = BoundedMap::<[u8; 32], u32>::new(2 * SHARDS);
        let key = |n: u8| {
            let mut k = [0u8; 32];
            k[0] = n;
            k[1] = n;
            k
        };
        for n in 0..=255u8 {
            m.insert(key(n), u32::from(n));
        }
        assert_eq!(m.len(), 2 * SHARDS);
        // Each shard kept its two latest insertions.
        assert_eq!(m.get(&key(255)), Some(255));
        assert_eq!(m.get(&key(255 - 16)), Some(255 - 16));
        assert_eq!(m.get(&key(255 - 32)), None);
        assert_eq!(m.stats(), (2, 1));
        assert!(m.contains(&key(240)));
        assert!(!m.contains(&key(0)));
        assert_eq!(m.stats(), (3, 2));

        // A stale entry is dropped and counts as a miss; a plain miss keeps it.
        assert_eq!(m.lookup(&key(255), |_| Lookup::<()>::Miss), None);
        assert_eq!(m.get(&key(255)), Some(255));
        assert_eq!(m.lookup(&key(255), |_| Lookup::<()>::Stale), None);
        assert_eq!(m.get(&key(255)), None);
        assert_eq!(m.stats(), (4, 5));

        assert_eq!(m.remove(&key(254)), Some(254));
        assert_eq!(m.remove(&key(254)), None);
        assert_eq!(m.retain(|v| v % 2 == 0), 15);
        assert_eq!(m.len(), 2 * SHARDS - 2 - 15);
        m.clear();
        assert!(m.is_empty());

        let none = BoundedMap::<[u8; 32], u32>::new(0);
        none.insert(key(1), 1);
        assert!(none.is_empty());
    }

    #[test]
    fn fifo_map_stays_bounded_through_replacements_and_removals() {
        let mut m = FifoMap::new(4);
        for round in 0..1000u32 {
            let k = round % 7;
            m.insert(k, round);
            if round % 3 == 0 {
                m.remove(&((round + 1) % 7));
            }
            assert!(m.len() <= 4);
            assert!(m.order.len() <= 2 * 4 + 16 + 1, "{}", m.order.len());
            assert_eq!(m.get(&k), Some(&round), "the latest insertion is kept");
        }
        // The oldest insertion goes first; a re-inserted key counts as new.
        let mut m = FifoMap::new(2);
        m.insert('a', 1);
        m.insert('b', 2);
        m.insert('a', 3);
        m.insert('c', 4);
        assert_eq!(
            (m.get(&'a'), m.get(&'b'), m.get(&'c')),
            (Some(&3), None, Some(&4))
        );
    }
}
