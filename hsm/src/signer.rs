//! Signers: a key on the token plus a signature algorithm, producing
//! X.509-ready signature values through the session pool.

use std::fmt;

use aws_lc_rs::digest;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use der::asn1::UintRef;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::{ck, HsmError, Result};
use crate::key::{der_sequence, malformed, to_der, KeyInfo, KeyType};
use crate::pool::SessionPool;

/// Hash functions used with the signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    fn hash(self, message: &[u8]) -> Vec<u8> {
        digest::digest(self.digest(), message).as_ref().to_vec()
    }

    fn len(self) -> usize {
        self.digest().output_len()
    }

    fn mechanism(self) -> MechanismType {
        match self {
            Self::Sha256 => MechanismType::SHA256,
            Self::Sha384 => MechanismType::SHA384,
            Self::Sha512 => MechanismType::SHA512,
        }
    }

    fn mgf1(self) -> PkcsMgfType {
        match self {
            Self::Sha256 => PkcsMgfType::MGF1_SHA256,
            Self::Sha384 => PkcsMgfType::MGF1_SHA384,
            Self::Sha512 => PkcsMgfType::MGF1_SHA512,
        }
    }

    /// RFC 8017 9.2 note 1: DER `DigestInfo` prefix for EMSA-PKCS1-v1_5.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// A signature algorithm as named in X.509 `signatureAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `ecdsa-with-SHA256/384/512` (RFC 5758 3.2), parameters absent.
    Ecdsa(Hash),
    /// `sha256/384/512WithRSAEncryption` (RFC 4055 5), NULL parameters.
    RsaPkcs1(Hash),
    /// `id-RSASSA-PSS` (RFC 4055 3.1) with MGF1 over the same hash and a
    /// salt as long as the hash.
    RsaPss(Hash),
    /// `id-Ed25519` (RFC 8410 3), parameters absent; pure EdDSA.
    Ed25519,
}

