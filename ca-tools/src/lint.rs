//! Checks on every certificate before it is signed and again after.
//!
//! Before signing, the exact TBSCertificate the signer will sign is wrapped
//! with an empty signature and decoded by pki-core's strict decoder
//! ([`pki_core::Cert::from_der`]), then checked against the rules of its
//! kind (RFC 5280 profile, CA/B-style hygiene, the national profiles).
//! The rules are the table [`RULES`]: one function each, named as its
//! findings are and citing the clause it enforces (RFC 5280, RFC 6960,
//! CA/B Baseline Requirements, ETSI EN 319 411-2 / 319 412).
//! After signing, the certificate is decoded again from its DER, its
//! signature verified under the issuer's key, and the same rules re-run.

use const_oid::ObjectIdentifier;
use der::asn1::BitString;
use der::Encode;
use pki_core::signature::{KeyKind, PublicKey};
use pki_core::{AlgorithmPolicy, Cert};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;
use x509_cert::TbsCertificate;

use crate::config::ProfileKind;
use crate::error::{CliError, Result};
use crate::finding::Finding;
use crate::profile::{
    self, QcInfo, CABF_DV, CABF_OV, CABF_RESERVED, QCP_ALL, QCT_ESEAL, QCT_ESIGN, QC_COUNTRY,
};

/// Longest validity of a delegated OCSP responder certificate: short, so
/// a compromised responder key expires soon (it is not revocable:
/// id-pkix-ocsp-nocheck).
pub const MAX_OCSP_SIGNER_DAYS: u32 = 90;
/// Fewest serial octets: CA/B BR 7.1 asks for 64 bits of CSPRNG output.
const MIN_SERIAL_OCTETS: usize = 8;

const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const AT_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const AT_LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const AT_STATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const AT_SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
const AT_GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");
const AT_PSEUDONYM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.65");
const AT_ORGANIZATION_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.97");

/// What a certificate is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    Root { path_len: Option<u8> },
    Intermediate { path_len: Option<u8> },
    OcspSigner,
    EndEntity { kind: ProfileKind, qualified: bool },
}

impl CertKind {
    fn is_ca(self) -> bool {
        matches!(self, Self::Root { .. } | Self::Intermediate { .. })
    }

    fn is_tls_server(self) -> bool {
        matches!(
            self,
            Self::EndEntity {
                kind: ProfileKind::TlsServer,
                ..
            }
        )
    }
}

/// What the checks compare against.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub kind: CertKind,
    /// The issuing CA's certificate; `None` for a self-signed root.
    pub issuer: Option<&'a Cert>,
    /// The certificatePolicies the certificate must carry, exactly.
    pub policies: &'a [ObjectIdentifier],
}

/// A stand-in P-256 public key (the curve's generator point) for linting a
/// certificate before its real key exists (ceremonies, HSM-generated
/// subject keys), so a refused certificate leaves no key behind.
pub fn stand_in_key() -> SubjectPublicKeyInfoOwned {
    const G: [u8; 65] = [
        0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4,
        0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8,
        0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a,
        0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40,
        0x68, 0x37, 0xbf, 0x51, 0xf5,
    ];
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: pki_core::oid::ID_EC_PUBLIC_KEY,
            parameters: Some((&pki_core::oid::SECP256R1).into()),
        },
        // 65 bytes always fit a BIT STRING.
        subject_public_key: BitString::from_bytes(&G).expect("fixed-size BIT STRING"),
    }
}

/// Lints the TBSCertificate as it will be signed; `what` names it in the
/// error.
pub fn before_signing(tbs: &TbsCertificate, expect: &Expect<'_>, what: &str) -> Result<()> {
    let unsigned = x509_cert::Certificate {
        tbs_certificate: tbs.clone(),
        signature_algorithm: tbs.signature.clone(),
        signature: BitString::from_bytes(&[])?,
    };
    let findings = match Cert::from_der(&unsigned.to_der()?) {
        Ok(cert) => lint(&cert, expect),
        Err(e) => vec![Finding {
            rule: "decode",
            cite: DER_CITE,
            message: e.to_string(),
        }],
    };
    fail_on(findings, what, "before")
}

/// Decodes the signed certificate strictly, verifies its signature under
/// the issuer's key (its own for a root) and lints it again.
pub fn after_signing(der: &[u8], expect: &Expect<'_>, what: &str) -> Result<Cert> {
    let post = |source| CliError::PostSignCheck {
        what: what.to_owned(),
        source,
    };
    let cert = Cert::from_der(der).map_err(post)?;
    let issuer = expect.issuer.unwrap_or(&cert);
    cert.verify_signed_by(issuer, AlgorithmPolicy::Default)
        .map_err(post)?;
    fail_on(lint(&cert, expect), what, "after")?;
    Ok(cert)
}

