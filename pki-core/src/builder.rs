//! Certificates (RFC 5280 section 4) and CRLs (RFC 5280 section 5) built
//! from plain templates and signed through a [`Signer`].
//!
//! The same code serves the CA ceremonies (HSM keys) and the test CA
//! (software keys, [`crate::testing`]). Templates say what goes into the
//! structure; they are written as given, so tests can also build the
//! malformed and unusual certificates a validator must reject (version 1 with
//! extensions, unknown critical extensions, wrong criticality, ...).
//!
//! ```text
//! Certificate  ::=  SEQUENCE  {
//!      tbsCertificate       TBSCertificate,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//! ```

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, GeneralizedTime, Ia5String, Null, OctetString, Uint, UtcTime};
use der::{DateTime, Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, ReasonFlags};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{self, AccessDescription, KeyUsages, PolicyMapping};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::oid;
use crate::revocation::RevocationReason;
use crate::signer::{SignError, Signer};

/// id-ad-ocsp (RFC 5280 4.2.2.1).
const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-ad-caIssuers (RFC 5280 4.2.2.1).
const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// Largest DER length the `der` crate decodes (256 MiB); nothing larger is
/// produced.
const MAX_DER_LEN: usize = 0x0fff_ffff;

/// Why a certificate or CRL could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A value could not be DER-encoded (too long, out of range).
    #[error("DER encoding failed: {0}")]
    Encoding(#[from] der::Error),
    /// The signer refused or failed.
    #[error(transparent)]
    Signing(#[from] SignError),
    /// A template field holds a value that cannot be written.
    #[error("invalid template field `{field}`: {reason}")]
    InvalidTemplate { field: &'static str, reason: String },
    /// A distinguished name string could not be parsed.
    #[error("invalid distinguished name {input:?}: {source}")]
    InvalidName {
        input: String,
        source: crate::name::DnError,
    },
    /// The system random number generator failed.
    #[error("random number generator failed")]
    RandomUnavailable,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidTemplate {
        field,
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Names, times, serials, key identifiers
// ---------------------------------------------------------------------------

/// Parses a distinguished name as an officer types it (RFC 4514 such as
/// `"CN=Root,O=Example,C=MA"`, or OpenSSL's `/C=MA/O=Example/CN=Root`) into
/// a [`Name`]: see [`crate::name::parse_dn`].
pub fn parse_name(s: &str) -> Result<Name, BuildError> {
    crate::name::parse_dn(s).map_err(|source| BuildError::InvalidName {
        input: s.to_owned(),
        source,
    })
}

/// RFC 5280 4.1.2.5: UTCTime for dates through 2049, GeneralizedTime from
/// 2050, whole seconds, `Z`. Sub-second parts are dropped.
pub fn x509_time(t: SystemTime) -> Result<Time, der::Error> {
    let dt = DateTime::from_system_time(t)?;
    if dt.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(dt)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

fn time_field(field: &'static str, t: SystemTime) -> Result<Time, BuildError> {
    x509_time(t).map_err(|e| invalid(field, format!("not representable: {e}")))
}

/// A fresh certificate serial number: 16 random octets with the top bit
/// cleared (a positive INTEGER) and a non-zero first octet (no shorter
/// encoding exists), so the DER content octets are exactly these 16 bytes.
/// That leaves 120 - 7 > 64 bits of entropy (CA/B Forum BR 7.1).
pub fn random_serial() -> Result<Vec<u8>, BuildError> {
    let mut serial = vec![0u8; 16];
    loop {
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| BuildError::RandomUnavailable)?;
        serial[0] &= 0x7f;
        if serial[0] != 0 {
            return Ok(serial);
        }
    }
}

/// The content octets of the INTEGER `n` (minimal two's complement).
pub fn serial_from_u64(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|b| **b == 0).count();
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Checks that `bytes` are the content octets of a DER INTEGER: non-empty and
/// minimal (X.690 8.3.2).
fn check_integer(field: &'static str, bytes: &[u8]) -> Result<(), BuildError> {
    match bytes {
        [] => Err(invalid(field, "empty INTEGER")),
        [0x00, b, ..] if *b < 0x80 => Err(invalid(field, "INTEGER has a redundant leading 0x00")),
        [0xff, b, ..] if *b >= 0x80 => Err(invalid(field, "INTEGER has a redundant leading 0xFF")),
        _ => Ok(()),
    }
}

fn serial_number(bytes: &[u8]) -> Result<SerialNumber, BuildError> {
    check_integer("serial", bytes)?;
    let mut der = Vec::with_capacity(bytes.len() + 2);
    push_header(&mut der, 0x02, bytes.len())?;
    der.extend_from_slice(bytes);
    SerialNumber::from_der(&der).map_err(|e| invalid("serial", e.to_string()))
}

/// RFC 5280 4.2.1.2 method (1): the SHA-1 of the value of the BIT STRING
/// subjectPublicKey (excluding tag, length and unused-bits octet).
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        spki.subject_public_key.raw_bytes(),
    )
    .as_ref()
    .to_vec()
}

// ---------------------------------------------------------------------------
// Template pieces
// ---------------------------------------------------------------------------

/// One GeneralName (RFC 5280 4.2.1.6), in the forms tests and profiles use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralNameSpec {
    /// dNSName.
    Dns(String),
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// iPAddress of a subject: 4 or 16 octets.
    Ip(IpAddr),
    /// iPAddress of a name constraint (RFC 5280 4.2.1.10): address followed
    /// by the mask of `prefix` bits, 8 or 32 octets.
    IpSubnet(IpAddr, u8),
    /// directoryName.
    Directory(Name),
    /// Any other form (otherName, registeredID, odd encodings), as given.
    Raw(GeneralName),
}

impl GeneralNameSpec {
    pub fn dns(name: impl Into<String>) -> Self {
        Self::Dns(name.into())
    }

    pub fn email(address: impl Into<String>) -> Self {
        Self::Email(address.into())
    }

    pub fn uri(uri: impl Into<String>) -> Self {
        Self::Uri(uri.into())
    }

    /// The x509-cert value.
    pub fn to_general_name(&self) -> Result<GeneralName, BuildError> {
        let ia5 = |field, s: &String| {
            Ia5String::new(s).map_err(|e| invalid(field, format!("{s:?} is not IA5: {e}")))
        };
        Ok(match self {
            Self::Dns(s) => GeneralName::DnsName(ia5("dNSName", s)?),
            Self::Email(s) => GeneralName::Rfc822Name(ia5("rfc822Name", s)?),
            Self::Uri(s) => {
                GeneralName::UniformResourceIdentifier(ia5("uniformResourceIdentifier", s)?)
            }
            Self::Ip(ip) => GeneralName::from(*ip),
            Self::IpSubnet(ip, prefix) => {
                let (mut octets, bits) = match ip {
                    IpAddr::V4(a) => (a.octets().to_vec(), 32u32),
                    IpAddr::V6(a) => (a.octets().to_vec(), 128),
                };
                let prefix = u32::from(*prefix);
                if prefix > bits {
                    return Err(invalid(
                        "iPAddress",
                        format!("prefix /{prefix} longer than {bits} bits"),
                    ));
                }
                let mask: Vec<u8> = (0..bits / 8)
                    .map(|i| {
                        let ones = prefix.saturating_sub(i * 8).min(8);
                        (0xff_u16 << (8 - ones)) as u8
                    })
                    .collect();
                octets.extend_from_slice(&mask);
                GeneralName::IpAddress(OctetString::new(octets)?)
            }
            Self::Directory(name) => GeneralName::DirectoryName(name.clone()),
            Self::Raw(name) => name.clone(),
        })
    }
}

impl From<GeneralName> for GeneralNameSpec {
    fn from(name: GeneralName) -> Self {
        Self::Raw(name)
    }
}

fn general_names(list: &[GeneralNameSpec]) -> Result<Vec<GeneralName>, BuildError> {
    list.iter().map(GeneralNameSpec::to_general_name).collect()
}

/// RFC 5280 4.2.1.9 Basic Constraints.
///
/// ```text
/// BasicConstraints ::= SEQUENCE {
///      cA                      BOOLEAN DEFAULT FALSE,
///      pathLenConstraint       INTEGER (0..MAX) OPTIONAL }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraintsSpec {
    pub ca: bool,
    pub path_len: Option<u8>,
    pub critical: bool,
}

