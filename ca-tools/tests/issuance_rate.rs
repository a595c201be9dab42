//! Issuance throughput through SoftHSM P-256, measured against a raw HSM
//! sign loop in the same run. A figure for the notes, not a pass/fail
//! test:
//!
//! ```text
//! cargo test --release -p ca-tools --test issuance_rate -- --ignored --nocapture
//! ```
//!
//! Each issuance allocates a random serial in the store, builds the
//! certificate, lints its TBS, signs it in the HSM, decodes and verifies
//! the result, lints it again and records it with its audit entry (one
//! SQLite transaction with `synchronous=FULL` per certificate). Rounds of
//! the two loops alternate; the medians are reported. `PKI_BENCH_SHM=1`
//! puts the store on /dev/shm to show what the fsyncs cost.
//!
//! Then batch issuance (`pki issue --batch`, issue 18 item 5): the same
//! pipeline per certificate, a durable transaction per chunk of 500, signing
//! on two threads while the previous chunk is recorded, against the raw
//! loop on one and on two threads in the same rounds.

#![allow(clippy::unwrap_used)]

mod officer;

use std::io::Write as _;

use der::Encode as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::time::Instant;

use ca_tools::ceremony;
use ca_tools::config::GlobalArgs;
use ca_tools::issue::{Issuer, Subject};
use officer::{example, Bed, PIN};

