//! Certificate profiles: what the CLI puts into the certificates it issues,
//! and the ETSI EN 319 412-5 QCStatements of qualified certificates.

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{Any, PrintableString};
use der::{Decode, Encode};
use pki_core::builder::{
    BasicConstraintsSpec, CertificateTemplate, DistributionPointSpec, GeneralNameSpec,
    KeyUsageSpec, RawExtension,
};
use pki_core::signature::{KeyKind, PublicKey};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use crate::config::{self, CaPolicy, ProfileConfig, ProfileKind};
use crate::error::{invalid, Result};

/// esi4-qcStatement-1 QcCompliance (EN 319 412-5 4.2.1).
pub const QC_COMPLIANCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.1");
/// esi4-qcStatement-4 QcSSCD: the private key is in a qualified signature
/// creation device (4.2.2).
pub const QC_SSCD: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.4");
/// esi4-qcStatement-6 QcType (4.2.3).
pub const QC_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6");
/// id-etsi-qct-esign: certificate for electronic signatures.
pub const QCT_ESIGN: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6.1");
/// id-etsi-qct-eseal: certificate for electronic seals.
pub const QCT_ESEAL: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6.2");
/// esi4-qcStatement-7 QcCClegislation (4.2.4): the countries whose law the
/// certificate is qualified under. Morocco is outside the EU, so qualified
/// certificates under Law 43-20 carry `MA` here (ARCHITECTURE.md "Profile
/// facts"); without it, linters read them as EU-qualified.
pub const QC_CC_LEGISLATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.7");
/// The legislation country of qualified certificates issued here.
pub const QC_COUNTRY: &str = "MA";

/// CA/B BR 7.1.6.1 reserved policy identifier: domain validated.
pub const CABF_DV: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.1");
/// CA/B BR 7.1.6.1 reserved policy identifier: organization validated
/// (the subject names an organizationName).
pub const CABF_OV: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.2");
/// CA/B BR 7.1.6.1 reserved policy identifier: individual validated.
pub const CABF_IV: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.2.3");
/// CA/B EV Guidelines 9.3.2 reserved policy identifier: extended validation.
pub const CABF_EV: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.140.1.1");
/// The CA/B reserved policy identifiers of TLS subscriber certificates.
pub const CABF_RESERVED: [ObjectIdentifier; 4] = [CABF_DV, CABF_OV, CABF_IV, CABF_EV];

/// ETSI EN 319 411-2 5.3 QCP-n: qualified certificate of a natural person.
pub const QCP_N: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194112.1.0");
/// ETSI EN 319 411-2 5.3 QCP-l: qualified certificate of a legal person.
pub const QCP_L: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194112.1.1");
/// ETSI EN 319 411-2 5.3 QCP-n-qscd: natural person, private key in a
/// QSCD.
pub const QCP_N_QSCD: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194112.1.2");
/// ETSI EN 319 411-2 5.3 QCP-l-qscd: legal person, private key in a QSCD.
pub const QCP_L_QSCD: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194112.1.3");
/// ETSI EN 319 411-2 5.3 QCP-w: qualified website authentication.
pub const QCP_W: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194112.1.4");
/// The ETSI EN 319 411-2 certificate-type policy identifiers.
pub const QCP_ALL: [ObjectIdentifier; 5] = [QCP_N, QCP_L, QCP_N_QSCD, QCP_L_QSCD, QCP_W];

/// The ETSI EN 319 411-2 5.3 certificate-type policy a qualified
/// certificate of `qc_type` carries, with or without QcSSCD (EN 319 412-2
/// 5.2: the policy identifier is consistent with the QCStatements).
pub fn qualified_policy(qc_type: ObjectIdentifier, sscd: bool) -> Option<ObjectIdentifier> {
    match (qc_type, sscd) {
        (QCT_ESIGN, true) => Some(QCP_N_QSCD),
        (QCT_ESIGN, false) => Some(QCP_N),
        (QCT_ESEAL, true) => Some(QCP_L_QSCD),
        (QCT_ESEAL, false) => Some(QCP_L),
        _ => None,
    }
}

