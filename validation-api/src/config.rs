//! The service configuration: one strict TOML file.
//!
//! Unknown keys are errors (`deny_unknown_fields` everywhere), relative file
//! names are resolved against the directory of the config file, and
//! [`Config::load`] reads and checks every anchor, intermediate and CRL file
//! it names, so that a config either loads whole or not at all.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! max_body_bytes = 1048576
//! batch_max = 1000
//!
//! [auth]
//! [[auth.clients]]
//! name = "broker"
//! token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! max_concurrent = 64
//!
//! [[tiers]]
//! name = "cnie"
//! level = "high"
//! anchors = ["cnie-root.pem"]
//! policy_levels = { "2.16.504.99.1.1" = "high" }
//! revocation = { methods = ["crl"], unavailable = "hard-fail" }
//! profile = "strict"   # issuance-profile findings are errors (our own CNIE)
//! ```

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use pki_core::crl::Crl;
use pki_core::{AssuranceLevel, Cert};
use serde::Deserialize;
use service_kit::config_file;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read, or is not TOML of the expected shape
    /// (unknown keys included).
    #[error(transparent)]
    File(#[from] service_kit::ConfigFileError),
    #[error("tier {0:?} is defined twice")]
    DuplicateTier(String),
    #[error("no tiers configured: at least one [[tiers]] entry is needed")]
    NoTiers,
    #[error("tier {tier:?} has no anchors")]
    NoAnchors { tier: String },
    #[error("tier {tier:?}: {role} {path}: {reason}")]
    BadFile {
        tier: String,
        role: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("tier {tier:?}: {value:?} is not an assurance level (low, substantial, high)")]
    BadLevel { tier: String, value: String },
    #[error("tier {tier:?}: profile {value:?} is not rfc5280 or strict")]
    BadProfile { tier: String, value: String },
    #[error("tier {tier:?}: {value:?} is not an OID")]
    BadOid { tier: String, value: String },
    #[error("tier {tier:?}: policy {oid} maps to {mapped}, above the tier level {level}")]
    LevelAboveTier {
        tier: String,
        oid: String,
        mapped: AssuranceLevel,
        level: AssuranceLevel,
    },
    #[error("client {0:?} is defined twice")]
    DuplicateClient(String),
    #[error("client {name:?}: token_sha256 and cert_sha256 must be 64 hex digits (a SHA-256)")]
    BadTokenHash { name: String },
    #[error("client {name:?} has neither token_sha256 nor cert_sha256")]
    NoCredential { name: String },
    #[error("client {name:?} has cert_sha256 but [tls] has no client_tier (mutual TLS is off)")]
    CertWithoutMtls { name: String },
    #[error("[tls] {what} {path}: {reason}")]
    Tls {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("[tls] client_tier {0:?} is not a configured tier")]
    UnknownClientTier(String),
    #[error("client {name:?}: max_concurrent must be at least 1")]
    BadConcurrency { name: String },
    #[error("no [[auth.clients]] configured; set auth.allow_anonymous = true to serve without authentication")]
    NoClients,
    #[error("{field} must be {expected}")]
    BadValue {
        field: &'static str,
        expected: &'static str,
    },
    #[error("crl_refresh.urls: {url:?} is not an http:// URL")]
    BadUrl { url: String },
    #[error("CRL {path}: {reason}")]
    BadCrl { path: PathBuf, reason: String },
    #[error("anchor: {0}")]
    Trust(#[from] pki_core::trust::TrustError),
}

/// A revocation source a tier may consult.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// CRLs: configured files and those downloaded from CDPs.
    Crl,
    /// OCSP responses fetched from the certificates' AIA responders
    /// (see `[ocsp]`) and cached until nextUpdate.
    Ocsp,
}

/// What happens when no current status is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unavailable {
    /// Reject the path (`revocation_status_unavailable`).
    HardFail,
    /// Accept the path with a warning.
    SoftFail,
}

