//! The CRL cache: what it accepts, what it refuses, and that readers see a
//! whole CRL while refreshes are swapped in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pki_core::builder::{CrlEntry, RawExtension};
use pki_core::crl::{CrlCache, OfferError, Offered};
use pki_core::revocation::{RevocationReason, RevocationSource, RevocationStatus};
use pki_core::testing::{utc, KeyAlgorithm, SoftwareKey, TestCa};
use pki_core::{AlgorithmPolicy, Cert, UnixTime};

fn t(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("valid time")
}

fn now() -> UnixTime {
    t("2025-06-01T00:00:00Z")
}

fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test certificate decodes"))
}

struct World {
    root: TestCa,
    sub: TestCa,
    leaf: TestCa,
    certs: Vec<Arc<Cert>>,
}

fn world() -> World {
    let root = TestCa::root("CN=Cache Root,C=MA");
    let sub = root.intermediate("CN=Cache Sub,C=MA", |_| {});
    let leaf = sub.leaf("CN=leaf.example.ma", |_| {});
    let certs = vec![cert(&leaf), cert(&sub), cert(&root)];
    World {
        root,
        sub,
        leaf,
        certs,
    }
}

impl World {
    fn status(&self, cache: &CrlCache, time: UnixTime) -> RevocationStatus {
        let refs: Vec<&Cert> = self.certs.iter().map(AsRef::as_ref).collect();
        cache.status(&refs, 0, time)
    }

    fn crl(&self, number: u64, revoke_leaf: bool) -> Vec<u8> {
        self.sub.crl(|tpl| {
            tpl.crl_number = Some(number);
            tpl.this_update = utc(2025, 5, 1);
            tpl.next_update = Some(utc(2025, 7, 1));
            if revoke_leaf {
                tpl.revoked.push(
                    self.leaf
                        .revocation()
                        .with_reason(RevocationReason::KeyCompromise),
                );
            }
        })
    }
}

fn is_good(s: &RevocationStatus) -> bool {
    matches!(s, RevocationStatus::Good { .. })
}

fn is_revoked(s: &RevocationStatus) -> bool {
    matches!(
        s,
        RevocationStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        }
    )
}

#[test]
fn newer_crl_replaces_older_never_the_reverse() {
    let w = world();
    let cache = CrlCache::new(16, AlgorithmPolicy::Default);
    let signer = &w.certs[1];
    let first = w.crl(5, false);
    assert!(matches!(
        cache.offer(&first, signer, now()),
        Ok(Offered::Inserted { evicted: None })
    ));
    assert!(is_good(&w.status(&cache, now())));
    let g = cache.generation();
    assert_eq!(cache.offer(&first, signer, now()), Ok(Offered::Unchanged));
    assert_eq!(cache.generation(), g);
    assert_eq!(
        cache.offer(&w.crl(6, true), signer, now()),
        Ok(Offered::Replaced { previous: vec![5] })
    );
    assert!(cache.generation() > g);
    assert!(is_revoked(&w.status(&cache, now())));
    // An older list (a replayed or stale download) never replaces it.
    assert!(matches!(
        cache.offer(&w.crl(4, false), signer, now()),
        Err(OfferError::NotNewer { .. })
    ));
    // Nor does another list with the same number.
    assert!(matches!(
        cache.offer(&w.crl(6, false), signer, now()),
        Err(OfferError::NotNewer { .. })
    ));
    assert!(is_revoked(&w.status(&cache, now())));
    assert_eq!(cache.len(), 1);
}