/// CA/B BR 6.3.2: the longest validity period, in days, of a TLS
/// subscriber certificate whose notBefore is `not_before` (Unix seconds).
/// The period counts notBefore through notAfter inclusive (BR 1.6.1), so
/// a certificate of `d` days has notAfter = notBefore + d * 86400 - 1.
pub fn tls_max_validity_days(not_before: i64) -> u32 {
    /// (first notBefore it applies to, maximum days), latest first.
    const SCHEDULE: [(i64, u32); 3] = [
        (1_868_227_200, 47),  // 2029-03-15T00:00:00Z
        (1_805_068_800, 100), // 2027-03-15T00:00:00Z
        (1_773_532_800, 200), // 2026-03-15T00:00:00Z
    ];
    SCHEDULE
        .iter()
        .find(|(from, _)| not_before >= *from)
        .map_or(398, |(_, days)| *days)
}

/// ```text
/// QCStatement ::= SEQUENCE {
///     statementId   QC-STATEMENT.&id({SupportedStatements}),
///     statementInfo QC-STATEMENT.&Type({SupportedStatements}{@statementId}) OPTIONAL }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence)]
pub struct QcStatement {
    pub statement_id: ObjectIdentifier,
    pub statement_info: Option<Any>,
}

/// The QCStatements of a certificate, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QcInfo {
    pub compliance: bool,
    pub sscd: bool,
    /// QcType values.
    pub types: Vec<ObjectIdentifier>,
    /// QcCClegislation countries.
    pub legislation: Vec<String>,
    /// Statement ids this code does not know.
    pub other: Vec<ObjectIdentifier>,
}

impl QcInfo {
    /// Decodes `QCStatements ::= SEQUENCE OF QCStatement`.
    pub fn from_der(value: &[u8]) -> der::Result<Self> {
        let mut info = Self::default();
        for s in Vec::<QcStatement>::from_der(value)? {
            match s.statement_id {
                QC_COMPLIANCE => info.compliance = true,
                QC_SSCD => info.sscd = true,
                QC_TYPE => {
                    let any = s.statement_info.ok_or(der::Tag::Sequence.value_error())?;
                    info.types = Vec::<ObjectIdentifier>::from_der(&any.to_der()?)?;
                }
                QC_CC_LEGISLATION => {
                    let any = s.statement_info.ok_or(der::Tag::Sequence.value_error())?;
                    info.legislation = Vec::<PrintableString>::from_der(&any.to_der()?)?
                        .into_iter()
                        .map(|c| c.to_string())
                        .collect();
                }
                other => info.other.push(other),
            }
        }
        Ok(info)
    }
}

/// The QCStatements extension (id-pe-qcStatements, RFC 3739 3.2.6, not
/// critical) of a qualified certificate of `qc_type` under Moroccan law.
pub fn qc_statements(qc_type: ObjectIdentifier, sscd: bool) -> Result<RawExtension> {
    fn info(value: &impl Encode) -> Result<Option<Any>> {
        Ok(Some(Any::from_der(&value.to_der()?)?))
    }
    let mut statements = vec![QcStatement {
        statement_id: QC_COMPLIANCE,
        statement_info: None,
    }];
    if sscd {
        statements.push(QcStatement {
            statement_id: QC_SSCD,
            statement_info: None,
        });
    }
    statements.push(QcStatement {
        statement_id: QC_TYPE,
        statement_info: info(&vec![qc_type])?,
    });
    statements.push(QcStatement {
        statement_id: QC_CC_LEGISLATION,
        statement_info: info(&vec![PrintableString::new(QC_COUNTRY)?])?,
    });
    Ok(RawExtension {
        oid: pki_core::oid::PE_QC_STATEMENTS,
        critical: false,
        value: statements.to_der()?,
    })
}

/// The OIDs of a list of strings from a config.
pub fn oids(field: &str, list: &[String]) -> Result<Vec<ObjectIdentifier>> {
    list.iter().map(|s| config::oid(field, s)).collect()
}

