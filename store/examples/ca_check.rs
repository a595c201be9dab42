//! Times the publishing checks on an existing store:
//! `cargo run --release -p store --example ca_check -- URL CA_ID [SERIAL_HEX]`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("URL");
    let ca = store::CaId(args.next().expect("CA id").parse().unwrap());
    let store = store::Store::open_existing(&url).await.unwrap();
    for round in 0..2 {
        let t = Instant::now();
        let report = store.verify_ca_state(ca).await.unwrap();
        println!(
            "verify_ca_state (round {round}): {} rows, intact {}, {:.2} s",
            report.rows,
            report.is_intact(),
            t.elapsed().as_secs_f64()
        );
    }
    if let Some(hex) = args.next() {
        let serial = store::Serial::from_hex(&hex).unwrap();
        for round in 0..3 {
            let t = Instant::now();
            let report = store.verify_serial_state(ca, &serial).await.unwrap();
            println!(
                "verify_serial_state (round {round}): intact {}, {:.3} s",
                report.is_intact(),
                t.elapsed().as_secs_f64()
            );
        }
    }
}