/// Revocation policy of one tier (`revocation = { ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationPolicy {
    /// Sources in the order they are asked; empty disables checking.
    pub methods: Vec<Method>,
    pub unavailable: Unavailable,
    /// A status older than this (from its thisUpdate) counts as unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        Self {
            methods: vec![Method::Crl],
            unavailable: Unavailable::SoftFail,
            max_age_seconds: None,
        }
    }
}

impl RevocationPolicy {
    /// The pki-core form.
    pub fn to_core(&self) -> pki_core::trust::RevocationPolicy {
        use pki_core::trust::{OnUnavailable, RevocationMethod};
        pki_core::trust::RevocationPolicy {
            methods: self
                .methods
                .iter()
                .map(|m| match m {
                    Method::Crl => RevocationMethod::Crl,
                    Method::Ocsp => RevocationMethod::Ocsp,
                })
                .collect(),
            on_unavailable: match self.unavailable {
                Unavailable::HardFail => OnUnavailable::HardFail,
                Unavailable::SoftFail => OnUnavailable::SoftFail,
            },
            max_age: self.max_age_seconds,
        }
    }
}

/// `[[tiers]]` as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    name: String,
    level: String,
    anchors: Vec<PathBuf>,
    #[serde(default)]
    intermediates: Vec<PathBuf>,
    #[serde(default)]
    crls: Vec<PathBuf>,
    #[serde(default)]
    policy_levels: BTreeMap<String, String>,
    #[serde(default)]
    revocation: RevocationPolicy,
    /// `rfc5280` (issuance-profile findings are warnings) or `strict`
    /// (they are errors); absent: strict for server-auth requests,
    /// rfc5280 otherwise.
    #[serde(default)]
    profile: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    name: String,
    #[serde(default)]
    token_sha256: Option<String>,
    /// SHA-256 of the client's TLS certificate (mutual TLS).
    #[serde(default)]
    cert_sha256: Option<String>,
    #[serde(default = "default_client_concurrency")]
    max_concurrent: usize,
}

fn default_client_concurrency() -> usize {
    64
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    allow_anonymous: bool,
    #[serde(default)]
    clients: Vec<ClientFile>,
    #[serde(default = "default_client_concurrency")]
    anonymous_max_concurrent: usize,
}

/// `[cache]`: capacities of the in-memory caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Whole validation results.
    pub results: usize,
    /// Longest a result stays cached, in seconds (it never outlives the
    /// earliest notAfter or CRL nextUpdate involved either).
    pub result_ttl_seconds: u64,
    /// Verified (issuer key, certificate) signature edges.
    pub edges: usize,
    /// Decoded intermediates.
    pub intermediates: usize,
    /// CRL cache slots (one per issuer and distribution point).
    pub crls: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            results: 100_000,
            result_ttl_seconds: 300,
            edges: 65_536,
            intermediates: 4_096,
            crls: 1_024,
        }
    }
}

/// `[crl_refresh]`: the background CRL downloader.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrlRefreshConfig {
    pub enabled: bool,
    /// Extra CRL URLs to fetch besides the CDPs of known certificates.
    pub urls: Vec<String>,
    /// Most distribution points followed at once.
    pub max_urls: usize,
    /// Largest CRL downloaded, in bytes.
    pub max_bytes: usize,
    /// Fetch again at least this often, in seconds, even when nextUpdate is far.
    pub max_interval_seconds: u64,
    /// Never fetch the same URL more often than this, in seconds.
    pub min_interval_seconds: u64,
    /// Fetch this fraction of the thisUpdate..nextUpdate window before nextUpdate.
    pub ahead_fraction: f64,
    /// One request's time limit, in seconds.
    pub timeout_seconds: u64,
    /// Longest wait after repeated failures, in seconds.
    pub max_backoff_seconds: u64,
}

