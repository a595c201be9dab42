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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_key_in_the_hsm_signs_when_no_delegated_signer_is_configured() {
    use der::Encode;
    use pki_core::builder::{
        build_certificate, parse_name, BasicConstraintsSpec, CertificateTemplate, KeyUsageSpec,
    };
    use x509_cert::ext::pkix::KeyUsages;

    let fx = Fixture::new("ca-signed").await;
    // A CA whose own key is the HSM key, and a leaf it issued.
    let key = fx.signer.key().clone();
    let mut ca_tpl = CertificateTemplate::new(
        parse_name("CN=HSM-keyed CA,O=Royaume du Maroc,C=MA").unwrap(),
        key.spki.clone(),
    );
    ca_tpl.serial = vec![0x21];
    ca_tpl.basic_constraints = Some(BasicConstraintsSpec::ca(None));
    ca_tpl.key_usage = Some(KeyUsageSpec::new(
        KeyUsages::KeyCertSign | KeyUsages::CRLSign,
    ));
    let ca_der = build_certificate(&ca_tpl, &fx.signer).unwrap();
    let leaf_key =
        pki_core::testing::SoftwareKey::generate(pki_core::testing::KeyAlgorithm::EcdsaP256);
    let mut leaf_tpl = CertificateTemplate::new(
        parse_name("CN=Leaf of the HSM CA").unwrap(),
        leaf_key.spki().clone(),
    );
    leaf_tpl.issuer = ca_tpl.subject.clone();
    leaf_tpl.serial = vec![0x22, 0x01];
    let leaf_der = build_certificate(&leaf_tpl, &fx.signer).unwrap();

    let ctx = store::AuditContext::new("test");
    let ca = fx
        .store
        .insert_ca(
            &store::NewCa {
                name: "hsm-keyed-ca".into(),
                subject_der: ca_tpl.subject.to_der().unwrap(),
                cert_der: ca_der.clone(),
                key_label: "ocsp-signer".into(),
                parent: None,
                tier: None,
            },
            &ctx,
        )
        .await
        .unwrap()
        .record;
    let now = time::OffsetDateTime::now_utc();
    fx.store
        .record_certificate(
            &store::NewCertificate {
                ca: ca.id,
                serial: store::Serial::from_der_content(&leaf_tpl.serial).unwrap(),
                subject_der: leaf_tpl.subject.to_der().unwrap(),
                not_before: now,
                not_after: now + time::Duration::days(365),
                der: leaf_der.clone(),
                profile: "test".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = ocsp_responder::start(
        fx.store.clone(),
        vec![ocsp_responder::IssuerSetup {
            ca_name: "hsm-keyed-ca".into(),
            signer: std::sync::Arc::new(fx.signer.clone()),
            responder_cert_der: None,
        }],
        Fixture::settings(),
        listener,
    )
    .await
    .unwrap();
    let addr = running.local_addr();

    let issuer = pki_core::ocsp::IssuerHashes::from_certificate_der(&ca_der).unwrap();
    let id = issuer
        .cert_id(pki_core::ocsp::HashAlgorithm::Sha1, &leaf_tpl.serial)
        .unwrap();
    let r = get_ocsp(addr, &pki_core::ocsp::build_request(&[id], None).unwrap()).await;
    let basic = r.basic();
    assert!(basic.certs.is_none(), "no certs: the CA signs itself");
    verify_signature(&basic, &fx);
    assert!(is_good(&basic.tbs_response_data.responses[0].cert_status));

    // openssl accepts a response signed by the issuer's own key.
    let ca_pem = fx.write_pem("hsm-ca", &ca_der);
    let leaf_pem = fx.write_pem("hsm-leaf", &leaf_der);
    let url = format!("http://{addr}");
    let args = [
        "ocsp",
        "-issuer",
        ca_pem.to_str().unwrap(),
        "-cert",
        leaf_pem.to_str().unwrap(),
        "-url",
        &url,
        "-CAfile",
        ca_pem.to_str().unwrap(),
    ]
    .map(str::to_owned);
    let out = tokio::task::spawn_blocking(move || Command::new("openssl").args(&args).output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains(": good"), "{text}");
    running.shutdown().await;
}
