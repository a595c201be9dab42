//! Signature algorithms and verification with `aws-lc-rs`.
//!
//! Supported (RFC 5280 4.1.1.2, RFC 4055, RFC 5758, RFC 8410):
//! RSA PKCS#1 v1.5 with SHA-256/384/512, RSASSA-PSS with SHA-256/384/512
//! (MGF1 with the same hash, salt length equal to the hash length), ECDSA on
//! P-256/P-384/P-521 with SHA-256/384/512, and Ed25519. The
//! [`AlgorithmPolicy::Legacy`] policy also accepts sha1WithRSAEncryption,
//! ecdsa-with-SHA1, RSA keys from 1024 bits and DSA (dsa-with-SHA1 and
//! dsa-with-SHA256, RFC 3279 2.2.2 / RFC 5758 3.1, verified with RustCrypto's
//! `dsa`, with the parameter inheritance of RFC 3279 2.3.2), for archived
//! signatures.

use std::fmt;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::der_reader::In;
use crate::oid;
use crate::Error;

/// Which algorithms and key sizes a validation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlgorithmPolicy {
    /// RSA >= 2048 bits with SHA-2, RSA-PSS, ECDSA P-256/384/521, Ed25519.
    #[default]
    Default,
    /// Default plus sha1WithRSAEncryption, ecdsa-with-SHA1 and RSA keys from
    /// 1024 bits. Use only to check archived signatures and old certificates.
    Legacy,
}

impl AlgorithmPolicy {
    /// Minimum RSA modulus size in bits.
    pub fn min_rsa_bits(self) -> usize {
        match self {
            Self::Default => 2048,
            Self::Legacy => 1024,
        }
    }
}

/// Elliptic curves accepted for ECDSA keys (named curves only: explicit
/// parameters are rejected, RFC 5480 2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

/// A public key whose type we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with the modulus size in bits.
    Rsa {
        bits: usize,
    },
    /// An `id-RSASSA-PSS` key (RFC 4055 1.2): RSA usable only with
    /// RSASSA-PSS, and with the one parameter set in `only` when its
    /// SubjectPublicKeyInfo names one (RFC 4055 3.1).
    RsaPss {
        bits: usize,
        only: Option<SignatureAlgorithm>,
    },
    Ec(Curve),
    Ed25519,
    /// A DSA key (RFC 3279 2.3.2) with the size of its prime p in bits, 0
    /// while its parameters are inherited from the issuer's key.
    Dsa {
        bits: usize,
    },
}

impl KeyKind {
    /// The RSA modulus size, for RSA keys of either kind.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa { bits } | Self::RsaPss { bits, .. } => Some(bits),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::RsaPss { bits, only: None } => write!(f, "RSA-PSS-{bits}"),
            Self::RsaPss {
                bits,
                only: Some(a),
            } => write!(f, "RSA-PSS-{bits} ({} only)", a.name()),
            Self::Ec(Curve::P256) => f.write_str("ECDSA P-256"),
            Self::Ec(Curve::P384) => f.write_str("ECDSA P-384"),
            Self::Ec(Curve::P521) => f.write_str("ECDSA P-521"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Dsa { bits: 0 } => f.write_str("DSA (parameters inherited)"),
            Self::Dsa { bits } => write!(f, "DSA-{bits}"),
        }
    }
}

/// A decoded subjectPublicKeyInfo: the key type plus the raw key bytes as
/// `aws-lc-rs` takes them (the subjectPublicKey BIT STRING contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: KeyKind,
    pub bytes: Vec<u8>,
    /// DSA only: the DER `Dss-Parms` (p, q, g), absent when the key
    /// inherits them from its issuer's key (RFC 3279 2.3.2).
    pub dsa_params: Option<Vec<u8>>,
}

/// Largest DSA prime p accepted (FIPS 186-4 stops at 3072 bits); bounds
/// the cost of a hostile key.
const MAX_DSA_BITS: usize = 3072;

impl PublicKey {
    /// A DSA key whose parameters are inherited from its issuer's key
    /// (RFC 3279 2.3.2: the subject's SPKI omits them).
    pub fn inherits_dsa_params(&self) -> bool {
        matches!(self.kind, KeyKind::Dsa { .. }) && self.dsa_params.is_none()
    }

    /// This key with the DSA parameters of `issuer_key` (RFC 3279 2.3.2),
    /// when this key inherits them and the issuer's key has them.
    pub fn with_inherited_params(&self, issuer_key: &PublicKey) -> Option<PublicKey> {
        if !self.inherits_dsa_params() {
            return None;
        }
        let params = issuer_key.dsa_params.clone()?;
        let bits = dsa_components(&params).ok()?.0.bits();
        Some(PublicKey {
            kind: KeyKind::Dsa { bits },
            bytes: self.bytes.clone(),
            dsa_params: Some(params),
        })
    }
}

