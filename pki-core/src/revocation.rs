//! Revocation status as the path validator sees it, the trait that CRL
//! sets, OCSP caches and the services implement, and [`TieredRevocation`],
//! which consults them in the order a tier's [`RevocationPolicy`] says.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cert::Cert;
use crate::time::UnixTime;
use crate::trust::{RevocationMethod, RevocationPolicy};

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

/// Where a revocation answer came from, and how fresh it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSource {
    /// A CRL, identified by its SHA-256 fingerprint, with its thisUpdate and
    /// nextUpdate.
    Crl {
        fingerprint: [u8; 32],
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    },
    /// An OCSP response (RFC 6960 4.2.1: producedAt of the response,
    /// thisUpdate and nextUpdate of its SingleResponse).
    Ocsp {
        produced_at: UnixTime,
        this_update: UnixTime,
        next_update: Option<UnixTime>,
    },
}

impl StatusSource {
    /// Which kind of source answered.
    pub fn method(&self) -> RevocationMethod {
        match self {
            Self::Crl { .. } => RevocationMethod::Crl,
            Self::Ocsp { .. } => RevocationMethod::Ocsp,
        }
    }

    /// When the status was known to be correct (CRL and OCSP thisUpdate).
    pub fn this_update(&self) -> UnixTime {
        match self {
            Self::Crl { this_update, .. } | Self::Ocsp { this_update, .. } => *this_update,
        }
    }

    /// When newer information will be available, if the source says.
    pub fn next_update(&self) -> Option<UnixTime> {
        match self {
            Self::Crl { next_update, .. } | Self::Ocsp { next_update, .. } => *next_update,
        }
    }

    /// Seconds from thisUpdate to `time` (0 when thisUpdate is later).
    pub fn age_at(&self, time: UnixTime) -> u64 {
        time.seconds_since(self.this_update())
    }
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

impl RevocationStatus {
    /// The source that decided, for `Good` and `Revoked`.
    pub fn source(&self) -> Option<&StatusSource> {
        match self {
            Self::Good { source } | Self::Revoked { source, .. } => Some(source),
            Self::Unknown { .. } => None,
        }
    }
}

/// Something that can tell whether a certificate is revoked.
///
/// `path[index]` is the certificate asked about, `path[index + 1]` its
/// issuer; the whole path is given so a CRL signer can be checked against the
/// same anchor (RFC 5280 6.3.3 (f)).
pub trait RevocationSource: Send + Sync {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus;

    /// The status under the revocation policy of the tier the path reached.
    /// The path validator calls this one. A single source (a CRL set, an
    /// OCSP cache) has nothing to choose and answers as [`Self::status`];
    /// [`TieredRevocation`] picks and orders its sources by `policy`.
    fn status_under(
        &self,
        path: &[&Cert],
        index: usize,
        time: UnixTime,
        policy: &RevocationPolicy,
    ) -> RevocationStatus {
        let _ = policy;
        self.status(path, index, time)
    }

    /// A counter that grows whenever an answer of this source may have
    /// changed (a CRL loaded or replaced, an OCSP response cached or
    /// expired). Result caches drop answers computed under an older
    /// generation. A source that never changes keeps the default 0.
    fn generation(&self) -> u64 {
        0
    }
}

/// Consults a CRL source and an OCSP source in the order and with the
/// failure mode of each tier's [`RevocationPolicy`].
///
/// The first source that answers `Good` or `Revoked` decides; when none
/// does, the `Unknown` detail lists why each one could not, so a hard-fail
/// error says exactly what was missing. A status older than the policy's
/// `max_age` counts as unavailable, except a revocation other than
/// certificateHold, which is final whatever its age.
///
/// The CRL and OCSP slots take any [`RevocationSource`] (a `CrlSet`, a CRL
/// cache, an `OcspCache`), so those plug in unchanged.
pub struct TieredRevocation {
    crl: Option<Arc<dyn RevocationSource>>,
    ocsp: Option<Arc<dyn RevocationSource>>,
    /// Policy used by [`RevocationSource::status`], when no tier is known.
    default_policy: RevocationPolicy,
    /// Bumped by [`TieredRevocation::note_change`].
    changes: AtomicU64,
}

impl fmt::Debug for TieredRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredRevocation")
            .field("crl", &self.crl.is_some())
            .field("ocsp", &self.ocsp.is_some())
            .field("default_policy", &self.default_policy)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Default for TieredRevocation {
    fn default() -> Self {
        Self::new()
    }
}

impl TieredRevocation {
    /// No sources yet; the default policy is CRL then OCSP, soft-fail.
    pub fn new() -> Self {
        Self {
            crl: None,
            ocsp: None,
            default_policy: RevocationPolicy::default(),
            changes: AtomicU64::new(0),
        }
    }

