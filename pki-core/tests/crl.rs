//! RFC 5280 section 6.3 CRL processing, end to end with the test CA:
//! every feature has a case that decides and one that must not.

use std::sync::Arc;

use pki_core::builder::{
    build_crl, CrlEntry, DistributionPointSpec, GeneralNameSpec, IssuingDistributionPointSpec,
    KeyUsageSpec, RawExtension,
};
use pki_core::crl::{Crl, CrlSet};
use pki_core::revocation::{RevocationReason, RevocationSource, RevocationStatus, StatusSource};
use pki_core::testing::{utc, SoftwareKey, TestCa};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Error, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};
use x509_cert::ext::pkix::crl::dp::Reasons;
use x509_cert::ext::pkix::KeyUsages;

fn at() -> UnixTime {
    UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").expect("valid time")
}

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA certificate decodes"))
}

fn crl(der: &[u8]) -> Arc<Crl> {
    Arc::new(Crl::from_der(der).expect("test CRL decodes"))
}

fn set(crls: &[&[u8]]) -> CrlSet {
    CrlSet::new(
        crls.iter().map(|d| crl(d)).collect(),
        AlgorithmPolicy::Default,
    )
}

/// Root -> "CN=Sub CA" -> leaf.
struct World {
    root: TestCa,
    sub: TestCa,
    leaf: TestCa,
}

fn world() -> World {
    world_with(|_| {})
}

fn world_with(leaf_edit: impl FnOnce(&mut pki_core::builder::CertificateTemplate)) -> World {
    let root = TestCa::root("CN=CRL Test Root,O=Example,C=MA");
    let sub = root.intermediate("CN=Sub CA,O=Example,C=MA", |_| {});
    let leaf = sub.leaf("CN=leaf.example.ma", leaf_edit);
    World { root, sub, leaf }
}

/// The status of `path[0]` (leaf, then its CAs, root last).
fn status(src: &dyn RevocationSource, path: &[&TestCa]) -> RevocationStatus {
    let certs: Vec<Arc<Cert>> = path.iter().map(|c| cert(c)).collect();
    let refs: Vec<&Cert> = certs.iter().map(AsRef::as_ref).collect();
    src.status(&refs, 0, at())
}

fn assert_revoked(s: &RevocationStatus, reason: RevocationReason, by: &[u8]) {
    match s {
        RevocationStatus::Revoked {
            reason: r,
            source: StatusSource::Crl { fingerprint, .. },
            ..
        } => {
            assert_eq!(*r, reason);
            assert_eq!(
                fingerprint,
                Crl::from_der(by).expect("CRL decodes").fingerprint()
            );
        }
        other => panic!("expected revoked ({reason}), got {other:?}"),
    }
}

fn assert_good(s: &RevocationStatus) {
    assert!(
        matches!(s, RevocationStatus::Good { .. }),
        "expected good, got {s:?}"
    );
}

fn assert_unknown(s: &RevocationStatus, needle: &str) {
    match s {
        RevocationStatus::Unknown { detail } => {
            assert!(
                detail.contains(needle),
                "detail {detail:?} lacks {needle:?}"
            );
        }
        other => panic!("expected unknown ({needle}), got {other:?}"),
    }
}

fn validate(
    root: &TestCa,
    pool: &[&TestCa],
    leaf: &TestCa,
    src: &dyn RevocationSource,
) -> Result<pki_core::ValidatedPath, Error> {
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("t", AssuranceLevel::High))
        .expect("new tier");
    trust.add_anchor("t", cert(root)).expect("new anchor");
    let pool: Vec<Arc<Cert>> = pool.iter().map(|c| cert(c)).collect();
    let mut opts = ValidationOptions::at(at());
    opts.revocation = Some(src);
    opts.require_revocation = true;
    Validator::new(trust).validate(&cert(leaf), &pool, &opts)
}

fn unknown_ext(critical: bool) -> RawExtension {
    RawExtension {
        oid: const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
        critical,
        value: vec![0x05, 0x00],
    }
}

// --- direct CRLs -----------------------------------------------------------