/// p, q, g of a DER `Dss-Parms ::= SEQUENCE { p INTEGER, q INTEGER, g INTEGER }`.
fn dsa_components(params: &[u8]) -> Result<(dsa::BigUint, dsa::BigUint, dsa::BigUint), Error> {
    let bad = |why: &str| Error::UnsupportedPublicKey(format!("DSA parameters: {why}"));
    let mut outer = In::new(params);
    let mut r = In::new(outer.take(0x30).map_err(|e| bad(&e.to_string()))?);
    outer.finish().map_err(|e| bad(&e.to_string()))?;
    let mut int = || -> Result<dsa::BigUint, Error> {
        let v = r.take(0x02).map_err(|e| bad(&e.to_string()))?;
        match v {
            [] => Err(bad("empty INTEGER")),
            [b, ..] if b & 0x80 != 0 => Err(bad("negative INTEGER")),
            _ => Ok(dsa::BigUint::from_bytes_be(v)),
        }
    };
    let (p, q, g) = (int()?, int()?, int()?);
    r.finish().map_err(|e| bad(&e.to_string()))?;
    if p.bits() > MAX_DSA_BITS || q.bits() > 256 {
        return Err(bad("p above 3072 or q above 256 bits"));
    }
    Ok((p, q, g))
}

/// Verifies a DSA signature (DER `Dss-Sig-Value`) over a message hashed
/// with SHA-1 or SHA-256.
fn verify_dsa(
    alg: SignatureAlgorithm,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use dsa::signature::hazmat::PrehashVerifier;
    let Some(params) = &key.dsa_params else {
        return Err(Error::UnsupportedPublicKey(
            "DSA key without parameters and no issuer key to inherit them from (RFC 3279 2.3.2)"
                .into(),
        ));
    };
    let (p, q, g) = dsa_components(params)?;
    let bad_key = || Error::UnsupportedPublicKey("DSA key does not match its parameters".into());
    let components = dsa::Components::from_components(p, q, g).map_err(|_| bad_key())?;
    // subjectPublicKey: DSAPublicKey ::= INTEGER (y).
    let mut key_reader = In::new(&key.bytes);
    let y = key_reader.take(0x02).map_err(|_| bad_key())?;
    key_reader.finish().map_err(|_| bad_key())?;
    let vk = dsa::VerifyingKey::from_components(components, dsa::BigUint::from_bytes_be(y))
        .map_err(|_| bad_key())?;
    let sig =
        dsa::Signature::try_from(signature).map_err(|_| Error::SignatureInvalid { index: 0 })?;
    let hash = match alg {
        SignatureAlgorithm::DsaSha1 => {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, message)
        }
        _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message),
    };
    vk.verify_prehash(hash.as_ref(), &sig)
        .map_err(|_| Error::SignatureInvalid { index: 0 })
}

/// DER AlgorithmIdentifiers of the keys nearly every certificate has.
const SPKI_ALG_P256: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
const SPKI_ALG_P384: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];
const SPKI_ALG_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

impl PublicKey {
    /// Decodes a DER SPKI. The common key types (P-256, P-384, RSA) are
    /// recognised by their exact AlgorithmIdentifier encoding without a
    /// generic decode; anything else goes through [`Self::from_spki`], so
    /// the result is the same either way.
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, Error> {
        if let Some(k) = Self::common_spki(spki) {
            return k;
        }
        let owned = SubjectPublicKeyInfoOwned::from_der(spki)
            .map_err(|e| Error::UnsupportedPublicKey(format!("malformed SPKI: {e}")))?;
        Self::from_spki(&owned)
    }

    fn common_spki(spki: &[u8]) -> Option<Result<Self, Error>> {
        // SEQUENCE { alg, BIT STRING { 00, key } }.
        let mut outer = In::new(spki);
        let mut body = In::new(outer.take(0x30).ok()?);
        let alg = body.tlv().ok()?.2;
        let (curve, len) = match alg {
            SPKI_ALG_P256 => (Some(Curve::P256), 65),
            SPKI_ALG_P384 => (Some(Curve::P384), 97),
            SPKI_ALG_RSA => (None, 0),
            _ => return None,
        };
        let [0, key @ ..] = body.take(0x03).ok()? else {
            return None;
        };
        if !outer.is_empty() || !body.is_empty() {
            return None;
        }
        Some(match curve {
            Some(curve) => {
                if key.len() == len && key[0] == 0x04 {
                    Ok(Self {
                        kind: KeyKind::Ec(curve),
                        bytes: key.to_vec(),
                        dsa_params: None,
                    })
                } else {
                    Err(Error::UnsupportedPublicKey(
                        "EC point is not an uncompressed point of the curve's size".into(),
                    ))
                }
            }
            None => rsa_modulus_bits(key).map(|bits| Self {
                kind: KeyKind::Rsa { bits },
                bytes: key.to_vec(),
                dsa_params: None,
            }),
        })
    }

