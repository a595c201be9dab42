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
/// A natural person as EN 319 412-2 4.2.4 names one.
const SIGNER: &str = "CN=Amina Alaoui,GN=Amina,SN=Alaoui,serialNumber=IDCMA-AB123456,C=MA";
/// A legal person as EN 319 412-3 4.2.1 names one.
const QUALIFIED_SEAL: &str = "CN=Seal,organizationIdentifier=NTRMA-000123456,O=Banque,C=MA";

fn ca() -> (TestCa, Cert) {
    let ca = TestCa::root("CN=Lint CA,O=Royaume du Maroc,C=MA");
    let cert = Cert::from_der(ca.cert_der()).unwrap();
    (ca, cert)
}

/// The policies a profile of `kind` is configured with: ours, plus the
/// CA/B reserved identifier of a TLS server (DV: the test subjects name
/// no organization) or the EN 319 411-2 type of a qualified certificate.
fn policy_oids(kind: CertKind) -> Vec<ObjectIdentifier> {
    let mut oids = vec![ObjectIdentifier::new_unwrap(POLICY)];
    match kind {
        CertKind::EndEntity {
            kind: ProfileKind::TlsServer,
            ..
        } => oids.push(profile::CABF_DV),
        CertKind::EndEntity {
            kind: ProfileKind::CitizenSignature,
            ..
        } => oids.push(profile::QCP_N_QSCD),
        CertKind::EndEntity {
            kind: ProfileKind::OrganisationSeal,
            qualified: true,
        } => oids.push(profile::QCP_L),
        _ => {}
    }
    oids
}

/// The longest TLS server validity for a certificate issued now (CA/B BR
/// 6.3.2), in days.
fn tls_max_days_now() -> u32 {
    profile::tls_max_validity_days(pki_core::time::UnixTime::now().0)
}

fn profile(kind: ProfileKind) -> ProfileConfig {
    profile_of(ee(kind))
}

fn profile_of(kind: CertKind) -> ProfileConfig {
    let CertKind::EndEntity { kind, qualified } = kind else {
        unreachable!("end-entity profiles only")
    };
    ProfileConfig {
        kind,
        validity_days: if kind == ProfileKind::TlsServer {
            tls_max_days_now()
        } else {
            365
        },
        policies: policy_oids(ee_q(kind, qualified))
            .iter()
            .map(ToString::to_string)
            .collect(),
        qualified,
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

/// The rules that fail for `tpl` issued by `ca`, checked before signing,
/// under the policies configured for `kind`.
fn rules(
    ca: &TestCa,
    issuer: &Cert,
    tpl: &CertificateTemplate,
    kind: CertKind,
) -> Vec<&'static str> {
    rules_with(ca, issuer, tpl, kind, &policy_oids(kind))
}

/// [`rules`] with the configured `policies` given.
fn rules_with(
    ca: &TestCa,
    issuer: &Cert,
    tpl: &CertificateTemplate,
    kind: CertKind,
    policies: &[ObjectIdentifier],
) -> Vec<&'static str> {
    let expect = Expect {
        kind,
        issuer: Some(issuer),
        policies,
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

fn ee_q(kind: ProfileKind, qualified: bool) -> CertKind {
    CertKind::EndEntity { kind, qualified }
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
        (ProfileKind::CitizenSignature, SIGNER, vec![]),
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
        let policies = policy_oids(ee(kind));
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
    let base = || template(&issuer, sign, SIGNER, vec![]);

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
    let key = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-subject");
    let mut t = end_entity_template(
        &profile_of(qualified),
        &policy(),
        issuer.subject(),
        parse_name(QUALIFIED_SEAL).unwrap(),
        key.spki().clone(),
        vec![],
    )
    .unwrap();
    t.serial = store::Serial::random().unwrap().as_bytes().to_vec();
    assert_eq!(rules(&ca, &issuer, &t, qualified), Vec::<&str>::new());
    // Under the plain seal profile its QCP-l policy is unexpected too.
    assert_eq!(
        rules(&ca, &issuer, &t, ee(seal)),
        ["policies", "etsi-policy", "qc-statements"]
    );
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

/// CA/B BR 6.3.2: a TLS server certificate lives at most the days of the
/// schedule for its notBefore (200 from 2026-03-15, 100 from 2027-03-15,
/// 47 from 2029-03-15), notBefore through notAfter inclusive.
#[test]
fn tls_server_validity_follows_the_cabf_schedule() {
    let (ca, issuer) = ca();
    let tls = ProfileKind::TlsServer;
    let base = || {
        template(
            &issuer,
            tls,
            "CN=portail.example.ma",
            vec![GeneralNameSpec::dns("portail.example.ma")],
        )
    };
    let days = u64::from(tls_max_days_now());
    // The profile's `validity_days` is the inclusive period: the longest
    // allowed passes...
    let t = base();
    assert_eq!(
        t.not_after.duration_since(t.not_before).unwrap(),
        Duration::from_secs(days * 86_400 - 1)
    );
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), Vec::<&str>::new());
    // ...one second more does not.
    let mut t = base();
    t.not_after = t.not_before + Duration::from_secs(days * 86_400);
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["cabf-validity"]);
    // The 397 days the profile used to issue.
    let mut t = base();
    t.not_after = t.not_before + Duration::from_secs(397 * 86_400);
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["cabf-validity"]);
    // Other profiles are not TLS server certificates.
    let auth = ProfileKind::CitizenAuthentication;
    let mut t = template(&issuer, auth, "CN=Amina,C=MA", vec![]);
    t.not_after = t.not_before + Duration::from_secs(397 * 86_400);
    assert_eq!(rules(&ca, &issuer, &t, ee(auth)), Vec::<&str>::new());
}