impl BasicConstraintsSpec {
    /// `cA` TRUE, critical (RFC 5280 4.2.1.9: MUST be critical in CA
    /// certificates).
    pub fn ca(path_len: Option<u8>) -> Self {
        Self {
            ca: true,
            path_len,
            critical: true,
        }
    }

    /// `cA` FALSE, not critical.
    pub fn end_entity() -> Self {
        Self {
            ca: false,
            path_len: None,
            critical: false,
        }
    }
}

/// RFC 5280 4.2.1.3 Key Usage (`KeyUsage ::= BIT STRING`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsageSpec {
    pub usages: der::flagset::FlagSet<KeyUsages>,
    pub critical: bool,
}

impl KeyUsageSpec {
    /// Critical (RFC 5280 4.2.1.3: SHOULD be critical).
    pub fn new(usages: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Self {
        Self {
            usages: usages.into(),
            critical: true,
        }
    }
}

/// RFC 5280 4.2.1.10 Name Constraints, always critical unless overridden
/// (MUST be critical). Each name is a subtree base with minimum 0 and no
/// maximum; an empty list leaves that field out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameConstraintsSpec {
    pub permitted: Vec<GeneralNameSpec>,
    pub excluded: Vec<GeneralNameSpec>,
}

/// RFC 5280 4.2.1.11 Policy Constraints (MUST be critical).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyConstraintsSpec {
    pub require_explicit_policy: Option<u32>,
    pub inhibit_policy_mapping: Option<u32>,
}

/// One entry of RFC 5280 4.2.1.13 CRL Distribution Points.
///
/// ```text
/// DistributionPoint ::= SEQUENCE {
///      distributionPoint       [0]     DistributionPointName OPTIONAL,
///      reasons                 [1]     ReasonFlags OPTIONAL,
///      cRLIssuer               [2]     GeneralNames OPTIONAL }
/// ```
/// An empty `full_name` or `crl_issuer` leaves the field out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistributionPointSpec {
    pub full_name: Vec<GeneralNameSpec>,
    pub reasons: Option<ReasonFlags>,
    pub crl_issuer: Vec<GeneralNameSpec>,
}

impl DistributionPointSpec {
    /// A distribution point whose full name is one URI.
    pub fn uri(uri: impl Into<String>) -> Self {
        Self {
            full_name: vec![GeneralNameSpec::Uri(uri.into())],
            ..Self::default()
        }
    }
}

/// RFC 5280 4.2.1.2 subjectKeyIdentifier choice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SubjectKeyId {
    /// SHA-1 of the subjectPublicKey (method 1), the default.
    #[default]
    Sha1,
    /// This key identifier.
    Explicit(Vec<u8>),
    /// No subjectKeyIdentifier extension.
    Absent,
}

/// RFC 5280 4.2.1.1 authorityKeyIdentifier choice (`keyIdentifier` only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AuthorityKeyId {
    /// SHA-1 of the signer's subjectPublicKey (method 1), the default: equals
    /// the issuer's SKI when the issuer certificate used method 1.
    #[default]
    FromSigner,
    /// This key identifier (the issuer certificate's SKI).
    Explicit(Vec<u8>),
    /// No authorityKeyIdentifier extension.
    Absent,
}

/// An extension written exactly as given: `value` is the DER inside
/// `extnValue` (it need not be valid DER, for negative tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawExtension {
    pub oid: ObjectIdentifier,
    pub critical: bool,
    pub value: Vec<u8>,
}

fn ext<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, BuildError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn raw_ext(x: &RawExtension) -> Result<Extension, BuildError> {
    Ok(Extension {
        extn_id: x.oid,
        critical: x.critical,
        extn_value: OctetString::new(x.value.clone())?,
    })
}

fn key_id_for(aki: &AuthorityKeyId, signer: &dyn Signer) -> Option<Vec<u8>> {
    match aki {
        AuthorityKeyId::FromSigner => Some(key_identifier(&signer.public_key())),
        AuthorityKeyId::Explicit(id) => Some(id.clone()),
        AuthorityKeyId::Absent => None,
    }
}

fn aki_extension(key_id: Vec<u8>) -> Result<Extension, BuildError> {
    let aki = pkix::AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id)?),
        ..Default::default()
    };
    ext(oid::CE_AUTHORITY_KEY_IDENTIFIER, false, &aki)
}

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// What goes into a certificate. Every field is written as given; the
/// typed extension options are emitted in a fixed order, then
/// `extra_extensions`, and `critical_overrides` finally forces the critical
/// flag of any extension by OID.
///
/// Default criticality: basicConstraints and keyUsage as their spec says;
/// nameConstraints, policyMappings, policyConstraints and inhibitAnyPolicy
/// critical (RFC 5280 MUST/SHOULD); subjectAltName critical exactly when the
/// subject is empty (4.2.1.6); everything else not critical.
#[derive(Clone, Debug)]
pub struct CertificateTemplate {
    /// v3 unless a test wants v1/v2. Extensions are written whatever the
    /// version (so "v1 with extensions" can be built): use
    /// [`CertificateTemplate::clear_extensions`] for a real v1 certificate.
    pub version: Version,
    /// Content octets of the serialNumber INTEGER (two's complement, minimal,
    /// at most 21 octets). See [`random_serial`] and [`serial_from_u64`].
    pub serial: Vec<u8>,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Written instead of `not_before`/`not_after` when set (to test
    /// encodings RFC 5280 forbids, such as GeneralizedTime before 2050).
    pub validity_override: Option<Validity>,
    pub subject_public_key: SubjectPublicKeyInfoOwned,

    pub basic_constraints: Option<BasicConstraintsSpec>,
    pub key_usage: Option<KeyUsageSpec>,
    /// RFC 5280 4.2.1.12; empty means no extension.
    pub extended_key_usage: Vec<ObjectIdentifier>,
    /// RFC 5280 4.2.1.6; empty means no extension.
    pub subject_alt_names: Vec<GeneralNameSpec>,
    pub name_constraints: Option<NameConstraintsSpec>,
    /// RFC 5280 4.2.1.4 policy identifiers, no qualifiers; empty means no
    /// extension.
    pub certificate_policies: Vec<ObjectIdentifier>,
    /// RFC 5280 4.2.1.5 (issuerDomainPolicy, subjectDomainPolicy); empty
    /// means no extension.
    pub policy_mappings: Vec<(ObjectIdentifier, ObjectIdentifier)>,
    pub policy_constraints: Option<PolicyConstraintsSpec>,
    /// RFC 5280 4.2.1.14 SkipCerts.
    pub inhibit_any_policy: Option<u32>,
    pub subject_key_id: SubjectKeyId,
    pub authority_key_id: AuthorityKeyId,
    /// RFC 5280 4.2.1.13; empty means no extension.
    pub crl_distribution_points: Vec<DistributionPointSpec>,
    /// RFC 5280 4.2.2.1 id-ad-ocsp access locations.
    pub ocsp_urls: Vec<String>,
    /// RFC 5280 4.2.2.1 id-ad-caIssuers access locations.
    pub ca_issuers_urls: Vec<String>,
    /// RFC 6960 4.2.2.2.1 id-pkix-ocsp-nocheck (value NULL).
    pub ocsp_no_check: bool,
    /// Written after the typed extensions, as given.
    pub extra_extensions: Vec<RawExtension>,
    /// (extension OID, critical) applied last to every extension with that
    /// OID.
    pub critical_overrides: Vec<(ObjectIdentifier, bool)>,
}

impl CertificateTemplate {
    /// A v3 template for `subject`'s key, issued by `subject` (self-issued
    /// until `issuer` is changed), valid from now for 365 days, with the SKI
    /// (method 1) and the AKI taken from the signer, and no other
    /// extension. `serial` is empty: set it (e.g. [`random_serial`]).
    pub fn new(subject: Name, subject_public_key: SubjectPublicKeyInfoOwned) -> Self {
        let now = SystemTime::now();
        Self {
            version: Version::V3,
            serial: Vec::new(),
            issuer: subject.clone(),
            subject,
            not_before: now,
            not_after: now + Duration::from_secs(365 * 86_400),
            validity_override: None,
            subject_public_key,
            basic_constraints: None,
            key_usage: None,
            extended_key_usage: Vec::new(),
            subject_alt_names: Vec::new(),
            name_constraints: None,
            certificate_policies: Vec::new(),
            policy_mappings: Vec::new(),
            policy_constraints: None,
            inhibit_any_policy: None,
            subject_key_id: SubjectKeyId::Sha1,
            authority_key_id: AuthorityKeyId::FromSigner,
            crl_distribution_points: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuers_urls: Vec::new(),
            ocsp_no_check: false,
            extra_extensions: Vec::new(),
            critical_overrides: Vec::new(),
        }
    }