#[test]
fn direct_crl_revokes_with_reason_and_names_the_deciding_crl() {
    let w = world();
    let der = w.sub.crl(|t| {
        t.revoked.push(
            w.leaf
                .revocation()
                .with_reason(RevocationReason::KeyCompromise),
        );
    });
    let s = set(&[&der]);
    assert_revoked(
        &status(&s, &[&w.leaf, &w.sub, &w.root]),
        RevocationReason::KeyCompromise,
        &der,
    );
    let err = validate(&w.root, &[&w.sub], &w.leaf, &s).unwrap_err();
    assert!(matches!(
        err,
        Error::Revoked {
            index: 0,
            reason: RevocationReason::KeyCompromise,
            ..
        }
    ));
    // Another leaf of the same CA is not listed.
    let other = w.sub.leaf("CN=other.example.ma", |_| {});
    assert_good(&status(&s, &[&other, &w.sub, &w.root]));
}

#[test]
fn revoked_intermediate_is_rejected() {
    let w = world();
    let root_crl = w.root.crl(|t| t.revoked.push(w.sub.revocation()));
    let sub_crl = w.sub.crl(|_| {});
    let s = set(&[&root_crl, &sub_crl]);
    let err = validate(&w.root, &[&w.sub], &w.leaf, &s).unwrap_err();
    assert!(matches!(err, Error::Revoked { index: 1, .. }), "{err:?}");
}

#[test]
fn crl_with_a_bad_signature_is_ignored() {
    let w = world();
    let forger = SoftwareKey::generate(pki_core::testing::KeyAlgorithm::EcdsaP256);
    let mut tpl = pki_core::builder::CrlTemplate::new(w.sub.name().clone(), utc(2025, 1, 1), 5);
    tpl.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(w.sub.key_id().to_vec());
    tpl.next_update = Some(utc(2026, 1, 1));
    let forged = build_crl(&tpl, &forger).unwrap();
    let s = set(&[&forged]);
    assert_unknown(&status(&s, &[&w.leaf, &w.sub, &w.root]), "signature");
    let err = validate(&w.root, &[&w.sub], &w.leaf, &s).unwrap_err();
    assert!(matches!(
        err,
        Error::RevocationStatusUnavailable { index: 0, .. }
    ));
}

#[test]
fn validity_window_this_update_and_next_update() {
    let w = world();
    let future = w.sub.crl(|t| {
        t.this_update = utc(2026, 1, 1);
        t.next_update = Some(utc(2026, 2, 1));
    });
    assert_unknown(
        &status(&set(&[&future]), &[&w.leaf, &w.sub, &w.root]),
        "after the validation time",
    );
    let expired = w.sub.crl(|t| {
        t.this_update = utc(2025, 1, 1);
        t.next_update = Some(utc(2025, 2, 1));
    });
    assert_unknown(
        &status(&set(&[&expired]), &[&w.leaf, &w.sub, &w.root]),
        "expired",
    );
    let current = w.sub.crl(|t| {
        t.this_update = utc(2025, 5, 1);
        t.next_update = Some(utc(2025, 7, 1));
    });
    assert_good(&status(&set(&[&current]), &[&w.leaf, &w.sub, &w.root]));
}

#[test]
fn issuer_without_crl_sign_cannot_sign_crls() {
    let root = TestCa::root("CN=CRL Test Root,O=Example,C=MA");
    let sub = root.intermediate("CN=Sub CA,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::KeyCertSign));
    });
    let leaf = sub.leaf("CN=leaf.example.ma", |_| {});
    let der = sub.crl(|_| {});
    assert_unknown(&status(&set(&[&der]), &[&leaf, &sub, &root]), "cRLSign");
}

#[test]
fn signature_algorithm_is_under_the_algorithm_policy() {
    let w = world();
    // A CRL claiming sha1WithRSAEncryption: refused outright under the
    // default policy; under legacy the algorithm is allowed, and then the
    // (bogus) signature fails.
    let der = w.sub.crl(|_| {});
    let mut list = der::Decode::from_der(&der)
        .map(|l: x509_cert::crl::CertificateList| l)
        .unwrap();
    let sha1 = spki::AlgorithmIdentifierOwned {
        oid: const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        parameters: Some(der::asn1::Null.into()),
    };
    list.signature_algorithm = sha1.clone();
    list.tbs_cert_list.signature = sha1;
    let sha1_der = der::Encode::to_der(&list).unwrap();
    let path = [&w.leaf, &w.sub, &w.root];
    assert_unknown(&status(&set(&[&sha1_der]), &path), "legacy");
    let legacy = CrlSet::new(vec![crl(&sha1_der)], AlgorithmPolicy::Legacy);
    assert_unknown(&status(&legacy, &path), "key type does not match");
    assert_good(&status(&set(&[&der]), &path));
}

