//! RFC 6960 4.2 OCSP responses: `BasicOCSPResponse` signed through a
//! [`Signer`], and the unsigned error statuses.
//!
//! ```text
//! OCSPResponse ::= SEQUENCE {
//!    responseStatus         OCSPResponseStatus,
//!    responseBytes          [0] EXPLICIT ResponseBytes OPTIONAL }
//!
//! BasicOCSPResponse       ::= SEQUENCE {
//!    tbsResponseData      ResponseData,
//!    signatureAlgorithm   AlgorithmIdentifier,
//!    signature            BIT STRING,
//!    certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
//!
//! ResponseData ::= SEQUENCE {
//!    version              [0] EXPLICIT Version DEFAULT v1,
//!    responderID              ResponderID,
//!    producedAt               GeneralizedTime,
//!    responses                SEQUENCE OF SingleResponse,
//!    responseExtensions   [1] EXPLICIT Extensions OPTIONAL }
//! ```
//!
//! Responses name the responder by key hash (RFC 6960 4.2.2.3, RFC 5019
//! 2.2.3) and carry the delegated signer's certificate in `certs` (RFC 6960
//! 4.2.2.2) so clients can check it was issued by the CA for OCSP signing.

use std::fmt;
use std::time::SystemTime;

use der::asn1::{GeneralizedTime, OctetString};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspGeneralizedTime, OcspResponse, OcspResponseStatus, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::cert_id::HashAlgorithm;
use super::request::ID_PKIX_OCSP_NONCE;
use crate::revocation::RevocationReason;
use crate::signer::{SignError, Signer};

/// RFC 6960 4.2.1 `OCSPResponseStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    Successful,
    MalformedRequest,
    InternalError,
    TryLater,
    SigRequired,
    Unauthorized,
}

impl ResponseStatus {
    pub fn code(self) -> u8 {
        match self {
            Self::Successful => 0,
            Self::MalformedRequest => 1,
            Self::InternalError => 2,
            Self::TryLater => 3,
            Self::SigRequired => 5,
            Self::Unauthorized => 6,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Successful,
            1 => Self::MalformedRequest,
            2 => Self::InternalError,
            3 => Self::TryLater,
            5 => Self::SigRequired,
            6 => Self::Unauthorized,
            _ => return None,
        })
    }

    /// The RFC 6960 name, e.g. `tryLater`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Successful => "successful",
            Self::MalformedRequest => "malformedRequest",
            Self::InternalError => "internalError",
            Self::TryLater => "tryLater",
            Self::SigRequired => "sigRequired",
            Self::Unauthorized => "unauthorized",
        }
    }

    /// The complete DER of an `OCSPResponse` with this status and no
    /// `responseBytes` (what every non-successful answer is).
    pub fn unsigned_response(self) -> [u8; 5] {
        [0x30, 0x03, 0x0a, 0x01, self.code()]
    }

    fn from_x509(s: OcspResponseStatus) -> Self {
        match s {
            OcspResponseStatus::Successful => Self::Successful,
            OcspResponseStatus::MalformedRequest => Self::MalformedRequest,
            OcspResponseStatus::InternalError => Self::InternalError,
            OcspResponseStatus::TryLater => Self::TryLater,
            OcspResponseStatus::SigRequired => Self::SigRequired,
            OcspResponseStatus::Unauthorized => Self::Unauthorized,
        }
    }
}

impl fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 6960 4.2.1 `CertStatus` as this crate writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// `revocationReason` is left out when `reason` is `None`.
    Revoked {
        revoked_at: SystemTime,
        reason: Option<RevocationReason>,
    },
    Unknown,
}

impl CertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked { .. } => "revoked",
            Self::Unknown => "unknown",
        }
    }
}

/// One `SingleResponse` to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleStatus {
    /// Exactly the CertID of the request (RFC 6960 4.2.2.3).
    pub cert_id: CertId,
    pub status: CertStatus,
    pub this_update: SystemTime,
    pub next_update: Option<SystemTime>,
}