fn fail_on(findings: Vec<Finding>, what: &str, stage: &'static str) -> Result<()> {
    if findings.is_empty() {
        Ok(())
    } else {
        Err(CliError::Lint {
            what: what.to_owned(),
            stage,
            findings,
        })
    }
}

/// How undecodable input is cited: RFC 5280 4.1 asks for DER (X.690).
const DER_CITE: &str = "RFC 5280 4.1, X.690 DER";

/// What the rules look at: the decoded certificate, its TBSCertificate
/// and what it is meant to be.
struct Candidate<'a> {
    cert: &'a Cert,
    tbs: &'a TbsCertificate,
    expect: &'a Expect<'a>,
}

impl Candidate<'_> {
    fn kind(&self) -> CertKind {
        self.expect.kind
    }

    fn policies(&self) -> Vec<ObjectIdentifier> {
        self.cert
            .extensions()
            .certificate_policies
            .as_ref()
            .map(|p| p.value.0.iter().map(|i| i.policy_identifier).collect())
            .unwrap_or_default()
    }
}

/// One rule: the name its findings carry, the clause it enforces, and the
/// check, which adds one message per problem.
#[derive(Debug)]
pub struct Rule {
    pub name: &'static str,
    pub cite: &'static str,
    check: fn(&Candidate<'_>, &mut Vec<String>),
}

/// The rules, in the order of the certificate's fields. A name may cover
/// several clauses about one field (`validity`).
pub const RULES: &[Rule] = &[
    Rule {
        name: "version",
        cite: "RFC 5280 4.1.2.1",
        check: version,
    },
    Rule {
        name: "serial",
        cite: "RFC 5280 4.1.2.2; CA/B BR 7.1",
        check: serial,
    },
    Rule {
        name: "issuer-name",
        cite: "RFC 5280 4.1.2.4",
        check: issuer_name,
    },
    Rule {
        name: "validity",
        cite: "RFC 5280 4.1.2.5",
        check: validity,
    },
    Rule {
        name: "validity",
        cite: "RFC 6960 4.2.2.2.1",
        check: ocsp_signer_validity,
    },
    Rule {
        name: "cabf-validity",
        cite: "CA/B BR 6.3.2",
        check: cabf_validity,
    },
    Rule {
        name: "subject",
        cite: "RFC 5280 4.1.2.6",
        check: subject,
    },
    Rule {
        name: "cabf-subject",
        cite: "CA/B BR 7.1.2.7.2, 7.1.2.7.4",
        check: cabf_subject,
    },
    Rule {
        name: "etsi-subject",
        cite: "ETSI EN 319 412-2 4.2.4, EN 319 412-3 4.2.1",
        check: etsi_subject,
    },
    Rule {
        name: "key",
        cite: "RFC 5280 4.1.2.7; CA/B BR 6.1.5",
        check: key,
    },
    Rule {
        name: "basic-constraints",
        cite: "RFC 5280 4.2.1.9",
        check: basic_constraints,
    },
    Rule {
        name: "key-usage",
        cite: "RFC 5280 4.2.1.3",
        check: key_usage,
    },
    Rule {
        name: "eku",
        cite: "RFC 5280 4.2.1.12; RFC 6960 4.2.2.2",
        check: eku,
    },
    Rule {
        name: "ocsp-nocheck",
        cite: "RFC 6960 4.2.2.2.1",
        check: ocsp_nocheck,
    },
    Rule {
        name: "ski",
        cite: "RFC 5280 4.2.1.2",
        check: ski,
    },
    Rule {
        name: "aki",
        cite: "RFC 5280 4.2.1.1",
        check: aki,
    },
    Rule {
        name: "san",
        cite: "RFC 5280 4.2.1.6; CA/B BR 7.1.2.7.12",
        check: san,
    },
    Rule {
        name: "name-constraints",
        cite: "RFC 5280 4.2.1.10",
        check: name_constraints,
    },
    Rule {
        name: "policies",
        cite: "RFC 5280 4.2.1.4",
        check: policies,
    },
    Rule {
        name: "cabf-policy",
        cite: "CA/B BR 7.1.2.7.9, 7.1.6.1",
        check: cabf_policy,
    },
    Rule {
        name: "etsi-policy",
        cite: "ETSI EN 319 412-2 5.2, EN 319 411-2 5.3",
        check: etsi_policy,
    },
    Rule {
        name: "revocation-pointer",
        cite: "RFC 5280 4.2.1.13, 4.2.2.1",
        check: revocation_pointer,
    },
    Rule {
        name: "qc-statements",
        cite: "ETSI EN 319 412-5 4.2",
        check: qc_statements,
    },
    Rule {
        name: "extensions",
        cite: "RFC 5280 4.2",
        check: extensions,
    },
];

/// Every rule for `expect.kind`; an empty list means the certificate passes.
pub fn lint(cert: &Cert, expect: &Expect<'_>) -> Vec<Finding> {
    let x509 = match cert.x509() {
        Ok(x) => x,
        Err(e) => {
            return vec![Finding {
                rule: "der",
                cite: DER_CITE,
                message: e.to_string(),
            }]
        }
    };
    let candidate = Candidate {
        cert,
        tbs: &x509.tbs_certificate,
        expect,
    };
    let mut out = Vec::new();
    for rule in RULES {
        let mut messages = Vec::new();
        (rule.check)(&candidate, &mut messages);
        out.extend(messages.into_iter().map(|message| Finding {
            rule: rule.name,
            cite: rule.cite,
            message,
        }));
    }
    out
}

/// Only v3 carries extensions.
fn version(c: &Candidate<'_>, out: &mut Vec<String>) {
    if c.cert.version() != 3 {
        out.push(format!("version {} (expected 3)", c.cert.version()));
    }
}

/// Positive, at most 20 octets, and at least 64 bits of CSPRNG output.
fn serial(c: &Candidate<'_>, out: &mut Vec<String>) {
    if let Some(problem) = c.cert.serial_problem() {
        out.push(problem.to_string());
    } else if c.cert.serial().len() < MIN_SERIAL_OCTETS {
        out.push(format!(
            "{} octets; at least {MIN_SERIAL_OCTETS} random octets required",
            c.cert.serial().len()
        ));
    }
}

/// The issuer field is the issuing CA's subject (its own for a root).
fn issuer_name(c: &Candidate<'_>, out: &mut Vec<String>) {
    let issuer_subject = c.expect.issuer.map_or(c.cert.subject(), Cert::subject);
    if !pki_core::name::names_equal(c.cert.issuer(), issuer_subject) {
        out.push(format!(
            "issuer {} is not the issuing CA's subject {}",
            c.cert.issuer(),
            issuer_subject
        ));
    }
}

/// notBefore precedes notAfter, and both lie within the issuer's validity.
fn validity(c: &Candidate<'_>, out: &mut Vec<String>) {
    let cert = c.cert;
    if cert.not_before() >= cert.not_after() {
        out.push("notBefore is not before notAfter".into());
    }
    if let Some(issuer) = c.expect.issuer {
        if cert.not_before() < issuer.not_before() || cert.not_after() > issuer.not_after() {
            out.push(format!(
                "validity {}..{} is not within the issuer's {}..{}",
                cert.not_before(),
                cert.not_after(),
                issuer.not_before(),
                issuer.not_after()
            ));
        }
    }
}

/// A delegated responder certificate with id-pkix-ocsp-nocheck cannot be
/// revoked, so it is short-lived ("a very short lifetime").
fn ocsp_signer_validity(c: &Candidate<'_>, out: &mut Vec<String>) {
    if c.kind() != CertKind::OcspSigner {
        return;
    }
    let days = (c.cert.not_after().0.saturating_sub(c.cert.not_before().0)) / 86_400;
    if days > i64::from(MAX_OCSP_SIGNER_DAYS) {
        out.push(format!(
            "OCSP signer valid for {days} days, at most {MAX_OCSP_SIGNER_DAYS}"
        ));
    }
}

/// A TLS subscriber certificate is valid at most 200 days from 2026-03-15,
/// 100 from 2027-03-15, 47 from 2029-03-15 (by its notBefore), counting
/// notBefore through notAfter inclusive (BR 1.6.1 "Validity Period").
fn cabf_validity(c: &Candidate<'_>, out: &mut Vec<String>) {
    if !c.kind().is_tls_server() {
        return;
    }
    let not_before = c.cert.not_before().0;
    let period = c
        .cert
        .not_after()
        .0
        .saturating_sub(not_before)
        .saturating_add(1);
    let max = profile::tls_max_validity_days(not_before);
    if period > i64::from(max) * 86_400 {
        out.push(format!(
            "TLS server certificate valid for {} days and {} s (notBefore through notAfter \
             inclusive); at most {max} days for a notBefore of {}",
            period / 86_400,
            period % 86_400,
            c.cert.not_before()
        ));
    }
}

fn has_attribute(name: &Name, oid: ObjectIdentifier) -> bool {
    count_attribute(name, oid) > 0
}

fn count_attribute(name: &Name, oid: ObjectIdentifier) -> usize {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .count()
}

/// The attributes each kind names its subject by; only a TLS server
/// certificate may have an empty subject (its names are in the SAN).
fn subject(c: &Candidate<'_>, out: &mut Vec<String>) {
    let kind = c.kind();
    let subject = &c.tbs.subject;
    let needs: &[(ObjectIdentifier, &str)] = match kind {
        CertKind::Root { .. } | CertKind::Intermediate { .. } | CertKind::OcspSigner => &[
            (pki_core::oid::AT_COMMON_NAME, "CN"),
            (AT_ORGANIZATION, "O"),
            (AT_COUNTRY, "C"),
        ],
        CertKind::EndEntity {
            kind: ProfileKind::CitizenAuthentication | ProfileKind::CitizenSignature,
            ..
        } => &[(pki_core::oid::AT_COMMON_NAME, "CN"), (AT_COUNTRY, "C")],
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            ..
        } => &[(AT_ORGANIZATION, "O"), (AT_COUNTRY, "C")],
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        } => &[],
    };
    for (oid, label) in needs {
        if !has_attribute(subject, *oid) {
            out.push(format!("subject {subject} has no {label}"));
        }
    }
    if subject.0.is_empty() && !kind.is_tls_server() {
        out.push("empty subject".into());
    }
}