// --- separate CRL signers and key rollover ---------------------------------

#[test]
fn separate_crl_signer_validated_to_the_same_anchor() {
    let w = world();
    // The root certifies a CRL-signing key under the CA's name.
    let signer = w.root.leaf("CN=Sub CA,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::CRLSign));
        t.extended_key_usage.clear();
        t.subject_alt_names.clear();
    });
    let der = signer.crl(|t| {
        t.revoked.push(
            w.leaf
                .revocation()
                .with_reason(RevocationReason::Superseded),
        );
    });
    let path = [&w.leaf, &w.sub, &w.root];
    // Without the signer certificate nothing decides.
    assert_unknown(&status(&set(&[&der]), &path), "no certificate");
    let with_signer = set(&[&der]).with_signers(vec![cert(&signer)]);
    assert_revoked(
        &status(&with_signer, &path),
        RevocationReason::Superseded,
        &der,
    );
    assert!(matches!(
        validate(&w.root, &[&w.sub], &w.leaf, &with_signer),
        Err(Error::Revoked { index: 0, .. })
    ));

    // A signer certified under another root does not count.
    let stranger_root = TestCa::root("CN=Other Root,C=MA");
    let stranger = stranger_root.leaf("CN=Sub CA,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::CRLSign));
        t.extended_key_usage.clear();
    });
    let forged = stranger.crl(|t| t.revoked.push(w.leaf.revocation()));
    let s = set(&[&forged]).with_signers(vec![cert(&stranger)]);
    assert_unknown(&status(&s, &path), "CRL signer");

    // A signer whose keyUsage lacks cRLSign does not count either.
    let no_crl_sign = w.root.leaf("CN=Sub CA,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
        t.extended_key_usage.clear();
    });
    let der2 = no_crl_sign.crl(|t| t.revoked.push(w.leaf.revocation()));
    let s = set(&[&der2]).with_signers(vec![cert(&no_crl_sign)]);
    assert_unknown(&status(&s, &path), "lacks cRLSign");
}

#[test]
fn revoked_crl_signer_cannot_decide() {
    let w = world();
    let signer = w.root.leaf("CN=Sub CA,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::CRLSign));
        t.extended_key_usage.clear();
    });
    let der = signer.crl(|_| {});
    let root_crl = w.root.crl(|t| t.revoked.push(signer.revocation()));
    let s = set(&[&der, &root_crl]).with_signers(vec![cert(&signer)]);
    assert_unknown(&status(&s, &[&w.leaf, &w.sub, &w.root]), "revoked");
}

#[test]
fn key_rollover_crl_signed_by_the_new_key() {
    let w = world();
    // The CA rolls over: its new key is certified by its old key in a
    // self-issued certificate (RFC 4210 "new with old").
    let new_key = SoftwareKey::generate(pki_core::testing::KeyAlgorithm::EcdsaP256);
    let new_with_old = w
        .sub
        .intermediate_with_key("CN=Sub CA,O=Example,C=MA", new_key, |_| {});
    let der = new_with_old.crl(|t| {
        t.crl_number = Some(40);
        t.revoked.push(w.leaf.revocation());
    });
    let path = [&w.leaf, &w.sub, &w.root];
    assert_unknown(&status(&set(&[&der]), &path), "no certificate");
    let s = set(&[&der]).with_signers(vec![cert(&new_with_old)]);
    assert_revoked(&status(&s, &path), RevocationReason::Unspecified, &der);
    // A leaf the CA did not revoke is good under the new key's CRL.
    let other = w.sub.leaf("CN=other.example.ma", |_| {});
    assert_good(&status(&s, &[&other, &w.sub, &w.root]));
}

// --- indirect CRLs ------------------------------------------------------------

