//! Path validation against rustls-webpki and against the raw signature
//! cost, on the same openssl-made 3-certificate chains (P-256 and
//! RSA-2048), plus a 10,000-chain batch on 1 and 2 rayon threads.
//!
//! Cases, per key type (each round runs every case for a short slice,
//! rounds alternate so machine noise hits all cases alike; the table shows
//! medians and the median of per-round ratios):
//!
//! - `raw_2_sigs`: the two verifications a chain needs (leaf by
//!   intermediate, intermediate by root) straight through aws-lc-rs with
//!   unparsed keys.
//! - `raw_1_sig`: the leaf's verification alone.
//! - `webpki`: `EndEntityCert::verify_for_usage` (clientAuth, no
//!   revocation), trust anchor prepared once, leaf and intermediate
//!   parsed every time (webpki has no caches).
//! - `cold`: pki-core with a new validator (empty verified-edge cache)
//!   each time, intermediate and leaf decoded from DER each time; making
//!   and dropping the validator is timed too (about 0.2 us).
//! - `warm`: intermediate decoded once and its edge to the root verified;
//!   a leaf not seen before is decoded and validated (one signature).
//! - `cached`: the same chain again, every edge cached (no signature).
//! - `api_hit`: validation-api's result cache answering a repeated
//!   request (decode of the base64 input, key hash, lookup).
//!
//! `cargo bench -p benches --bench validate`
#![allow(clippy::unwrap_used, clippy::many_single_char_names)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
};
use benches::{generate, more_leaves, Chain, KeyType};
use pki_core::cache::{CertCache, VerifiedEdgeCache};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};
use rustls_pki_types::CertificateDer;

const ROUNDS: usize = 9;
const SLICE: Duration = Duration::from_millis(150);

/// Runs `f` for about `SLICE`; nanoseconds per call.
fn slice(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < SLICE {
        f();
        n += 1;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Case<'a> {
    name: &'static str,
    run: Box<dyn FnMut() + 'a>,
    ns: Vec<f64>,
}

fn trust(root: &Arc<Cert>) -> TrustStore {
    let mut t = TrustStore::new();
    t.add_tier(Tier::new("cnie", AssuranceLevel::High)).unwrap();
    t.add_anchor("cnie", root.clone()).unwrap();
    t
}

fn service(chain: &Chain) -> (tempfile::TempDir, validation_api::Service) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.der"), &chain.root).unwrap();
    let text = r#"listen = "127.0.0.1:0"
[auth]
allow_anonymous = true
[crl_refresh]
enabled = false
[[tiers]]
name = "cnie"
level = "high"
anchors = ["root.der"]
revocation = { methods = [], unavailable = "soft-fail" }
"#;
    let cfg =
        validation_api::Config::from_toml(text, &dir.path().join("x.toml"), dir.path()).unwrap();
    (dir, validation_api::Service::new(cfg).unwrap())
}

fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn run_key(label: &str, key: KeyType, leaves: usize) {
    let chain = generate(key, leaves);
    let alg: &'static dyn VerificationAlgorithm = match key {
        KeyType::P256 => &ECDSA_P256_SHA256_ASN1,
        KeyType::Rsa2048 => &RSA_PKCS1_2048_8192_SHA256,
    };
    let root = Arc::new(Cert::from_der(&chain.root).unwrap());
    let trust = trust(&root);
    let mut opts = ValidationOptions::at(UnixTime::now());
    opts.purpose = Purpose::ClientAuth;
    let ica = Cert::from_der(&chain.intermediate).unwrap();
    let leaf0 = Cert::from_der(&chain.leaves[0]).unwrap();
    let root_key = root.public_key().unwrap().bytes.clone();
    let ica_key = ica.public_key().unwrap().bytes.clone();

    let root_der = CertificateDer::from(chain.root.clone());
    let anchors = [webpki::anchor_from_trusted_cert(&root_der)
        .unwrap()
        .to_owned()];
    let now = rustls_pki_types::UnixTime::now();

    let n = chain.leaves.len();
    let (mut i, mut j, mut k) = (0usize, 0usize, 0usize);
    let certs = CertCache::new(1024);
    let ica_cached = certs.get_or_decode(&chain.intermediate).unwrap();
    let mut warm_v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(1 << 16));
    let cached_v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(1024));
    let leaf_arc = Arc::new(Cert::from_der(&chain.leaves[0]).unwrap());
    cached_v
        .validate(&leaf_arc, std::slice::from_ref(&ica_cached), &opts)
        .unwrap();
    let (_dir, svc) = service(&chain);
    let req: validation_api::request::ValidateRequest = serde_json::from_value(serde_json::json!({
        "leaf": b64(&chain.leaves[0]), "intermediates": [b64(&chain.intermediate)]
    }))
    .unwrap();
    assert!(svc.validate(&req).unwrap().0.valid);

    let mut cases: Vec<Case> = vec![
        Case {
            name: "raw_2_sigs",
            run: Box::new(|| {
                UnparsedPublicKey::new(alg, &ica_key)
                    .verify(leaf0.tbs_der(), leaf0.signature())
                    .unwrap();
                UnparsedPublicKey::new(alg, &root_key)
                    .verify(ica.tbs_der(), ica.signature())
                    .unwrap();
            }),
            ns: vec![],
        },
        Case {
            name: "raw_1_sig",
            run: Box::new(|| {
                UnparsedPublicKey::new(alg, &ica_key)
                    .verify(leaf0.tbs_der(), leaf0.signature())
                    .unwrap();
            }),
            ns: vec![],
        },
        Case {
            name: "webpki",
            run: Box::new(|| {
                i = (i + 1) % n;
                benches::webpki_client_auth(&anchors, &chain.leaves[i], &chain.intermediate, now);
            }),
            ns: vec![],
        },
        Case {
            name: "cold",
            run: Box::new(|| {
                let v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(64));
                j = (j + 1) % n;
                let ica = Arc::new(Cert::from_der(&chain.intermediate).unwrap());
                let leaf = Arc::new(Cert::from_der(&chain.leaves[j]).unwrap());
                v.validate(&leaf, &[ica], &opts).unwrap();
            }),
            ns: vec![],
        },
        Case {
            name: "warm",
            run: Box::new(|| {
                k += 1;
                if k % n == 0 {
                    // Every leaf once per validator: its signature is
                    // always checked; the intermediate's edge stays.
                    warm_v = Validator::with_cache(trust.clone(), VerifiedEdgeCache::new(1 << 16));
                    warm_v
                        .edge_cache()
                        .insert(&root, &ica_cached, AlgorithmPolicy::Default);
                }
                let ica = certs.get_or_decode(&chain.intermediate).unwrap();
                let leaf = Arc::new(Cert::from_der(&chain.leaves[k % n]).unwrap());
                warm_v.validate(&leaf, &[ica], &opts).unwrap();
            }),
            ns: vec![],
        },
        Case {
            name: "cached",
            run: Box::new(|| {
                cached_v
                    .validate(&leaf_arc, std::slice::from_ref(&ica_cached), &opts)
                    .unwrap();
            }),
            ns: vec![],
        },
        Case {
            name: "api_hit",
            run: Box::new(|| {
                let (v, hit) = svc.validate(&req).unwrap();
                assert!(hit && v.valid);
            }),
            ns: vec![],
        },
    ];
    for _ in 0..ROUNDS {
        for c in &mut cases {
            c.ns.push(slice(&mut c.run));
        }
    }
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    let per_round = |a: &str, b: &str| {
        let ia = names.iter().position(|x| *x == a).unwrap();
        let ib = names.iter().position(|x| *x == b).unwrap();
        let mut r: Vec<f64> = (0..ROUNDS)
            .map(|x| cases[ia].ns[x] / cases[ib].ns[x])
            .collect();
        median(&mut r)
    };
    println!(
        "\n== {label}: 3-certificate chain, {ROUNDS} alternating rounds of {SLICE:?} per case"
    );
    println!("{:<12} {:>12} {:>12}", "case", "median", "per second");
    for c in &cases {
        let m = median(&mut c.ns.clone());
        println!("{:<12} {:>9.2} us {:>12.0}", c.name, m / 1e3, 1e9 / m);
    }
    println!("ratios (median of per-round ratios):");
    println!(
        "  webpki / cold          {:.2}x  (>= 1: pki-core cold at least as fast as webpki)",
        per_round("webpki", "cold")
    );
    println!(
        "  webpki / warm          {:.2}x",
        per_round("webpki", "warm")
    );
    println!(
        "  webpki / cached        {:.2}x",
        per_round("webpki", "cached")
    );
    println!(
        "  webpki / api_hit       {:.2}x",
        per_round("webpki", "api_hit")
    );
    println!(
        "  webpki / raw_2_sigs    {:.2}x",
        per_round("webpki", "raw_2_sigs")
    );
    println!(
        "  cold / raw_2_sigs      {:.2}x",
        per_round("cold", "raw_2_sigs")
    );
    println!(
        "  warm / raw_1_sig       {:.2}x",
        per_round("warm", "raw_1_sig")
    );
}

