//! Certificates, decoded once and strictly (RFC 5280 section 4).
//!
//! A [`Cert`] keeps its DER, the SHA-256 fingerprint that identifies it, the
//! byte range of the `tbsCertificate` for signature checks, and every
//! extension the validator uses, decoded up front. Decoding only decodes:
//! `raw` reads the certificate in place (DER rules), `ext` decodes the
//! extension values; every semantic rule is judged by the path validator,
//! which names the certificate at fault.

mod ext;
mod raw;

use ext::decode_extensions;
#[cfg(test)]
use ext::ExtId;
pub use ext::{Ext, Extensions};
pub(crate) use raw::tbs_range;
use raw::{decode_checked_name, RawCert};

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::ParsedPublicKey;
use der::Decode;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use crate::signature::{self, AlgorithmPolicy, PublicKey, SignatureAlgorithm};
use crate::time::UnixTime;
use crate::Error;

/// Largest certificate we decode. Real certificates are a few KiB; the
/// limit keeps hostile input from costing unbounded memory and time.
pub const MAX_CERT_SIZE: usize = 256 * 1024;

/// SHA-256 over some bytes: the identity of certificates, keys and CRLs.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lower-case hex, for fingerprints in reports.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A decoded certificate. Cheap to share behind an `Arc`.
pub struct Cert {
    der: Vec<u8>,
    /// SHA-256 of the DER, computed when first asked for (the validator
    /// identifies signed content by `tbs_digest` instead).
    fingerprint: OnceLock<[u8; 32]>,
    /// The `tbsCertificate` hashed with the SHA-2 function of the
    /// certificate's signature algorithm: the signature is verified over
    /// it and the verified-edge cache keys on it, so the TBS is hashed once.
    tbs_digest: OnceLock<Option<digest::Digest>>,
    tbs: Range<usize>,
    /// Byte ranges in `der` of the issuer, the subject and the
    /// subjectPublicKeyInfo, as encoded (strict DER, so equal to their
    /// re-encoding).
    issuer_der: Range<usize>,
    subject_der: Range<usize>,
    spki_der: Range<usize>,
    /// The subjectPublicKey BIT STRING's bits (after its unused-bits octet).
    spki_bits: Range<usize>,
    /// Content octets of the serial number INTEGER.
    serial: Range<usize>,
    /// The signature BIT STRING's bits (after the unused-bits octet).
    signature: Range<usize>,
    version: Version,
    subject_empty: bool,
    /// The issuer and subject decoded as `Name`s, when first asked for:
    /// the validator compares raw encodings and needs them only for
    /// name constraints, the RFC 5280 7.1 fallback comparison and reports.
    issuer_name: OnceLock<Name>,
    subject_name: OnceLock<Name>,
    /// The whole certificate decoded with `x509-cert`, when first asked for
    /// (tools and reports; validation never needs it). Boxed: it is larger
    /// than the rest of the struct, which is moved around on every decode.
    inner: OnceLock<Result<Box<x509_cert::Certificate>, Error>>,
    ext: Extensions,
    // The errors below are boxed: they are rare, and keeping the struct
    // small keeps its allocation on the allocator's fast path.
    key: Result<PublicKey, Box<Error>>,
    /// SHA-256 of the DER subjectPublicKeyInfo, computed when first asked
    /// for (issuers need it; most end entities never do).
    spki_hash: OnceLock<[u8; 32]>,
    signature_algorithm: Result<SignatureAlgorithm, Box<Error>>,
    not_before: UnixTime,
    not_after: UnixTime,
    self_issued: bool,
    /// signatureAlgorithm differs from tbsCertificate.signature.
    signature_algorithms_differ: bool,
    /// The issuer name is the empty sequence.
    issuer_empty: bool,
    /// The extensions field is present.
    has_extensions: bool,
    /// RFC 5280 4.1.2.2 violation of the serial number, checked for every
    /// certificate of a path except trust anchors (some long-lived roots
    /// have serial 0).
    serial_problem: Option<Box<Error>>,
    /// The public key parsed for the last algorithm it verified, so that a
    /// cached issuer verifies without re-parsing its key.
    parsed_key: OnceLock<Option<(SignatureAlgorithm, AlgorithmPolicy, ParsedPublicKey)>>,
}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.subject_string())
            .field("fingerprint", &hex(self.fingerprint()))
            .finish_non_exhaustive()
    }
}

