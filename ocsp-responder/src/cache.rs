//! The pre-signed response cache: ready-to-write bytes per (issuer, CertID
//! hash algorithm, serial), bounded in entries.

use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;
use pki_core::ocsp::HashAlgorithm;

use crate::issuer::Ready;

/// Cache key: issuer index, CertID hash algorithm, serial content octets.
pub type CacheKey = (u32, HashAlgorithm, Box<[u8]>);

#[derive(Debug)]
pub struct ResponseCache {
    map: DashMap<CacheKey, Arc<Ready>>,
    capacity: usize,
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: DashMap::with_capacity(capacity.min(1 << 20)),
            capacity,
        }
    }

    pub fn get(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Option<Arc<Ready>> {
        self.map
            .get(&(issuer, hash, Box::from(serial)))
            .map(|e| Arc::clone(e.value()))
    }

    /// Inserts or replaces; refuses a new key when full (returns false).
    pub fn put(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8], ready: Arc<Ready>) -> bool {
        let key = (issuer, hash, Box::from(serial));
        if let Some(mut e) = self.map.get_mut(&key) {
            *e = ready;
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(key, ready);
        true
    }

    pub fn remove(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) {
        self.map.remove(&(issuer, hash, Box::from(serial)));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys of responses produced before `cutoff`, and the oldest
    /// thisUpdate seen.
    pub fn older_than(&self, cutoff: SystemTime) -> (Vec<CacheKey>, Option<SystemTime>) {
        let mut oldest: Option<SystemTime> = None;
        let mut keys = Vec::new();
        for e in &self.map {
            let t = e.value().this_update;
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
            if t < cutoff {
                keys.push(e.key().clone());
            }
        }
        (keys, oldest)
    }
}
