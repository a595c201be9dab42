//! The relying party's rules (RFC 5280 section 6) apart from the issuer's
//! (issuance-profile findings), on chains from outside our own profile:
//! each case with a passing and a failing variant.

use std::sync::Arc;

use const_oid::ObjectIdentifier;
use pki_core::builder::{
    AuthorityKeyId, BasicConstraintsSpec, CertificateTemplate, GeneralNameSpec, KeyUsageSpec,
    NameConstraintsSpec, PolicyConstraintsSpec, RawExtension,
};
use pki_core::path::{Profile, Purpose};
use pki_core::testing::{KeyAlgorithm, RsaSize, SoftwareKey, TestCa, TestCaOptions};
use pki_core::trust::AssuranceLevel;
use pki_core::{oid, Cert, Error, Tier, TrustStore, UnixTime, ValidationOptions, Validator};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::KeyUsages;

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA output decodes"))
}

fn validator(anchors: &[&TestCa]) -> Validator {
    let mut t = TrustStore::new();
    t.add_tier(Tier::new("ttp", AssuranceLevel::Substantial))
        .expect("tier");
    for a in anchors {
        t.add_anchor("ttp", cert(a)).expect("anchor");
    }
    Validator::new(t)
}

fn opts(profile: Profile, purpose: Purpose) -> ValidationOptions<'static> {
    let mut o =
        ValidationOptions::at(UnixTime::parse_rfc3339("2030-01-01T00:00:00Z").expect("time"));
    o.profile = Some(profile);
    o.purpose = purpose;
    o
}

/// Validates `leaf` over `inter` under both profiles (purpose any):
/// asserts that `rfc5280` accepts with a finding citing `rule` on the
/// certificate at `index`, and that `strict` refuses with that error.
fn finding_under_rfc5280_error_under_strict(
    anchor: &TestCa,
    inter: &[&TestCa],
    leaf: &TestCa,
    index: usize,
    rule: &str,
) {
    let v = validator(&[anchor]);
    let pool: Vec<Arc<Cert>> = inter.iter().map(|c| cert(c)).collect();
    let leaf = cert(leaf);
    let p = v
        .validate(&leaf, &pool, &opts(Profile::Rfc5280, Purpose::Any))
        .unwrap_or_else(|e| panic!("rfc5280 must accept ({rule}): {e}"));
    let f = p
        .findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("a finding citing {rule}, got {:?}", p.findings));
    assert_eq!(f.index, index, "{f}");
    assert_eq!(
        f.error.index(),
        Some(index).filter(|_| f.error.index().is_some())
    );
    assert_eq!(p.profile, Profile::Rfc5280);
    let e = v
        .validate(&leaf, &pool, &opts(Profile::Strict, Purpose::Any))
        .expect_err("strict refuses");
    assert_eq!(e, f.error, "strict fails with the finding's error");
}

#[test]
fn non_critical_policy_constraints() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let ica = root.intermediate("CN=TTP CA,O=Tiers,C=MA", |t| {
        t.policy_constraints = Some(PolicyConstraintsSpec {
            require_explicit_policy: Some(3),
            inhibit_policy_mapping: None,
        });
        t.critical_overrides
            .push((oid::CE_POLICY_CONSTRAINTS, false));
    });
    let leaf = ica.leaf("CN=ee.tiers.ma", |_| {});
    finding_under_rfc5280_error_under_strict(&root, &[&ica], &leaf, 1, "RFC 5280 4.2.1.11");
    // The same chain with the extension critical has no finding.
    let good = root.intermediate("CN=TTP CA2,O=Tiers,C=MA", |t| {
        t.policy_constraints = Some(PolicyConstraintsSpec {
            require_explicit_policy: Some(3),
            inhibit_policy_mapping: None,
        });
    });
    let leaf2 = good.leaf("CN=ee2.tiers.ma", |_| {});
    let p = validator(&[&root])
        .validate(
            &cert(&leaf2),
            &[cert(&good)],
            &opts(Profile::Strict, Purpose::Any),
        )
        .expect("conforming chain");
    assert!(p.findings.is_empty());
}