    /// Sets pathLenConstraint, making the certificate a CA (critical
    /// basicConstraints) if it had no basicConstraints.
    pub fn set_path_len(&mut self, path_len: Option<u8>) {
        self.basic_constraints
            .get_or_insert_with(|| BasicConstraintsSpec::ca(None))
            .path_len = path_len;
    }

    /// Removes every extension, SKI and AKI included.
    pub fn clear_extensions(&mut self) {
        self.basic_constraints = None;
        self.key_usage = None;
        self.extended_key_usage.clear();
        self.subject_alt_names.clear();
        self.name_constraints = None;
        self.certificate_policies.clear();
        self.policy_mappings.clear();
        self.policy_constraints = None;
        self.inhibit_any_policy = None;
        self.subject_key_id = SubjectKeyId::Absent;
        self.authority_key_id = AuthorityKeyId::Absent;
        self.crl_distribution_points.clear();
        self.ocsp_urls.clear();
        self.ca_issuers_urls.clear();
        self.ocsp_no_check = false;
        self.extra_extensions.clear();
    }

    /// The subjectKeyIdentifier this template writes, if any.
    pub fn subject_key_identifier(&self) -> Option<Vec<u8>> {
        match &self.subject_key_id {
            SubjectKeyId::Sha1 => Some(key_identifier(&self.subject_public_key)),
            SubjectKeyId::Explicit(id) => Some(id.clone()),
            SubjectKeyId::Absent => None,
        }
    }

    /// The extensions, in the order they are written.
    pub fn extensions(&self, signer: &dyn Signer) -> Result<Vec<Extension>, BuildError> {
        let mut out = Vec::new();
        if let Some(bc) = &self.basic_constraints {
            let value = pkix::BasicConstraints {
                ca: bc.ca,
                path_len_constraint: bc.path_len,
            };
            out.push(ext(oid::CE_BASIC_CONSTRAINTS, bc.critical, &value)?);
        }
        if let Some(ku) = &self.key_usage {
            out.push(ext(
                oid::CE_KEY_USAGE,
                ku.critical,
                &pkix::KeyUsage(ku.usages),
            )?);
        }
        if !self.extended_key_usage.is_empty() {
            let value = pkix::ExtendedKeyUsage(self.extended_key_usage.clone());
            out.push(ext(oid::CE_EXT_KEY_USAGE, false, &value)?);
        }
        if let Some(id) = self.subject_key_identifier() {
            let value = pkix::SubjectKeyIdentifier(OctetString::new(id)?);
            out.push(ext(oid::CE_SUBJECT_KEY_IDENTIFIER, false, &value)?);
        }
        if let Some(id) = key_id_for(&self.authority_key_id, signer) {
            out.push(aki_extension(id)?);
        }
        if !self.subject_alt_names.is_empty() {
            let value = pkix::SubjectAltName(general_names(&self.subject_alt_names)?);
            out.push(ext(
                oid::CE_SUBJECT_ALT_NAME,
                self.subject.is_empty(),
                &value,
            )?);
        }
        if let Some(nc) = &self.name_constraints {
            let subtrees =
                |list: &[GeneralNameSpec]| -> Result<Option<Vec<GeneralSubtree>>, BuildError> {
                    if list.is_empty() {
                        return Ok(None);
                    }
                    let trees = list
                        .iter()
                        .map(|n| {
                            Ok(GeneralSubtree {
                                base: n.to_general_name()?,
                                minimum: 0,
                                maximum: None,
                            })
                        })
                        .collect::<Result<_, BuildError>>()?;
                    Ok(Some(trees))
                };
            let value = pkix::NameConstraints {
                permitted_subtrees: subtrees(&nc.permitted)?,
                excluded_subtrees: subtrees(&nc.excluded)?,
            };
            out.push(ext(oid::CE_NAME_CONSTRAINTS, true, &value)?);
        }
        if !self.certificate_policies.is_empty() {
            let value = pkix::CertificatePolicies(
                self.certificate_policies
                    .iter()
                    .map(|p| PolicyInformation {
                        policy_identifier: *p,
                        policy_qualifiers: None,
                    })
                    .collect(),
            );
            out.push(ext(oid::CE_CERTIFICATE_POLICIES, false, &value)?);
        }
        if !self.policy_mappings.is_empty() {
            let value = pkix::PolicyMappings(
                self.policy_mappings
                    .iter()
                    .map(|(issuer, subject)| PolicyMapping {
                        issuer_domain_policy: *issuer,
                        subject_domain_policy: *subject,
                    })
                    .collect(),
            );
            out.push(ext(oid::CE_POLICY_MAPPINGS, true, &value)?);
        }
        if let Some(pc) = &self.policy_constraints {
            let value = pkix::PolicyConstraints {
                require_explicit_policy: pc.require_explicit_policy,
                inhibit_policy_mapping: pc.inhibit_policy_mapping,
            };
            out.push(ext(oid::CE_POLICY_CONSTRAINTS, true, &value)?);
        }
        if let Some(skip) = self.inhibit_any_policy {
            out.push(ext(
                oid::CE_INHIBIT_ANY_POLICY,
                true,
                &pkix::InhibitAnyPolicy(skip),
            )?);
        }
        if !self.crl_distribution_points.is_empty() {
            let points = self
                .crl_distribution_points
                .iter()
                .map(distribution_point)
                .collect::<Result<_, _>>()?;
            let value = pkix::CrlDistributionPoints(points);
            out.push(ext(oid::CE_CRL_DISTRIBUTION_POINTS, false, &value)?);
        }
        if !self.ocsp_urls.is_empty() || !self.ca_issuers_urls.is_empty() {
            let describe = |method: ObjectIdentifier, uri: &String| {
                Ok::<_, BuildError>(AccessDescription {
                    access_method: method,
                    access_location: GeneralNameSpec::Uri(uri.clone()).to_general_name()?,
                })
            };
            let mut list = Vec::new();
            for uri in &self.ocsp_urls {
                list.push(describe(AD_OCSP, uri)?);
            }
            for uri in &self.ca_issuers_urls {
                list.push(describe(AD_CA_ISSUERS, uri)?);
            }
            let value = pkix::AuthorityInfoAccessSyntax(list);
            out.push(ext(oid::PE_AUTHORITY_INFO_ACCESS, false, &value)?);
        }
        if self.ocsp_no_check {
            out.push(ext(oid::PKIX_OCSP_NOCHECK, false, &Null)?);
        }
        for x in &self.extra_extensions {
            out.push(raw_ext(x)?);
        }
        for (id, critical) in &self.critical_overrides {
            for x in out.iter_mut().filter(|x| x.extn_id == *id) {
                x.critical = *critical;
            }
        }
        Ok(out)
    }