    /// Decodes an SPKI (RFC 5280 4.1.2.7, RFC 3279, RFC 5480, RFC 8410).
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, Error> {
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::UnsupportedPublicKey("subjectPublicKey has unused bits".into()))?
            .to_vec();
        let alg = &spki.algorithm;
        let kind = match alg.oid {
            oid::RSA_ENCRYPTION => {
                if !params_are_null(alg) {
                    return Err(Error::UnsupportedPublicKey(
                        "rsaEncryption parameters must be NULL".into(),
                    ));
                }
                KeyKind::Rsa {
                    bits: rsa_modulus_bits(&bytes)?,
                }
            }
            oid::ID_RSASSA_PSS => {
                // RFC 4055 1.2: parameters absent (any RSASSA-PSS use) or
                // RSASSA-PSS-params restricting the signatures it makes.
                let only = match &alg.parameters {
                    None => None,
                    Some(_) => Some(pss_from_params(alg).ok_or_else(|| {
                        Error::UnsupportedPublicKey(
                            "id-RSASSA-PSS key parameters other than SHA-256/384/512 with MGF1 of the same hash and a salt of the hash length".into(),
                        )
                    })?),
                };
                KeyKind::RsaPss {
                    bits: rsa_modulus_bits(&bytes)?,
                    only,
                }
            }
            oid::ID_EC_PUBLIC_KEY => {
                let curve = alg
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .ok_or_else(|| {
                        Error::UnsupportedPublicKey(
                            "EC key without a named curve (explicit parameters are not accepted)"
                                .into(),
                        )
                    })?;
                let (curve, len) = match curve {
                    oid::SECP256R1 => (Curve::P256, 65),
                    oid::SECP384R1 => (Curve::P384, 97),
                    oid::SECP521R1 => (Curve::P521, 133),
                    other => {
                        return Err(Error::UnsupportedPublicKey(format!("EC curve {other}")));
                    }
                };
                if bytes.len() != len || bytes[0] != 0x04 {
                    return Err(Error::UnsupportedPublicKey(
                        "EC point is not an uncompressed point of the curve's size".into(),
                    ));
                }
                KeyKind::Ec(curve)
            }
            oid::ID_DSA => {
                // RFC 3279 2.3.2: Dss-Parms, or absent (inherited).
                let params = match &alg.parameters {
                    None => None,
                    Some(p) => Some(p.to_der().map_err(|e| {
                        Error::UnsupportedPublicKey(format!("DSA parameters: {e}"))
                    })?),
                };
                let bits = match &params {
                    Some(p) => dsa_components(p)?.0.bits(),
                    None => 0,
                };
                return Ok(Self {
                    kind: KeyKind::Dsa { bits },
                    bytes,
                    dsa_params: params,
                });
            }
            oid::ID_ED25519 => {
                if alg.parameters.is_some() || bytes.len() != 32 {
                    return Err(Error::UnsupportedPublicKey("malformed Ed25519 key".into()));
                }
                KeyKind::Ed25519
            }
            other => {
                return Err(Error::UnsupportedPublicKey(format!(
                    "public key algorithm {other}"
                )))
            }
        };
        Ok(Self {
            kind,
            bytes,
            dsa_params: None,
        })
    }

    /// Checks the key against the algorithm policy; returns a note when only
    /// the legacy policy allows it.
    pub fn check_policy(&self, policy: AlgorithmPolicy) -> Result<Option<String>, Error> {
        if let KeyKind::Dsa { .. } = self.kind {
            if policy != AlgorithmPolicy::Legacy {
                return Err(Error::UnsupportedPublicKey(
                    "DSA keys are accepted only under the legacy algorithm policy".into(),
                ));
            }
            return Ok(Some(format!("{} key", self.kind)));
        }
        if let Some(bits) = self.kind.rsa_bits() {
            if bits % 8 != 0 {
                return Err(Error::UnsupportedPublicKey(format!(
                    "RSA modulus of {bits} bits is not a multiple of 8"
                )));
            }
            if bits < policy.min_rsa_bits() {
                return Err(Error::WeakKey {
                    algorithm: "RSA",
                    bits,
                    minimum: policy.min_rsa_bits(),
                });
            }
            if bits > 8192 {
                return Err(Error::UnsupportedPublicKey(format!(
                    "RSA modulus of {bits} bits exceeds 8192"
                )));
            }
            if bits < AlgorithmPolicy::Default.min_rsa_bits() {
                return Ok(Some(format!("RSA-{bits} key")));
            }
        }
        Ok(None)
    }
}

