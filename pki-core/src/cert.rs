//! Certificates, decoded once and strictly (RFC 5280 section 4).
//!
//! A [`Cert`] keeps its DER, the SHA-256 fingerprint that identifies it, the
//! byte range of the `tbsCertificate` for signature checks, and every
//! extension the validator uses, decoded up front. Problems that make a
//! certificate unusable anywhere (bad DER, duplicate extensions, profile
//! violations of RFC 5280 4.1/4.2) are reported by [`Cert::from_der`];
//! checks that depend on the certificate's place in a path are done by the
//! path validator.

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::ParsedPublicKey;
use const_oid::ObjectIdentifier;
use der::{Decode, Tag};
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, InhibitAnyPolicy, KeyUsage, KeyUsages,
    NameConstraints, PolicyConstraints, PolicyMappings, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::der_reader::{self, In};
use crate::oid;
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

/// An extension value together with its criticality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ext<T> {
    pub value: T,
    pub critical: bool,
}

/// The extensions of a certificate that validation uses (RFC 5280 4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub basic_constraints: Option<Ext<BasicConstraints>>,
    pub key_usage: Option<Ext<KeyUsage>>,
    pub ext_key_usage: Option<Ext<Vec<ObjectIdentifier>>>,
    pub subject_alt_name: Option<Ext<SubjectAltName>>,
    pub name_constraints: Option<Ext<NameConstraints>>,
    pub certificate_policies: Option<Ext<CertificatePolicies>>,
    pub policy_mappings: Option<Ext<PolicyMappings>>,
    pub policy_constraints: Option<Ext<PolicyConstraints>>,
    pub inhibit_any_policy: Option<Ext<u32>>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<AuthorityKeyIdentifier>,
    pub crl_distribution_points: Option<CrlDistributionPoints>,
    pub authority_info_access: Option<AuthorityInfoAccessSyntax>,
    pub ocsp_no_check: bool,
    /// Critical extensions this validator does not process.
    pub unknown_critical: Vec<ObjectIdentifier>,
    /// subjectAltName entries of forms kept opaque (x400Address,
    /// ediPartyName).
    pub san_opaque: Vec<crate::name::general::OpaqueName>,
    /// nameConstraints subtrees of those forms.
    pub nc_opaque: crate::name::general::OpaqueSubtrees,
    /// The first extension that appears twice (RFC 5280 4.2); only its
    /// first value is kept.
    pub duplicate: Option<ObjectIdentifier>,
    /// The extensions field is present with no extension in it.
    pub empty_list: bool,
    /// Which handled extensions are marked critical, by internal id (see
    /// [`Extensions::is_critical`]).
    critical_handled: u32,
}

impl Extensions {
    /// Whether the handled extension `oid` is present and marked critical.
    pub fn is_critical(&self, oid: ObjectIdentifier) -> bool {
        match ExtId::of(oid.as_bytes()) {
            ExtId::Other => self.unknown_critical.contains(&oid),
            id => self.critical_handled & (1 << id as u32) != 0,
        }
    }
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
            || raw_names_equal(self.subject_der(), child.issuer_der())
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

    /// The subject as RFC 4514 text.
    pub fn subject_string(&self) -> String {
        self.subject().to_string()
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

/// Byte range of the `tbsCertificate` TLV inside a certificate's DER.
pub(crate) fn tbs_range(der: &[u8]) -> der::Result<Range<usize>> {
    let body = In::new(der).expect(0x30)?;
    let (_, _, tbs) = In::new(body).tlv()?;
    Ok(range_in(der, tbs))
}

/// Where `part` (a sub-slice of `whole`) starts in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let off = part.as_ptr() as usize - whole.as_ptr() as usize;
    debug_assert!(off + part.len() <= whole.len());
    off
}

fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = offset_in(whole, part);
    start..start + part.len()
}

/// A name checked to decode as an x509-cert `Name`, located in the
/// certificate.
struct RawName {
    range: Range<usize>,
    empty: bool,
}

/// One extension as encoded: the OID's content octets (checked to be a
/// valid OID) and which extension they name, and the value is the OCTET
/// STRING's content.
#[derive(Clone, Copy)]
struct RawExt<'a> {
    id: ExtId,
    oid: &'a [u8],
    critical: bool,
    value: &'a [u8],
}

