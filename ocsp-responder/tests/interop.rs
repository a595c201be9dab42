//! `openssl ocsp` verifies our responses: good, revoked with its reason,
//! unknown; with and without nonce, SHA-1 and SHA-256 CertIDs.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;
use pki_core::testing::TestCa;

/// Runs `openssl ocsp` against the responder; (success, stdout+stderr).
async fn openssl_ocsp(fx: &Fixture, leaf: &TestCa, extra: &[&str]) -> (bool, String) {
    let ca = fx.write_pem("ca", fx.ca.cert_der());
    openssl_ocsp_anchor(fx, leaf, &ca, extra).await
}

async fn openssl_ocsp_anchor(
    fx: &Fixture,
    leaf: &TestCa,
    anchor: &std::path::Path,
    extra: &[&str],
) -> (bool, String) {
    let ca = fx.write_pem("ca", fx.ca.cert_der());
    let cert = fx.write_pem(&format!("leaf-{}", hex(leaf.serial())), leaf.cert_der());
    let url = format!("http://{}", fx.addr());
    // Digest options must come before -cert.
    let mut args: Vec<String> = vec!["ocsp".to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    for a in [
        "-issuer",
        ca.to_str().unwrap(),
        "-cert",
        cert.to_str().unwrap(),
        "-url",
        &url,
        "-CAfile",
        anchor.to_str().unwrap(),
        "-timeout",
        "10",
    ] {
        args.push(a.to_owned());
    }
    let out = tokio::task::spawn_blocking(move || Command::new("openssl").args(&args).output())
        .await
        .unwrap()
        .expect("openssl on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        use std::fmt::Write as _;
        let _ = write!(s, "{x:02x}");
        s
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_verifies_good_revoked_and_unknown() {
    let mut fx = Fixture::new("openssl").await;
    fx.start(Fixture::settings()).await;
    for extra in [
        &[][..],
        &["-no_nonce"][..],
        &["-sha256"][..],
        &["-no_nonce", "-sha256"][..],
    ] {
        let (ok, text) = openssl_ocsp(&fx, &fx.good, extra).await;
        assert!(ok, "{extra:?}: {text}");
        assert!(text.contains("Response verify OK"), "{extra:?}: {text}");
        assert!(text.contains(": good"), "{extra:?}: {text}");
        assert!(!text.contains("WARNING"), "{extra:?}: {text}");

        let (ok, text) = openssl_ocsp(&fx, &fx.revoked, extra).await;
        assert!(ok, "{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(": revoked"), "{text}");
        assert!(text.contains("Reason: keyCompromise"), "{text}");

        let (ok, text) = openssl_ocsp(&fx, &fx.unissued, extra).await;
        assert!(ok, "{text}");
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(": unknown"), "{text}");
    }
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_rejects_a_response_for_the_wrong_trust_anchor() {
    // The check above can fail: with another CA as the only anchor the
    // delegated signer does not chain and openssl says so.
    let mut fx = Fixture::new("openssl-wrong-anchor").await;
    fx.start(Fixture::settings()).await;
    let stranger = TestCa::root("CN=Not Our CA");
    let anchor = fx.write_pem("stranger", stranger.cert_der());
    let (_, text) = openssl_ocsp_anchor(&fx, &fx.good, &anchor, &[]).await;
    assert!(!text.contains("Response verify OK"), "{text}");
    assert!(text.contains("Response Verify Failure"), "{text}");
    fx.stop().await;
}