/// The signature algorithms we can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    RsaPkcs1Sha1,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    EcdsaSha1,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Ed25519,
    /// dsa-with-SHA1 (RFC 3279 2.2.2), legacy only.
    DsaSha1,
    /// dsa-with-SHA256 (RFC 5758 3.1), legacy only.
    DsaSha256,
}

impl SignatureAlgorithm {
    /// The SHA-2 hash this algorithm signs, for verifying over a digest
    /// computed once (`None` for SHA-1 and Ed25519, which are verified over
    /// the message).
    pub fn sha2_digest(self) -> Option<&'static aws_lc_rs::digest::Algorithm> {
        use aws_lc_rs::digest::{SHA256, SHA384, SHA512};
        match self {
            Self::RsaPkcs1Sha256 | Self::RsaPssSha256 | Self::EcdsaSha256 => Some(&SHA256),
            Self::RsaPkcs1Sha384 | Self::RsaPssSha384 | Self::EcdsaSha384 => Some(&SHA384),
            Self::RsaPkcs1Sha512 | Self::RsaPssSha512 | Self::EcdsaSha512 => Some(&SHA512),
            // (DSA is verified through the `dsa` crate, which hashes itself.)
            Self::RsaPkcs1Sha1
            | Self::EcdsaSha1
            | Self::Ed25519
            | Self::DsaSha1
            | Self::DsaSha256 => None,
        }
    }

    /// From a DER AlgorithmIdentifier: the common ones by exact encoding,
    /// anything else through [`Self::from_identifier`].
    pub fn from_identifier_der(alg: &[u8]) -> Result<Self, Error> {
        if let Some((_, a)) = COMMON_SIGNATURE_ALGORITHMS.iter().find(|(d, _)| *d == alg) {
            return Ok(*a);
        }
        let owned = AlgorithmIdentifierOwned::from_der(alg)
            .map_err(|e| Error::der("signatureAlgorithm", &e))?;
        Self::from_identifier(&owned)
    }

    /// Identifies the algorithm of an `AlgorithmIdentifier`, checking its
    /// parameters strictly.
    pub fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Result<Self, Error> {
        let unsupported = || Error::UnsupportedSignatureAlgorithm {
            oid: alg.oid,
            legacy_only: false,
        };
        let a = match alg.oid {
            oid::SHA1_WITH_RSA => Self::RsaPkcs1Sha1,
            oid::SHA256_WITH_RSA => Self::RsaPkcs1Sha256,
            oid::SHA384_WITH_RSA => Self::RsaPkcs1Sha384,
            oid::SHA512_WITH_RSA => Self::RsaPkcs1Sha512,
            oid::ECDSA_WITH_SHA1 => Self::EcdsaSha1,
            oid::ECDSA_WITH_SHA256 => Self::EcdsaSha256,
            oid::ECDSA_WITH_SHA384 => Self::EcdsaSha384,
            oid::ECDSA_WITH_SHA512 => Self::EcdsaSha512,
            oid::ID_ED25519 => Self::Ed25519,
            oid::DSA_WITH_SHA1 => Self::DsaSha1,
            oid::DSA_WITH_SHA256 => Self::DsaSha256,
            oid::ID_RSASSA_PSS => return pss_from_params(alg).ok_or_else(unsupported),
            _ => return Err(unsupported()),
        };
        let params_ok = match a {
            // RFC 4055 5 / RFC 3279 2.2.1: NULL parameters.
            Self::RsaPkcs1Sha1
            | Self::RsaPkcs1Sha256
            | Self::RsaPkcs1Sha384
            | Self::RsaPkcs1Sha512 => params_are_null(alg),
            // RFC 5758 3.2, RFC 8410 3: parameters absent.
            _ => alg.parameters.is_none(),
        };
        if params_ok {
            Ok(a)
        } else {
            Err(unsupported())
        }
    }

    /// Whether only [`AlgorithmPolicy::Legacy`] allows this algorithm.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            Self::RsaPkcs1Sha1 | Self::EcdsaSha1 | Self::DsaSha1 | Self::DsaSha256
        )
    }

    /// The name used in reports, e.g. `ecdsa-with-SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RsaPkcs1Sha1 => "sha1WithRSAEncryption",
            Self::RsaPkcs1Sha256 => "sha256WithRSAEncryption",
            Self::RsaPkcs1Sha384 => "sha384WithRSAEncryption",
            Self::RsaPkcs1Sha512 => "sha512WithRSAEncryption",
            Self::RsaPssSha256 => "RSASSA-PSS-SHA256",
            Self::RsaPssSha384 => "RSASSA-PSS-SHA384",
            Self::RsaPssSha512 => "RSASSA-PSS-SHA512",
            Self::EcdsaSha1 => "ecdsa-with-SHA1",
            Self::EcdsaSha256 => "ecdsa-with-SHA256",
            Self::EcdsaSha384 => "ecdsa-with-SHA384",
            Self::EcdsaSha512 => "ecdsa-with-SHA512",
            Self::Ed25519 => "Ed25519",
            Self::DsaSha1 => "dsa-with-SHA1",
            Self::DsaSha256 => "dsa-with-SHA256",
        }
    }

    /// The `AlgorithmIdentifier` a signer puts in certificates, CRLs and
    /// OCSP responses: NULL parameters for PKCS#1 v1.5 (RFC 4055 5), none for
    /// ECDSA and Ed25519 (RFC 5758 3.2, RFC 8410 3), and for RSA-PSS the
    /// RSASSA-PSS-params with NULL hash parameters, the encoding OpenSSL
    /// writes and CA/B BR 7.1.3.2 fixes.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        let pss = |hash, salt| {
            // Invariant: fixed, well-formed parameters always encode.
            let der = pss_params_der(hash, salt, true).expect("RSASSA-PSS parameters encode");
            Some(der::Any::from_der(&der).expect("RSASSA-PSS parameters decode"))
        };
        let parameters = match self {
            Self::RsaPkcs1Sha1
            | Self::RsaPkcs1Sha256
            | Self::RsaPkcs1Sha384
            | Self::RsaPkcs1Sha512 => Some(der::asn1::Null.into()),
            Self::RsaPssSha256 => pss(oid::SHA256, 32),
            Self::RsaPssSha384 => pss(oid::SHA384, 48),
            Self::RsaPssSha512 => pss(oid::SHA512, 64),
            Self::EcdsaSha1
            | Self::EcdsaSha256
            | Self::EcdsaSha384
            | Self::EcdsaSha512
            | Self::Ed25519
            | Self::DsaSha1
            | Self::DsaSha256 => None,
        };
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::RsaPkcs1Sha1 => oid::SHA1_WITH_RSA,
            Self::RsaPkcs1Sha256 => oid::SHA256_WITH_RSA,
            Self::RsaPkcs1Sha384 => oid::SHA384_WITH_RSA,
            Self::RsaPkcs1Sha512 => oid::SHA512_WITH_RSA,
            Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512 => oid::ID_RSASSA_PSS,
            Self::EcdsaSha1 => oid::ECDSA_WITH_SHA1,
            Self::EcdsaSha256 => oid::ECDSA_WITH_SHA256,
            Self::EcdsaSha384 => oid::ECDSA_WITH_SHA384,
            Self::EcdsaSha512 => oid::ECDSA_WITH_SHA512,
            Self::Ed25519 => oid::ID_ED25519,
            Self::DsaSha1 => oid::DSA_WITH_SHA1,
            Self::DsaSha256 => oid::DSA_WITH_SHA256,
        }
    }

    /// The `aws-lc-rs` verification algorithm for this signature algorithm
    /// and issuer key, or an error when they do not fit or the policy
    /// forbids the combination.
    pub fn verification_algorithm(
        self,
        key: &PublicKey,
        policy: AlgorithmPolicy,
    ) -> Result<&'static dyn VerificationAlgorithm, Error> {
        if self.is_legacy() && policy != AlgorithmPolicy::Legacy {
            return Err(Error::UnsupportedSignatureAlgorithm {
                oid: self.oid(),
                legacy_only: true,
            });
        }
        let mismatch = || Error::KeyAlgorithmMismatch {
            index: 0,
            oid: self.oid(),
        };
        if matches!(self, Self::DsaSha1 | Self::DsaSha256)
            || matches!(key.kind, KeyKind::Dsa { .. })
        {
            // Not an aws-lc algorithm: `verify` checks DSA itself.
            return Err(mismatch());
        }
        let small_rsa = key.kind.rsa_bits().is_some_and(|bits| bits < 2048);
        if let KeyKind::RsaPss { only, .. } = key.kind {
            // RFC 4055 1.2 / 3.3: a PSS key signs with RSASSA-PSS only,
            // under the parameters its SPKI names, if it names some.
            let pss = matches!(
                self,
                Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512
            );
            if !pss || only.is_some_and(|a| a != self) || small_rsa {
                return Err(mismatch());
            }
            return Ok(match self {
                Self::RsaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
                Self::RsaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
                _ => &sig::RSA_PSS_2048_8192_SHA512,
            });
        }
        let alg: &'static dyn VerificationAlgorithm = match (self, key.kind) {
            (Self::RsaPkcs1Sha1, KeyKind::Rsa { .. }) if small_rsa => {
                &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (Self::RsaPkcs1Sha1, KeyKind::Rsa { .. }) => {
                &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (Self::RsaPkcs1Sha256, KeyKind::Rsa { .. }) if small_rsa => {
                &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            }
            (Self::RsaPkcs1Sha256, KeyKind::Rsa { .. }) => &sig::RSA_PKCS1_2048_8192_SHA256,
            (Self::RsaPkcs1Sha384, KeyKind::Rsa { .. }) if !small_rsa => {
                &sig::RSA_PKCS1_2048_8192_SHA384
            }
            (Self::RsaPkcs1Sha512, KeyKind::Rsa { .. }) if small_rsa => {
                &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
            }
            (Self::RsaPkcs1Sha512, KeyKind::Rsa { .. }) => &sig::RSA_PKCS1_2048_8192_SHA512,
            (Self::RsaPssSha256, KeyKind::Rsa { .. }) if !small_rsa => {
                &sig::RSA_PSS_2048_8192_SHA256
            }
            (Self::RsaPssSha384, KeyKind::Rsa { .. }) if !small_rsa => {
                &sig::RSA_PSS_2048_8192_SHA384
            }
            (Self::RsaPssSha512, KeyKind::Rsa { .. }) if !small_rsa => {
                &sig::RSA_PSS_2048_8192_SHA512
            }
            (Self::EcdsaSha1, KeyKind::Ec(Curve::P256)) => &sig::ECDSA_P256_SHA1_ASN1,
            (Self::EcdsaSha1, KeyKind::Ec(Curve::P521)) => &sig::ECDSA_P521_SHA1_ASN1,
            (Self::EcdsaSha256, KeyKind::Ec(Curve::P256)) => &sig::ECDSA_P256_SHA256_ASN1,
            (Self::EcdsaSha384, KeyKind::Ec(Curve::P256)) => &sig::ECDSA_P256_SHA384_ASN1,
            (Self::EcdsaSha256, KeyKind::Ec(Curve::P384)) => &sig::ECDSA_P384_SHA256_ASN1,
            (Self::EcdsaSha384, KeyKind::Ec(Curve::P384)) => &sig::ECDSA_P384_SHA384_ASN1,
            (Self::EcdsaSha256, KeyKind::Ec(Curve::P521)) => &sig::ECDSA_P521_SHA256_ASN1,
            (Self::EcdsaSha384, KeyKind::Ec(Curve::P521)) => &sig::ECDSA_P521_SHA384_ASN1,
            (Self::EcdsaSha512, KeyKind::Ec(Curve::P521)) => &sig::ECDSA_P521_SHA512_ASN1,
            (Self::Ed25519, KeyKind::Ed25519) => &sig::ED25519,
            _ => return Err(mismatch()),
        };
        Ok(alg)
    }
}

