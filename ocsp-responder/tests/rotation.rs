//! Responder certificates checked at start and on reload, rotated without a
//! restart (library reload under load, SIGHUP on the binary, a changed
//! file), and their expiry exported on `/metrics`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use der::Encode as _;
use hsm::{HsmSigner, KeyLabel, KeyType};
use ocsp_responder::delegation::ResponderCheck;
use ocsp_responder::issuer::NoHsm;
use ocsp_responder::{IssuerSetup, ResponderError};
use pki_core::builder::{parse_name, AuthorityKeyId, CertificateTemplate, KeyUsageSpec};
use pki_core::ocsp::{decode_response, HashAlgorithm, ResponseStatus};
use pki_core::testing::{utc, TestCa};
use pki_core::{oid, SignError, Signer};
use tokio::net::TcpListener;

/// A responder certificate for `spki`, issued by `ca` under `issuer`'s
/// name, valid 2020..2040 with id-kp-OCSPSigning unless `edit` changes it.
fn responder_cert(
    ca: &TestCa,
    issuer: &x509_cert::name::Name,
    spki: &spki::SubjectPublicKeyInfoOwned,
    serial: u8,
    edit: impl FnOnce(&mut CertificateTemplate),
) -> Vec<u8> {
    let mut tpl = CertificateTemplate::new(
        parse_name("CN=OCSP Responder,O=Royaume du Maroc,C=MA").unwrap(),
        spki.clone(),
    );
    tpl.issuer = issuer.clone();
    tpl.serial = vec![0x0f, serial];
    tpl.not_before = utc(2020, 1, 1);
    tpl.not_after = utc(2040, 1, 1);
    tpl.key_usage = Some(KeyUsageSpec::new(
        x509_cert::ext::pkix::KeyUsages::DigitalSignature,
    ));
    tpl.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
    tpl.ocsp_no_check = true;
    tpl.authority_key_id = AuthorityKeyId::Explicit(ca.key_id().to_vec());
    edit(&mut tpl);
    ca.sign_template(&tpl)
}

/// A second HSM key on the fixture's token and its certificate from the CA.
fn second_identity(fx: &Fixture, label: &str, serial: u8) -> (HsmSigner, Vec<u8>) {
    let key = fx
        .pool
        .generate_key(&KeyLabel::new(label).unwrap(), KeyType::EcP256)
        .unwrap();
    let cert = responder_cert(&fx.ca, fx.ca.name(), &key.spki, serial, |_| {});
    (fx.pool.signer(key).unwrap(), cert)
}

fn setup(fx: &Fixture, signer: Arc<dyn Signer>, cert: Vec<u8>) -> Vec<IssuerSetup> {
    vec![IssuerSetup {
        ca_name: fx.ca_name.clone(),
        signer,
        responder_cert_der: Some(cert),
    }]
}

/// Claims the fixture key's public half but signs with another key.
struct Impostor {
    claimed: HsmSigner,
    actual: HsmSigner,
}

impl Signer for Impostor {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        self.claimed.algorithm()
    }
    fn public_key(&self) -> spki::SubjectPublicKeyInfoOwned {
        self.claimed.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        self.actual.sign(tbs)
    }
}