    /// The TBSCertificate as it will be signed by `signer` (for linting
    /// before signing).
    pub fn tbs_certificate(&self, signer: &dyn Signer) -> Result<TbsCertificate, BuildError> {
        self.tbs_with(signer.algorithm(), signer)
    }

    fn tbs_with(
        &self,
        signature: AlgorithmIdentifierOwned,
        signer: &dyn Signer,
    ) -> Result<TbsCertificate, BuildError> {
        let validity = match self.validity_override {
            Some(v) => v,
            None => Validity {
                not_before: time_field("not_before", self.not_before)?,
                not_after: time_field("not_after", self.not_after)?,
            },
        };
        let extensions = self.extensions(signer)?;
        Ok(TbsCertificate {
            version: self.version,
            serial_number: serial_number(&self.serial)?,
            signature,
            issuer: self.issuer.clone(),
            validity,
            subject: self.subject.clone(),
            subject_public_key_info: self.subject_public_key.clone(),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: (!extensions.is_empty()).then_some(extensions),
        })
    }
}

fn distribution_point(dp: &DistributionPointSpec) -> Result<DistributionPoint, BuildError> {
    Ok(DistributionPoint {
        distribution_point: if dp.full_name.is_empty() {
            None
        } else {
            Some(DistributionPointName::FullName(general_names(
                &dp.full_name,
            )?))
        },
        reasons: dp.reasons,
        crl_issuer: if dp.crl_issuer.is_empty() {
            None
        } else {
            Some(general_names(&dp.crl_issuer)?)
        },
    })
}

/// Builds and signs a certificate; returns its DER.
///
/// The signer's [`Signer::algorithm`] goes into both the TBS `signature` and
/// the outer `signatureAlgorithm` (RFC 5280 4.1.1.2 requires them equal).
pub fn build_certificate(
    tpl: &CertificateTemplate,
    issuer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let algorithm = issuer.algorithm();
    let tbs = tpl.tbs_with(algorithm.clone(), issuer)?.to_der()?;
    let signature = issuer.sign(&tbs)?;
    signed_structure(&tbs, &algorithm, &signature)
}

/// `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }` written
/// around the already-encoded TBS (never re-encoded).
fn signed_structure(
    tbs: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    signature: &[u8],
) -> Result<Vec<u8>, BuildError> {
    let algorithm = algorithm.to_der()?;
    let signature = BitString::from_bytes(signature)?.to_der()?;
    let len = tbs.len() + algorithm.len() + signature.len();
    let mut out = Vec::with_capacity(len + 6);
    push_header(&mut out, 0x30, len)?;
    out.extend_from_slice(tbs);
    out.extend_from_slice(&algorithm);
    out.extend_from_slice(&signature);
    Ok(out)
}

/// Appends a DER identifier octet and definite length (X.690 8.1.3).
fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) -> Result<(), BuildError> {
    if len > MAX_DER_LEN {
        return Err(der::Error::from(der::ErrorKind::Overflow).into());
    }
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    Ok(())
}

fn header_len(len: usize) -> usize {
    match len {
        0..=0x7f => 2,
        0x80..=0xff => 3,
        0x100..=0xffff => 4,
        0x1_0000..=0xff_ffff => 5,
        _ => 6,
    }
}

// ---------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------

/// One revokedCertificates entry (RFC 5280 5.1.2.6, 5.3).
///
/// ```text
/// SEQUENCE  {
///      userCertificate         CertificateSerialNumber,
///      revocationDate          Time,
///      crlEntryExtensions      Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Content octets of the serial INTEGER, as in [`CertificateTemplate::serial`].
    pub serial: Vec<u8>,
    pub revocation_date: SystemTime,
    /// reasonCode (5.3.1), not critical; `None` leaves it out.
    pub reason: Option<RevocationReason>,
    /// invalidityDate (5.3.2), GeneralizedTime, not critical.
    pub invalidity_date: Option<SystemTime>,
    /// certificateIssuer (5.3.3), critical; empty leaves it out.
    pub certificate_issuer: Vec<GeneralNameSpec>,
    /// Written after the others, as given.
    pub extra_extensions: Vec<RawExtension>,
}

impl CrlEntry {
    pub fn new(serial: Vec<u8>, revocation_date: SystemTime) -> Self {
        Self {
            serial,
            revocation_date,
            reason: None,
            invalidity_date: None,
            certificate_issuer: Vec::new(),
            extra_extensions: Vec::new(),
        }
    }

    #[must_use]
    pub fn with_reason(mut self, reason: RevocationReason) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// RFC 5280 5.2.5 Issuing Distribution Point.
///
/// ```text
/// IssuingDistributionPoint ::= SEQUENCE {
///      distributionPoint          [0] DistributionPointName OPTIONAL,
///      onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
///      onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
///      onlySomeReasons            [3] ReasonFlags OPTIONAL,
///      indirectCRL                [4] BOOLEAN DEFAULT FALSE,
///      onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuingDistributionPointSpec {
    /// distributionPoint fullName; empty leaves it out.
    pub full_name: Vec<GeneralNameSpec>,
    pub only_contains_user_certs: bool,
    pub only_contains_ca_certs: bool,
    pub only_some_reasons: Option<ReasonFlags>,
    pub indirect_crl: bool,
    pub only_contains_attribute_certs: bool,
    /// True by default (MUST be critical).
    pub critical: bool,
}

impl Default for IssuingDistributionPointSpec {
    fn default() -> Self {
        Self {
            full_name: Vec::new(),
            only_contains_user_certs: false,
            only_contains_ca_certs: false,
            only_some_reasons: None,
            indirect_crl: false,
            only_contains_attribute_certs: false,
            critical: true,
        }
    }
}

/// What goes into a CRL (RFC 5280 5.1).
///
/// CRL extensions are written in the order authorityKeyIdentifier,
/// cRLNumber, deltaCRLIndicator, issuingDistributionPoint, then
/// `extra_extensions`.
#[derive(Clone, Debug)]
pub struct CrlTemplate {
    /// v2 unless a test wants v1 (then the version field is left out, as
    /// RFC 5280 5.1.2.1 says; extensions are still written if present).
    pub version: Version,
    pub issuer: Name,
    pub this_update: SystemTime,
    /// RFC 5280 5.1.2.5: conforming issuers include it.
    pub next_update: Option<SystemTime>,
    /// In the order given. An empty list leaves revokedCertificates out.
    pub revoked: Vec<CrlEntry>,
    /// cRLNumber (5.2.3); `None` leaves it out.
    pub crl_number: Option<u64>,
    pub authority_key_id: AuthorityKeyId,
    /// deltaCRLIndicator BaseCRLNumber (5.2.4), critical.
    pub delta_crl_indicator: Option<u64>,
    pub issuing_distribution_point: Option<IssuingDistributionPointSpec>,
    pub extra_extensions: Vec<RawExtension>,
}

