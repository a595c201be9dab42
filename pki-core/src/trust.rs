//! Trust anchors grouped into tiers of trust, each with an assurance level.
//!
//! A tier is a named trust domain ("cnie", "qualified", "ttp", ...) with its
//! own anchors and a map from certificate policy OIDs to assurance levels,
//! in the spirit of Law 43-20 and the eIDAS levels of assurance.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use const_oid::ObjectIdentifier;

use crate::cert::Cert;

/// Level of assurance, ordered: `Low < Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssuranceLevel {
    Low,
    Substantial,
    High,
}

impl AssuranceLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Substantial => "substantial",
            Self::High => "high",
        }
    }
}

impl fmt::Display for AssuranceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssuranceLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Self::Low),
            "substantial" => Ok(Self::Substantial),
            "high" => Ok(Self::High),
            other => Err(format!(
                "unknown assurance level {other:?} (expected low, substantial or high)"
            )),
        }
    }
}

/// A way of learning whether a certificate is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationMethod {
    /// RFC 5280 section 5 CRLs (the in-memory CRL cache).
    Crl,
    /// RFC 6960 OCSP responses (the OCSP response cache).
    Ocsp,
}

impl RevocationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crl => "crl",
            Self::Ocsp => "ocsp",
        }
    }
}

impl fmt::Display for RevocationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when no source gives a usable status for a certificate
/// (no CRL, an expired CRL, no or a stale OCSP response, `unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnUnavailable {
    /// Reject the path with [`crate::Error::RevocationStatusUnavailable`].
    HardFail,
    /// Accept the path and say so in [`crate::ValidatedPath::warnings`].
    SoftFail,
}

/// How a tier checks revocation (RFC 5280 6.3, RFC 6960).
///
/// `methods` are consulted in order for every certificate of the path but
/// the anchor; the first that gives a usable answer (good or revoked)
/// decides, the next is asked only when the previous one cannot. An empty
/// list disables revocation checking for the tier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RevocationPolicy {
    pub methods: Vec<RevocationMethod>,
    pub on_unavailable: OnUnavailable,
    /// A status whose thisUpdate is more than this many seconds before the
    /// validation time is treated as unavailable, even before its
    /// nextUpdate. `None`: nextUpdate alone bounds freshness.
    pub max_age: Option<u64>,
}

impl RevocationPolicy {
    /// These methods in this order; a certificate without a usable status
    /// is accepted with a warning.
    pub fn soft_fail(methods: &[RevocationMethod]) -> Self {
        Self {
            methods: methods.to_vec(),
            on_unavailable: OnUnavailable::SoftFail,
            max_age: None,
        }
    }

    /// These methods in this order; a certificate without a usable status
    /// rejects the path.
    pub fn hard_fail(methods: &[RevocationMethod]) -> Self {
        Self {
            methods: methods.to_vec(),
            on_unavailable: OnUnavailable::HardFail,
            max_age: None,
        }
    }

    /// No revocation checking at all.
    pub fn none() -> Self {
        Self::soft_fail(&[])
    }

    /// Whether the tier checks revocation at all.
    pub fn checks(&self) -> bool {
        !self.methods.is_empty()
    }

    /// Whether a missing status rejects the path.
    pub fn is_hard_fail(&self) -> bool {
        self.checks() && self.on_unavailable == OnUnavailable::HardFail
    }
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        Self::soft_fail(&[RevocationMethod::Crl, RevocationMethod::Ocsp])
    }
}

/// A named trust domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    /// The highest level a path to this tier's anchors can reach.
    pub level: AssuranceLevel,
    /// Certificate policy OID -> level. When non-empty, a path reaches the
    /// highest level among its valid policies that appear here (capped at
    /// `level`), and a path with none of them reaches no level.
    pub policy_levels: Vec<(ObjectIdentifier, AssuranceLevel)>,
    /// Which revocation sources the tier consults, in which order, and
    /// whether a missing status fails the path.
    pub revocation: RevocationPolicy,
    /// Whether issuance-profile findings fail paths to this tier; `None`
    /// takes the purpose's default ([`crate::path::Profile::default_for`]).
    /// A profile set in the validation options wins over both.
    pub profile: Option<crate::path::Profile>,
}

impl Tier {
    /// A tier with no policy map and the default revocation policy (CRL then
    /// OCSP, soft-fail).
    pub fn new(name: impl Into<String>, level: AssuranceLevel) -> Self {
        Self {
            name: name.into(),
            level,
            policy_levels: Vec::new(),
            revocation: RevocationPolicy::default(),
            profile: None,
        }
    }

    /// The same tier with this issuance profile.
    #[must_use]
    pub fn with_profile(mut self, profile: crate::path::Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// The same tier with another revocation policy.
    #[must_use]
    pub fn with_revocation(mut self, policy: RevocationPolicy) -> Self {
        self.revocation = policy;
        self
    }

    /// The level a path reaches given its valid policy set.
    pub fn level_for(&self, valid_policies: &[ObjectIdentifier]) -> Option<AssuranceLevel> {
        if self.policy_levels.is_empty() {
            return Some(self.level);
        }
        self.policy_levels
            .iter()
            .filter(|(oid, _)| valid_policies.contains(oid))
            .map(|(_, l)| *l)
            .max()
            .map(|l| l.min(self.level))
    }
}

/// A trust anchor and the tier it belongs to.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub cert: Arc<Cert>,
    pub tier: usize,
}

