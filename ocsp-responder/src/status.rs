//! What the responder knows about each serial: an in-memory table loaded
//! from the store and kept current by the change feed, so answers never
//! wait on the database and survive it going away.

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

/// (issuer index, serial content octets) -> status. Bounded by what the
/// store holds for the configured issuers.
#[derive(Debug, Default)]
pub struct StatusTable {
    map: DashMap<(u32, Box<[u8]>), Known>,
}

impl StatusTable {
    pub fn get(&self, issuer: u32, serial: &[u8]) -> Option<Known> {
        self.map.get(&(issuer, Box::from(serial))).map(|e| *e)
    }

    /// Sets a status; returns whether it changed.
    pub fn set(&self, issuer: u32, serial: &[u8], known: Known) -> bool {
        self.map.insert((issuer, Box::from(serial)), known) != Some(known)
    }

    pub fn remove(&self, issuer: u32, serial: &[u8]) {
        self.map.remove(&(issuer, Box::from(serial)));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every (issuer, serial, status), a snapshot.
    pub fn entries(&self) -> Vec<(u32, Box<[u8]>, Known)> {
        self.map
            .iter()
            .map(|e| (e.key().0, e.key().1.clone(), *e.value()))
            .collect()
    }

    /// Serials of one issuer, a snapshot.
    pub fn serials_of(&self, issuer: u32) -> Vec<Box<[u8]>> {
        self.map
            .iter()
            .filter(|e| e.key().0 == issuer)
            .map(|e| e.key().1.clone())
            .collect()
    }
}
