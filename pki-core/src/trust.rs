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
}

impl Tier {
    pub fn new(name: impl Into<String>, level: AssuranceLevel) -> Self {
        Self {
            name: name.into(),
            level,
            policy_levels: Vec::new(),
        }
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
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    tiers: Vec<Tier>,
    anchors: Vec<Anchor>,
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tier; names are unique.
    pub fn add_tier(&mut self, tier: Tier) -> Result<usize, TrustError> {
        if self.tiers.iter().any(|t| t.name == tier.name) {
            return Err(TrustError::DuplicateTier(tier.name));
        }
        self.tiers.push(tier);
        Ok(self.tiers.len() - 1)
    }

    /// Adds an anchor to the named tier. The same certificate may not be
    /// trusted twice (it would make the reached tier ambiguous).
    pub fn add_anchor(&mut self, tier: &str, cert: Arc<Cert>) -> Result<(), TrustError> {
        let t = self
            .tiers
            .iter()
            .position(|t| t.name == tier)
            .ok_or_else(|| TrustError::UnknownTier(tier.to_owned()))?;
        if let Some(a) = self
            .anchors
            .iter()
            .find(|a| a.cert.fingerprint() == cert.fingerprint())
        {
            return Err(TrustError::DuplicateAnchor {
                subject: cert.subject_string(),
                tier: self.tiers[a.tier].name.clone(),
            });
        }
        let key = subject_key(&cert);
        self.anchors.push(Anchor { cert, tier: t });
        self.by_subject
            .entry(key)
            .or_default()
            .push(self.anchors.len() - 1);
        Ok(())
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    pub fn tier(&self, index: usize) -> &Tier {
        &self.tiers[index]
    }

    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// Anchors whose subject matches `issuer` (exact DER first, then RFC 5280
    /// 7.1 comparison).
    pub fn anchors_named(&self, issuer: &x509_cert::name::Name) -> Vec<&Anchor> {
        if let Ok(der) = der::Encode::to_der(issuer) {
            if let Some(ix) = self.by_subject.get(&der) {
                return ix.iter().map(|i| &self.anchors[*i]).collect();
            }
        }
        self.anchors
            .iter()
            .filter(|a| crate::name::names_equal(a.cert.subject(), issuer))
            .collect()
    }
}

pub(crate) fn subject_key(cert: &Cert) -> Vec<u8> {
    der::Encode::to_der(cert.subject()).unwrap_or_default()
}
