//! Path validation cost against the raw signature cost, in one group so the
//! ratios are visible (issue: cold <= 1.3x the two signature checks, warm
//! <= 1.2x one signature check).
//!
//! - `raw_2_sigs`: the two ECDSA P-256 verifications a 3-certificate chain
//!   needs (leaf by intermediate, intermediate by root), straight through
//!   aws-lc-rs with unparsed keys.
//! - `raw_1_sig`: one verification (the leaf), for the warm comparison.
//! - `cold`: a validator with empty caches; intermediate and leaf decoded
//!   from DER in the loop; only the trust store is loaded beforehand.
//! - `warm`: the intermediate already decoded and its edge to the root
//!   already verified; a leaf never seen before is decoded and validated.

use std::sync::Arc;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use benches::{generate, KeyType};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pki_core::cache::{CertCache, VerifiedEdgeCache};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};

fn bench(c: &mut Criterion) {
    let chain = generate(KeyType::P256, 64);
    let root = Arc::new(Cert::from_der(&chain.root).expect("root"));
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("cnie", AssuranceLevel::High))
        .expect("tier");
    trust.add_anchor("cnie", root.clone()).expect("anchor");
    let mut opts = ValidationOptions::at(UnixTime::now());
    opts.purpose = Purpose::ClientAuth;
    opts.algorithm_policy = AlgorithmPolicy::Default;

    let ica = Cert::from_der(&chain.intermediate).expect("ica");
    let leaf0 = Cert::from_der(&chain.leaves[0]).expect("leaf");
    let root_key = root.public_key().expect("key").bytes.clone();
    let ica_key = ica.public_key().expect("key").bytes.clone();

    let mut group = c.benchmark_group("validate_p256_3_certs");
    group.bench_function("raw_2_sigs", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ica_key)
                .verify(leaf0.tbs_der(), leaf0.signature())
                .expect("leaf sig");
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &root_key)
                .verify(ica.tbs_der(), ica.signature())
                .expect("ica sig");
        });
    });
    group.bench_function("raw_1_sig", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ica_key)
                .verify(leaf0.tbs_der(), leaf0.signature())
                .expect("leaf sig");
        });
    });

    group.bench_function("decode_2_certs", |b| {
        b.iter(|| {
            let ica = Cert::from_der(&chain.intermediate).expect("ica");
            let leaf = Cert::from_der(&chain.leaves[1]).expect("leaf");
            (ica, leaf)
        });
    });

    let mut i = 0usize;
    group.bench_function("cold", |b| {
        b.iter_batched(
            || Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(64)),
            |v| {
                i = (i + 1) % chain.leaves.len();
                let ica = Arc::new(Cert::from_der(&chain.intermediate).expect("ica"));
                let leaf = Arc::new(Cert::from_der(&chain.leaves[i]).expect("leaf"));
                v.validate(&leaf, &[ica], &opts).expect("valid");
            },
            BatchSize::SmallInput,
        );
    });

    let certs = CertCache::new(1024);
    let ica_cached = certs.get_or_decode(&chain.intermediate).expect("ica");
    let mut j = 0usize;
    group.bench_function("warm", |b| {
        b.iter_batched(
            || {
                // Fresh edge cache holding only intermediate -> root: the
                // leaf's signature is always checked.
                let v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(64));
                v.edge_cache()
                    .insert(&root, &ica_cached, AlgorithmPolicy::Default);
                v
            },
            |v| {
                j = (j + 1) % chain.leaves.len();
                let ica = certs.get_or_decode(&chain.intermediate).expect("ica");
                let leaf = Arc::new(Cert::from_der(&chain.leaves[j]).expect("leaf"));
                v.validate(&leaf, &[ica], &opts).expect("valid");
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