/// Checks a signature over `message` made by `key` with `alg`, reusing a
/// pre-parsed key when the caller has one for this algorithm.
pub fn verify(
    alg: SignatureAlgorithm,
    key: &PublicKey,
    parsed: Option<&ParsedPublicKey>,
    policy: AlgorithmPolicy,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    if matches!(
        alg,
        SignatureAlgorithm::DsaSha1 | SignatureAlgorithm::DsaSha256
    ) {
        if policy != AlgorithmPolicy::Legacy {
            return Err(Error::UnsupportedSignatureAlgorithm {
                oid: alg.oid(),
                legacy_only: true,
            });
        }
        if !matches!(key.kind, KeyKind::Dsa { .. }) {
            return Err(Error::KeyAlgorithmMismatch {
                index: 0,
                oid: alg.oid(),
            });
        }
        return verify_dsa(alg, key, message, signature);
    }
    let ok = if let Some(parsed) = parsed {
        parsed.verify_sig(message, signature).is_ok()
    } else {
        let v = alg.verification_algorithm(key, policy)?;
        sig::UnparsedPublicKey::new(v, &key.bytes)
            .verify(message, signature)
            .is_ok()
    };
    if ok {
        Ok(())
    } else {
        Err(Error::SignatureInvalid { index: 0 })
    }
}

