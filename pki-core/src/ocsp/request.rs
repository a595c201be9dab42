//! RFC 6960 4.1 OCSP requests: strict, size-limited parsing for responders,
//! and building for clients and tests.
//!
//! ```text
//! OCSPRequest ::= SEQUENCE {
//!    tbsRequest              TBSRequest,
//!    optionalSignature   [0] EXPLICIT Signature OPTIONAL }
//!
//! TBSRequest ::= SEQUENCE {
//!    version             [0] EXPLICIT Version DEFAULT v1,
//!    requestorName       [1] EXPLICIT GeneralName OPTIONAL,
//!    requestList             SEQUENCE OF Request,
//!    requestExtensions   [2] EXPLICIT Extensions OPTIONAL }
//!
//! Request ::= SEQUENCE {
//!    reqCert                     CertID,
//!    singleRequestExtensions     [0] EXPLICIT Extensions OPTIONAL }
//! ```
//!
//! Parsing is DER only (the `der` crate rejects BER lengths, non-minimal
//! encodings and trailing bytes), bounded in size, in the number of CertIDs
//! and in nonce length (RFC 8954). A request signature, if present, is not
//! verified: this responder does not require signed requests (RFC 6960
//! 4.1.2), and a signature authenticates nothing the answer depends on.

use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};

use super::cert_id::{check_cert_id, CertIdError, HashAlgorithm};

/// id-pkix-ocsp-nonce, RFC 6960 4.4.1 (1.3.6.1.5.5.7.48.1.2).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// RFC 8954 2.1: `Nonce ::= OCTET STRING(SIZE(1..32))`.
pub const MAX_NONCE_LEN: usize = 32;

/// Bounds applied before and while parsing a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Largest request accepted, in octets (the HTTP body cap).
    pub max_len: usize,
    /// Most CertIDs in one request.
    pub max_cert_ids: usize,
    /// Longest nonce accepted (RFC 8954: 32).
    pub max_nonce_len: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_len: 10_000,
            max_cert_ids: 16,
            max_nonce_len: MAX_NONCE_LEN,
        }
    }
}

/// Why a request was refused. Every variant answers `malformedRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("empty OCSP request")]
    Empty,
    #[error("OCSP request is {len} octets, the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("not a DER OCSPRequest: {0}")]
    Malformed(der::Error),
    #[error("OCSP request lists no CertID")]
    NoCertIds,
    #[error("OCSP request lists {count} CertIDs, the limit is {max}")]
    TooManyCertIds { count: usize, max: usize },
    #[error("CertID {index}: {source}")]
    CertId {
        index: usize,
        #[source]
        source: CertIdError,
    },
    #[error("unsupported critical request extension {oid}")]
    UnsupportedCriticalExtension { oid: ObjectIdentifier },
    #[error("request extension {oid} appears more than once")]
    DuplicateExtension { oid: ObjectIdentifier },
    #[error("nonce extension is not a DER OCTET STRING: {0}")]
    NonceMalformed(der::Error),
    #[error("nonce is {len} octets, RFC 8954 allows 1 to {max}")]
    NonceLength { len: usize, max: usize },
}

/// One CertID of a parsed request, with its checked hash algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedCert {
    pub cert_id: CertId,
    pub hash: HashAlgorithm,
}

/// A request that passed [`parse_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// In request order; the response answers them in the same order.
    pub certs: Vec<RequestedCert>,
    /// RFC 8954 nonce value (the inner OCTET STRING's content).
    pub nonce: Option<Vec<u8>>,
    /// The request carried `optionalSignature` (not verified).
    pub signed: bool,
}

