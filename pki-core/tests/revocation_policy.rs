//! Per-tier revocation policy: which sources a tier consults, in which
//! order, and whether a missing status fails the path, through
//! `TieredRevocation` and the real CRL set.

use std::sync::Arc;

use pki_core::crl::{Crl, CrlSet};
use pki_core::revocation::{
    RevocationReason, RevocationSource, RevocationStatus, StatusSource, TieredRevocation,
};
use pki_core::testing::{utc, TestCa};
use pki_core::trust::{AssuranceLevel, RevocationMethod, RevocationPolicy};
use pki_core::{
    AlgorithmPolicy, Cert, Error, Tier, TrustStore, UnixTime, ValidationOptions, Validator,
};

const CRL_ONLY: &[RevocationMethod] = &[RevocationMethod::Crl];
const OCSP_THEN_CRL: &[RevocationMethod] = &[RevocationMethod::Ocsp, RevocationMethod::Crl];

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA output decodes"))
}

fn validator(root: &TestCa, policy: RevocationPolicy) -> Validator {
    let mut t = TrustStore::new();
    t.add_tier(Tier::new("cnie", AssuranceLevel::High).with_revocation(policy))
        .expect("tier");
    t.add_anchor("cnie", cert(root)).expect("anchor");
    Validator::new(t)
}

fn time(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("time")
}

fn crl_set(ders: &[Vec<u8>]) -> Arc<CrlSet> {
    let crls = ders
        .iter()
        .map(|d| Arc::new(Crl::from_der(d).expect("CRL decodes")))
        .collect();
    Arc::new(CrlSet::new(crls, AlgorithmPolicy::Default))
}

/// Root -> leaf, and a CRL of the root valid 2020-01-01 .. 2025-01-01.
fn hierarchy(revoke_leaf: bool) -> (TestCa, TestCa, Vec<u8>) {
    let root = TestCa::root("CN=CNIE Root,C=MA");
    let leaf = root.leaf("CN=citizen.example.ma", |_| {});
    let crl = root.crl(|t| {
        t.next_update = Some(utc(2025, 1, 1));
        if revoke_leaf {
            t.revoked.push(
                leaf.revocation()
                    .with_reason(RevocationReason::KeyCompromise),
            );
        }
    });
    (root, leaf, crl)
}

#[test]
fn expired_crl_under_hard_fail_is_rejected() {
    let (root, leaf, crl) = hierarchy(false);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::hard_fail(CRL_ONLY));
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let err = v.validate(&cert(&leaf), &[], &opts).expect_err("hard-fail");
    let Error::RevocationStatusUnavailable { index, detail } = err else {
        panic!("expected RevocationStatusUnavailable, got {err:?}");
    };
    assert_eq!(index, 0);
    assert!(
        detail.starts_with("crl: ") && detail.contains("expired at 2025-01-01T00:00:00Z"),
        "{detail}"
    );
}

#[test]
fn expired_crl_under_soft_fail_is_accepted_with_a_warning() {
    let (root, leaf, crl) = hierarchy(false);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::soft_fail(CRL_ONLY));
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let path = v.validate(&cert(&leaf), &[], &opts).expect("soft-fail");
    assert_eq!(path.warnings.len(), 1, "{:?}", path.warnings);
    assert!(
        path.warnings[0]
            .starts_with("certificate 0: revocation unchecked, accepted under soft-fail")
            && path.warnings[0].contains("expired at 2025-01-01T00:00:00Z"),
        "{:?}",
        path.warnings
    );
    assert!(matches!(
        path.revocation[..],
        [RevocationStatus::Unknown { .. }]
    ));
}

#[test]
fn current_crl_answers_with_its_freshness() {
    let (root, leaf, crl) = hierarchy(false);
    let set = crl_set(&[crl]);
    let fingerprint = *set.crls()[0].fingerprint();
    let revocation = TieredRevocation::new().with_crl(set);
    let v = validator(&root, RevocationPolicy::hard_fail(CRL_ONLY));
    let at = time("2024-01-01T00:00:00Z");
    let mut opts = ValidationOptions::at(at);
    opts.revocation = Some(&revocation);
    let path = v.validate(&cert(&leaf), &[], &opts).expect("good");
    assert!(path.warnings.is_empty(), "{:?}", path.warnings);
    let [RevocationStatus::Good { source }] = &path.revocation[..] else {
        panic!("{:?}", path.revocation);
    };
    assert_eq!(
        *source,
        StatusSource::Crl {
            fingerprint,
            this_update: time("2020-01-01T00:00:00Z"),
            next_update: Some(time("2025-01-01T00:00:00Z")),
        }
    );
    assert_eq!(source.method(), RevocationMethod::Crl);
    assert_eq!(
        source.age_at(at),
        (at.0 - time("2020-01-01T00:00:00Z").0) as u64
    );
}