impl Default for CrlRefreshConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            urls: Vec::new(),
            max_urls: 1_024,
            max_bytes: pki_core::crl::MAX_CRL_SIZE,
            max_interval_seconds: 3_600,
            min_interval_seconds: 30,
            ahead_fraction: 0.2,
            timeout_seconds: 30,
            max_backoff_seconds: 900,
        }
    }
}

/// `[ocsp]`: fetching OCSP responses for tiers that name `ocsp`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcspConfig {
    pub enabled: bool,
    /// One request's time limit, in seconds.
    pub timeout_seconds: u64,
    /// Most fetches queued at once.
    pub queue: usize,
    /// Cached responses.
    pub cache: usize,
    /// Fetch again when a cached response has less than this many seconds left.
    pub ahead_seconds: u64,
}

impl Default for OcspConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout_seconds: 10,
            queue: 1_024,
            cache: 100_000,
            ahead_seconds: 300,
        }
    }
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: SocketAddr,
    #[serde(default = "default_body")]
    max_body_bytes: usize,
    #[serde(default = "default_batch_body")]
    max_batch_body_bytes: usize,
    #[serde(default = "default_batch")]
    batch_max: usize,
    /// Rayon threads for batches; 0 = one per core.
    #[serde(default)]
    batch_threads: usize,
    /// Seconds between checks of the config file for changes; 0 disables.
    #[serde(default = "default_watch")]
    watch_seconds: f64,
    /// A connection must send complete request headers within this time.
    #[serde(default = "default_header_timeout")]
    header_timeout_seconds: f64,
    /// A request body must arrive whole within this time.
    #[serde(default = "default_body_timeout")]
    body_timeout_seconds: f64,
    #[serde(default)]
    auth: AuthFile,
    #[serde(default)]
    cache: CacheConfig,
    #[serde(default)]
    crl_refresh: CrlRefreshConfig,
    #[serde(default)]
    ocsp: OcspConfig,
    #[serde(default)]
    tls: Option<TlsFile>,
    tiers: Vec<TierFile>,
}

/// `[tls]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
    #[serde(default)]
    client_tier: Option<String>,
}

/// `[tls]`: serve HTTPS; with `client_tier`, ask for client certificates
/// (mutual TLS) chaining to that tier's anchors.
#[derive(Clone)]
pub struct TlsConfig {
    /// Server certificate chain, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 private key, DER.
    pub key: Vec<u8>,
    pub client_tier: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("chain", &self.chain.len())
            .field("client_tier", &self.client_tier)
            .finish_non_exhaustive()
    }
}

fn default_body() -> usize {
    1024 * 1024
}
fn default_batch_body() -> usize {
    16 * 1024 * 1024
}
fn default_batch() -> usize {
    1_000
}
fn default_watch() -> f64 {
    2.0
}
fn default_header_timeout() -> f64 {
    10.0
}
fn default_body_timeout() -> f64 {
    30.0
}

/// A loaded tier: its trust anchors and known intermediates decoded.
#[derive(Debug, Clone)]
pub struct TierConfig {
    pub name: String,
    pub level: AssuranceLevel,
    pub anchors: Vec<Arc<Cert>>,
    pub intermediates: Vec<Arc<Cert>>,
    /// CRL files, offered to the CRL cache at start and on every reload.
    pub crls: Vec<CrlFile>,
    pub policy_levels: Vec<(ObjectIdentifier, AssuranceLevel)>,
    pub revocation: RevocationPolicy,
    pub profile: Option<pki_core::path::Profile>,
}

/// One CRL of a tier's `crls` files.
#[derive(Debug, Clone)]
pub struct CrlFile {
    pub path: PathBuf,
    pub der: Vec<u8>,
    /// The CRL issuer: DER of the name, and RFC 4514 text.
    pub issuer_der: Vec<u8>,
    pub issuer: String,
    pub this_update: pki_core::UnixTime,
    pub next_update: Option<pki_core::UnixTime>,
}

