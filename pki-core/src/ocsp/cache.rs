//! The client-side OCSP response cache: verified responses kept until their
//! nextUpdate, consulted by the path validator as a [`RevocationSource`].
//!
//! Entries are keyed by issuer key and serial ([`OcspKey`]), whichever hash
//! the response's CertID used, so a SHA-1 answer and a SHA-256 answer about
//! the same certificate share one entry. Only
//! responses that passed [`super::verify::verify_response`] go in; the
//! fetching (HTTP to the AIA responder) is the service layer's.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::verify::{verify_response, OcspError, VerifiedResponse, VerifyOptions};
use crate::cache::{BoundedMap, Lookup, ShardKey};
use crate::cert::Cert;
use crate::revocation::{RevocationSource, RevocationStatus};
use crate::time::UnixTime;

/// Longest serial kept as is in a key; RFC 5280 allows 20 octets (21 with
/// the sign octet). Longer ones are replaced by their SHA-256.
const SERIAL_MAX: usize = 32;

/// The identity of a certificate for the cache: the SHA-256 of its issuer's
/// subjectPublicKeyInfo and its serial number.
///
/// A CertID also hashes the issuer's name, which lets a responder find the
/// CA; here the key alone identifies the CA: a certificate reaches a
/// validated path only if its signature verifies under that key, and one
/// key is one CA's serial-number space. The name is still compared when a
/// response is verified (its CertID must match the issuer's name and key).
/// No hashing on lookup: this runs for every certificate of every
/// validation that consults the cache.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcspKey {
    issuer_key: [u8; 32],
    serial: [u8; SERIAL_MAX],
    /// Octets of `serial` used, or `u8::MAX` when it holds a digest.
    serial_len: u8,
}

impl fmt::Debug for OcspKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serial = &self.serial[..usize::from(self.serial_len).min(SERIAL_MAX)];
        write!(
            f,
            "OcspKey({}/{})",
            crate::cert::hex(&self.issuer_key[..8]),
            crate::cert::hex(serial)
        )
    }
}

impl OcspKey {
    /// The key of serial `serial` (INTEGER content octets) issued by the
    /// holder of `issuer`'s key.
    pub fn new(serial: &[u8], issuer: &Cert) -> Self {
        let mut key = Self {
            issuer_key: *issuer.spki_hash(),
            serial: [0; SERIAL_MAX],
            serial_len: u8::MAX,
        };
        if serial.len() <= SERIAL_MAX {
            key.serial[..serial.len()].copy_from_slice(serial);
            key.serial_len = serial.len() as u8;
        } else {
            key.serial = crate::cert::sha256(serial);
        }
        key
    }

    /// The key of `cert` under `issuer`.
    pub fn for_cert(cert: &Cert, issuer: &Cert) -> Self {
        Self::new(cert.serial(), issuer)
    }
}

impl ShardKey for OcspKey {
    fn shard(&self) -> usize {
        // Serials are random (RFC 5280 / CA/B BR: 64+ bits of entropy);
        // their last octet spreads keys over the shards.
        let spread = self.serial[usize::from(self.serial_len.max(1)).min(SERIAL_MAX) - 1];
        usize::from(spread ^ self.issuer_key[0])
    }
}

/// A bounded, sharded cache of verified OCSP responses; an entry is used
/// up to its [`VerifiedResponse::valid_until`] (the response's nextUpdate)
/// and dropped after. Oldest insertions are evicted first.
#[derive(Debug)]
pub struct OcspCache {
    responses: BoundedMap<OcspKey, VerifiedResponse>,
    generation: AtomicU64,
}