/// 10,000 distinct P-256 chains validated through the rayon pool of a
/// validation-api service (the `/v1/validate/batch` path minus HTTP),
/// fresh leaves (result cache off), on 1 and 2 threads.
fn batch() {
    let chain = generate(KeyType::P256, 1);
    let leaves = more_leaves(&chain, 10_000);
    let ica = b64(&chain.intermediate);
    let items: Vec<validation_api::request::ValidateRequest> = leaves
        .iter()
        .map(|l| {
            serde_json::from_value(serde_json::json!({"leaf": b64(l), "intermediates": [ica]}))
                .unwrap()
        })
        .collect();
    let mut rates = Vec::new();
    let mut rounds: Vec<(f64, f64)> = Vec::new();
    // CPU seconds the process got per wall second, per thread count: how
    // many cores the batch really had.
    let mut cores = [0.0f64; 2];
    for _ in 0..7 {
        let mut pair = [0.0; 2];
        for (x, threads) in [1usize, 2].into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("root.der"), &chain.root).unwrap();
            let text = format!(
                "listen = \"127.0.0.1:0\"\nbatch_threads = {threads}\n[auth]\nallow_anonymous = true\n[cache]\nresults = 0\n[crl_refresh]\nenabled = false\n[[tiers]]\nname = \"cnie\"\nlevel = \"high\"\nanchors = [\"root.der\"]\nrevocation = {{ methods = [], unavailable = \"soft-fail\" }}\n"
            );
            let cfg =
                validation_api::Config::from_toml(&text, &dir.path().join("x.toml"), dir.path())
                    .unwrap();
            let svc = validation_api::Service::new(cfg).unwrap();
            let cpu0 = process_cpu_seconds();
            let start = Instant::now();
            let out = svc.validate_batch(&items);
            let secs = start.elapsed().as_secs_f64();
            cores[x] += (process_cpu_seconds() - cpu0) / secs;
            assert!(out.iter().all(|r| r.as_ref().is_ok_and(|(v, _)| v.valid)));
            pair[x] = items.len() as f64 / secs;
        }
        rounds.push((pair[0], pair[1]));
        rates.push(pair[1] / pair[0]);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\n== batch: 10,000 fresh P-256 chains through Service::validate_batch (rayon), 7 rounds; load average now {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    for (a, b) in &rounds {
        println!(
            "  1 thread {a:>8.0} chains/s   2 threads {b:>8.0} chains/s   ratio {:.2}x",
            b / a
        );
    }
    println!(
        "  cores used on average: {:.2} with 1 thread, {:.2} with 2 threads",
        cores[0] / 7.0,
        cores[1] / 7.0
    );
    let best = rates.iter().copied().fold(0.0, f64::max);
    println!(
        "  2-thread / 1-thread ratio: median {:.2}x, best round {best:.2}x (goal >= 1.8; other load on the 2 cores lowers it)",
        median(&mut rates)
    );
}

/// User + system CPU time of this process, from /proc/self/stat (0 when
/// unavailable).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn main() {
    // `cargo bench` passes --bench; a filter argument picks parts.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |p: &str| filter.is_empty() || filter.iter().any(|f| p.contains(f.as_str()));
    if want("p256") {
        run_key("P-256", KeyType::P256, 64);
    }
    if want("rsa") {
        run_key("RSA-2048", KeyType::Rsa2048, 16);
    }
    if want("batch") {
        batch();
    }
}