impl RawExt<'_> {
    fn oid(&self) -> Result<ObjectIdentifier, Error> {
        ObjectIdentifier::from_bytes(self.oid).map_err(|e| bad("extensions", e.to_string()))
    }
}

/// The extensions [`decode_extensions`] reads, and `Other`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExtId {
    BasicConstraints,
    KeyUsage,
    ExtKeyUsage,
    SubjectAltName,
    NameConstraints,
    CertificatePolicies,
    PolicyMappings,
    PolicyConstraints,
    InhibitAnyPolicy,
    SubjectKeyId,
    AuthorityKeyId,
    CrlDistributionPoints,
    AuthorityInfoAccess,
    OcspNoCheck,
    Other,
}

impl ExtId {
    /// Which extension the content octets of an OID name, matched on
    /// bytes (id-ce is `55 1d xx`).
    #[inline]
    fn of(oid: &[u8]) -> Self {
        match oid {
            [0x55, 0x1d, 14] => Self::SubjectKeyId,
            [0x55, 0x1d, 15] => Self::KeyUsage,
            [0x55, 0x1d, 17] => Self::SubjectAltName,
            [0x55, 0x1d, 19] => Self::BasicConstraints,
            [0x55, 0x1d, 30] => Self::NameConstraints,
            [0x55, 0x1d, 31] => Self::CrlDistributionPoints,
            [0x55, 0x1d, 32] => Self::CertificatePolicies,
            [0x55, 0x1d, 33] => Self::PolicyMappings,
            [0x55, 0x1d, 35] => Self::AuthorityKeyId,
            [0x55, 0x1d, 36] => Self::PolicyConstraints,
            [0x55, 0x1d, 37] => Self::ExtKeyUsage,
            [0x55, 0x1d, 54] => Self::InhibitAnyPolicy,
            // 1.3.6.1.5.5.7.1.1 and 1.3.6.1.5.5.7.48.1.5.
            [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01] => Self::AuthorityInfoAccess,
            [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x05] => Self::OcspNoCheck,
            _ => Self::Other,
        }
    }
}

/// A certificate read in place (RFC 5280 4.1), without allocating beyond
/// the extension list, in the order and with the rules that
/// `x509_cert::Certificate::from_der` applies, so that anything accepted
/// here also decodes there.
struct RawCert<'a> {
    tbs: Range<usize>,
    version: Version,
    serial: Range<usize>,
    tbs_sig_alg: &'a [u8],
    issuer: RawName,
    not_before: UnixTime,
    not_after: UnixTime,
    subject: RawName,
    spki: Range<usize>,
    spki_bits: Range<usize>,
    extensions: Option<RawExts<'a>>,
    outer_sig_alg: &'a [u8],
    signature: Range<usize>,
}