#[test]
fn non_critical_name_constraints_and_basic_constraints() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let ica = root.intermediate("CN=TTP NC CA,O=Tiers,C=MA", |t| {
        t.name_constraints = Some(NameConstraintsSpec {
            permitted: vec![GeneralNameSpec::dns("tiers.ma")],
            excluded: vec![],
        });
        t.critical_overrides.push((oid::CE_NAME_CONSTRAINTS, false));
    });
    let leaf = ica.leaf("CN=ee.tiers.ma", |_| {});
    finding_under_rfc5280_error_under_strict(&root, &[&ica], &leaf, 1, "RFC 5280 4.2.1.10");
    // The constraint still applies under rfc5280: a name outside is invalid.
    let outside = ica.leaf("CN=ee.example.com", |_| {});
    let e = validator(&[&root])
        .validate(
            &cert(&outside),
            &[cert(&ica)],
            &opts(Profile::Rfc5280, Purpose::Any),
        )
        .expect_err("outside the permitted subtree");
    assert_eq!(e.code(), "name_constraints_violated");

    let bc = root.intermediate("CN=TTP BC CA,O=Tiers,C=MA", |t| {
        t.basic_constraints = Some(BasicConstraintsSpec {
            critical: false,
            ..BasicConstraintsSpec::ca(None)
        });
    });
    let leaf = bc.leaf("CN=ee.tiers.ma", |_| {});
    finding_under_rfc5280_error_under_strict(&root, &[&bc], &leaf, 1, "RFC 5280 4.2.1.9");
}

#[test]
fn authority_key_identifier_without_key_identifier() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = root.leaf("CN=ee.tiers.ma", |t| {
        t.authority_key_id = AuthorityKeyId::Absent;
    });
    finding_under_rfc5280_error_under_strict(&root, &[], &leaf, 0, "RFC 5280 4.2.1.1");
}

#[test]
fn path_len_without_ca_and_key_cert_sign_in_an_end_entity() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = root.leaf("CN=ee.tiers.ma", |t| {
        t.basic_constraints = Some(BasicConstraintsSpec {
            ca: false,
            path_len: Some(0),
            critical: false,
        });
    });
    finding_under_rfc5280_error_under_strict(&root, &[], &leaf, 0, "RFC 5280 4.2.1.9");
    let leaf = root.leaf("CN=ee2.tiers.ma", |t| {
        t.key_usage = Some(KeyUsageSpec::new(
            KeyUsages::DigitalSignature | KeyUsages::KeyCertSign,
        ));
    });
    finding_under_rfc5280_error_under_strict(&root, &[], &leaf, 0, "RFC 5280 4.2.1.9");
}

/// Profile rules are not applied to a trust anchor under rfc5280 (RFC 5280
/// 6.1.1: it is an input); under strict the root profile holds.
#[test]
fn extended_key_usage_in_a_trust_anchor() {
    let root = TestCa::root_with("CN=EKU Root,C=MA", TestCaOptions::default(), |t| {
        t.extended_key_usage = vec![oid::KP_SERVER_AUTH, oid::KP_CLIENT_AUTH];
    });
    let leaf = root.leaf("CN=www.tiers.ma", |_| {});
    let v = validator(&[&root]);
    let p = v
        .validate(
            &cert(&leaf),
            &[],
            &opts(Profile::Rfc5280, Purpose::ServerAuth),
        )
        .expect("rfc5280 never judges the anchor");
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let e = v
        .validate(
            &cert(&leaf),
            &[],
            &opts(Profile::Strict, Purpose::ServerAuth),
        )
        .expect_err("CA/B BR 7.1.2.1.2 under strict");
    assert_eq!(e.index(), Some(1));
}

/// The default profile follows the purpose: strict for server-auth.
#[test]
fn default_profile_is_strict_for_server_auth_only() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = root.leaf("CN=ee.tiers.ma", |t| {
        t.extended_key_usage = vec![];
    });
    let v = validator(&[&root]);
    let mut o = opts(Profile::Rfc5280, Purpose::ServerAuth);
    o.profile = None;
    assert_eq!(o.profile(), Profile::Strict);
    assert!(v.validate(&cert(&leaf), &[], &o).is_err(), "BR 7.1.2.7.10");
    o.purpose = Purpose::ClientAuth;
    assert_eq!(o.profile(), Profile::Rfc5280);
    v.validate(&cert(&leaf), &[], &o)
        .expect("client-auth: no EKU is any EKU");
}

