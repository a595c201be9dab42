//! The JSON bodies clients send, and their decoding into pki-core inputs.

use base64::Engine as _;
use pki_core::name::PeerName;
use pki_core::path::PolicyInputs;
use pki_core::{AssuranceLevel, Purpose, UnixTime};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Most intermediates one request may carry.
pub const MAX_INTERMEDIATES: usize = 32;

/// Every spelling of `purpose` the API accepts, the issue's (`clientAuth`)
/// and the CLI's (`client-auth`): the `enum` of the OpenAPI schema.
pub const PURPOSES: [&str; 14] = [
    "any",
    "serverAuth",
    "clientAuth",
    "emailProtection",
    "email",
    "codeSigning",
    "OCSPSigning",
    "ocspSigning",
    "documentSigning",
    "server-auth",
    "client-auth",
    "code-signing",
    "ocsp-signing",
    "document-signing",
];

/// A policy OID in `policy.initial_policy_set`, as the schema states it:
/// dotted decimal, no leading zeros, first arc 0-2, second 0-39, at least
/// three arcs of at most 8 digits, at most [`OID_MAX_LEN`] characters.
/// Every such string fits const-oid (arcs under 2^28, at most 31 octets
/// encoded), so the schema's pattern is exactly what the server takes.
pub const OID_PATTERN: &str = r"^[0-2]\.([0-9]|[1-3][0-9])(\.(0|[1-9][0-9]{0,7}))+$";

/// Longest dotted OID accepted (see [`OID_PATTERN`]).
pub const OID_MAX_LEN: usize = 64;

/// [`OID_PATTERN`] and [`OID_MAX_LEN`], checked.
fn is_policy_oid(s: &str) -> bool {
    let arc = |a: &str, digits: usize| {
        !a.is_empty()
            && a.len() <= digits
            && a.bytes().all(|b| b.is_ascii_digit())
            && (a == "0" || !a.starts_with('0'))
    };
    let arcs: Vec<&str> = s.split('.').collect();
    s.len() <= OID_MAX_LEN
        && arcs.len() >= 3
        && matches!(arcs[0], "0" | "1" | "2")
        && arc(arcs[1], 2)
        && arcs[1].parse::<u8>().is_ok_and(|n| n <= 39)
        && arcs[2..].iter().all(|a| arc(a, 8))
}

/// The schema of one policy OID (a string with [`OID_PATTERN`]).
#[derive(Debug)]
pub struct DottedOid;

impl utoipa::PartialSchema for DottedOid {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(OID_PATTERN))
            .max_length(Some(OID_MAX_LEN))
            .description(Some("A certificate policy OID, dotted decimal"))
            .examples([serde_json::json!("2.16.504.99.1.1")])
            .into()
    }
}

impl ToSchema for DottedOid {}

/// RFC 5280 6.1.1 policy inputs.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// user-initial-policy-set (dotted OIDs); empty means anyPolicy.
    #[serde(default)]
    #[schema(value_type = Vec<DottedOid>)]
    pub initial_policy_set: Vec<String>,
    /// initial-explicit-policy.
    #[serde(default)]
    pub explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    #[serde(default)]
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    #[serde(default)]
    pub inhibit_any_policy: bool,
}

/// `POST /v1/validate` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(examples(crate::openapi_examples::validate_request))]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// End-entity certificate: base64 of the DER, or one PEM block.
    #[schema(min_length = 1)]
    pub leaf: String,
    /// Untrusted intermediates in any order (base64 DER or PEM, a PEM
    /// string may hold several blocks).
    #[serde(default)]
    pub intermediates: Vec<String>,
    /// Validation time, an RFC 3339 date-time (years 0001 to 9999).
    /// Default: now (and only then are results cached).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub at: Option<String>,
    /// clientAuth (default), serverAuth, emailProtection, codeSigning,
    /// OCSPSigning, documentSigning, any; the CLI spellings
    /// (client-auth, ...) are accepted too.
    #[serde(default)]
    #[schema(value_type = Option<PurposeName>)]
    pub purpose: Option<String>,
    /// DNS name, IP address or email address the leaf must be valid for.
    #[serde(default)]
    pub peer_name: Option<String>,
    /// Minimum assurance level: low, substantial or high.
    #[serde(default)]
    #[schema(value_type = Option<Level>)]
    pub required_level: Option<String>,
    #[serde(default)]
    pub policy: PolicyRequest,
    /// Most intermediates allowed in the path (default 8, at most 16). An
    /// integral JSON number is accepted in any spelling (`2` or `2.0`), as
    /// JSON Schema's `integer` allows.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0, maximum = 16, value_type = Option<u64>)]
    pub max_intermediates: Option<usize>,
}

/// The schema of `purpose`: one of [`PURPOSES`].
#[derive(Debug)]
pub struct PurposeName;

impl utoipa::PartialSchema for PurposeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PURPOSES))
            .into()
    }
}