#[test]
fn indirect_crl_with_certificate_issuer_carried_forward() {
    let url = "http://crl.example.ma/indirect.crl";
    let root = TestCa::root("CN=CRL Test Root,O=Example,C=MA");
    let sub = root.intermediate("CN=Sub CA,O=Example,C=MA", |_| {});
    let other_ca = root.intermediate("CN=Other CA,O=Example,C=MA", |_| {});
    let crl_issuer = root.leaf("CN=Indirect CRL Issuer,O=Example,C=MA", |t| {
        t.key_usage = Some(KeyUsageSpec::new(KeyUsages::CRLSign));
        t.extended_key_usage.clear();
    });
    let dp = DistributionPointSpec {
        full_name: vec![GeneralNameSpec::uri(url)],
        reasons: None,
        crl_issuer: vec![GeneralNameSpec::Directory(crl_issuer.name().clone())],
    };
    let leaf = sub.leaf("CN=leaf.example.ma", |t| {
        t.crl_distribution_points.push(dp.clone());
    });
    let sibling = sub.leaf("CN=sibling.example.ma", |t| {
        t.crl_distribution_points.push(dp.clone());
    });
    let build = |indirect: bool, sub_serials: &[&[u8]]| {
        crl_issuer.crl(|t| {
            t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                full_name: vec![GeneralNameSpec::uri(url)],
                indirect_crl: indirect,
                ..IssuingDistributionPointSpec::default()
            });
            // An entry of another CA with the same serial as our leaf...
            let mut e = CrlEntry::new(leaf.serial().to_vec(), utc(2024, 1, 1));
            e.certificate_issuer = vec![GeneralNameSpec::Directory(other_ca.name().clone())];
            t.revoked.push(e);
            // ...then a certificateIssuer switch to Sub CA, carried forward.
            for (i, serial) in sub_serials.iter().enumerate() {
                let mut e = CrlEntry::new(serial.to_vec(), utc(2024, 1, 1))
                    .with_reason(RevocationReason::AffiliationChanged);
                if i == 0 {
                    e.certificate_issuer = vec![GeneralNameSpec::Directory(sub.name().clone())];
                }
                t.revoked.push(e);
            }
        })
    };
    let dummy = [0x01, 0x02, 0x03];
    let der = build(true, &[&dummy, leaf.serial()]);
    let s = set(&[&der]).with_signers(vec![cert(&crl_issuer)]);
    assert_revoked(
        &status(&s, &[&leaf, &sub, &root]),
        RevocationReason::AffiliationChanged,
        &der,
    );
    assert_good(&status(&s, &[&sibling, &sub, &root]));

    // Only the other CA's entry carries our leaf's serial: good.
    let der = build(true, &[&dummy]);
    let s = set(&[&der]).with_signers(vec![cert(&crl_issuer)]);
    assert_good(&status(&s, &[&leaf, &sub, &root]));

    // The same list without indirectCRL cannot be used for this leaf.
    let der = build(false, &[&dummy, leaf.serial()]);
    let s = set(&[&der]).with_signers(vec![cert(&crl_issuer)]);
    assert_unknown(&status(&s, &[&leaf, &sub, &root]), "not indirect");
}

// --- scope ------------------------------------------------------------------

#[test]
fn distribution_point_names_must_match() {
    let w = world_with(|t| {
        t.crl_distribution_points
            .push(DistributionPointSpec::uri("http://crl.example.ma/sub.crl"));
    });
    let scoped = |url: &str| {
        w.sub.crl(|t| {
            t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                full_name: vec![GeneralNameSpec::uri(url)],
                ..IssuingDistributionPointSpec::default()
            });
        })
    };
    let path = [&w.leaf, &w.sub, &w.root];
    assert_good(&status(
        &set(&[&scoped("http://crl.example.ma/sub.crl")]),
        &path,
    ));
    assert_unknown(
        &status(&set(&[&scoped("http://crl.example.ma/other.crl")]), &path),
        "distribution point does not match",
    );
}