/// A client allowed to call `/v1`.
#[derive(Clone)]
pub struct Client {
    pub name: String,
    /// SHA-256 of the bearer token.
    pub token_sha256: Option<[u8; 32]>,
    /// SHA-256 of the client certificate, for mutual TLS.
    pub cert_sha256: Option<[u8; 32]>,
    pub max_concurrent: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not the token, but there is no reason to print it.
        f.debug_struct("Client")
            .field("name", &self.name)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

/// Access control.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub allow_anonymous: bool,
    pub anonymous_max_concurrent: usize,
    pub clients: Vec<Client>,
}

/// A checked configuration with every file it names loaded.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// Modification time and size of the file when it was read, so the
    /// watcher notices any later change.
    pub file_stamp: Option<(std::time::SystemTime, u64)>,
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub max_batch_body_bytes: usize,
    pub batch_max: usize,
    pub batch_threads: usize,
    pub watch_seconds: f64,
    pub header_timeout: std::time::Duration,
    pub body_timeout: std::time::Duration,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    pub crl_refresh: CrlRefreshConfig,
    pub ocsp: OcspConfig,
    pub tls: Option<TlsConfig>,
    pub tiers: Vec<TierConfig>,
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    if data.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(data)
}

/// SHA-256 of a bearer token, as written in `token_sha256`.
pub fn token_hash(token: &str) -> [u8; 32] {
    pki_core::cert::sha256(token.as_bytes())
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

impl Config {
    /// Reads, parses and checks `path`, loading every file it names.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let loaded = config_file::load::<ConfigFile>(path)?;
        let mut c = Self::from_file(loaded.value, path, config_file::base_dir(path))?;
        c.file_stamp = loaded.stamp;
        Ok(c)
    }

    /// Parses TOML text; relative file names are taken from `base`.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Self, ConfigError> {
        Self::from_file(config_file::parse(text, path)?, path, base)
    }

    fn from_file(file: ConfigFile, path: &Path, base: &Path) -> Result<Self, ConfigError> {
        if file.max_body_bytes < 1024 {
            return Err(ConfigError::BadValue {
                field: "max_body_bytes",
                expected: "at least 1024",
            });
        }
        if file.max_batch_body_bytes < file.max_body_bytes {
            return Err(ConfigError::BadValue {
                field: "max_batch_body_bytes",
                expected: "at least max_body_bytes",
            });
        }
        if file.batch_max == 0 {
            return Err(ConfigError::BadValue {
                field: "batch_max",
                expected: "at least 1",
            });
        }
        if !(file.watch_seconds >= 0.0 && file.watch_seconds.is_finite()) {
            return Err(ConfigError::BadValue {
                field: "watch_seconds",
                expected: "a non-negative number",
            });
        }
        for (field, v) in [
            ("header_timeout_seconds", file.header_timeout_seconds),
            ("body_timeout_seconds", file.body_timeout_seconds),
        ] {
            if !(v > 0.0 && v <= 3600.0) {
                return Err(ConfigError::BadValue {
                    field,
                    expected: "a number of seconds in (0, 3600]",
                });
            }
        }
        if file.ocsp.timeout_seconds == 0 {
            return Err(ConfigError::BadValue {
                field: "ocsp.timeout_seconds",
                expected: "at least 1",
            });
        }
        let r = &file.crl_refresh;
        if !(0.0..1.0).contains(&r.ahead_fraction) {
            return Err(ConfigError::BadValue {
                field: "crl_refresh.ahead_fraction",
                expected: "in [0, 1)",
            });
        }
        if r.timeout_seconds == 0 || r.max_interval_seconds == 0 {
            return Err(ConfigError::BadValue {
                field: "crl_refresh.timeout_seconds and max_interval_seconds",
                expected: "at least 1",
            });
        }
        if r.max_bytes > pki_core::crl::MAX_CRL_SIZE {
            return Err(ConfigError::BadValue {
                field: "crl_refresh.max_bytes",
                expected: "at most pki_core::crl::MAX_CRL_SIZE (64 MiB)",
            });
        }
        for url in &r.urls {
            if !url.starts_with("http://") || url.parse::<http::Uri>().is_err() {
                return Err(ConfigError::BadUrl { url: url.clone() });
            }
        }

        let mut clients: Vec<Client> = Vec::new();
        for c in &file.auth.clients {
            if clients.iter().any(|x| x.name == c.name) {
                return Err(ConfigError::DuplicateClient(c.name.clone()));
            }
            let hash = |h: &Option<String>| {
                h.as_deref()
                    .map(|h| {
                        parse_hex32(h).ok_or_else(|| ConfigError::BadTokenHash {
                            name: c.name.clone(),
                        })
                    })
                    .transpose()
            };
            let token_sha256 = hash(&c.token_sha256)?;
            let cert_sha256 = hash(&c.cert_sha256)?;
            if token_sha256.is_none() && cert_sha256.is_none() {
                return Err(ConfigError::NoCredential {
                    name: c.name.clone(),
                });
            }
            if cert_sha256.is_some()
                && file
                    .tls
                    .as_ref()
                    .and_then(|t| t.client_tier.as_ref())
                    .is_none()
            {
                return Err(ConfigError::CertWithoutMtls {
                    name: c.name.clone(),
                });
            }
            if c.max_concurrent == 0 {
                return Err(ConfigError::BadConcurrency {
                    name: c.name.clone(),
                });
            }
            clients.push(Client {
                name: c.name.clone(),
                token_sha256,
                cert_sha256,
                max_concurrent: c.max_concurrent,
            });
        }
        if clients.is_empty() && !file.auth.allow_anonymous {
            return Err(ConfigError::NoClients);
        }
        if file.auth.anonymous_max_concurrent == 0 {
            return Err(ConfigError::BadValue {
                field: "auth.anonymous_max_concurrent",
                expected: "at least 1",
            });
        }

        if file.tiers.is_empty() {
            return Err(ConfigError::NoTiers);
        }
        let mut names = HashSet::new();
        let mut tiers = Vec::new();
        for t in &file.tiers {
            if !names.insert(t.name.clone()) {
                return Err(ConfigError::DuplicateTier(t.name.clone()));
            }
            tiers.push(load_tier(t, base)?);
        }
        // Catch anchors trusted twice and similar now, not at first request.
        crate::service::trust_store(&tiers)?;
        let tls = file
            .tls
            .as_ref()
            .map(|t| load_tls(t, base, &tiers))
            .transpose()?;
        Ok(Self {
            path: path.to_owned(),
            file_stamp: None,
            listen: file.listen,
            max_body_bytes: file.max_body_bytes,
            max_batch_body_bytes: file.max_batch_body_bytes,
            batch_max: file.batch_max,
            batch_threads: file.batch_threads,
            watch_seconds: file.watch_seconds,
            header_timeout: std::time::Duration::from_secs_f64(file.header_timeout_seconds),
            body_timeout: std::time::Duration::from_secs_f64(file.body_timeout_seconds),
            auth: AuthConfig {
                allow_anonymous: file.auth.allow_anonymous,
                anonymous_max_concurrent: file.auth.anonymous_max_concurrent,
                clients,
            },
            cache: file.cache,
            crl_refresh: file.crl_refresh,
            ocsp: file.ocsp,
            tls,
            tiers,
        })
    }
}

