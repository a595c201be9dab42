//! OCSP (RFC 6960, RFC 5019 profile, RFC 8954 nonces): CertIDs, request
//! parsing and building, response building through a [`crate::Signer`].
//!
//! The responder (`ocsp-responder` crate) and clients share these types.
//! [`x509_ocsp`] is re-exported so every crate uses the same ASN.1 types.
//!
//! ```
//! # #[cfg(feature = "test-ca")] {
//! use pki_core::ocsp::{self, HashAlgorithm, IssuerHashes, RequestLimits};
//! use pki_core::testing::TestCa;
//!
//! let ca = TestCa::root("CN=Root");
//! let issuer = IssuerHashes::from_certificate_der(ca.cert_der()).unwrap();
//! let id = issuer.cert_id(HashAlgorithm::Sha1, &[0x01, 0x02]).unwrap();
//! let der = ocsp::build_request(&[id], Some(&[7; 32])).unwrap();
//! let parsed = ocsp::parse_request(&der, &RequestLimits::default()).unwrap();
//! assert_eq!(issuer.matches(&parsed.certs[0].cert_id), Some(HashAlgorithm::Sha1));
//! # }
//! ```

pub mod cache;
pub mod cert_id;
pub mod request;
pub mod response;
pub mod verify;

pub use cache::{OcspCache, OcspKey};
pub use cert_id::{check_cert_id, CertIdError, HashAlgorithm, IssuerHashes};
pub use request::{
    build_request, parse_request, ParsedRequest, RequestError, RequestLimits, RequestedCert,
    ID_PKIX_OCSP_NONCE, MAX_NONCE_LEN,
};
pub use response::{
    build_response, build_response_with, decode_response, CertStatus, DecodedResponse,
    ResponderIdentity, ResponseError, ResponseExtensions, ResponseStatus, SingleStatus,
    ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_EXTENDED_REVOKE,
};
pub use verify::{verify_response, OcspError, OcspRequest, VerifiedResponse, VerifyOptions};
pub use x509_ocsp;
pub use x509_ocsp::CertId;
