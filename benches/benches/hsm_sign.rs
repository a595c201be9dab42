//! Signatures per second for P-256 through the `hsm` session pool, side by
//! side with a raw `cryptoki` sign loop on the same key in the same run, at
//! 1 and 2 threads.
//!
//! Both paths hash the same 512-byte TBS with SHA-256 on the host and sign
//! with `CKM_ECDSA`; the pool path also borrows and returns a pooled
//! session, checks the module generation and turns `r || s` into DER, as
//! every production signature does. The token is a fresh SoftHSM2 token in
//! a temp dir (`PKCS11_MODULE` picks another module).
//!
//! `cargo bench -p benches --bench hsm_sign`
#![allow(clippy::unwrap_used)]

use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use criterion::{BenchmarkId, Criterion, Throughput};
use hsm::cryptoki::mechanism::Mechanism;
use hsm::cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use hsm::cryptoki::session::{Session, UserType};
use hsm::cryptoki::slot::Slot;
use hsm::softhsm::SoftHsm;
use hsm::{HsmSigner, KeyLabel, KeyType, Pin, PoolConfig, SessionPool, TokenLabel};
use pki_core::Signer;

const TBS: [u8; 512] = [0x5a; 512];
const USER_PIN: &str = "bench-pin-1234";
const THREADS: [usize; 2] = [1, 2];

struct Fixture {
    _dir: tempfile::TempDir,
    softhsm: SoftHsm,
    signer: HsmSigner,
    slot: Slot,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let softhsm = SoftHsm::open(dir.path()).unwrap();
        let label = TokenLabel::new("bench").unwrap();
        let pin = Pin::new(USER_PIN).unwrap();
        softhsm
            .init_token(&label, &Pin::new("bench-so-pin").unwrap(), &pin)
            .unwrap();
        let config = PoolConfig {
            size: 2,
            ..PoolConfig::default()
        };
        let pool = SessionPool::new(softhsm.hsm(), label, pin, config).unwrap();
        let key = pool
            .generate_key(&KeyLabel::new("ocsp").unwrap(), KeyType::EcP256)
            .unwrap();
        let signer = pool.signer(key).unwrap();
        let pkcs11 = softhsm.hsm().pkcs11();
        let slot = pkcs11
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| {
                pkcs11
                    .get_token_info(*s)
                    .is_ok_and(|t| t.label() == "bench")
            })
            .unwrap();
        Fixture {
            _dir: dir,
            softhsm,
            signer,
            slot,
        }
    })
}

/// A raw session of its own on the bench token, and the private key handle.
fn raw_session(fx: &Fixture) -> (Session, ObjectHandle) {
    let session = fx.softhsm.hsm().pkcs11().open_ro_session(fx.slot).unwrap();
    // Login is per application: already logged in through the pool.
    let _ = session.login(
        UserType::User,
        Some(&hsm::cryptoki::types::AuthPin::new(USER_PIN.into())),
    );
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(fx.signer.key().id.as_bytes().to_vec()),
        ])
        .unwrap()[0];
    (session, key)
}

/// Time for `iters` signatures spread over `threads` threads.
fn run(fx: &Fixture, raw: bool, threads: usize, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let barrier = &barrier;
            scope.spawn(move || {
                if raw {
                    let (session, key) = raw_session(fx);
                    barrier.wait();
                    for _ in 0..per_thread {
                        let hash = digest::digest(&digest::SHA256, &TBS);
                        let sig = session.sign(&Mechanism::Ecdsa, key, hash.as_ref()).unwrap();
                        std::hint::black_box(sig);
                    }
                } else {
                    barrier.wait();
                    for _ in 0..per_thread {
                        std::hint::black_box(fx.signer.sign(&TBS).unwrap());
                    }
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let fx = fixture();
    let mut group = c.benchmark_group("hsm_sign_p256");
    group.throughput(Throughput::Elements(1));
    for threads in THREADS {
        for (name, raw) in [("raw_cryptoki", true), ("pool", false)] {
            group.bench_function(BenchmarkId::new(name, format!("{threads}t")), |b| {
                b.iter_custom(|iters| run(fx, raw, threads, iters));
            });
        }
    }
    group.finish();
}

/// Raw and pool runs alternate in short batches (swapping which goes
/// first), so both see the same machine load; prints the median rate of
/// each and the median of the per-round ratios.
fn print_ratio() {
    let fx = fixture();
    let (rounds, batch) = (15, 1500);
    println!("\nP-256 signatures/s, {rounds} interleaved rounds of {batch} signatures each:");
    println!("threads  raw cryptoki     pool  pool/raw (median of rounds)");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for threads in THREADS {
        let (mut raw, mut pool, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let rate = |is_raw| batch as f64 / run(fx, is_raw, threads, batch).as_secs_f64();
            let (r, p) = if round % 2 == 0 {
                let r = rate(true);
                (r, rate(false))
            } else {
                let p = rate(false);
                (rate(true), p)
            };
            raw.push(r);
            pool.push(p);
            ratio.push(p / r);
        }
        println!(
            "{threads:>7} {:>13.0} {:>8.0} {:>9.1}%",
            median(raw),
            median(pool),
            100.0 * median(ratio)
        );
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once in test mode: skip the
    // timed comparison there.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        print_ratio();
    }
}