impl ToSchema for PurposeName {}

/// The schema of `required_level`.
#[derive(Debug)]
pub struct Level;

impl utoipa::PartialSchema for Level {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["low", "substantial", "high"]))
            .into()
    }
}

impl ToSchema for Level {}

/// An optional non-negative integer written as any JSON number with no
/// fractional part (JSON Schema: `2.0` is an integer).
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    use serde::de::Error as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(u) = n.as_u64() {
        return usize::try_from(u).map(Some).map_err(D::Error::custom);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 1e15 => Ok(Some(f as usize)),
        _ => Err(D::Error::custom(format!(
            "{n} is not a non-negative integer"
        ))),
    }
}

/// `POST /v1/validate/batch` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(examples(crate::openapi_examples::batch_request))]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub items: Vec<ValidateRequest>,
}

/// A request decoded and checked, ready for the validator.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// [`ValidateRequest::cache_key`] of the request, for requests without `at`.
    pub key: Option<[u8; 32]>,
    pub leaf: Vec<u8>,
    pub intermediates: Vec<Vec<u8>>,
    /// `None`: now.
    pub at: Option<UnixTime>,
    pub purpose: Purpose,
    pub peer_name: Option<(String, PeerName)>,
    pub required_level: Option<AssuranceLevel>,
    pub policy: PolicyInputs,
    pub max_intermediates: usize,
}