#[test]
fn crls_that_fail_verification_never_replace_a_good_one() {
    let w = world();
    let cache = CrlCache::new(16, AlgorithmPolicy::Default);
    let signer = &w.certs[1];
    cache
        .offer(&w.crl(5, true), signer, now())
        .expect("first CRL");

    // Signed by another key under the CA's name and AKI.
    let forger = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let impostor = w
        .root
        .intermediate_with_key("CN=Cache Sub,C=MA", forger, |_| {});
    let mut tpl = pki_core::builder::CrlTemplate::new(w.sub.name().clone(), utc(2025, 5, 1), 9);
    tpl.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(w.sub.key_id().to_vec());
    let forged = pki_core::builder::build_crl(&tpl, impostor.key()).expect("builds");
    assert!(matches!(
        cache.offer(&forged, signer, now()),
        Err(OfferError::Signature(_))
    ));
    // Offered with a signer whose name differs.
    assert!(matches!(
        cache.offer(&w.crl(9, false), &w.certs[2], now()),
        Err(OfferError::IssuerMismatch { .. })
    ));
    // Truncated download.
    let good = w.crl(9, false);
    assert!(matches!(
        cache.offer(&good[..good.len() - 10], signer, now()),
        Err(OfferError::Decode(_))
    ));
    // Expired, not yet valid, unnumbered, unknown critical extension.
    assert!(matches!(
        cache.offer(&w.crl(9, false), signer, t("2025-08-01T00:00:00Z")),
        Err(OfferError::Expired { .. })
    ));
    assert!(matches!(
        cache.offer(&w.crl(9, false), signer, t("2025-04-01T00:00:00Z")),
        Err(OfferError::NotYetValid { .. })
    ));
    let unnumbered = w.sub.crl(|tpl| {
        tpl.crl_number = None;
        tpl.this_update = utc(2025, 5, 1);
    });
    assert_eq!(
        cache.offer(&unnumbered, signer, now()),
        Err(OfferError::NoCrlNumber)
    );
    let critical = w.sub.crl(|tpl| {
        tpl.crl_number = Some(10);
        tpl.this_update = utc(2025, 5, 1);
        tpl.extra_extensions.push(RawExtension {
            oid: const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.2"),
            critical: true,
            value: vec![0x05, 0x00],
        });
    });
    assert!(matches!(
        cache.offer(&critical, signer, now()),
        Err(OfferError::UnknownCriticalExtension(_))
    ));
    // The signer must be allowed to sign CRLs.
    let no_crl_sign = w.root.intermediate("CN=Cache Sub,C=MA", |t| {
        t.key_usage = Some(pki_core::builder::KeyUsageSpec::new(
            x509_cert::ext::pkix::KeyUsages::KeyCertSign,
        ));
    });
    assert_eq!(
        cache.offer(&no_crl_sign.crl(|_| {}), &cert(&no_crl_sign), now()),
        Err(OfferError::SignerLacksCrlSign)
    );
    // Through all of it, the first CRL still answers.
    assert!(is_revoked(&w.status(&cache, now())));
}

#[test]
fn deltas_are_stored_on_top_of_their_base() {
    let w = world();
    let cache = CrlCache::new(16, AlgorithmPolicy::Default);
    let signer = &w.certs[1];
    let delta = |number: u64, base: u64| {
        w.sub.crl(|tpl| {
            tpl.crl_number = Some(number);
            tpl.delta_crl_indicator = Some(base);
            tpl.this_update = utc(2025, 5, 2);
            tpl.next_update = Some(utc(2025, 6, 2));
            tpl.revoked.push(
                w.leaf
                    .revocation()
                    .with_reason(RevocationReason::KeyCompromise),
            );
        })
    };
    assert_eq!(
        cache.offer(&delta(11, 10), signer, now()),
        Err(OfferError::DeltaWithoutBase)
    );
    cache.offer(&w.crl(10, false), signer, now()).expect("base");
    assert!(matches!(
        cache.offer(&delta(13, 12), signer, now()),
        Err(OfferError::DeltaBaseTooNew { .. })
    ));
    let d11 = delta(11, 10);
    assert_eq!(cache.offer(&d11, signer, now()), Ok(Offered::DeltaStored));
    assert!(is_revoked(&w.status(&cache, now())));
    assert_eq!(cache.offer(&d11, signer, now()), Ok(Offered::Unchanged));
    assert!(matches!(
        cache.offer(&delta(11, 10), signer, now()),
        Err(OfferError::NotNewer { .. })
    ));
    // Another list with the base's number is refused.
    let base_10b = w.sub.crl(|tpl| {
        tpl.crl_number = Some(10);
        tpl.this_update = utc(2025, 5, 3);
    });
    assert!(matches!(
        cache.offer(&base_10b, signer, now()),
        Err(OfferError::NotNewer { .. })
    ));
    // A new base keeps a delta that still applies to it...
    assert_eq!(
        cache.offer(&delta(12, 10), signer, now()),
        Ok(Offered::DeltaStored)
    );
    cache
        .offer(&w.crl(11, false), signer, now())
        .expect("newer base");
    assert_eq!(cache.entries(now())[0].delta_number.as_deref(), Some("0c"));
    assert!(is_revoked(&w.status(&cache, now())));
    // ...and drops one that it supersedes.
    cache
        .offer(&w.crl(12, false), signer, now())
        .expect("newer base");
    assert_eq!(cache.entries(now())[0].delta_number, None);
    assert!(is_good(&w.status(&cache, now())));
    // A delta signed by another key than its base is refused.
    let other = w.root.intermediate_with_key(
        "CN=Cache Sub,C=MA",
        SoftwareKey::generate(KeyAlgorithm::EcdsaP256),
        |_| {},
    );
    let foreign = other.crl(|tpl| {
        tpl.crl_number = Some(13);
        tpl.delta_crl_indicator = Some(12);
        tpl.this_update = utc(2025, 5, 2);
    });
    assert_eq!(
        cache.offer(&foreign, &cert(&other), now()),
        Err(OfferError::DeltaSignerDiffers)
    );
}