/// The subject of a TLS server certificate under its validation type: DV
/// (no organizationName) names at most countryName and commonName (BR
/// 7.1.2.7.2); OV names organizationName, countryName, and localityName
/// or stateOrProvinceName, and no person or organizationalUnitName (BR
/// 7.1.2.7.4). Individual validation is not offered.
fn cabf_subject(c: &Candidate<'_>, out: &mut Vec<String>) {
    if !c.kind().is_tls_server() {
        return;
    }
    let subject = &c.tbs.subject;
    if has_attribute(subject, AT_ORGANIZATION) {
        if !has_attribute(subject, AT_COUNTRY) {
            out.push(format!("OV subject {subject} has no C"));
        }
        if !has_attribute(subject, AT_LOCALITY) && !has_attribute(subject, AT_STATE) {
            out.push(format!("OV subject {subject} has neither L nor ST"));
        }
        for (oid, label) in [
            (AT_ORGANIZATIONAL_UNIT, "OU"),
            (AT_GIVEN_NAME, "GN"),
            (AT_SURNAME, "SN"),
        ] {
            if has_attribute(subject, oid) {
                out.push(format!("OV subject {subject} names {label}"));
            }
        }
    } else {
        let other = subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .any(|atv| atv.oid != AT_COUNTRY && atv.oid != pki_core::oid::AT_COMMON_NAME);
        if other {
            out.push(format!(
                "DV subject {subject} names more than C and CN (an organisation needs O, L or ST and C)"
            ));
        }
    }
}

