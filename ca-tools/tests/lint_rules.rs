//! The pre- and post-signing checks on certificates the CLI would sign:
//! each profile's good template passes, and each broken rule is reported
//! by name before anything is signed.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ca_tools::config::{CaPolicy, ProfileConfig, ProfileKind};
use ca_tools::error::CliError;
use ca_tools::lint::{self, CertKind, Expect};
use ca_tools::profile::{self, end_entity_template};
use const_oid::ObjectIdentifier;
use der::asn1::{Any, PrintableString};
use der::{Decode, Encode};
use pki_core::builder::{
    build_certificate, parse_name, AuthorityKeyId, CertificateTemplate, GeneralNameSpec,
    KeyUsageSpec, RawExtension,
};
use pki_core::testing::{KeyAlgorithm, SoftwareKey, TestCa};
use pki_core::Cert;
use x509_cert::ext::pkix::KeyUsages;

const POLICY: &str = "2.16.504.99.1.1";

fn ca() -> (TestCa, Cert) {
    let ca = TestCa::root("CN=Lint CA,O=Royaume du Maroc,C=MA");
    let cert = Cert::from_der(ca.cert_der()).unwrap();
    (ca, cert)
}

fn profile(kind: ProfileKind) -> ProfileConfig {
    ProfileConfig {
        kind,
        validity_days: 365,
        policies: vec![POLICY.into()],
        qualified: false,
    }
}

fn policy() -> CaPolicy {
    CaPolicy {
        crl_distribution_points: vec!["http://crl.example.ma/ca.crl".into()],
        ocsp_urls: vec!["http://ocsp.example.ma/".into()],
        ..CaPolicy::default()
    }
}

fn template(
    issuer: &Cert,
    kind: ProfileKind,
    subject: &str,
    sans: Vec<GeneralNameSpec>,
) -> CertificateTemplate {
    let key = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-subject");
    let mut tpl = end_entity_template(
        &profile(kind),
        &policy(),
        issuer.subject(),
        parse_name(subject).unwrap(),
        key.spki().clone(),
        sans,
    )
    .unwrap();
    tpl.serial = store::Serial::random().unwrap().as_bytes().to_vec();
    tpl
}