impl<'a> RawCert<'a> {
    fn parse(der: &'a [u8]) -> der::Result<Self> {
        let mut top = In::new(der);
        let cert = top.expect(0x30)?;
        top.finish()?;
        let mut outer = In::new(cert);
        let (tbs_value, tbs) = outer.expect_tlv(0x30)?;
        let outer_sig_alg = outer.algorithm()?;
        let signature = outer.bit_string(0x03)?;
        outer.finish()?;

        let mut r = In::new(tbs_value);
        let version = match r.context(0)? {
            None => Version::V1,
            Some((0xa0, v)) => match v {
                [0x02, 0x01, 0x00] => Version::V1,
                [0x02, 0x01, 0x01] => Version::V2,
                [0x02, 0x01, 0x02] => Version::V3,
                _ => return Err(Tag::Integer.value_error()),
            },
            Some((t, _)) => return Err(Tag::try_from(t)?.non_canonical_error()),
        };
        let serial = r.expect(0x02)?;
        // Canonical INTEGER; x509-cert's RFC 5280 profile allows 21 octets.
        match serial {
            [] | [0x00, 0x00..=0x7f, ..] | [0xff, 0x80..=0xff, ..] => {
                return Err(Tag::Integer.non_canonical_error())
            }
            _ if serial.len() > 21 => return Err(Tag::Integer.value_error()),
            _ => {}
        }
        let tbs_sig_alg = r.algorithm()?;
        let issuer = raw_name(der, &mut r)?;
        let validity = r.expect(0x30)?;
        let mut times = In::new(validity);
        let (tag, value, _) = times.tlv()?;
        let not_before = UnixTime::from_der_time(tag, value)?;
        let (tag, value, _) = times.tlv()?;
        let not_after = UnixTime::from_der_time(tag, value)?;
        times.finish()?;
        let subject = raw_name(der, &mut r)?;
        let (spki_value, spki) = r.expect_tlv(0x30)?;
        let mut key = In::new(spki_value);
        key.algorithm()?;
        let spki_bits = key.bit_string(0x03)?;
        key.finish()?;
        // issuerUniqueID [1] and subjectUniqueID [2], IMPLICIT BIT STRING.
        for n in [1u8, 2] {
            if let Some((t, v)) = r.context(n)? {
                if t != 0x80 | n {
                    return Err(Tag::try_from(t)?.non_canonical_error());
                }
                der_reader::bits(v)?;
            }
        }
        let extensions = match r.context(3)? {
            None => None,
            Some((0xa3, v)) => {
                let mut e = In::new(v);
                let list = e.expect(0x30)?;
                e.finish()?;
                Some(raw_extensions(list)?)
            }
            Some((t, _)) => return Err(Tag::try_from(t)?.non_canonical_error()),
        };
        r.finish()?;
        Ok(RawCert {
            tbs: range_in(der, tbs),
            version,
            serial: range_in(der, serial),
            tbs_sig_alg,
            issuer,
            not_before,
            not_after,
            subject,
            spki: range_in(der, spki),
            spki_bits: range_in(der, spki_bits),
            extensions,
            outer_sig_alg,
            signature: range_in(der, signature),
        })
    }
}

