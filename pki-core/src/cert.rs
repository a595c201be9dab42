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
use der::{Decode, Reader, SliceReader};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, InhibitAnyPolicy, KeyUsage, KeyUsages,
    NameConstraints, PolicyConstraints, PolicyMappings, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

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
}

/// A decoded certificate. Cheap to share behind an `Arc`.
pub struct Cert {
    der: Vec<u8>,
    fingerprint: [u8; 32],
    tbs: Range<usize>,
    /// Byte ranges in `der` of the issuer, the subject and the
    /// subjectPublicKeyInfo, as encoded (strict DER, so equal to their
    /// re-encoding).
    issuer_der: Range<usize>,
    subject_der: Range<usize>,
    spki_der: Range<usize>,
    inner: x509_cert::Certificate,
    ext: Extensions,
    key: Result<PublicKey, Error>,
    /// SHA-256 of the DER subjectPublicKeyInfo, computed when first asked
    /// for (issuers need it; most end entities never do).
    spki_hash: OnceLock<[u8; 32]>,
    signature_algorithm: Result<SignatureAlgorithm, Error>,
    not_before: UnixTime,
    not_after: UnixTime,
    self_issued: bool,
    /// RFC 5280 4.1.2.2 violation of the serial number, checked for every
    /// certificate of a path except trust anchors (some long-lived roots
    /// have serial 0).
    serial_problem: Option<Error>,
    /// The public key parsed for the last algorithm it verified, so that a
    /// cached issuer verifies without re-parsing its key.
    parsed_key: OnceLock<Option<(SignatureAlgorithm, AlgorithmPolicy, ParsedPublicKey)>>,
}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.subject_string())
            .field("fingerprint", &hex(&self.fingerprint))
            .finish_non_exhaustive()
    }
}