#[test]
fn bounded_and_reports_what_to_refresh() {
    let cache = CrlCache::new(2, AlgorithmPolicy::Default);
    let cas: Vec<TestCa> = (0..3)
        .map(|i| TestCa::root(&format!("CN=Issuer {i},C=MA")))
        .collect();
    for (i, ca) in cas.iter().enumerate() {
        let der = ca.crl(|tpl| {
            tpl.this_update = utc(2025, 5, 1);
            tpl.next_update = Some(utc(2025, 6, 1 + u8::try_from(i).expect("small") * 10));
        });
        let offered = cache.offer(&der, &cert(ca), now()).expect("stored");
        if i == 2 {
            assert!(matches!(offered, Offered::Inserted { evicted: Some(_) }));
        }
    }
    assert_eq!(cache.len(), 2);
    let issuers: Vec<String> = cache.entries(now()).into_iter().map(|e| e.issuer).collect();
    assert!(
        !issuers.iter().any(|i| i.contains("Issuer 0")),
        "{issuers:?}"
    );

    // Issuer 1's CRL is due within 15 days, issuer 2's is not.
    let due = cache.due_for_refresh(now(), 15 * 86_400);
    assert_eq!(due.len(), 1);
    assert!(due[0].issuer.contains("Issuer 1"));
    assert_eq!(due[0].stale_seconds, 0);
    let later = t("2025-06-12T00:00:00Z");
    let due = cache.due_for_refresh(later, 0);
    assert_eq!(due[0].stale_seconds, 86_400);
}

#[test]
fn cached_crl_stops_deciding_after_next_update() {
    let w = world();
    let cache = CrlCache::new(4, AlgorithmPolicy::Default);
    cache
        .offer(&w.crl(1, true), &w.certs[1], now())
        .expect("stored");
    assert!(is_revoked(&w.status(&cache, now())));
    assert!(matches!(
        w.status(&cache, t("2025-07-02T00:00:00Z")),
        RevocationStatus::Unknown { .. }
    ));
}

#[test]
fn separate_signer_registered_with_the_cache() {
    let w = world();
    let signer = w.root.leaf("CN=Cache Sub,C=MA", |t| {
        t.key_usage = Some(pki_core::builder::KeyUsageSpec::new(
            x509_cert::ext::pkix::KeyUsages::CRLSign,
        ));
        t.extended_key_usage.clear();
    });
    let der = signer.crl(|tpl| {
        tpl.this_update = utc(2025, 5, 1);
        tpl.revoked
            .push(CrlEntry::new(w.leaf.serial().to_vec(), utc(2025, 1, 1)));
    });
    let cache = CrlCache::new(4, AlgorithmPolicy::Default);
    cache.offer(&der, &cert(&signer), now()).expect("stored");
    assert!(matches!(
        w.status(&cache, now()),
        RevocationStatus::Revoked { .. }
    ));
}