#[test]
fn revoked_leaf_by_crl_is_rejected_with_reason_and_date() {
    let (root, leaf, crl) = hierarchy(true);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::soft_fail(CRL_ONLY));
    let mut opts = ValidationOptions::at(time("2024-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    assert_eq!(
        v.validate(&cert(&leaf), &[], &opts).expect_err("revoked"),
        Error::Revoked {
            index: 0,
            reason: RevocationReason::KeyCompromise,
            revoked_at: time("2020-01-01T00:00:00Z"),
        }
    );
}

#[test]
fn missing_first_source_falls_back_to_the_next() {
    let (root, leaf, crl) = hierarchy(false);
    // OCSP first, but no OCSP source is configured: the CRL answers.
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::hard_fail(OCSP_THEN_CRL));
    let mut opts = ValidationOptions::at(time("2024-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let path = v.validate(&cert(&leaf), &[], &opts).expect("CRL answers");
    assert_eq!(
        path.revocation[0].source().map(StatusSource::method),
        Some(RevocationMethod::Crl)
    );
}

#[test]
fn hard_fail_error_lists_every_source_tried() {
    let (root, leaf, crl) = hierarchy(false);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::hard_fail(OCSP_THEN_CRL));
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let err = v
        .validate(&cert(&leaf), &[], &opts)
        .expect_err("nothing current");
    // Each source in policy order, with its own reason.
    let Error::RevocationStatusUnavailable { index: 0, detail } = &err else {
        panic!("{err:?}");
    };
    let (ocsp, crl) = detail.split_once("; ").expect("two reasons");
    assert_eq!(ocsp, "ocsp: no source configured");
    assert!(
        crl.starts_with("crl: ") && crl.ends_with("expired at 2025-01-01T00:00:00Z"),
        "{crl}"
    );
}

#[test]
fn max_age_makes_an_old_good_status_unavailable_but_not_a_revocation() {
    let mut policy = RevocationPolicy::hard_fail(CRL_ONLY);
    policy.max_age = Some(7 * 86_400);
    let at = time("2024-01-01T00:00:00Z");

    let (root, leaf, crl) = hierarchy(false);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, policy.clone());
    let mut opts = ValidationOptions::at(at);
    opts.revocation = Some(&revocation);
    let err = v.validate(&cert(&leaf), &[], &opts).expect_err("too old");
    assert!(
        matches!(&err, Error::RevocationStatusUnavailable { detail, .. }
            if detail.contains("over the tier's 604800 s maximum")),
        "{err:?}"
    );

    // A key compromise stays a key compromise however old the CRL is.
    let (root, leaf, crl) = hierarchy(true);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, policy);
    let mut opts = ValidationOptions::at(at);
    opts.revocation = Some(&revocation);
    assert!(matches!(
        v.validate(&cert(&leaf), &[], &opts),
        Err(Error::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        })
    ));
}

#[test]
fn hard_fail_tier_without_any_source_is_rejected() {
    let (root, leaf, _) = hierarchy(false);
    let v = validator(&root, RevocationPolicy::hard_fail(CRL_ONLY));
    let opts = ValidationOptions::at(time("2024-01-01T00:00:00Z"));
    assert_eq!(
        v.validate(&cert(&leaf), &[], &opts).expect_err("no source"),
        Error::RevocationStatusUnavailable {
            index: 0,
            detail: "no revocation source configured".into(),
        }
    );
}

#[test]
fn tier_without_revocation_checking_ignores_sources() {
    let (root, leaf, crl) = hierarchy(true);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let v = validator(&root, RevocationPolicy::none());
    let mut opts = ValidationOptions::at(time("2024-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let path = v.validate(&cert(&leaf), &[], &opts).expect("not checked");
    assert!(path.revocation.is_empty());
    // The caller can still insist.
    opts.require_revocation = true;
    assert!(matches!(
        v.validate(&cert(&leaf), &[], &opts),
        Err(Error::Revoked { .. })
    ));
}

#[test]
fn two_tiers_two_policies_one_checker() {
    // The same checker serves a hard-fail tier and a soft-fail tier.
    let (hard_root, hard_leaf, hard_crl) = hierarchy(false);
    let soft_root = TestCa::root("CN=TTP Root,C=MA");
    let soft_leaf = soft_root.leaf("CN=bank.example.ma", |_| {});
    let soft_crl = soft_root.crl(|t| t.next_update = Some(utc(2025, 1, 1)));
    let mut t = TrustStore::new();
    t.add_tier(
        Tier::new("cnie", AssuranceLevel::High)
            .with_revocation(RevocationPolicy::hard_fail(CRL_ONLY)),
    )
    .expect("tier");
    t.add_tier(
        Tier::new("ttp", AssuranceLevel::Substantial)
            .with_revocation(RevocationPolicy::soft_fail(CRL_ONLY)),
    )
    .expect("tier");
    t.add_anchor("cnie", cert(&hard_root)).expect("anchor");
    t.add_anchor("ttp", cert(&soft_root)).expect("anchor");
    let v = Validator::new(t);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[hard_crl, soft_crl]));
    let mut opts = ValidationOptions::at(time("2030-01-01T00:00:00Z"));
    opts.revocation = Some(&revocation);
    assert!(matches!(
        v.validate(&cert(&hard_leaf), &[], &opts),
        Err(Error::RevocationStatusUnavailable { .. })
    ));
    let path = v.validate(&cert(&soft_leaf), &[], &opts).expect("soft");
    assert_eq!(path.tier_name, "ttp");
    assert_eq!(path.warnings.len(), 1);
}

