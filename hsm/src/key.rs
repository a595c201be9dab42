//! Key pairs inside the token: generation templates, lookup, public key
//! export as SubjectPublicKeyInfo.

use std::fmt;

use aws_lc_rs::digest;
use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{AnyRef, BitString, OctetString, UintRef};
use der::{Decode, Encode, Header, Tag, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::{ck, HsmError, Result};

/// `CKA_LABEL` of a key pair (both halves carry it). Must not be empty.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyLabel(String);

impl KeyLabel {
    pub fn new(label: impl Into<String>) -> Result<Self> {
        let label = label.into();
        if label.is_empty() {
            return Err(HsmError::InvalidKeyLabel { reason: "empty" });
        }
        Ok(Self(label))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for KeyLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyLabel {
    type Err = HsmError;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// `CKA_ID` of a key pair. Keys generated here get the SubjectKeyIdentifier
/// of their public key, so certificates, the token and the audit log all
/// name a key by the same bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(Vec<u8>);

impl KeyId {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// RFC 5280 4.2.1.2 method (1): the 160-bit SHA-1 hash of the BIT
    /// STRING subjectPublicKey (excluding the tag, length and number of
    /// unused bits).
    pub fn subject_key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Self {
        let hash = digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            spki.subject_public_key.raw_bytes(),
        );
        Self(hash.as_ref().to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The key types this crate generates and signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA on NIST P-256 (secp256r1): the default for OCSP signers.
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcP384,
    /// RSA, 3072-bit modulus, public exponent 65537.
    Rsa3072,
    /// RSA, 4096-bit modulus, public exponent 65537.
    Rsa4096,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl KeyType {
    pub const ALL: [Self; 5] = [
        Self::EcP256,
        Self::EcP384,
        Self::Rsa3072,
        Self::Rsa4096,
        Self::Ed25519,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::EcP256 => "P-256",
            Self::EcP384 => "P-384",
            Self::Rsa3072 => "RSA-3072",
            Self::Rsa4096 => "RSA-4096",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// Bytes in the public point (uncompressed EC point or Ed25519 key).
    fn point_len(self) -> Option<usize> {
        match self {
            Self::EcP256 => Some(65),
            Self::EcP384 => Some(97),
            Self::Ed25519 => Some(32),
            Self::Rsa3072 | Self::Rsa4096 => None,
        }
    }

    /// Curve OID for `CKA_EC_PARAMS` (RFC 5480 namedCurve, RFC 8410).
    fn curve(self) -> Option<ObjectIdentifier> {
        match self {
            Self::EcP256 => Some(rfc5912::SECP_256_R_1),
            Self::EcP384 => Some(rfc5912::SECP_384_R_1),
            Self::Ed25519 => Some(rfc8410::ID_ED_25519),
            Self::Rsa3072 | Self::Rsa4096 => None,
        }
    }

    fn rsa_bits(self) -> Option<u64> {
        match self {
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// `C_GenerateKeyPair` mechanism and the type-specific public template.
    pub(crate) fn generation(self) -> Result<(Mechanism<'static>, Vec<Attribute>)> {
        if let Some(bits) = self.rsa_bits() {
            return Ok((
                Mechanism::RsaPkcsKeyPairGen,
                vec![
                    Attribute::ModulusBits(bits.into()),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                ],
            ));
        }
        let curve = self.curve().expect("every non-RSA type has a curve");
        let params = curve.to_der().map_err(malformed)?;
        let mechanism = if self == Self::Ed25519 {
            Mechanism::EccEdwardsKeyPairGen
        } else {
            Mechanism::EccKeyPairGen
        };
        Ok((mechanism, vec![Attribute::EcParams(params)]))
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key pair on the token, as found or generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub label: KeyLabel,
    /// `CKA_ID`, equal to the SubjectKeyIdentifier for keys generated here.
    pub id: KeyId,
    pub key_type: KeyType,
    /// The public key as it goes into a certificate.
    pub spki: SubjectPublicKeyInfoOwned,
}

impl KeyInfo {
    /// The public key as DER SubjectPublicKeyInfo (RFC 5280 4.1.2.7).
    pub fn spki_der(&self) -> Vec<u8> {
        self.spki
            .to_der()
            .expect("an SPKI built from token attributes encodes")
    }

    /// RFC 5280 4.2.1.2 method (1) identifier of this public key (equal to
    /// `id` for keys generated by this crate).
    pub fn subject_key_identifier(&self) -> KeyId {
        KeyId::subject_key_identifier(&self.spki)
    }
}

/// What the token says about a private key's protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    /// `CKA_SENSITIVE`
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: sensitive since generation.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: never extractable since generation.
    pub never_extractable: bool,
    /// Whether `C_GetAttributeValue(CKA_VALUE)` (or the RSA private
    /// exponent) returned key material. Must be false.
    pub value_readable: bool,
}

/// Templates for `C_GenerateKeyPair`: (public, private). The private key is
/// a token object, private, sensitive, never extractable, sign-only.
pub(crate) fn templates(
    label: &KeyLabel,
    type_specific: Vec<Attribute>,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let label = label.as_str().as_bytes().to_vec();
    let mut public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Label(label.clone()),
    ];
    public.extend(type_specific);
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Unwrap(false),
        Attribute::Label(label),
    ];
    (public, private)
}

pub(crate) fn malformed(err: impl fmt::Display) -> HsmError {
    HsmError::Malformed {
        reason: err.to_string(),
    }
}

/// Object handles of private keys with `CKA_LABEL = label`.
pub(crate) fn private_keys_by_label(
    session: &Session,
    label: &KeyLabel,
) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_str().as_bytes().to_vec()),
        ])
        .map_err(ck("C_FindObjects"))
}

/// Any object (key or not) with `CKA_LABEL = label`.
pub(crate) fn objects_by_label(session: &Session, label: &KeyLabel) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[Attribute::Label(label.as_str().as_bytes().to_vec())])
        .map_err(ck("C_FindObjects"))
}

/// The object of `class` with `CKA_ID = id`, if there is exactly one.
pub(crate) fn object_by_id(
    session: &Session,
    class: ObjectClass,
    id: &KeyId,
) -> Result<Option<ObjectHandle>> {
    let found = session
        .find_objects(&[Attribute::Class(class), Attribute::Id(id.0.clone())])
        .map_err(ck("C_FindObjects"))?;
    Ok(found.first().copied())
}

/// `CKA_LABEL` and `CKA_ID` of an object.
pub(crate) fn label_and_id(session: &Session, object: ObjectHandle) -> Result<(KeyLabel, KeyId)> {
    let attrs = session
        .get_attributes(object, &[AttributeType::Label, AttributeType::Id])
        .map_err(ck("C_GetAttributeValue"))?;
    let mut label = None;
    let mut id = None;
    for attr in attrs {
        match attr {
            Attribute::Label(bytes) => label = String::from_utf8(bytes).ok(),
            Attribute::Id(bytes) => id = Some(KeyId(bytes)),
            _ => {}
        }
    }
    let label = KeyLabel::new(label.unwrap_or_default())?;
    let id = id
        .filter(|id| !id.0.is_empty())
        .ok_or_else(|| malformed(format!("key {label} has no CKA_ID")))?;
    Ok((label, id))
}

/// Reads a public key object and builds its SubjectPublicKeyInfo.
pub(crate) fn read_public_key(
    session: &Session,
    public: ObjectHandle,
) -> Result<(KeyType, SubjectPublicKeyInfoOwned)> {
    let attrs = session
        .get_attributes(
            public,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ],
        )
        .map_err(ck("C_GetAttributeValue"))?;
    let (mut kind, mut params, mut point, mut modulus, mut exponent) =
        (None, None, None, None, None);
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => kind = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    match kind {
        Some(t) if t == CkKeyType::RSA => {
            let (Some(n), Some(e)) = (modulus, exponent) else {
                return Err(malformed("RSA public key without modulus or exponent"));
            };
            rsa_spki(&n, &e)
        }
        Some(t) if t == CkKeyType::EC || t == CkKeyType::EC_EDWARDS => {
            let (Some(params), Some(point)) = (params, point) else {
                return Err(malformed(
                    "EC public key without CKA_EC_PARAMS or CKA_EC_POINT",
                ));
            };
            ec_spki(&params, &point)
        }
        other => Err(HsmError::UnsupportedKey {
            reason: format!("key type {other:?}"),
        }),
    }
}

