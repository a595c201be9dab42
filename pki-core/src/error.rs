//! The one error type of `pki-core`.
//!
//! Every variant is a fact about what failed, with the context needed to act
//! on it. `index` is the position in the certification path: 0 is the end
//! entity, then its issuer, and so on up to the trust anchor.

use const_oid::ObjectIdentifier;

use crate::name::{NameConstraintViolation, NameError};
use crate::path::policy::PolicyError;
use crate::time::UnixTime;
use crate::trust::AssuranceLevel;

/// Why a certificate, CRL or path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a DER-encoded structure of the expected type.
    #[error("malformed {what}: {reason}")]
    BadDer { what: &'static str, reason: String },

    /// The input exceeds the configured size limit.
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },

    /// PEM input that could not be decoded.
    #[error("bad PEM: {0}")]
    BadPem(String),

    /// The certificate is not X.509 v3 although it carries extensions, or has
    /// an unknown version.
    #[error("certificate {index}: unsupported or inconsistent version {version}")]
    InvalidVersion { index: usize, version: u8 },

    /// The serial number is not a positive integer of at most 20 octets (RFC 5280 4.1.2.2).
    #[error("certificate {index}: serial number is {reason}")]
    InvalidSerial { index: usize, reason: &'static str },

    /// An extension appears twice (RFC 5280 4.2).
    #[error("certificate {index}: extension {oid} appears more than once")]
    DuplicateExtension { index: usize, oid: ObjectIdentifier },

    /// A critical extension this validator does not process (RFC 5280 4.2).
    #[error("certificate {index}: unknown critical extension {oid}")]
    UnknownCriticalExtension { index: usize, oid: ObjectIdentifier },

    /// A known extension whose content is malformed or violates its profile.
    #[error("certificate {index}: bad {extension} extension: {reason}")]
    BadExtension {
        index: usize,
        extension: &'static str,
        reason: String,
    },

    /// The outer signatureAlgorithm differs from the TBS signature field (RFC 5280 4.1.1.2).
    #[error("certificate {index}: signatureAlgorithm does not match tbsCertificate.signature")]
    SignatureAlgorithmMismatch { index: usize },

    /// The signature algorithm is not supported or not allowed by the algorithm policy.
    #[error("unsupported signature algorithm {oid}{}", if *.legacy_only { " (allowed only under the legacy algorithm policy)" } else { "" })]
    UnsupportedSignatureAlgorithm {
        oid: ObjectIdentifier,
        legacy_only: bool,
    },

    /// The public key type or curve is not supported.
    #[error("unsupported public key: {0}")]
    UnsupportedPublicKey(String),

    /// The public key is too small for the algorithm policy.
    #[error("{algorithm} key of {bits} bits is below the {minimum}-bit minimum")]
    WeakKey {
        algorithm: &'static str,
        bits: usize,
        minimum: usize,
    },

    /// The issuer's key does not fit the signature algorithm.
    #[error("certificate {index}: the issuer key type does not match signature algorithm {oid}")]
    KeyAlgorithmMismatch { index: usize, oid: ObjectIdentifier },

    /// The signature does not verify under the issuer's public key.
    #[error("certificate {index}: signature does not verify under the issuer's key")]
    SignatureInvalid { index: usize },

    /// The validation time is before notBefore.
    #[error("certificate {index} is not valid before {not_before} (validation time {time})")]
    CertNotYetValid {
        index: usize,
        time: UnixTime,
        not_before: UnixTime,
    },

    /// The validation time is after notAfter.
    #[error("certificate {index} expired at {not_after} (validation time {time})")]
    CertExpired {
        index: usize,
        time: UnixTime,
        not_after: UnixTime,
    },

    /// notAfter is before notBefore.
    #[error("certificate {index}: notAfter precedes notBefore")]
    InvalidValidity { index: usize },

    /// No trust anchor or intermediate issues the certificate.
    #[error("certificate {index} ({subject}): no trusted issuer found")]
    IssuerNotFound { index: usize, subject: String },

    /// The path would be longer than the configured maximum number of intermediates.
    #[error("path needs more than the maximum of {max} intermediate certificates")]
    MaxDepthExceeded { max: usize },

    /// Path building gave up: too many signature checks or candidate paths.
    #[error("path building budget exhausted ({what})")]
    BudgetExceeded { what: &'static str },

    /// An issuing certificate is not a CA (basicConstraints cA absent or false).
    #[error("certificate {index} issues certificates but is not a CA")]
    NotCa { index: usize },

    /// The end entity is a CA certificate although an end-entity certificate is required.
    #[error("certificate {index} is a CA certificate, not an end entity")]
    CaUsedAsEndEntity { index: usize },

    /// More intermediates below a CA than its pathLenConstraint allows.
    #[error("certificate {index}: pathLenConstraint exceeded")]
    PathLenExceeded { index: usize },

    /// A required keyUsage bit is not asserted.
    #[error("certificate {index}: keyUsage does not allow {needed}")]
    KeyUsageNotAllowed { index: usize, needed: &'static str },

    /// The extendedKeyUsage does not allow the requested purpose.
    #[error("certificate {index}: extendedKeyUsage does not allow {purpose}")]
    ExtendedKeyUsageNotAllowed { index: usize, purpose: &'static str },

    /// The end entity is not valid for the requested peer name.
    #[error("certificate 0: {0}")]
    PeerName(NameError),

    /// A name in certificate `index` violates name constraints of certificate `constrained_by`.
    #[error("certificate {index}: name constraints of certificate {constrained_by}: {violation}")]
    NameConstraints {
        index: usize,
        constrained_by: usize,
        violation: NameConstraintViolation,
    },

    /// RFC 5280 6.1 certificate policy processing failed.
    #[error("certificate policies: {0}")]
    Policy(PolicyError),

    /// The path reaches a tier whose assurance level is below the one required.
    #[error("path reaches assurance level {reached} but {required} is required")]
    AssuranceLevelTooLow {
        reached: AssuranceLevel,
        required: AssuranceLevel,
    },

    /// The tier maps policies to levels and none of the path's valid policies is mapped.
    #[error("no valid certificate policy of the path maps to an assurance level of tier {tier:?}")]
    NoAssurancePolicy { tier: String },

    /// The certificate is revoked.
    #[error("certificate {index} was revoked at {revoked_at} ({reason})")]
    Revoked {
        index: usize,
        reason: crate::revocation::RevocationReason,
        revoked_at: UnixTime,
    },

    /// No current revocation status could be established and one is required.
    #[error("certificate {index}: no current revocation status ({detail})")]
    RevocationStatusUnavailable { index: usize, detail: String },

    /// A CRL could not be used.
    #[error("CRL: {0}")]
    Crl(String),
}

impl Error {
    /// A short, stable, machine-readable code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadDer { .. } => "bad_der",
            Self::TooLarge { .. } => "too_large",
            Self::BadPem(_) => "bad_pem",
            Self::InvalidVersion { .. } => "invalid_version",
            Self::InvalidSerial { .. } => "invalid_serial",
            Self::DuplicateExtension { .. } => "duplicate_extension",
            Self::UnknownCriticalExtension { .. } => "unknown_critical_extension",
            Self::BadExtension { .. } => "bad_extension",
            Self::SignatureAlgorithmMismatch { .. } => "signature_algorithm_mismatch",
            Self::UnsupportedSignatureAlgorithm { .. } => "unsupported_signature_algorithm",
            Self::UnsupportedPublicKey(_) => "unsupported_public_key",
            Self::WeakKey { .. } => "weak_key",
            Self::KeyAlgorithmMismatch { .. } => "key_algorithm_mismatch",
            Self::SignatureInvalid { .. } => "signature_invalid",
            Self::CertNotYetValid { .. } => "not_yet_valid",
            Self::CertExpired { .. } => "expired",
            Self::InvalidValidity { .. } => "invalid_validity",
            Self::IssuerNotFound { .. } => "issuer_not_found",
            Self::MaxDepthExceeded { .. } => "max_depth_exceeded",
            Self::BudgetExceeded { .. } => "budget_exceeded",
            Self::NotCa { .. } => "not_ca",
            Self::CaUsedAsEndEntity { .. } => "ca_used_as_end_entity",
            Self::PathLenExceeded { .. } => "path_len_exceeded",
            Self::KeyUsageNotAllowed { .. } => "key_usage_not_allowed",
            Self::ExtendedKeyUsageNotAllowed { .. } => "extended_key_usage_not_allowed",
            Self::PeerName(_) => "peer_name_mismatch",
            Self::NameConstraints { .. } => "name_constraints_violated",
            Self::Policy(_) => "policy_invalid",
            Self::AssuranceLevelTooLow { .. } => "assurance_level_too_low",
            Self::NoAssurancePolicy { .. } => "no_assurance_policy",
            Self::Revoked { .. } => "revoked",
            Self::RevocationStatusUnavailable { .. } => "revocation_status_unavailable",
            Self::Crl(_) => "crl_unusable",
        }
    }

    /// The index in the path of the certificate the error is about, if any.
    pub fn index(&self) -> Option<usize> {
        if let Self::PeerName(_) = self {
            return Some(0);
        }
        // Errors are on the cold path: a clone keeps one list of variants.
        self.clone().index_slot().map(|i| *i)
    }

    /// Rewrites the certificate index (parsing happens before the position
    /// in the path is known).
    #[must_use]
    pub fn at_index(mut self, new: usize) -> Self {
        if let Some(i) = self.index_slot() {
            *i = new;
        }
        self
    }

    fn index_slot(&mut self) -> Option<&mut usize> {
        match self {
            Self::InvalidVersion { index, .. }
            | Self::InvalidSerial { index, .. }
            | Self::DuplicateExtension { index, .. }
            | Self::UnknownCriticalExtension { index, .. }
            | Self::BadExtension { index, .. }
            | Self::SignatureAlgorithmMismatch { index }
            | Self::KeyAlgorithmMismatch { index, .. }
            | Self::SignatureInvalid { index }
            | Self::CertNotYetValid { index, .. }
            | Self::CertExpired { index, .. }
            | Self::InvalidValidity { index }
            | Self::IssuerNotFound { index, .. }
            | Self::NotCa { index }
            | Self::CaUsedAsEndEntity { index }
            | Self::PathLenExceeded { index }
            | Self::KeyUsageNotAllowed { index, .. }
            | Self::ExtendedKeyUsageNotAllowed { index, .. }
            | Self::NameConstraints { index, .. }
            | Self::Revoked { index, .. }
            | Self::RevocationStatusUnavailable { index, .. } => Some(index),
            _ => None,
        }
    }
}

impl Error {
    pub(crate) fn der(what: &'static str, e: &der::Error) -> Self {
        Self::BadDer {
            what,
            reason: e.to_string(),
        }
    }
}
