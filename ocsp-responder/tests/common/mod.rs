//! A real responder on 127.0.0.1 for tests: SoftHSM2 token with the
//! delegated OCSP signer key, SQLite store, a software test CA (the CA key
//! is not used by the responder), a raw HTTP/1.1 client.
//!
//! `SOFTHSM2_CONF` is process-wide: one SoftHSM directory per test process
//! (under nextest, per test), one token per fixture.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use der::{Decode, Encode};
use hsm::softhsm::SoftHsm;
use hsm::{HsmSigner, KeyLabel, KeyType, Pin, PoolConfig, SessionPool, TokenLabel};
use ocsp_responder::{IssuerSetup, Running, Settings};
use pki_core::ocsp::x509_ocsp::{BasicOcspResponse, CertStatus as OcspStatus};
use pki_core::ocsp::{
    build_request, decode_response, CertId, HashAlgorithm, IssuerHashes, ResponseStatus,
};
use pki_core::oid;
use pki_core::testing::TestCa;
use store::{
    AuditContext, NewCa, NewCertificate, RevocationReason, RevocationRequest, Serial, Store,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const USER_PIN: &str = "user-pin-4711";
pub const SO_PIN: &str = "so-pin-0815";

struct Bed {
    dir: tempfile::TempDir,
    softhsm: SoftHsm,
}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ocsp-responder-tests");
        std::fs::create_dir_all(&root).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&root)
            .unwrap();
        let softhsm = SoftHsm::open(dir.path().join("softhsm")).unwrap();
        Bed { dir, softhsm }
    })
}

pub fn softhsm() -> &'static SoftHsm {
    &bed().softhsm
}

fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A test environment: token, store, CA, certificates, and (once started)
/// a responder.
pub struct Fixture {
    pub dir: PathBuf,
    pub token_dir: PathBuf,
    pub pool: SessionPool,
    pub signer: HsmSigner,
    pub store: Store,
    pub db_url: String,
    pub ca: TestCa,
    pub ca_name: String,
    pub ca_id: store::CaId,
    pub responder_cert: Vec<u8>,
    pub good: TestCa,
    pub revoked: TestCa,
    /// Issued by the CA but never recorded in the store.
    pub unissued: TestCa,
    pub running: Option<Running>,
}

impl Fixture {
    pub async fn new(tag: &str) -> Self {
        Self::with_database(tag, None).await
    }

    /// `db_url` `None`: a SQLite file in the fixture's directory.
    pub async fn with_database(tag: &str, db_url: Option<String>) -> Self {
        let name = unique(tag);
        let dir = bed().dir.path().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let before: Vec<PathBuf> = token_dirs();
        let label = TokenLabel::new(&name).unwrap();
        softhsm()
            .init_token(
                &label,
                &Pin::new(SO_PIN).unwrap(),
                &Pin::new(USER_PIN).unwrap(),
            )
            .unwrap();
        let token_dir = token_dirs()
            .into_iter()
            .find(|d| !before.contains(d))
            .unwrap();
        let pool = SessionPool::new(
            softhsm().hsm(),
            label,
            Pin::new(USER_PIN).unwrap(),
            PoolConfig {
                size: 2,
                reinit_backoff: Duration::from_millis(200),
            },
        )
        .unwrap();
        let key = pool
            .generate_key(&KeyLabel::new("ocsp-signer").unwrap(), KeyType::EcP256)
            .unwrap();
        let signer = pool.signer(key.clone()).unwrap();

        let ca = TestCa::root(&format!("CN=CNIE Test CA {name},O=Royaume du Maroc,C=MA"));
        let mut tpl = pki_core::builder::CertificateTemplate::new(
            pki_core::builder::parse_name("CN=OCSP Responder,O=Royaume du Maroc,C=MA").unwrap(),
            key.spki.clone(),
        );
        tpl.issuer = ca.name().clone();
        tpl.serial = vec![0x0f, 0x01];
        tpl.not_before = pki_core::testing::utc(2020, 1, 1);
        tpl.not_after = pki_core::testing::utc(2040, 1, 1);
        tpl.key_usage = Some(pki_core::builder::KeyUsageSpec::new(
            x509_cert::ext::pkix::KeyUsages::DigitalSignature,
        ));
        tpl.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        tpl.ocsp_no_check = true;
        tpl.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(ca.key_id().to_vec());
        let responder_cert = ca.sign_template(&tpl);

        let good = ca.leaf("CN=Amina Citizen", |_| {});
        let revoked = ca.leaf("CN=Youssef Citizen", |_| {});
        let unissued = ca.leaf("CN=Nobody Recorded", |_| {});

        let db_url = db_url.unwrap_or_else(|| format!("sqlite://{}/pki.db", dir.display()));
        let store = Store::open(&db_url).await.unwrap();
        let ctx = AuditContext::new("test");
        let cert = x509_cert::Certificate::from_der(ca.cert_der()).unwrap();
        let ca_rec = store
            .insert_ca(
                &NewCa {
                    name: format!("cnie-{name}"),
                    subject_der: cert.tbs_certificate.subject.to_der().unwrap(),
                    cert_der: ca.cert_der().to_vec(),
                    key_label: format!("ca-key-{name}"),
                    parent: None,
                    tier: Some("cnie".into()),
                },
                &ctx,
            )
            .await
            .unwrap()
            .record;
        let fx = Self {
            dir,
            token_dir,
            pool,
            signer,
            store,
            db_url,
            ca,
            ca_name: ca_rec.name,
            ca_id: ca_rec.id,
            responder_cert,
            good,
            revoked,
            unissued,
            running: None,
        };
        fx.record(&fx.good).await;
        fx.record(&fx.revoked).await;
        fx.revoke(&fx.revoked, RevocationReason::KeyCompromise)
            .await;
        fx
    }

