//! Where a cold validation's time goes, for profiling (`perf record`) and
//! for a quick breakdown next to rustls-webpki, on the validate bench's
//! openssl-made chains. Each step runs for a fixed slice, all on fresh
//! leaves taken in turn:
//!
//! - `decode`: intermediate and leaf decoded from DER, then dropped;
//! - `decode + 2 signatures`: the same plus the two signature checks
//!   through `Cert::verify_signed_by` (the root's parsed key is cached, the
//!   intermediate's is not);
//! - `cold`: the validate bench's cold case (decode, then a validator with
//!   an empty verified-edge cache);
//! - `webpki`: `EndEntityCert::verify_for_usage` on the same leaves.
//!
//! `cargo run --release -p benches --example profile_cold -- [p256|rsa] [SECONDS]`
//! (SECONDS: how long the `cold` loop runs first, for a profiler; default 1.)
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{generate, KeyType};
use pki_core::cache::VerifiedEdgeCache;
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};
use rustls_pki_types::CertificateDer;

/// Runs `f` for `slice`; microseconds per call.
fn per_call(slice: Duration, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < slice {
        f();
        calls += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(calls) * 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let key = match args.first().map(String::as_str) {
        Some("rsa") => KeyType::Rsa2048,
        _ => KeyType::P256,
    };
    let profile_secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let chain = generate(key, 64);
    let root = Arc::new(Cert::from_der(&chain.root).unwrap());
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("cnie", AssuranceLevel::High))
        .unwrap();
    trust.add_anchor("cnie", Arc::clone(&root)).unwrap();
    let mut opts = ValidationOptions::at(UnixTime::now());
    opts.purpose = Purpose::ClientAuth;
    let leaves = chain.leaves.len();
    let mut turn = 0usize;
    let mut next_leaf = || {
        turn += 1;
        &chain.leaves[turn % leaves]
    };

    let mut cold = || {
        let v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(64));
        let ica = Arc::new(Cert::from_der(&chain.intermediate).unwrap());
        let leaf = Arc::new(Cert::from_der(next_leaf()).unwrap());
        v.validate(&leaf, &[ica], &opts).unwrap();
    };
    let us = per_call(Duration::from_secs(profile_secs), &mut cold);
    println!("cold loop for {profile_secs} s: {us:.2} us per validation");

    let slice = Duration::from_millis(700);
    let mut turn2 = 0usize;
    let mut leaf_der = || {
        turn2 += 1;
        &chain.leaves[turn2 % leaves]
    };
    let decode = per_call(slice, &mut || {
        let ica = Arc::new(Cert::from_der(&chain.intermediate).unwrap());
        let leaf = Arc::new(Cert::from_der(leaf_der()).unwrap());
        std::hint::black_box((ica, leaf));
    });
    let signatures = per_call(slice, &mut || {
        let ica = Arc::new(Cert::from_der(&chain.intermediate).unwrap());
        let leaf = Arc::new(Cert::from_der(leaf_der()).unwrap());
        leaf.verify_signed_by(&ica, AlgorithmPolicy::Default)
            .unwrap();
        ica.verify_signed_by(&root, AlgorithmPolicy::Default)
            .unwrap();
    });
    let cold_us = per_call(slice, &mut cold);
    let root_der = CertificateDer::from(chain.root.clone());
    let anchors = [webpki::anchor_from_trusted_cert(&root_der)
        .unwrap()
        .to_owned()];
    let now = rustls_pki_types::UnixTime::now();
    let webpki_us = per_call(slice, &mut || {
        benches::webpki_client_auth(&anchors, leaf_der(), &chain.intermediate, now);
    });
    println!("decode                 {decode:>8.2} us");
    println!("decode + 2 signatures  {signatures:>8.2} us");
    println!("cold                   {cold_us:>8.2} us");
    println!("webpki                 {webpki_us:>8.2} us");
}
