//! The Python client of `examples/clients/` with `--ocsp-url`: it asks
//! a real validation API for the verdict and this responder for the
//! leaf's status (an RFC 6960 GET it builds itself), prints both, and
//! exits 0 only when the chain is valid and the status `good`.
//! (`validation-api/tests/clients.rs` tests the verdict side alone.)
#![allow(clippy::unwrap_used)]

#[path = "../../validation-api/tests/support/mod.rs"]
mod api;
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/clients/validate.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_asks_the_responder_too() {
    let mut fx = Fixture::new("client").await;
    let responder = fx.start(Fixture::settings()).await;

    // An API whose one tier trusts the fixture's CA and checks no
    // revocation itself: the verdict is "valid" for both leaves, and only
    // the responder knows that one is revoked.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    write("fixture-ca.pem", fx.ca.cert_pem());
    let config = format!(
        r#"listen = "127.0.0.1:0"

[auth]
[[auth.clients]]
name = "broker"
token_sha256 = "{hash}"
max_concurrent = 4

[crl_refresh]
enabled = false

[[tiers]]
name = "fixture"
level = "low"
anchors = ["fixture-ca.pem"]
revocation = {{ methods = [], unavailable = "soft-fail" }}
"#,
        hash = api::hex(&validation_api::config::token_hash(api::TOKEN)),
    );
    let server = api::Server::start_in(&api::Pki::new(None), &config, dir).await;
    let dir = server.dir.path();
    let token = dir.join("token");
    std::fs::write(&token, api::TOKEN).unwrap();
    let ca = dir.join("fixture-ca.pem");
    std::fs::write(dir.join("good.pem"), fx.good.cert_pem()).unwrap();
    std::fs::write(dir.join("revoked.pem"), fx.revoked.cert_pem()).unwrap();

    let run = |leaf: &Path| {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let mut cmd = Command::new(python);
        cmd.arg(CLIENT)
            .args(["--url", &format!("http://{}", server.addr)])
            .arg("--token-file")
            .arg(&token)
            .arg("--leaf")
            .arg(leaf)
            .arg("--issuer")
            .arg(&ca)
            .args(["--ocsp-url", &format!("http://{responder}/")]);
        let o = tokio::task::block_in_place(|| cmd.output()).unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let serial = |leaf: &pki_core::testing::TestCa| pki_core::cert::hex(leaf.serial());

    let (code, out) = run(&dir.join("good.pem"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("valid: tier fixture, level low\n"), "{out}");
    assert!(
        out.contains(&format!(
            "ocsp: good (serial {}; signature not checked by this client)\n",
            serial(&fx.good)
        )),
        "{out}"
    );

    let (code, out) = run(&dir.join("revoked.pem"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("valid: tier fixture"), "{out}");
    assert!(
        out.contains(&format!("ocsp: revoked (serial {}", serial(&fx.revoked))),
        "{out}"
    );

    // Both answers came from this responder.
    let metrics =
        String::from_utf8(http(responder, "GET", "/metrics", &[], &[]).await.body).unwrap();
    let answered: u64 = ["cached", "live"]
        .iter()
        .filter_map(|r| {
            let prefix = format!("ocsp_requests_total{{method=\"GET\",result=\"{r}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&prefix)?.parse::<u64>().ok())
        })
        .sum();
    assert_eq!(answered, 2, "{metrics}");
    fx.stop().await;
}