impl Cert {
    /// Decodes one DER certificate, strictly: trailing data, non-DER
    /// encodings and extension values that do not decode are errors.
    /// Decoding only decodes: what RFC 5280 asks of the issuing CA is
    /// judged by the validator, which names the certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        if der.len() > MAX_CERT_SIZE {
            return Err(Error::TooLarge {
                what: "certificate",
                size: der.len(),
                limit: MAX_CERT_SIZE,
            });
        }
        let raw = RawCert::parse(der).map_err(|e| Error::der("certificate", &e))?;
        // Whatever this strict reader accepts, x509-cert decodes, but for
        // times before 1970 (which its `DateTime` cannot hold): the lazy
        // accessors rely on it (checked on every certificate in debug
        // builds, and by the mutation test below).
        debug_assert!(
            raw.not_before.0 < 0
                || raw.not_after.0 < 0
                || x509_cert::Certificate::from_der(der).is_ok(),
            "RawCert accepted a certificate x509-cert rejects"
        );

        let serial_problem = check_serial(&der[raw.serial.clone()]).err().map(Box::new);
        let (not_before, not_after) = (raw.not_before, raw.not_after);
        let ext = match &raw.extensions {
            Some(list) => decode_extensions(list.as_slice())?,
            None => Extensions::default(),
        };

        let key = PublicKey::from_spki_der(&der[raw.spki.clone()]).map_err(Box::new);
        let signature_algorithm =
            SignatureAlgorithm::from_identifier_der(raw.outer_sig_alg).map_err(Box::new);

        let mut cert = Self {
            fingerprint: OnceLock::new(),
            tbs_digest: OnceLock::new(),
            der: der.to_vec(),
            tbs: raw.tbs,
            ext,
            key,
            spki_hash: OnceLock::new(),
            issuer_der: raw.issuer.range,
            subject_der: raw.subject.range,
            spki_der: raw.spki,
            spki_bits: raw.spki_bits,
            serial: raw.serial,
            signature: raw.signature,
            version: raw.version,
            subject_empty: raw.subject.empty,
            issuer_name: OnceLock::new(),
            subject_name: OnceLock::new(),
            signature_algorithm,
            not_before,
            not_after,
            self_issued: false,
            // DER: equal values have equal encodings.
            signature_algorithms_differ: raw.outer_sig_alg != raw.tbs_sig_alg,
            issuer_empty: raw.issuer.empty,
            has_extensions: raw.extensions.is_some(),
            serial_problem,
            parsed_key: OnceLock::new(),
            inner: OnceLock::new(),
        };
        cert.self_issued = cert.subject_names_issuer_of(&cert);
        Ok(cert)
    }

    /// Decodes certificates from PEM (one or more `CERTIFICATE` blocks) or a
    /// single DER certificate.
    pub fn parse_many(input: &[u8]) -> Result<Vec<Self>, Error> {
        crate::pem::decode_all(input, "CERTIFICATE")?
            .iter()
            .map(|der| Self::from_der(der))
            .collect()
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER encoding.
    pub fn fingerprint(&self) -> &[u8; 32] {
        self.fingerprint.get_or_init(|| sha256(&self.der))
    }

    /// 32 octets naming what a signature check on this certificate covers:
    /// the SHA-2 TBS digest its signature is verified over (the first 32
    /// octets of a SHA-384 or SHA-512 one), or the whole DER's fingerprint
    /// where there is no SHA-2 TBS digest (SHA-1, Ed25519). Computed once
    /// with the digest the signature check needs anyway. The signature bits
    /// are not part of it. The verified-edge cache keys on it.
    ///
    /// The two kinds cannot collide short of a hash collision: a TBS and a
    /// whole certificate never have the same encoding (a certificate's
    /// first element is a SEQUENCE, a TBS's is `[0]` or an INTEGER).
    pub fn signed_content_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        match self.tbs_digest() {
            Some(d) => out.copy_from_slice(&d.as_ref()[..32]),
            None => out = *self.fingerprint(),
        }
        out
    }

    /// The `tbsCertificate` hashed with the SHA-2 function its signature
    /// algorithm uses (`None` for SHA-1, Ed25519 and unsupported algorithms).
    pub fn tbs_digest(&self) -> Option<&digest::Digest> {
        self.tbs_digest
            .get_or_init(|| {
                let alg = self.signature_algorithm.as_ref().ok()?.sha2_digest()?;
                Some(digest::digest(alg, self.tbs_der()))
            })
            .as_ref()
    }

    /// SHA-256 of the DER subjectPublicKeyInfo.
    pub fn spki_hash(&self) -> &[u8; 32] {
        self.spki_hash.get_or_init(|| sha256(self.spki_der()))
    }

    /// The whole certificate decoded with `x509-cert` (done on first use).
    pub fn x509(&self) -> Result<&x509_cert::Certificate, Error> {
        self.inner
            .get_or_init(|| {
                x509_cert::Certificate::from_der(&self.der)
                    .map(Box::new)
                    .map_err(|e| Error::der("certificate", &e))
            })
            .as_ref()
            .map(AsRef::as_ref)
            .map_err(Clone::clone)
    }

    /// The `tbsCertificate` bytes covered by the signature.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The DER encoding of the subject name.
    pub fn subject_der(&self) -> &[u8] {
        &self.der[self.subject_der.clone()]
    }

    /// The DER encoding of the issuer name.
    pub fn issuer_der(&self) -> &[u8] {
        &self.der[self.issuer_der.clone()]
    }

    /// The DER subjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.der[self.spki_der.clone()]
    }

    /// The subjectPublicKey BIT STRING's bits, as encoded (RFC 6960 `KeyHash`
    /// is over these).
    pub fn subject_public_key_bits(&self) -> &[u8] {
        &self.der[self.spki_bits.clone()]
    }

    /// The subject of `self` names the issuer of `child` (RFC 5280 7.1):
    /// equal encodings decide at once, else [`crate::name::names_equal`].
    pub fn subject_names_issuer_of(&self, child: &Cert) -> bool {
        self.subject_der() == child.issuer_der()
            || crate::name::raw_names_equal(self.subject_der(), child.issuer_der())
                .unwrap_or_else(|| crate::name::names_equal(self.subject(), child.issuer()))
    }

    pub fn subject(&self) -> &Name {
        self.subject_name
            .get_or_init(|| decode_checked_name(self.subject_der()))
    }

    pub fn issuer(&self) -> &Name {
        self.issuer_name
            .get_or_init(|| decode_checked_name(self.issuer_der()))
    }

    /// The subject is the empty sequence (the identity is in subjectAltName).
    pub fn subject_is_empty(&self) -> bool {
        self.subject_empty
    }

    /// The subject as RFC 4514 text, with the keywords officers type
    /// (OpenSSL's `-nameopt RFC2253` spelling, [`crate::name::format_dn`]).
    pub fn subject_string(&self) -> String {
        crate::name::format_dn(self.subject())
    }

    /// The issuer as RFC 4514 text, with the keywords of
    /// [`crate::name::format_dn`].
    pub fn issuer_string(&self) -> String {
        crate::name::format_dn(self.issuer())
    }

    /// signatureAlgorithm differs from tbsCertificate.signature (RFC 5280
    /// 4.1.1.2).
    pub fn signature_algorithms_differ(&self) -> bool {
        self.signature_algorithms_differ
    }

    /// The issuer is the empty sequence (RFC 5280 4.1.2.4 forbids it).
    pub fn issuer_is_empty(&self) -> bool {
        self.issuer_empty
    }

    /// The extensions field is present (even if empty).
    pub fn has_extensions(&self) -> bool {
        self.has_extensions
    }

    /// Why the serial number violates RFC 5280 4.1.2.2, if it does.
    pub fn serial_problem(&self) -> Option<&Error> {
        self.serial_problem.as_deref()
    }

    /// The serial number's content octets (big-endian, as encoded).
    pub fn serial(&self) -> &[u8] {
        &self.der[self.serial.clone()]
    }

    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }

    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }

    /// X.509 version (1 or 3).
    pub fn version(&self) -> u8 {
        self.version as u8 + 1
    }

    /// Subject and issuer are the same name (RFC 5280 6.1: "self-issued").
    pub fn is_self_issued(&self) -> bool {
        self.self_issued
    }

    /// basicConstraints cA is asserted.
    pub fn is_ca(&self) -> bool {
        self.ext
            .basic_constraints
            .as_ref()
            .is_some_and(|bc| bc.value.ca)
    }

    /// The keyUsage extension allows `usage` (true when the extension is absent).
    pub fn key_usage_allows(&self, usage: KeyUsages) -> bool {
        self.ext
            .key_usage
            .as_ref()
            .is_none_or(|ku| ku.value.0.contains(usage))
    }

    /// The subject public key, when its type is supported.
    pub fn public_key(&self) -> Result<&PublicKey, Error> {
        self.key.as_ref().map_err(|e| (**e).clone())
    }

    /// The certificate's own signature algorithm, when supported.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, Error> {
        self.signature_algorithm.clone().map_err(|e| *e)
    }

    /// The signature value.
    pub fn signature(&self) -> &[u8] {
        &self.der[self.signature.clone()]
    }

    /// Checks that `self` was signed by `issuer`'s key under `policy`.
    /// Errors carry index 0; the path validator re-indexes them.
    pub fn verify_signed_by(&self, issuer: &Cert, policy: AlgorithmPolicy) -> Result<(), Error> {
        let alg = self.signature_algorithm()?;
        let key = issuer.public_key()?;
        let cached = issuer.parsed_key.get_or_init(|| {
            signature::parse_key(alg, key, policy)
                .ok()
                .map(|k| (alg, policy, k))
        });
        let parsed = cached
            .as_ref()
            .filter(|(a, p, _)| *a == alg && *p == policy)
            .map(|(_, _, k)| k);
        if let (Some(parsed), Some(d)) = (parsed, self.tbs_digest()) {
            return signature::verify_digest(parsed, d, self.signature());
        }
        signature::verify(alg, key, parsed, policy, self.tbs_der(), self.signature())
    }
}

