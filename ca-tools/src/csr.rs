//! PKCS#10 certificate requests (RFC 2986): decoded strictly, signature
//! verified with the public key they carry (proof of possession).

use std::path::Path;

use der::{Decode, Encode};
use pki_core::signature::{self, PublicKey, SignatureAlgorithm};
use pki_core::AlgorithmPolicy;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::name::Name;
use x509_cert::request::CertReq;

use crate::config::read_limited;
use crate::error::{CliError, Result};

/// Largest request read: real ones are a few hundred bytes.
pub const MAX_CSR_SIZE: u64 = 64 * 1024;

/// A request whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    pub subject: Name,
    pub public_key: SubjectPublicKeyInfoOwned,
    /// SHA-256 of the DER request (an audit input).
    pub sha256: [u8; 32],
}

/// Reads a PEM (`CERTIFICATE REQUEST`) or DER request from `path` and
/// verifies its self-signature.
pub fn read(path: &Path) -> Result<VerifiedCsr> {
    let bytes = read_limited(path, MAX_CSR_SIZE)?;
    verify(&bytes).map_err(|reason| CliError::BadCsr {
        path: path.to_owned(),
        reason,
    })
}

/// Decodes and verifies a request given as PEM or DER.
pub fn verify(bytes: &[u8]) -> Result<VerifiedCsr, String> {
    let der = pki_core::pem::decode_all(bytes, "CERTIFICATE REQUEST")
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("no request found")?;
    let req = CertReq::from_der(&der).map_err(|e| format!("malformed request: {e}"))?;
    let info = req.info.to_der().map_err(|e| e.to_string())?;
    let alg = SignatureAlgorithm::from_identifier(&req.algorithm).map_err(|e| e.to_string())?;
    let key = PublicKey::from_spki(&req.info.public_key).map_err(|e| e.to_string())?;
    key.check_policy(AlgorithmPolicy::Default)
        .map_err(|e| e.to_string())?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or("signature BIT STRING has unused bits")?;
    signature::verify(alg, &key, None, AlgorithmPolicy::Default, &info, sig)
        .map_err(|_| "signature does not verify under the request's public key".to_owned())?;
    Ok(VerifiedCsr {
        subject: req.info.subject,
        public_key: req.info.public_key,
        sha256: store::sha256(&der),
    })
}