/// RFC 3279 2.3.1: `RSAPublicKey ::= SEQUENCE { modulus INTEGER,
/// publicExponent INTEGER }` under rsaEncryption with NULL parameters.
fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Result<(KeyType, SubjectPublicKeyInfoOwned)> {
    let n = UintRef::new(modulus).map_err(malformed)?;
    let e = UintRef::new(exponent).map_err(malformed)?;
    let bits = n.as_bytes().len() * 8
        - n.as_bytes()
            .first()
            .map_or(0, |b| b.leading_zeros() as usize);
    let key_type = match bits {
        3072 => KeyType::Rsa3072,
        4096 => KeyType::Rsa4096,
        other => {
            return Err(HsmError::UnsupportedKey {
                reason: format!("RSA-{other}"),
            })
        }
    };
    let rsa_public_key = der_sequence(&[&to_der(&n)?, &to_der(&e)?])?;
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: Some(der::asn1::Null.into()),
        },
        subject_public_key: BitString::from_bytes(&rsa_public_key).map_err(malformed)?,
    };
    Ok((key_type, spki))
}

/// RFC 5480 2 (id-ecPublicKey with a namedCurve) and RFC 8410 3
/// (id-Ed25519, parameters absent).
fn ec_spki(params: &[u8], point: &[u8]) -> Result<(KeyType, SubjectPublicKeyInfoOwned)> {
    let curve = match ObjectIdentifier::from_der(params) {
        Ok(oid) => oid,
        // PKCS#11 3.0 also allows the curve name as a PrintableString.
        Err(_) => match AnyRef::from_der(params) {
            Ok(any) if any.tag() == Tag::PrintableString && any.value() == b"edwards25519" => {
                rfc8410::ID_ED_25519
            }
            _ => {
                return Err(HsmError::UnsupportedKey {
                    reason: "EC parameters are not a named curve".into(),
                })
            }
        },
    };
    let key_type = KeyType::ALL
        .into_iter()
        .find(|t| t.curve() == Some(curve))
        .ok_or_else(|| HsmError::UnsupportedKey {
            reason: format!("curve {curve}"),
        })?;
    let expected = key_type.point_len().expect("curve types have a point");
    // CKA_EC_POINT is a DER OCTET STRING; some tokens return the raw point.
    let point = if point.len() == expected {
        point.to_vec()
    } else {
        OctetString::from_der(point)
            .map_err(malformed)?
            .into_bytes()
    };
    if point.len() != expected {
        return Err(malformed(format!(
            "{key_type} public key of {} bytes",
            point.len()
        )));
    }
    let algorithm = if key_type == KeyType::Ed25519 {
        AlgorithmIdentifierOwned {
            oid: rfc8410::ID_ED_25519,
            parameters: None,
        }
    } else {
        AlgorithmIdentifierOwned {
            oid: rfc5912::ID_EC_PUBLIC_KEY,
            parameters: Some((&curve).into()),
        }
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(&point).map_err(malformed)?,
    };
    Ok((key_type, spki))
}

