//! Checks on every certificate before it is signed and again after.
//!
//! Before signing, the exact TBSCertificate the signer will sign is wrapped
//! with an empty signature and decoded by pki-core's strict decoder
//! ([`pki_core::Cert::from_der`]), then checked against the rules of its
//! kind (RFC 5280 profile, CA/B-style hygiene, the national profiles).
//! After signing, the certificate is decoded again from its DER, its
//! signature verified under the issuer's key, and the same rules re-run.

use std::fmt;

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
use crate::profile::{QcInfo, QCT_ESEAL, QCT_ESIGN, QC_COUNTRY};

/// Longest validity of a delegated OCSP responder certificate: short, so
/// a compromised responder key expires soon (it is not revocable:
/// id-pkix-ocsp-nocheck).
pub const MAX_OCSP_SIGNER_DAYS: u32 = 90;
/// Fewest serial octets: CA/B BR 7.1 asks for 64 bits of CSPRNG output.
const MIN_SERIAL_OCTETS: usize = 8;

const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

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
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short rule name, e.g. `key-usage`.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)
    }
}

/// One finding per line, indented.
pub fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
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

/// Every rule for `expect.kind`; an empty list means the certificate passes.
pub fn lint(cert: &Cert, expect: &Expect<'_>) -> Vec<Finding> {
    let x509 = match cert.x509() {
        Ok(x) => x,
        Err(e) => {
            return vec![Finding {
                rule: "der",
                message: e.to_string(),
            }]
        }
    };
    let mut out = Vec::new();
    let mut fail = |rule: &'static str, message: String| out.push(Finding { rule, message });
    let kind = expect.kind;
    let ext = cert.extensions();
    let tbs = &x509.tbs_certificate;

    if cert.version() != 3 {
        fail(
            "version",
            format!("version {} (expected 3)", cert.version()),
        );
    }
    if let Some(problem) = cert.serial_problem() {
        fail("serial", problem.to_string());
    } else if cert.serial().len() < MIN_SERIAL_OCTETS {
        fail(
            "serial",
            format!(
                "{} octets; at least {MIN_SERIAL_OCTETS} random octets required",
                cert.serial().len()
            ),
        );
    }

    // Issuer name and validity nested in the issuer's.
    let issuer_subject = expect.issuer.map_or(cert.subject(), Cert::subject);
    if !pki_core::name::names_equal(cert.issuer(), issuer_subject) {
        fail(
            "issuer-name",
            format!(
                "issuer {} is not the issuing CA's subject {}",
                cert.issuer(),
                issuer_subject
            ),
        );
    }
    if cert.not_before() >= cert.not_after() {
        fail("validity", "notBefore is not before notAfter".into());
    }
    if let Some(issuer) = expect.issuer {
        if cert.not_before() < issuer.not_before() || cert.not_after() > issuer.not_after() {
            fail(
                "validity",
                format!(
                    "validity {}..{} is not within the issuer's {}..{}",
                    cert.not_before(),
                    cert.not_after(),
                    issuer.not_before(),
                    issuer.not_after()
                ),
            );
        }
    }
    if kind == CertKind::OcspSigner {
        let days = (cert.not_after().0.saturating_sub(cert.not_before().0)) / 86_400;
        if days > i64::from(MAX_OCSP_SIGNER_DAYS) {
            fail(
                "validity",
                format!("OCSP signer valid for {days} days, at most {MAX_OCSP_SIGNER_DAYS}"),
            );
        }
    }

    // Subject.
    subject_rules(tbs, kind, &mut fail);

    // Key.
    match PublicKey::from_spki(&tbs.subject_public_key_info) {
        Err(e) => fail("key", e.to_string()),
        Ok(key) => {
            if let Err(e) = key.check_policy(AlgorithmPolicy::Default) {
                fail("key", e.to_string());
            }
            let min_rsa = if kind.is_ca() || kind == CertKind::OcspSigner {
                3072
            } else {
                2048
            };
            if let KeyKind::Rsa { bits } = key.kind {
                if bits < min_rsa {
                    fail(
                        "key",
                        format!("RSA-{bits} key; at least RSA-{min_rsa} here"),
                    );
                }
            }
        }
    }

    // Basic constraints.
    match (&ext.basic_constraints, kind) {
        (Some(bc), CertKind::Root { path_len } | CertKind::Intermediate { path_len }) => {
            if !bc.critical || !bc.value.ca {
                fail(
                    "basic-constraints",
                    "CA certificate needs critical cA TRUE".into(),
                );
            }
            if bc.value.path_len_constraint != path_len {
                fail(
                    "basic-constraints",
                    format!(
                        "pathLenConstraint {:?}, configured {path_len:?}",
                        bc.value.path_len_constraint
                    ),
                );
            }
        }
        (None, CertKind::Root { .. } | CertKind::Intermediate { .. }) => {
            fail(
                "basic-constraints",
                "CA certificate without basicConstraints".into(),
            );
        }
        (Some(bc), _) if bc.value.ca => {
            fail(
                "basic-constraints",
                "end-entity certificate asserts cA".into(),
            );
        }
        _ => {}
    }

    // Key usage.
    let ku = ext.key_usage.as_ref();
    match ku {
        None => fail("key-usage", "keyUsage missing".into()),
        Some(k) if !k.critical => fail("key-usage", "keyUsage must be critical".into()),
        Some(_) => {}
    }
    let usages = ku.map(|k| k.value.0).unwrap_or_default();
    let (required, allowed): (
        der::flagset::FlagSet<KeyUsages>,
        der::flagset::FlagSet<KeyUsages>,
    ) = match kind {
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
        fail(
            "key-usage",
            format!("keyUsage {usages:?}; required {required:?}, allowed {allowed:?}"),
        );
    }

    // Extended key usage.
    let eku: &[ObjectIdentifier] = ext.ext_key_usage.as_ref().map_or(&[], |e| &e.value);
    if eku.contains(&pki_core::oid::KP_ANY) {
        fail("eku", "anyExtendedKeyUsage is not issued".into());
    }
    let eku_rule = match kind {
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
    match eku_rule {
        Some((oid, name)) if eku != [oid] => {
            fail(
                "eku",
                format!("extendedKeyUsage {eku:?}; expected exactly {name}"),
            );
        }
        None if !kind.is_ca() && eku.contains(&pki_core::oid::KP_SERVER_AUTH) => {
            fail("eku", "serverAuth outside the TLS server profile".into());
        }
        _ => {}
    }
    if ext.ocsp_no_check != (kind == CertKind::OcspSigner) {
        fail(
            "ocsp-nocheck",
            if ext.ocsp_no_check {
                "id-pkix-ocsp-nocheck outside an OCSP signer certificate".into()
            } else {
                "OCSP signer certificate without id-pkix-ocsp-nocheck".into()
            },
        );
    }

    // Key identifiers.
    let own_id = pki_core::builder::key_identifier(&tbs.subject_public_key_info);
    if ext.subject_key_id.is_none() {
        fail("ski", "subjectKeyIdentifier missing".into());
    }
    if kind.is_ca() && ext.subject_key_id.as_deref().is_some_and(|id| id != own_id) {
        fail(
            "ski",
            "subjectKeyIdentifier is not the key's SHA-1 identifier".into(),
        );
    }
    if let Some(issuer) = expect.issuer {
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
        let aki = ext
            .authority_key_id
            .as_ref()
            .and_then(|a| a.key_identifier.as_ref());
        if aki.map(der::asn1::OctetString::as_bytes) != Some(issuer_id.as_slice()) {
            fail(
                "aki",
                "authorityKeyIdentifier is not the issuer's subjectKeyIdentifier".into(),
            );
        }
    }

    // Names.
    if let Some(san) = &ext.subject_alt_name {
        for name in &san.value.0 {
            if let Err(reason) = san_entry(name, kind) {
                fail("san", reason);
            }
        }
    }
    if matches!(
        kind,
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        }
    ) && !ext.subject_alt_name.as_ref().is_some_and(|s| {
        s.value
            .0
            .iter()
            .any(|n| matches!(n, GeneralName::DnsName(_)))
    }) {
        fail(
            "san",
            "TLS server certificate needs at least one dNSName".into(),
        );
    }
    // RFC 5280 4.2.1.10: the issuer's constraints bind the subject and SAN
    // of everything it signs; a certificate outside them would only fail
    // validation later.
    if let Some(nc) = expect
        .issuer
        .and_then(|i| i.extensions().name_constraints.as_ref())
    {
        let san = ext.subject_alt_name.as_ref().map(|s| &s.value);
        if let Err(v) =
            pki_core::name::check_name_constraints(&nc.value, cert.subject(), san, !kind.is_ca())
        {
            fail(
                "name-constraints",
                format!("outside the issuer's name constraints: {v}"),
            );
        }
    }
    if ext.name_constraints.is_some() && !kind.is_ca() {
        fail(
            "name-constraints",
            "nameConstraints outside a CA certificate".into(),
        );
    }

    // Policies.
    let mut policies: Vec<ObjectIdentifier> = ext
        .certificate_policies
        .as_ref()
        .map(|p| p.value.0.iter().map(|i| i.policy_identifier).collect())
        .unwrap_or_default();
    let mut wanted = expect.policies.to_vec();
    policies.sort();
    wanted.sort();
    if policies != wanted {
        fail(
            "policies",
            format!("certificatePolicies {policies:?}, configured {wanted:?}"),
        );
    }
    if !kind.is_ca() && policies.contains(&pki_core::oid::ANY_POLICY) {
        fail("policies", "anyPolicy in an end-entity certificate".into());
    }

    // Revocation pointers and their URLs.
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
            other => fail(
                "revocation-pointer",
                format!("{other:?} is not an http:// or ldap:// URI"),
            ),
        }
    }
    if matches!(kind, CertKind::EndEntity { .. }) && pointers == 0 {
        fail(
            "revocation-pointer",
            "end-entity certificate without CRL distribution point or AIA".into(),
        );
    }

    // QCStatements.
    qc_rules(tbs, kind, &mut fail);

    if let Some(oid) = ext.unknown_critical.first() {
        fail("extensions", format!("unknown critical extension {oid}"));
    }
    out
}

