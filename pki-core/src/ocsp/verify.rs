//! The OCSP client side (RFC 6960 sections 3.2 and 4.2.2): requests for a
//! certificate, and verification of the responses.
//!
//! A response is accepted for certificate `cert` issued by `issuer` only
//! when (RFC 6960 3.2):
//!
//! 1. it is at most [`VerifyOptions::max_size`] octets, strict DER, status
//!    `successful`, type id-pkix-ocsp-basic, version v1, with no unknown
//!    critical extension;
//! 2. it is signed by `issuer` itself, or by a delegated responder whose
//!    certificate is in `certs`, was issued directly by `issuer` (name and
//!    signature), asserts id-kp-OCSPSigning, allows digitalSignature when it
//!    has a keyUsage, and is valid at the validation time (RFC 6960
//!    4.2.2.2); the `responderID` (by name or by key hash) names that signer;
//! 3. one of its `SingleResponse`s carries the CertID of `cert` (under the
//!    SHA-1 or SHA-256 the response chose);
//! 4. thisUpdate and producedAt are not after the validation time plus the
//!    clock-skew tolerance, and the validation time is not after nextUpdate
//!    plus the tolerance (RFC 6960 4.2.2.1); without nextUpdate the response
//!    is accepted only within [`VerifyOptions::max_age`];
//! 5. when the request carried a nonce, the response echoes it (RFC 8954).
//!
//! The delegated responder's own revocation status is not checked: RFC 6960
//! 4.2.2.2.1 leaves it to the CA (short-lived responder certificates or
//! id-pkix-ocsp-nocheck), and asking OCSP about the OCSP signer would loop.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::ext::pkix::{CrlReason, KeyUsages};
use x509_cert::ext::Extension;
use x509_ocsp::{BasicOcspResponse, CertId, OcspResponse, ResponderId, Version};

use super::cache::OcspKey;
use super::cert_id::{HashAlgorithm, IssuerHashes};
use super::request::{build_request, ID_PKIX_OCSP_NONCE, MAX_NONCE_LEN};
use super::response::{ResponseStatus, ID_PKIX_OCSP_BASIC};
use crate::cert::Cert;
use crate::revocation::{RevocationReason, RevocationStatus, StatusSource};
use crate::signature::{self, AlgorithmPolicy, SignatureAlgorithm};
use crate::time::UnixTime;
use crate::{oid, Error};

/// Largest response accepted by default. A response for one certificate
/// with a delegated responder certificate is 1-3 KiB.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 * 1024;

/// Default clock-skew tolerance, in seconds.
pub const DEFAULT_CLOCK_SKEW: u64 = 300;

