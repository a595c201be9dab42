//! The validation result cache: reuse, what the key covers, expiry at the
//! earliest notAfter / nextUpdate, invalidation when a revocation source
//! changes, bounds, and failures never cached.

use std::sync::Arc;

use pki_core::cache::{ResultCache, ResultKey};
use pki_core::crl::{Crl, CrlSet};
use pki_core::name::PeerName;
use pki_core::revocation::{RevocationSource, TieredRevocation};
use pki_core::testing::{utc, TestCa};
use pki_core::trust::{AssuranceLevel, RevocationMethod, RevocationPolicy};
use pki_core::{
    AlgorithmPolicy, Cert, Error, Purpose, Tier, TrustStore, UnixTime, ValidationOptions, Validator,
};

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA output decodes"))
}

fn time(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("time")
}

fn validator(root: &TestCa, policy: RevocationPolicy) -> Validator {
    let mut t = TrustStore::new();
    t.add_tier(Tier::new("cnie", AssuranceLevel::High).with_revocation(policy))
        .expect("tier");
    t.add_anchor("cnie", cert(root)).expect("anchor");
    Validator::new(t)
}

struct Fixture {
    v: Validator,
    leaf: Arc<Cert>,
    inter: Vec<Arc<Cert>>,
}

/// Root -> CA -> leaf; the leaf expires 2031-01-01.
fn fixture() -> Fixture {
    let root = TestCa::root("CN=Root,C=MA");
    let ca = root.intermediate("CN=CNIE CA,C=MA", |_| {});
    let leaf = ca.leaf("CN=citizen.example.ma", |t| t.not_after = utc(2031, 1, 1));
    Fixture {
        v: validator(&root, RevocationPolicy::none()),
        leaf: cert(&leaf),
        inter: vec![cert(&ca)],
    }
}

#[test]
fn second_validation_is_a_hit_returning_the_same_result() {
    let f = fixture();
    let cache = ResultCache::new(1024, 3600);
    let opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    let a = cache
        .validate(&f.v, &f.leaf, &f.inter, &opts)
        .expect("valid");
    assert_eq!(cache.stats(), (0, 1));
    let (_, misses_before) = f.v.edge_cache().stats();
    let b = cache
        .validate(&f.v, &f.leaf, &f.inter, &opts)
        .expect("valid");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(cache.stats(), (1, 1));
    // The hit did not touch the validator at all.
    assert_eq!(f.v.edge_cache().stats().1, misses_before);
}