/// The extensions of a certificate as read: on the stack for the usual
/// count, on the heap beyond. (Short-lived, so its size does not matter;
/// boxing the array would defeat its purpose.)
#[allow(clippy::large_enum_variant)]
enum RawExts<'a> {
    Few([RawExt<'a>; 16], usize),
    Many(Vec<RawExt<'a>>),
}

impl<'a> RawExts<'a> {
    fn push(&mut self, x: RawExt<'a>) {
        match self {
            Self::Few(arr, n) if *n < arr.len() => {
                arr[*n] = x;
                *n += 1;
            }
            Self::Few(arr, n) => {
                let mut v = arr[..*n].to_vec();
                v.push(x);
                *self = Self::Many(v);
            }
            Self::Many(v) => v.push(x),
        }
    }

    fn as_slice(&self) -> &[RawExt<'a>] {
        match self {
            Self::Few(arr, n) => &arr[..*n],
            Self::Many(v) => v,
        }
    }
}

/// `Extensions ::= SEQUENCE OF Extension`, each
/// `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`.
fn raw_extensions(list: &[u8]) -> der::Result<RawExts<'_>> {
    let mut r = In::new(list);
    let empty = RawExt {
        id: ExtId::Other,
        oid: &[],
        critical: false,
        value: &[],
    };
    let mut out = RawExts::Few([empty; 16], 0);
    while !r.is_empty() {
        let mut e = In::new(r.expect(0x30)?);
        // Checked below: a handled OID, or one `from_bytes` accepts.
        let oid = e.expect(0x06)?;
        let critical = if e.peek() == Some(0x01) {
            match e.expect(0x01)? {
                [0x00] => false,
                [0xff] => true,
                _ => return Err(Tag::Boolean.non_canonical_error()),
            }
        } else {
            false
        };
        let value = e.expect(0x04)?;
        e.finish()?;
        let id = ExtId::of(oid);
        if id == ExtId::Other {
            ObjectIdentifier::from_bytes(oid).map_err(|_| Tag::ObjectIdentifier.value_error())?;
        }
        out.push(RawExt {
            id,
            oid,
            critical,
            value,
        });
    }
    Ok(out)
}

/// Reads a `Name` (`SEQUENCE OF SET OF AttributeTypeAndValue`) and checks
/// it decodes as an x509-cert `Name`. Single-valued RDNs are checked in
/// place; a multi-valued one (rare) goes through x509-cert itself, which
/// also refuses duplicate values in a SET.
fn raw_name(der: &[u8], r: &mut In<'_>) -> der::Result<RawName> {
    let (value, tlv) = r.expect_tlv(0x30)?;
    let mut seq = In::new(value);
    let mut multi = false;
    while !seq.is_empty() {
        let mut set = In::new(seq.expect(0x31)?);
        let mut n = 0usize;
        while !set.is_empty() {
            let mut atv = In::new(set.expect(0x30)?);
            atv.oid()?;
            atv.tlv()?;
            atv.finish()?;
            n += 1;
        }
        multi |= n > 1;
    }
    if multi {
        Name::from_der(tlv)?;
    }
    Ok(RawName {
        range: range_in(der, tlv),
        empty: value.is_empty(),
    })
}

/// Decodes a name that [`raw_name`] accepted.
fn decode_checked_name(tlv: &[u8]) -> Name {
    // Invariant: `raw_name` checked exactly what this decode needs (see
    // `RawCert`); `Cert::from_der` asserts it in debug builds.
    #[allow(clippy::expect_used)]
    Name::from_der(tlv).expect("name checked by Cert::from_der")
}

/// RFC 5280 7.1 comparison of two encoded names (already checked by
/// [`raw_name`]) decided on the encodings alone, when that is possible:
/// different RDN counts or attribute types, or values that are all plain
/// ASCII text (no white space but single inner spaces), which compare
/// case-insensitively exactly as [`crate::name::names_equal`] would. `None`
/// means the decoded names must be compared.
pub(crate) fn raw_names_equal(a: &[u8], b: &[u8]) -> Option<bool> {
    /// Plain text: the string types `names_equal` reads as ASCII/Latin-1,
    /// all printable ASCII, no leading, trailing or doubled spaces.
    fn plain(tag: u8, v: &[u8]) -> bool {
        matches!(tag, 0x0c | 0x13 | 0x14 | 0x16 | 0x1a)
            && v.first() != Some(&b' ')
            && v.last() != Some(&b' ')
            && v.iter().all(|c| (0x20..0x7f).contains(c))
            && !v.windows(2).any(|w| w == b"  ")
    }
    let body = |tlv| In::new(tlv).expect(0x30).ok();
    let (mut x, mut y) = (In::new(body(a)?), In::new(body(b)?));
    let mut all_plain = true;
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return all_plain.then_some(true),
            (false, false) => {}
            _ => return Some(false),
        }
        let (mut rx, mut ry) = (In::new(x.expect(0x31).ok()?), In::new(y.expect(0x31).ok()?));
        let (ax, ay) = (rx.expect(0x30).ok()?, ry.expect(0x30).ok()?);
        if !rx.is_empty() || !ry.is_empty() {
            return None; // multi-valued RDN: compare the decoded names
        }
        let (mut ax, mut ay) = (In::new(ax), In::new(ay));
        // (Both names were checked by `raw_name`: the OIDs are well formed.)
        if ax.tlv().ok()?.2 != ay.tlv().ok()?.2 {
            return Some(false);
        }
        let ((tx, vx, _), (ty, vy, _)) = (ax.tlv().ok()?, ay.tlv().ok()?);
        if !ax.is_empty() || !ay.is_empty() {
            return None;
        }
        if tx == ty && vx == vy {
            continue;
        }
        if plain(tx, vx) && plain(ty, vy) {
            if !vx.eq_ignore_ascii_case(vy) {
                return Some(false);
            }
        } else {
            all_plain = false;
        }
    }
}

fn bad(extension: &'static str, reason: impl Into<String>) -> Error {
    Error::BadExtension {
        index: 0,
        extension,
        reason: reason.into(),
    }
}

/// keyUsage as the `der` crate decodes it (a BIT STRING of one or two
/// octets into the flag set, bit i of the string being flag i, unused
/// bits ignored), read in place; `None` for any other shape.
fn common_key_usage(v: &[u8]) -> Option<KeyUsage> {
    let (unused, bytes) = match v {
        [0x03, 0x02, unused, _] => (*unused, &v[3..4]),
        [0x03, 0x03, unused, _, _] => (*unused, &v[3..5]),
        _ => return None,
    };
    if unused > 7 {
        return None;
    }
    let bit_len = bytes.len() * 8 - usize::from(unused);
    let mut flags = 0u16;
    for i in 0..bit_len {
        if bytes[i / 8] >> (7 - i % 8) & 1 == 1 {
            flags |= 1 << i;
        }
    }
    Some(KeyUsage(der::flagset::FlagSet::new_truncated(flags)))
}

