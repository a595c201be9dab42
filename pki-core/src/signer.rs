//! The signing seam: everything that produces an X.509 signature (HSM keys in
//! production, software keys in the test CA) implements [`Signer`].

use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// Why a signer could not produce a signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key or token is not reachable right now (session closed, device
    /// removed, module failure). Callers may retry later.
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    /// The device or library refused the operation for a reason that will not
    /// go away by retrying (wrong mechanism, key not allowed to sign).
    #[error("signing failed: {0}")]
    Failed(String),
}

/// A private key able to sign X.509 structures (certificates, CRLs, OCSP
/// responses).
///
/// `sign` receives the DER of the to-be-signed structure and returns the
/// value of the BIT STRING `signature` exactly as it goes into the X.509
/// structure: for ECDSA that is a DER `Ecdsa-Sig-Value` (RFC 3279 2.2.3), not
/// raw `r||s`; for RSA the PKCS#1 block; for Ed25519 the 64 raw bytes.
pub trait Signer: Send + Sync {
    /// `AlgorithmIdentifier` to put in `signatureAlgorithm` (and in the TBS
    /// `signature` field), e.g. `ecdsa-with-SHA256` without parameters.
    fn algorithm(&self) -> AlgorithmIdentifierOwned;

    /// The public half, as it goes into a certificate's
    /// `subjectPublicKeyInfo`.
    fn public_key(&self) -> SubjectPublicKeyInfoOwned;

    /// Sign `tbs` (hashing included: the signer applies the digest named by
    /// [`Signer::algorithm`]).
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError>;
}