#[test]
fn every_option_that_changes_the_answer_is_in_the_key() {
    let f = fixture();
    let base = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    let key = |o: &ValidationOptions<'_>| ResultKey::new(&f.v, &f.leaf, &f.inter, o);
    let k0 = key(&base);
    // The time is not part of the key (expiry handles it).
    assert_eq!(
        k0,
        key(&ValidationOptions::at(time("2030-02-01T00:00:00Z")))
    );
    let variants: [fn(&mut ValidationOptions<'_>); 14] = [
        |o| o.purpose = Purpose::ServerAuth,
        |o| o.purpose = Purpose::ClientAuth,
        |o| o.peer_name = Some(PeerName::parse("citizen.example.ma").expect("name")),
        |o| o.peer_name = Some(PeerName::parse("citizen@example.ma").expect("name")),
        |o| o.peer_name = Some(PeerName::parse("192.0.2.1").expect("name")),
        |o| o.required_level = Some(AssuranceLevel::High),
        |o| o.required_level = Some(AssuranceLevel::Low),
        |o| o.max_intermediates = 1,
        |o| o.algorithm_policy = AlgorithmPolicy::Legacy,
        |o| o.policy.initial_explicit_policy = true,
        |o| o.policy.initial_policy_set = vec![pki_core::oid::ANY_POLICY],
        |o| o.require_revocation = true,
        |o| o.required_key_usage = vec![x509_cert::ext::pkix::KeyUsages::DigitalSignature],
        |o| o.required_key_usage = vec![x509_cert::ext::pkix::KeyUsages::NonRepudiation],
    ];
    let mut keys = vec![k0];
    for (i, edit) in variants.iter().enumerate() {
        let mut o = base.clone();
        edit(&mut o);
        let k = key(&o);
        assert!(!keys.contains(&k), "variant {i} shares a key");
        keys.push(k);
    }
    // Another chain, another key.
    assert_ne!(ResultKey::new(&f.v, &f.leaf, &[], &base), k0);
    // Another trust configuration, another key.
    let other = TestCa::root("CN=Root,C=MA");
    let v2 = validator(&other, RevocationPolicy::none());
    assert_ne!(ResultKey::new(&v2, &f.leaf, &f.inter, &base), k0);
}

#[test]
fn entry_expires_at_the_earliest_not_after() {
    let f = fixture();
    let cache = ResultCache::new(1024, u64::MAX);
    let at = time("2030-01-01T00:00:00Z");
    let opts = ValidationOptions::at(at);
    let path = cache
        .validate(&f.v, &f.leaf, &f.inter, &opts)
        .expect("valid");
    let not_after = time("2031-01-01T00:00:00Z");
    assert_eq!(cache.valid_until(&f.v, &path, at), not_after);
    let key = ResultKey::new(&f.v, &f.leaf, &f.inter, &opts);
    assert!(
        cache.get(&key, not_after, 0).is_some(),
        "notAfter is inclusive"
    );
    assert!(cache.get(&key, UnixTime(not_after.0 + 1), 0).is_none());
    // Dropped, not merely skipped.
    assert!(cache.get(&key, not_after, 0).is_none());
    assert_eq!(cache.len(), 0);
}

#[test]
fn entry_is_bounded_by_the_maximum_ttl_and_not_served_for_earlier_times() {
    let f = fixture();
    let cache = ResultCache::new(1024, 60);
    let at = time("2030-01-01T00:00:00Z");
    let opts = ValidationOptions::at(at);
    cache
        .validate(&f.v, &f.leaf, &f.inter, &opts)
        .expect("valid");
    let key = ResultKey::new(&f.v, &f.leaf, &f.inter, &opts);
    assert!(
        cache.get(&key, UnixTime(at.0 - 1), 0).is_none(),
        "before validation"
    );
    assert!(cache.get(&key, UnixTime(at.0 + 60), 0).is_some());
    assert!(cache.get(&key, UnixTime(at.0 + 61), 0).is_none());
}

fn crl_fixture(next_update: std::time::SystemTime) -> (Validator, Arc<Cert>, TieredRevocation) {
    let root = TestCa::root("CN=Root,C=MA");
    let leaf = root.leaf("CN=citizen.example.ma", |_| {});
    let crl = root.crl(|t| t.next_update = Some(next_update));
    let set = CrlSet::new(
        vec![Arc::new(Crl::from_der(&crl).expect("CRL"))],
        AlgorithmPolicy::Default,
    );
    let revocation = TieredRevocation::new().with_crl(Arc::new(set));
    let v = validator(&root, RevocationPolicy::hard_fail(&[RevocationMethod::Crl]));
    (v, cert(&leaf), revocation)
}

#[test]
fn entry_expires_at_the_crl_next_update() {
    let (v, leaf, revocation) = crl_fixture(utc(2030, 6, 1));
    let cache = ResultCache::new(1024, u64::MAX);
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    cache.validate(&v, &leaf, &[], &opts).expect("valid");
    let next = time("2030-06-01T00:00:00Z");
    let key = ResultKey::new(&v, &leaf, &[], &opts);
    assert!(cache.get(&key, next, revocation.generation()).is_some());
    // One second later the cached answer is gone and a fresh validation
    // sees the expired CRL under hard-fail.
    opts.time = UnixTime(next.0 + 1);
    assert!(matches!(
        cache.validate(&v, &leaf, &[], &opts),
        Err(Error::RevocationStatusUnavailable { .. })
    ));
}

#[test]
fn revocation_source_change_invalidates_entries() {
    let (v, leaf, revocation) = crl_fixture(utc(2035, 1, 1));
    let cache = ResultCache::new(1024, 3600);
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let a = cache.validate(&v, &leaf, &[], &opts).expect("valid");
    let b = cache.validate(&v, &leaf, &[], &opts).expect("valid");
    assert!(Arc::ptr_eq(&a, &b));
    revocation.note_change();
    let c = cache.validate(&v, &leaf, &[], &opts).expect("valid");
    assert!(!Arc::ptr_eq(&a, &c), "recomputed after the change");
    assert_eq!(cache.stats(), (1, 2));
}

#[test]
fn failures_are_not_cached() {
    let f = fixture();
    let cache = ResultCache::new(1024, 3600);
    let opts = ValidationOptions::at(time("2032-01-01T00:00:00Z"));
    for _ in 0..2 {
        assert!(matches!(
            cache.validate(&f.v, &f.leaf, &f.inter, &opts),
            Err(Error::CertExpired { index: 0, .. })
        ));
    }
    assert_eq!(cache.stats(), (0, 2));
    assert!(cache.is_empty());
}

#[test]
fn capacity_is_bounded() {
    let root = TestCa::root("CN=Root,C=MA");
    let v = validator(&root, RevocationPolicy::none());
    let cache = ResultCache::new(16, 3600);
    let opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    for i in 0..64 {
        let leaf = cert(&root.leaf(&format!("CN=l{i}.example.ma"), |_| {}));
        cache.validate(&v, &leaf, &[], &opts).expect("valid");
    }
    assert!(cache.len() <= 16, "{}", cache.len());
    cache.clear();
    assert!(cache.is_empty());
}

mod ocsp_support;

#[test]
fn ocsp_update_invalidates_and_ocsp_next_update_bounds_entries() {
    use pki_core::ocsp::{verify_response, OcspCache, VerifyOptions};
    use pki_core::revocation::RevocationReason;

    let pki = ocsp_support::Pki::new();
    let v = validator(
        &pki.ca,
        RevocationPolicy::hard_fail(&[RevocationMethod::Ocsp]),
    );
    let leaf = pki.leaf_cert();
    let ocsp = Arc::new(OcspCache::new(64));
    let check = |der: &[u8]| {
        verify_response(
            der,
            &leaf,
            &pki.ca_cert(),
            None,
            &VerifyOptions::at(time("2030-01-01T12:00:00Z")),
        )
        .expect("verifies")
    };
    ocsp.insert(check(&pki.answer().signed()));
    let revocation = TieredRevocation::new().with_ocsp(ocsp.clone());
    let cache = ResultCache::new(1024, u64::MAX);
    let mut opts = ValidationOptions::at(time("2030-01-02T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let path = cache.validate(&v, &leaf, &[], &opts).expect("good");
    assert_eq!(
        cache.valid_until(&v, &path, opts.time),
        time("2030-01-08T00:00:00Z"),
        "bounded by the OCSP nextUpdate"
    );
    cache.validate(&v, &leaf, &[], &opts).expect("cached");
    assert_eq!(cache.stats(), (1, 1));

    // The responder now says revoked: the cached "valid" must not be served.
    let mut a = pki
        .answer()
        .revoked(utc(2030, 1, 1), RevocationReason::KeyCompromise);
    a.this_update = utc(2030, 1, 1) + std::time::Duration::from_secs(60);
    ocsp.insert(check(&a.signed()));
    assert!(matches!(
        cache.validate(&v, &leaf, &[], &opts),
        Err(Error::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        })
    ));
}

#[test]
fn crl_cache_plugs_in_and_a_refreshed_crl_invalidates_entries() {
    use pki_core::crl::CrlCache;
    use pki_core::revocation::RevocationReason;

    let root = TestCa::root("CN=Root,C=MA");
    let leaf = root.leaf("CN=citizen.example.ma", |_| {});
    let root_cert = cert(&root);
    let v = validator(
        &root,
        RevocationPolicy::hard_fail(&[RevocationMethod::Ocsp, RevocationMethod::Crl]),
    );
    let now = time("2030-01-01T00:00:00Z");
    let crls = Arc::new(CrlCache::new(16, AlgorithmPolicy::Default));
    crls.offer(&root.crl(|t| t.crl_number = Some(1)), &root_cert, now)
        .expect("CRL 1 accepted");
    let revocation = TieredRevocation::new().with_crl(crls.clone());
    let cache = ResultCache::new(1024, 3600);
    let mut opts = ValidationOptions::at(now);
    opts.revocation = Some(&revocation);
    let leaf = cert(&leaf);
    cache.validate(&v, &leaf, &[], &opts).expect("good");
    cache.validate(&v, &leaf, &[], &opts).expect("cached");
    assert_eq!(cache.stats(), (1, 1));

    // The refresher brings CRL 2, which revokes the leaf.
    let serial = leaf.serial().to_vec();
    let crl2 = root.crl(|t| {
        t.crl_number = Some(2);
        t.revoked.push(
            pki_core::builder::CrlEntry::new(serial, utc(2029, 6, 1))
                .with_reason(RevocationReason::CessationOfOperation),
        );
    });
    crls.offer(&crl2, &root_cert, now).expect("CRL 2 accepted");
    assert_eq!(
        cache.validate(&v, &leaf, &[], &opts).expect_err("revoked"),
        Error::Revoked {
            index: 0,
            reason: RevocationReason::CessationOfOperation,
            revoked_at: time("2029-06-01T00:00:00Z"),
        }
    );
}
