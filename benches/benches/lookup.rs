//! Warm-path lookups (issue 6): a validation result served from the result
//! cache, against re-validating the same chain with every signature edge
//! already cached; and the OCSP response cache consulted as the path
//! validator does (`RevocationSource::status`), hit and miss, with 100,000
//! responses cached; and what checking both certificates' status through
//! the tier policy and that cache adds to a re-validation.
//!
//! The chain is the openssl-made P-256 root -> intermediate -> leaf of the
//! other benches. The cached OCSP entries are built directly as
//! `VerifiedResponse` values (what `verify_response` returns) for real
//! certificates of that chain plus synthetic serials: this measures the
//! lookup, not response verification.

use std::sync::Arc;

use benches::{generate, KeyType};
use criterion::{criterion_group, criterion_main, Criterion};
use pki_core::cache::{ResultCache, ResultKey};
use pki_core::ocsp::verify::{OcspStatus, ResponseSigner};
use pki_core::ocsp::{HashAlgorithm, OcspCache, OcspKey, VerifiedResponse};
use pki_core::revocation::{RevocationSource, RevocationStatus, TieredRevocation};
use pki_core::trust::{RevocationMethod, RevocationPolicy};
use pki_core::{
    AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions, Validator,
};

const CACHED_RESPONSES: u64 = 100_000;

fn response(key: OcspKey, now: UnixTime) -> VerifiedResponse {
    VerifiedResponse {
        key,
        status: OcspStatus::Good,
        produced_at: now,
        this_update: now,
        next_update: Some(UnixTime(now.0 + 7 * 86_400)),
        valid_until: UnixTime(now.0 + 7 * 86_400),
        hash: HashAlgorithm::Sha256,
        signer: ResponseSigner::Issuer,
    }
}

fn bench(c: &mut Criterion) {
    let chain = generate(KeyType::P256, 2);
    let root = Arc::new(Cert::from_der(&chain.root).expect("root"));
    let root_anchor = root.clone();
    let ica = Arc::new(Cert::from_der(&chain.intermediate).expect("ica"));
    let leaf = Arc::new(Cert::from_der(&chain.leaves[0]).expect("leaf"));
    let uncached_leaf = Arc::new(Cert::from_der(&chain.leaves[1]).expect("leaf"));
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("cnie", AssuranceLevel::High))
        .expect("tier");
    trust.add_anchor("cnie", root_anchor).expect("anchor");
    let v = Validator::new(trust);
    let now = UnixTime::now();
    let mut opts = ValidationOptions::at(now);
    opts.purpose = Purpose::ClientAuth;
    let inter = [ica.clone()];
    v.validate(&leaf, &inter, &opts).expect("valid");

    let mut group = c.benchmark_group("result_cache");
    group.bench_function("revalidate_edges_cached", |b| {
        b.iter(|| v.validate(&leaf, &inter, &opts).expect("valid"));
    });
    let results = ResultCache::default();
    results.validate(&v, &leaf, &inter, &opts).expect("valid");
    group.bench_function("hit", |b| {
        b.iter(|| results.validate(&v, &leaf, &inter, &opts).expect("valid"));
    });
    group.bench_function("key", |b| {
        b.iter(|| ResultKey::new(&v, &leaf, &inter, &opts));
    });
    group.finish();
    let (hits, misses) = results.stats();
    assert!(hits > 0 && misses == 1, "hits {hits}, misses {misses}");

    let ocsp = Arc::new(OcspCache::new(2 * CACHED_RESPONSES as usize));
    for n in 1..=CACHED_RESPONSES {
        let serial = (n << 20).to_be_bytes();
        assert!(ocsp.insert(response(OcspKey::new(&serial, &ica), now)));
    }
    assert!(ocsp.insert(response(OcspKey::for_cert(&leaf, &ica), now)));
    assert!(ocsp.insert(response(OcspKey::for_cert(&ica, &root), now)));

    // The same re-validation with both certificates' status from the OCSP
    // cache through the tier policy (hard-fail, OCSP only).
    let mut trust = TrustStore::new();
    trust
        .add_tier(
            Tier::new("cnie", AssuranceLevel::High)
                .with_revocation(RevocationPolicy::hard_fail(&[RevocationMethod::Ocsp])),
        )
        .expect("tier");
    trust.add_anchor("cnie", root.clone()).expect("anchor");
    let checked = Validator::new(trust);
    let tiered = TieredRevocation::new().with_ocsp(ocsp.clone());
    let mut opts_checked = opts.clone();
    opts_checked.revocation = Some(&tiered);
    let p = checked
        .validate(&leaf, &inter, &opts_checked)
        .expect("valid");
    assert_eq!(p.revocation.len(), 2);
    let mut group = c.benchmark_group("revocation_overhead");
    group.bench_function("revalidate_no_revocation", |b| {
        b.iter(|| v.validate(&leaf, &inter, &opts).expect("valid"));
    });
    group.bench_function("revalidate_ocsp_hard_fail", |b| {
        b.iter(|| {
            checked
                .validate(&leaf, &inter, &opts_checked)
                .expect("valid")
        });
    });
    group.finish();
    let hit_path = [leaf.as_ref(), ica.as_ref()];
    let miss_path = [uncached_leaf.as_ref(), ica.as_ref()];
    let mut group = c.benchmark_group("ocsp_cache_100k");
    group.bench_function("status_hit", |b| {
        b.iter(|| {
            let s = ocsp.status(&hit_path, 0, now);
            assert!(matches!(s, RevocationStatus::Good { .. }));
            s
        });
    });
    group.bench_function("status_miss", |b| {
        b.iter(|| {
            let s = ocsp.status(&miss_path, 0, now);
            assert!(matches!(s, RevocationStatus::Unknown { .. }));
            s
        });
    });
    group.bench_function("key", |b| {
        b.iter(|| OcspKey::for_cert(&leaf, &ica));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
