//! Certification path building (RFC 4158) and validation (RFC 5280 6.1).
//!
//! [`Validator::validate`] checks what depends on the end entity alone
//! (validity, purpose, peer name), then searches depth-first from the end
//! entity towards the trust anchors, trying every candidate issuer whose
//! name matches (with the AKI/SKI pair as a filter, never alone) and
//! backtracking when a candidate fails. Each complete candidate path goes
//! through the full RFC 5280 checks; the first one that passes wins. A
//! [`Budget`] bounds signature checks and candidate paths so a hostile pool
//! of intermediates cannot burn CPU.

mod build;
pub mod policy;
pub mod profile;
mod validate;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::KeyUsages;

use crate::cache::VerifiedEdgeCache;
use crate::cert::Cert;
use crate::name::PeerName;
use crate::oid;
use crate::revocation::{RevocationSource, RevocationStatus};
use crate::signature::AlgorithmPolicy;
use crate::time::UnixTime;
use crate::trust::{AssuranceLevel, TrustStore};
use crate::Error;

pub use policy::{PolicyInputs, PolicyOutcome};
pub use profile::{Finding, Profile};

/// What the end-entity certificate is going to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Purpose {
    /// No particular usage: every extendedKeyUsage is accepted.
    #[default]
    Any,
    /// TLS server (id-kp-serverAuth). Also applies the CA/Browser Forum
    /// Baseline Requirements profile checks for TLS certificates.
    ServerAuth,
    /// TLS client / citizen authentication (id-kp-clientAuth).
    ClientAuth,
    /// S/MIME (id-kp-emailProtection).
    Email,
    /// Code signing (id-kp-codeSigning).
    CodeSigning,
    /// Delegated OCSP responder (id-kp-OCSPSigning).
    OcspSigning,
    /// Document signing (id-kp-documentSigning, RFC 9336, or the Adobe and
    /// Microsoft document-signing purposes); keyUsage nonRepudiation or
    /// digitalSignature.
    DocumentSigning,
}

impl Purpose {
    pub const ALL: [Self; 7] = [
        Self::Any,
        Self::ServerAuth,
        Self::ClientAuth,
        Self::Email,
        Self::CodeSigning,
        Self::OcspSigning,
        Self::DocumentSigning,
    ];