    /// The source asked when a policy names [`RevocationMethod::Crl`].
    #[must_use]
    pub fn with_crl(mut self, source: Arc<dyn RevocationSource>) -> Self {
        self.crl = Some(source);
        self
    }

    /// The source asked when a policy names [`RevocationMethod::Ocsp`].
    #[must_use]
    pub fn with_ocsp(mut self, source: Arc<dyn RevocationSource>) -> Self {
        self.ocsp = Some(source);
        self
    }

    /// The policy for callers that ask without a tier ([`RevocationSource::status`]).
    #[must_use]
    pub fn with_default_policy(mut self, policy: RevocationPolicy) -> Self {
        self.default_policy = policy;
        self
    }

    pub fn source(&self, method: RevocationMethod) -> Option<&Arc<dyn RevocationSource>> {
        match method {
            RevocationMethod::Crl => self.crl.as_ref(),
            RevocationMethod::Ocsp => self.ocsp.as_ref(),
        }
    }

    /// Records that something behind a source changed that the source does
    /// not count itself (for example a CRL set rebuilt in place by its owner).
    pub fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The status of `path[index]` under `policy`. A policy that names no
    /// method (a tier that does not check revocation, asked anyway because
    /// the caller requires a status) is answered under the default policy.
    pub fn check(
        &self,
        path: &[&Cert],
        index: usize,
        time: UnixTime,
        policy: &RevocationPolicy,
    ) -> RevocationStatus {
        let policy = if policy.checks() {
            policy
        } else {
            &self.default_policy
        };
        if !policy.checks() {
            return RevocationStatus::Unknown {
                detail: "the revocation policy names no source".into(),
            };
        }
        let mut why = Vec::with_capacity(policy.methods.len());
        for method in &policy.methods {
            let Some(source) = self.source(*method) else {
                why.push(format!("{method}: no source configured"));
                continue;
            };
            let status = source.status(path, index, time);
            let (final_revocation, src) = match &status {
                RevocationStatus::Unknown { detail } => {
                    why.push(format!("{method}: {detail}"));
                    continue;
                }
                RevocationStatus::Revoked { reason, source, .. } => {
                    (*reason != RevocationReason::CertificateHold, source)
                }
                RevocationStatus::Good { source } => (false, source),
            };
            if let Some(max) = policy.max_age {
                let age = src.age_at(time);
                if age > max && !final_revocation {
                    why.push(format!(
                        "{method}: status from {} is {age} s old, over the tier's {max} s maximum",
                        src.this_update()
                    ));
                    continue;
                }
            }
            return status;
        }
        RevocationStatus::Unknown {
            detail: why.join("; "),
        }
    }
}

impl RevocationSource for TieredRevocation {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        self.check(path, index, time, &self.default_policy)
    }

    fn status_under(
        &self,
        path: &[&Cert],
        index: usize,
        time: UnixTime,
        policy: &RevocationPolicy,
    ) -> RevocationStatus {
        self.check(path, index, time, policy)
    }

    /// The sum of the sources' generations and of the changes noted here:
    /// it grows whenever any of them does.
    fn generation(&self) -> u64 {
        let sources = [&self.crl, &self.ocsp]
            .into_iter()
            .flatten()
            .map(|s| s.generation())
            .fold(0u64, u64::wrapping_add);
        sources.wrapping_add(self.changes.load(Ordering::Relaxed))
    }
}
