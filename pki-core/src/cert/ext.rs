//! Extension decoding (RFC 5280 4.2): the values the validator uses, read
//! once. Decoding only decodes: what RFC 5280 asks of the issuing CA is
//! judged in [`crate::path::profile`].

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, InhibitAnyPolicy, KeyUsage, NameConstraints,
    PolicyConstraints, PolicyMappings, SubjectAltName, SubjectKeyIdentifier,
};

use crate::der_reader::In;
use crate::oid;
use crate::Error;

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

/// One extension as encoded: the OID's content octets (checked to be a
/// valid OID) and which extension they name, and the value is the OCTET
/// STRING's content.
#[derive(Clone, Copy)]
pub(super) struct RawExt<'a> {
    pub(super) id: ExtId,
    pub(super) oid: &'a [u8],
    pub(super) critical: bool,
    pub(super) value: &'a [u8],
}

impl RawExt<'_> {
    pub(super) fn oid(&self) -> Result<ObjectIdentifier, Error> {
        ObjectIdentifier::from_bytes(self.oid).map_err(|e| bad("extensions", e.to_string()))
    }
}

/// The extensions [`decode_extensions`] reads, and `Other`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ExtId {
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
    pub(super) fn of(oid: &[u8]) -> Self {
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
    let body = outer.take(0x30).ok()?;
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
    let mut list = In::new(outer.take(0x30).ok()?);
    if !outer.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(4);
    while !list.is_empty() {
        let oid = list.take(0x06).ok()?;
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
pub(super) fn decode_extensions(list: &[RawExt<'_>]) -> Result<Extensions, Error> {
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