    pub async fn record(&self, leaf: &TestCa) {
        let cert = x509_cert::Certificate::from_der(leaf.cert_der()).unwrap();
        let t = |x: &x509_cert::time::Time| {
            time::OffsetDateTime::from_unix_timestamp(x.to_unix_duration().as_secs() as i64)
                .unwrap()
        };
        self.store
            .record_certificate(
                &NewCertificate {
                    ca: self.ca_id,
                    serial: Serial::from_der_content(leaf.serial()).unwrap(),
                    subject_der: cert.tbs_certificate.subject.to_der().unwrap(),
                    not_before: t(&cert.tbs_certificate.validity.not_before),
                    not_after: t(&cert.tbs_certificate.validity.not_after),
                    der: leaf.cert_der().to_vec(),
                    profile: "cnie-auth".into(),
                },
                &AuditContext::new("test"),
            )
            .await
            .unwrap();
    }

    pub async fn revoke(&self, leaf: &TestCa, reason: RevocationReason) {
        self.store
            .revoke(
                &RevocationRequest::new(
                    self.ca_id,
                    Serial::from_der_content(leaf.serial()).unwrap(),
                    reason,
                ),
                &AuditContext::new("test"),
            )
            .await
            .unwrap();
    }

    pub fn settings() -> Settings {
        Settings {
            poll_interval: Duration::from_millis(100),
            hsm_probe: Duration::from_millis(200),
            presign_threads: 2,
            ..Settings::default()
        }
    }

    pub async fn start(&mut self, settings: Settings) -> SocketAddr {
        let signer = Arc::new(self.signer.clone());
        self.start_with_signer(settings, signer).await
    }

    /// Starts the responder signing through `signer` (the fixture's HSM
    /// key, possibly wrapped to inject a fault).
    pub async fn start_with_signer(
        &mut self,
        settings: Settings,
        signer: Arc<dyn pki_core::Signer>,
    ) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = ocsp_responder::start(
            self.store.clone(),
            vec![IssuerSetup {
                ca_name: self.ca_name.clone(),
                signer,
                responder_cert_der: Some(self.responder_cert.clone()),
            }],
            settings,
            listener,
        )
        .await
        .unwrap();
        let addr = running.local_addr();
        self.running = Some(running);
        addr
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().local_addr()
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub fn hashes(&self) -> IssuerHashes {
        IssuerHashes::from_certificate_der(self.ca.cert_der()).unwrap()
    }

    pub fn cert_id(&self, leaf: &TestCa, hash: HashAlgorithm) -> CertId {
        self.hashes().cert_id(hash, leaf.serial()).unwrap()
    }

    pub fn request(&self, leaf: &TestCa, hash: HashAlgorithm, nonce: Option<&[u8]>) -> Vec<u8> {
        build_request(&[self.cert_id(leaf, hash)], nonce).unwrap()
    }

    /// Writes PEM files for openssl: ca.pem and `<name>.pem`.
    pub fn write_pem(&self, name: &str, der: &[u8]) -> PathBuf {
        let path = self.dir.join(format!("{name}.pem"));
        std::fs::write(&path, pki_core::testing::pem("CERTIFICATE", der)).unwrap();
        path
    }