fn load_tier(t: &TierFile, base: &Path) -> Result<TierConfig, ConfigError> {
    let level: AssuranceLevel = t.level.parse().map_err(|_| ConfigError::BadLevel {
        tier: t.name.clone(),
        value: t.level.clone(),
    })?;
    let profile = t
        .profile
        .as_deref()
        .map(|p| {
            p.parse().map_err(|_| ConfigError::BadProfile {
                tier: t.name.clone(),
                value: p.to_owned(),
            })
        })
        .transpose()?;
    if t.anchors.is_empty() {
        return Err(ConfigError::NoAnchors {
            tier: t.name.clone(),
        });
    }
    let bad = |role, path: &Path, reason: String| ConfigError::BadFile {
        tier: t.name.clone(),
        role,
        path: path.to_owned(),
        reason,
    };
    let certs = |role, files: &[PathBuf]| -> Result<Vec<Arc<Cert>>, ConfigError> {
        let mut out = Vec::new();
        for f in files {
            let path = base.join(f);
            let data = read_limited(&path, pki_core::pem::MAX_INPUT_SIZE as u64)
                .map_err(|e| bad(role, &path, e))?;
            let list = Cert::parse_many(&data).map_err(|e| bad(role, &path, e.to_string()))?;
            out.extend(list.into_iter().map(Arc::new));
        }
        Ok(out)
    };
    let anchors = certs("anchor", &t.anchors)?;
    let intermediates = certs("intermediate", &t.intermediates)?;
    let mut crls = Vec::new();
    for f in &t.crls {
        let path = base.join(f);
        let data = read_limited(&path, pki_core::crl::MAX_CRL_SIZE as u64)
            .map_err(|e| bad("CRL", &path, e))?;
        let ders = pki_core::pem::decode_all(&data, "X509 CRL")
            .map_err(|e| bad("CRL", &path, e.to_string()))?;
        for der in ders {
            let crl = Crl::from_der(&der).map_err(|e| bad("CRL", &path, e.to_string()))?;
            crls.push(CrlFile {
                path: path.clone(),
                issuer_der: crl.issuer_der().to_vec(),
                issuer: crl.issuer().to_string(),
                this_update: crl.this_update(),
                next_update: crl.next_update(),
                der,
            });
        }
    }
    let mut policy_levels = Vec::new();
    for (oid, lvl) in &t.policy_levels {
        let o = pki_core::oid::parse_dotted(oid).map_err(|_| ConfigError::BadOid {
            tier: t.name.clone(),
            value: oid.clone(),
        })?;
        let l: AssuranceLevel = lvl.parse().map_err(|_| ConfigError::BadLevel {
            tier: t.name.clone(),
            value: lvl.clone(),
        })?;
        if l > level {
            return Err(ConfigError::LevelAboveTier {
                tier: t.name.clone(),
                oid: oid.clone(),
                mapped: l,
                level,
            });
        }
        policy_levels.push((o, l));
    }
    Ok(TierConfig {
        name: t.name.clone(),
        level,
        anchors,
        intermediates,
        crls,
        policy_levels,
        revocation: t.revocation.clone(),
        profile,
    })
}

fn load_tls(t: &TlsFile, base: &Path, tiers: &[TierConfig]) -> Result<TlsConfig, ConfigError> {
    let read = |what, f: &Path, label| {
        let path = base.join(f);
        let data = read_limited(&path, 1024 * 1024).map_err(|reason| ConfigError::Tls {
            what,
            path: path.clone(),
            reason,
        })?;
        pki_core::pem::decode_all(&data, label).map_err(|e| ConfigError::Tls {
            what,
            path,
            reason: e.to_string(),
        })
    };
    let chain = read("cert", &t.cert, "CERTIFICATE")?;
    let mut keys = read("key", &t.key, "PRIVATE KEY")?;
    if keys.len() != 1 {
        return Err(ConfigError::Tls {
            what: "key",
            path: base.join(&t.key),
            reason: format!("expected one PKCS#8 key, found {}", keys.len()),
        });
    }
    if let Some(ct) = &t.client_tier {
        if !tiers.iter().any(|x| &x.name == ct) {
            return Err(ConfigError::UnknownClientTier(ct.clone()));
        }
    }
    Ok(TlsConfig {
        chain,
        key: keys.remove(0),
        client_tier: t.client_tier.clone(),
    })
}