impl Cert {
    /// Decodes one DER certificate, strictly: trailing data, non-DER
    /// encodings, duplicate extensions and RFC 5280 profile violations that
    /// do not depend on the certificate's place in a path are errors.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        if der.len() > MAX_CERT_SIZE {
            return Err(Error::TooLarge {
                what: "certificate",
                size: der.len(),
                limit: MAX_CERT_SIZE,
            });
        }
        let inner =
            x509_cert::Certificate::from_der(der).map_err(|e| Error::der("certificate", &e))?;
        let tbs = tbs_range(der).map_err(|e| Error::der("certificate", &e))?;
        let (issuer_der, subject_der, spki_der) =
            tbs_parts(der, tbs.clone()).map_err(|e| Error::der("certificate", &e))?;
        let tbs_c = &inner.tbs_certificate;

        // RFC 5280 4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature.
        if inner.signature_algorithm != tbs_c.signature {
            return Err(Error::SignatureAlgorithmMismatch { index: 0 });
        }
        let serial_problem = check_serial(tbs_c.serial_number.as_bytes()).err();
        let version = tbs_c.version as u8;
        let has_ext = tbs_c.extensions.is_some();
        if version == 1 || (has_ext && version != 2) {
            // v2 only adds unique identifiers, which RFC 5280 4.1.2.8 says CAs MUST NOT generate.
            return Err(Error::InvalidVersion {
                index: 0,
                version: version + 1,
            });
        }
        // RFC 5280 4.1.2.4: the issuer field MUST contain a non-empty name.
        if tbs_c.issuer.0.is_empty() {
            return Err(Error::BadExtension {
                index: 0,
                extension: "issuer",
                reason: "issuer name is empty".into(),
            });
        }
        let not_before = UnixTime::from_x509(&tbs_c.validity.not_before);
        let not_after = UnixTime::from_x509(&tbs_c.validity.not_after);

        let ext = match &tbs_c.extensions {
            Some(list) => decode_extensions(list, tbs_c.subject.0.is_empty())?,
            None => Extensions::default(),
        };

        let key = PublicKey::from_spki(&tbs_c.subject_public_key_info);
        let signature_algorithm = SignatureAlgorithm::from_identifier(&inner.signature_algorithm);
        let self_issued = der[subject_der.clone()] == der[issuer_der.clone()]
            || crate::name::names_equal(&tbs_c.subject, &tbs_c.issuer);

        Ok(Self {
            fingerprint: sha256(der),
            der: der.to_vec(),
            tbs,
            ext,
            key,
            spki_hash: OnceLock::new(),
            issuer_der,
            subject_der,
            spki_der,
            signature_algorithm,
            not_before,
            not_after,
            self_issued,
            serial_problem,
            parsed_key: OnceLock::new(),
            inner,
        })
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
        &self.fingerprint
    }

    /// SHA-256 of the DER subjectPublicKeyInfo.
    pub fn spki_hash(&self) -> &[u8; 32] {
        self.spki_hash.get_or_init(|| sha256(self.spki_der()))
    }

    /// The decoded certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.inner
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

    /// The subject of `self` names the issuer of `child` (RFC 5280 7.1):
    /// equal encodings decide at once, else [`crate::name::names_equal`].
    pub fn subject_names_issuer_of(&self, child: &Cert) -> bool {
        self.subject_der() == child.issuer_der()
            || crate::name::names_equal(self.subject(), child.issuer())
    }

    pub fn subject(&self) -> &Name {
        &self.inner.tbs_certificate.subject
    }

    pub fn issuer(&self) -> &Name {
        &self.inner.tbs_certificate.issuer
    }

    /// The subject as RFC 4514 text.
    pub fn subject_string(&self) -> String {
        self.subject().to_string()
    }

    /// Why the serial number violates RFC 5280 4.1.2.2, if it does.
    pub fn serial_problem(&self) -> Option<&Error> {
        self.serial_problem.as_ref()
    }

    /// The serial number's content octets (big-endian, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.inner.tbs_certificate.serial_number.as_bytes()
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
        self.inner.tbs_certificate.version as u8 + 1
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
        self.key.as_ref().map_err(Clone::clone)
    }

    /// The certificate's own signature algorithm, when supported.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, Error> {
        self.signature_algorithm.clone()
    }

    /// The signature value.
    pub fn signature(&self) -> &[u8] {
        self.inner.signature.raw_bytes()
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
        signature::verify(alg, key, parsed, policy, self.tbs_der(), self.signature())
    }
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
    let mut outer = SliceReader::new(der)?;
    let header = der::Header::decode(&mut outer)?;
    header.tag.assert_eq(der::Tag::Sequence)?;
    let start = usize::try_from(outer.position())?;
    let tbs = outer.tlv_bytes()?;
    Ok(start..start + tbs.len())
}

/// Byte ranges (in the certificate's DER) of the issuer, subject and
/// subjectPublicKeyInfo TLVs of the `tbsCertificate` at `tbs`, which has
/// already been decoded strictly.
fn tbs_parts(
    der: &[u8],
    tbs: Range<usize>,
) -> der::Result<(Range<usize>, Range<usize>, Range<usize>)> {
    let base = tbs.start;
    let mut r = SliceReader::new(&der[tbs])?;
    der::Header::decode(&mut r)?
        .tag
        .assert_eq(der::Tag::Sequence)?;
    let next = |r: &mut SliceReader<'_>| -> der::Result<Range<usize>> {
        let start = base + usize::try_from(r.position())?;
        let len = r.tlv_bytes()?.len();
        Ok(start..start + len)
    };
    // version [0] EXPLICIT, optional.
    if r.peek_byte() == Some(0xa0) {
        next(&mut r)?;
    }
    next(&mut r)?; // serialNumber
    next(&mut r)?; // signature
    let issuer = next(&mut r)?;
    next(&mut r)?; // validity
    let subject = next(&mut r)?;
    let spki = next(&mut r)?;
    Ok((issuer, subject, spki))
}

fn bad(extension: &'static str, reason: impl Into<String>) -> Error {
    Error::BadExtension {
        index: 0,
        extension,
        reason: reason.into(),
    }
}

fn decode_ext<'a, T: Decode<'a>>(name: &'static str, value: &'a [u8]) -> Result<T, Error> {
    T::from_der(value).map_err(|e| bad(name, format!("undecodable: {e}")))
}