/// Why an OCSP request could not be built or a response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    /// The response is larger than [`VerifyOptions::max_size`].
    #[error("OCSP response is {size} octets, over the {limit}-octet limit")]
    TooLarge { size: usize, limit: usize },
    /// Not a DER `OCSPResponse` / `BasicOCSPResponse`.
    #[error("malformed OCSP response: {0}")]
    Malformed(String),
    /// RFC 6960 4.2.1: the responder answered with an error status.
    #[error("OCSP responder answered {0}")]
    Unsuccessful(ResponseStatus),
    /// A `responseType` other than id-pkix-ocsp-basic.
    #[error("unsupported OCSP response type {0}")]
    UnsupportedResponseType(ObjectIdentifier),
    /// A critical response or single-response extension we do not process.
    #[error("OCSP response carries unknown critical extension {0}")]
    UnknownCriticalExtension(ObjectIdentifier),
    /// The responderID names neither the CA nor a certificate in `certs`.
    #[error("OCSP responderID {responder} names neither the CA nor a certificate in the response")]
    UnknownResponder { responder: String },
    /// The delegated responder certificate was not issued by the CA of the
    /// certificate in question (RFC 6960 4.2.2.2).
    #[error(
        "OCSP responder certificate {subject} was not issued by the certificate's CA ({reason})"
    )]
    ResponderNotIssuedByCa {
        subject: String,
        reason: &'static str,
    },
    /// The delegated responder certificate lacks id-kp-OCSPSigning.
    #[error("OCSP responder certificate {subject} is not authorised for OCSP signing (no id-kp-OCSPSigning)")]
    ResponderNotAuthorized { subject: String },
    /// The delegated responder certificate's keyUsage excludes digitalSignature.
    #[error("OCSP responder certificate {subject}: keyUsage does not allow digitalSignature")]
    ResponderKeyUsage { subject: String },
    /// The delegated responder certificate is outside its validity period.
    #[error("OCSP responder certificate {subject} is not valid at {time} (valid {not_before} to {not_after})")]
    ResponderNotValid {
        subject: String,
        time: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// A certificate in `certs` does not decode.
    #[error("OCSP responder certificate: {0}")]
    ResponderCert(Error),
    /// The response signature algorithm is unsupported or not allowed.
    #[error("OCSP response signature: {0}")]
    SignatureAlgorithm(Error),
    /// The response signature does not verify under the signer's key.
    #[error("OCSP response signature does not verify under the key of {signer}")]
    SignatureInvalid { signer: String },
    /// No `SingleResponse` carries the CertID of the certificate.
    #[error("OCSP response has no SingleResponse for serial {serial} of this issuer")]
    CertIdNotFound { serial: String },
    /// thisUpdate or producedAt is after the validation time plus the
    /// tolerated clock skew.
    #[error("OCSP response {field} {value} is after the validation time {time} (clock-skew tolerance {skew} s)")]
    NotYetValid {
        field: &'static str,
        value: UnixTime,
        time: UnixTime,
        skew: u64,
    },
    /// nextUpdate (plus the tolerated skew) has passed: the response is stale.
    #[error("stale OCSP response: nextUpdate {next_update} is before the validation time {time} (clock-skew tolerance {skew} s)")]
    Stale {
        next_update: UnixTime,
        time: UnixTime,
        skew: u64,
    },
    /// thisUpdate is older than [`VerifyOptions::max_age`].
    #[error("OCSP response from {this_update} is older than the {max_age} s maximum at {time}")]
    TooOld {
        this_update: UnixTime,
        max_age: u64,
        time: UnixTime,
    },
    /// No nextUpdate and no [`VerifyOptions::max_age`] to bound the response.
    #[error("OCSP response has no nextUpdate and no maximum age is configured")]
    NoNextUpdate,
    /// nextUpdate precedes thisUpdate.
    #[error("OCSP response nextUpdate {next_update} precedes thisUpdate {this_update}")]
    NextUpdateBeforeThisUpdate {
        this_update: UnixTime,
        next_update: UnixTime,
    },
    /// The request carried a nonce and the response does not.
    #[error("OCSP response does not echo the request nonce")]
    NonceMissing,
    /// The response's nonce differs from the request's.
    #[error("OCSP response nonce does not match the request nonce")]
    NonceMismatch,
    /// A request could not be built.
    #[error("cannot build OCSP request: {0}")]
    Request(String),
}

/// RFC 5280 4.2.2.1 id-ad-ocsp (1.3.6.1.5.5.7.48.1).
pub const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// The OCSP responder URLs a certificate names in its authorityInfoAccess
/// (id-ad-ocsp accessLocations that are URIs), in order: where the service
/// layer sends [`OcspRequest::der`].
pub fn responder_urls(cert: &Cert) -> Vec<String> {
    cert.extensions()
        .authority_info_access
        .iter()
        .flat_map(|aia| aia.0.iter())
        .filter(|d| d.access_method == ID_AD_OCSP)
        .filter_map(|d| match &d.access_location {
            x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(u) => {
                Some(u.as_str().to_owned())
            }
            _ => None,
        })
        .collect()
}