/// Verifies `signature` over a message whose digest (with the hash of the
/// algorithm `parsed` was made for, see [`SignatureAlgorithm::sha2_digest`])
/// is `digest`.
pub fn verify_digest(
    parsed: &ParsedPublicKey,
    digest: &aws_lc_rs::digest::Digest,
    signature: &[u8],
) -> Result<(), Error> {
    parsed
        .verify_digest_sig(digest, signature)
        .map_err(|_| Error::SignatureInvalid { index: 0 })
}

/// Pre-parses `key` for repeated verification with `alg`.
pub fn parse_key(
    alg: SignatureAlgorithm,
    key: &PublicKey,
    policy: AlgorithmPolicy,
) -> Result<ParsedPublicKey, Error> {
    let v = alg.verification_algorithm(key, policy)?;
    ParsedPublicKey::new(v, &key.bytes)
        .map_err(|e| Error::UnsupportedPublicKey(format!("key rejected: {e}")))
}

/// DER AlgorithmIdentifiers of the common signature algorithms.
const COMMON_SIGNATURE_ALGORITHMS: &[(&[u8], SignatureAlgorithm)] = &[
    (
        &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ],
        SignatureAlgorithm::EcdsaSha256,
    ),
    (
        &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
        ],
        SignatureAlgorithm::EcdsaSha384,
    ),
    (
        &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04,
        ],
        SignatureAlgorithm::EcdsaSha512,
    ),
    (
        &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05,
            0x00,
        ],
        SignatureAlgorithm::RsaPkcs1Sha256,
    ),
    (
        &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05,
            0x00,
        ],
        SignatureAlgorithm::RsaPkcs1Sha384,
    ),
    (
        &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05,
            0x00,
        ],
        SignatureAlgorithm::RsaPkcs1Sha512,
    ),
];