/// RFC 4055 1.2: an id-RSASSA-PSS subject key verifies RSASSA-PSS
/// signatures, within the parameters its SPKI names.
#[test]
fn rsassa_pss_subject_keys() {
    let pss_root = |name: &str, params: Option<der::Any>| {
        let key = SoftwareKey::generate(KeyAlgorithm::RsaPssSha256(RsaSize::Rsa2048));
        TestCa::root_with_key(name, key, TestCaOptions::default(), |t| {
            t.subject_public_key.algorithm = AlgorithmIdentifierOwned {
                oid: oid::ID_RSASSA_PSS,
                parameters: params,
            };
        })
    };
    let root = pss_root("CN=PSS Root,C=MA", None);
    let leaf = root.leaf("CN=ee.tiers.ma", |_| {});
    let c = cert(&root);
    assert!(
        c.public_key()
            .is_ok_and(|k| k.kind.rsa_bits() == Some(2048)),
        "{:?}",
        c.public_key()
    );
    validator(&[&root])
        .validate(&cert(&leaf), &[], &opts(Profile::Strict, Purpose::Any))
        .expect("PSS key, PSS-SHA256 signatures");
    // A key restricted to SHA-384 does not verify SHA-256 signatures.
    let sha384 = pki_core::signature::SignatureAlgorithm::RsaPssSha384
        .identifier()
        .parameters;
    let root = pss_root("CN=PSS384 Root,C=MA", sha384);
    let leaf = root.leaf("CN=ee.tiers.ma", |_| {});
    let e = validator(&[&root])
        .validate(&cert(&leaf), &[], &opts(Profile::Rfc5280, Purpose::Any))
        .expect_err("parameters restrict the key");
    assert_eq!(e.code(), "key_algorithm_mismatch", "{e}");
}

/// An end entity's key signs nothing in the path: an X25519 key is fine
/// unless the purpose signs with it.
#[test]
fn x25519_end_entity_key() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = root.leaf("CN=ee.tiers.ma", |t| {
        t.subject_public_key.algorithm = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.3.101.110"),
            parameters: None,
        };
        t.subject_public_key.subject_public_key =
            der::asn1::BitString::from_bytes(&[9u8; 32]).expect("bits");
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::KeyAgreement));
    });
    let v = validator(&[&root]);
    let p = v
        .validate(&cert(&leaf), &[], &opts(Profile::Strict, Purpose::Any))
        .expect("any purpose: the key is not used");
    assert!(
        p.legacy.iter().any(|n| n.contains("not checked")),
        "{:?}",
        p.legacy
    );
    let e = v
        .validate(
            &cert(&leaf),
            &[],
            &opts(Profile::Rfc5280, Purpose::ClientAuth),
        )
        .expect_err("TLS client authentication signs with the key");
    assert_eq!(e.code(), "unsupported_public_key");
}

#[test]
fn ed25519_anchor_and_intermediate_end_to_end() {
    let options = TestCaOptions {
        key_algorithm: KeyAlgorithm::Ed25519,
        ..TestCaOptions::default()
    };
    let root = TestCa::root_with("CN=Ed Root,C=MA", options.clone(), |_| {});
    let ica = root.intermediate("CN=Ed CA,C=MA", |_| {});
    let leaf = ica.leaf("CN=ee.tiers.ma", |_| {});
    let v = validator(&[&root]);
    let p = v
        .validate(
            &cert(&leaf),
            &[cert(&ica)],
            &opts(Profile::Strict, Purpose::ServerAuth),
        )
        .expect("Ed25519 all the way");
    assert_eq!(p.certs.len(), 3);
    // A leaf signed by another Ed25519 key with the same names fails.
    let other = TestCa::root_with("CN=Ed Root,C=MA", options, |_| {});
    let forged = other.leaf("CN=ee.tiers.ma", |t| {
        t.authority_key_id = AuthorityKeyId::Explicit(root.key_id().to_vec());
    });
    assert!(v
        .validate(&cert(&forged), &[], &opts(Profile::Rfc5280, Purpose::Any))
        .is_err());
}

/// A self-signed end-entity certificate configured as an anchor is a path
/// of one, with or without keyCertSign.
#[test]
fn direct_trust_in_a_self_signed_end_entity() {
    for usages in [
        KeyUsages::DigitalSignature.into(),
        KeyUsages::DigitalSignature | KeyUsages::KeyCertSign,
    ] {
        let ee = TestCa::root_with("CN=device.tiers.ma,C=MA", TestCaOptions::default(), |t| {
            t.basic_constraints = None;
            t.key_usage = Some(KeyUsageSpec::new(usages));
            t.extended_key_usage = vec![oid::KP_CLIENT_AUTH];
        });
        let p = validator(&[&ee])
            .validate(
                &cert(&ee),
                &[],
                &opts(Profile::Rfc5280, Purpose::ClientAuth),
            )
            .expect("directly trusted");
        assert_eq!(p.certs.len(), 1);
        // Not configured as an anchor: nothing issues it.
        let other = TestCa::root("CN=Other Root,C=MA");
        let e = validator(&[&other])
            .validate(
                &cert(&ee),
                &[],
                &opts(Profile::Rfc5280, Purpose::ClientAuth),
            )
            .expect_err("not trusted");
        assert_eq!(e.code(), "issuer_not_found");
    }
}