/// DER `SEQUENCE` of fields, each already DER.
pub(crate) fn der_sequence(fields: &[&[u8]]) -> Result<Vec<u8>> {
    let body = fields.concat();
    let header = Header::new(Tag::Sequence, body.len()).map_err(malformed)?;
    let mut out = Vec::with_capacity(body.len() + 8);
    header.encode_to_vec(&mut out).map_err(malformed)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// DER of one value.
pub(crate) fn to_der(value: &impl Encode) -> Result<Vec<u8>> {
    value.to_der().map_err(malformed)
}

/// Reads protection attributes of a private key and tries to read its
/// secret value.
pub(crate) fn protection(session: &Session, private: ObjectHandle) -> Result<KeyProtection> {
    let attrs = session
        .get_attributes(
            private,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .map_err(ck("C_GetAttributeValue"))?;
    let mut protection = KeyProtection {
        sensitive: false,
        extractable: true,
        always_sensitive: false,
        never_extractable: false,
        value_readable: false,
    };
    for attr in attrs {
        match attr {
            Attribute::Sensitive(v) => protection.sensitive = v,
            Attribute::Extractable(v) => protection.extractable = v,
            Attribute::AlwaysSensitive(v) => protection.always_sensitive = v,
            Attribute::NeverExtractable(v) => protection.never_extractable = v,
            _ => {}
        }
    }
    let secrets = session
        .get_attributes(
            private,
            &[AttributeType::Value, AttributeType::PrivateExponent],
        )
        .map_err(ck("C_GetAttributeValue"))?;
    protection.value_readable = secrets.iter().any(|attr| match attr {
        Attribute::Value(v) | Attribute::PrivateExponent(v) => !v.is_empty(),
        _ => false,
    });
    Ok(protection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ski_is_sha1_of_the_key_bits() {
        // An SPKI with a 3-byte "key": SKI = SHA-1("abc").
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: rfc8410::ID_ED_25519,
                parameters: None,
            },
            subject_public_key: BitString::from_bytes(b"abc").unwrap(),
        };
        assert_eq!(
            KeyId::subject_key_identifier(&spki).to_string(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn ec_point_as_octet_string_or_raw() {
        let params = rfc5912::SECP_256_R_1.to_der().unwrap();
        let mut raw = vec![4u8];
        raw.extend([7u8; 64]);
        let wrapped = OctetString::new(raw.clone()).unwrap().to_der().unwrap();
        let (t1, a) = ec_spki(&params, &raw).unwrap();
        let (t2, b) = ec_spki(&params, &wrapped).unwrap();
        assert_eq!((t1, t2), (KeyType::EcP256, KeyType::EcP256));
        assert_eq!(a, b);
        assert_eq!(a.subject_public_key.raw_bytes(), &raw[..]);
        assert!(ec_spki(&params, &raw[..64]).is_err());
    }

    #[test]
    fn rsa_public_key_is_a_der_sequence() {
        let mut n = vec![0xc0u8];
        n.extend([0u8; 383]);
        let (t, spki) = rsa_spki(&n, &[1, 0, 1]).unwrap();
        assert_eq!(t, KeyType::Rsa3072);
        let body = spki.subject_public_key.raw_bytes();
        // SEQUENCE, long length; INTEGER with a leading zero (high bit set).
        assert_eq!(&body[..4], &[0x30, 0x82, 0x01, 0x8a]);
        assert_eq!(&body[4..9], &[0x02, 0x82, 0x01, 0x81, 0x00]);
        assert_eq!(&body[body.len() - 5..], &[0x02, 0x03, 0x01, 0x00, 0x01]);
        assert!(rsa_spki(&[0xff; 256], &[3]).is_err());
    }
}
