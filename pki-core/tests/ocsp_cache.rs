//! The OCSP response cache: expiry at nextUpdate, newest response wins,
//! one entry per certificate whatever the CertID hash, bounds, and its
//! answers as a revocation source.

mod ocsp_support;

use ocsp_support::{cert, time, Pki};
use pki_core::ocsp::verify::OcspStatus;
use pki_core::ocsp::{verify_response, HashAlgorithm, OcspCache, OcspKey, VerifyOptions};
use pki_core::revocation::{RevocationReason, RevocationSource, RevocationStatus, StatusSource};
use pki_core::testing::utc;
use pki_core::UnixTime;

fn verified(pki: &Pki, der: &[u8]) -> pki_core::ocsp::VerifiedResponse {
    verify_response(
        der,
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &VerifyOptions::at(time("2030-01-01T12:00:00Z")),
    )
    .expect("verifies")
}

#[test]
fn entries_expire_at_next_update() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    assert!(cache.insert(verified(&pki, &pki.answer().signed())));
    let key = OcspKey::for_cert(&pki.leaf_cert(), &pki.ca_cert());
    let next = time("2030-01-08T00:00:00Z");
    assert!(cache.get(&key, next).is_some(), "usable at nextUpdate");
    assert!(cache.get(&key, UnixTime(next.0 + 1)).is_none());
    assert!(cache.is_empty(), "the expired entry is dropped");
    assert_eq!(cache.stats(), (1, 1));
}

#[test]
fn purge_drops_only_expired_entries() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    cache.insert(verified(&pki, &pki.answer().signed()));
    assert_eq!(cache.purge_expired(time("2030-01-08T00:00:00Z")), 0);
    assert_eq!(cache.purge_expired(time("2030-01-08T00:00:01Z")), 1);
    assert!(cache.is_empty());
}

#[test]
fn newer_response_replaces_older_and_bumps_the_generation() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    let g0 = cache.generation();
    let old = verified(&pki, &pki.answer().signed());
    let mut a = pki
        .answer()
        .revoked(utc(2030, 1, 1), RevocationReason::Superseded);
    a.this_update = utc(2030, 1, 1) + std::time::Duration::from_secs(3600);
    let new = verified(&pki, &a.signed());
    assert!(cache.insert(old.clone()));
    assert!(cache.insert(new));
    assert!(cache.generation() >= g0 + 2);
    let g = cache.generation();
    assert!(
        !cache.insert(old),
        "an older response does not replace a newer one"
    );
    assert_eq!(cache.generation(), g);
    let key = OcspKey::for_cert(&pki.leaf_cert(), &pki.ca_cert());
    assert!(matches!(
        cache
            .get(&key, time("2030-01-02T00:00:00Z"))
            .map(|r| r.status),
        Some(OcspStatus::Revoked {
            reason: RevocationReason::Superseded,
            ..
        })
    ));
    cache.remove(&key);
    assert!(cache.generation() > g);
    assert!(cache.is_empty());
}

#[test]
fn sha1_and_sha256_answers_share_one_entry() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    let mut a = pki.answer();
    a.cert_id = pki.cert_id(HashAlgorithm::Sha1);
    let sha1 = verified(&pki, &a.signed());
    let sha256 = verified(&pki, &pki.answer().signed());
    assert_eq!(sha1.key, sha256.key);
    cache.insert(sha1);
    cache.insert(sha256);
    assert_eq!(cache.len(), 1);
}

#[test]
fn capacity_is_bounded() {
    let pki = Pki::new();
    let ca = pki.ca_cert();
    let cache = OcspCache::new(16);
    let opts = VerifyOptions::at(time("2030-01-01T12:00:00Z"));
    for i in 0..40 {
        let leaf = pki.ca.leaf(&format!("CN=c{i}.example.ma"), |_| {});
        let mut a = pki.answer();
        a.cert_id = pki.cert_id_of(&leaf, HashAlgorithm::Sha256);
        let r = verify_response(&a.signed(), &cert(&leaf), &ca, None, &opts).expect("ok");
        cache.insert(r);
    }
    assert!(cache.len() <= 16, "{}", cache.len());
}

#[test]
fn cache_answers_as_a_revocation_source_with_freshness() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    let (leaf, ca) = (pki.leaf_cert(), pki.ca_cert());
    let path = [leaf.as_ref(), ca.as_ref()];
    let t = time("2030-01-02T00:00:00Z");
    assert!(matches!(
        cache.status(&path, 0, t),
        RevocationStatus::Unknown { detail } if detail == "no current OCSP response cached"
    ));
    cache.insert(verified(&pki, &pki.answer().signed()));
    assert_eq!(
        cache.status(&path, 0, t),
        RevocationStatus::Good {
            source: StatusSource::Ocsp {
                produced_at: time("2030-01-01T00:00:00Z"),
                this_update: time("2030-01-01T00:00:00Z"),
                next_update: Some(time("2030-01-08T00:00:00Z")),
            }
        }
    );
    // Before the response's thisUpdate it says nothing.
    assert!(matches!(
        cache.status(&path, 0, time("2029-12-31T00:00:00Z")),
        RevocationStatus::Unknown { .. }
    ));
    // The anchor has no issuer in the path.
    assert!(matches!(
        cache.status(&path, 1, t),
        RevocationStatus::Unknown { .. }
    ));
}

#[test]
fn same_status_refresh_replaces_without_bumping_the_generation() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    cache.insert(verified(&pki, &pki.answer().signed()));
    let g = cache.generation();
    let mut a = pki.answer();
    a.this_update = utc(2030, 1, 1) + std::time::Duration::from_secs(3600);
    a.next_update = Some(utc(2030, 1, 9));
    assert!(cache.insert(verified(&pki, &a.signed())));
    assert_eq!(
        cache.generation(),
        g,
        "still good: cached answers stay right"
    );
    let key = OcspKey::for_cert(&pki.leaf_cert(), &pki.ca_cert());
    assert_eq!(
        cache
            .get(&key, time("2030-01-08T12:00:00Z"))
            .map(|r| r.next_update),
        Some(Some(time("2030-01-09T00:00:00Z"))),
        "the newer response is the one served"
    );
}

#[test]
fn offer_verifies_before_caching() {
    let pki = Pki::new();
    let cache = OcspCache::new(64);
    let (leaf, ca) = (pki.leaf_cert(), pki.ca_cert());
    let opts = VerifyOptions::at(time("2030-01-01T12:00:00Z"));
    // Signed by a stranger: refused, nothing cached.
    let stranger =
        pki_core::testing::SoftwareKey::generate(pki_core::testing::KeyAlgorithm::EcdsaP256);
    let mut a = pki.answer();
    a.signer = ocsp_support::Who::Key(&stranger);
    assert!(matches!(
        cache.offer(&a.signed(), &leaf, &ca, None, &opts),
        Err(pki_core::ocsp::OcspError::UnknownResponder { .. })
    ));
    assert!(cache.is_empty());
    let r = cache
        .offer(&pki.answer().signed(), &leaf, &ca, None, &opts)
        .expect("accepted");
    assert_eq!(r.status, OcspStatus::Good);
    assert_eq!(cache.len(), 1);
}