async fn refused(fx: &Fixture, signer: Arc<dyn Signer>, cert: Vec<u8>) -> (ResponderCheck, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = ocsp_responder::start(
        fx.store.clone(),
        setup(fx, signer, cert),
        Fixture::settings(),
        listener,
    )
    .await
    .expect_err("the responder refuses to start");
    let text = err.to_string();
    assert!(text.contains(&fx.ca_name), "names the issuer: {text}");
    match err {
        ResponderError::ResponderRefused { check, .. } => (check, text),
        other => panic!("not a responder certificate refusal: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failed_check_refuses_the_start_and_is_named() {
    let fx = Fixture::new("checks").await;
    let own: Arc<dyn Signer> = Arc::new(fx.signer.clone());
    let spki = fx.signer.key().spki.clone();

    // Another CA's responder certificate (the incident of issue 20).
    let other = TestCa::root("CN=Organisations CA,O=Royaume du Maroc,C=MA");
    let cert = responder_cert(&other, other.name(), &spki, 1, |_| {});
    let (check, text) = refused(&fx, Arc::clone(&own), cert).await;
    assert!(matches!(check, ResponderCheck::IssuerName { .. }), "{text}");
    assert!(text.contains("issuer check failed"), "{text}");

    // The CA's name, but not its key.
    let cert = responder_cert(&other, fx.ca.name(), &spki, 2, |_| {});
    let (check, text) = refused(&fx, Arc::clone(&own), cert).await;
    assert_eq!(check, ResponderCheck::NotSignedByCa, "{text}");
    assert!(
        text.contains("does not verify under the CA certificate"),
        "{text}"
    );

    // No id-kp-OCSPSigning.
    let cert = responder_cert(&fx.ca, fx.ca.name(), &spki, 3, |t| {
        t.extended_key_usage = vec![oid::KP_CLIENT_AUTH];
    });
    let (check, text) = refused(&fx, Arc::clone(&own), cert).await;
    assert_eq!(check, ResponderCheck::NoOcspSigning, "{text}");
    assert!(text.contains("id-kp-OCSPSigning"), "{text}");

    // Expired, and not valid yet.
    let cert = responder_cert(&fx.ca, fx.ca.name(), &spki, 4, |t| {
        t.not_after = utc(2021, 1, 1);
    });
    let (check, text) = refused(&fx, Arc::clone(&own), cert).await;
    assert!(matches!(check, ResponderCheck::Validity { .. }), "{text}");
    assert!(text.contains("validity check failed"), "{text}");
    let cert = responder_cert(&fx.ca, fx.ca.name(), &spki, 5, |t| {
        t.not_before = SystemTime::now() + Duration::from_secs(86_400);
    });
    let (check, _) = refused(&fx, Arc::clone(&own), cert).await;
    assert!(matches!(check, ResponderCheck::Validity { .. }));

    // A good certificate, but the HSM key is another one.
    let (other_key, _) = second_identity(&fx, "not-the-responder-key", 6);
    let (check, text) = refused(&fx, Arc::new(other_key.clone()), fx.responder_cert.clone()).await;
    assert_eq!(check, ResponderCheck::KeyMismatch, "{text}");
    assert!(text.contains("key check failed"), "{text}");

    // The key claims the certificate's public key, but its signatures do
    // not verify under it: caught by the probe.
    let impostor = Impostor {
        claimed: fx.signer.clone(),
        actual: other_key,
    };
    let (check, text) = refused(&fx, Arc::new(impostor), fx.responder_cert.clone()).await;
    assert!(
        matches!(check, ResponderCheck::ProbeFailed { .. }),
        "{text}"
    );
    assert!(text.contains("probe"), "{text}");

    // The CA key signing itself (no delegate): the key must be the CA's.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = ocsp_responder::start(
        fx.store.clone(),
        vec![IssuerSetup {
            ca_name: fx.ca_name.clone(),
            signer: Arc::clone(&own),
            responder_cert_der: None,
        }],
        Fixture::settings(),
        listener,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ResponderError::ResponderRefused {
                check: ResponderCheck::KeyMismatch,
                ..
            }
        ),
        "{err}"
    );

    // Without an HSM (table mode) only the probe is skipped: the checks on
    // the certificate still run.
    let no_hsm = Arc::new(NoHsm::for_certificate(&fx.responder_cert).unwrap());
    let ok = ocsp_responder::resolve_issuers(
        &fx.store,
        setup(&fx, no_hsm.clone(), fx.responder_cert.clone()),
    )
    .await;
    assert!(ok.is_ok(), "{:?}", ok.err());
    let expired = responder_cert(&fx.ca, fx.ca.name(), &spki, 7, |t| {
        t.not_after = utc(2021, 1, 1);
    });
    let no_hsm = Arc::new(NoHsm::for_certificate(&expired).unwrap());
    let err = ocsp_responder::resolve_issuers(&fx.store, setup(&fx, no_hsm, expired))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("validity check failed"), "{err}");
}