impl SignatureAlgorithm {
    /// The algorithm used when none is asked for: ECDSA with the hash that
    /// matches the curve, PKCS#1 v1.5 with SHA-256 (RSA-3072) or SHA-384
    /// (RSA-4096), Ed25519.
    pub fn default_for(key_type: KeyType) -> Self {
        match key_type {
            KeyType::EcP256 => Self::Ecdsa(Hash::Sha256),
            KeyType::EcP384 => Self::Ecdsa(Hash::Sha384),
            KeyType::Rsa3072 => Self::RsaPkcs1(Hash::Sha256),
            KeyType::Rsa4096 => Self::RsaPkcs1(Hash::Sha384),
            KeyType::Ed25519 => Self::Ed25519,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ecdsa(Hash::Sha256) => "ecdsa-with-SHA256",
            Self::Ecdsa(Hash::Sha384) => "ecdsa-with-SHA384",
            Self::Ecdsa(Hash::Sha512) => "ecdsa-with-SHA512",
            Self::RsaPkcs1(Hash::Sha256) => "sha256WithRSAEncryption",
            Self::RsaPkcs1(Hash::Sha384) => "sha384WithRSAEncryption",
            Self::RsaPkcs1(Hash::Sha512) => "sha512WithRSAEncryption",
            Self::RsaPss(Hash::Sha256) => "RSASSA-PSS-SHA256",
            Self::RsaPss(Hash::Sha384) => "RSASSA-PSS-SHA384",
            Self::RsaPss(Hash::Sha512) => "RSASSA-PSS-SHA512",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// Whether a key of `key_type` can produce this algorithm.
    pub fn fits(self, key_type: KeyType) -> bool {
        match self {
            Self::Ecdsa(_) => matches!(key_type, KeyType::EcP256 | KeyType::EcP384),
            Self::RsaPkcs1(_) | Self::RsaPss(_) => {
                matches!(key_type, KeyType::Rsa3072 | KeyType::Rsa4096)
            }
            Self::Ed25519 => key_type == KeyType::Ed25519,
        }
    }

    /// The `AlgorithmIdentifier` for `signatureAlgorithm` and the TBS
    /// `signature` field.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        use pki_core::signature::SignatureAlgorithm as A;
        match self {
            Self::Ecdsa(Hash::Sha256) => A::EcdsaSha256,
            Self::Ecdsa(Hash::Sha384) => A::EcdsaSha384,
            Self::Ecdsa(Hash::Sha512) => A::EcdsaSha512,
            Self::RsaPkcs1(Hash::Sha256) => A::RsaPkcs1Sha256,
            Self::RsaPkcs1(Hash::Sha384) => A::RsaPkcs1Sha384,
            Self::RsaPkcs1(Hash::Sha512) => A::RsaPkcs1Sha512,
            Self::RsaPss(Hash::Sha256) => A::RsaPssSha256,
            Self::RsaPss(Hash::Sha384) => A::RsaPssSha384,
            Self::RsaPss(Hash::Sha512) => A::RsaPssSha512,
            Self::Ed25519 => A::Ed25519,
        }
        .identifier()
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// RFC 3279 2.2.3: `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`,
/// from the `r || s` that `CKM_ECDSA` returns (PKCS#11 3.0 2.3.1).
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return Err(malformed(format!(
            "ECDSA signature of {} bytes is not r || s",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let r = UintRef::new(r).map_err(malformed)?;
    let s = UintRef::new(s).map_err(malformed)?;
    der_sequence(&[&to_der(&r)?, &to_der(&s)?])
}

/// A private key on the token that signs X.509 structures.
///
/// Cheap to clone; shares the pool's sessions. Signing borrows one pooled
/// session for the duration of one `C_Sign`, so many threads sign at once.
#[derive(Debug, Clone)]
pub struct HsmSigner {
    pool: SessionPool,
    key: KeyInfo,
    algorithm: SignatureAlgorithm,
    identifier: AlgorithmIdentifierOwned,
}

impl HsmSigner {
    pub(crate) fn new(
        pool: SessionPool,
        key: KeyInfo,
        algorithm: SignatureAlgorithm,
    ) -> Result<Self> {
        if !algorithm.fits(key.key_type) {
            return Err(HsmError::AlgorithmMismatch {
                algorithm: algorithm.name(),
                key_type: key.key_type.name(),
            });
        }
        Ok(Self {
            pool,
            identifier: algorithm.identifier(),
            key,
            algorithm,
        })
    }

    pub fn key(&self) -> &KeyInfo {
        &self.key
    }

    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Signs `tbs`: hashes on the host (except Ed25519, which signs the
    /// message itself), signs in the token, returns the X.509 signature
    /// value.
    pub fn try_sign(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        let (mechanism, input) = match self.algorithm {
            SignatureAlgorithm::Ecdsa(hash) => (Mechanism::Ecdsa, hash.hash(tbs)),
            SignatureAlgorithm::RsaPkcs1(hash) => {
                let mut info = hash.digest_info_prefix().to_vec();
                info.extend_from_slice(&hash.hash(tbs));
                (Mechanism::RsaPkcs, info)
            }
            SignatureAlgorithm::RsaPss(hash) => {
                let params = PkcsPssParams {
                    hash_alg: hash.mechanism(),
                    mgf: hash.mgf1(),
                    s_len: (hash.len() as u64).into(),
                };
                (Mechanism::RsaPkcsPss(params), hash.hash(tbs))
            }
            SignatureAlgorithm::Ed25519 => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                tbs.to_vec(),
            ),
        };
        let signature = self.pool.with_session(|session| {
            let key = session.private_key(&self.key.id)?;
            session
                .session()
                .sign(&mechanism, key, &input)
                .map_err(ck("C_Sign"))
        })?;
        match self.algorithm {
            SignatureAlgorithm::Ecdsa(_) => ecdsa_raw_to_der(&signature),
            _ => Ok(signature),
        }
    }
}

impl pki_core::Signer for HsmSigner {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        self.identifier.clone()
    }

    fn public_key(&self) -> SubjectPublicKeyInfoOwned {
        self.key.spki.clone()
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, pki_core::SignError> {
        self.try_sign(tbs).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use der::Encode;

    use super::*;

    #[test]
    fn ecdsa_der_strips_and_pads() {
        // r has its high bit set (needs a 0x00), s has leading zeros.
        let mut raw = vec![0x80u8; 32];
        raw.extend([0u8; 31]);
        raw.push(0x05);
        let der = ecdsa_raw_to_der(&raw).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert_eq!(usize::from(der[1]), der.len() - 2);
        assert!(ecdsa_raw_to_der(&raw[..63]).is_err());
    }

    #[test]
    fn pss_sha256_identifier_matches_openssl() {
        let der = SignatureAlgorithm::RsaPss(Hash::Sha256)
            .identifier()
            .to_der()
            .unwrap();
        let expected = [
            0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
            0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
            0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
            0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
            0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
        ];
        assert_eq!(der, expected);
    }

    #[test]
    fn every_identifier_is_understood_by_pki_core() {
        for alg in [
            SignatureAlgorithm::Ecdsa(Hash::Sha256),
            SignatureAlgorithm::Ecdsa(Hash::Sha384),
            SignatureAlgorithm::RsaPkcs1(Hash::Sha256),
            SignatureAlgorithm::RsaPkcs1(Hash::Sha512),
            SignatureAlgorithm::RsaPss(Hash::Sha256),
            SignatureAlgorithm::RsaPss(Hash::Sha384),
            SignatureAlgorithm::RsaPss(Hash::Sha512),
            SignatureAlgorithm::Ed25519,
        ] {
            pki_core::signature::SignatureAlgorithm::from_identifier(&alg.identifier())
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        }
    }

    #[test]
    fn digest_info_prefixes_announce_the_digest_length() {
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let prefix = hash.digest_info_prefix();
            assert_eq!(usize::from(prefix[1]), prefix.len() - 2 + hash.len());
            assert_eq!(usize::from(prefix[prefix.len() - 1]), hash.len());
        }
    }
}