#[test]
fn readers_see_whole_lists_while_refreshes_swap_in() {
    let w = world();
    let cache = Arc::new(CrlCache::new(4, AlgorithmPolicy::Default));
    let signer = w.certs[1].clone();
    // Odd numbers revoke the leaf, even numbers do not; each list also has
    // 2,000 other entries, so a half-built list would be visible.
    let lists: Vec<Vec<u8>> = (1..=40u64)
        .map(|n| {
            w.sub.crl(|tpl| {
                tpl.crl_number = Some(n);
                tpl.this_update = utc(2025, 5, 1);
                for i in 1..=2000u32 {
                    tpl.revoked.push(CrlEntry::new(
                        vec![0x7f, (i >> 8) as u8, i as u8],
                        utc(2025, 1, 1),
                    ));
                }
                if n % 2 == 1 {
                    tpl.revoked.push(w.leaf.revocation());
                }
            })
        })
        .collect();
    cache.offer(&lists[0], &signer, now()).expect("first");
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let cache = cache.clone();
            let done = done.clone();
            let certs = w.certs.clone();
            std::thread::spawn(move || {
                let refs: Vec<&Cert> = certs.iter().map(AsRef::as_ref).collect();
                let mut answers = 0u32;
                while !done.load(Ordering::Acquire) {
                    match cache.status(&refs, 0, now()) {
                        RevocationStatus::Good { .. } | RevocationStatus::Revoked { .. } => {
                            answers += 1;
                        }
                        RevocationStatus::Unknown { detail } => {
                            panic!("reader saw no usable CRL: {detail}")
                        }
                    }
                }
                answers
            })
        })
        .collect();
    for der in &lists[1..] {
        cache.offer(der, &signer, now()).expect("newer list");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader ran") > 0);
    }
    // The last list (number 40) does not revoke the leaf.
    assert!(is_good(&w.status(&cache, now())));
}

#[test]
fn re_offered_crls_stay_while_unrefreshed_ones_are_evicted() {
    let cache = CrlCache::new(2, AlgorithmPolicy::Default);
    let cas: Vec<TestCa> = (0..3)
        .map(|i| TestCa::root(&format!("CN=Evict {i},C=MA")))
        .collect();
    let ders: Vec<Vec<u8>> = cas
        .iter()
        .map(|ca| ca.crl(|tpl| tpl.this_update = utc(2025, 5, 1)))
        .collect();
    cache.offer(&ders[0], &cert(&cas[0]), now()).expect("A");
    cache.offer(&ders[1], &cert(&cas[1]), now()).expect("B");
    // The refresher fetched A again: same bytes, still the freshest.
    assert_eq!(
        cache.offer(&ders[0], &cert(&cas[0]), now()),
        Ok(Offered::Unchanged)
    );
    cache.offer(&ders[2], &cert(&cas[2]), now()).expect("C");
    let issuers: Vec<String> = cache.entries(now()).into_iter().map(|e| e.issuer).collect();
    assert!(issuers.iter().any(|i| i.contains("Evict 0")), "{issuers:?}");
    assert!(
        !issuers.iter().any(|i| i.contains("Evict 1")),
        "{issuers:?}"
    );
}

/// A CRL decoded once is offered to several candidate signers: the first
/// that signed it takes it; refusals name the last candidate's reason.
#[test]
fn a_decoded_crl_finds_its_signer_among_candidates() {
    let w = world();
    let cache = CrlCache::new(16, AlgorithmPolicy::Default);
    let decode = |der: &[u8]| pki_core::crl::Crl::from_der(der).expect("CRL decodes");
    let (sub, root) = (w.certs[1].clone(), w.certs[2].clone());
    // Same name and AKI as the issuing CA, another key.
    let forger = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let impostor = cert(
        &w.root
            .intermediate_with_key("CN=Cache Sub,C=MA", forger, |_| {}),
    );

    assert!(matches!(
        cache.offer_decoded(decode(&w.crl(5, true)), &[], now()),
        Err(OfferError::IssuerMismatch { .. })
    ));
    assert!(matches!(
        cache.offer_decoded(decode(&w.crl(5, true)), std::slice::from_ref(&root), now()),
        Err(OfferError::IssuerMismatch { .. })
    ));
    assert!(matches!(
        cache.offer_decoded(
            decode(&w.crl(5, true)),
            &[root.clone(), impostor.clone()],
            now()
        ),
        Err(OfferError::Signature(_))
    ));
    // Nothing refused was installed.
    assert!(!is_revoked(&w.status(&cache, now())));
    let offered = cache
        .offer_decoded(decode(&w.crl(5, true)), &[root, impostor, sub], now())
        .expect("the real signer is among the candidates");
    assert!(matches!(offered, Offered::Inserted { .. }));
    assert!(is_revoked(&w.status(&cache, now())));
}