/// Why a response could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    #[error("cannot encode OCSP response: {0}")]
    Encoding(#[from] der::Error),
    #[error(transparent)]
    Signing(#[from] SignError),
    #[error("no SingleResponse to write")]
    NoResponses,
    #[error("the signer's public key is not the key of responder certificate {subject}")]
    SignerKeyMismatch { subject: String },
}

/// Who signs: the key hash that goes into `responderID` and the
/// certificates that go into `certs`.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponderIdentity {
    key_hash: [u8; 20],
    certs: Vec<Certificate>,
    /// DER of `certs`, written as is into every response.
    certs_der: Vec<Vec<u8>>,
}

impl fmt::Debug for ResponderIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderIdentity")
            .field("key_hash", &super::cert_id::hex(&self.key_hash))
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl ResponderIdentity {
    /// A delegated OCSP signer (RFC 6960 4.2.2.2): `cert_der` is its
    /// certificate, issued by the CA with id-kp-OCSPSigning, and `signer`
    /// holds its key; the certificate is sent in `certs`.
    pub fn delegated(cert_der: &[u8], signer: &dyn Signer) -> Result<Self, ResponseError> {
        let cert = Certificate::from_der(cert_der)?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        if spki != &signer.public_key() {
            return Err(ResponseError::SignerKeyMismatch {
                subject: cert.tbs_certificate.subject.to_string(),
            });
        }
        Ok(Self {
            key_hash: key_hash(spki),
            certs_der: vec![cert.to_der()?],
            certs: vec![cert],
        })
    }

    /// The CA signs its own responses with `signer`; `certs` stays empty.
    pub fn issuer_key(signer: &dyn Signer) -> Self {
        Self {
            key_hash: key_hash(&signer.public_key()),
            certs: Vec::new(),
            certs_der: Vec::new(),
        }
    }

    /// SHA-1 of the signer's `subjectPublicKey` bits (RFC 6960 `KeyHash`).
    pub fn key_hash(&self) -> &[u8; 20] {
        &self.key_hash
    }

    pub fn certs(&self) -> &[Certificate] {
        &self.certs
    }
}

fn key_hash(spki: &SubjectPublicKeyInfoOwned) -> [u8; 20] {
    let mut out = [0; 20];
    out.copy_from_slice(&HashAlgorithm::Sha1.digest(spki.subject_public_key.raw_bytes()));
    out
}

fn time(t: SystemTime) -> Result<OcspGeneralizedTime, der::Error> {
    // GeneralizedTime in DER has whole seconds only (RFC 5280 4.1.2.5.2).
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| der::ErrorKind::DateTime)?
        .as_secs();
    Ok(OcspGeneralizedTime(GeneralizedTime::from_unix_duration(
        std::time::Duration::from_secs(secs),
    )?))
}

fn crl_reason(r: RevocationReason) -> CrlReason {
    match r {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    }
}

/// id-pkix-ocsp-extended-revoke, RFC 6960 4.4.8 (1.3.6.1.5.5.7.48.1.9).
pub const ID_PKIX_OCSP_EXTENDED_REVOKE: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.9");

/// Builds and signs a successful `OCSPResponse` answering `responses` in
/// order, produced at `produced_at`, echoing `nonce` (RFC 8954) when given.
pub fn build_response(
    identity: &ResponderIdentity,
    responses: &[SingleStatus],
    produced_at: SystemTime,
    nonce: Option<&[u8]>,
    signer: &dyn Signer,
) -> Result<Vec<u8>, ResponseError> {
    build_response_with(
        identity,
        responses,
        produced_at,
        ResponseExtensions {
            nonce,
            extended_revoke: false,
        },
        signer,
    )
}

/// `responseExtensions` to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseExtensions<'a> {
    /// RFC 8954 nonce to echo.
    pub nonce: Option<&'a [u8]>,
    /// RFC 6960 4.4.8 extended revoked definition: required when a response
    /// says `revoked` for a serial that was never issued (RFC 6960 2.2).
    pub extended_revoke: bool,
}