fn has_attribute(name: &Name, oid: ObjectIdentifier) -> bool {
    name.0
        .iter()
        .any(|rdn| rdn.0.iter().any(|atv| atv.oid == oid))
}

fn subject_rules(
    tbs: &TbsCertificate,
    kind: CertKind,
    fail: &mut impl FnMut(&'static str, String),
) {
    let subject = &tbs.subject;
    let cn = has_attribute(subject, pki_core::oid::AT_COMMON_NAME);
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
            fail("subject", format!("subject {subject} has no {label}"));
        }
    }
    if !cn
        && subject.0.is_empty()
        && !matches!(
            kind,
            CertKind::EndEntity {
                kind: ProfileKind::TlsServer,
                ..
            }
        )
    {
        fail("subject", "empty subject".into());
    }
}

fn qc_rules(tbs: &TbsCertificate, kind: CertKind, fail: &mut impl FnMut(&'static str, String)) {
    let qc = tbs
        .extensions
        .iter()
        .flatten()
        .find(|x| x.extn_id == pki_core::oid::PE_QC_STATEMENTS);
    let info = match qc.map(|x| QcInfo::from_der(x.extn_value.as_bytes())) {
        None => None,
        Some(Ok(info)) => Some(info),
        Some(Err(e)) => {
            fail("qc-statements", format!("malformed QCStatements: {e}"));
            return;
        }
    };
    let wanted = match kind {
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
            fail(
                "qc-statements",
                "QcCompliance in a profile that is not qualified".into(),
            );
        }
        (Some(_), None) => fail(
            "qc-statements",
            "qualified profile without QCStatements".into(),
        ),
        (Some((qc_type, sscd)), Some(info)) => {
            if !info.compliance {
                fail("qc-statements", "QcCompliance missing".into());
            }
            if sscd && !info.sscd {
                fail("qc-statements", "QcSSCD missing".into());
            }
            if info.types != [qc_type] {
                fail(
                    "qc-statements",
                    format!("QcType {:?}, expected [{qc_type}]", info.types),
                );
            }
            if info.legislation != [QC_COUNTRY] {
                fail(
                    "qc-statements",
                    format!(
                        "QcCClegislation {:?}: qualified under Law 43-20 needs exactly [\"{QC_COUNTRY}\"]",
                        info.legislation
                    ),
                );
            }
        }
        _ => {}
    }
}

/// RFC 5280 4.2.1.6 syntax of one subjectAltName entry, and which forms a
/// profile may carry.
fn san_entry(name: &GeneralName, kind: CertKind) -> Result<(), String> {
    let tls = matches!(
        kind,
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        }
    );
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
