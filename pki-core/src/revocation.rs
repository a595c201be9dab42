//! Revocation status as the path validator sees it, and the trait that CRL
//! sets, OCSP caches and the services implement.

use std::fmt;

use crate::cert::Cert;
use crate::time::UnixTime;

/// RFC 5280 5.3.1 CRLReason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// From the ENUMERATED value (7 is unused in RFC 5280).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    /// Parses the RFC 5280 name (case-insensitive) or the numeric code.
    pub fn parse(s: &str) -> Option<Self> {
        if let Ok(n) = s.parse::<u8>() {
            return Self::from_code(n);
        }
        (0..=10)
            .filter_map(Self::from_code)
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a revocation answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSource {
    /// A CRL, identified by its SHA-256 fingerprint, with its thisUpdate and
    /// nextUpdate.
    Crl {
        fingerprint: [u8; 32],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    },
    /// An OCSP response.
    Ocsp {
        produced_at: UnixTime,
        next_update: Option<UnixTime>,
    },
}

/// The revocation status of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationStatus {
    /// Not revoked, according to `source`.
    Good { source: StatusSource },
    /// Revoked (`reason` certificateHold means on hold).
    Revoked {
        reason: RevocationReason,
        revoked_at: UnixTime,
        invalidity_date: Option<UnixTime>,
        source: StatusSource,
    },
    /// No source could decide; `detail` says why.
    Unknown { detail: String },
}

/// Something that can tell whether a certificate is revoked.
///
/// `path[index]` is the certificate asked about, `path[index + 1]` its
/// issuer; the whole path is given so a CRL signer can be checked against the
/// same anchor (RFC 5280 6.3.3 (f)).
pub trait RevocationSource: Send + Sync {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus;
}
