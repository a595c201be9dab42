//! Shared fixtures: a test hierarchy made with `pki_core::testing`, a config
//! file in a temp dir, the real server on 127.0.0.1, and a small client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pki_core::builder::DistributionPointSpec;
use pki_core::testing::{utc, TestCa};
use serde_json::{json, Value};
use validation_api::{Config, Service};

pub const CNIE_POLICY: &str = "2.16.504.99.1.1";
pub const TOKEN: &str = "broker-secret-token";
pub const OTHER_TOKEN: &str = "bank-secret-token";

pub fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

pub fn hex(b: &[u8]) -> String {
    pki_core::cert::hex(b)
}

/// The test hierarchy.
pub struct Pki {
    pub root: TestCa,
    pub ca: TestCa,
    pub good: TestCa,
    pub revoked: TestCa,
    pub expired: TestCa,
    /// Signed by a key that is not `ca`'s, with `ca`'s name.
    pub bad_sig: TestCa,
    pub no_policy: TestCa,
    /// Root and leaf of an unrelated hierarchy.
    pub foreign_root: TestCa,
    pub foreign: TestCa,
    /// A low-level tier's root and leaf.
    pub simple_root: TestCa,
    pub simple: TestCa,
    /// A hard-fail tier with no CRLs: every path fails on revocation.
    pub ttp_root: TestCa,
    pub ttp: TestCa,
    pub ca_crl: Vec<u8>,
    pub root_crl: Vec<u8>,
}

pub fn citizen(ca: &TestCa, cn: &str, email: &str, cdp: Option<&str>) -> TestCa {
    let email = email.to_owned();
    let cdp = cdp.map(ToOwned::to_owned);
    ca.leaf(&format!("CN={cn},C=MA"), move |t| {
        t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        t.subject_alt_names = vec![pki_core::builder::GeneralNameSpec::email(email)];
        t.certificate_policies = vec![CNIE_POLICY.parse().expect("oid")];
        if let Some(u) = cdp {
            t.crl_distribution_points = vec![DistributionPointSpec::uri(u)];
        }
    })
}

impl Pki {
    /// `cdp_base`: when set, the CA and leaves carry CDPs under it
    /// (`{base}/root.crl` for the CA, `{base}/ca.crl` for leaves).
    pub fn new(cdp_base: Option<&str>) -> Self {
        let root_cdp = cdp_base.map(|b| format!("{b}/root.crl"));
        let ca_cdp = cdp_base.map(|b| format!("{b}/ca.crl"));
        let root = TestCa::root("CN=Test CNIE Root,O=Kingdom of Morocco,C=MA");
        let ca = root.intermediate("CN=Test CNIE CA,O=Kingdom of Morocco,C=MA", |t| {
            t.set_path_len(Some(0));
            t.certificate_policies = vec![CNIE_POLICY.parse().expect("oid")];
            if let Some(u) = &root_cdp {
                t.crl_distribution_points = vec![DistributionPointSpec::uri(u.clone())];
            }
        });
        let cdp = ca_cdp.as_deref();
        let good = citizen(&ca, "Amina Good", "amina@cnie.example.ma", cdp);
        let revoked = citizen(&ca, "Omar Revoked", "omar@cnie.example.ma", cdp);
        let expired = ca.leaf("CN=Old Expired,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
            t.certificate_policies = vec![CNIE_POLICY.parse().expect("oid")];
            t.not_before = utc(2020, 1, 1);
            t.not_after = utc(2021, 1, 1);
        });
        let impostor = TestCa::root("CN=Test CNIE CA,O=Kingdom of Morocco,C=MA");
        let bad_sig = impostor.leaf("CN=Forged Citizen,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
            t.certificate_policies = vec![CNIE_POLICY.parse().expect("oid")];
            t.authority_key_id = pki_core::builder::AuthorityKeyId::Explicit(ca.key_id().to_vec());
        });
        let no_policy = ca.leaf("CN=No Policy,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        });
        let foreign_root = TestCa::root("CN=Foreign Root,C=FR");
        let foreign_ca = foreign_root.intermediate("CN=Foreign CA,C=FR", |_| {});
        let foreign = citizen(&foreign_ca, "Foreign Citizen", "x@example.fr", None);
        let simple_root = TestCa::root("CN=Simple Root,C=MA");
        let simple = simple_root.leaf("CN=Simple User,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        });
        let ttp_root = TestCa::root("CN=TTP Root,C=MA");
        let ttp = ttp_root.leaf("CN=TTP Seal,C=MA", |t| {
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
        });
        let rev = revoked
            .revocation()
            .with_reason(pki_core::revocation::RevocationReason::KeyCompromise);
        let ca_crl = ca.crl(|t| t.revoked.push(rev));
        let root_crl = root.crl(|_| {});
        Self {
            root,
            ca,
            good,
            revoked,
            expired,
            bad_sig,
            no_policy,
            foreign_root,
            foreign,
            simple_root,
            simple,
            ttp_root,
            ttp,
            ca_crl,
            root_crl,
        }
    }

    /// Writes the PEM/DER files a config refers to.
    pub fn write(&self, dir: &Path) {
        let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).expect("write");
        w("root.pem", self.root.cert_pem().as_bytes());
        w("ca.pem", self.ca.cert_pem().as_bytes());
        w("simple-root.pem", self.simple_root.cert_pem().as_bytes());
        w("ttp-root.pem", self.ttp_root.cert_pem().as_bytes());
        w("ca.crl", &self.ca_crl);
        w("root.crl", &self.root_crl);
    }

    /// A request body for `leaf` with the CNIE CA as intermediate.
    pub fn request(&self, leaf: &TestCa) -> Value {
        json!({"leaf": b64(leaf.cert_der()), "intermediates": [b64(self.ca.cert_der())]})
    }
}