#[test]
fn only_contains_user_or_ca_certs() {
    let w = world();
    let user_only = w.sub.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_user_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
    });
    let ca_only = w.sub.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_ca_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
    });
    let attr_only = w.sub.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_attribute_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
    });
    let path = [&w.leaf, &w.sub, &w.root];
    assert_good(&status(&set(&[&user_only]), &path));
    assert_unknown(&status(&set(&[&ca_only]), &path), "CA certificates only");
    assert_unknown(&status(&set(&[&attr_only]), &path), "attribute");
    // For the CA certificate it is the other way round.
    let root_user_only = w.root.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_user_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
    });
    let root_ca_only = w.root.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_ca_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
    });
    assert_good(&status(&set(&[&root_ca_only]), &[&w.sub, &w.root]));
    assert_unknown(
        &status(&set(&[&root_user_only]), &[&w.sub, &w.root]),
        "end-entity certificates only",
    );
}

#[test]
fn only_some_reasons_accumulate_over_two_crls() {
    let w = world();
    let key_reasons = Reasons::KeyCompromise | Reasons::CaCompromise;
    let other_reasons = Reasons::AffiliationChanged
        | Reasons::Superseded
        | Reasons::CessationOfOperation
        | Reasons::CertificateHold
        | Reasons::PrivilegeWithdrawn
        | Reasons::AaCompromise;
    let part = |n: u64, reasons, revoked: bool| {
        w.sub.crl(|t| {
            t.crl_number = Some(n);
            t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                only_some_reasons: Some(reasons),
                ..IssuingDistributionPointSpec::default()
            });
            if revoked {
                t.revoked.push(
                    w.leaf
                        .revocation()
                        .with_reason(RevocationReason::Superseded),
                );
            }
        })
    };
    let a = part(1, key_reasons, false);
    let b = part(2, other_reasons, false);
    let b_revoking = part(3, other_reasons, true);
    let path = [&w.leaf, &w.sub, &w.root];
    assert_unknown(&status(&set(&[&a]), &path), "only reason bits");
    assert_good(&status(&set(&[&a, &b]), &path));
    assert_revoked(
        &status(&set(&[&a, &b_revoking]), &path),
        RevocationReason::Superseded,
        &b_revoking,
    );
    // Reasons the certificate's distribution point restricts count too.
    let w2 = world_with(|t| {
        t.crl_distribution_points.push(DistributionPointSpec {
            reasons: Some(key_reasons),
            ..DistributionPointSpec::default()
        });
    });
    let full = w2.sub.crl(|_| {});
    assert_unknown(
        &status(&set(&[&full]), &[&w2.leaf, &w2.sub, &w2.root]),
        "only reason bits",
    );
}

#[test]
fn unknown_critical_extensions_cannot_decide() {
    let w = world();
    let path = [&w.leaf, &w.sub, &w.root];
    let crl_ext = w.sub.crl(|t| t.extra_extensions.push(unknown_ext(true)));
    assert_unknown(
        &status(&set(&[&crl_ext]), &path),
        "unknown critical extension",
    );
    let entry_ext = w.sub.crl(|t| {
        let mut e = CrlEntry::new(vec![0x42], utc(2024, 1, 1));
        e.extra_extensions.push(unknown_ext(true));
        t.revoked.push(e);
    });
    assert_unknown(
        &status(&set(&[&entry_ext]), &path),
        "unknown critical entry extension",
    );
    // The same extensions, non-critical, are ignored.
    let benign = w.sub.crl(|t| {
        t.extra_extensions.push(unknown_ext(false));
        let mut e = CrlEntry::new(vec![0x42], utc(2024, 1, 1));
        e.extra_extensions.push(unknown_ext(false));
        t.revoked.push(e);
    });
    assert_good(&status(&set(&[&benign]), &path));
}

#[test]
fn crl_number_is_required_unless_allowed() {
    let w = world();
    let path = [&w.leaf, &w.sub, &w.root];
    let unnumbered = w.sub.crl(|t| t.crl_number = None);
    assert_unknown(&status(&set(&[&unnumbered]), &path), "cRLNumber");
    let v1 = w.sub.crl(|t| {
        t.version = x509_cert::Version::V1;
        t.crl_number = None;
        t.authority_key_id = pki_core::builder::AuthorityKeyId::Absent;
        t.revoked
            .push(CrlEntry::new(w.leaf.serial().to_vec(), utc(2024, 1, 1)));
    });
    let parsed = Crl::from_der(&v1).unwrap();
    assert_eq!(parsed.version(), 1);
    assert_eq!(parsed.len(), 1);
    assert_unknown(&status(&set(&[&v1]), &path), "cRLNumber");
    let lenient = set(&[&v1]).allow_unnumbered(true);
    assert_revoked(&status(&lenient, &path), RevocationReason::Unspecified, &v1);
}