/// Parses `der` as an OCSP request within `limits`.
pub fn parse_request(der: &[u8], limits: &RequestLimits) -> Result<ParsedRequest, RequestError> {
    if der.is_empty() {
        return Err(RequestError::Empty);
    }
    if der.len() > limits.max_len {
        return Err(RequestError::TooLarge {
            len: der.len(),
            max: limits.max_len,
        });
    }
    let request = OcspRequest::from_der(der).map_err(RequestError::Malformed)?;
    let tbs = request.tbs_request;
    let count = tbs.request_list.len();
    if count == 0 {
        return Err(RequestError::NoCertIds);
    }
    if count > limits.max_cert_ids {
        return Err(RequestError::TooManyCertIds {
            count,
            max: limits.max_cert_ids,
        });
    }
    let mut certs = Vec::with_capacity(count);
    for (index, single) in tbs.request_list.into_iter().enumerate() {
        let hash = check_cert_id(&single.req_cert)
            .map_err(|source| RequestError::CertId { index, source })?;
        if let Some(exts) = &single.single_request_extensions {
            check_extensions(exts, &[])?;
        }
        certs.push(RequestedCert {
            cert_id: single.req_cert,
            hash,
        });
    }
    let mut nonce = None;
    if let Some(exts) = &tbs.request_extensions {
        check_extensions(exts, &[ID_PKIX_OCSP_NONCE])?;
        if let Some(ext) = exts.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE) {
            nonce = Some(parse_nonce(ext, limits.max_nonce_len)?);
        }
    }
    Ok(ParsedRequest {
        certs,
        nonce,
        signed: request.optional_signature.is_some(),
    })
}

/// Rejects duplicate extensions and critical ones not in `known`.
fn check_extensions(exts: &[Extension], known: &[ObjectIdentifier]) -> Result<(), RequestError> {
    for (i, ext) in exts.iter().enumerate() {
        if exts[..i].iter().any(|e| e.extn_id == ext.extn_id) {
            return Err(RequestError::DuplicateExtension { oid: ext.extn_id });
        }
        if ext.critical && !known.contains(&ext.extn_id) {
            return Err(RequestError::UnsupportedCriticalExtension { oid: ext.extn_id });
        }
    }
    Ok(())
}

/// RFC 8954 2.1: the extension value is the DER of `Nonce ::= OCTET STRING`,
/// 1 to 32 octets; anything else is `malformedRequest`.
fn parse_nonce(ext: &Extension, max: usize) -> Result<Vec<u8>, RequestError> {
    let inner =
        OctetString::from_der(ext.extn_value.as_bytes()).map_err(RequestError::NonceMalformed)?;
    let len = inner.as_bytes().len();
    if len == 0 || len > max {
        return Err(RequestError::NonceLength { len, max });
    }
    Ok(inner.into_bytes())
}