/// subjectAltName made only of rfc822Name and dNSName entries (IA5String,
/// so ASCII), read in place; `None` sends anything else to x509-cert.
fn common_san(v: &[u8]) -> Option<SubjectAltName> {
    use x509_cert::ext::pkix::name::GeneralName;
    let mut outer = In::new(v);
    let body = outer.expect(0x30).ok()?;
    if !outer.is_empty() {
        return None;
    }
    let mut r = In::new(body);
    let mut names = Vec::with_capacity(2);
    while !r.is_empty() {
        let (tag, value, _) = r.tlv().ok()?;
        let kind: fn(der::asn1::Ia5String) -> GeneralName = match tag {
            0x81 => GeneralName::Rfc822Name,
            0x82 => GeneralName::DnsName,
            _ => return None,
        };
        names.push(kind(der::asn1::Ia5String::new(value).ok()?));
    }
    Some(SubjectAltName(names))
}

/// The key purposes most certificates list, by encoding.
const COMMON_KEY_PURPOSES: [ObjectIdentifier; 8] = [
    oid::KP_SERVER_AUTH,
    oid::KP_CLIENT_AUTH,
    oid::KP_CODE_SIGNING,
    oid::KP_EMAIL_PROTECTION,
    oid::KP_TIME_STAMPING,
    oid::KP_OCSP_SIGNING,
    oid::KP_DOCUMENT_SIGNING,
    oid::KP_ANY,
];

/// An extKeyUsage value made only of [`COMMON_KEY_PURPOSES`]; `None` sends
/// anything else to the generic decoder.
fn common_eku(v: &[u8]) -> Option<Vec<ObjectIdentifier>> {
    let mut outer = In::new(v);
    let mut list = In::new(outer.expect(0x30).ok()?);
    if !outer.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(4);
    while !list.is_empty() {
        let oid = list.expect(0x06).ok()?;
        out.push(*COMMON_KEY_PURPOSES.iter().find(|k| k.as_bytes() == oid)?);
    }
    Some(out)
}

fn decode_ext<'a, T: Decode<'a>>(name: &'static str, value: &'a [u8]) -> Result<T, Error> {
    T::from_der(value).map_err(|e| bad(name, format!("undecodable: {e}")))
}