fn params_are_null(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.parameters
        .as_ref()
        .is_some_and(|p| p.tag() == der::Tag::Null && p.value().is_empty())
}

/// Bits in an RSAPublicKey's modulus (RFC 8017 A.1.1).
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<usize, Error> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: der::asn1::UintRef<'a>,
        #[allow(dead_code)]
        public_exponent: der::asn1::UintRef<'a>,
    }
    // The usual shape, read in place: SEQUENCE { INTEGER n, INTEGER e },
    // both positive and minimally encoded; anything else is decoded below.
    let positive = |v: &[u8]| match v {
        [0x00, b, ..] => *b >= 0x80,
        [b, ..] => *b < 0x80 && *b != 0,
        [] => false,
    };
    let in_place = || {
        let mut outer = In::new(rsa_public_key);
        let mut body = In::new(outer.take(0x30).ok()?);
        let (n, e) = (body.take(0x02).ok()?, body.take(0x02).ok()?);
        (outer.is_empty() && body.is_empty() && positive(n) && positive(e)).then_some(n)
    };
    if let Some(n) = in_place() {
        let m = n.strip_prefix(&[0]).unwrap_or(n);
        return Ok(m.len() * 8 - m[0].leading_zeros() as usize);
    }
    let k = RsaPublicKey::from_der(rsa_public_key)
        .map_err(|e| Error::UnsupportedPublicKey(format!("malformed RSA public key: {e}")))?;
    let m = k.modulus.as_bytes();
    let Some(first) = m.first() else {
        return Err(Error::UnsupportedPublicKey("RSA modulus is zero".into()));
    };
    Ok(m.len() * 8 - first.leading_zeros() as usize)
}

/// RSASSA-PSS parameters (RFC 4055 3.1): only the three profiles where the
/// MGF1 hash equals the message hash and the salt is the hash length.
fn pss_from_params(alg: &AlgorithmIdentifierOwned) -> Option<SignatureAlgorithm> {
    let params = alg.parameters.as_ref()?.to_der().ok()?;
    [
        (oid::SHA256, 32u8, SignatureAlgorithm::RsaPssSha256),
        (oid::SHA384, 48, SignatureAlgorithm::RsaPssSha384),
        (oid::SHA512, 64, SignatureAlgorithm::RsaPssSha512),
    ]
    .into_iter()
    .find(|(hash, salt, _)| {
        [true, false]
            .into_iter()
            .any(|null| pss_params_der(*hash, *salt, null).as_deref() == Some(&params[..]))
    })
    .map(|(_, _, a)| a)
}

