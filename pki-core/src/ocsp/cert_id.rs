//! RFC 6960 4.1.1 `CertID`: which certificate a request or a response is
//! about, named by hashes of its issuer.
//!
//! ```text
//! CertID ::= SEQUENCE {
//!    hashAlgorithm           AlgorithmIdentifier,
//!    issuerNameHash          OCTET STRING, -- Hash of issuer's DN
//!    issuerKeyHash           OCTET STRING, -- Hash of issuer's public key
//!    serialNumber            CertificateSerialNumber }
//! ```
//!
//! The name hash covers the DER of the issuer's subject `Name`; the key hash
//! covers the value of the `subjectPublicKey` BIT STRING (without tag,
//! length and unused-bits octet). SHA-1 (what most clients send, RFC 5019
//! 2.1.1) and SHA-256 are supported.

use std::fmt;

use aws_lc_rs::digest;
use const_oid::ObjectIdentifier;
use der::asn1::{Null, OctetString};
use der::{Decode, Encode, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;
use x509_ocsp::CertId;

use crate::oid;

/// A `CertID` hash algorithm this crate computes and accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// id-sha1 (1.3.14.3.2.26): RFC 5019 2.1.1 clients use it.
    Sha1,
    /// id-sha256 (2.16.840.1.101.3.4.2.1).
    Sha256,
}

impl HashAlgorithm {
    pub const ALL: [Self; 2] = [Self::Sha1, Self::Sha256];

    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oid::SHA1,
            Self::Sha256 => oid::SHA256,
        }
    }

    /// Output length in octets.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Lower-case name, as configuration files and metrics spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// From [`HashAlgorithm::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The algorithm of a `CertID.hashAlgorithm`. Parameters must be absent
    /// or NULL (RFC 5754 2: both encodings occur in the wild).
    pub fn from_identifier(id: &AlgorithmIdentifierOwned) -> Result<Self, CertIdError> {
        let alg = Self::ALL
            .into_iter()
            .find(|a| a.oid() == id.oid)
            .ok_or(CertIdError::UnsupportedHashAlgorithm { oid: id.oid })?;
        match &id.parameters {
            None => Ok(alg),
            Some(p) if p.tag() == der::Tag::Null && p.value().is_empty() => Ok(alg),
            Some(_) => Err(CertIdError::HashParameters { algorithm: alg }),
        }
    }

    /// The `AlgorithmIdentifier` written into CertIDs this crate builds:
    /// with NULL parameters, as OpenSSL writes them.
    pub fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(Null.into()),
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a `CertID` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertIdError {
    #[error("unsupported CertID hash algorithm {oid}")]
    UnsupportedHashAlgorithm { oid: ObjectIdentifier },
    #[error("CertID hash algorithm {algorithm} has parameters other than NULL")]
    HashParameters { algorithm: HashAlgorithm },
    #[error("CertID {field} is {len} octets, {algorithm} gives {expected}")]
    HashLength {
        algorithm: HashAlgorithm,
        field: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("cannot encode CertID: {0}")]
    Encoding(der::Error),
}

/// The issuer half of a `CertID`, for every [`HashAlgorithm`]: computed once
/// per issuer, then compared against each request.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerHashes {
    sha1_name: [u8; 20],
    sha1_key: [u8; 20],
    sha256_name: [u8; 32],
    sha256_key: [u8; 32],
}

impl fmt::Debug for IssuerHashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerHashes")
            .field("sha1_key", &hex(&self.sha1_key))
            .finish_non_exhaustive()
    }
}

impl IssuerHashes {
    /// From the DER of the issuer's subject `Name` and the value of its
    /// `subjectPublicKey` BIT STRING.
    pub fn new(subject_der: &[u8], subject_public_key: &[u8]) -> Self {
        let fixed = |alg: HashAlgorithm, data: &[u8]| alg.digest(data);
        let mut h = Self {
            sha1_name: [0; 20],
            sha1_key: [0; 20],
            sha256_name: [0; 32],
            sha256_key: [0; 32],
        };
        h.sha1_name
            .copy_from_slice(&fixed(HashAlgorithm::Sha1, subject_der));
        h.sha1_key
            .copy_from_slice(&fixed(HashAlgorithm::Sha1, subject_public_key));
        h.sha256_name
            .copy_from_slice(&fixed(HashAlgorithm::Sha256, subject_der));
        h.sha256_key
            .copy_from_slice(&fixed(HashAlgorithm::Sha256, subject_public_key));
        h
    }

    /// From the issuer's certificate.
    pub fn from_certificate(issuer: &Certificate) -> Result<Self, der::Error> {
        let tbs = &issuer.tbs_certificate;
        Ok(Self::new(
            &tbs.subject.to_der()?,
            tbs.subject_public_key_info.subject_public_key.raw_bytes(),
        ))
    }

    /// From the issuer's decoded certificate, using its subject as encoded.
    pub fn from_cert(issuer: &crate::Cert) -> Self {
        Self::new(issuer.subject_der(), issuer.subject_public_key_bits())
    }