const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;
/// Requests per batch run.
const BATCH: usize = 5000;
const BATCH_THREADS: usize = 2;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "performance figure; run in release mode with --nocapture"]
fn issuance_vs_raw_hsm_signing() {
    let bed = Bed::new();
    let pin = bed.path("pin");
    // Mode 0600: the PIN file must not be open to group or others.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pin)
        .unwrap()
        .write_all(PIN.as_bytes())
        .unwrap();
    let store_dir = if std::env::var_os("PKI_BENCH_SHM").is_some_and(|v| !v.is_empty()) {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir_in(bed.dir.path()).unwrap()
    };
    let g = GlobalArgs {
        config: Some(example("pki.toml")),
        store: Some(format!("sqlite://{}/pki.db", store_dir.path().display())),
        token: Some(bed.token.clone()),
        pin_file: Some(pin),
        actor: Some("bench".into()),
    };
    let rt = Bed::runtime();
    rt.block_on(async {
        let url = g.store.as_deref().unwrap();
        store::Store::create(url).await.unwrap().close().await;
    });
    std::env::set_current_dir(bed.dir.path()).unwrap();
    let t = Instant::now();
    for (kind, file) in [
        ("root", "01-national-root.toml"),
        ("intermediate", "02-cnie-citizen-ca.toml"),
        ("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml"),
    ] {
        let args = ceremony::Args {
            file: example(file),
            dry_run: false,
            officers: ca_tools::officer::OfficerArgs::default(),
        };
        rt.block_on(async {
            match kind {
                "root" => ceremony::root(&args, &g).await,
                "intermediate" => ceremony::intermediate(&args, &g).await,
                _ => ceremony::ocsp_signer(&args, &g).await,
            }
        })
        .unwrap();
    }
    let ceremonies = t.elapsed();

    let issuer = rt
        .block_on(Issuer::open(&g, "cnie-citizen-ca", "cnie-auth"))
        .unwrap();
    // One citizen key for every certificate: the key is not what is measured.
    let citizen = issuer
        .pool
        .generate_key(
            &hsm::KeyLabel::new("bench-citizen").unwrap(),
            hsm::KeyType::EcP256,
        )
        .unwrap();
    let subject = Subject {
        name: pki_core::builder::parse_name("CN=Bench Citizen,serialNumber=AB000000,C=MA").unwrap(),
        public_key: citizen.spki.clone(),
        sans: vec![pki_core::builder::GeneralNameSpec::email(
            "bench@cnie.example.ma",
        )],
        inputs: Vec::new(),
        key_note: serde_json::Value::Null,
    };
    let first = rt.block_on(issuer.issue(subject.clone())).unwrap();
    let tbs_len = pki_core::Cert::from_der(&first.der)
        .unwrap()
        .tbs_der()
        .len();
    let tbs = vec![0x5a_u8; tbs_len];

    let (mut raw, mut issued, mut signed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            issuer.signer.try_sign(&tbs).unwrap();
        }
        raw.push(PER_ROUND as f64 / t.elapsed().as_secs_f64());
        // The same pipeline without the store: template, lint, HSM
        // signature, decode, verify, lint.
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            issuer
                .sign(&subject, &store::Serial::random().unwrap())
                .unwrap();
        }
        signed.push(PER_ROUND as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        rt.block_on(async {
            for _ in 0..PER_ROUND {
                issuer.issue(subject.clone()).await.unwrap();
            }
        });
        issued.push(PER_ROUND as f64 / t.elapsed().as_secs_f64());
    }
    // Batch issuance (`pki issue --batch`): chunks of 500 requests, each
    // recorded in one durable transaction, signed on BATCH_THREADS threads
    // while the chunk before is recorded. Alternates with a raw loop on 1
    // and on 2 threads (the HSM's capacity on this machine).
    let key_pem = pki_core::pem::encode("PUBLIC KEY", &citizen.spki.to_der().unwrap());
    let (mut raw1, mut raw2, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..BATCH {
            issuer.signer.try_sign(&tbs).unwrap();
        }
        raw1.push(BATCH as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..BATCH / 2 {
                        issuer.signer.try_sign(&tbs).unwrap();
                    }
                });
            }
        });
        raw2.push(BATCH as f64 / t.elapsed().as_secs_f64());
        let input = bed.path(&format!("batch-{round}.jsonl"));
        let mut file = std::fs::File::create(&input).unwrap();
        for n in 0..BATCH {
            let line = serde_json::json!({
                "subject": format!("/C=MA/serialNumber=B{round}-{n:06}/CN=Batch Citizen {n}"),
                "public_key": key_pem,
                "san": ["email:bench@cnie.example.ma"],
            });
            writeln!(file, "{line}").unwrap();
        }
        drop(file);
        let opts = ca_tools::batch::BatchOptions {
            file: input,
            out: Some(bed.path(&format!("batch-{round}.out.jsonl"))),
            chunk: ca_tools::batch::DEFAULT_CHUNK,
            threads: BATCH_THREADS,
            progress: false,
        };
        let t = Instant::now();
        let summary = rt
            .block_on(ca_tools::batch::run(
                opts,
                &g,
                "cnie-citizen-ca",
                "cnie-auth",
            ))
            .unwrap();
        batch.push(BATCH as f64 / t.elapsed().as_secs_f64());
        assert_eq!(summary.issued, BATCH as u64);
    }
    let (raw1, raw2, batch) = (median(raw1), median(raw2), median(batch));
    let (raw, issued, signed) = (median(raw), median(issued), median(signed));
    println!(
        "ceremonies (root P-384, CNIE CA P-256, OCSP signer P-256, in-process): {ceremonies:.2?}"
    );
    println!(
        "store on {}: raw HSM P-256 sign {raw:.0}/s, issuance {issued:.0}/s, ratio {:.3} \
         ({ROUNDS} alternating rounds of {PER_ROUND}, medians; TBS {tbs_len} bytes)",
        if std::env::var_os("PKI_BENCH_SHM").is_some_and(|v| !v.is_empty()) {
            "tmpfs"
        } else {
            "disk"
        },
        issued / raw
    );
    println!(
        "  of which build + lint + HSM sign + verify + lint without the store: {signed:.0}/s \
         (ratio to raw {:.3}); store transaction per certificate {:.0} us",
        signed / raw,
        (1.0 / issued - 1.0 / signed) * 1e6
    );
    // Where one certificate's CPU goes, step by step (one thread): what
    // bounds any pipeline on this machine's cores.
    let cert = pki_core::Cert::from_der(&first.der).unwrap();
    let ca_cert = &issuer.ca_cert;
    let step = |name: &str, f: &mut dyn FnMut()| {
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!("  step {name}: {us:.1} us");
        us
    };
    let mut total = 0.0;
    total += step("request TBS (template + DER)", &mut || {
        issuer.request_tbs(&subject).unwrap();
    });
    total += step(
        "pre-sign lint (template, encode, decode, lint)",
        &mut || {
            issuer.precheck(&subject).unwrap();
        },
    );
    total += step("HSM sign (hash + C_Sign)", &mut || {
        issuer.signer.try_sign(&tbs).unwrap();
    });
    total += step("decode signed certificate", &mut || {
        pki_core::Cert::from_der(&first.der).unwrap();
    });
    total += step("verify signature (P-256)", &mut || {
        cert.verify_signed_by(ca_cert, pki_core::AlgorithmPolicy::Default)
            .unwrap();
    });
    println!(
        "  sum of the steps above {total:.1} us (the post-sign lint and certificate DER are \
         on top): at most {:.0} certificates/s per core",
        1e6 / total
    );
    println!(
        "batch issuance ({BATCH} per run, chunks of {}, {BATCH_THREADS} signing threads, durable \
         commit per chunk): {batch:.0}/s; raw HSM sign 1 thread {raw1:.0}/s (ratio {:.3}), \
         2 threads {raw2:.0}/s (ratio {:.3})",
        ca_tools::batch::DEFAULT_CHUNK,
        batch / raw1,
        batch / raw2
    );
    rt.block_on(async {
        assert_eq!(
            issuer.store.verify_audit().await.unwrap(),
            5 + 1 + (ROUNDS * (PER_ROUND + BATCH)) as u64
        );
    });
}