/// The certificate a response carries, after checking the response's
/// signature under it.
fn signed_under(body: &[u8]) -> Result<Vec<u8>, String> {
    let resp = decode_response(body).map_err(|e| e.to_string())?;
    if resp.status != ResponseStatus::Successful {
        return Err(format!("status {:?}", resp.status));
    }
    let basic = resp.basic.ok_or("no basic response")?;
    let cert = basic
        .certs
        .as_ref()
        .and_then(|c| c.first())
        .ok_or("no responder certificate")?;
    let tbs = basic.tbs_response_data.to_der().unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
    .verify(&tbs, basic.signature.raw_bytes())
    .map_err(|_| "signature does not verify under the certificate it carries".to_owned())?;
    let single = &basic.tbs_response_data.responses[0];
    if !is_good(&single.cert_status) {
        return Err(format!("status {:?}", single.cert_status));
    }
    Ok(cert.to_der().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_the_responder_certificate_under_load_with_no_failed_request() {
    let mut fx = Fixture::new("reload").await;
    let addr = fx.start(Fixture::settings()).await;
    let (signer2, cert2) = second_identity(&fx, "ocsp-signer-2", 0x20);
    let one = (
        Arc::new(fx.signer.clone()) as Arc<dyn Signer>,
        fx.responder_cert.clone(),
    );
    let two = (Arc::new(signer2) as Arc<dyn Signer>, cert2.clone());

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for n in 0..4 {
        let (stop, served, failures) = (stop.clone(), served.clone(), failures.clone());
        let sha1 = fx.request(&fx.good, HashAlgorithm::Sha1, None);
        let nonce = fx.request(&fx.good, HashAlgorithm::Sha256, Some(&[n; 16]));
        let allowed = [fx.responder_cert.clone(), cert2.clone()];
        clients.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = if i % 2 == 0 {
                    get_ocsp(addr, &sha1).await
                } else {
                    post_ocsp(addr, &nonce).await
                };
                i += 1;
                let outcome = if r.status == 200 {
                    signed_under(&r.body)
                } else {
                    Err(format!("HTTP {}", r.status))
                };
                match outcome {
                    Ok(cert) if allowed.contains(&cert) => {}
                    Ok(_) => failures.lock().unwrap().push("unknown certificate".into()),
                    Err(e) => failures.lock().unwrap().push(e),
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let core = Arc::clone(fx.running.as_ref().unwrap().core());
    let expired = responder_cert(&fx.ca, fx.ca.name(), &fx.signer.key().spki, 0x30, |t| {
        t.not_after = utc(2021, 1, 1);
    });
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (signer, cert) = if round % 2 == 0 { &two } else { &one };
        let report = ocsp_responder::reload(&core, setup(&fx, signer.clone(), cert.clone()))
            .await
            .unwrap();
        assert_eq!(report.rotated, vec![fx.ca_name.clone()]);
        // The index stays: the same CA answers under the same key.
        assert_eq!(core.issuers()[0].index, 0);
        // A refused reload changes nothing.
        let err = ocsp_responder::reload(
            &core,
            setup(&fx, Arc::new(fx.signer.clone()), expired.clone()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("validity check failed"), "{err}");
        assert_eq!(
            core.issuers()[0].responder_cert_der.as_deref(),
            Some(cert.as_slice())
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let served = served.load(Ordering::Relaxed);
    assert!(served >= 20, "only {served} requests ran");
    assert!(
        failures.is_empty(),
        "{} of {served} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // The last reload put the first identity back; answers carry it.
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    assert_eq!(signed_under(&r.body).unwrap(), fx.responder_cert);
    fx.stop().await;
}

fn metric(text: &str, name: &str, issuer: &str) -> i64 {
    let prefix = format!("{name}{{issuer=\"{issuer}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_export_seconds_to_expiry_of_ca_and_responder_certificates() {
    let mut fx = Fixture::new("expiry").await;
    let addr = fx.start(Fixture::settings()).await;
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    let now = seconds(SystemTime::now()) as i64;
    let ca_not_after = not_after(fx.ca.cert_der());
    let responder = metric(
        &text,
        "ocsp_responder_certificate_expiry_seconds",
        &fx.ca_name,
    );
    let ca = metric(&text, "ocsp_ca_certificate_expiry_seconds", &fx.ca_name);
    let expected_responder = seconds(utc(2040, 1, 1)) as i64 - now;
    assert!(
        (responder - expected_responder).abs() <= 5,
        "{responder} vs {expected_responder}"
    );
    let expected_ca = ca_not_after - now;
    assert!((ca - expected_ca).abs() <= 5, "{ca} vs {expected_ca}");
    assert!(text.contains("# TYPE ocsp_ca_certificate_expiry_seconds gauge"));

    // A reload to a certificate ending sooner shows at once.
    let soon = SystemTime::now() + Duration::from_secs(3 * 86_400);
    let cert = responder_cert(&fx.ca, fx.ca.name(), &fx.signer.key().spki, 0x40, |t| {
        t.not_after = soon;
    });
    let core = Arc::clone(fx.running.as_ref().unwrap().core());
    ocsp_responder::reload(&core, setup(&fx, Arc::new(fx.signer.clone()), cert))
        .await
        .unwrap();
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    let responder = metric(
        &text,
        "ocsp_responder_certificate_expiry_seconds",
        &fx.ca_name,
    );
    assert!((responder - 3 * 86_400).abs() <= 5, "{responder}");
    fx.stop().await;
}

/// notAfter of a certificate, in seconds since the epoch.
fn not_after(der: &[u8]) -> i64 {
    let c = <x509_cert::Certificate as der::Decode>::from_der(der).unwrap();
    i64::try_from(
        c.tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs(),
    )
    .unwrap()
}

fn write_config(fx: &Fixture, cert: &Path, key_label: &str, watch_secs: u64) -> PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut pin = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(fx.dir.join("pin"))
        .unwrap();
    pin.write_all(format!("{USER_PIN}\n").as_bytes()).unwrap();
    let softhsm = softhsm().token_dir().parent().unwrap().to_owned();
    let text = format!(
        r#"listen = "127.0.0.1:0"
database = "{db}"
watch_secs = {watch_secs}

[responses]
validity_secs = 3600
cache_capacity = 1000

[hsm]
token = "{token}"
pin_file = "pin"
softhsm_dir = "{softhsm}"

[[issuer]]
ca = "{ca}"
key_label = "{key_label}"
responder_cert = "{cert}"
"#,
        db = fx.db_url,
        token = fx.pool.token(),
        softhsm = softhsm.display(),
        ca = fx.ca_name,
        cert = cert.display(),
    );
    let path = fx.dir.join("ocsp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Replaces `path` the way an operator's tooling should: a new file
/// renamed over the old one.
fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn carried_cert(addr: std::net::SocketAddr, fx: &Fixture) -> Result<Vec<u8>, String> {
    let r = get_ocsp(addr, &fx.request(&fx.good, HashAlgorithm::Sha1, None)).await;
    signed_under(&r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_binary_and_a_bad_certificate_is_refused() {
    use std::io::BufRead as _;
    let fx = Fixture::new("sighup").await;
    let (_, cert2) = second_identity(&fx, "ocsp-signer-2", 0x50);
    let cert_path = fx.write_pem("responder", &fx.responder_cert);
    // No polling: only SIGHUP reloads.
    let config = write_config(&fx, &cert_path, "ocsp-signer", 0);
    let log = fx.dir.join("responder.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    let hup = |pid: u32| {
        assert!(std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            carried_cert(addr, &fx).await.ok() == Some(fx.responder_cert.clone())
        })
        .await
    );

    // The new certificate and key in place: SIGHUP swaps them in.
    replace_file(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &cert2).as_bytes(),
    );
    write_config(&fx, &cert_path, "ocsp-signer-2", 0);
    hup(child.id());
    assert!(
        eventually(Duration::from_secs(20), || async {
            carried_cert(addr, &fx).await.ok() == Some(cert2.clone())
        })
        .await,
        "after SIGHUP, responses carry the new certificate"
    );

    // An expired certificate: the reload is refused, the process stays up
    // and keeps answering with the certificate it has.
    let expired = responder_cert(&fx.ca, fx.ca.name(), &fx.signer.key().spki, 0x51, |t| {
        t.not_after = utc(2021, 1, 1);
    });
    replace_file(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &expired).as_bytes(),
    );
    write_config(&fx, &cert_path, "ocsp-signer", 0);
    hup(child.id());
    assert!(
        eventually(Duration::from_secs(20), || async {
            String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body)
                .unwrap()
                .contains("ocsp_reloads_refused_total 1")
        })
        .await
    );
    assert_eq!(carried_cert(addr, &fx).await.unwrap(), cert2);
    let text = String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap();
    let reloads: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ocsp_reloads"))
        .collect();
    assert!(
        text.contains("ocsp_reloads_total 1"),
        "{reloads:?}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );

    assert!(std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_certificate_file_is_reloaded_without_a_signal() {
    let fx = Fixture::new("watch").await;
    let (_, cert2) = second_identity(&fx, "ocsp-signer-2", 0x60);
    let cert_path = fx.write_pem("responder", &fx.responder_cert);
    let config_path = write_config(&fx, &cert_path, "ocsp-signer", 1);
    let config = ocsp_responder::Config::load(&config_path).unwrap();
    let mut running = ocsp_responder::start_from_config(&config).await.unwrap();
    running
        .follow_config(config_path.clone(), Some(Duration::from_millis(200)))
        .unwrap();
    let addr = running.local_addr();
    assert_eq!(carried_cert(addr, &fx).await.unwrap(), fx.responder_cert);

    write_config(&fx, &cert_path, "ocsp-signer-2", 1);
    replace_file(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &cert2).as_bytes(),
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            carried_cert(addr, &fx).await.ok() == Some(cert2.clone())
        })
        .await,
        "the changed files are picked up"
    );
    running.shutdown().await;
}

/// The stored response for `leaf` (SHA-1 CertID), if the updater wrote one.
async fn stored(fx: &Fixture, leaf: &TestCa) -> Option<Vec<u8>> {
    let serial = store::Serial::from_der_content(leaf.serial()).unwrap();
    fx.store
        .ocsp_response(fx.ca_id, store::CertIdHash::Sha1, &serial)
        .await
        .unwrap()
        .map(|r| r.response.der)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_standalone_updater() {
    use std::io::BufRead as _;
    let fx = Fixture::new("updater-hup").await;
    let (_, cert2) = second_identity(&fx, "ocsp-signer-2", 0x70);
    let cert_path = fx.write_pem("responder", &fx.responder_cert);
    let table = |fx: &Fixture, label: &str| {
        let path = write_config(fx, &cert_path, label, 0);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("[responses]\n", "[responses]\nsource = \"table\"\n");
        std::fs::write(&path, text).unwrap();
        path
    };
    let config = table(&fx, "ocsp-signer");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .arg("--config")
        .arg(&config)
        .arg("--updater")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("updater metrics on"), "{line}");
    assert!(
        eventually(Duration::from_secs(20), || async {
            stored(&fx, &fx.good).await.is_some()
        })
        .await
    );
    let first = stored(&fx, &fx.good).await.unwrap();
    assert_eq!(signed_under(&first).unwrap(), fx.responder_cert);

    // Rotate, SIGHUP; a certificate issued afterwards is signed under the
    // new responder certificate.
    replace_file(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &cert2).as_bytes(),
    );
    table(&fx, "ocsp-signer-2");
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = fx.ca.leaf("CN=Later Citizen", |_| {});
    fx.record(&later).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            match stored(&fx, &later).await {
                Some(der) => signed_under(&der).ok() == Some(cert2.clone()),
                None => false,
            }
        })
        .await,
        "the updater signs under the reloaded certificate"
    );
    assert!(std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
}

/// `ocsp-responder --updater` exports the expiry gauges a responder does
/// for the same issuers, and a reload (SIGHUP) shows in them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_updater_exports_the_responders_expiry_gauges() {
    use std::io::BufRead as _;
    let mut fx = Fixture::new("updater-expiry").await;
    let responder = fx.start(Fixture::settings()).await;
    let cert_path = fx.write_pem("responder", &fx.responder_cert);
    let config = write_config(&fx, &cert_path, "ocsp-signer", 0);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[responses]\n", "[responses]\nsource = \"table\"\n");
    std::fs::write(&config, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .arg("--config")
        .arg(&config)
        .arg("--updater")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let updater: std::net::SocketAddr = line
        .trim()
        .strip_prefix("updater metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    let scrape = |addr| async move {
        String::from_utf8(http(addr, "GET", "/metrics", &[], &[]).await.body).unwrap()
    };
    let from_responder = scrape(responder).await;
    let from_updater = scrape(updater).await;
    for name in [
        "ocsp_ca_certificate_expiry_seconds",
        "ocsp_responder_certificate_expiry_seconds",
    ] {
        assert!(
            from_updater.contains(&format!("# TYPE {name} gauge")),
            "{from_updater}"
        );
        let (r, u) = (
            metric(&from_responder, name, &fx.ca_name),
            metric(&from_updater, name, &fx.ca_name),
        );
        assert!((r - u).abs() <= 5, "{name}: responder {r}, updater {u}");
    }
    let now = seconds(SystemTime::now()) as i64;
    let ca = metric(
        &from_updater,
        "ocsp_ca_certificate_expiry_seconds",
        &fx.ca_name,
    );
    let expected = not_after(fx.ca.cert_der()) - now;
    assert!((ca - expected).abs() <= 5, "{ca} vs {expected}");

    // A renewed certificate ending in 3 days, SIGHUP: the gauge follows.
    let soon = SystemTime::now() + Duration::from_secs(3 * 86_400);
    let renewed = responder_cert(&fx.ca, fx.ca.name(), &fx.signer.key().spki, 0x41, |t| {
        t.not_after = soon;
    });
    replace_file(
        &cert_path,
        pki_core::testing::pem("CERTIFICATE", &renewed).as_bytes(),
    );
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(
        eventually(Duration::from_secs(20), || async {
            let text = scrape(updater).await;
            let left = metric(
                &text,
                "ocsp_responder_certificate_expiry_seconds",
                &fx.ca_name,
            );
            (left - 3 * 86_400).abs() <= 5
        })
        .await,
        "the reloaded certificate's expiry: {}",
        scrape(updater).await
    );
    assert!(std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success());
    assert!(tokio::task::block_in_place(|| child.wait())
        .unwrap()
        .success());
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adding_a_ca_keeps_indexes_and_memory_mode_asks_for_a_restart() {
    let mut fx = Fixture::new("add-ca").await;
    fx.start(Fixture::settings()).await;
    let core = Arc::clone(fx.running.as_ref().unwrap().core());
    // A second CA in the store, with its own delegated responder.
    let other = TestCa::root("CN=Organisations CA,O=Royaume du Maroc,C=MA");
    let cert = <x509_cert::Certificate as der::Decode>::from_der(other.cert_der()).unwrap();
    let rec = fx
        .store
        .insert_ca(
            &store::NewCa {
                name: "organisations-ca".into(),
                subject_der: cert.tbs_certificate.subject.to_der().unwrap(),
                cert_der: other.cert_der().to_vec(),
                key_label: "org-ca-key".into(),
                parent: None,
                tier: None,
            },
            &store::AuditContext::new("test"),
        )
        .await
        .unwrap()
        .record;
    let key = fx
        .pool
        .generate_key(&KeyLabel::new("ocsp-org").unwrap(), KeyType::EcP256)
        .unwrap();
    let org_cert = responder_cert(&other, other.name(), &key.spki, 1, |_| {});
    let both = || {
        let mut v = setup(&fx, Arc::new(fx.signer.clone()), fx.responder_cert.clone());
        v.insert(
            0,
            IssuerSetup {
                ca_name: rec.name.clone(),
                signer: Arc::new(fx.pool.signer(key.clone()).unwrap()),
                responder_cert_der: Some(org_cert.clone()),
            },
        );
        v
    };
    // Memory mode loads statuses at start only: refused, named.
    let err = ocsp_responder::reload(&core, both()).await.unwrap_err();
    assert!(
        matches!(err, ResponderError::ReloadNeedsRestart { ref ca, .. } if ca == "organisations-ca"),
        "{err}"
    );
    assert_eq!(core.issuers().len(), 1);

    // Resolved against the running list, the known CA keeps index 0 even
    // listed second, and the new one takes the next index.
    let resolved = ocsp_responder::resolve_issuers_after(&fx.store, both(), &core.issuers())
        .await
        .unwrap();
    assert_eq!(
        resolved
            .iter()
            .map(|i| (i.name.as_str(), i.index))
            .collect::<Vec<_>>(),
        [("organisations-ca", 1), (fx.ca_name.as_str(), 0)]
    );
    fx.stop().await;
}