/// Encodes an unsigned OCSP request for `cert_ids`, with an RFC 8954 nonce
/// extension when `nonce` is given.
pub fn build_request(cert_ids: &[CertId], nonce: Option<&[u8]>) -> Result<Vec<u8>, der::Error> {
    let request_extensions = match nonce {
        Some(n) => Some(vec![Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        }]),
        None => None,
    };
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: cert_ids
                .iter()
                .map(|id| Request {
                    req_cert: id.clone(),
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions,
        },
        optional_signature: None,
    }
    .to_der()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocsp::cert_id::IssuerHashes;

    fn ids(n: usize) -> Vec<CertId> {
        let issuer = IssuerHashes::new(b"issuer name", b"issuer key");
        (1..=n)
            .map(|i| {
                let alg = if i % 2 == 0 {
                    HashAlgorithm::Sha256
                } else {
                    HashAlgorithm::Sha1
                };
                issuer.cert_id(alg, &[i as u8]).unwrap()
            })
            .collect()
    }

    #[test]
    fn round_trip_with_and_without_nonce() {
        let limits = RequestLimits::default();
        let der = build_request(&ids(3), None).unwrap();
        let parsed = parse_request(&der, &limits).unwrap();
        assert_eq!(parsed.certs.len(), 3);
        assert_eq!(parsed.certs[1].hash, HashAlgorithm::Sha256);
        assert_eq!(parsed.certs[0].cert_id, ids(1)[0]);
        assert_eq!(parsed.nonce, None);
        assert!(!parsed.signed);

        let der = build_request(&ids(1), Some(&[7; 32])).unwrap();
        let parsed = parse_request(&der, &limits).unwrap();
        assert_eq!(parsed.nonce.as_deref(), Some(&[7; 32][..]));
    }

    #[test]
    fn limits_and_malformed_input() {
        let limits = RequestLimits::default();
        assert_eq!(parse_request(&[], &limits), Err(RequestError::Empty));
        let big = vec![0x30; limits.max_len + 1];
        assert_eq!(
            parse_request(&big, &limits),
            Err(RequestError::TooLarge {
                len: limits.max_len + 1,
                max: limits.max_len
            })
        );
        let der = build_request(&ids(2), None).unwrap();
        for cut in [1, 2, der.len() / 2, der.len() - 1] {
            assert!(matches!(
                parse_request(&der[..cut], &limits),
                Err(RequestError::Malformed(_))
            ));
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(matches!(
            parse_request(&trailing, &limits),
            Err(RequestError::Malformed(_))
        ));
        // 2,000 nested SEQUENCEs: a clean error, no stack overflow.
        let mut nested = Vec::new();
        for _ in 0..2000 {
            nested.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(matches!(
            parse_request(&nested, &limits),
            Err(RequestError::Malformed(_))
        ));
        assert_eq!(
            parse_request(&build_request(&[], None).unwrap(), &limits),
            Err(RequestError::NoCertIds)
        );
        assert_eq!(
            parse_request(&build_request(&ids(17), None).unwrap(), &limits),
            Err(RequestError::TooManyCertIds { count: 17, max: 16 })
        );
        let too_long = build_request(&ids(1), Some(&[1; 33])).unwrap();
        assert_eq!(
            parse_request(&too_long, &limits),
            Err(RequestError::NonceLength { len: 33, max: 32 })
        );
        let empty = build_request(&ids(1), Some(&[])).unwrap();
        assert_eq!(
            parse_request(&empty, &limits),
            Err(RequestError::NonceLength { len: 0, max: 32 })
        );
    }

    #[test]
    fn mutated_requests_never_panic() {
        // Deterministic xorshift: every run covers the same 30,000 inputs
        // (bit flips, truncations, insertions in a valid request with a
        // nonce and two CertIDs).
        let limits = RequestLimits::default();
        let base = build_request(&ids(2), Some(&[7; 16])).unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..30_000 {
            let mut input = base.clone();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % input.len();
                match next() % 3 {
                    0 => input[at] ^= 1 << (next() % 8),
                    1 => input.truncate(at.max(1)),
                    _ => input.insert(at, next() as u8),
                }
            }
            if parse_request(&input, &limits).is_ok() {
                accepted += 1;
            }
        }
        // Flips inside hash or serial bytes still parse; most do not.
        assert!(accepted > 0 && accepted < 30_000, "{accepted}");
    }

    #[test]
    fn extensions_are_checked() {
        let limits = RequestLimits::default();
        let with = |exts: Vec<Extension>| {
            let mut req = OcspRequest::from_der(&build_request(&ids(1), None).unwrap()).unwrap();
            req.tbs_request.request_extensions = Some(exts);
            req.to_der().unwrap()
        };
        let other = ObjectIdentifier::new_unwrap("1.2.3.4");
        let ext = |oid, critical, value: &[u8]| Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(value).unwrap(),
        };
        assert_eq!(
            parse_request(&with(vec![ext(other, true, &[5, 0])]), &limits),
            Err(RequestError::UnsupportedCriticalExtension { oid: other })
        );
        assert!(parse_request(&with(vec![ext(other, false, &[5, 0])]), &limits).is_ok());
        let nonce = ext(ID_PKIX_OCSP_NONCE, false, &[4, 1, 9]);
        assert_eq!(
            parse_request(&with(vec![nonce.clone(), nonce.clone()]), &limits),
            Err(RequestError::DuplicateExtension {
                oid: ID_PKIX_OCSP_NONCE
            })
        );
        // A raw (unwrapped) nonce value is refused, not guessed at.
        assert!(matches!(
            parse_request(
                &with(vec![ext(ID_PKIX_OCSP_NONCE, false, &[9; 16])]),
                &limits
            ),
            Err(RequestError::NonceMalformed(_))
        ));
        let parsed = parse_request(&with(vec![nonce]), &limits).unwrap();
        assert_eq!(parsed.nonce, Some(vec![9]));
    }
}