impl Cert {
    /// Checks that `self` was signed by `key` (an issuer's key completed
    /// with inherited DSA parameters, see [`inherited_key`]).
    pub fn verify_signed_by_key(
        &self,
        key: &PublicKey,
        policy: AlgorithmPolicy,
    ) -> Result<(), Error> {
        let alg = self.signature_algorithm()?;
        signature::verify(alg, key, None, policy, self.tbs_der(), self.signature())
    }
}

/// The key of `chain[k]` completed with DSA parameters inherited from the
/// certificates above it (RFC 3279 2.3.2: a DSA subject key without
/// parameters takes its issuer's), when it needs them; `None` when the key
/// has its own parameters or is not DSA.
pub fn inherited_key<C: std::borrow::Borrow<Cert>>(chain: &[C], k: usize) -> Option<PublicKey> {
    let key = chain.get(k)?.borrow().public_key().ok()?;
    if !key.inherits_dsa_params() {
        return None;
    }
    chain[k + 1..].iter().find_map(|c| {
        let above = c.borrow().public_key().ok()?;
        key.with_inherited_params(above)
    })
}

/// RFC 5280 4.1.2.2: a positive INTEGER of at most 20 octets.
fn check_serial(bytes: &[u8]) -> Result<(), Error> {
    let reason = match bytes {
        [] => Some("empty"),
        [b, ..] if b & 0x80 != 0 => Some("negative"),
        _ if bytes.iter().all(|b| *b == 0) => Some("zero"),
        [0, rest @ ..] if rest.len() > 20 => Some("longer than 20 octets"),
        [b, ..] if *b != 0 && bytes.len() > 20 => Some("longer than 20 octets"),
        _ => None,
    };
    match reason {
        Some(reason) => Err(Error::InvalidSerial { index: 0, reason }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use const_oid::ObjectIdentifier;
    use x509_cert::ext::pkix::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName,
        SubjectKeyIdentifier,
    };

    use crate::oid;

    #[test]
    fn extension_ids_match_their_oids() {
        let table = [
            (oid::CE_BASIC_CONSTRAINTS, ExtId::BasicConstraints),
            (oid::CE_KEY_USAGE, ExtId::KeyUsage),
            (oid::CE_EXT_KEY_USAGE, ExtId::ExtKeyUsage),
            (oid::CE_SUBJECT_ALT_NAME, ExtId::SubjectAltName),
            (oid::CE_NAME_CONSTRAINTS, ExtId::NameConstraints),
            (oid::CE_CERTIFICATE_POLICIES, ExtId::CertificatePolicies),
            (oid::CE_POLICY_MAPPINGS, ExtId::PolicyMappings),
            (oid::CE_POLICY_CONSTRAINTS, ExtId::PolicyConstraints),
            (oid::CE_INHIBIT_ANY_POLICY, ExtId::InhibitAnyPolicy),
            (oid::CE_SUBJECT_KEY_IDENTIFIER, ExtId::SubjectKeyId),
            (oid::CE_AUTHORITY_KEY_IDENTIFIER, ExtId::AuthorityKeyId),
            (
                oid::CE_CRL_DISTRIBUTION_POINTS,
                ExtId::CrlDistributionPoints,
            ),
            (oid::PE_AUTHORITY_INFO_ACCESS, ExtId::AuthorityInfoAccess),
            (oid::PKIX_OCSP_NOCHECK, ExtId::OcspNoCheck),
        ];
        for (oid, id) in table {
            assert_eq!(ExtId::of(oid.as_bytes()), id, "{oid}");
        }
        // Neighbours and prefixes are other extensions.
        for other in ["2.5.29.16", "2.5.29.18", "2.5.29.19.1", "1.3.6.1.5.5.7.1.2"] {
            let oid = ObjectIdentifier::new_unwrap(other);
            assert_eq!(ExtId::of(oid.as_bytes()), ExtId::Other, "{other}");
        }
        assert_eq!(ExtId::of(&[0x55, 0x1d]), ExtId::Other);
    }

    #[test]
    fn serial_rules() {
        assert!(check_serial(&[1]).is_ok());
        assert!(check_serial(&[0, 0x80]).is_ok());
        assert!(check_serial(&[0]).is_err());
        assert!(check_serial(&[0x80]).is_err());
        assert!(check_serial(&[1; 21]).is_err());
        let mut twenty_one = vec![0u8];
        twenty_one.extend([0xff; 20]);
        assert!(check_serial(&twenty_one).is_ok());
    }

    #[cfg(feature = "test-ca")]
    #[test]
    fn raw_name_and_key_ranges_match_their_encodings() {
        use der::Encode;
        let root = crate::testing::TestCa::root("CN=Raw Ranges Root,O=Example,C=MA");
        let sub = root.intermediate("CN=Raw Ranges Sub", |_| {});
        let c = Cert::from_der(root.cert_der()).unwrap();
        let s = Cert::from_der(sub.cert_der()).unwrap();
        assert!(c.subject_names_issuer_of(&s) && !s.subject_names_issuer_of(&s));
        assert_eq!(s.issuer_der(), c.subject_der());
        assert_eq!(c.subject_der(), c.subject().to_der().unwrap());
        assert_eq!(c.issuer_der(), c.issuer().to_der().unwrap());
        let spki = c
            .x509()
            .unwrap()
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        assert_eq!(c.spki_der(), spki);
        assert_eq!(c.spki_hash(), &sha256(&spki));
        assert!(c.is_self_issued() && c.subject_names_issuer_of(&c));
    }

    /// The in-place reader against x509-cert on every single-octet change
    /// and every truncation of real certificates: whatever `from_der`
    /// accepts, x509-cert decodes, with the same fields; and x509-cert
    /// accepts nothing we refuse as bad DER.
    #[cfg(feature = "test-ca")]
    #[test]
    fn in_place_reader_agrees_with_x509_cert_on_mutations() {
        let root = crate::testing::TestCa::root("CN=Mutation Root,O=Example,C=MA");
        let sub = root.intermediate("CN=Mutation Sub,O=Example,C=MA", |_| {});
        let leaf = sub.leaf("CN=leaf.example.ma", |_| {});
        let mut checked = 0usize;
        for original in [root.cert_der(), sub.cert_der(), leaf.cert_der()] {
            let mut inputs: Vec<Vec<u8>> = (0..original.len())
                .map(|n| original[..n].to_vec())
                .collect();
            for i in 0..original.len() {
                for delta in [0x01u8, 0x80, 0xff] {
                    let mut m = original.to_vec();
                    m[i] ^= delta;
                    inputs.push(m);
                }
            }
            for m in &inputs {
                let ours = Cert::from_der(m);
                let theirs = x509_cert::Certificate::from_der(m);
                if let Ok(c) = ours
                    .as_ref()
                    .ok()
                    .filter(|c| c.not_before().0 >= 0 && c.not_after().0 >= 0)
                    .ok_or(())
                {
                    let x = theirs.as_ref().expect("x509-cert decodes what we accept");
                    let t = &x.tbs_certificate;
                    assert_eq!(c.x509().unwrap(), x);
                    assert_eq!(c.subject(), &t.subject);
                    assert_eq!(c.issuer(), &t.issuer);
                    assert_eq!(c.serial(), t.serial_number.as_bytes());
                    assert_eq!(c.signature(), x.signature.raw_bytes());
                    assert_eq!(c.version(), t.version as u8 + 1);
                    // (x509-cert also takes an explicit critical FALSE, which
                    // its re-encoding drops: compare the decoded TBS.)
                    assert_eq!(
                        &x509_cert::TbsCertificate::from_der(c.tbs_der()).unwrap(),
                        t
                    );
                    assert_eq!(c.subject_is_empty(), t.subject.0.is_empty());
                    assert_eq!(c.not_before(), UnixTime::from_x509(&t.validity.not_before));
                    assert_eq!(c.not_after(), UnixTime::from_x509(&t.validity.not_after));
                    let get = |o: ObjectIdentifier| {
                        t.extensions
                            .iter()
                            .flatten()
                            .find(|x| x.extn_id == o)
                            .map(|x| x.extn_value.as_bytes())
                    };
                    let ext = c.extensions();
                    if let Some(v) = get(oid::CE_BASIC_CONSTRAINTS) {
                        let bc = BasicConstraints::from_der(v).unwrap();
                        assert_eq!(ext.basic_constraints.as_ref().unwrap().value, bc);
                    }
                    if let Some(v) = get(oid::CE_EXT_KEY_USAGE) {
                        let eku = ExtendedKeyUsage::from_der(v).unwrap();
                        assert_eq!(ext.ext_key_usage.as_ref().unwrap().value, eku.0);
                    }
                    if let Some(v) = get(oid::CE_KEY_USAGE) {
                        let ku = KeyUsage::from_der(v).unwrap();
                        assert_eq!(ext.key_usage.as_ref().unwrap().value, ku);
                    }
                    if let Some(v) = get(oid::CE_SUBJECT_ALT_NAME) {
                        let san = SubjectAltName::from_der(v).unwrap();
                        assert_eq!(ext.subject_alt_name.as_ref().unwrap().value, san);
                    }
                    if let Some(v) = get(oid::CE_SUBJECT_KEY_IDENTIFIER) {
                        let ski = SubjectKeyIdentifier::from_der(v).unwrap();
                        assert_eq!(ext.subject_key_id.as_deref(), Some(ski.0.as_bytes()));
                    }
                    if let Some(v) = get(oid::CE_AUTHORITY_KEY_IDENTIFIER) {
                        let aki = AuthorityKeyIdentifier::from_der(v).unwrap();
                        assert_eq!(ext.authority_key_id.as_ref(), Some(&aki));
                    }
                    assert_eq!(
                        c.subject_public_key_bits(),
                        t.subject_public_key_info.subject_public_key.raw_bytes()
                    );
                    assert_eq!(
                        c.is_self_issued(),
                        crate::name::names_equal(&t.subject, &t.issuer)
                    );
                    checked += 1;
                } else if matches!(ours, Err(Error::BadDer { .. })) {
                    assert!(
                        theirs.is_err(),
                        "we refuse as bad DER what x509-cert decodes"
                    );
                }
            }
        }
        assert!(checked > 10, "some mutations still decode ({checked})");
    }

    /// More extensions than the reader keeps on the stack: all are read,
    /// and a duplicate past the stack part is still found.
    #[cfg(feature = "test-ca")]
    #[test]
    fn many_extensions_are_all_read() {
        let root = crate::testing::TestCa::root("CN=Many Root,C=MA");
        let private = |i: u32| {
            ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999")
                .push_arc(i)
                .unwrap()
        };
        let leaf = root.leaf("CN=many.example.ma", |t| {
            for i in 0..30 {
                t.extra_extensions.push(crate::builder::RawExtension {
                    oid: private(i),
                    critical: i == 29,
                    value: vec![0x05, 0x00],
                });
            }
        });
        let c = Cert::from_der(leaf.cert_der()).unwrap();
        assert_eq!(c.extensions().unknown_critical, vec![private(29)]);
        let dup = root.leaf("CN=dup.example.ma", |t| {
            for i in (0..25).chain([3]) {
                t.extra_extensions.push(crate::builder::RawExtension {
                    oid: private(i),
                    critical: false,
                    value: vec![0x05, 0x00],
                });
            }
        });
        // Decoding keeps the first value; validation refuses the certificate.
        let d = Cert::from_der(dup.cert_der()).unwrap();
        assert_eq!(d.extensions().duplicate, Some(private(3)));
        // A handled extension twice (the builder already adds an AKI).
        let dup_aki = root.leaf("CN=dup-aki.example.ma", |t| {
            t.extra_extensions.push(crate::builder::RawExtension {
                oid: oid::CE_AUTHORITY_KEY_IDENTIFIER,
                critical: false,
                value: vec![0x30, 0x03, 0x80, 0x01, 0x01],
            });
        });
        let d = Cert::from_der(dup_aki.cert_der()).unwrap();
        assert_eq!(
            d.extensions().duplicate,
            Some(oid::CE_AUTHORITY_KEY_IDENTIFIER)
        );
    }

    #[test]
    fn garbage_is_a_der_error_not_a_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x03\x02\x01",
            b"\x30\x80\x00\x00",
            &[0xff; 64],
        ] {
            assert!(matches!(Cert::from_der(input), Err(Error::BadDer { .. })));
        }
    }
}
