//! Path building and the validator's own behaviour, on hierarchies from the
//! software test CA: backtracking, loops, the work budget, the verified-edge
//! cache and tier levels.

use std::sync::Arc;

use const_oid::ObjectIdentifier;
use pki_core::testing::{KeyAlgorithm, SoftwareKey, TestCa, TestCaOptions};
use pki_core::trust::AssuranceLevel;
use pki_core::{Cert, Error, Tier, TrustStore, UnixTime, ValidationOptions, Validator};

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA output decodes"))
}

fn store(tier: Tier, anchors: &[&TestCa]) -> TrustStore {
    let name = tier.name.clone();
    let mut t = TrustStore::new();
    t.add_tier(tier).expect("tier");
    for a in anchors {
        t.add_anchor(&name, cert(a)).expect("anchor");
    }
    t
}

fn at_2030() -> ValidationOptions<'static> {
    ValidationOptions::at(UnixTime::parse_rfc3339("2030-01-01T00:00:00Z").expect("time"))
}

#[test]
fn second_validation_reuses_verified_edges() {
    let root = TestCa::root("CN=Root,C=MA");
    let ica = root.intermediate("CN=CNIE CA,C=MA", |_| {});
    let leaf1 = ica.leaf("CN=a.example.ma", |_| {});
    let leaf2 = ica.leaf("CN=b.example.ma", |_| {});
    let v = Validator::new(store(Tier::new("cnie", AssuranceLevel::High), &[&root]));
    let opts = at_2030();
    let inter = [cert(&ica)];
    v.validate(&cert(&leaf1), &inter, &opts).expect("first");
    let (hits_before, _) = v.edge_cache().stats();
    assert_eq!(v.edge_cache().len(), 2);
    v.validate(&cert(&leaf2), &inter, &opts).expect("second");
    let (hits_after, _) = v.edge_cache().stats();
    // The intermediate -> root edge came from the cache; only the new leaf was verified.
    assert_eq!(hits_after - hits_before, 1);
    assert_eq!(v.edge_cache().len(), 3);
}

/// The cache keys on the signed content and the signature: a copy of a
/// verified certificate with its signature altered is verified afresh and
/// refused, however warm the cache.
#[test]
fn a_verified_tbs_with_another_signature_is_not_a_cache_hit() {
    let root = TestCa::root("CN=Root,C=MA");
    let ica = root.intermediate("CN=CNIE CA,C=MA", |_| {});
    let leaf = ica.leaf("CN=a.example.ma", |_| {});
    let v = Validator::new(store(Tier::new("cnie", AssuranceLevel::High), &[&root]));
    let opts = at_2030();
    let inter = [cert(&ica)];
    v.validate(&cert(&leaf), &inter, &opts).expect("genuine");
    // The signature BIT STRING ends the certificate: change its last octet.
    let mut forged = leaf.cert_der().to_vec();
    *forged.last_mut().expect("non-empty") ^= 0x01;
    let forged = Arc::new(Cert::from_der(&forged).expect("still well formed"));
    assert_eq!(forged.tbs_der(), cert(&leaf).tbs_der());
    let err = v
        .validate(&forged, &inter, &opts)
        .expect_err("forged signature");
    assert!(matches!(err, Error::SignatureInvalid { .. }), "{err:?}");
    // And the genuine one still validates from the cache.
    v.validate(&cert(&leaf), &inter, &opts)
        .expect("genuine again");
}

#[test]
fn edge_cache_is_bounded() {
    let cache = pki_core::cache::VerifiedEdgeCache::new(16);
    let root = TestCa::root("CN=Root,C=MA");
    let root_cert = cert(&root);
    for i in 0..100 {
        let leaf = cert(&root.leaf(&format!("CN=l{i}.example.ma"), |_| {}));
        cache.insert(&root_cert, &leaf, pki_core::AlgorithmPolicy::Default);
    }
    assert!(cache.len() <= 16, "{}", cache.len());
}

#[test]
fn builder_backtracks_from_an_untrusted_candidate() {
    let trusted = TestCa::root("CN=Trusted Root,C=MA");
    let untrusted = TestCa::root("CN=Other Root,C=MA");
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    // The same CA (subject and key) certified by two roots; only one is trusted.
    let via_other = untrusted.intermediate_with_key("CN=Sub CA,C=MA", key.clone(), |_| {});
    let via_trusted = trusted.intermediate_with_key("CN=Sub CA,C=MA", key, |_| {});
    let leaf = via_trusted.leaf("CN=citizen.example.ma", |_| {});
    let v = Validator::new(store(Tier::new("cnie", AssuranceLevel::High), &[&trusted]));
    let path = v
        .validate(
            &cert(&leaf),
            &[cert(&via_other), cert(&via_trusted)],
            &at_2030(),
        )
        .expect("valid through the second candidate");
    assert_eq!(
        path.certs[1].fingerprint(),
        cert(&via_trusted).fingerprint()
    );
    assert_eq!(path.tier_name, "cnie");
}