/// The subject of a qualified certificate: a natural person has C, CN and
/// givenName and/or surname or else a pseudonym (NAT-4.2.4-1, -4), one CN
/// and one C (NAT-4.2.4-3); a legal person has C, O, organizationIdentifier
/// and CN, once each (LEG-4.2.1-2, -3).
fn etsi_subject(c: &Candidate<'_>, out: &mut Vec<String>) {
    let subject = &c.tbs.subject;
    let required: &[(ObjectIdentifier, &str)] = match c.kind() {
        CertKind::EndEntity {
            kind: ProfileKind::CitizenSignature,
            ..
        } => {
            let names = has_attribute(subject, AT_GIVEN_NAME) || has_attribute(subject, AT_SURNAME);
            let pseudonym = has_attribute(subject, AT_PSEUDONYM);
            if !names && !pseudonym {
                out.push(format!(
                    "natural person {subject} has neither givenName/surname nor pseudonym"
                ));
            }
            if pseudonym
                && has_attribute(subject, AT_GIVEN_NAME)
                && has_attribute(subject, AT_SURNAME)
            {
                out.push(format!(
                    "natural person {subject} has a pseudonym beside givenName and surname"
                ));
            }
            &[(pki_core::oid::AT_COMMON_NAME, "CN"), (AT_COUNTRY, "C")]
        }
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            qualified: true,
        } => &[
            (AT_COUNTRY, "C"),
            (AT_ORGANIZATION, "O"),
            (AT_ORGANIZATION_IDENTIFIER, "organizationIdentifier"),
            (pki_core::oid::AT_COMMON_NAME, "CN"),
        ],
        _ => return,
    };
    for (oid, label) in required {
        match count_attribute(subject, *oid) {
            0 => out.push(format!("qualified subject {subject} has no {label}")),
            1 => {}
            n => out.push(format!("qualified subject {subject} has {n} {label}")),
        }
    }
}