/// [`build_response`] with any [`ResponseExtensions`].
pub fn build_response_with(
    identity: &ResponderIdentity,
    responses: &[SingleStatus],
    produced_at: SystemTime,
    extensions: ResponseExtensions<'_>,
    signer: &dyn Signer,
) -> Result<Vec<u8>, ResponseError> {
    if responses.is_empty() {
        return Err(ResponseError::NoResponses);
    }
    let singles = responses
        .iter()
        .map(|r| {
            let cert_status = match r.status {
                CertStatus::Good => x509_ocsp::CertStatus::good(),
                CertStatus::Unknown => x509_ocsp::CertStatus::unknown(),
                CertStatus::Revoked { revoked_at, reason } => {
                    x509_ocsp::CertStatus::revoked(RevokedInfo {
                        revocation_time: time(revoked_at)?,
                        revocation_reason: reason.map(crl_reason),
                    })
                }
            };
            Ok(SingleResponse {
                cert_id: r.cert_id.clone(),
                cert_status,
                this_update: time(r.this_update)?,
                next_update: r.next_update.map(time).transpose()?,
                single_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, der::Error>>()?;
    let mut exts = Vec::new();
    if let Some(n) = extensions.nonce {
        exts.push(Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        });
    }
    if extensions.extended_revoke {
        // ExtendedRevoke ::= NULL, non-critical (RFC 6960 4.4.8).
        exts.push(Extension {
            extn_id: ID_PKIX_OCSP_EXTENDED_REVOKE,
            critical: false,
            extn_value: OctetString::new(der::asn1::Null.to_der()?)?,
        });
    }
    let response_extensions = (!exts.is_empty()).then_some(exts);
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(identity.key_hash.as_slice())?),
        produced_at: time(produced_at)?,
        responses: singles,
        response_extensions,
    };
    let tbs_der = tbs.to_der()?;
    let signature = signer.sign(&tbs_der)?;
    assemble(
        identity,
        &tbs_der,
        &signer.algorithm().to_der()?,
        &signature,
    )
}

/// Writes the `OCSPResponse` around an encoded and signed `ResponseData`:
/// the same DER the `x509-ocsp` types give, without decoding and
/// re-encoding the TBS or the responder certificate for every response.
fn assemble(
    identity: &ResponderIdentity,
    tbs_der: &[u8],
    algorithm_der: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, ResponseError> {
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm,
    //   signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(signature);
    let mut basic_content = Vec::with_capacity(tbs_der.len() + signature.len() + 600);
    basic_content.extend_from_slice(tbs_der);
    basic_content.extend_from_slice(algorithm_der);
    tlv(&mut basic_content, 0x03, &bits)?;
    if !identity.certs_der.is_empty() {
        let certs: Vec<u8> = identity.certs_der.concat();
        let mut seq = Vec::with_capacity(certs.len() + 8);
        tlv(&mut seq, 0x30, &certs)?;
        tlv(&mut basic_content, 0xa0, &seq)?;
    }
    let mut basic = Vec::with_capacity(basic_content.len() + 8);
    tlv(&mut basic, 0x30, &basic_content)?;
    // ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
    let mut bytes_content = Vec::with_capacity(basic.len() + 24);
    bytes_content.extend_from_slice(&ID_PKIX_OCSP_BASIC.to_der()?);
    tlv(&mut bytes_content, 0x04, &basic)?;
    let mut response_bytes = Vec::with_capacity(bytes_content.len() + 8);
    tlv(&mut response_bytes, 0x30, &bytes_content)?;
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED successful,
    //   responseBytes [0] EXPLICIT ResponseBytes }
    let mut content = Vec::with_capacity(response_bytes.len() + 16);
    content.extend_from_slice(&[0x0a, 0x01, 0x00]);
    tlv(&mut content, 0xa0, &response_bytes)?;
    let mut out = Vec::with_capacity(content.len() + 8);
    tlv(&mut out, 0x30, &content)?;
    Ok(out)
}

/// Appends tag, DER length and `content`.
fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) -> Result<(), der::Error> {
    out.push(tag);
    der::Length::try_from(content.len())?.encode(out)?;
    out.extend_from_slice(content);
    Ok(())
}

/// A decoded response, for clients and tests: the status, and for
/// `successful` the `BasicOCSPResponse`. Signature checks are the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedResponse {
    pub status: ResponseStatus,
    pub basic: Option<BasicOcspResponse>,
}

