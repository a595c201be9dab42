//! What decoding a certificate costs: `Cert::from_der` (which includes the
//! SHA-256 fingerprint), the same plus dropping it, and a full x509-cert
//! decode for comparison, on a test-CA leaf and intermediate (P-256).
//!
//! `cargo run --release -p pki-core --example decode_cost`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use der::Decode;
use pki_core::testing::TestCa;
use pki_core::Cert;

fn time(what: &str, n: u32, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{what:<34} {:>8.3} us",
        t.elapsed().as_secs_f64() / f64::from(n) * 1e6
    );
}

fn main() {
    let root = TestCa::root("CN=Decode Root,O=Example,C=MA");
    let sub = root.intermediate("CN=Decode Sub,O=Example,C=MA", |_| {});
    let leaf = sub.leaf("CN=citizen.example.ma", |_| {});
    for (name, der) in [("intermediate", sub.cert_der()), ("leaf", leaf.cert_der())] {
        println!("{name}: {} bytes", der.len());
        time("  Cert::from_der + drop", 200_000, || {
            black_box(Cert::from_der(black_box(der)).unwrap());
        });
        time("  x509_cert::Certificate::from_der", 200_000, || {
            black_box(x509_cert::Certificate::from_der(black_box(der)).unwrap());
        });
        time("  sha256", 200_000, || {
            black_box(pki_core::cert::sha256(black_box(der)));
        });
    }
}
