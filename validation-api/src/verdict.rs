//! The answer to one validation: valid or not, tier and level, the path,
//! revocation status per certificate, and on failure a code and a message
//! naming the certificate at fault. Same shape as `pki validate --json`.

use std::sync::Arc;

use pki_core::cert::hex;
use pki_core::revocation::{RevocationStatus, StatusSource};
use pki_core::{Cert, UnixTime, ValidatedPath};
use serde::Serialize;
use utoipa::ToSchema;

/// A certificate of the path.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PathCert {
    /// 0 is the end entity; the last is the trust anchor.
    pub index: usize,
    pub subject: String,
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
}

impl PathCert {
    pub fn new(index: usize, c: &Cert) -> Self {
        Self {
            index,
            subject: c.subject_string(),
            issuer: c.issuer_string(),
            serial: hex(c.serial()),
            sha256: hex(c.fingerprint()),
            not_before: c.not_before().to_string(),
            not_after: c.not_after().to_string(),
        }
    }
}

/// Where a revocation answer came from and how fresh it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusSourceInfo {
    /// `crl` or `ocsp`.
    pub kind: &'static str,
    /// SHA-256 of the CRL, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// thisUpdate of the CRL or of the OCSP SingleResponse.
    pub issued_at: String,
    /// nextUpdate, when the source has one.
    pub next_update: Option<String>,
    /// Seconds between `issued_at` and the validation.
    pub age_seconds: u64,
    /// Whether the validation time is before nextUpdate.
    pub fresh: bool,
}

impl StatusSourceInfo {
    fn new(src: &StatusSource, time: UnixTime) -> Self {
        let (kind, sha256, issued, next) = match src {
            StatusSource::Crl {
                fingerprint,
                this_update,
                next_update,
            } => ("crl", Some(hex(fingerprint)), *this_update, *next_update),
            StatusSource::Ocsp {
                this_update,
                next_update,
                ..
            } => ("ocsp", None, *this_update, *next_update),
        };
        Self {
            kind,
            sha256,
            issued_at: issued.to_string(),
            next_update: next.map(|t| t.to_string()),
            age_seconds: time.seconds_since(issued),
            fresh: next.is_none_or(|n| time < n),
        }
    }
}

/// Revocation status of one certificate of the path.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertStatus {
    pub index: usize,
    /// `good`, `revoked` or `unknown` (no source could decide; accepted
    /// under a soft-fail tier policy).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<StatusSourceInfo>,
    /// RFC 5280 reason name, for revoked certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidity_date: Option<String>,
    /// Why the status is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CertStatus {
    pub fn new(index: usize, s: &RevocationStatus, time: UnixTime) -> Self {
        let mut out = Self {
            index,
            status: "unknown",
            source: None,
            reason: None,
            revoked_at: None,
            invalidity_date: None,
            detail: None,
        };
        match s {
            RevocationStatus::Good { source } => {
                out.status = "good";
                out.source = Some(StatusSourceInfo::new(source, time));
            }
            RevocationStatus::Revoked {
                reason,
                revoked_at,
                invalidity_date,
                source,
            } => {
                out.status = "revoked";
                out.source = Some(StatusSourceInfo::new(source, time));
                out.reason = Some(reason.as_str());
                out.revoked_at = Some(revoked_at.to_string());
                out.invalidity_date = invalidity_date.map(|t| t.to_string());
            }
            RevocationStatus::Unknown { detail } => out.detail = Some(detail.clone()),
        }
        out
    }
}

/// The codes of verdicts and findings: pki-core's `Error::code()`, one per
/// error variant. `tests/api.rs` checks this list against pki-core's.
pub const VERDICT_CODES: [&str; 33] = [
    "bad_der",
    "too_large",
    "bad_pem",
    "invalid_version",
    "invalid_serial",
    "duplicate_extension",
    "unknown_critical_extension",
    "bad_extension",
    "signature_algorithm_mismatch",
    "unsupported_signature_algorithm",
    "unsupported_public_key",
    "weak_key",
    "key_algorithm_mismatch",
    "signature_invalid",
    "not_yet_valid",
    "expired",
    "invalid_validity",
    "issuer_not_found",
    "max_depth_exceeded",
    "budget_exceeded",
    "not_ca",
    "ca_used_as_end_entity",
    "path_len_exceeded",
    "key_usage_not_allowed",
    "extended_key_usage_not_allowed",
    "peer_name_mismatch",
    "name_constraints_violated",
    "policy_invalid",
    "assurance_level_too_low",
    "no_assurance_policy",
    "revoked",
    "revocation_status_unavailable",
    "crl_unusable",
];

/// The OpenAPI schema of a verdict or finding code: a string enum of
/// [`VERDICT_CODES`].
#[derive(Debug)]
pub struct VerdictCode;

impl utoipa::PartialSchema for VerdictCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(VERDICT_CODES))
            .description(Some(
                "Why a chain is not valid (pki-core's stable error codes)",
            ))
            .into()
    }
}