    /// Moves the token directory away (the HSM "unplugged"); returns where.
    pub fn unplug_hsm(&self) -> PathBuf {
        let parked = self.dir.join("parked-token");
        std::fs::rename(&self.token_dir, &parked).unwrap();
        parked
    }

    pub fn replug_hsm(&self, parked: &Path) {
        std::fs::rename(parked, &self.token_dir).unwrap();
    }

    /// Moves SoftHSM's whole token directory away (every token at once:
    /// C_Initialize then fails until it is back); returns where.
    pub fn unplug_all_tokens() -> PathBuf {
        let tokens = softhsm().token_dir().to_owned();
        let parked = tokens.with_file_name("parked-tokens");
        std::fs::rename(&tokens, &parked).unwrap();
        parked
    }

    pub fn replug_all_tokens(parked: &Path) {
        std::fs::rename(parked, softhsm().token_dir()).unwrap();
    }
}

fn token_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(softhsm().token_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// An HTTP response as the test sees it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The OCSP response status of the body.
    pub fn ocsp_status(&self) -> ResponseStatus {
        decode_response(&self.body).unwrap().status
    }

    pub fn basic(&self) -> BasicOcspResponse {
        decode_response(&self.body).unwrap().basic.unwrap()
    }

    /// Status of the single response, after checking the signature with
    /// `signer_spki`.
    pub fn single_status(&self, fx: &Fixture) -> OcspStatus {
        let basic = self.basic();
        verify_signature(&basic, fx);
        assert_eq!(basic.tbs_response_data.responses.len(), 1);
        basic.tbs_response_data.responses[0].cert_status
    }
}

/// Checks the response signature with the HSM key's public half.
pub fn verify_signature(basic: &BasicOcspResponse, fx: &Fixture) {
    let spki = &fx.signer.key().spki;
    let tbs = basic.tbs_response_data.to_der().unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        spki.subject_public_key.raw_bytes(),
    )
    .verify(&tbs, basic.signature.raw_bytes())
    .expect("response signature verifies with the delegated signer key");
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    let framed = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if method == "POST" && !framed {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading everything.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("response within 20 s")
        .unwrap_or_default();
    parse_http(&raw)
}

fn parse_http(raw: &[u8]) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    HttpResponse {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

pub async fn get_ocsp(addr: SocketAddr, der: &[u8]) -> HttpResponse {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let path = format!(
        "/{}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    http(addr, "GET", &path, &[], &[]).await
}

pub async fn post_ocsp(addr: SocketAddr, der: &[u8]) -> HttpResponse {
    http(
        addr,
        "POST",
        "/",
        &[("Content-Type", "application/ocsp-request")],
        der,
    )
    .await
}

/// Polls `check` every 50 ms until it returns true, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn is_good(s: &OcspStatus) -> bool {
    matches!(s, OcspStatus::Good(_))
}

pub fn is_revoked(s: &OcspStatus) -> bool {
    matches!(s, OcspStatus::Revoked(_))
}

pub fn seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// `ocsp.toml` in the fixture's directory, as an operator writes it: the
/// fixture's store, token (PIN in a 0600 file) and issuer with its
/// delegated responder certificate; `extra` goes at the top level.
pub fn write_config(fx: &Fixture, extra: &str) -> PathBuf {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let cert = fx.write_pem("responder", &fx.responder_cert);
    // Mode 0600: the PIN file must not be open to group or others.
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
{extra}
[responses]
validity_secs = 3600
presign_hashes = ["sha1", "sha256"]
cache_capacity = 1000

[hsm]
token = "{token}"
pin_file = "pin"
softhsm_dir = "{softhsm}"

[[issuer]]
ca = "{ca}"
key_label = "ocsp-signer"
responder_cert = "{cert}"
"#,
        db = fx.db_url,
        token = fx.pool.token(),
        softhsm = softhsm.display(),
        ca = fx.ca_name,
        cert = cert.file_name().unwrap().to_str().unwrap(),
    );
    let path = fx.dir.join("ocsp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the `ocsp-responder --updater` binary on `config`,
/// switched to table mode; returns the child and the address its
/// `/metrics` is served on (the first line it prints).
pub fn spawn_updater(config: &Path) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead as _;
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("[responses]\n", "[responses]\nsource = \"table\"\n");
    std::fs::write(config, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocsp-responder"))
        .arg("--config")
        .arg(config)
        .arg("--updater")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("updater metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    (child, addr)
}