/// Config text: tiers cnie (high, hard-fail, CRLs from files), simple
/// (low, no revocation), ttp (substantial, hard-fail, no CRLs). `extra`
/// goes at the top level before the tables.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
max_body_bytes = 65536
batch_max = 50
watch_seconds = 0.1
{extra}

[auth]
[[auth.clients]]
name = "broker"
token_sha256 = "{broker}"
max_concurrent = 64

[[auth.clients]]
name = "bank"
token_sha256 = "{bank}"
max_concurrent = 4

[crl_refresh]
enabled = false

[[tiers]]
name = "cnie"
level = "high"
anchors = ["root.pem"]
intermediates = ["ca.pem"]
crls = ["ca.crl", "root.crl"]
policy_levels = {{ "{CNIE_POLICY}" = "high" }}
revocation = {{ methods = ["crl"], unavailable = "hard-fail" }}

[[tiers]]
name = "simple"
level = "low"
anchors = ["simple-root.pem"]
revocation = {{ methods = [], unavailable = "soft-fail" }}

[[tiers]]
name = "ttp"
level = "substantial"
anchors = ["ttp-root.pem"]
revocation = {{ methods = ["crl"], unavailable = "hard-fail" }}
"#,
        broker = hex(&validation_api::config::token_hash(TOKEN)),
        bank = hex(&validation_api::config::token_hash(OTHER_TOKEN)),
    )
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub svc: Arc<Service>,
    pub running: validation_api::Running,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub client: Http,
}

impl Server {
    /// Writes `pki`'s files and `config` into a temp dir and starts the
    /// service as the binary does (`start_from_config`: server, file
    /// watcher, CRL refresher, OCSP fetcher) on the config's `listen`.
    pub async fn start(pki: &Pki, config: &str) -> Self {
        Self::start_in(pki, config, tempfile::tempdir().expect("tempdir")).await
    }

    /// [`Server::start`] in `dir`, which may hold more files the config names.
    pub async fn start_in(pki: &Pki, config: &str, dir: tempfile::TempDir) -> Self {
        pki.write(dir.path());
        let config_path = dir.path().join("api.toml");
        std::fs::write(&config_path, config).expect("write config");
        let cfg = Config::load(&config_path).expect("config loads");
        let running = validation_api::start_from_config(cfg)
            .await
            .expect("service starts");
        let addr = running.local_addr();
        let svc = running.service().clone();
        Self {
            addr,
            svc,
            running,
            dir,
            config_path,
            client: Http::new(addr),
        }
    }

    pub async fn validate(&self, body: &Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .client
            .post_json("/v1/validate", Some(TOKEN), body)
            .await;
        (s, v)
    }
}

/// A minimal HTTP/1.1 client for the tests.
#[derive(Clone)]
pub struct Http {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = content_type {
            req = req.header("content-type", c);
        }
        self.send(req.body(Full::new(Bytes::from(body))).expect("request"))
            .await
    }

    /// `req` with `uri` a path on the server.
    pub async fn send(&self, mut req: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes) {
        if req.uri().authority().is_none() {
            *req.uri_mut() = format!("http://{}{}", self.addr, req.uri())
                .parse()
                .expect("URI");
        }
        let resp = tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
            .expect("answer within 60 s")
            .expect("HTTP exchange");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, body)
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, HeaderMap, Value) {
        let (s, h, b) = self
            .raw(
                Method::POST,
                path,
                token,
                Some("application/json"),
                serde_json::to_vec(body).expect("json"),
            )
            .await;
        (s, h, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Bytes) {
        let (s, _, b) = self.raw(Method::GET, path, token, None, Vec::new()).await;
        (s, b)
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (s, b) = self.get(path, token).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }
}

/// Polls `check` every 50 ms until it returns true or 20 s pass.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The value of one counter line (`name{labels} value`), 0 when absent.
pub fn metric(text: &str, name_and_labels: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0)
}