/// CA/B BR 7.1.2.7.9 and 7.1.6.1: exactly one reserved policy identifier,
/// OV when the subject names an organization, DV otherwise; none outside
/// the TLS server profile.
#[test]
fn tls_server_carries_the_cabf_policy_of_its_validation() {
    let (ca, issuer) = ca();
    let tls = ProfileKind::TlsServer;
    let dns = || vec![GeneralNameSpec::dns("portail.example.ma")];
    let ours = ObjectIdentifier::new_unwrap(POLICY);

    // No reserved identifier at all (configured so: `policies` agrees).
    let mut t = template(&issuer, tls, "CN=portail.example.ma", dns());
    t.certificate_policies = vec![ours];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(tls), &[ours]),
        ["cabf-policy"]
    );
    // OV for a subject that names no organization.
    let mut t = template(&issuer, tls, "CN=portail.example.ma", dns());
    t.certificate_policies = vec![ours, profile::CABF_OV];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(tls), &[ours, profile::CABF_OV]),
        ["cabf-policy"]
    );
    // DV for one that does.
    let ov_subject = "CN=portail.example.ma,O=Banque,L=Rabat,C=MA";
    let t = template(&issuer, tls, ov_subject, dns());
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["cabf-policy"]);
    // OV for it passes.
    let mut t = template(&issuer, tls, ov_subject, dns());
    t.certificate_policies = vec![ours, profile::CABF_OV];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(tls), &[ours, profile::CABF_OV]),
        Vec::<&str>::new()
    );
    // A citizen certificate claiming DV.
    let auth = ProfileKind::CitizenAuthentication;
    let mut t = template(&issuer, auth, "CN=Amina,C=MA", vec![]);
    t.certificate_policies = vec![ours, profile::CABF_DV];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(auth), &[ours, profile::CABF_DV]),
        ["cabf-policy"]
    );
}

/// CA/B BR 7.1.2.7.2 and 7.1.2.7.4: a DV subject names at most C and CN;
/// an OV subject names O, C, and L or ST, and no person.
#[test]
fn tls_server_subject_follows_its_validation_type() {
    let (ca, issuer) = ca();
    let tls = ProfileKind::TlsServer;
    let dns = || vec![GeneralNameSpec::dns("portail.example.ma")];
    let ours = ObjectIdentifier::new_unwrap(POLICY);
    let ov = [ours, profile::CABF_OV];
    let ov_rules = |subject: &str| {
        let mut t = template(&issuer, tls, subject, dns());
        t.certificate_policies = ov.to_vec();
        rules_with(&ca, &issuer, &t, ee(tls), &ov)
    };
    assert_eq!(
        ov_rules("CN=portail.example.ma,O=Banque,ST=Rabat-Sale-Kenitra,C=MA"),
        Vec::<&str>::new()
    );
    assert_eq!(
        ov_rules("CN=portail.example.ma,O=Banque,C=MA"),
        ["cabf-subject"]
    );
    assert_eq!(
        ov_rules("CN=portail.example.ma,O=Banque,L=Rabat"),
        ["cabf-subject"]
    );
    assert_eq!(
        ov_rules("CN=portail.example.ma,OU=IT,O=Banque,L=Rabat,C=MA"),
        ["cabf-subject"]
    );
    let t = template(&issuer, tls, "CN=portail.example.ma,C=MA", dns());
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), Vec::<&str>::new());
    let t = template(&issuer, tls, "CN=portail.example.ma,L=Rabat,C=MA", dns());
    assert_eq!(rules(&ca, &issuer, &t, ee(tls)), ["cabf-subject"]);
}