/// What a request carries besides the CertID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nonce {
    /// No nonce: the response may come from a cache (RFC 5019 profile).
    #[default]
    Absent,
    /// 32 random octets (RFC 8954 2.1 maximum).
    Random,
    /// This value (1 to 32 octets).
    Given(Vec<u8>),
}

/// How to build a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// CertID hash: SHA-256 by default; SHA-1 for responders that need it
    /// (RFC 5019 2.1.1).
    pub hash: HashAlgorithm,
    pub nonce: Nonce,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            hash: HashAlgorithm::Sha256,
            nonce: Nonce::Absent,
        }
    }
}

/// A request ready to send, remembering what the answer must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    der: Vec<u8>,
    cert_id: CertId,
    serial: Vec<u8>,
    nonce: Option<Vec<u8>>,
}

impl OcspRequest {
    /// A request for `cert`, issued by `issuer`.
    pub fn new(cert: &Cert, issuer: &Cert, opts: &RequestOptions) -> Result<Self, OcspError> {
        let nonce = match &opts.nonce {
            Nonce::Absent => None,
            Nonce::Random => {
                let mut n = vec![0u8; MAX_NONCE_LEN];
                SystemRandom::new()
                    .fill(&mut n)
                    .map_err(|_| OcspError::Request("no randomness for the nonce".into()))?;
                Some(n)
            }
            Nonce::Given(n) if (1..=MAX_NONCE_LEN).contains(&n.len()) => Some(n.clone()),
            Nonce::Given(n) => {
                return Err(OcspError::Request(format!(
                    "nonce is {} octets, RFC 8954 allows 1 to {MAX_NONCE_LEN}",
                    n.len()
                )))
            }
        };
        let hashes = IssuerHashes::from_cert(issuer);
        let cert_id = hashes
            .cert_id(opts.hash, cert.serial())
            .map_err(|e| OcspError::Request(e.to_string()))?;
        let der = build_request(std::slice::from_ref(&cert_id), nonce.as_deref())
            .map_err(|e| OcspError::Request(e.to_string()))?;
        Ok(Self {
            der,
            cert_id,
            serial: cert.serial().to_vec(),
            nonce,
        })
    }

    /// The DER `OCSPRequest` (POST body, or base64url for GET).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn cert_id(&self) -> &CertId {
        &self.cert_id
    }

    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// Verifies `response` as the answer to this request about `cert`
    /// (issued by `issuer`): the serial must be the one asked about and the
    /// nonce, if sent, echoed.
    pub fn verify_response(
        &self,
        response: &[u8],
        cert: &Cert,
        issuer: &Cert,
        opts: &VerifyOptions,
    ) -> Result<VerifiedResponse, OcspError> {
        if cert.serial() != self.serial.as_slice() {
            return Err(OcspError::Request(
                "the certificate is not the one this request asks about".into(),
            ));
        }
        verify_response(response, cert, issuer, self.nonce(), opts)
    }
}

/// How responses are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Validation time.
    pub time: UnixTime,
    /// Seconds of clock difference tolerated between us and the responder,
    /// on thisUpdate, producedAt and nextUpdate.
    pub clock_skew: u64,
    /// Largest response accepted, in octets.
    pub max_size: usize,
    /// A response whose thisUpdate is older than this many seconds is
    /// refused even before its nextUpdate; required for responses without
    /// nextUpdate. `None`: nextUpdate alone decides.
    pub max_age: Option<u64>,
    pub algorithm_policy: AlgorithmPolicy,
}

impl VerifyOptions {
    /// Defaults at `time`: 300 s skew, 64 KiB, no maximum age, the default
    /// algorithm policy.
    pub fn at(time: UnixTime) -> Self {
        Self {
            time,
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_size: DEFAULT_MAX_RESPONSE_SIZE,
            max_age: None,
            algorithm_policy: AlgorithmPolicy::Default,
        }
    }
}