/// The rules that fail for `tpl` issued by `ca`, checked before signing.
fn rules(
    ca: &TestCa,
    issuer: &Cert,
    tpl: &CertificateTemplate,
    kind: CertKind,
) -> Vec<&'static str> {
    let policies = [ObjectIdentifier::new_unwrap(POLICY)];
    let expect = Expect {
        kind,
        issuer: Some(issuer),
        policies: &policies,
    };
    match lint::before_signing(&tpl.tbs_certificate(ca.key()).unwrap(), &expect, "test") {
        Ok(()) => Vec::new(),
        Err(CliError::Lint {
            findings, stage, ..
        }) => {
            assert_eq!(stage, "before");
            findings.iter().map(|f| f.rule).collect()
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

fn ee(kind: ProfileKind) -> CertKind {
    CertKind::EndEntity {
        kind,
        qualified: false,
    }
}

#[test]
fn every_profile_template_passes() {
    let (ca, issuer) = ca();
    let cases = [
        (
            ProfileKind::CitizenAuthentication,
            "CN=Amina,C=MA",
            vec![GeneralNameSpec::email("amina@cnie.example.ma")],
        ),
        (ProfileKind::CitizenSignature, "CN=Amina,C=MA", vec![]),
        (
            ProfileKind::OrganisationSeal,
            "CN=Seal,O=Banque,C=MA",
            vec![],
        ),
        (
            ProfileKind::TlsServer,
            "CN=portail.example.ma",
            vec![GeneralNameSpec::dns("portail.example.ma")],
        ),
    ];
    for (kind, subject, sans) in cases {
        let tpl = template(&issuer, kind, subject, sans);
        assert_eq!(
            rules(&ca, &issuer, &tpl, ee(kind)),
            Vec::<&str>::new(),
            "{kind:?}"
        );
        // And after signing: decoded, verified and linted again.
        let der = build_certificate(&tpl, ca.key()).unwrap();
        let policies = [ObjectIdentifier::new_unwrap(POLICY)];
        let expect = Expect {
            kind: ee(kind),
            issuer: Some(&issuer),
            policies: &policies,
        };
        lint::after_signing(&der, &expect, "test").unwrap();
    }
}

#[test]
fn broken_rules_are_named_before_signing() {
    let (ca, issuer) = ca();
    let auth = ProfileKind::CitizenAuthentication;
    let base = || template(&issuer, auth, "CN=Amina,C=MA", vec![]);

    let mut t = base();
    t.not_after = issuer_not_after(&issuer) + Duration::from_secs(86_400);
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["validity"]);

    let mut t = base();
    t.key_usage = Some(KeyUsageSpec::new(
        KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
    ));
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["key-usage"]);

    let mut t = base();
    t.key_usage = Some(KeyUsageSpec {
        critical: false,
        ..KeyUsageSpec::new(KeyUsages::DigitalSignature)
    });
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["key-usage"]);

    let mut t = base();
    t.extended_key_usage = vec![pki_core::oid::KP_SERVER_AUTH];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["eku"]);

    let mut t = base();
    t.subject_alt_names = vec![GeneralNameSpec::dns("amina.example.ma")];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["san"]);

    let mut t = base();
    t.subject_alt_names = vec![GeneralNameSpec::email("no-at-sign.example.ma")];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["san"]);

    let mut t = base();
    t.certificate_policies = vec![pki_core::oid::ANY_POLICY];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["policies", "policies"]);

    let mut t = base();
    t.serial = vec![0x01, 0x02, 0x03];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["serial"]);

    let mut t = base();
    t.authority_key_id = AuthorityKeyId::Explicit(vec![1; 20]);
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["aki"]);

    let mut t = base();
    t.issuer = parse_name("CN=Someone Else,C=MA").unwrap();
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["issuer-name"]);

    let mut t = base();
    t.subject = parse_name("CN=Amina").unwrap();
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["subject"]);

    let mut t = base();
    t.crl_distribution_points.clear();
    t.ocsp_urls.clear();
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["revocation-pointer"]);

    let mut t = base();
    t.ocsp_urls = vec!["ftp://ocsp.example.ma/".into()];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["revocation-pointer"]);

    let mut t = base();
    t.ocsp_no_check = true;
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["ocsp-nocheck"]);

    let mut t = base();
    t.extra_extensions = vec![RawExtension {
        oid: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.7"),
        critical: true,
        value: vec![0x05, 0x00],
    }];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["extensions"]);
}

fn issuer_not_after(issuer: &Cert) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(issuer.not_after().unsigned_secs())
}

#[test]
fn qualified_profiles_need_moroccan_qc_statements() {
    let (ca, issuer) = ca();
    let sign = ProfileKind::CitizenSignature;
    let base = || template(&issuer, sign, "CN=Amina,C=MA", vec![]);

    let mut t = base();
    t.extra_extensions.clear();
    assert_eq!(rules(&ca, &issuer, &t, ee(sign)), ["qc-statements"]);

    // QcCompliance, QcSSCD and QcType esign, but no QcCClegislation: an
    // EU-qualified claim, which a Law 43-20 certificate must not make.
    let statements = vec![
        profile::QcStatement {
            statement_id: profile::QC_COMPLIANCE,
            statement_info: None,
        },
        profile::QcStatement {
            statement_id: profile::QC_SSCD,
            statement_info: None,
        },
        profile::QcStatement {
            statement_id: profile::QC_TYPE,
            statement_info: Some(
                Any::from_der(&vec![profile::QCT_ESIGN].to_der().unwrap()).unwrap(),
            ),
        },
    ];
    let mut t = base();
    t.extra_extensions = vec![RawExtension {
        oid: pki_core::oid::PE_QC_STATEMENTS,
        critical: false,
        value: statements.to_der().unwrap(),
    }];
    assert_eq!(rules(&ca, &issuer, &t, ee(sign)), ["qc-statements"]);

    // Another country.
    let mut with_fr = statements.clone();
    with_fr.push(profile::QcStatement {
        statement_id: profile::QC_CC_LEGISLATION,
        statement_info: Some(
            Any::from_der(&vec![PrintableString::new("FR").unwrap()].to_der().unwrap()).unwrap(),
        ),
    });
    let mut t = base();
    t.extra_extensions[0].value = with_fr.to_der().unwrap();
    assert_eq!(rules(&ca, &issuer, &t, ee(sign)), ["qc-statements"]);

    // A non-qualified profile must not claim QcCompliance.
    let auth = ProfileKind::CitizenAuthentication;
    let mut t = template(&issuer, auth, "CN=Amina,C=MA", vec![]);
    t.extra_extensions = vec![profile::qc_statements(profile::QCT_ESIGN, true).unwrap()];
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), ["qc-statements"]);

    // A qualified seal carries QcType eseal.
    let seal = ProfileKind::OrganisationSeal;
    let qualified = CertKind::EndEntity {
        kind: seal,
        qualified: true,
    };
    let mut cfg = profile(seal);
    cfg.qualified = true;
    let key = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-subject");
    let mut t = end_entity_template(
        &cfg,
        &policy(),
        issuer.subject(),
        parse_name("CN=Seal,O=Banque,C=MA").unwrap(),
        key.spki().clone(),
        vec![],
    )
    .unwrap();
    t.serial = store::Serial::random().unwrap().as_bytes().to_vec();
    assert_eq!(rules(&ca, &issuer, &t, qualified), Vec::<&str>::new());
    assert_eq!(rules(&ca, &issuer, &t, ee(seal)), ["qc-statements"]);
}

