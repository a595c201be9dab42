//! HTTPS and mutual TLS on 127.0.0.1: a client certificate of the client
//! tier identifies a configured client without a token; no certificate
//! falls back to bearer tokens; a certificate from another hierarchy is
//! refused in the handshake.

// TLS plumbing outside #[test] fns.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use pki_core::builder::GeneralNameSpec;
use pki_core::testing::TestCa;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use support::{hex, Pki};

struct Tls {
    addr: std::net::SocketAddr,
    server_root: TestCa,
    _running: validation_api::Running,
    _dir: tempfile::TempDir,
}

async fn start(pki: &Pki, client: &TestCa) -> Tls {
    let server_root = TestCa::root("CN=API Server Root,C=MA");
    let server = server_root.leaf("CN=localhost", |t| {
        t.subject_alt_names = vec![GeneralNameSpec::dns("localhost")];
        t.extended_key_usage = vec![pki_core::oid::KP_SERVER_AUTH];
    });
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    std::fs::write(dir.path().join("server.pem"), server.cert_pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), server.key().pkcs8_pem()).unwrap();
    let text = support::config_text("").replace(
        "[crl_refresh]",
        &format!(
            "[[auth.clients]]\nname = \"seal\"\ncert_sha256 = \"{}\"\n\n[tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_tier = \"ttp\"\n\n[crl_refresh]",
            hex(&pki_core::cert::sha256(client.cert_der()))
        ),
    );
    let path = dir.path().join("api.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = validation_api::Config::load(&path).unwrap();
    let running = validation_api::start_from_config(cfg).await.unwrap();
    Tls {
        addr: running.local_addr(),
        server_root,
        _running: running,
        _dir: dir,
    }
}

/// One GET /v1/tiers over TLS, optionally with a client certificate and a
/// token. `Err` when the TLS handshake or the exchange fails.
async fn get_tiers(
    t: &Tls,
    client: Option<&TestCa>,
    token: Option<&str>,
) -> Result<StatusCode, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(t.server_root.cert_der().to_vec()))
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some(c) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(c.cert_der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key().pkcs8_der())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = http::Request::get("/v1/tiers").header("host", "localhost");
    if let Some(tok) = token {
        req = req.header("authorization", format!("Bearer {tok}"));
    }
    let resp = send
        .send_request(req.body(Full::<Bytes>::default()).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_identifies_clients() {
    let pki = Pki::new(None);
    let seal = pki.ttp_root.leaf("CN=Bank Seal,C=MA", |t| {
        t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
    });
    let t = start(&pki, &seal).await;
    // The configured client certificate alone is enough.
    assert_eq!(get_tiers(&t, Some(&seal), None).await, Ok(StatusCode::OK));
    // No certificate, no token: 401; with the broker's token: 200.
    assert_eq!(
        get_tiers(&t, None, None).await,
        Ok(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        get_tiers(&t, None, Some(support::TOKEN)).await,
        Ok(StatusCode::OK)
    );
    // A certificate of the client tier that is not a configured client: 401.
    let other = pki.ttp_root.leaf("CN=Other Seal,C=MA", |t| {
        t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
    });
    assert_eq!(
        get_tiers(&t, Some(&other), None).await,
        Ok(StatusCode::UNAUTHORIZED)
    );
    // A certificate from outside the client tier fails the handshake.
    let foreign = pki.foreign_root.leaf("CN=Intruder,C=FR", |t| {
        t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
    });
    assert!(get_tiers(&t, Some(&foreign), None).await.is_err());
}

#[test]
fn tls_config_errors() {
    let pki = Pki::new(None);
    let dir = tempfile::tempdir().unwrap();
    pki.write(dir.path());
    let p = dir.path().join("api.toml");
    std::fs::write(dir.path().join("server.key"), pki.root.key().pkcs8_pem()).unwrap();
    let with = |tls: &str| {
        support::config_text("").replace("[crl_refresh]", &format!("{tls}\n[crl_refresh]"))
    };
    for (text, want) in [
        (
            with("[tls]\ncert = \"nope.pem\"\nkey = \"nope.key\""),
            "[tls] cert",
        ),
        (
            with("[tls]\ncert = \"root.pem\"\nkey = \"root.pem\""),
            "no -----BEGIN PRIVATE KEY----- block",
        ),
        (
            with("[tls]\ncert = \"root.pem\"\nkey = \"server.key\"\nclient_tier = \"nope\""),
            "client_tier \"nope\" is not a configured tier",
        ),
        (
            with("[[auth.clients]]\nname = \"x\"\ncert_sha256 = \"00\"\n"),
            "64 hex digits",
        ),
        (
            with(&format!(
                "[[auth.clients]]\nname = \"x\"\ncert_sha256 = \"{}\"\n",
                "ab".repeat(32)
            )),
            "mutual TLS is off",
        ),
        (
            with("[[auth.clients]]\nname = \"x\"\n"),
            "neither token_sha256 nor cert_sha256",
        ),
    ] {
        std::fs::write(&p, &text).unwrap();
        let err = validation_api::Config::load(&p).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err}");
    }
}