    /// The CLI spelling, e.g. `server-auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ServerAuth => "server-auth",
            Self::ClientAuth => "client-auth",
            Self::Email => "email",
            Self::CodeSigning => "code-signing",
            Self::OcspSigning => "ocsp-signing",
            Self::DocumentSigning => "document-signing",
        }
    }

    /// Extended key usages that satisfy this purpose (besides anyExtendedKeyUsage).
    pub fn key_purposes(self) -> &'static [ObjectIdentifier] {
        match self {
            Self::Any => &[],
            Self::ServerAuth => &[oid::KP_SERVER_AUTH],
            Self::ClientAuth => &[oid::KP_CLIENT_AUTH],
            Self::Email => &[oid::KP_EMAIL_PROTECTION],
            Self::CodeSigning => &[oid::KP_CODE_SIGNING],
            Self::OcspSigning => &[oid::KP_OCSP_SIGNING],
            Self::DocumentSigning => &[
                oid::KP_DOCUMENT_SIGNING,
                oid::KP_ADOBE_DOCUMENT_SIGNING,
                oid::KP_MS_DOCUMENT_SIGNING,
            ],
        }
    }

    /// keyUsage bits of which the end entity needs at least one (when it has
    /// a keyUsage extension), with a name for errors.
    pub(crate) fn key_usages(self) -> Option<(&'static [KeyUsages], &'static str)> {
        use KeyUsages::{DigitalSignature, KeyAgreement, KeyEncipherment, NonRepudiation};
        match self {
            Self::Any => None,
            Self::ServerAuth => Some((
                &[DigitalSignature, KeyEncipherment, KeyAgreement],
                "digitalSignature, keyEncipherment or keyAgreement",
            )),
            Self::ClientAuth => Some((
                &[DigitalSignature, KeyAgreement],
                "digitalSignature or keyAgreement",
            )),
            Self::Email => Some((
                &[
                    DigitalSignature,
                    NonRepudiation,
                    KeyEncipherment,
                    KeyAgreement,
                ],
                "digitalSignature, nonRepudiation, keyEncipherment or keyAgreement",
            )),
            Self::CodeSigning => Some((&[DigitalSignature], "digitalSignature")),
            Self::OcspSigning => Some((
                &[DigitalSignature, NonRepudiation],
                "digitalSignature or nonRepudiation",
            )),
            Self::DocumentSigning => Some((
                &[NonRepudiation, DigitalSignature],
                "nonRepudiation or digitalSignature",
            )),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown purpose {s:?} (expected one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// Limits on the work one validation may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Signature verifications (cache hits do not count).
    pub signatures: usize,
    /// Issuer candidates considered while building.
    pub candidates: usize,
}

impl Default for Budget {
    fn default() -> Self {
        // rustls-webpki allows 100 signature checks; the candidate bound
        // keeps pathological pools (many same-named CAs) linear.
        Self {
            signatures: 100,
            candidates: 2_000,
        }
    }
}

/// Hard bound on the number of certificates in a path, whatever the options.
pub const MAX_PATH_LEN: usize = 16;

/// Caller inputs of one validation.
#[derive(Clone)]
pub struct ValidationOptions<'a> {
    /// Validation time.
    pub time: UnixTime,
    pub purpose: Purpose,
    /// Name the end entity must be valid for.
    pub peer_name: Option<PeerName>,
    /// Most intermediates allowed between the end entity and the anchor
    /// (self-issued intermediates, such as key-rollover certificates, do not
    /// count, as in RFC 5280 6.1.4 (l)).
    pub max_intermediates: usize,
    pub algorithm_policy: AlgorithmPolicy,
    /// RFC 5280 6.1.1 (c), (e), (f), (g).
    pub policy: PolicyInputs,
    /// Whether issuance-profile findings are errors; `None` takes
    /// [`Profile::default_for`] the purpose.
    pub profile: Option<Profile>,
    /// Fail unless the path reaches at least this level.
    pub required_level: Option<AssuranceLevel>,
    /// keyUsage bits the end entity must assert (all of them).
    pub required_key_usage: Vec<KeyUsages>,
    /// Where to look up revocation status; `None` skips revocation checking.
    pub revocation: Option<&'a dyn RevocationSource>,
    /// Every certificate but the anchor needs a current status from
    /// `revocation`; otherwise `Unknown` is reported and accepted.
    pub require_revocation: bool,
    pub budget: Budget,
}

impl fmt::Debug for ValidationOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationOptions")
            .field("time", &self.time)
            .field("purpose", &self.purpose)
            .field("peer_name", &self.peer_name)
            .field("max_intermediates", &self.max_intermediates)
            .field("algorithm_policy", &self.algorithm_policy)
            .field("policy", &self.policy)
            .field("profile", &self.profile)
            .field("required_level", &self.required_level)
            .field("revocation", &self.revocation.is_some())
            .field("require_revocation", &self.require_revocation)
            .finish_non_exhaustive()
    }
}

impl ValidationOptions<'_> {
    /// The profile in force for a path to `tier`: the one set here, else
    /// the tier's, else the purpose's default.
    pub fn profile_for(&self, tier: &crate::trust::Tier) -> Profile {
        self.profile
            .or(tier.profile)
            .unwrap_or_else(|| Profile::default_for(self.purpose))
    }

    /// The profile in force when no tier sets one.
    pub fn profile(&self) -> Profile {
        self.profile
            .unwrap_or_else(|| Profile::default_for(self.purpose))
    }

    /// Defaults: any purpose, no peer name, at most 8 intermediates, the
    /// default algorithm policy, no policy requirements, no revocation.
    pub fn at(time: UnixTime) -> Self {
        Self {
            time,
            purpose: Purpose::Any,
            peer_name: None,
            max_intermediates: 8,
            algorithm_policy: AlgorithmPolicy::Default,
            policy: PolicyInputs::default(),
            profile: None,
            required_level: None,
            required_key_usage: Vec::new(),
            revocation: None,
            require_revocation: false,
            budget: Budget::default(),
        }
    }
}