impl ToSchema for VerdictCode {}

/// The certificate a failure is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertRef {
    /// Position in the path (0 = end entity).
    pub index: usize,
    pub subject: String,
    pub sha256: String,
}

/// Why the chain is not valid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerdictError {
    /// Stable code from pki-core, e.g. `expired`, `revoked`,
    /// `issuer_not_found`, `signature_invalid`, `assurance_level_too_low`.
    #[schema(value_type = VerdictCode)]
    pub code: &'static str,
    /// Human-readable, naming the certificate at fault.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertRef>,
}

/// A rule addressed to the issuing CA that a certificate of the path
/// breaks: reported under the `rfc5280` profile, an error under `strict`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FindingInfo {
    /// Position in the path (0 = end entity).
    pub index: usize,
    /// The rule cited, e.g. `RFC 5280 4.2.1.11` or `CA/B BR 7.1.2.7.10`.
    pub rule: &'static str,
    /// Stable code of the problem (the error code it has under `strict`).
    #[schema(value_type = VerdictCode)]
    pub code: &'static str,
    pub message: String,
}

/// `POST /v1/validate` answer (HTTP 200, valid or not).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(examples(
    crate::openapi_examples::verdict_valid,
    crate::openapi_examples::verdict_revoked
))]
pub struct Verdict {
    pub valid: bool,
    /// Trust tier reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Assurance level reached: low, substantial or high.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<&'static str>,
    /// End entity first, trust anchor last (empty when invalid).
    pub path: Vec<PathCert>,
    /// Per certificate of the path except the anchor.
    pub revocation: Vec<CertStatus>,
    /// Valid certificate policies (RFC 5280 6.1.5 (g)).
    pub valid_policies: Vec<String>,
    pub warnings: Vec<String>,
    pub legacy_algorithms: Vec<String>,
    /// Profile the path was judged under: `rfc5280` or `strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<&'static str>,
    /// Issuance-profile findings (always empty under `strict`).
    pub findings: Vec<FindingInfo>,
    /// Validation time.
    pub validated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<VerdictError>,
}

impl Verdict {
    pub fn valid(p: &ValidatedPath, statuses: Vec<CertStatus>, time: UnixTime) -> Self {
        Self {
            valid: true,
            tier: Some(p.tier_name.clone()),
            level: Some(p.level.as_str()),
            path: p
                .certs
                .iter()
                .enumerate()
                .map(|(i, c)| PathCert::new(i, c))
                .collect(),
            revocation: statuses,
            valid_policies: p
                .policies
                .valid_policies
                .iter()
                .map(ToString::to_string)
                .collect(),
            warnings: p.warnings.clone(),
            legacy_algorithms: p.legacy.clone(),
            profile: Some(p.profile.as_str()),
            findings: p
                .findings
                .iter()
                .map(|f| FindingInfo {
                    index: f.index,
                    rule: f.rule,
                    code: f.code(),
                    message: f.error.to_string(),
                })
                .collect(),
            validated_at: time.to_string(),
            error: None,
        }
    }

    /// An invalid verdict; `cert` is the certificate at fault when known.
    pub fn invalid(e: &pki_core::Error, cert: Option<(usize, &Arc<Cert>)>, time: UnixTime) -> Self {
        let certificate = cert.map(|(index, c)| CertRef {
            index,
            subject: c.subject_string(),
            sha256: hex(c.fingerprint()),
        });
        let message = match &certificate {
            Some(c) if !e.to_string().contains(&c.subject) => {
                format!("{e} [certificate {}: {}]", c.index, c.subject)
            }
            _ => e.to_string(),
        };
        Self {
            valid: false,
            tier: None,
            level: None,
            path: Vec::new(),
            revocation: Vec::new(),
            valid_policies: Vec::new(),
            warnings: Vec::new(),
            legacy_algorithms: Vec::new(),
            profile: None,
            findings: Vec::new(),
            validated_at: time.to_string(),
            error: Some(VerdictError {
                code: e.code(),
                message,
                certificate,
            }),
        }
    }

    /// The code counted in metrics: `valid` or the error code.
    pub fn outcome(&self) -> &'static str {
        self.error.as_ref().map_or("valid", |e| e.code)
    }
}

/// A verdict together with its JSON, rendered once: the result cache hands
/// out the bytes as they go on the wire.
#[derive(Debug)]
pub struct Rendered {
    pub verdict: Verdict,
    pub json: bytes::Bytes,
}

impl Rendered {
    pub fn new(verdict: Verdict) -> Self {
        // Serializing plain strings, numbers and vectors cannot fail.
        let json = serde_json::to_vec(&verdict).unwrap_or_default().into();
        Self { verdict, json }
    }
}

impl std::ops::Deref for Rendered {
    type Target = Verdict;
    fn deref(&self) -> &Verdict {
        &self.verdict
    }
}