/// An allowed algorithm and size: RSA of 3072 bits for CAs and responders,
/// 2048 for end entities.
fn key(c: &Candidate<'_>, out: &mut Vec<String>) {
    let kind = c.kind();
    match PublicKey::from_spki(&c.tbs.subject_public_key_info) {
        Err(e) => out.push(e.to_string()),
        Ok(key) => {
            if let Err(e) = key.check_policy(AlgorithmPolicy::Default) {
                out.push(e.to_string());
            }
            let min_rsa = if kind.is_ca() || kind == CertKind::OcspSigner {
                3072
            } else {
                2048
            };
            if let KeyKind::Rsa { bits } = key.kind {
                if bits < min_rsa {
                    out.push(format!("RSA-{bits} key; at least RSA-{min_rsa} here"));
                }
            }
        }
    }
}

/// CAs: critical, cA TRUE, the configured pathLenConstraint; others do not
/// assert cA.
fn basic_constraints(c: &Candidate<'_>, out: &mut Vec<String>) {
    match (&c.cert.extensions().basic_constraints, c.kind()) {
        (Some(bc), CertKind::Root { path_len } | CertKind::Intermediate { path_len }) => {
            if !bc.critical || !bc.value.ca {
                out.push("CA certificate needs critical cA TRUE".into());
            }
            if bc.value.path_len_constraint != path_len {
                out.push(format!(
                    "pathLenConstraint {:?}, configured {path_len:?}",
                    bc.value.path_len_constraint
                ));
            }
        }
        (None, CertKind::Root { .. } | CertKind::Intermediate { .. }) => {
            out.push("CA certificate without basicConstraints".into());
        }
        (Some(bc), _) if bc.value.ca => out.push("end-entity certificate asserts cA".into()),
        _ => {}
    }
}

/// Present, critical, and exactly the usages of the kind.
fn key_usage(c: &Candidate<'_>, out: &mut Vec<String>) {
    let ku = c.cert.extensions().key_usage.as_ref();
    match ku {
        None => out.push("keyUsage missing".into()),
        Some(k) if !k.critical => out.push("keyUsage must be critical".into()),
        Some(_) => {}
    }
    let usages = ku.map(|k| k.value.0).unwrap_or_default();
    let (required, allowed): (
        der::flagset::FlagSet<KeyUsages>,
        der::flagset::FlagSet<KeyUsages>,
    ) = match c.kind() {
        CertKind::Root { .. } | CertKind::Intermediate { .. } => (
            KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature,
        ),
        CertKind::OcspSigner
        | CertKind::EndEntity {
            kind: ProfileKind::CitizenAuthentication,
            ..
        } => (
            KeyUsages::DigitalSignature.into(),
            KeyUsages::DigitalSignature.into(),
        ),
        CertKind::EndEntity {
            kind: ProfileKind::CitizenSignature,
            ..
        } => (
            KeyUsages::NonRepudiation.into(),
            KeyUsages::NonRepudiation.into(),
        ),
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            ..
        } => (
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        ),
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        } => (
            KeyUsages::DigitalSignature.into(),
            KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment,
        ),
    };
    if ku.is_some() && (!usages.contains(required) || !allowed.contains(usages)) {
        out.push(format!(
            "keyUsage {usages:?}; required {required:?}, allowed {allowed:?}"
        ));
    }
}

/// Exactly the purpose of the kind; never anyExtendedKeyUsage; serverAuth
/// only in the TLS server profile.
fn eku(c: &Candidate<'_>, out: &mut Vec<String>) {
    let kind = c.kind();
    let eku: &[ObjectIdentifier] = c
        .cert
        .extensions()
        .ext_key_usage
        .as_ref()
        .map_or(&[], |e| &e.value);
    if eku.contains(&pki_core::oid::KP_ANY) {
        out.push("anyExtendedKeyUsage is not issued".into());
    }
    let wanted = match kind {
        CertKind::OcspSigner => Some((pki_core::oid::KP_OCSP_SIGNING, "id-kp-OCSPSigning")),
        CertKind::EndEntity {
            kind: ProfileKind::CitizenAuthentication,
            ..
        } => Some((pki_core::oid::KP_CLIENT_AUTH, "id-kp-clientAuth")),
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        } => Some((pki_core::oid::KP_SERVER_AUTH, "id-kp-serverAuth")),
        _ => None,
    };
    match wanted {
        Some((oid, name)) if eku != [oid] => {
            out.push(format!("extendedKeyUsage {eku:?}; expected exactly {name}"));
        }
        None if !kind.is_ca() && eku.contains(&pki_core::oid::KP_SERVER_AUTH) => {
            out.push("serverAuth outside the TLS server profile".into());
        }
        _ => {}
    }
}