/// Decodes the extensions, applying the RFC 5280 4.2 rules that hold for
/// every certificate whatever its position.
fn decode_extensions(
    list: &[x509_cert::ext::Extension],
    empty_subject: bool,
) -> Result<Extensions, Error> {
    // RFC 5280 4.1: Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension.
    if list.is_empty() {
        return Err(bad("extensions", "empty extensions sequence"));
    }
    let mut seen: Vec<ObjectIdentifier> = Vec::with_capacity(list.len());
    let mut e = Extensions::default();
    for x in list {
        if seen.contains(&x.extn_id) {
            return Err(Error::DuplicateExtension {
                index: 0,
                oid: x.extn_id,
            });
        }
        seen.push(x.extn_id);
        let v = x.extn_value.as_bytes();
        let critical = x.critical;
        match x.extn_id {
            oid::CE_BASIC_CONSTRAINTS => {
                let bc: BasicConstraints = decode_ext("basicConstraints", v)?;
                // RFC 5280 4.2.1.9: pathLenConstraint only when cA is TRUE.
                if bc.path_len_constraint.is_some() && !bc.ca {
                    return Err(bad("basicConstraints", "pathLenConstraint without cA"));
                }
                e.basic_constraints = Some(Ext {
                    value: bc,
                    critical,
                });
            }
            oid::CE_KEY_USAGE => {
                let ku: KeyUsage = decode_ext("keyUsage", v)?;
                // RFC 5280 4.2.1.3: at least one bit MUST be set.
                if ku.0.is_empty() {
                    return Err(bad("keyUsage", "no bit set"));
                }
                e.key_usage = Some(Ext {
                    value: ku,
                    critical,
                });
            }
            oid::CE_EXT_KEY_USAGE => {
                let eku: ExtendedKeyUsage = decode_ext("extKeyUsage", v)?;
                if eku.0.is_empty() {
                    return Err(bad("extKeyUsage", "no key purpose listed"));
                }
                e.ext_key_usage = Some(Ext {
                    value: eku.0,
                    critical,
                });
            }
            oid::CE_SUBJECT_ALT_NAME => {
                let san: SubjectAltName = decode_ext("subjectAltName", v)?;
                if san.0.is_empty() {
                    return Err(bad("subjectAltName", "no names"));
                }
                // RFC 5280 4.2.1.6: critical when the subject is empty.
                if empty_subject && !critical {
                    return Err(bad(
                        "subjectAltName",
                        "must be critical when the subject is empty",
                    ));
                }
                e.subject_alt_name = Some(Ext {
                    value: san,
                    critical,
                });
            }
            oid::CE_NAME_CONSTRAINTS => {
                let nc: NameConstraints = decode_ext("nameConstraints", v)?;
                // RFC 5280 4.2.1.10: at least one of the two fields MUST be present, and non-empty.
                let empty = |s: &Option<
                    x509_cert::ext::pkix::constraints::name::GeneralSubtrees,
                >| { s.as_ref().is_none_or(Vec::is_empty) };
                if empty(&nc.permitted_subtrees) && empty(&nc.excluded_subtrees) {
                    return Err(bad(
                        "nameConstraints",
                        "neither permitted nor excluded subtrees",
                    ));
                }
                e.name_constraints = Some(Ext {
                    value: nc,
                    critical,
                });
            }
            oid::CE_CERTIFICATE_POLICIES => {
                let cp: CertificatePolicies = decode_ext("certificatePolicies", v)?;
                if cp.0.is_empty() {
                    return Err(bad("certificatePolicies", "no policy"));
                }
                e.certificate_policies = Some(Ext {
                    value: cp,
                    critical,
                });
            }
            oid::CE_POLICY_MAPPINGS => {
                let pm: PolicyMappings = decode_ext("policyMappings", v)?;
                if pm.0.is_empty() {
                    return Err(bad("policyMappings", "no mapping"));
                }
                e.policy_mappings = Some(Ext {
                    value: pm,
                    critical,
                });
            }
            oid::CE_POLICY_CONSTRAINTS => {
                let pc: PolicyConstraints = decode_ext("policyConstraints", v)?;
                // RFC 5280 4.2.1.11: MUST be critical; an empty sequence MUST NOT be issued.
                if !critical {
                    return Err(bad("policyConstraints", "must be critical"));
                }
                if pc.require_explicit_policy.is_none() && pc.inhibit_policy_mapping.is_none() {
                    return Err(bad("policyConstraints", "empty"));
                }
                e.policy_constraints = Some(Ext {
                    value: pc,
                    critical,
                });
            }
            oid::CE_INHIBIT_ANY_POLICY => {
                let iap: InhibitAnyPolicy = decode_ext("inhibitAnyPolicy", v)?;
                // RFC 5280 4.2.1.14: MUST be critical.
                if !critical {
                    return Err(bad("inhibitAnyPolicy", "must be critical"));
                }
                e.inhibit_any_policy = Some(Ext {
                    value: iap.0,
                    critical,
                });
            }
            oid::CE_SUBJECT_KEY_IDENTIFIER => {
                let ski: SubjectKeyIdentifier = decode_ext("subjectKeyIdentifier", v)?;
                // RFC 5280 4.2.1.2: MUST be non-critical.
                if critical {
                    return Err(bad("subjectKeyIdentifier", "must not be critical"));
                }
                e.subject_key_id = Some(ski.0.as_bytes().to_vec());
            }
            oid::CE_AUTHORITY_KEY_IDENTIFIER => {
                let aki: AuthorityKeyIdentifier = decode_ext("authorityKeyIdentifier", v)?;
                // RFC 5280 4.2.1.1: MUST be non-critical.
                if critical {
                    return Err(bad("authorityKeyIdentifier", "must not be critical"));
                }
                // authorityCertIssuer and authorityCertSerialNumber go together.
                if aki.authority_cert_issuer.is_some() != aki.authority_cert_serial_number.is_some()
                {
                    return Err(bad(
                        "authorityKeyIdentifier",
                        "authorityCertIssuer and authorityCertSerialNumber must appear together",
                    ));
                }
                e.authority_key_id = Some(aki);
            }
            oid::CE_CRL_DISTRIBUTION_POINTS => {
                let cdp: CrlDistributionPoints = decode_ext("cRLDistributionPoints", v)?;
                if cdp.0.is_empty() {
                    return Err(bad("cRLDistributionPoints", "no distribution point"));
                }
                e.crl_distribution_points = Some(cdp);
            }
            oid::PE_AUTHORITY_INFO_ACCESS => {
                let aia: AuthorityInfoAccessSyntax = decode_ext("authorityInfoAccess", v)?;
                // RFC 5280 4.2.2.1: MUST be non-critical; SIZE (1..MAX).
                if critical {
                    return Err(bad("authorityInfoAccess", "must not be critical"));
                }
                if aia.0.is_empty() {
                    return Err(bad("authorityInfoAccess", "no access description"));
                }
                e.authority_info_access = Some(aia);
            }
            oid::PKIX_OCSP_NOCHECK => {
                der::asn1::Null::from_der(v)
                    .map_err(|_| bad("ocspNoCheck", "value is not NULL"))?;
                e.ocsp_no_check = true;
            }
            other if critical => e.unknown_critical.push(other),
            _ => {}
        }
    }
    // RFC 5280 4.2.1.9: keyCertSign only with cA.
    if let Some(ku) = &e.key_usage {
        let ca = e.basic_constraints.as_ref().is_some_and(|bc| bc.value.ca);
        if ku.value.0.contains(KeyUsages::KeyCertSign) && !ca {
            return Err(bad(
                "keyUsage",
                "keyCertSign asserted but basicConstraints cA is not",
            ));
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        assert_eq!(c.spki_der(), spki);
        assert_eq!(c.spki_hash(), &sha256(&spki));
        assert!(c.is_self_issued() && c.subject_names_issuer_of(&c));
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
