//! The verified-edge cache: (issuer key, certificate) pairs whose signature
//! has been checked, so a later validation sharing intermediates skips the
//! signature verification. Bounded; sharded so threads rarely contend.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::cert::Cert;
use crate::signature::AlgorithmPolicy;

const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct Shard {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

/// A bounded set of verified (issuer SPKI hash, certificate hash) edges.
/// Oldest entries are evicted first.
#[derive(Debug)]
pub struct VerifiedEdgeCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl VerifiedEdgeCache {
    /// A cache holding at most `capacity` edges (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn key(issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) -> [u8; 32] {
        let mut buf = [0u8; 65];
        buf[..32].copy_from_slice(issuer.spki_hash());
        buf[32..64].copy_from_slice(cert.fingerprint());
        buf[64] = match policy {
            AlgorithmPolicy::Default => 0,
            AlgorithmPolicy::Legacy => 1,
        };
        crate::cert::sha256(&buf)
    }

    fn shard(&self, key: &[u8; 32]) -> &Mutex<Shard> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// Whether `cert` is known to be signed by `issuer`'s key under `policy`.
    pub fn contains(&self, issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) -> bool {
        let key = Self::key(issuer, cert, policy);
        let hit = self.shard(&key).lock().is_ok_and(|s| s.set.contains(&key));
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Records a verified edge.
    pub fn insert(&self, issuer: &Cert, cert: &Cert, policy: AlgorithmPolicy) {
        let key = Self::key(issuer, cert, policy);
        let Ok(mut s) = self.shard(&key).lock() else {
            return;
        };
        if s.set.insert(key) {
            s.order.push_back(key);
            while s.order.len() > self.per_shard {
                if let Some(old) = s.order.pop_front() {
                    s.set.remove(&old);
                }
            }
        }
    }

    /// Number of cached edges.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.set.len()))
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
    shards: Vec<Mutex<CertShard>>,
    per_shard: usize,
}

#[derive(Debug, Default)]
struct CertShard {
    map: HashMap<[u8; 32], std::sync::Arc<Cert>>,
    order: VecDeque<[u8; 32]>,
}

impl CertCache {
    /// A cache of at most `capacity` certificates (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(CertShard::default()))
                .collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The decoded certificate for `der`, decoding and caching it on a miss.
    pub fn get_or_decode(&self, der: &[u8]) -> Result<std::sync::Arc<Cert>, crate::Error> {
        let key = crate::cert::sha256(der);
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        if let Some(c) = shard.lock().ok().and_then(|s| s.map.get(&key).cloned()) {
            return Ok(c);
        }
        let cert = std::sync::Arc::new(Cert::from_der(der)?);
        if let Ok(mut s) = shard.lock() {
            if s.map.insert(key, cert.clone()).is_none() {
                s.order.push_back(key);
                while s.order.len() > self.per_shard {
                    if let Some(old) = s.order.pop_front() {
                        s.map.remove(&old);
                    }
                }
            }
        }
        Ok(cert)
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.map.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for CertCache {
    fn default() -> Self {
        Self::new(4_096)
    }
}