/// A validated path and everything learnt while validating it.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    /// End entity first, trust anchor last.
    pub certs: Vec<Arc<Cert>>,
    /// Index of the tier in the trust store, and its name.
    pub tier: usize,
    pub tier_name: String,
    /// Assurance level reached.
    pub level: AssuranceLevel,
    /// RFC 5280 6.1.5 (g) output.
    pub policies: PolicyOutcome,
    /// Revocation status per certificate (the anchor has none).
    pub revocation: Vec<RevocationStatus>,
    /// Legacy algorithms and key sizes the path relies on.
    pub legacy: Vec<String>,
    /// Things a reviewer should know that did not fail validation.
    pub warnings: Vec<String>,
    /// Issuance-profile rules the path's certificates break (empty under
    /// the strict profile, where they are errors).
    pub findings: Vec<Finding>,
    /// The profile the path was validated under.
    pub profile: Profile,
}

impl ValidatedPath {
    pub fn anchor(&self) -> &Arc<Cert> {
        // A path always ends with its anchor: invariant of the builder.
        self.certs.last().expect("validated path is never empty")
    }

    /// The last second at which this verdict, reached at `time`, may be
    /// reused without validating again: the earliest notAfter of the path,
    /// the nextUpdate of every revocation status used, thisUpdate +
    /// `max_age` of every good status when the tier bounds a status's age
    /// (`max_age`, from the tier's revocation policy), and `time +
    /// max_ttl`. The one rule of every result cache.
    pub fn reusable_until(&self, time: UnixTime, max_age: Option<u64>, max_ttl: u64) -> UnixTime {
        let mut until = self.earliest_not_after().min(time.plus(max_ttl));
        for status in &self.revocation {
            let Some(src) = status.source() else {
                continue;
            };
            if let Some(next) = src.next_update() {
                until = until.min(next);
            }
            if let (Some(max), RevocationStatus::Good { .. }) = (max_age, status) {
                until = until.min(src.this_update().plus(max));
            }
        }
        until
    }

    /// The earliest notAfter of the path's certificates.
    pub fn earliest_not_after(&self) -> UnixTime {
        self.certs
            .iter()
            .map(|c| c.not_after())
            .min()
            .unwrap_or(UnixTime(0))
    }
}

/// The path validation engine: trust store plus the verified-edge cache.
#[derive(Debug)]
pub struct Validator {
    trust: TrustStore,
    edges: VerifiedEdgeCache,
}

impl Validator {
    pub fn new(trust: TrustStore) -> Self {
        Self::with_cache(trust, VerifiedEdgeCache::default())
    }

    pub fn with_cache(trust: TrustStore, edges: VerifiedEdgeCache) -> Self {
        Self { trust, edges }
    }

    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    pub fn edge_cache(&self) -> &VerifiedEdgeCache {
        &self.edges
    }

    /// Builds and validates a path from `leaf` to one of the trust anchors,
    /// using `intermediates` (in any order, possibly with unrelated
    /// certificates) as candidate issuers.
    pub fn validate(
        &self,
        leaf: &Arc<Cert>,
        intermediates: &[Arc<Cert>],
        opts: &ValidationOptions<'_>,
    ) -> Result<ValidatedPath, Error> {
        let notes = validate::check_end_entity(leaf, opts)?;
        build::Builder::new(self, intermediates, opts, notes).run(leaf)
    }
}