/// Decodes an `OCSPResponse` (strict DER); only id-pkix-ocsp-basic
/// `responseBytes` are understood.
pub fn decode_response(der: &[u8]) -> Result<DecodedResponse, der::Error> {
    let response = OcspResponse::from_der(der)?;
    let status = ResponseStatus::from_x509(response.response_status);
    let basic = match response.response_bytes {
        Some(bytes) if bytes.response_type == ID_PKIX_OCSP_BASIC => {
            Some(BasicOcspResponse::from_der(bytes.response.as_bytes())?)
        }
        Some(bytes) => {
            return Err(der::ErrorKind::OidUnknown {
                oid: bytes.response_type,
            }
            .into())
        }
        None => None,
    };
    Ok(DecodedResponse { status, basic })
}

/// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
pub const ID_PKIX_OCSP_BASIC: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocsp::cert_id::IssuerHashes;
    use crate::oid;
    use crate::testing::{utc, KeyAlgorithm, SoftwareKey, TestCa};
    use aws_lc_rs::signature::UnparsedPublicKey;

    #[test]
    fn status_only_responses() {
        for s in [
            ResponseStatus::MalformedRequest,
            ResponseStatus::InternalError,
            ResponseStatus::TryLater,
            ResponseStatus::Unauthorized,
        ] {
            let der = s.unsigned_response();
            let decoded = decode_response(&der).unwrap();
            assert_eq!(decoded.status, s);
            assert!(decoded.basic.is_none());
            assert_eq!(
                OcspResponse::from_der(&der).unwrap().response_status as u8,
                s.code()
            );
        }
    }

    #[test]
    fn signed_round_trip_with_delegated_signer() {
        let ca = TestCa::root("CN=OCSP Test CA,O=Example,C=MA");
        let responder = ca.leaf("CN=OCSP Responder", |tpl| {
            tpl.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        });
        let identity = ResponderIdentity::delegated(responder.cert_der(), responder.key()).unwrap();
        assert_eq!(identity.key_hash().as_slice(), responder.key_id());
        let issuer = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();
        let good = issuer.cert_id(HashAlgorithm::Sha1, &[0x11]).unwrap();
        let revoked = issuer.cert_id(HashAlgorithm::Sha256, &[0x22]).unwrap();
        let unknown = issuer.cert_id(HashAlgorithm::Sha1, &[0x33]).unwrap();
        let now = utc(2025, 3, 1);
        let next = utc(2025, 3, 5);
        let statuses = vec![
            SingleStatus {
                cert_id: good.clone(),
                status: CertStatus::Good,
                this_update: now,
                next_update: Some(next),
            },
            SingleStatus {
                cert_id: revoked.clone(),
                status: CertStatus::Revoked {
                    revoked_at: utc(2025, 2, 1),
                    reason: Some(RevocationReason::KeyCompromise),
                },
                this_update: now,
                next_update: Some(next),
            },
            SingleStatus {
                cert_id: unknown.clone(),
                status: CertStatus::Unknown,
                this_update: now,
                next_update: None,
            },
        ];
        let der =
            build_response(&identity, &statuses, now, Some(&[5; 16]), responder.key()).unwrap();
        let decoded = decode_response(&der).unwrap();
        assert_eq!(decoded.status, ResponseStatus::Successful);
        let basic = decoded.basic.unwrap();
        let data = &basic.tbs_response_data;
        assert_eq!(
            data.responder_id,
            ResponderId::ByKey(OctetString::new(responder.key_id()).unwrap())
        );
        assert_eq!(data.responses.len(), 3);
        assert_eq!(data.responses[0].cert_id, good);
        assert_eq!(data.responses[0].cert_status, x509_ocsp::CertStatus::good());
        assert_eq!(data.responses[1].cert_id, revoked);
        match data.responses[1].cert_status {
            x509_ocsp::CertStatus::Revoked(info) => {
                assert_eq!(info.revocation_reason, Some(CrlReason::KeyCompromise));
                assert_eq!(info.revocation_time, time(utc(2025, 2, 1)).unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            data.responses[2].cert_status,
            x509_ocsp::CertStatus::unknown()
        );
        assert_eq!(data.responses[2].next_update, None);
        assert_eq!(data.produced_at, time(now).unwrap());
        assert_eq!(
            basic.nonce().unwrap().0.as_bytes(),
            &[5; 16],
            "nonce echoed"
        );
        let certs = basic.certs.as_ref().unwrap();
        assert_eq!(certs[0].to_der().unwrap(), responder.cert_der());

        // Byte for byte what the x509-ocsp types encode.
        let again = OcspResponse::successful(basic.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(again, der);

        // The signature verifies with the responder's key over the TBS.
        let public = UnparsedPublicKey::new(
            KeyAlgorithm::EcdsaP256.verification_algorithm(),
            responder.spki().subject_public_key.raw_bytes(),
        );
        let tbs = data.to_der().unwrap();
        public.verify(&tbs, basic.signature.raw_bytes()).unwrap();
        assert_eq!(
            basic.signature_algorithm,
            KeyAlgorithm::EcdsaP256.signature_algorithm()
        );
    }

    #[test]
    fn issuer_signed_and_mismatched_keys() {
        let ca = TestCa::root("CN=Self-answering CA");
        let identity = ResponderIdentity::issuer_key(ca.key());
        assert_eq!(identity.key_hash().as_slice(), ca.key_id());
        let issuer = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();
        let id = issuer.cert_id(HashAlgorithm::Sha1, &[1]).unwrap();
        let single = SingleStatus {
            cert_id: id,
            status: CertStatus::Good,
            this_update: utc(2025, 1, 1),
            next_update: None,
        };
        let der = build_response(&identity, &[single], utc(2025, 1, 1), None, ca.key()).unwrap();
        let basic = decode_response(&der).unwrap().basic.unwrap();
        assert!(basic.certs.is_none());
        let again = OcspResponse::successful(basic.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(again, der);
        assert!(basic.nonce().is_none());
        assert!(matches!(
            build_response(&identity, &[], utc(2025, 1, 1), None, ca.key()),
            Err(ResponseError::NoResponses)
        ));

        let single = SingleStatus {
            cert_id: issuer.cert_id(HashAlgorithm::Sha1, &[2]).unwrap(),
            status: CertStatus::Revoked {
                revoked_at: SystemTime::UNIX_EPOCH,
                reason: Some(RevocationReason::CertificateHold),
            },
            this_update: utc(2025, 1, 1),
            next_update: None,
        };
        let extensions = ResponseExtensions {
            nonce: None,
            extended_revoke: true,
        };
        let der = build_response_with(&identity, &[single], utc(2025, 1, 1), extensions, ca.key())
            .unwrap();
        let basic = decode_response(&der).unwrap().basic.unwrap();
        let exts = basic.tbs_response_data.response_extensions.unwrap();
        assert_eq!(exts.len(), 1);
        assert_eq!(exts[0].extn_id, ID_PKIX_OCSP_EXTENDED_REVOKE);
        assert_eq!(exts[0].extn_value.as_bytes(), &[0x05, 0x00]);

        let other = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
        assert!(matches!(
            ResponderIdentity::delegated(ca.cert_der(), &other),
            Err(ResponseError::SignerKeyMismatch { .. })
        ));
    }
}