/// GeneralName forms x509-cert does not read decode as opaque names; a
/// name constraint on that form makes the path invalid, none lets it be.
#[test]
fn x400_address_in_subject_alt_name() {
    // SEQUENCE { [2] "ee.tiers.ma", [3] { SEQUENCE {} } }
    let mut san = vec![0x30, 0x11, 0x82, 0x0b];
    san.extend_from_slice(b"ee.tiers.ma");
    san.extend_from_slice(&[0xa3, 0x02, 0x30, 0x00]);
    let x400_leaf = |ca: &TestCa| {
        ca.leaf("CN=ee.tiers.ma", |t| {
            t.subject_alt_names.clear();
            t.extra_extensions.push(RawExtension {
                oid: oid::CE_SUBJECT_ALT_NAME,
                critical: false,
                value: san.clone(),
            });
        })
    };
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = x400_leaf(&root);
    let c = cert(&leaf);
    assert_eq!(c.extensions().san_opaque.len(), 1);
    validator(&[&root])
        .validate(&c, &[], &opts(Profile::Strict, Purpose::Any))
        .expect("no constraint judges the x400Address");
    // nameConstraints { permitted [0] { SEQUENCE { [3] { SEQUENCE {} } } } }
    let nc_root = TestCa::root("CN=NC Root,C=MA");
    let ica = nc_root.intermediate("CN=X400 NC CA,C=MA", |t| {
        t.extra_extensions.push(RawExtension {
            oid: oid::CE_NAME_CONSTRAINTS,
            critical: true,
            value: vec![0x30, 0x08, 0xa0, 0x06, 0x30, 0x04, 0xa3, 0x02, 0x30, 0x00],
        });
    });
    let leaf = x400_leaf(&ica);
    let e = validator(&[&nc_root])
        .validate(
            &cert(&leaf),
            &[cert(&ica)],
            &opts(Profile::Rfc5280, Purpose::Any),
        )
        .expect_err("a constrained form we cannot compare");
    assert_eq!(e.code(), "name_constraints_violated", "{e}");
}

/// RFC 5280 4.1.2.5.1: UTCTime 50-69 is 1950-1969.
#[test]
fn utc_time_before_1970_decodes() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let mut der = root.leaf("CN=ee.tiers.ma", |_| {}).cert_der().to_vec();
    // The builder wrote notBefore 2020-01-01 as UTCTime.
    let at = der
        .windows(13)
        .position(|w| w == b"200101000000Z")
        .expect("UTCTime notBefore");
    der[at..at + 13].copy_from_slice(b"600101000000Z");
    let c = Cert::from_der(&der).expect("decodes");
    assert_eq!(c.not_before().to_string(), "1960-01-01T00:00:00Z");
    assert!(c.not_before() < UnixTime(0));
    der[at..at + 13].copy_from_slice(b"601301000000Z");
    assert!(matches!(Cert::from_der(&der), Err(Error::BadDer { .. })));
}

/// Check of the template plumbing the cases above rely on.
#[test]
fn template_overrides_apply() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let tpl: &CertificateTemplate = root.template();
    assert!(tpl.basic_constraints.is_some_and(|b| b.critical));
}

/// RFC 5280 4.2.1.6: a dNSName outside the preferred name syntax is the
/// issuing CA's fault: a finding, an error under strict.
#[test]
fn dns_name_outside_the_preferred_syntax() {
    let root = TestCa::root("CN=TTP Root,O=Tiers,C=MA");
    let leaf = root.leaf("CN=Seal,O=Tiers,C=MA", |t| {
        t.subject_alt_names = vec![GeneralNameSpec::dns("foo_bar.tiers.ma")];
    });
    finding_under_rfc5280_error_under_strict(&root, &[], &leaf, 0, "RFC 5280 4.2.1.6");
    let ok = root.leaf("CN=Seal2,O=Tiers,C=MA", |t| {
        t.subject_alt_names = vec![GeneralNameSpec::dns("foo-bar.tiers.ma")];
    });
    validator(&[&root])
        .validate(&cert(&ok), &[], &opts(Profile::Strict, Purpose::Any))
        .expect("preferred syntax");
}