impl CrlTemplate {
    /// A v2 CRL of `issuer` numbered `crl_number`, issued `this_update`,
    /// next update 7 days later, AKI from the signer, nothing revoked.
    pub fn new(issuer: Name, this_update: SystemTime, crl_number: u64) -> Self {
        Self {
            version: Version::V2,
            issuer,
            this_update,
            next_update: Some(this_update + Duration::from_secs(7 * 86_400)),
            revoked: Vec::new(),
            crl_number: Some(crl_number),
            authority_key_id: AuthorityKeyId::FromSigner,
            delta_crl_indicator: None,
            issuing_distribution_point: None,
            extra_extensions: Vec::new(),
        }
    }

    /// The crlExtensions, in the order they are written.
    pub fn extensions(&self, signer: &dyn Signer) -> Result<Vec<Extension>, BuildError> {
        let mut out = Vec::new();
        if let Some(id) = key_id_for(&self.authority_key_id, signer) {
            out.push(aki_extension(id)?);
        }
        if let Some(n) = self.crl_number {
            let value = pkix::CrlNumber(Uint::new(&n.to_be_bytes())?);
            out.push(ext(oid::CE_CRL_NUMBER, false, &value)?);
        }
        if let Some(n) = self.delta_crl_indicator {
            let value = pkix::BaseCrlNumber(Uint::new(&n.to_be_bytes())?);
            out.push(ext(oid::CE_DELTA_CRL_INDICATOR, true, &value)?);
        }
        if let Some(idp) = &self.issuing_distribution_point {
            let value = pkix::IssuingDistributionPoint {
                distribution_point: if idp.full_name.is_empty() {
                    None
                } else {
                    Some(DistributionPointName::FullName(general_names(
                        &idp.full_name,
                    )?))
                },
                only_contains_user_certs: idp.only_contains_user_certs,
                only_contains_ca_certs: idp.only_contains_ca_certs,
                only_some_reasons: idp.only_some_reasons,
                indirect_crl: idp.indirect_crl,
                only_contains_attribute_certs: idp.only_contains_attribute_certs,
            };
            // Not `AsExtension`: x509-cert 0.2.5 gives this type the wrong OID.
            out.push(ext(
                oid::CE_ISSUING_DISTRIBUTION_POINT,
                idp.critical,
                &value,
            )?);
        }
        for x in &self.extra_extensions {
            out.push(raw_ext(x)?);
        }
        Ok(out)
    }
}

/// Builds and signs a CRL; returns its DER.
///
/// `revokedCertificates` is written straight into one buffer with
/// precomputed extension encodings, so the cost is linear in the number of
/// entries (a 1,000,000-entry CRL is about 28 MB of DER).
///
/// ```text
/// TBSCertList  ::=  SEQUENCE  {
///      version                 Version OPTIONAL, -- if present, MUST be v2
///      signature               AlgorithmIdentifier,
///      issuer                  Name,
///      thisUpdate              Time,
///      nextUpdate              Time OPTIONAL,
///      revokedCertificates     SEQUENCE OF SEQUENCE { ... } OPTIONAL,
///      crlExtensions           [0]  EXPLICIT Extensions OPTIONAL }
/// ```
pub fn build_crl(tpl: &CrlTemplate, signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
    let algorithm = signer.algorithm();
    let tbs = tbs_cert_list(tpl, &algorithm, signer)?;
    let signature = signer.sign(&tbs)?;
    signed_structure(&tbs, &algorithm, &signature)
}

fn tbs_cert_list(
    tpl: &CrlTemplate,
    algorithm: &AlgorithmIdentifierOwned,
    signer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let mut head = Vec::new();
    if tpl.version != Version::V1 {
        // Version ::= INTEGER { v1(0), v2(1), v3(2) }
        head.extend_from_slice(&[0x02, 0x01, tpl.version as u8]);
    }
    algorithm.encode_to_vec(&mut head)?;
    tpl.issuer.encode_to_vec(&mut head)?;
    time_field("this_update", tpl.this_update)?.encode_to_vec(&mut head)?;
    if let Some(t) = tpl.next_update {
        time_field("next_update", t)?.encode_to_vec(&mut head)?;
    }

    let revoked = revoked_certificates(&tpl.revoked)?;

    let extensions = tpl.extensions(signer)?;
    let mut tail = Vec::new();
    if !extensions.is_empty() {
        let inner = extensions.to_der()?;
        push_header(&mut tail, 0xa0, inner.len())?;
        tail.extend_from_slice(&inner);
    }

    let revoked_len = if tpl.revoked.is_empty() {
        0
    } else {
        header_len(revoked.len()) + revoked.len()
    };
    let len = head.len() + revoked_len + tail.len();
    let mut tbs = Vec::with_capacity(len + 6);
    push_header(&mut tbs, 0x30, len)?;
    tbs.extend_from_slice(&head);
    if !tpl.revoked.is_empty() {
        push_header(&mut tbs, 0x30, revoked.len())?;
        tbs.extend_from_slice(&revoked);
    }
    tbs.extend_from_slice(&tail);
    Ok(tbs)
}