#[test]
fn cross_signed_loop_without_anchor_ends_with_issuer_not_found() {
    let anchor = TestCa::root("CN=Unrelated Root,C=MA");
    let key_a = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let key_b = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let a = TestCa::root_with_key("CN=A,C=MA", key_a.clone(), TestCaOptions::default(), |_| {});
    let b_by_a = a.intermediate_with_key("CN=B,C=MA", key_b.clone(), |_| {});
    let b = TestCa::root_with_key("CN=B,C=MA", key_b, TestCaOptions::default(), |_| {});
    let a_by_b = b.intermediate_with_key("CN=A,C=MA", key_a, |_| {});
    let leaf = b_by_a.leaf("CN=x.example.ma", |_| {});
    let v = Validator::new(store(Tier::new("t", AssuranceLevel::Low), &[&anchor]));
    let err = v
        .validate(&cert(&leaf), &[cert(&b_by_a), cert(&a_by_b)], &at_2030())
        .expect_err("no path");
    assert!(matches!(err, Error::IssuerNotFound { .. }), "{err}");
}

#[test]
fn hostile_pool_exhausts_the_budget_not_the_cpu() {
    let anchor = TestCa::root("CN=Root,C=MA");
    let ca = anchor.intermediate("CN=Busy CA,C=MA", |_| {});
    let leaf = ca.leaf("CN=x.example.ma", |_| {});
    // 150 impostors with the issuer's name and no AKI/SKI link: each costs a signature check.
    let pool: Vec<Arc<Cert>> = (0..150)
        .map(|_| {
            cert(
                &TestCa::root("CN=Other,C=MA").intermediate("CN=Busy CA,C=MA", |t| {
                    t.subject_key_id = pki_core::builder::SubjectKeyId::Absent;
                }),
            )
        })
        .collect();
    let mut tight = at_2030();
    tight.budget.signatures = 20;
    let v = Validator::new(store(Tier::new("t", AssuranceLevel::Low), &[&anchor]));
    let err = v.validate(&cert(&leaf), &pool, &tight).expect_err("budget");
    assert!(matches!(err, Error::BudgetExceeded { .. }), "{err}");
}

#[test]
fn tier_policy_levels_and_required_level() {
    let cnie_high = ObjectIdentifier::new_unwrap("2.16.504.99.1.1");
    let cnie_low = ObjectIdentifier::new_unwrap("2.16.504.99.1.9");
    let root = TestCa::root("CN=Root,C=MA");
    let ica = root.intermediate("CN=CNIE CA,C=MA", |t| {
        t.certificate_policies = vec![cnie_high, cnie_low];
    });
    let high = ica.leaf("CN=high.example.ma", |t| {
        t.certificate_policies = vec![cnie_high];
    });
    let low = ica.leaf("CN=low.example.ma", |t| {
        t.certificate_policies = vec![cnie_low];
    });
    let none = ica.leaf("CN=none.example.ma", |_| {});
    let mut tier = Tier::new("cnie", AssuranceLevel::High);
    tier.policy_levels = vec![
        (cnie_high, AssuranceLevel::High),
        (cnie_low, AssuranceLevel::Low),
    ];
    let v = Validator::new(store(tier, &[&root]));
    let inter = [cert(&ica)];
    let mut opts = at_2030();
    assert_eq!(
        v.validate(&cert(&high), &inter, &opts).expect("high").level,
        AssuranceLevel::High
    );
    assert_eq!(
        v.validate(&cert(&low), &inter, &opts).expect("low").level,
        AssuranceLevel::Low
    );
    assert!(matches!(
        v.validate(&cert(&none), &inter, &opts),
        Err(Error::NoAssurancePolicy { .. })
    ));
    opts.required_level = Some(AssuranceLevel::Substantial);
    assert!(matches!(
        v.validate(&cert(&low), &inter, &opts),
        Err(Error::AssuranceLevelTooLow {
            reached: AssuranceLevel::Low,
            required: AssuranceLevel::Substantial
        })
    ));
    v.validate(&cert(&high), &inter, &opts)
        .expect("high meets substantial");
}

#[test]
fn every_key_type_of_the_test_ca_validates() {
    for alg in KeyAlgorithm::ALL {
        let options = TestCaOptions {
            key_algorithm: alg,
            ..Default::default()
        };
        let root = TestCa::root_with("CN=Root,C=MA", options, |_| {});
        let leaf = root.leaf("CN=x.example.ma", |_| {});
        let v = Validator::new(store(Tier::new("t", AssuranceLevel::Low), &[&root]));
        v.validate(&cert(&leaf), &[], &at_2030())
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
    }
}