/// id-pkix-ocsp-nocheck in, and only in, an OCSP signer certificate.
fn ocsp_nocheck(c: &Candidate<'_>, out: &mut Vec<String>) {
    let nocheck = c.cert.extensions().ocsp_no_check;
    if nocheck != (c.kind() == CertKind::OcspSigner) {
        out.push(if nocheck {
            "id-pkix-ocsp-nocheck outside an OCSP signer certificate".into()
        } else {
            "OCSP signer certificate without id-pkix-ocsp-nocheck".into()
        });
    }
}

/// Present; a CA's is the SHA-1 identifier of its key (method 1), which
/// its children's authorityKeyIdentifier repeats.
fn ski(c: &Candidate<'_>, out: &mut Vec<String>) {
    let ext = c.cert.extensions();
    let own_id = pki_core::builder::key_identifier(&c.tbs.subject_public_key_info);
    if ext.subject_key_id.is_none() {
        out.push("subjectKeyIdentifier missing".into());
    }
    if c.kind().is_ca() && ext.subject_key_id.as_deref().is_some_and(|id| id != own_id) {
        out.push("subjectKeyIdentifier is not the key's SHA-1 identifier".into());
    }
}

/// The keyIdentifier is the issuer's subjectKeyIdentifier.
fn aki(c: &Candidate<'_>, out: &mut Vec<String>) {
    let Some(issuer) = c.expect.issuer else {
        return;
    };
    let issuer_id = issuer
        .extensions()
        .subject_key_id
        .clone()
        .or_else(|| {
            let x = issuer.x509().ok()?;
            Some(pki_core::builder::key_identifier(
                &x.tbs_certificate.subject_public_key_info,
            ))
        })
        .unwrap_or_default();
    let aki = c
        .cert
        .extensions()
        .authority_key_id
        .as_ref()
        .and_then(|a| a.key_identifier.as_ref());
    if aki.map(der::asn1::OctetString::as_bytes) != Some(issuer_id.as_slice()) {
        out.push("authorityKeyIdentifier is not the issuer's subjectKeyIdentifier".into());
    }
}

/// Each entry well formed and of a form the kind may carry; a TLS server
/// certificate names at least one dNSName.
fn san(c: &Candidate<'_>, out: &mut Vec<String>) {
    let kind = c.kind();
    let san = c.cert.extensions().subject_alt_name.as_ref();
    for name in san.iter().flat_map(|s| s.value.0.iter()) {
        if let Err(reason) = san_entry(name, kind) {
            out.push(reason);
        }
    }
    if kind.is_tls_server()
        && !san.is_some_and(|s| {
            s.value
                .0
                .iter()
                .any(|n| matches!(n, GeneralName::DnsName(_)))
        })
    {
        out.push("TLS server certificate needs at least one dNSName".into());
    }
}

/// The issuer's constraints bind the subject and SAN of everything it
/// signs (a certificate outside them would only fail validation later);
/// only CAs carry nameConstraints.
fn name_constraints(c: &Candidate<'_>, out: &mut Vec<String>) {
    let kind = c.kind();
    let ext = c.cert.extensions();
    if let Some(nc) = c
        .expect
        .issuer
        .and_then(|i| i.extensions().name_constraints.as_ref())
    {
        let san = ext.subject_alt_name.as_ref().map(|s| &s.value);
        if let Err(v) =
            pki_core::name::check_name_constraints(&nc.value, c.cert.subject(), san, !kind.is_ca())
        {
            out.push(format!("outside the issuer's name constraints: {v}"));
        }
    }
    if ext.name_constraints.is_some() && !kind.is_ca() {
        out.push("nameConstraints outside a CA certificate".into());
    }
}

/// Exactly the configured policies; no anyPolicy in an end entity.
fn policies(c: &Candidate<'_>, out: &mut Vec<String>) {
    let mut policies = c.policies();
    let mut wanted = c.expect.policies.to_vec();
    policies.sort();
    wanted.sort();
    if policies != wanted {
        out.push(format!(
            "certificatePolicies {policies:?}, configured {wanted:?}"
        ));
    }
    if !c.kind().is_ca() && policies.contains(&pki_core::oid::ANY_POLICY) {
        out.push("anyPolicy in an end-entity certificate".into());
    }
}