/// RFC 6960 4.2.1 `CertStatus` of a verified response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    Good,
    /// `reason` is unspecified when the response leaves it out.
    Revoked {
        revoked_at: UnixTime,
        reason: RevocationReason,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// Who signed a verified response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseSigner {
    /// The CA that issued the certificate.
    Issuer,
    /// A delegated responder: its certificate's SHA-256 and subject.
    Delegated {
        fingerprint: [u8; 32],
        subject: String,
    },
}

/// A response that passed every check, reduced to what a cache keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedResponse {
    /// Cache identity of the certificate (issuer name, issuer key, serial).
    pub key: OcspKey,
    pub status: OcspStatus,
    pub produced_at: UnixTime,
    pub this_update: UnixTime,
    pub next_update: Option<UnixTime>,
    /// Last second the response may be used (nextUpdate, or thisUpdate plus
    /// the maximum age when that comes first or nextUpdate is absent).
    pub valid_until: UnixTime,
    /// The CertID hash the response used.
    pub hash: HashAlgorithm,
    pub signer: ResponseSigner,
}

impl VerifiedResponse {
    pub fn source(&self) -> StatusSource {
        StatusSource::Ocsp {
            produced_at: self.produced_at,
            this_update: self.this_update,
            next_update: self.next_update,
        }
    }

