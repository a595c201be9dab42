//! The pre-signed response cache: ready-to-write bytes per (issuer, CertID
//! hash algorithm, serial), bounded in entries.

use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;
use pki_core::ocsp::HashAlgorithm;

use crate::issuer::Ready;

/// Cache key: issuer index, CertID hash algorithm, serial content octets.
pub type CacheKey = (u32, HashAlgorithm, Box<[u8]>);

/// Stored keys are packed as issuer (4 octets, big-endian), hash (1 octet),
/// serial: a lookup builds that on the stack and borrows it as `[u8]`, with
/// no allocation on the hot path.
#[derive(Debug)]
pub struct ResponseCache {
    map: DashMap<Box<[u8]>, Arc<Ready>>,
    capacity: usize,
}

/// Longest serial a `SerialNumber` decodes (20 octets plus a sign octet).
const MAX_SERIAL: usize = 21;

fn hash_code(hash: HashAlgorithm) -> u8 {
    match hash {
        HashAlgorithm::Sha1 => 1,
        HashAlgorithm::Sha256 => 2,
    }
}

/// Calls `f` with the packed key.
fn with_key<T>(issuer: u32, hash: HashAlgorithm, serial: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let mut buf = [0u8; 5 + MAX_SERIAL];
    if serial.len() <= MAX_SERIAL {
        buf[..4].copy_from_slice(&issuer.to_be_bytes());
        buf[4] = hash_code(hash);
        buf[5..5 + serial.len()].copy_from_slice(serial);
        f(&buf[..5 + serial.len()])
    } else {
        let mut v = Vec::with_capacity(5 + serial.len());
        v.extend_from_slice(&issuer.to_be_bytes());
        v.push(hash_code(hash));
        v.extend_from_slice(serial);
        f(&v)
    }
}

/// The packed key, owned.
pub fn pack(issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Box<[u8]> {
    with_key(issuer, hash, serial, |k| Box::from(k))
}

fn unpack(key: &[u8]) -> Option<CacheKey> {
    let issuer = u32::from_be_bytes(key.get(..4)?.try_into().ok()?);
    let hash = match key.get(4)? {
        1 => HashAlgorithm::Sha1,
        2 => HashAlgorithm::Sha256,
        _ => return None,
    };
    Some((issuer, hash, Box::from(&key[5..])))
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: DashMap::with_capacity(capacity.min(1 << 20)),
            capacity,
        }
    }

    pub fn get(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) -> Option<Arc<Ready>> {
        with_key(issuer, hash, serial, |k| {
            self.map.get(k).map(|e| Arc::clone(e.value()))
        })
    }

    /// Inserts or replaces; refuses a new key when full (returns false).
    pub fn put(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8], ready: Arc<Ready>) -> bool {
        with_key(issuer, hash, serial, |k| {
            if let Some(mut e) = self.map.get_mut(k) {
                *e = ready;
                return true;
            }
            if self.map.len() >= self.capacity {
                return false;
            }
            self.map.insert(Box::from(k), ready);
            true
        })
    }

    pub fn remove(&self, issuer: u32, hash: HashAlgorithm, serial: &[u8]) {
        with_key(issuer, hash, serial, |k| self.map.remove(k));
    }

    /// Drops every response of `issuer` (its signing identity changed).
    pub fn clear_issuer(&self, issuer: u32) {
        let prefix = issuer.to_be_bytes();
        self.map.retain(|k, _| !k.starts_with(&prefix));
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
                keys.extend(unpack(e.key()));
            }
        }
        (keys, oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ready(at: u64) -> Arc<Ready> {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(at);
        Arc::new(Ready::new(vec![0x30, 0x00], t, t + Duration::from_secs(60)))
    }

    #[test]
    fn keys_separate_issuer_hash_and_serial_and_capacity_holds() {
        let cache = ResponseCache::new(3);
        assert!(cache.put(0, HashAlgorithm::Sha1, &[1], ready(10)));
        assert!(cache.put(1, HashAlgorithm::Sha1, &[1], ready(20)));
        assert!(cache.put(0, HashAlgorithm::Sha256, &[1], ready(30)));
        assert!(!cache.put(0, HashAlgorithm::Sha1, &[2], ready(40)), "full");
        assert!(
            cache.put(0, HashAlgorithm::Sha1, &[1], ready(50)),
            "replace when full"
        );
        assert_eq!(cache.len(), 3);
        let t = |r: Arc<Ready>| {
            r.this_update
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(t(cache.get(0, HashAlgorithm::Sha1, &[1]).unwrap()), 50);
        assert_eq!(t(cache.get(1, HashAlgorithm::Sha1, &[1]).unwrap()), 20);
        assert!(cache.get(0, HashAlgorithm::Sha1, &[1, 0]).is_none());
        let long = [7u8; 30];
        assert!(cache.get(0, HashAlgorithm::Sha1, &long).is_none());
        let (old, oldest) = cache.older_than(SystemTime::UNIX_EPOCH + Duration::from_secs(35));
        assert_eq!(old.len(), 2);
        assert!(old.contains(&(1, HashAlgorithm::Sha1, Box::from(&[1u8][..]))));
        assert_eq!(
            oldest,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(20))
        );
        cache.remove(1, HashAlgorithm::Sha1, &[1]);
        assert_eq!(cache.len(), 2);
    }
}