#[test]
fn tls_server_needs_a_dns_name_and_no_wildcard() {
    let (ca, issuer) = ca();
    let tls = ProfileKind::TlsServer;
    let t = template(&issuer, tls, "CN=portail.example.ma", vec![]);
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["san"]);
    let t = template(
        &issuer,
        tls,
        "CN=x",
        vec![GeneralNameSpec::dns("*.example.ma")],
    );
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["san"]);
    let t = template(
        &issuer,
        tls,
        "CN=x",
        vec![
            GeneralNameSpec::dns("a.example.ma"),
            GeneralNameSpec::email("a@example.ma"),
        ],
    );
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["san"]);
}

#[test]
fn signed_certificates_are_verified_after_signing() {
    let (ca, issuer) = ca();
    let kind = ProfileKind::CitizenAuthentication;
    let tpl = template(&issuer, kind, "CN=Amina,C=MA", vec![]);
    let policies = [ObjectIdentifier::new_unwrap(POLICY)];
    let expect = Expect {
        kind: ee(kind),
        issuer: Some(&issuer),
        policies: &policies,
    };
    // Signed by another key than the issuer's.
    let other = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-other");
    let der = build_certificate(&tpl, &other).unwrap();
    let err = lint::after_signing(&der, &expect, "citizen").unwrap_err();
    assert!(matches!(err, CliError::PostSignCheck { .. }), "{err}");
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );
    // Trailing garbage after the certificate.
    let mut der = build_certificate(&tpl, ca.key()).unwrap();
    lint::after_signing(&der, &expect, "citizen").unwrap();
    der.push(0);
    assert!(matches!(
        lint::after_signing(&der, &expect, "citizen"),
        Err(CliError::PostSignCheck { .. })
    ));
}

#[test]
fn names_outside_the_issuers_constraints_are_refused() {
    let ca = TestCa::root_with(
        "CN=Constrained CA,O=Royaume du Maroc,C=MA",
        pki_core::testing::TestCaOptions::default(),
        |tpl| {
            tpl.name_constraints = Some(pki_core::builder::NameConstraintsSpec {
                permitted: vec![
                    GeneralNameSpec::Directory(parse_name("C=MA").unwrap()),
                    GeneralNameSpec::email("cnie.example.ma"),
                ],
                excluded: vec![],
            });
        },
    );
    let issuer = Cert::from_der(ca.cert_der()).unwrap();
    let auth = ProfileKind::CitizenAuthentication;
    let inside = template(
        &issuer,
        auth,
        "CN=Amina,C=MA",
        vec![GeneralNameSpec::email("amina@cnie.example.ma")],
    );
    assert_eq!(rules(&ca, &issuer, &inside, ee(auth)), Vec::<&str>::new());
    let foreign = template(&issuer, auth, "CN=Jean,C=FR", vec![]);
    assert_eq!(
        rules(&ca, &issuer, &foreign, ee(auth)),
        ["name-constraints"]
    );
    let mail = template(
        &issuer,
        auth,
        "CN=Amina,C=MA",
        vec![GeneralNameSpec::email("amina@example.com")],
    );
    assert_eq!(rules(&ca, &issuer, &mail, ee(auth)), ["name-constraints"]);
}