/// A TLS server certificate carries exactly one CA/B reserved policy
/// identifier, the one of its validation type: OV when the subject names
/// an organizationName, DV otherwise. Other end entities carry none.
fn cabf_policy(c: &Candidate<'_>, out: &mut Vec<String>) {
    let reserved: Vec<ObjectIdentifier> = c
        .policies()
        .into_iter()
        .filter(|p| CABF_RESERVED.contains(p))
        .collect();
    let kind = c.kind();
    if !kind.is_tls_server() {
        if matches!(kind, CertKind::EndEntity { .. }) && !reserved.is_empty() {
            out.push(format!(
                "CA/B reserved policy identifier {reserved:?} outside the TLS server profile"
            ));
        }
        return;
    }
    let (wanted, label) = if has_attribute(&c.tbs.subject, AT_ORGANIZATION) {
        (
            CABF_OV,
            "OV 2.23.140.1.2.2: the subject names an organization",
        )
    } else {
        (
            CABF_DV,
            "DV 2.23.140.1.2.1: the subject names no organization",
        )
    };
    if reserved != [wanted] {
        out.push(format!(
            "CA/B reserved policy identifiers {reserved:?}; expected exactly {label}"
        ));
    }
}

/// A qualified certificate carries exactly one EN 319 411-2 certificate-
/// type policy identifier, the one its QCStatements say (QCS-5.2-1, -2):
/// QCP-n-qscd for a citizen's signature, QCP-l for a seal without QcSSCD,
/// QCP-l-qscd with it. A certificate that is not qualified carries none.
fn etsi_policy(c: &Candidate<'_>, out: &mut Vec<String>) {
    let types: Vec<ObjectIdentifier> = c
        .policies()
        .into_iter()
        .filter(|p| QCP_ALL.contains(p))
        .collect();
    let qualified = match c.kind() {
        CertKind::EndEntity {
            kind: ProfileKind::CitizenSignature,
            ..
        } => true,
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            qualified,
        } => qualified,
        CertKind::EndEntity { .. } => false,
        // CAs may carry the types of what they issue.
        _ => return,
    };
    if !qualified {
        if !types.is_empty() {
            out.push(format!(
                "qualified certificate policy {types:?} in a profile that is not qualified"
            ));
        }
        return;
    }
    let wanted = qc_statements_of(c.tbs)
        .and_then(Result::ok)
        .and_then(|info| match info.types.as_slice() {
            [qc_type] => profile::qualified_policy(*qc_type, info.sscd),
            _ => None,
        });
    match wanted {
        // Without a QcType the qc-statements rule says what is wrong; the
        // policy is still required.
        None => {
            if types.is_empty() {
                out.push(
                    "qualified certificate without an EN 319 411-2 certificate-type policy".into(),
                );
            }
        }
        Some(wanted) => {
            if types != [wanted] {
                out.push(format!(
                    "EN 319 411-2 policy identifiers {types:?}; the QCStatements call for exactly {wanted}"
                ));
            }
        }
    }
}

/// End entities point to their revocation status; every pointer is an
/// http:// or ldap:// URI.
fn revocation_pointer(c: &Candidate<'_>, out: &mut Vec<String>) {
    let ext = c.cert.extensions();
    let uris = ext
        .crl_distribution_points
        .iter()
        .flat_map(|c| c.0.iter())
        .filter_map(|dp| match &dp.distribution_point {
            Some(x509_cert::ext::pkix::name::DistributionPointName::FullName(names)) => {
                Some(names.iter())
            }
            _ => None,
        })
        .flatten()
        .chain(
            ext.authority_info_access
                .iter()
                .flat_map(|a| a.0.iter().map(|d| &d.access_location)),
        );
    let mut pointers = 0;
    for uri in uris {
        pointers += 1;
        match uri {
            GeneralName::UniformResourceIdentifier(u)
                if u.as_str().starts_with("http://") || u.as_str().starts_with("ldap://") => {}
            other => out.push(format!("{other:?} is not an http:// or ldap:// URI")),
        }
    }
    if matches!(c.kind(), CertKind::EndEntity { .. }) && pointers == 0 {
        out.push("end-entity certificate without CRL distribution point or AIA".into());
    }
}

/// The QCStatements extension decoded, if present.
fn qc_statements_of(tbs: &TbsCertificate) -> Option<der::Result<QcInfo>> {
    tbs.extensions
        .iter()
        .flatten()
        .find(|x| x.extn_id == pki_core::oid::PE_QC_STATEMENTS)
        .map(|x| QcInfo::from_der(x.extn_value.as_bytes()))
}