/// The content of the revokedCertificates SEQUENCE OF.
fn revoked_certificates(entries: &[CrlEntry]) -> Result<Vec<u8>, BuildError> {
    // reasonCode extensions, one per code: SEQUENCE { OID 2.5.29.21,
    // OCTET STRING { ENUMERATED code } }.
    let reasons = (0..=10u8)
        .map(|code| {
            let extension = Extension {
                extn_id: oid::CE_CRL_REASON,
                critical: false,
                extn_value: OctetString::new(vec![0x0a, 0x01, code])?,
            };
            extension.to_der()
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = Vec::with_capacity(entries.len() * 32);
    let mut entry = Vec::with_capacity(64);
    let mut exts = Vec::with_capacity(64);
    let mut last_date: Option<(SystemTime, Vec<u8>)> = None;
    for (i, e) in entries.iter().enumerate() {
        check_integer("revoked.serial", &e.serial).map_err(|_| {
            invalid(
                "revoked.serial",
                format!("entry {i}: serial is not a minimal non-empty INTEGER"),
            )
        })?;
        entry.clear();
        push_header(&mut entry, 0x02, e.serial.len())?;
        entry.extend_from_slice(&e.serial);
        match &last_date {
            Some((t, der)) if *t == e.revocation_date => entry.extend_from_slice(der),
            _ => {
                let der = time_field("revoked.revocation_date", e.revocation_date)?.to_der()?;
                entry.extend_from_slice(&der);
                last_date = Some((e.revocation_date, der));
            }
        }

        exts.clear();
        if let Some(reason) = e.reason {
            exts.extend_from_slice(&reasons[usize::from(reason.code())]);
        }
        if let Some(t) = e.invalidity_date {
            // InvalidityDate ::= GeneralizedTime (5.3.2), whatever the year.
            let value = GeneralizedTime::from_system_time(t)
                .map_err(|err| invalid("revoked.invalidity_date", format!("entry {i}: {err}")))?;
            ext(oid::CE_INVALIDITY_DATE, false, &value)?.encode_to_vec(&mut exts)?;
        }
        if !e.certificate_issuer.is_empty() {
            let value = general_names(&e.certificate_issuer)?;
            ext(oid::CE_CERTIFICATE_ISSUER, true, &value)?.encode_to_vec(&mut exts)?;
        }
        for x in &e.extra_extensions {
            raw_ext(x)?.encode_to_vec(&mut exts)?;
        }
        if !exts.is_empty() {
            push_header(&mut entry, 0x30, exts.len())?;
            entry.extend_from_slice(&exts);
        }

        push_header(&mut out, 0x30, entry.len())?;
        out.extend_from_slice(&entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use der::asn1::PrintableStringRef;
    use der::{Tag, Tagged};
    use x509_cert::crl::CertificateList;
    use x509_cert::Certificate;

    #[test]
    fn parse_name_reads_rfc4514_most_specific_first() {
        let name = parse_name("CN=Root,O=Example,C=MA").unwrap();
        assert_eq!(name.0.len(), 3);
        let country = &name.0[0].0.as_slice()[0];
        assert_eq!(country.oid, const_oid::db::rfc4519::COUNTRY_NAME);
        assert_eq!(country.value.tag(), Tag::PrintableString);
        assert_eq!(
            PrintableStringRef::try_from(&country.value)
                .unwrap()
                .as_str(),
            "MA"
        );
        assert_eq!(name.0[2].0.as_slice()[0].oid, oid::AT_COMMON_NAME);
        assert_eq!(name.0[2].0.as_slice()[0].value.tag(), Tag::Utf8String);
        assert_eq!(name.to_string(), "CN=Root,O=Example,C=MA");

        // Spaces after commas, escaped commas, multi-valued RDNs, OIDs.
        let spaced = parse_name("CN=Root, O=Example, C=MA").unwrap();
        assert_eq!(spaced, name);
        let escaped = parse_name(r"CN=Doe\, John,O=Example").unwrap();
        assert_eq!(escaped.0.len(), 2);
        assert_eq!(escaped.to_string(), r"CN=Doe\, John,O=Example");
        let multi = parse_name("CN=a+OU=b,O=c").unwrap();
        assert_eq!(multi.0.len(), 2);
        assert_eq!(multi.0[1].0.len(), 2);
        let dotted = parse_name("2.5.4.3=x,DC=example,DC=ma,serialNumber=AB123").unwrap();
        assert_eq!(dotted.0.len(), 4);

        assert!(parse_name("").unwrap().is_empty());
        assert!(matches!(
            parse_name("NOPE=x"),
            Err(BuildError::InvalidName { .. })
        ));
        assert!(matches!(
            parse_name("CN"),
            Err(BuildError::InvalidName { .. })
        ));
    }

    #[test]
    fn times_switch_to_generalized_time_in_2050() {
        let at = |y, m, d, h, min, s| DateTime::new(y, m, d, h, min, s).unwrap().to_system_time();
        assert!(matches!(
            x509_time(at(2049, 12, 31, 23, 59, 59)).unwrap(),
            Time::UtcTime(_)
        ));
        assert!(matches!(
            x509_time(at(2050, 1, 1, 0, 0, 0)).unwrap(),
            Time::GeneralTime(_)
        ));
        let t = x509_time(at(2030, 6, 1, 12, 0, 0) + Duration::from_millis(999)).unwrap();
        assert_eq!(t.to_der().unwrap(), b"\x17\x0d300601120000Z");
        let t = x509_time(at(2051, 6, 1, 12, 0, 0)).unwrap();
        assert_eq!(t.to_der().unwrap(), b"\x18\x0f20510601120000Z");
        assert!(x509_time(SystemTime::UNIX_EPOCH - Duration::from_secs(1)).is_err());
    }

    #[test]
    fn random_serials_are_16_positive_minimal_octets() {
        let serials: Vec<_> = (0..200).map(|_| random_serial().unwrap()).collect();
        for s in &serials {
            assert_eq!(s.len(), 16);
            assert!(s[0] != 0 && s[0] < 0x80);
            check_integer("serial", s).unwrap();
        }
        let mut unique = serials.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), serials.len());
    }

    #[test]
    fn serial_from_u64_is_minimal_twos_complement() {
        assert_eq!(serial_from_u64(0), [0]);
        assert_eq!(serial_from_u64(127), [127]);
        assert_eq!(serial_from_u64(128), [0, 128]);
        assert_eq!(serial_from_u64(256), [1, 0]);
        assert_eq!(
            serial_from_u64(u64::MAX),
            [0, 255, 255, 255, 255, 255, 255, 255, 255]
        );
        assert!(check_integer("serial", &[0, 1]).is_err());
        assert!(check_integer("serial", &[0xff, 0x80]).is_err());
        assert!(check_integer("serial", &[]).is_err());
        check_integer("serial", &[0xff]).unwrap();
    }

    #[test]
    fn ip_subnets_are_address_then_mask() {
        let v4 = GeneralNameSpec::IpSubnet("10.1.0.0".parse().unwrap(), 12);
        let GeneralName::IpAddress(o) = v4.to_general_name().unwrap() else {
            panic!()
        };
        assert_eq!(o.as_bytes(), [10, 1, 0, 0, 255, 240, 0, 0]);
        let v6 = GeneralNameSpec::IpSubnet("2001:db8::".parse().unwrap(), 32);
        let GeneralName::IpAddress(o) = v6.to_general_name().unwrap() else {
            panic!()
        };
        assert_eq!(
            &o.as_bytes()[16..],
            [255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(GeneralNameSpec::IpSubnet("10.0.0.0".parse().unwrap(), 33)
            .to_general_name()
            .is_err());
        assert!(GeneralNameSpec::dns("é.example").to_general_name().is_err());
    }

    #[cfg(feature = "test-ca")]
    mod with_keys {
        use super::*;
        use crate::testing::{utc, KeyAlgorithm, SoftwareKey};
        use x509_cert::ext::pkix::crl::dp::Reasons;
        use x509_cert::ext::pkix::{BasicConstraints, NameConstraints};

        fn find(exts: &[Extension], id: ObjectIdentifier) -> &Extension {
            exts.iter()
                .find(|x| x.extn_id == id)
                .unwrap_or_else(|| panic!("{id} missing"))
        }

        #[test]
        fn certificate_carries_every_typed_extension() {
            let ca = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let subject = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let mut tpl = CertificateTemplate::new(
                parse_name("CN=Sub,O=Example,C=MA").unwrap(),
                subject.spki().clone(),
            );
            tpl.issuer = parse_name("CN=Root,O=Example,C=MA").unwrap();
            tpl.serial = serial_from_u64(4242);
            tpl.not_before = utc(2020, 1, 1);
            tpl.not_after = utc(2055, 1, 1);
            tpl.basic_constraints = Some(BasicConstraintsSpec::ca(Some(0)));
            tpl.key_usage = Some(KeyUsageSpec::new(
                KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            ));
            tpl.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
            tpl.subject_alt_names = vec![
                GeneralNameSpec::dns("sub.example.ma"),
                GeneralNameSpec::Ip("192.0.2.1".parse().unwrap()),
                GeneralNameSpec::email("pki@example.ma"),
                GeneralNameSpec::uri("https://example.ma/"),
                GeneralNameSpec::Directory(parse_name("CN=Alt").unwrap()),
            ];
            tpl.name_constraints = Some(NameConstraintsSpec {
                permitted: vec![
                    GeneralNameSpec::dns("example.ma"),
                    GeneralNameSpec::IpSubnet("10.0.0.0".parse().unwrap(), 8),
                ],
                excluded: vec![GeneralNameSpec::dns("bad.example.ma")],
            });
            let policy = ObjectIdentifier::new_unwrap("2.16.504.1.1.1");
            let mapped = ObjectIdentifier::new_unwrap("2.16.504.1.1.2");
            tpl.certificate_policies = vec![policy];
            tpl.policy_mappings = vec![(policy, mapped)];
            tpl.policy_constraints = Some(PolicyConstraintsSpec {
                require_explicit_policy: Some(0),
                inhibit_policy_mapping: Some(1),
            });
            tpl.inhibit_any_policy = Some(0);
            tpl.crl_distribution_points = vec![
                DistributionPointSpec::uri("http://crl.example.ma/sub.crl"),
                DistributionPointSpec {
                    full_name: vec![GeneralNameSpec::uri("http://crl.example.ma/indirect.crl")],
                    reasons: Some(Reasons::KeyCompromise | Reasons::CaCompromise),
                    crl_issuer: vec![GeneralNameSpec::Directory(
                        parse_name("CN=CRL Issuer").unwrap(),
                    )],
                },
            ];
            tpl.ocsp_urls = vec!["http://ocsp.example.ma".into()];
            tpl.ca_issuers_urls = vec!["http://ca.example.ma/root.cer".into()];
            tpl.ocsp_no_check = true;
            let unknown = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");
            tpl.extra_extensions = vec![RawExtension {
                oid: unknown,
                critical: true,
                value: vec![0x05, 0x00],
            }];
            tpl.critical_overrides = vec![(oid::CE_EXT_KEY_USAGE, true)];

            let der = build_certificate(&tpl, &ca).unwrap();
            let cert = Certificate::from_der(&der).unwrap();
            let tbs = &cert.tbs_certificate;
            assert_eq!(tbs.version, Version::V3);
            assert_eq!(tbs.serial_number.as_bytes(), serial_from_u64(4242));
            assert_eq!(tbs.signature, ca.algorithm());
            assert_eq!(cert.signature_algorithm, ca.algorithm());
            assert!(matches!(tbs.validity.not_before, Time::UtcTime(_)));
            assert!(matches!(tbs.validity.not_after, Time::GeneralTime(_)));
            assert_eq!(tbs.issuer.to_string(), "CN=Root,O=Example,C=MA");
            let exts = tbs.extensions.as_deref().unwrap();
            assert_eq!(exts.len(), 15);

            let bc = find(exts, oid::CE_BASIC_CONSTRAINTS);
            assert!(bc.critical);
            let bc = BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap();
            assert_eq!((bc.ca, bc.path_len_constraint), (true, Some(0)));
            assert!(find(exts, oid::CE_KEY_USAGE).critical);
            assert!(
                find(exts, oid::CE_EXT_KEY_USAGE).critical,
                "override applied"
            );
            assert!(!find(exts, oid::CE_SUBJECT_ALT_NAME).critical);
            let nc = find(exts, oid::CE_NAME_CONSTRAINTS);
            assert!(nc.critical);
            let nc = NameConstraints::from_der(nc.extn_value.as_bytes()).unwrap();
            assert_eq!(nc.permitted_subtrees.unwrap().len(), 2);
            assert_eq!(nc.excluded_subtrees.unwrap().len(), 1);
            assert!(find(exts, oid::CE_POLICY_MAPPINGS).critical);
            assert!(find(exts, oid::CE_POLICY_CONSTRAINTS).critical);
            assert!(find(exts, oid::CE_INHIBIT_ANY_POLICY).critical);
            assert!(!find(exts, oid::CE_CERTIFICATE_POLICIES).critical);
            assert_eq!(
                find(exts, oid::PKIX_OCSP_NOCHECK).extn_value.as_bytes(),
                [0x05, 0x00]
            );
            let raw = find(exts, unknown);
            assert!(raw.critical);

            // SKI is method 1 over the subject key, AKI method 1 over the signer's.
            let ski = pkix::SubjectKeyIdentifier::from_der(
                find(exts, oid::CE_SUBJECT_KEY_IDENTIFIER)
                    .extn_value
                    .as_bytes(),
            )
            .unwrap();
            assert_eq!(ski.0.as_bytes(), key_identifier(subject.spki()));
            let aki = pkix::AuthorityKeyIdentifier::from_der(
                find(exts, oid::CE_AUTHORITY_KEY_IDENTIFIER)
                    .extn_value
                    .as_bytes(),
            )
            .unwrap();
            assert_eq!(
                aki.key_identifier.unwrap().as_bytes(),
                key_identifier(ca.spki())
            );
            assert_eq!(key_identifier(ca.spki()).len(), 20);
        }

        #[test]
        fn san_is_critical_when_subject_is_empty() {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let mut tpl = CertificateTemplate::new(Name::default(), key.spki().clone());
            tpl.issuer = parse_name("CN=Root").unwrap();
            tpl.serial = random_serial().unwrap();
            tpl.subject_alt_names = vec![GeneralNameSpec::dns("a.example")];
            let cert = Certificate::from_der(&build_certificate(&tpl, &key).unwrap()).unwrap();
            let exts = cert.tbs_certificate.extensions.unwrap();
            assert!(find(&exts, oid::CE_SUBJECT_ALT_NAME).critical);
        }

        #[test]
        fn v1_certificate_has_no_version_field_and_no_extensions() {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let mut tpl =
                CertificateTemplate::new(parse_name("CN=Old").unwrap(), key.spki().clone());
            tpl.serial = serial_from_u64(1);
            tpl.version = Version::V1;
            tpl.clear_extensions();
            let der = build_certificate(&tpl, &key).unwrap();
            let cert = Certificate::from_der(&der).unwrap();
            assert_eq!(cert.tbs_certificate.version, Version::V1);
            assert!(cert.tbs_certificate.extensions.is_none());
            // TBS starts with the serial INTEGER, not [0] EXPLICIT version.
            let tbs = cert.tbs_certificate.to_der().unwrap();
            assert_eq!(tbs[..2], [0x30, 0x81]);
            assert_eq!(tbs[3], 0x02);

            // As written: a v1 certificate with extensions can be built too.
            tpl.basic_constraints = Some(BasicConstraintsSpec::ca(None));
            let cert = Certificate::from_der(&build_certificate(&tpl, &key).unwrap()).unwrap();
            assert_eq!(cert.tbs_certificate.extensions.unwrap().len(), 1);
        }

        #[test]
        fn bad_templates_are_reported_by_field() {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let mut tpl = CertificateTemplate::new(parse_name("CN=x").unwrap(), key.spki().clone());
            let err = build_certificate(&tpl, &key).unwrap_err();
            assert!(
                matches!(
                    err,
                    BuildError::InvalidTemplate {
                        field: "serial",
                        ..
                    }
                ),
                "{err}"
            );
            tpl.serial = vec![0, 1];
            assert!(matches!(
                build_certificate(&tpl, &key),
                Err(BuildError::InvalidTemplate {
                    field: "serial",
                    ..
                })
            ));
            tpl.serial = vec![1; 22];
            assert!(matches!(
                build_certificate(&tpl, &key),
                Err(BuildError::InvalidTemplate {
                    field: "serial",
                    ..
                })
            ));
            tpl.serial = vec![1];
            tpl.not_after = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
            assert!(matches!(
                build_certificate(&tpl, &key),
                Err(BuildError::InvalidTemplate {
                    field: "not_after",
                    ..
                })
            ));
            // Negative and zero serials can be written, for validator tests.
            tpl.not_after = utc(2030, 1, 1);
            tpl.serial = vec![0xff];
            let cert = Certificate::from_der(&build_certificate(&tpl, &key).unwrap()).unwrap();
            assert_eq!(cert.tbs_certificate.serial_number.as_bytes(), [0xff]);
        }

        #[test]
        fn crl_carries_entries_and_extensions() {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP384);
            let issuer = parse_name("CN=Sub,O=Example,C=MA").unwrap();
            let mut tpl = CrlTemplate::new(issuer.clone(), utc(2025, 1, 1), 7);
            tpl.delta_crl_indicator = Some(5);
            tpl.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                full_name: vec![GeneralNameSpec::uri("http://crl.example.ma/sub.crl")],
                only_contains_user_certs: true,
                only_some_reasons: Some(Reasons::KeyCompromise.into()),
                indirect_crl: true,
                ..Default::default()
            });
            let unknown = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.2");
            tpl.extra_extensions = vec![RawExtension {
                oid: unknown,
                critical: true,
                value: vec![0x05, 0x00],
            }];
            tpl.revoked
                .push(CrlEntry::new(serial_from_u64(1), utc(2024, 1, 1)));
            let mut full = CrlEntry::new(serial_from_u64(300), utc(2024, 2, 1))
                .with_reason(RevocationReason::KeyCompromise);
            full.invalidity_date = Some(utc(2023, 12, 1));
            full.certificate_issuer = vec![GeneralNameSpec::Directory(
                parse_name("CN=Other CA").unwrap(),
            )];
            full.extra_extensions = vec![RawExtension {
                oid: unknown,
                critical: false,
                value: vec![0x01, 0x01, 0xff],
            }];
            tpl.revoked.push(full);
            tpl.revoked.push(
                CrlEntry::new(serial_from_u64(2), utc(2024, 2, 1))
                    .with_reason(RevocationReason::RemoveFromCrl),
            );

            let der = build_crl(&tpl, &key).unwrap();
            let crl = CertificateList::from_der(&der).unwrap();
            assert_eq!(crl.to_der().unwrap(), der, "DER round trip");
            let t = &crl.tbs_cert_list;
            assert_eq!(t.version, Version::V2);
            assert_eq!(t.signature, key.algorithm());
            assert_eq!(crl.signature_algorithm, key.algorithm());
            assert_eq!(t.issuer, issuer);
            assert_eq!(t.next_update.unwrap().to_system_time(), utc(2025, 1, 8));
            let revoked = t.revoked_certificates.as_deref().unwrap();
            assert_eq!(revoked.len(), 3);
            assert_eq!(revoked[0].serial_number.as_bytes(), [1]);
            assert!(revoked[0].crl_entry_extensions.is_none());
            let e = revoked[1].crl_entry_extensions.as_deref().unwrap();
            assert_eq!(e.len(), 4);
            assert_eq!(
                find(e, oid::CE_CRL_REASON).extn_value.as_bytes(),
                [0x0a, 0x01, 1]
            );
            assert_eq!(
                find(e, oid::CE_INVALIDITY_DATE).extn_value.as_bytes(),
                b"\x18\x0f20231201000000Z"
            );
            assert!(find(e, oid::CE_CERTIFICATE_ISSUER).critical);
            let e = revoked[2].crl_entry_extensions.as_deref().unwrap();
            assert_eq!(
                find(e, oid::CE_CRL_REASON).extn_value.as_bytes(),
                [0x0a, 0x01, 8]
            );

            let exts = t.crl_extensions.as_deref().unwrap();
            assert_eq!(exts.len(), 5);
            let number =
                pkix::CrlNumber::from_der(find(exts, oid::CE_CRL_NUMBER).extn_value.as_bytes())
                    .unwrap();
            assert_eq!(number.0.as_bytes(), [7]);
            assert!(find(exts, oid::CE_DELTA_CRL_INDICATOR).critical);
            let idp = find(exts, oid::CE_ISSUING_DISTRIBUTION_POINT);
            assert!(idp.critical);
            let idp = pkix::IssuingDistributionPoint::from_der(idp.extn_value.as_bytes()).unwrap();
            assert!(
                idp.only_contains_user_certs && idp.indirect_crl && !idp.only_contains_ca_certs
            );
            assert!(find(exts, unknown).critical);
            let aki = pkix::AuthorityKeyIdentifier::from_der(
                find(exts, oid::CE_AUTHORITY_KEY_IDENTIFIER)
                    .extn_value
                    .as_bytes(),
            )
            .unwrap();
            assert_eq!(
                aki.key_identifier.unwrap().as_bytes(),
                key_identifier(key.spki())
            );
        }

        #[test]
        fn empty_crl_leaves_revoked_certificates_out() {
            let key = SoftwareKey::generate(KeyAlgorithm::Ed25519);
            let mut tpl = CrlTemplate::new(parse_name("CN=Root").unwrap(), utc(2025, 1, 1), 1);
            let crl = CertificateList::from_der(&build_crl(&tpl, &key).unwrap()).unwrap();
            assert!(crl.tbs_cert_list.revoked_certificates.is_none());

            tpl.version = Version::V1;
            tpl.next_update = None;
            tpl.crl_number = None;
            tpl.authority_key_id = AuthorityKeyId::Absent;
            // x509-cert 0.2.5 cannot decode a TBSCertList without version:
            // check the bytes (short-form lengths: an Ed25519 CRL this small
            // is under 128 bytes).
            let der = build_crl(&tpl, &key).unwrap();
            assert_eq!([der[0], der[2]], [0x30, 0x30]);
            assert_eq!(usize::from(der[1]), der.len() - 2);
            let tbs = &der[4..4 + usize::from(der[3])];
            let alg = key.algorithm().to_der().unwrap();
            let name = tpl.issuer.to_der().unwrap();
            let this_update = x509_time(tpl.this_update).unwrap().to_der().unwrap();
            // signature, issuer, thisUpdate and nothing else: no version, no
            // nextUpdate, no extensions.
            assert_eq!(tbs, [alg.clone(), name, this_update].concat());
            assert_eq!(der[4 + tbs.len()..][..alg.len()], alg);

            tpl.revoked.push(CrlEntry::new(vec![0, 5], utc(2024, 1, 1)));
            assert!(matches!(
                build_crl(&tpl, &key),
                Err(BuildError::InvalidTemplate {
                    field: "revoked.serial",
                    ..
                })
            ));
        }

        /// Run in release mode:
        /// `cargo test -p pki-core --features test-ca --release --lib builder::tests::with_keys::million_entry_crl -- --ignored --nocapture`
        #[test]
        #[ignore = "performance measurement; run in release mode"]
        fn million_entry_crl() {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
            let mut tpl = CrlTemplate::new(
                parse_name("CN=Big CA,O=Example,C=MA").unwrap(),
                utc(2025, 1, 1),
                1,
            );
            let start = std::time::Instant::now();
            tpl.revoked = (0..1_000_000u64)
                .map(|i| {
                    let mut serial = vec![0x40; 16];
                    serial[8..].copy_from_slice(&i.to_be_bytes());
                    let entry =
                        CrlEntry::new(serial, utc(2024, 1, 1) + Duration::from_secs(i % 86_400));
                    if i % 2 == 0 {
                        entry.with_reason(RevocationReason::KeyCompromise)
                    } else {
                        entry
                    }
                })
                .collect();
            let prepared = start.elapsed();
            let start = std::time::Instant::now();
            let der = build_crl(&tpl, &key).unwrap();
            let built = start.elapsed();
            println!(
                "1,000,000-entry CRL: {} bytes; template {prepared:?}, build+sign {built:?}",
                der.len()
            );
            let start = std::time::Instant::now();
            let crl = CertificateList::from_der(&der).unwrap();
            println!("x509-cert decode {:?}", start.elapsed());
            assert_eq!(
                crl.tbs_cert_list.revoked_certificates.unwrap().len(),
                1_000_000
            );
        }
    }
}