// --- delta CRLs and hold ----------------------------------------------------

#[test]
fn delta_crl_adds_an_entry() {
    let w = world();
    let path = [&w.leaf, &w.sub, &w.root];
    let base = w.sub.crl(|t| t.crl_number = Some(10));
    let delta = |number: u64, base_number: u64| {
        w.sub.crl(|t| {
            t.crl_number = Some(number);
            t.delta_crl_indicator = Some(base_number);
            t.revoked.push(
                w.leaf
                    .revocation()
                    .with_reason(RevocationReason::KeyCompromise),
            );
        })
    };
    let d = delta(11, 10);
    assert_revoked(
        &status(&set(&[&base, &d]), &path),
        RevocationReason::KeyCompromise,
        &d,
    );
    // A delta alone never decides.
    assert_unknown(&status(&set(&[&d]), &path), "no complete CRL");
    // A delta for a newer base than the one we have is not applied.
    let ahead = delta(13, 12);
    assert_good(&status(&set(&[&base, &ahead]), &path));
    // A delta with another scope is not applied.
    let other_scope = w.sub.crl(|t| {
        t.crl_number = Some(11);
        t.delta_crl_indicator = Some(10);
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            only_contains_user_certs: true,
            ..IssuingDistributionPointSpec::default()
        });
        t.revoked.push(w.leaf.revocation());
    });
    assert_good(&status(&set(&[&base, &other_scope]), &path));
}

#[test]
fn hold_then_remove_from_crl_in_a_delta() {
    let w = world();
    let path = [&w.leaf, &w.sub, &w.root];
    let base = w.sub.crl(|t| {
        t.crl_number = Some(20);
        t.revoked.push(
            w.leaf
                .revocation()
                .with_reason(RevocationReason::CertificateHold),
        );
    });
    // On hold: reported as revoked with reason certificateHold.
    assert_revoked(
        &status(&set(&[&base]), &path),
        RevocationReason::CertificateHold,
        &base,
    );
    let release = w.sub.crl(|t| {
        t.crl_number = Some(21);
        t.delta_crl_indicator = Some(20);
        t.revoked.push(
            w.leaf
                .revocation()
                .with_reason(RevocationReason::RemoveFromCrl),
        );
    });
    assert_good(&status(&set(&[&base, &release]), &path));
    let root_crl = w.root.crl(|_| {});
    let both = set(&[&base, &release, &root_crl]);
    assert!(validate(&w.root, &[&w.sub], &w.leaf, &both).is_ok());
}

// --- decoding -----------------------------------------------------------------

#[test]
fn entries_are_indexed_with_reason_and_dates() {
    let w = world();
    let der = w.sub.crl(|t| {
        for i in 1..=500u32 {
            let mut e = CrlEntry::new(i.to_be_bytes().to_vec(), utc(2024, 1, 1))
                .with_reason(RevocationReason::CessationOfOperation);
            if i % 7 == 0 {
                e.invalidity_date = Some(utc(2023, 12, 1));
            }
            // Minimal INTEGER encoding.
            while e.serial.len() > 1 && e.serial[0] == 0 && e.serial[1] & 0x80 == 0 {
                e.serial.remove(0);
            }
            t.revoked.push(e);
        }
    });
    let c = Crl::from_der(&der).unwrap();
    assert_eq!(c.len(), 500);
    let e = c.lookup(&[0x01, 0xc0]).unwrap(); // 448 = 7 * 64
    assert_eq!(e.reason, RevocationReason::CessationOfOperation);
    assert_eq!(
        e.revoked_at,
        UnixTime::parse_rfc3339("2024-01-01T00:00:00Z").unwrap()
    );
    assert_eq!(
        e.invalidity_date,
        Some(UnixTime::parse_rfc3339("2023-12-01T00:00:00Z").unwrap())
    );
    assert_eq!(c.lookup(&[0x01, 0xc1]).unwrap().invalidity_date, None);
    assert!(c.lookup(&[0x02, 0x00]).is_none());
}