    /// The status as the path validator sees it at `time`. A revocation
    /// dated after `time` does not count yet, except certificateHold (as
    /// for CRLs).
    pub fn revocation_status(&self, time: UnixTime) -> RevocationStatus {
        match self.status {
            OcspStatus::Revoked { revoked_at, reason }
                if revoked_at <= time || reason == RevocationReason::CertificateHold =>
            {
                RevocationStatus::Revoked {
                    reason,
                    revoked_at,
                    invalidity_date: None,
                    source: self.source(),
                }
            }
            OcspStatus::Good | OcspStatus::Revoked { .. } => RevocationStatus::Good {
                source: self.source(),
            },
            OcspStatus::Unknown => RevocationStatus::Unknown {
                detail: format!(
                    "OCSP responder answered unknown (response produced at {})",
                    self.produced_at
                ),
            },
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> OcspError {
    OcspError::Malformed(e.to_string())
}

fn gtime(t: &x509_ocsp::OcspGeneralizedTime) -> UnixTime {
    UnixTime::from_system(t.0.to_system_time())
}

/// SHA-1 of the `subjectPublicKey` bits (RFC 6960 4.2.1 `KeyHash`).
fn key_hash(cert: &Cert) -> Vec<u8> {
    HashAlgorithm::Sha1.digest(cert.subject_public_key_bits())
}

fn responder_names(id: &ResponderId, cert: &Cert) -> bool {
    match id {
        ResponderId::ByName(name) => crate::name::names_equal(name, cert.subject()),
        ResponderId::ByKey(hash) => hash.as_bytes() == key_hash(cert).as_slice(),
    }
}

fn responder_text(id: &ResponderId) -> String {
    match id {
        ResponderId::ByName(name) => format!("byName {name}"),
        ResponderId::ByKey(hash) => format!("byKey {}", crate::cert::hex(hash.as_bytes())),
    }
}

fn check_extensions(list: Option<&Vec<Extension>>) -> Result<(), OcspError> {
    for x in list.into_iter().flatten() {
        if x.critical && x.extn_id != ID_PKIX_OCSP_NONCE {
            return Err(OcspError::UnknownCriticalExtension(x.extn_id));
        }
    }
    Ok(())
}

/// RFC 6960 4.2.2.2: a delegated responder certificate issued directly by
/// `issuer` for OCSP signing, valid at `time`.
fn check_delegate(delegate: &Cert, issuer: &Cert, opts: &VerifyOptions) -> Result<(), OcspError> {
    let subject = delegate.subject_string();
    if !crate::name::names_equal(delegate.issuer(), issuer.subject()) {
        return Err(OcspError::ResponderNotIssuedByCa {
            subject,
            reason: "its issuer name is not the CA's subject",
        });
    }
    if delegate
        .verify_signed_by(issuer, opts.algorithm_policy)
        .is_err()
    {
        return Err(OcspError::ResponderNotIssuedByCa {
            subject,
            reason: "its signature does not verify under the CA's key",
        });
    }
    let eku_ok = delegate
        .extensions()
        .ext_key_usage
        .as_ref()
        .is_some_and(|e| e.value.contains(&oid::KP_OCSP_SIGNING));
    if !eku_ok {
        return Err(OcspError::ResponderNotAuthorized { subject });
    }
    if !delegate.key_usage_allows(KeyUsages::DigitalSignature) {
        return Err(OcspError::ResponderKeyUsage { subject });
    }
    if opts.time < delegate.not_before() || opts.time > delegate.not_after() {
        return Err(OcspError::ResponderNotValid {
            subject,
            time: opts.time,
            not_before: delegate.not_before(),
            not_after: delegate.not_after(),
        });
    }
    Ok(())
}

/// The nonce value of an RFC 8954 nonce extension (the inner OCTET STRING).
fn response_nonce(list: Option<&Vec<Extension>>) -> Result<Option<Vec<u8>>, OcspError> {
    let Some(x) = list
        .into_iter()
        .flatten()
        .find(|x| x.extn_id == ID_PKIX_OCSP_NONCE)
    else {
        return Ok(None);
    };
    OctetString::from_der(x.extn_value.as_bytes())
        .map(|o| Some(o.into_bytes()))
        .map_err(|e| malformed(format!("nonce extension: {e}")))
}

fn reason(r: Option<CrlReason>) -> RevocationReason {
    // CrlReason's discriminants are the RFC 5280 codes, all defined.
    r.and_then(|r| RevocationReason::from_code(r as u8))
        .unwrap_or(RevocationReason::Unspecified)
}

/// Verifies an OCSP response about `cert` (issued by `issuer`); `nonce` is
/// the nonce the request carried, if any. See the module documentation for
/// what is checked.
pub fn verify_response(
    der: &[u8],
    cert: &Cert,
    issuer: &Cert,
    nonce: Option<&[u8]>,
    opts: &VerifyOptions,
) -> Result<VerifiedResponse, OcspError> {
    if der.len() > opts.max_size {
        return Err(OcspError::TooLarge {
            size: der.len(),
            limit: opts.max_size,
        });
    }
    let response = OcspResponse::from_der(der).map_err(malformed)?;
    let status = ResponseStatus::from_code(response.response_status as u8)
        .ok_or_else(|| malformed("unknown responseStatus"))?;
    if status != ResponseStatus::Successful {
        return Err(OcspError::Unsuccessful(status));
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| malformed("successful response without responseBytes"))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::UnsupportedResponseType(bytes.response_type));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(malformed)?;
    let tbs_range = crate::cert::tbs_range(basic_der).map_err(malformed)?;
    let data = &basic.tbs_response_data;
    if data.version != Version::V1 {
        return Err(malformed("ResponseData version is not v1"));
    }
    check_extensions(data.response_extensions.as_ref())?;

    // RFC 6960 4.2.2.2: who signed, and may they?
    let (signer_cert, signer) = if responder_names(&data.responder_id, issuer) {
        (None, ResponseSigner::Issuer)
    } else {
        let mut found = None;
        for c in basic.certs.iter().flatten() {
            let der = c.to_der().map_err(malformed)?;
            let c = Cert::from_der(&der).map_err(OcspError::ResponderCert)?;
            if responder_names(&data.responder_id, &c) {
                found = Some(c);
                break;
            }
        }
        let Some(delegate) = found else {
            return Err(OcspError::UnknownResponder {
                responder: responder_text(&data.responder_id),
            });
        };
        check_delegate(&delegate, issuer, opts)?;
        let signer = ResponseSigner::Delegated {
            fingerprint: *delegate.fingerprint(),
            subject: delegate.subject_string(),
        };
        (Some(delegate), signer)
    };
    let signing_cert = signer_cert.as_ref().unwrap_or(issuer);
    let alg = SignatureAlgorithm::from_identifier(&basic.signature_algorithm)
        .map_err(OcspError::SignatureAlgorithm)?;
    let key = signing_cert
        .public_key()
        .map_err(OcspError::SignatureAlgorithm)?;
    key.check_policy(opts.algorithm_policy)
        .map_err(OcspError::SignatureAlgorithm)?;
    match signature::verify(
        alg,
        key,
        None,
        opts.algorithm_policy,
        &basic_der[tbs_range],
        basic.signature.raw_bytes(),
    ) {
        Ok(()) => {}
        Err(Error::SignatureInvalid { .. }) => {
            return Err(OcspError::SignatureInvalid {
                signer: signing_cert.subject_string(),
            })
        }
        Err(e) => return Err(OcspError::SignatureAlgorithm(e)),
    }

    // RFC 6960 3.2 (1): the response is about this certificate.
    let hashes = IssuerHashes::from_cert(issuer);
    let (single, hash) = data
        .responses
        .iter()
        .find_map(|s| {
            let alg = hashes.matches(&s.cert_id)?;
            (s.cert_id.serial_number.as_bytes() == cert.serial()).then_some((s, alg))
        })
        .ok_or_else(|| OcspError::CertIdNotFound {
            serial: crate::cert::hex(cert.serial()),
        })?;
    check_extensions(single.single_extensions.as_ref())?;

    // RFC 6960 3.2 (4)-(5), 4.2.2.1: time windows with the skew tolerance.
    let (time, skew) = (opts.time, opts.clock_skew);
    let produced_at = gtime(&data.produced_at);
    let this_update = gtime(&single.this_update);
    let next_update = single.next_update.as_ref().map(gtime);
    for (field, value) in [("thisUpdate", this_update), ("producedAt", produced_at)] {
        if value > time.plus(skew) {
            return Err(OcspError::NotYetValid {
                field,
                value,
                time,
                skew,
            });
        }
    }
    if let Some(next) = next_update {
        if next < this_update {
            return Err(OcspError::NextUpdateBeforeThisUpdate {
                this_update,
                next_update: next,
            });
        }
        if time > next.plus(skew) {
            return Err(OcspError::Stale {
                next_update: next,
                time,
                skew,
            });
        }
    }
    let age_limit = opts.max_age.map(|max| this_update.plus(max));
    if let (Some(limit), Some(max_age)) = (age_limit, opts.max_age) {
        if time > limit {
            return Err(OcspError::TooOld {
                this_update,
                max_age,
                time,
            });
        }
    }
    let valid_until = match (next_update, age_limit) {
        (Some(n), Some(l)) => n.min(l),
        (Some(n), None) => n,
        (None, Some(l)) => l,
        (None, None) => return Err(OcspError::NoNextUpdate),
    };

    // RFC 8954: the nonce sent comes back.
    if let Some(sent) = nonce {
        match response_nonce(data.response_extensions.as_ref())? {
            None => return Err(OcspError::NonceMissing),
            Some(got) if got != sent => return Err(OcspError::NonceMismatch),
            Some(_) => {}
        }
    }

    let status = match &single.cert_status {
        x509_ocsp::CertStatus::Good(_) => OcspStatus::Good,
        x509_ocsp::CertStatus::Revoked(info) => OcspStatus::Revoked {
            revoked_at: gtime(&info.revocation_time),
            reason: reason(info.revocation_reason),
        },
        x509_ocsp::CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(VerifiedResponse {
        key: OcspKey::new(cert.serial(), issuer),
        status,
        produced_at,
        this_update,
        next_update,
        valid_until,
        hash,
        signer,
    })
}
