//! The 1,000,000-entry CRL (issue 6 item 6, issue 10): load + verify +
//! index against `openssl crl -inform DER -noout` on the same file, lookup
//! latency, index memory per entry, and what revocation checking adds to a
//! warm validation.
//!
//! Goals: load >= 3x faster than openssl; lookup <= 100 ns; revocation adds
//! <= 10% to a warm validation.
//!
//! `cargo bench -p benches --bench crl`. The ratios are printed from
//! interleaved rounds (median of per-round ratios), next to criterion's
//! own timings.

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use pki_core::builder::CrlEntry;
use pki_core::crl::{Crl, CrlCache, CrlSet};
use pki_core::revocation::{RevocationReason, RevocationSource};
use pki_core::testing::{utc, TestCa};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Tier, TrustStore, UnixTime, ValidationOptions, Validator,
};

const ENTRIES: usize = 1_000_000;

/// 16-byte serials like the store's (127 random bits), from a fixed
/// xorshift so runs are comparable.
fn serials(n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let mut s = [next().to_be_bytes(), next().to_be_bytes()].concat();
            s[0] &= 0x7f;
            s[0] |= 0x01;
            s
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load(der: &[u8], sub: &Cert) -> Crl {
    let crl = Crl::from_der(der).expect("CRL decodes");
    crl.verify_signed_by(sub, AlgorithmPolicy::Default)
        .expect("CRL verifies");
    crl
}

fn openssl(path: &std::path::Path) {
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-in"])
        .arg(path)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl crl failed");
}

fn bench(c: &mut Criterion) {
    let root = TestCa::root("CN=Bench Root,O=Example,C=MA");
    let sub = root.intermediate("CN=Bench CNIE CA,O=Example,C=MA", |_| {});
    let leaves: Vec<TestCa> = (0..600)
        .map(|i| sub.leaf(&format!("CN=citizen{i}.example.ma"), |_| {}))
        .collect();
    let revoked = serials(ENTRIES);
    let reasons = [
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::AffiliationChanged,
    ];
    let t0 = Instant::now();
    let der = sub.crl(|tpl| {
        tpl.this_update = utc(2025, 1, 1);
        tpl.next_update = Some(utc(2035, 1, 1));
        tpl.revoked = revoked
            .iter()
            .enumerate()
            .map(|(i, s)| {
                CrlEntry::new(
                    s.clone(),
                    utc(2024, 1, 1 + u8::try_from(i % 28).unwrap_or(0)),
                )
                .with_reason(reasons[i % reasons.len()])
            })
            .collect();
    });
    println!(
        "generated a {ENTRIES}-entry CRL: {:.1} MB in {:.2} s",
        der.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&der).expect("write CRL");
    file.flush().expect("flush");
    let path = file.path().to_owned();

    let root_cert = Arc::new(Cert::from_der(root.cert_der()).expect("root"));
    let sub_cert = Arc::new(Cert::from_der(sub.cert_der()).expect("sub"));

    // Where the load time goes.
    let start = Instant::now();
    let fp = pki_core::cert::sha256(&der);
    let hash_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let parsed = Crl::from_der(&der).expect("CRL decodes");
    let parse_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    parsed
        .verify_signed_by(&sub_cert, AlgorithmPolicy::Default)
        .expect("CRL verifies");
    let verify_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(parsed.fingerprint(), &fp);
    drop(parsed);
    println!(
        "phases: SHA-256 of the DER {hash_ms:.0} ms, decode+index (incl. that hash) {parse_ms:.0} ms, signature {verify_ms:.0} ms"
    );

    // Interleaved rounds: ours vs openssl on the same file.
    let mut ratios = Vec::new();
    let (mut ours_t, mut theirs_t) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        let crl = load(&der, &sub_cert);
        let ours = start.elapsed().as_secs_f64();
        drop(crl);
        let start = Instant::now();
        openssl(&path);
        let theirs = start.elapsed().as_secs_f64();
        ours_t.push(ours);
        theirs_t.push(theirs);
        ratios.push(theirs / ours);
    }
    println!(
        "load+verify+index: ours {:.0} ms, openssl crl {:.0} ms (medians of 5); openssl/ours = {:.2}x (goal >= 3x)",
        median(ours_t) * 1e3,
        median(theirs_t) * 1e3,
        median(ratios)
    );

    let crl = Arc::new(load(&der, &sub_cert));
    println!(
        "index: {} entries, {:.1} bytes/entry of index heap ({:.1} MB), {:.1} bytes/entry with the kept DER",
        crl.len(),
        crl.index_heap_bytes() as f64 / crl.len() as f64,
        crl.index_heap_bytes() as f64 / 1e6,
        (crl.index_heap_bytes() + crl.der().len()) as f64 / crl.len() as f64,
    );

    let mut g = c.benchmark_group("crl_1m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("load_verify_index", |b| b.iter(|| load(&der, &sub_cert)));
    g.bench_function("openssl_crl_process", |b| b.iter(|| openssl(&path)));
    g.finish();

    let mut g = c.benchmark_group("crl_lookup");
    let hits: Vec<&Vec<u8>> = revoked.iter().step_by(ENTRIES / 1024).collect();
    let misses = serials(ENTRIES + 1024).split_off(ENTRIES);
    let mut i = 0usize;
    g.bench_function("hit", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            assert!(crl.lookup(hits[i]).is_some());
        });
    });
    let mut i = 0usize;
    g.bench_function("miss", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            assert!(crl.lookup(&misses[i]).is_none());
        });
    });
    g.finish();

    // Warm validation: intermediate decoded and its edge verified; a new
    // leaf decoded and validated each time (one signature check).
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("cnie", AssuranceLevel::High))
        .expect("tier");
    trust.add_anchor("cnie", root_cert.clone()).expect("anchor");
    let validator = Validator::new(trust);
    let root_crl = Arc::new(load(&root.crl(|_| {}), &root_cert));
    let set = CrlSet::new(
        vec![crl.clone(), root_crl.clone()],
        AlgorithmPolicy::Default,
    );
    let cache = CrlCache::new(16, AlgorithmPolicy::Default);
    let now = UnixTime::parse_rfc3339("2026-01-01T00:00:00Z").expect("time");
    cache
        .offer(&der, &sub_cert, now)
        .expect("cache takes the CRL");
    cache
        .offer(root_crl.der(), &root_cert, now)
        .expect("cache takes the root CRL");
    let pool = vec![sub_cert.clone()];
    let leaf_der: Vec<Vec<u8>> = leaves.iter().map(|l| l.cert_der().to_vec()).collect();
    let run = |source: Option<&dyn RevocationSource>, i: usize| {
        let mut opts = ValidationOptions::at(now);
        opts.revocation = source;
        opts.require_revocation = source.is_some();
        let leaf = Arc::new(Cert::from_der(&leaf_der[i % leaf_der.len()]).expect("leaf"));
        let p = validator.validate(&leaf, &pool, &opts).expect("valid");
        assert_eq!(p.revocation.len(), usize::from(source.is_some()) * 2);
    };
    run(Some(&set), 0);
    run(Some(&cache), 0);

    // Interleaved rounds for the ratios. "Cached": 64 leaves whose edges
    // are all in the verified-edge cache (no signature check at all: the
    // harshest ratio). "New leaf": a fresh validator whose intermediate
    // edge is verified, then leaves it has never seen (one signature
    // check each), as the validate bench's `warm` case.
    let cached_round = |source: Option<&dyn RevocationSource>| {
        let start = Instant::now();
        for i in 0..2000 {
            run(source, i % 64);
        }
        start.elapsed().as_secs_f64() / 2000.0
    };
    let trust_for_rounds = validator.trust().clone();
    let new_leaf_round = |source: Option<&dyn RevocationSource>| {
        let v = Validator::new(trust_for_rounds.clone());
        let mut opts = ValidationOptions::at(now);
        opts.revocation = source;
        opts.require_revocation = source.is_some();
        let first = Arc::new(Cert::from_der(&leaf_der[0]).expect("leaf"));
        v.validate(&first, &pool, &opts).expect("valid");
        let start = Instant::now();
        for der in &leaf_der[1..] {
            let leaf = Arc::new(Cert::from_der(der).expect("leaf"));
            v.validate(&leaf, &pool, &opts).expect("valid");
        }
        start.elapsed().as_secs_f64() / (leaf_der.len() - 1) as f64
    };
    for (label, round) in [
        (
            "cached edges",
            &cached_round as &dyn Fn(Option<&dyn RevocationSource>) -> f64,
        ),
        ("new leaf", &new_leaf_round),
    ] {
        let (mut set_r, mut cache_r, mut base_t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..7 {
            let base = round(None);
            let with_set = round(Some(&set));
            let with_cache = round(Some(&cache));
            base_t.push(base);
            set_r.push(with_set / base);
            cache_r.push(with_cache / base);
        }
        println!(
            "warm validation ({label}) {:.1} us without revocation; with the 1M-entry CRL: CrlSet {:.3}x, CrlCache {:.3}x (goal <= 1.10x)",
            median(base_t) * 1e6,
            median(set_r),
            median(cache_r)
        );
    }

    let mut g = c.benchmark_group("warm_validation");
    let mut i = 0usize;
    g.bench_function("no_revocation", |b| {
        b.iter(|| {
            i += 1;
            run(None, i % 64);
        });
    });
    g.bench_function("crl_set_1m", |b| {
        b.iter(|| {
            i += 1;
            run(Some(&set), i % 64);
        });
    });
    g.bench_function("crl_cache_1m", |b| {
        b.iter(|| {
            i += 1;
            run(Some(&cache), i % 64);
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