#[test]
fn duplicate_entries_and_bad_encodings_are_errors() {
    let w = world();
    let dup = w.sub.crl(|t| {
        t.revoked.push(CrlEntry::new(vec![5], utc(2024, 1, 1)));
        t.revoked.push(CrlEntry::new(vec![5], utc(2024, 1, 2)));
    });
    assert!(matches!(Crl::from_der(&dup), Err(Error::Crl(m)) if m.contains("twice")));
    let good = w.sub.crl(|_| {});
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(Crl::from_der(&trailing).is_err());
    for cut in [1, good.len() / 2, good.len() - 1] {
        assert!(Crl::from_der(&good[..cut]).is_err());
    }
}

#[test]
fn mutated_crls_are_errors_or_crls_never_panics() {
    let w = world();
    let der = w.sub.crl(|t| {
        t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
            full_name: vec![GeneralNameSpec::uri("http://crl.example.ma/x.crl")],
            indirect_crl: true,
            ..IssuingDistributionPointSpec::default()
        });
        for i in 1..=40u8 {
            let mut e = CrlEntry::new(vec![i], utc(2024, 1, 1 + i % 20))
                .with_reason(RevocationReason::KeyCompromise);
            if i % 5 == 0 {
                e.invalidity_date = Some(utc(2023, 1, 1));
                e.certificate_issuer = vec![GeneralNameSpec::Directory(w.root.name().clone())];
            }
            t.revoked.push(e);
        }
    });
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        usize::try_from(x % (1 << 31)).expect("fits")
    };
    let leaf = cert(&w.leaf);
    let (mut ok, mut err) = (0, 0);
    for round in 0..4000 {
        let mut m = der.clone();
        match round % 4 {
            0 => {
                let i = next() % m.len();
                m[i] ^= u8::try_from(1 + next() % 255).expect("fits");
            }
            1 => m.truncate(next() % m.len()),
            2 => {
                let i = next() % m.len();
                m.insert(i, u8::try_from(next() % 256).expect("fits"));
            }
            _ => {
                let i = next() % m.len();
                m[i] = [0x00, 0x80, 0x81, 0xff, 0x30, 0x02][next() % 6];
            }
        }
        match Crl::from_der(&m) {
            Ok(c) => {
                ok += 1;
                let _ = c.entry_for(&leaf);
                let _ = c.lookup(&[5]);
            }
            Err(_) => err += 1,
        }
    }
    assert!(
        err > 3000,
        "most mutations must be rejected ({ok} accepted)"
    );
}

#[test]
fn expired_crl_fails_hard_and_warns_soft() {
    let w = world();
    let expired = w.sub.crl(|t| {
        t.this_update = utc(2025, 1, 1);
        t.next_update = Some(utc(2025, 2, 1));
        t.revoked.push(w.leaf.revocation());
    });
    let root_crl = w.root.crl(|_| {});
    let s = set(&[&expired, &root_crl]);
    // Hard fail (required status): invalid, naming the certificate.
    let err = validate(&w.root, &[&w.sub], &w.leaf, &s).unwrap_err();
    assert!(
        matches!(&err, Error::RevocationStatusUnavailable { index: 0, detail } if detail.contains("expired")),
        "{err:?}"
    );
    // Soft fail: valid, with a warning and an unchecked status.
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("t", AssuranceLevel::High))
        .unwrap();
    trust.add_anchor("t", cert(&w.root)).unwrap();
    let mut opts = ValidationOptions::at(at());
    opts.revocation = Some(&s);
    let p = Validator::new(trust)
        .validate(&cert(&w.leaf), &[cert(&w.sub)], &opts)
        .unwrap();
    assert!(matches!(p.revocation[0], RevocationStatus::Unknown { .. }));
    assert!(matches!(p.revocation[1], RevocationStatus::Good { .. }));
    assert!(
        p.warnings.iter().any(|w| w.contains("expired")),
        "{:?}",
        p.warnings
    );
}