/// Why a trust store could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("tier {0:?} is defined twice")]
    DuplicateTier(String),
    #[error("no tier named {0:?}")]
    UnknownTier(String),
    #[error("anchor {subject} is already in tier {tier:?}")]
    DuplicateAnchor { subject: String, tier: String },
}

/// Trust anchors grouped by tier, indexed by subject for path building.
/// Cloning is cheap (the contents are shared, and copied on the next
/// change), so every validator can hold its own.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    inner: Arc<TrustInner>,
}

#[derive(Debug, Clone, Default)]
struct TrustInner {
    tiers: Vec<Tier>,
    anchors: Vec<Anchor>,
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
    /// Running SHA-256 over every tier and anchor added, in order.
    digest: [u8; 32],
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tier; names are unique.
    pub fn add_tier(&mut self, tier: Tier) -> Result<usize, TrustError> {
        let me = Arc::make_mut(&mut self.inner);
        if me.tiers.iter().any(|t| t.name == tier.name) {
            return Err(TrustError::DuplicateTier(tier.name));
        }
        me.digest = chain_digest(&me.digest, b'T', format!("{tier:?}").as_bytes());
        me.tiers.push(tier);
        Ok(me.tiers.len() - 1)
    }

    /// Adds an anchor to the named tier. The same certificate may not be
    /// trusted twice (it would make the reached tier ambiguous).
    pub fn add_anchor(&mut self, tier: &str, cert: Arc<Cert>) -> Result<(), TrustError> {
        let me = Arc::make_mut(&mut self.inner);
        let t = me
            .tiers
            .iter()
            .position(|t| t.name == tier)
            .ok_or_else(|| TrustError::UnknownTier(tier.to_owned()))?;
        if let Some(a) = me
            .anchors
            .iter()
            .find(|a| a.cert.fingerprint() == cert.fingerprint())
        {
            return Err(TrustError::DuplicateAnchor {
                subject: cert.subject_string(),
                tier: me.tiers[a.tier].name.clone(),
            });
        }
        let key = subject_key(&cert);
        let mut item = cert.fingerprint().to_vec();
        item.extend_from_slice(tier.as_bytes());
        me.digest = chain_digest(&me.digest, b'A', &item);
        me.anchors.push(Anchor { cert, tier: t });
        me.by_subject
            .entry(key)
            .or_default()
            .push(me.anchors.len() - 1);
        Ok(())
    }

    /// Identity of this configuration (tiers with their levels, policy maps
    /// and revocation policies, anchors and their tiers, in the order they
    /// were added): two stores with the same digest give the same answers.
    /// Result caches key on it, so a reconfigured validator never reuses an
    /// answer computed under the old configuration. Stable within one
    /// process (it hashes the `Debug` form of each tier), not across builds.
    pub fn config_digest(&self) -> &[u8; 32] {
        &self.inner.digest
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.inner.tiers
    }

    pub fn tier(&self, index: usize) -> &Tier {
        &self.inner.tiers[index]
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.inner.anchors
    }

    /// Anchors whose subject names the issuer of `child`, keyed on the
    /// issuer's encoding as it appears in `child` (no re-encoding).
    /// Yields them without allocating.
    pub fn anchors_issuing<'a>(&'a self, child: &'a Cert) -> impl Iterator<Item = &'a Anchor> {
        self.anchors_matching(child.issuer_der(), move |a| {
            a.cert.subject_names_issuer_of(child)
        })
    }

    /// Anchors whose subject is the DER name `name` (say, a CRL's issuer as
    /// encoded), compared as [`crate::name::names_der_equal`] does.
    pub fn anchors_with_subject(&self, name: &[u8]) -> Vec<&Anchor> {
        self.anchors_matching(name, |a| {
            crate::name::names_der_equal(a.cert.subject_der(), name)
        })
        .collect()
    }

    /// The anchors indexed under the exact encoding `name`; when none is,
    /// every anchor that `same` (an RFC 5280 7.1 comparison) accepts.
    fn anchors_matching<'a, F: Fn(&Anchor) -> bool>(
        &'a self,
        name: &[u8],
        same: F,
    ) -> impl Iterator<Item = &'a Anchor> + use<'a, F> {
        let indexed = self.inner.by_subject.get(name);
        let compared = match indexed {
            Some(_) => None,
            None => Some(self.inner.anchors.iter().filter(move |a| same(a))),
        };
        indexed
            .into_iter()
            .flatten()
            .map(|i| &self.inner.anchors[*i])
            .chain(compared.into_iter().flatten())
    }
}

fn chain_digest(prev: &[u8; 32], kind: u8, item: &[u8]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(33 + item.len());
    buf.extend_from_slice(prev);
    buf.push(kind);
    buf.extend_from_slice(item);
    crate::cert::sha256(&buf)
}

pub(crate) fn subject_key(cert: &Cert) -> Vec<u8> {
    cert.subject_der().to_vec()
}