/// Decodes the extensions. Decoding only decodes: what RFC 5280 4.2 asks
/// of the issuing CA (criticality, non-empty lists, field combinations) is
/// judged in validation ([`crate::path::profile`]), which names the
/// certificate and the rule.
fn decode_extensions(list: &[RawExt<'_>]) -> Result<Extensions, Error> {
    let mut e = Extensions {
        // RFC 5280 4.1: Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension.
        empty_list: list.is_empty(),
        ..Extensions::default()
    };
    // Which handled extensions were seen, by `ExtId` discriminant.
    let mut seen = 0u32;
    for (i, x) in list.iter().enumerate() {
        let duplicate = match x.id {
            ExtId::Other => list[..i].iter().any(|p| p.oid == x.oid),
            id => {
                let bit = 1u32 << id as u32;
                let again = seen & bit != 0;
                seen |= bit;
                again
            }
        };
        if duplicate {
            // RFC 5280 4.2: which of two values holds is undecidable, so
            // validation refuses the certificate; the first one is kept.
            e.duplicate.get_or_insert(x.oid()?);
            continue;
        }
        let v = x.value;
        let critical = x.critical;
        if critical && x.id != ExtId::Other {
            e.critical_handled |= 1 << x.id as u32;
        }
        match x.id {
            ExtId::BasicConstraints => {
                let bc: BasicConstraints = match v {
                    [0x30, 0x00] => BasicConstraints {
                        ca: false,
                        path_len_constraint: None,
                    },
                    [0x30, 0x03, 0x01, 0x01, 0xff] => BasicConstraints {
                        ca: true,
                        path_len_constraint: None,
                    },
                    [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, n @ 0..=0x7f] => BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(*n),
                    },
                    _ => decode_ext("basicConstraints", v)?,
                };
                e.basic_constraints = Some(Ext {
                    value: bc,
                    critical,
                });
            }
            ExtId::KeyUsage => {
                let ku: KeyUsage = match common_key_usage(v) {
                    Some(ku) => ku,
                    None => decode_ext("keyUsage", v)?,
                };
                e.key_usage = Some(Ext {
                    value: ku,
                    critical,
                });
            }
            ExtId::ExtKeyUsage => {
                let eku: ExtendedKeyUsage = match common_eku(v) {
                    Some(list) => ExtendedKeyUsage(list),
                    None => decode_ext("extKeyUsage", v)?,
                };
                e.ext_key_usage = Some(Ext {
                    value: eku.0,
                    critical,
                });
            }
            ExtId::SubjectAltName => {
                let (san, opaque) = match common_san(v) {
                    Some(san) => (san.0, Vec::new()),
                    None => crate::name::general::decode_general_names(v)
                        .map_err(|e| bad("subjectAltName", format!("undecodable: {e}")))?,
                };
                e.subject_alt_name = Some(Ext {
                    value: SubjectAltName(san),
                    critical,
                });
                e.san_opaque = opaque;
            }
            ExtId::NameConstraints => {
                let nc = crate::name::general::decode_name_constraints(v)
                    .map_err(|e| bad("nameConstraints", format!("undecodable: {e}")))?;
                e.name_constraints = Some(Ext {
                    value: nc.0,
                    critical,
                });
                e.nc_opaque = nc.1;
            }
            ExtId::CertificatePolicies => {
                let cp: CertificatePolicies = decode_ext("certificatePolicies", v)?;
                e.certificate_policies = Some(Ext {
                    value: cp,
                    critical,
                });
            }
            ExtId::PolicyMappings => {
                let pm: PolicyMappings = decode_ext("policyMappings", v)?;
                e.policy_mappings = Some(Ext {
                    value: pm,
                    critical,
                });
            }
            ExtId::PolicyConstraints => {
                let pc: PolicyConstraints = decode_ext("policyConstraints", v)?;
                e.policy_constraints = Some(Ext {
                    value: pc,
                    critical,
                });
            }
            ExtId::InhibitAnyPolicy => {
                let iap: InhibitAnyPolicy = decode_ext("inhibitAnyPolicy", v)?;
                e.inhibit_any_policy = Some(Ext {
                    value: iap.0,
                    critical,
                });
            }
            ExtId::SubjectKeyId => {
                let ski = match v {
                    [0x04, n @ 0..=0x7f, id @ ..] if usize::from(*n) == id.len() => id.to_vec(),
                    _ => {
                        let ski: SubjectKeyIdentifier = decode_ext("subjectKeyIdentifier", v)?;
                        ski.0.as_bytes().to_vec()
                    }
                };
                e.subject_key_id = Some(ski);
            }
            ExtId::AuthorityKeyId => {
                let aki: AuthorityKeyIdentifier = match v {
                    // The usual form: keyIdentifier alone.
                    [0x30, l, 0x80, n @ 0..=0x7d, id @ ..]
                        if usize::from(*n) == id.len() && usize::from(*l) == id.len() + 2 =>
                    {
                        AuthorityKeyIdentifier {
                            key_identifier: Some(
                                der::asn1::OctetString::new(id)
                                    .map_err(|e| bad("authorityKeyIdentifier", e.to_string()))?,
                            ),
                            authority_cert_issuer: None,
                            authority_cert_serial_number: None,
                        }
                    }
                    _ => decode_ext("authorityKeyIdentifier", v)?,
                };
                e.authority_key_id = Some(aki);
            }
            ExtId::CrlDistributionPoints => {
                let cdp: CrlDistributionPoints = decode_ext("cRLDistributionPoints", v)?;
                e.crl_distribution_points = Some(cdp);
            }
            ExtId::AuthorityInfoAccess => {
                let aia: AuthorityInfoAccessSyntax = decode_ext("authorityInfoAccess", v)?;
                e.authority_info_access = Some(aia);
            }
            ExtId::OcspNoCheck => {
                der::asn1::Null::from_der(v)
                    .map_err(|_| bad("ocspNoCheck", "value is not NULL"))?;
                e.ocsp_no_check = true;
            }
            ExtId::Other if critical => e.unknown_critical.push(x.oid()?),
            ExtId::Other => {}
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

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
