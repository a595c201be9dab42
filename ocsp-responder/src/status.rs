//! What the responder knows about each serial: an in-memory table loaded
//! from the store and kept current by the change feed, so answers never
//! wait on the database and survive it going away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use dashmap::DashMap;
use pki_core::ocsp::CertStatus;
use pki_core::revocation::RevocationReason;
use serde::Deserialize;

/// What to answer for a serial the CA never issued (RFC 6960 2.2: never
/// `good`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnissuedPolicy {
    /// `unknown` (RFC 6960 2.2, first option). The default: clients then
    /// fall back to other sources or fail closed.
    #[default]
    Unknown,
    /// `revoked`, revocationTime 1970-01-01T00:00:00Z, reason
    /// certificateHold, with the extended-revoke response extension
    /// (RFC 6960 2.2 and 4.4.8).
    Revoked,
}

impl UnissuedPolicy {
    /// The status to sign and whether the extended-revoke extension goes
    /// with it.
    pub fn status(self) -> (CertStatus, bool) {
        match self {
            Self::Unknown => (CertStatus::Unknown, false),
            Self::Revoked => (
                CertStatus::Revoked {
                    revoked_at: SystemTime::UNIX_EPOCH,
                    reason: Some(RevocationReason::CertificateHold),
                },
                true,
            ),
        }
    }
}

/// Status of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Good,
    Revoked {
        revoked_at: SystemTime,
        reason: Option<RevocationReason>,
    },
}

impl Known {
    pub fn cert_status(self) -> CertStatus {
        match self {
            Self::Good => CertStatus::Good,
            Self::Revoked { revoked_at, reason } => CertStatus::Revoked { revoked_at, reason },
        }
    }

    /// From the store's answer; `None` for unissued serials.
    pub fn from_store(status: &store::CertStatus) -> Option<Self> {
        match status {
            store::CertStatus::Good => Some(Self::Good),
            store::CertStatus::Revoked {
                reason, revoked_at, ..
            } => Some(Self::Revoked {
                revoked_at: SystemTime::from(*revoked_at),
                reason: RevocationReason::from_code(reason.code()),
            }),
            store::CertStatus::Unknown => None,
        }
    }
}

/// (issuer index, serial content octets) -> status, with the store change
/// sequence number that set it (the version cached responses are checked
/// against). Bounded by what the store holds for the configured issuers.
#[derive(Debug, Default)]
pub struct StatusTable {
    map: DashMap<StatusKey, (Option<Known>, u64)>,
    /// Entries with a status, kept as they change (so `/metrics` never
    /// walks the map).
    known: AtomicUsize,
}

/// (issuer index, serial content octets).
type StatusKey = (u32, Box<[u8]>);

impl StatusTable {
    pub fn get(&self, issuer: u32, serial: &[u8]) -> Option<Known> {
        self.versioned(issuer, serial).0
    }

    /// The status and its version; `(None, 0)` for a serial never seen.
    pub fn versioned(&self, issuer: u32, serial: &[u8]) -> (Option<Known>, u64) {
        self.map
            .get(&(issuer, Box::from(serial)))
            .map_or((None, 0), |e| *e)
    }

    /// Sets a status (`None`: not issued) as of change `version`.
    pub fn set(&self, issuer: u32, serial: &[u8], known: Option<Known>, version: u64) {
        let old = self
            .map
            .insert((issuer, Box::from(serial)), (known, version));
        match (old.is_some_and(|(k, _)| k.is_some()), known.is_some()) {
            (false, true) => {
                self.known.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.known.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Sets a status learnt outside the change feed, unless the feed has
    /// already said something about this serial.
    pub fn set_if_absent(&self, issuer: u32, serial: &[u8], known: Known, version: u64) {
        if let dashmap::Entry::Vacant(v) = self.map.entry((issuer, Box::from(serial))) {
            v.insert((Some(known), version));
            self.known.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Serials with a status.
    pub fn len(&self) -> usize {
        self.known.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every (issuer, serial, status), a snapshot.
    pub fn entries(&self) -> Vec<(u32, Box<[u8]>, Known)> {
        self.map
            .iter()
            .filter_map(|e| e.value().0.map(|k| (e.key().0, e.key().1.clone(), k)))
            .collect()
    }

    /// Serials of one issuer with a status.
    pub fn count_of(&self, issuer: u32) -> usize {
        self.map
            .iter()
            .filter(|e| e.key().0 == issuer && e.value().0.is_some())
            .count()
    }
}