/// CRL distribution points, one per URL.
pub fn distribution_points(urls: &[String]) -> Vec<DistributionPointSpec> {
    urls.iter().map(DistributionPointSpec::uri).collect()
}

/// What a certificate issued under `profile` by a CA with `policy` looks
/// like, before its serial is set. Validity starts now.
pub fn end_entity_template(
    profile: &ProfileConfig,
    policy: &CaPolicy,
    issuer: &Name,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    sans: Vec<GeneralNameSpec>,
) -> Result<CertificateTemplate> {
    let now = SystemTime::now();
    let mut tpl = CertificateTemplate::new(subject, spki);
    tpl.issuer = issuer.clone();
    tpl.not_before = now;
    // `validity_days` is the validity period as CA/B BR 1.6.1 counts it,
    // notBefore through notAfter inclusive: the last second is one less.
    tpl.not_after = now
        + Duration::from_secs(u64::from(profile.validity_days) * 86_400)
            .saturating_sub(Duration::from_secs(1));
    tpl.basic_constraints = Some(BasicConstraintsSpec {
        critical: true,
        ..BasicConstraintsSpec::end_entity()
    });
    tpl.subject_alt_names = sans;
    tpl.certificate_policies = oids("profile policies", &profile.policies)?;
    tpl.crl_distribution_points = distribution_points(&policy.crl_distribution_points);
    tpl.ocsp_urls.clone_from(&policy.ocsp_urls);
    tpl.ca_issuers_urls.clone_from(&policy.ca_issuers_urls);
    match profile.kind {
        ProfileKind::CitizenAuthentication => {
            tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
            tpl.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        }
        ProfileKind::CitizenSignature => {
            tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::NonRepudiation));
            tpl.extra_extensions = vec![qc_statements(QCT_ESIGN, true)?];
        }
        ProfileKind::OrganisationSeal => {
            tpl.key_usage = Some(KeyUsageSpec::new(
                KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
            ));
            if profile.qualified {
                tpl.extra_extensions = vec![qc_statements(QCT_ESEAL, false)?];
            }
        }
        ProfileKind::TlsServer => {
            let rsa = PublicKey::from_spki(&tpl.subject_public_key)
                .is_ok_and(|k| matches!(k.kind, KeyKind::Rsa { .. }));
            tpl.key_usage = Some(KeyUsageSpec::new(if rsa {
                KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
            } else {
                KeyUsages::DigitalSignature.into()
            }));
            tpl.extended_key_usage = vec![pki_core::oid::KP_SERVER_AUTH];
        }
    }
    if profile.qualified && profile.kind != ProfileKind::OrganisationSeal {
        return Err(invalid(
            "profile qualified",
            "only organisation-seal profiles take `qualified` (citizen-signature always is)",
        ));
    }
    Ok(tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_validity_schedule() {
        assert_eq!(tls_max_validity_days(1_773_532_799), 398);
        assert_eq!(tls_max_validity_days(1_773_532_800), 200);
        assert_eq!(tls_max_validity_days(1_805_068_799), 200);
        assert_eq!(tls_max_validity_days(1_805_068_800), 100);
        assert_eq!(tls_max_validity_days(1_868_227_199), 100);
        assert_eq!(tls_max_validity_days(1_868_227_200), 47);
    }

    #[test]
    fn qc_statements_round_trip_with_moroccan_legislation() {
        let ext = qc_statements(QCT_ESIGN, true).unwrap();
        let info = QcInfo::from_der(&ext.value).unwrap();
        assert!(info.compliance && info.sscd);
        assert_eq!(info.types, vec![QCT_ESIGN]);
        assert_eq!(info.legislation, vec!["MA".to_owned()]);
        assert!(info.other.is_empty());
        // SEQUENCE { SEQUENCE { OID 0.4.0.1862.1.1 } ...
        assert_eq!(
            &ext.value[2..10],
            &[0x30, 0x08, 0x06, 0x06, 0x04, 0x00, 0x8e, 0x46]
        );
        assert!(QcInfo::from_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }
}