#[test]
fn generation_grows_with_noted_changes() {
    let (_, _, crl) = hierarchy(false);
    let revocation = TieredRevocation::new().with_crl(crl_set(&[crl]));
    let g0 = revocation.generation();
    revocation.note_change();
    assert!(revocation.generation() > g0);
}

mod ocsp_support;

use pki_core::ocsp::{verify_response, OcspCache, VerifyOptions};

/// The OCSP fixture's CA as a `cnie` anchor with `policy`, and an OCSP
/// cache holding `response` (verified at 2030-01-01T12:00:00Z).
fn ocsp_setup(
    pki: &ocsp_support::Pki,
    response: &[u8],
    policy: RevocationPolicy,
) -> (Validator, Arc<OcspCache>) {
    let v = validator(&pki.ca, policy);
    let cache = Arc::new(OcspCache::new(64));
    let verified = verify_response(
        response,
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &VerifyOptions::at(time("2030-01-01T12:00:00Z")),
    )
    .expect("response verifies");
    assert!(cache.insert(verified));
    (v, cache)
}

#[test]
fn revoked_leaf_via_ocsp_is_rejected_with_its_reason() {
    let pki = ocsp_support::Pki::new();
    let der = pki
        .answer()
        .revoked(utc(2029, 12, 1), RevocationReason::KeyCompromise)
        .signed();
    let (v, cache) = ocsp_setup(&pki, &der, RevocationPolicy::hard_fail(OCSP_THEN_CRL));
    let revocation = TieredRevocation::new().with_ocsp(cache);
    let mut opts = ValidationOptions::at(time("2030-01-02T00:00:00Z"));
    opts.revocation = Some(&revocation);
    assert_eq!(
        v.validate(&pki.leaf_cert(), &[], &opts)
            .expect_err("revoked"),
        Error::Revoked {
            index: 0,
            reason: RevocationReason::KeyCompromise,
            revoked_at: time("2029-12-01T00:00:00Z"),
        }
    );
}

#[test]
fn ocsp_first_answers_before_the_crl() {
    let pki = ocsp_support::Pki::new();
    let (v, cache) = ocsp_setup(
        &pki,
        &pki.answer().signed(),
        RevocationPolicy::hard_fail(OCSP_THEN_CRL),
    );
    let crl = pki.ca.crl(|_| {});
    let revocation = TieredRevocation::new()
        .with_crl(crl_set(&[crl]))
        .with_ocsp(cache);
    let mut opts = ValidationOptions::at(time("2030-01-02T00:00:00Z"));
    opts.revocation = Some(&revocation);
    let path = v.validate(&pki.leaf_cert(), &[], &opts).expect("good");
    assert_eq!(
        path.revocation[0].source(),
        Some(&StatusSource::Ocsp {
            produced_at: time("2030-01-01T00:00:00Z"),
            this_update: time("2030-01-01T00:00:00Z"),
            next_update: Some(time("2030-01-08T00:00:00Z")),
        })
    );
    // CRL first: the CRL answers.
    let v = validator(
        &pki.ca,
        RevocationPolicy::hard_fail(&[RevocationMethod::Crl, RevocationMethod::Ocsp]),
    );
    let path = v.validate(&pki.leaf_cert(), &[], &opts).expect("good");
    assert_eq!(
        path.revocation[0].source().map(StatusSource::method),
        Some(RevocationMethod::Crl)
    );
}

#[test]
fn expired_ocsp_response_falls_back_to_the_crl_or_fails_hard() {
    let pki = ocsp_support::Pki::new();
    let (v, cache) = ocsp_setup(
        &pki,
        &pki.answer().signed(),
        RevocationPolicy::hard_fail(OCSP_THEN_CRL),
    );
    let mut opts = ValidationOptions::at(time("2030-02-01T00:00:00Z"));
    let ocsp_only = TieredRevocation::new().with_ocsp(cache.clone());
    opts.revocation = Some(&ocsp_only);
    assert_eq!(
        v.validate(&pki.leaf_cert(), &[], &opts)
            .expect_err("hard-fail"),
        Error::RevocationStatusUnavailable {
            index: 0,
            detail: "ocsp: no current OCSP response cached; crl: no source configured".into(),
        }
    );
    let crl = pki.ca.crl(|_| {});
    let both = TieredRevocation::new()
        .with_crl(crl_set(&[crl]))
        .with_ocsp(cache);
    opts.revocation = Some(&both);
    let path = v
        .validate(&pki.leaf_cert(), &[], &opts)
        .expect("CRL answers");
    assert_eq!(
        path.revocation[0].source().map(StatusSource::method),
        Some(RevocationMethod::Crl)
    );
}