/// ETSI EN 319 412-2 5.2 and EN 319 411-2 5.3: a qualified certificate
/// carries the one certificate-type policy its QCStatements call for.
#[test]
fn qualified_profiles_carry_their_etsi_policy() {
    let (ca, issuer) = ca();
    let ours = ObjectIdentifier::new_unwrap(POLICY);
    let sign = ProfileKind::CitizenSignature;

    // A citizen's signature without QCP-n-qscd.
    let mut t = template(&issuer, sign, SIGNER, vec![]);
    t.certificate_policies = vec![ours];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(sign), &[ours]),
        ["etsi-policy"]
    );
    // With QCP-l, the legal person's type.
    let mut t = template(&issuer, sign, SIGNER, vec![]);
    t.certificate_policies = vec![ours, profile::QCP_L];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(sign), &[ours, profile::QCP_L]),
        ["etsi-policy"]
    );
    // With two types.
    let both = [ours, profile::QCP_N_QSCD, profile::QCP_N];
    let mut t = template(&issuer, sign, SIGNER, vec![]);
    t.certificate_policies = both.to_vec();
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(sign), &both),
        ["etsi-policy"]
    );

    // A qualified seal without QcSSCD is QCP-l, not QCP-l-qscd.
    let seal = ee_q(ProfileKind::OrganisationSeal, true);
    let key = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-subject");
    let mut t = end_entity_template(
        &profile_of(seal),
        &policy(),
        issuer.subject(),
        parse_name(QUALIFIED_SEAL).unwrap(),
        key.spki().clone(),
        vec![],
    )
    .unwrap();
    t.serial = store::Serial::random().unwrap().as_bytes().to_vec();
    t.certificate_policies = vec![ours, profile::QCP_L_QSCD];
    assert_eq!(
        rules_with(&ca, &issuer, &t, seal, &[ours, profile::QCP_L_QSCD]),
        ["etsi-policy"]
    );

    // A profile that is not qualified claims no qualified type.
    let auth = ProfileKind::CitizenAuthentication;
    let mut t = template(&issuer, auth, "CN=Amina,C=MA", vec![]);
    t.certificate_policies = vec![ours, profile::QCP_N_QSCD];
    assert_eq!(
        rules_with(&ca, &issuer, &t, ee(auth), &[ours, profile::QCP_N_QSCD]),
        ["etsi-policy"]
    );
}

/// ETSI EN 319 412-2 4.2.4 and EN 319 412-3 4.2.1: how a qualified
/// certificate names a natural and a legal person.
#[test]
fn qualified_subjects_name_the_person_as_etsi_asks() {
    let (ca, issuer) = ca();
    let sign = ProfileKind::CitizenSignature;
    for (subject, wanted) in [
        (SIGNER, Vec::<&str>::new()),
        ("CN=Amina,SN=Alaoui,C=MA", vec![]),
        ("CN=Amina,pseudonym=Amina7,C=MA", vec![]),
        ("CN=Amina,C=MA", vec!["etsi-subject"]),
        (
            "CN=Amina,GN=Amina,SN=Alaoui,pseudonym=Amina7,C=MA",
            vec!["etsi-subject"],
        ),
        ("CN=Amina,CN=Alaoui,GN=Amina,C=MA", vec!["etsi-subject"]),
    ] {
        let t = template(&issuer, sign, subject, vec![]);
        assert_eq!(rules(&ca, &issuer, &t, ee(sign)), wanted, "{subject}");
    }

    let seal = ee_q(ProfileKind::OrganisationSeal, true);
    let key = SoftwareKey::cached(KeyAlgorithm::EcdsaP256, "lint-subject");
    for (subject, wanted) in [
        (QUALIFIED_SEAL, Vec::<&str>::new()),
        ("CN=Seal,O=Banque,C=MA", vec!["etsi-subject"]),
        (
            "organizationIdentifier=NTRMA-000123456,O=Banque,C=MA",
            vec!["etsi-subject"],
        ),
    ] {
        let mut t = end_entity_template(
            &profile_of(seal),
            &policy(),
            issuer.subject(),
            parse_name(subject).unwrap(),
            key.spki().clone(),
            vec![],
        )
        .unwrap();
        t.serial = store::Serial::random().unwrap().as_bytes().to_vec();
        assert_eq!(rules(&ca, &issuer, &t, seal), wanted, "{subject}");
    }
    // The plain seal is not held to it.
    let seal = ProfileKind::OrganisationSeal;
    let t = template(&issuer, seal, "CN=Seal,O=Banque,C=MA", vec![]);
    assert_eq!(rules(&ca, &issuer, &t, ee(seal)), Vec::<&str>::new());
}

/// Every rule cites the clause it enforces, and a finding says it.
#[test]
fn every_rule_cites_its_clause() {
    for rule in lint::RULES {
        assert!(
            ["RFC ", "CA/B BR ", "ETSI EN "]
                .iter()
                .any(|p| rule.cite.starts_with(p)),
            "{}: {}",
            rule.name,
            rule.cite
        );
    }
    let (ca, issuer) = ca();
    let auth = ProfileKind::CitizenAuthentication;
    let mut t = template(&issuer, auth, "CN=Amina,C=MA", vec![]);
    t.serial = vec![1];
    let policies = policy_oids(ee(auth));
    let expect = Expect {
        kind: ee(auth),
        issuer: Some(&issuer),
        policies: &policies,
    };
    let err =
        lint::before_signing(&t.tbs_certificate(ca.key()).unwrap(), &expect, "amina").unwrap_err();
    assert!(
        err.to_string().contains(
            "[serial] 1 octets; at least 8 random octets required (RFC 5280 4.1.2.2; CA/B BR 7.1)"
        ),
        "{err}"
    );
}