fn bad_field(field: &'static str, reason: impl Into<String>) -> ApiError {
    ApiError::BadField {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a purpose in the issue's spelling (`clientAuth`) or the CLI's (`client-auth`).
pub fn parse_purpose(s: &str) -> Result<Purpose, ApiError> {
    let p = match s {
        "any" => Purpose::Any,
        "serverAuth" => Purpose::ServerAuth,
        "clientAuth" => Purpose::ClientAuth,
        "emailProtection" | "email" => Purpose::Email,
        "codeSigning" => Purpose::CodeSigning,
        "OCSPSigning" | "ocspSigning" => Purpose::OcspSigning,
        "documentSigning" => Purpose::DocumentSigning,
        other => other.parse().map_err(|e: String| bad_field("purpose", e))?,
    };
    Ok(p)
}

/// `at`: an RFC 3339 section 5.6 `date-time`, JSON Schema's format, so
/// with `T` (or `t`) between date and time, not the space section 5.6
/// lets other applications use.
fn parse_at(s: &str) -> Result<UnixTime, ApiError> {
    if s.as_bytes().get(10) == Some(&b' ') {
        return Err(bad_field(
            "at",
            format!("{s:?}: date and time are joined by T"),
        ));
    }
    UnixTime::parse_rfc3339(s).map_err(|e| bad_field("at", e.to_string()))
}

/// base64 DER or PEM -> DER blocks.
fn decode_certs(field: &str, s: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    let t = s.trim();
    if t.starts_with("-----BEGIN") {
        return pki_core::pem::decode_all(t.as_bytes(), "CERTIFICATE").map_err(|e| {
            ApiError::BadCertificate {
                field: field.to_owned(),
                error: e,
            }
        });
    }
    let compact: Vec<u8> = t.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| ApiError::BadEncoding {
            field: field.to_owned(),
            reason: format!("neither PEM nor base64: {e}"),
        })?;
    if der.is_empty() {
        return Err(ApiError::BadEncoding {
            field: field.to_owned(),
            reason: "empty".into(),
        });
    }
    Ok(vec![der])
}

/// The fields the OpenAPI schema constrains, checked.
#[derive(Debug)]
struct Fields {
    at: Option<UnixTime>,
    purpose: Purpose,
    required_level: Option<AssuranceLevel>,
    initial_policy_set: Vec<const_oid::ObjectIdentifier>,
    max_intermediates: usize,
}

impl ValidateRequest {
    /// What the OpenAPI schema says of the fields (non-empty leaf,
    /// `date-time` at, purpose and level enums, OID pattern,
    /// `max_intermediates` range), before anything is decoded. A batch with
    /// an item that fails here is refused whole, as a schema validator would
    /// refuse it; certificate contents and `peer_name`, which no JSON Schema
    /// states, are judged per item.
    pub fn check_schema(&self) -> Result<(), ApiError> {
        self.fields().map(|_| ())
    }

    fn fields(&self) -> Result<Fields, ApiError> {
        if self.leaf.is_empty() {
            return Err(ApiError::BadEncoding {
                field: "leaf".to_owned(),
                reason: "empty".into(),
            });
        }
        let at = self.at.as_deref().map(parse_at).transpose()?;
        let purpose = match &self.purpose {
            Some(p) => parse_purpose(p)?,
            None => Purpose::ClientAuth,
        };
        let required_level = self
            .required_level
            .as_deref()
            .map(str::parse::<AssuranceLevel>)
            .transpose()
            .map_err(|e| bad_field("required_level", e))?;
        let initial_policy_set = self
            .policy
            .initial_policy_set
            .iter()
            .map(|s| {
                is_policy_oid(s)
                    .then(|| pki_core::oid::parse_dotted(s).ok())
                    .flatten()
                    .ok_or_else(|| {
                        bad_field("policy.initial_policy_set", format!("{s:?} is not an OID"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let max_intermediates = self.max_intermediates.unwrap_or(8);
        if max_intermediates > pki_core::path::MAX_PATH_LEN {
            return Err(bad_field(
                "max_intermediates",
                format!("at most {}", pki_core::path::MAX_PATH_LEN),
            ));
        }
        Ok(Fields {
            at,
            purpose,
            required_level,
            initial_policy_set,
            max_intermediates,
        })
    }

    /// Checks every field; certificates are base64/PEM-decoded but not
    /// parsed yet.
    pub fn decode(&self) -> Result<Decoded, ApiError> {
        let Fields {
            at,
            purpose,
            required_level,
            initial_policy_set,
            max_intermediates,
        } = self.fields()?;
        let mut leaf = decode_certs("leaf", &self.leaf)?;
        if leaf.len() != 1 {
            return Err(bad_field(
                "leaf",
                format!("expected one certificate, found {}", leaf.len()),
            ));
        }
        let leaf = leaf.remove(0);
        let mut intermediates = Vec::new();
        for (i, s) in self.intermediates.iter().enumerate() {
            intermediates.extend(decode_certs(&format!("intermediates[{i}]"), s)?);
            if intermediates.len() > MAX_INTERMEDIATES {
                return Err(ApiError::TooManyIntermediates {
                    max: MAX_INTERMEDIATES,
                });
            }
        }
        let peer_name = match &self.peer_name {
            Some(n) => Some((
                n.clone(),
                PeerName::parse(n).map_err(|e| bad_field("peer_name", e.to_string()))?,
            )),
            None => None,
        };
        Ok(Decoded {
            key: self.cache_key(),
            leaf,
            intermediates,
            at,
            purpose,
            peer_name,
            required_level,
            policy: PolicyInputs {
                initial_policy_set,
                initial_explicit_policy: self.policy.explicit_policy,
                initial_policy_mapping_inhibit: self.policy.inhibit_policy_mapping,
                initial_any_policy_inhibit: self.policy.inhibit_any_policy,
            },
            max_intermediates,
        })
    }
}

/// An optional field for the cache key: absent differs from any value.
fn opt(o: Option<&str>) -> &[u8] {
    o.map_or(&b"\0-"[..], str::as_bytes)
}

impl ValidateRequest {
    /// The result-cache key, for a request without `at`: SHA-256 over
    /// every field as sent (certificates as their base64/PEM text), so a
    /// repeated request is answered without decoding anything. The same
    /// certificate sent in another encoding only misses the cache.
    pub fn cache_key(&self) -> Option<[u8; 32]> {
        if self.at.is_some() {
            return None;
        }
        let mut buf = Vec::with_capacity(
            self.leaf.len() + self.intermediates.iter().map(String::len).sum::<usize>() + 256,
        );
        let mut put = |b: &[u8]| {
            buf.extend_from_slice(&(b.len() as u64).to_be_bytes());
            buf.extend_from_slice(b);
        };
        put(self.leaf.as_bytes());
        put(&(self.intermediates.len() as u64).to_be_bytes());
        for i in &self.intermediates {
            put(i.as_bytes());
        }
        put(opt(self.purpose.as_deref()));
        put(opt(self.peer_name.as_deref()));
        put(opt(self.required_level.as_deref()));
        put(&(self.policy.initial_policy_set.len() as u64).to_be_bytes());
        for o in &self.policy.initial_policy_set {
            put(o.as_bytes());
        }
        put(&[
            u8::from(self.policy.explicit_policy),
            u8::from(self.policy.inhibit_policy_mapping),
            u8::from(self.policy.inhibit_any_policy),
        ]);
        put(&self
            .max_intermediates
            .map_or(u64::MAX, |m| m as u64)
            .to_be_bytes());
        Some(pki_core::cert::sha256(&buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_policy(oid: &str) -> ValidateRequest {
        serde_json::from_value(serde_json::json!({
            "leaf": "AAAA",
            "policy": { "initial_policy_set": [oid] }
        }))
        .expect("request JSON")
    }

    /// An arc past what const-oid handles panicked (overflow) or became
    /// another OID; it is a bad field like any other non-OID.
    #[test]
    fn a_policy_arc_too_big_is_a_bad_field() {
        for oid in ["1.2.99999999999", "2.5.4294967295"] {
            let err = with_policy(oid).decode().expect_err(oid);
            assert_eq!(err.field(), Some("policy.initial_policy_set"), "{oid}");
        }
        assert!(with_policy("2.16.504.99.1.1").decode().is_ok());
    }
}