/// DER of `RSASSA-PSS-params` for `hash`, with or without NULL parameters in
/// the hash AlgorithmIdentifiers (both encodings are seen in the field).
pub(crate) fn pss_params_der(hash: ObjectIdentifier, salt: u8, null: bool) -> Option<Vec<u8>> {
    use der::asn1::{ContextSpecific, Null};
    use der::TagMode;
    let hash_alg = AlgorithmIdentifierOwned {
        oid: hash,
        parameters: null.then(|| Null.into()),
    };
    let mgf = AlgorithmIdentifierOwned {
        oid: oid::MGF1,
        parameters: Some(der::Any::encode_from(&hash_alg).ok()?),
    };
    let mut body = Vec::new();
    ContextSpecific {
        tag_number: der::TagNumber::N0,
        tag_mode: TagMode::Explicit,
        value: hash_alg,
    }
    .encode_to_vec(&mut body)
    .ok()?;
    ContextSpecific {
        tag_number: der::TagNumber::N1,
        tag_mode: TagMode::Explicit,
        value: mgf,
    }
    .encode_to_vec(&mut body)
    .ok()?;
    ContextSpecific {
        tag_number: der::TagNumber::N2,
        tag_mode: TagMode::Explicit,
        value: u32::from(salt),
    }
    .encode_to_vec(&mut body)
    .ok()?;
    let mut out = Vec::new();
    der::Header::new(der::Tag::Sequence, der::Length::try_from(body.len()).ok()?)
        .ok()?
        .encode_to_vec(&mut out)
        .ok()?;
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place modulus reader against the der decode it stands in
    /// for, on canonical, non-canonical, negative and zero encodings.
    #[test]
    fn rsa_modulus_bits_in_place_agrees_with_der() {
        #[derive(der::Sequence)]
        struct Rsa<'a> {
            modulus: der::asn1::UintRef<'a>,
            exponent: der::asn1::UintRef<'a>,
        }
        let by_der = |k: &[u8]| {
            Rsa::from_der(k).ok().and_then(|r| {
                let _ = r.exponent;
                let m = r.modulus.as_bytes();
                m.first().map(|f| m.len() * 8 - f.leading_zeros() as usize)
            })
        };
        let key = |n: &[u8], e: &[u8]| {
            let int = |v: &[u8]| {
                let mut t = vec![0x02];
                t.extend(der::Length::try_from(v.len()).unwrap().to_der().unwrap());
                t.extend_from_slice(v);
                t
            };
            let body = [int(n), int(e)].concat();
            let mut t = vec![0x30];
            t.extend(der::Length::try_from(body.len()).unwrap().to_der().unwrap());
            t.extend(body);
            t
        };
        let mut big = vec![0x00, 0xc1];
        big.extend([0x5a; 255]);
        let cases = [
            key(&big, &[1, 0, 1]),
            key(&big[1..], &[1, 0, 1]),
            key(&[0x00, 0x7f, 1], &[3]),
            key(&[0x7f, 1], &[3]),
            key(&[0x01], &[3]),
            key(&[0x00], &[3]),
            key(&[0x00, 0x00, 0x80], &[3]),
            key(&[0xff, 0x80], &[3]),
            key(&big, &[0x00, 0x01]),
            key(&big, &[0x80]),
        ];
        for k in &cases {
            assert_eq!(rsa_modulus_bits(k).ok(), by_der(k), "{k:02x?}");
        }
        assert_eq!(rsa_modulus_bits(&cases[0]).unwrap(), 2048);
    }

    #[test]
    fn identifiers_round_trip_through_from_identifier() {
        use SignatureAlgorithm as A;
        for a in [
            A::RsaPkcs1Sha1,
            A::RsaPkcs1Sha256,
            A::RsaPkcs1Sha384,
            A::RsaPkcs1Sha512,
            A::RsaPssSha256,
            A::RsaPssSha384,
            A::RsaPssSha512,
            A::EcdsaSha1,
            A::EcdsaSha256,
            A::EcdsaSha384,
            A::EcdsaSha512,
            A::Ed25519,
        ] {
            assert_eq!(
                SignatureAlgorithm::from_identifier(&a.identifier()).unwrap(),
                a
            );
        }
    }

    #[test]
    fn pss_sha256_params_match_the_known_encoding() {
        // RFC 4055 RSASSA-PSS-params for SHA-256 / MGF1-SHA-256 / salt 32, as
        // produced by OpenSSL (NULL hash parameters).
        let expected = "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120";
        let got = pss_params_der(oid::SHA256, 32, true).unwrap();
        assert_eq!(crate::cert::hex(&got), expected);
    }
}