    /// From the DER of the issuer's certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, der::Error> {
        Self::from_certificate(&Certificate::from_der(der)?)
    }

    pub fn name_hash(&self, alg: HashAlgorithm) -> &[u8] {
        match alg {
            HashAlgorithm::Sha1 => &self.sha1_name,
            HashAlgorithm::Sha256 => &self.sha256_name,
        }
    }

    pub fn key_hash(&self, alg: HashAlgorithm) -> &[u8] {
        match alg {
            HashAlgorithm::Sha1 => &self.sha1_key,
            HashAlgorithm::Sha256 => &self.sha256_key,
        }
    }

    /// Whether `id` names a certificate of this issuer: both hashes equal
    /// under the algorithm `id` says it used. `None` when it does not or the
    /// algorithm is not supported.
    pub fn matches(&self, id: &CertId) -> Option<HashAlgorithm> {
        let alg = HashAlgorithm::from_identifier(&id.hash_algorithm).ok()?;
        (id.issuer_name_hash.as_bytes() == self.name_hash(alg)
            && id.issuer_key_hash.as_bytes() == self.key_hash(alg))
        .then_some(alg)
    }

    /// The `CertID` of serial `serial` (DER INTEGER content octets) under
    /// this issuer.
    pub fn cert_id(&self, alg: HashAlgorithm, serial: &[u8]) -> Result<CertId, CertIdError> {
        let octets = |b: &[u8]| OctetString::new(b).map_err(CertIdError::Encoding);
        Ok(CertId {
            hash_algorithm: alg.identifier(),
            issuer_name_hash: octets(self.name_hash(alg))?,
            issuer_key_hash: octets(self.key_hash(alg))?,
            serial_number: serial_from_content(serial)?,
        })
    }
}

/// A `SerialNumber` from DER INTEGER content octets, kept as given (the
/// bytes of a CertID must round-trip exactly).
fn serial_from_content(content: &[u8]) -> Result<SerialNumber, CertIdError> {
    // SerialNumber decodes at most 21 octets, so a short-form length does.
    let len = u8::try_from(content.len())
        .ok()
        .filter(|l| *l < 0x80)
        .ok_or(CertIdError::Encoding(der::ErrorKind::Overlength.into()))?;
    let mut der = Vec::with_capacity(content.len() + 2);
    der.push(0x02);
    der.push(len);
    der.extend_from_slice(content);
    SerialNumber::from_der(&der).map_err(CertIdError::Encoding)
}

/// Checks what a parser must check of a request's `CertID` beyond DER:
/// a supported algorithm with absent/NULL parameters and hashes of that
/// algorithm's length.
pub fn check_cert_id(id: &CertId) -> Result<HashAlgorithm, CertIdError> {
    let alg = HashAlgorithm::from_identifier(&id.hash_algorithm)?;
    for (field, value) in [
        ("issuerNameHash", &id.issuer_name_hash),
        ("issuerKeyHash", &id.issuer_key_hash),
    ] {
        let len = value.as_bytes().len();
        if len != alg.output_len() {
            return Err(CertIdError::HashLength {
                algorithm: alg,
                field,
                len,
                expected: alg.output_len(),
            });
        }
    }
    Ok(alg)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCa;

    #[test]
    fn hashes_match_the_issuer_certificate() {
        let ca = TestCa::root("CN=CertID Root,O=Example,C=MA");
        let cert = Certificate::from_der(ca.cert_der()).unwrap();
        let hashes = IssuerHashes::from_certificate(&cert).unwrap();
        assert_eq!(
            hashes.name_hash(HashAlgorithm::Sha1),
            HashAlgorithm::Sha1.digest(&cert.tbs_certificate.subject.to_der().unwrap())
        );
        // The key hash is the SHA-1 key identifier of the test CA.
        assert_eq!(hashes.key_hash(HashAlgorithm::Sha1), ca.key_id());
        for alg in HashAlgorithm::ALL {
            let id = hashes.cert_id(alg, &[0x01, 0x02]).unwrap();
            assert_eq!(check_cert_id(&id), Ok(alg));
            assert_eq!(hashes.matches(&id), Some(alg));
            assert_eq!(id.serial_number.as_bytes(), &[0x01, 0x02]);
            let other = TestCa::root("CN=CertID Root,O=Example,C=MA");
            let other = IssuerHashes::from_certificate_der(other.cert_der()).unwrap();
            assert_eq!(other.matches(&id), None, "same name, other key");
        }
    }

    #[test]
    fn parameters_and_lengths_are_checked() {
        let hashes = IssuerHashes::new(b"name", b"key");
        let mut id = hashes.cert_id(HashAlgorithm::Sha256, &[0x05]).unwrap();
        id.hash_algorithm.parameters = None;
        assert_eq!(check_cert_id(&id), Ok(HashAlgorithm::Sha256));
        id.hash_algorithm.parameters = Some(der::Any::encode_from(&1u8).unwrap());
        assert_eq!(
            check_cert_id(&id),
            Err(CertIdError::HashParameters {
                algorithm: HashAlgorithm::Sha256
            })
        );
        let mut id = hashes.cert_id(HashAlgorithm::Sha1, &[0x05]).unwrap();
        id.issuer_key_hash = OctetString::new(vec![0; 32]).unwrap();
        assert!(matches!(
            check_cert_id(&id),
            Err(CertIdError::HashLength {
                field: "issuerKeyHash",
                len: 32,
                ..
            })
        ));
        id.hash_algorithm.oid = oid::SHA384;
        assert_eq!(
            check_cert_id(&id),
            Err(CertIdError::UnsupportedHashAlgorithm { oid: oid::SHA384 })
        );
    }
}