/// Qualified profiles claim QcCompliance, QcType, QcSSCD for signatures,
/// and Moroccan legislation (QcCClegislation MA, 4.2.4); others claim no
/// QcCompliance.
fn qc_statements(c: &Candidate<'_>, out: &mut Vec<String>) {
    let info = match qc_statements_of(c.tbs) {
        None => None,
        Some(Ok(info)) => Some(info),
        Some(Err(e)) => {
            out.push(format!("malformed QCStatements: {e}"));
            return;
        }
    };
    let wanted = match c.kind() {
        CertKind::EndEntity {
            kind: ProfileKind::CitizenSignature,
            ..
        } => Some((QCT_ESIGN, true)),
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            qualified: true,
        } => Some((QCT_ESEAL, false)),
        _ => None,
    };
    match (wanted, info) {
        (None, Some(info)) if info.compliance => {
            out.push("QcCompliance in a profile that is not qualified".into());
        }
        (Some(_), None) => out.push("qualified profile without QCStatements".into()),
        (Some((qc_type, sscd)), Some(info)) => {
            if !info.compliance {
                out.push("QcCompliance missing".into());
            }
            if sscd && !info.sscd {
                out.push("QcSSCD missing".into());
            }
            if info.types != [qc_type] {
                out.push(format!("QcType {:?}, expected [{qc_type}]", info.types));
            }
            if info.legislation != [QC_COUNTRY] {
                out.push(format!(
                    "QcCClegislation {:?}: qualified under Law 43-20 needs exactly [\"{QC_COUNTRY}\"]",
                    info.legislation
                ));
            }
        }
        _ => {}
    }
}

/// No critical extension this code does not know.
fn extensions(c: &Candidate<'_>, out: &mut Vec<String>) {
    if let Some(oid) = c.cert.extensions().unknown_critical.first() {
        out.push(format!("unknown critical extension {oid}"));
    }
}

/// RFC 5280 4.2.1.6 syntax of one subjectAltName entry, and which forms a
/// profile may carry.
fn san_entry(name: &GeneralName, kind: CertKind) -> Result<(), String> {
    let tls = kind.is_tls_server();
    match name {
        GeneralName::DnsName(d) => {
            if !tls {
                return Err(format!(
                    "dNSName {} outside the TLS server profile",
                    d.as_str()
                ));
            }
            dns_name(d.as_str()).map_err(|r| format!("dNSName {:?}: {r}", d.as_str()))
        }
        GeneralName::Rfc822Name(m) => {
            if tls {
                return Err(format!(
                    "rfc822Name {} in a TLS server certificate",
                    m.as_str()
                ));
            }
            let (local, domain) = m
                .as_str()
                .rsplit_once('@')
                .ok_or_else(|| format!("rfc822Name {:?} has no @", m.as_str()))?;
            if local.is_empty() || local.contains(['@', ' ', '<', '>']) {
                return Err(format!("rfc822Name {:?}: bad local part", m.as_str()));
            }
            dns_name(domain).map_err(|r| format!("rfc822Name {:?}: domain {r}", m.as_str()))
        }
        GeneralName::UniformResourceIdentifier(u) => {
            let (scheme, rest) = u
                .as_str()
                .split_once(':')
                .ok_or_else(|| format!("URI {:?} has no scheme", u.as_str()))?;
            if scheme.is_empty()
                || rest.is_empty()
                || !scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            {
                return Err(format!("URI {:?} is malformed", u.as_str()));
            }
            Ok(())
        }
        GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
            4 | 16 if tls => Ok(()),
            4 | 16 => Err("iPAddress outside the TLS server profile".into()),
            n => Err(format!("iPAddress of {n} octets")),
        },
        GeneralName::DirectoryName(_) => Ok(()),
        other => Err(format!("unsupported subjectAltName form {other:?}")),
    }
}

/// A preferred-syntax host name (RFC 1034 3.5 / RFC 5280 4.2.1.6): LDH
/// labels of 1 to 63 octets, not starting or ending with a hyphen, at most
/// 253 octets, at least two labels, no wildcard.
pub fn dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 253 {
        return Err("empty or longer than 253 octets");
    }
    if name.contains('*') {
        return Err("wildcards are not issued");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("a single label");
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err("a label is empty or longer than 63 octets");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("a label has characters outside letters, digits and hyphen");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(dns_name("portail.example.ma").is_ok());
        assert!(dns_name("xn--fiq228c.example.ma").is_ok());
        for bad in [
            "",
            "ma",
            "*.example.ma",
            "a..ma",
            "-a.ma",
            "a_b.ma",
            "a.ma-",
        ] {
            assert!(dns_name(bad).is_err(), "{bad}");
        }
        assert!(dns_name(&format!("{}.ma", "a".repeat(64))).is_err());
    }
}