impl OcspCache {
    /// At most `capacity` responses (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        Self {
            responses: BoundedMap::new(capacity.max(1)),
            generation: AtomicU64::new(0),
        }
    }

    /// Stores a verified response. A response older (by thisUpdate) than
    /// the one already cached is ignored; returns whether it was stored.
    ///
    /// The [generation](RevocationSource::generation) grows when the answer
    /// for a certificate may change: a first response for it, or one whose
    /// status differs from the cached one. A refresh with the same status
    /// does not bump it: answers built on the previous response stay
    /// correct, and result caches already stop using them at its nextUpdate.
    pub fn insert(&self, response: VerifiedResponse) -> bool {
        let key = response.key;
        let outcome = self.responses.with_shard(&key, |s| {
            let bump = match s.get(&key) {
                Some(old) if old.this_update > response.this_update => return None,
                Some(old) if *old == response => return Some(false),
                Some(old) => old.status != response.status,
                None => true,
            };
            s.insert(key, response);
            Some(bump)
        });
        let Some(Some(bump)) = outcome else {
            return false;
        };
        if bump {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Verifies `der` as a response about `cert` (issued by `issuer`, with
    /// `nonce` if the request sent one) and caches it: what the service
    /// layer calls with the bytes it fetched from the AIA responder or got
    /// stapled. Returns the verified response; whether it replaced an
    /// older one is visible through [`RevocationSource::generation`].
    pub fn offer(
        &self,
        der: &[u8],
        cert: &Cert,
        issuer: &Cert,
        nonce: Option<&[u8]>,
        opts: &VerifyOptions,
    ) -> Result<VerifiedResponse, OcspError> {
        let r = verify_response(der, cert, issuer, nonce, opts)?;
        self.insert(r.clone());
        Ok(r)
    }

    /// The cached response for `key` usable at `time`, counting a hit or a
    /// miss; an expired one (past nextUpdate) is dropped.
    pub fn get(&self, key: &OcspKey, time: UnixTime) -> Option<VerifiedResponse> {
        self.responses.lookup(key, |r| {
            if time > r.valid_until {
                Lookup::Stale
            } else if r.this_update <= time {
                Lookup::Hit(r.clone())
            } else {
                // A response says nothing about times before its thisUpdate.
                Lookup::Miss
            }
        })
    }

    /// Drops the response for `key`, if any (say, after the responder
    /// reported a key compromise of its own).
    pub fn remove(&self, key: &OcspKey) {
        if self.responses.remove(key).is_some() {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every response whose nextUpdate is before `time`; returns how
    /// many. Lookups drop expired entries too; this is for a periodic sweep.
    pub fn purge_expired(&self, time: UnixTime) -> usize {
        self.responses.retain(|r| r.valid_until >= time)
    }

    pub fn len(&self) -> usize {
        self.responses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        self.responses.stats()
    }
}

impl Default for OcspCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl RevocationSource for OcspCache {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        let (Some(cert), Some(issuer)) = (path.get(index), path.get(index + 1)) else {
            return RevocationStatus::Unknown {
                detail: "no issuer in the path".into(),
            };
        };
        match self.get(&OcspKey::for_cert(cert, issuer), time) {
            Some(r) => r.revocation_status(time),
            None => RevocationStatus::Unknown {
                detail: "no current OCSP response cached".into(),
            },
        }
    }

    /// Grows on every insertion that may change an answer (see
    /// [`OcspCache::insert`]) and every removal; not on expiry or eviction
    /// (a result cache bounds its entries by nextUpdate, and an evicted
    /// response was still correct).
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCa;

    #[test]
    fn keys_separate_issuers_and_serials() {
        let a = Cert::from_der(TestCa::root("CN=A").cert_der()).unwrap();
        let b = Cert::from_der(TestCa::root("CN=A").cert_der()).unwrap();
        assert_eq!(OcspKey::new(&[1, 2], &a), OcspKey::new(&[1, 2], &a));
        assert_ne!(OcspKey::new(&[1, 2], &a), OcspKey::new(&[1, 2], &b));
        assert_ne!(OcspKey::new(&[1, 2], &a), OcspKey::new(&[1, 2, 0], &a));
        assert_ne!(OcspKey::new(&[1], &a), OcspKey::new(&[1, 0], &a));
        let long = [7u8; 40];
        assert_eq!(OcspKey::new(&long, &a), OcspKey::new(&long, &a));
        assert_ne!(OcspKey::new(&long, &a), OcspKey::new(&long[..39], &a));
    }
}
